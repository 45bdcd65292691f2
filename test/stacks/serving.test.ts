import { Match, Template } from 'aws-cdk-lib/assertions';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, asList, asRendered, logicalId, ref, resourcesOf, StatementJson, statementsWithAction } from './template-helpers';

describe.each([
  // Without the second key (-c removeDataOnDestroy=true) dev keeps them, as prod does (see the end of this file).
  { envName: 'dev' as const, cutoff: 1_000_000_000, recursiveDelete: false },
  { envName: 'prod' as const, cutoff: 100_000_000_000, recursiveDelete: false },
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

    test('may run queries in this workgroup only', () => {
      const statements = analystStatements();
      const athena = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('athena:')));
      expect(athena).toHaveLength(1);
      expect(actionsOf(athena[0])).toEqual([
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetWorkGroup',
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
});

describe('ServingStack in dev with -c removeDataOnDestroy=true (the second key)', () => {
  test('deleting the stack may delete the workgroup’s saved queries', () => {
    const template = synthPlatform('dev', { context: { removeDataOnDestroy: 'true' } }).template('serving');
    template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
  });
});
