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
import { QuickSightDashboards } from '../serving/quicksight';
import { acknowledgeWildcardResource, grantKeyEncryptDecrypt, grantPublish } from '../shared/grants';
import { pascal } from '../shared/naming';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';

/**
 * The errors after which the workflow starts a Glue job run again. `States.TaskFailed` is what
 * `glue:startJobRun.sync` raises when the run ends FAILED, TIMEOUT or STOPPED (and, as a Step
 * Functions wildcard, any other task error but `States.Timeout`); the Glue errors name the
 * refusals to start a run, spelled out so that a reader sees them: another run of the job still
 * running (MaxConcurrentRuns 1) and Glue's service errors (`Glue.AWSGlueException`, which the
 * optimized integration raises for a failed Glue API call).
 */
export const JOB_RETRY_ERRORS = ['States.TaskFailed', 'Glue.ConcurrentRunsExceededException', 'Glue.AWSGlueException'] as const;
/** The wait before the first retry of a job run; each later wait is {@link JOB_RETRY_BACKOFF_RATE} times the previous. */
export const JOB_RETRY_INTERVAL = Duration.minutes(1);
/** How much longer each wait between two attempts of a job run is than the previous one. */
export const JOB_RETRY_BACKOFF_RATE = 2;
/** Slack of the execution timeout for starting jobs and waiting for Flex capacity. */
const START_UP_SLACK = Duration.minutes(30);

/** Properties of the {@link OrchestrationStack}. */
export interface OrchestrationStackProps extends PlatformStackProps {
  /**
   * The pipeline's jobs in stages: the stages run in order; the jobs of one stage run in
   * parallel (a stage starts when every job of the previous one has succeeded).
   */
  readonly stages: readonly (readonly glue.IJob[])[];
  /** The alerts topic, notified when a run fails. */
  readonly alertsTopic: sns.ITopic;
  /** Key of the workflow's log group. */
  readonly logKey: kms.IKey;
  /**
   * The QuickSight datasets of the Serving stack, refreshed (a SPICE import each) once the last
   * stage has succeeded.
   * @default - no dashboard refresh (QuickSight off)
   */
  readonly dashboards?: QuickSightDashboards;
}

/**
 * The errors of QuickSight's CreateIngestion after which the workflow asks again to start a
 * dataset's refresh: throttled, or a limit reached (e.g. a refresh of the dataset already
 * running, the fallback schedule's). Step Functions names an AWS SDK error
 * `<Service>.<Exception>` in Pascal case. Not retried: a missing dataset, a bad parameter, an
 * ingestion id used before.
 */
export const REFRESH_RETRY_ERRORS = ['QuickSight.ThrottlingException', 'QuickSight.LimitExceededException'] as const;

/**
 * The orchestration undercurrent: a Step Functions workflow that runs the pipeline's jobs
 * stage by stage (the jobs of a stage in parallel) and notifies the alerts topic when any of
 * them fails, started by an EventBridge schedule where the environment asks for one.
 *
 * The workflow, not Glue, retries a failed job run (`transform.workflowRetries` times, with
 * exponential backoff): the Glue jobs run with `MaxRetries` 0, because a Glue-level retry is a
 * new run that the task waiting on the first one does not follow. The failure notification
 * fires only once the last attempt has failed.
 */
export class OrchestrationStack extends PlatformStack {
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

    const retries = config.transform.workflowRetries;
    const run = (job: glue.IJob): tasks.GlueStartJobRun => {
      const task = new tasks.GlueStartJobRun(this, `Run${jobStateName(job)}`, {
        glueJobName: job.jobName,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        resultPath: sfn.JsonPath.DISCARD,
      });
      // Retriers come before any Catch: the stage's catch (and so the alert) sees only the last attempt.
      if (retries > 0) {
        task.addRetry({
          errors: [...JOB_RETRY_ERRORS],
          interval: JOB_RETRY_INTERVAL,
          backoffRate: JOB_RETRY_BACKOFF_RATE,
          maxAttempts: retries,
        });
      }
      return task;
    };
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
    if (props.dashboards) {
      definition = definition.next(this.refreshDashboards(props.dashboards, role).addCatch(notifyFailure, { resultPath: '$.failure' }));
    }
    definition = definition.next(new sfn.Succeed(this, 'PipelineSucceeded'));

    const logGroup = new logs.LogGroup(this, 'WorkflowLogs', {
      encryptionKey: props.logKey,
      retention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });
    grantKeyEncryptDecrypt(role, props.logKey);

    // Each stage takes at most every attempt of one job (its jobs run side by side) and the
    // waits between them; plus start-up slack.
    const executionTimeout = props.stages.length * stageTimeout(config.transform.timeoutMinutes, retries).toSeconds() + START_UP_SLACK.toSeconds();
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      role,
      timeout: Duration.seconds(executionTimeout),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // Logging and tracing make the state machine add CloudWatch Logs delivery and X-Ray actions
    // on "*" to the role; all are in UNSCOPED_ACTIONS, so they land in the role's unscoped
    // policy, which alone acknowledges the "*".

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

  /**
   * Starts a full SPICE import of each dashboard dataset, side by side, and does not wait for it:
   * gold is already committed, an import takes QuickSight's time (queued behind others), and a
   * failed import raises the dataset's RefreshFailed alarm in the Serving stack, so the run's
   * outcome stays the pipeline's. The ingestion id is the execution's name: the import of a run
   * is found by it in QuickSight (its pattern is `[a-zA-Z0-9-_]+`, as the generated execution
   * names are; a run started by hand under another name fails here and notifies).
   */
  private refreshDashboards(dashboards: QuickSightDashboards, role: iam.IRole): sfn.Parallel {
    const refresh = new sfn.Parallel(this, 'RefreshDashboardData', { resultPath: sfn.JsonPath.DISCARD });
    for (const [view, dataSet] of Object.entries(dashboards.dataSets)) {
      const ingestions = `${dataSet.attrArn}/ingestion/*`;
      const task = new tasks.CallAwsService(this, `Refresh${pascal(view)}`, {
        service: 'quicksight',
        action: 'createIngestion',
        iamAction: 'quicksight:CreateIngestion',
        iamResources: [ingestions],
        parameters: {
          AwsAccountId: this.account,
          DataSetId: dashboards.dataSetIds[view as keyof typeof dashboards.dataSetIds],
          IngestionId: sfn.JsonPath.executionName,
          IngestionType: 'FULL_REFRESH',
        },
        resultPath: sfn.JsonPath.DISCARD,
      });
      task.addRetry({ errors: [...REFRESH_RETRY_ERRORS], interval: Duration.minutes(1), backoffRate: 2, maxAttempts: 3 });
      acknowledgeWildcardResource(
        role,
        ingestions,
        `Starts SPICE imports of one QuickSight dataset: an ingestion's id is the execution's name, known only when the workflow runs.`,
      );
      refresh.branch(task);
    }
    return refresh;
  }
}

/**
 * The longest one stage can take: every attempt of a job (the first run and `retries` more) up to
 * the job timeout, and the backoff waits between them (interval, interval x rate, ...).
 */
export function stageTimeout(jobTimeoutMinutes: number, retries: number): Duration {
  let waits = 0;
  for (let attempt = 0; attempt < retries; attempt++) {
    waits += JOB_RETRY_INTERVAL.toSeconds() * JOB_RETRY_BACKOFF_RATE ** attempt;
  }
  return Duration.seconds((retries + 1) * jobTimeoutMinutes * 60 + waits);
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
