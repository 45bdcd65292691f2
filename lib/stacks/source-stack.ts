import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { acknowledge, COMPLIANCE_PACKS } from '../constructs/nag';
import { SUBNET_GROUPS } from './foundation-stack';
import { StageStack, StageStackProps } from './stage-stack';

/** Properties of the {@link SourceStack}. */
export interface SourceStackProps extends StageStackProps {
  /** The VPC whose isolated data subnets hold the database. */
  readonly vpc: ec2.IVpc;
  /** Key of the database storage, Performance Insights and the credentials secret. */
  readonly sourceKey: kms.IKey;
  /** Key of the exported database log groups. */
  readonly logKey: kms.IKey;
}

/** The MySQL engine of the source: 8.4, the LTS line. */
export const SOURCE_ENGINE = rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_4_7 });

/** Database logs exported to CloudWatch Logs. */
export const SOURCE_LOG_EXPORTS = ['error', 'slowquery', 'audit'] as const;

/** Instance classes on which RDS for MySQL offers no Performance Insights. */
const NO_PERFORMANCE_INSIGHTS = /\.(micro|small)$/;

/**
 * Stage 1, source systems: the business's operational MySQL database, in isolated subnets,
 * encrypted with the source key, admin credentials generated into Secrets Manager and
 * rotated by RDS itself (no rotation Lambda to run inside the VPC).
 */
export class SourceStack extends StageStack {
  public readonly database: rds.DatabaseInstance;
  /** Security group of the database: no ingress until an ingestion component is admitted on the port. */
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, props: SourceStackProps) {
    super(scope, 'Source', props);
    const { source } = this.config;
    const instanceIdentifier = `${this.config.appName}-${this.config.envName}-source`.toLowerCase();

    this.securityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: props.vpc,
      description: 'Source MySQL: admits only the ingestion components given access, on the database port',
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
        new logs.LogGroup(this, `${kind.charAt(0).toUpperCase()}${kind.slice(1)}Log`, {
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
      credentials: rds.Credentials.fromUsername('undercurrent_admin', { encryptionKey: props.sourceKey }),
      storageEncrypted: true,
      storageEncryptionKey: props.sourceKey,
      storageType: rds.StorageType.GP3,
      allocatedStorage: source.allocatedStorageGiB,
      maxAllocatedStorage: source.maxAllocatedStorageGiB,
      multiAz: source.multiAz,
      backupRetention: Duration.days(source.backupRetentionDays),
      deletionProtection: source.deletionProtection,
      removalPolicy: this.snapshotRemovalPolicy,
      deleteAutomatedBackups: this.snapshotRemovalPolicy === RemovalPolicy.DESTROY,
      iamAuthentication: true,
      parameterGroup,
      optionGroup,
      cloudwatchLogsExports: [...SOURCE_LOG_EXPORTS],
      monitoringInterval: Duration.seconds(60),
      monitoringRole,
      enablePerformanceInsights: performanceInsights,
      performanceInsightEncryptionKey: performanceInsights ? props.sourceKey : undefined,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
    });
    for (const group of logGroups) {
      this.database.node.addDependency(group);
    }

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
