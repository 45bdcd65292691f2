/**
 * The order parents-first of a layer's declarations, by their `references` rules: the
 * tables to load, extract or curate before the tables that reference them.
 *
 * Pure functions, no import: the source-database Lambda bundles this module (through
 * `lib/source/sample-data.ts`) without the file system or ajv. `undercurrent_glue.schema`
 * has the same functions (`referenced_datasets`, `reference_order`, `load_order`);
 * test/declarations.test.ts and glue-scripts/tests/test_declaration_contract.py hold both to
 * one expected order.
 */

/** What the order reads of a declaration: its name and its quality rules. */
export interface ReferencingDeclaration {
  readonly name: string;
  readonly quality?: readonly unknown[];
}

function referencesRule(rule: unknown): rule is { rule: 'references'; dataset: string } {
  return (
    typeof rule === 'object' &&
    rule !== null &&
    (rule as Record<string, unknown>).rule === 'references' &&
    typeof (rule as Record<string, unknown>).dataset === 'string'
  );
}

/** The datasets the declaration's `references` rules name, each once, in rule order (itself too when it references itself). */
export function referencedDatasets(declaration: ReferencingDeclaration): string[] {
  return [...new Set((declaration.quality ?? []).filter(referencesRule).map((rule) => rule.dataset))];
}

/**
 * Order the tables (the keys of `references`) so that every table comes after the tables it
 * references. Only references between the keys count; a reference to the table itself is
 * ignored. Among the tables whose parents are placed, the first by name (code-point order)
 * goes next, so the order is deterministic.
 *
 * @throws Error when the references form a cycle (naming the tables on it).
 */
export function referenceOrder(references: ReadonlyMap<string, readonly string[]>): string[] {
  const pending = new Map(
    [...references].map(([table, parents]) => [table, new Set(parents.filter((p) => references.has(p) && p !== table))]),
  );
  const ordered: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter(([, parents]) => parents.size === 0).map(([table]) => table);
    if (ready.length === 0) {
      throw new Error(`references rules form a cycle between ${[...pending.keys()].sort(byCodePoint).join(', ')}.`);
    }
    const table = ready.sort(byCodePoint)[0];
    ordered.push(table);
    pending.delete(table);
    for (const parents of pending.values()) {
      parents.delete(table);
    }
  }
  return ordered;
}

/**
 * The names of `declarations` (one layer: the source or the gold tables), parents first by
 * their `references` rules ({@link referenceOrder}).
 *
 * @throws Error when a `references` rule names a dataset that is not one of `declarations`,
 *   or the references form a cycle.
 */
export function loadOrder(declarations: readonly ReferencingDeclaration[]): string[] {
  const names = declarations.map((d) => d.name);
  for (const declaration of declarations) {
    for (const dataset of referencedDatasets(declaration)) {
      if (!names.includes(dataset)) {
        const index = (declaration.quality ?? []).findIndex((rule) => referencesRule(rule) && rule.dataset === dataset);
        throw new Error(
          `Declaration '${declaration.name}': 'quality[${index}].dataset' names "${dataset}", which is not a declaration of its layer (declared: ${[...names].sort(byCodePoint).join(', ')}).`,
        );
      }
    }
  }
  return referenceOrder(new Map(declarations.map((d) => [d.name, referencedDatasets(d)])));
}

/** Code-point order, as Python's `sorted` (not the locale's). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
