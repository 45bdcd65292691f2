import { ArnFormat, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { databaseClientSecurityGroup } from '../constructs/database-client';
import { GlueSparkJob } from '../constructs/glue-spark-job';
import { grantKeyDecrypt, grantKeyEncryptDecrypt, grantPrefixReadWrite, grantPrefixWrite } from '../constructs/grants';
import { LakeFormationGrants, LakeFormationSettings } from '../constructs/lake-formation';
import { LeastPrivilegeRole } from '../constructs/least-privilege-role';
import { acknowledge } from '../constructs/nag';
import { sourceTableDeclarations } from '../datasets';
import { CDC_RAW_PREFIX, CLICKSTREAM_ERROR_PREFIX, CLICKSTREAM_RAW_PREFIX, SOURCE_RAW_PREFIX } from '../lake-layout';
import { ALARM_PERIOD, StageAlarms } from '../constructs/stage-alarms';
import { StageStack, StageStackProps } from './stage-stack';

/**
 * Firehose's partition key: the calendar date written in `event_time` (producers send UTC,
 * `...Z`), or `unknown` when event_time is missing, not a string or not shaped like a date,
 * so that a bad value can never make a path the transform does not read (it quarantines such
 * events). Only basic jq 1.6 built-ins (no regex). Records that are not JSON at all go to
 * the error prefix. Nothing is dropped.
 */
export const EVENT_DATE_QUERY =
  '{event_date: (.event_time | if type == "string" and length >= 10 and .[4:5] == "-" and .[7:8] == "-" and (.[0:10] | contains("/") | not) then .[0:10] else "unknown" end)}';

/** The source database as the ingestion stage sees it. */
export interface SourceDatabase {
  /** The instance (endpoint address and port). */
  readonly instance: rds.DatabaseInstance;
  /** Credentials of the read-only extract user (with host and port). */
  readonly extractSecret: secretsmanager.ISecret;
  /** Credentials of the replication user, required when cdc.enabled. */
  readonly replicationSecret?: secretsmanager.ISecret;
  /** Key of the credentials. */
  readonly secretKey: kms.IKey;
  /** Its security group; each ingestion component is admitted on the port by a rule of this stack. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Database port. */
  readonly port: number;
  /** Database (schema) name. */
  readonly databaseName: string;
}

/** Properties of the {@link IngestionStack}. */
export interface IngestionStackProps extends StageStackProps {
  /** The raw zone. */
  readonly rawBucket: s3.IBucket;
  /** The raw zone's catalog database. */
  readonly rawDatabase: glue.IDatabase;
  /** The Lake Formation settings the stage's grants depend on. */
  readonly lakeFormation: LakeFormationSettings;
  /** The VPC of the source database. */
  readonly vpc: ec2.IVpc;
  /** Where the extract job and the replication run (see FoundationStack.computeSubnets). */
  readonly computeSubnets: ec2.SubnetSelection;
  /** The source database. */
  readonly source: SourceDatabase;
  /** Key of the click stream. */
  readonly streamKey: kms.IKey;
  /** Key of the log groups. */
  readonly logKey: kms.IKey;
  /** Topic of the stage's alarms. */
  readonly alertsTopic: sns.ITopic;
}

/**
 * Stage 2, ingestion.
 *
 * Streaming: click events arrive in a KMS-encrypted Kinesis stream (producers use the
 * producer role); Firehose delivers them to the raw zone as GZIP JSON lines under
 * `clickstream/event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/`, and anything it cannot
 * parse or deliver under `clickstream-errors/`, so nothing is dropped silently.
 *
 * Batch: a Glue JDBC connection into the source VPC (TLS, the read-only extract user's
 * rotated secret) and the Glue extract job landing every source table in `source/` as Parquet.
 *
 * Change data capture (cdc.enabled): DMS Serverless from the source binlog to `cdc/`.
 */
export class IngestionStack extends StageStack {
  public readonly stream: kinesis.Stream;
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  /** Role click-event producers assume: PutRecord/PutRecords on the stream and its key only. */
  public readonly producerRole: LeastPrivilegeRole;
  public readonly sourceConnection: glue.Connection;
  public readonly extractJob: GlueSparkJob;
  /** The DMS replication, when cdc.enabled. */
  public readonly replication?: dms.CfnReplicationConfig;
  public readonly alarms: StageAlarms;
  /** The stage's Lake Formation grants. */
  public readonly lakeGrants: LakeFormationGrants;

  constructor(scope: Construct, props: IngestionStackProps) {
    super(scope, 'Ingestion', props);
    const { streaming } = this.config;
    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    const provisioned = streaming.capacityMode === 'provisioned';

    this.stream = new kinesis.Stream(this, 'ClickStream', {
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.streamKey,
      streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
      shardCount: provisioned ? streaming.shardCount : undefined,
      retentionPeriod: Duration.hours(streaming.retentionHours),
      removalPolicy: this.dataRemovalPolicy,
    });
    acknowledge(
      this.stream,
      ['AwsSolutions'],
      'KDS3',
      'The stream is encrypted with a customer-managed key on purpose: its key policy and grants decide who can read click events, which the shared aws/kinesis key cannot.',
    );

    this.producerRole = new LeastPrivilegeRole(this, 'ProducerRole', {
      assumedBy: new iam.AccountPrincipal(this.account),
      description: 'Click-event producers (the web front end, npm run produce:clickstream): put records, nothing else',
    });
    this.producerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kinesis:PutRecord', 'kinesis:PutRecords'], resources: [this.stream.streamArn] }),
    );
    this.producerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [props.streamKey.keyArn] }),
    );

    const deliveryLogs = new logs.LogGroup(this, 'DeliveryLogs', {
      encryptionKey: props.logKey,
      retention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });
    const deliveryLogStream = new logs.LogStream(this, 'DeliveryLogStream', {
      logGroup: deliveryLogs,
      logStreamName: 'S3Delivery',
      removalPolicy: this.dataRemovalPolicy,
    });

    const role = new LeastPrivilegeRole(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'Firehose: reads the click stream, writes the raw zone',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards'],
        resources: [this.stream.streamArn],
      }),
    );
    grantKeyDecrypt(role, props.streamKey);
    grantPrefixWrite(role, { bucket: props.rawBucket, prefix: CLICKSTREAM_RAW_PREFIX });
    grantPrefixWrite(role, { bucket: props.rawBucket, prefix: CLICKSTREAM_ERROR_PREFIX });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
        resources: [props.rawBucket.bucketArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:PutLogEvents'],
        resources: [
          this.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: `${deliveryLogs.logGroupName}:log-stream:${deliveryLogStream.logStreamName}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'ClickStreamDelivery', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: this.stream.streamArn, roleArn: role.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: props.rawBucket.bucketArn,
        roleArn: role.roleArn,
        prefix: `${CLICKSTREAM_RAW_PREFIX}event_date=!{partitionKeyFromQuery:event_date}/ingest_date=!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: `${CLICKSTREAM_ERROR_PREFIX}!{firehose:error-output-type}/ingest_date=!{timestamp:yyyy-MM-dd}/`,
        bufferingHints: { intervalInSeconds: streaming.bufferIntervalSeconds, sizeInMBs: streaming.bufferSizeMiB },
        compressionFormat: 'GZIP',
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.rawBucket.encryptionKey!.keyArn } },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: deliveryLogs.logGroupName,
          logStreamName: deliveryLogStream.logStreamName,
        },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: EVENT_DATE_QUERY },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
            // One JSON object per line, so the transform can read and quarantine line by line.
            { type: 'AppendDelimiterToRecord' },
          ],
        },
      },
    });
    // The role's policy must exist before Firehose first assumes the role.
    this.deliveryStream.node.addDependency(role);
    acknowledge(
      this.deliveryStream,
      ['AwsSolutions'],
      'KDF1',
      'A delivery stream with a Kinesis source cannot take its own server-side encryption: records are encrypted at rest by the stream key, and delivered objects by the lake key (SSE-KMS).',
    );

    this.alarms.addAlarm('ClickStreamIteratorAge', {
      metric: this.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: ALARM_PERIOD }),
      threshold: Duration.hours(1).toMilliseconds(),
      evaluationPeriods: 3,
      description: 'Click events wait over an hour in the stream: Firehose is not keeping up or is failing to read.',
    });
    this.alarms.addAlarm('ClickStreamWriteThrottled', {
      metric: this.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: ALARM_PERIOD }),
      threshold: 1,
      severity: 'Warning',
      description: 'Producers are throttled writing click events: raise the shard count or switch to on-demand.',
    });
    const firehoseMetric = (metricName: string, statistic: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/Firehose',
        metricName,
        dimensionsMap: { DeliveryStreamName: this.deliveryStream.ref },
        statistic,
        period: ALARM_PERIOD,
      });
    this.alarms.addAlarm('ClickStreamDeliveryFreshness', {
      metric: firehoseMetric('DeliveryToS3.DataFreshness', 'Maximum'),
      threshold: Duration.minutes(30).toSeconds(),
      evaluationPeriods: 2,
      description: 'The oldest click event in Firehose is over 30 minutes old: delivery to the raw zone is stuck.',
    });
    this.alarms.addAlarm('ClickStreamDeliveryFailures', {
      metric: firehoseMetric('DeliveryToS3.Success', 'Minimum'),
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      description: 'Firehose failed to deliver to the raw zone; failed records are under clickstream-errors/.',
    });

    const extract = this.batchExtract(props);
    this.sourceConnection = extract.connection;
    this.extractJob = extract.job;
    // The extract job lands source tables in raw and may catalog them there.
    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: props.lakeFormation });
    this.lakeGrants.grant({ principal: this.extractJob.role, location: props.rawBucket, permissions: ['DATA_LOCATION_ACCESS'] });
    this.lakeGrants.grant({ principal: this.extractJob.role, database: props.rawDatabase, permissions: ['CREATE_TABLE', 'DESCRIBE'] });
    if (this.config.cdc.enabled) {
      this.replication = this.changeDataCapture(props);
    }
  }

  /** The Glue JDBC connection into the source VPC and the extract job that uses it. */
  private batchExtract(props: IngestionStackProps): { connection: glue.Connection; job: GlueSparkJob } {
    const { source } = props;
    const securityGroup = this.databaseClient('ExtractSecurityGroup', props, 'Glue extract', true);
    const [subnet] = props.vpc.selectSubnets(props.computeSubnets).subnets;
    const connection = new glue.Connection(this, 'SourceConnection', {
      type: glue.ConnectionType.JDBC,
      description: `JDBC over TLS to the ${source.databaseName} source database`,
      properties: {
        JDBC_CONNECTION_URL: `jdbc:mysql://${source.instance.dbInstanceEndpointAddress}:${source.port}/${source.databaseName}`,
        JDBC_ENFORCE_SSL: 'true',
      },
      secret: source.extractSecret,
      securityGroups: [securityGroup],
      network: glue.ConnectionNetwork.subnet(subnet),
    });

    const tables = sourceTableDeclarations().map((t) => t.name);
    const job = new GlueSparkJob(this, 'SourceExtract', {
      description: 'Source MySQL -> raw zone: every table as Parquet by ingest date; incremental tables by bookmark',
      script: 'jobs/source_extract.py',
      arguments: {
        connection_name: connection.connectionName,
        database: source.databaseName,
        raw_path: props.rawBucket.s3UrlForObject(SOURCE_RAW_PREFIX),
        tables: tables.join(','),
      },
      bookmarks: true,
      connections: [connection],
      sizing: this.config.transform,
      dataKey: props.rawBucket.encryptionKey!,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
      alarms: this.alarms,
    });
    grantPrefixReadWrite(job, { bucket: props.rawBucket, prefix: SOURCE_RAW_PREFIX });
    this.grantSecretRead(job, source.extractSecret, source.secretKey);
    return { connection, job };
  }

  /** DMS Serverless: full load, then the binlog, of every table of the source database into `cdc/`. */
  private changeDataCapture(props: IngestionStackProps): dms.CfnReplicationConfig {
    const { source, rawBucket } = props;
    const { cdc } = this.config;
    const lakeKey = rawBucket.encryptionKey!;
    if (!source.replicationSecret) {
      throw new Error('cdc.enabled needs the source database replication user secret (SourceStack.replicationSecret).');
    }

    // DMS places the replication in the VPC with the account's `dms-vpc-role`: the account
    // stack creates it (cdc.createDmsVpcRole), or it already exists; never an environment's stack.
    const subnetGroup = new dms.CfnReplicationSubnetGroup(this, 'CdcSubnetGroup', {
      replicationSubnetGroupDescription: 'Subnets of the CDC replication',
      subnetIds: props.vpc.selectSubnets(props.computeSubnets).subnetIds,
    });
    const securityGroup = this.databaseClient('CdcSecurityGroup', props, 'DMS replication', false);

    const secretsRole = new LeastPrivilegeRole(this, 'CdcSecretsRole', {
      assumedBy: new iam.ServicePrincipal(`dms.${this.region}.amazonaws.com`),
      description: 'DMS reads the source credentials',
    });
    this.grantSecretRead(secretsRole, source.replicationSecret, source.secretKey);
    const targetRole = new LeastPrivilegeRole(this, 'CdcTargetRole', {
      assumedBy: new iam.ServicePrincipal('dms.amazonaws.com'),
      description: 'DMS writes change data to the raw zone',
    });
    grantPrefixReadWrite(targetRole, { bucket: rawBucket, prefix: CDC_RAW_PREFIX });
    targetRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObjectTagging'], resources: [rawBucket.arnForObjects(`${CDC_RAW_PREFIX}*`)] }),
    );

    const sourceEndpoint = new dms.CfnEndpoint(this, 'CdcSourceEndpoint', {
      endpointType: 'source',
      engineName: 'mysql',
      databaseName: source.databaseName,
      sslMode: 'require',
      kmsKeyId: source.secretKey.keyArn,
      mySqlSettings: {
        secretsManagerSecretId: source.replicationSecret.secretArn,
        secretsManagerAccessRoleArn: secretsRole.roleArn,
      },
    });
    const targetEndpoint = new dms.CfnEndpoint(this, 'CdcTargetEndpoint', {
      endpointType: 'target',
      engineName: 's3',
      s3Settings: {
        bucketName: rawBucket.bucketName,
        bucketFolder: CDC_RAW_PREFIX.replace(/\/$/, ''),
        serviceAccessRoleArn: targetRole.roleArn,
        dataFormat: 'parquet',
        parquetTimestampInMillisecond: true,
        encryptionMode: 'SSE_KMS',
        serverSideEncryptionKmsKeyId: lakeKey.keyArn,
        datePartitionEnabled: true,
        datePartitionSequence: 'YYYYMMDD',
        datePartitionDelimiter: 'SLASH',
        timestampColumnName: '_cdc_timestamp',
        includeOpForFullLoad: true,
      },
    });
    grantKeyEncryptDecrypt(targetRole, lakeKey);

    const replication = new dms.CfnReplicationConfig(this, 'CdcReplication', {
      replicationConfigIdentifier: `${this.config.appName}-${this.config.envName}-cdc`.toLowerCase(),
      replicationType: 'full-load-and-cdc',
      sourceEndpointArn: sourceEndpoint.ref,
      targetEndpointArn: targetEndpoint.ref,
      computeConfig: {
        maxCapacityUnits: cdc.maxCapacityUnits,
        replicationSubnetGroupId: subnetGroup.ref,
        vpcSecurityGroupIds: [securityGroup.securityGroupId],
        multiAz: this.config.source.multiAz,
        kmsKeyId: lakeKey.keyArn,
      },
      tableMappings: {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'every-source-table',
            'object-locator': { 'schema-name': source.databaseName, 'table-name': '%' },
            'rule-action': 'include',
          },
        ],
      },
      replicationSettings: { Logging: { EnableLogging: true } },
    });
    replication.node.addDependency(secretsRole, targetRole);
    return replication;
  }

  private databaseClient(id: string, props: IngestionStackProps, what: string, selfReferencing: boolean): ec2.SecurityGroup {
    return databaseClientSecurityGroup(this, id, {
      vpc: props.vpc,
      databaseSecurityGroup: props.source.securityGroup,
      port: props.source.port,
      what,
      selfReferencing,
    });
  }

  /** Reading one set of source credentials: the secret value and its key, nothing else. */
  private grantSecretRead(grantee: iam.IGrantable, secret: secretsmanager.ISecret, key: kms.IKey): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    grantKeyDecrypt(grantee, key);
  }
}
