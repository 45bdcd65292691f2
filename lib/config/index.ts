import { IConstruct } from 'constructs';
import { ENVIRONMENTS } from './environments';
import { ENVIRONMENT_NAMES, EnvironmentConfig, EnvironmentName, PINNED_ENVIRONMENTS } from './schema';
import { ConfigError, validateConfig } from './validate';

export * from './schema';
export { ConfigError, validateConfig } from './validate';
export { ENVIRONMENTS } from './environments';

/** The environment synthesized when `-c env=<name>` is not given. */
export const DEFAULT_ENVIRONMENT: EnvironmentName = 'dev';

/**
 * Where dev's account and region come from when neither the config nor the context sets them:
 * the CLI's `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION`, the credentials' account. Never used
 * for staging and prod (`PINNED_ENVIRONMENTS`).
 */
export interface DeployTarget {
  readonly account?: string;
  readonly region?: string;
}

/** The context keys the app reads (`-c <key>=<value>` on the CLI). */
export const CONTEXT_KEYS = {
  env: 'env',
  account: 'account',
  region: 'region',
  alertEmails: 'alertEmails',
  removeDataOnDestroy: 'removeDataOnDestroy',
  accountBaseline: 'accountBaseline',
} as const;

/**
 * The app's context values, as the CLI passes them (`-c key=value` gives strings) or a test
 * sets them (`new App({ context })`).
 */
export interface AppContext {
  /** `-c env=<name>`. @default - dev */
  readonly env?: unknown;
  /**
   * `-c account=<12 digits>`: the target account where the config does not pin one (a
   * different account than the config's fails). Required for staging and prod unless the config pins it.
   * @default - the config's `account`; in dev, else `CDK_DEFAULT_ACCOUNT`
   */
  readonly account?: unknown;
  /**
   * `-c region=<region>`, like `account`.
   * @default - the config's `region`; in dev, else `CDK_DEFAULT_REGION`
   */
  readonly region?: unknown;
  /**
   * `-c alertEmails=a@example.com,b@example.com`: more subscribers of the alerts topic, added to
   * the config's `operations.alertEmails` (comma-separated; a list from a test works too).
   * @default - only the config's
   */
  readonly alertEmails?: unknown;
  /**
   * `-c removeDataOnDestroy=true`: the second key of data destruction, see
   * `DataProtectionConfig.removeDataOnDestroy`. `true` or `"true"`; `false`, `"false"` or absent is off.
   * @default - off: data is retained on stack deletion
   */
  readonly removeDataOnDestroy?: unknown;
  /**
   * `-c accountBaseline=true`: also synthesize the account stack (`<app>-account`), deployed
   * once per account and region before the first environment (see `lib/account/account-stack.ts`).
   * @default - off: only the environment's stacks
   */
  readonly accountBaseline?: unknown;
}

/** Reads the context the app takes, the same way in bin/app.ts and in tests. */
export function readContext(scope: IConstruct): AppContext {
  return Object.fromEntries(Object.entries(CONTEXT_KEYS).map(([field, key]) => [field, scope.node.tryGetContext(key)]));
}

/** A boolean context flag: `true` / `"true"` is on, `false` / `"false"` / absent is off; anything else is kept for validation to reject. */
function contextFlag(value: unknown): unknown {
  if (value === undefined || value === false || value === 'false') {
    return false;
  }
  if (value === true || value === 'true') {
    return true;
  }
  return value;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Comma-separated addresses (or a list of them); anything else is kept for validation to reject. */
function contextList(value: unknown): unknown[] {
  if (value === undefined) {
    return [];
  }
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
  return Array.isArray(value) ? value : [value];
}

/**
 * A target field (`account`, `region`) from the config, else the context, else (dev only) the
 * CLI; a context value that contradicts the config's pin fails.
 */
function targetField(
  base: EnvironmentConfig,
  field: 'account' | 'region',
  fromContext: unknown,
  fromCli: string | undefined,
): unknown {
  const pinned = base[field];
  if (pinned !== undefined && fromContext !== undefined && fromContext !== pinned) {
    throw new ConfigError(
      `Invalid config for environment "${base.envName}": -c ${field} is ${JSON.stringify(fromContext)}; allowed: ${JSON.stringify(pinned)}, the ${field} lib/config/environments.ts pins (or leave -c ${field} out).`,
    );
  }
  const pinnedOnly = (PINNED_ENVIRONMENTS as readonly string[]).includes(base.envName);
  return pinned ?? fromContext ?? (pinnedOnly ? undefined : fromCli);
}

/**
 * Chooses and validates the configuration of one environment.
 *
 * @param name the value of `-c env=<name>` (undefined means the default, `dev`)
 * @param target account and region from the CLI (`CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION`),
 *   used only in dev, where neither the config nor the context sets them
 * @param context the rest of the app's context (`-c account= -c region= -c alertEmails=
 *   -c removeDataOnDestroy=`), see {@link resolveConfig}
 * @throws ConfigError for an unknown environment, a bad value, or a staging or prod without its
 *   pinned target
 */
export function loadConfig(name: unknown, target: DeployTarget = {}, context: Omit<AppContext, 'env'> = {}): EnvironmentConfig {
  const envName = name ?? DEFAULT_ENVIRONMENT;
  if (typeof envName !== 'string' || !(ENVIRONMENT_NAMES as readonly string[]).includes(envName)) {
    throw new ConfigError(
      `Unknown environment ${JSON.stringify(envName)}: known environments are ${ENVIRONMENT_NAMES.join(', ')} (choose one with -c env=<name>).`,
    );
  }
  return resolveConfig(ENVIRONMENTS[envName as EnvironmentName], target, context);
}

/**
 * One environment's config combined with the deploy target and the app's context, validated:
 * what `loadConfig` returns for a shipped environment, and what tests use for a patched one.
 *
 * Account and region: the config's pin, else `-c account=` / `-c region=`, else (dev only) the
 * CLI's target. Alert addresses: the config's and those of `-c alertEmails=`.
 *
 * @throws ConfigError for a bad value, a context value that contradicts the config, or a
 *   staging or prod without a pinned account and region (prod: without an alert address)
 */
export function resolveConfig(
  base: EnvironmentConfig,
  target: DeployTarget = {},
  context: Omit<AppContext, 'env'> = {},
): EnvironmentConfig {
  // A malformed section is left as it is, for validation to name it.
  const { operations, dataProtection } = base as Partial<EnvironmentConfig>;
  const emails = operations?.alertEmails;
  return validateConfig({
    ...base,
    account: targetField(base, 'account', context.account, target.account),
    region: targetField(base, 'region', context.region, target.region),
    operations:
      isObject(operations) && Array.isArray(emails)
        ? { ...operations, alertEmails: [...new Set([...emails, ...contextList(context.alertEmails)])] }
        : operations,
    // Only the context turns the second key: a value written in environments.ts is replaced.
    dataProtection: isObject(dataProtection)
      ? { ...dataProtection, removeDataOnDestroy: contextFlag(context.removeDataOnDestroy) }
      : dataProtection,
  });
}

/**
 * Whether `-c accountBaseline=true` asks for the account stack.
 * @throws ConfigError for a value other than true or false
 */
export function accountBaselineRequested(context: Pick<AppContext, 'accountBaseline'>): boolean {
  const flag = contextFlag(context.accountBaseline);
  if (typeof flag !== 'boolean') {
    throw new ConfigError(`-c accountBaseline is ${JSON.stringify(context.accountBaseline)}; allowed: true or false (leave it out for false).`);
  }
  return flag;
}

/**
 * Whether the environment's data goes with its stacks: `dataProtection.removalPolicy` is
 * `destroy` and the second key, `-c removeDataOnDestroy=true`, is turned.
 */
export function destroysData(config: EnvironmentConfig): boolean {
  return config.dataProtection.removalPolicy === 'destroy' && config.dataProtection.removeDataOnDestroy === true;
}

/**
 * The warning synth prints where the config would destroy data but the second key is not
 * turned, so the data is retained; undefined otherwise.
 */
export function dataRetentionWarning(config: EnvironmentConfig): string | undefined {
  if (config.dataProtection.removalPolicy !== 'destroy' || destroysData(config)) {
    return undefined;
  }
  return (
    `Warning: environment "${config.envName}" retains its data when its stacks are deleted (buckets and their objects, keys, log groups, ` +
    'the database, the catalog): to destroy it with the stacks, deploy and destroy with -c removeDataOnDestroy=true.'
  );
}
