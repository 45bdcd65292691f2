import * as glue from 'aws-cdk-lib/aws-glue';
import { ColumnDeclaration, DatasetDeclaration } from './datasets';

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
