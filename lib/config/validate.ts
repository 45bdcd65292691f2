import {
  DMS_CAPACITY_UNITS,
  EGRESS_MODES,
  ENVIRONMENT_NAMES,
  EnvironmentConfig,
  FLEX_WORKER_TYPES,
  GLUE_EXECUTION_CLASSES,
  GLUE_WORKER_TYPES,
  INTERFACE_ENDPOINTS,
  PINNED_ENVIRONMENTS,
  REMOVAL_POLICIES,
  REQUIRED_INTERFACE_ENDPOINTS,
  STREAM_CAPACITY_MODES,
} from './types';

/** A configuration value that is not allowed. The message names the field, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const MYSQL_DEFAULT_PORT = 3306;
const REDSHIFT_DEFAULT_PORT = 5439;
/** Admin names every scanner tries first: Redshift's console default and the generic one. */
const DEFAULT_REDSHIFT_USERNAMES: readonly string[] = ['admin', 'awsuser'];

/** Reads typed fields out of an untyped object, throwing a `ConfigError` that names the field. */
class Reader {
  constructor(
    private readonly envLabel: string,
    private readonly root: unknown,
  ) {}

  fail(field: string, value: unknown, allowed: string): never {
    throw new ConfigError(
      `Invalid config for environment "${this.envLabel}": ${field} is ${render(value)}; allowed: ${allowed}.`,
    );
  }

  get(field: string): unknown {
    let node: unknown = this.root;
    for (const part of field.split('.')) {
      if (node === null || typeof node !== 'object') {
        return undefined;
      }
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }

  object(field: string): void {
    const v = this.get(field);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(field, v, 'an object');
    }
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const v = this.get(field);
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.fail(field, v, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return v as T;
  }

  bool(field: string): boolean {
    const v = this.get(field);
    if (typeof v !== 'boolean') {
      this.fail(field, v, 'true or false');
    }
    return v;
  }

  int(field: string, min: number, max: number): number {
    const v = this.get(field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, v, `an integer from ${min} to ${max}`);
    }
    return v;
  }

  matches(field: string, pattern: RegExp, allowed: string): string {
    const v = this.get(field);
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.fail(field, v, allowed);
    }
    return v;
  }

  optionalMatches(field: string, pattern: RegExp, allowed: string): string | undefined {
    return this.get(field) === undefined ? undefined : this.matches(field, pattern, allowed);
  }

  list(field: string): unknown[] {
    const v = this.get(field);
    if (!Array.isArray(v)) {
      this.fail(field, v, 'a list');
    }
    return v;
  }
}

function render(value: unknown): string {
  if (value === undefined) {
    return 'missing';
  }
  return JSON.stringify(value);
}

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

/**
 * Checks one environment's configuration and returns it typed.
 *
 * Runs before any construct is built. Field checks come first, then the rules that tie
 * fields together, then the guard rails of `prod` (it keeps its data and is protected), then
 * the deploy target: staging and prod need a pinned account and region, prod an alert address.
 *
 * @throws ConfigError naming the field, the bad value and what is allowed.
 */
export function validateConfig(raw: unknown): EnvironmentConfig {
  const label =
    raw !== null && typeof raw === 'object' && typeof (raw as { envName?: unknown }).envName === 'string'
      ? (raw as { envName: string }).envName
      : '?';
  const r = new Reader(label, raw);
  if (raw === null || typeof raw !== 'object') {
    r.fail('(config)', raw, 'an object');
  }

  const envName = r.oneOf('envName', ENVIRONMENT_NAMES);
  r.matches('appName', APP_NAME, 'letters and digits, starting with a letter, at most 32 characters');
  const account = r.optionalMatches('account', ACCOUNT, 'a 12-digit AWS account id');
  const region = r.optionalMatches('region', REGION, 'an AWS region name such as "eu-west-1"');

  r.object('dataProtection');
  const removalPolicy = r.oneOf('dataProtection.removalPolicy', REMOVAL_POLICIES);
  const autoDelete = r.bool('dataProtection.autoDeleteObjects');
  const retention = r.get('dataProtection.logRetentionDays');
  if (!(LOG_RETENTION_DAYS as readonly unknown[]).includes(retention)) {
    r.fail('dataProtection.logRetentionDays', retention, `one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  if (autoDelete && removalPolicy !== 'destroy') {
    r.fail(
      'dataProtection.autoDeleteObjects',
      autoDelete,
      `false unless dataProtection.removalPolicy is "destroy" (it is "${removalPolicy}")`,
    );
  }
  // The second key of data destruction, from -c removeDataOnDestroy=true.
  const removeData = r.get('dataProtection.removeDataOnDestroy');
  if (removeData !== undefined && typeof removeData !== 'boolean') {
    r.fail('removeDataOnDestroy', removeData, 'true or false (-c removeDataOnDestroy=true)');
  }
  if (removeData === true && envName === 'prod') {
    r.fail('removeDataOnDestroy', removeData, 'false in prod, which never destroys its data (remove -c removeDataOnDestroy=true)');
  }
  if (removeData === true && removalPolicy !== 'destroy') {
    r.fail(
      'removeDataOnDestroy',
      removeData,
      `false unless dataProtection.removalPolicy is "destroy" (it is "${removalPolicy}"; remove -c removeDataOnDestroy=true)`,
    );
  }

  r.object('network');
  const cidr = r.matches('network.vpcCidr', CIDR, 'an IPv4 CIDR block from /16 to /24, such as "10.10.0.0/16"');
  const [, a, b, c, d, prefix] = CIDR.exec(cidr)!.map(Number);
  if ([a, b, c, d].some((octet) => octet > 255) || prefix < 16 || prefix > 24) {
    r.fail('network.vpcCidr', cidr, 'an IPv4 CIDR block from /16 to /24, such as "10.10.0.0/16"');
  }
  const maxAzs = r.int('network.maxAzs', 2, 3);
  const egress = r.oneOf('network.egress', EGRESS_MODES);
  if (egress === 'nat') {
    r.int('network.natGateways', 1, maxAzs);
  } else {
    r.int('network.natGateways', 0, 0);
  }
  const endpoints = r.list('network.interfaceEndpoints');
  endpoints.forEach((_, i) => r.oneOf(`network.interfaceEndpoints.${i}`, INTERFACE_ENDPOINTS));
  if (new Set(endpoints).size !== endpoints.length) {
    r.fail('network.interfaceEndpoints', endpoints, 'each endpoint at most once');
  }
  const missingEndpoints = REQUIRED_INTERFACE_ENDPOINTS.filter((e) => !endpoints.includes(e));
  if (egress === 'endpoints' && missingEndpoints.length > 0) {
    r.fail(
      'network.interfaceEndpoints',
      endpoints,
      `with network.egress "endpoints", every API the in-VPC workloads call: add ${missingEndpoints.map((e) => `"${e}"`).join(', ')} (or use egress "nat")`,
    );
  }

  r.object('storage');
  const rawTransition = r.int('storage.rawTransitionDays', 30, 3650);
  const rawExpiration = r.int('storage.rawExpirationDays', 0, 3650);
  if (rawExpiration !== 0 && rawExpiration <= rawTransition) {
    r.fail(
      'storage.rawExpirationDays',
      rawExpiration,
      `0 (never) or an integer greater than storage.rawTransitionDays (${rawTransition}) and at most 3650`,
    );
  }
  const quarantineExpiration = r.int('storage.quarantineExpirationDays', 1, 3650);
  const quarantineTransition = r.int('storage.quarantineTransitionDays', 0, 3650);
  if (quarantineTransition !== 0 && (quarantineTransition < 30 || quarantineTransition >= quarantineExpiration)) {
    r.fail(
      'storage.quarantineTransitionDays',
      quarantineTransition,
      `0 (never) or an integer from 30 to less than storage.quarantineExpirationDays (${quarantineExpiration})`,
    );
  }
  r.int('storage.noncurrentVersionExpirationDays', 1, 3650);
  r.int('storage.queryResultsExpirationDays', 1, 365);

  r.object('source');
  r.matches('source.instanceClass', INSTANCE_CLASS, 'an RDS instance class without "db.", such as "t4g.micro"');
  const allocated = r.int('source.allocatedStorageGiB', 20, 65536);
  r.int('source.maxAllocatedStorageGiB', allocated, 65536);
  const multiAz = r.bool('source.multiAz');
  const backupDays = r.int('source.backupRetentionDays', 1, 35);
  const deletionProtection = r.bool('source.deletionProtection');
  const port = r.int('source.port', 1150, 65535);
  if (port === MYSQL_DEFAULT_PORT) {
    r.fail('source.port', port, `an integer from 1150 to 65535 other than MySQL's default ${MYSQL_DEFAULT_PORT}`);
  }
  r.matches('source.databaseName', DATABASE_NAME, 'a lower-case MySQL identifier such as "classicmodels"');
  const binlogHours = r.int('source.binlogRetentionHours', 1, 168);
  const sampleData = r.bool('source.loadSampleData');

  r.object('streaming');
  const capacityMode = r.oneOf('streaming.capacityMode', STREAM_CAPACITY_MODES);
  r.int('streaming.shardCount', 1, capacityMode === 'provisioned' ? 500 : Number.MAX_SAFE_INTEGER);
  r.int('streaming.retentionHours', 24, 8760);
  r.int('streaming.bufferIntervalSeconds', 0, 900);
  r.int('streaming.bufferSizeMiB', 64, 128);

  r.object('cdc');
  const cdcEnabled = r.bool('cdc.enabled');
  const capacity = r.get('cdc.maxCapacityUnits');
  if (!(DMS_CAPACITY_UNITS as readonly unknown[]).includes(capacity)) {
    r.fail('cdc.maxCapacityUnits', capacity, `one of ${DMS_CAPACITY_UNITS.join(', ')}`);
  }
  r.bool('cdc.createDmsVpcRole');
  if (cdcEnabled && binlogHours < 24) {
    r.fail('source.binlogRetentionHours', binlogHours, 'at least 24 when cdc.enabled is true (DMS reads the binlog)');
  }

  r.object('transform');
  const workerType = r.oneOf('transform.workerType', GLUE_WORKER_TYPES);
  r.int('transform.maxWorkers', 2, 299);
  r.int('transform.timeoutMinutes', 1, 2880);
  const glueRetries = r.get('transform.maxRetries');
  if (glueRetries !== undefined) {
    // The field of older configs: a Glue-level retry is a new run the workflow does not follow.
    r.fail(
      'transform.maxRetries',
      glueRetries,
      'missing (every Glue job runs with MaxRetries 0; set transform.workflowRetries, the retries of the job tasks of the workflow, instead)',
    );
  }
  r.int('transform.workflowRetries', 0, 10);
  const executionClass = r.oneOf('transform.executionClass', GLUE_EXECUTION_CLASSES);
  if (executionClass === 'FLEX' && !FLEX_WORKER_TYPES.includes(workerType)) {
    r.fail(
      'transform.executionClass',
      executionClass,
      `"STANDARD" with transform.workerType "${workerType}" (Glue runs Flex jobs on ${FLEX_WORKER_TYPES.map((t) => `"${t}"`).join(' or ')} workers only)`,
    );
  }

  r.object('warehouse');
  r.bool('warehouse.enabled');
  r.matches('warehouse.nodeType', NODE_TYPE, 'a Redshift node type such as "ra3.large"');
  r.int('warehouse.numberOfNodes', 1, 128);
  const warehousePort = r.int('warehouse.port', 1150, 65535);
  if (warehousePort === REDSHIFT_DEFAULT_PORT) {
    r.fail('warehouse.port', warehousePort, `an integer from 1150 to 65535 other than Redshift's default ${REDSHIFT_DEFAULT_PORT}`);
  }
  const adminUsername = r.matches(
    'warehouse.adminUsername',
    REDSHIFT_USERNAME,
    'a lower-case identifier (letter first, then letters, digits or "_", at most 64 characters) such as "warehouse_admin"',
  );
  if (DEFAULT_REDSHIFT_USERNAMES.includes(adminUsername)) {
    r.fail(
      'warehouse.adminUsername',
      adminUsername,
      `a lower-case identifier other than ${DEFAULT_REDSHIFT_USERNAMES.map((n) => `"${n}"`).join(' or ')}, such as "warehouse_admin"`,
    );
  }
  r.int('warehouse.snapshotRetentionDays', 1, 35);
  r.matches(
    'warehouse.maintenanceWindow',
    MAINTENANCE_WINDOW,
    'a weekly window "ddd:hh24:mi-ddd:hh24:mi" in UTC such as "sun:03:00-sun:03:30"',
  );

  r.object('serving');
  r.bool('serving.quickSightEnabled');
  r.int('serving.athenaBytesScannedCutoffPerQuery', 10_000_000, Number.MAX_SAFE_INTEGER);

  r.object('operations');
  const alertEmails = r.list('operations.alertEmails');
  alertEmails.forEach((_, i) =>
    r.matches(`operations.alertEmails.${i}`, EMAIL, 'an e-mail address such as "data-oncall@example.com"'),
  );
  r.bool('operations.scheduleEnabled');
  r.matches(
    'operations.schedule',
    SCHEDULE,
    'an EventBridge expression "cron(m h dom mon dow y)" or "rate(N minutes|hours|days)"',
  );

  r.object('governance');
  r.list('governance.lakeAdminArns').forEach((_, i) =>
    r.matches(
      `governance.lakeAdminArns.${i}`,
      IAM_PRINCIPAL_ARN,
      'an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin"',
    ),
  );
  r.bool('governance.lakeFormationOnlyByDefault');

  if (envName === 'prod') {
    if (removalPolicy === 'destroy') {
      r.fail('dataProtection.removalPolicy', removalPolicy, '"retain" or "snapshot" in prod, which keeps its data');
    }
    if (!deletionProtection) {
      r.fail('source.deletionProtection', deletionProtection, 'true in prod');
    }
    if (!multiAz) {
      r.fail('source.multiAz', multiAz, 'true in prod');
    }
    if (backupDays < 7) {
      r.fail('source.backupRetentionDays', backupDays, 'at least 7 in prod');
    }
    if (sampleData) {
      r.fail('source.loadSampleData', sampleData, 'false in prod, whose database holds real data');
    }
    if (executionClass !== 'STANDARD') {
      r.fail('transform.executionClass', executionClass, '"STANDARD" in prod, whose runs must start on time');
    }
  }

  // Where it deploys and who hears of it: staging and prod never go wherever the credentials
  // point, and prod's alarms must reach someone.
  if (PINNED_ENVIRONMENTS.includes(envName)) {
    if (account === undefined) {
      r.fail(
        'account',
        account,
        `a 12-digit AWS account id, pinned for ${envName} (set account in lib/config/environments.ts or pass -c account=<12 digits>)`,
      );
    }
    if (region === undefined) {
      r.fail(
        'region',
        region,
        `an AWS region name such as "eu-west-1", pinned for ${envName} (set region in lib/config/environments.ts or pass -c region=<region>)`,
      );
    }
  }
  if (envName === 'prod' && alertEmails.length === 0) {
    r.fail(
      'operations.alertEmails',
      alertEmails,
      'at least one e-mail address in prod, whose alarms must reach someone (set operations.alertEmails in lib/config/environments.ts or pass -c alertEmails=<address>[,<address>...])',
    );
  }

  return raw as EnvironmentConfig;
}
