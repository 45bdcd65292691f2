/**
 * An in-memory Glue Data Catalog and Lake Formation for the lake-formation-guard handler: databases
 * with tables, the data lake settings and a grant list, behind the calls the handler makes, with
 * the API's rules that matter here (UpdateDatabase replaces the definition, ListPermissions filters
 * and pages with NextToken, BatchRevokePermissions takes at most 20 entries and reports what it
 * cannot revoke in `Failures`, PutDataLakeSettings rejects a principal that no longer exists).
 */
import type { Database, GetDatabaseRequest, GetDatabaseResponse, UpdateDatabaseRequest } from '@aws-sdk/client-glue';
import type {
  BatchPermissionsFailureEntry,
  BatchPermissionsRequestEntry,
  BatchRevokePermissionsRequest,
  BatchRevokePermissionsResponse,
  DataLakeSettings,
  ErrorDetail,
  GetDataLakeSettingsRequest,
  GetDataLakeSettingsResponse,
  ListPermissionsRequest,
  ListPermissionsResponse,
  PrincipalResourcePermissions,
  PutDataLakeSettingsRequest,
  Resource,
} from '@aws-sdk/client-lakeformation';
import type { Clients, GlueApi, LakeFormationApi } from '../../lib/account/lake-formation-guard-handler';

export interface RecordedCall {
  readonly operation: string;
  readonly input: unknown;
}

class FakeServiceError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const clone = <T>(value: T): T => structuredClone(value);

/** Deep equality of plain JSON-like values, ignoring keys whose value is undefined. */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, normalise(v)]),
    );
  }
  return value;
}

export class FakeCatalog implements GlueApi, LakeFormationApi {
  readonly databases = new Map<string, Database>();
  grants: PrincipalResourcePermissions[] = [];
  settings: DataLakeSettings | undefined = {};
  /** ListPermissions page size. */
  pageSize = 100;
  /** IAM principals that exist; PutDataLakeSettings rejects any other IAM ARN. */
  existingPrincipals: Set<string> | undefined;
  /** Makes BatchRevokePermissions report a failure for an entry. */
  revokeFailure: ((entry: BatchPermissionsRequestEntry) => ErrorDetail | undefined) | undefined;
  readonly calls: RecordedCall[] = [];

  constructor(readonly catalogId: string) {}

  clients(): Clients {
    return { glue: this, lakeFormation: this };
  }

  callsOf(operation: string): unknown[] {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.input);
  }

  /** What the handler could change, to compare before and after. */
  snapshot(): unknown {
    return clone({ databases: [...this.databases.entries()], grants: this.grants, settings: this.settings });
  }

  addDatabase(database: Database): void {
    this.databases.set(database.Name!, clone({ CatalogId: this.catalogId, CreateTime: new Date(0), ...database }));
  }

  grant(principal: string, resource: Resource, permissions: string[], withGrantOption: string[] = []): void {
    this.grants.push({
      Principal: { DataLakePrincipalIdentifier: principal },
      Resource: clone(resource),
      Permissions: permissions as PrincipalResourcePermissions['Permissions'],
      PermissionsWithGrantOption: withGrantOption as PrincipalResourcePermissions['PermissionsWithGrantOption'],
      LastUpdated: new Date(0),
      LastUpdatedBy: 'fixture',
    });
  }

  private record(operation: string, input: unknown): void {
    this.calls.push({ operation, input: clone(input) });
  }

  // ---- Glue

  async getDatabase(input: GetDatabaseRequest): Promise<GetDatabaseResponse> {
    this.record('GetDatabase', input);
    const database = this.databases.get(input.Name!);
    if (!database || (input.CatalogId !== undefined && input.CatalogId !== this.catalogId)) {
      throw new FakeServiceError('EntityNotFoundException', `Database ${input.Name} not found.`);
    }
    return { Database: clone(database) };
  }

  async updateDatabase(input: UpdateDatabaseRequest): Promise<unknown> {
    this.record('UpdateDatabase', input);
    const existing = this.databases.get(input.Name!);
    if (!existing) throw new FakeServiceError('EntityNotFoundException', `Database ${input.Name} not found.`);
    if (input.DatabaseInput?.Name !== input.Name) {
      throw new FakeServiceError('InvalidInputException', 'Renaming a database is not supported.');
    }
    // UpdateDatabase replaces the definition with DatabaseInput: a field left out is gone.
    this.databases.set(input.Name!, clone({ CatalogId: existing.CatalogId, CreateTime: existing.CreateTime, ...input.DatabaseInput! }));
    return {};
  }

  // ---- Lake Formation

  private matches(grant: PrincipalResourcePermissions, input: ListPermissionsRequest): boolean {
    if (input.Principal && grant.Principal?.DataLakePrincipalIdentifier !== input.Principal.DataLakePrincipalIdentifier) {
      return false;
    }
    const resource = grant.Resource ?? {};
    if (input.Resource?.Database) {
      const wanted = input.Resource.Database;
      return resource.Database !== undefined && resource.Database.Name === wanted.Name && (resource.Database.CatalogId ?? this.catalogId) === (wanted.CatalogId ?? this.catalogId);
    }
    if (input.Resource) throw new Error('The fake lists by Resource.Database only.');
    switch (input.ResourceType) {
      case undefined:
        return true;
      case 'DATABASE':
        return resource.Database !== undefined;
      case 'TABLE':
        return resource.Table !== undefined || resource.TableWithColumns !== undefined;
      default:
        return false;
    }
  }

  async listPermissions(input: ListPermissionsRequest): Promise<ListPermissionsResponse> {
    this.record('ListPermissions', input);
    if (input.CatalogId !== undefined && input.CatalogId !== this.catalogId) {
      throw new FakeServiceError('InvalidInputException', `Unknown catalog ${input.CatalogId}.`);
    }
    const all = this.grants.filter((g) => this.matches(g, input));
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken.replace(/^page-/, ''));
    if (!Number.isInteger(start) || start < 0 || start > all.length) {
      throw new FakeServiceError('InvalidInputException', `Bad NextToken ${input.NextToken}.`);
    }
    const end = start + this.pageSize;
    return {
      PrincipalResourcePermissions: clone(all.slice(start, end)),
      ...(end < all.length ? { NextToken: `page-${end}` } : {}),
    };
  }

  async batchRevokePermissions(input: BatchRevokePermissionsRequest): Promise<BatchRevokePermissionsResponse> {
    this.record('BatchRevokePermissions', input);
    const entries = input.Entries ?? [];
    if (entries.length === 0 || entries.length > 20) {
      throw new FakeServiceError('ValidationException', `Entries must have 1 to 20 items (got ${entries.length}).`);
    }
    if (new Set(entries.map((e) => e.Id)).size !== entries.length) {
      throw new FakeServiceError('InvalidInputException', 'Entry ids must be unique.');
    }
    const failures: BatchPermissionsFailureEntry[] = [];
    for (const entry of entries) {
      const injected = this.revokeFailure?.(entry);
      if (injected) {
        failures.push({ RequestEntry: clone(entry), Error: injected });
        continue;
      }
      const grant = this.grants.find(
        (g) => g.Principal?.DataLakePrincipalIdentifier === entry.Principal?.DataLakePrincipalIdentifier && sameValue(g.Resource, entry.Resource),
      );
      const permissions = entry.Permissions ?? [];
      const withGrant = entry.PermissionsWithGrantOption ?? [];
      if (
        !grant ||
        !permissions.every((p) => grant.Permissions?.includes(p)) ||
        !withGrant.every((p) => grant.PermissionsWithGrantOption?.includes(p))
      ) {
        failures.push({
          RequestEntry: clone(entry),
          Error: { ErrorCode: 'InvalidInputException', ErrorMessage: 'Grantee has no permissions and no grantable permissions on resource' },
        });
        continue;
      }
      grant.Permissions = grant.Permissions!.filter((p) => !permissions.includes(p));
      grant.PermissionsWithGrantOption = (grant.PermissionsWithGrantOption ?? []).filter((p) => !withGrant.includes(p));
      if (grant.Permissions.length === 0 && grant.PermissionsWithGrantOption.length === 0) {
        this.grants = this.grants.filter((g) => g !== grant);
      }
    }
    return { Failures: failures };
  }

  async getDataLakeSettings(input: GetDataLakeSettingsRequest): Promise<GetDataLakeSettingsResponse> {
    this.record('GetDataLakeSettings', input);
    return this.settings === undefined ? {} : { DataLakeSettings: clone(this.settings) };
  }

  async putDataLakeSettings(input: PutDataLakeSettingsRequest): Promise<unknown> {
    this.record('PutDataLakeSettings', input);
    const settings = input.DataLakeSettings;
    if (!settings) throw new FakeServiceError('InvalidInputException', 'DataLakeSettings is required.');
    for (const key of ['CreateDatabaseDefaultPermissions', 'CreateTableDefaultPermissions'] as const) {
      const value = settings[key] ?? [];
      const iamOnly = sameValue(value, [{ Principal: { DataLakePrincipalIdentifier: 'IAM_ALLOWED_PRINCIPALS' }, Permissions: ['ALL'] }]);
      if (value.length !== 0 && !iamOnly) throw new FakeServiceError('InvalidInputException', `Invalid ${key}.`);
    }
    const principals = [...(settings.DataLakeAdmins ?? []), ...(settings.ReadOnlyAdmins ?? [])];
    for (const principal of principals) {
      const arn = principal.DataLakePrincipalIdentifier ?? '';
      if (this.existingPrincipals && arn.startsWith('arn:') && !this.existingPrincipals.has(arn)) {
        throw new FakeServiceError(
          'InvalidInputException',
          `Invalid principal, arn: ${arn} (Service: AWSLakeFormation; Status Code: 400; Error Code: InvalidInputException)`,
        );
      }
    }
    this.settings = clone(settings);
    return {};
  }
}
