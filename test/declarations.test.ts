import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import {
  declarationKindOf,
  declarationProblem,
  DeclarationKind,
  GLUE_SCRIPTS_DIR,
  goldTableDeclarations,
  loadDeclaration,
  SCHEMAS_DIR,
  sourceLoadOrder,
  sourceTableDeclarations,
} from '../lib/lake/datasets';
import { loadOrder, referencedDatasets, ReferencingDeclaration } from '../lib/lake/load-order';
import { LOAD_ORDER, PARENT_TABLES } from '../lib/source/sample-data';

/**
 * One contract for the declarations, validated the same way on both sides:
 * glue-scripts/lib/undercurrent_glue/declaration.schema.json is the JSON Schema of record (ajv
 * here, jsonschema in undercurrent_glue/schema.py); fixtures/declaration_cases.json lists the
 * declarations both loaders accept, or reject with exactly the same problem; and
 * fixtures/load_order.json the order parents-first both derive.
 * glue-scripts/tests/test_declaration_contract.py holds the Python side to the same files.
 */
const FIXTURES = path.join(GLUE_SCRIPTS_DIR, 'tests', 'fixtures');

type Path = (string | number)[];
interface Change {
  readonly path: Path;
  readonly value?: unknown;
  readonly delete?: boolean;
}
interface Case {
  readonly case: string;
  readonly kind: DeclarationKind;
  readonly stem: string;
  readonly changes: readonly Change[];
  readonly problem?: string;
}
const CASES = JSON.parse(readFileSync(path.join(FIXTURES, 'declaration_cases.json'), 'utf8')) as {
  bases: Record<DeclarationKind, unknown>;
  valid: Case[];
  invalid: Case[];
};
const LOAD_ORDERS = JSON.parse(readFileSync(path.join(FIXTURES, 'load_order.json'), 'utf8')) as { source: string[]; gold: string[] };

/** The case's declaration: its base with its changes applied (as test_declaration_contract.py does). */
function build(c: Case): unknown {
  let document: unknown = structuredClone(CASES.bases[c.kind]);
  for (const change of c.changes) {
    if (change.path.length === 0) {
      document = change.value;
      continue;
    }
    let parent = document as Record<string | number, unknown>;
    for (const part of change.path.slice(0, -1)) {
      parent = parent[part] as Record<string | number, unknown>;
    }
    const last = change.path[change.path.length - 1];
    if (change.delete) {
      delete parent[last];
    } else if (Array.isArray(parent) && last === parent.length) {
      parent.push(change.value);
    } else {
      parent[last] = change.value;
    }
  }
  return document;
}

describe('the declaration contract', () => {
  const files = (dir: string): [string, string][] =>
    readdirSync(path.join(SCHEMAS_DIR, dir))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [path.join(dir, f), path.join(SCHEMAS_DIR, dir, f)]);

  test.each([...files('.'), ...files('source'), ...files('gold')])('%s satisfies the JSON Schema and the semantic checks', (_name, file) => {
    const kind = declarationKindOf(file);
    expect(declarationProblem(JSON.parse(readFileSync(file, 'utf8')), kind, path.basename(file, '.json'))).toBeUndefined();
    expect(() => loadDeclaration(file)).not.toThrow();
  });

  test('the kind of a declaration file is its directory', () => {
    expect(declarationKindOf(path.join(SCHEMAS_DIR, 'source', 'orders.json'))).toBe('source');
    expect(declarationKindOf(path.join(SCHEMAS_DIR, 'gold', 'dim_date.json'))).toBe('gold');
    expect(declarationKindOf(path.join(SCHEMAS_DIR, 'clickstream_event.json'))).toBe('dataset');
    expect(declarationKindOf(path.join(tmpdir(), 'source', 'orders.json'))).toBe('dataset');
  });

  test.each(CASES.valid.map((c) => [c.case, c] as const))('accepts the shared valid declaration: %s', (_name, c) => {
    expect(declarationProblem(build(c), c.kind, c.stem)).toBeUndefined();
  });

  test.each(CASES.invalid.map((c) => [c.case, c] as const))('rejects the shared invalid declaration with the shared problem: %s', (_name, c) => {
    expect(declarationProblem(build(c), c.kind, c.stem)).toBe(c.problem);
  });

  test('loading a file throws the problem after the file name, validating it as the kind of its directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'declarations-'));
    try {
      const c = CASES.invalid.find((x) => x.case === 'a nullable primary key column')!;
      const file = path.join(dir, 'things.json');
      writeFileSync(file, JSON.stringify(build(c)));
      // Outside schemas/source/ the file is a plain dataset, which has no primary key.
      expect(() => loadDeclaration(file)).toThrow(`${file}: 'primary_key' is not a known field (known: name, description, columns, partition_keys, allowed_values).`);
      expect(() => loadDeclaration(file, 'source')).toThrow(`${file}: ${c.problem}.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the table lists and the order parents-first', () => {
  const sources = sourceTableDeclarations();
  const golds = goldTableDeclarations();

  test('the derived orders are the shared ones', () => {
    expect(sourceLoadOrder()).toEqual(LOAD_ORDERS.source);
    expect(loadOrder(golds)).toEqual(LOAD_ORDERS.gold);
  });

  test.each([
    ['source', sources],
    ['gold', golds],
  ] as const)('the %s order puts every referenced table before its referrers', (_layer, declarations) => {
    const order = loadOrder(declarations);
    expect([...order].sort()).toEqual(declarations.map((d) => d.name).sort());
    const pairs = declarations.flatMap((d) => referencedDatasets(d).filter((r) => r !== d.name).map((r) => [d.name, r] as const));
    expect(pairs.length).toBeGreaterThan(0);
    for (const [table, parent] of pairs) {
      expect(`${parent} before ${table}: ${order.indexOf(parent) < order.indexOf(table)}`).toBe(`${parent} before ${table}: true`);
    }
  });

  test('the sample-data loader inserts in the derived order and knows each table\'s parents from the declarations', () => {
    expect([...LOAD_ORDER]).toEqual(sourceLoadOrder());
    expect(PARENT_TABLES).toEqual(Object.fromEntries(sources.map((d) => [d.name, referencedDatasets(d).filter((r) => r !== d.name)])));
  });

  const things = (name: string, ...references: string[]): ReferencingDeclaration => ({
    name,
    quality: references.map((dataset) => ({ rule: 'references', column: 'x', dataset, key: 'y', action: 'warn' })),
  });

  test('the order ignores self-references and breaks ties by name', () => {
    expect(loadOrder([things('b', 'b'), things('c', 'a'), things('a')])).toEqual(['a', 'b', 'c']);
  });

  test('the order refuses a reference to a table that is not declared (as the Python side words it)', () => {
    expect(() => loadOrder([things('a'), things('b', 'a', 'z')])).toThrow(
      `Declaration 'b': 'quality[1].dataset' names "z", which is not a declaration of its layer (declared: a, b).`,
    );
  });

  test('the order refuses a cycle (as the Python side words it)', () => {
    expect(() => loadOrder([things('a', 'c'), things('b'), things('c', 'a')])).toThrow('references rules form a cycle between a, c.');
  });
});
