/**
 * The schema-agreement test: the MySQL DDL of the source (V001) and the source declarations
 * (glue-scripts/lib/undercurrent_glue/schemas/source/*.json) describe the same tables.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitStatements } from '../../lib/source/migrations';
import { LOAD_ORDER, SAMPLE_COLUMNS } from '../../lib/source/sample-data';

const REPO = join(__dirname, '../..');
const DECLARATIONS_DIR = join(REPO, 'glue-scripts/lib/undercurrent_glue/schemas/source');
const V001 = join(REPO, 'lib/source/migrations/V001__classic_models.sql');

interface DeclaredColumn {
  name: string;
  type: string;
  nullable: boolean;
}

interface Declaration {
  name: string;
  columns: DeclaredColumn[];
  primary_key: string[];
  extract: { mode: string; bookmark_keys?: string[]; hash_field?: string };
}

interface DdlColumn {
  name: string;
  type: string;
  nullable: boolean;
  definition: string;
}

interface DdlForeignKey {
  name: string;
  column: string;
  table: string;
  referencedColumn: string;
}

interface DdlTable {
  name: string;
  columns: DdlColumn[];
  primaryKey: string[];
  indexes: { name: string; columns: string[] }[];
  foreignKeys: DdlForeignKey[];
  options: string;
}

const UPDATED_AT_DEFINITION =
  'TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)';

/** Columns where classic models uses SMALLINT for an int. */
const SMALLINT_COLUMNS = new Set(['products.quantity_in_stock', 'order_lines.order_line_number']);

const EXPECTED_FOREIGN_KEYS = [
  'employees.office_code -> offices.office_code',
  'employees.reports_to -> employees.employee_number',
  'customers.sales_rep_employee_number -> employees.employee_number',
  'products.product_line -> product_lines.product_line',
  'orders.customer_number -> customers.customer_number',
  'order_lines.order_number -> orders.order_number',
  'order_lines.product_code -> products.product_code',
  'payments.customer_number -> customers.customer_number',
];

function loadDeclarations(): Map<string, Declaration> {
  const declarations = new Map<string, Declaration>();
  for (const filename of readdirSync(DECLARATIONS_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const declaration = JSON.parse(readFileSync(join(DECLARATIONS_DIR, filename), 'utf8')) as Declaration;
    if (`${declaration.name}.json` !== filename) {
      throw new Error(`${filename} declares table '${declaration.name}'; the file must be named after its table.`);
    }
    declarations.set(declaration.name, declaration);
  }
  return declarations;
}

function columnList(text: string): string[] {
  return text.split(',').map((c) => c.trim());
}

/** A strict parser for the one style the migrations use: one column or key per line. */
function parseCreateTable(statement: string): DdlTable {
  const lines = statement.split('\n');
  const head = /^CREATE TABLE IF NOT EXISTS ([a-z_]+) \($/.exec(lines[0]);
  if (!head) {
    throw new Error(`Not a CREATE TABLE IF NOT EXISTS statement: ${lines[0]}`);
  }
  const tail = /^\) (.+)$/.exec(lines[lines.length - 1]);
  if (!tail) {
    throw new Error(`CREATE TABLE ${head[1]} does not end with ') <options>'`);
  }
  const table: DdlTable = { name: head[1], columns: [], primaryKey: [], indexes: [], foreignKeys: [], options: tail[1] };
  const body = lines.slice(1, -1);
  body.forEach((rawLine, index) => {
    const isLast = index === body.length - 1;
    if (rawLine.endsWith(',') === isLast) {
      throw new Error(`CREATE TABLE ${head[1]}: '${rawLine.trim()}' ${isLast ? 'must not' : 'must'} end with a comma`);
    }
    const line = rawLine.trim().replace(/,$/, '');
    let match: RegExpExecArray | null;
    if ((match = /^PRIMARY KEY \(([^)]+)\)$/.exec(line))) {
      table.primaryKey = columnList(match[1]);
    } else if ((match = /^KEY ([a-z_]+) \(([^)]+)\)$/.exec(line))) {
      table.indexes.push({ name: match[1], columns: columnList(match[2]) });
    } else if (
      (match = /^CONSTRAINT ([a-z_]+) FOREIGN KEY \(([a-z_]+)\) REFERENCES ([a-z_]+) \(([a-z_]+)\)$/.exec(line))
    ) {
      table.foreignKeys.push({ name: match[1], column: match[2], table: match[3], referencedColumn: match[4] });
    } else if ((match = /^([a-z_][a-z0-9_]*) ([A-Z]+(?:\(\d+(?:,\d+)?\))?) (.+)$/.exec(line))) {
      const [, name, type, rest] = match;
      if (rest !== 'NOT NULL' && rest !== 'NULL' && `${type} ${rest}` !== UPDATED_AT_DEFINITION) {
        throw new Error(`Column ${table.name}.${name} must be '<TYPE> NOT NULL' or '<TYPE> NULL', got '${line}'`);
      }
      table.columns.push({ name, type, nullable: !rest.startsWith('NOT NULL'), definition: `${type} ${rest}` });
    } else {
      throw new Error(`Unrecognised line in CREATE TABLE ${table.name}: '${line}'`);
    }
  });
  return table;
}

/** Whether a MySQL column type stores the declared Hive type without loss or surprise. */
function compatible(hiveType: string, mysqlType: string, qualifiedColumn: string): boolean {
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(hiveType);
  if (decimal) {
    return mysqlType === `DECIMAL(${decimal[1]},${decimal[2]})`;
  }
  switch (hiveType) {
    case 'string': {
      const varchar = /^VARCHAR\((\d+)\)$/.exec(mysqlType);
      return (varchar !== null && Number(varchar[1]) >= 1 && Number(varchar[1]) <= 16383) || ['TEXT', 'MEDIUMTEXT'].includes(mysqlType);
    }
    case 'int':
      return mysqlType === 'INT' || (mysqlType === 'SMALLINT' && SMALLINT_COLUMNS.has(qualifiedColumn));
    case 'bigint':
      return mysqlType === 'BIGINT';
    case 'double':
      return mysqlType === 'DOUBLE';
    case 'boolean':
      return mysqlType === 'TINYINT(1)';
    case 'date':
      return mysqlType === 'DATE';
    case 'timestamp':
      return mysqlType === 'TIMESTAMP(3)';
    default:
      return false;
  }
}

describe('the source DDL agrees with the source declarations', () => {
  const declarations = loadDeclarations();
  // Parse errors become a failing test (not a suite that fails to load).
  let tables: DdlTable[] = [];
  let parseError: string | undefined;
  try {
    tables = splitStatements(readFileSync(V001, 'utf8')).map(parseCreateTable);
  } catch (error) {
    parseError = (error as Error).message;
  }
  const byName = new Map(tables.map((t) => [t.name, t]));

  test('V001 parses strictly: CREATE TABLE statements, one column or key per line', () => {
    expect(parseError).toBeUndefined();
  });

  test('V001 creates exactly the declared tables, each once', () => {
    expect(declarations.size).toBe(8);
    expect(tables.map((t) => t.name).sort()).toEqual([...declarations.keys()].sort());
    expect(new Set(tables.map((t) => t.name)).size).toBe(tables.length);
  });

  test.each([...declarations.keys()].sort())('%s has the declared columns, in the declared order', (name) => {
    expect(byName.get(name)?.columns.map((c) => c.name)).toEqual(declarations.get(name)?.columns.map((c) => c.name));
  });

  test.each([...declarations.keys()].sort())('%s has the declared nullability on every column', (name) => {
    const ddl = byName.get(name) as DdlTable;
    const declared = declarations.get(name) as Declaration;
    expect(ddl.columns.map((c) => [c.name, c.nullable])).toEqual(declared.columns.map((c) => [c.name, c.nullable]));
  });

  test.each([...declarations.keys()].sort())('%s has a MySQL type compatible with each declared Hive type', (name) => {
    const ddl = byName.get(name) as DdlTable;
    const declared = declarations.get(name) as Declaration;
    const incompatible = declared.columns
      .map((column, i) => ({ column: column.name, hive: column.type, mysql: ddl.columns[i]?.type }))
      .filter((c) => !compatible(c.hive, c.mysql, `${name}.${c.column}`));
    expect(incompatible).toEqual([]);
  });

  test.each([...declarations.keys()].sort())('%s has the declared primary key, in order', (name) => {
    expect(byName.get(name)?.primaryKey).toEqual(declarations.get(name)?.primary_key);
  });

  test.each([...declarations.keys()].sort())(
    '%s has updated_at maintained by MySQL and indexed for incremental extracts',
    (name) => {
      const ddl = byName.get(name) as DdlTable;
      expect(ddl.columns.find((c) => c.name === 'updated_at')?.definition).toBe(UPDATED_AT_DEFINITION);
      expect(ddl.indexes).toContainEqual({ name: `idx_${name}_updated_at`, columns: ['updated_at'] });
    },
  );

  test.each([...declarations.keys()].sort())('%s is InnoDB with utf8mb4', (name) => {
    expect(byName.get(name)?.options).toBe('ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci');
  });

  test('only updated_at carries a default; no other column hides a DEFAULT or ON UPDATE', () => {
    const others = tables.flatMap((t) => t.columns.filter((c) => c.name !== 'updated_at').map((c) => c.definition));
    others.forEach((definition) => expect(definition).not.toMatch(/DEFAULT|ON UPDATE|AUTO_INCREMENT/));
  });

  test('the foreign keys are exactly the relationships of the classic models schema', () => {
    const foreignKeys = tables.flatMap((t) =>
      t.foreignKeys.map((fk) => `${t.name}.${fk.column} -> ${fk.table}.${fk.referencedColumn}`),
    );
    expect(foreignKeys.sort()).toEqual([...EXPECTED_FOREIGN_KEYS].sort());
    tables.forEach((t) => t.foreignKeys.forEach((fk) => expect(fk.name).toBe(`fk_${t.name}_${fk.column}`)));
  });

  test('every foreign key references a primary key of the same type and a table created before it', () => {
    const position = new Map(tables.map((t, i) => [t.name, i]));
    for (const table of tables) {
      for (const fk of table.foreignKeys) {
        const parent = byName.get(fk.table) as DdlTable;
        expect(parent.primaryKey).toEqual([fk.referencedColumn]);
        const childType = table.columns.find((c) => c.name === fk.column)?.type;
        const parentType = parent.columns.find((c) => c.name === fk.referencedColumn)?.type;
        expect(`${table.name}.${fk.column} ${childType}`).toBe(`${table.name}.${fk.column} ${parentType}`);
        expect(position.get(fk.table) as number).toBeLessThanOrEqual(position.get(table.name) as number);
      }
    }
  });

  test('every incremental extract bookmark and hash field is a column, and bookmarks are indexed', () => {
    for (const declaration of declarations.values()) {
      const ddl = byName.get(declaration.name) as DdlTable;
      const columns = ddl.columns.map((c) => c.name);
      if (declaration.extract.mode === 'incremental') {
        expect(declaration.extract.bookmark_keys?.length).toBeGreaterThan(0);
      }
      for (const key of declaration.extract.bookmark_keys ?? []) {
        expect(columns).toContain(key);
        expect(ddl.indexes.some((index) => index.columns[0] === key)).toBe(true);
      }
      if (declaration.extract.hash_field) {
        expect(columns).toContain(declaration.extract.hash_field);
      }
    }
  });

  test('the sample-data loader fills every declared column but updated_at, and loads parents first', () => {
    for (const declaration of declarations.values()) {
      const expected = declaration.columns.map((c) => c.name).filter((c) => c !== 'updated_at');
      expect([declaration.name, ...SAMPLE_COLUMNS[declaration.name as keyof typeof SAMPLE_COLUMNS]]).toEqual([
        declaration.name,
        ...expected,
      ]);
    }
    // LOAD_ORDER is derived from the declarations' references rules; it loads every table after
    // the tables its V001 foreign keys reference (not necessarily in V001's creation order).
    const order: readonly string[] = LOAD_ORDER;
    expect([...order].sort()).toEqual(tables.map((t) => t.name).sort());
    for (const table of tables) {
      for (const fk of table.foreignKeys.filter((f) => f.table !== table.name)) {
        const before = order.indexOf(fk.table) < order.indexOf(table.name);
        expect(`${fk.table} before ${table.name}: ${before}`).toBe(`${fk.table} before ${table.name}: true`);
      }
    }
  });

  test('every foreign key is a references rule of the declaration, and every references rule a foreign key', () => {
    const raw = (name: string): { quality?: { rule: string; column?: string; dataset?: string; key?: string }[] } =>
      JSON.parse(readFileSync(join(DECLARATIONS_DIR, `${name}.json`), 'utf8'));
    const references = [...declarations.keys()].flatMap((name) =>
      (raw(name).quality ?? []).filter((r) => r.rule === 'references').map((r) => `${name}.${r.column} -> ${r.dataset}.${r.key}`),
    );
    expect(references.sort()).toEqual([...EXPECTED_FOREIGN_KEYS].sort());
  });
});
