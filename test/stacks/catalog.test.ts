import * as glue from 'aws-cdk-lib/aws-glue';
import { Template } from 'aws-cdk-lib/assertions';
import { glueColumns, glueType } from '../../lib/catalog';
import { datasetDeclaration } from '../../lib/datasets';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { CfnResourceJson, logicalId, resourcesOf } from './template-helpers';

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

  test('there are three tables, one per zone the click events pass through, none needing a crawler', () => {
    template.resourceCountIs('AWS::Glue::Table', 3);
    template.resourceCountIs('AWS::Glue::Crawler', 0);
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
