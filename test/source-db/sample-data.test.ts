import {
  formatCents,
  generateSampleData,
  LOAD_ORDER,
  loadSampleData,
  SAMPLE_COLUMNS,
  type Row,
  type SampleData,
  type TableName,
} from '../../lib/source/sample-data';
import { FakeDb } from './fake-db';

/** Non-null columns per table (updated_at aside), from the declarations. */
const NOT_NULL: Record<TableName, string[]> = {
  offices: ['office_code', 'city', 'phone', 'address_line1', 'country', 'postal_code', 'territory'],
  employees: ['employee_number', 'last_name', 'first_name', 'extension', 'email', 'office_code', 'job_title'],
  customers: ['customer_number', 'customer_name', 'contact_last_name', 'contact_first_name', 'phone', 'address_line1', 'city', 'country'],
  product_lines: ['product_line'],
  products: ['product_code', 'product_name', 'product_line', 'product_scale', 'product_vendor', 'product_description', 'quantity_in_stock', 'buy_price', 'msrp'],
  orders: ['order_number', 'order_date', 'required_date', 'status', 'customer_number'],
  order_lines: ['order_number', 'product_code', 'quantity_ordered', 'price_each', 'order_line_number'],
  payments: ['customer_number', 'check_number', 'payment_date', 'amount'],
};

const PRIMARY_KEYS: Record<TableName, string[]> = {
  offices: ['office_code'],
  employees: ['employee_number'],
  customers: ['customer_number'],
  product_lines: ['product_line'],
  products: ['product_code'],
  orders: ['order_number'],
  order_lines: ['order_number', 'product_code'],
  payments: ['customer_number', 'check_number'],
};

const FOREIGN_KEYS: [TableName, string, TableName, string][] = [
  ['employees', 'office_code', 'offices', 'office_code'],
  ['employees', 'reports_to', 'employees', 'employee_number'],
  ['customers', 'sales_rep_employee_number', 'employees', 'employee_number'],
  ['products', 'product_line', 'product_lines', 'product_line'],
  ['orders', 'customer_number', 'customers', 'customer_number'],
  ['order_lines', 'order_number', 'orders', 'order_number'],
  ['order_lines', 'product_code', 'products', 'product_code'],
  ['payments', 'customer_number', 'customers', 'customer_number'],
];

/** VARCHAR limits of V001 (characters). */
const MAX_LENGTH: Record<string, number> = {
  'offices.office_code': 10, 'offices.postal_code': 15, 'offices.territory': 10, 'employees.extension': 10,
  'employees.email': 100, 'customers.customer_name': 50, 'customers.postal_code': 15, 'products.product_code': 15,
  'products.product_name': 70, 'products.product_scale': 10, 'orders.status': 15, 'payments.check_number': 50,
  'order_lines.product_code': 15, 'employees.office_code': 10, 'employees.job_title': 50,
};

const DECIMAL_COLUMNS = ['customers.credit_limit', 'products.buy_price', 'products.msrp', 'order_lines.price_each', 'payments.amount'];
const DATE_COLUMNS = ['orders.order_date', 'orders.required_date', 'orders.shipped_date', 'payments.payment_date'];

describe('generateSampleData', () => {
  let data: SampleData;
  beforeAll(() => {
    data = generateSampleData();
  });

  test('is deterministic: the same options give the same rows, another seed other rows', () => {
    expect(generateSampleData()).toEqual(data);
    expect(generateSampleData({ seed: 7 }).customers).not.toEqual(data.customers);
  });

  test('makes the classic models volumes at scale 1', () => {
    const counts = Object.fromEntries(LOAD_ORDER.map((t) => [t, data[t].length]));
    expect(counts).toEqual(
      expect.objectContaining({ offices: 7, employees: 23, customers: 122, product_lines: 7, products: 110, orders: 326, payments: 273 }),
    );
    expect(data.order_lines.length).toBeGreaterThan(2500);
    expect(data.order_lines.length).toBeLessThan(3500);
  });

  test('scales the volumes but keeps the reference data', () => {
    const small = generateSampleData({ scale: 0.1 });
    expect(small.offices).toHaveLength(7);
    expect(small.product_lines).toHaveLength(7);
    expect(small.customers).toHaveLength(12);
    expect(small.orders).toHaveLength(33);
    expect(generateSampleData({ scale: 2 }).customers).toHaveLength(244);
  });

  test('rejects a scale, seed or end date out of range', () => {
    expect(() => generateSampleData({ scale: 0 })).toThrow('Sample data scale must be between 0.01 and 100, got 0.');
    expect(() => generateSampleData({ seed: 1.5 })).toThrow('Sample data seed must be an integer, got 1.5.');
    expect(() => generateSampleData({ endDate: '2025-13-45' })).toThrow("Sample data endDate must be a date YYYY-MM-DD, got '2025-13-45'.");
  });

  test.each([1, 0.05, 3])('every row has exactly the table columns and every non-null column is filled (scale %s)', (scale) => {
    const sample = scale === 1 ? data : generateSampleData({ scale, seed: 99 });
    const problems: string[] = [];
    for (const table of LOAD_ORDER) {
      const expected = SAMPLE_COLUMNS[table].join(',');
      for (const row of sample[table]) {
        if (Object.keys(row).join(',') !== expected) {
          problems.push(`${table} columns ${Object.keys(row).join(',')}`);
        }
        for (const column of NOT_NULL[table]) {
          if (row[column] === null || row[column] === undefined || row[column] === '') {
            problems.push(`${table}.${column} empty in ${JSON.stringify(row)}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test.each([1, 0.05, 3])('primary keys are unique (scale %s)', (scale) => {
    const sample = scale === 1 ? data : generateSampleData({ scale, seed: 99 });
    for (const table of LOAD_ORDER) {
      const keys = sample[table].map((row) => JSON.stringify(PRIMARY_KEYS[table].map((c) => row[c])));
      expect(`${table}: ${new Set(keys).size}`).toBe(`${table}: ${keys.length}`);
    }
  });

  test.each([1, 0.05, 3])('every foreign key points at an existing row (scale %s)', (scale) => {
    const sample = scale === 1 ? data : generateSampleData({ scale, seed: 99 });
    for (const [table, column, parent, parentColumn] of FOREIGN_KEYS) {
      const parents = new Set(sample[parent].map((row) => row[parentColumn]));
      const dangling = sample[table].filter((row) => row[column] !== null && !parents.has(row[column]));
      expect(`${table}.${column}: ${dangling.length} dangling`).toBe(`${table}.${column}: 0 dangling`);
    }
  });

  test('a manager row precedes the rows that report to it (InnoDB checks FKs row by row)', () => {
    const seen = new Set<unknown>();
    for (const employee of data.employees) {
      if (employee.reports_to !== null) {
        expect(seen.has(employee.reports_to)).toBe(true);
      }
      seen.add(employee.employee_number);
    }
    expect(data.employees.filter((e) => e.reports_to === null)).toHaveLength(1);
  });

  test('decimals have exactly two decimals and fit DECIMAL(10,2); dates are YYYY-MM-DD', () => {
    const valueOf = (qualified: string): unknown[] => {
      const [table, column] = qualified.split('.') as [TableName, string];
      return data[table].map((row: Row) => row[column]).filter((v) => v !== null);
    };
    const problems: string[] = [];
    for (const column of DECIMAL_COLUMNS) {
      problems.push(...valueOf(column).filter((v) => !/^\d{1,8}\.\d{2}$/.test(String(v))).map((v) => `${column}=${v}`));
    }
    for (const column of DATE_COLUMNS) {
      problems.push(...valueOf(column).filter((v) => !/^\d{4}-\d{2}-\d{2}$/.test(String(v))).map((v) => `${column}=${v}`));
    }
    for (const [column, max] of Object.entries(MAX_LENGTH)) {
      problems.push(...valueOf(column).filter((v) => String(v).length > max).map((v) => `${column} too long: ${v}`));
    }
    problems.push(...data.products.filter((p) => (p.quantity_in_stock as number) > 32767).map((p) => `stock ${p.product_code}`));
    expect(problems).toEqual([]);
  });

  test('orders are consistent: required after ordered, shipped only when shipped, lines numbered from 1', () => {
    const problems: string[] = [];
    const linesByOrder = new Map<unknown, Row[]>();
    data.order_lines.forEach((l) => linesByOrder.set(l.order_number, [...(linesByOrder.get(l.order_number) ?? []), l]));
    for (const order of data.orders) {
      if (!((order.required_date as string) > (order.order_date as string))) {
        problems.push(`${order.order_number} required before ordered`);
      }
      const shipped = ['Shipped', 'Resolved', 'Disputed'].includes(order.status as string);
      if ((order.shipped_date === null) === shipped) {
        problems.push(`${order.order_number} ${order.status} shipped_date=${order.shipped_date}`);
      }
      const numbers = (linesByOrder.get(order.order_number) ?? []).map((l) => l.order_line_number);
      if (numbers.length === 0 || numbers.some((n, i) => n !== i + 1)) {
        problems.push(`${order.order_number} lines ${numbers.join(',')}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('formatCents renders a DECIMAL(10,2) string', () => {
    expect(formatCents(0)).toBe('0.00');
    expect(formatCents(5)).toBe('0.05');
    expect(formatCents(12345678)).toBe('123456.78');
    expect(() => formatCents(1.5)).toThrow('formatCents expects a non-negative integer, got 1.5');
  });
});

describe('loadSampleData', () => {
  const data = generateSampleData({ scale: 0.2 });

  test('inserts into every empty table, parents first, in one transaction, with bound parameters', async () => {
    // Each table after the tables its foreign keys reference (V001__classic_models.sql): the order
    // derived from the declarations' references rules, ties by name (LOAD_ORDER).
    const parentsFirst = ['offices', 'employees', 'customers', 'orders', 'payments', 'product_lines', 'products', 'order_lines'] as const;
    expect(LOAD_ORDER).toEqual(parentsFirst);
    const db = new FakeDb();
    const report = await loadSampleData(db, data, { batchSize: 50 });
    expect(report).toEqual(parentsFirst.map((table) => ({ table, action: 'inserted', rows: data[table].length })));
    expect(db.statements[0]).toBe('START TRANSACTION');
    expect(db.statements.slice(1, 9)).toEqual(parentsFirst.map((t) => `SELECT COUNT(*) AS row_count FROM \`${t}\``));
    expect(db.statements[db.statements.length - 1]).toBe('COMMIT');
    // The recorded inserts, in the order they ran: every insert into a table comes after every
    // insert into the tables before it (a table's batches are not interleaved with another's).
    const insertedInto = db.calls.filter((c) => c.sql.startsWith('INSERT')).map((c) => /^INSERT INTO `(\w+)`/.exec(c.sql)?.[1]);
    expect(insertedInto.filter((table, i) => table !== insertedInto[i - 1])).toEqual([...parentsFirst]);
    expect(db.rowCounts).toEqual(Object.fromEntries(parentsFirst.map((t) => [t, data[t].length])));
  });

  test('never puts a value into the SQL text: only ? placeholders, values in params', async () => {
    const db = new FakeDb();
    await loadSampleData(db, data, { batchSize: 50 });
    const inserts = db.calls.filter((c) => c.sql.startsWith('INSERT'));
    // More than one insert per table (8 tables): batches of 50 rows.
    expect(inserts.length).toBeGreaterThan(8);
    for (const call of inserts) {
      expect(call.sql).toMatch(/^INSERT INTO `\w+` \((`\w+`(, )?)+\) VALUES (\((\?(, )?)+\)(, )?)+$/);
      const placeholders = (call.sql.match(/\?/g) ?? []).length;
      expect(call.params).toHaveLength(placeholders);
      expect(placeholders / (call.sql.match(/\(\?/g) ?? []).length).toBe(
        (/\(([^)]*)\)/.exec(call.sql)?.[1].split(',').length ?? 0),
      );
    }
    const anyName = data.customers[0].customer_name as string;
    expect(inserts.some((c) => c.sql.includes(anyName))).toBe(false);
  });

  test('splits a table into batches of at most batchSize rows', async () => {
    const db = new FakeDb();
    await loadSampleData(db, data, { batchSize: 50 });
    const lineInserts = db.calls.filter((c) => c.sql.startsWith('INSERT INTO `order_lines`'));
    expect(lineInserts).toHaveLength(Math.ceil(data.order_lines.length / 50));
    lineInserts.forEach((c) => expect((c.params?.length ?? 0) / 5).toBeLessThanOrEqual(50));
  });

  test('leaves a table with rows alone, and its children too, and reports it', async () => {
    const db = new FakeDb();
    db.rowCounts.customers = 3;
    const report = await loadSampleData(db, data);
    expect(report).toEqual([
      { table: 'offices', action: 'inserted', rows: data.offices.length },
      { table: 'employees', action: 'inserted', rows: data.employees.length },
      { table: 'customers', action: 'skipped', rows: 3, reason: 'table already has 3 row(s)' },
      {
        table: 'orders',
        action: 'skipped',
        rows: 0,
        reason: 'parent table customers was not loaded by this run, so the generated references would dangle',
      },
      {
        table: 'payments',
        action: 'skipped',
        rows: 0,
        reason: 'parent table customers was not loaded by this run, so the generated references would dangle',
      },
      { table: 'product_lines', action: 'inserted', rows: data.product_lines.length },
      { table: 'products', action: 'inserted', rows: data.products.length },
      {
        table: 'order_lines',
        action: 'skipped',
        rows: 0,
        reason: 'parent table orders was not loaded by this run, so the generated references would dangle',
      },
    ]);
    expect(db.statements.filter((s) => /^INSERT INTO `(customers|orders|order_lines|payments)`/.test(s))).toEqual([]);
  });

  test('a second load inserts nothing', async () => {
    const db = new FakeDb();
    await loadSampleData(db, data);
    const before = db.calls.length;
    const report = await loadSampleData(db, data);
    expect(report.every((t) => t.action === 'skipped')).toBe(true);
    expect(db.statements.slice(before).filter((s) => s.startsWith('INSERT'))).toEqual([]);
  });

  test('rolls back and rethrows when an insert fails', async () => {
    const db = new FakeDb();
    db.failOn = /^INSERT INTO `orders`/;
    await expect(loadSampleData(db, data)).rejects.toThrow('fake failure on: INSERT INTO `orders`');
    expect(db.statements[db.statements.length - 1]).toBe('ROLLBACK');
    expect(db.statements).not.toContain('COMMIT');
  });

  test('rejects rows whose columns do not match the table before touching the database', async () => {
    const db = new FakeDb();
    const bad = { ...data, offices: [{ ...data.offices[0], extra: 1 }] };
    await expect(loadSampleData(db, bad)).rejects.toThrow('A offices row has columns');
    expect(db.calls).toEqual([]);
  });
});
