import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { grantKeyEncryptDecrypt, grantPublish } from '../constructs/grants';
import { LeastPrivilegeRole } from '../constructs/least-privilege-role';
import { acknowledge } from '../constructs/nag';
import { ALARM_PERIOD, StageAlarms } from '../constructs/stage-alarms';
import { StageStack, StageStackProps } from './stage-stack';

/** Properties of the {@link OrchestrationStack}. */
export interface OrchestrationStackProps extends StageStackProps {
  /**
   * The pipeline's jobs in stages: the stages run in order; the jobs of one stage run in
   * parallel (a stage starts when every job of the previous one has succeeded).
   */
  readonly stages: readonly (readonly glue.IJob[])[];
  /** The alerts topic, notified when a run fails. */
  readonly alertsTopic: sns.ITopic;
  /** Key of the workflow's log group. */
  readonly logKey: kms.IKey;
}

/**
 * The orchestration undercurrent: a Step Functions workflow that runs the pipeline's jobs
 * stage by stage (the jobs of a stage in parallel) and notifies the alerts topic when any of
 * them fails, started by an EventBridge schedule where the environment asks for one.
 */
export class OrchestrationStack extends StageStack {
  public readonly stateMachine: sfn.StateMachine;
  public readonly alarms: StageAlarms;

  constructor(scope: Construct, props: OrchestrationStackProps) {
    super(scope, 'Orchestration', props);
    const { config } = this;
    if (props.stages.length === 0 || props.stages.some((stage) => stage.length === 0)) {
      throw new Error('OrchestrationStack needs at least one stage to run, each with at least one job.');
    }

    const role = new LeastPrivilegeRole(this, 'WorkflowRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'Runs the pipeline workflow: starts the Glue jobs, publishes failures',
    });
    grantPublish(role, props.alertsTopic);

    const notifyFailure = new tasks.SnsPublish(this, 'NotifyFailure', {
      topic: props.alertsTopic,
      subject: `${this.stackName}: pipeline run failed`,
      message: sfn.TaskInput.fromObject({
        alert: `${this.stackName}-Critical-PipelineRunFailed`,
        execution: sfn.JsonPath.executionId,
        error: sfn.JsonPath.stringAt('$.failure.Error'),
        cause: sfn.JsonPath.stringAt('$.failure.Cause'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(new sfn.Fail(this, 'PipelineFailed', { error: 'PipelineFailed', cause: 'A pipeline job failed' }));

    const run = (job: glue.IJob): tasks.GlueStartJobRun =>
      new tasks.GlueStartJobRun(this, `Run${jobStateName(job)}`, {
        glueJobName: job.jobName,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        resultPath: sfn.JsonPath.DISCARD,
      });
    let definition = sfn.Chain.start(new sfn.Pass(this, 'Start'));
    for (const stage of props.stages) {
      if (stage.length === 1) {
        definition = definition.next(run(stage[0]).addCatch(notifyFailure, { resultPath: '$.failure' }));
        continue;
      }
      // A failed branch fails the whole stage (the other branches are stopped): one catch.
      const parallel = new sfn.Parallel(this, `Run${stage.map(jobStateName).join('And')}`, { resultPath: sfn.JsonPath.DISCARD });
      for (const job of stage) {
        parallel.branch(run(job));
      }
      definition = definition.next(parallel.addCatch(notifyFailure, { resultPath: '$.failure' }));
    }
    definition = definition.next(new sfn.Succeed(this, 'PipelineSucceeded'));

    const logGroup = new logs.LogGroup(this, 'WorkflowLogs', {
      encryptionKey: props.logKey,
      retention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });
    grantKeyEncryptDecrypt(role, props.logKey);

    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      role,
      // Each stage takes at most one job timeout (its jobs run side by side), plus 30 minutes of start-up slack.
      timeout: Duration.minutes(config.transform.timeoutMinutes * props.stages.length + 30),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    acknowledge(
      role,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'CloudWatch Logs log delivery (logs:CreateLogDelivery and friends) and X-Ray (xray:PutTraceSegments and friends) support no resource-level permissions; these are the exact actions Step Functions documents for logging and tracing.',
    );

    if (config.operations.scheduleEnabled) {
      const scheduleRole = new LeastPrivilegeRole(this, 'ScheduleRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
        description: 'Starts the pipeline workflow on its schedule',
      });
      new events.Rule(this, 'Schedule', {
        description: `Runs the ${config.envName} pipeline on ${config.operations.schedule}`,
        schedule: events.Schedule.expression(config.operations.schedule),
        targets: [
          new targets.SfnStateMachine(this.stateMachine, {
            role: scheduleRole,
            retryAttempts: 3,
            maxEventAge: Duration.hours(2),
          }),
        ],
      });
    }

    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    this.alarms.addAlarm('WorkflowFailed', {
      metric: this.stateMachine.metricFailed({ statistic: 'Sum', period: ALARM_PERIOD }),
      threshold: 1,
      description: 'A pipeline run failed; the failure notification names the execution and the cause.',
    });
    this.alarms.addAlarm('WorkflowTimedOut', {
      metric: this.stateMachine.metricTimedOut({ statistic: 'Sum', period: ALARM_PERIOD }),
      threshold: 1,
      description: 'A pipeline run timed out: a job hangs or the data grew past the configured timeouts.',
    });
  }
}

/**
 * The name of a job in the workflow: its construct id, or its owner's id when the job is the
 * default child (`Resource`) of a wrapper such as `GlueSparkJob`, so that every state is named
 * after its job (`RunClickstreamToCurated`) and two wrapped jobs do not collide on `RunResource`.
 */
function jobStateName(job: glue.IJob): string {
  const { id, scope } = job.node;
  return id === 'Resource' && scope ? scope.node.id : id;
}
