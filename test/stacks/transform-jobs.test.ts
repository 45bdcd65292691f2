import { Template } from 'aws-cdk-lib/assertions';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { GlueSparkJob } from '../../lib/transform/glue-spark-job';
import { goldTableDeclarations, sourceTableDeclarations } from '../../lib/lake/datasets';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  asList,
  asRendered,
  expectGlueOnlyRole,
  identityStatements,
  JsonObject,
  logicalId,
  ref,
  resourcesOf,
  rolePolicyStatements,
  roleUnscopedPolicyStatements,
  StatementJson,
} from './template-helpers';

const SOURCES = sourceTableDeclarations().map((d) => d.name);
const GOLDS = goldTableDeclarations().map((d) => d.name);
/** The Data Catalog: this account's in dev, the pinned account's (-c account=123456789012) in prod. */
const CATALOG = { dev: { Ref: 'AWS::AccountId' }, prod: '123456789012' } as const;

/**
 * A policy as a set of single permissions, `<action> on <resource> [if <condition>]`, so that
 * two policies compare equal however CDK merged their statements.
 */
function permissions(statements: readonly StatementJson[]): string[] {
  const result = new Set<string>();
  for (const statement of statements) {
    expect(statement.Effect).toBe('Allow');
    for (const action of asList(statement.Action)) {
      for (const resource of asList(statement.Resource)) {
        result.add(`${action} on ${JSON.stringify(resource)}${statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : ''}`);
      }
    }
  }
  return [...result].sort();
}

function permission(action: string, resource: unknown, condition?: unknown): string {
  return `${action} on ${JSON.stringify(resource)}${condition ? ` if ${JSON.stringify(condition)}` : ''}`;
}

describe.each(['dev', 'prod'] as const)('TransformStack in %s: SourceToCurated and CuratedToGold', (envName) => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let jobs: Record<string, JsonObject>;
  const namespace = `Undercurrent/${envName}/Transform`;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('transform');
    jobs = Object.fromEntries(Object.entries(resourcesOf(template, 'AWS::Glue::Job')).map(([id, r]) => [id, r.Properties!]));
  });

  const jobProps = (job: GlueSparkJob): JsonObject => jobs[logicalId(job.job)];
  const s = (token: string): unknown => ref(platform.transform, token);
  const bucket = (zone: 'raw' | 'curated' | 'quarantine' | 'gold') => platform.storage.buckets[zone];
  /** The ARN of one exact key (or, with a trailing `*`, of a key pattern) of a lake bucket. */
  const object = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', key: string) => s(bucket(zone).arnForObjects(key));
  const list = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', dir: string) =>
    permission('s3:ListBucket', s(bucket(zone).bucketArn), { StringLike: { 's3:prefix': [`${dir}/*`] } });
  /**
   * Reading `<dir>/`: its objects, plus the two exact keys Glue's s3:// probes, the prefix key
   * `<dir>` and its marker `<dir>_$folder$` (no sibling such as `<dir>*`), and listing `<dir>/`.
   */
  const read = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', dir: string) => [
    permission('s3:GetObject', object(zone, `${dir}/*`)),
    permission('s3:GetObject', object(zone, dir)),
    permission('s3:GetObject', object(zone, `${dir}_$folder$`)),
    list(zone, dir),
  ];
  /** Reading `<dir>/`, writing and deleting its objects, and writing (only) its `<dir>_$folder$` marker. */
  const readWrite = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', dir: string) => [
    ...read(zone, dir),
    ...['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'].map((a) => permission(a, object(zone, `${dir}/*`))),
    permission('s3:PutObject', object(zone, `${dir}_$folder$`)),
  ];
  /** A log group's bare ARN `arn:...:log-group:<name>` (what the group-level actions are checked on), as the stack renders it. */
  const bareLogGroupArn = (groupId: string) =>
    asRendered(envName, {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: groupId }]],
    });
  /**
   * What every job role's main policy has: its script and package, the lake and ops keys, and
   * on exactly its two log groups (each group's bare ARN and its `Arn`, `...:log-group:<name>:*`,
   * which covers its streams) creating them, associating the key and writing their streams.
   */
  const jobBasics = (job: GlueSparkJob) => {
    const asset = (child: 'Script' | 'PythonPackage') => {
      const a = job.node.findChild(child) as s3assets.Asset;
      return s(a.bucket.arnForObjects(a.s3ObjectKey));
    };
    const lake = s(platform.foundation.keys.lake.keyArn);
    const ops = s(platform.foundation.keys.ops.keyArn);
    const groups = job.logGroups.map((g) => logicalId(g));
    return [
      permission('s3:GetObject', asset('Script')),
      permission('s3:GetObject', asset('PythonPackage')),
      ...[...groups.map(bareLogGroupArn), ...groups.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))].flatMap((group) =>
        ['logs:CreateLogGroup', 'logs:AssociateKmsKey', 'logs:CreateLogStream', 'logs:PutLogEvents'].map((a) => permission(a, group)),
      ),
      ...[lake, ops].flatMap((key) => ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt'].map((a) => permission(a, key))),
    ];
  };
  /** What every job role's unscoped policy (its statements on "*") holds: metrics into Glue and the stage's namespace, nothing else. */
  const unscopedBasics = () => [permission('cloudwatch:PutMetricData', '*', { StringEquals: { 'cloudwatch:namespace': ['Glue', namespace] } })];

  test.each(['SourceToCurated', 'CuratedToGold'] as const)(
    '%s logs into the two groups Glue names under the stack\'s security configuration: <prefix>/<stack>-glue-role/<job role>/error|output',
    (jobId) => {
      const job = jobId === 'SourceToCurated' ? platform.transform.sourceJob : platform.transform.goldJob;
      const props = jobProps(job);
      const prefix = `/aws-glue/Undercurrent-${envName}-Transform/${jobId}`;
      expect(props.DefaultArguments['--custom-logGroup-prefix']).toBe(prefix);
      const config = resourcesOf(template, 'AWS::Glue::SecurityConfiguration')[props.SecurityConfiguration.Ref];
      expect(config.Properties?.Name).toBe(`Undercurrent-${envName}-Transform-glue`);
      expect(config.Properties?.EncryptionConfiguration.CloudWatchEncryption.CloudWatchEncryptionMode).toBe('SSE-KMS');
      const roleId = logicalId(job.role);
      expect(props.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      expect(job.logGroups.map((g) => groups[logicalId(g)].Properties?.LogGroupName)).toEqual(
        ['error', 'output'].map((kind) => ({ 'Fn::Join': ['', [`${prefix}/Undercurrent-${envName}-Transform-glue-role/`, { Ref: roleId }, `/${kind}`]] })),
      );
    },
  );

  describe('SourceToCurated', () => {
    test('runs jobs/source_raw_to_curated.py with raw source/, the curated and quarantine roots and the metrics namespace, bookmarks off', () => {
      const job = jobProps(platform.transform.sourceJob);
      // The asset bucket of this account and region in dev, of the pinned ones in prod.
      expect(job.Command.ScriptLocation).toEqual(
        envName === 'dev'
          ? { 'Fn::Join': ['', expect.arrayContaining([expect.stringMatching(/\.py$/)])] }
          : expect.stringMatching(/^s3:\/\/cdk-hnb659fds-assets-123456789012-us-east-1\/[0-9a-f]{64}\.py$/),
      );
      expect(job.DefaultArguments).toEqual(
        expect.objectContaining({
          '--raw_path': s(bucket('raw').s3UrlForObject('source/')),
          '--curated_path': { 'Fn::Join': ['', ['s3://', s(bucket('curated').bucketName), '/']] },
          '--quarantine_path': { 'Fn::Join': ['', ['s3://', s(bucket('quarantine').bucketName), '/']] },
          '--metrics_namespace': namespace,
          '--job-bookmark-option': 'job-bookmark-disable',
        }),
      );
      expect(job.DefaultArguments['--datalake-formats']).toBeUndefined();
      expect(job.DefaultArguments['--conf']).toBeUndefined();
    });

    test('its role holds exactly: raw source/ read, each curated and quarantine <table>/ read-write (each prefix with its key and _$folder$ marker), the keys and logs; and on "*" only metrics, in its unscoped policy', () => {
      const expected = [
        ...jobBasics(platform.transform.sourceJob),
        ...read('raw', 'source'),
        ...SOURCES.flatMap((t) => [...readWrite('curated', t), ...readWrite('quarantine', t)]),
        permission('kms:Decrypt', s(platform.foundation.keys.lake.keyArn)),
      ];
      expect(permissions(rolePolicyStatements(template, 'Transform/SourceToCurated/Role'))).toEqual([...new Set(expected)].sort());
      expect(permissions(roleUnscopedPolicyStatements(template, 'Transform/SourceToCurated/Role'))).toEqual(unscopedBasics());
      expectGlueOnlyRole(template, logicalId(platform.transform.sourceJob.role));
    });
  });

  describe('CuratedToGold', () => {
    test('runs jobs/curated_to_gold.py with the curated root, curated clickstream_events/, the gold database and root, bookmarks off', () => {
      const job = jobProps(platform.transform.goldJob);
      expect(job.DefaultArguments).toEqual(
        expect.objectContaining({
          '--curated_path': { 'Fn::Join': ['', ['s3://', s(bucket('curated').bucketName), '/']] },
          '--clickstream_path': s(bucket('curated').s3UrlForObject('clickstream_events/')),
          '--gold_database': s(platform.storage.databases.gold.databaseName),
          '--gold_path': { 'Fn::Join': ['', ['s3://', s(bucket('gold').bucketName), '/']] },
          '--metrics_namespace': namespace,
          '--job-bookmark-option': 'job-bookmark-disable',
        }),
      );
    });

    test('Iceberg: --datalake-formats iceberg and the --conf chain of the glue_catalog catalog over s3://<gold>/', () => {
      const args = jobProps(platform.transform.goldJob).DefaultArguments;
      expect(args['--datalake-formats']).toBe('iceberg');
      expect(args['--conf']).toEqual({
        'Fn::Join': [
          '',
          [
            'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions' +
              ' --conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog' +
              ' --conf spark.sql.catalog.glue_catalog.warehouse=s3://',
            s(bucket('gold').bucketName),
            '/ --conf spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog' +
              ' --conf spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO',
          ],
        ],
      });
    });

    test('its role holds exactly: curated source tables and clickstream_events read, each gold <table>/ read-write (each prefix with its key and _$folder$ marker), the gold catalog, keys and logs; and on "*" only metrics, in its unscoped policy', () => {
      const stack = platform.transform;
      const goldDb = platform.storage.databases.gold.databaseName;
      const glueArn = (resource: string, name?: string) => stack.resolve(stack.formatArn({ service: 'glue', resource, resourceName: name }));
      const catalog = [glueArn('catalog'), glueArn('database', goldDb), ...GOLDS.map((t) => glueArn('table', `${goldDb}/${t}`))];
      const expected = [
        ...jobBasics(stack.goldJob),
        ...[...SOURCES, 'clickstream_events'].flatMap((t) => read('curated', t)),
        ...GOLDS.flatMap((t) => readWrite('gold', t)),
        ...['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:UpdateTable'].flatMap((a) => catalog.map((r) => permission(a, r))),
        permission('kms:Decrypt', s(platform.foundation.keys.lake.keyArn)),
      ];
      expect(permissions(rolePolicyStatements(template, 'Transform/CuratedToGold/Role'))).toEqual([...new Set(expected)].sort());
      expect(permissions(roleUnscopedPolicyStatements(template, 'Transform/CuratedToGold/Role'))).toEqual(unscopedBasics());
      expectGlueOnlyRole(template, logicalId(stack.goldJob.role));
    });

    test('its role cannot create, delete or touch tables outside the gold database (in either of its policies)', () => {
      const text = JSON.stringify([
        ...rolePolicyStatements(template, 'Transform/CuratedToGold/Role'),
        ...roleUnscopedPolicyStatements(template, 'Transform/CuratedToGold/Role'),
      ]);
      for (const action of ['glue:CreateTable', 'glue:DeleteTable', 'glue:CreateDatabase', 'glue:GetPartitions']) {
        expect(text).not.toContain(action);
      }
      expect(text).not.toMatch(/:table\/[^"]*\*/);
      expect(text).not.toContain('RawZone');
      expect(text).not.toContain('QuarantineZone');
    });
  });

  describe('execution class', () => {
    test(`every Spark job of the stage runs ${envName === 'dev' ? 'FLEX (non-urgent dev runs on spare capacity)' : 'STANDARD'}`, () => {
      const classes = Object.values(jobs).map((j) => j.ExecutionClass);
      expect(classes).toEqual(['dev'].includes(envName) ? ['FLEX', 'FLEX', 'FLEX'] : ['STANDARD', 'STANDARD', 'STANDARD']);
      for (const job of Object.values(jobs)) {
        expect(['G.1X', 'G.2X']).toContain(job.WorkerType);
        // Glue refuses job run queuing for Flex jobs.
        expect(job.JobRunQueuingEnabled ?? false).toBe(false);
      }
    });
  });

  describe('Lake Formation', () => {
    const grantsOf = (roleArn: string) =>
      Object.values(resourcesOf(template, 'AWS::LakeFormation::PrincipalPermissions'))
        .map((r) => r.Properties!)
        .filter((p) => JSON.stringify(p.Principal) === JSON.stringify({ DataLakePrincipalIdentifier: s(roleArn) }))
        .map((p) => JSON.stringify({ permissions: p.Permissions, resource: p.Resource, withGrant: p.PermissionsWithGrantOption }))
        .sort();
    const grant = (permissions: string[], resource: unknown) => JSON.stringify({ permissions, resource, withGrant: [] });
    const table = (zone: 'raw' | 'curated' | 'quarantine' | 'gold', name: string) => ({
      Table: { CatalogId: CATALOG[envName], DatabaseName: s(platform.storage.databases[zone].databaseName), Name: name },
    });
    const location = (zone: 'curated' | 'quarantine' | 'gold') => ({ DataLocation: { CatalogId: CATALOG[envName], ResourceArn: s(bucket(zone).bucketArn) } });

    test('SourceToCurated: select its raw tables; write its curated and quarantine tables and locations; nothing else', () => {
      expect(grantsOf(platform.transform.sourceJob.role.roleArn)).toEqual(
        [
          grant(['DATA_LOCATION_ACCESS'], location('curated')),
          grant(['DATA_LOCATION_ACCESS'], location('quarantine')),
          ...SOURCES.flatMap((t) => [
            grant(['DESCRIBE', 'SELECT'], table('raw', `source_${t}`)),
            grant(['ALTER', 'DESCRIBE', 'INSERT'], table('curated', t)),
            grant(['ALTER', 'DESCRIBE', 'INSERT'], table('quarantine', t)),
          ]),
        ].sort(),
      );
    });

    test('CuratedToGold: select its curated tables; describe gold and write each gold table as Iceberg commits need; nothing else', () => {
      expect(grantsOf(platform.transform.goldJob.role.roleArn)).toEqual(
        [
          grant(['DATA_LOCATION_ACCESS'], location('gold')),
          grant(['DESCRIBE'], { Database: { CatalogId: CATALOG[envName], Name: s(platform.storage.databases.gold.databaseName) } }),
          ...[...SOURCES, 'clickstream_events'].map((t) => grant(['DESCRIBE', 'SELECT'], table('curated', t))),
          ...GOLDS.map((t) => grant(['ALTER', 'DELETE', 'DESCRIBE', 'INSERT', 'SELECT'], table('gold', t))),
        ].sort(),
      );
    });
  });

  describe('data-quality rulesets', () => {
    const rulesets = () => resourcesOf(template, 'AWS::Glue::DataQualityRuleset');
    const byName = () => new Map(Object.values(rulesets()).map((r) => [r.Properties!.Name as string, r.Properties!]));

    /**
     * Every ruleset: zone, table, severity, the construct id of before the rename (kept, so the
     * resources are updated in place), and the datasets its references rules read.
     */
    const EXPECTED: readonly [zone: 'curated' | 'gold', table: string, severity: 'blocking' | 'warning', id: string, references: string][] = [
      ['curated', 'customers', 'blocking', 'CuratedCustomersBlocking', ''],
      ['curated', 'customers', 'warning', 'CuratedCustomersWarning', 'employees'],
      ['curated', 'employees', 'blocking', 'CuratedEmployeesBlocking', 'offices'],
      ['curated', 'employees', 'warning', 'CuratedEmployeesWarning', 'employees'],
      ['curated', 'offices', 'blocking', 'CuratedOfficesBlocking', ''],
      ['curated', 'offices', 'warning', 'CuratedOfficesWarning', ''],
      ['curated', 'order_lines', 'blocking', 'CuratedOrderLinesBlocking', 'products, orders'],
      ['curated', 'orders', 'blocking', 'CuratedOrdersBlocking', 'customers'],
      ['curated', 'orders', 'warning', 'CuratedOrdersWarning', ''],
      ['curated', 'payments', 'blocking', 'CuratedPaymentsBlocking', 'customers'],
      ['curated', 'product_lines', 'blocking', 'CuratedProductLinesBlocking', ''],
      ['curated', 'products', 'blocking', 'CuratedProductsBlocking', 'product_lines'],
      ['curated', 'products', 'warning', 'CuratedProductsWarning', ''],
      ['gold', 'clickstream_sessions', 'blocking', 'GoldClickstreamSessionsBlocking', ''],
      ['gold', 'daily_product_views', 'blocking', 'GoldDailyProductViewsBlocking', ''],
      ['gold', 'daily_product_views', 'warning', 'GoldDailyProductViewsWarning', ''],
      ['gold', 'dim_customer', 'blocking', 'GoldDimCustomerBlocking', ''],
      ['gold', 'dim_customer', 'warning', 'GoldDimCustomerWarning', ''],
      ['gold', 'dim_date', 'blocking', 'GoldDimDateBlocking', ''],
      ['gold', 'dim_employee', 'blocking', 'GoldDimEmployeeBlocking', ''],
      ['gold', 'dim_product', 'blocking', 'GoldDimProductBlocking', ''],
      ['gold', 'fact_order_line', 'blocking', 'GoldFactOrderLineBlocking', 'dim_customer, dim_product'],
      ['gold', 'fact_order_line', 'warning', 'GoldFactOrderLineWarning', 'dim_employee'],
    ];
    const nameOf = (zone: string, table: string, severity: string): string =>
      `undercurrent_${envName}_${zone}_${table}_${severity === 'blocking' ? 'rules' : 'warning_rules'}`;
    const jobOf = (zone: string): 'SourceToCurated' | 'CuratedToGold' => (zone === 'curated' ? 'SourceToCurated' : 'CuratedToGold');

    test('there are exactly these 23 rulesets: one of the blocking rules of every curated source table and gold table, one of the warnings where there are any', () => {
      expect([...byName().keys()].sort()).toEqual(EXPECTED.map(([zone, table, severity]) => nameOf(zone, table, severity)).sort());
      expect(EXPECTED.filter(([, , severity]) => severity === 'blocking').map(([zone, table]) => `${zone}_${table}`)).toEqual([
        ...SOURCES.map((t) => `curated_${t}`),
        ...GOLDS.map((t) => `gold_${t}`),
      ]);
    });

    test('no ruleset name promises enforcement: none says blocking, and a warning ruleset ends in _warning_rules', () => {
      for (const name of byName().keys()) {
        expect(name).not.toMatch(/blocking|_warning$/);
        expect(name).toMatch(new RegExp(`^undercurrent_${envName}_(curated|gold)_[a-z_]+_(rules|warning_rules)$`));
      }
      expect(byName().has(`undercurrent_${envName}_curated_orders_rules`)).toBe(true);
      expect(byName().has(`undercurrent_${envName}_gold_fact_order_line_warning_rules`)).toBe(true);
    });

    test.each(EXPECTED.map(([zone, table, severity, id]) => [`${zone} ${table} ${severity}`, zone, table, severity, id] as const))(
      'the %s ruleset keeps its construct id and is tagged with its severity and the job that enforces its rules',
      (_what, zone, table, severity, id) => {
        const job = zone === 'curated' ? platform.transform.sourceJob : platform.transform.goldJob;
        const [logicalIdOfRuleset, ruleset] = Object.entries(rulesets()).find(([, r]) => r.Properties!.Name === nameOf(zone, table, severity))!;
        expect(logicalIdOfRuleset).toMatch(new RegExp(`^DataQuality${id}[0-9A-F]{8}$`));
        expect(ruleset.Properties!.Tags).toEqual({
          app: 'Undercurrent',
          environment: envName,
          stage: 'Transform',
          severity,
          'enforced-by': { Ref: logicalId(job.job) },
        });
        expect(ruleset.Properties!.TargetTable).toEqual({ DatabaseName: s(platform.storage.databases[zone].databaseName), TableName: table });
      },
    );

    test.each(EXPECTED.map(([zone, table, severity, , references]) => [`${zone} ${table} ${severity}`, zone, table, severity, references] as const))(
      'the description of the %s ruleset says the pipeline does not evaluate it, which job enforces its rules, and what a Glue Data Quality run of it needs',
      (_what, zone, table, severity, references) => {
        const job = jobOf(zone);
        const holds =
          severity === 'warning'
            ? `the rules of ${zone} ${table} whose failure ${job} only reports (action warn)`
            : zone === 'curated'
              ? `the rules of curated ${table} whose failure SourceToCurated treats as blocking (action block, and quarantine: after quarantine the curated rows must satisfy them)`
              : `the rules of gold ${table} whose failure CuratedToGold treats as blocking (action block; gold has no quarantine)`;
        const run =
          references === ''
            ? 'It has no referential rules: a Glue Data Quality run needs only the target table.'
            : `A Glue Data Quality run of its ReferentialIntegrity rules needs the referenced datasets as additional data sources, aliased ${references} (the tables of those names in the same database).`;
        expect(byName().get(nameOf(zone, table, severity))!.Description).toBe(
          `Reference copy of ${holds}, from the dataset declaration. The pipeline does not evaluate this ruleset: job ${job} enforces the same rules on every run. ${run}`,
        );
      },
    );

    /**
     * The rules of each ruleset (by name, without the `undercurrent_<env>_` prefix), spelled
     * out from the dataset declarations (glue-scripts/lib/undercurrent_glue/schemas/), in the
     * order of the declaration: a changed declaration or a changed DQDL rendering shows here.
     */
    const RULES: Record<string, readonly string[]> = {
      curated_customers_rules: [
        'IsComplete "customer_number"',
        'IsComplete "customer_name"',
        'IsComplete "contact_last_name"',
        'IsComplete "contact_first_name"',
        'IsComplete "phone"',
        'IsComplete "address_line1"',
        'IsComplete "city"',
        'IsComplete "country"',
        'IsComplete "updated_at"',
        'IsUnique "customer_number"',
        '(ColumnValues "credit_limit" >= 0) or (ColumnValues "credit_limit" = NULL)',
        'RowCount >= 1',
      ],
      curated_customers_warning_rules: [
        'ReferentialIntegrity "sales_rep_employee_number" "employees.employee_number" = 1.0',
        'Completeness "sales_rep_employee_number" >= 0.7',
      ],
      curated_employees_rules: [
        'IsComplete "employee_number"',
        'IsComplete "last_name"',
        'IsComplete "first_name"',
        'IsComplete "extension"',
        'IsComplete "email"',
        'IsComplete "office_code"',
        'IsComplete "job_title"',
        'IsComplete "updated_at"',
        'IsUnique "employee_number"',
        'ReferentialIntegrity "office_code" "offices.office_code" = 1.0',
        'RowCount >= 1',
      ],
      curated_employees_warning_rules: [
        'ReferentialIntegrity "reports_to" "employees.employee_number" = 1.0',
      ],
      curated_offices_rules: [
        'IsComplete "office_code"',
        'IsComplete "city"',
        'IsComplete "phone"',
        'IsComplete "address_line1"',
        'IsComplete "country"',
        'IsComplete "postal_code"',
        'IsComplete "territory"',
        'IsComplete "updated_at"',
        'IsUnique "office_code"',
        'RowCount >= 1',
      ],
      curated_offices_warning_rules: [
        'ColumnValues "territory" in ["NA", "EMEA", "APAC", "Japan"]',
      ],
      curated_order_lines_rules: [
        'IsComplete "order_number"',
        'IsComplete "product_code"',
        'IsComplete "quantity_ordered"',
        'IsComplete "price_each"',
        'IsComplete "order_line_number"',
        'IsComplete "updated_at"',
        'IsPrimaryKey "order_number" "product_code"',
        'ColumnValues "quantity_ordered" >= 1',
        'ColumnValues "price_each" >= 0',
        'ColumnValues "order_line_number" >= 1',
        'ReferentialIntegrity "product_code" "products.product_code" = 1.0',
        'ReferentialIntegrity "order_number" "orders.order_number" = 1.0',
        'RowCount >= 1',
      ],
      curated_orders_rules: [
        'IsComplete "order_number"',
        'IsComplete "order_date"',
        'IsComplete "required_date"',
        'IsComplete "status"',
        'IsComplete "customer_number"',
        'IsComplete "updated_at"',
        'IsUnique "order_number"',
        'ColumnValues "status" in ["Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process"]',
        'ReferentialIntegrity "customer_number" "customers.customer_number" = 1.0',
        'RowCount >= 1',
      ],
      curated_orders_warning_rules: [
        'DataFreshness "updated_at" <= 48 hours',
      ],
      curated_payments_rules: [
        'IsComplete "customer_number"',
        'IsComplete "check_number"',
        'IsComplete "payment_date"',
        'IsComplete "amount"',
        'IsComplete "updated_at"',
        'IsPrimaryKey "customer_number" "check_number"',
        'ColumnValues "amount" >= 0',
        'ReferentialIntegrity "customer_number" "customers.customer_number" = 1.0',
        'RowCount >= 1',
      ],
      curated_product_lines_rules: [
        'IsComplete "product_line"',
        'IsComplete "updated_at"',
        'IsUnique "product_line"',
        'RowCount >= 1',
      ],
      curated_products_rules: [
        'IsComplete "product_code"',
        'IsComplete "product_name"',
        'IsComplete "product_line"',
        'IsComplete "product_scale"',
        'IsComplete "product_vendor"',
        'IsComplete "product_description"',
        'IsComplete "quantity_in_stock"',
        'IsComplete "buy_price"',
        'IsComplete "msrp"',
        'IsComplete "updated_at"',
        'IsUnique "product_code"',
        'ColumnValues "buy_price" >= 0',
        'ColumnValues "msrp" >= 0',
        'ReferentialIntegrity "product_line" "product_lines.product_line" = 1.0',
        'RowCount >= 1',
      ],
      curated_products_warning_rules: [
        'ColumnValues "quantity_in_stock" >= 0',
      ],
      gold_clickstream_sessions_rules: [
        'IsComplete "session_id"',
        'IsComplete "session_start"',
        'IsComplete "session_end"',
        'IsComplete "events"',
        'IsComplete "page_views"',
        'IsComplete "product_views"',
        'IsComplete "added_to_cart"',
        'IsComplete "purchased"',
        'IsComplete "session_date"',
        'IsUnique "session_id"',
        'ColumnValues "events" >= 1',
      ],
      gold_daily_product_views_rules: [
        'IsComplete "product_code"',
        'IsComplete "views"',
        'IsComplete "add_to_carts"',
        'IsComplete "purchases"',
        'IsComplete "event_date"',
        'IsPrimaryKey "event_date" "product_code"',
      ],
      gold_daily_product_views_warning_rules: [
        '(ColumnValues "conversion_rate" >= 0) or (ColumnValues "conversion_rate" = NULL)',
      ],
      gold_dim_customer_rules: [
        'IsComplete "customer_key"',
        'IsComplete "customer_number"',
        'IsComplete "customer_name"',
        'IsComplete "contact_last_name"',
        'IsComplete "contact_first_name"',
        'IsComplete "phone"',
        'IsComplete "address_line1"',
        'IsComplete "city"',
        'IsComplete "country"',
        'IsComplete "valid_from"',
        'IsComplete "is_current"',
        'IsUnique "customer_key"',
        'IsPrimaryKey "customer_number" "valid_from"',
      ],
      gold_dim_customer_warning_rules: [
        '(ColumnValues "credit_limit" >= 0) or (ColumnValues "credit_limit" = NULL)',
      ],
      gold_dim_date_rules: [
        'IsComplete "date_key"',
        'IsComplete "full_date"',
        'IsComplete "year"',
        'IsComplete "quarter"',
        'IsComplete "month"',
        'IsComplete "month_name"',
        'IsComplete "day_of_month"',
        'IsComplete "day_of_week"',
        'IsComplete "day_name"',
        'IsComplete "is_weekend"',
        'IsUnique "date_key"',
        'ColumnValues "month" >= 1',
        'ColumnValues "month" <= 12',
        'ColumnValues "day_of_week" >= 1',
        'ColumnValues "day_of_week" <= 7',
      ],
      gold_dim_employee_rules: [
        'IsComplete "employee_key"',
        'IsComplete "employee_number"',
        'IsComplete "last_name"',
        'IsComplete "first_name"',
        'IsComplete "job_title"',
        'IsComplete "office_code"',
        'IsComplete "office_city"',
        'IsComplete "office_country"',
        'IsComplete "office_territory"',
        'IsUnique "employee_key"',
        'IsUnique "employee_number"',
      ],
      gold_dim_product_rules: [
        'IsComplete "product_key"',
        'IsComplete "product_code"',
        'IsComplete "product_name"',
        'IsComplete "product_line"',
        'IsComplete "product_scale"',
        'IsComplete "product_vendor"',
        'IsComplete "buy_price"',
        'IsComplete "msrp"',
        'IsUnique "product_key"',
        'IsUnique "product_code"',
        'ColumnValues "buy_price" >= 0',
        'ColumnValues "msrp" >= 0',
      ],
      gold_fact_order_line_rules: [
        'IsComplete "order_number"',
        'IsComplete "order_line_number"',
        'IsComplete "customer_key"',
        'IsComplete "product_key"',
        'IsComplete "order_date_key"',
        'IsComplete "required_date_key"',
        'IsComplete "quantity_ordered"',
        'IsComplete "price_each"',
        'IsComplete "amount"',
        'IsComplete "status"',
        'IsComplete "order_date"',
        'IsPrimaryKey "order_number" "product_key"',
        'ReferentialIntegrity "customer_key" "dim_customer.customer_key" = 1.0',
        'ReferentialIntegrity "product_key" "dim_product.product_key" = 1.0',
        'ColumnValues "quantity_ordered" >= 1',
        'ColumnValues "amount" >= 0',
      ],
      gold_fact_order_line_warning_rules: [
        'ReferentialIntegrity "employee_key" "dim_employee.employee_key" = 1.0',
        'Completeness "employee_key" >= 0.9',
        'RowCount >= 1',
      ],
    };
    /** A DQDL ruleset: `Rules = [`, one rule per line indented by two spaces, comma-separated, `]`. */
    const dqdl = (rules: readonly string[]): string => `Rules = [\n  ${rules.join(',\n  ')}\n]`;

    test('every ruleset holds the rules of its declaration and severity, rendered as DQDL', () => {
      const prefix = `undercurrent_${envName}_`;
      expect(Object.fromEntries([...byName()].map(([name, ruleset]) => [name.slice(prefix.length), ruleset.Ruleset]))).toEqual(
        Object.fromEntries(Object.entries(RULES).map(([name, rules]) => [name, dqdl(rules)])),
      );
      expect(Object.keys(RULES).sort()).toEqual(EXPECTED.map(([zone, table, severity]) => nameOf(zone, table, severity).slice(prefix.length)).sort());
    });

    test('the blocking ruleset of a curated table holds its quarantine rules (they hold on curated after quarantine)', () => {
      const orders = byName().get(`undercurrent_${envName}_curated_orders_rules`)!;
      expect(orders.Ruleset).toContain('IsComplete "order_number"');
      expect(orders.Ruleset).toContain('IsUnique "order_number"');
      expect(orders.Ruleset).toMatch(/^Rules = \[\n {2}IsComplete "order_number",\n/);
    });

    test('nothing in the pipeline evaluates a ruleset: no role of the transform or orchestration stage may start a Glue Data Quality run', () => {
      for (const stack of ['transform', 'orchestration'] as const) {
        const actions = identityStatements(platform.template(stack)).flatMap(({ statement }) => asList(statement.Action));
        expect(actions.filter((a) => /dataquality/i.test(a))).toEqual([]);
      }
      expect(JSON.stringify(platform.template('orchestration').toJSON())).not.toMatch(/DataQuality/i);
    });
  });

  describe('alarms on the jobs’ metrics', () => {
    const alarms = () => Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((r) => r.Properties!);
    const topic = () => s(platform.foundation.alertsTopic.topicArn);

    test.each([
      ['SourceToCurated', 'SchemaDrift', 'Critical'],
      ['SourceToCurated', 'DataQualityFailures', 'Critical'],
      ['SourceToCurated', 'DataQualityWarnings', 'Warning'],
      ['SourceToCurated', 'RowsQuarantined', 'Warning'],
      ['CuratedToGold', 'DataQualityFailures', 'Critical'],
      ['CuratedToGold', 'DataQualityWarnings', 'Warning'],
      ['ClickstreamToCurated', 'RowsQuarantined', 'Warning'],
    ] as const)('%s: %s >= 1 of any dataset raises a %s alarm to the alerts topic, one alarm per dataset', (jobId, metric, severity) => {
      const { sourceJob, goldJob, clickstreamJob } = platform.transform;
      const job = { SourceToCurated: sourceJob, CuratedToGold: goldJob, ClickstreamToCurated: clickstreamJob }[jobId];
      const datasets = { SourceToCurated: SOURCES, CuratedToGold: GOLDS, ClickstreamToCurated: ['clickstream_events'] }[jobId];
      for (const dataset of datasets) {
        const matching = alarms().filter(
          (a) =>
            a.MetricName === metric &&
            JSON.stringify(a.Dimensions) ===
              JSON.stringify([
                { Name: 'Dataset', Value: dataset },
                { Name: 'Job', Value: { Ref: logicalId(job.job) } },
              ]),
        );
        expect({ dataset, count: matching.length }).toEqual({ dataset, count: 1 });
        expect(matching[0]).toEqual(
          expect.objectContaining({
            Namespace: namespace,
            Statistic: 'Sum',
            Period: 300,
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
            EvaluationPeriods: 1,
            TreatMissingData: 'notBreaching',
            AlarmActions: [topic()],
            OKActions: [topic()],
          }),
        );
        expect(matching[0].AlarmName).toMatch(new RegExp(`^Undercurrent-${envName}-Transform-${severity}-${jobId}`));
      }
    });

    test('the stage alarms only on these metrics: 4 per source table, 2 per gold table, 1 for click events', () => {
      expect(alarms()).toHaveLength(SOURCES.length * 4 + GOLDS.length * 2 + 1);
      for (const alarm of alarms()) {
        expect(alarm.Namespace).toBe(namespace);
      }
    });

    test('a failed, timed-out or stopped run of each new job notifies the alerts topic', () => {
      for (const job of [platform.transform.sourceJob, platform.transform.goldJob]) {
        template.hasResourceProperties('AWS::Events::Rule', {
          EventPattern: {
            source: ['aws.glue'],
            'detail-type': ['Glue Job State Change'],
            detail: { jobName: [{ Ref: logicalId(job.job) }], state: ['FAILED', 'TIMEOUT', 'STOPPED'] },
          },
        });
      }
    });
  });
});
