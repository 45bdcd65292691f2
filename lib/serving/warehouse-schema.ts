import * as fs from 'fs';
import * as path from 'path';

/** Where the versioned warehouse DDL lives: `V<nnn>__<description>.sql`, applied in version order. */
export const WAREHOUSE_SCHEMA_DIR = path.join(__dirname, 'warehouse-schema');

const MIGRATION_FILE = /^V(\d{3})__([a-z0-9_]+)\.sql$/;

/** One versioned DDL file. */
export interface WarehouseMigration {
  readonly version: number;
  readonly description: string;
  readonly file: string;
  readonly sql: string;
}

/** A column of a `CREATE TABLE`: its name, its type as written (upper case, no spaces) and its nullability. */
export interface WarehouseColumn {
  readonly name: string;
  /** `INTEGER`, `VARCHAR(50)`, `DECIMAL(10,2)`, `DOUBLE PRECISION`, ... */
  readonly type: string;
  readonly notNull: boolean;
}

/** A `CREATE TABLE` of the DDL, with its Redshift physical design. */
export interface WarehouseTable {
  /** `schema.table`. */
  readonly name: string;
  /** The column names, in order. */
  readonly columns: readonly string[];
  /** The columns with their types and nullability, in order. */
  readonly columnDefinitions: readonly WarehouseColumn[];
  /** `ALL`, `EVEN`, `AUTO` or `KEY(<column>)`. */
  readonly distribution?: string;
  readonly sortKey: readonly string[];
}

/** The migrations in version order; throws on a file name outside the convention or a duplicate version. */
export function warehouseMigrations(dir: string = WAREHOUSE_SCHEMA_DIR): WarehouseMigration[] {
  const migrations = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) {
        throw new Error(`Warehouse migration "${file}" must be named V<nnn>__<lower_snake_description>.sql.`);
      }
      return { version: Number(match[1]), description: match[2], file, sql: fs.readFileSync(path.join(dir, file), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`Warehouse migrations must be numbered V001, V002, ... without gaps: found ${m.file} at position ${i + 1}.`);
    }
  });
  return migrations;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '');
}

/** The closing parenthesis matching the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    if (text[i] === ')' && --depth === 0) return i;
  }
  throw new Error(`Unbalanced parentheses in: ${text.slice(open, open + 80)}`);
}

/** Splits on commas outside parentheses. */
function topLevelParts(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

const COLUMN = /^([a-z_][a-z0-9_]*)\s+(DOUBLE\s+PRECISION|[a-z]+(?:\s*\([^)]*\))?)(.*)$/is;

/** Parses one column definition (`name TYPE [NOT NULL] [ENCODE ...]`). */
function parseColumn(part: string): WarehouseColumn {
  const match = COLUMN.exec(part.trim());
  if (!match) {
    throw new Error(`Cannot parse the column definition "${part}": expected <name> <type> [NOT NULL] [ENCODE <encoding>].`);
  }
  return {
    name: match[1].toLowerCase(),
    type: match[2].toUpperCase().replace(/\s*([(),])\s*/g, '$1').replace(/\s+/g, ' '),
    notNull: /\bNOT\s+NULL\b/i.test(match[3]),
  };
}

/** The `CREATE TABLE` statements of some DDL with their columns, distribution and sort key. */
export function parseTables(sql: string): WarehouseTable[] {
  const text = stripComments(sql);
  const tables: WarehouseTable[] = [];
  const create = /CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(/gi;
  let match: RegExpExecArray | null;
  while ((match = create.exec(text)) !== null) {
    const open = match.index + match[0].length - 1;
    const close = closing(text, open);
    const end = text.indexOf(';', close);
    const attributes = text.slice(close + 1, end === -1 ? undefined : end);
    const columnDefinitions = topLevelParts(text.slice(open + 1, close))
      .filter((part) => !/^(PRIMARY|FOREIGN|UNIQUE|CONSTRAINT)\b/i.test(part))
      .map(parseColumn);
    const style = /DISTSTYLE\s+(ALL|EVEN|AUTO|KEY)/i.exec(attributes)?.[1]?.toUpperCase();
    const distKey = /DISTKEY\s*\(\s*([a-z0-9_]+)\s*\)/i.exec(attributes)?.[1]?.toLowerCase();
    const sort = /(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY\s*\(([^)]*)\)/i.exec(attributes)?.[1];
    tables.push({
      name: match[1].toLowerCase(),
      columns: columnDefinitions.map((c) => c.name),
      columnDefinitions,
      distribution: distKey ? `KEY(${distKey})` : style,
      sortKey: sort ? sort.split(',').map((c) => c.trim().toLowerCase()) : [],
    });
    create.lastIndex = end === -1 ? text.length : end;
  }
  return tables;
}
