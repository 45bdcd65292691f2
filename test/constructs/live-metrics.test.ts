import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { LiveMetricsConfig } from '../../lib/config';
import { LiveMetrics } from '../../lib/serving/live-metrics';
import { StageAlarms } from '../../lib/shared/stage-alarms';
import { testApp } from '../support/platform';

/** A stack with a stream and the construct on it (the handler is not bundled: no asset is synthesized). */
function build(settings: Partial<LiveMetricsConfig>, encrypted = true): Stack {
  const app = testApp();
  app.node.setContext('aws:cdk:bundling-stacks', []);
  const stack = new Stack(app, 'Serving', { stackName: 'undercurrent-test-serving' });
  const stream = encrypted
    ? new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: new kms.Key(stack, 'StreamKey') })
    : new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.MANAGED });
  new LiveMetrics(stack, 'LiveMetrics', {
    stream,
    settings: { enabled: true, batchWindowSeconds: 0, minEventsPerMinute: 0, anomalyBandStdDevs: 0, maxErrorRatePercent: 5, lateAfterMinutes: 10, ...settings },
    namespace: 'Undercurrent/test/Clickstream',
    queueNamePrefix: 'undercurrent-test-clicks',
    logKey: new kms.Key(stack, 'LogKey'),
    logRetention: logs.RetentionDays.ONE_WEEK,
    removalPolicy: RemovalPolicy.DESTROY,
    alarms: new StageAlarms(stack, 'Alarms', { topic: new sns.Topic(stack, 'Alerts') }),
  });
  return stack;
}

function alarmNames(stack: Stack): string[] {
  return Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))
    .map((a) => a.Properties.AlarmName as string)
    .map((name) => name.replace('undercurrent-test-serving-', ''))
    .sort();
}

describe('LiveMetrics', () => {
  test('needs a stream encrypted with a customer key, which its queues share', () => {
    expect(() => build({}, false)).toThrow(
      'LiveMetrics needs the click stream with its customer key (IngestionStack.stream): the consumer decrypts with it, and its queues encrypt with it.',
    );
  });

  test('without a floor or an anomaly band there is no site-down alarm; each adds its own', () => {
    const always = ['Critical-ClickstreamErrorRate', 'Critical-LiveMetricsErrors', 'Critical-LiveMetricsFailedBatches', 'Critical-LiveMetricsIteratorAge', 'Warning-ClickstreamRejectedRecords'];
    expect(alarmNames(build({}))).toEqual(always);
    expect(alarmNames(build({ minEventsPerMinute: 50 }))).toEqual([...always, 'Critical-ClickstreamBelowFloor'].sort());
    expect(alarmNames(build({ anomalyBandStdDevs: 2 }))).toEqual([...always, 'Critical-ClickstreamTrafficAnomaly'].sort());
  });

  test('a batching window of 0 invokes at once; the queues follow the removal policy', () => {
    const template = Template.fromStack(build({}));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumBatchingWindowInSeconds: 0 });
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue'))) {
      expect(queue.DeletionPolicy).toBe('Delete');
    }
  });
});
