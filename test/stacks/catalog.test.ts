import { CfnResource } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as path from 'path';
import { glueColumns, glueType } from '../../lib/lake/catalog';
import { datasetDeclaration, SCHEMAS_DIR } from '../../lib/lake/datasets';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, CfnResourceJson, logicalId, resourcesOf, rolePolicyStatements } from './template-helpers';

/** The declaration both the catalog and the Spark job are built from, read as plain JSON. */
const DECLARATION = datasetDeclaration('clickstream_event');

/** The date projection every clickstream partition key has: one value a day from 2024-01-01 to today. */
const DAILY_PROJECTION = (key: string) => ({
  [`projection.${key}.type`]: 'date',
  [`projection.${key}.range`]: '2024-01-01,NOW',
  [`projection.${key}.format`]: 'yyyy-MM-dd',
  [`projection.${key}.interval`]: '1',
  [`projection.${key}.interval.unit`]: 'DAYS',
});

const nameAndType = (columns: { Name: string; Type: string }[]) => columns.map(({ Name, Type }) => ({ name: Name, type: Type }));

describe.each(['dev', 'prod'] as const)('the clickstream catalog tables in %s', (envName) => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let tables: Record<'raw' | 'curated' | 'quarantine', CfnResourceJson>;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('storage');
    const all = resourcesOf(template, 'AWS::Glue::Table');
    const { clickstreamTables } = platform.storage;
    tables = {
      raw: all[logicalId(clickstreamTables.raw.node.defaultChild as glue.CfnTable)],
      curated: all[logicalId(clickstreamTables.curated.node.defaultChild as glue.CfnTable)],
      quarantine: all[logicalId(clickstreamTables.quarantine.node.defaultChild as glue.CfnTable)],
    };
  });

  test('there are three click-event tables, one per zone the click events pass through, none needing a crawler', () => {
    const clickstream = Object.values(resourcesOf(template, 'AWS::Glue::Table')).filter(
      (t) => t.Properties?.TableInput.Name === 'clickstream_events',
    );
    expect(clickstream).toHaveLength(3);
    for (const table of Object.values(tables)) {
      expect(table.Properties?.TableInput).toMatchObject({
        Name: 'clickstream_events',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { 'projection.enabled': 'true', has_encrypted_data: false },
      });
    }
  });

  test.each([
    ['raw', 'RawDatabase', 'RawZone', 'clickstream/'],
    ['curated', 'CuratedDatabase', 'CuratedZone', 'clickstream_events/'],
    ['quarantine', 'QuarantineDatabase', 'QuarantineZone', 'clickstream_events/'],
  ] as const)('the %s table is in the %s database and located at its zone prefix', (zone, database, bucket, prefix) => {
    const databaseId = logicalId(platform.storage.databases[zone].node.defaultChild as glue.CfnDatabase);
    const bucketId = logicalId(platform.storage.buckets[zone]);
    expect(databaseId.startsWith(database)).toBe(true);
    expect(bucketId.startsWith(bucket)).toBe(true);
    expect(tables[zone].Properties?.DatabaseName).toEqual({ Ref: databaseId });
    expect(tables[zone].Properties?.TableInput.StorageDescriptor.Location).toEqual({
      'Fn::Join': ['', ['s3://', { Ref: bucketId }, `/${prefix}`]],
    });
  });

  test('the raw table reads the GZIP JSON lines as sent: the declared columns, all strings, malformed lines as nulls', () => {
    const input = tables.raw.Properties?.TableInput;
    expect(nameAndType(input.StorageDescriptor.Columns)).toEqual(
      DECLARATION.columns.map((c) => ({ name: c.name, type: 'string' })),
    );
    expect(input.StorageDescriptor).toMatchObject({
      Compressed: true,
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      Parameters: { compression_type: 'gzip' },
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { 'ignore.malformed.json': 'true' },
      },
    });
    expect(input.Parameters.classification).toBe('json');
  });

  test('the raw table is partitioned as Firehose writes, event_date then ingest_date, both projected daily', () => {
    const input = tables.raw.Properties?.TableInput;
    expect(nameAndType(input.PartitionKeys)).toEqual([
      { name: 'event_date', type: 'string' },
      { name: 'ingest_date', type: 'string' },
    ]);
    expect(input.Parameters).toMatchObject({ ...DAILY_PROJECTION('event_date'), ...DAILY_PROJECTION('ingest_date') });
    expect(input.PartitionKeys[0].Comment).toContain('unknown');
  });

  test('schema agreement: the curated columns are the declared columns, with their names, types and order', () => {
    const input = tables.curated.Properties?.TableInput;
    expect(nameAndType(input.StorageDescriptor.Columns)).toEqual(
      DECLARATION.columns.map(({ name, type }) => ({ name, type })),
    );
    expect(input.StorageDescriptor.Columns.map((c: { Comment: string }) => c.Comment)).toEqual(
      DECLARATION.columns.map((c) => c.comment),
    );
  });

  test("schema agreement: the curated partition keys are exactly the declaration's partition_keys", () => {
    const input = tables.curated.Properties?.TableInput;
    expect(nameAndType(input.PartitionKeys)).toEqual(
      (DECLARATION.partition_keys ?? []).map(({ name, type }) => ({ name, type })),
    );
    expect(nameAndType(input.PartitionKeys)).toEqual([
      { name: 'event_date', type: 'date' },
      { name: 'ingest_date', type: 'date' },
    ]);
  });

  test('the curated table is Parquet with a daily projection of both date partitions', () => {
    const input = tables.curated.Properties?.TableInput;
    expect(input.StorageDescriptor).toMatchObject({
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
    });
    expect(input.Parameters).toMatchObject({
      classification: 'parquet',
      ...DAILY_PROJECTION('event_date'),
      ...DAILY_PROJECTION('ingest_date'),
    });
  });

  test('the quarantine table has the columns the clickstream job writes, GZIP JSON by ingest_date', () => {
    const input = tables.quarantine.Properties?.TableInput;
    // undercurrent_glue.clickstream.QUARANTINE_COLUMNS, the last one being the partition column.
    expect(nameAndType(input.StorageDescriptor.Columns)).toEqual([
      { name: 'raw_line', type: 'string' },
      { name: 'rule', type: 'string' },
      { name: 'run_id', type: 'string' },
      { name: 'quarantined_at', type: 'string' },
    ]);
    expect(nameAndType(input.PartitionKeys)).toEqual([{ name: 'ingest_date', type: 'date' }]);
    expect(input.StorageDescriptor).toMatchObject({
      Compressed: true,
      Parameters: { compression_type: 'gzip' },
      SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
    });
    expect(input.Parameters).toMatchObject(DAILY_PROJECTION('ingest_date'));
  });
});

describe('Glue columns from a declaration', () => {
  test('every declared type maps to the Glue type of the same name', () => {
    for (const type of ['string', 'int', 'bigint', 'double', 'boolean', 'date', 'timestamp', 'decimal(10,2)']) {
      expect(glueType(type).inputString).toBe(type);
    }
  });

  test('an unknown type names the column and what is allowed', () => {
    expect(() => glueType('varchar(10)', 'city')).toThrow(
      'Column "city" has type "varchar(10)"; use one of string, int, bigint, double, boolean, date, timestamp or decimal(p,s).',
    );
  });

  test('columns keep their order and comments; allStrings types every column as string', () => {
    const columns = [
      { name: 'b', type: 'int', nullable: false, comment: 'second letter' },
      { name: 'a', type: 'decimal(10,2)', nullable: true },
    ];
    expect(glueColumns(columns).map((c) => [c.name, c.type.inputString, c.comment])).toEqual([
      ['b', 'int', 'second letter'],
      ['a', 'decimal(10,2)', undefined],
    ]);
    expect(glueColumns(columns, { allStrings: true }).map((c) => c.type.inputString)).toEqual(['string', 'string']);
  });
});

/** A declaration file read as plain JSON, independently of the loader the CDK app uses. */
interface DeclarationJson {
  name: string;
  columns: { name: string; type: string; comment?: string }[];
  partition_keys?: { name: string; type: string }[];
  extract?: { mode: string };
}
function declarationsIn(dir: string): DeclarationJson[] {
  const full = path.join(SCHEMAS_DIR, dir);
  return fs
    .readdirSync(full)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(full, f), 'utf8')) as DeclarationJson);
}
const SOURCE_DECLARATIONS = declarationsIn('source');
const GOLD_DECLARATIONS = declarationsIn('gold');

describe.each(['dev', 'prod'] as const)('the source and gold catalog tables and the raw drift crawler in %s', (envName) => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let tablesByName: (database: 'raw' | 'gold') => Record<string, CfnResourceJson>;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('storage');
    const all = Object.values(resourcesOf(template, 'AWS::Glue::Table'));
    tablesByName = (zone) => {
      const databaseId = logicalId(platform.storage.databases[zone].node.defaultChild as glue.CfnDatabase);
      return Object.fromEntries(
        all
          .filter((t) => JSON.stringify(t.Properties?.DatabaseName) === JSON.stringify({ Ref: databaseId }))
          .map((t) => [t.Properties?.TableInput.Name as string, t]),
      );
    };
  });

  test('the raw database has one source_<table> table per source declaration, besides the click events', () => {
    expect(Object.keys(tablesByName('raw')).sort()).toEqual(
      ['clickstream_events', ...SOURCE_DECLARATIONS.map((d) => `source_${d.name}`)].sort(),
    );
    expect(SOURCE_DECLARATIONS).toHaveLength(8);
  });

  test.each(SOURCE_DECLARATIONS.map((d) => [d.name, d] as const))(
    'schema agreement: source_%s has the declared columns and types, then _run_id and _extracted_at',
    (_name, declaration) => {
      const input = tablesByName('raw')[`source_${declaration.name}`].Properties?.TableInput;
      expect(nameAndType(input.StorageDescriptor.Columns)).toEqual([
        ...declaration.columns.map(({ name, type }) => ({ name, type })),
        { name: '_run_id', type: 'string' },
        { name: '_extracted_at', type: 'timestamp' },
      ]);
      expect(input.StorageDescriptor.Columns.slice(0, declaration.columns.length).map((c: { Comment: string }) => c.Comment)).toEqual(
        declaration.columns.map((c) => c.comment),
      );
    },
  );

  test.each(SOURCE_DECLARATIONS.map((d) => [d.name, d] as const))(
    'source_%s is Parquet under source/<table>/, partitioned by ingest_date with a daily projection and a location template',
    (_name, declaration) => {
      const table = tablesByName('raw')[`source_${declaration.name}`];
      const input = table.Properties?.TableInput;
      const bucketRef = { Ref: logicalId(platform.storage.buckets.raw) };
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(nameAndType(input.PartitionKeys)).toEqual([{ name: 'ingest_date', type: 'date' }]);
      expect(input.StorageDescriptor.Location).toEqual({ 'Fn::Join': ['', ['s3://', bucketRef, `/source/${declaration.name}/`]] });
      expect(input.StorageDescriptor).toMatchObject({
        InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      });
      // Incremental runs write ingest_date=D/run_id=R/: Athena reads the sub-prefixes of a partition, so no run_id key.
      expect(input.Parameters).toMatchObject({
        classification: 'parquet',
        'projection.enabled': 'true',
        has_encrypted_data: false,
        ...DAILY_PROJECTION('ingest_date'),
        'storage.location.template': {
          'Fn::Join': ['', ['s3://', bucketRef, `/source/${declaration.name}/ingest_date=\${ingest_date}/`]],
        },
      });
    },
  );

  test('the gold database has one table per gold declaration: the star schema and the clickstream aggregates', () => {
    expect(Object.keys(tablesByName('gold')).sort()).toEqual(GOLD_DECLARATIONS.map((d) => d.name).sort());
    expect(GOLD_DECLARATIONS.map((d) => d.name)).toEqual([
      'clickstream_sessions',
      'daily_product_views',
      'dim_customer',
      'dim_date',
      'dim_employee',
      'dim_product',
      'fact_order_line',
    ]);
  });

  test.each(GOLD_DECLARATIONS.map((d) => [d.name, d] as const))(
    'schema agreement: gold %s is an Iceberg v2 table at s3://<gold>/<table>/ with the declared columns, then the partition columns',
    (_name, declaration) => {
      const table = tablesByName('gold')[declaration.name];
      expect(table.Properties?.OpenTableFormatInput).toEqual({ IcebergInput: { MetadataOperation: 'CREATE', Version: '2' } });
      const input = table.Properties?.TableInput;
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(input.StorageDescriptor.Location).toEqual({
        'Fn::Join': ['', ['s3://', { Ref: logicalId(platform.storage.buckets.gold) }, `/${declaration.name}/`]],
      });
      expect(nameAndType(input.StorageDescriptor.Columns)).toEqual(
        [...declaration.columns, ...(declaration.partition_keys ?? [])].map(({ name, type }) => ({ name, type })),
      );
      expect(input.PartitionKeys).toBeUndefined();
    },
  );

  test("the gold customer dimension marks the contact's name, phone and address as personal data", () => {
    const columns: { Name: string; Comment: string }[] = tablesByName('gold').dim_customer.Properties?.TableInput.StorageDescriptor.Columns;
    expect(columns.filter((c) => c.Comment === 'Personal data.').map((c) => c.Name)).toEqual([
      'contact_last_name',
      'contact_first_name',
      'phone',
      'address_line1',
      'address_line2',
      'postal_code',
    ]);
  });

  test('one crawler watches raw source/ daily, only logging schema changes and deletions, into its own drift database', () => {
    template.resourceCountIs('AWS::Glue::Crawler', 1);
    const crawler = platform.storage.rawDriftCrawler;
    const [props] = Object.values(resourcesOf(template, 'AWS::Glue::Crawler')).map((c) => c.Properties);
    expect(props).toMatchObject({
      SchemaChangePolicy: { UpdateBehavior: 'LOG', DeleteBehavior: 'LOG' },
      RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
      Schedule: { ScheduleExpression: 'cron(0 6 * * ? *)' },
      DatabaseName: { Ref: logicalId(crawler.database.node.defaultChild as glue.CfnDatabase) },
      CrawlerSecurityConfiguration: { Ref: logicalId(crawler.securityConfiguration.node.defaultChild as glue.CfnSecurityConfiguration) },
      Role: { 'Fn::GetAtt': [logicalId(crawler.role), 'Arn'] },
      Targets: {
        S3Targets: [{ Path: { 'Fn::Join': ['', ['s3://', { Ref: logicalId(platform.storage.buckets.raw) }, '/source/']] } }],
      },
    });
    expect(props?.TablePrefix).toBeUndefined();
    template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: { Name: `undercurrent_${envName}_raw_drift` },
    });
  });

  test('the crawler security configuration encrypts its CloudWatch logs and S3 data with KMS keys, and its log group is encrypted', () => {
    const crawler = platform.storage.rawDriftCrawler;
    const config = resourcesOf(template, 'AWS::Glue::SecurityConfiguration')[
      logicalId(crawler.securityConfiguration.node.defaultChild as glue.CfnSecurityConfiguration)
    ];
    expect(config.Properties?.EncryptionConfiguration).toMatchObject({
      CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS', KmsKeyArn: expect.anything() },
      S3Encryptions: [{ S3EncryptionMode: 'SSE-KMS', KmsKeyArn: expect.anything() }],
    });
    const logGroup = resourcesOf(template, 'AWS::Logs::LogGroup')[logicalId(crawler.logGroup.node.defaultChild as CfnResource)];
    expect(logGroup.Properties?.KmsKeyId).toBeDefined();
    expect(JSON.stringify(logGroup.Properties?.LogGroupName)).toContain('/aws-glue/crawlers-role/');
  });

  test('the crawler role reads only raw source/ (plus the prefix key and its _$folder$ marker that Glue\'s s3:// probes), and creates or updates tables only in the drift database, deleting nothing', () => {
    const crawler = platform.storage.rawDriftCrawler;
    const statements = rolePolicyStatements(template, 'Storage/RawDriftCrawler/Role');
    const raw = logicalId(platform.storage.buckets.raw);
    const stack = platform.storage;
    const glueArn = (resource: string) => {
      const [type, ...name] = resource.split('/');
      return stack.resolve(stack.formatArn({ service: 'glue', resource: type, resourceName: name.length ? name.join('/') : undefined }));
    };
    const drift = `undercurrent_${envName}_raw_drift`;
    expect(statements.map((s) => ({ actions: actionsOf(s).sort(), resource: s.Resource, condition: s.Condition }))).toEqual([
      {
        actions: ['s3:GetObject'],
        resource: [
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [raw, 'Arn'] }, '/source']] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [raw, 'Arn'] }, '/source/*']] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [raw, 'Arn'] }, '/source_$folder$']] },
        ],
        condition: undefined,
      },
      {
        actions: ['s3:ListBucket'],
        resource: { 'Fn::GetAtt': [raw, 'Arn'] },
        condition: { StringLike: { 's3:prefix': ['source/*'] } },
      },
      { actions: ['kms:Decrypt'], resource: expect.objectContaining({ 'Fn::ImportValue': expect.stringContaining('LakeKey') }), condition: undefined },
      {
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resource: expect.objectContaining({ 'Fn::ImportValue': expect.stringContaining('OpsKey') }),
        condition: undefined,
      },
      {
        actions: [
          'glue:BatchCreatePartition',
          'glue:BatchGetPartition',
          'glue:BatchUpdatePartition',
          'glue:CreateTable',
          'glue:GetDatabase',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:GetTable',
          'glue:GetTables',
          'glue:UpdatePartition',
          'glue:UpdateTable',
        ],
        resource: [glueArn('catalog'), glueArn(`database/${drift}`), glueArn(`table/${drift}/*`)],
        condition: undefined,
      },
      {
        actions: ['logs:AssociateKmsKey', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resource: { 'Fn::GetAtt': [logicalId(crawler.logGroup.node.defaultChild as CfnResource), 'Arn'] },
        condition: undefined,
      },
    ]);
    const role = resourcesOf(template, 'AWS::IAM::Role')[logicalId(crawler.role)].Properties;
    expect(role?.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' } },
    ]);
    expect(role?.ManagedPolicyArns).toBeUndefined();
    expect(role?.Policies).toBeUndefined();
  });
});

describe.each(['dev', 'prod'] as const)('the curated and quarantine tables of the source tables in %s', (envName) => {
  let platform: SynthesizedPlatform;
  let tablesOf: (zone: 'curated' | 'quarantine') => Record<string, CfnResourceJson>;

  beforeAll(() => {
    platform = synthPlatform(envName);
    const all = Object.values(resourcesOf(platform.template('storage'), 'AWS::Glue::Table'));
    tablesOf = (zone) => {
      const databaseId = logicalId(platform.storage.databases[zone].node.defaultChild as glue.CfnDatabase);
      return Object.fromEntries(
        all
          .filter((t) => JSON.stringify(t.Properties?.DatabaseName) === JSON.stringify({ Ref: databaseId }))
          .map((t) => [t.Properties?.TableInput.Name as string, t]),
      );
    };
  });

  test('the curated and the quarantine database each hold one <table> per source declaration, besides the click events', () => {
    for (const zone of ['curated', 'quarantine'] as const) {
      expect(Object.keys(tablesOf(zone)).sort()).toEqual(['clickstream_events', ...SOURCE_DECLARATIONS.map((d) => d.name)].sort());
    }
  });

  test.each(SOURCE_DECLARATIONS.map((d) => [d.name, d] as const))(
    'schema agreement: curated %s has the declared columns and types in order, then _extracted_at and _run_id',
    (_name, declaration) => {
      const input = tablesOf('curated')[declaration.name].Properties?.TableInput;
      expect(nameAndType(input.StorageDescriptor.Columns)).toEqual([
        ...declaration.columns.map(({ name, type }) => ({ name, type })),
        { name: '_extracted_at', type: 'timestamp' },
        { name: '_run_id', type: 'string' },
      ]);
      expect(input.StorageDescriptor.Columns.slice(0, declaration.columns.length).map((c: { Comment: string }) => c.Comment)).toEqual(
        declaration.columns.map((c) => c.comment),
      );
    },
  );

  test.each(SOURCE_DECLARATIONS.map((d) => [d.name] as const))(
    'curated %s is unpartitioned Parquet at s3://<curated>/<table>/',
    (name) => {
      const input = tablesOf('curated')[name].Properties?.TableInput;
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(input.PartitionKeys ?? []).toEqual([]);
      expect(input.StorageDescriptor.Location).toEqual({
        'Fn::Join': ['', ['s3://', { Ref: logicalId(platform.storage.buckets.curated) }, `/${name}/`]],
      });
      expect(input.StorageDescriptor).toMatchObject({
        InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
        SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      });
      expect(input.Parameters).toMatchObject({ classification: 'parquet', has_encrypted_data: false });
      expect(input.Parameters['projection.enabled']).toBeUndefined();
    },
  );

  test.each(SOURCE_DECLARATIONS.map((d) => [d.name] as const))(
    'quarantine %s is GZIP JSON at s3://<quarantine>/<table>/ with record, rule, run_id, quarantined_at, by ingest_date projected daily',
    (name) => {
      const input = tablesOf('quarantine')[name].Properties?.TableInput;
      expect(nameAndType(input.StorageDescriptor.Columns)).toEqual([
        { name: 'record', type: 'string' },
        { name: 'rule', type: 'string' },
        { name: 'run_id', type: 'string' },
        { name: 'quarantined_at', type: 'string' },
      ]);
      expect(nameAndType(input.PartitionKeys)).toEqual([{ name: 'ingest_date', type: 'date' }]);
      expect(input.StorageDescriptor.Location).toEqual({
        'Fn::Join': ['', ['s3://', { Ref: logicalId(platform.storage.buckets.quarantine) }, `/${name}/`]],
      });
      expect(input.StorageDescriptor).toMatchObject({
        Compressed: true,
        InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        Parameters: { compression_type: 'gzip' },
        SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
      });
      expect(input.Parameters).toMatchObject({
        classification: 'json',
        'projection.enabled': 'true',
        has_encrypted_data: false,
        ...DAILY_PROJECTION('ingest_date'),
      });
    },
  );
});
