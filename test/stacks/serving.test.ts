import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { definitionProblems } from '../../lib/serving/dashboard-definition';
import { ENVIRONMENTS } from '../../lib/config';
import { readServingSql, savedQueries, SERVING_SQL_DIR, servingViews } from '../../lib/serving/semantic-layer';
import { readSettings } from '../../lib/serving/live-metrics/settings';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  actionsOf,
  asList,
  asRendered,
  JsonObject,
  logicalId,
  ref,
  resourcesOf,
  roleUnscopedPolicyStatements,
  rolePolicyStatements,
  StatementJson,
  statementsWithAction,
  stringLeaves,
} from './template-helpers';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

/**
 * A value of the Serving template as CloudFormation evaluates it: `Fn::Join`, `Fn::Base64` (to its
 * base64) and `Fn::ImportValue` of the Storage stack's exports (to the literal the Storage template
 * gives the exported `Ref`, e.g. the gold database's name).
 */
function evaluate(value: unknown, platform: SynthesizedPlatform): string {
  if (typeof value === 'string') {
    return value;
  }
  const object = value as JsonObject;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => evaluate(part, platform)).join(separator);
  }
  if ('Fn::Base64' in object) {
    return Buffer.from(evaluate(object['Fn::Base64'], platform), 'utf8').toString('base64');
  }
  if ('Fn::ImportValue' in object) {
    const storage = platform.template('storage').toJSON();
    const output = Object.values(storage.Outputs as Record<string, JsonObject>).find(
      (o) => (o.Export as JsonObject | undefined)?.Name === object['Fn::ImportValue'],
    );
    const id = ((output?.Value ?? {}) as JsonObject).Ref as string;
    const name = storage.Resources[id]?.Properties?.DatabaseInput?.Name;
    if (typeof name !== 'string') {
      throw new Error(`cannot evaluate ${JSON.stringify(value)}: not the Ref of a Storage database`);
    }
    return name;
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

describe.each([
  // Without the second key (-c removeDataOnDestroy=true) dev keeps them, as prod does (see the end of this file).
  {
    envName: 'dev' as const,
    cutoff: 1_000_000_000,
    recursiveDelete: false,
    batchWindowSeconds: 30,
    logRetentionDays: 14,
    maxErrorRatePercent: 5,
    siteDown: { floor: undefined, anomalyStdDevs: undefined },
  },
  {
    envName: 'prod' as const,
    cutoff: 100_000_000_000,
    recursiveDelete: false,
    batchWindowSeconds: 5,
    logRetentionDays: 365,
    maxErrorRatePercent: 2,
    siteDown: { floor: 1, anomalyStdDevs: 3 },
  },
])('ServingStack in $envName', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('serving');
  });

  test('there is one Athena workgroup, named for the environment and enabled', () => {
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: `undercurrent-${envName}-analysts`,
      State: 'ENABLED',
    });
  });

  test('clients cannot override the workgroup settings', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ EnforceWorkGroupConfiguration: true }),
    });
  });

  test('query results are encrypted with SSE-KMS under their own key, not the lake key', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        ResultConfiguration: Match.objectLike({
          EncryptionConfiguration: {
            EncryptionOption: 'SSE_KMS',
            KmsKey: ref(platform.serving, platform.foundation.keys.queryResults.keyArn),
          },
        }),
      }),
    });
  });

  test('query results go to the athena/ prefix of the query-results bucket, owned by this account', () => {
    const outputLocation = ref(platform.serving, platform.storage.buckets.queryResults.s3UrlForObject('athena/'));
    expect(JSON.stringify(outputLocation)).toMatch(/-Storage:ExportsOutputRefQueryResults.*"\/athena\/"/);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        ResultConfiguration: Match.objectLike({
          OutputLocation: outputLocation,
          ExpectedBucketOwner: asRendered(envName, { Ref: 'AWS::AccountId' }),
        }),
      }),
    });
  });

  test(`a query may scan at most ${expected.cutoff} bytes, as configured`, () => {
    expect(platform.config.serving.athenaBytesScannedCutoffPerQuery).toBe(expected.cutoff);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: expected.cutoff }),
    });
  });

  test('the workgroup publishes CloudWatch metrics', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ PublishCloudWatchMetricsEnabled: true }),
    });
  });

  test(`deleting the stack ${expected.recursiveDelete ? 'may' : 'may not'} delete the workgroup’s saved queries`, () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: expected.recursiveDelete });
  });

  describe('the semantic layer: the views and saved queries of lib/serving/sql', () => {
    const views = servingViews();
    const queries = savedQueries();
    const viewTables = () => Object.values(resourcesOf(template, 'AWS::Glue::Table')).map((r) => r.Properties as JsonObject);
    const viewOf = (name: string) => {
      const found = viewTables().filter((p) => (p.TableInput as JsonObject).Name === name);
      expect(found).toHaveLength(1);
      return found[0];
    };

    test('every SQL file is deployed: one view per file of views/, one saved query per file of queries/', () => {
      const files = (dir: string) => readdirSync(path.join(SERVING_SQL_DIR, dir)).filter((f) => f.endsWith('.sql')).map((f) => path.basename(f, '.sql')).sort();
      expect(views.map((v) => v.name)).toEqual(files('views'));
      expect(queries.map((q) => q.name)).toEqual(files('queries'));
      expect(views.length).toBeGreaterThanOrEqual(5);
      expect(viewTables().map((p) => (p.TableInput as JsonObject).Name).sort()).toEqual(files('views'));
      expect(Object.values(resourcesOf(template, 'AWS::Athena::NamedQuery')).map((r) => r.Properties?.Name).sort()).toEqual(files('queries'));
    });

    test.each(servingViews().map((v) => [v.name]))('%s is an Athena view of the gold database with its declared columns', (name) => {
      const view = views.find((v) => v.name === name)!;
      const properties = viewOf(name);
      expect(properties.DatabaseName).toEqual(ref(platform.serving, platform.storage.databases.gold.databaseName));
      expect(properties.CatalogId).toEqual(asRendered(envName, { Ref: 'AWS::AccountId' }));
      const input = properties.TableInput as JsonObject;
      expect(input).toMatchObject({ TableType: 'VIRTUAL_VIEW', Parameters: { presto_view: 'true' }, ViewExpandedText: '/* Presto View */' });
      expect((input.StorageDescriptor as JsonObject).Columns).toEqual(
        view.declaration.columns.map((c) => ({ Name: c.name, Type: c.type, Comment: c.comment })),
      );
    });

    test.each(servingViews().map((v) => [v.name]))(
      '%s: the SQL Athena will run is the file the local tests run, resolved in this environment\'s gold database',
      (name) => {
        const text = evaluate((viewOf(name).TableInput as JsonObject).ViewOriginalText, platform);
        const match = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(text);
        expect(match).not.toBeNull();
        const presto = JSON.parse(Buffer.from(match![1], 'base64').toString('utf8'));
        // Read here from the file as test_pipeline_local.py reads it, not through the deployed code.
        expect(presto.originalSql).toBe(readServingSql(path.join(SERVING_SQL_DIR, 'views', `${name}.sql`)).sql);
        expect(presto.originalSql).toMatch(/^(WITH|SELECT)\b/);
        expect(presto.catalog).toBe('awsdatacatalog');
        expect(presto.schema).toBe(`undercurrent_${envName}_gold`);
        const types: Record<string, string> = { string: 'varchar', int: 'integer', 'decimal(18,2)': 'decimal(18,2)', 'decimal(10,2)': 'decimal(10,2)' };
        expect(presto.columns).toEqual(
          views.find((v) => v.name === name)!.declaration.columns.map((c) => ({ name: c.name, type: types[c.type] ?? c.type })),
        );
      },
    );

    test('each saved query is its file\'s statement, in the workgroup, on the gold database', () => {
      for (const query of queries) {
        template.hasResourceProperties('AWS::Athena::NamedQuery', {
          Name: query.name,
          Description: query.description,
          QueryString: readServingSql(path.join(SERVING_SQL_DIR, 'queries', `${query.name}.sql`)).sql,
          WorkGroup: { Ref: logicalId(platform.serving.workgroup) },
          Database: ref(platform.serving, platform.storage.databases.gold.databaseName),
        });
      }
    });

    test('the analyst may select every view, all of its columns (none is personal), once the view exists', () => {
      const grants = Object.entries(resourcesOf(template, 'AWS::LakeFormation::PrincipalPermissions'));
      for (const view of views) {
        const viewId = logicalId(platform.serving.semanticLayer.views[view.name]);
        const analyst = JSON.stringify(ref(platform.serving, platform.serving.analystRole.roleArn));
        const onView = grants.filter(
          ([, g]) => JSON.stringify(g.Properties?.Resource).includes(`"Name":"${view.name}"`) && JSON.stringify(g.Properties?.Principal).includes(analyst),
        );
        expect(onView).toHaveLength(1);
        const [, grant] = onView[0];
        const { Principal, Permissions, Resource } = grant.Properties!;
        expect(JSON.parse(JSON.stringify({ Principal, Permissions, Resource }))).toEqual({
          Principal: { DataLakePrincipalIdentifier: ref(platform.serving, platform.serving.analystRole.roleArn) },
          Permissions: ['SELECT'],
          Resource: {
            Table: {
              CatalogId: asRendered(envName, { Ref: 'AWS::AccountId' }),
              DatabaseName: ref(platform.serving, platform.storage.databases.gold.databaseName),
              Name: view.name,
            },
          },
        });
        expect(asList(grant.DependsOn)).toContain(viewId);
      }
    });
  });

  test('the stack outputs what an analyst needs on day one: the role, the workgroup and the database', () => {
    const outputs = template.toJSON().Outputs as Record<string, JsonObject>;
    expect(outputs.AnalystRoleArn.Value).toEqual(ref(platform.serving, platform.serving.analystRole.roleArn));
    expect(outputs.WorkgroupName.Value).toEqual({ Ref: logicalId(platform.serving.workgroup) });
    expect(outputs.GoldDatabaseName.Value).toEqual(ref(platform.serving, platform.storage.databases.gold.databaseName));
  });

  describe('the analyst role', () => {
    /** Every statement of every policy attached to the analyst role, which the Serving stack owns. */
    const analystStatements = (): StatementJson[] => {
      const roleId = logicalId(platform.serving.analystRole);
      return Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy'))
        .filter((p) => JSON.stringify(p.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap((p) => asList<StatementJson>(p.Properties!.PolicyDocument.Statement));
    };

    test('is the Serving stack\'s own, and no other stack attaches anything to it', () => {
      expect(platform.serving.analystRole.stack).toBe(platform.serving);
      expect(logicalId(platform.serving.analystRole)).toMatch(/^AnalystRole/);
      for (const key of STACK_KEYS.filter((k) => k !== 'serving')) {
        expect([key, JSON.stringify(platform.template(key).toJSON()).includes('AnalystRole')]).toEqual([key, false]);
      }
      expect(analystStatements().length).toBeGreaterThan(0);
    });

    test('holds no key of the lake: it may use the query-results key only (Lake Formation reads gold for it)', () => {
      const kms = analystStatements().filter((st) => actionsOf(st).some((a) => a.startsWith('kms:')));
      expect(kms.map((st) => st.Resource)).toEqual([ref(platform.serving, platform.foundation.keys.queryResults.keyArn)]);
      const keys = JSON.stringify(analystStatements());
      for (const domain of ['lake', 'stream', 'source', 'ops'] as const) {
        expect([domain, keys.includes(logicalId(platform.foundation.keys[domain]))]).toEqual([domain, false]);
      }
    });

    test('may run queries and read saved queries in this workgroup only', () => {
      const statements = analystStatements();
      const athena = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('athena:')));
      expect(athena).toHaveLength(1);
      expect(actionsOf(athena[0])).toEqual([
        'athena:BatchGetNamedQuery',
        'athena:GetNamedQuery',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetWorkGroup',
        'athena:ListNamedQueries',
        'athena:StartQueryExecution',
        'athena:StopQueryExecution',
      ]);
      expect(JSON.stringify(athena[0].Resource)).toContain(`:workgroup/undercurrent-${envName}-analysts`);
    });

    test('reads the catalog of the gold database only, and may ask Lake Formation for data access', () => {
      const statements = analystStatements();
      const glue = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('glue:')));
      expect(glue).toHaveLength(1);
      expect(actionsOf(glue[0])).toEqual(['glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable', 'glue:GetTables']);
      const resources = JSON.stringify(glue[0].Resource);
      expect(resources).toContain(':catalog');
      expect(resources).toContain('GoldDatabase');
      expect(resources).not.toMatch(/RawDatabase|CuratedDatabase|QuarantineDatabase/);
      const lf = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('lakeformation:')));
      expect(lf).toEqual([{ Effect: 'Allow', Action: 'lakeformation:GetDataAccess', Resource: '*' }]);
    });

    test('may look up the location of the query-results bucket (Athena checks it before a query), on that bucket only', () => {
      const statements = analystStatements();
      const location = statementsWithAction(statements, 's3:GetBucketLocation');
      const bucketArn = ref(platform.serving, platform.storage.buckets.queryResults.bucketArn);
      expect(JSON.stringify(bucketArn)).toMatch(/-Storage:ExportsOutputFnGetAttQueryResults.*Arn/);
      expect(location).toEqual([{ Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: bucketArn }]);
      expect(location[0].Condition).toBeUndefined();
    });

    test('writes query results only under athena/ of the results bucket, and reads no data bucket directly', () => {
      const statements = analystStatements();
      const s3 = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('s3:')));
      const objects = JSON.stringify(s3.map((st) => st.Resource));
      expect(objects).toContain('/athena/*');
      expect(objects).not.toMatch(/RawZone|CuratedZone|GoldZone|QuarantineZone/);
    });
  });

  describe('the live metrics of the click stream', () => {
    /** Logical id of a live-metrics construct. */
    const id = (construct: 'function' | 'role' | 'mapping' | 'rejectedRecords' | 'failedBatches' | 'logGroup'): string =>
      logicalId(platform.serving.liveMetrics![construct]);
    const getAtt = (logical: string, attribute = 'Arn'): unknown => ({ 'Fn::GetAtt': [logical, attribute] });
    const streamArn = (): unknown => ref(platform.serving, platform.ingestion.stream.streamArn);
    const streamKeyArn = (): unknown => ref(platform.serving, platform.foundation.keys.stream.keyArn);
    const alertsTopic = (): unknown => ref(platform.serving, platform.foundation.alertsTopic.topicArn);
    const namespace = `Undercurrent/${envName}/Clickstream`;

    test('the mapping reads the Ingestion stack’s stream (its export) into the consumer, with partial-batch responses', () => {
      expect(JSON.stringify(streamArn())).toMatch(new RegExp(`"Fn::ImportValue":"Undercurrent-${envName}-Ingestion:ExportsOutputFnGetAttClickStream[0-9A-F]+Arn`));
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
      expect(Object.keys(mappings)).toEqual([id('mapping')]);
      expect(mappings[id('mapping')].Properties).toEqual({
        EventSourceArn: streamArn(),
        FunctionName: { Ref: id('function') },
        StartingPosition: 'LATEST',
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: expected.batchWindowSeconds,
        ParallelizationFactor: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 3,
        MaximumRecordAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: getAtt(id('failedBatches')) } },
        Tags: expect.any(Array),
      });
      // Lambda checks the role's permissions when it creates the mapping and the function.
      expect(mappings[id('mapping')].DependsOn).toEqual(expect.arrayContaining([id('role'), logicalId(platform.serving.liveMetrics!.role.node.findChild('Policy'))]));
    });

    test('the role may read exactly the stream, decrypt with exactly its key through Kinesis, send to exactly its two queues and write its log group', () => {
      expect(rolePolicyStatements(template, 'Serving/LiveMetrics/Role')).toEqual([
        {
          Effect: 'Allow',
          Action: ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'],
          Resource: streamArn(),
        },
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: streamKeyArn(),
          Condition: { StringEquals: { 'kms:ViaService': asRendered(envName, { 'Fn::Join': ['', ['kinesis.', { Ref: 'AWS::Region' }, '.amazonaws.com']] }) } },
        },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: [getAtt(id('failedBatches')), getAtt(id('rejectedRecords'))] },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: streamKeyArn(),
          Condition: { StringEquals: { 'kms:ViaService': asRendered(envName, { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] }) } },
        },
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: getAtt(id('logGroup')) },
      ]);
      // Only Lambda assumes it, it has no other policy, and nothing on "*".
      const role = resourcesOf(template, 'AWS::IAM::Role')[id('role')];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect([role.Properties?.Policies, role.Properties?.ManagedPolicyArns]).toEqual([undefined, undefined]);
      const attached = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy')).filter(
        (p) => JSON.stringify(p.Properties?.Roles) === JSON.stringify([{ Ref: id('role') }]),
      );
      expect(attached).toHaveLength(1);
    });

    test('no other stack’s template knows the consumer: no stream or key policy names it', () => {
      for (const key of STACK_KEYS.filter((k) => k !== 'serving')) {
        expect([key, JSON.stringify(platform.template(key).toJSON()).includes('LiveMetrics')]).toEqual([key, false]);
      }
      platform.template('ingestion').resourceCountIs('AWS::Kinesis::ResourcePolicy', 0);
    });

    test('the function runs the bundled handler with exactly the settings it reads', () => {
      const fn = resourcesOf(template, 'AWS::Lambda::Function')[id('function')].Properties!;
      expect(fn).toMatchObject({
        Handler: 'index.handler',
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        Timeout: 60,
        Role: getAtt(id('role')),
        LoggingConfig: { LogGroup: { Ref: id('logGroup') } },
        DeadLetterConfig: { TargetArn: getAtt(id('failedBatches')) },
      });
      expect(fn.ReservedConcurrentExecutions).toBeUndefined();
      expect(fn.VpcConfig).toBeUndefined();
      const variables = fn.Environment.Variables;
      expect(variables).toEqual({
        METRICS_NAMESPACE: namespace,
        REJECTED_QUEUE_URL: { Ref: id('rejectedRecords') },
        LATE_AFTER_MINUTES: '10',
      });
      // The seam: what the template sets is what the handler reads (the queue URL as CloudFormation resolves it).
      const queueUrl = `https://sqs.${EXAMPLE_REGION}.amazonaws.com/${EXAMPLE_ACCOUNT}/undercurrent-${envName}-clicks-rejected`;
      expect(readSettings({ ...variables, REJECTED_QUEUE_URL: queueUrl })).toEqual({ namespace, rejectedQueueUrl: queueUrl, lateAfterMinutes: 10 });
    });

    test('the log group is encrypted with the ops key and kept as the environment says', () => {
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        KmsKeyId: ref(platform.serving, platform.foundation.keys.ops.keyArn),
        RetentionInDays: expected.logRetentionDays,
      });
      expect(resourcesOf(template, 'AWS::Logs::LogGroup')[id('logGroup')].Properties?.RetentionInDays).toBe(expected.logRetentionDays);
    });

    test.each([
      ['rejectedRecords', 'rejected'],
      ['failedBatches', 'failed-batches'],
    ] as const)('the %s queue holds click data: encrypted with the stream key, TLS only, 14 days, retained', (queue, suffix) => {
      const resource = resourcesOf(template, 'AWS::SQS::Queue')[id(queue)];
      expect(resource.Properties).toEqual({
        QueueName: `undercurrent-${envName}-clicks-${suffix}`,
        KmsMasterKeyId: streamKeyArn(),
        MessageRetentionPeriod: 1_209_600,
        Tags: expect.any(Array),
      });
      expect([resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id(queue) }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sqs:*',
              Resource: getAtt(id(queue)),
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
          Version: '2012-10-17',
        },
      });
    });

    test('its alarms are exactly these, each notifying the alerts topic on ALARM and OK', () => {
      // The stage's own alarms; QuickSight's refresh alarms (where it is on) are its construct's, and no others.
      const own = platform.serving.alarms.node.findAll().filter((c) => c instanceof CfnAlarm);
      const quickSight = platform.serving.quickSight?.alarms.node.findAll().filter((c) => c instanceof CfnAlarm) ?? [];
      const all = resourcesOf(template, 'AWS::CloudWatch::Alarm');
      expect(Object.keys(all).sort()).toEqual([...own, ...quickSight].map(logicalId).sort());
      const alarms = own.map((alarm) => all[logicalId(alarm)]);
      const names = alarms.map((a) => a.Properties?.AlarmName).sort();
      const prefix = `Undercurrent-${envName}-Serving`;
      expect(names).toEqual(
        [
          ...(expected.siteDown.floor === undefined ? [] : [`${prefix}-Critical-ClickstreamBelowFloor`]),
          ...(expected.siteDown.anomalyStdDevs === undefined ? [] : [`${prefix}-Critical-ClickstreamTrafficAnomaly`]),
          `${prefix}-Critical-ClickstreamErrorRate`,
          `${prefix}-Critical-LiveMetricsErrors`,
          `${prefix}-Critical-LiveMetricsFailedBatches`,
          `${prefix}-Critical-LiveMetricsIteratorAge`,
          `${prefix}-Warning-ClickstreamRejectedRecords`,
        ].sort(),
      );
      for (const alarm of alarms) {
        expect([alarm.Properties?.AlarmName, alarm.Properties?.AlarmActions, alarm.Properties?.OKActions]).toEqual([
          alarm.Properties?.AlarmName,
          [alertsTopic()],
          [alertsTopic()],
        ]);
      }
      expect(JSON.stringify(alertsTopic())).toContain(`Undercurrent-${envName}-Foundation:ExportsOutputRefAlerts`);
    });

    test('the error rate is rejected over all records of 5 minutes, from 20 records on, against the configured percentage', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Serving-Critical-ClickstreamErrorRate`,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: expected.maxErrorRatePercent,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        Metrics: [
          { Id: 'expr_1', Expression: 'IF(records >= 20, 100 * rejected / records, 0)', Label: 'Rejected records (%)', ReturnData: true },
          { Id: 'records', MetricStat: { Metric: { Namespace: namespace, MetricName: 'Records' }, Period: 300, Stat: 'Sum' }, ReturnData: false },
          { Id: 'rejected', MetricStat: { Metric: { Namespace: namespace, MetricName: 'Rejected' }, Period: 300, Stat: 'Sum' }, ReturnData: false },
        ],
      });
    });

    test('the consumer alarms on its errors, on falling 5 minutes behind, and on a batch it had to skip', () => {
      const fn = { Name: 'FunctionName', Value: { Ref: id('function') } };
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Serving-Critical-LiveMetricsErrors`,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [fn],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Serving-Critical-LiveMetricsIteratorAge`,
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [fn],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 300_000,
        EvaluationPeriods: 2,
      });
      for (const [name, queue] of [
        ['Critical-LiveMetricsFailedBatches', 'failedBatches'],
        ['Warning-ClickstreamRejectedRecords', 'rejectedRecords'],
      ] as const) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `Undercurrent-${envName}-Serving-${name}`,
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: getAtt(id(queue), 'QueueName') }],
          Statistic: 'Maximum',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
      }
    });

    if (expected.siteDown.floor !== undefined) {
      test('the site is down below the floor of events a minute for 5 minutes, no events at all included', () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `Undercurrent-${envName}-Serving-Critical-ClickstreamBelowFloor`,
          Namespace: namespace,
          MetricName: 'Events',
          Dimensions: Match.absent(),
          Statistic: 'Sum',
          Period: 60,
          Threshold: expected.siteDown.floor,
          ComparisonOperator: 'LessThanThreshold',
          EvaluationPeriods: 5,
          TreatMissingData: 'breaching',
        });
      });

      test('the site is down under the anomaly band of events per 5 minutes for 15 minutes, no events at all included', () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `Undercurrent-${envName}-Serving-Critical-ClickstreamTrafficAnomaly`,
          ComparisonOperator: 'LessThanLowerThreshold',
          ThresholdMetricId: 'expr_1',
          EvaluationPeriods: 3,
          TreatMissingData: 'breaching',
          Metrics: [
            Match.objectLike({ Id: 'expr_1', Expression: `ANOMALY_DETECTION_BAND(m0, ${expected.siteDown.anomalyStdDevs})` }),
            Match.objectLike({ Id: 'm0', MetricStat: { Metric: { Namespace: namespace, MetricName: 'Events' }, Period: 300, Stat: 'Sum' } }),
          ],
        });
      });
    }
  });
});

describe('ServingStack in dev with -c removeDataOnDestroy=true (the second key)', () => {
  test('deleting the stack may delete the workgroup’s saved queries', () => {
    const template = synthPlatform('dev', { context: { removeDataOnDestroy: 'true' } }).template('serving');
    template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
  });
});

/** QuickSight's column type of each declared type (docs/serving.md#quicksight), written out. */
const QUICKSIGHT_TYPES: Record<string, { Type: string; SubType?: string }> = {
  string: { Type: 'STRING' },
  int: { Type: 'INTEGER' },
  bigint: { Type: 'INTEGER' },
  double: { Type: 'DECIMAL', SubType: 'FLOAT' },
  'decimal(10,2)': { Type: 'DECIMAL', SubType: 'FIXED' },
  'decimal(18,2)': { Type: 'DECIMAL', SubType: 'FIXED' },
  date: { Type: 'DATETIME' },
};

/** The dashboard's views, and each one's declared columns read from `lib/serving/sql/views/<name>.json`. */
const DASHBOARD_VIEWS = ['revenue_by_month_and_product_line', 'product_performance', 'customer_360', 'sales_rep_performance', 'daily_funnel'];
const declaredColumns = (view: string): { name: string; type: string }[] =>
  JSON.parse(readFileSync(path.join(SERVING_SQL_DIR, 'views', `${view}.json`), 'utf8')).columns;

/** A template value with its keys in CDK's camel case (`DataSetIdentifier` -> `dataSetIdentifier`), for the definition check. */
function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(camelKeys);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), camelKeys(v)]));
}

describe('QuickSight in prod (serving.quickSight on)', () => {
  let platform: SynthesizedPlatform;
  let template: Template;
  const AUTHORS = `arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:group/default/undercurrent-prod-authors`;
  const VIEWERS = `arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:group/default/undercurrent-prod-viewers`;
  const one = (type: string): JsonObject => {
    const found = Object.values(resourcesOf(template, type));
    expect(found).toHaveLength(1);
    return found[0].Properties!;
  };
  const dataSets = (): JsonObject[] => Object.values(resourcesOf(template, 'AWS::QuickSight::DataSet')).map((r) => r.Properties!);

  beforeAll(() => {
    platform = synthPlatform('prod');
    template = platform.template('serving');
  });

  test('the Athena data source runs in the analysts\' enforced workgroup as the project\'s own role, over SSL', () => {
    const source = one('AWS::QuickSight::DataSource');
    expect(source).toMatchObject({
      AwsAccountId: EXAMPLE_ACCOUNT,
      DataSourceId: 'undercurrent-prod-gold-athena',
      Type: 'ATHENA',
      SslProperties: { DisableSsl: false },
      DataSourceParameters: {
        AthenaParameters: {
          WorkGroup: { Ref: logicalId(platform.serving.workgroup) },
          RoleArn: { 'Fn::GetAtt': [logicalId(platform.serving.quickSight!.role), 'Arn'] },
        },
      },
    });
  });

  test('only QuickSight assumes the data source role; no inline or AWS-managed policy', () => {
    const role = resourcesOf(template, 'AWS::IAM::Role')[logicalId(platform.serving.quickSight!.role)];
    expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'quicksight.amazonaws.com' } },
    ]);
    expect(role.Properties?.Policies).toBeUndefined();
    expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  test('the role may query in the analysts\' workgroup only, read the Athena catalog, write and read results under athena/, and read the gold catalog', () => {
    const results = ref(platform.serving, platform.storage.buckets.queryResults.bucketArn);
    const under = (suffix: string) => ({ 'Fn::Join': ['', [results, suffix]] });
    const gold = ref(platform.serving, platform.storage.databases.gold.databaseName);
    expect(rolePolicyStatements(template, 'Serving/QuickSight/DataSourceRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:GetQueryResultsStream', 'athena:GetWorkGroup', 'athena:StartQueryExecution', 'athena:StopQueryExecution'],
        Resource: `arn:aws:athena:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:workgroup/undercurrent-prod-analysts`,
      },
      {
        Effect: 'Allow',
        Action: ['athena:GetDataCatalog', 'athena:GetDatabase', 'athena:GetTableMetadata', 'athena:ListDatabases', 'athena:ListTableMetadata'],
        Resource: `arn:aws:athena:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:datacatalog/AwsDataCatalog`,
      },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: [under('/athena'), under('/athena/*'), under('/athena_$folder$')] },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: results, Condition: { StringLike: { 's3:prefix': ['athena/*'] } } },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Resource: ref(platform.serving, platform.foundation.keys.queryResults.keyArn) },
      { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: under('/athena/*') },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: under('/athena_$folder$') },
      { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: results },
      {
        Effect: 'Allow',
        Action: ['glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable', 'glue:GetTables'],
        Resource: [
          `arn:aws:glue:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:catalog`,
          { 'Fn::Join': ['', [`arn:aws:glue:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:database/`, gold]] },
          { 'Fn::Join': ['', [`arn:aws:glue:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:table/`, gold, '/*']] },
        ],
      },
    ]);
    expect(roleUnscopedPolicyStatements(template, 'Serving/QuickSight/DataSourceRole')).toEqual([
      { Effect: 'Allow', Action: 'lakeformation:GetDataAccess', Resource: '*' },
    ]);
  });

  test('Lake Formation grants the role exactly what it grants the analysts: gold without the personal columns, and the views', () => {
    const grantsOf = (roleArn: string) =>
      platform.serving.lakeGrants.grants
        .filter((g) => (g.request.principal as iam.IRole).roleArn === roleArn)
        .map((g) => JSON.stringify(platform.serving.resolve(g.resource.resource)))
        .sort();
    const analyst = grantsOf(platform.serving.analystRole.roleArn);
    expect(grantsOf(platform.serving.quickSight!.role.roleArn)).toEqual(analyst);
    expect(analyst).toHaveLength(1 + 7 + 5);
  });

  test('the datasets are created after the role\'s last grant (their first import runs as the role)', () => {
    const grants = platform.serving.lakeGrants.grants;
    const last = logicalId(grants[grants.length - 1].resource);
    for (const dataSet of Object.values(resourcesOf(template, 'AWS::QuickSight::DataSet'))) {
      expect(asList(dataSet.DependsOn)).toEqual([last]);
    }
  });

  test('one SPICE dataset per dashboard view: the view of the gold database, with the view\'s declared columns typed for QuickSight', () => {
    expect(dataSets().map((d) => d.DataSetId)).toEqual(DASHBOARD_VIEWS.map((view) => `undercurrent-prod-${view}`));
    for (const [index, view] of DASHBOARD_VIEWS.entries()) {
      const dataSet = dataSets()[index];
      expect(dataSet.ImportMode).toBe('SPICE');
      expect(dataSet.IngestionWaitPolicy).toEqual({ WaitForSpiceIngestion: false });
      expect(Object.keys(dataSet.PhysicalTableMap)).toEqual(['view']);
      expect(dataSet.PhysicalTableMap.view).toEqual({
        RelationalTable: {
          DataSourceArn: { 'Fn::GetAtt': [logicalId(platform.serving.quickSight!.dataSource), 'Arn'] },
          Catalog: 'AwsDataCatalog',
          Schema: ref(platform.serving, platform.storage.databases.gold.databaseName),
          Name: view,
          InputColumns: declaredColumns(view).map((c) => ({ Name: c.name, ...QUICKSIGHT_TYPES[c.type] })),
        },
      });
    }
  });

  test('each dataset has a daily full refresh as fallback, at the configured time in UTC', () => {
    const schedules = Object.values(resourcesOf(template, 'AWS::QuickSight::RefreshSchedule')).map((r) => r.Properties!);
    expect(schedules).toEqual(
      DASHBOARD_VIEWS.map((view) => ({
        AwsAccountId: EXAMPLE_ACCOUNT,
        DataSetId: `undercurrent-prod-${view}`,
        Schedule: { ScheduleId: 'daily-fallback', RefreshType: 'FULL_REFRESH', ScheduleFrequency: { Interval: 'DAILY', TimeOfTheDay: '06:00', TimeZone: 'UTC' } },
      })),
    );
  });

  test('the analysis and the dashboard carry the same definition, validated strictly, naming only the views\' declared columns', () => {
    const analysis = one('AWS::QuickSight::Analysis');
    const dashboard = one('AWS::QuickSight::Dashboard');
    expect(analysis.Definition).toEqual(dashboard.Definition);
    expect([analysis.ValidationStrategy, dashboard.ValidationStrategy]).toEqual([{ Mode: 'STRICT' }, { Mode: 'STRICT' }]);
    const columns = Object.fromEntries(DASHBOARD_VIEWS.map((view) => [view, declaredColumns(view).map((c) => c.name)]));
    expect(definitionProblems(camelKeys(dashboard.Definition) as never, columns)).toEqual([]);
    // The check reads the template's fields: a wrong column in it would be named.
    const wrong = JSON.parse(JSON.stringify(dashboard.Definition).replace('"ColumnName":"lifetime_revenue"', '"ColumnName":"lifetime_value"'));
    expect(definitionProblems(camelKeys(wrong) as never, columns)).toEqual([expect.stringContaining('names column "lifetime_value" of dataset "customer_360"')]);
    expect(dashboard.Definition.DataSetIdentifierDeclarations).toEqual(
      DASHBOARD_VIEWS.map((view) => ({ Identifier: view, DataSetArn: { 'Fn::GetAtt': [logicalId(platform.serving.quickSight!.dataSets[view as never]), 'Arn'] } })),
    );
    expect(dashboard.Definition.Sheets.map((s: JsonObject) => s.Name)).toEqual(['Revenue trend', 'Product lines', 'Top customers', 'Sales reps', 'Web funnel']);
  });

  test('permissions: viewers only read the dashboard; authors read it, own the analysis, and use (not change) the datasets and the data source', () => {
    const viewer = ['quicksight:DescribeDashboard', 'quicksight:ListDashboardVersions', 'quicksight:QueryDashboard'];
    expect(one('AWS::QuickSight::Dashboard').Permissions).toEqual([
      { Principal: AUTHORS, Actions: viewer },
      { Principal: VIEWERS, Actions: viewer },
    ]);
    expect(one('AWS::QuickSight::Analysis').Permissions).toEqual([
      {
        Principal: AUTHORS,
        Actions: [
          'quicksight:DescribeAnalysis',
          'quicksight:QueryAnalysis',
          'quicksight:UpdateAnalysis',
          'quicksight:RestoreAnalysis',
          'quicksight:DeleteAnalysis',
          'quicksight:DescribeAnalysisPermissions',
          'quicksight:UpdateAnalysisPermissions',
        ],
      },
    ]);
    for (const dataSet of dataSets()) {
      expect(dataSet.Permissions).toEqual([
        {
          Principal: AUTHORS,
          Actions: ['quicksight:DescribeDataSet', 'quicksight:DescribeDataSetPermissions', 'quicksight:PassDataSet', 'quicksight:DescribeIngestion', 'quicksight:ListIngestions'],
        },
      ]);
    }
    expect(one('AWS::QuickSight::DataSource').Permissions).toEqual([
      { Principal: AUTHORS, Actions: ['quicksight:DescribeDataSource', 'quicksight:DescribeDataSourcePermissions', 'quicksight:PassDataSource'] },
    ]);
    // Nobody may change or share the dashboard, the datasets or the data source in QuickSight: only this code does.
    const granted = JSON.stringify(stringLeaves(template.toJSON().Resources).filter((l) => l.path.includes('.Permissions[')));
    expect(granted).toContain('"quicksight:QueryDashboard"');
    for (const action of ['UpdateDashboard', 'DeleteDashboard', 'UpdateDashboardPermissions', 'UpdateDataSet', 'DeleteDataSet', 'UpdateDataSetPermissions', 'UpdateDataSource', 'UpdateDataSourcePermissions']) {
      expect([action, granted.includes(`"quicksight:${action}"`)]).toEqual([action, false]);
    }
  });

  test('a failed refresh of any dataset, and a day without any refresh, warn the alerts topic', () => {
    const topic = ref(platform.serving, platform.foundation.alertsTopic.topicArn);
    for (const view of DASHBOARD_VIEWS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: Match.stringLikeRegexp('^Undercurrent-prod-Serving-Warning-RefreshFailed'),
        Namespace: 'AWS/QuickSight',
        MetricName: 'IngestionErrorCount',
        Dimensions: [{ Name: 'DatasetId', Value: `undercurrent-prod-${view}` }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic],
        OKActions: [topic],
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Undercurrent-prod-Serving-Warning-NoRefreshInADay',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [topic],
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(m0, 0) + FILL(m1, 0) + FILL(m2, 0) + FILL(m3, 0) + FILL(m4, 0)' }),
        Match.objectLike({ MetricStat: Match.objectLike({ Period: 86400, Metric: Match.objectLike({ MetricName: 'IngestionInvocationCount' }) }) }),
      ]),
    });
    const quickSightAlarms = platform.serving.quickSight!.alarms.node.findAll().filter((c) => c instanceof CfnAlarm);
    expect(quickSightAlarms).toHaveLength(6);
  });

  test('the stack outputs the dashboard\'s address', () => {
    expect(template.toJSON().Outputs.DashboardUrl.Value).toBe('https://us-east-1.quicksight.aws.amazon.com/sn/dashboards/undercurrent-prod-retail');
  });
});

describe('QuickSight in dev (serving.quickSight off)', () => {
  test('there is no QuickSight resource, role, alarm or dashboard output', () => {
    const platform = synthPlatform('dev');
    const template = platform.template('serving').toJSON();
    expect(platform.config.serving.quickSight.enabled).toBe(false);
    expect(platform.serving.quickSight).toBeUndefined();
    expect(Object.values(template.Resources as Record<string, JsonObject>).filter((r) => (r.Type as string).startsWith('AWS::QuickSight::'))).toEqual([]);
    expect(JSON.stringify(template)).not.toMatch(/QuickSight|quicksight/);
    expect(template.Outputs.DashboardUrl).toBeUndefined();
  });
});

describe('the live metrics off (serving.liveMetrics.enabled false)', () => {
  test('the Serving stack has no consumer, mapping, queue or alarm of them, and reads nothing of the stream', () => {
    const liveMetrics = { ...ENVIRONMENTS.dev.serving.liveMetrics, enabled: false };
    const platform = synthPlatform('dev', { patch: { serving: { ...ENVIRONMENTS.dev.serving, liveMetrics } } });
    const template = platform.template('serving').toJSON();
    expect(platform.serving.liveMetrics).toBeUndefined();
    const types = Object.values(template.Resources as Record<string, JsonObject>).map((r) => r.Type as string);
    expect(types.filter((t) => /Lambda|SQS|CloudWatch::Alarm/.test(t))).toEqual([]);
    expect(JSON.stringify(template)).not.toMatch(/kinesis:|ClickStream|LiveMetrics/);
  });
});
