import { ColumnDeclaration, goldTableDeclarations } from '../../lib/lake/datasets';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseTables, WarehouseTable, warehouseMigrations } from '../../lib/serving/warehouse-schema';

/**
 * The Redshift type a gold column of each declared (Spark SQL) type must have. Strings may take
 * any VARCHAR width (the DDL sizes them from the source); every other type maps to exactly one.
 */
function expectedRedshiftType(goldType: string): string | RegExp {
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(goldType);
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  const mapping: Record<string, string | RegExp> = {
    string: /^VARCHAR\(\d+\)$/,
    int: 'INTEGER',
    bigint: 'BIGINT',
    date: 'DATE',
    timestamp: 'TIMESTAMP',
    boolean: 'BOOLEAN',
    double: 'DOUBLE PRECISION',
  };
  const type = mapping[goldType];
  if (type === undefined) {
    throw new Error(`No Redshift type is mapped for the gold type "${goldType}": add it to the mapping of this test.`);
  }
  return type;
}

describe('the versioned warehouse DDL', () => {
  let tables: Record<string, WarehouseTable>;
  beforeAll(() => {
    const migrations = warehouseMigrations();
    tables = Object.fromEntries(migrations.flatMap((m) => parseTables(m.sql)).map((t) => [t.name, t]));
  });

  test('V001 is the gold star schema', () => {
    expect(warehouseMigrations()[0]).toMatchObject({ version: 1, description: 'gold_star_schema' });
    expect(warehouseMigrations()[0].sql).toMatch(/CREATE SCHEMA IF NOT EXISTS gold;/);
  });

  test('it creates the fact and the four dimensions of the star schema in schema gold', () => {
    expect(Object.keys(tables).sort()).toEqual([
      'gold.dim_customer',
      'gold.dim_date',
      'gold.dim_employee',
      'gold.dim_product',
      'gold.fact_order_line',
    ]);
  });

  test('every table has a distribution and a sort key', () => {
    for (const table of Object.values(tables)) {
      expect({ table: table.name, distribution: table.distribution }).toEqual({
        table: table.name,
        distribution: expect.stringMatching(/^(ALL|KEY\(\w+\))$/),
      });
      expect(table.sortKey.length).toBeGreaterThan(0);
      for (const column of table.sortKey) {
        expect(table.columns).toContain(column);
      }
    }
  });

  test('the fact is distributed with the customer dimension and sorted by order date; small dimensions are copied to every node', () => {
    expect(tables['gold.fact_order_line']).toMatchObject({ distribution: 'KEY(customer_key)', sortKey: ['order_date_key'] });
    expect(tables['gold.dim_customer']).toMatchObject({
      distribution: 'KEY(customer_key)',
      sortKey: ['customer_number', 'valid_from'],
    });
    for (const [name, key] of [
      ['gold.dim_product', 'product_key'],
      ['gold.dim_employee', 'employee_key'],
      ['gold.dim_date', 'date_key'],
    ]) {
      expect(tables[name]).toMatchObject({ distribution: 'ALL', sortKey: [key] });
    }
  });

  test('the fact is at order-line grain with its dimension keys and measures', () => {
    expect(tables['gold.fact_order_line'].columns).toEqual(
      expect.arrayContaining([
        'order_number',
        'order_line_number',
        'product_key',
        'customer_key',
        'employee_key',
        'order_date_key',
        'shipped_date_key',
        'quantity_ordered',
        'price_each',
        'amount',
      ]),
    );
  });

  test('the customer dimension is type 2 and the employee dimension carries its office', () => {
    expect(tables['gold.dim_customer'].columns).toEqual(
      expect.arrayContaining(['customer_key', 'customer_number', 'valid_from', 'valid_to', 'is_current']),
    );
    expect(tables['gold.dim_employee'].columns).toEqual(
      expect.arrayContaining(['employee_key', 'employee_number', 'office_code', 'office_city', 'office_country']),
    );
  });

  test('a migration named outside the convention is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warehouse-ddl-'));
    fs.writeFileSync(path.join(dir, 'V001__ok.sql'), '');
    fs.writeFileSync(path.join(dir, 'V3__bad.sql'), '');
    expect(() => warehouseMigrations(dir)).toThrow(
      'Warehouse migration "V3__bad.sql" must be named V<nnn>__<lower_snake_description>.sql.',
    );
  });

  test('a gap in the versions is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warehouse-ddl-'));
    fs.writeFileSync(path.join(dir, 'V001__one.sql'), '');
    fs.writeFileSync(path.join(dir, 'V003__three.sql'), '');
    expect(() => warehouseMigrations(dir)).toThrow(
      'Warehouse migrations must be numbered V001, V002, ... without gaps: found V003__three.sql at position 2.',
    );
  });

  test('each warehouse table has exactly the columns, in order, of its gold dataset declaration', () => {
    const declarations = Object.fromEntries(goldTableDeclarations().map((d) => [d.name, d]));
    for (const table of Object.values(tables)) {
      const name = table.name.replace(/^gold\./, '');
      const declaration = declarations[name];
      expect([name, declaration !== undefined]).toEqual([name, true]);
      expect([name, table.columns]).toEqual([
        name,
        [...declaration.columns, ...(declaration.partition_keys ?? [])].map((c) => c.name),
      ]);
    }
  });

  test('each warehouse column has the Redshift type of its gold declaration, and is NOT NULL exactly when the declaration is not nullable', () => {
    const declarations = Object.fromEntries(goldTableDeclarations().map((d) => [d.name, d]));
    for (const table of Object.values(tables)) {
      const declaration = declarations[table.name.replace(/^gold\./, '')];
      const declared: ColumnDeclaration[] = [...declaration.columns, ...(declaration.partition_keys ?? [])];
      const byName = Object.fromEntries(table.columnDefinitions.map((c) => [c.name, c]));
      for (const column of declared) {
        const actual = byName[column.name];
        const expected = expectedRedshiftType(column.type);
        // The table and column in the compared values name the culprit when one differs.
        expect({ column: `${table.name}.${column.name}`, type: actual.type, notNull: actual.notNull }).toEqual({
          column: `${table.name}.${column.name}`,
          type: typeof expected === 'string' ? expected : expect.stringMatching(expected),
          notNull: !column.nullable,
        });
      }
    }
  });

  test('the type mapping refuses a gold type it does not know', () => {
    expect(() => expectedRedshiftType('array<string>')).toThrow(
      'No Redshift type is mapped for the gold type "array<string>": add it to the mapping of this test.',
    );
    expect(expectedRedshiftType('decimal(12, 2)')).toBe('DECIMAL(12,2)');
  });

  test('the parser reads each column type and nullability as written', () => {
    const [table] = parseTables(`
      CREATE TABLE IF NOT EXISTS s.t (
        a  INTEGER        NOT NULL ENCODE az64,
        b  VARCHAR( 20 )  ENCODE lzo,
        c  decimal(10, 2) not null,
        d  DOUBLE PRECISION,
        PRIMARY KEY (a)
      ) DISTSTYLE ALL SORTKEY (a);`);
    expect(table.columnDefinitions).toEqual([
      { name: 'a', type: 'INTEGER', notNull: true },
      { name: 'b', type: 'VARCHAR(20)', notNull: false },
      { name: 'c', type: 'DECIMAL(10,2)', notNull: true },
      { name: 'd', type: 'DOUBLE PRECISION', notNull: false },
    ]);
  });
});
