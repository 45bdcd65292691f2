import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { grantPublish } from './grants';
import { LeastPrivilegeRole } from './least-privilege-role';

/** How loud an alarm is. Part of the alarm name so subscribers can filter on it. */
export type AlarmSeverity = 'Warning' | 'Critical';

/** One alarm of a stage. */
export interface StageAlarmSpec {
  /** What the alarm watches. */
  readonly metric: cloudwatch.IMetric;
  /** The threshold the statistic is compared with. */
  readonly threshold: number;
  /**
   * Comparison of statistic and threshold.
   * @default GREATER_THAN_OR_EQUAL_TO_THRESHOLD
   */
  readonly comparison?: cloudwatch.ComparisonOperator;
  /**
   * Periods that must breach before the alarm fires.
   * @default 1
   */
  readonly evaluationPeriods?: number;
  /** What a breach means and what to do about it; becomes the alarm description. */
  readonly description: string;
  /**
   * Severity of the alarm.
   * @default 'Critical'
   */
  readonly severity?: AlarmSeverity;
  /**
   * How missing data is treated.
   * @default NOT_BREACHING (no data means nothing happened, not a failure)
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
}

/** One anomaly-detection alarm of a stage: the metric against the band CloudWatch learns from its history. */
export interface StageAnomalyAlarmSpec {
  /** What the alarm watches (a metric with a period and a statistic, not an expression). */
  readonly metric: cloudwatch.IMetric;
  /** Width of the band in standard deviations. */
  readonly stdDevs: number;
  /** Which side of the band breaches: below it, above it, or outside it. */
  readonly comparison:
    | cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD
    | cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD
    | cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD;
  /**
   * Periods that must breach before the alarm fires.
   * @default 1
   */
  readonly evaluationPeriods?: number;
  /** What a breach means and what to do about it; becomes the alarm description. */
  readonly description: string;
  /**
   * Severity of the alarm.
   * @default 'Critical'
   */
  readonly severity?: AlarmSeverity;
  /**
   * How missing data is treated.
   * @default NOT_BREACHING (no data means nothing happened, not a failure)
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
}

/** Properties of {@link StageAlarms}. */
export interface StageAlarmsProps {
  /** The alerts topic every alarm and event notifies. */
  readonly topic: sns.ITopic;
}

/**
 * The one way a stage declares its alarms: each alarm and each failure event notifies the
 * alerts topic on ALARM and on recovery (OK), with a name `<stack>-<Severity>-<id>`.
 */
export class StageAlarms extends Construct {
  /** Alarms declared so far, by id. */
  public readonly alarms: Record<string, cloudwatch.Alarm> = {};
  private readonly topic: sns.ITopic;
  private readonly action: actions.SnsAction;
  private eventsRole?: LeastPrivilegeRole;

  constructor(scope: Construct, id: string, props: StageAlarmsProps) {
    super(scope, id);
    this.topic = props.topic;
    this.action = new actions.SnsAction(props.topic);
  }

  /** Declares one alarm wired to the alerts topic. */
  public addAlarm(id: string, spec: StageAlarmSpec): cloudwatch.Alarm {
    const severity = spec.severity ?? 'Critical';
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${Stack.of(this).stackName}-${severity}-${id}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return this.notify(id, alarm);
  }

  /**
   * Declares one anomaly-detection alarm (CloudWatch's `ANOMALY_DETECTION_BAND` of the metric),
   * named and wired to the alerts topic as {@link addAlarm} does.
   */
  public addAnomalyAlarm(id: string, spec: StageAnomalyAlarmSpec): cloudwatch.Alarm {
    const severity = spec.severity ?? 'Critical';
    const alarm = new cloudwatch.AnomalyDetectionAlarm(this, id, {
      alarmName: `${Stack.of(this).stackName}-${severity}-${id}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      stdDevs: spec.stdDevs,
      comparisonOperator: spec.comparison,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return this.notify(id, alarm);
  }

  /** Notifies the alerts topic on ALARM and on recovery (OK), and records the alarm. */
  private notify(id: string, alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms[id] = alarm;
    return alarm;
  }

  /**
   * Notifies the alerts topic when an AWS service event matches, e.g. a Glue job run that
   * FAILED, TIMEOUT or STOPPED. The message names the event's source and detail.
   *
   * EventBridge publishes with the stage's own role (exact `sns:Publish` and key actions on
   * this topic), so the topic and key policies stay as `AlertsTopic` wrote them.
   */
  public addEventAlert(id: string, description: string, pattern: events.EventPattern): events.Rule {
    if (!this.eventsRole) {
      this.eventsRole = new LeastPrivilegeRole(this, 'EventsRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
        description: `Publishes ${Stack.of(this).stackName} failure events to the alerts topic`,
      });
      grantPublish(this.eventsRole, this.topic);
    }
    const role = this.eventsRole;
    const topicArn = this.topic.topicArn;
    const message = events.RuleTargetInput.fromObject({
      alert: `${Stack.of(this).stackName}-Critical-${id}`,
      description,
      source: events.EventField.fromPath('$.source'),
      detailType: events.EventField.fromPath('$.detail-type'),
      detail: events.EventField.fromPath('$.detail'),
    });
    const rule = new events.Rule(this, id, { description, eventPattern: pattern });
    rule.addTarget({ bind: () => ({ arn: topicArn, role, input: message }) });
    return rule;
  }
}

/** The default alarm period of the platform. */
export const ALARM_PERIOD = Duration.minutes(5);
