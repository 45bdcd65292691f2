import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ALARM_PERIOD, StageAlarms } from '../../lib/shared/stage-alarms';
import { testApp } from '../support/platform';

const metric = (metricName: string): cloudwatch.Metric =>
  new cloudwatch.Metric({ namespace: 'Undercurrent/Test', metricName, period: ALARM_PERIOD, statistic: 'Sum' });

describe('StageAlarms', () => {
  let stack: Stack;
  let template: Template;
  let topic: sns.Topic;
  let alarms: StageAlarms;
  let critical: cloudwatch.Alarm;
  let warning: cloudwatch.Alarm;
  let rule: events.Rule;
  const pattern: events.EventPattern = {
    source: ['aws.glue'],
    detailType: ['Glue Job State Change'],
    detail: { jobName: ['clickstream'], state: ['FAILED'] },
  };

  beforeAll(() => {
    const app = testApp();
    // The stack name, not the construct id, goes into alarm names.
    stack = new Stack(app, 'Transform', { stackName: 'undercurrent-dev-transform' });
    topic = new sns.Topic(stack, 'Alerts', { masterKey: new kms.Key(stack, 'AlertsKey') });
    alarms = new StageAlarms(stack, 'Alarms', { topic });
    critical = alarms.addAlarm('JobErrors', {
      metric: metric('Errors'),
      threshold: 1,
      description: 'The job logged errors: read its error log group.',
    });
    warning = alarms.addAlarm('SlowRuns', {
      metric: metric('Duration'),
      threshold: 600,
      description: 'Runs are slow.',
      severity: 'Warning',
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    rule = alarms.addEventAlert('ClickstreamRunFailed', 'The clickstream job failed', pattern);
    template = Template.fromStack(stack);
  });

  test('an alarm is named <stackName>-<Severity>-<id>, Critical by default', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'undercurrent-dev-transform-Critical-JobErrors',
      AlarmDescription: 'The job logged errors: read its error log group.',
    });
  });

  test('an alarm with severity Warning carries Warning in its name', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'undercurrent-dev-transform-Warning-SlowRuns' });
  });

  test('every alarm notifies the alerts topic on ALARM and on recovery (OK)', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [stack.resolve(topic.topicArn)],
      OKActions: [stack.resolve(topic.topicArn)],
      InsufficientDataActions: Match.absent(),
    });
  });

  test('an alarm defaults to >= threshold, one evaluation period and missing data as not breaching', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'undercurrent-dev-transform-Critical-JobErrors',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Threshold: 1,
      MetricName: 'Errors',
      Namespace: 'Undercurrent/Test',
      Period: Duration.minutes(5).toSeconds(),
      Statistic: 'Sum',
    });
  });

  test('comparison, evaluation periods and missing-data treatment can be overridden', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'undercurrent-dev-transform-Warning-SlowRuns',
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
      Threshold: 600,
    });
  });

  test('declared alarms are returned and kept by id', () => {
    expect(alarms.alarms).toEqual({ JobErrors: critical, SlowRuns: warning });
  });

  test('addEventAlert creates an EventBridge rule with the given pattern and description', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      Description: 'The clickstream job failed',
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.glue'],
        'detail-type': ['Glue Job State Change'],
        detail: { jobName: ['clickstream'], state: ['FAILED'] },
      },
    });
    expect(rule).toBe(alarms.node.findChild('ClickstreamRunFailed'));
  });

  test('the event rule targets the alerts topic with a message naming the alert, the source and the detail', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: stack.resolve(topic.topicArn),
          InputTransformer: {
            InputPathsMap: { source: '$.source', 'detail-type': '$.detail-type', detail: '$.detail' },
            InputTemplate: Match.stringLikeRegexp('"alert":"undercurrent-dev-transform-Critical-ClickstreamRunFailed"'),
          },
        }),
      ],
    });
  });

  test('EventBridge publishes with a role of its own that may only publish to the topic and use its key', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'events.amazonaws.com' } })] } },
    });
    const roleIds = Object.keys(roles);
    expect(roleIds).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ RoleArn: { 'Fn::GetAtt': [roleIds[0], 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: roleIds[0] }],
      PolicyDocument: {
        Statement: [
          { Action: 'sns:Publish', Effect: 'Allow', Resource: stack.resolve(topic.topicArn) },
          { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: stack.resolve(topic.masterKey!.keyArn) },
        ],
      },
    });
    // The topic's own policy gains nothing for EventBridge.
    expect(template.findResources('AWS::SNS::TopicPolicy')).toEqual({});
  });
});

describe('StageAlarms anomaly-detection alarms', () => {
  test('compare the metric with its learnt band, named and notifying as every alarm of the stage', () => {
    const stack = new Stack(testApp(), 'Serving', { stackName: 'undercurrent-prod-serving' });
    const topic = new sns.Topic(stack, 'Alerts');
    const alarms = new StageAlarms(stack, 'Alarms', { topic });
    alarms.addAnomalyAlarm('TrafficCollapse', {
      metric: metric('Events'),
      stdDevs: 3,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: 'Traffic fell under its band.',
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'undercurrent-prod-serving-Critical-TrafficCollapse',
      AlarmDescription: 'Traffic fell under its band.',
      ComparisonOperator: 'LessThanLowerThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
      ThresholdMetricId: 'expr_1',
      Metrics: [
        { Expression: 'ANOMALY_DETECTION_BAND(m0, 3)', Id: 'expr_1', Label: 'Anomaly Detection Band', ReturnData: true },
        { Id: 'm0', MetricStat: { Metric: { MetricName: 'Events', Namespace: 'Undercurrent/Test' }, Period: 300, Stat: 'Sum' }, ReturnData: true },
      ],
      AlarmActions: [stack.resolve(topic.topicArn)],
      OKActions: [stack.resolve(topic.topicArn)],
    });
    expect(Object.keys(alarms.alarms)).toEqual(['TrafficCollapse']);
  });
});
