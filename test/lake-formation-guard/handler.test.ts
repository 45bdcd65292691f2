import type { Database } from '@aws-sdk/client-glue';
import type { BatchRevokePermissionsRequest, DataLakeSettings, ListPermissionsRequest } from '@aws-sdk/client-lakeformation';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { EventEmitter } from 'node:events';
import https from 'node:https';
import {
  ACCOUNT_DEFAULTS,
  createOnEvent,
  fitResponse,
  handle,
  LAKE_FORMATION_ONLY,
  lakeFormationOnlyDatabaseInput,
  lakeFormationOnlyPhysicalId,
  onEvent,
  sendResponse,
  type Clients,
  type CustomResourceResponse,
  type RequestFunction,
} from '../../lib/account/lake-formation-guard-handler';
import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { FakeCatalog, sameValue } from './fake-catalog';

const CATALOG = EXAMPLE_ACCOUNT;
const PREFIX = 'undercurrent_';
const IAP = 'IAM_ALLOWED_PRINCIPALS';
const ANALYST = `arn:aws:iam::${CATALOG}:role/undercurrent-analyst`;
const PROJECT = ['undercurrent_raw', 'undercurrent_curated'];
const TABLES: Record<string, string[]> = {
  undercurrent_raw: ['events', 'orders'],
  undercurrent_curated: ['daily_sales'],
  undercurrent_scratch: ['tmp'], // project-prefixed but not in Databases: left alone
  finance_ledger: ['entries'], // another team's
};
const IAP_DEFAULT = [{ Principal: { DataLakePrincipalIdentifier: IAP }, Permissions: ['ALL' as const] }];
const RESPONSE_URL = 'https://cloudformation-custom-resource-response-euwest1.s3.example.com/signed?X-Amz-Signature=abc';

type RequestType = 'Create' | 'Update' | 'Delete';

function event(
  requestType: RequestType,
  resourceType: string,
  properties: Record<string, unknown>,
  physicalResourceId = 'existing-id',
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: `arn:aws:lambda:eu-west-1:${CATALOG}:function:lake-formation-guard`,
    ResponseURL: RESPONSE_URL,
    StackId: `arn:aws:cloudformation:eu-west-1:${CATALOG}:stack/undercurrent-governance/1`,
    RequestId: 'request-1',
    LogicalResourceId: 'LakeFormationOnly',
    ResourceType: resourceType,
    ResourceProperties: { ServiceToken: 'token', ...properties } as CloudFormationCustomResourceEvent['ResourceProperties'],
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (requestType === 'Update') {
    return { ...common, RequestType: 'Update', PhysicalResourceId: physicalResourceId, OldResourceProperties: common.ResourceProperties };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: physicalResourceId };
}

function onlyEvent(requestType: RequestType, ...args: [databases?: unknown, physicalResourceId?: string]) {
  // An explicit `undefined` is kept: it tests a missing Databases property.
  const databases = args.length === 0 ? PROJECT : args[0];
  return event(requestType, LAKE_FORMATION_ONLY, { CatalogId: CATALOG, Databases: databases, Fingerprint: 'abc123' }, args[1]);
}
const defaultsEvent = (requestType: RequestType) => event(requestType, ACCOUNT_DEFAULTS, { CatalogId: CATALOG });

function database(name: string): Database {
  return {
    Name: name,
    Description: `The ${name} zone`,
    LocationUri: `s3://undercurrent-lake-${CATALOG}/${name}/`,
    Parameters: { owner: name.startsWith(PREFIX) ? 'undercurrent' : 'finance', classification: 'parquet' },
    CreateTableDefaultPermissions: IAP_DEFAULT,
  };
}

/** The catalog as Glue and Lake Formation leave it by default: IAM_ALLOWED_PRINCIPALS everywhere. */
function catalog(tables: Record<string, string[]> = TABLES): FakeCatalog {
  const fake = new FakeCatalog(CATALOG);
  for (const [name, tableNames] of Object.entries(tables)) {
    fake.addDatabase(database(name));
    fake.grant(IAP, { Database: { CatalogId: CATALOG, Name: name } }, ['ALL']);
    for (const table of tableNames) {
      fake.grant(IAP, { Table: { CatalogId: CATALOG, DatabaseName: name, Name: table } }, ['ALL']);
    }
  }
  fake.grant(ANALYST, { Table: { CatalogId: CATALOG, DatabaseName: 'undercurrent_raw', Name: 'events' } }, ['SELECT']);
  fake.grant(ANALYST, { Database: { CatalogId: CATALOG, Name: 'undercurrent_raw' } }, ['DESCRIBE']);
  return fake;
}

function run(fake: FakeCatalog, e: CloudFormationCustomResourceEvent, ...prefix: [string | undefined] | []) {
  // An explicit `undefined` is kept: it tests a missing DATABASE_PREFIX.
  return handle(e, fake.clients(), { databasePrefix: prefix.length === 0 ? PREFIX : prefix[0], log: () => undefined });
}

const grantsOn = (fake: FakeCatalog, databaseName: string) =>
  fake.grants.filter((g) => (g.Resource?.Database?.Name ?? g.Resource?.Table?.DatabaseName) === databaseName);
const iapGrantsOn = (fake: FakeCatalog, databaseName: string) =>
  grantsOn(fake, databaseName).filter((g) => g.Principal?.DataLakePrincipalIdentifier === IAP);

const MUTATIONS = ['UpdateDatabase', 'BatchRevokePermissions', 'PutDataLakeSettings'];
const mutations = (fake: FakeCatalog) => fake.calls.filter((c) => MUTATIONS.includes(c.operation));

describe('Custom::LakeFormationOnly', () => {
  test('Create revokes every IAM_ALLOWED_PRINCIPALS grant on the project databases and tables, and nothing else', async () => {
    const fake = catalog();
    const before = new Map([...fake.databases].map(([name, db]) => [name, structuredClone(db)]));
    const othersBefore = ['finance_ledger', 'undercurrent_scratch'].map((name) => structuredClone(grantsOn(fake, name)));

    const response = await run(fake, onlyEvent('Create'));

    expect(response).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'lake-formation-only:undercurrent_curated,undercurrent_raw',
      Data: { DatabasesUpdated: '2', DatabasesAlreadyLakeFormationOnly: '0', GrantsRevoked: '5' },
    });
    for (const name of PROJECT) {
      expect(iapGrantsOn(fake, name)).toEqual([]);
    }
    // Other principals' grants on the project's resources stay.
    expect(grantsOn(fake, 'undercurrent_raw').map((g) => [g.Principal?.DataLakePrincipalIdentifier, g.Permissions])).toEqual([
      [ANALYST, ['SELECT']],
      [ANALYST, ['DESCRIBE']],
    ]);
    // Another team's database and an unlisted project database are untouched.
    expect(['finance_ledger', 'undercurrent_scratch'].map((name) => grantsOn(fake, name))).toEqual(othersBefore);
    expect(fake.databases.get('finance_ledger')).toEqual(before.get('finance_ledger'));
    expect(fake.databases.get('undercurrent_scratch')).toEqual(before.get('undercurrent_scratch'));
    // Each project database: no default table grant, every other field as it was.
    for (const name of PROJECT) {
      expect(fake.databases.get(name)).toEqual({ ...before.get(name), CreateTableDefaultPermissions: [] });
    }
    // Glue and Lake Formation were never asked about another team's database.
    expect(JSON.stringify(fake.callsOf('GetDatabase'))).not.toContain('finance');
    expect(JSON.stringify(fake.callsOf('UpdateDatabase'))).not.toContain('finance');
    expect(JSON.stringify(fake.callsOf('BatchRevokePermissions'))).not.toMatch(/finance|scratch/);
  });

  test('the calls have the SDK shapes: read all databases first, update, then list and revoke', async () => {
    const fake = catalog();
    await run(fake, onlyEvent('Create'));

    expect(fake.calls.map((c) => c.operation)).toEqual([
      'GetDatabase',
      'GetDatabase',
      'UpdateDatabase',
      'UpdateDatabase',
      'ListPermissions',
      'ListPermissions',
      'ListPermissions',
      'BatchRevokePermissions',
    ]);
    expect(fake.callsOf('GetDatabase')).toEqual(PROJECT.map((Name) => ({ CatalogId: CATALOG, Name })));
    expect(fake.callsOf('UpdateDatabase')[0]).toEqual({
      CatalogId: CATALOG,
      Name: 'undercurrent_raw',
      DatabaseInput: {
        Name: 'undercurrent_raw',
        Description: 'The undercurrent_raw zone',
        LocationUri: `s3://undercurrent-lake-${CATALOG}/undercurrent_raw/`,
        Parameters: { owner: 'undercurrent', classification: 'parquet' },
        CreateTableDefaultPermissions: [],
      },
    });
    const principal = { DataLakePrincipalIdentifier: IAP };
    expect(fake.callsOf('ListPermissions')).toEqual([
      { CatalogId: CATALOG, Principal: principal, Resource: { Database: { CatalogId: CATALOG, Name: 'undercurrent_raw' } } },
      { CatalogId: CATALOG, Principal: principal, Resource: { Database: { CatalogId: CATALOG, Name: 'undercurrent_curated' } } },
      { CatalogId: CATALOG, Principal: principal, ResourceType: 'TABLE' },
    ]);
    const [revoke] = fake.callsOf('BatchRevokePermissions') as BatchRevokePermissionsRequest[];
    expect(revoke.CatalogId).toBe(CATALOG);
    expect(revoke.Entries?.[0]).toEqual({
      Id: '0',
      Principal: principal,
      Resource: { Database: { CatalogId: CATALOG, Name: 'undercurrent_raw' } },
      Permissions: ['ALL'],
      PermissionsWithGrantOption: [],
    });
    expect(revoke.Entries?.map((e) => e.Id)).toEqual(['0', '1', '2', '3', '4']);
  });

  test('more than 20 grants are revoked in batches of at most 20, following every ListPermissions page', async () => {
    const many = Array.from({ length: 47 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const fake = catalog({ ...TABLES, undercurrent_raw: many });
    fake.pageSize = 7;
    const financeBefore = structuredClone(grantsOn(fake, 'finance_ledger'));

    const response = await run(fake, onlyEvent('Create'));

    expect(response.Status).toBe('SUCCESS');
    expect(response.Data.GrantsRevoked).toBe(String(2 + 47 + 1));
    const batches = fake.callsOf('BatchRevokePermissions') as BatchRevokePermissionsRequest[];
    expect(batches.map((b) => b.Entries?.length)).toEqual([20, 20, 10]);
    // BatchRevokePermissions takes at most 20 entries.
    expect(batches.every((b) => (b.Entries?.length ?? 0) <= 20)).toBe(true);
    // Ids are unique across batches (so a failure names one grant).
    expect(new Set(batches.flatMap((b) => b.Entries!.map((e) => e.Id))).size).toBe(50);
    // The table listing was followed page by page.
    const tableListings = (fake.callsOf('ListPermissions') as ListPermissionsRequest[]).filter((c) => c.ResourceType === 'TABLE');
    expect(tableListings.length).toBeGreaterThan(1);
    expect(tableListings[0].NextToken).toBeUndefined();
    expect(tableListings.slice(1).every((c) => c.NextToken !== undefined)).toBe(true);
    for (const name of PROJECT) expect(iapGrantsOn(fake, name)).toEqual([]);
    expect(grantsOn(fake, 'finance_ledger')).toEqual(financeBefore);
  });

  test('the database listing is paginated too', async () => {
    const fake = catalog();
    // Several IAM_ALLOWED_PRINCIPALS grants on one database (one with grant option).
    fake.grant(IAP, { Database: { CatalogId: CATALOG, Name: 'undercurrent_raw' } }, ['CREATE_TABLE'], ['CREATE_TABLE']);
    fake.grant(IAP, { Database: { CatalogId: CATALOG, Name: 'undercurrent_raw' } }, ['ALTER']);
    fake.pageSize = 1;

    const response = await run(fake, onlyEvent('Create'));

    expect(response.Status).toBe('SUCCESS');
    const rawListings = (fake.callsOf('ListPermissions') as ListPermissionsRequest[]).filter(
      (c) => c.Resource?.Database?.Name === 'undercurrent_raw',
    );
    expect(rawListings.map((c) => c.NextToken)).toEqual([undefined, 'page-1', 'page-2']);
    expect(iapGrantsOn(fake, 'undercurrent_raw')).toEqual([]);
    expect(response.Data.GrantsRevoked).toBe('7');
  });

  test('a database outside the prefix fails the resource, names it, and changes nothing', async () => {
    const fake = catalog();
    const before = fake.snapshot();

    const response = await run(fake, onlyEvent('Create', ['undercurrent_raw', 'finance_ledger']));

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('Database "finance_ledger"');
    expect(response.Reason).toContain('"undercurrent_"');
    expect(response.Reason).not.toContain('undercurrent_raw"');
    expect(fake.calls).toEqual([]);
    expect(fake.snapshot()).toEqual(before);
  });

  test('the prefix alone is not a project database, and an Update is guarded too', async () => {
    const fake = catalog();
    const response = await run(fake, onlyEvent('Update', ['undercurrent_'], 'lake-formation-only:undercurrent_raw'));
    expect(response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'lake-formation-only:undercurrent_raw' });
    expect(response.Reason).toContain('Database "undercurrent_"');
    expect(fake.calls).toEqual([]);
  });

  test('without DATABASE_PREFIX nothing is called', async () => {
    for (const prefix of [undefined, '', '  ']) {
      const fake = catalog();
      const response = await run(fake, onlyEvent('Create'), prefix);
      expect(response.Status).toBe('FAILED');
      expect(response.Reason).toContain('DATABASE_PREFIX is not set');
      expect(fake.calls).toEqual([]);
    }
  });

  test.each([
    ['no Databases', undefined],
    ['an empty list', []],
    ['a string', 'undercurrent_raw'],
    ['a blank name', ['undercurrent_raw', ' ']],
  ])('Databases as %s fails with no call', async (_, databases) => {
    const fake = catalog();
    const response = await run(fake, onlyEvent('Create', databases));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('ResourceProperties.Databases');
    expect(fake.calls).toEqual([]);
  });

  test('a bad CatalogId fails with no call', async () => {
    const fake = catalog();
    const e = event('Create', LAKE_FORMATION_ONLY, { CatalogId: 'self', Databases: PROJECT });
    const response = await run(fake, e);
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('CatalogId must be a 12-digit account id');
    expect(fake.calls).toEqual([]);
  });

  test('a missing database fails before any database is changed', async () => {
    const fake = catalog();
    const before = fake.snapshot();
    const response = await run(fake, onlyEvent('Create', ['undercurrent_raw', 'undercurrent_gone']));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('EntityNotFoundException');
    expect(response.Reason).toContain('undercurrent_gone');
    expect(mutations(fake)).toEqual([]);
    expect(fake.snapshot()).toEqual(before);
  });

  test('a Failures entry fails the resource, naming the resource and the error', async () => {
    const fake = catalog();
    fake.revokeFailure = (entry) =>
      entry.Resource?.Table?.Name === 'orders'
        ? { ErrorCode: 'AccessDeniedException', ErrorMessage: 'Insufficient Lake Formation permission(s)' }
        : undefined;

    const response = await run(fake, onlyEvent('Create'));

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('could not revoke 1 of 5');
    expect(response.Reason).toContain('table undercurrent_raw.orders (ALL): AccessDeniedException: Insufficient Lake Formation permission(s)');
    expect(response.PhysicalResourceId).toBe('lake-formation-only:undercurrent_curated,undercurrent_raw');
  });

  test('a second run (Update) alters no database and revokes nothing more', async () => {
    const fake = catalog();
    await run(fake, onlyEvent('Create'));
    const before = fake.snapshot();
    fake.calls.length = 0;

    const response = await run(fake, onlyEvent('Update', PROJECT, 'lake-formation-only:undercurrent_curated,undercurrent_raw'));

    expect(response).toMatchObject({
      Status: 'SUCCESS',
      Data: { DatabasesUpdated: '0', DatabasesAlreadyLakeFormationOnly: '2', GrantsRevoked: '0' },
    });
    expect(mutations(fake)).toEqual([]);
    expect(fake.snapshot()).toEqual(before);
  });

  test('a table created after the first run with a default grant is revoked by the next run', async () => {
    const fake = catalog();
    await run(fake, onlyEvent('Create'));
    fake.grant(IAP, { Table: { CatalogId: CATALOG, DatabaseName: 'undercurrent_curated', Name: 'late' } }, ['ALL']);
    fake.grant(IAP, { TableWithColumns: { CatalogId: CATALOG, DatabaseName: 'undercurrent_curated', Name: 'late', ColumnNames: ['a'] } }, ['SELECT']);

    const response = await run(fake, onlyEvent('Update', PROJECT));

    expect(response.Data.GrantsRevoked).toBe('2');
    expect(iapGrantsOn(fake, 'undercurrent_curated')).toEqual([]);
    expect(fake.grants.filter((g) => g.Resource?.TableWithColumns)).toEqual([]);
  });

  test('Delete changes nothing and keeps the physical id', async () => {
    const fake = catalog();
    const before = fake.snapshot();
    const response = await run(fake, onlyEvent('Delete', PROJECT, 'lake-formation-only:undercurrent_curated,undercurrent_raw'));
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'lake-formation-only:undercurrent_curated,undercurrent_raw' });
    expect(fake.calls).toEqual([]);
    expect(fake.snapshot()).toEqual(before);
  });

  test('Delete succeeds even with properties a Create would refuse (so a failed Create rolls back)', async () => {
    const fake = catalog();
    for (const e of [
      onlyEvent('Delete', ['finance_ledger'], 'request-id'),
      event('Delete', 'Custom::Unknown', {}, 'x'),
    ]) {
      expect((await run(fake, e, undefined)).Status).toBe('SUCCESS');
    }
    expect(fake.calls).toEqual([]);
  });

  test('the database input keeps what was read and drops the read-only fields', () => {
    const input = lakeFormationOnlyDatabaseInput({
      Name: 'undercurrent_link',
      CatalogId: CATALOG,
      CreateTime: new Date(0),
      TargetDatabase: { CatalogId: '210987654321', DatabaseName: 'shared', Region: 'eu-west-1' },
      FederatedDatabase: { Identifier: 'id', ConnectionName: 'conn', ConnectionType: 'HIVE' },
      CreateTableDefaultPermissions: IAP_DEFAULT,
    });
    expect(input).toEqual({
      Name: 'undercurrent_link',
      TargetDatabase: { CatalogId: '210987654321', DatabaseName: 'shared', Region: 'eu-west-1' },
      FederatedDatabase: { Identifier: 'id', ConnectionName: 'conn', ConnectionType: 'HIVE' },
      CreateTableDefaultPermissions: [],
    });
  });

  test('the physical id is sorted and stable, and hashed past 1 KB', () => {
    expect(lakeFormationOnlyPhysicalId(['undercurrent_b', 'undercurrent_a'])).toBe('lake-formation-only:undercurrent_a,undercurrent_b');
    const long = Array.from({ length: 80 }, (_, i) => `undercurrent_database_number_${i}`);
    const id = lakeFormationOnlyPhysicalId(long);
    expect(id).toMatch(/^lake-formation-only:sha256:[0-9a-f]{64}$/);
    // CloudFormation's limit on a physical resource id.
    expect(id.length).toBeLessThanOrEqual(1024);
    expect(lakeFormationOnlyPhysicalId([...long].reverse())).toBe(id);
  });

  test('an unknown resource type fails', async () => {
    const fake = catalog();
    const response = await run(fake, event('Create', 'Custom::Other', { CatalogId: CATALOG }));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('Unknown ResourceType "Custom::Other"');
    expect(fake.calls).toEqual([]);
  });
});

describe('Custom::LakeFormationAccountDefaults', () => {
  const ADMIN = `arn:aws:iam::${CATALOG}:role/cdk-hnb659fds-cfn-exec-role-${CATALOG}-eu-west-1`;
  const GUARD = `arn:aws:iam::${CATALOG}:role/undercurrent-lake-formation-guard`;
  const GONE = `arn:aws:iam::${CATALOG}:role/renamed-long-ago`;
  const SETTINGS: DataLakeSettings = {
    DataLakeAdmins: [{ DataLakePrincipalIdentifier: ADMIN }, { DataLakePrincipalIdentifier: GUARD }],
    ReadOnlyAdmins: [{ DataLakePrincipalIdentifier: `arn:aws:iam::${CATALOG}:role/auditor` }],
    CreateDatabaseDefaultPermissions: IAP_DEFAULT,
    CreateTableDefaultPermissions: IAP_DEFAULT,
    Parameters: { CROSS_ACCOUNT_VERSION: '4', SET_CONTEXT: 'TRUE' },
    TrustedResourceOwners: ['210987654321'],
    AllowExternalDataFiltering: true,
    AllowFullTableExternalDataAccess: false,
    ExternalDataFilteringAllowList: [{ DataLakePrincipalIdentifier: CATALOG }],
    AuthorizedSessionTagValueList: ['Amazon EMR'],
  };

  function account(settings: DataLakeSettings = SETTINGS): FakeCatalog {
    const fake = catalog();
    fake.settings = structuredClone(settings);
    return fake;
  }

  test('Create keeps every administrator and every other field, and empties both defaults', async () => {
    const fake = account();
    const grantsBefore = structuredClone(fake.grants);

    const response = await run(fake, defaultsEvent('Create'));

    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `lake-formation-account-defaults:${CATALOG}` });
    expect(fake.settings).toEqual({ ...SETTINGS, CreateDatabaseDefaultPermissions: [], CreateTableDefaultPermissions: [] });
    expect(fake.callsOf('GetDataLakeSettings')).toEqual([{ CatalogId: CATALOG }]);
    expect(fake.callsOf('PutDataLakeSettings')).toEqual([
      { CatalogId: CATALOG, DataLakeSettings: { ...SETTINGS, CreateDatabaseDefaultPermissions: [], CreateTableDefaultPermissions: [] } },
    ]);
    expect(JSON.parse(response.Data.PreviousDatabaseDefaults)).toEqual(IAP_DEFAULT);
    expect(JSON.parse(response.Data.PreviousTableDefaults)).toEqual(IAP_DEFAULT);
    expect(response.Data.Changed).toBe('true');
    // Only the settings: no database, no grant.
    expect(fake.grants).toEqual(grantsBefore);
    expect(fake.calls.map((c) => c.operation)).toEqual(['GetDataLakeSettings', 'PutDataLakeSettings']);
  });

  test('Update when both defaults are already empty puts nothing', async () => {
    const fake = account({ ...SETTINGS, CreateDatabaseDefaultPermissions: [], CreateTableDefaultPermissions: undefined });
    const response = await run(fake, defaultsEvent('Update'));
    expect(response).toMatchObject({
      Status: 'SUCCESS',
      Data: { PreviousDatabaseDefaults: '[]', PreviousTableDefaults: 'null', Changed: 'false' },
    });
    expect(mutations(fake)).toEqual([]);
  });

  test('a deleted administrator: the message names it and says to remove it in the console', async () => {
    const fake = account({ ...SETTINGS, DataLakeAdmins: [...SETTINGS.DataLakeAdmins!, { DataLakePrincipalIdentifier: GONE }] });
    fake.existingPrincipals = new Set([ADMIN, GUARD, `arn:aws:iam::${CATALOG}:role/auditor`]);
    const before = fake.snapshot();

    const response = await run(fake, defaultsEvent('Create'));

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain(`principal ${GONE} (in the data lake administrators) no longer exists in IAM`);
    expect(response.Reason).toContain('Remove it in the Lake Formation console');
    expect(response.Reason).toContain('19492');
    expect(response.Reason).toContain('InvalidInputException: Invalid principal');
    expect(fake.snapshot()).toEqual(before);
  });

  test('another put error is reported as it is', async () => {
    const fake = account();
    fake.putDataLakeSettings = async () => {
      throw Object.assign(new Error('User is not authorized to perform: lakeformation:PutDataLakeSettings'), { name: 'AccessDeniedException' });
    };
    const response = await run(fake, defaultsEvent('Create'));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toBe('AccessDeniedException: User is not authorized to perform: lakeformation:PutDataLakeSettings');
  });

  test('no settings read: refuses to put anything', async () => {
    const fake = account();
    fake.settings = undefined;
    const response = await run(fake, defaultsEvent('Create'));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('refusing to put settings');
    expect(mutations(fake)).toEqual([]);
  });

  test('Delete changes nothing', async () => {
    const fake = account();
    const before = fake.snapshot();
    const response = await run(fake, event('Delete', ACCOUNT_DEFAULTS, { CatalogId: CATALOG }, `lake-formation-account-defaults:${CATALOG}`));
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `lake-formation-account-defaults:${CATALOG}` });
    expect(fake.calls).toEqual([]);
    expect(fake.snapshot()).toEqual(before);
  });
});

describe('response protocol', () => {
  interface Sent {
    url: string;
    options: https.RequestOptions;
    body: string;
  }

  /** A stand-in for https.request that answers each PUT with the next status (200 when none left). */
  function fakeRequest(statuses: number[] = []): { request: RequestFunction; sent: Sent[] } {
    const sent: Sent[] = [];
    const request = ((url: string, options: https.RequestOptions, callback: (res: EventEmitter) => void) => {
      const req = Object.assign(new EventEmitter(), {
        destroy: (error?: Error) => req.emit('error', error),
        end: (body: string) => {
          sent.push({ url, options, body });
          const res = Object.assign(new EventEmitter(), { statusCode: statuses.shift() ?? 200, resume: () => undefined });
          setImmediate(() => {
            callback(res);
            res.emit('end');
          });
        },
      });
      return req;
    }) as unknown as RequestFunction;
    return { request, sent };
  }

  const context = { getRemainingTimeInMillis: () => 300_000 };

  afterEach(() => jest.restoreAllMocks());

  test('onEvent PUTs exactly one SUCCESS body with an empty content-type', async () => {
    const { request, sent } = fakeRequest();
    jest.spyOn(https, 'request').mockImplementation(request);
    jest.spyOn(console, 'log').mockImplementation(() => undefined);

    await onEvent(onlyEvent('Delete', PROJECT, 'lake-formation-only:undercurrent_raw'), context);

    expect(sent).toHaveLength(1);
    expect(sent[0].url).toBe(RESPONSE_URL);
    expect(sent[0].options.method).toBe('PUT');
    expect(sent[0].options.headers).toEqual({ 'content-type': '', 'content-length': Buffer.byteLength(sent[0].body) });
    expect(JSON.parse(sent[0].body)).toEqual({
      Status: 'SUCCESS',
      Reason: 'Delete changes nothing.',
      PhysicalResourceId: 'lake-formation-only:undercurrent_raw',
      StackId: `arn:aws:cloudformation:eu-west-1:${CATALOG}:stack/undercurrent-governance/1`,
      RequestId: 'request-1',
      LogicalResourceId: 'LakeFormationOnly',
      Data: {},
    });
  });

  test('onEvent PUTs exactly one FAILED body when a call throws', async () => {
    const { request, sent } = fakeRequest();
    jest.spyOn(https, 'request').mockImplementation(request);
    const fake = catalog();
    fake.getDatabase = async () => {
      throw Object.assign(new Error('User is not authorized to perform: glue:GetDatabase'), { name: 'AccessDeniedException' });
    };
    const handler = createOnEvent({ clients: () => fake.clients(), databasePrefix: () => PREFIX, log: () => undefined });

    await handler(onlyEvent('Create'), context);

    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0].body)).toEqual({
      Status: 'FAILED',
      Reason: 'AccessDeniedException: User is not authorized to perform: glue:GetDatabase',
      PhysicalResourceId: 'lake-formation-only:undercurrent_curated,undercurrent_raw',
      StackId: `arn:aws:cloudformation:eu-west-1:${CATALOG}:stack/undercurrent-governance/1`,
      RequestId: 'request-1',
      LogicalResourceId: 'LakeFormationOnly',
      Data: {},
    });
  });

  test('onEvent with the real entry point: a refused Create is one FAILED PUT, no AWS call', async () => {
    const { request, sent } = fakeRequest();
    jest.spyOn(https, 'request').mockImplementation(request);
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const saved = process.env.DATABASE_PREFIX;
    process.env.DATABASE_PREFIX = PREFIX;
    try {
      await onEvent(onlyEvent('Create', ['finance_ledger']), context);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_PREFIX;
      else process.env.DATABASE_PREFIX = saved;
    }
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0].body)).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'LakeFormationOnly-request-1' });
    expect(JSON.parse(sent[0].body).Reason).toContain('Database "finance_ledger" does not start with the prefix "undercurrent_"');
  });

  test('a full Create through onEvent with an injected sender', async () => {
    const fake = catalog();
    const sent: CustomResourceResponse[] = [];
    const handler = createOnEvent({
      clients: (): Clients => fake.clients(),
      databasePrefix: () => PREFIX,
      send: async (url, body) => {
        expect(url).toBe(RESPONSE_URL);
        sent.push(body);
      },
      log: () => undefined,
    });
    await handler(onlyEvent('Create'), context);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ Status: 'SUCCESS', Data: { GrantsRevoked: '5' } });
  });

  test('a handler that would outlive the Lambda sends FAILED before the timeout', async () => {
    const fake = catalog();
    fake.getDatabase = () => new Promise(() => undefined);
    const sent: CustomResourceResponse[] = [];
    const handler = createOnEvent({
      clients: () => fake.clients(),
      databasePrefix: () => PREFIX,
      send: async (_, body) => {
        sent.push(body);
      },
      log: () => undefined,
      safetyMarginMs: 15_000,
    });
    await handler(onlyEvent('Update', PROJECT, 'lake-formation-only:x'), { getRemainingTimeInMillis: () => 15_200 });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'lake-formation-only:x' });
    expect(sent[0].Reason).toContain('Timed out');
  });

  test('sendResponse retries a failed PUT and throws when every attempt fails', async () => {
    const retried = fakeRequest([500]);
    await sendResponse(RESPONSE_URL, fitResponse(emptyResponse()), { request: retried.request, retryDelayMs: 1 });
    expect(retried.sent).toHaveLength(2);

    const failing = fakeRequest([500, 403, 500]);
    await expect(
      sendResponse(RESPONSE_URL, emptyResponse(), { request: failing.request, retryDelayMs: 1, attempts: 3 }),
    ).rejects.toThrow('after 3 attempt(s): The response URL answered HTTP 500.');
    expect(failing.sent).toHaveLength(3);
  });

  test('a long Reason is cut so the body fits in 4 KB', () => {
    const response = fitResponse({ ...emptyResponse(), Status: 'FAILED', Reason: 'é'.repeat(10_000) });
    // CloudFormation's limit on a custom resource response.
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThanOrEqual(4096);
    expect(response.Reason).toMatch(/^é+ \[truncated; see the CloudWatch log\]$/);
    expect(fitResponse(emptyResponse())).toEqual(emptyResponse());
  });

  function emptyResponse(): CustomResourceResponse {
    return {
      Status: 'SUCCESS',
      Reason: 'ok',
      PhysicalResourceId: 'id',
      StackId: 'stack',
      RequestId: 'request',
      LogicalResourceId: 'logical',
      Data: {},
    };
  }
});

test('sameValue of the fake ignores undefined keys and key order', () => {
  expect(sameValue({ a: 1, b: undefined, c: { d: 2, e: 3 } }, { c: { e: 3, d: 2 }, a: 1 })).toBe(true);
});
