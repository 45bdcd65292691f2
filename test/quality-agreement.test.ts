import { readFileSync } from 'fs';
import * as path from 'path';
import { GLUE_SCRIPTS_DIR, goldTableDeclarations, sourceTableDeclarations } from '../lib/datasets';
import { loadQualityRules } from '../lib/quality';

/**
 * The rulesets in the stacks and the checks in the jobs come from one declaration each, read
 * by two loaders (lib/quality.ts and undercurrent_glue/quality.py). Both must derive the same
 * rules, in the same order, with the same actions: this test and
 * glue-scripts/tests/test_quality_agreement.py hold each loader to one shared list.
 */
const SHARED = path.join(GLUE_SCRIPTS_DIR, 'tests', 'fixtures', 'quality_rules.json');

test('the TypeScript loader derives the rules the PySpark loader derives, for every declaration', () => {
  const expected = JSON.parse(readFileSync(SHARED, 'utf8')) as Record<string, [string, string][]>;
  const actual: Record<string, [string, string][]> = {};
  for (const declaration of sourceTableDeclarations()) {
    actual[`source/${declaration.name}`] = loadQualityRules(declaration, 'source').map((r) => [r.name, r.action]);
  }
  for (const declaration of goldTableDeclarations()) {
    actual[`gold/${declaration.name}`] = loadQualityRules(declaration, 'gold').map((r) => [r.name, r.action]);
  }
  expect(actual).toEqual(expected);
});
