import { createHash } from 'crypto';
import { ArnFormat, CustomResource, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lakeformation from 'aws-cdk-lib/aws-lakeformation';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { deploymentRoleArn } from '../shared/deployment-role';
import { grantPrefixReadWrite } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { pascal } from '../shared/naming';

/** Properties of {@link LakeFormationAdmins}. */
export interface LakeFormationAdminsProps {
  /**
   * IAM role or user ARNs made data lake administrators besides the deployment role (which must
   * be one to create grants), e.g. `config.governance.lakeAdminArns` and the guard function's role.
   */
  readonly admins: readonly string[];
}

/**
 * Adds data lake administrators to the account's Lake Formation settings: the deployment role
 * and `admins`. `MutationType: APPEND`, so every administrator the account already has stays
 * one, and no other setting is written. The resource is retained on deletion: removing the
 * account stack never rewrites the account's settings. An account singleton: only the account
 * stack creates it.
 */
export class LakeFormationAdmins extends Construct {
  public readonly resource: lakeformation.CfnDataLakeSettings;
  /** Every administrator ARN this construct adds (the deployment role first). */
  public readonly adminArns: readonly string[];

  constructor(scope: Construct, id: string, props: LakeFormationAdminsProps) {
    super(scope, id);
    if (new Set(props.admins).size !== props.admins.length) {
      throw new Error(`LakeFormationAdmins ${this.node.path}: an administrator is listed twice (${props.admins.join(', ')}); list each once.`);
    }
    this.adminArns = [deploymentRoleArn(this), ...props.admins];
    this.resource = new lakeformation.CfnDataLakeSettings(this, 'Resource', {
      admins: this.adminArns.map((arn) => ({ dataLakePrincipalIdentifier: arn })),
      mutationType: 'APPEND',
    });
    this.resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

/** Properties of {@link LakeFormationSettings}. */
export interface LakeFormationSettingsProps {
  /**
   * Buckets registered as Lake Formation data locations, each with a customer key.
   * @default - no location is registered
   */
  readonly locations?: readonly s3.IBucket[];
}

/**
 * An environment's Lake Formation setup, which every grant depends on: each lake bucket
 * registered with a dedicated role (never the service-linked role) that can read, write and
 * list exactly those buckets and use their keys. Nothing account-wide: the administrators and
 * defaults are the account stack's ({@link LakeFormationAdmins}), and the environment's
 * databases are made Lake Formation-only by {@link LakeFormationOnly}.
 */
export class LakeFormationSettings extends Construct {
  /** The role Lake Formation uses to access the registered locations, when any is registered. */
  public readonly locationRole?: LeastPrivilegeRole;
  /** The location registrations, in the order of `locations`. */
  public readonly registrations: readonly lakeformation.CfnResource[];

  constructor(scope: Construct, id: string, props: LakeFormationSettingsProps = {}) {
    super(scope, id);
    const locations = props.locations ?? [];
    if (locations.length > 0) {
      this.locationRole = new LeastPrivilegeRole(this, 'LocationRole', {
        assumedBy: new iam.ServicePrincipal('lakeformation.amazonaws.com'),
        description: 'Lake Formation reads, writes and lists the registered lake buckets for the principals it grants access to',
      });
    }
    this.registrations = locations.map((bucket) => {
      const construct = bucket as unknown as IConstruct;
      if (!bucket.encryptionKey) {
        throw new Error(
          `LakeFormationSettings ${this.node.path}: location ${construct.node.path} has no customer key; register only SSE-KMS lake buckets.`,
        );
      }
      grantPrefixReadWrite(this.locationRole!, { bucket });
      const registration = new lakeformation.CfnResource(this, `Location${pathId(construct)}`, {
        resourceArn: bucket.bucketArn,
        roleArn: this.locationRole!.roleArn,
        useServiceLinkedRole: false,
      });
      // The role's permissions exist before Lake Formation first uses them.
      registration.node.addDependency(this.locationRole!);
      return registration;
    });
  }
}

/** The name of the account's Lake Formation guard function (one per account and region, in the account stack). */
export function lakeFormationGuardFunctionName(appName: string): string {
  return `${appName.toLowerCase()}-lake-formation-guard`;
}

/** The prefix every database name of the app starts with; the guard function touches no other database. */
export function projectDatabasePrefix(appName: string): string {
  return `${appName.toLowerCase()}_`;
}

/** Properties of {@link LakeFormationOnly}. */
export interface LakeFormationOnlyProps {
  /** The app's name: the guard function's name and the database prefix derive from it. */
  readonly appName: string;
  /** The names of the environment's databases, as literals (each starts with the app's database prefix). */
  readonly databaseNames: readonly string[];
  /**
   * The databases and the tables CloudFormation creates in them: the guard runs after them, and
   * again whenever this list changes.
   */
  readonly catalogResources: readonly IConstruct[];
}

/**
 * Makes an environment's own databases and tables governed by Lake Formation only, whatever the
 * account's defaults: a `Custom::LakeFormationOnly` served by the account stack's guard function
 * (a Lake Formation administrator) that sets each database's default permissions for new tables
 * to none and revokes every `IAM_ALLOWED_PRINCIPALS` grant on those databases and their tables.
 * Without it, the defaults of an account that still has IAM-only access would give every IAM
 * principal with Glue and S3 rights the whole table, and the grants (and the personal-data
 * column exclusion) would change nothing. It touches no other database (the function refuses
 * names outside the app's prefix) and changes nothing account-wide.
 */
export class LakeFormationOnly extends Construct {
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: LakeFormationOnlyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = projectDatabasePrefix(props.appName);
    const names = props.databaseNames;
    const outside = names.filter((name) => Token.isUnresolved(name) || !name.startsWith(prefix));
    if (outside.length > 0) {
      throw new Error(`LakeFormationOnly ${this.node.path}: database ${outside.join(', ')} is not a literal starting with "${prefix}"; the guard function touches only the app's databases.`);
    }
    const paths = props.catalogResources.map((resource) => resource.node.path).sort();
    this.resource = new CustomResource(this, 'Resource', {
      resourceType: 'Custom::LakeFormationOnly',
      serviceToken: stack.formatArn({
        service: 'lambda',
        resource: 'function',
        resourceName: lakeFormationGuardFunctionName(props.appName),
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      properties: {
        CatalogId: stack.account,
        Databases: [...names].sort(),
        Fingerprint: createHash('sha256').update(paths.join('\n')).digest('hex').slice(0, 16),
      },
    });
    for (const dependency of props.catalogResources) {
      this.resource.node.addDependency(dependency);
      // Asked for at creation too: no default grant on the tables created later in a database
      // (CloudFormation may drop the empty list; the guard then sets it).
      const database = dependency.node.defaultChild;
      if (database instanceof glue.CfnDatabase) {
        database.addPropertyOverride('DatabaseInput.CreateTableDefaultPermissions', []);
      }
    }
  }
}

/** The table wildcard: every table of a database, present and future. */
export const ALL_TABLES = '*all tables*';

/** Lake Formation permissions this platform grants. `ALL` and `SUPER` are never granted. */
export const LAKE_PERMISSIONS = ['SELECT', 'DESCRIBE', 'INSERT', 'DELETE', 'ALTER', 'CREATE_TABLE', 'DROP', 'DATA_LOCATION_ACCESS'] as const;
export type LakePermission = (typeof LAKE_PERMISSIONS)[number];

/** Permissions that apply to a database. */
const DATABASE_PERMISSIONS: readonly LakePermission[] = ['CREATE_TABLE', 'ALTER', 'DROP', 'DESCRIBE'];
/** Permissions that apply to a table. */
const TABLE_PERMISSIONS: readonly LakePermission[] = ['SELECT', 'INSERT', 'DELETE', 'DESCRIBE', 'ALTER', 'DROP'];

/** A principal Lake Formation can grant to: a role or a user. */
export type LakePrincipal = iam.IRole | iam.IUser;

/** One grant. Exactly one of `database` and `location` is given. */
export interface LakeGrant {
  /** Who receives the permissions. */
  readonly principal: LakePrincipal;
  /**
   * The database the grant is on (or whose tables it is on).
   * @default - none: the grant is on `location`
   */
  readonly database?: glue.IDatabase;
  /**
   * A table name of `database`, or {@link ALL_TABLES}.
   * @default - the grant is on the database itself
   */
  readonly table?: string;
  /** What the principal may do (never `ALL` or `SUPER`). */
  readonly permissions: readonly LakePermission[];
  /**
   * Columns hidden from a SELECT grant on a named table (e.g. personal data).
   * @default - every column
   */
  readonly excludedColumns?: readonly string[];
  /**
   * A registered bucket the principal may create catalog objects over (`DATA_LOCATION_ACCESS`).
   * @default - none: the grant is on `database`
   */
  readonly location?: s3.IBucket;
}

/** Properties of {@link LakeFormationGrants}. */
export interface LakeFormationGrantsProps {
  /** The environment's registered locations; every grant depends on them. */
  readonly settings: LakeFormationSettings;
}

/** One grant as made: what was asked for and the resource it became. */
export interface MadeGrant {
  readonly request: LakeGrant;
  readonly resource: lakeformation.CfnPrincipalPermissions;
}


/**
 * The path of a construct inside its stack as an id part, without the `Resource` / `Default`
 * of main children (`ClickstreamToCurated/Role` -> `ClickstreamToCuratedRole`, `RawZone/Resource` -> `RawZone`).
 */
function pathId(construct: IConstruct): string {
  const stackPath = Stack.of(construct).node.path;
  const parts = construct.node.path.slice(stackPath.length + 1).split('/');
  return pascal(parts.filter((part) => part !== 'Resource' && part !== 'Default').join('/'));
}

/**
 * Lake Formation grants, one declarative call each: `grant({ principal, database, table,
 * permissions, excludedColumns })` or `grant({ principal, location, permissions:
 * ['DATA_LOCATION_ACCESS'] })`. Each becomes an `AWS::LakeFormation::PrincipalPermissions`
 * without grant option. Combinations Lake Formation rejects (or this platform never makes)
 * fail at synth with the fix named.
 *
 * Create it in the stack that owns the principals, so no stack depends on a later one.
 */
export class LakeFormationGrants extends Construct {
  /**
   * The last grant made in each stack. Lake Formation fails grants made in parallel with
   * `ConcurrentModificationException` (aws-cdk #36215), so each grant of a stack depends on the
   * one before it, across every LakeFormationGrants of that stack: one chain per stack.
   */
  private static readonly lastGrant = new WeakMap<Stack, lakeformation.CfnPrincipalPermissions>();
  private readonly settings: LakeFormationSettings;
  private readonly made: MadeGrant[] = [];

  constructor(scope: Construct, id: string, props: LakeFormationGrantsProps) {
    super(scope, id);
    this.settings = props.settings;
  }

  /** Every grant made so far, in call order. */
  public get grants(): readonly MadeGrant[] {
    return [...this.made];
  }

  /** Grants `permissions` to `principal` on a database, its tables, a table's columns, or a data location. */
  public grant(request: LakeGrant): lakeformation.CfnPrincipalPermissions {
    const resource = this.resourceOf(request);
    const principalArn = 'roleArn' in request.principal ? request.principal.roleArn : request.principal.userArn;
    const id = `${pathId(request.principal)}${this.targetId(request)}`;
    if (this.node.tryFindChild(id)) {
      throw new Error(
        `LakeFormationGrants ${this.node.path}: ${request.principal.node.path} already has a grant on ${this.targetDescription(request)}; put all its permissions there in one grant.`,
      );
    }
    const permissions = new lakeformation.CfnPrincipalPermissions(this, id, {
      principal: { dataLakePrincipalIdentifier: principalArn },
      resource,
      permissions: [...request.permissions],
      permissionsWithGrantOption: [],
    });
    // The locations are registered before any grant.
    permissions.node.addDependency(this.settings);
    const stack = Stack.of(this);
    const previous = LakeFormationGrants.lastGrant.get(stack);
    if (previous) {
      permissions.node.addDependency(previous);
    }
    LakeFormationGrants.lastGrant.set(stack, permissions);
    this.made.push({ request, resource: permissions });
    return permissions;
  }

  private fail(request: LakeGrant, problem: string): never {
    throw new Error(`LakeFormationGrants ${this.node.path}: grant to ${request.principal.node.path}: ${problem}`);
  }

  private resourceOf(request: LakeGrant): lakeformation.CfnPrincipalPermissions.ResourceProperty {
    const { database, table, location, excludedColumns } = request;
    const permissions = request.permissions as readonly string[];
    const forbidden = permissions.filter((p) => ['ALL', 'SUPER', 'ALL_IN_ALL'].includes(p));
    if (forbidden.length > 0) {
      this.fail(request, `${forbidden.join(', ')} is never granted; list the exact permissions (${LAKE_PERMISSIONS.join(', ')}).`);
    }
    const unknown = permissions.filter((p) => !(LAKE_PERMISSIONS as readonly string[]).includes(p));
    if (unknown.length > 0) {
      this.fail(request, `unknown permission ${unknown.join(', ')}; use ${LAKE_PERMISSIONS.join(', ')}.`);
    }
    if (permissions.length === 0) {
      this.fail(request, 'no permissions; list at least one.');
    }
    if (new Set(permissions).size !== permissions.length) {
      this.fail(request, `a permission is listed twice (${permissions.join(', ')}); list each once.`);
    }
    const catalogId = Stack.of(this).account;

    if (location !== undefined || permissions.includes('DATA_LOCATION_ACCESS')) {
      if (location === undefined) {
        this.fail(request, 'DATA_LOCATION_ACCESS needs a location; specify the registered bucket as location.');
      }
      if (database !== undefined || table !== undefined || excludedColumns !== undefined) {
        this.fail(request, 'a location grant takes no database, table or excludedColumns; make a separate grant for the catalog.');
      }
      if (permissions.length !== 1 || permissions[0] !== 'DATA_LOCATION_ACCESS') {
        this.fail(request, `a location grant takes only DATA_LOCATION_ACCESS (got ${permissions.join(', ')}); grant catalog permissions on the database.`);
      }
      return { dataLocation: { catalogId, resourceArn: location.bucketArn } };
    }

    if (database === undefined) {
      this.fail(request, 'neither database nor location; specify the database (or the location for DATA_LOCATION_ACCESS).');
    }
    if (table === undefined) {
      if (excludedColumns !== undefined) {
        this.fail(request, 'excludedColumns needs a named table; specify table.');
      }
      const wrong = permissions.filter((p) => !(DATABASE_PERMISSIONS as readonly string[]).includes(p));
      if (wrong.length > 0) {
        this.fail(
          request,
          `${wrong.join(', ')} does not apply to a database (only ${DATABASE_PERMISSIONS.join(', ')}); grant it on table ALL_TABLES or a named table.`,
        );
      }
      return { database: { catalogId, name: database.databaseName } };
    }

    if (table.trim() === '') {
      this.fail(request, 'an empty table name; name the table, or use ALL_TABLES.');
    }
    const wrong = permissions.filter((p) => !(TABLE_PERMISSIONS as readonly string[]).includes(p));
    if (wrong.length > 0) {
      this.fail(request, `${wrong.join(', ')} does not apply to a table (only ${TABLE_PERMISSIONS.join(', ')}); grant it on the database.`);
    }
    if (excludedColumns !== undefined) {
      if (table === ALL_TABLES) {
        this.fail(request, 'excludedColumns needs a named table, not ALL_TABLES; make one grant per table.');
      }
      if (permissions.length !== 1 || permissions[0] !== 'SELECT') {
        this.fail(request, `excludedColumns only applies to SELECT (got ${permissions.join(', ')}); grant the other permissions separately.`);
      }
      if (excludedColumns.length === 0 || excludedColumns.some((c) => c.trim() === '')) {
        this.fail(request, 'excludedColumns is empty or has an empty name; leave it out to grant every column.');
      }
      return {
        tableWithColumns: {
          catalogId,
          databaseName: database.databaseName,
          name: table,
          columnWildcard: { excludedColumnNames: [...excludedColumns] },
        },
      };
    }
    return {
      table:
        table === ALL_TABLES
          ? { catalogId, databaseName: database.databaseName, tableWildcard: {} }
          : { catalogId, databaseName: database.databaseName, name: table },
    };
  }

  private targetId(request: LakeGrant): string {
    if (request.location) {
      return `Location${pathId(request.location)}`;
    }
    const database = pathId(request.database!);
    if (request.table === undefined) {
      return database;
    }
    return `${database}${request.table === ALL_TABLES ? 'AllTables' : `Table${pascal(request.table)}`}`;
  }

  private targetDescription(request: LakeGrant): string {
    if (request.location) {
      return `location ${request.location.node.path}`;
    }
    const database = request.database!.node.path;
    return request.table === undefined ? `database ${database}` : `table ${request.table} of ${database}`;
  }
}
