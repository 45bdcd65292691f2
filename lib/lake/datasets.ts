import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { readFileSync, readdirSync } from 'fs';
import * as path from 'path';
import { loadOrder } from './load-order';

/**
 * Dataset declarations: one JSON file per dataset under
 * `glue-scripts/lib/undercurrent_glue/schemas/`, shipped to Glue with the PySpark package.
 * The Spark jobs, the CDK app and the click-event producer read the same files, so they
 * cannot disagree on a dataset's columns. This module imports nothing from the CDK, so the
 * command-line tools load it fast.
 *
 * Every declaration is validated on load against the JSON Schema of record,
 * `undercurrent_glue/declaration.schema.json` (ajv; the Python package validates against the
 * same file with jsonschema), then by {@link semanticProblem} for what JSON Schema cannot say.
 * The table lists are the files; the order parents-first is derived from the declarations'
 * `references` rules ({@link sourceLoadOrder}, lib/lake/load-order.ts).
 */

/** The directory of the Glue PySpark code in this repository. */
export const GLUE_SCRIPTS_DIR = path.join(__dirname, '..', '..', 'glue-scripts');
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
   * Explicit data-quality rules (checked and rendered by `lib/transform/quality.ts`; the implicit
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

/** What a declaration describes, and the definition of the JSON Schema it is validated against. */
export type DeclarationKind = 'dataset' | 'source' | 'gold';
export const DECLARATION_KINDS: readonly DeclarationKind[] = ['dataset', 'source', 'gold'];

/**
 * The JSON Schema of record of the declarations, shipped in the Python package: a declaration is
 * valid against `#/$defs/<kind>`. `undercurrent_glue.schema` validates against the same file
 * with jsonschema; what JSON Schema cannot say is {@link semanticProblem} here and
 * `semantic_problem` there, both held to glue-scripts/tests/fixtures/declaration_cases.json.
 */
export const DECLARATION_SCHEMA_PATH = path.join(GLUE_SCRIPTS_DIR, 'lib', 'undercurrent_glue', 'declaration.schema.json');

const DECIMAL_TYPE = /^decimal\((\d+),\s*(\d+)\)$/;

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

let ajv: Ajv2020 | undefined;
const validators = new Map<DeclarationKind, ValidateFunction>();

/** The ajv validator of `#/$defs/<kind>` of the declaration schema, compiled once per kind. */
function schemaValidator(kind: DeclarationKind): ValidateFunction {
  let validator = validators.get(kind);
  if (validator === undefined) {
    ajv ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false });
    const root = JSON.parse(readFileSync(DECLARATION_SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    validator = ajv.compile({ ...root, $ref: `#/$defs/${kind}` });
    validators.set(kind, validator);
  }
  return validator;
}

/** `columns[1].type` for `['columns', 1, 'type']`; `declaration` for the root. */
export function fieldPath(parts: readonly (string | number)[]): string {
  let text = '';
  for (const part of parts) {
    text += typeof part === 'number' ? `[${part}]` : text ? `.${part}` : part;
  }
  return text || 'declaration';
}

/** An ajv error as [path, problem], worded like `_schema_error` in undercurrent_glue/schema.py. */
function schemaError(error: ErrorObject): [(string | number)[], string] {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  const params = error.params as Record<string, string>;
  switch (error.keyword) {
    case 'required':
      return [[...path, params.missingProperty], 'is missing'];
    case 'dependentRequired':
      return [[...path, params.missingProperty], `is missing (required with '${fieldPath([...path, params.property])}')`];
    case 'additionalProperties': {
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return [[...path, params.additionalProperty], `is not a known field (known: ${known.join(', ')})`];
    }
  }
  const description = (error.parentSchema as { description?: string } | undefined)?.description;
  return [path, description ? `must be ${description} (got ${JSON.stringify(error.data)})` : `${error.message}`];
}

/**
 * The first problem the JSON Schema finds in a declaration, `'<field>' <problem>`, or
 * undefined. Of several, the one deepest in the declaration, then the first. ajv also reports
 * what jsonschema keeps to itself (the branches of an `anyOf`, the `if` of an `if`/`then`, the
 * `propertyNames` summary); those are left out so that both sides report the same problem.
 */
export function schemaProblem(declaration: unknown, kind: DeclarationKind): string | undefined {
  const validate = schemaValidator(kind);
  if (validate(declaration)) {
    return undefined;
  }
  const found = (validate.errors ?? [])
    .filter((e) => !e.schemaPath.includes('/anyOf/') && e.keyword !== 'if' && e.keyword !== 'propertyNames')
    .map(schemaError);
  if (found.length === 0) {
    return `'declaration' ${validate.errors?.[0]?.message ?? 'is not valid'}`;
  }
  const [path, problem] = found.reduce((best, item) => (item[0].length > best[0].length ? item : best));
  return `'${fieldPath(path)}' ${problem}`;
}

/**
 * The first problem that JSON Schema cannot express, `'<field>' <problem>`, or undefined; for a
 * declaration of the documented shape (valid against the schema). The checks: every column name
 * once (columns, then partition keys); a decimal's scale at most its precision; `allowed_values`
 * naming declared columns; for source and gold, `name` equal to the file stem `stem` (when
 * given); for source, `primary_key` naming declared non-nullable columns, and
 * `extract.bookmark_keys` and `extract.hash_field` naming declared columns. `semantic_problem`
 * in undercurrent_glue/schema.py is the same function.
 */
export function semanticProblem(declaration: DatasetDeclaration, kind: DeclarationKind, stem?: string): string | undefined {
  const seen = new Map<string, string>();
  for (const group of ['columns', 'partition_keys'] as const) {
    for (const [index, column] of (declaration[group] ?? []).entries()) {
      const where = `${group}[${index}]`;
      const first = seen.get(column.name);
      if (first !== undefined) {
        return `'${where}.name' declares "${column.name}" a second time (first: ${first})`;
      }
      seen.set(column.name, where);
      const decimal = DECIMAL_TYPE.exec(column.type);
      if (decimal && Number(decimal[2]) > Number(decimal[1])) {
        return `'${where}.type' has a decimal scale above its precision (got "${column.type}")`;
      }
    }
  }
  const columns = declaration.columns.map((c) => c.name);
  const declared = `declared: ${columns.join(', ')}`;
  for (const name of Object.keys(declaration.allowed_values ?? {})) {
    if (!columns.includes(name)) {
      return `'allowed_values.${name}' names "${name}", which is not a declared column (${declared})`;
    }
  }
  if (kind !== 'dataset' && stem !== undefined && declaration.name !== stem) {
    return `'name' must be the file stem "${stem}" (got "${declaration.name}")`;
  }
  if (kind !== 'source') {
    return undefined;
  }
  const nullable = new Set(declaration.columns.filter((c) => c.nullable).map((c) => c.name));
  for (const [index, key] of (declaration.primary_key ?? []).entries()) {
    if (!columns.includes(key)) {
      return `'primary_key[${index}]' names "${key}", which is not a declared column (${declared})`;
    }
    if (nullable.has(key)) {
      return `'primary_key[${index}]' names "${key}", which is declared nullable; key columns are NOT NULL`;
    }
  }
  const extract = declaration.extract;
  for (const [index, key] of (extract?.bookmark_keys ?? []).entries()) {
    if (!columns.includes(key)) {
      return `'extract.bookmark_keys[${index}]' names "${key}", which is not a declared column (${declared})`;
    }
  }
  if (extract?.hash_field !== undefined && !columns.includes(extract.hash_field)) {
    return `'extract.hash_field' names "${extract.hash_field}", which is not a declared column (${declared})`;
  }
  return undefined;
}

/**
 * The first problem of a declaration, `'<field>' <problem>`: the JSON Schema's
 * ({@link schemaProblem}), else the semantic checks' ({@link semanticProblem}); undefined when valid.
 */
export function declarationProblem(declaration: unknown, kind: DeclarationKind, stem?: string): string | undefined {
  return schemaProblem(declaration, kind) ?? semanticProblem(declaration as DatasetDeclaration, kind, stem);
}

/** The kind of a declaration file by its directory: `schemas/source/`, `schemas/gold/`, else a dataset. */
export function declarationKindOf(file: string): DeclarationKind {
  const dir = path.resolve(path.dirname(file));
  if (dir === path.join(SCHEMAS_DIR, 'source')) {
    return 'source';
  }
  if (dir === path.join(SCHEMAS_DIR, 'gold')) {
    return 'gold';
  }
  return 'dataset';
}

/**
 * Read and check a dataset declaration: valid against `#/$defs/<kind>` of the declaration
 * schema (ajv), and {@link semanticProblem}.
 *
 * @param file the JSON file; defaults to the clickstream event declaration.
 * @param kind the declaration kind; defaults to the kind of the file's directory ({@link declarationKindOf}).
 * @throws Error `<file>: '<field>' <problem>.`
 */
export function loadDeclaration(file: string = CLICKSTREAM_DECLARATION_PATH, kind: DeclarationKind = declarationKindOf(file)): DatasetDeclaration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the dataset declaration ${file}: ${(error as Error).message}`);
  }
  const problem = declarationProblem(parsed, kind, path.basename(file, '.json'));
  if (problem !== undefined) {
    throw new Error(`${file}: ${problem}.`);
  }
  return parsed as DatasetDeclaration;
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

/**
 * The source tables parents first: the order to load, extract or curate them in so that every
 * table's references point at a table already there ({@link loadOrder}, by their `references`
 * rules). `undercurrent_glue.schema.source_load_order` derives the same order.
 */
export function sourceLoadOrder(): string[] {
  return loadOrder(sourceTableDeclarations());
}

/** The declarations of the gold tables (star schema and clickstream aggregates), sorted by table name. */
export function goldTableDeclarations(): DatasetDeclaration[] {
  const dir = path.join(SCHEMAS_DIR, 'gold');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadDeclaration(path.join(dir, f)));
}
