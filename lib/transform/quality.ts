import { ColumnDeclaration, DatasetDeclaration, goldTableDeclarations, isRecord, sourceTableDeclarations } from '../lake/datasets';

/**
 * Data-quality rules of the dataset declarations, for the catalog side: the same rules the
 * Spark jobs enforce (`undercurrent_glue.quality`), loaded from each declaration and rendered
 * as Glue Data Quality Definition Language (DQDL) rulesets.
 *
 * Implicit rules, derived and never written in `"quality"`:
 * - every column with `"nullable": false` -> `not_null` on that column;
 * - `primary_key` (source declarations) -> `unique` on those columns;
 * - `allowed_values` -> `allowed_values` on that column.
 * Their action: on a source declaration (the curated layer) `quarantine` for not_null and
 * allowed_values, `block` for unique (evaluated after dedup); on a gold declaration `block`.
 *
 * Explicit rules are the objects of `"quality"`, each with `"rule"`, `"action"` and its fields.
 * A rule's name is `<rule>:<column or columns joined by ','>`, or `row_count`.
 */

/** What a failed rule does. */
export const QUALITY_ACTIONS = ['quarantine', 'block', 'warn'] as const;
export type QualityAction = (typeof QUALITY_ACTIONS)[number];

/** Rules that judge single rows (and so may quarantine the failing ones). */
export const ROW_LEVEL_KINDS = ['not_null', 'range', 'allowed_values', 'references'] as const;
/** Rules that judge the whole dataset (block or warn only). */
export const DATASET_LEVEL_KINDS = ['unique', 'freshness', 'row_count', 'completeness'] as const;
export const QUALITY_RULE_KINDS = [...ROW_LEVEL_KINDS, ...DATASET_LEVEL_KINDS] as const;
export type QualityRuleKind = (typeof QUALITY_RULE_KINDS)[number];

/** The layer a declaration describes: source tables (curated) or gold tables. */
export type QualityLayer = 'source' | 'gold';

interface RuleBase {
  /** `<rule>:<columns>` or `row_count`: the name in quarantine rows, reports and ruleset comments. */
  readonly name: string;
  readonly action: QualityAction;
  /** Derived from the columns, primary key or allowed values rather than written in "quality". */
  readonly implicit: boolean;
}

export interface NotNullRule extends RuleBase {
  readonly kind: 'not_null';
  readonly columns: readonly string[];
}
export interface UniqueRule extends RuleBase {
  readonly kind: 'unique';
  readonly columns: readonly string[];
}
export interface RangeRule extends RuleBase {
  readonly kind: 'range';
  readonly column: string;
  /** Inclusive lower bound. */
  readonly min?: number;
  /** Inclusive upper bound. */
  readonly max?: number;
}
export interface AllowedValuesRule extends RuleBase {
  readonly kind: 'allowed_values';
  readonly column: string;
  readonly values: readonly string[];
}
export interface ReferencesRule extends RuleBase {
  readonly kind: 'references';
  readonly column: string;
  /** A dataset of the same layer (a source table, or a gold table). */
  readonly dataset: string;
  readonly key: string;
}
export interface FreshnessRule extends RuleBase {
  readonly kind: 'freshness';
  readonly column: string;
  readonly maxAgeHours: number;
}
export interface RowCountRule extends RuleBase {
  readonly kind: 'row_count';
  readonly min?: number;
  readonly max?: number;
}
export interface CompletenessRule extends RuleBase {
  readonly kind: 'completeness';
  readonly column: string;
  readonly minRatio: number;
}
export type QualityRule =
  | NotNullRule
  | UniqueRule
  | RangeRule
  | AllowedValuesRule
  | ReferencesRule
  | FreshnessRule
  | RowCountRule
  | CompletenessRule;

/** The fields each explicit rule kind takes besides `rule` and `action`. */
const RULE_FIELDS: Readonly<Record<QualityRuleKind, readonly string[]>> = {
  not_null: ['columns'],
  range: ['column', 'min', 'max'],
  allowed_values: ['column', 'values'],
  references: ['column', 'dataset', 'key'],
  unique: ['columns'],
  freshness: ['column', 'max_age_hours'],
  row_count: ['min', 'max'],
  completeness: ['column', 'min_ratio'],
};
const COMMON_FIELDS = ['rule', 'action'];
const NUMERIC_TYPE = /^(int|bigint|double|decimal\(\d+,\s*\d+\))$/;
const TIME_TYPES = ['date', 'timestamp'];

/** Every column a rule may name: the declared columns, then the partition keys. */
function allColumns(declaration: DatasetDeclaration): readonly ColumnDeclaration[] {
  return [...declaration.columns, ...(declaration.partition_keys ?? [])];
}

/** Options of {@link loadQualityRules}. */
export interface LoadQualityOptions {
  /**
   * The declarations of the layer by name, to check that `references` name a dataset of the
   * layer and a column of it.
   * @default - the layer's declarations: the source tables, or the gold tables
   */
  readonly datasets?: ReadonlyMap<string, DatasetDeclaration>;
}

/**
 * The rules of a declaration, as `undercurrent_glue.quality.load_rules` loads them: the
 * implicit ones first (not_null per non-nullable column, columns then partition keys; then
 * unique on the primary key; then allowed_values per column), then the explicit ones in the
 * order of `"quality"`.
 *
 * @throws Error `Data-quality rules of "<name>": quality[<index>]: <problem>.` for an entry
 *   that is not an object, an unknown rule kind or field, a missing field, an undeclared
 *   column, a bad action (quarantine on a dataset-level rule or in gold), a column of the
 *   wrong type, bad bounds or values, an unknown reference dataset or key, or a rule name
 *   another rule already has.
 */
export function loadQualityRules(
  declaration: DatasetDeclaration,
  layer: QualityLayer,
  options: LoadQualityOptions = {},
): QualityRule[] {
  const columns = allColumns(declaration);
  const columnNames = columns.map((c) => c.name);
  const rowAction: QualityAction = layer === 'source' ? 'quarantine' : 'block';
  const rules: QualityRule[] = [];

  for (const column of columns.filter((c) => !c.nullable)) {
    rules.push({ kind: 'not_null', name: `not_null:${column.name}`, columns: [column.name], action: rowAction, implicit: true });
  }
  const primaryKey = declaration.primary_key ?? [];
  if (primaryKey.length > 0) {
    const unknown = primaryKey.filter((c) => !columnNames.includes(c));
    if (unknown.length > 0) {
      throw new Error(`Data-quality rules of "${declaration.name}": primary_key names ${unknown.map((c) => `"${c}"`).join(', ')}, not declared columns.`);
    }
    rules.push({ kind: 'unique', name: `unique:${primaryKey.join(',')}`, columns: [...primaryKey], action: 'block', implicit: true });
  }
  for (const [column, values] of Object.entries(declaration.allowed_values ?? {})) {
    rules.push({ kind: 'allowed_values', name: `allowed_values:${column}`, column, values: [...values], action: rowAction, implicit: true });
  }

  const explicit = declaration.quality ?? [];
  if (!Array.isArray(explicit)) {
    throw new Error(`Data-quality rules of "${declaration.name}": "quality" must be an array of rules.`);
  }
  const datasets = options.datasets ?? byName(layer === 'source' ? sourceTableDeclarations() : goldTableDeclarations());
  const names = new Map<string, string>(rules.map((r) => [r.name, 'an implicit rule']));
  explicit.forEach((raw: unknown, index: number) => {
    const rule = explicitRule(declaration, layer, columns, raw, index, datasets);
    if (names.has(rule.name)) {
      throw new Error(
        `Data-quality rules of "${declaration.name}": quality[${index}]: rule name "${rule.name}" is already used by ${names.get(rule.name)}; merge the two rules (names must be unique).`,
      );
    }
    names.set(rule.name, `quality[${index}]`);
    rules.push(rule);
  });
  return rules;
}

function explicitRule(
  declaration: DatasetDeclaration,
  layer: QualityLayer,
  columns: readonly ColumnDeclaration[],
  raw: unknown,
  index: number,
  datasets: ReadonlyMap<string, DatasetDeclaration>,
): QualityRule {
  const fail = (problem: string): never => {
    throw new Error(`Data-quality rules of "${declaration.name}": quality[${index}]: ${problem}.`);
  };
  if (!isRecord(raw)) {
    return fail('a rule must be an object with "rule" and "action"');
  }
  const kind = raw.rule;
  if (typeof kind !== 'string' || !(QUALITY_RULE_KINDS as readonly string[]).includes(kind)) {
    return fail(`unknown rule kind ${JSON.stringify(kind)}; use one of ${QUALITY_RULE_KINDS.join(', ')}`);
  }
  const ruleKind = kind as QualityRuleKind;
  const allowedFields = [...COMMON_FIELDS, ...RULE_FIELDS[ruleKind]];
  const extra = Object.keys(raw).filter((field) => !allowedFields.includes(field));
  if (extra.length > 0) {
    fail(`${ruleKind} takes no field ${extra.map((f) => `"${f}"`).join(', ')}; its fields are ${RULE_FIELDS[ruleKind].join(', ')}, action`);
  }
  const action = raw.action;
  if (typeof action !== 'string' || !(QUALITY_ACTIONS as readonly string[]).includes(action)) {
    fail(`action ${JSON.stringify(action)} is not one of ${QUALITY_ACTIONS.join(', ')}`);
  }
  const rowLevel = (ROW_LEVEL_KINDS as readonly string[]).includes(ruleKind);
  if (action === 'quarantine' && !rowLevel) {
    fail(`${ruleKind} judges the whole dataset and cannot quarantine rows; use action block or warn`);
  }
  if (action === 'quarantine' && layer === 'gold') {
    fail(`${ruleKind} has action quarantine, but gold has no quarantine; use action block or warn`);
  }
  const base = { action: action as QualityAction, implicit: false };

  const column = (field = 'column'): ColumnDeclaration => {
    const name = raw[field];
    if (typeof name !== 'string') {
      return fail(`${ruleKind} needs a string "${field}"`);
    }
    const found = columns.find((c) => c.name === name);
    if (!found) {
      return fail(`column "${name}" is not declared (declared: ${columns.map((c) => c.name).join(', ')})`);
    }
    return found;
  };
  const columnList = (): string[] => {
    const names = raw.columns;
    if (!Array.isArray(names) || names.length === 0) {
      return fail(`${ruleKind} needs "columns", a non-empty array of column names`);
    }
    for (const name of names) {
      if (typeof name !== 'string' || !columns.some((c) => c.name === name)) {
        fail(`column ${JSON.stringify(name)} is not declared (declared: ${columns.map((c) => c.name).join(', ')})`);
      }
    }
    if (new Set(names).size !== names.length) {
      fail(`"columns" lists a column twice (${names.join(', ')})`);
    }
    return names as string[];
  };
  const number = (field: string, check: (n: number) => boolean, allowed: string, optional = false): number | undefined => {
    const value = raw[field];
    if (value === undefined && optional) {
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      return fail(`"${field}" is ${JSON.stringify(value) ?? 'missing'}; allowed: ${allowed}`);
    }
    return value;
  };

  switch (ruleKind) {
    case 'not_null': {
      const names = columnList();
      return { ...base, kind: 'not_null', name: `not_null:${names.join(',')}`, columns: names };
    }
    case 'unique': {
      const names = columnList();
      return { ...base, kind: 'unique', name: `unique:${names.join(',')}`, columns: names };
    }
    case 'range': {
      const target = column();
      if (!NUMERIC_TYPE.test(target.type)) {
        fail(`range needs a numeric column; "${target.name}" is ${target.type}`);
      }
      const min = number('min', () => true, 'a JSON number', true);
      const max = number('max', () => true, 'a JSON number', true);
      if (min === undefined && max === undefined) {
        fail('range needs "min", "max" or both');
      }
      if (min !== undefined && max !== undefined && min > max) {
        fail(`"min" (${min}) is greater than "max" (${max})`);
      }
      return { ...base, kind: 'range', name: `range:${target.name}`, column: target.name, min, max };
    }
    case 'allowed_values': {
      const target = column();
      if (target.type !== 'string') {
        fail(`allowed_values needs a string column; "${target.name}" is ${target.type}`);
      }
      const values = raw.values;
      if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string')) {
        fail('allowed_values needs "values", a non-empty array of strings');
      }
      return { ...base, kind: 'allowed_values', name: `allowed_values:${target.name}`, column: target.name, values: values as string[] };
    }
    case 'references': {
      const target = column();
      const { dataset, key } = raw;
      if (typeof dataset !== 'string' || dataset === '' || typeof key !== 'string' || key === '') {
        fail('references needs a string "dataset" and a string "key"');
      }
      const referenced = datasets.get(dataset as string);
      if (!referenced) {
        fail(`references dataset "${dataset}", which is not a ${layer === 'source' ? 'source' : 'gold'} table (${[...datasets.keys()].join(', ')})`);
      }
      if (!allColumns(referenced!).some((c) => c.name === key)) {
        fail(`references "${dataset}.${key}", but "${key}" is not a column of ${dataset}`);
      }
      return {
        ...base,
        kind: 'references',
        name: `references:${target.name}`,
        column: target.name,
        dataset: dataset as string,
        key: key as string,
      };
    }
    case 'freshness': {
      const target = column();
      if (!TIME_TYPES.includes(target.type)) {
        fail(`freshness needs a date or timestamp column; "${target.name}" is ${target.type}`);
      }
      const hours = number('max_age_hours', (n) => n > 0, 'a number of hours greater than 0')!;
      return { ...base, kind: 'freshness', name: `freshness:${target.name}`, column: target.name, maxAgeHours: hours };
    }
    case 'row_count': {
      const min = number('min', (n) => Number.isInteger(n) && n >= 0, 'a whole number of at least 0', true);
      const max = number('max', (n) => Number.isInteger(n) && n >= 0, 'a whole number of at least 0', true);
      if (min === undefined && max === undefined) {
        fail('row_count needs "min", "max" or both');
      }
      if (min !== undefined && max !== undefined && min > max) {
        fail(`"min" (${min}) is greater than "max" (${max})`);
      }
      return { ...base, kind: 'row_count', name: 'row_count', min, max };
    }
    case 'completeness': {
      const target = column();
      const ratio = number('min_ratio', (n) => n >= 0 && n <= 1, 'a number from 0 to 1')!;
      return { ...base, kind: 'completeness', name: `completeness:${target.name}`, column: target.name, minRatio: ratio };
    }
  }
}

/** A DQDL string literal: double quotes, with `\` and `"` escaped. */
export function dqdlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A DQDL number: JSON's rendering (no exponent for the values declarations hold). */
function dqdlNumber(value: number): string {
  return String(value);
}

/**
 * The DQDL rules of one quality rule (one or more lines).
 *
 * `ColumnValues` fails NULL rows (AWS documents this for every ColumnValues rule but `!=` and
 * `not in`), while the jobs leave a NULL to the column's not_null rule; so on a nullable
 * column a range or allowed_values rule also admits NULL, the way the AWS documentation shows.
 *
 * @param nullable whether the rule's column may be NULL (range, allowed_values).
 */
export function ruleToDqdl(rule: QualityRule, nullable = false): string[] {
  const allowNull = (line: string, column: string): string =>
    nullable ? `(${line}) or (ColumnValues ${dqdlString(column)} = NULL)` : line;
  switch (rule.kind) {
    case 'not_null':
      return rule.columns.map((c) => `IsComplete ${dqdlString(c)}`);
    case 'unique':
      return [
        rule.columns.length === 1
          ? `IsUnique ${dqdlString(rule.columns[0])}`
          : `IsPrimaryKey ${rule.columns.map(dqdlString).join(' ')}`,
      ];
    case 'range':
      return [
        ...(rule.min !== undefined ? [allowNull(`ColumnValues ${dqdlString(rule.column)} >= ${dqdlNumber(rule.min)}`, rule.column)] : []),
        ...(rule.max !== undefined ? [allowNull(`ColumnValues ${dqdlString(rule.column)} <= ${dqdlNumber(rule.max)}`, rule.column)] : []),
      ];
    case 'allowed_values': {
      const values = [...rule.values.map(dqdlString), ...(nullable ? ['NULL'] : [])];
      return [`ColumnValues ${dqdlString(rule.column)} in [${values.join(', ')}]`];
    }
    case 'references':
      return [`ReferentialIntegrity ${dqdlString(rule.column)} ${dqdlString(`${rule.dataset}.${rule.key}`)} = 1.0`];
    case 'freshness':
      return [`DataFreshness ${dqdlString(rule.column)} <= ${dqdlNumber(rule.maxAgeHours)} hours`];
    case 'row_count':
      return [
        ...(rule.min !== undefined ? [`RowCount >= ${dqdlNumber(rule.min)}`] : []),
        ...(rule.max !== undefined ? [`RowCount <= ${dqdlNumber(rule.max)}`] : []),
      ];
    case 'completeness':
      return [`Completeness ${dqdlString(rule.column)} >= ${dqdlNumber(rule.minRatio)}`];
  }
}

/**
 * The DQDL lines of one rule of `declaration`: {@link ruleToDqdl} with the nullability of the
 * rule's column (range and allowed_values; a column the declaration lacks counts as nullable).
 */
export function declaredRuleToDqdl(declaration: DatasetDeclaration, rule: QualityRule): string[] {
  const nullable = 'column' in rule && rule.kind !== 'references' ? (allColumns(declaration).find((c) => c.name === rule.column)?.nullable ?? true) : false;
  return ruleToDqdl(rule, nullable);
}

/**
 * A DQDL ruleset of rules of one declaration: `Rules = [ ... ]`, one rule a line, each line
 * once (an explicit rule that repeats an implicit one is not listed twice).
 *
 * @throws Error when `rules` is empty: DQDL has no empty ruleset.
 */
export function renderDqdl(declaration: DatasetDeclaration, rules: readonly QualityRule[]): string {
  const lines = [...new Set(rules.flatMap((rule) => declaredRuleToDqdl(declaration, rule)))];
  if (lines.length === 0) {
    throw new Error(`Data-quality rules of "${declaration.name}": no rules to render; a DQDL ruleset needs at least one rule.`);
  }
  return `Rules = [\n  ${lines.join(',\n  ')}\n]`;
}

/** The rules of a declaration split by severity for the Glue rulesets. */
export interface RulesetRules {
  /**
   * Rules whose failure stops the dataset: `block`, and `quarantine` (after quarantine the
   * curated data must satisfy them).
   */
  readonly blocking: QualityRule[];
  /** Rules whose failure is reported only (`warn`). */
  readonly warning: QualityRule[];
}

/** {@link RulesetRules} of a list of rules. */
export function splitBySeverity(rules: readonly QualityRule[]): RulesetRules {
  return {
    blocking: rules.filter((r) => r.action !== 'warn'),
    warning: rules.filter((r) => r.action === 'warn'),
  };
}

/** The declarations of a layer by name, for {@link LoadQualityOptions.datasets}. */
export function byName(declarations: readonly DatasetDeclaration[]): Map<string, DatasetDeclaration> {
  return new Map(declarations.map((d) => [d.name, d]));
}
