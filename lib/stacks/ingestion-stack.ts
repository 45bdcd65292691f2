import { ArnFormat, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { grantKeyDecrypt, grantPrefixWrite } from '../constructs/grants';
import { LeastPrivilegeRole } from '../constructs/least-privilege-role';
import { acknowledge } from '../constructs/nag';
import { ALARM_PERIOD, StageAlarms } from '../constructs/stage-alarms';
import { StageStack, StageStackProps } from './stage-stack';

/** Raw-zone prefix of the click events Firehose delivers. */
export const CLICKSTREAM_RAW_PREFIX = 'clickstream/';
/** Raw-zone prefix of the records Firehose could not deliver or process. */
export const CLICKSTREAM_ERROR_PREFIX = 'clickstream-errors/';

/** Properties of the {@link IngestionStack}. */
export interface IngestionStackProps extends StageStackProps {
  /** The raw zone. */
  readonly rawBucket: s3.IBucket;
  /** Key of the click stream. */
  readonly streamKey: kms.IKey;
  /** Key of the log groups. */
  readonly logKey: kms.IKey;
  /** Topic of the stage's alarms. */
  readonly alertsTopic: sns.ITopic;
}

/**
 * Stage 2, ingestion (streaming): click events arrive in a KMS-encrypted Kinesis stream;
 * Firehose delivers them to the raw zone as GZIP JSON lines under
 * `clickstream/ingest_date=YYYY-MM-DD/`, and anything it cannot deliver under
 * `clickstream-errors/`, so nothing is dropped silently.
 */
export class IngestionStack extends StageStack {
  public readonly stream: kinesis.Stream;
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  public readonly alarms: StageAlarms;

  constructor(scope: Construct, props: IngestionStackProps) {
    super(scope, 'Ingestion', props);
    const { streaming } = this.config;
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
        prefix: `${CLICKSTREAM_RAW_PREFIX}ingest_date=!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: `${CLICKSTREAM_ERROR_PREFIX}!{firehose:error-output-type}/ingest_date=!{timestamp:yyyy-MM-dd}/`,
        bufferingHints: { intervalInSeconds: streaming.bufferIntervalSeconds, sizeInMBs: streaming.bufferSizeMiB },
        compressionFormat: 'GZIP',
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.rawBucket.encryptionKey!.keyArn } },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: deliveryLogs.logGroupName,
          logStreamName: deliveryLogStream.logStreamName,
        },
        // One JSON object per line, so the transform can read and quarantine line by line.
        processingConfiguration: {
          enabled: true,
          processors: [{ type: 'AppendDelimiterToRecord' }],
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

    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
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
  }
}
