import { App, CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { ENVIRONMENTS } from '../../lib/config';
import {
  glueLogGroupNames,
  glueSecurityConfigurationName,
  GlueSparkJob,
  GlueSparkJobProps,
} from '../../lib/transform/glue-spark-job';
import { grantPrefixWrite } from '../../lib/shared/grants';
import { StageAlarms } from '../../lib/shared/stage-alarms';
import { testApp } from '../support/platform';
import { acknowledgedRules } from '../stacks/template-helpers';

const SIZING = ENVIRONMENTS.dev.transform;
const SCRIPT = 'jobs/clickstream_raw_to_curated.py';

function newStack(id: string): Stack {
  return new Stack(testApp(), id);
}

/** The keys and the stage alarms that jobs in `stack` use. */
function jobDependencies(stack: Stack) {
  const dataKey = new kms.Key(stack, 'DataKey', { enableKeyRotation: true });
  const logKey = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
  const alarms = new StageAlarms(stack, 'Alarms', { topic: new sns.Topic(stack, 'Alerts', { masterKey: logKey }) });
  return { dataKey, logKey, alarms };
}

function jobProps(deps: ReturnType<typeof jobDependencies>, overrides: Partial<GlueSparkJobProps> = {}): GlueSparkJobProps {
  return {
    description: 'Curates the clickstream',
    script: SCRIPT,
    arguments: { 'raw-path': 's3://raw/clickstream/', 'curated-path': 's3://curated/clickstream/' },
    sizing: SIZING,
    dataKey: deps.dataKey,
    logKey: deps.logKey,
    logRetention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
    alarms: deps.alarms,
    ...overrides,
  };
}

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The statements of a job role's policy: `main` (`<role>/Policy`) or `unscoped` (`<role>/UnscopedPolicy`, Resource "*"). */
function policyStatements(stack: Stack, template: Template, job: GlueSparkJob, which: 'main' | 'unscoped'): Statement[] {
  const roleId = stack.getLogicalId(job.role.node.defaultChild as CfnElement);
  const policies = template.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [{ Ref: roleId }] } });
  const policy = job.role.node.tryFindChild(which === 'main' ? 'Policy' : 'UnscopedPolicy');
  if (!policy) {
    return [];
  }
  return policies[stack.getLogicalId(policy.node.defaultChild as CfnElement)].Properties.PolicyDocument.Statement;
}

describe('GlueSparkJob', () => {
  let stack: Stack;
  let template: Template;
  let deps: ReturnType<typeof jobDependencies>;
  let clickstream: GlueSparkJob;
  let backfill: GlueSparkJob;
  let output: s3.IBucket;

  beforeAll(() => {
    stack = newStack('Transform');
    deps = jobDependencies(stack);
    clickstream = new GlueSparkJob(stack, 'Clickstream', jobProps(deps));
    backfill = new GlueSparkJob(stack, 'Backfill', jobProps(deps, { bookmarks: false, arguments: {} }));
    output = s3.Bucket.fromBucketName(stack, 'Output', 'curated-bucket');
    grantPrefixWrite(clickstream, { bucket: output, prefix: 'clickstream/' });
    template = Template.fromStack(stack);
  });

  const id = (construct: Construct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const jobResource = (job: GlueSparkJob) => template.findResources('AWS::Glue::Job')[id(job.job)];
  const roleStatements = (job: GlueSparkJob): Statement[] => policyStatements(stack, template, job, 'main');
  const unscopedStatements = (job: GlueSparkJob): Statement[] => policyStatements(stack, template, job, 'unscoped');
  const assetObjectArn = (job: GlueSparkJob, child: 'Script' | 'PythonPackage') => {
    const asset = job.node.findChild(child) as s3assets.Asset;
    return stack.resolve(asset.bucket.arnForObjects(asset.s3ObjectKey));
  };

  test('the job runs Glue 5.0 PySpark (glueetl, Python 3) from the script asset', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Description: 'Curates the clickstream',
      GlueVersion: '5.0',
      Command: {
        Name: 'glueetl',
        PythonVersion: '3',
        ScriptLocation: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^/[0-9a-f]{64}\\.py$')])] },
      },
    });
  });

  test('worker type, number of workers and timeout come from the sizing', () => {
    const props = jobResource(clickstream).Properties;
    expect(props).toMatchObject({
      WorkerType: 'G.1X',
      NumberOfWorkers: 2,
      Timeout: 30,
    });
    expect(props.MaxCapacity).toBeUndefined();
  });

  test('Glue never retries a failed run by itself (MaxRetries 0 on every job)', () => {
    template.allResourcesProperties('AWS::Glue::Job', { MaxRetries: 0 });
  });

  test('at most one run of a job runs at a time', () => {
    template.allResourcesProperties('AWS::Glue::Job', { ExecutionProperty: { MaxConcurrentRuns: 1 } });
  });

  test('the job turns on job metrics, observability metrics, real-time logging and auto scaling', () => {
    template.allResourcesProperties('AWS::Glue::Job', {
      DefaultArguments: Match.objectLike({
        '--enable-metrics': '',
        '--enable-observability-metrics': 'true',
        '--enable-continuous-cloudwatch-log': 'true',
        '--enable-auto-scaling': 'true',
      }),
    });
  });

  test('bookmarks are on by default and off with bookmarks: false', () => {
    expect(jobResource(clickstream).Properties.DefaultArguments['--job-bookmark-option']).toBe('job-bookmark-enable');
    expect(jobResource(backfill).Properties.DefaultArguments['--job-bookmark-option']).toBe('job-bookmark-disable');
  });

  test('the job logs under its own log-group prefix', () => {
    expect(jobResource(clickstream).Properties.DefaultArguments['--custom-logGroup-prefix']).toBe('/aws-glue/Transform/Clickstream');
    expect(jobResource(backfill).Properties.DefaultArguments['--custom-logGroup-prefix']).toBe('/aws-glue/Transform/Backfill');
  });

  test('the Python package ships as a zip through --extra-py-files', () => {
    template.allResourcesProperties('AWS::Glue::Job', {
      DefaultArguments: Match.objectLike({
        '--extra-py-files': { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^/[0-9a-f]{64}\\.zip$')])] },
      }),
    });
  });

  test('the given arguments are passed with a leading --, and no other argument is added', () => {
    const args = jobResource(clickstream).Properties.DefaultArguments;
    expect(args).toMatchObject({
      '--raw-path': 's3://raw/clickstream/',
      '--curated-path': 's3://curated/clickstream/',
    });
    expect(Object.keys(jobResource(backfill).Properties.DefaultArguments).sort()).toEqual(
      Object.keys(args)
        .filter((name) => name !== '--raw-path' && name !== '--curated-path')
        .sort(),
    );
  });

  test('the job uses the stack\'s Glue security configuration', () => {
    const configId = stack.getLogicalId(stack.node.findChild('GlueSecurityConfiguration').node.defaultChild as glue.CfnSecurityConfiguration);
    template.allResourcesProperties('AWS::Glue::Job', { SecurityConfiguration: { Ref: configId } });
  });

  test('the security configuration encrypts S3 output with SSE-KMS, logs with KMS and bookmarks with client-side KMS', () => {
    template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
      // Explicit and deterministic: Glue puts it into the names of the jobs' log groups.
      Name: 'Transform-glue',
      EncryptionConfiguration: {
        S3Encryptions: [{ S3EncryptionMode: 'SSE-KMS', KmsKeyArn: stack.resolve(deps.dataKey.keyArn) }],
        CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS', KmsKeyArn: stack.resolve(deps.logKey.keyArn) },
        JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: stack.resolve(deps.dataKey.keyArn) },
      },
    });
  });

  test('two jobs in one stack share one security configuration', () => {
    template.resourceCountIs('AWS::Glue::Job', 2);
    template.resourceCountIs('AWS::Glue::SecurityConfiguration', 1);
  });

  test('each job has an error and an output log group named as Glue names them under the security configuration, KMS-encrypted, with retention and the given removal policy', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 4);
    for (const kind of ['error', 'output']) {
      template.hasResource('AWS::Logs::LogGroup', {
        Properties: {
          // <prefix>/<security configuration name>-role/<role name>/<kind>
          LogGroupName: { 'Fn::Join': ['', ['/aws-glue/Transform/Clickstream/Transform-glue-role/', { Ref: id(clickstream.role) }, `/${kind}`]] },
          KmsKeyId: stack.resolve(deps.logKey.keyArn),
          RetentionInDays: 30,
        },
        DeletionPolicy: 'Delete',
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: stack.resolve(deps.logKey.keyArn), RetentionInDays: 30 });
  });

  test.each(['Clickstream', 'Backfill'])(
    'the log groups that %s\'s job arguments, security configuration and role imply are exactly the ones the stack pre-creates',
    (name) => {
      const job = name === 'Clickstream' ? clickstream : backfill;
      const props = jobResource(job).Properties;
      const prefix: string = props.DefaultArguments['--custom-logGroup-prefix'];
      const configs = template.findResources('AWS::Glue::SecurityConfiguration');
      const configName: string = configs[props.SecurityConfiguration.Ref].Properties.Name;
      // The job runs as the role; Glue names the groups after the role's name, which is its Ref.
      expect(props.Role).toEqual({ 'Fn::GetAtt': [id(job.role), 'Arn'] });
      const implied = ['error', 'output'].map((kind) => ({ 'Fn::Join': ['', [`${prefix}/${configName}-role/`, { Ref: id(job.role) }, `/${kind}`]] }));
      // The documented CloudWatch encryption mode the naming applies to.
      expect(configs[props.SecurityConfiguration.Ref].Properties.EncryptionConfiguration.CloudWatchEncryption.CloudWatchEncryptionMode).toBe('SSE-KMS');
      const groups = job.logGroups.map((g) => template.findResources('AWS::Logs::LogGroup')[id(g)].Properties.LogGroupName);
      expect(groups).toEqual(implied);
      expect(job.logGroups.map((g) => stack.resolve(g.logGroupName))).toEqual(job.logGroups.map((g) => ({ Ref: id(g) })));
    },
  );

  test('glueLogGroupNames and glueSecurityConfigurationName spell the documented format', () => {
    expect(glueLogGroupNames('/p/x', 'sc', 'role1')).toEqual({ error: '/p/x/sc-role/role1/error', output: '/p/x/sc-role/role1/output' });
    expect(glueSecurityConfigurationName(stack)).toBe('Transform-glue');
  });

  test('the job runs as its own role, assumed by Glue, with one managed policy and no inline policy', () => {
    expect(clickstream.grantPrincipal).toBe(clickstream.role);
    template.hasResourceProperties('AWS::Glue::Job', {
      Description: 'Curates the clickstream',
      Role: stack.resolve(clickstream.role.roleArn),
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: 'Runs the Glue job Transform/Clickstream',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'glue.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(roleStatements(clickstream).length).toBeGreaterThan(0);
  });

  test('the role may read exactly the script and package objects, with s3:GetObject only', () => {
    const reads = roleStatements(clickstream).filter((s) => [s.Action].flat().some((a) => a === 's3:GetObject'));
    expect(reads).toHaveLength(1);
    expect(reads[0].Action).toBe('s3:GetObject');
    expect(reads[0].Condition).toBeUndefined();
    const resources = [reads[0].Resource].flat();
    expect(resources).toHaveLength(2);
    expect(resources).toEqual(expect.arrayContaining([assetObjectArn(clickstream, 'Script'), assetObjectArn(clickstream, 'PythonPackage')]));
    expect(JSON.stringify(resources)).not.toContain('*');
  });

  test('the role may create, key and write exactly its two log groups and nowhere else', () => {
    for (const job of [clickstream, backfill]) {
      const logStatements = [...roleStatements(job), ...unscopedStatements(job)].filter((s) => [s.Action].flat().some((a) => a.startsWith('logs:')));
      const bareArn = (g: logs.LogGroup) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: id(g) }]],
      });
      // The groups themselves (group-level actions) and their streams (`Arn` is `...:log-group:<name>:*`).
      const named = [...job.logGroups.map(bareArn), ...job.logGroups.map((g) => ({ 'Fn::GetAtt': [id(g), 'Arn'] }))];
      expect(logStatements).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:AssociateKmsKey', 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: expect.arrayContaining(named),
        },
      ]);
      expect(logStatements[0].Resource).toHaveLength(named.length);
    }
  });

  test('the role may put metrics only into the Glue namespace, through its unscoped policy', () => {
    expect(roleStatements(clickstream).filter((s) => [s.Action].flat().some((a) => a.startsWith('cloudwatch:')))).toEqual([]);
    expect(unscopedStatements(clickstream)).toEqual([
      {
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
      },
    ]);
  });

  test('no statement of the main policy is on "*", and the role itself acknowledges nothing about "*"', () => {
    for (const job of [clickstream, backfill]) {
      expect(roleStatements(job).filter((st) => [st.Resource].flat().includes('*'))).toEqual([]);
      expect(Object.keys(acknowledgedRules(job.role)).filter((r) => r.includes('IAM5[Resource::*]'))).toEqual([]);
      expect(Object.keys(acknowledgedRules(job.role.node.findChild('UnscopedPolicy')))).toEqual(['AwsSolutions-IAM5[Resource::*]']);
    }
  });

  test('the role may encrypt and decrypt with the data key and the log key', () => {
    const kmsStatements = roleStatements(clickstream).filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')));
    expect(kmsStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: [stack.resolve(deps.dataKey.keyArn), stack.resolve(deps.logKey.keyArn)],
      },
    ]);
  });

  test('no action granted to the role contains a wildcard', () => {
    const actions = roleStatements(clickstream).flatMap((s) => [s.Action].flat());
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  test('the job is IGrantable: grants to it land in its role\'s managed policy', () => {
    expect(roleStatements(clickstream)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
          Resource: stack.resolve(output.arnForObjects('clickstream/*')),
        }),
      ]),
    );
    expect(JSON.stringify(roleStatements(backfill))).not.toContain('clickstream/*');
  });

  test('a FAILED, TIMEOUT or STOPPED run of the job notifies the alerts topic through an EventBridge rule', () => {
    template.resourceCountIs('AWS::Events::Rule', 2);
    for (const job of [clickstream, backfill]) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.glue'],
          'detail-type': ['Glue Job State Change'],
          detail: { jobName: [{ Ref: id(job.job) }], state: ['FAILED', 'TIMEOUT', 'STOPPED'] },
        },
        Targets: [Match.objectLike({ Arn: { Ref: stack.getLogicalId(stack.node.findChild('Alerts').node.defaultChild as sns.CfnTopic) } })],
      });
    }
  });
});

describe('GlueSparkJob with a VPC connection', () => {
  let app: App;
  let stack: Stack;
  let template: Template;
  let job: GlueSparkJob;
  let iam5: { ruleName: string; paths: string[] }[];

  beforeAll(() => {
    app = testApp();
    stack = new Stack(app, 'Ingestion');
    const deps = jobDependencies(stack);
    const connection = glue.Connection.fromConnectionName(stack, 'Jdbc', 'source-jdbc');
    job = new GlueSparkJob(stack, 'Extract', jobProps(deps, { connections: [connection] }));
    app.synth();
    // Only the IAM5 findings: the test stack's keys and topic are not the subject here.
    iam5 = new AwsSolutionsChecks()
      .validateScope(app)
      .violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM5'))
      .map((v) => ({ ruleName: v.ruleName, paths: v.violatingResources.map((r) => r.constructPath ?? '') }));
    template = Template.fromStack(stack);
  });

  const main = () => policyStatements(stack, template, job, 'main');
  const unscoped = () => policyStatements(stack, template, job, 'unscoped');
  const ec2Arn = (type: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${type}/*`]],
  });

  test('the EC2 network-interface and Describe actions Glue needs are on "*" in the unscoped policy, nowhere else', () => {
    expect(unscoped()).toEqual(
      expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: [
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeRouteTables',
            'ec2:DescribeSecurityGroups',
            'ec2:DescribeSubnets',
            'ec2:DescribeVpcAttribute',
            'ec2:DescribeVpcEndpoints',
          ],
          Resource: '*',
        },
      ]),
    );
    expect(main().filter((st) => [st.Resource].flat().includes('*'))).toEqual([]);
  });

  test('ec2:CreateTags and ec2:DeleteTags are scoped as AWSGlueServiceRole scopes them: Glue\'s tag key only, on network interfaces, security groups and instances of this account and region', () => {
    const tagging = [...main(), ...unscoped()].filter((st) => [st.Action].flat().some((a) => a === 'ec2:CreateTags' || a === 'ec2:DeleteTags'));
    expect(tagging).toEqual([
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
        // CDK sorts the resources of a statement.
        Resource: [ec2Arn('instance'), ec2Arn('network-interface'), ec2Arn('security-group')],
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['aws-glue-service-resource'] } },
      },
    ]);
    // No account, region or partition is written into the template: they are the stack's own.
    expect(JSON.stringify(tagging)).not.toMatch(/arn:aws|\d{12}|us-east-1|eu-west-1/);
  });

  test('in a stack pinned to an account and region the tag resources name that account and region', () => {
    const pinnedApp = testApp();
    const pinned = new Stack(pinnedApp, 'Pinned', { env: { account: '123456789012', region: 'eu-west-1' } });
    const pinnedJob = new GlueSparkJob(pinned, 'Extract', jobProps(jobDependencies(pinned), { connections: [glue.Connection.fromConnectionName(pinned, 'Jdbc', 'jdbc')] }));
    const statements = policyStatements(pinned, Template.fromStack(pinned), pinnedJob, 'main');
    const tagging = statements.find((st) => [st.Action].flat().includes('ec2:CreateTags'))!;
    expect(JSON.stringify(tagging.Resource)).toContain(':ec2:eu-west-1:123456789012:network-interface/*');
  });

  test('cdk-nag reports no unacknowledged IAM5 finding: "*" only in the unscoped policy, the three tag patterns acknowledged exactly', () => {
    expect(iam5).toEqual([]);
    const acks = Object.keys(acknowledgedRules(job.role));
    expect(acks.sort()).toEqual(
      ['network-interface', 'security-group', 'instance']
        .map((type) => `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:${type}/*]`)
        .sort(),
    );
    expect(Object.keys(acknowledgedRules(job.role.node.findChild('UnscopedPolicy')))).toEqual(['AwsSolutions-IAM5[Resource::*]']);
  });

  test('the unscoped policy\'s acknowledgement names exactly the actions it holds', () => {
    const reason = acknowledgedRules(job.role.node.findChild('UnscopedPolicy'))['AwsSolutions-IAM5[Resource::*]'];
    const held = unscoped().flatMap((st) => [st.Action].flat()).sort();
    expect(reason).toContain(`: ${held.join(', ')}.`);
    expect(held).toEqual([
      'cloudwatch:PutMetricData',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeRouteTables',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcAttribute',
      'ec2:DescribeVpcEndpoints',
    ]);
  });
});

describe('GlueSparkJob validation', () => {
  test('an argument name with a leading dash is rejected', () => {
    const stack = newStack('Transform');
    const deps = jobDependencies(stack);
    expect(() => new GlueSparkJob(stack, 'Bad', jobProps(deps, { arguments: { '--raw-path': 's3://raw/' } }))).toThrow(
      'Glue job argument "--raw-path" of Transform/Bad: give names without leading dashes.',
    );
    expect(() => new GlueSparkJob(stack, 'AlsoBad', jobProps(deps, { arguments: { '-x': '1' } }))).toThrow(
      'Glue job argument "-x" of Transform/AlsoBad: give names without leading dashes.',
    );
  });

  test('a second job of the stack with other keys than the shared security configuration is rejected', () => {
    const stack = newStack('Transform');
    const deps = jobDependencies(stack);
    new GlueSparkJob(stack, 'First', jobProps(deps));
    const otherKey = new kms.Key(stack, 'OtherKey');
    const message =
      'The Glue jobs of stack Transform share one security configuration: give every job the same dataKey and logKey, or put the job in another stack.';
    expect(() => new GlueSparkJob(stack, 'OtherData', jobProps(deps, { dataKey: otherKey }))).toThrow(message);
    expect(() => new GlueSparkJob(stack, 'OtherLogs', jobProps(deps, { logKey: otherKey }))).toThrow(message);
  });
});

describe('GlueSparkJob options: execution class, Iceberg, metrics namespace', () => {
  let stack: Stack;
  let template: Template;
  let flex: GlueSparkJob;
  let standard: GlueSparkJob;
  let iceberg: GlueSparkJob;
  let warehouse: s3.IBucket;

  beforeAll(() => {
    stack = newStack('Transform');
    const deps = jobDependencies(stack);
    warehouse = s3.Bucket.fromBucketName(stack, 'Gold', 'gold-bucket');
    flex = new GlueSparkJob(stack, 'Flex', jobProps(deps, { sizing: { ...SIZING, executionClass: 'FLEX' } }));
    standard = new GlueSparkJob(stack, 'Standard', jobProps(deps, { sizing: { ...SIZING, executionClass: 'FLEX' }, executionClass: 'STANDARD' }));
    iceberg = new GlueSparkJob(
      stack,
      'Iceberg',
      jobProps(deps, { sizing: { ...SIZING, executionClass: 'STANDARD' }, icebergWarehouse: warehouse, metricsNamespace: 'Undercurrent/test/Transform' }),
    );
    template = Template.fromStack(stack);
  });

  const id = (job: GlueSparkJob): string => stack.getLogicalId(job.job.node.defaultChild as CfnElement);
  const props = (job: GlueSparkJob) => template.findResources('AWS::Glue::Job')[id(job)].Properties;
  const statements = (job: GlueSparkJob): Statement[] => [
    ...policyStatements(stack, template, job, 'main'),
    ...policyStatements(stack, template, job, 'unscoped'),
  ];

  test('the execution class comes from the sizing, a FLEX job is a Flex ETL job without run queuing, and the property overrides it', () => {
    expect(props(flex).ExecutionClass).toBe('FLEX');
    expect(props(flex).JobRunQueuingEnabled).toBe(false);
    expect(flex.job).toBeInstanceOf(glue.PySparkFlexEtlJob);
    expect(props(standard).ExecutionClass).toBe('STANDARD');
    expect(standard.job).toBeInstanceOf(glue.PySparkEtlJob);
  });

  test('an Iceberg job gets --datalake-formats iceberg and the glue_catalog --conf chain over the warehouse bucket root', () => {
    expect(props(iceberg).DefaultArguments).toMatchObject({
      '--datalake-formats': 'iceberg',
      '--conf':
        'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions' +
        ' --conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog' +
        ' --conf spark.sql.catalog.glue_catalog.warehouse=s3://gold-bucket/' +
        ' --conf spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog' +
        ' --conf spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO',
    });
    expect(props(flex).DefaultArguments['--datalake-formats']).toBeUndefined();
    expect(props(flex).DefaultArguments['--conf']).toBeUndefined();
  });

  test('a metrics namespace is passed as --metrics_namespace, and the role may put metrics into it and Glue’s namespace only', () => {
    expect(props(iceberg).DefaultArguments['--metrics_namespace']).toBe('Undercurrent/test/Transform');
    expect(props(flex).DefaultArguments['--metrics_namespace']).toBeUndefined();
    expect(statements(iceberg).filter((s) => [s.Action].flat().some((a) => a.startsWith('cloudwatch:')))).toEqual([
      {
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': ['Glue', 'Undercurrent/test/Transform'] } },
      },
    ]);
  });

  test('Iceberg adds no IAM permission by itself: the caller grants the exact tables and prefixes', () => {
    expect(JSON.stringify(statements(iceberg))).not.toContain('glue:');
    expect(JSON.stringify(statements(iceberg))).not.toContain('gold-bucket');
  });

  test('FLEX on a worker type Glue does not run Flex on is refused', () => {
    const other = newStack('Other');
    const deps = jobDependencies(other);
    expect(() => new GlueSparkJob(other, 'Big', jobProps(deps, { sizing: { ...SIZING, workerType: 'G.4X', executionClass: 'FLEX' } }))).toThrow(
      'Glue job Other/Big runs FLEX on G.4X workers; Glue runs Flex jobs on G.1X or G.2X only: choose one of those or STANDARD.',
    );
    expect(
      () => new GlueSparkJob(other, 'BigStandard', jobProps(deps, { sizing: { ...SIZING, workerType: 'G.4X', executionClass: 'FLEX' }, executionClass: 'STANDARD' })),
    ).not.toThrow();
  });

  test.each(['AWS/Glue', 'bad namespace', ''])('metrics namespace %j is refused', (namespace) => {
    const other = newStack('Other');
    expect(() => new GlueSparkJob(other, 'Job', jobProps(jobDependencies(other), { metricsNamespace: namespace }))).toThrow(
      `Glue job Other/Job: metricsNamespace "${namespace}" is not a custom CloudWatch namespace; use letters, digits and . _ / # : - (at most 255), not starting with "AWS/".`,
    );
  });

  test('an argument the construct sets itself cannot be passed again', () => {
    const other = newStack('Other');
    expect(
      () => new GlueSparkJob(other, 'Job', jobProps(jobDependencies(other), { metricsNamespace: 'A/B', arguments: { metrics_namespace: 'C' } })),
    ).toThrow('Glue job argument "metrics_namespace" of Other/Job is set by the construct; pass it through its own property.');
  });
});

describe('GlueSparkJob retries', () => {
  let template: Template;

  beforeAll(() => {
    const stack = newStack('Retries');
    const deps = jobDependencies(stack);
    // The prod transform config: its workflow retries (2) belong to the workflow, not to Glue.
    new GlueSparkJob(stack, 'FromProdConfig', jobProps(deps, { sizing: ENVIRONMENTS.prod.transform }));
    const smuggled = { ...jobProps(deps), maxRetries: 3 };
    new GlueSparkJob(stack, 'WithSmuggledRetries', smuggled);
    template = Template.fromStack(stack);
  });

  test('a job sized by a config with workflow retries still runs with MaxRetries 0', () => {
    template.hasResourceProperties('AWS::Glue::Job', { WorkerType: 'G.2X', NumberOfWorkers: 10, Timeout: 120, MaxRetries: 0 });
  });

  test('a caller cannot set Glue retries: the props have no such field, and a value passed anyway is ignored', () => {
    expect(() =>
      // @ts-expect-error GlueSparkJobProps has no retries field: the construct fixes MaxRetries at 0.
      jobProps(jobDependencies(newStack('Typed')), { maxRetries: 3 }),
    ).not.toThrow();
    template.resourceCountIs('AWS::Glue::Job', 2);
    template.allResourcesProperties('AWS::Glue::Job', { MaxRetries: 0 });
  });
});
