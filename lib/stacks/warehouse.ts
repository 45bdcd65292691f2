import * as redshift from '@aws-cdk/aws-redshift-alpha';
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnCluster } from 'aws-cdk-lib/aws-redshift';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { WarehouseConfig } from '../config';
import { databaseClientSecurityGroup } from '../constructs/database-client';
import { acknowledgeWildcardResource, grantPrefixRead } from '../constructs/grants';
import { LeastPrivilegeRole } from '../constructs/least-privilege-role';
import { ALARM_PERIOD, StageAlarms } from '../constructs/stage-alarms';
import { SUBNET_GROUPS } from './foundation-stack';

/** The Glue Data Catalog reads Redshift needs for Spectrum external schemas over the gold database. */
export const GLUE_CATALOG_READ_ACTIONS = [
  'glue:GetDatabase',
  'glue:GetTable',
  'glue:GetTables',
  'glue:GetPartition',
  'glue:GetPartitions',
] as const;

/** The audit logs Redshift exports to CloudWatch Logs. */
export const WAREHOUSE_LOG_EXPORTS = ['connectionlog', 'userlog', 'useractivitylog'] as const;

/** The parameters of the cluster parameter group. */
export const WAREHOUSE_PARAMETERS: Readonly<Record<string, string>> = {
  // Clients must connect with TLS.
  require_ssl: 'true',
  // Every query is logged (with the useractivitylog export) before it runs.
  enable_user_activity_logging: 'true',
};

/** Properties of a {@link Warehouse}. */
export interface WarehouseProps {
  /** The warehouse section of the environment's config (node type and count, port, admin, snapshots, window). */
  readonly config: WarehouseConfig;
  /** Cluster identifier, lower case; also names the audit log groups. */
  readonly clusterName: string;
  /**
   * Customer key of the cluster storage and the admin secret: the lake key, which already
   * protects the gold data the warehouse holds a copy of (and which COPY decrypts).
   */
  readonly encryptionKey: kms.IKey;
  /** The VPC whose isolated data subnets hold the cluster. */
  readonly vpc: ec2.IVpc;
  /** Where the secret rotation function runs (see `FoundationStack.computeSubnets`). */
  readonly computeSubnets: ec2.SubnetSelection;
  /** The gold zone: the only data COPY and Spectrum may read. */
  readonly goldBucket: s3.IBucket;
  /** The gold catalog database: the only catalog entries Spectrum may read. */
  readonly goldDatabase: glue.Database;
  /** Key of the audit log groups. */
  readonly logKey: kms.IKey;
  /** Topic the warehouse alarms notify. */
  readonly alertsTopic: sns.ITopic;
  /** Removal policy of the cluster, its secret and its log groups (never SNAPSHOT: redshift-alpha rejects it). */
  readonly removalPolicy: RemovalPolicy;
  /** Retention of the audit log groups. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * The Redshift warehouse over the gold zone: a cluster in the isolated data subnets, not
 * publicly accessible, with enhanced VPC routing (COPY and Spectrum traffic stays in the VPC),
 * encrypted with the lake's customer key, on a non-default port with a non-default admin whose
 * password lives in Secrets Manager (same key) and rotates monthly; TLS required and every
 * query logged (parameter group); connection, user and user-activity audit logs exported to
 * KMS-encrypted CloudWatch log groups with retention; automated snapshots and maintenance
 * window from config. Its attached COPY/Spectrum role reads only the gold zone and the gold catalog.
 * Its security group admits nothing: clients are added by security group, on the port.
 */
export class Warehouse extends Construct {
  public readonly cluster: redshift.Cluster;
  /** The customer key of the cluster storage and the admin secret. */
  public readonly key: kms.IKey;
  /** Security group of the cluster (no ingress from CIDRs). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** Role attached to the cluster: COPY and Spectrum read the gold zone with it. */
  public readonly copyRole: LeastPrivilegeRole;
  /** The admin credentials (username, password, host, port), rotated monthly. */
  public readonly secret: secretsmanager.ISecret;
  public readonly alarms: StageAlarms;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    if (config.port === 5439) {
      throw new Error(`Warehouse ${this.node.path}: port 5439 is Redshift's default; specify another port in warehouse.port.`);
    }

    this.key = props.encryptionKey;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Redshift warehouse: no ingress from any CIDR; clients are admitted by security group on the cluster port',
      allowAllOutbound: false,
    });
    // Enhanced VPC routing sends COPY, UNLOAD and Spectrum traffic through the VPC: HTTPS to
    // the S3 gateway endpoint and the interface endpoints (the data subnets have no other route).
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'S3 and AWS APIs through the VPC endpoints');

    this.copyRole = new LeastPrivilegeRole(this, 'CopyRole', {
      assumedBy: new iam.ServicePrincipal('redshift.amazonaws.com'),
      description: 'Redshift COPY and Spectrum: reads the gold zone, its key and the gold catalog only',
    });
    grantPrefixRead(this.copyRole, { bucket: props.goldBucket });
    const goldTables = stack.formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${props.goldDatabase.databaseName}/*`,
    });
    this.copyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...GLUE_CATALOG_READ_ACTIONS],
        resources: [props.goldDatabase.catalog.catalogArn, props.goldDatabase.databaseArn, goldTables],
      }),
    );
    acknowledgeWildcardResource(
      this.copyRole,
      goldTables,
      'Spectrum reads the definitions of the tables of the gold database only: a table ARN pattern under one database is the narrowest resource Glue offers for "its tables", and the actions are read-only.',
    );

    const parameterGroup = new redshift.ClusterParameterGroup(this, 'ParameterGroup', {
      description: 'Undercurrent warehouse: TLS required, user activity logged',
      parameters: { ...WAREHOUSE_PARAMETERS },
    });

    // Audit logs go to CloudWatch Logs, whose groups are created here first (the names Redshift
    // writes to), so that they are encrypted with the log key and expire.
    const logGroups = WAREHOUSE_LOG_EXPORTS.map(
      (logType) =>
        new logs.LogGroup(this, `${logType.charAt(0).toUpperCase()}${logType.slice(1)}Group`, {
          logGroupName: `/aws/redshift/cluster/${props.clusterName}/${logType}`,
          encryptionKey: props.logKey,
          retention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
    );

    const singleNode = config.numberOfNodes === 1;
    this.cluster = new redshift.Cluster(this, 'Resource', {
      clusterName: props.clusterName,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.data },
      securityGroups: [this.securityGroup],
      publiclyAccessible: false,
      enhancedVpcRouting: true,
      nodeType: config.nodeType as redshift.NodeType,
      clusterType: singleNode ? redshift.ClusterType.SINGLE_NODE : redshift.ClusterType.MULTI_NODE,
      numberOfNodes: singleNode ? undefined : config.numberOfNodes,
      port: config.port,
      encrypted: true,
      encryptionKey: this.key,
      masterUser: { masterUsername: config.adminUsername, encryptionKey: this.key },
      defaultDatabaseName: 'analytics',
      parameterGroup,
      roles: [this.copyRole],
      preferredMaintenanceWindow: config.maintenanceWindow,
      removalPolicy: props.removalPolicy,
    });
    const cfnCluster = this.cluster.node.defaultChild as CfnCluster;
    cfnCluster.automatedSnapshotRetentionPeriod = config.snapshotRetentionDays;
    cfnCluster.allowVersionUpgrade = true;
    // The COPY role is attached (IamRoles) but not made the cluster's default role: CloudFormation
    // has no property for it, and the alpha's `defaultRole` adds a custom resource (a Lambda
    // function outside the VPC, with an inline policy on "*" and an unencrypted log group) only
    // to call ModifyClusterIamRoles. COPY and CREATE EXTERNAL SCHEMA name the role's ARN instead
    // (the stack output `WarehouseCopyRoleArn`).
    // The same name the generated secret holds, as a literal: the template (and its reviewers
    // and scanners) see the admin name instead of a dynamic reference.
    cfnCluster.masterUsername = config.adminUsername;
    cfnCluster.loggingProperties = { logDestinationType: 'cloudwatch', logExports: [...WAREHOUSE_LOG_EXPORTS] };
    for (const group of logGroups) {
      this.cluster.node.addDependency(group);
    }
    this.secret = this.cluster.secret!;
    new CfnOutput(this, 'CopyRoleArn', {
      description: 'IAM_ROLE of COPY and CREATE EXTERNAL SCHEMA over the gold zone',
      value: this.copyRole.roleArn,
    }).overrideLogicalId('WarehouseCopyRoleArn');

    // The admin password rotates monthly through the hosted Redshift rotation function, which
    // runs in the compute subnets and reaches only HTTPS (Secrets Manager) and the cluster port.
    const rotationSecurityGroup = databaseClientSecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      databaseSecurityGroup: this.securityGroup,
      port: config.port,
      what: 'Secret rotation of the warehouse admin',
    });
    this.secret.addRotationSchedule('Rotation', {
      automaticallyAfter: Duration.days(30),
      hostedRotation: secretsmanager.HostedRotation.redshiftSingleUser({
        vpc: props.vpc,
        vpcSubnets: props.computeSubnets,
        securityGroups: [rotationSecurityGroup],
      }),
    });

    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    const metric = (metricName: string, statistic: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/Redshift',
        metricName,
        dimensionsMap: { ClusterIdentifier: props.clusterName },
        statistic,
        period: ALARM_PERIOD,
      });
    this.alarms.addAlarm('WarehouseUnhealthy', {
      metric: metric('HealthStatus', 'Minimum'),
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `Redshift cluster ${props.clusterName} reported unhealthy (or no health) for 15 minutes: check the cluster events and its maintenance status.`,
    });
    this.alarms.addAlarm('WarehouseDiskSpace', {
      metric: metric('PercentageDiskSpaceUsed', 'Maximum'),
      threshold: 80,
      severity: 'Warning',
      description: `Redshift cluster ${props.clusterName} uses 80% or more of its disk: vacuum, drop stale tables or resize.`,
    });
    this.alarms.addAlarm('WarehouseCpu', {
      metric: metric('CPUUtilization', 'Average'),
      threshold: 90,
      evaluationPeriods: 3,
      severity: 'Warning',
      description: `Redshift cluster ${props.clusterName} CPU at 90% or more for 15 minutes: check the running queries (STV_RECENTS) and WLM, or resize.`,
    });
  }
}
