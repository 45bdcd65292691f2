import { TwinAssembly, TwinResource } from '../../lib/twin/assembly';
import {
  AccessDeniedError,
  AccessRecord,
  PermissionEvaluator,
  PolicySource,
  assertAllowed,
  deniedAccesses,
  evaluateAccesses,
  formatDenial,
  parseAccessRecords,
  summarize,
} from '../../lib/twin/permissions';
import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { synthPlatform } from '../support/platform';

const ENV = { account: EXAMPLE_ACCOUNT, region: 'us-east-1', partition: 'aws' };

/** The one resource of `type` in `stack` whose logical id starts with `prefix`. */
function only(source: PolicySource, type: string, stack: string, prefix: string): TwinResource {
  const found = source.resources.filter((r) => r.type === type && r.stack === stack && r.logicalId.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0];
}

describe('permissions of the dev environment, evaluated from its synthesized templates', () => {
  let assembly: TwinAssembly;
  let sourceToCurated: string;
  let curatedToGold: string;
  let raw: string;
  let curated: string;
  let gold: string;

  beforeAll(() => {
    const platform = synthPlatform('dev');
    assembly = TwinAssembly.load(platform.app.outdir, ENV);
    // The principals are the roles the Glue jobs run as (the job's `Role`), as the twin records them.
    sourceToCurated = String(only(assembly, 'AWS::Glue::Job', 'Transform', 'SourceToCurated').properties.Role);
    curatedToGold = String(only(assembly, 'AWS::Glue::Job', 'Transform', 'CuratedToGold').properties.Role);
    raw = only(assembly, 'AWS::S3::Bucket', 'Storage', 'RawZone').ref;
    curated = only(assembly, 'AWS::S3::Bucket', 'Storage', 'CuratedZone').ref;
    gold = only(assembly, 'AWS::S3::Bucket', 'Storage', 'GoldZone').ref;
  });

  const roleName = (arn: string): string => arn.split('/').pop()!;
  /**
   * SourceToCurated's identity policies as a denial names them, in template order: its main
   * policy (`<role>/Policy`) and its unscoped policy (`<role>/UnscopedPolicy`, its statements on
   * "*"). Both are attached to the role, and the twin evaluates both.
   */
  const sourceToCuratedPolicies = (): string => {
    const main = only(assembly, 'AWS::IAM::ManagedPolicy', 'Transform', 'SourceToCuratedRolePolicy');
    const unscoped = only(assembly, 'AWS::IAM::ManagedPolicy', 'Transform', 'SourceToCuratedRoleUnscopedPolicy');
    const role = only(assembly, 'AWS::IAM::Role', 'Transform', 'SourceToCuratedRole');
    expect([main.properties.Roles, unscoped.properties.Roles]).toEqual([[role.ref], [role.ref]]);
    return `Transform/${main.logicalId}, Transform/${unscoped.logicalId}`;
  };

  async function decide(record: AccessRecord) {
    const [decision] = await evaluateAccesses(assembly, [record]);
    return decision;
  }

  test('the job roles are the roles the twin records: same account, role ARNs', () => {
    expect(sourceToCurated).toMatch(/^arn:aws:iam::123456789012:role\/undercurrent-dev-transform-sourcetocurated/);
    expect(curatedToGold).toMatch(/^arn:aws:iam::123456789012:role\/undercurrent-dev-transform-curatedtogold/);
  });

  test('SourceToCurated may read the raw customers extract, and its implied kms:Decrypt of the lake key is allowed', async () => {
    const decision = await decide({
      principal: sourceToCurated,
      op: 'open s3a://raw/source/customers/part-00000.parquet',
      action: 's3:GetObject',
      resource: `arn:aws:s3:::${raw}/source/customers/ingest_date=2024-01-01/part-00000.parquet`,
    });
    expect(decision.allowed).toBe(true);
    expect(decision.checks.map((c) => [c.request.action, c.outcome])).toEqual([
      ['s3:GetObject', 'Allowed'],
      ['kms:Decrypt', 'Allowed'],
    ]);
    const lakeKey = (only(assembly, 'AWS::S3::Bucket', 'Storage', 'RawZone').properties.BucketEncryption as {
      ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { KMSMasterKeyID: string } }[];
    }).ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID;
    const kms = decision.checks[1];
    expect(kms.request.resource).toBe(lakeKey);
    expect(kms.request.resource).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\//);
    expect(kms.request.context).toMatchObject({
      'kms:ViaService': 's3.us-east-1.amazonaws.com',
      // The lake buckets use an S3 Bucket Key: the encryption context is the bucket's ARN.
      'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${raw}`,
      'aws:SecureTransport': 'true',
      'aws:PrincipalAccount': '123456789012',
    });
    // Both halves decided it: the role's policy and the key policy's delegation to the account.
    expect(kms.reason).toContain('the key policy of Foundation/LakeKey');
    expect(kms.reason).toContain('Transform/SourceToCuratedRolePolicy');
  });

  test('SourceToCurated may write curated customers, with kms:GenerateDataKey and kms:Decrypt (multipart) on the lake key', async () => {
    const decision = await decide({
      principal: sourceToCurated,
      op: 'create s3a://curated/customers/part-00000.snappy.parquet',
      action: 's3:PutObject',
      resource: `arn:aws:s3:::${curated}/customers/part-00000.snappy.parquet`,
    });
    expect(decision.checks.map((c) => [c.request.action, c.outcome])).toEqual([
      ['s3:PutObject', 'Allowed'],
      ['kms:GenerateDataKey', 'Allowed'],
      ['kms:Decrypt', 'Allowed'],
    ]);
    const [single] = await evaluateAccesses(assembly, [decision.record], { multipartUploads: false });
    expect(single.checks.map((c) => c.request.action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
  });

  test('SourceToCurated may list the raw bucket under source/customers/ but not from its root', async () => {
    const listing = await decide({
      principal: sourceToCurated,
      op: 'listStatus s3a://raw/source/customers',
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${raw}`,
      prefix: 'source/customers/',
    });
    expect(listing.allowed).toBe(true);
    expect(listing.checks).toHaveLength(1);
    expect(listing.checks[0].request.context['s3:prefix']).toBe('source/customers/');
    const root = await decide({ principal: sourceToCurated, op: 'listStatus s3a://raw/', action: 's3:ListBucket', resource: `arn:aws:s3:::${raw}`, prefix: '' });
    expect(root.checks[0].outcome).toBe('ImplicitlyDenied');
  });

  test('SourceToCurated may not write into the raw bucket nor read the gold bucket', async () => {
    const write = await decide({ principal: sourceToCurated, op: 'create', action: 's3:PutObject', resource: `arn:aws:s3:::${raw}/source/customers/x.parquet` });
    expect(write.allowed).toBe(false);
    expect(write.checks[0].outcome).toBe('ImplicitlyDenied');
    const read = await decide({ principal: sourceToCurated, op: 'open', action: 's3:GetObject', resource: `arn:aws:s3:::${gold}/dim_customer/data/x.parquet` });
    expect(read.allowed).toBe(false);
    expect(read.checks[0].outcome).toBe('ImplicitlyDenied');
    expect(read.checks[0].reason).toBe(`no statement of the role's identity policies (${sourceToCuratedPolicies()}) allows it, nor does the bucket policy of ${gold}`);
  });

  test('CuratedToGold may update a gold table, not a curated one', async () => {
    const goldTable = await decide({
      principal: curatedToGold,
      op: 'commit glue_catalog.undercurrent_dev_gold.dim_customer',
      action: 'glue:UpdateTable',
      resource: 'arn:aws:glue:us-east-1:123456789012:table/undercurrent_dev_gold/dim_customer',
    });
    expect(goldTable.allowed).toBe(true);
    // Glue authorizes the table, its database and the catalog.
    expect(goldTable.checks.map((c) => c.request.resource)).toEqual([
      'arn:aws:glue:us-east-1:123456789012:table/undercurrent_dev_gold/dim_customer',
      'arn:aws:glue:us-east-1:123456789012:database/undercurrent_dev_gold',
      'arn:aws:glue:us-east-1:123456789012:catalog',
    ]);
    const curatedTable = await decide({
      principal: curatedToGold,
      op: 'commit glue_catalog.undercurrent_dev_curated.customers',
      action: 'glue:UpdateTable',
      resource: 'arn:aws:glue:us-east-1:123456789012:table/undercurrent_dev_curated/customers',
    });
    expect(curatedTable.allowed).toBe(false);
    expect(curatedTable.checks[0].outcome).toBe('ImplicitlyDenied');
  });

  test('a role whose statement was removed is denied, and the error names the role, the action and the ARN', async () => {
    const record: AccessRecord = {
      principal: sourceToCurated,
      run: 'jr_0001',
      op: 'listStatus s3a://raw/source/customers',
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${raw}`,
      prefix: 'source/customers/',
    };
    await expect(assertAllowed(assembly, [record])).resolves.toHaveLength(1);

    const policy = only(assembly, 'AWS::IAM::ManagedPolicy', 'Transform', 'SourceToCuratedRolePolicy');
    const document = policy.properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] };
    const kept = document.Statement.filter((s) => !(s.Action === 's3:ListBucket' && s.Resource === `arn:aws:s3:::${raw}`));
    expect(kept).toHaveLength(document.Statement.length - 1);
    const weakened: PolicySource = {
      env: assembly.env,
      resources: assembly.resources.map((r) => (r === policy ? { ...r, properties: { ...r.properties, PolicyDocument: { ...document, Statement: kept } } } : r)),
    };

    const error = await assertAllowed(weakened, [record, record]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as Error).message).toBe(
      '1 request of the jobs is not allowed by the templates\' policies:\n' +
        `  ${roleName(sourceToCurated)} may not s3:ListBucket on arn:aws:s3:::${raw} (listStatus s3a://raw/source/customers, and 1 more): ` +
        `no statement of the role's identity policies (${sourceToCuratedPolicies()}) allows it, nor does the bucket policy of ${raw}`,
    );
  });

  test('identical requests are evaluated once, and objects matching the same policy patterns once per class', async () => {
    const records: AccessRecord[] = [];
    for (let i = 0; i < 1000; i += 1) {
      records.push({ principal: sourceToCurated, op: 'open', action: 's3:GetObject', resource: `arn:aws:s3:::${raw}/source/customers/part-${i}.parquet` });
      records.push({ principal: sourceToCurated, op: 'create', action: 's3:PutObject', resource: `arn:aws:s3:::${curated}/customers/part-${i}.parquet` });
      records.push({ principal: sourceToCurated, op: 'listStatus', action: 's3:ListBucket', resource: `arn:aws:s3:::${raw}`, prefix: 'source/customers/' });
    }
    const evaluator = new PermissionEvaluator(assembly);
    const started = Date.now();
    const decisions = await evaluator.evaluate(records);
    console.log(`3000 records decided in ${Date.now() - started} ms`);
    expect(decisions.every((d) => d.allowed)).toBe(true);
    // GetObject, PutObject, ListBucket, kms:GenerateDataKey, kms:Decrypt: no policy tests the encryption
    // context, so the Decrypt of a raw and of a curated object are one class.
    expect(evaluator.evaluatedRequests).toBe(5);
    expect(summarize(decisions)).toEqual([
      { roleName: roleName(sourceToCurated), principal: sourceToCurated, allowed: 3000, denied: 0, notEvaluable: 0, deniedRequests: [] },
    ]);
  });

  test('grouping requests into classes decides each record as evaluating it alone would', async () => {
    const records: AccessRecord[] = [];
    for (const principal of [sourceToCurated, curatedToGold]) {
      for (const bucket of [raw, curated, gold]) {
        for (const key of ['source/customers/a', 'customers/a', 'Customers/a', 'customersX/a', 'dim_customer/a', 'clickstream/a', 'a']) {
          for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']) {
            records.push({ principal, op: 'op', action, resource: `arn:aws:s3:::${bucket}/${key}` });
          }
        }
      }
    }
    const grouped = await evaluateAccesses(assembly, records);
    const alone = await Promise.all(records.map(async (record) => (await evaluateAccesses(assembly, [record]))[0]));
    const outcomes = (decisions: typeof grouped) => decisions.map((d) => d.checks.map((c) => `${c.request.action} ${c.outcome} ${c.reason}`));
    expect(outcomes(grouped)).toEqual(outcomes(alone));
    // Case matters ('Customers/a' is not 'customers/a'), and so does the table prefix ('customersX/').
    const label = (d: (typeof grouped)[number]) => `${d.record.principal === sourceToCurated ? 'SourceToCurated' : 'CuratedToGold'} ${d.record.action} ${d.record.resource}`;
    expect(grouped.filter((d) => d.allowed).map(label)).toEqual([
      `SourceToCurated s3:GetObject arn:aws:s3:::${raw}/source/customers/a`,
      `SourceToCurated s3:GetObject arn:aws:s3:::${curated}/customers/a`,
      `SourceToCurated s3:PutObject arn:aws:s3:::${curated}/customers/a`,
      `SourceToCurated s3:DeleteObject arn:aws:s3:::${curated}/customers/a`,
      `CuratedToGold s3:GetObject arn:aws:s3:::${curated}/customers/a`,
      `CuratedToGold s3:GetObject arn:aws:s3:::${gold}/dim_customer/a`,
      `CuratedToGold s3:PutObject arn:aws:s3:::${gold}/dim_customer/a`,
      `CuratedToGold s3:DeleteObject arn:aws:s3:::${gold}/dim_customer/a`,
    ]);
  });

  test('summarize counts records per role and lists each denied request once', async () => {
    const records: AccessRecord[] = [
      { principal: curatedToGold, op: 'open', action: 's3:GetObject', resource: `arn:aws:s3:::${curated}/customers/a.parquet` },
      { principal: curatedToGold, op: 'create', action: 's3:PutObject', resource: `arn:aws:s3:::${curated}/customers/b.parquet` },
      { principal: curatedToGold, op: 'create', action: 's3:PutObject', resource: `arn:aws:s3:::${curated}/customers/b.parquet` },
      { principal: sourceToCurated, op: 'delete', action: 's3:DeleteObject', resource: `arn:aws:s3:::${curated}/customers/c.parquet` },
    ];
    const summary = summarize(await evaluateAccesses(assembly, records));
    expect(summary.map((s) => [s.roleName, s.allowed, s.denied, s.notEvaluable])).toEqual([
      [roleName(curatedToGold), 1, 2, 0],
      [roleName(sourceToCurated), 1, 0, 0],
    ]);
    expect(summary[0].deniedRequests.map((d) => [d.action, d.resource, d.records])).toEqual([
      ['s3:PutObject', `arn:aws:s3:::${curated}/customers/b.parquet`, 2],
    ]);
  });
});

describe('permissions of hand-made fixtures', () => {
  const role = 'arn:aws:iam::123456789012:role/job';
  const key = 'arn:aws:kms:us-east-1:123456789012:key/key-k';
  const resource = (type: string, logicalId: string, ref: string, properties: Record<string, unknown>): TwinResource => ({
    stack: 'Fixture',
    logicalId,
    type,
    ref,
    properties,
  });
  const allow = (Action: string | string[], Resource: string | string[], extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action, Resource, ...extra });
  const policy = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
  const delegatingKeyPolicy = policy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' });

  function fixture(options: { identity?: object[]; managedArns?: string[]; bucketPolicy?: object; keyPolicy?: object }): PolicySource {
    return {
      env: ENV,
      resources: [
        resource('AWS::IAM::Role', 'Job', 'job', { ManagedPolicyArns: options.managedArns }),
        resource('AWS::IAM::Policy', 'JobPolicy', 'job-policy', { Roles: ['job'], PolicyName: 'p', PolicyDocument: policy(...(options.identity ?? [])) }),
        resource('AWS::KMS::Key', 'Key', 'key-k', { KeyPolicy: options.keyPolicy ?? delegatingKeyPolicy }),
        resource('AWS::S3::Bucket', 'Bucket', 'b', {
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key } }] },
        }),
        ...(options.bucketPolicy ? [resource('AWS::S3::BucketPolicy', 'BucketPolicy', 'bp', { Bucket: 'b', PolicyDocument: options.bucketPolicy })] : []),
      ],
    };
  }
  const read: AccessRecord = { principal: role, op: 'open s3a://b/k', action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' };

  test('without an S3 Bucket Key the encryption context is the object ARN', async () => {
    const [decision] = await evaluateAccesses(fixture({ identity: [allow('s3:GetObject', 'arn:aws:s3:::b/*'), allow('kms:Decrypt', key)] }), [read]);
    expect(decision.allowed).toBe(true);
    expect(decision.checks[1].request.context['kms:EncryptionContext:aws:s3:arn']).toBe('arn:aws:s3:::b/k');
  });

  test('a missing kms:Decrypt denies the read and names the implying request', async () => {
    const decisions = await evaluateAccesses(fixture({ identity: [allow('s3:GetObject', 'arn:aws:s3:::b/*')] }), [read]);
    expect(deniedAccesses(decisions).map(formatDenial)).toEqual([
      `job may not kms:Decrypt on ${key} (open s3a://b/k): needed for s3:GetObject on arn:aws:s3:::b/k: ` +
        "no statement of the role's identity policies (Fixture/JobPolicy) allows it",
    ]);
  });

  test('a key policy that neither names the role nor delegates to the account denies, whatever the identity policy says', async () => {
    const keyPolicy = policy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/someone-else' }, Action: 'kms:*', Resource: '*' });
    const [decision] = await evaluateAccesses(fixture({ identity: [allow(['s3:GetObject', 'kms:Decrypt'], ['arn:aws:s3:::b/*', key])], keyPolicy }), [read]);
    expect(decision.checks[1].outcome).toBe('ImplicitlyDenied');
    expect(decision.checks[1].reason).toBe("the key policy of Fixture/Key neither allows the role nor delegates to the account's IAM policies");
  });

  test('a bucket policy deny wins over an identity allow', async () => {
    const bucketPolicy = policy({ Sid: 'NoJobReads', Effect: 'Deny', Principal: { AWS: role }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' });
    const [decision] = await evaluateAccesses(fixture({ identity: [allow(['s3:GetObject', 'kms:Decrypt'], ['arn:aws:s3:::b/*', key])], bucketPolicy }), [read]);
    expect(decision.checks[0].outcome).toBe('ExplicitlyDenied');
    expect(decision.checks[0].reason).toBe('explicitly denied by the bucket policy of b statement NoJobReads');
  });

  test('a bucket policy that allows the role suffices in the same account', async () => {
    const bucketPolicy = policy({ Effect: 'Allow', Principal: { AWS: role }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' });
    const [decision] = await evaluateAccesses(fixture({ identity: [allow('kms:Decrypt', key)], bucketPolicy }), [read]);
    expect(decision.checks.map((c) => c.outcome)).toEqual(['Allowed', 'Allowed']);
  });

  test('a request only an AWS-managed policy could allow is not evaluable, never allowed', async () => {
    const managed = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
    const [decision] = await evaluateAccesses(fixture({ managedArns: [managed] }), [read]);
    expect(decision.allowed).toBe(false);
    expect(decision.checks.map((c) => c.outcome)).toEqual(['NotEvaluable', 'NotEvaluable']);
    expect(decision.checks[0].reason).toContain(`only ${managed} (not in the templates) could allow it`);
    expect(summarize([decision])[0]).toMatchObject({ allowed: 0, denied: 0, notEvaluable: 1 });
  });

  test('a key policy condition on the S3 encryption context is reported as not evaluable (iam-simulate drops that key)', async () => {
    const keyPolicy = policy(
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::b/k' } } },
    );
    const [decision] = await evaluateAccesses(fixture({ identity: [allow(['s3:GetObject', 'kms:Decrypt'], ['arn:aws:s3:::b/*', key])], keyPolicy }), [read]);
    expect(decision.checks[1].outcome).toBe('NotEvaluable');
    expect(decision.checks[1].reason).toBe(
      'not evaluable: the policies test kms:EncryptionContext:aws:s3:arn, which iam-simulate drops from the request context',
    );
  });

  test('a principal that is not a role of the assembly is not evaluable', async () => {
    const [decision] = await evaluateAccesses(fixture({}), [{ ...read, principal: 'arn:aws:iam::210987654321:role/job' }]);
    expect(decision.checks[0]).toMatchObject({ outcome: 'NotEvaluable', reason: 'not evaluable: no role job in the assembly of account 123456789012' });
  });

  test('the access log parses as JSON lines and a bad line names its number', () => {
    const line = JSON.stringify({ principal: role, run: 'jr_1', op: 'open s3a://b/k', action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' });
    expect(parseAccessRecords(`${line}\n\n${line}\n`)).toHaveLength(2);
    expect(() => parseAccessRecords(`${line}\n{"principal": "x"}`)).toThrow('Access log line 2 has no string "op"');
  });
});
