import { goldTableDeclarations, sourceTableDeclarations } from '../../lib/lake/datasets';
import { Stack } from 'aws-cdk-lib';
import { ALL_TABLES } from '../../lib/lake/lake-formation';
import { servingViews } from '../../lib/serving/semantic-layer';
import { Platform } from '../../lib/app';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, asList, identityStatements, JsonObject, ref, resourcesOf } from './template-helpers';

/** One `AWS::LakeFormation::PrincipalPermissions` as the template has it, with the stack it is in. */
interface GrantJson {
  readonly stack: keyof Platform;
  readonly principal: unknown;
  readonly permissions: string[];
  readonly permissionsWithGrantOption: string[];
  readonly resource: unknown;
}

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
  const { ingestion, transform, storage, serving } = platform;
  const catalog = CATALOG[platform.config.envName as 'dev' | 'prod'];
  const extract = ingestion.extractJob.role.roleArn;
  const clickstream = transform.clickstreamJob.role.roleArn;
  const sourceJob = transform.sourceJob.role.roleArn;
  const goldJob = transform.goldJob.role.roleArn;
  const grant = (
    stack: 'storage' | 'ingestion' | 'transform' | 'serving',
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
  const analyst = serving.analystRole.roleArn;
  const quickSight = serving.quickSight?.role.roleArn;
  expect(quickSight !== undefined).toBe(platform.config.serving.quickSight.enabled);
  const readers = [analyst, ...(quickSight ? [quickSight] : [])];
  const spectrum = storage.warehouse
    ? [grant('storage', storage.warehouse.copyRole.roleArn, ['DESCRIBE', 'SELECT'], allTables('gold'))]
    : [];
  return [
    // The drift crawler reads raw and writes only its own database.
    grant('storage', crawler, ['DATA_LOCATION_ACCESS'], location('raw')),
    grant('storage', crawler, ['CREATE_TABLE', 'ALTER', 'DESCRIBE'], (s) => ({
      Database: { CatalogId: catalog, Name: ref(s, storage.rawDriftCrawler.database.databaseName) },
    })),
    // Analysts, and QuickSight's data source role where QuickSight is on (prod): describe gold,
    // select every gold table, without dim_customer's personal columns...
    ...readers.flatMap((reader) => [
      grant('serving', reader, ['DESCRIBE'], database('gold')),
      ...goldTableDeclarations().map((declaration) => {
        const personal = declaration.columns.filter((c) => c.comment?.includes('Personal data.')).map((c) => c.name);
        const database = ref(platform.serving, storage.databases.gold.databaseName);
        return grant('serving', reader, ['SELECT'], () =>
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
      // ... and every view (invoker rights: the view reads only columns granted above).
      ...servingViews().map((view) => grant('serving', reader, ['SELECT'], table('gold', view.name))),
    ]),
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

  test('no environment stack writes the account settings: administrators and defaults are the account stack\'s', () => {
    for (const stack of STACK_KEYS) {
      expect([stack, Object.keys(resourcesOf(platform.template(stack), 'AWS::LakeFormation::DataLakeSettings'))]).toEqual([stack, []]);
    }
  });

  test('in each stack the grants form one dependency chain: Lake Formation never gets two at once', () => {
    for (const stack of STACK_KEYS) {
      const grants = resourcesOf(platform.template(stack), 'AWS::LakeFormation::PrincipalPermissions');
      const ids = Object.keys(grants);
      const previous = new Map(
        ids.map((id) => [id, asList(grants[id].DependsOn).filter((d) => ids.includes(d as string)) as string[]]),
      );
      if (ids.length === 0) {
        continue;
      }
      // One grant depends on no other grant, every other on exactly one, and no grant is depended on twice.
      expect([stack, ids.filter((id) => previous.get(id)!.length === 0)]).toEqual([stack, [expect.any(String)]]);
      expect([stack, ids.filter((id) => previous.get(id)!.length > 1)]).toEqual([stack, []]);
      const predecessors = [...previous.values()].flat();
      expect([stack, predecessors.length, new Set(predecessors).size]).toEqual([stack, ids.length - 1, ids.length - 1]);
    }
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
      (['raw', 'curated', 'gold', 'quarantine'] as const).map((zone) => ({
        ResourceArn: ref(platform.storage, platform.storage.buckets[zone].bucketArn),
        RoleArn: roleArn,
        UseServiceLinkedRole: false,
      })),
    );
  });

  test('LakeFormationOnly names every database of the environment and runs after every database and table', () => {
    const storage = platform.template('storage').toJSON().Resources as Record<string, JsonObject>;
    const only = Object.values(resourcesOf(platform.template('storage'), 'Custom::LakeFormationOnly'));
    expect(only).toHaveLength(1);
    const names = STACK_KEYS.flatMap((stack) =>
      Object.values(resourcesOf(platform.template(stack), 'AWS::Glue::Database')).map((r) => (r.Properties?.DatabaseInput as JsonObject).Name),
    );
    expect(only[0].Properties?.Databases).toEqual([...names].sort());
    const catalogIds = Object.entries(storage)
      .filter(([, r]) => ['AWS::Glue::Database', 'AWS::Glue::Table'].includes(r.Type as string))
      .map(([id]) => id);
    expect(asList(only[0].DependsOn)).toEqual(expect.arrayContaining(catalogIds));
    // Databases and their tables exist only in the storage stack, so nothing escapes the guard...
    for (const stack of STACK_KEYS.filter((key) => key !== 'storage' && key !== 'serving')) {
      expect([stack, Object.keys(resourcesOf(platform.template(stack), 'AWS::Glue::Table'))]).toEqual([stack, []]);
    }
    // ...but the serving views, made later in the gold database, which the guard has left without
    // default permissions for new tables (CreateTableDefaultPermissions: []): no IAM_ALLOWED_PRINCIPALS.
    const views = Object.values(resourcesOf(platform.template('serving'), 'AWS::Glue::Table')).map((r) => r.Properties as JsonObject);
    expect(views.map((v) => (v.TableInput as JsonObject).Name).sort()).toEqual(servingViews().map((v) => v.name));
    for (const view of views) {
      expect((view.TableInput as JsonObject).TableType).toBe('VIRTUAL_VIEW');
      expect(view.DatabaseName).toEqual(ref(platform.serving, platform.storage.databases.gold.databaseName));
    }
    expect(platform.serving.dependencies).toContain(platform.storage);
  });

  test('the stacks that grant deploy after the storage stack', () => {
    for (const stack of [platform.ingestion, platform.transform, platform.serving]) {
      expect(stack.dependencies).toContain(platform.storage);
    }
  });

  test('the grants construct lists the grants the templates hold', () => {
    const made = [
      ...platform.storage.lakeGrants.grants,
      ...platform.ingestion.lakeGrants.grants,
      ...platform.transform.lakeGrants.grants,
      ...platform.serving.lakeGrants.grants,
    ];
    expect(made).toHaveLength(expectedGrants(platform).length);
    // dim_customer's contact names, phone and address are never granted to analysts.
    const customer = made.find((g) => g.request.principal === platform.serving.analystRole && g.request.table === 'dim_customer');
    expect(customer?.request.excludedColumns).toEqual(
      expect.arrayContaining(['contact_last_name', 'contact_first_name', 'phone', 'address_line1', 'address_line2', 'postal_code']),
    );
    // raw (read), curated and quarantine (write), and gold for Spectrum where the warehouse is on.
    expect(made.filter((g) => g.request.table === ALL_TABLES)).toHaveLength(platform.storage.warehouse ? 4 : 3);
  });
});
