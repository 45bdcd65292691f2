import { z } from 'zod';
import { CONFIG_FIELDS, ConfigIssueParams, EnvironmentConfig, EnvironmentConfigSchema, RETIRED_FIELDS } from './schema';

export { LOG_RETENTION_DAYS } from './schema';

/**
 * A configuration that is not allowed. Each problem names the field, the value and what is
 * allowed, on a line of its own: `message` is every problem, one per line (a single problem
 * is a single line).
 */
export class ConfigError extends Error {
  /** The problems, one line each, in the order of the config's fields. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const lines = typeof problems === 'string' ? [problems] : [...problems];
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.problems = lines;
  }
}

/** Fields reported under another name: the context key that sets them. */
const FIELD_LABELS: Readonly<Record<string, string>> = {
  'dataProtection.removeDataOnDestroy': 'removeDataOnDestroy',
};

function render(value: unknown): string {
  if (value === undefined) {
    return 'missing';
  }
  return JSON.stringify(value);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') {
      return undefined;
    }
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

/** Edit distance, for a "did you mean" on a misspelt key. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** What is allowed in place of a key a strict section does not know. */
function unknownKeyAllowed(sectionPath: string, key: string): string {
  const field = sectionPath === '' ? key : `${sectionPath}.${key}`;
  const retired = RETIRED_FIELDS[field];
  if (retired !== undefined) {
    return retired;
  }
  const known = CONFIG_FIELDS[sectionPath] ?? [];
  const owner = sectionPath === '' ? 'the config' : sectionPath;
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => distance(k, key) <= 2);
  const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
  return `missing: ${owner} has no field "${key}"${hint}; its fields are ${known.join(', ')}`;
}

interface Problem {
  readonly field: string;
  readonly value: unknown;
  readonly allowed: string;
  readonly exact: boolean;
}

/** The problems of a failed parse, one per field (strict sections give one per unknown key). */
function problemsOf(error: z.ZodError, raw: unknown): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const sectionPath = issue.path.join('.');
      for (const key of issue.keys) {
        problems.push({
          field: sectionPath === '' ? key : `${sectionPath}.${key}`,
          value: valueAt(raw, [...issue.path, key]),
          allowed: unknownKeyAllowed(sectionPath, key),
          exact: false,
        });
      }
      continue;
    }
    const path = issue.path.join('.');
    const params = (issue.code === 'custom' ? issue.params : undefined) as ConfigIssueParams | undefined;
    problems.push({
      field: path === '' ? '(config)' : (FIELD_LABELS[path] ?? path),
      value: valueAt(raw, issue.path),
      allowed: issue.message,
      exact: params?.exact === true,
    });
  }
  // One line per field, where it first failed: a rule's exact range replaces the field's wider one.
  const byField = new Map<string, Problem>();
  for (const problem of problems) {
    const seen = byField.get(problem.field);
    if (seen === undefined || (problem.exact && !seen.exact)) {
      byField.set(problem.field, problem);
    }
  }
  return [...byField.values()];
}

/**
 * Checks one environment's configuration against `EnvironmentConfigSchema` and returns it
 * typed (and frozen).
 *
 * Runs before any construct is built. Every field is checked, then the rules that tie fields
 * together, then the guard rails of `prod` (it keeps its data and is protected), then the
 * deploy target: staging and prod need a pinned account and region, prod an alert address.
 * Every problem is reported, not only the first.
 *
 * @throws ConfigError with one line per problem, each naming the field, the bad value and what
 *   is allowed: `Invalid config for environment "<name>": <field> is <value>; allowed: <what>.`
 */
export function validateConfig(raw: unknown): EnvironmentConfig {
  const result = EnvironmentConfigSchema.safeParse(raw);
  if (result.success) {
    return result.data;
  }
  const envName = valueAt(raw, ['envName']);
  const label = typeof envName === 'string' ? envName : '?';
  throw new ConfigError(
    problemsOf(result.error, raw).map(
      (p) => `Invalid config for environment "${label}": ${p.field} is ${render(p.value)}; allowed: ${p.allowed}.`,
    ),
  );
}
