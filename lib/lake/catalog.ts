import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ColumnDeclaration, DatasetDeclaration } from './datasets';
import { datasetPrefix, SOURCE_RAW_PREFIX } from './layout';
import { pascal } from '../shared/naming';

/**
 * The catalog side of the dataset declarations: Glue columns and partition projection
 * derived from `glue-scripts/lib/undercurrent_glue/schemas/*.json`, the files the Spark jobs
 * read too. A schema-agreement test on each side (jest and pytest) compares its schema with
 * the declaration, so the catalog table and the Spark job cannot disagree.
 */

const SIMPLE_GLUE_TYPES: Readonly<Record<string, glue.Type>> = {
  string: glue.Schema.STRING,
  int: glue.Schema.INTEGER,
  bigint: glue.Schema.BIG_INT,
  double: glue.Schema.DOUBLE,
  boolean: glue.Schema.BOOLEAN,
  date: glue.Schema.DATE,
  timestamp: glue.Schema.TIMESTAMP,
};
const DECIMAL_TYPE = /^decimal\((\d+),\s*(\d+)\)$/;

/**
 * The Glue type of a declared type string (`string`, `int`, `bigint`, `double`, `boolean`,
 * `date`, `timestamp` or `decimal(p,s)`); its `inputString` is the declared string itself.
 *
 * @throws Error naming the column and the type when the type is not one of those.
 */
export function glueType(type: string, column = '<unnamed>'): glue.Type {
  const simple = SIMPLE_GLUE_TYPES[type];
  if (simple) {
    return simple;
  }
  const decimal = DECIMAL_TYPE.exec(type);
  if (decimal) {
    return glue.Schema.decimal(Number(decimal[1]), Number(decimal[2]));
  }
  throw new Error(
    `Column "${column}" has type "${type}"; use one of ${Object.keys(SIMPLE_GLUE_TYPES).join(', ')} or decimal(p,s).`,
  );
}

/** Options of {@link glueColumns}. */
export interface GlueColumnsOptions {
  /**
   * Every column as `string`, whatever its declared type: for a zone that holds the data as
   * it was sent (raw), where a value that does not fit its declared type must still be readable.
   * @default false - the declared types
   */
  readonly allStrings?: boolean;
}

/**
 * The Glue columns of declared columns: same names, same order, the declared types (or
 * `string` with `allStrings`), the declared comments.
 */
export function glueColumns(columns: readonly ColumnDeclaration[], options: GlueColumnsOptions = {}): glue.Column[] {
  return columns.map((c) => ({
    name: c.name,
    type: options.allStrings ? glue.Schema.STRING : glueType(c.type, c.name),
    comment: c.comment,
  }));
}

/** The Glue columns of a declaration's `columns`, with the declared types. */
export function declarationColumns(declaration: DatasetDeclaration): glue.Column[] {
  return glueColumns(declaration.columns);
}

/** The Glue partition keys of a declaration's `partition_keys`, in partition order, with the declared types. */
export function declarationPartitionKeys(declaration: DatasetDeclaration): glue.Column[] {
  return glueColumns(declaration.partition_keys ?? []);
}

/** Format of every date partition value in the lake (`event_date=2024-05-01`). */
export const PARTITION_DATE_FORMAT = 'yyyy-MM-dd';
/**
 * First date that partition projection enumerates. Partitions outside
 * [PROJECTION_START_DATE, today (UTC)] are invisible to Athena (the data stays in S3); move
 * it back before loading older data.
 */
export const PROJECTION_START_DATE = '2024-01-01';

/** Athena date projection of a `yyyy-MM-dd` partition, one value per day from {@link PROJECTION_START_DATE} to today. */
export function dailyDateProjection(): glue.PartitionProjectionConfiguration {
  return glue.PartitionProjectionConfiguration.date({
    min: PROJECTION_START_DATE,
    max: 'NOW',
    format: PARTITION_DATE_FORMAT,
    step: { interval: 1, intervalUnit: glue.DateIntervalUnit.DAYS },
  });
}

/**
 * The quarantine of the clickstream job, as `jobs/clickstream_raw_to_curated.py` writes it
 * (`undercurrent_glue.clickstream.QUARANTINE_COLUMNS`, GZIP JSON by `ingest_date`).
 * `quarantined_at` is Spark's `current_timestamp()`, which the JSON writer stores as
 * ISO-8601 text with an offset (`2024-05-01T12:00:00.123Z`); the JSON SerDe does not read
 * that form as a Hive timestamp, so it is a string here: `from_iso8601_timestamp(quarantined_at)`.
 */
export const CLICKSTREAM_QUARANTINE_COLUMNS: readonly ColumnDeclaration[] = [
  { name: 'raw_line', type: 'string', nullable: false, comment: 'The raw line exactly as it was read from the raw zone.' },
  { name: 'rule', type: 'string', nullable: false, comment: 'The first validation rule the line failed, e.g. malformed_json, missing_event_id.' },
  { name: 'run_id', type: 'string', nullable: false, comment: 'The Glue job run that quarantined the line.' },
  {
    name: 'quarantined_at',
    type: 'string',
    nullable: false,
    comment: 'When the line was quarantined: ISO-8601 text in UTC as Spark writes a timestamp to JSON; read with from_iso8601_timestamp.',
  },
];
/** The quarantine's partition key: the raw `ingest_date` partition the line was read from. */
export const CLICKSTREAM_QUARANTINE_PARTITION_KEYS: readonly ColumnDeclaration[] = [
  { name: 'ingest_date', type: 'date', nullable: false, comment: 'The raw ingest_date partition the line was read from.' },
];

/**
 * The metadata columns the batch extract adds after the declared columns of every raw source
 * row (`undercurrent_glue.extract.METADATA_COLUMNS`, in that order).
 */
export const SOURCE_METADATA_COLUMNS: readonly ColumnDeclaration[] = [
  { name: '_run_id', type: 'string', nullable: false, comment: 'The Glue job run (JOB_RUN_ID) that extracted the row.' },
  { name: '_extracted_at', type: 'timestamp', nullable: false, comment: 'UTC instant the table was extracted.' },
];
/** The partition key of every raw source table: the UTC date of the extract. */
export const SOURCE_PARTITION_KEYS: readonly ColumnDeclaration[] = [
  { name: 'ingest_date', type: 'date', nullable: false, comment: 'UTC date of the extract run (yyyy-MM-dd).' },
];

/** The catalog name of the raw table of a source table: `source_<table>`. */
export function sourceTableName(table: string): string {
  return `source_${table}`;
}


/** Where the catalog tables of one zone live. */
export interface ZoneCatalog {
  readonly database: glue.IDatabase;
  readonly bucket: s3.IBucket;
}

/**
 * The raw tables of the batch extract, `source_<table>` in the raw database, one per source
 * declaration: Parquet at `source/<table>/`, the declared columns with their declared types
 * (the extract conforms every row to them), then {@link SOURCE_METADATA_COLUMNS}, partitioned
 * by `ingest_date` with a daily date projection.
 *
 * Incremental tables have one more directory level, `ingest_date=D/run_id=R/`; it needs no
 * partition key: Athena reads every object under a partition's location, sub-prefixes
 * included, so a day's partition holds all runs of that day (`_run_id` tells them apart).
 * `storage.location.template` pins each day's location to `source/<table>/ingest_date=D/`.
 */
export function sourceRawTables(
  scope: Construct,
  zone: ZoneCatalog,
  declarations: readonly DatasetDeclaration[],
): Record<string, glue.S3Table> {
  const partitionKeys = glueColumns(SOURCE_PARTITION_KEYS);
  return Object.fromEntries(
    declarations.map((declaration) => {
      const prefix = `${SOURCE_RAW_PREFIX}${declaration.name}/`;
      const mode = declaration.extract?.mode ?? 'snapshot';
      const table = new glue.S3Table(scope, `RawSource${pascal(declaration.name)}`, {
        database: zone.database,
        tableName: sourceTableName(declaration.name),
        description: `Raw ${mode} extract of the source table ${declaration.name} (Parquet). ${declaration.description ?? ''}`.trim(),
        storage: glue.S3TableStorage.fromBucket(zone.bucket),
        s3Prefix: prefix,
        columns: glueColumns([...declaration.columns, ...SOURCE_METADATA_COLUMNS]),
        partitionKeys,
        partitionProjection: { ingest_date: dailyDateProjection() },
        parameters: {
          'storage.location.template': `${zone.bucket.s3UrlForObject(prefix)}ingest_date=\${ingest_date}/`,
        },
        dataFormat: glue.DataFormat.PARQUET,
        hasEncryptedData: false,
      });
      return [declaration.name, table];
    }),
  );
}

/**
 * The gold tables, one Apache Iceberg table per gold declaration in the gold database at
 * `s3://<gold>/<table>/`. CloudFormation creates the table and its first Iceberg metadata
 * (`OpenTableFormatInput`, format version 2) from the storage descriptor's columns; the
 * transform stage writes them with Spark. Iceberg partitioning is part of the table's
 * metadata, not Hive partition keys, so the declared partition keys are the last columns
 * here; the writer sets the partition spec (`ALTER TABLE ... ADD PARTITION FIELD`).
 */
export function goldIcebergTables(
  scope: Construct,
  zone: ZoneCatalog,
  declarations: readonly DatasetDeclaration[],
): Record<string, glue.CfnTable> {
  return Object.fromEntries(
    declarations.map((declaration) => {
      const columns = glueColumns([...declaration.columns, ...(declaration.partition_keys ?? [])]);
      const table = new glue.CfnTable(scope, `Gold${pascal(declaration.name)}`, {
        catalogId: Stack.of(scope).account,
        databaseName: zone.database.databaseName,
        openTableFormatInput: { icebergInput: { metadataOperation: 'CREATE', version: '2' } },
        tableInput: {
          name: declaration.name,
          description: declaration.description,
          tableType: 'EXTERNAL_TABLE',
          storageDescriptor: {
            location: zone.bucket.s3UrlForObject(`${declaration.name}/`),
            columns: columns.map((c) => ({ name: c.name, type: c.type.inputString, comment: c.comment })),
          },
        },
      });
      return [declaration.name, table];
    }),
  );
}

/**
 * The metadata columns after the declared columns of every curated source table, as job
 * SourceToCurated writes them (`_extracted_at` of the kept version, `_run_id` of the curate run).
 * Columns the drift guard carried (added upstream, not declared) follow them in the files;
 * the catalog table does not list those until the declaration does.
 */
export const CURATED_SOURCE_METADATA_COLUMNS: readonly ColumnDeclaration[] = [
  { name: '_extracted_at', type: 'timestamp', nullable: false, comment: 'UTC instant the kept version of the row was extracted.' },
  { name: '_run_id', type: 'string', nullable: false, comment: 'The Glue job run (JOB_RUN_ID) of the curate run that wrote the table.' },
];

/**
 * The quarantine of a source table, as job SourceToCurated writes it (GZIP JSON lines by the
 * raw `ingest_date` the row came from). `record` is the raw row as a JSON object (every raw
 * column); `quarantined_at` is a string for the reason given at {@link CLICKSTREAM_QUARANTINE_COLUMNS}.
 */
export const SOURCE_QUARANTINE_COLUMNS: readonly ColumnDeclaration[] = [
  { name: 'record', type: 'string', nullable: false, comment: 'The raw row as a JSON object, every raw column included.' },
  {
    name: 'rule',
    type: 'string',
    nullable: false,
    comment: 'The first data-quality rule the row failed, e.g. not_null:order_number, range:quantity_ordered, references:product_code.',
  },
  { name: 'run_id', type: 'string', nullable: false, comment: 'The Glue job run that quarantined the row.' },
  {
    name: 'quarantined_at',
    type: 'string',
    nullable: false,
    comment: 'When the row was quarantined: ISO-8601 text in UTC as Spark writes a timestamp to JSON; read with from_iso8601_timestamp.',
  },
];
/** The partition key of a source quarantine table: the raw `ingest_date` partition the row came from. */
export const SOURCE_QUARANTINE_PARTITION_KEYS: readonly ColumnDeclaration[] = [
  { name: 'ingest_date', type: 'date', nullable: false, comment: 'The raw ingest_date partition the row was read from.' },
];

/**
 * The curated source tables, `<table>` in the curated database, one per source declaration:
 * Parquet at `<table>/`, not partitioned (each run replaces the table's full current state,
 * one row per primary key), the declared columns with their declared types, then
 * {@link CURATED_SOURCE_METADATA_COLUMNS}.
 */
export function curatedSourceTables(
  scope: Construct,
  zone: ZoneCatalog,
  declarations: readonly DatasetDeclaration[],
): Record<string, glue.S3Table> {
  return Object.fromEntries(
    declarations.map((declaration) => {
      const table = new glue.S3Table(scope, `CuratedSource${pascal(declaration.name)}`, {
        database: zone.database,
        tableName: declaration.name,
        description: `Current state of the source table ${declaration.name}: one row per primary key, the latest extracted version, rows that failed a rule quarantined (Parquet). ${declaration.description ?? ''}`.trim(),
        storage: glue.S3TableStorage.fromBucket(zone.bucket),
        s3Prefix: datasetPrefix(declaration.name),
        columns: glueColumns([...declaration.columns, ...CURATED_SOURCE_METADATA_COLUMNS]),
        dataFormat: glue.DataFormat.PARQUET,
        hasEncryptedData: false,
      });
      return [declaration.name, table];
    }),
  );
}

/**
 * The quarantine tables of the source tables, `<table>` in the quarantine database, one per
 * source declaration: GZIP JSON lines at `<table>/ingest_date=D/` with
 * {@link SOURCE_QUARANTINE_COLUMNS}, partitioned by `ingest_date` with a daily projection.
 */
export function quarantineSourceTables(
  scope: Construct,
  zone: ZoneCatalog,
  declarations: readonly DatasetDeclaration[],
): Record<string, glue.S3Table> {
  return Object.fromEntries(
    declarations.map((declaration) => {
      const table = new glue.S3Table(scope, `QuarantineSource${pascal(declaration.name)}`, {
        database: zone.database,
        tableName: declaration.name,
        description: `Rows of the source table ${declaration.name} that failed a quarantine rule: the raw row, the first rule it failed, the run and when.`,
        storage: glue.S3TableStorage.fromBucket(zone.bucket),
        s3Prefix: datasetPrefix(declaration.name),
        columns: glueColumns(SOURCE_QUARANTINE_COLUMNS),
        partitionKeys: glueColumns(SOURCE_QUARANTINE_PARTITION_KEYS),
        partitionProjection: { ingest_date: dailyDateProjection() },
        dataFormat: glue.DataFormat.JSON,
        compressed: true,
        storageParameters: [glue.StorageParameter.compressionType(glue.CompressionType.GZIP)],
        hasEncryptedData: false,
      });
      return [declaration.name, table];
    }),
  );
}
