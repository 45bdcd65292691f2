/**
 * The configuration of one Undercurrent environment, as zod schemas: one strict schema per
 * section (an unknown key is an error), and the rules that tie fields together (within a
 * section, across sections, per environment) as refinements of the schemas. The types of the
 * config are inferred from the schemas: there is no second, hand-kept declaration.
 *
 * Every choice that costs money or protects data is a field here, so that a reviewer
 * can compare `dev`, `staging` and `prod` side by side in `environments.ts`.
 * `validateConfig` (validate.ts) checks every field before any construct is built and reports
 * every problem at once.
 *
 * Each schema's error message is the "allowed" part of a problem: validate.ts words it as
 * `<field> is <value>; allowed: <message>.`.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Enumerations and lists
// ---------------------------------------------------------------------------------------------

/** The environments this app knows. */
export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;

/** What happens to data-bearing resources when their stack is deleted. */
export const REMOVAL_POLICIES = ['destroy', 'retain', 'snapshot'] as const;

/** How private subnets reach AWS APIs. */
export const EGRESS_MODES = ['endpoints', 'nat'] as const;

/** Kinesis Data Streams capacity modes. */
export const STREAM_CAPACITY_MODES = ['on-demand', 'provisioned'] as const;

/** Glue worker types offered for Spark jobs. */
export const GLUE_WORKER_TYPES = ['G.1X', 'G.2X', 'G.4X', 'G.8X'] as const;

/** Glue execution classes: dedicated capacity, or spare capacity at a lower price. */
export const GLUE_EXECUTION_CLASSES = ['STANDARD', 'FLEX'] as const;

/** Interface endpoints the VPC can carry (service names of `ec2.InterfaceVpcEndpointAwsService`). */
export const INTERFACE_ENDPOINTS = [
  'GLUE',
  'KMS',
  'SECRETS_MANAGER',
  'CLOUDWATCH_LOGS',
  'CLOUDWATCH_MONITORING',
  'STS',
  'KINESIS_STREAMS',
  'SNS',
  'STEP_FUNCTIONS',
] as const;

/** DMS serverless capacity units AWS offers. */
export const DMS_CAPACITY_UNITS = [1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384] as const;

/** The retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const EnvironmentNameSchema = z.enum(ENVIRONMENT_NAMES, oneOf(ENVIRONMENT_NAMES));
export type EnvironmentName = z.infer<typeof EnvironmentNameSchema>;

export const DataRemovalPolicySchema = z.enum(REMOVAL_POLICIES, oneOf(REMOVAL_POLICIES));
export type DataRemovalPolicy = z.infer<typeof DataRemovalPolicySchema>;

export const EgressModeSchema = z.enum(EGRESS_MODES, oneOf(EGRESS_MODES));
export type EgressMode = z.infer<typeof EgressModeSchema>;

export const StreamCapacityModeSchema = z.enum(STREAM_CAPACITY_MODES, oneOf(STREAM_CAPACITY_MODES));
export type StreamCapacityMode = z.infer<typeof StreamCapacityModeSchema>;

export const GlueWorkerTypeSchema = z.enum(GLUE_WORKER_TYPES, oneOf(GLUE_WORKER_TYPES));
export type GlueWorkerType = z.infer<typeof GlueWorkerTypeSchema>;

export const GlueExecutionClassSchema = z.enum(GLUE_EXECUTION_CLASSES, oneOf(GLUE_EXECUTION_CLASSES));
export type GlueExecutionClass = z.infer<typeof GlueExecutionClassSchema>;

export const InterfaceEndpointNameSchema = z.enum(INTERFACE_ENDPOINTS, oneOf(INTERFACE_ENDPOINTS));
export type InterfaceEndpointName = z.infer<typeof InterfaceEndpointNameSchema>;

/**
 * The environments that deploy only to a pinned account and region (from the config or
 * `-c account=` / `-c region=`), never to wherever the credentials point.
 */
export const PINNED_ENVIRONMENTS: readonly EnvironmentName[] = ['staging', 'prod'];

/** The worker types Glue runs Flex jobs on. */
export const FLEX_WORKER_TYPES: readonly GlueWorkerType[] = ['G.1X', 'G.2X'];

/**
 * The APIs that the workloads inside the VPC call (the Glue extract over its JDBC connection,
 * the schema-setup function): without NAT egress each needs its interface endpoint.
 */
export const REQUIRED_INTERFACE_ENDPOINTS: readonly InterfaceEndpointName[] = [
  'GLUE',
  'KMS',
  'SECRETS_MANAGER',
  'CLOUDWATCH_LOGS',
  'CLOUDWATCH_MONITORING',
  'STS',
];

/**
 * Fields of older configs that are gone, with what to do instead: reported in place of the
 * generic "no such field" of a strict section.
 */
export const RETIRED_FIELDS: Readonly<Record<string, string>> = {
  // A Glue-level retry is a new run the workflow does not follow.
  'transform.maxRetries':
    'missing (every Glue job runs with MaxRetries 0; set transform.workflowRetries, the retries of the job tasks of the workflow, instead)',
};

// ---------------------------------------------------------------------------------------------
// Field schemas: each one's message is what is allowed
// ---------------------------------------------------------------------------------------------

const MYSQL_DEFAULT_PORT = 3306;
const REDSHIFT_DEFAULT_PORT = 5439;
/** Admin names every scanner tries first: Redshift's console default and the generic one. */
const DEFAULT_REDSHIFT_USERNAMES: readonly string[] = ['admin', 'awsuser'];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const APP_NAME = /^[A-Za-z][A-Za-z0-9]{0,31}$/;
const INSTANCE_CLASS = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const NODE_TYPE = /^(ra3|dc2)\.[a-z0-9]+$/;
const SCHEDULE = /^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/;
const DATABASE_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
const REDSHIFT_USERNAME = /^[a-z][a-z0-9_]{0,63}$/;
const WEEKDAY_TIME = '(mon|tue|wed|thu|fri|sat|sun):([01]\\d|2[0-3]):[0-5]\\d';
const MAINTENANCE_WINDOW = new RegExp(`^${WEEKDAY_TIME}-${WEEKDAY_TIME}$`);
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

const ACCOUNT_ALLOWED = 'a 12-digit AWS account id';
const REGION_ALLOWED = 'an AWS region name such as "eu-west-1"';
const CIDR_ALLOWED = 'an IPv4 CIDR block from /16 to /24, such as "10.10.0.0/16"';

function oneOf(values: readonly (string | number)[]): string {
  return `one of ${values.map((v) => (typeof v === 'string' ? `"${v}"` : String(v))).join(', ')}`;
}

function intAllowed(min: number, max: number): string {
  return `an integer from ${min} to ${max}`;
}

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * An integer from `min` to `max`. (A refinement rather than `z.int()`, whose failure aborts the
 * whole parse and would skip the rules that tie other fields together.)
 */
function int(min: number, max: number) {
  const allowed = intAllowed(min, max);
  return z.number(allowed).refine((v) => isInt(v, min, max), allowed);
}

/** 0, which turns something off, or an integer from 1 to `max` (`what` it counts). */
function intOrOff(max: number, off: string, what: string) {
  const allowed = `0 (${off}) or an integer from 1 to ${max} (${what})`;
  return z.number(allowed).refine((v) => isInt(v, 0, max), allowed);
}

/** A number out of a fixed set, typed as a number. */
function numberIn(values: readonly number[]) {
  const allowed = oneOf(values);
  return z.number(allowed).refine((v) => values.includes(v), allowed);
}

function bool() {
  return z.boolean('true or false');
}

function matching(pattern: RegExp, allowed: string) {
  return z.string(allowed).regex(pattern, allowed);
}

function list<T extends z.ZodType>(item: T) {
  return z.array(item, 'a list').readonly();
}

/** A strict section: not an object, or a key it does not know, is an error. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, 'an object');
}

function isCidr(value: string): boolean {
  const m = CIDR.exec(value);
  if (!m) {
    return false;
  }
  const [a, b, c, d, prefix] = m.slice(1).map(Number);
  return [a, b, c, d].every((octet) => octet <= 255) && prefix >= 16 && prefix <= 24;
}

// ---------------------------------------------------------------------------------------------
// Refinements
// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];
type RefinementCtx = z.core.$RefinementCtx<unknown>;

/** Issue params of a rule that gives the exact range of a field whose range depends on another field. */
export interface ConfigIssueParams {
  /**
   * Replaces the field's own (wider) check for this field: e.g. `network.natGateways` is an
   * integer from 0 to 3 alone, from 1 to `maxAzs` with NAT egress.
   */
  readonly exact?: boolean;
}

/**
 * The rules of a refinement, run even where some fields failed their own check, so that one
 * validation reports every problem. A rule reads only fields that passed theirs (`valid`).
 */
class Rules {
  constructor(
    private readonly value: unknown,
    private readonly ctx: RefinementCtx,
  ) {}

  /** The value at a path (relative to the refined schema), or undefined. */
  get(path: string): unknown {
    let node: unknown = this.value;
    for (const part of path.split('.')) {
      if (node === null || typeof node !== 'object') {
        return undefined;
      }
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }

  /**
   * Whether these fields passed their own checks (and those of earlier rules): no issue at the
   * field or inside it, and its section is an object.
   */
  valid(...paths: string[]): boolean {
    if (this.value === null || typeof this.value !== 'object') {
      return false;
    }
    return paths.every((path) => {
      const target: Path = path.split('.');
      return !this.ctx.issues.some((issue) => {
        const at: Path = (issue.path ?? []) as Path;
        const shared = Math.min(at.length, target.length);
        for (let i = 0; i < shared; i++) {
          if (String(at[i]) !== String(target[i])) {
            return false;
          }
        }
        // An issue at or inside the field; above it, only a section that is not an object.
        return at.length >= target.length || issue.code === 'invalid_type';
      });
    });
  }

  fail(path: string, allowed: string, params: ConfigIssueParams = {}): void {
    this.ctx.addIssue({ code: 'custom', path: path.split('.'), message: allowed, input: this.get(path), params: { ...params } });
  }

  /** Checks an integer field against the range other fields give it (see `ConfigIssueParams.exact`). */
  intRange(path: string, min: number, max: number): void {
    if (!isInt(this.get(path), min, max)) {
      this.fail(path, intAllowed(min, max), { exact: true });
    }
  }
}

/** A refinement run even where fields of the schema failed (zod skips it otherwise). */
function rules(check: (r: Rules) => void) {
  return [(value: unknown, ctx: RefinementCtx) => check(new Rules(value, ctx)), { when: () => true }] as const;
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

const dataProtectionShape = {
  /**
   * Removal policy of buckets, keys, databases and log groups holding data. `destroy` takes
   * effect only with `removeDataOnDestroy`; without it they are retained.
   */
  removalPolicy: DataRemovalPolicySchema,
  /**
   * Empty buckets on stack deletion so that `cdk destroy` succeeds.
   * Only allowed with `removalPolicy: 'destroy'`, and only takes effect with `removeDataOnDestroy`.
   */
  autoDeleteObjects: bool(),
  /**
   * The second key of data destruction, from `-c removeDataOnDestroy=true` at synth time:
   * `loadConfig` sets it from the app's context and replaces any value written in
   * `environments.ts`, so it cannot be left on by accident. Allowed only where `removalPolicy`
   * is `destroy`, never in prod (rules of {@link EnvironmentConfigSchema}). Reported as
   * `removeDataOnDestroy`, the name of the context key.
   * @default false - data is retained on stack deletion, and synth warns where `removalPolicy` is `destroy`
   */
  removeDataOnDestroy: z.boolean('true or false (-c removeDataOnDestroy=true)').optional(),
  /** CloudWatch log retention in days (one of the values CloudWatch accepts, `LOG_RETENTION_DAYS`). */
  logRetentionDays: numberIn(LOG_RETENTION_DAYS),
};

/**
 * What happens to data when a stack is deleted, and who may delete it.
 *
 * Destroying data takes two keys (as AWS DSF's `removeDataOnDestroy`): `removalPolicy: 'destroy'`
 * here, and `-c removeDataOnDestroy=true` at synth time. With only the first, every
 * data-bearing resource is retained and synth warns.
 */
export const DataProtectionConfigSchema = section(dataProtectionShape)
  .superRefine(
    ...rules((r) => {
      if (r.valid('removalPolicy', 'autoDeleteObjects') && r.get('autoDeleteObjects') === true && r.get('removalPolicy') !== 'destroy') {
        r.fail('autoDeleteObjects', `false unless dataProtection.removalPolicy is "destroy" (it is "${r.get('removalPolicy')}")`);
      }
    }),
  )
  .readonly();
export type DataProtectionConfig = z.infer<typeof DataProtectionConfigSchema>;

const storageShape = {
  /** Days after which raw-zone objects move to S3 Standard-IA (at least 30: S3's minimum for that class). */
  rawTransitionDays: int(30, 3650),
  /**
   * Days after which raw-zone objects expire; 0 keeps them forever. Otherwise greater
   * than `rawTransitionDays` (S3 requires expiration after transition), at most 3650.
   * Raw is the replay source of curated and gold: expire it only where rebuilding from
   * older raw data is not needed.
   */
  rawExpirationDays: int(0, 3650),
  /** Days after which quarantined lines expire (1 to 3650). */
  quarantineExpirationDays: int(1, 3650),
  /**
   * Days after which quarantined lines move to Standard-IA; 0 never moves them. Otherwise at
   * least 30 (S3's minimum) and less than `quarantineExpirationDays`.
   */
  quarantineTransitionDays: int(0, 3650),
  /** Days after which noncurrent (overwritten or deleted) object versions expire, in every lake bucket (1 to 3650). */
  noncurrentVersionExpirationDays: int(1, 3650),
  /** Days after which Athena query results expire (1 to 365): they are reproducible by re-running the query. */
  queryResultsExpirationDays: int(1, 365),
};

/**
 * Lifecycle of the lake zones (stage 3): how long data stays, and where.
 *
 * Curated and gold objects never expire (they are the product); raw objects move to
 * STANDARD_IA and may expire; quarantined lines and Athena query results expire; old
 * (noncurrent) versions of every zone expire. The access-log bucket follows
 * `dataProtection.logRetentionDays` instead.
 */
export const StorageConfigSchema = section(storageShape)
  .superRefine(
    ...rules((r) => {
      const rawTransition = r.get('rawTransitionDays') as number;
      const rawExpiration = r.get('rawExpirationDays') as number;
      if (r.valid('rawTransitionDays', 'rawExpirationDays') && rawExpiration !== 0 && rawExpiration <= rawTransition) {
        r.fail(
          'rawExpirationDays',
          `0 (never) or an integer greater than storage.rawTransitionDays (${rawTransition}) and at most 3650`,
        );
      }
      const quarantineExpiration = r.get('quarantineExpirationDays') as number;
      const quarantineTransition = r.get('quarantineTransitionDays') as number;
      if (
        r.valid('quarantineExpirationDays', 'quarantineTransitionDays') &&
        quarantineTransition !== 0 &&
        (quarantineTransition < 30 || quarantineTransition >= quarantineExpiration)
      ) {
        r.fail(
          'quarantineTransitionDays',
          `0 (never) or an integer from 30 to less than storage.quarantineExpirationDays (${quarantineExpiration})`,
        );
      }
    }),
  )
  .readonly();
export type StorageConfig = z.infer<typeof StorageConfigSchema>;

const networkShape = {
  /** IPv4 CIDR of the VPC, a /16 to /24 block. */
  vpcCidr: z.string(CIDR_ALLOWED).refine(isCidr, CIDR_ALLOWED),
  /** Availability zones to span (2 or 3; an environment-agnostic synth uses 2). */
  maxAzs: int(2, 3),
  /**
   * `endpoints`: no internet egress at all; AWS APIs through VPC endpoints (which must then
   * include every API the in-VPC workloads call, see `REQUIRED_INTERFACE_ENDPOINTS`).
   * `nat`: compute subnets reach AWS APIs through NAT gateways (cheaper than many endpoints
   * at low volume); data subnets stay isolated either way.
   */
  egress: EgressModeSchema,
  /**
   * NAT gateways when `egress` is `nat`: 1 (cheap) to one per AZ (`maxAzs`, resilient);
   * 0 with `endpoints` egress.
   */
  natGateways: int(0, 3),
  /** Interface endpoints to create, each at most once (the S3 gateway endpoint is always created). */
  interfaceEndpoints: list(InterfaceEndpointNameSchema),
};

/** The VPC that data services live in. */
export const NetworkConfigSchema = section(networkShape)
  .superRefine(
    ...rules((r) => {
      if (r.valid('egress')) {
        const maxAzs = r.valid('maxAzs') ? (r.get('maxAzs') as number) : 3;
        if (r.get('egress') === 'nat') {
          r.intRange('natGateways', 1, maxAzs);
        } else {
          r.intRange('natGateways', 0, 0);
        }
      }
      if (!r.valid('interfaceEndpoints')) {
        return;
      }
      const endpoints = r.get('interfaceEndpoints') as readonly InterfaceEndpointName[];
      if (new Set(endpoints).size !== endpoints.length) {
        r.fail('interfaceEndpoints', 'each endpoint at most once');
      }
      const missing = REQUIRED_INTERFACE_ENDPOINTS.filter((e) => !endpoints.includes(e));
      if (r.valid('egress') && r.get('egress') === 'endpoints' && missing.length > 0) {
        r.fail(
          'interfaceEndpoints',
          `with network.egress "endpoints", every API the in-VPC workloads call: add ${missing.map((e) => `"${e}"`).join(', ')} (or use egress "nat")`,
        );
      }
    }),
  )
  .readonly();
export type NetworkConfig = z.infer<typeof NetworkConfigSchema>;

const sourceShape = {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`, `r6g.large`. */
  instanceClass: matching(INSTANCE_CLASS, 'an RDS instance class without "db.", such as "t4g.micro"'),
  /** Allocated storage in GiB (20 to 65536). */
  allocatedStorageGiB: int(20, 65536),
  /** Storage autoscaling ceiling in GiB (at least `allocatedStorageGiB`, at most 65536). */
  maxAllocatedStorageGiB: int(20, 65536),
  /** Standby in a second AZ (required in prod). */
  multiAz: bool(),
  /** Automated backup retention in days (1 to 35, at least 7 in prod; binlog-based CDC needs at least 1). */
  backupRetentionDays: int(1, 35),
  /** Refuse `DeleteDBInstance` until this is turned off (required in prod). */
  deletionProtection: bool(),
  /** TCP port of the database: 1150 to 65535, not MySQL's default 3306. */
  port: int(1150, 65535).refine(
    (port) => port !== MYSQL_DEFAULT_PORT,
    `an integer from 1150 to 65535 other than MySQL's default ${MYSQL_DEFAULT_PORT}`,
  ),
  /** Name of the operational database (schema) inside the instance. */
  databaseName: matching(DATABASE_NAME, 'a lower-case MySQL identifier such as "classicmodels"'),
  /** Hours MySQL keeps binary logs for CDC and replay (1 to 168, the RDS maximum; at least 24 with CDC). */
  binlogRetentionHours: int(1, 168),
  /** Load generated sample rows into empty tables (never in prod). */
  loadSampleData: bool(),
};

/** The operational database of the business (stage 1). */
export const SourceConfigSchema = section(sourceShape)
  .superRefine(
    ...rules((r) => {
      if (r.valid('allocatedStorageGiB')) {
        r.intRange('maxAllocatedStorageGiB', r.get('allocatedStorageGiB') as number, 65536);
      }
    }),
  )
  .readonly();
export type SourceConfig = z.infer<typeof SourceConfigSchema>;

const streamingShape = {
  /** Kinesis capacity mode: on-demand (pay per use) or provisioned (pay per shard-hour). */
  capacityMode: StreamCapacityModeSchema,
  /** Shards when `capacityMode` is `provisioned` (1 to 500); ignored otherwise (a positive integer). */
  shardCount: int(1, Number.MAX_SAFE_INTEGER),
  /** Stream retention in hours (24 to 8760). */
  retentionHours: int(24, 8760),
  /** Firehose buffering interval in seconds (0 to 900). */
  bufferIntervalSeconds: int(0, 900),
  /** Firehose buffering size in MiB (64 to 128: dynamic partitioning needs at least 64). */
  bufferSizeMiB: int(64, 128),
};

/** Streaming ingestion (stage 2). */
export const StreamingConfigSchema = section(streamingShape)
  .superRefine(
    ...rules((r) => {
      if (r.valid('capacityMode') && r.get('capacityMode') === 'provisioned') {
        r.intRange('shardCount', 1, 500);
      }
    }),
  )
  .readonly();
export type StreamingConfig = z.infer<typeof StreamingConfigSchema>;

const cdcShape = {
  /**
   * Replicate the source to `cdc/` of the raw zone with DMS Serverless; off means no DMS resource
   * at all. Needs `source.binlogRetentionHours` of at least 24.
   * @default false in every shipped environment (until the curate job consumes `cdc/`)
   */
  enabled: bool(),
  /** Upper bound of DMS capacity units (one of `DMS_CAPACITY_UNITS`). */
  maxCapacityUnits: numberIn(DMS_CAPACITY_UNITS),
  /**
   * Create the account-wide `dms-vpc-role` DMS needs, in the account stack
   * (`-c accountBaseline=true`), never in an environment's stacks. Only one stack per account
   * may own it: set false where it already exists.
   * @default false in every shipped environment
   */
  createDmsVpcRole: bool(),
};

/**
 * Change data capture from the source binlog (stage 2, optional).
 *
 * Off in every shipped environment: nothing reads `cdc/` until the curate job applies its
 * increments (issue "Incremental and atomic"), and a DMS `ReplicationConfig` does not start
 * its serverless replication by itself (it is started with `aws dms start-replication`).
 */
export const CdcConfigSchema = section(cdcShape).readonly();
export type CdcConfig = z.infer<typeof CdcConfigSchema>;

const transformShape = {
  /** Glue worker type. */
  workerType: GlueWorkerTypeSchema,
  /** Maximum number of workers (2 to 299). */
  maxWorkers: int(2, 299),
  /** Job timeout in minutes (1 to 2880). */
  timeoutMinutes: int(1, 2880),
  /**
   * How many times the pipeline workflow starts a failed Glue job run again (0 to 10): the
   * `Retry` of each job's task in the Step Functions workflow, with exponential backoff, so a
   * failure alerts only after the last attempt. Glue itself never retries a run (every job has
   * `MaxRetries` 0): a Glue-level retry is a new run the workflow does not follow, and the
   * `maxRetries` of older configs is refused (`RETIRED_FIELDS`).
   */
  workflowRetries: int(0, 10),
  /**
   * `FLEX` runs the Spark jobs on spare capacity, cheaper but with a start (and run time)
   * that can vary: for non-urgent runs. Glue offers it for Spark ETL jobs of Glue 3.0 or later
   * on G.1X or G.2X workers only, so `workerType` must be one of those; prod runs `STANDARD`.
   * @default 'FLEX' in dev, 'STANDARD' in staging and prod
   */
  executionClass: GlueExecutionClassSchema,
};

/** Spark transformation jobs (stage 4). */
export const TransformConfigSchema = section(transformShape)
  .superRefine(
    ...rules((r) => {
      const workerType = r.get('workerType') as GlueWorkerType;
      if (r.valid('executionClass', 'workerType') && r.get('executionClass') === 'FLEX' && !FLEX_WORKER_TYPES.includes(workerType)) {
        r.fail(
          'executionClass',
          `"STANDARD" with transform.workerType "${workerType}" (Glue runs Flex jobs on ${FLEX_WORKER_TYPES.map((t) => `"${t}"`).join(' or ')} workers only)`,
        );
      }
    }),
  )
  .readonly();
export type TransformConfig = z.infer<typeof TransformConfigSchema>;

const ADMIN_USERNAME_ALLOWED =
  'a lower-case identifier (letter first, then letters, digits or "_", at most 64 characters) such as "warehouse_admin"';

const warehouseShape = {
  /** Create the Redshift cluster. */
  enabled: bool(),
  /** Node type, e.g. `ra3.large` (only used when enabled). */
  nodeType: matching(NODE_TYPE, 'a Redshift node type such as "ra3.large"'),
  /** Number of nodes, 1 to 128 (1 means single-node). */
  numberOfNodes: int(1, 128),
  /**
   * TCP port of the cluster: 1150 to 65535, not Redshift's default 5439.
   * @default 5450 in every shipped environment
   */
  port: int(1150, 65535).refine(
    (port) => port !== REDSHIFT_DEFAULT_PORT,
    `an integer from 1150 to 65535 other than Redshift's default ${REDSHIFT_DEFAULT_PORT}`,
  ),
  /**
   * Name of the admin (master) user: a lower-case identifier, not `admin` or `awsuser`
   * (the names scanners try first). Its password is generated into Secrets Manager and rotates.
   * @default 'warehouse_admin' in every shipped environment
   */
  adminUsername: matching(REDSHIFT_USERNAME, ADMIN_USERNAME_ALLOWED).refine(
    (name) => !DEFAULT_REDSHIFT_USERNAMES.includes(name),
    `a lower-case identifier other than ${DEFAULT_REDSHIFT_USERNAMES.map((n) => `"${n}"`).join(' or ')}, such as "warehouse_admin"`,
  ),
  /**
   * Days Redshift keeps automated snapshots (1 to 35).
   * @default 1 in dev, 7 in staging, 35 in prod
   */
  snapshotRetentionDays: int(1, 35),
  /**
   * Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` in UTC, e.g. `sun:03:00-sun:03:30`.
   * @default 'sun:03:00-sun:03:30' in every shipped environment (outside the pipeline schedule)
   */
  maintenanceWindow: matching(
    MAINTENANCE_WINDOW,
    'a weekly window "ddd:hh24:mi-ddd:hh24:mi" in UTC such as "sun:03:00-sun:03:30"',
  ),
};

/** The Redshift warehouse (stage 3, built by the storage stage). */
export const WarehouseConfigSchema = section(warehouseShape).readonly();
export type WarehouseConfig = z.infer<typeof WarehouseConfigSchema>;

const liveMetricsShape = {
  /**
   * Deploy the click stream's live consumer (a Lambda function on the Kinesis stream) with its
   * per-minute metrics, dead-letter queues and alarms. Off means none of those resources.
   * @default true in every shipped environment (a function invoked only when records arrive)
   */
  enabled: bool(),
  /**
   * How long Lambda gathers records before it invokes the consumer, in seconds (0 to 300, the
   * event-source mapping's `MaximumBatchingWindowInSeconds`): the metrics' latency against the
   * number of invocations.
   * @default 30 in dev, 10 in staging, 5 in prod
   */
  batchWindowSeconds: int(0, 300),
  /**
   * The "site down" floor: the alarm fires when fewer valid events than this arrive in each of
   * five consecutive minutes (no events at all counts as below). 0 turns the floor alarm off.
   * @default 0 in dev and staging (no real traffic), 1 in prod
   */
  minEventsPerMinute: intOrOff(1_000_000, 'no floor alarm', 'events a minute'),
  /**
   * Width in standard deviations of the anomaly band under which the events per 5 minutes are a
   * collapse (CloudWatch anomaly detection, learnt from the metric's history). 0 turns the
   * anomaly alarm off.
   * @default 0 in dev and staging, 3 in prod
   */
  anomalyBandStdDevs: intOrOff(10, 'no anomaly alarm', "the band's width in standard deviations"),
  /**
   * The error-rate alarm: rejected (malformed) records as a percentage of all records over 5
   * minutes (1 to 100).
   * @default 5 in dev and staging, 2 in prod
   */
  maxErrorRatePercent: int(1, 100),
  /**
   * An event whose event_time is more than this many minutes before Kinesis received it is
   * counted as late (1 to 1440).
   * @default 10 in every shipped environment
   */
  lateAfterMinutes: int(1, 1440),
};

/** The click stream's live operational metrics and their alarms (stage 5, the serving stack). */
export const LiveMetricsConfigSchema = section(liveMetricsShape).readonly();
export type LiveMetricsConfig = z.infer<typeof LiveMetricsConfigSchema>;

const QUICKSIGHT_GROUP = /^[A-Za-z0-9+=,.@_-]{1,128}$/;
const QUICKSIGHT_NAMESPACE = /^[A-Za-z0-9._-]{1,64}$/;
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;
const TIME_OF_DAY_ALLOWED = 'a time of day "HH:MM" in UTC, such as "06:00"';
const QUICKSIGHT_GROUP_ALLOWED = 'a QuickSight group name of letters, digits and "+=,.@_-" (at most 128 characters), such as "undercurrent-prod-authors"';

const quickSightShape = {
  /**
   * Build the QuickSight data source, the SPICE datasets on the views, the analysis and the
   * dashboard (docs/serving.md#quicksight). Needs the account's QuickSight Enterprise
   * subscription and the two groups below, which CloudFormation cannot create for you.
   * @default false in dev, true in staging and prod
   */
  enabled: bool(),
  /**
   * The QuickSight namespace of the groups.
   * @default 'default' - the account's default namespace
   */
  namespace: matching(QUICKSIGHT_NAMESPACE, 'a QuickSight namespace of letters, digits and "._-" (at most 64 characters), such as "default"').optional(),
  /**
   * The region of the account's QuickSight identities (chosen at subscription), where its users
   * and groups live: the groups' ARNs name it.
   * @default - the stack's region
   */
  identityRegion: matching(REGION, REGION_ALLOWED).optional(),
  /**
   * The QuickSight group whose members author: they may open and change the analysis, use the
   * datasets and the data source in analyses of their own, and read the dashboard (which only
   * this code changes). Its ARN is formatted with the stack's account and region. Required when
   * `enabled`.
   */
  authorGroup: matching(QUICKSIGHT_GROUP, QUICKSIGHT_GROUP_ALLOWED).optional(),
  /**
   * The QuickSight group whose members only read the dashboard (no dataset, data source or
   * analysis). Required when `enabled`, and not the author group.
   */
  viewerGroup: matching(QUICKSIGHT_GROUP, QUICKSIGHT_GROUP_ALLOWED).optional(),
  /**
   * `HH:MM` (UTC) of the daily fallback refresh of every dataset: the workflow refreshes them
   * after each gold run, and this schedule catches a refresh that did not happen. Required
   * when `enabled`.
   */
  fallbackRefreshTimeUtc: matching(TIME_OF_DAY, TIME_OF_DAY_ALLOWED).optional(),
};

/** QuickSight as code on the views (stage 5, optional). */
export const QuickSightConfigSchema = section(quickSightShape)
  .superRefine(
    ...rules((r) => {
      if (!r.valid('enabled') || r.get('enabled') !== true) {
        return;
      }
      for (const field of ['authorGroup', 'viewerGroup', 'fallbackRefreshTimeUtc']) {
        if (r.valid(field) && r.get(field) === undefined) {
          r.fail(field, `${field === 'fallbackRefreshTimeUtc' ? TIME_OF_DAY_ALLOWED : QUICKSIGHT_GROUP_ALLOWED}, required when serving.quickSight.enabled is true`);
        }
      }
      if (r.valid('authorGroup', 'viewerGroup') && r.get('viewerGroup') !== undefined && r.get('viewerGroup') === r.get('authorGroup')) {
        r.fail('viewerGroup', `a group other than serving.quickSight.authorGroup ("${r.get('authorGroup')}"): viewers must not get the authors' permissions`);
      }
    }),
  )
  .readonly();
export type QuickSightConfig = z.infer<typeof QuickSightConfigSchema>;

const servingShape = {
  /** Athena per-query scan cap in bytes (at least 10 MB). */
  athenaBytesScannedCutoffPerQuery: int(10_000_000, Number.MAX_SAFE_INTEGER),
  /** The click stream's live metrics (see `LiveMetricsConfigSchema`). */
  liveMetrics: LiveMetricsConfigSchema,
  /** QuickSight on the views: data source, SPICE datasets, analysis and dashboard. */
  quickSight: QuickSightConfigSchema,
};

/** Serving (stage 5). */
export const ServingConfigSchema = section(servingShape).readonly();
export type ServingConfig = z.infer<typeof ServingConfigSchema>;

const operationsShape = {
  /**
   * Addresses subscribed to the alerts topic, plus those of `-c alertEmails=a@example.com,b@example.com`.
   * At least one in prod (its alarms must reach someone); may be empty elsewhere.
   * @default [] in every shipped environment - prod's come from `-c alertEmails=` or are written here
   */
  alertEmails: list(matching(EMAIL, 'an e-mail address such as "data-oncall@example.com"')),
  /** Run the pipeline on a schedule. */
  scheduleEnabled: bool(),
  /** EventBridge schedule expression, `cron(...)` or `rate(...)`, in UTC. */
  schedule: matching(SCHEDULE, 'an EventBridge expression "cron(m h dom mon dow y)" or "rate(N minutes|hours|days)"'),
};

/** Alerting and orchestration. */
export const OperationsConfigSchema = section(operationsShape).readonly();
export type OperationsConfig = z.infer<typeof OperationsConfigSchema>;

const governanceShape = {
  /**
   * IAM role or user ARNs (`arn:aws:iam::<account>:role/<name>` or `:user/<name>`) made Lake
   * Formation data lake administrators, besides the CDK deployment role, which is always an
   * administrator so that the stacks can create grants. May be empty.
   * @default [] in every shipped environment - only the deployment role administers
   */
  lakeAdminArns: list(
    matching(IAM_PRINCIPAL_ARN, 'an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin"'),
  ),
  /**
   * Whether the account stack (`-c accountBaseline=true`) also switches the account's Lake
   * Formation defaults for new databases and tables to Lake Formation only (no
   * `IAM_ALLOWED_PRINCIPALS`). That affects every team in the account and region, so it is off
   * unless the account's owner asks for it; the environment's own databases and tables are
   * Lake Formation-only either way (`LakeFormationOnly`).
   * @default false in every shipped environment
   */
  lakeFormationOnlyByDefault: bool(),
};

/** Data governance: who administers Lake Formation. */
export const GovernanceConfigSchema = section(governanceShape).readonly();
export type GovernanceConfig = z.infer<typeof GovernanceConfigSchema>;

// ---------------------------------------------------------------------------------------------
// One environment
// ---------------------------------------------------------------------------------------------

const environmentShape = {
  /** Environment name: part of every stack name. */
  envName: EnvironmentNameSchema,
  /** Application name prefix of stack names (letters and digits, starting with a letter, at most 32 characters). */
  appName: matching(APP_NAME, 'letters and digits, starting with a letter, at most 32 characters'),
  /**
   * Target account (12 digits), or `-c account=<12 digits>`. Required in staging and prod
   * (`PINNED_ENVIRONMENTS`), which never deploy to whatever account the credentials point at.
   * @default - dev: `CDK_DEFAULT_ACCOUNT`, else an environment-agnostic synth; staging and prod: none (synth fails)
   */
  account: matching(ACCOUNT, ACCOUNT_ALLOWED).optional(),
  /**
   * Target region, e.g. `eu-west-1`, or `-c region=<region>`. Required in staging and prod.
   * @default - dev: `CDK_DEFAULT_REGION`, else an environment-agnostic synth; staging and prod: none (synth fails)
   */
  region: matching(REGION, REGION_ALLOWED).optional(),
  dataProtection: DataProtectionConfigSchema,
  network: NetworkConfigSchema,
  storage: StorageConfigSchema,
  source: SourceConfigSchema,
  streaming: StreamingConfigSchema,
  cdc: CdcConfigSchema,
  transform: TransformConfigSchema,
  warehouse: WarehouseConfigSchema,
  serving: ServingConfigSchema,
  operations: OperationsConfigSchema,
  governance: GovernanceConfigSchema,
};

/**
 * The fields of the config and of each section: what an unknown key is compared with. The key
 * of the top level is the empty string.
 */
export const CONFIG_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(environmentShape),
  dataProtection: Object.keys(dataProtectionShape),
  network: Object.keys(networkShape),
  storage: Object.keys(storageShape),
  source: Object.keys(sourceShape),
  streaming: Object.keys(streamingShape),
  cdc: Object.keys(cdcShape),
  transform: Object.keys(transformShape),
  warehouse: Object.keys(warehouseShape),
  serving: Object.keys(servingShape),
  'serving.liveMetrics': Object.keys(liveMetricsShape),
  'serving.quickSight': Object.keys(quickSightShape),
  operations: Object.keys(operationsShape),
  governance: Object.keys(governanceShape),
};

/**
 * One environment: the sections, and the rules across them. After the checks of each field
 * and section: the two keys of data destruction, CDC's binlog, the guard rails of `prod` (it
 * keeps its data and is protected), then the deploy target: staging and prod need a pinned
 * account and region, prod an alert address.
 */
export const EnvironmentConfigSchema = section(environmentShape)
  .superRefine(
    ...rules((r) => {
      const envName = r.get('envName');
      const prod = r.valid('envName') && envName === 'prod';

      // The second key of data destruction, from -c removeDataOnDestroy=true.
      if (r.valid('dataProtection.removeDataOnDestroy') && r.get('dataProtection.removeDataOnDestroy') === true) {
        const removalPolicy = r.get('dataProtection.removalPolicy');
        if (prod) {
          r.fail(
            'dataProtection.removeDataOnDestroy',
            'false in prod, which never destroys its data (remove -c removeDataOnDestroy=true)',
          );
        } else if (r.valid('dataProtection.removalPolicy') && removalPolicy !== 'destroy') {
          r.fail(
            'dataProtection.removeDataOnDestroy',
            `false unless dataProtection.removalPolicy is "destroy" (it is "${removalPolicy}"; remove -c removeDataOnDestroy=true)`,
          );
        }
      }

      if (
        r.valid('cdc.enabled', 'source.binlogRetentionHours') &&
        r.get('cdc.enabled') === true &&
        (r.get('source.binlogRetentionHours') as number) < 24
      ) {
        r.fail('source.binlogRetentionHours', 'at least 24 when cdc.enabled is true (DMS reads the binlog)');
      }

      if (prod) {
        const guardRails: [string, (value: unknown) => boolean, string][] = [
          ['dataProtection.removalPolicy', (v) => v !== 'destroy', '"retain" or "snapshot" in prod, which keeps its data'],
          ['source.deletionProtection', (v) => v === true, 'true in prod'],
          ['source.multiAz', (v) => v === true, 'true in prod'],
          ['source.backupRetentionDays', (v) => (v as number) >= 7, 'at least 7 in prod'],
          ['source.loadSampleData', (v) => v === false, 'false in prod, whose database holds real data'],
          ['transform.executionClass', (v) => v === 'STANDARD', '"STANDARD" in prod, whose runs must start on time'],
        ];
        for (const [path, ok, allowed] of guardRails) {
          if (r.valid(path) && !ok(r.get(path))) {
            r.fail(path, allowed);
          }
        }
      }

      // Where it deploys and who hears of it: staging and prod never go wherever the credentials
      // point, and prod's alarms must reach someone.
      if (r.valid('envName') && PINNED_ENVIRONMENTS.includes(envName as EnvironmentName)) {
        if (r.get('account') === undefined) {
          r.fail(
            'account',
            `${ACCOUNT_ALLOWED}, pinned for ${envName} (set account in lib/config/environments.ts or pass -c account=<12 digits>)`,
          );
        }
        if (r.get('region') === undefined) {
          r.fail(
            'region',
            `${REGION_ALLOWED}, pinned for ${envName} (set region in lib/config/environments.ts or pass -c region=<region>)`,
          );
        }
      }
      if (prod && r.valid('operations.alertEmails') && (r.get('operations.alertEmails') as readonly string[]).length === 0) {
        r.fail(
          'operations.alertEmails',
          'at least one e-mail address in prod, whose alarms must reach someone (set operations.alertEmails in lib/config/environments.ts or pass -c alertEmails=<address>[,<address>...])',
        );
      }
    }),
  )
  .readonly();

/** One environment. */
export type EnvironmentConfig = z.infer<typeof EnvironmentConfigSchema>;
