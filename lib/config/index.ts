import { ENVIRONMENTS } from './environments';
import { ENVIRONMENT_NAMES, EnvironmentConfig, EnvironmentName } from './types';
import { ConfigError, validateConfig } from './validate';

export * from './types';
export { ConfigError, LOG_RETENTION_DAYS, validateConfig } from './validate';
export { ENVIRONMENTS } from './environments';

/** The environment synthesized when `-c env=<name>` is not given. */
export const DEFAULT_ENVIRONMENT: EnvironmentName = 'dev';

/** Where account and region come from when the config leaves them out. */
export interface DeployTarget {
  readonly account?: string;
  readonly region?: string;
}

/**
 * Chooses and validates the configuration of one environment.
 *
 * @param name the value of `-c env=<name>` (undefined means the default, `dev`)
 * @param target account and region from the CLI (`CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION`),
 *   used only where the config leaves them out
 * @throws ConfigError for an unknown environment or a bad value
 */
export function loadConfig(name: unknown, target: DeployTarget = {}): EnvironmentConfig {
  const envName = name ?? DEFAULT_ENVIRONMENT;
  if (typeof envName !== 'string' || !(ENVIRONMENT_NAMES as readonly string[]).includes(envName)) {
    throw new ConfigError(
      `Unknown environment ${JSON.stringify(envName)}: known environments are ${ENVIRONMENT_NAMES.join(', ')} (choose one with -c env=<name>).`,
    );
  }
  const base = ENVIRONMENTS[envName as EnvironmentName];
  return validateConfig({
    ...base,
    account: base.account ?? target.account,
    region: base.region ?? target.region,
  });
}
