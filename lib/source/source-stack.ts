import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { keyReference } from '../shared/platform-key';
import { databaseClientSecurityGroup } from '../shared/database-client';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { SUBNET_GROUPS } from '../foundation/foundation-stack';
import { ServiceUser, SourceDatabaseSetup } from './source-database-setup';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { pascal, resourceName } from '../shared/naming';

/** Properties of the {@link SourceStack}. */
export interface SourceStackProps extends PlatformStackProps {
  /** The VPC whose isolated data subnets hold the database. */
  readonly vpc: ec2.IVpc;
  /** Where the schema-setup function runs (see FoundationStack.dataClientSubnets). */
  readonly dataClientSubnets: ec2.SubnetSelection;
  /** Topic of the stage's alarms. */
  readonly alertsTopic: sns.ITopic;
  /** Key of the database storage, Performance Insights and the credentials secret. */
  readonly sourceKey: kms.IKey;
  /** Key of the exported database log groups. */
  readonly logKey: kms.IKey;
}

/** The MySQL engine of the source: 8.4, the LTS line. */
export const SOURCE_ENGINE = rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_4_7 });

/** Database logs exported to CloudWatch Logs. */
export const SOURCE_LOG_EXPORTS = ['error', 'slowquery', 'audit'] as const;

/** Characters kept out of generated service-user passwords (quoting and URL trouble in JDBC and DMS). */
export const SERVICE_PASSWORD_EXCLUDED = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/** Connections above which the source database alarm fires (the platform itself opens a few). */
export const MAX_EXPECTED_CONNECTIONS = 100;

/** Instance classes on which RDS for MySQL offers no Performance Insights. */
const NO_PERFORMANCE_INSIGHTS = /\.(micro|small)$/;

/**
 * Stage 1, source systems: the business's operational MySQL database, in isolated subnets,
 * encrypted with the source key. The admin password is generated into Secrets Manager and
 * rotated by RDS itself, and only the schema setup uses it; the ingestion components log in
 * as least-privilege service users whose secrets rotate monthly.
 */
export class SourceStack extends PlatformStack {
  public readonly database: rds.DatabaseInstance;
  /** The admin credentials (RDS-managed secret, encrypted with the source key). */
  public readonly secret: secretsmanager.ISecret;
  /** Credentials of the read-only user of the batch extract (SELECT on the database). */
  public readonly extractSecret: secretsmanager.ISecret;
  /** Credentials of the CDC user (SELECT + replication), when cdc.enabled. */
  public readonly replicationSecret?: secretsmanager.ISecret;
  public readonly alarms: StageAlarms;
  /** Applies the versioned schema, the binlog retention and (dev) sample data on every deploy. */
  public readonly setup: SourceDatabaseSetup;
  /**
   * Security group of the database: admits, on its port only, the schema setup, the secret
   * rotation and the ingestion components (whose rules the ingestion stack owns).
   */
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, props: SourceStackProps) {
    super(scope, 'Source', props);
    const { source } = this.config;
    // Foundation's key, used without adding to its key policy (a stack changes only its own template).
    const sourceKey = keyReference(this, 'SourceKeyReference', props.sourceKey);
    const instanceIdentifier = resourceName(this.config, 'source');

    this.securityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: props.vpc,
      description: 'Source MySQL: admits only the schema setup, the secret rotation and the ingestion components, on its port',
      allowAllOutbound: false,
    });

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine: SOURCE_ENGINE,
      description: 'Source MySQL: TLS only, row-based binlog for CDC, slow-query log',
      parameters: {
        require_secure_transport: '1',
        binlog_format: 'ROW',
        slow_query_log: '1',
        long_query_time: '2',
        log_output: 'FILE',
      },
    });
    const optionGroup = new rds.OptionGroup(this, 'Options', {
      engine: SOURCE_ENGINE,
      description: 'Source MySQL: MariaDB audit plugin for the audit log export',
      configurations: [{ name: 'MARIADB_AUDIT_PLUGIN' }],
    });

    // Log groups exist before the instance so they carry retention and encryption from the start.
    const logGroups = SOURCE_LOG_EXPORTS.map(
      (kind) =>
        new logs.LogGroup(this, `${pascal(kind)}Log`, {
          logGroupName: `/aws/rds/instance/${instanceIdentifier}/${kind}`,
          encryptionKey: props.logKey,
          retention: this.logRetention,
          removalPolicy: this.dataRemovalPolicy,
        }),
    );

    const monitoringRole = new iam.Role(this, 'MonitoringRole', {
      assumedBy: new iam.ServicePrincipal('monitoring.rds.amazonaws.com'),
      description: 'RDS enhanced monitoring of the source database',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonRDSEnhancedMonitoringRole')],
    });
    acknowledge(
      monitoringRole,
      ['AwsSolutions'],
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      'AmazonRDSEnhancedMonitoringRole is the AWS-documented policy of the enhanced-monitoring service role; it only writes the RDSOSMetrics log group.',
    );

    const performanceInsights = !NO_PERFORMANCE_INSIGHTS.test(source.instanceClass);
    this.database = new rds.DatabaseInstance(this, 'Database', {
      instanceIdentifier,
      engine: SOURCE_ENGINE,
      instanceType: new ec2.InstanceType(source.instanceClass),
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: SUBNET_GROUPS.data },
      securityGroups: [this.securityGroup],
      publiclyAccessible: false,
      port: source.port,
      // RDS generates the admin password into Secrets Manager (source key) and rotates it itself.
      manageMasterUserPassword: true,
      credentials: rds.Credentials.fromUsername('undercurrent_admin', { encryptionKey: sourceKey }),
      storageEncrypted: true,
      storageEncryptionKey: sourceKey,
      storageType: rds.StorageType.GP3,
      allocatedStorage: source.allocatedStorageGiB,
      maxAllocatedStorage: source.maxAllocatedStorageGiB,
      multiAz: source.multiAz,
      backupRetention: Duration.days(source.backupRetentionDays),
      deletionProtection: source.deletionProtection,
      removalPolicy: this.snapshotRemovalPolicy,
      deleteAutomatedBackups: this.snapshotRemovalPolicy === RemovalPolicy.DESTROY,
      iamAuthentication: true,
      // The CA of the server certificate the Glue extract validates (JDBC_ENFORCE_SSL), pinned
      // rather than left to the account's RDS default: see docs/source-tls.md.
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      parameterGroup,
      optionGroup,
      cloudwatchLogsExports: [...SOURCE_LOG_EXPORTS],
      monitoringInterval: Duration.seconds(60),
      monitoringRole,
      enablePerformanceInsights: performanceInsights,
      performanceInsightEncryptionKey: performanceInsights ? sourceKey : undefined,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
    });
    for (const group of logGroups) {
      this.database.node.addDependency(group);
    }
    this.secret = this.database.secret!;

    // Service users: least-privilege database users whose secrets (with host and port, as
    // Glue and DMS need) rotate monthly; the schema setup creates them with these passwords.
    const rotationSecurityGroup = databaseClientSecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      databaseSecurityGroup: this.securityGroup,
      port: source.port,
      what: 'Secret rotation of the service users',
    });
    const rotations: secretsmanager.RotationSchedule[] = [];
    const serviceUser = (id: string, username: string): secretsmanager.ISecret => {
      const databaseSecret = new rds.DatabaseSecret(this, id, {
        username,
        encryptionKey: sourceKey,
        excludeCharacters: SERVICE_PASSWORD_EXCLUDED,
      });
      databaseSecret.applyRemovalPolicy(this.dataRemovalPolicy);
      const secret = databaseSecret.attach(this.database);
      const rotation = secret.addRotationSchedule('Rotation', {
        automaticallyAfter: Duration.days(30),
        // The user exists only once the schema setup has run; rotate on schedule, not at creation.
        rotateImmediatelyOnUpdate: false,
        hostedRotation: secretsmanager.HostedRotation.mysqlSingleUser({
          vpc: props.vpc,
          vpcSubnets: props.dataClientSubnets,
          securityGroups: [rotationSecurityGroup],
          excludeCharacters: SERVICE_PASSWORD_EXCLUDED,
        }),
      });
      rotations.push(rotation);
      return secret;
    };
    this.extractSecret = serviceUser('ExtractUserSecret', 'undercurrent_extract');
    const serviceUsers: ServiceUser[] = [{ secret: this.extractSecret, role: 'extract' }];
    if (this.config.cdc.enabled) {
      this.replicationSecret = serviceUser('ReplicationUserSecret', 'undercurrent_cdc');
      serviceUsers.push({ secret: this.replicationSecret, role: 'replication' });
    }

    this.setup = new SourceDatabaseSetup(this, 'SchemaSetup', {
      vpc: props.vpc,
      subnets: props.dataClientSubnets,
      database: this.database,
      databaseSecurityGroup: this.securityGroup,
      port: source.port,
      databaseName: source.databaseName,
      secret: this.secret,
      secretKey: sourceKey,
      binlogRetentionHours: source.binlogRetentionHours,
      loadSampleData: source.loadSampleData,
      serviceUsers,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });
    // Creating a schedule tests the rotation function against the user: the setup creates it first.
    for (const rotation of rotations) {
      rotation.node.addDependency(this.setup.resource);
    }

    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    this.alarms.addAlarm('DatabaseCpu', {
      metric: this.database.metricCPUUtilization({ statistic: 'Average', period: ALARM_PERIOD }),
      threshold: 80,
      evaluationPeriods: 3,
      severity: 'Warning',
      description: 'Source database CPU above 80% for 15 minutes: the business workload or an extract is starving it.',
    });
    this.alarms.addAlarm('DatabaseFreeStorage', {
      metric: this.database.metricFreeStorageSpace({ statistic: 'Minimum', period: ALARM_PERIOD }),
      // 10% of the allocated storage, in bytes.
      threshold: source.allocatedStorageGiB * 1024 ** 3 * 0.1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      description: 'Source database free storage at or below 10% of its allocation: autoscaling is at its ceiling or binlogs are piling up.',
    });
    this.alarms.addAlarm('DatabaseConnections', {
      metric: this.database.metricDatabaseConnections({ statistic: 'Maximum', period: ALARM_PERIOD }),
      threshold: MAX_EXPECTED_CONNECTIONS,
      evaluationPeriods: 2,
      severity: 'Warning',
      description: `More than ${MAX_EXPECTED_CONNECTIONS} connections to the source database: a client leaks connections or extracts pile up.`,
    });

    acknowledge(
      this.database,
      COMPLIANCE_PACKS,
      'RDSLoggingEnabled[LogExport::general]',
      'The general query log records every statement with its literal values (customer personal data) at high volume; the audit log (connections, DDL, DCL) and the error and slow-query logs are exported instead.',
    );
    acknowledge(
      this.database,
      COMPLIANCE_PACKS,
      'RDSInBackupPlan',
      `Protected by RDS automated backups with point-in-time recovery (${source.backupRetentionDays} days, config source.backupRetentionDays) and a final snapshot where the environment keeps data; an AWS Backup plan would duplicate them.`,
    );
    if (!source.multiAz) {
      acknowledge(
        this.database,
        ['AwsSolutions'],
        'RDS3',
        `Single-AZ by config (source.multiAz=false) in ${this.config.envName} to save cost; prod is forced to Multi-AZ by config validation.`,
      );
      acknowledge(
        this.database,
        COMPLIANCE_PACKS,
        'RDSMultiAZSupport',
        `Single-AZ by config (source.multiAz=false) in ${this.config.envName} to save cost; prod is forced to Multi-AZ by config validation.`,
      );
    }
    if (!source.deletionProtection) {
      acknowledge(
        this.database,
        ['AwsSolutions'],
        'RDS10',
        `Deletion protection off by config (source.deletionProtection=false) so that ${this.config.envName} can be torn down; prod is forced on by config validation.`,
      );
      acknowledge(
        this.database,
        COMPLIANCE_PACKS,
        'RDSInstanceDeletionProtectionEnabled',
        `Deletion protection off by config (source.deletionProtection=false) so that ${this.config.envName} can be torn down; prod is forced on by config validation.`,
      );
    }
  }
}
