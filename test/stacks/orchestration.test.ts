import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENVIRONMENTS, validateConfig } from '../../lib/config';
import { OrchestrationStack } from '../../lib/stacks/orchestration-stack';
import { CDK_CONTEXT, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, CfnResourceJson, JsonObject, logicalId, ref, resourcesOf, rolePolicyStatements, stateMachineDefinition, withTokens } from './template-helpers';

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

    test('the workflow runs RunSourceExtract, then RunClickstreamToCurated, each with glue:startJobRun.sync, then succeeds', () => {
      expect(definition.StartAt).toBe('Start');
      expect(definition.States.Start.Next).toBe('RunSourceExtract');
      expect(definition.States.RunSourceExtract.Next).toBe('RunClickstreamToCurated');
      expect(definition.States.RunClickstreamToCurated.Next).toBe('PipelineSucceeded');
      for (const state of ['RunSourceExtract', 'RunClickstreamToCurated']) {
        const run = definition.States[state];
        expect(run.Type).toBe('Task');
        expect(withTokens(run.Resource, tokens)).toMatch(/:states:::glue:startJobRun\.sync$/);
        // The job's output is not carried into the next state.
        expect(run.ResultPath).toBeNull();
      }
      expect(definition.States.PipelineSucceeded.Type).toBe('Succeed');
      expect(Object.keys(definition.States).sort()).toEqual(
        ['NotifyFailure', 'PipelineFailed', 'PipelineSucceeded', 'RunClickstreamToCurated', 'RunSourceExtract', 'Start'].sort(),
      );
    });

    test('the extract job name comes from the Ingestion stack and the clickstream job name from the Transform stack, through imports', () => {
      const extract = definition.States.RunSourceExtract;
      expect(withTokens(extract.Parameters.JobName, tokens)).toBe(
        JSON.stringify(ref(platform.orchestration, platform.ingestion.extractJob.job.jobName)),
      );
      expect(withTokens(extract.Parameters.JobName, tokens)).toMatch(/-Ingestion:ExportsOutputRefSourceExtract/);
      const run = definition.States.RunClickstreamToCurated;
      expect(withTokens(run.Parameters.JobName, tokens)).toBe(
        JSON.stringify(ref(platform.orchestration, platform.transform.clickstreamJob.job.jobName)),
      );
      expect(withTokens(run.Parameters.JobName, tokens)).toMatch(/-Transform:ExportsOutputRefClickstreamToCurated/);
    });

    test.each(['RunSourceExtract', 'RunClickstreamToCurated'])('a failure of %s is caught and sent to the failure notification', (state) => {
      expect(definition.States[state].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }]);
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

    test('an execution times out after both jobs’ timeouts plus 30 minutes', () => {
      const jobs = 2;
      expect(definition.TimeoutSeconds).toBe((platform.config.transform.timeoutMinutes * jobs + 30) * 60);
      expect(definition.TimeoutSeconds).toBe(envName === 'prod' ? (120 * 2 + 30) * 60 : (30 * 2 + 30) * 60);
    });
  });

  describe('workflow role', () => {
    test('the role may start, watch and stop runs of exactly the extract and clickstream jobs', () => {
      const statements = rolePolicyStatements(template, 'Orchestration/WorkflowRole');
      const glueStatements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('glue:')));
      expect(glueStatements).toHaveLength(1);
      expect(actionsOf(glueStatements[0])).toEqual(['glue:BatchStopJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:StartJobRun']);
      const jobArn = (jobName: string): unknown => ({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':job/', ref(platform.orchestration, jobName)],
        ],
      });
      expect(glueStatements[0].Resource).toEqual([
        jobArn(platform.ingestion.extractJob.job.jobName),
        jobArn(platform.transform.clickstreamJob.job.jobName),
      ]);
    });

    test('the role may publish only to the alerts topic', () => {
      const statements = rolePolicyStatements(template, 'Orchestration/WorkflowRole');
      const publish = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sns:')));
      expect(publish).toEqual([
        { Effect: 'Allow', Action: 'sns:Publish', Resource: ref(platform.orchestration, platform.foundation.alertsTopic.topicArn) },
      ]);
    });
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

describe('OrchestrationStack built with several jobs', () => {
  const config = validateConfig(ENVIRONMENTS.dev);
  let template: Template;

  beforeAll(() => {
    const app = new App({ context: CDK_CONTEXT });
    const support = new Stack(app, 'Support');
    // Jobs that are the `Resource` child of a wrapper, as `GlueSparkJob` makes them.
    const jobs = ['ExtractOrders', 'OrdersToGold'].map((name) =>
      glue.Job.fromJobAttributes(new Construct(support, name), 'Resource', { jobName: name.toLowerCase() }),
    );
    const stack = new OrchestrationStack(app, {
      config,
      jobs,
      alertsTopic: new sns.Topic(support, 'Alerts'),
      logKey: new kms.Key(support, 'LogKey', { enableKeyRotation: true }),
    });
    template = Template.fromStack(stack);
  });

  test('each job runs in order in a state named after its wrapper, each failure caught', () => {
    const [machine] = Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine'));
    const { definition } = stateMachineDefinition(machine);
    expect(definition.States.Start.Next).toBe('RunExtractOrders');
    expect(definition.States.RunExtractOrders.Next).toBe('RunOrdersToGold');
    expect(definition.States.RunOrdersToGold.Next).toBe('PipelineSucceeded');
    expect(definition.States.RunExtractOrders.Parameters.JobName).toBe('extractorders');
    expect(definition.States.RunOrdersToGold.Parameters.JobName).toBe('orderstogold');
    for (const state of ['RunExtractOrders', 'RunOrdersToGold']) {
      expect(definition.States[state].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' },
      ]);
    }
  });

  test('the execution timeout covers every job plus 30 minutes', () => {
    const [machine] = Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine'));
    expect(stateMachineDefinition(machine).definition.TimeoutSeconds).toBe((config.transform.timeoutMinutes * 2 + 30) * 60);
  });

  test('a workflow without jobs is refused', () => {
    const app = new App({ context: CDK_CONTEXT });
    const support = new Stack(app, 'Support');
    expect(
      () =>
        new OrchestrationStack(app, {
          config,
          jobs: [],
          alertsTopic: new sns.Topic(support, 'Alerts'),
          logKey: new kms.Key(support, 'LogKey'),
        }),
    ).toThrow('OrchestrationStack needs at least one job to run.');
  });
});
