// Prints one summary line per test runner and a closing "N passed, N failed" line.
// Usage: tsx scripts/test-summary.ts <results dir with jest.json and pytest.xml>
import * as fs from 'fs';
import * as path from 'path';

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let missing = false;

const jestFile = path.join(dir, 'jest.json');
if (fs.existsSync(jestFile)) {
  const jest = JSON.parse(fs.readFileSync(jestFile, 'utf8'));
  const jestFailed = jest.numFailedTests + jest.numRuntimeErrorTestSuites;
  console.log(`jest (TypeScript): ${jest.numPassedTests} passed, ${jestFailed} failed in ${jest.numTotalTestSuites} suites`);
  passed += jest.numPassedTests;
  failed += jestFailed;
} else {
  console.log('jest (TypeScript): no results (the run did not finish)');
  missing = true;
}

const pytestFile = path.join(dir, 'pytest.xml');
if (fs.existsSync(pytestFile)) {
  const xml = fs.readFileSync(pytestFile, 'utf8');
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (name: string): number => Number((new RegExp(`\\b${name}="(\\d+)"`).exec(suite) || [])[1] || 0);
  const pyFailed = attr('failures') + attr('errors');
  const pyPassed = attr('tests') - pyFailed - attr('skipped');
  console.log(`pytest (PySpark): ${pyPassed} passed, ${pyFailed} failed`);
  passed += pyPassed;
  failed += pyFailed;
} else {
  console.log('pytest (PySpark): no results (the run did not finish)');
  missing = true;
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || missing || passed === 0 ? 1 : 0);
