import { DefaultStackSynthesizer, Fn, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lakeformation from 'aws-cdk-lib/aws-lakeformation';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { grantPrefixReadWrite } from './grants';
import { LeastPrivilegeRole } from './least-privilege-role';

/**
 * The CloudFormation execution role of the CDK bootstrap (the role the stacks deploy as),
 * with CloudFormation's `${AWS::AccountId}` / `${AWS::Region}` placeholders resolved by `Fn::Sub`.
 *
 * @throws when the stack uses another synthesizer: name the deployment role there instead.
 */
export function deploymentRoleArn(scope: IConstruct): string {
  const stack = Stack.of(scope);
  if (!(stack.synthesizer instanceof DefaultStackSynthesizer)) {
    throw new Error(
      `${scope.node.path}: Lake Formation needs the deployment role as an administrator, which is only known with the DefaultStackSynthesizer (stack ${stack.node.path} uses ${stack.synthesizer.constructor.name}). Use the DefaultStackSynthesizer, or extend LakeFormationSettings to take the deployment role ARN.`,
    );
  }
  return Fn.sub((stack.synthesizer as DefaultStackSynthesizer).cloudFormationExecutionRoleArn);
}

/** Properties of {@link LakeFormationSettings}. */
export interface LakeFormationSettingsProps {
  /**
   * IAM role or user ARNs made data lake administrators (from `config.governance.lakeAdminArns`).
   * The deployment role is always added.
   * @default - only the deployment role administers the lake
   */
  readonly admins?: readonly string[];
  /**
   * Buckets registered as Lake Formation data locations, each with a customer key.
   * @default - no location is registered
   */
  readonly locations?: readonly s3.IBucket[];
}

/**
 * The account's Lake Formation settings, so that Lake Formation grants, not IAM alone, govern
 * the catalog:
 *
 * - administrators: the config's plus the deployment role (which must be one to create grants);
 * - no `IAM_ALLOWED_PRINCIPALS` default on new databases and tables (the IAM-only mode is off);
 * - each lake bucket registered with a dedicated role (never the service-linked role) that can
 *   read, write and list exactly those buckets and use their keys.
 *
 * `AWS::LakeFormation::DataLakeSettings` is account-wide: create it once per account and region.
 */
export class LakeFormationSettings extends Construct {
  /** The settings resource; every grant depends on it. */
  public readonly resource: lakeformation.CfnDataLakeSettings;
  /** Every administrator ARN (the deployment role first). */
  public readonly adminArns: readonly string[];
  /** The role Lake Formation uses to access the registered locations, when any is registered. */
  public readonly locationRole?: LeastPrivilegeRole;
  /** The location registrations, in the order of `locations`. */
  public readonly registrations: readonly lakeformation.CfnResource[];

  constructor(scope: Construct, id: string, props: LakeFormationSettingsProps = {}) {
    super(scope, id);
    const admins = props.admins ?? [];
    if (new Set(admins).size !== admins.length) {
      throw new Error(`LakeFormationSettings ${this.node.path}: an administrator is listed twice (${admins.join(', ')}); list each once.`);
    }
    this.adminArns = [deploymentRoleArn(this), ...admins];
    this.resource = new lakeformation.CfnDataLakeSettings(this, 'Resource', {
      admins: this.adminArns.map((arn) => ({ dataLakePrincipalIdentifier: arn })),
      createDatabaseDefaultPermissions: [],
      createTableDefaultPermissions: [],
    });

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
  /** The settings that make the deployment role an administrator; every grant depends on them. */
  readonly settings: LakeFormationSettings;
}

/** One grant as made: what was asked for and the resource it became. */
export interface MadeGrant {
  readonly request: LakeGrant;
  readonly resource: lakeformation.CfnPrincipalPermissions;
}

function pascal(value: string): string {
  return value
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
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
    // The deployment role is an administrator, and the location registered, before any grant.
    permissions.node.addDependency(this.settings);
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
