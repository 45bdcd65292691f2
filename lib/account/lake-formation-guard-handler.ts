/**
 * The Lambda behind two CloudFormation custom resources, used DIRECTLY as their ServiceToken (no
 * `custom_resources.Provider` framework): it implements the custom-resource response protocol
 * itself. For every event it PUTs exactly one JSON response to `event.ResponseURL`, FAILED with the
 * error message when anything throws, and FAILED before the Lambda's own timeout, so CloudFormation
 * never waits an hour for an answer. Delete is always SUCCESS (whatever the resource type or the
 * properties), so a failed Create can always roll back. The PUT (empty content-type) is tried 3
 * times; when all fail, onEvent throws, and Lambda's retry of the asynchronous invocation runs the
 * (idempotent) handler again.
 *
 * The function is a Lake Formation administrator; everything it changes is scoped as below.
 *
 * `Custom::LakeFormationOnly` (one per environment) makes the project's own Glue databases and
 * their tables governed by Lake Formation only.
 *   ResourceProperties: CatalogId (12-digit account id), Databases (string[]: database names),
 *   Fingerprint (ignored: it only makes CloudFormation send an Update when tables change).
 *   Environment: DATABASE_PREFIX (e.g. `undercurrent_`). Every database must start with it, or the
 *   resource fails before any call (the scope guard: never touch other teams' databases).
 *   Create/Update:
 *     1. glue GetDatabase for every database (all read before anything is changed);
 *     2. glue UpdateDatabase with the DatabaseInput read back (Name, Description, LocationUri,
 *        Parameters, TargetDatabase, FederatedDatabase when present) and
 *        `CreateTableDefaultPermissions: []`, so tables created later get no IAM_ALLOWED_PRINCIPALS
 *        grant. Skipped for a database whose CreateTableDefaultPermissions already is `[]`: once the
 *        IAM_ALLOWED_PRINCIPALS grant on a database is gone, altering it needs a Lake Formation ALTER
 *        grant that an administrator does not have implicitly, so a re-run must not alter it again;
 *     3. lakeformation ListPermissions (paginated) of principal IAM_ALLOWED_PRINCIPALS on each
 *        database (Resource.Database) and on every table (ResourceType TABLE, kept only when the
 *        table is in one of the databases above);
 *     4. lakeformation BatchRevokePermissions of exactly those grants, at most 20 entries a call.
 *        Any `Failures` entry fails the resource, naming the resource and the error.
 *   Data: DatabasesUpdated, DatabasesAlreadyLakeFormationOnly, GrantsRevoked (numbers as strings).
 *   Delete: nothing (the databases go with their stack or are retained; nothing is restored).
 *   Physical id: `lake-formation-only:<sorted databases joined by ,>`, or
 *   `lake-formation-only:sha256:<hex>` of that when it would be over 1 KB.
 *
 * `Custom::LakeFormationAccountDefaults` (one per account) makes new databases and tables in the
 * account Lake Formation-only by default.
 *   ResourceProperties: CatalogId.
 *   Create/Update: lakeformation GetDataLakeSettings, then PutDataLakeSettings with the settings
 *   exactly as read (administrators, read-only administrators, trusted owners, parameters, flags)
 *   except CreateDatabaseDefaultPermissions and CreateTableDefaultPermissions, both `[]`. Skipped
 *   when both already are empty. It never drops nor adds an administrator. When Lake Formation
 *   rejects the put because a listed principal no longer exists in IAM (aws-cdk issue 19492), the
 *   error names the principal and says to remove it in the Lake Formation console.
 *   Data: PreviousDatabaseDefaults, PreviousTableDefaults (JSON; "null" when absent), Changed.
 *   Delete: nothing (the defaults stay as they are; deleting the baseline must not change them).
 *   Physical id: `lake-formation-account-defaults:<CatalogId>`.
 */
import {
  GetDatabaseCommand,
  GlueClient,
  UpdateDatabaseCommand,
  type Database,
  type DatabaseInput,
  type GetDatabaseRequest,
  type GetDatabaseResponse,
  type UpdateDatabaseRequest,
} from '@aws-sdk/client-glue';
import {
  BatchRevokePermissionsCommand,
  GetDataLakeSettingsCommand,
  LakeFormationClient,
  ListPermissionsCommand,
  PutDataLakeSettingsCommand,
  type BatchPermissionsFailureEntry,
  type BatchPermissionsRequestEntry,
  type BatchRevokePermissionsRequest,
  type BatchRevokePermissionsResponse,
  type DataLakeSettings,
  type GetDataLakeSettingsRequest,
  type GetDataLakeSettingsResponse,
  type ListPermissionsRequest,
  type ListPermissionsResponse,
  type PrincipalResourcePermissions,
  type PutDataLakeSettingsRequest,
  type Resource,
} from '@aws-sdk/client-lakeformation';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { createHash } from 'node:crypto';
import https from 'node:https';

export const LAKE_FORMATION_ONLY = 'Custom::LakeFormationOnly';
export const ACCOUNT_DEFAULTS = 'Custom::LakeFormationAccountDefaults';
export const IAM_ALLOWED_PRINCIPALS = 'IAM_ALLOWED_PRINCIPALS';
/** BatchRevokePermissions takes at most 20 entries a call. */
export const REVOKE_BATCH_SIZE = 20;
/** CloudFormation rejects a physical id over 1 KB. */
export const MAX_PHYSICAL_ID_LENGTH = 1024;
/** CloudFormation rejects a response body over 4 KB. */
export const MAX_RESPONSE_BYTES = 4096;

/** The Glue calls the handler makes (the SDK's shapes); tests pass an in-memory fake. */
export interface GlueApi {
  getDatabase(input: GetDatabaseRequest): Promise<GetDatabaseResponse>;
  updateDatabase(input: UpdateDatabaseRequest): Promise<unknown>;
}

/** The Lake Formation calls the handler makes (the SDK's shapes); tests pass an in-memory fake. */
export interface LakeFormationApi {
  listPermissions(input: ListPermissionsRequest): Promise<ListPermissionsResponse>;
  batchRevokePermissions(input: BatchRevokePermissionsRequest): Promise<BatchRevokePermissionsResponse>;
  getDataLakeSettings(input: GetDataLakeSettingsRequest): Promise<GetDataLakeSettingsResponse>;
  putDataLakeSettings(input: PutDataLakeSettingsRequest): Promise<unknown>;
}

export interface Clients {
  readonly glue: GlueApi;
  readonly lakeFormation: LakeFormationApi;
}

export interface HandleOptions {
  /** Every database of a LakeFormationOnly resource must start with it (env DATABASE_PREFIX). */
  readonly databasePrefix: string | undefined;
  /**
   * Where the JSON log lines go.
   * @default - console.log (CloudWatch Logs)
   */
  readonly log?: (line: string) => void;
}

/** The body PUT to the pre-signed ResponseURL. */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data: Record<string, string>;
}

interface Outcome {
  readonly physicalResourceId: string;
  readonly data: Record<string, string>;
  readonly reason: string;
}

type Log = (step: string, fields?: Record<string, unknown>) => void;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== 'Error' && !error.message.startsWith(error.name) ? `${error.name}: ` : '';
    return `${name}${error.message}`;
  }
  return String(error);
}

function properties(event: CloudFormationCustomResourceEvent): Record<string, unknown> {
  return (event.ResourceProperties ?? {}) as Record<string, unknown>;
}

function catalogIdOf(props: Record<string, unknown>): string {
  const value = props.CatalogId;
  if (typeof value !== 'string' || !/^\d{12}$/.test(value)) {
    throw new Error(`ResourceProperties.CatalogId must be a 12-digit account id (got ${JSON.stringify(value)}).`);
  }
  return value;
}

/**
 * The Databases property, checked against the prefix: every offending name is reported and nothing
 * is called when one is outside it.
 */
export function parseDatabases(value: unknown, prefix: string | undefined): string[] {
  if (prefix === undefined || prefix.trim() === '') {
    throw new Error(
      'Environment variable DATABASE_PREFIX is not set: refusing to change any database without the scope guard.',
    );
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error(`ResourceProperties.Databases must be a non-empty list of database names (got ${JSON.stringify(value)}).`);
  }
  const names: string[] = [];
  for (const [index, name] of value.entries()) {
    if (typeof name !== 'string' || name.trim() === '' || name !== name.trim()) {
      throw new Error(`ResourceProperties.Databases[${index}] must be a database name (got ${JSON.stringify(name)}).`);
    }
    if (!names.includes(name)) names.push(name);
  }
  const outside = names.filter((name) => !name.startsWith(prefix) || name === prefix);
  if (outside.length > 0) {
    throw new Error(
      `${outside.map((name) => `Database "${name}"`).join(', ')} ${outside.length === 1 ? 'does' : 'do'} not start with ` +
        `the prefix "${prefix}" (DATABASE_PREFIX): this function only changes the project's own databases; nothing was changed.`,
    );
  }
  return names;
}

/** `lake-formation-only:<sorted databases joined by ,>`, a SHA-256 of it when over 1 KB. */
export function lakeFormationOnlyPhysicalId(databases: readonly string[]): string {
  const id = `lake-formation-only:${[...databases].sort().join(',')}`;
  if (id.length <= MAX_PHYSICAL_ID_LENGTH) return id;
  return `lake-formation-only:sha256:${createHash('sha256').update(id).digest('hex')}`;
}

export function accountDefaultsPhysicalId(catalogId: string): string {
  return `lake-formation-account-defaults:${catalogId}`;
}

/** The DatabaseInput that writes back what was read, with no default table grant. */
export function lakeFormationOnlyDatabaseInput(database: Database): DatabaseInput {
  const input: DatabaseInput = { Name: database.Name };
  if (database.Description !== undefined) input.Description = database.Description;
  if (database.LocationUri !== undefined) input.LocationUri = database.LocationUri;
  if (database.Parameters !== undefined) input.Parameters = database.Parameters;
  if (database.TargetDatabase !== undefined) input.TargetDatabase = database.TargetDatabase;
  if (database.FederatedDatabase !== undefined) input.FederatedDatabase = database.FederatedDatabase;
  input.CreateTableDefaultPermissions = [];
  return input;
}

/** `database x`, `table x.y`, `all tables in x`, `columns of table x.y`: for messages. */
export function describeResource(resource: Resource | undefined): string {
  if (resource?.Database) return `database ${resource.Database.Name}`;
  if (resource?.Table) {
    const t = resource.Table;
    return t.Name !== undefined ? `table ${t.DatabaseName}.${t.Name}` : `all tables in ${t.DatabaseName}`;
  }
  if (resource?.TableWithColumns) {
    return `columns of table ${resource.TableWithColumns.DatabaseName}.${resource.TableWithColumns.Name}`;
  }
  return JSON.stringify(resource ?? null);
}

function isIamAllowedPrincipals(grant: PrincipalResourcePermissions): boolean {
  return grant.Principal?.DataLakePrincipalIdentifier === IAM_ALLOWED_PRINCIPALS;
}

function sameCatalog(catalogId: string, resourceCatalogId: string | undefined): boolean {
  return resourceCatalogId === undefined || resourceCatalogId === catalogId;
}

/** The project database a listed grant belongs to, or undefined when it is not one of them. */
function projectDatabaseOf(grant: PrincipalResourcePermissions, catalogId: string, databases: ReadonlySet<string>): string | undefined {
  const resource = grant.Resource;
  const candidates = [
    resource?.Database && { catalog: resource.Database.CatalogId, name: resource.Database.Name },
    resource?.Table && { catalog: resource.Table.CatalogId, name: resource.Table.DatabaseName },
    resource?.TableWithColumns && { catalog: resource.TableWithColumns.CatalogId, name: resource.TableWithColumns.DatabaseName },
  ];
  for (const candidate of candidates) {
    if (candidate && candidate.name !== undefined && databases.has(candidate.name) && sameCatalog(catalogId, candidate.catalog)) {
      return candidate.name;
    }
  }
  return undefined;
}

async function listAll(lakeFormation: LakeFormationApi, request: ListPermissionsRequest): Promise<PrincipalResourcePermissions[]> {
  const all: PrincipalResourcePermissions[] = [];
  let nextToken: string | undefined;
  do {
    const page = await lakeFormation.listPermissions({ ...request, ...(nextToken ? { NextToken: nextToken } : {}) });
    all.push(...(page.PrincipalResourcePermissions ?? []));
    nextToken = page.NextToken || undefined;
  } while (nextToken);
  return all;
}

function describeFailure(failure: BatchPermissionsFailureEntry): string {
  const entry = failure.RequestEntry;
  const error = failure.Error;
  return (
    `${describeResource(entry?.Resource)} (${(entry?.Permissions ?? []).join(',') || 'no permissions'}): ` +
    `${error?.ErrorCode ?? 'UnknownError'}: ${error?.ErrorMessage ?? 'no message'}`
  );
}

async function lakeFormationOnly(
  event: Exclude<CloudFormationCustomResourceEvent, { RequestType: 'Delete' }>,
  clients: Clients,
  options: HandleOptions,
  log: Log,
): Promise<Outcome> {
  const props = properties(event);
  const catalogId = catalogIdOf(props);
  const databases = parseDatabases(props.Databases, options.databasePrefix);
  const physicalResourceId = lakeFormationOnlyPhysicalId(databases);
  log('start', { catalogId, databases, physicalResourceId });

  // 1. Read every database first: a missing one fails the resource before anything is changed.
  const read: Database[] = [];
  for (const name of databases) {
    const { Database: database } = await clients.glue.getDatabase({ CatalogId: catalogId, Name: name });
    if (!database || database.Name !== name) {
      throw new Error(
        `Glue GetDatabase of "${name}" in catalog ${catalogId} returned ${database ? `database "${database.Name}"` : 'no database'}.`,
      );
    }
    read.push(database);
  }

  // 2. No default grant for the tables created later (before the revoke: while the database still
  //    has its IAM_ALLOWED_PRINCIPALS grant, the function's IAM permissions are enough to alter it).
  const updated: string[] = [];
  const alreadyLakeFormationOnly: string[] = [];
  for (const database of read) {
    const current = database.CreateTableDefaultPermissions;
    if (Array.isArray(current) && current.length === 0) {
      alreadyLakeFormationOnly.push(database.Name!);
      continue;
    }
    await clients.glue.updateDatabase({
      CatalogId: catalogId,
      Name: database.Name,
      DatabaseInput: lakeFormationOnlyDatabaseInput(database),
    });
    updated.push(database.Name!);
    log('update-database', { database: database.Name, previousCreateTableDefaultPermissions: current ?? null });
  }
  if (alreadyLakeFormationOnly.length > 0) {
    log('database-already-lake-formation-only', { databases: alreadyLakeFormationOnly });
  }

  // 3. The IAM_ALLOWED_PRINCIPALS grants on the databases and on their tables.
  const principal = { DataLakePrincipalIdentifier: IAM_ALLOWED_PRINCIPALS };
  const projectDatabases = new Set(databases);
  const listed: PrincipalResourcePermissions[] = [];
  for (const name of databases) {
    listed.push(
      ...(await listAll(clients.lakeFormation, {
        CatalogId: catalogId,
        Principal: principal,
        Resource: { Database: { CatalogId: catalogId, Name: name } },
      })),
    );
  }
  listed.push(
    ...(await listAll(clients.lakeFormation, { CatalogId: catalogId, Principal: principal, ResourceType: 'TABLE' })),
  );
  const seen = new Set<string>();
  const grants = listed.filter((grant) => {
    if (!isIamAllowedPrincipals(grant) || projectDatabaseOf(grant, catalogId, projectDatabases) === undefined) return false;
    if ((grant.Permissions ?? []).length === 0 && (grant.PermissionsWithGrantOption ?? []).length === 0) return false;
    const key = JSON.stringify([grant.Resource, grant.Permissions, grant.PermissionsWithGrantOption, grant.Condition]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  log('list-grants', {
    listed: listed.length,
    toRevoke: grants.map((g) => `${describeResource(g.Resource)} (${(g.Permissions ?? []).join(',')})`),
  });

  // 4. Revoke exactly those, 20 at a time; every batch is sent, then any failure fails the resource.
  const failures: BatchPermissionsFailureEntry[] = [];
  for (let start = 0; start < grants.length; start += REVOKE_BATCH_SIZE) {
    const entries: BatchPermissionsRequestEntry[] = grants.slice(start, start + REVOKE_BATCH_SIZE).map((grant, i) => ({
      Id: String(start + i),
      Principal: grant.Principal,
      Resource: grant.Resource,
      Permissions: grant.Permissions,
      PermissionsWithGrantOption: grant.PermissionsWithGrantOption,
      ...(grant.Condition ? { Condition: grant.Condition } : {}),
    }));
    const result = await clients.lakeFormation.batchRevokePermissions({ CatalogId: catalogId, Entries: entries });
    failures.push(...(result.Failures ?? []));
    log('revoke', { batch: start / REVOKE_BATCH_SIZE + 1, entries: entries.length, failures: result.Failures?.length ?? 0 });
  }
  if (failures.length > 0) {
    throw new Error(
      `Lake Formation could not revoke ${failures.length} of ${grants.length} IAM_ALLOWED_PRINCIPALS grant(s): ` +
        failures.map(describeFailure).join('; '),
    );
  }

  return {
    physicalResourceId,
    reason: `${updated.length} database(s) updated, ${grants.length} IAM_ALLOWED_PRINCIPALS grant(s) revoked.`,
    data: {
      DatabasesUpdated: String(updated.length),
      DatabasesAlreadyLakeFormationOnly: String(alreadyLakeFormationOnly.length),
      GrantsRevoked: String(grants.length),
    },
  };
}

function isEmptyDefault(value: unknown[] | undefined): boolean {
  return value === undefined || value === null || value.length === 0;
}

/** The error to show when Lake Formation rejects the put because a listed principal is gone. */
export function invalidPrincipalError(error: unknown, settings: DataLakeSettings): Error | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/invalid principal/i.test(message)) return undefined;
  const lists: [string, { DataLakePrincipalIdentifier?: string }[] | undefined][] = [
    ['data lake administrators', settings.DataLakeAdmins],
    ['read-only administrators', settings.ReadOnlyAdmins],
    ['external data filtering allow list', settings.ExternalDataFilteringAllowList],
  ];
  const named = [...message.matchAll(/arn:[A-Za-z0-9-]+:iam::\d{12}:[^\s,;()"']+/g)].map((m) => m[0]);
  const principal = named[0];
  const where = principal ? lists.find(([, list]) => (list ?? []).some((p) => p.DataLakePrincipalIdentifier === principal)) : undefined;
  const who = principal
    ? `principal ${principal}${where ? ` (in the ${where[0]})` : ''} no longer exists in IAM`
    : `a principal in the Lake Formation settings no longer exists in IAM (administrators: ${
        (settings.DataLakeAdmins ?? []).map((p) => p.DataLakePrincipalIdentifier).join(', ') || 'none'
      })`;
  return new Error(
    `Lake Formation rejected PutDataLakeSettings: ${who}. Remove it in the Lake Formation console ` +
      '(Administration > Administrative roles and tasks) and deploy again; this function never adds or removes an ' +
      `administrator (see aws-cdk issue 19492). Lake Formation said: ${describeError(error)}`,
  );
}

async function accountDefaults(
  event: Exclude<CloudFormationCustomResourceEvent, { RequestType: 'Delete' }>,
  clients: Clients,
  log: Log,
): Promise<Outcome> {
  const catalogId = catalogIdOf(properties(event));
  const physicalResourceId = accountDefaultsPhysicalId(catalogId);
  const { DataLakeSettings: settings } = await clients.lakeFormation.getDataLakeSettings({ CatalogId: catalogId });
  if (!settings) {
    throw new Error(
      `Lake Formation GetDataLakeSettings returned no settings for catalog ${catalogId}: refusing to put settings ` +
        'that could drop the administrators.',
    );
  }
  const previousDatabase = settings.CreateDatabaseDefaultPermissions;
  const previousTable = settings.CreateTableDefaultPermissions;
  const data = {
    PreviousDatabaseDefaults: JSON.stringify(previousDatabase ?? null),
    PreviousTableDefaults: JSON.stringify(previousTable ?? null),
  };
  log('read-settings', {
    catalogId,
    administrators: (settings.DataLakeAdmins ?? []).map((p) => p.DataLakePrincipalIdentifier),
    previousDatabaseDefaults: previousDatabase ?? null,
    previousTableDefaults: previousTable ?? null,
  });
  if (isEmptyDefault(previousDatabase) && isEmptyDefault(previousTable)) {
    log('settings-unchanged', { reason: 'both defaults already grant nothing' });
    return { physicalResourceId, data: { ...data, Changed: 'false' }, reason: 'Defaults already grant nothing.' };
  }
  const next: DataLakeSettings = { ...settings, CreateDatabaseDefaultPermissions: [], CreateTableDefaultPermissions: [] };
  try {
    await clients.lakeFormation.putDataLakeSettings({ CatalogId: catalogId, DataLakeSettings: next });
  } catch (error) {
    throw invalidPrincipalError(error, settings) ?? error;
  }
  log('put-settings', { createDatabaseDefaultPermissions: [], createTableDefaultPermissions: [] });
  return {
    physicalResourceId,
    data: { ...data, Changed: 'true' },
    reason: 'CreateDatabaseDefaultPermissions and CreateTableDefaultPermissions set to [].',
  };
}

/** Cuts the Reason so the body fits CloudFormation's 4 KB limit. */
export function fitResponse(response: CustomResourceResponse): CustomResourceResponse {
  const size = (r: CustomResourceResponse) => Buffer.byteLength(JSON.stringify(r));
  if (size(response) <= MAX_RESPONSE_BYTES) return response;
  const marker = ' [truncated; see the CloudWatch log]';
  // The longest beginning of the Reason that fits (binary search: characters are 1 to 6 bytes of JSON).
  let low = 0;
  let high = response.Reason.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (size({ ...response, Reason: response.Reason.slice(0, mid) + marker }) <= MAX_RESPONSE_BYTES) low = mid;
    else high = mid - 1;
  }
  const reason = response.Reason.slice(0, low);
  return { ...response, Reason: reason + marker };
}

/**
 * The testable core: runs the event and returns the body to PUT, never throws. FAILED carries the
 * error message in Reason.
 */
export async function handle(
  event: CloudFormationCustomResourceEvent,
  clients: Clients,
  options: HandleOptions,
): Promise<CustomResourceResponse> {
  // eslint-disable-next-line no-console -- the Lambda's structured log lines go to CloudWatch through stdout.
  const write = options.log ?? ((line: string) => console.log(line));
  const log: Log = (step, fields = {}) => {
    try {
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          step,
          requestType: event?.RequestType,
          resourceType: event?.ResourceType,
          logicalResourceId: event?.LogicalResourceId,
          ...fields,
        }),
      );
    } catch {
      // A log line that cannot be written must not change the response.
    }
  };
  const respond = (status: 'SUCCESS' | 'FAILED', physicalResourceId: string, reason: string, data: Record<string, string> = {}) =>
    fitResponse({
      Status: status,
      Reason: reason,
      PhysicalResourceId: physicalResourceId,
      StackId: event?.StackId,
      RequestId: event?.RequestId,
      LogicalResourceId: event?.LogicalResourceId,
      Data: data,
    });
  // The id a failed Create reports; its rollback Delete is a no-op whatever it is.
  const existingId = event?.RequestType === 'Create' ? undefined : event?.PhysicalResourceId;
  let fallbackId = existingId ?? `${event?.LogicalResourceId ?? 'resource'}-${event?.RequestId ?? 'unknown'}`;

  try {
    if (event.RequestType === 'Delete') {
      log('delete', { physicalResourceId: event.PhysicalResourceId, action: 'none: nothing is restored or removed' });
      return respond('SUCCESS', event.PhysicalResourceId, 'Delete changes nothing.');
    }
    let outcome: Outcome;
    if (event.ResourceType === LAKE_FORMATION_ONLY) {
      try {
        fallbackId = existingId ?? lakeFormationOnlyPhysicalId(parseDatabases(properties(event).Databases, options.databasePrefix));
      } catch {
        // Reported by lakeFormationOnly below.
      }
      outcome = await lakeFormationOnly(event, clients, options, log);
    } else if (event.ResourceType === ACCOUNT_DEFAULTS) {
      try {
        fallbackId = existingId ?? accountDefaultsPhysicalId(catalogIdOf(properties(event)));
      } catch {
        // Reported by accountDefaults below.
      }
      outcome = await accountDefaults(event, clients, log);
    } else {
      throw new Error(
        `Unknown ResourceType ${JSON.stringify(event.ResourceType)}: this function serves ${LAKE_FORMATION_ONLY} and ${ACCOUNT_DEFAULTS}.`,
      );
    }
    log('done', { physicalResourceId: outcome.physicalResourceId, data: outcome.data });
    return respond('SUCCESS', outcome.physicalResourceId, outcome.reason, outcome.data);
  } catch (error) {
    const message = describeError(error);
    log('error', { error: message });
    return respond('FAILED', fallbackId, message);
  }
}

export type RequestFunction = typeof https.request;

/**
 * PUTs the body to the pre-signed URL (empty content-type, as the signature expects); retries a
 * network error or a non-2xx status up to `attempts` times, then throws.
 */
export async function sendResponse(
  responseUrl: string,
  response: CustomResourceResponse,
  options: { request?: RequestFunction; attempts?: number; timeoutMs?: number; retryDelayMs?: number } = {},
): Promise<void> {
  const request = options.request ?? https.request;
  const attempts = options.attempts ?? 3;
  const body = JSON.stringify(response);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request(
          responseUrl,
          {
            method: 'PUT',
            headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
            timeout: options.timeoutMs ?? 10_000,
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve();
              else reject(new Error(`The response URL answered HTTP ${status}.`));
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('The response URL did not answer in time.')));
        req.on('error', reject);
        req.end(body);
      });
      return;
    } catch (error) {
      lastError = error;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 1000) * attempt));
    }
  }
  throw new Error(`Could not send the response to CloudFormation after ${attempts} attempt(s): ${describeError(lastError)}`);
}

export interface OnEventDependencies {
  readonly clients: () => Clients;
  readonly databasePrefix: () => string | undefined;
  readonly send?: (responseUrl: string, response: CustomResourceResponse) => Promise<void>;
  readonly log?: (line: string) => void;
  /** Time kept before the Lambda timeout to send FAILED instead of hanging. @default 15000 */
  readonly safetyMarginMs?: number;
}

export type OnEvent = (event: CloudFormationCustomResourceEvent, context: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<void>;

/** The entry point built from its I/O: runs `handle`, FAILED before the timeout, then one PUT. */
export function createOnEvent(deps: OnEventDependencies): OnEvent {
  return async (event, context) => {
    const margin = deps.safetyMarginMs ?? 15_000;
    const budget = Math.max(1_000, (context?.getRemainingTimeInMillis?.() ?? 900_000) - margin);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CustomResourceResponse>((resolve) => {
      timer = setTimeout(() => {
        resolve(
          fitResponse({
            Status: 'FAILED',
            Reason: `Timed out: the handler did not finish within ${Math.round(budget / 1000)} s.`,
            PhysicalResourceId:
              (event.RequestType === 'Create' ? undefined : event.PhysicalResourceId) ?? `${event.LogicalResourceId}-${event.RequestId}`,
            StackId: event.StackId,
            RequestId: event.RequestId,
            LogicalResourceId: event.LogicalResourceId,
            Data: {},
          }),
        );
      }, budget);
    });
    let response: CustomResourceResponse;
    try {
      response = await Promise.race([
        (async () => {
          let clients: Clients;
          let prefix: string | undefined;
          try {
            clients = deps.clients();
            prefix = deps.databasePrefix();
          } catch (error) {
            return handle(event, failingClients(error), { databasePrefix: undefined, log: deps.log });
          }
          return handle(event, clients, { databasePrefix: prefix, log: deps.log });
        })(),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
    }
    const send = deps.send ?? ((url: string, body: CustomResourceResponse) => sendResponse(url, body));
    await send(event.ResponseURL, response);
  };
}

/** Clients whose every call fails with the error met while making the real ones. */
function failingClients(error: unknown): Clients {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return {
    glue: { getDatabase: fail, updateDatabase: fail },
    lakeFormation: { listPermissions: fail, batchRevokePermissions: fail, getDataLakeSettings: fail, putDataLakeSettings: fail },
  };
}

let sdkClients: Clients | undefined;

/** The SDK v3 clients (provided by the Lambda Node.js runtime), made on first use. */
export function awsClients(): Clients {
  if (!sdkClients) {
    const glue = new GlueClient({});
    const lakeFormation = new LakeFormationClient({});
    sdkClients = {
      glue: {
        getDatabase: (input) => glue.send(new GetDatabaseCommand(input)),
        updateDatabase: (input) => glue.send(new UpdateDatabaseCommand(input)),
      },
      lakeFormation: {
        listPermissions: (input) => lakeFormation.send(new ListPermissionsCommand(input)),
        batchRevokePermissions: (input) => lakeFormation.send(new BatchRevokePermissionsCommand(input)),
        getDataLakeSettings: (input) => lakeFormation.send(new GetDataLakeSettingsCommand(input)),
        putDataLakeSettings: (input) => lakeFormation.send(new PutDataLakeSettingsCommand(input)),
      },
    };
  }
  return sdkClients;
}

/** The Lambda entry point (handler `onEvent`). */
export const onEvent: OnEvent = createOnEvent({
  clients: awsClients,
  databasePrefix: () => process.env.DATABASE_PREFIX,
});
