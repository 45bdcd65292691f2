import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLICKSTREAM_ERROR_PREFIX, CLICKSTREAM_RAW_PREFIX } from '../lake/layout';
import { grantKeyDecrypt, grantPrefixWrite } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { acknowledge } from '../shared/nag';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';

/*
 * Streaming ingestion: the click stream and its producer role ({@link addClickStream}), and
 * Firehose delivering it to the raw zone with its alarms ({@link addClickstreamDelivery}).
 *
 * These are functions, not constructs: every resource is created directly in `scope` (the
 * ingestion stack) under a fixed id, so construct paths and logical ids stay those of the
 * stack (see the note at the top of ingestion-stack.ts).
 */

/**
 * Firehose's partition key: the calendar date written in `event_time` (producers send UTC,
 * `...Z`), or `unknown` when event_time is missing, not a string or not shaped like a date,
 * so that a bad value can never make a path the transform does not read (it quarantines such
 * events). Only basic jq 1.6 built-ins (no regex). Records that are not JSON at all go to
 * the error prefix. Nothing is dropped.
 */
export const EVENT_DATE_QUERY =
  '{event_date: (.event_time | if type == "string" and length >= 10 and .[4:5] == "-" and .[7:8] == "-" and (.[0:10] | contains("/") | not) then .[0:10] else "unknown" end)}';

/** Properties of {@link addClickStream}. */
export interface ClickStreamProps {
  /** Customer-managed key the stream is encrypted with; producers get `kms:GenerateDataKey` on it. */
  readonly streamKey: kms.IKey;
  /**
   * Shards of a provisioned stream.
   * @default - on-demand capacity (no shards to manage)
   */
  readonly shardCount?: number;
  /** How long records stay in the stream (24 hours to 365 days). */
  readonly retention: Duration;
  /** What happens to the stream when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/** What {@link addClickStream} creates. */
export interface ClickStream {
  /** The KMS-encrypted Kinesis stream (id `ClickStream`). */
  readonly stream: kinesis.Stream;
  /** Role click-event producers assume: PutRecord/PutRecords on the stream and its key only (id `ProducerRole`). */
  readonly producerRole: LeastPrivilegeRole;
}

/**
 * The click stream and the role producers (the web front end, `npm run produce:clickstream`)
 * assume to write to it; any principal of the account may assume it.
 *
 * Creates `ClickStream` and `ProducerRole` as direct children of `scope`.
 */
export function addClickStream(scope: Construct, props: ClickStreamProps): ClickStream {
  const provisioned = props.shardCount !== undefined;
  const stream = new kinesis.Stream(scope, 'ClickStream', {
    encryption: kinesis.StreamEncryption.KMS,
    encryptionKey: props.streamKey,
    streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
    shardCount: props.shardCount,
    retentionPeriod: props.retention,
    removalPolicy: props.removalPolicy,
  });
  acknowledge(
    stream,
    ['AwsSolutions'],
    'KDS3',
    'The stream is encrypted with a customer-managed key on purpose: its key policy and grants decide who can read click events, which the shared aws/kinesis key cannot.',
  );

  const producerRole = new LeastPrivilegeRole(scope, 'ProducerRole', {
    assumedBy: new iam.AccountPrincipal(Stack.of(scope).account),
    description: 'Click-event producers (the web front end, npm run produce:clickstream): put records, nothing else',
  });
  producerRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['kinesis:PutRecord', 'kinesis:PutRecords'], resources: [stream.streamArn] }),
  );
  producerRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [props.streamKey.keyArn] }),
  );
  return { stream, producerRole };
}

/** Properties of {@link addClickstreamDelivery}. */
export interface ClickstreamDeliveryProps {
  /** The click stream Firehose reads. */
  readonly stream: kinesis.IStream;
  /** Key of the click stream; Firehose decrypts records with it. */
  readonly streamKey: kms.IKey;
  /** The raw zone: events land under `clickstream/`, failures under `clickstream-errors/`. */
  readonly rawBucket: s3.IBucket;
  /** Key of the raw zone: delivered objects are SSE-KMS with it. */
  readonly rawKey: kms.IKey;
  /** Firehose buffering interval (0 to 900 seconds). */
  readonly bufferInterval: Duration;
  /** Firehose buffering size in MiB (64 to 128: dynamic partitioning needs at least 64). */
  readonly bufferSizeMiB: number;
  /** Key of the delivery log group. */
  readonly logKey: kms.IKey;
  /** Retention of the delivery log group. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the delivery log group and stream when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** The stage's alarms: stream lag and throttling, delivery freshness and failures. */
  readonly alarms: StageAlarms;
}

/** What {@link addClickstreamDelivery} creates. */
export interface ClickstreamDelivery {
  /** The delivery stream (id `ClickStreamDelivery`). */
  readonly deliveryStream: firehose.CfnDeliveryStream;
  /** The role Firehose delivers as (id `DeliveryRole`). */
  readonly role: LeastPrivilegeRole;
  /** Where Firehose logs delivery errors (ids `DeliveryLogs`, `DeliveryLogStream`). */
  readonly logGroup: logs.LogGroup;
}

/**
 * Firehose from the click stream to the raw zone as GZIP JSON lines under
 * `clickstream/event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/` (the event date from
 * {@link EVENT_DATE_QUERY}), and anything it cannot parse or deliver under
 * `clickstream-errors/`, so nothing is dropped silently; with alarms on stream lag, producer
 * throttling, delivery freshness and delivery failures.
 *
 * Creates `DeliveryLogs`, `DeliveryLogStream`, `DeliveryRole` and `ClickStreamDelivery` as
 * direct children of `scope`, and four alarms in `alarms`.
 */
export function addClickstreamDelivery(scope: Construct, props: ClickstreamDeliveryProps): ClickstreamDelivery {
  const { stream, rawBucket, alarms } = props;
  const stack = Stack.of(scope);
  const logGroup = new logs.LogGroup(scope, 'DeliveryLogs', {
    encryptionKey: props.logKey,
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  const logStream = new logs.LogStream(scope, 'DeliveryLogStream', {
    logGroup,
    logStreamName: 'S3Delivery',
    removalPolicy: props.removalPolicy,
  });

  const role = new LeastPrivilegeRole(scope, 'DeliveryRole', {
    assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
    description: 'Firehose: reads the click stream, writes the raw zone',
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards'],
      resources: [stream.streamArn],
    }),
  );
  grantKeyDecrypt(role, props.streamKey);
  grantPrefixWrite(role, { bucket: rawBucket, prefix: CLICKSTREAM_RAW_PREFIX });
  grantPrefixWrite(role, { bucket: rawBucket, prefix: CLICKSTREAM_ERROR_PREFIX });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
      resources: [rawBucket.bucketArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:PutLogEvents'],
      resources: [
        stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );

  const deliveryStream = new firehose.CfnDeliveryStream(scope, 'ClickStreamDelivery', {
    deliveryStreamType: 'KinesisStreamAsSource',
    kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: role.roleArn },
    extendedS3DestinationConfiguration: {
      bucketArn: rawBucket.bucketArn,
      roleArn: role.roleArn,
      prefix: `${CLICKSTREAM_RAW_PREFIX}event_date=!{partitionKeyFromQuery:event_date}/ingest_date=!{timestamp:yyyy-MM-dd}/`,
      errorOutputPrefix: `${CLICKSTREAM_ERROR_PREFIX}!{firehose:error-output-type}/ingest_date=!{timestamp:yyyy-MM-dd}/`,
      bufferingHints: { intervalInSeconds: props.bufferInterval.toSeconds(), sizeInMBs: props.bufferSizeMiB },
      compressionFormat: 'GZIP',
      encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.rawKey.keyArn } },
      cloudWatchLoggingOptions: {
        enabled: true,
        logGroupName: logGroup.logGroupName,
        logStreamName: logStream.logStreamName,
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
  deliveryStream.node.addDependency(role);
  acknowledge(
    deliveryStream,
    ['AwsSolutions'],
    'KDF1',
    'A delivery stream with a Kinesis source cannot take its own server-side encryption: records are encrypted at rest by the stream key, and delivered objects by the lake key (SSE-KMS).',
  );

  alarms.addAlarm('ClickStreamIteratorAge', {
    metric: stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: ALARM_PERIOD }),
    threshold: Duration.hours(1).toMilliseconds(),
    evaluationPeriods: 3,
    description: 'Click events wait over an hour in the stream: Firehose is not keeping up or is failing to read.',
  });
  alarms.addAlarm('ClickStreamWriteThrottled', {
    metric: stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: ALARM_PERIOD }),
    threshold: 1,
    severity: 'Warning',
    description: 'Producers are throttled writing click events: raise the shard count or switch to on-demand.',
  });
  const firehoseMetric = (metricName: string, statistic: string): cloudwatch.Metric =>
    new cloudwatch.Metric({
      namespace: 'AWS/Firehose',
      metricName,
      dimensionsMap: { DeliveryStreamName: deliveryStream.ref },
      statistic,
      period: ALARM_PERIOD,
    });
  alarms.addAlarm('ClickStreamDeliveryFreshness', {
    metric: firehoseMetric('DeliveryToS3.DataFreshness', 'Maximum'),
    threshold: Duration.minutes(30).toSeconds(),
    evaluationPeriods: 2,
    description: 'The oldest click event in Firehose is over 30 minutes old: delivery to the raw zone is stuck.',
  });
  alarms.addAlarm('ClickStreamDeliveryFailures', {
    metric: firehoseMetric('DeliveryToS3.Success', 'Minimum'),
    threshold: 1,
    comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    description: 'Firehose failed to deliver to the raw zone; failed records are under clickstream-errors/.',
  });
  return { deliveryStream, role, logGroup };
}
