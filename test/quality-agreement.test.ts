import { readFileSync } from 'fs';
import * as path from 'path';
import { DatasetDeclaration, GLUE_SCRIPTS_DIR, goldTableDeclarations, sourceTableDeclarations } from '../lib/lake/datasets';
import { declaredRuleToDqdl, loadQualityRules, QualityLayer, QualityRule, renderDqdl, splitBySeverity } from '../lib/transform/quality';

/**
 * The rulesets in the stacks and the checks in the jobs come from one declaration each, read
 * by two loaders (lib/transform/quality.ts and undercurrent_glue/quality.py). Both must derive
 * the same rules, in the same order, with the same actions and every parameter (columns,
 * bounds, values, referenced dataset and key, hours, ratios): this test and
 * glue-scripts/tests/test_quality_agreement.py hold each loader to one shared file, which also
 * holds the DQDL this side renders, rule by rule and as the stacks' rulesets. The Python side
 * does not render DQDL: it reads the parameters back out of each rule's DQDL and compares them
 * with the ones the jobs enforce.
 */
const SHARED = path.join(GLUE_SCRIPTS_DIR, 'tests', 'fixtures', 'quality_rules.json');

/** A rule as the shared file writes it: the declaration's field names, as undercurrent_glue.quality.Rule holds them. */
interface SharedRule {
  readonly name: string;
  readonly kind: string;
  readonly columns: readonly string[];
  readonly action: string;
  readonly implicit: boolean;
  readonly params: Readonly<Record<string, unknown>>;
  readonly dqdl: readonly string[];
}
interface SharedDeclaration {
  readonly rules: readonly SharedRule[];
  /** The Glue Data Quality rulesets the transform stack deploys: blocking, and warning (null when there is none). */
  readonly rulesets: { readonly blocking: string; readonly warning: string | null };
}

function params(rule: QualityRule): Record<string, unknown> {
  const defined = (entries: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
  switch (rule.kind) {
    case 'not_null':
    case 'unique':
      return {};
    case 'range':
    case 'row_count':
      return defined({ min: rule.min, max: rule.max });
    case 'allowed_values':
      return { values: rule.values };
    case 'references':
      return { dataset: rule.dataset, key: rule.key };
    case 'freshness':
      return { max_age_hours: rule.maxAgeHours };
    case 'completeness':
      return { min_ratio: rule.minRatio };
  }
}

function shared(declaration: DatasetDeclaration, layer: QualityLayer): SharedDeclaration {
  const rules = loadQualityRules(declaration, layer);
  const { blocking, warning } = splitBySeverity(rules);
  return {
    rules: rules.map((rule) => ({
      name: rule.name,
      kind: rule.kind,
      columns: 'columns' in rule ? rule.columns : 'column' in rule ? [rule.column] : [],
      action: rule.action,
      implicit: rule.implicit,
      params: params(rule),
      dqdl: declaredRuleToDqdl(declaration, rule),
    })),
    rulesets: { blocking: renderDqdl(declaration, blocking), warning: warning.length > 0 ? renderDqdl(declaration, warning) : null },
  };
}

test('the TypeScript loader derives every rule, parameter and DQDL line of the shared file, for every declaration', () => {
  const expected = JSON.parse(readFileSync(SHARED, 'utf8')) as Record<string, SharedDeclaration>;
  const actual: Record<string, SharedDeclaration> = {};
  for (const declaration of sourceTableDeclarations()) {
    actual[`source/${declaration.name}`] = shared(declaration, 'source');
  }
  for (const declaration of goldTableDeclarations()) {
    actual[`gold/${declaration.name}`] = shared(declaration, 'gold');
  }
  expect(actual).toEqual(expected);
});

test('the shared file covers every rule kind, and bounds, values, references, hours and ratios', () => {
  const rules = Object.values(JSON.parse(readFileSync(SHARED, 'utf8')) as Record<string, SharedDeclaration>).flatMap((d) => d.rules);
  expect([...new Set(rules.map((r) => r.kind))].sort()).toEqual(
    ['allowed_values', 'completeness', 'freshness', 'not_null', 'range', 'references', 'row_count', 'unique'],
  );
  for (const field of ['min', 'max', 'values', 'dataset', 'key', 'max_age_hours', 'min_ratio']) {
    expect(rules.some((r) => field in r.params)).toBe(true);
  }
});
