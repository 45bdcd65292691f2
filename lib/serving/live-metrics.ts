import * as path from 'path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LiveMetricsConfig } from '../config';
import { HANDLER_BUNDLING, HANDLER_RUNTIME } from '../shared/handler-bundling';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { keyReference } from '../shared/platform-key';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { METRIC_NAMES } from './live-metrics/metrics';
import { SETTINGS_VARIABLES } from './live-metrics/settings';

const HANDLER = path.join(__dirname, 'live-metrics', 'handler.ts');

/** What the consumer may do on the stream: read its shards (what Lambda's pollers call with its role). */
export const KINESIS_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
] as const;

/**
 * How the event-source mapping hands the stream to the consumer. Records per batch: at most
 * 500 (about 0.6 MB of click events, far under Lambda's 6 MB payload, counted in milliseconds).
 */
export const MAPPING = {
  batchSize: 500,
  /**
   * One batch at a time per shard: the consumer needs milliseconds per batch, so one shard (at
   * most 1,000 records a second in) never waits; it keeps each shard's records in order and on
   * the same warm environment, whose memory of event ids and sessions then sees a shard's repeats.
   * Raise it only if `IteratorAge` grows.
   */
  parallelizationFactor: 1,
  /** A failing batch (a thrown error: bisected; a record whose dead letter failed) is tried 3 more times. */
  retryAttempts: 3,
  /**
   * Records older than an hour are not worth a live metric: they go to the failed-batches queue
   * (their position, to replay) instead of holding the shard back.
   */
  maxRecordAge: Duration.hours(1),
} as const;

/** Records a 5-minute error rate needs before it can alarm (one bad record of three is not a spike). */
export const MIN_RECORDS_FOR_ERROR_RATE = 20;

/** The consumer is behind when the oldest record of its last batches waited this long. */
export const MAX_ITERATOR_AGE = Duration.minutes(5);

/** The CloudWatch namespace of the click stream's live metrics: `<app>/<env>/Clickstream`. */
export function clickstreamMetricsNamespace(config: { readonly appName: string; readonly envName: string }): string {
  return `${config.appName}/${config.envName}/Clickstream`;
}

/** Properties of {@link LiveMetrics}. */
export interface LiveMetricsProps {
  /** The click stream (Ingestion), encrypted with a customer key: the consumer reads and decrypts it. */
  readonly stream: kinesis.IStream;
  /** Thresholds, lateness and batching window (`serving.liveMetrics`). */
  readonly settings: LiveMetricsConfig;
  /** CloudWatch namespace of the metrics (see {@link clickstreamMetricsNamespace}). */
  readonly namespace: string;
  /** Names the queues: `<queueNamePrefix>-rejected`, `<queueNamePrefix>-failed-batches`. */
  readonly queueNamePrefix: string;
  /** Key of the function's log group. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log group and the queues (which hold click data) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** The stage's alarms: site down, error rate, the consumer's errors and lag, the queues. */
  readonly alarms: StageAlarms;
}

/**
 * The click stream's live operational metrics: a Lambda function (lib/serving/live-metrics/) on
 * an event-source mapping of the Kinesis stream, publishing per-minute metrics in CloudWatch's
 * embedded metric format through its log group, with two dead-letter queues and the alarms on
 * them (docs/serving.md#live-metrics).
 *
 * - `RejectedRecords`: the function itself sends each malformed record there (raw data, shard,
 *   sequence number, rule); a bad record is counted, never thrown.
 * - `FailedBatches`: the mapping's on-failure destination (a batch still failing after its
 *   retries, or older than an hour: its shard and sequence-number range, to replay from the
 *   stream) and the function's dead-letter queue of asynchronous invocations.
 *
 * Both are encrypted with the stream's key (they hold click data), refuse requests without TLS
 * and keep messages 14 days. The function's role may read this stream, decrypt with its key
 * through Kinesis, send to these two queues and encrypt for them through SQS, and write its log
 * group: nothing else, and nothing in another stack's template (the key's policy lets the
 * account's IAM policies decide).
 */
export class LiveMetrics extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: LeastPrivilegeRole;
  public readonly mapping: lambda.EventSourceMapping;
  /** Malformed records, sent by the function. */
  public readonly rejectedRecords: sqs.Queue;
  /** Batches that failed every retry (the mapping's on-failure destination). */
  public readonly failedBatches: sqs.Queue;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LiveMetricsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { settings } = props;
    if (!props.stream.encryptionKey) {
      throw new Error('LiveMetrics needs the click stream with its customer key (IngestionStack.stream): the consumer decrypts with it, and its queues encrypt with it.');
    }
    const streamKey = keyReference(this, 'StreamKey', props.stream.encryptionKey);

    this.rejectedRecords = this.queue('RejectedRecords', `${props.queueNamePrefix}-rejected`, streamKey, props.removalPolicy);
    this.failedBatches = this.queue('FailedBatches', `${props.queueNamePrefix}-failed-batches`, streamKey, props.removalPolicy);

    const role = new LeastPrivilegeRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Click stream live metrics: reads the click stream, sends bad records and failed batches to its queues, logs',
    });
    this.role = role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...KINESIS_READ_ACTIONS], resources: [props.stream.streamArn] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [streamKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `kinesis.${stack.region}.amazonaws.com` } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.rejectedRecords.queueArn, this.failedBatches.queueArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // SQS encrypts a message with a data key of the queue's key, and checks it can decrypt it.
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [streamKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.amazonaws.com` } },
      }),
    );

    this.logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // A function with its own role gets no AWSLambdaBasicExecutionRole: grant writing its log group.
    this.logGroup.grantWrite(role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Click stream live metrics: per-minute EMF metrics of the Kinesis stream, bad records to SQS',
      entry: HANDLER,
      handler: 'handler',
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      role,
      logGroup: this.logGroup,
      environment: {
        [SETTINGS_VARIABLES.namespace]: props.namespace,
        [SETTINGS_VARIABLES.rejectedQueueUrl]: this.rejectedRecords.queueUrl,
        [SETTINGS_VARIABLES.lateAfterMinutes]: String(settings.lateAfterMinutes),
      },
      // Only the mapping invokes it, synchronously; an asynchronous invocation (by hand) that
      // fails lands with the failed batches rather than nowhere.
      deadLetterQueue: this.failedBatches,
      bundling: HANDLER_BUNDLING,
    });
    // Lambda checks the role's permissions (the queue, the stream) when it creates the function
    // and the mapping: the role's policies must exist first.
    this.function.node.addDependency(role);
    acknowledge(
      this.function,
      COMPLIANCE_PACKS,
      'LambdaConcurrency',
      'Only the Kinesis mapping invokes the function, with at most one concurrent batch per shard (parallelization factor 1): its concurrency is bounded by the shard count. A reserved limit would only take capacity from other functions, or, below the shards of an on-demand stream that AWS scales, throttle the consumer.',
    );
    acknowledge(
      this.function,
      COMPLIANCE_PACKS,
      'LambdaInsideVPC',
      "The function reaches no data store in the VPC: Lambda's pollers read the stream for it, and it writes only its log group and two SQS queues, over TLS with IAM. The VPC has no SQS endpoint, so placing it there would add one per environment for no protection.",
    );

    const onFailure: lambda.IEventSourceDlq = { bind: () => ({ destination: this.failedBatches.queueArn }) };
    this.mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: this.function,
      eventSourceArn: props.stream.streamArn,
      // The live view starts from now: history is in the lake. (Only the first deploy starts here;
      // the mapping keeps its checkpoint afterwards.)
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: MAPPING.batchSize,
      maxBatchingWindow: Duration.seconds(settings.batchWindowSeconds),
      parallelizationFactor: MAPPING.parallelizationFactor,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: MAPPING.retryAttempts,
      maxRecordAge: MAPPING.maxRecordAge,
      onFailure,
    });
    this.mapping.node.addDependency(role);

    this.addAlarms(props);
  }

  /** A queue of click data: encrypted with the stream's key, TLS only, messages kept 14 days. */
  private queue(id: string, queueName: string, key: kms.IKey, removalPolicy: RemovalPolicy): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      queueName,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    // On the queue resource itself, not its TLS policy.
    acknowledge(
      queue.node.defaultChild!,
      ['AwsSolutions'],
      'SQS3',
      'This queue is itself a dead-letter destination of the click stream consumer; a dead-letter queue of its own would only move the same parked messages again. Its first visible message alarms, and messages are kept 14 days, the SQS maximum.',
    );
    return queue;
  }

  private addAlarms(props: LiveMetricsProps): void {
    const { alarms, settings, namespace } = props;
    const metric = (metricName: string, period: Duration): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace, metricName, statistic: 'Sum', period });

    if (settings.minEventsPerMinute > 0) {
      alarms.addAlarm('ClickstreamBelowFloor', {
        metric: metric(METRIC_NAMES.events, Duration.minutes(1)),
        threshold: settings.minEventsPerMinute,
        comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 5,
        // No event at all is the outage this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        description: `The site looks down: fewer than ${settings.minEventsPerMinute} valid click events a minute for 5 minutes (none at all counts). Check the site and its event producer, then the Ingestion stream; a LiveMetricsIteratorAge or LiveMetricsErrors alarm means the consumer, not the site, is stuck.`,
      });
    }
    if (settings.anomalyBandStdDevs > 0) {
      alarms.addAnomalyAlarm('ClickstreamTrafficAnomaly', {
        metric: metric(METRIC_NAMES.events, ALARM_PERIOD),
        stdDevs: settings.anomalyBandStdDevs,
        comparison: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        description: `The site looks down: valid click events per 5 minutes have been under their anomaly band (${settings.anomalyBandStdDevs} standard deviations of what this hour and weekday usually see) for 15 minutes. Check the site and its event producer, then the Ingestion stream.`,
      });
    }
    alarms.addAlarm('ClickstreamErrorRate', {
      metric: new cloudwatch.MathExpression({
        expression: `IF(records >= ${MIN_RECORDS_FOR_ERROR_RATE}, 100 * rejected / records, 0)`,
        usingMetrics: { records: metric(METRIC_NAMES.records, ALARM_PERIOD), rejected: metric(METRIC_NAMES.rejected, ALARM_PERIOD) },
        period: ALARM_PERIOD,
        label: 'Rejected records (%)',
      }),
      threshold: settings.maxErrorRatePercent,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `Over ${settings.maxErrorRatePercent} % of the click records of 5 minutes (at least ${MIN_RECORDS_FOR_ERROR_RATE}) were malformed: a producer sends bad events. Read the reasons in the ${this.rejectedRecords.node.id} queue (docs/serving.md#live-metrics).`,
    });
    alarms.addAlarm('LiveMetricsErrors', {
      metric: this.function.metricErrors({ statistic: 'Sum', period: ALARM_PERIOD }),
      threshold: 1,
      description: 'The click stream consumer failed (a missing setting, or a bug): Lambda splits and retries the batch, then parks its position in the FailedBatches queue. Read the function log group.',
    });
    alarms.addAlarm('LiveMetricsIteratorAge', {
      metric: this.function.metric('IteratorAge', { statistic: 'Maximum', period: ALARM_PERIOD }),
      threshold: MAX_ITERATOR_AGE.toMilliseconds(),
      evaluationPeriods: 2,
      description: `The click stream consumer is over ${MAX_ITERATOR_AGE.toMinutes()} minutes behind the stream for 10 minutes: the live metrics are late (and the site-down alarms may fire). Look for throttles and errors of the function.`,
    });
    alarms.addAlarm('LiveMetricsFailedBatches', {
      metric: this.failedBatches.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ALARM_PERIOD }),
      threshold: 1,
      description: 'Click records were skipped by the live consumer after every retry: the metrics have a gap. The FailedBatches queue holds each batch\'s shard and sequence numbers, to replay (docs/serving.md#live-metrics).',
    });
    alarms.addAlarm('ClickstreamRejectedRecords', {
      metric: this.rejectedRecords.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: ALARM_PERIOD }),
      threshold: 1,
      severity: 'Warning',
      description: 'Malformed click records are waiting in the RejectedRecords queue: read their reason, fix the producer, then delete them (docs/serving.md#live-metrics).',
    });
  }
}
