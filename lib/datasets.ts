import { readFileSync, readdirSync } from 'fs';
import * as path from 'path';

/**
 * Dataset declarations: one JSON file per dataset under
 * `glue-scripts/lib/undercurrent_glue/schemas/`, shipped to Glue with the PySpark package.
 * The Spark jobs, the CDK app and the click-event producer read the same files, so they
 * cannot disagree on a dataset's columns. This module imports nothing from the CDK, so the
 * command-line tools load it fast.
 */

/** The directory of the Glue PySpark code in this repository. */
export const GLUE_SCRIPTS_DIR = path.join(__dirname, '..', 'glue-scripts');
/** The directory of the dataset declarations. */
export const SCHEMAS_DIR = path.join(GLUE_SCRIPTS_DIR, 'lib', 'undercurrent_glue', 'schemas');

/** Where the clickstream event declaration lives (shared with the catalog and the Spark job). */
export const CLICKSTREAM_DECLARATION_PATH = path.join(SCHEMAS_DIR, 'clickstream_event.json');

/** One column of a dataset declaration. */
export interface ColumnDeclaration {
  readonly name: string;
  /** Glue/Hive type string: string, int, bigint, double, boolean, date, timestamp or decimal(p,s). */
  readonly type: string;
  readonly nullable: boolean;
  readonly comment?: string;
}

/** A dataset declaration (the format of the JSON files under `schemas/`). */
export interface DatasetDeclaration {
  readonly name: string;
  readonly description?: string;
  readonly columns: readonly ColumnDeclaration[];
  readonly partition_keys?: readonly ColumnDeclaration[];
  readonly allowed_values?: Readonly<Record<string, readonly string[]>>;
  /** Source tables: the primary key columns. */
  readonly primary_key?: readonly string[];
  /** Source tables: how the batch extract reads them. */
  readonly extract?: ExtractDeclaration;
  /**
   * Explicit data-quality rules (checked and rendered by `lib/quality.ts`; the implicit
   * rules come from `nullable`, `primary_key` and `allowed_values`).
   */
  readonly quality?: readonly unknown[];
}

/** How the batch extract reads a source table. */
export interface ExtractDeclaration {
  readonly mode: 'snapshot' | 'incremental';
  readonly bookmark_keys?: readonly string[];
  readonly hash_field?: string;
  readonly hash_partitions?: number;
}

const SIMPLE_TYPES = ['string', 'int', 'bigint', 'double', 'boolean', 'date', 'timestamp'];
const DECIMAL_TYPE = /^decimal\((\d+),\s*(\d+)\)$/;

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkColumns(value: unknown, field: string, where: string): ColumnDeclaration[] {
  if (!Array.isArray(value)) {
    throw new Error(`${where}: "${field}" must be an array of columns.`);
  }
  return value.map((column: unknown, index) => {
    if (
      !isRecord(column) ||
      typeof column.name !== 'string' ||
      typeof column.type !== 'string' ||
      typeof column.nullable !== 'boolean'
    ) {
      throw new Error(`${where}: ${field}[${index}] must have a string "name", a string "type" and a boolean "nullable".`);
    }
    if (!SIMPLE_TYPES.includes(column.type) && !DECIMAL_TYPE.test(column.type)) {
      throw new Error(
        `${where}: column "${column.name}" has type "${column.type}"; use one of ${SIMPLE_TYPES.join(', ')} or decimal(p,s).`,
      );
    }
    return column as unknown as ColumnDeclaration;
  });
}

/**
 * Read and check a dataset declaration.
 *
 * @param file the JSON file; defaults to the clickstream event declaration.
 * @throws Error naming the file and what is wrong with it.
 */
export function loadDeclaration(file: string = CLICKSTREAM_DECLARATION_PATH): DatasetDeclaration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the dataset declaration ${file}: ${(error as Error).message}`);
  }
  if (!isRecord(parsed) || typeof parsed.name !== 'string') {
    throw new Error(`${file}: a declaration must be a JSON object with a string "name".`);
  }
  const columns = checkColumns(parsed.columns, 'columns', file);
  if (parsed.partition_keys !== undefined) {
    checkColumns(parsed.partition_keys, 'partition_keys', file);
  }
  const allowed = parsed.allowed_values;
  if (allowed !== undefined) {
    if (!isRecord(allowed)) {
      throw new Error(`${file}: "allowed_values" must map column names to arrays of strings.`);
    }
    for (const [column, values] of Object.entries(allowed)) {
      if (!columns.some((c) => c.name === column)) {
        throw new Error(`${file}: allowed_values names "${column}", which is not a declared column.`);
      }
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
        throw new Error(`${file}: allowed_values.${column} must be an array of strings.`);
      }
    }
  }
  if (parsed.quality !== undefined && !Array.isArray(parsed.quality)) {
    throw new Error(`${file}: "quality" must be an array of rules.`);
  }
  return parsed as unknown as DatasetDeclaration;
}

/** The declaration of a dataset by file name, e.g. `clickstream_event`. */
export function datasetDeclaration(name: string): DatasetDeclaration {
  return loadDeclaration(path.join(SCHEMAS_DIR, `${name}.json`));
}

/** The declarations of the source tables, sorted by table name. */
export function sourceTableDeclarations(): DatasetDeclaration[] {
  const dir = path.join(SCHEMAS_DIR, 'source');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadDeclaration(path.join(dir, f)));
}

/** The declarations of the gold tables (star schema and clickstream aggregates), sorted by table name. */
export function goldTableDeclarations(): DatasetDeclaration[] {
  const dir = path.join(SCHEMAS_DIR, 'gold');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadDeclaration(path.join(dir, f)));
}
