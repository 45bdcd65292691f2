import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENVIRONMENTS, resolveConfig, validateConfig } from '../../lib/config';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION, EXAMPLE_TARGET_CONTEXT } from '../support/example-account';
import { OrchestrationStack } from '../../lib/orchestration/orchestration-stack';
import { QuickSightTwin } from '../../lib/twin/quicksight';
import { runStateMachine, type TaskHandler } from '../../lib/twin/workflow';
import { patchedConfig, SynthesizedPlatform, synthPlatform, testApp } from '../support/platform';
import { acknowledgedRules, actionsOf, asList, asRendered, CfnResourceJson, JsonObject, logicalId, ref, resourcesOf, rolePolicyStatements, StatementJson, stateMachineDefinition, withTokens } from './template-helpers';

describe.each(['dev', 'prod'] as const)('OrchestrationStack in %s', (envName) => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let machineId: string;
  let machine: CfnResourceJson;
  let definition: JsonObject;
  let tokens: unknown[];

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('orchestration');
    const machines = resourcesOf(template, 'AWS::StepFunctions::StateMachine');
    expect(Object.keys(machines)).toHaveLength(1);
    [[machineId, machine]] = Object.entries(machines);
    ({ definition, tokens } = stateMachineDefinition(machine));
  });

  /** QuickSight is on in prod (and staging), off in dev. */
  const quickSight = envName === 'prod';
  /** The parallel state of the two curations. */
  const CURATE = 'RunSourceToCuratedAndClickstreamToCurated';
  /** Every Glue task of the workflow, in the branches included. */
  const allRuns = (): JsonObject[] => [
    definition.States.RunSourceExtract,
    ...definition.States[CURATE].Branches.map((b: JsonObject) => b.States[b.StartAt]),
    definition.States.RunCuratedToGold,
  ];

  /** Every Glue task of the workflow by state name, the parallel branches' included. */
  const runsByName = (): Record<string, JsonObject> => ({
    RunSourceExtract: definition.States.RunSourceExtract,
    ...Object.fromEntries(definition.States[CURATE].Branches.map((b: JsonObject) => [b.StartAt, b.States[b.StartAt]])),
    RunCuratedToGold: definition.States.RunCuratedToGold,
  });

  describe('state machine', () => {
    test('executions are traced with X-Ray', () => {
      expect(machine.Properties?.TracingConfiguration).toEqual({ Enabled: true });
    });

    test('every event, with execution data, is logged to the workflow log group', () => {
      const [groupId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogGroup'));
      expect(machine.Properties?.LoggingConfiguration).toEqual({
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [groupId, 'Arn'] } } }],
      });
    });

    test('the workflow log group is KMS-encrypted with the ops key and has the configured retention', () => {
      template.resourceCountIs('AWS::Logs::LogGroup', 1);
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        KmsKeyId: ref(platform.orchestration, platform.foundation.keys.ops.keyArn),
        RetentionInDays: platform.config.dataProtection.logRetentionDays,
      });
    });

    test('the workflow runs RunSourceExtract, then SourceToCurated and ClickstreamToCurated in parallel, then CuratedToGold, then succeeds', () => {
      expect(definition.StartAt).toBe('Start');
      expect(definition.States.Start.Next).toBe('RunSourceExtract');
      expect(definition.States.RunSourceExtract.Next).toBe(CURATE);
      const curate = definition.States[CURATE];
      expect(curate.Type).toBe('Parallel');
      expect(curate.Next).toBe('RunCuratedToGold');
      expect(curate.ResultPath).toBeNull();
      expect(curate.Branches.map((b: JsonObject) => b.StartAt)).toEqual(['RunSourceToCurated', 'RunClickstreamToCurated']);
      for (const branch of curate.Branches) {
        expect(Object.keys(branch.States)).toEqual([branch.StartAt]);
        expect(branch.States[branch.StartAt].End).toBe(true);
      }
      // Where QuickSight is on (prod), the dashboards' datasets are refreshed after gold.
      expect(definition.States.RunCuratedToGold.Next).toBe(quickSight ? 'RefreshDashboardData' : 'PipelineSucceeded');
      for (const run of allRuns()) {
        expect(run.Type).toBe('Task');
        expect(withTokens(run.Resource, tokens)).toMatch(/:states:::glue:startJobRun\.sync$/);
        // The job's output is not carried into the next state.
        expect(run.ResultPath).toBeNull();
      }
      expect(allRuns()).toHaveLength(4);
      expect(definition.States.PipelineSucceeded.Type).toBe('Succeed');
      expect(Object.keys(definition.States).sort()).toEqual(
        [
          'NotifyFailure',
          'PipelineFailed',
          'PipelineSucceeded',
          CURATE,
          'RunCuratedToGold',
          'RunSourceExtract',
          'Start',
          ...(quickSight ? ['RefreshDashboardData'] : []),
        ].sort(),
      );
    });

    test('the extract job name comes from the Ingestion stack and the transform job names from the Transform stack, through imports', () => {
      const extract = definition.States.RunSourceExtract;
      expect(withTokens(extract.Parameters.JobName, tokens)).toBe(
        JSON.stringify(ref(platform.orchestration, platform.ingestion.extractJob.job.jobName)),
      );
      expect(withTokens(extract.Parameters.JobName, tokens)).toMatch(/-Ingestion:ExportsOutputRefSourceExtract/);
      const runs = Object.fromEntries(allRuns().map((r) => [withTokens(r.Parameters.JobName, tokens), r]));
      for (const [job, id] of [
        [platform.transform.sourceJob, 'SourceToCurated'],
        [platform.transform.clickstreamJob, 'ClickstreamToCurated'],
        [platform.transform.goldJob, 'CuratedToGold'],
      ] as const) {
        const name = JSON.stringify(ref(platform.orchestration, job.job.jobName));
        expect(runs[name]).toBeDefined();
        expect(name).toMatch(new RegExp(`-Transform:ExportsOutputRef${id}`));
      }
    });

    test.each(['RunSourceExtract', CURATE, 'RunCuratedToGold'])('a failure of %s is caught and sent to the failure notification', (state) => {
      expect(definition.States[state].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
    });

    test('a failed branch fails the parallel curation (no catch inside a branch), so the failure reaches the notification', () => {
      for (const branch of definition.States[CURATE].Branches) {
        expect(branch.States[branch.StartAt].Catch).toBeUndefined();
      }
    });

    test('the failure notification publishes to the alerts topic, then fails the execution', () => {
      const notify = definition.States.NotifyFailure;
      expect(notify.Type).toBe('Task');
      expect(notify.Resource).toMatch(/:states:::sns:publish$/);
      expect(withTokens(notify.Parameters.TopicArn, tokens)).toBe(
        JSON.stringify(ref(platform.orchestration, platform.foundation.alertsTopic.topicArn)),
      );
      expect(notify.Parameters.Message).toEqual(
        expect.objectContaining({ 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' }),
      );
      expect(notify.Next).toBe('PipelineFailed');
      expect(definition.States.PipelineFailed.Type).toBe('Fail');
    });

    if (envName === 'prod') {
      test('an execution times out after every attempt of one job per stage and the waits between them (three stages), plus 30 minutes', () => {
        // Per stage: 3 attempts of a 120-minute job and waits of 60 s and 120 s.
        expect(definition.TimeoutSeconds).toBe(3 * (3 * 120 * 60 + 60 + 120) + 30 * 60);
        expect(definition.TimeoutSeconds).toBe(67140);
      });
    } else {
      test('an execution times out after one job timeout per stage (three stages, no retries) plus 30 minutes', () => {
        expect(definition.TimeoutSeconds).toBe((30 * 3 + 30) * 60);
      });
    }
  });

  describe('retries', () => {
    if (envName === 'prod') {
      test.each(['RunSourceExtract', 'RunSourceToCurated', 'RunClickstreamToCurated', 'RunCuratedToGold'])(
        '%s starts a failed job run again twice, after 60 s and then 120 s',
        (state) => {
          expect(runsByName()[state].Retry).toEqual([
            {
              ErrorEquals: ['States.TaskFailed', 'Glue.ConcurrentRunsExceededException', 'Glue.AWSGlueException'],
              IntervalSeconds: 60,
              BackoffRate: 2,
              MaxAttempts: 2,
            },
          ]);
        },
      );
    } else {
      test('no job task retries: dev has no workflow retries', () => {
        expect(platform.config.transform.workflowRetries).toBe(0);
        for (const run of allRuns()) {
          expect(run.Retry).toBeUndefined();
        }
      });
    }

    test('a one-job stage catches on its job task, after the task\'s retries, so the failure notification follows the last attempt', () => {
      for (const state of ['RunSourceExtract', 'RunCuratedToGold']) {
        expect(definition.States[state].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
        expect(definition.States[state].Retry).toEqual(envName === 'prod' ? [expect.objectContaining({ MaxAttempts: 2 })] : undefined);
      }
    });

    test('the parallel curation is not retried as a whole (that would rerun a branch that succeeded); its branches retry their own job', () => {
      expect(definition.States[CURATE].Retry).toBeUndefined();
      for (const branch of definition.States[CURATE].Branches) {
        expect(branch.States[branch.StartAt].Retry).toEqual(envName === 'prod' ? [expect.objectContaining({ MaxAttempts: 2 })] : undefined);
      }
    });

    test('no Glue job of the pipeline retries by itself: every one runs with MaxRetries 0', () => {
      for (const stack of ['ingestion', 'transform'] as const) {
        platform.template(stack).allResourcesProperties('AWS::Glue::Job', { MaxRetries: 0 });
      }
    });
  });

  describe('workflow role', () => {
    test('the role may start, watch and stop runs of exactly the extract and the three transform jobs', () => {
      const statements = rolePolicyStatements(template, 'Orchestration/WorkflowRole');
      const glueStatements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('glue:')));
      expect(glueStatements).toHaveLength(1);
      expect(actionsOf(glueStatements[0])).toEqual(['glue:BatchStopJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:StartJobRun']);
      const jobArn = (jobName: string): unknown =>
        asRendered(envName, {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':job/', ref(platform.orchestration, jobName)],
          ],
        });
      expect(asList(glueStatements[0].Resource)).toEqual(
        expect.arrayContaining([
          jobArn(platform.ingestion.extractJob.job.jobName),
          jobArn(platform.transform.sourceJob.job.jobName),
          jobArn(platform.transform.clickstreamJob.job.jobName),
          jobArn(platform.transform.goldJob.job.jobName),
        ]),
      );
      expect(asList(glueStatements[0].Resource)).toHaveLength(4);
    });

    test('what logging and tracing add to the role (CloudWatch Logs delivery, X-Ray on "*") lands in its unscoped policy, nowhere else', () => {
      const role = platform.orchestration.node.findChild('WorkflowRole');
      expect(rolePolicyStatements(template, 'Orchestration/WorkflowRole').filter((s) => asList(s.Resource).includes('*'))).toEqual([]);
      const unscoped = resourcesOf(template, 'AWS::IAM::ManagedPolicy')[logicalId(role.node.findChild('UnscopedPolicy'))];
      expect(unscoped.Properties?.Roles).toEqual([{ Ref: logicalId(role) }]);
      const statements = asList<StatementJson>(unscoped.Properties?.PolicyDocument.Statement);
      expect(statements.every((s) => s.Effect === 'Allow' && s.Resource === '*' && s.Condition === undefined)).toBe(true);
      expect(statements.flatMap((s) => actionsOf(s)).sort()).toEqual(
        [
          'logs:CreateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:DescribeLogGroups',
          'logs:DescribeResourcePolicies',
          'logs:GetLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:UpdateLogDelivery',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
        ].sort(),
      );
    });

    test(`the "*" is acknowledged on the unscoped policy alone, naming its actions; the role acknowledges ${quickSight ? 'only the ingestions of each dashboard dataset' : 'nothing'}`, () => {
      const role = platform.orchestration.node.findChild('WorkflowRole');
      const ingestions = Object.keys(acknowledgedRules(role)).map((id) => /^AwsSolutions-IAM5\[Resource::Undercurrent-prod-Serving:ExportsOutputFnGetAtt(QuickSight\w+DataSet)[0-9A-F]{8}Arn[0-9A-F]{8}\/ingestion\/\*\]$/.exec(id)?.[1] ?? id);
      expect(ingestions.sort()).toEqual(
        quickSight
          ? ['QuickSightCustomer360DataSet', 'QuickSightDailyFunnelDataSet', 'QuickSightProductPerformanceDataSet', 'QuickSightRevenueByMonthAndProductLineDataSet', 'QuickSightSalesRepPerformanceDataSet']
          : [],
      );
      const acks = acknowledgedRules(role.node.findChild('UnscopedPolicy'));
      expect(Object.keys(acks)).toEqual(['AwsSolutions-IAM5[Resource::*]']);
      expect(acks['AwsSolutions-IAM5[Resource::*]']).toMatch(/: logs:CreateLogDelivery, .*, xray:PutTraceSegments\.$/);
    });

    test('the role may publish only to the alerts topic', () => {
      const statements = rolePolicyStatements(template, 'Orchestration/WorkflowRole');
      const publish = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sns:')));
      expect(publish).toEqual([
        { Effect: 'Allow', Action: 'sns:Publish', Resource: ref(platform.orchestration, platform.foundation.alertsTopic.topicArn) },
      ]);
    });
  });

  describe('the dashboards\' refresh after gold', () => {
    if (quickSight) {
      const VIEWS = ['revenue_by_month_and_product_line', 'product_performance', 'customer_360', 'sales_rep_performance', 'daily_funnel'];

      test('one Parallel state starts a full SPICE import of each of the five datasets, named by the execution, without waiting for it', () => {
        const refresh = definition.States.RefreshDashboardData;
        expect(refresh.Type).toBe('Parallel');
        expect(refresh.Next).toBe('PipelineSucceeded');
        expect(refresh.ResultPath).toBeNull();
        const tasks = refresh.Branches.map((b: JsonObject) => {
          expect(Object.keys(b.States)).toEqual([b.StartAt]);
          return b.States[b.StartAt];
        });
        expect(tasks.map((t: JsonObject) => t.Parameters)).toEqual(
          VIEWS.map((view) => ({
            AwsAccountId: EXAMPLE_ACCOUNT,
            DataSetId: `undercurrent-prod-${view}`,
            'IngestionId.$': '$$.Execution.Name',
            IngestionType: 'FULL_REFRESH',
          })),
        );
        for (const task of tasks) {
          expect(withTokens(task.Resource, tokens)).toMatch(/:states:::aws-sdk:quicksight:createIngestion$/);
          expect(task.ResultPath).toBeNull();
          expect(task.Retry).toEqual([
            { ErrorEquals: ['QuickSight.ThrottlingException', 'QuickSight.LimitExceededException'], IntervalSeconds: 60, BackoffRate: 2, MaxAttempts: 3 },
          ]);
        }
      });

      test('the dataset ids are the Serving stack\'s datasets\'', () => {
        expect(Object.values(platform.serving.quickSight!.dataSets).map((d) => d.dataSetId)).toEqual(VIEWS.map((view) => `undercurrent-prod-${view}`));
      });

      test('a refresh that QuickSight refuses to start fails the run through the failure notification', () => {
        expect(definition.States.RefreshDashboardData.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
      });

      /** The workflow run by the twin's interpreter, its jobs succeeding, QuickSight answered by the twin's stand-in. */
      async function run(dataSetIds: string[], executionName: string) {
        const quickSight = new QuickSightTwin({ resourcesOfType: () => dataSetIds.map((id) => ({ properties: { DataSetId: id } })) } as never);
        const published: unknown[] = [];
        const tasks: TaskHandler = async (resource, parameters, context) => {
          if (quickSight.handles(resource)) {
            return quickSight.tasks(resource, parameters, context);
          }
          if (resource.endsWith(':states:::sns:publish')) {
            published.push(parameters.Message);
          }
          return { JobRunState: 'SUCCEEDED' };
        };
        const execution = await runStateMachine(definition, {}, tasks, {
          executionId: `arn:aws:states:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:execution:Workflow:${executionName}`,
          delayScale: 0,
        });
        return { execution, quickSight, published };
      }

      test('run by the twin, a successful run asks for one import of each dataset, named after the execution, and succeeds', async () => {
        const { execution, quickSight } = await run(VIEWS.map((view) => `undercurrent-prod-${view}`), 'nightly-run-1');
        expect(execution.status).toBe('SUCCEEDED');
        expect(quickSight.ingestions).toEqual(
          VIEWS.map((view) => ({ dataSetId: `undercurrent-prod-${view}`, ingestionId: 'nightly-run-1', ingestionType: 'FULL_REFRESH' })),
        );
      });

      test('run by the twin, an execution name QuickSight refuses as an ingestion id fails the run and notifies', async () => {
        const { execution, published } = await run(VIEWS.map((view) => `undercurrent-prod-${view}`), 'rerun.by.hand');
        expect(execution.status).toBe('FAILED');
        expect(published).toEqual([expect.objectContaining({ error: 'QuickSight.InvalidParameterValueException' })]);
      });

      test('the role may start ingestions of exactly the five datasets, named through the Serving stack\'s exports', () => {
        const statements = rolePolicyStatements(template, 'Orchestration/WorkflowRole').filter((s) => actionsOf(s).some((a) => a.startsWith('quicksight:')));
        expect(statements).toHaveLength(1);
        expect(actionsOf(statements[0])).toEqual(['quicksight:CreateIngestion']);
        const expected = Object.values(platform.serving.quickSight!.dataSets).map((dataSet) => ({
          'Fn::Join': ['', [ref(platform.orchestration, dataSet.attrArn), '/ingestion/*']],
        }));
        expect(asList(statements[0].Resource)).toEqual(expect.arrayContaining(expected));
        expect(asList(statements[0].Resource)).toHaveLength(5);
        expect(JSON.stringify(expected)).toMatch(/Undercurrent-prod-Serving:ExportsOutputFnGetAttQuickSight/);
      });
    } else {
      test('there is no refresh state and no QuickSight permission: QuickSight is off', () => {
        expect(platform.config.serving.quickSight.enabled).toBe(false);
        expect(JSON.stringify(definition)).not.toContain('quicksight');
        expect(JSON.stringify(rolePolicyStatements(template, 'Orchestration/WorkflowRole'))).not.toContain('quicksight');
      });
    }
  });

  describe('alarms', () => {
    test.each([
      ['WorkflowFailed', 'ExecutionsFailed'],
      ['WorkflowTimedOut', 'ExecutionsTimedOut'],
    ])('the %s alarm watches %s of the workflow and notifies the alerts topic', (id, metric) => {
      const topic = ref(platform.orchestration, platform.foundation.alertsTopic.topicArn);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Orchestration-Critical-${id}`,
        Namespace: 'AWS/States',
        MetricName: metric,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machineId } }],
        AlarmActions: [topic],
        OKActions: [topic],
      });
    });

    test('the stage has exactly these two alarms', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    });
  });

  if (envName === 'prod') {
    describe('schedule', () => {
      test('a rule starts the workflow on the configured schedule through its own role', () => {
        template.resourceCountIs('AWS::Events::Rule', 1);
        const scheduleRole = logicalId(platform.orchestration.node.findChild('ScheduleRole'));
        template.hasResourceProperties('AWS::Events::Rule', {
          ScheduleExpression: platform.config.operations.schedule,
          State: 'ENABLED',
          Targets: [Match.objectLike({ Arn: { Ref: machineId }, RoleArn: { 'Fn::GetAtt': [scheduleRole, 'Arn'] } })],
        });
        expect(platform.config.operations.schedule).toBe('cron(0 2 * * ? *)');
      });

      test('a start that fails is retried for up to two hours, not dropped', () => {
        template.hasResourceProperties('AWS::Events::Rule', {
          Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 } })],
        });
      });

      test('the schedule role may only start executions of this workflow', () => {
        expect(rolePolicyStatements(template, 'Orchestration/ScheduleRole')).toEqual([
          { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: machineId } },
        ]);
      });
    });
  } else {
    describe('schedule', () => {
      test('there is no schedule rule and no schedule role when scheduleEnabled is false', () => {
        expect(platform.config.operations.scheduleEnabled).toBe(false);
        template.resourceCountIs('AWS::Events::Rule', 0);
        expect(platform.orchestration.node.tryFindChild('ScheduleRole')).toBeUndefined();
        template.resourceCountIs('AWS::IAM::Role', 1);
      });
    });
  }
});

describe('OrchestrationStack built with stages of jobs', () => {
  const config = validateConfig(ENVIRONMENTS.dev);
  let template: Template;

  beforeAll(() => {
    const app = testApp();
    const support = new Stack(app, 'Support');
    // Jobs that are the `Resource` child of a wrapper, as `GlueSparkJob` makes them.
    const [extract, orders, events, gold] = ['ExtractOrders', 'OrdersToCurated', 'EventsToCurated', 'CuratedToGold'].map((name) =>
      glue.Job.fromJobAttributes(new Construct(support, name), 'Resource', { jobName: name.toLowerCase() }),
    );
    const stack = new OrchestrationStack(app, {
      config,
      stages: [[extract], [orders, events], [gold]],
      alertsTopic: new sns.Topic(support, 'Alerts'),
      logKey: new kms.Key(support, 'LogKey', { enableKeyRotation: true }),
    });
    template = Template.fromStack(stack);
  });

  const definition = () => stateMachineDefinition(Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine'))[0]).definition;

  test('a one-job stage is a task named after its wrapper; a stage of several jobs is a Parallel state of them; stages run in order', () => {
    const { States, StartAt } = definition();
    expect(StartAt).toBe('Start');
    expect(States.Start.Next).toBe('RunExtractOrders');
    expect(States.RunExtractOrders.Next).toBe('RunOrdersToCuratedAndEventsToCurated');
    expect(States.RunOrdersToCuratedAndEventsToCurated.Type).toBe('Parallel');
    expect(
      States.RunOrdersToCuratedAndEventsToCurated.Branches.map((b: JsonObject) => [b.StartAt, b.States[b.StartAt].Parameters.JobName]),
    ).toEqual([
      ['RunOrdersToCurated', 'orderstocurated'],
      ['RunEventsToCurated', 'eventstocurated'],
    ]);
    expect(States.RunOrdersToCuratedAndEventsToCurated.Next).toBe('RunCuratedToGold');
    expect(States.RunCuratedToGold.Next).toBe('PipelineSucceeded');
    expect(States.RunExtractOrders.Parameters.JobName).toBe('extractorders');
    for (const state of ['RunExtractOrders', 'RunOrdersToCuratedAndEventsToCurated', 'RunCuratedToGold']) {
      expect(States[state].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
    }
  });

  test('the execution timeout covers one job timeout per stage plus 30 minutes', () => {
    expect(definition().TimeoutSeconds).toBe((30 * 3 + 30) * 60);
  });

  test.each([
    ['no stage', []],
    ['an empty stage', [[]]],
  ])('a workflow with %s is refused', (_what, stages) => {
    const app = testApp();
    const support = new Stack(app, 'Support');
    expect(
      () =>
        new OrchestrationStack(app, {
          config,
          stages,
          alertsTopic: new sns.Topic(support, 'Alerts'),
          logKey: new kms.Key(support, 'LogKey'),
        }),
    ).toThrow('OrchestrationStack needs at least one stage to run, each with at least one job.');
  });
});

describe('OrchestrationStack with three workflow retries and a 10-minute job timeout', () => {
  let definition: JsonObject;

  beforeAll(() => {
    // staging deploys only to a pinned target; the support stack shares it (same account and region).
    const config = resolveConfig(patchedConfig('staging', { transform: { workflowRetries: 3, timeoutMinutes: 10 } }), {}, EXAMPLE_TARGET_CONTEXT.staging);
    const app = testApp();
    const support = new Stack(app, 'Support', { env: { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION } });
    const [extract, orders, events] = ['Extract', 'OrdersToCurated', 'EventsToCurated'].map((name) =>
      glue.Job.fromJobAttributes(new Construct(support, name), 'Resource', { jobName: name.toLowerCase() }),
    );
    const stack = new OrchestrationStack(app, {
      config,
      stages: [[extract], [orders, events]],
      alertsTopic: new sns.Topic(support, 'Alerts'),
      logKey: new kms.Key(support, 'LogKey', { enableKeyRotation: true }),
    });
    definition = stateMachineDefinition(Object.values(resourcesOf(Template.fromStack(stack), 'AWS::StepFunctions::StateMachine'))[0]).definition;
  });

  const retry = {
    ErrorEquals: ['States.TaskFailed', 'Glue.ConcurrentRunsExceededException', 'Glue.AWSGlueException'],
    IntervalSeconds: 60,
    BackoffRate: 2,
    MaxAttempts: 3,
  };

  test('every job task, in a parallel branch or alone, retries three times with backoff from 60 s', () => {
    expect(definition.States.RunExtract.Retry).toEqual([retry]);
    for (const branch of definition.States.RunOrdersToCuratedAndEventsToCurated.Branches) {
      expect(branch.States[branch.StartAt].Retry).toEqual([retry]);
    }
  });

  test('the catch that sends the failure notification stays on the stage, after the retries', () => {
    expect(definition.States.RunExtract.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
    expect(definition.States.RunOrdersToCuratedAndEventsToCurated.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' },
    ]);
    expect(definition.States.RunOrdersToCuratedAndEventsToCurated.Retry).toBeUndefined();
  });

  test('the execution timeout covers four attempts of 10 minutes and waits of 1, 2 and 4 minutes per stage, plus 30 minutes', () => {
    expect(definition.TimeoutSeconds).toBe(2 * (4 * 10 + 1 + 2 + 4) * 60 + 30 * 60);
    expect(definition.TimeoutSeconds).toBe(7440);
  });
});
