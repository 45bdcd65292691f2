import * as redshift from '@aws-cdk/aws-redshift-alpha';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnCluster } from 'aws-cdk-lib/aws-redshift';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { WarehouseConfig } from '../config';
import { databaseClientSecurityGroup } from '../shared/database-client';
import { acknowledgeWildcardResource, grantPrefixRead } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { SUBNET_GROUPS } from '../foundation/foundation-stack';

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
export type WarehouseLogExport = (typeof WAREHOUSE_LOG_EXPORTS)[number];

/**
 * The log group Redshift exports one audit log of a provisioned cluster to:
 * `/aws/redshift/cluster/<cluster_name>/<log_type>` (Redshift management guide, "Database audit
 * logging", "Log groups and log events in Amazon CloudWatch"). Redshift writes into a group of
 * that name if it exists and creates one (no key, never expiring) if not.
 */
export function warehouseAuditLogGroupName(clusterName: string, logExport: WarehouseLogExport): string {
  return `/aws/redshift/cluster/${clusterName}/${logExport}`;
}

/** What the function that sets the default IAM role may call, on this cluster only. */
export const DEFAULT_ROLE_ACTIONS = ['redshift:ModifyClusterIamRoles'] as const;

/** The ARN of a provisioned cluster, in the partition, region and account of a stack. */
function clusterArn(stack: Stack, clusterName: string): string {
  return stack.formatArn({
    service: 'redshift',
    resource: 'cluster',
    resourceName: clusterName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

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
  /** Cluster identifier, lower case, a literal (not a token); also names the audit log groups. */
  readonly clusterName: string;
  /**
   * Customer key of the cluster storage and the admin secret: the lake key, which already
   * protects the gold data the warehouse holds a copy of (and which COPY decrypts).
   */
  readonly encryptionKey: kms.IKey;
  /** The VPC whose isolated data subnets hold the cluster. */
  readonly vpc: ec2.IVpc;
  /** Where the secret rotation function runs (see `FoundationStack.dataClientSubnets`). */
  readonly dataClientSubnets: ec2.SubnetSelection;
  /** The gold zone: the only data COPY and Spectrum may read. */
  readonly goldBucket: s3.IBucket;
  /** The gold catalog database: the only catalog entries Spectrum may read. */
  readonly goldDatabase: glue.IDatabase;
  /**
   * Key of the audit log groups and of the log group of the function that sets the default IAM
   * role: the platform's ops key, whose policy lets CloudWatch Logs use it for this account's log groups.
   */
  readonly logKey: kms.IKey;
  /** Topic the warehouse alarms notify. */
  readonly alertsTopic: sns.ITopic;
  /** Removal policy of the cluster, its secret and its log groups (never SNAPSHOT: redshift-alpha rejects it). */
  readonly removalPolicy: RemovalPolicy;
  /** Retention of the audit log groups and of the log group of the function that sets the default IAM role. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * The Redshift warehouse over the gold zone: a cluster in the isolated data subnets, not
 * publicly accessible, with enhanced VPC routing (COPY and Spectrum traffic stays in the VPC),
 * encrypted with the lake's customer key, on a non-default port with a non-default admin whose
 * password lives in Secrets Manager (same key) and rotates monthly; TLS required and every
 * query logged (parameter group); connection, user and user-activity audit logs exported to
 * CloudWatch Logs groups it creates, encrypted with the ops key and with the stack's retention
 * (the user-activity log holds SQL text, customer values included: it stays under a customer
 * key); automated snapshots and maintenance window from config. Its COPY/Spectrum role, attached and
 * made the cluster's default IAM role (`IAM_ROLE default`), reads only the gold zone and the
 * gold catalog. Its security group admits nothing: clients are added by security group, on the port.
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
  /** The custom resource that makes {@link copyRole} the cluster's default IAM role. */
  public readonly defaultRole: cr.AwsCustomResource;
  /** The log group of each audit log, named as Redshift exports it. */
  public readonly auditLogGroups: Readonly<Record<WarehouseLogExport, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    if (config.port === 5439) {
      throw new Error(`Warehouse ${this.node.path}: port 5439 is Redshift's default; specify another port in warehouse.port.`);
    }
    if (Token.isUnresolved(props.clusterName) || !/^[a-z][a-z0-9-]{0,62}$/.test(props.clusterName)) {
      throw new Error(
        `Warehouse ${this.node.path}: clusterName must be a literal of lower-case letters, digits and hyphens starting with a letter (max 63), got "${props.clusterName}"; it names the cluster, its ARN and its audit log groups.`,
      );
    }

    this.key = props.encryptionKey;
    // The cluster and its secret use the key through a reference by ARN, so nothing of the
    // warehouse lands in the key's stack (the Foundation): the secret's key grant (a
    // `kms:ViaService` secretsmanager statement for this account, which the key policy's
    // `kms:*` for the account already covers) would be added to the key policy, and the
    // cluster's key ID, taken from the key itself, would add an export. Through the reference,
    // the grant adds nothing and the ID is cut from the ARN the Storage stack already imports.
    const keyReference = kms.Key.fromKeyArn(this, 'KeyReference', props.encryptionKey.keyArn);

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
        resources: [stack.formatArn({ service: 'glue', resource: 'catalog' }), props.goldDatabase.databaseArn, goldTables],
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

    // The audit logs go to CloudWatch Logs, into groups created here with the names Redshift
    // exports to, so they are encrypted with the ops key and expire with the stack's retention
    // from the first event (a group Redshift creates itself has no key and never expires).
    // Redshift writes with its service-linked role AWSServiceRoleForRedshift, whose managed
    // policy (AmazonRedshiftServiceLinkedRolePolicy) allows logs:CreateLogGroup and
    // logs:PutRetentionPolicy on log-group:/aws/redshift/* and logs:CreateLogStream and
    // logs:PutLogEvents on its streams: no role, resource policy or grant is needed here, and
    // nothing is added to another stack. CloudWatch Logs, not Redshift, uses the key (the ops
    // key policy allows the logs service principal for the log groups of this account).
    this.auditLogGroups = Object.fromEntries(
      WAREHOUSE_LOG_EXPORTS.map((logExport) => [
        logExport,
        new logs.LogGroup(this, `AuditLog-${logExport}`, {
          logGroupName: warehouseAuditLogGroupName(props.clusterName, logExport),
          encryptionKey: props.logKey,
          retention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
      ]),
    ) as Record<WarehouseLogExport, logs.LogGroup>;

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
      encryptionKey: keyReference,
      masterUser: { masterUsername: config.adminUsername, encryptionKey: keyReference },
      defaultDatabaseName: 'analytics',
      parameterGroup,
      // Attached here; made the default role below (the alpha's `defaultRole` would do it with a
      // function whose policy allows redshift:ModifyClusterIamRoles and iam:PassRole on "*").
      roles: [this.copyRole],
      preferredMaintenanceWindow: config.maintenanceWindow,
      removalPolicy: props.removalPolicy,
    });
    const cfnCluster = this.cluster.node.defaultChild as CfnCluster;
    cfnCluster.automatedSnapshotRetentionPeriod = config.snapshotRetentionDays;
    cfnCluster.allowVersionUpgrade = true;
    // The same name the generated secret holds, as a literal: the template (and its reviewers
    // and scanners) see the admin name instead of a dynamic reference.
    cfnCluster.masterUsername = config.adminUsername;
    cfnCluster.loggingProperties = {
      logDestinationType: 'cloudwatch',
      logExports: [...WAREHOUSE_LOG_EXPORTS],
    };
    // The groups exist (with their key and retention) before the cluster starts exporting, or
    // Redshift would create unencrypted, never-expiring groups of the same names first; on
    // delete, the cluster goes before its groups.
    cfnCluster.node.addDependency(...Object.values(this.auditLogGroups));
    this.defaultRole = this.setDefaultRole(props);
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
        vpcSubnets: props.dataClientSubnets,
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

  /**
   * Makes the COPY role the cluster's default IAM role (`COPY ... IAM_ROLE default`,
   * `CREATE EXTERNAL SCHEMA ... IAM_ROLE default`). CloudFormation has no property for it, so a
   * custom resource calls ModifyClusterIamRoles on every create and update. Its function may
   * call that on this cluster only and pass this role only, to Redshift only; it runs outside
   * the VPC because it calls the Redshift control-plane API and reaches no data store. On
   * delete it does nothing: the role is deleted with the stack (and the dev cluster with it).
   */
  private setDefaultRole(props: WarehouseProps): cr.AwsCustomResource {
    const role = new LeastPrivilegeRole(this, 'DefaultRoleFunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Makes the COPY role the default IAM role of the warehouse cluster; nothing else',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...DEFAULT_ROLE_ACTIONS],
        resources: [clusterArn(Stack.of(this), props.clusterName)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.copyRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'redshift.amazonaws.com' } },
      }),
    );
    const logGroup = new logs.LogGroup(this, 'DefaultRoleLogs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    logGroup.grantWrite(role);
    const resource = new cr.AwsCustomResource(this, 'DefaultRole', {
      resourceType: 'Custom::WarehouseDefaultRole',
      onUpdate: {
        service: 'Redshift',
        action: 'ModifyClusterIamRoles',
        parameters: { ClusterIdentifier: this.cluster.clusterName, DefaultIamRoleArn: this.copyRole.roleArn },
        physicalResourceId: cr.PhysicalResourceId.of(props.clusterName),
      },
      role,
      logGroup,
      installLatestAwsSdk: false,
      timeout: Duration.minutes(2),
    });
    // The role's policy exists before the call.
    resource.node.addDependency(role);
    // The function is the stack's one AwsCustomResource singleton (its CfnFunction is what the packs check).
    const provider = resource.node.findChild('Provider') as lambda.SingletonFunction;
    const fn = provider.permissionsNode.defaultChild as lambda.CfnFunction;
    acknowledge(
      fn,
      COMPLIANCE_PACKS,
      'LambdaInsideVPC',
      'The function only calls the Redshift control-plane API (ModifyClusterIamRoles) during deployments; it reaches no data store, and the VPC has no Redshift API endpoint, so it runs outside the VPC.',
    );
    acknowledge(
      fn,
      COMPLIANCE_PACKS,
      'LambdaDLQ',
      'The function is invoked synchronously by CloudFormation for a custom resource; a failure fails the deployment, so there is no event to park in a dead-letter queue.',
    );
    acknowledge(
      fn,
      COMPLIANCE_PACKS,
      'LambdaConcurrency',
      'The function runs once per deployment of this stack; CloudFormation serializes the calls, so reserved concurrency would only take capacity from other functions.',
    );
    return resource;
  }
}
