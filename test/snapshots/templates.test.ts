import * as fs from 'fs';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { DEPLOY_ORDER } from '../../lib/platform';
import { STACK_KEYS, synthPlatform, SynthesizedPlatform } from '../support/platform';

/**
 * Snapshot net: one reviewable template file per stack and environment under
 * `test/snapshots/<env>/<Stack>.template.json`. A difference fails the test; `npx jest -u`
 * rewrites the files, so template changes are reviewed in the diff of the same commit.
 * Asset hashes are masked: they change with every Glue script edit and say nothing about
 * the infrastructure (the stack tests check the wiring).
 */
const ASSET_HASH = /[0-9a-f]{64}/g;

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

function updating(): boolean {
  return (expect.getState() as { snapshotState?: { _updateSnapshot?: string } }).snapshotState?._updateSnapshot === 'all';
}

/** Compares a template with its snapshot file (written when missing outside CI, or with `-u`). */
function expectSnapshot(file: string, template: unknown): void {
  const actual = normalize(template);
  if (updating() || !fs.existsSync(file)) {
    if (process.env.CI && !updating()) {
      throw new Error(`Missing snapshot ${file}: run "npx jest -u" and commit it.`);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
  }
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}

describe.each(['dev', 'prod'] as const)('%s templates', (envName) => {
  let platform: SynthesizedPlatform;
  beforeAll(() => {
    platform = synthPlatform(envName, { context: { accountBaseline: 'true' } });
  });

  test.each(STACK_KEYS.map((key, i) => [DEPLOY_ORDER[i], key] as const))('%s matches its snapshot', (name, key) => {
    expectSnapshot(path.join(__dirname, envName, `${name}.template.json`), platform.template(key).toJSON());
  });

  test('the account stack (-c accountBaseline=true) matches its snapshot', () => {
    expectSnapshot(path.join(__dirname, envName, 'Account.template.json'), Template.fromStack(platform.account!).toJSON());
  });
});
