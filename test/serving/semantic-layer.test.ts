import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { prestoType, readServingSql, savedQueries, servingViews } from '../../lib/serving/semantic-layer';

/** A directory with the given files. */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'serving-sql-'));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const DECLARATION = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, description: 'A view.', columns: [{ name: 'n', type: 'bigint', nullable: false }], ...extra });

describe('a serving SQL file', () => {
  test('is its leading comment (the description, as one line) and its statement, without a final semicolon', () => {
    const dir = dirWith({ 'q.sql': '-- Counts the lines,\n-- all of them.\nSELECT count(*) AS n\nFROM fact_order_line;\n' });
    expect(readServingSql(path.join(dir, 'q.sql'))).toEqual({
      name: 'q',
      description: 'Counts the lines, all of them.',
      sql: 'SELECT count(*) AS n\nFROM fact_order_line',
    });
  });

  test.each([
    ['without a comment', 'SELECT 1 AS n\n'],
    ['without a statement', '-- Nothing to run.\n'],
    ['empty', ''],
  ])('is refused %s, naming the file', (_, text) => {
    const dir = dirWith({ 'bad.sql': text });
    expect(() => readServingSql(path.join(dir, 'bad.sql'))).toThrow(`${path.join(dir, 'bad.sql')}: a serving SQL file is a '--' comment describing it, then one statement.`);
  });
});

describe('the views of a directory', () => {
  test('are its .sql files in name order, each with its declaration', () => {
    const dir = dirWith({ 'b.sql': '-- B.\nSELECT 1 AS n', 'b.json': DECLARATION('b'), 'a.sql': '-- A.\nSELECT 2 AS n', 'a.json': DECLARATION('a') });
    expect(servingViews(dir).map((v) => [v.name, v.declaration.columns[0].type])).toEqual([['a', 'bigint'], ['b', 'bigint']]);
  });

  test('are refused when a view has no declaration', () => {
    const dir = dirWith({ 'a.sql': '-- A.\nSELECT 1 AS n' });
    expect(() => servingViews(dir)).toThrow(/Cannot read the dataset declaration .*a\.json/);
  });

  test('are refused when a declaration has no view', () => {
    const dir = dirWith({ 'a.sql': '-- A.\nSELECT 1 AS n', 'a.json': DECLARATION('a'), 'old.json': DECLARATION('old') });
    expect(() => servingViews(dir)).toThrow(`${dir}: old.json declares no view (no .sql of that name).`);
  });

  test.each([
    ['another name', DECLARATION('b'), 'got name "b"'],
    ['a field of tables', DECLARATION('a', { partition_keys: [{ name: 'd', type: 'date', nullable: false }] }), 'got name "a", partition_keys'],
  ])('are refused when a declaration has %s', (_, declaration, detail) => {
    const dir = dirWith({ 'a.sql': '-- A.\nSELECT 1 AS n', 'a.json': declaration });
    expect(() => servingViews(dir)).toThrow(`a view's declaration has its file's name "a", a description and columns only (${detail}).`);
  });

  test('are refused when a declaration is invalid, with the declaration check\'s message', () => {
    const dir = dirWith({ 'a.sql': '-- A.\nSELECT 1 AS n', 'a.json': JSON.stringify({ name: 'a', description: 'A.', columns: [{ name: 'n', type: 'number', nullable: false }] }) });
    expect(() => servingViews(dir)).toThrow(/a\.json: 'columns\[0\]\.type'/);
  });
});

test('saved queries are the .sql files of their directory, in name order', () => {
  const dir = dirWith({ 'z.sql': '-- Z?\nSELECT 1 AS n', 'm.sql': '-- M.\nSELECT 2 AS n', 'notes.txt': 'not a query' });
  expect(savedQueries(dir).map((q) => q.name)).toEqual(['m', 'z']);
});

describe("Athena's type of a declared type", () => {
  test.each([
    ['string', 'varchar'],
    ['int', 'integer'],
    ['bigint', 'bigint'],
    ['double', 'double'],
    ['boolean', 'boolean'],
    ['date', 'date'],
    ['timestamp', 'timestamp'],
    ['decimal(18,2)', 'decimal(18,2)'],
    ['decimal(18, 2)', 'decimal(18,2)'],
  ])('%s is %s', (declared, presto) => {
    expect(prestoType(declared)).toBe(presto);
  });

  test('is refused for a type the declarations do not allow, naming the column', () => {
    expect(() => prestoType('varchar(10)', 'name')).toThrow('Column "name" has type "varchar(10)"');
  });
});
