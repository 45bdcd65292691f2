/**
 * Jest's test order: the longest suites first, so that the two workers end together instead of
 * one running a long suite alone at the end. Jest orders by the durations of its last run when
 * its cache has them, and otherwise by file size, which puts the local twin's short file (a
 * minute and more of Spark jobs) last: on a fresh clone, as in CI, the twin then ran alone at
 * the end. Suites not named here follow in Jest's own order. Only the order changes, never what
 * a suite runs (the PySpark tests keep their own list: glue-scripts/tests/conftest.py
 * LONGEST_FIRST). The twin's whole run and its double-prefix run are two files so that the two
 * workers start one each.
 */
const path = require('path');
const Sequencer = require('@jest/test-sequencer').default;

const LONGEST_FIRST = [
  'test/twin/twin.test.ts',
  'test/twin/double-prefix.test.ts',
  'test/app/entrypoint.test.ts',
  'test/snapshots/templates.test.ts',
  'test/stacks/warehouse.test.ts',
  'test/stacks/orchestration.test.ts',
].map((file) => path.join(__dirname, '..', '..', file));

class LongestFirst extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const i = LONGEST_FIRST.indexOf(test.path);
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep Jest's order.
    return [...super.sort(tests)].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongestFirst;
