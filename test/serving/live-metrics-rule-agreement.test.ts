/**
 * The live consumer's reading of a click record against the curate job's, on the lines of
 * `glue-scripts/tests/fixtures/clickstream_rule_cases.json`: `test_clickstream_rule_agreement.py`
 * holds the Spark job to the same fixture, so the consumer's live `Rejected` count predicts what
 * the curated zone will quarantine.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readRecord } from '../../lib/serving/live-metrics/records';
import { kinesisRecord } from './kinesis-records';

interface RuleCase {
  readonly name: string;
  readonly line: string;
  readonly rule: string | null;
}

const FIXTURE = path.join(__dirname, '..', '..', 'glue-scripts', 'tests', 'fixtures', 'clickstream_rule_cases.json');
const CASES = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: RuleCase[] }).cases;
const NOW = Date.parse('2025-06-30T10:01:00Z');

test('the fixture covers every rule of the job and valid lines', () => {
  expect(CASES.length).toBeGreaterThan(20);
  expect(CASES.some((c) => c.rule === null)).toBe(true);
});

test.each(CASES.map((c) => [c.name, c]))('%s: the consumer fails it on the rule the curate job does', (_, c) => {
  const read = readRecord(kinesisRecord((c as RuleCase).line, { arrivalMs: NOW }), NOW);
  expect(read.kind === 'rejected' ? read.rule : null).toBe((c as RuleCase).rule);
});
