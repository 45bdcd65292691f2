/**
 * The names of things, in one place: every name of an environment's resource starts with
 * `<app>-<env>` (or `<app>_<env>` in the Glue catalog), so that environments share an account.
 */

/** What a name is made of: the app and the environment. */
export interface NameScope {
  readonly appName: string;
  readonly envName: string;
}

/** `<app>-<env>[-<part>...]` as given, e.g. the stack name `Undercurrent-dev-Storage`. */
export function environmentName(scope: NameScope, ...parts: string[]): string {
  return [scope.appName, scope.envName, ...parts].join('-');
}

/** `<app>-<env>[-<part>...]` in lower case, as AWS resource identifiers want it, e.g. `undercurrent-dev-warehouse`. */
export function resourceName(scope: NameScope, ...parts: string[]): string {
  return environmentName(scope, ...parts).toLowerCase();
}

/** `<app>_<env>[_<part>...]` in lower case, for the Glue catalog (no `-`), e.g. `undercurrent_dev_raw`. */
export function catalogName(scope: NameScope, ...parts: string[]): string {
  return [scope.appName, scope.envName, ...parts].join('_').toLowerCase();
}

/**
 * PascalCase of a name for construct ids, splitting at every character that is not a letter or
 * digit: `customer_number` -> `CustomerNumber`, `ClickstreamToCurated/Role` -> `ClickstreamToCuratedRole`.
 */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
