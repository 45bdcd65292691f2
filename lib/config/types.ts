/**
 * The typed configuration of one Undercurrent environment.
 *
 * Every choice that costs money or protects data is a field here, so that a reviewer
 * can compare `dev`, `staging` and `prod` side by side in `environments.ts`.
 * `validateConfig` checks every field before any construct is built.
 */

/** The environments this app knows. */
export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/**
 * The environments that deploy only to a pinned account and region (from the config or
 * `-c account=` / `-c region=`), never to wherever the credentials point.
 */
export const PINNED_ENVIRONMENTS: readonly EnvironmentName[] = ['staging', 'prod'];

/** What happens to data-bearing resources when their stack is deleted. */
export const REMOVAL_POLICIES = ['destroy', 'retain', 'snapshot'] as const;
export type DataRemovalPolicy = (typeof REMOVAL_POLICIES)[number];

/** How private subnets reach AWS APIs. */
export const EGRESS_MODES = ['endpoints', 'nat'] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];

/** Kinesis Data Streams capacity modes. */
export const STREAM_CAPACITY_MODES = ['on-demand', 'provisioned'] as const;
export type StreamCapacityMode = (typeof STREAM_CAPACITY_MODES)[number];

/** Glue worker types offered for Spark jobs. */
export const GLUE_WORKER_TYPES = ['G.1X', 'G.2X', 'G.4X', 'G.8X'] as const;
export type GlueWorkerType = (typeof GLUE_WORKER_TYPES)[number];

/** Glue execution classes: dedicated capacity, or spare capacity at a lower price. */
export const GLUE_EXECUTION_CLASSES = ['STANDARD', 'FLEX'] as const;
export type GlueExecutionClass = (typeof GLUE_EXECUTION_CLASSES)[number];
/** The worker types Glue runs Flex jobs on. */
export const FLEX_WORKER_TYPES: readonly GlueWorkerType[] = ['G.1X', 'G.2X'];

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
export type InterfaceEndpointName = (typeof INTERFACE_ENDPOINTS)[number];

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
 * What happens to data when a stack is deleted, and who may delete it.
 *
 * Destroying data takes two keys (as AWS DSF's `removeDataOnDestroy`): `removalPolicy: 'destroy'`
 * here, and `-c removeDataOnDestroy=true` at synth time. With only the first, every
 * data-bearing resource is retained and synth warns.
 */
export interface DataProtectionConfig {
  /**
   * Removal policy of buckets, keys, databases and log groups holding data. `destroy` takes
   * effect only with `removeDataOnDestroy`; without it they are retained.
   */
  readonly removalPolicy: DataRemovalPolicy;
  /**
   * Empty buckets on stack deletion so that `cdk destroy` succeeds.
   * Only allowed with `removalPolicy: 'destroy'`, and only takes effect with `removeDataOnDestroy`.
   */
  readonly autoDeleteObjects: boolean;
  /**
   * The second key of data destruction, from `-c removeDataOnDestroy=true` at synth time:
   * `loadConfig` sets it from the app's context and replaces any value written in
   * `environments.ts`, so it cannot be left on by accident. Allowed only where `removalPolicy`
   * is `destroy`, never in prod.
   * @default false - data is retained on stack deletion, and synth warns where `removalPolicy` is `destroy`
   */
  readonly removeDataOnDestroy?: boolean;
  /** CloudWatch log retention in days (one of the values CloudWatch accepts). */
  readonly logRetentionDays: number;
}

/**
 * Lifecycle of the lake zones (stage 3): how long data stays, and where.
 *
 * Curated and gold objects never expire (they are the product); raw objects move to
 * STANDARD_IA and may expire; quarantined lines and Athena query results expire; old
 * (noncurrent) versions of every zone expire. The access-log bucket follows
 * `dataProtection.logRetentionDays` instead.
 */
export interface StorageConfig {
  /** Days after which raw-zone objects move to S3 Standard-IA (at least 30: S3's minimum for that class). */
  readonly rawTransitionDays: number;
  /**
   * Days after which raw-zone objects expire; 0 keeps them forever. Otherwise greater
   * than `rawTransitionDays` (S3 requires expiration after transition), at most 3650.
   * Raw is the replay source of curated and gold: expire it only where rebuilding from
   * older raw data is not needed.
   */
  readonly rawExpirationDays: number;
  /** Days after which quarantined lines expire (1 to 3650). */
  readonly quarantineExpirationDays: number;
  /**
   * Days after which quarantined lines move to Standard-IA; 0 never moves them. Otherwise at
   * least 30 (S3's minimum) and less than `quarantineExpirationDays`.
   */
  readonly quarantineTransitionDays: number;
  /** Days after which noncurrent (overwritten or deleted) object versions expire, in every lake bucket (1 to 3650). */
  readonly noncurrentVersionExpirationDays: number;
  /** Days after which Athena query results expire (1 to 365): they are reproducible by re-running the query. */
  readonly queryResultsExpirationDays: number;
}

/** The VPC that data services live in. */
export interface NetworkConfig {
  /** IPv4 CIDR of the VPC, a /16 to /24 block. */
  readonly vpcCidr: string;
  /** Availability zones to span (2 or 3; an environment-agnostic synth uses 2). */
  readonly maxAzs: number;
  /**
   * `endpoints`: no internet egress at all; AWS APIs through VPC endpoints (which must then
   * include every API the in-VPC workloads call, see `REQUIRED_INTERFACE_ENDPOINTS`).
   * `nat`: compute subnets reach AWS APIs through NAT gateways (cheaper than many endpoints
   * at low volume); data subnets stay isolated either way.
   */
  readonly egress: EgressMode;
  /** NAT gateways when `egress` is `nat` (1 is cheap, one per AZ is resilient). */
  readonly natGateways: number;
  /** Interface endpoints to create (the S3 gateway endpoint is always created). */
  readonly interfaceEndpoints: readonly InterfaceEndpointName[];
}

/** The operational database of the business (stage 1). */
export interface SourceConfig {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`, `r6g.large`. */
  readonly instanceClass: string;
  /** Allocated storage in GiB (20 to 65536). */
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling in GiB (at least `allocatedStorageGiB`). */
  readonly maxAllocatedStorageGiB: number;
  /** Standby in a second AZ. */
  readonly multiAz: boolean;
  /** Automated backup retention in days (1 to 35; binlog-based CDC needs at least 1). */
  readonly backupRetentionDays: number;
  /** Refuse `DeleteDBInstance` until this is turned off. */
  readonly deletionProtection: boolean;
  /** TCP port of the database (not MySQL's default 3306). */
  readonly port: number;
  /** Name of the operational database (schema) inside the instance. */
  readonly databaseName: string;
  /** Hours MySQL keeps binary logs for CDC and replay (1 to 168, the RDS maximum). */
  readonly binlogRetentionHours: number;
  /** Load generated sample rows into empty tables (never in prod). */
  readonly loadSampleData: boolean;
}

/** DMS serverless capacity units AWS offers. */
export const DMS_CAPACITY_UNITS = [1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384] as const;

/**
 * Change data capture from the source binlog (stage 2, optional).
 *
 * Off in every shipped environment: nothing reads `cdc/` until the curate job applies its
 * increments (issue "Incremental and atomic"), and a DMS `ReplicationConfig` does not start
 * its serverless replication by itself (it is started with `aws dms start-replication`).
 */
export interface CdcConfig {
  /**
   * Replicate the source to `cdc/` of the raw zone with DMS Serverless; off means no DMS resource at all.
   * @default false in every shipped environment (until the curate job consumes `cdc/`)
   */
  readonly enabled: boolean;
  /** Upper bound of DMS capacity units (one of DMS_CAPACITY_UNITS). */
  readonly maxCapacityUnits: number;
  /**
   * Create the account-wide `dms-vpc-role` DMS needs, in the account stack
   * (`-c accountBaseline=true`), never in an environment's stacks. Only one stack per account
   * may own it: set false where it already exists.
   * @default false in every shipped environment
   */
  readonly createDmsVpcRole: boolean;
}

/** Streaming ingestion (stage 2). */
export interface StreamingConfig {
  /** Kinesis capacity mode: on-demand (pay per use) or provisioned (pay per shard-hour). */
  readonly capacityMode: StreamCapacityMode;
  /** Shards when `capacityMode` is `provisioned` (1 to 500); ignored otherwise. */
  readonly shardCount: number;
  /** Stream retention in hours (24 to 8760). */
  readonly retentionHours: number;
  /** Firehose buffering interval in seconds (0 to 900). */
  readonly bufferIntervalSeconds: number;
  /** Firehose buffering size in MiB (64 to 128: dynamic partitioning needs at least 64). */
  readonly bufferSizeMiB: number;
}

/** Spark transformation jobs (stage 4). */
export interface TransformConfig {
  /** Glue worker type. */
  readonly workerType: GlueWorkerType;
  /** Maximum number of workers (2 to 299). */
  readonly maxWorkers: number;
  /** Job timeout in minutes (1 to 2880). */
  readonly timeoutMinutes: number;
  /**
   * How many times the pipeline workflow starts a failed Glue job run again (0 to 10): the
   * `Retry` of each job's task in the Step Functions workflow, with exponential backoff, so a
   * failure alerts only after the last attempt. Glue itself never retries a run (every job has
   * `MaxRetries` 0): a Glue-level retry is a new run the workflow does not follow.
   */
  readonly workflowRetries: number;
  /**
   * `FLEX` runs the Spark jobs on spare capacity, cheaper but with a start (and run time)
   * that can vary: for non-urgent runs. Glue offers it for Spark ETL jobs of Glue 3.0 or later
   * on G.1X or G.2X workers only, so `workerType` must be one of those; prod runs `STANDARD`.
   * @default 'FLEX' in dev, 'STANDARD' in staging and prod
   */
  readonly executionClass: GlueExecutionClass;
}

/** The Redshift warehouse (stage 3, built by the storage stage). */
export interface WarehouseConfig {
  /** Create the Redshift cluster. */
  readonly enabled: boolean;
  /** Node type, e.g. `ra3.large` (only used when enabled). */
  readonly nodeType: string;
  /** Number of nodes (1 means single-node). */
  readonly numberOfNodes: number;
  /**
   * TCP port of the cluster: 1150 to 65535, not Redshift's default 5439.
   * @default 5450 in every shipped environment
   */
  readonly port: number;
  /**
   * Name of the admin (master) user: a lower-case identifier, not `admin` or `awsuser`
   * (the names scanners try first). Its password is generated into Secrets Manager and rotates.
   * @default 'warehouse_admin' in every shipped environment
   */
  readonly adminUsername: string;
  /**
   * Days Redshift keeps automated snapshots (1 to 35).
   * @default 1 in dev, 7 in staging, 35 in prod
   */
  readonly snapshotRetentionDays: number;
  /**
   * Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` in UTC, e.g. `sun:03:00-sun:03:30`.
   * @default 'sun:03:00-sun:03:30' in every shipped environment (outside the pipeline schedule)
   */
  readonly maintenanceWindow: string;
}

/** Serving (stage 5). */
export interface ServingConfig {
  /** Create the QuickSight data source and dataset (needs a QuickSight subscription). */
  readonly quickSightEnabled: boolean;
  /** Athena per-query scan cap in bytes (at least 10 MB). */
  readonly athenaBytesScannedCutoffPerQuery: number;
}

/** Alerting and orchestration. */
export interface OperationsConfig {
  /**
   * Addresses subscribed to the alerts topic, plus those of `-c alertEmails=a@example.com,b@example.com`.
   * At least one in prod (its alarms must reach someone); may be empty elsewhere.
   * @default [] in every shipped environment - prod's come from `-c alertEmails=` or are written here
   */
  readonly alertEmails: readonly string[];
  /** Run the pipeline on a schedule. */
  readonly scheduleEnabled: boolean;
  /** EventBridge schedule expression, `cron(...)` or `rate(...)`, in UTC. */
  readonly schedule: string;
}

/** Data governance: who administers Lake Formation. */
export interface GovernanceConfig {
  /**
   * IAM role or user ARNs (`arn:aws:iam::<account>:role/<name>` or `:user/<name>`) made Lake
   * Formation data lake administrators, besides the CDK deployment role, which is always an
   * administrator so that the stacks can create grants. May be empty.
   * @default [] in every shipped environment - only the deployment role administers
   */
  readonly lakeAdminArns: readonly string[];
  /**
   * Whether the account stack (`-c accountBaseline=true`) also switches the account's Lake
   * Formation defaults for new databases and tables to Lake Formation only (no
   * `IAM_ALLOWED_PRINCIPALS`). That affects every team in the account and region, so it is off
   * unless the account's owner asks for it; the environment's own databases and tables are
   * Lake Formation-only either way (`LakeFormationOnly`).
   * @default false in every shipped environment
   */
  readonly lakeFormationOnlyByDefault: boolean;
}

/** One environment. */
export interface EnvironmentConfig {
  /** Environment name: part of every stack name. */
  readonly envName: EnvironmentName;
  /** Application name prefix of stack names (letters and digits, starting with a letter). */
  readonly appName: string;
  /**
   * Target account (12 digits), or `-c account=<12 digits>`. Required in staging and prod
   * (`PINNED_ENVIRONMENTS`), which never deploy to whatever account the credentials point at.
   * @default - dev: `CDK_DEFAULT_ACCOUNT`, else an environment-agnostic synth; staging and prod: none (synth fails)
   */
  readonly account?: string;
  /**
   * Target region, e.g. `eu-west-1`, or `-c region=<region>`. Required in staging and prod.
   * @default - dev: `CDK_DEFAULT_REGION`, else an environment-agnostic synth; staging and prod: none (synth fails)
   */
  readonly region?: string;
  readonly dataProtection: DataProtectionConfig;
  readonly network: NetworkConfig;
  readonly storage: StorageConfig;
  readonly source: SourceConfig;
  readonly streaming: StreamingConfig;
  readonly cdc: CdcConfig;
  readonly transform: TransformConfig;
  readonly warehouse: WarehouseConfig;
  readonly serving: ServingConfig;
  readonly operations: OperationsConfig;
  readonly governance: GovernanceConfig;
}
