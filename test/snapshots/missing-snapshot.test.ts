import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectSnapshotFile, missingSnapshotMessage } from './snapshot-file';

/**
 * A missing snapshot file fails under `--ci` or with `CI` set: shown on a real jest, run in a
 * child process on a temporary test whose snapshot file does not exist, and on the helper
 * itself with each mode.
 */
const ROOT = path.join(__dirname, '..', '..');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const HELPER = path.join(__dirname, 'snapshot-file');

interface JestRun {
  readonly status: number | null;
  readonly output: string;
  readonly result: { numFailedTests: number; numPassedTests: number; testResults: { message: string }[] };
}

describe('a missing snapshot file, in a real jest run', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'undercurrent-missing-snapshot-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs jest with `args` on a copy of one test that compares a template with its snapshot file
   * `<case>/snapshots/Missing.template.json`, which does not exist; `CI` is as given, unset otherwise.
   */
  function runJest(name: string, args: readonly string[], ci?: string): Promise<JestRun> {
    const caseDir = path.join(dir, name);
    fs.mkdirSync(caseDir);
    fs.writeFileSync(
      path.join(caseDir, 'missing.test.ts'),
      [
        "import * as path from 'path';",
        `import { expectSnapshotFile } from ${JSON.stringify(HELPER)};`,
        "test('a template matches its snapshot', () => {",
        "  expectSnapshotFile(path.join(__dirname, 'snapshots', 'Missing.template.json'), '{}\\n');",
        '});',
        '',
      ].join('\n'),
    );
    const config = {
      rootDir: caseDir,
      testEnvironment: 'node',
      testMatch: ['**/*.test.ts'],
      transform: { '^.+\\.ts$': [require.resolve('ts-jest'), { tsconfig: path.join(ROOT, 'tsconfig.json') }] },
      cacheDirectory: path.join(dir, 'cache'),
    };
    const resultFile = path.join(caseDir, 'result.json');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    delete env.JEST_WORKER_ID;
    if (ci !== undefined) {
      env.CI = ci;
    }
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [JEST, '--config', JSON.stringify(config), '--watchman=false', '--json', '--outputFile', resultFile, ...args],
        { cwd: caseDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (status) => {
        try {
          resolve({ status, output, result: JSON.parse(fs.readFileSync(resultFile, 'utf8')) });
        } catch (error) {
          reject(new Error(`jest ${args.join(' ')} wrote no result (${String(error)}):\n${output}`));
        }
      });
    });
  }

  const snapshotOf = (name: string): string => path.join(dir, name, 'snapshots', 'Missing.template.json');

  test('fails with --ci (CI unset), and with CI=true even under --ci=false, naming the file and "npx jest -u"; a plain local run writes it', async () => {
    const [ciFlag, ciVariable, local] = await Promise.all([
      runJest('ci-flag', ['--ci']),
      runJest('ci-variable', ['--ci=false'], 'true'),
      runJest('local', []),
    ]);

    for (const [name, run] of [
      ['ci-flag', ciFlag],
      ['ci-variable', ciVariable],
    ] as const) {
      expect({ name, status: run.status, failed: run.result.numFailedTests, passed: run.result.numPassedTests }).toEqual({
        name,
        status: 1,
        failed: 1,
        passed: 0,
      });
      const message = run.result.testResults[0].message;
      // The child runs in its case directory, so the file is named relative to it.
      expect(message).toContain('Missing snapshot snapshots/Missing.template.json: with --ci or CI set a missing snapshot fails instead of being written.');
      expect(message).toContain('Run "npx jest -u test/snapshots" locally');
      expect(fs.existsSync(snapshotOf(name))).toBe(false);
    }

    expect({ status: local.status, failed: local.result.numFailedTests, passed: local.result.numPassedTests }).toEqual({
      status: 0,
      failed: 0,
      passed: 1,
    });
    expect(fs.readFileSync(snapshotOf('local'), 'utf8')).toBe('{}\n');
  }, 60_000);
});

describe('expectSnapshotFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'undercurrent-snapshot-file-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['--ci (mode none), CI unset', 'none', {}],
    ['--ci (mode none), CI=true', 'none', { CI: 'true' }],
    ['no --ci (mode new), CI=true', 'new', { CI: 'true' }],
    ['no --ci (mode new), CI=1', 'new', { CI: '1' }],
  ] as const)('a missing file fails with %s, and is not written', (_what, mode, env) => {
    const file = path.join(dir, 'dev', 'Foundation.template.json');
    expect(() => expectSnapshotFile(file, '{}\n', { mode, env })).toThrow(new Error(missingSnapshotMessage(file)));
    expect(fs.existsSync(file)).toBe(false);
  });

  test('the message names the file relative to the repository and the command that writes it', () => {
    expect(missingSnapshotMessage(path.join(ROOT, 'test', 'snapshots', 'staging', 'Foundation.template.json'))).toBe(
      'Missing snapshot test/snapshots/staging/Foundation.template.json: with --ci or CI set a missing snapshot fails instead of being written. ' +
        'Run "npx jest -u test/snapshots" locally, review the new file and commit it.',
    );
  });

  test.each([
    ['a plain local run (mode new, CI unset)', 'new', {}],
    ['a plain local run (mode new, CI=false)', 'new', { CI: 'false' }],
    ['-u (mode all), even with CI=true', 'all', { CI: 'true' }],
  ] as const)('a missing file is written by %s', (_what, mode, env) => {
    const file = path.join(dir, 'dev', 'Foundation.template.json');
    expectSnapshotFile(file, '{}\n', { mode, env });
    expect(fs.readFileSync(file, 'utf8')).toBe('{}\n');
  });

  test('an existing file is compared, not rewritten, unless -u', () => {
    const file = path.join(dir, 'Foundation.template.json');
    fs.writeFileSync(file, '{"a": 1}\n');
    for (const mode of ['new', 'none'] as const) {
      expect(() => expectSnapshotFile(file, '{"a": 2}\n', { mode, env: {} })).toThrow(/toBe/);
      expect(fs.readFileSync(file, 'utf8')).toBe('{"a": 1}\n');
    }
    expectSnapshotFile(file, '{"a": 2}\n', { mode: 'all', env: {} });
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a": 2}\n');
  });
});
