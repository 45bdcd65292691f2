import { Match, Template } from 'aws-cdk-lib/assertions';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  actionsOf,
  asList,
  asRendered,
  expectGlueOnlyRole,
  JsonObject,
  logicalId,
  ref,
  resourcesOf,
  rolePolicyStatements,
  StatementJson,
  statementsWithAction,
} from './template-helpers';

const ROLE_PATH = 'Transform/ClickstreamToCurated/Role';

describe.each([
  { envName: 'dev' as const, workerType: 'G.1X', workers: 2, timeout: 30, executionClass: 'FLEX' },
  { envName: 'prod' as const, workerType: 'G.2X', workers: 10, timeout: 120, executionClass: 'STANDARD' },
])('TransformStack in $envName: the clickstream job', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;
  let job: JsonObject;
  let jobId: string;
  let policy: StatementJson[];
  /** The ARN of one exact key (or, with a trailing `*`, of a key pattern) of a lake bucket, as this stack imports it. */
  let object: (bucket: 'raw' | 'curated' | 'quarantine' | 'gold' | 'queryResults', key: string) => unknown;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('transform');
    const jobs = resourcesOf(template, 'AWS::Glue::Job');
    expect(Object.keys(jobs)).toHaveLength(3);
    jobId = logicalId(platform.transform.clickstreamJob.job);
    job = jobs[jobId].Properties!;
    policy = rolePolicyStatements(template, ROLE_PATH);
    object = (bucket, key) => ref(platform.transform, platform.storage.buckets[bucket].arnForObjects(key));
  });

  describe('Glue job', () => {
    test('the job runs PySpark on Glue 5.0', () => {
      expect(job.GlueVersion).toBe('5.0');
      expect(job.Command).toEqual(expect.objectContaining({ Name: 'glueetl', PythonVersion: '3' }));
    });

    test(`the job uses ${expected.workers} ${expected.workerType} workers, a ${expected.timeout}-minute timeout and the ${expected.executionClass} execution class as configured`, () => {
      const { transform } = platform.config;
      expect(job).toEqual(
        expect.objectContaining({
          WorkerType: transform.workerType,
          NumberOfWorkers: transform.maxWorkers,
          Timeout: transform.timeoutMinutes,
          ExecutionClass: transform.executionClass,
        }),
      );
      expect(job).toEqual(
        expect.objectContaining({
          WorkerType: expected.workerType,
          NumberOfWorkers: expected.workers,
          Timeout: expected.timeout,
          ExecutionClass: expected.executionClass,
        }),
      );
    });

    test('no transform job is retried by Glue (MaxRetries 0): the workflow retries the run it follows', () => {
      template.resourceCountIs('AWS::Glue::Job', 3);
      template.allResourcesProperties('AWS::Glue::Job', { MaxRetries: 0 });
    });

    test('only one run of the job at a time can write the curated zone', () => {
      expect(job.ExecutionProperty).toEqual({ MaxConcurrentRuns: 1 });
    });

    test('the job runs with the stack security configuration', () => {
      template.resourceCountIs('AWS::Glue::SecurityConfiguration', 1);
      const [configId] = Object.keys(resourcesOf(template, 'AWS::Glue::SecurityConfiguration'));
      expect(job.SecurityConfiguration).toEqual({ Ref: configId });
    });

    test('the security configuration encrypts S3 output and bookmarks with the lake key and logs with the ops key', () => {
      const lake = ref(platform.transform, platform.foundation.keys.lake.keyArn);
      const ops = ref(platform.transform, platform.foundation.keys.ops.keyArn);
      template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
        EncryptionConfiguration: {
          S3Encryptions: [{ S3EncryptionMode: 'SSE-KMS', KmsKeyArn: lake }],
          JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: lake },
          CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS', KmsKeyArn: ops },
        },
      });
    });

    test('raw_path is the clickstream/ prefix of the raw bucket', () => {
      expect(job.DefaultArguments['--raw_path']).toEqual(
        ref(platform.transform, platform.storage.buckets.raw.s3UrlForObject('clickstream/')),
      );
      expect(job.DefaultArguments['--raw_path']).toEqual({
        'Fn::Join': ['', ['s3://', { 'Fn::ImportValue': expect.stringMatching(/-Storage:ExportsOutputRefRawZone/) }, '/clickstream/']],
      });
    });

    test('curated_path and quarantine_path are the clickstream_events/ prefixes of the curated and quarantine buckets', () => {
      expect(job.DefaultArguments['--curated_path']).toEqual(
        ref(platform.transform, platform.storage.buckets.curated.s3UrlForObject('clickstream_events/')),
      );
      expect(job.DefaultArguments['--quarantine_path']).toEqual(
        ref(platform.transform, platform.storage.buckets.quarantine.s3UrlForObject('clickstream_events/')),
      );
      expect(JSON.stringify(job.DefaultArguments['--curated_path'])).toMatch(/ExportsOutputRefCuratedZone.*"\/clickstream_events\/"/);
      expect(JSON.stringify(job.DefaultArguments['--quarantine_path'])).toMatch(/ExportsOutputRefQuarantineZone.*"\/clickstream_events\/"/);
    });

    test('job bookmarks are off: the job selects its input by ingest date and overwrites those partitions', () => {
      expect(job.DefaultArguments['--job-bookmark-option']).toBe('job-bookmark-disable');
    });

    test('the job logs continuously into its own KMS-encrypted log groups with the configured retention, named as Glue names them under the stack\'s security configuration', () => {
      const prefix = `/aws-glue/Undercurrent-${envName}-Transform/ClickstreamToCurated`;
      expect(job.DefaultArguments).toEqual(
        expect.objectContaining({
          '--custom-logGroup-prefix': prefix,
          '--enable-continuous-cloudwatch-log': 'true',
        }),
      );
      const config = resourcesOf(template, 'AWS::Glue::SecurityConfiguration')[job.SecurityConfiguration.Ref];
      expect(config.Properties?.Name).toBe(`Undercurrent-${envName}-Transform-glue`);
      expect(config.Properties?.EncryptionConfiguration.CloudWatchEncryption.CloudWatchEncryptionMode).toBe('SSE-KMS');
      const roleId = logicalId(platform.transform.clickstreamJob.role);
      expect(job.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      for (const kind of ['error', 'output']) {
        template.hasResourceProperties('AWS::Logs::LogGroup', {
          // <--custom-logGroup-prefix>/<security configuration name>-role/<job role name>/<kind>
          LogGroupName: { 'Fn::Join': ['', [`${prefix}/${config.Properties?.Name}-role/`, { Ref: roleId }, `/${kind}`]] },
          KmsKeyId: ref(platform.transform, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        });
      }
      // Two per job: ClickstreamToCurated, SourceToCurated, CuratedToGold.
      template.resourceCountIs('AWS::Logs::LogGroup', 6);
    });
  });

  describe('job role', () => {
    test('only Glue can assume the role, and it has no inline or AWS-managed policy', () => {
      const roleId = logicalId(platform.transform.clickstreamJob.role);
      expect(job.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      expectGlueOnlyRole(template, roleId);
    });

    test('the role reads lake data only under clickstream/ of raw and its own outputs (plus each prefix key and its _$folder$ marker that Glue\'s s3:// probes, and its own script and package)', () => {
      const reads = statementsWithAction(policy, 's3:GetObject');
      expect(reads).toHaveLength(1);
      expect(reads[0].Action).toBe('s3:GetObject');
      const resources = asList(reads[0].Resource);
      const lake = resources.filter((r) => JSON.stringify(r).includes('Fn::ImportValue'));
      const assets = resources.filter((r) => !JSON.stringify(r).includes('Fn::ImportValue'));
      // Its outputs too: dynamic partition overwrite lists, reads and copies what it staged.
      expect(lake).toEqual([
        object('curated', 'clickstream_events'),
        object('curated', 'clickstream_events/*'),
        object('curated', 'clickstream_events_$folder$'),
        object('quarantine', 'clickstream_events'),
        object('quarantine', 'clickstream_events/*'),
        object('quarantine', 'clickstream_events_$folder$'),
        object('raw', 'clickstream'),
        object('raw', 'clickstream/*'),
        object('raw', 'clickstream_$folder$'),
      ]);
      expect(assets).toHaveLength(2);
      for (const asset of assets) {
        // One exact object of the CDK asset bucket each: the script (.py) and the package (.zip).
        expect(JSON.stringify(asset)).toMatch(/cdk-hnb659fds-assets-.*\/[0-9a-f]{64}\.(py|zip)"/);
      }
    });

    test('the role writes and deletes only under clickstream_events/ of the curated and quarantine buckets (plus writing each prefix\'s _$folder$ marker)', () => {
      const writes = statementsWithAction(policy, 's3:PutObject');
      expect(writes).toHaveLength(2);
      expect(actionsOf(writes[0])).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject']);
      expect(asList(writes[0].Resource)).toEqual([object('curated', 'clickstream_events/*'), object('quarantine', 'clickstream_events/*')]);
      // The markers only: exact keys, put only (no multipart upload, no delete).
      expect(writes[1]).toEqual({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: [object('curated', 'clickstream_events_$folder$'), object('quarantine', 'clickstream_events_$folder$')],
      });
      expect(statementsWithAction(policy, 's3:DeleteObject')).toEqual([writes[0]]);
      expect(statementsWithAction(policy, 's3:AbortMultipartUpload')).toEqual([writes[0]]);
    });

    test('the role lists buckets only under the prefixes it reads or writes', () => {
      const lists = statementsWithAction(policy, 's3:ListBucket');
      const bucket = (b: 'raw' | 'curated' | 'quarantine'): unknown => ref(platform.transform, platform.storage.buckets[b].bucketArn);
      expect(lists).toEqual(
        expect.arrayContaining([
          {
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: bucket('raw'),
            Condition: { StringLike: { 's3:prefix': ['clickstream/*'] } },
          },
          {
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: [bucket('curated'), bucket('quarantine')],
            Condition: { StringLike: { 's3:prefix': ['clickstream_events/*'] } },
          },
        ]),
      );
      expect(lists).toHaveLength(2);
    });

    test('the role has no access to the gold zone or the query results', () => {
      const text = JSON.stringify(policy);
      expect(text).not.toContain('GoldZone');
      expect(text).not.toContain('QueryResults');
    });

    test('the role uses only the lake key and the ops key', () => {
      const keys = policy.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:'))).flatMap((s) => asList(s.Resource));
      const allowed = [
        JSON.stringify(ref(platform.transform, platform.foundation.keys.lake.keyArn)),
        JSON.stringify(ref(platform.transform, platform.foundation.keys.ops.keyArn)),
      ];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(allowed).toContain(JSON.stringify(key));
      }
    });

    test('the role creates, keys and writes logs only to the job’s two log groups', () => {
      const logs = policy.filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      const groupIds = platform.transform.clickstreamJob.logGroups.map((g) => logicalId(g));
      const bare = (id: string) =>
        asRendered(envName, {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: id }]],
        });
      const named = [...groupIds.map(bare), ...groupIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))];
      expect(logs).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:AssociateKmsKey', 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: expect.arrayContaining(named),
        },
      ]);
      expect(asList(logs[0].Resource)).toHaveLength(named.length);
    });

    test('no statement of the role\'s main policy is on "*"', () => {
      expect(policy.filter((s) => asList(s.Resource).includes('*'))).toEqual([]);
    });

    test('the only "*" resource is cloudwatch:PutMetricData in the role\'s unscoped policy, held to the Glue namespace and the stage\'s own', () => {
      const unscoped = resourcesOf(template, 'AWS::IAM::ManagedPolicy')[logicalId(platform.transform.clickstreamJob.role.node.findChild('UnscopedPolicy'))];
      expect(unscoped.Properties?.Roles).toEqual([{ Ref: logicalId(platform.transform.clickstreamJob.role) }]);
      expect(unscoped.Properties?.PolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'cloudwatch:PutMetricData',
          Resource: '*',
          Condition: { StringEquals: { 'cloudwatch:namespace': ['Glue', `Undercurrent/${envName}/Transform`] } },
        },
      ]);
    });
  });

  describe('failure alert', () => {
    test('a FAILED, TIMEOUT or STOPPED run of the job notifies the alerts topic', () => {
      // One rule per job of the stage.
      template.resourceCountIs('AWS::Events::Rule', 3);
      template.hasResourceProperties('AWS::Events::Rule', {
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.glue'],
          'detail-type': ['Glue Job State Change'],
          detail: { jobName: [{ Ref: jobId }], state: ['FAILED', 'TIMEOUT', 'STOPPED'] },
        },
        Targets: [
          Match.objectLike({
            Arn: ref(platform.transform, platform.foundation.alertsTopic.topicArn),
            InputTransformer: Match.objectLike({
              InputTemplate: Match.stringLikeRegexp(`Undercurrent-${envName}-Transform-Critical-ClickstreamToCuratedRunFailed`),
            }),
          }),
        ],
      });
    });

    test('EventBridge publishes the alert with a role of this account that may publish only to the alerts topic', () => {
      const [rule] = Object.values(resourcesOf(template, 'AWS::Events::Rule'));
      const roleArn = rule.Properties!.Targets[0].RoleArn;
      expect(roleArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
      const role = resourcesOf(template, 'AWS::IAM::Role')[roleArn['Fn::GetAtt'][0]];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': asRendered(envName, { Ref: 'AWS::AccountId' }) } },
        },
      ]);
      const policies = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy')).filter((p) =>
        asList<JsonObject>(p.Properties?.Roles).some((r) => r.Ref === roleArn['Fn::GetAtt'][0]),
      );
      expect(policies).toHaveLength(1);
      expect(policies[0].Properties!.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'sns:Publish', Resource: ref(platform.transform, platform.foundation.alertsTopic.topicArn) },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: ref(platform.transform, platform.foundation.keys.ops.keyArn),
        },
      ]);
    });
  });
});
