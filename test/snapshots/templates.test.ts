import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Platform } from '../../lib/app';
import { synthPlatform, SynthesizedPlatform } from '../support/platform';
import { expectSnapshotFile } from './snapshot-file';

/**
 * Snapshot net: one reviewable template file per stack and environment under
 * `test/snapshots/<env>/<Stack>.template.json`. A difference fails the test; `npx jest -u`
 * rewrites the files, so template changes are reviewed in the diff of the same commit. A
 * missing file fails under `--ci` or with `CI` set (snapshot-file.ts).
 *
 * The templates are synthesized as `cdk synth` makes them: with the compliance checks on, so
 * the cdk-nag acknowledgements written into each resource's `Metadata.cdk_nag` (and their
 * reasons) are in the diff too; with the account stack (`-c accountBaseline=true`); and with
 * the example target of staging and prod (test/support/example-account.ts).
 *
 * Asset hashes are masked: they change with every Glue script edit and say nothing about
 * the infrastructure (the stack tests check the wiring). What they would have shown, a
 * changed Glue script, is in test/snapshots/glue-scripts.sha256 (glue-scripts.test.ts).
 */
const ASSET_HASH = /[0-9a-f]{64}/g;

/** Every environment, spelled out: a new one needs its own snapshot directory. */
const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

/** The file name of each stage stack's snapshot, in deploy order. */
const STAGE_SNAPSHOTS: readonly (readonly [file: string, stack: keyof Platform])[] = [
  ['Foundation', 'foundation'],
  ['Storage', 'storage'],
  ['Source', 'source'],
  ['Ingestion', 'ingestion'],
  ['Transform', 'transform'],
  ['Serving', 'serving'],
  ['Orchestration', 'orchestration'],
];

function normalize(template: unknown): string {
  const masked: unknown = JSON.parse(JSON.stringify(template).replace(ASSET_HASH, '<asset-hash>'));
  return `${JSON.stringify(sortResourceLists(masked), null, 2)}\n`;
}

/**
 * An IAM statement's `Resource` list is a set, which CDK orders by value, asset hashes
 * included: sorted again after masking, a Glue script edit does not reorder it.
 */
function sortResourceLists(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(sortResourceLists);
  }
  if (node === null || typeof node !== 'object') {
    return node;
  }
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      const sorted = sortResourceLists(value);
      if (key !== 'Resource' || !Array.isArray(sorted)) {
        return [key, sorted];
      }
      const text = (item: unknown): string => JSON.stringify(item);
      return [key, [...sorted].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0))];
    }),
  );
}

describe.each(ENVIRONMENTS)('%s templates', (envName) => {
  let platform: SynthesizedPlatform;
  beforeAll(() => {
    // One synthesis per environment, with the four nag packs and the CloudFormation validator
    // (about 2 s each once cdk-nag is loaded; the first one of a worker takes longer).
    platform = synthPlatform(envName, { compliance: true, context: { accountBaseline: 'true' } });
  });

  test.each(STAGE_SNAPSHOTS)('%s matches its snapshot', (name, key) => {
    expectSnapshotFile(path.join(__dirname, envName, `${name}.template.json`), normalize(platform.template(key).toJSON()));
  });

  test('the account stack (-c accountBaseline=true) matches its snapshot', () => {
    expectSnapshotFile(path.join(__dirname, envName, 'Account.template.json'), normalize(Template.fromStack(platform.account!).toJSON()));
  });

  test('every stack of the environment has its snapshot, and there is no other', () => {
    const expected = [...STAGE_SNAPSHOTS.map(([name]) => name), 'Account'].map((name) => `${name}.template.json`).sort();
    expect(platform.app.node.children.filter((child) => Stack.isStack(child))).toHaveLength(expected.length);
    const dir = path.join(__dirname, envName);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []).toEqual(expected);
  });
});
