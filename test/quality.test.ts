import { DatasetDeclaration, goldTableDeclarations, sourceTableDeclarations } from '../lib/lake/datasets';
import { byName, dqdlString, loadQualityRules, QualityRule, renderDqdl, ruleToDqdl, splitBySeverity } from '../lib/transform/quality';

/** A small source declaration for the rule tests. */
const ORDERS: DatasetDeclaration = {
  name: 'orders',
  columns: [
    { name: 'order_number', type: 'int', nullable: false },
    { name: 'status', type: 'string', nullable: false },
    { name: 'channel', type: 'string', nullable: true },
    { name: 'amount', type: 'decimal(10,2)', nullable: true },
    { name: 'line_number', type: 'int', nullable: false },
    { name: 'customer_number', type: 'int', nullable: true },
    { name: 'updated_at', type: 'timestamp', nullable: false },
  ],
  primary_key: ['order_number'],
  allowed_values: { status: ['Shipped', 'On Hold'] },
};
const CUSTOMERS: DatasetDeclaration = {
  name: 'customers',
  columns: [{ name: 'customer_number', type: 'int', nullable: false }],
  primary_key: ['customer_number'],
};
const DATASETS = byName([ORDERS, CUSTOMERS]);

const withQuality = (quality: unknown[], declaration: DatasetDeclaration = ORDERS): DatasetDeclaration => ({ ...declaration, quality });
const rules = (quality: unknown[], layer: 'source' | 'gold' = 'source'): QualityRule[] =>
  loadQualityRules(withQuality(quality), layer, { datasets: DATASETS });
const explicit = (quality: unknown[], layer: 'source' | 'gold' = 'source'): QualityRule[] => rules(quality, layer).filter((r) => !r.implicit);
const dqdlOf = (rule: unknown): string[] => {
  const [loaded] = explicit([rule]);
  const column = 'column' in loaded ? ORDERS.columns.find((c) => c.name === loaded.column) : undefined;
  return ruleToDqdl(loaded, column?.nullable ?? false);
};

describe('implicit rules', () => {
  test('a source declaration: not_null per non-nullable column and allowed_values quarantine, the primary key is unique and blocks', () => {
    expect(rules([]).map((r) => [r.name, r.action, r.implicit])).toEqual([
      ['not_null:order_number', 'quarantine', true],
      ['not_null:status', 'quarantine', true],
      ['not_null:line_number', 'quarantine', true],
      ['not_null:updated_at', 'quarantine', true],
      ['unique:order_number', 'block', true],
      ['allowed_values:status', 'quarantine', true],
    ]);
  });

  test('a gold declaration: every implicit rule blocks, and partition keys count as columns', () => {
    const gold: DatasetDeclaration = {
      name: 'fact',
      columns: [{ name: 'key', type: 'bigint', nullable: false }],
      partition_keys: [{ name: 'order_date', type: 'date', nullable: false }],
    };
    expect(loadQualityRules(gold, 'gold', { datasets: byName([gold]) }).map((r) => [r.name, r.action])).toEqual([
      ['not_null:key', 'block'],
      ['not_null:order_date', 'block'],
    ]);
  });
});

describe('DQDL of each rule kind', () => {
  test.each<[string, unknown, string[]]>([
    ['not_null on one column', { rule: 'not_null', columns: ['channel'], action: 'warn' }, ['IsComplete "channel"']],
    [
      'not_null on several columns',
      { rule: 'not_null', columns: ['channel', 'amount'], action: 'quarantine' },
      ['IsComplete "channel"', 'IsComplete "amount"'],
    ],
    ['unique on one column', { rule: 'unique', columns: ['line_number'], action: 'block' }, ['IsUnique "line_number"']],
    [
      'unique on several columns',
      { rule: 'unique', columns: ['order_number', 'line_number'], action: 'warn' },
      ['IsPrimaryKey "order_number" "line_number"'],
    ],
    ['range with min on a non-nullable column', { rule: 'range', column: 'line_number', min: 1, action: 'block' }, ['ColumnValues "line_number" >= 1']],
    [
      'range with min and max on a non-nullable column',
      { rule: 'range', column: 'line_number', min: 1, max: 100000, action: 'quarantine' },
      ['ColumnValues "line_number" >= 1', 'ColumnValues "line_number" <= 100000'],
    ],
    [
      'range with max on a nullable column (NULL passes, as in the job)',
      { rule: 'range', column: 'amount', max: 99.5, action: 'warn' },
      ['(ColumnValues "amount" <= 99.5) or (ColumnValues "amount" = NULL)'],
    ],
    [
      'allowed_values on a nullable column (NULL passes, as in the job)',
      { rule: 'allowed_values', column: 'channel', values: ['web', 'store'], action: 'quarantine' },
      ['ColumnValues "channel" in ["web", "store", NULL]'],
    ],
    [
      'references',
      { rule: 'references', column: 'customer_number', dataset: 'customers', key: 'customer_number', action: 'quarantine' },
      ['ReferentialIntegrity "customer_number" "customers.customer_number" = 1.0'],
    ],
    ['freshness', { rule: 'freshness', column: 'updated_at', max_age_hours: 48, action: 'warn' }, ['DataFreshness "updated_at" <= 48 hours']],
    ['row_count with min', { rule: 'row_count', min: 1, action: 'block' }, ['RowCount >= 1']],
    ['row_count with min and max', { rule: 'row_count', min: 1, max: 5000, action: 'warn' }, ['RowCount >= 1', 'RowCount <= 5000']],
    ['completeness', { rule: 'completeness', column: 'channel', min_ratio: 0.95, action: 'warn' }, ['Completeness "channel" >= 0.95']],
  ])('%s', (_name, rule, expected) => {
    expect(dqdlOf(rule)).toEqual(expected);
  });

  test('the implicit allowed_values of a non-nullable column lists only the values', () => {
    const implicit = rules([]).find((r) => r.name === 'allowed_values:status')!;
    expect(ruleToDqdl(implicit, false)).toEqual(['ColumnValues "status" in ["Shipped", "On Hold"]']);
  });

  test('quotes and backslashes in names and values are escaped', () => {
    expect(dqdlString('say "hi"\\now')).toBe('"say \\"hi\\"\\\\now"');
    const odd: DatasetDeclaration = {
      name: 'odd',
      columns: [{ name: 'label', type: 'string', nullable: false }],
      allowed_values: { label: ['a "quoted" value', 'back\\slash'] },
    };
    expect(renderDqdl(odd, loadQualityRules(odd, 'gold', { datasets: byName([odd]) }))).toBe(
      'Rules = [\n  IsComplete "label",\n  ColumnValues "label" in ["a \\"quoted\\" value", "back\\\\slash"]\n]',
    );
  });

  test('a ruleset is "Rules = [ ... ]" with one rule a line', () => {
    const { blocking, warning } = splitBySeverity(rules([{ rule: 'row_count', min: 1, action: 'block' }, { rule: 'freshness', column: 'updated_at', max_age_hours: 24, action: 'warn' }]));
    expect(renderDqdl(ORDERS, blocking)).toBe(
      [
        'Rules = [',
        '  IsComplete "order_number",',
        '  IsComplete "status",',
        '  IsComplete "line_number",',
        '  IsComplete "updated_at",',
        '  IsUnique "order_number",',
        '  ColumnValues "status" in ["Shipped", "On Hold"],',
        '  RowCount >= 1',
        ']',
      ].join('\n'),
    );
    expect(renderDqdl(ORDERS, warning)).toBe('Rules = [\n  DataFreshness "updated_at" <= 24 hours\n]');
  });

  test('quarantine and block rules are blocking in the rulesets, warn rules are warnings', () => {
    const { blocking, warning } = splitBySeverity(
      explicit([
        { rule: 'range', column: 'line_number', min: 1, action: 'quarantine' },
        { rule: 'row_count', min: 1, action: 'block' },
        { rule: 'completeness', column: 'channel', min_ratio: 0.5, action: 'warn' },
      ]),
    );
    expect(blocking.map((r) => r.name)).toEqual(['range:line_number', 'row_count']);
    expect(warning.map((r) => r.name)).toEqual(['completeness:channel']);
  });

  test('an empty ruleset cannot be rendered', () => {
    expect(() => renderDqdl(ORDERS, [])).toThrow('Data-quality rules of "orders": no rules to render; a DQDL ruleset needs at least one rule.');
  });
});

describe('invalid rules name the dataset and the rule index', () => {
  const prefix = 'Data-quality rules of "orders": quality[1]: ';
  const ok = { rule: 'row_count', min: 1, action: 'block' };
  test.each<[string, unknown, string, ('source' | 'gold')?]>([
    ['not an object', 'not_null', 'a rule must be an object with "rule" and "action".'],
    ['an unknown kind', { rule: 'positive', column: 'amount', action: 'block' }, 'unknown rule kind "positive"; use one of not_null, range, allowed_values, references, unique, freshness, row_count, completeness.'],
    ['an unknown field', { rule: 'range', column: 'amount', min: 0, maximum: 3, action: 'block' }, 'range takes no field "maximum"; its fields are column, min, max, action.'],
    ['a bad action', { rule: 'range', column: 'amount', min: 0, action: 'drop' }, 'action "drop" is not one of quarantine, block, warn.'],
    ['quarantine on a dataset-level kind', { rule: 'unique', columns: ['line_number'], action: 'quarantine' }, 'unique judges the whole dataset and cannot quarantine rows; use action block or warn.'],
    ['quarantine in gold', { rule: 'range', column: 'amount', min: 0, action: 'quarantine' }, 'range has action quarantine, but gold has no quarantine; use action block or warn.', 'gold'],
    ['an unknown column', { rule: 'range', column: 'price', min: 0, action: 'block' }, 'column "price" is not declared (declared: order_number, status, channel, amount, line_number, customer_number, updated_at).'],
    ['an unknown column in a list', { rule: 'not_null', columns: ['channel', 'price'], action: 'warn' }, 'column "price" is not declared'],
    ['an empty column list', { rule: 'unique', columns: [], action: 'block' }, 'unique needs "columns", a non-empty array of column names.'],
    ['a range on a string column', { rule: 'range', column: 'status', min: 0, action: 'block' }, 'range needs a numeric column; "status" is string.'],
    ['a range without bounds', { rule: 'range', column: 'amount', action: 'block' }, 'range needs "min", "max" or both.'],
    ['a range with min above max', { rule: 'range', column: 'amount', min: 5, max: 1, action: 'block' }, '"min" (5) is greater than "max" (1).'],
    ['a range bound that is not a number', { rule: 'range', column: 'amount', min: '0', action: 'block' }, '"min" is "0"; allowed: a JSON number.'],
    ['allowed_values on a number column', { rule: 'allowed_values', column: 'amount', values: ['1'], action: 'block' }, 'allowed_values needs a string column; "amount" is decimal(10,2).'],
    ['allowed_values without values', { rule: 'allowed_values', column: 'channel', values: [], action: 'block' }, 'allowed_values needs "values", a non-empty array of strings.'],
    ['a reference to an unknown dataset', { rule: 'references', column: 'customer_number', dataset: 'clients', key: 'id', action: 'warn' }, 'references dataset "clients", which is not a source table (orders, customers).'],
    ['a reference to an unknown key', { rule: 'references', column: 'customer_number', dataset: 'customers', key: 'id', action: 'warn' }, 'references "customers.id", but "id" is not a column of customers.'],
    ['freshness on a number column', { rule: 'freshness', column: 'amount', max_age_hours: 1, action: 'warn' }, 'freshness needs a date or timestamp column; "amount" is decimal(10,2).'],
    ['freshness of zero hours', { rule: 'freshness', column: 'updated_at', max_age_hours: 0, action: 'warn' }, '"max_age_hours" is 0; allowed: a number of hours greater than 0.'],
    ['a fractional row count', { rule: 'row_count', min: 1.5, action: 'warn' }, '"min" is 1.5; allowed: a whole number of at least 0.'],
    ['a completeness ratio above 1', { rule: 'completeness', column: 'channel', min_ratio: 1.5, action: 'warn' }, '"min_ratio" is 1.5; allowed: a number from 0 to 1.'],
    ['a rule that repeats an implicit one', { rule: 'not_null', columns: ['status'], action: 'block' }, 'rule name "not_null:status" is already used by an implicit rule; merge the two rules (names must be unique).'],
    ['a rule that repeats an earlier one', { rule: 'row_count', max: 9, action: 'warn' }, 'rule name "row_count" is already used by quality[0]; merge the two rules (names must be unique).'],
  ])('%s', (_name, rule, message, layer = 'source') => {
    expect(() => rules([ok, rule], layer)).toThrow(`${prefix}${message}`);
  });

  test('"quality" must be an array', () => {
    expect(() => loadQualityRules({ ...ORDERS, quality: {} as never }, 'source', { datasets: DATASETS })).toThrow(
      'Data-quality rules of "orders": "quality" must be an array of rules.',
    );
  });
});

describe('the shipped declarations', () => {
  test.each(sourceTableDeclarations().map((d) => [d.name, d] as const))('source %s loads its rules and renders a blocking ruleset', (_name, declaration) => {
    const loaded = loadQualityRules(declaration, 'source');
    expect(loaded.filter((r) => r.implicit).length).toBeGreaterThan(0);
    expect(loaded.find((r) => r.kind === 'unique' && r.implicit)?.action).toBe('block');
    expect(renderDqdl(declaration, splitBySeverity(loaded).blocking)).toMatch(/^Rules = \[\n[\s\S]+\n\]$/);
  });

  test.each(goldTableDeclarations().map((d) => [d.name, d] as const))('gold %s loads its rules, all implicit ones blocking', (_name, declaration) => {
    const loaded = loadQualityRules(declaration, 'gold');
    expect(loaded.filter((r) => r.implicit).every((r) => r.action === 'block')).toBe(true);
    expect(loaded.some((r) => r.action === 'quarantine')).toBe(false);
    expect(renderDqdl(declaration, splitBySeverity(loaded).blocking)).toMatch(/^Rules = \[/);
  });

  test('references of the source declarations point at source tables (checked against the real declarations by default)', () => {
    const names = sourceTableDeclarations().map((d) => d.name);
    for (const declaration of sourceTableDeclarations()) {
      for (const rule of loadQualityRules(declaration, 'source')) {
        if (rule.kind === 'references') {
          expect(names).toContain(rule.dataset);
        }
      }
    }
  });
});
