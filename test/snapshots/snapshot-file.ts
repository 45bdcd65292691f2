import * as fs from 'fs';
import * as path from 'path';

/**
 * Committed, reviewable snapshot files (the templates of test/snapshots/<env>/ and
 * test/snapshots/glue-scripts.sha256), compared as jest compares its own snapshots. Not a test
 * file (jest matches `*.test.ts` only).
 */

/**
 * What jest was asked to do with snapshots (`SnapshotState._updateSnapshot`, set by
 * jest-config's normalize): `all` with `-u`; `none` with `--ci` (also jest's default when the
 * `CI` variable is set, `npm test` passes `--ci`); `new` otherwise.
 */
export type SnapshotUpdateMode = 'all' | 'new' | 'none';

/** The snapshot mode of the running test; `none` (the strictest) outside a test. */
export function snapshotUpdateMode(): SnapshotUpdateMode {
  const state = expect.getState() as { snapshotState?: { _updateSnapshot?: SnapshotUpdateMode } };
  return state.snapshotState?._updateSnapshot ?? 'none';
}

/** Whether the environment says this is CI: `CI` set to anything but empty or `false` (as ci-info reads it). */
export function ciEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
}

/** A path as a reader of the repository names it: relative to the working directory when under it. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** The failure of a missing snapshot file where none may be written: names the file and the command that writes it. */
export function missingSnapshotMessage(file: string): string {
  return (
    `Missing snapshot ${shown(file)}: with --ci or CI set a missing snapshot fails instead of being written. ` +
    'Run "npx jest -u test/snapshots" locally, review the new file and commit it.'
  );
}

/** How {@link expectSnapshotFile} runs; both default to what the running jest says. */
export interface SnapshotFileOptions {
  readonly mode?: SnapshotUpdateMode;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Compares `actual` with the committed file `file`. With `-u` the file is (re)written. A
 * missing file is written only in a plain local run (mode `new`, `CI` not set); under `--ci`
 * or with `CI` set it fails, naming the file and `npx jest -u`, so a snapshot that was never
 * committed cannot pass in CI by writing itself.
 */
export function expectSnapshotFile(file: string, actual: string, options: SnapshotFileOptions = {}): void {
  const mode = options.mode ?? snapshotUpdateMode();
  const exists = fs.existsSync(file);
  if (mode === 'all' || (!exists && mode === 'new' && !ciEnvironment(options.env ?? process.env))) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
  } else if (!exists) {
    throw new Error(missingSnapshotMessage(file));
  }
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}
