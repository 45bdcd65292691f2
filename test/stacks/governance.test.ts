import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { goldTableDeclarations, sourceTableDeclarations } from '../../lib/datasets';
import { Stack } from 'aws-cdk-lib';
import { ALL_TABLES } from '../../lib/constructs/lake-formation';
import { DATA_ZONES } from '../../lib/stacks/storage-stack';
import { Platform } from '../../lib/platform';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, asList, identityStatements, JsonObject, logicalId, ref, resourcesOf } from './template-helpers';

/** One `AWS::LakeFormation::PrincipalPermissions` as the template has it, with the stack it is in. */
interface GrantJson {
  readonly stack: keyof Platform;
  readonly principal: unknown;
  readonly permissions: string[];
  readonly permissionsWithGrantOption: string[];
  readonly resource: unknown;
}

/** The CDK deployment role: of this account and region in dev, of the pinned ones (-c account=123456789012 -c region=us-east-1) in prod. */
const DEPLOYMENT_ROLE = {
  dev: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}' },
  prod: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1' },
} as const;
const CATALOG = { dev: { Ref: 'AWS::AccountId' }, prod: '123456789012' } as const;

function allGrants(platform: SynthesizedPlatform): GrantJson[] {
  return STACK_KEYS.flatMap((stack) =>
    Object.values(resourcesOf(platform.template(stack), 'AWS::LakeFormation::PrincipalPermissions')).map((r) => ({
      stack,
      principal: r.Properties?.Principal,
      permissions: r.Properties?.Permissions as string[],
      permissionsWithGrantOption: r.Properties?.PermissionsWithGrantOption as string[],
      resource: r.Properties?.Resource,
    })),
  );
}

/** The grants the platform must make, exactly: who, on what, which permissions. */
function expectedGrants(platform: SynthesizedPlatform): GrantJson[] {
  const { ingestion, transform, storage } = platform;
  const catalog = CATALOG[platform.config.envName as 'dev' | 'prod'];
  const extract = ingestion.extractJob.role.roleArn;
  const clickstream = transform.clickstreamJob.role.roleArn;
  const sourceJob = transform.sourceJob.role.roleArn;
  const goldJob = transform.goldJob.role.roleArn;
  const grant = (
    stack: 'storage' | 'ingestion' | 'transform',
    roleArn: string,
    permissions: string[],
    resource: (s: Stack) => unknown,
  ): GrantJson => ({
    stack,
    principal: { DataLakePrincipalIdentifier: ref(platform[stack], roleArn) },
    permissions,
    permissionsWithGrantOption: [],
    resource: resource(platform[stack]),
  });
  const location = (zone: 'raw' | 'curated' | 'quarantine' | 'gold') => (s: Stack) => ({
    DataLocation: { CatalogId: catalog, ResourceArn: ref(s, storage.buckets[zone].bucketArn) },
  });
  const database = (zone: 'raw' | 'curated' | 'quarantine' | 'gold') => (s: Stack) => ({
    Database: { CatalogId: catalog, Name: ref(s, storage.databases[zone].databaseName) },
  });
  const allTables = (zone: 'raw' | 'curated' | 'quarantine' | 'gold') => (s: Stack) => ({
    Table: { CatalogId: catalog, DatabaseName: ref(s, storage.databases[zone].databaseName), TableWildcard: {} },
  });
  const table = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', name: string) => (s: Stack) => ({
    Table: { CatalogId: catalog, DatabaseName: ref(s, storage.databases[zone].databaseName), Name: name },
  });
  const sources = sourceTableDeclarations().map((d) => d.name);
  const golds = goldTableDeclarations().map((d) => d.name);
  const crawler = storage.rawDriftCrawler.role.roleArn;
  const analyst = storage.analystRole.roleArn;
  const spectrum = storage.warehouse
    ? [grant('storage', storage.warehouse.copyRole.roleArn, ['DESCRIBE', 'SELECT'], allTables('gold'))]
    : [];
  return [
    // The drift crawler reads raw and writes only its own database.
    grant('storage', crawler, ['DATA_LOCATION_ACCESS'], location('raw')),
    grant('storage', crawler, ['CREATE_TABLE', 'ALTER', 'DESCRIBE'], (s) => ({
      Database: { CatalogId: catalog, Name: ref(s, storage.rawDriftCrawler.database.databaseName) },
    })),
    // Analysts: describe gold, select every gold table, without dim_customer's personal columns.
    grant('storage', analyst, ['DESCRIBE'], (s) => ({
      Database: { CatalogId: catalog, Name: ref(s, storage.databases.gold.databaseName) },
    })),
    ...goldTableDeclarations().map((declaration) => {
      const personal = declaration.columns.filter((c) => c.comment?.includes('Personal data.')).map((c) => c.name);
      const database = ref(platform.storage, storage.databases.gold.databaseName);
      return grant('storage', analyst, ['SELECT'], () =>
        personal.length > 0
          ? {
              TableWithColumns: {
                CatalogId: catalog,
                ColumnWildcard: { ExcludedColumnNames: personal },
                DatabaseName: database,
                Name: declaration.name,
              },
            }
          : { Table: { CatalogId: catalog, DatabaseName: database, Name: declaration.name } },
      );
    }),
    // Redshift Spectrum (prod, warehouse on) reads gold.
    ...spectrum,
    // The extract job lands source tables in raw and may catalog them there.
    grant('ingestion', extract, ['DATA_LOCATION_ACCESS'], location('raw')),
    grant('ingestion', extract, ['CREATE_TABLE', 'DESCRIBE'], database('raw')),
    // The clickstream job reads raw, writes curated and quarantine.
    grant('transform', clickstream, ['DESCRIBE', 'SELECT'], allTables('raw')),
    grant('transform', clickstream, ['DATA_LOCATION_ACCESS'], location('curated')),
    grant('transform', clickstream, ['CREATE_TABLE', 'ALTER', 'DESCRIBE'], database('curated')),
    grant('transform', clickstream, ['ALTER', 'DESCRIBE', 'INSERT'], allTables('curated')),
    grant('transform', clickstream, ['DATA_LOCATION_ACCESS'], location('quarantine')),
    grant('transform', clickstream, ['CREATE_TABLE', 'ALTER', 'DESCRIBE'], database('quarantine')),
    grant('transform', clickstream, ['ALTER', 'DESCRIBE', 'INSERT'], allTables('quarantine')),
    // The source curation reads its raw tables and replaces its curated and quarantine tables, by name.
    grant('transform', sourceJob, ['DATA_LOCATION_ACCESS'], location('curated')),
    grant('transform', sourceJob, ['DATA_LOCATION_ACCESS'], location('quarantine')),
    ...sources.flatMap((t) => [
      grant('transform', sourceJob, ['DESCRIBE', 'SELECT'], table('raw', `source_${t}`)),
      grant('transform', sourceJob, ['ALTER', 'DESCRIBE', 'INSERT'], table('curated', t)),
      grant('transform', sourceJob, ['ALTER', 'DESCRIBE', 'INSERT'], table('quarantine', t)),
    ]),
    // The gold job reads curated and commits to each gold Iceberg table.
    ...[...sources, 'clickstream_events'].map((t) => grant('transform', goldJob, ['DESCRIBE', 'SELECT'], table('curated', t))),
    grant('transform', goldJob, ['DATA_LOCATION_ACCESS'], location('gold')),
    grant('transform', goldJob, ['DESCRIBE'], database('gold')),
    ...golds.map((t) => grant('transform', goldJob, ['ALTER', 'DELETE', 'DESCRIBE', 'INSERT', 'SELECT'], table('gold', t))),
  ];
}

function sorted(grants: GrantJson[]): string[] {
  return grants.map((g) => JSON.stringify(g)).sort();
}

describe.each(['dev', 'prod'] as const)('Lake Formation in %s', (envName) => {
  let platform: SynthesizedPlatform;
  beforeAll(() => {
    platform = synthPlatform(envName);
  });

  test('the templates hold exactly the expected grants, no more', () => {
    expect(sorted(allGrants(platform))).toEqual(sorted(expectedGrants(platform)));
  });

  test('no grant anywhere is ALL, ALL_IN_ALL or SUPER, or passes a permission on', () => {
    const grants = allGrants(platform);
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) {
      expect(grant.permissions.filter((p) => ['ALL', 'ALL_IN_ALL', 'SUPER'].includes(p))).toEqual([]);
      expect(grant.permissionsWithGrantOption).toEqual([]);
    }
  });

  test('no template uses the legacy AWS::LakeFormation::Permissions or tag-based grants', () => {
    for (const stack of STACK_KEYS) {
      const types = new Set(Object.values(platform.template(stack).toJSON().Resources ?? {}).map((r) => (r as JsonObject).Type));
      expect(types.has('AWS::LakeFormation::Permissions')).toBe(false);
      expect(types.has('AWS::LakeFormation::TagAssociation')).toBe(false);
    }
  });

  test('only the settings of the storage stack name administrators: the deployment role and the configured ones', () => {
    for (const stack of STACK_KEYS) {
      const settings = Object.values(resourcesOf(platform.template(stack), 'AWS::LakeFormation::DataLakeSettings'));
      expect(settings).toHaveLength(stack === 'storage' ? 1 : 0);
    }
    const [settings] = Object.values(resourcesOf(platform.template('storage'), 'AWS::LakeFormation::DataLakeSettings'));
    expect(settings.Properties).toEqual({
      Admins: [
        { DataLakePrincipalIdentifier: DEPLOYMENT_ROLE[envName] },
        ...platform.config.governance.lakeAdminArns.map((arn) => ({ DataLakePrincipalIdentifier: arn })),
      ],
      CreateDatabaseDefaultPermissions: [],
      CreateTableDefaultPermissions: [],
    });
  });

  test('no role can change the Lake Formation settings or grant permissions through IAM', () => {
    for (const stack of STACK_KEYS) {
      for (const { statement } of identityStatements(platform.template(stack))) {
        const lakeActions = actionsOf(statement).filter((a) => a.toLowerCase().startsWith('lakeformation:') || a === '*');
        expect(lakeActions.filter((a) => !['lakeformation:GetDataAccess'].includes(a))).toEqual([]);
      }
    }
  });

  test('the four data zones are registered with the dedicated role; query results are not', () => {
    const storage = platform.template('storage');
    const registrations = Object.values(resourcesOf(storage, 'AWS::LakeFormation::Resource')).map((r) => r.Properties);
    const roleArn = ref(platform.storage, platform.storage.lakeFormation.locationRole!.roleArn);
    expect(registrations).toEqual(
      DATA_ZONES.map((zone) => ({
        ResourceArn: ref(platform.storage, platform.storage.buckets[zone].bucketArn),
        RoleArn: roleArn,
        UseServiceLinkedRole: false,
      })),
    );
  });

  test('every zone database is created after the IAM-only defaults are turned off', () => {
    const storage = platform.template('storage').toJSON().Resources as Record<string, JsonObject>;
    const settingsId = platform.storage.getLogicalId(platform.storage.lakeFormation.resource);
    for (const zone of DATA_ZONES) {
      const id = logicalId(platform.storage.databases[zone]);
      expect({ zone, dependsOn: asList(storage[id].DependsOn) }).toEqual({ zone, dependsOn: expect.arrayContaining([settingsId]) });
    }
  });

  test('the stacks that grant deploy after the storage stack', () => {
    for (const stack of [platform.ingestion, platform.transform]) {
      expect(stack.dependencies).toContain(platform.storage);
    }
  });

  test('the grants construct lists the grants the templates hold', () => {
    const made = [
      ...platform.storage.lakeGrants.grants,
      ...platform.ingestion.lakeGrants.grants,
      ...platform.transform.lakeGrants.grants,
    ];
    expect(made).toHaveLength(expectedGrants(platform).length);
    // dim_customer's contact names, phone and address are never granted to analysts.
    const customer = made.find((g) => g.request.principal === platform.storage.analystRole && g.request.table === 'dim_customer');
    expect(customer?.request.excludedColumns).toEqual(
      expect.arrayContaining(['contact_last_name', 'contact_first_name', 'phone', 'address_line1', 'address_line2', 'postal_code']),
    );
    // raw (read), curated and quarantine (write), and gold for Spectrum where the warehouse is on.
    expect(made.filter((g) => g.request.table === ALL_TABLES)).toHaveLength(platform.storage.warehouse ? 4 : 3);
  });
});

test('configured lake administrators follow the deployment role in the settings', () => {
  const lakeAdminArns = [`arn:aws:iam::${EXAMPLE_ACCOUNT}:role/DataLakeAdmin`, `arn:aws:iam::${EXAMPLE_ACCOUNT}:user/alice`];
  const platform = synthPlatform('dev', { patch: { governance: { lakeAdminArns } } });
  const [settings] = Object.values(resourcesOf(platform.template('storage'), 'AWS::LakeFormation::DataLakeSettings'));
  expect(settings.Properties?.Admins).toEqual([
    { DataLakePrincipalIdentifier: DEPLOYMENT_ROLE.dev },
    ...lakeAdminArns.map((arn) => ({ DataLakePrincipalIdentifier: arn })),
  ]);
});
