import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { expectSnapshotFile } from './snapshot-file';

/**
 * The template snapshots mask asset hashes, so by themselves they would not show that a Glue
 * job's code changed. This snapshot holds it instead: the sha256 of every file the Glue
 * assets are made of, each job script under glue-scripts/jobs/ and each file of the package
 * glue-scripts/lib (zipped into the `--extra-py-files` asset), without what the assets
 * exclude (`__pycache__`, `*.pyc`, `.pytest_cache`). Editing, adding or removing one changes
 * test/snapshots/glue-scripts.sha256 and shows in the diff; `npx jest -u test/snapshots`
 * rewrites it. The file is in `sha256sum` format: `sha256sum -c test/snapshots/glue-scripts.sha256`
 * checks it from the repository root.
 */
const ROOT = path.join(__dirname, '..', '..');
const HASHED_DIRS = ['glue-scripts/jobs', 'glue-scripts/lib'];
const SNAPSHOT = path.join(__dirname, 'glue-scripts.sha256');

/** What the assets leave out (lib/transform/glue-spark-job.ts, ASSET_EXCLUDES): caches of Python and pytest. */
function excluded(name: string): boolean {
  return name === '__pycache__' || name === '.pytest_cache' || name.endsWith('.pyc');
}

/** Every file under `dir` (relative to the repository, `/`-separated), in code-point order. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string): void => {
    for (const entry of fs.readdirSync(path.join(ROOT, relative), { withFileTypes: true })) {
      if (excluded(entry.name)) {
        continue;
      }
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(child);
      } else {
        found.push(child);
      }
    }
  };
  walk(dir);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(path.join(ROOT, file))).digest('hex');
}

describe('the Glue code behind the masked asset hashes', () => {
  const files = HASHED_DIRS.flatMap(filesUnder);

  test('covers the four job scripts and the package, and no cache file', () => {
    expect(files.filter((f) => f.startsWith('glue-scripts/jobs/'))).toEqual([
      'glue-scripts/jobs/clickstream_raw_to_curated.py',
      'glue-scripts/jobs/curated_to_gold.py',
      'glue-scripts/jobs/source_extract.py',
      'glue-scripts/jobs/source_raw_to_curated.py',
    ]);
    expect(files).toContain('glue-scripts/lib/undercurrent_glue/__init__.py');
    expect(files.filter((f) => /__pycache__|\.pyc$|\.pytest_cache/.test(f))).toEqual([]);
  });

  test('every file\'s sha256 matches test/snapshots/glue-scripts.sha256', () => {
    expectSnapshotFile(SNAPSHOT, files.map((file) => `${sha256(file)}  ${file}\n`).join(''));
  });
});
