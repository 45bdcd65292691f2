import { EXAMPLE_ACCOUNT, EXAMPLE_ALERT_EMAIL, EXAMPLE_REGION, EXAMPLE_TARGET_CONTEXT } from '../support/example-account';
import {
  ConfigError,
  dataRetentionWarning,
  destroysData,
  ENVIRONMENTS,
  ENVIRONMENT_NAMES,
  loadConfig,
  resolveConfig,
  validateConfig,
} from '../../lib/config';
import { ConfigPatch, patchedConfig } from '../support/platform';

/** The deploy target staging and prod need, as a config patch (documentation values). */
const TARGET = {
  dev: {},
  staging: { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION },
  prod: { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION, operations: { alertEmails: [EXAMPLE_ALERT_EMAIL] } },
} as const;

/** An environment's config with its deploy target and the patch. */
function deployable(envName: 'dev' | 'staging' | 'prod', patch: ConfigPatch = {}) {
  return patchedConfig(envName, { ...TARGET[envName], ...patch });
}

function errorOf(patch: ConfigPatch, envName: 'dev' | 'staging' | 'prod' = 'dev'): string {
  try {
    validateConfig(patchedConfig(envName, patch));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('the shipped environments', () => {
  test('dev passes validation as it is: no account, region or alert address needed', () => {
    expect(() => validateConfig(ENVIRONMENTS.dev)).not.toThrow();
    expect(ENVIRONMENTS.dev.account).toBeUndefined();
    expect(ENVIRONMENTS.dev.region).toBeUndefined();
    expect(ENVIRONMENTS.dev.operations.alertEmails).toEqual([]);
  });

  test.each(['staging', 'prod'] as const)('%s passes validation with its deploy target', (name) => {
    expect(() => validateConfig(deployable(name))).not.toThrow();
  });

  test('prod keeps its data and is protected', () => {
    const prod = ENVIRONMENTS.prod;
    expect(prod.dataProtection.removalPolicy).not.toBe('destroy');
    expect(prod.dataProtection.autoDeleteObjects).toBe(false);
    expect(prod.source.deletionProtection).toBe(true);
    expect(prod.source.multiAz).toBe(true);
  });

  test('prod keeps raw data forever and staging and dev let it expire after moving it to Standard-IA', () => {
    expect(ENVIRONMENTS.prod.storage).toMatchObject({ rawTransitionDays: 30, rawExpirationDays: 0 });
    for (const name of ['dev', 'staging'] as const) {
      const { rawTransitionDays, rawExpirationDays } = ENVIRONMENTS[name].storage;
      expect(rawExpirationDays).toBeGreaterThan(rawTransitionDays);
    }
    expect(ENVIRONMENTS.dev.storage.rawExpirationDays).toBeLessThan(ENVIRONMENTS.staging.storage.rawExpirationDays);
  });

  test('no environment names extra lake administrators: the deployment role alone administers Lake Formation', () => {
    for (const name of ENVIRONMENT_NAMES) {
      expect(ENVIRONMENTS[name].governance.lakeAdminArns).toEqual([]);
    }
  });

  test.each(ENVIRONMENT_NAMES)('%s deploys no change data capture: nothing reads cdc/ until the curate job applies it', (name) => {
    expect(ENVIRONMENTS[name].cdc.enabled).toBe(false);
    expect(ENVIRONMENTS[name].cdc.createDmsVpcRole).toBe(false);
  });

  test('dev is cheap and can be destroyed', () => {
    const dev = ENVIRONMENTS.dev;
    expect(dev.dataProtection.removalPolicy).toBe('destroy');
    expect(dev.network).toMatchObject({ egress: 'nat', natGateways: 1, interfaceEndpoints: [] });
    expect(dev.cdc.enabled).toBe(false);
    expect(dev.source.multiAz).toBe(false);
    expect(dev.warehouse.enabled).toBe(false);
  });
});

describe('choosing an environment', () => {
  test('no environment means dev', () => {
    expect(loadConfig(undefined).envName).toBe('dev');
  });

  test('an unknown environment names the known ones in one line', () => {
    expect(() => loadConfig('qa')).toThrow(
      'Unknown environment "qa": known environments are dev, staging, prod (choose one with -c env=<name>).',
    );
  });

  test('dev takes account and region from the CLI when config and context leave them out', () => {
    const config = loadConfig('dev', { account: EXAMPLE_ACCOUNT, region: 'eu-west-1' });
    expect(config.account).toBe(EXAMPLE_ACCOUNT);
    expect(config.region).toBe('eu-west-1');
  });

  test('dev synthesizes with neither account nor region', () => {
    const config = loadConfig('dev', {});
    expect(config.account).toBeUndefined();
    expect(config.region).toBeUndefined();
  });

  test('-c account= and -c region= win over the CLI in dev', () => {
    const config = loadConfig('dev', { account: '111122223333', region: 'eu-west-1' }, { account: EXAMPLE_ACCOUNT, region: 'us-east-1' });
    expect(config.account).toBe(EXAMPLE_ACCOUNT);
    expect(config.region).toBe('us-east-1');
  });

  test('a malformed account from the CLI is rejected', () => {
    expect(() => loadConfig('dev', { account: '1234' })).toThrow(
      'Invalid config for environment "dev": account is "1234"; allowed: a 12-digit AWS account id.',
    );
  });
});

describe('staging and prod deploy only to a pinned account and region; prod alerts someone', () => {
  const PROD_TARGET = { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION, alertEmails: EXAMPLE_ALERT_EMAIL };

  test.each(['staging', 'prod'] as const)('%s without an account fails with one line that says what to set', (name) => {
    const withoutAccount = name === 'prod' ? { region: EXAMPLE_REGION, alertEmails: EXAMPLE_ALERT_EMAIL } : { region: EXAMPLE_REGION };
    expect(() => loadConfig(name, {}, withoutAccount)).toThrow(
      new ConfigError(
        `Invalid config for environment "${name}": account is missing; allowed: a 12-digit AWS account id, pinned for ${name} (set account in lib/config/environments.ts or pass -c account=<12 digits>).`,
      ),
    );
  });

  test.each(['staging', 'prod'] as const)('%s ignores the account and region the credentials point at', (name) => {
    expect(() => loadConfig(name, { account: '111122223333', region: 'eu-west-1' })).toThrow(
      `Invalid config for environment "${name}": account is missing;`,
    );
  });

  test('prod without a region fails with one line that says what to set', () => {
    expect(() => loadConfig('prod', {}, { account: EXAMPLE_ACCOUNT, alertEmails: EXAMPLE_ALERT_EMAIL })).toThrow(
      new ConfigError(
        'Invalid config for environment "prod": region is missing; allowed: an AWS region name such as "eu-west-1", pinned for prod (set region in lib/config/environments.ts or pass -c region=<region>).',
      ),
    );
  });

  test('prod without an alert address fails with one line that says what to set', () => {
    expect(() => loadConfig('prod', {}, { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION })).toThrow(
      new ConfigError(
        'Invalid config for environment "prod": operations.alertEmails is []; allowed: at least one e-mail address in prod, whose alarms must reach someone (set operations.alertEmails in lib/config/environments.ts or pass -c alertEmails=<address>[,<address>...]).',
      ),
    );
  });

  test('staging needs no alert address', () => {
    expect(loadConfig('staging', {}, { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION }).operations.alertEmails).toEqual([]);
  });

  test('prod takes account, region and alert addresses from the context, as the CLI passes them', () => {
    const config = loadConfig('prod', {}, { ...PROD_TARGET, alertEmails: 'data-oncall@example.com, platform@example.com' });
    expect(config.account).toBe('123456789012');
    expect(config.region).toBe('us-east-1');
    expect(config.operations.alertEmails).toEqual(['data-oncall@example.com', 'platform@example.com']);
  });

  test('a target pinned in the config serves without context', () => {
    const pinned = { ...ENVIRONMENTS.prod, account: EXAMPLE_ACCOUNT, region: 'eu-west-1', operations: { ...ENVIRONMENTS.prod.operations, alertEmails: ['data-oncall@example.com'] } };
    const config = resolveConfig(pinned);
    expect([config.account, config.region, config.operations.alertEmails]).toEqual(['123456789012', 'eu-west-1', ['data-oncall@example.com']]);
  });

  test('context addresses are added to the config’s, each once', () => {
    const withEmail = { ...ENVIRONMENTS.prod, operations: { ...ENVIRONMENTS.prod.operations, alertEmails: ['data-oncall@example.com'] } };
    const config = resolveConfig(withEmail, {}, { ...PROD_TARGET, alertEmails: 'platform@example.com,data-oncall@example.com' });
    expect(config.operations.alertEmails).toEqual(['data-oncall@example.com', 'platform@example.com']);
  });

  test('a context account that contradicts the config’s pin fails', () => {
    const pinned = { ...ENVIRONMENTS.prod, account: EXAMPLE_ACCOUNT };
    expect(() => resolveConfig(pinned, {}, { ...PROD_TARGET, account: '111122223333' })).toThrow(
      new ConfigError(
        'Invalid config for environment "prod": -c account is "111122223333"; allowed: "123456789012", the account lib/config/environments.ts pins (or leave -c account out).',
      ),
    );
  });

  test('a malformed context account or address is rejected like a config value', () => {
    expect(() => loadConfig('prod', {}, { ...PROD_TARGET, account: '12345' })).toThrow(
      new ConfigError('Invalid config for environment "prod": account is "12345"; allowed: a 12-digit AWS account id.'),
    );
    expect(() => loadConfig('prod', {}, { ...PROD_TARGET, alertEmails: 'oncall' })).toThrow(
      new ConfigError('Invalid config for environment "prod": operations.alertEmails.0 is "oncall"; allowed: an e-mail address such as "data-oncall@example.com".'),
    );
  });
});

describe('destroying data takes two keys: removalPolicy "destroy" and -c removeDataOnDestroy=true', () => {
  const RETAINED_WARNING =
    'Warning: environment "dev" retains its data when its stacks are deleted (buckets and their objects, keys, log groups, ' +
    'the database, the catalog): to destroy it with the stacks, deploy and destroy with -c removeDataOnDestroy=true.';

  test('dev without the flag keeps its data, and synth warns how to opt in', () => {
    const config = loadConfig('dev');
    expect(config.dataProtection.removalPolicy).toBe('destroy');
    expect(config.dataProtection.removeDataOnDestroy).toBe(false);
    expect(destroysData(config)).toBe(false);
    expect(dataRetentionWarning(config)).toBe(RETAINED_WARNING);
  });

  test.each([false, 'false'])('dev with -c removeDataOnDestroy=%p keeps its data and warns', (flag) => {
    const config = loadConfig('dev', {}, { removeDataOnDestroy: flag });
    expect(destroysData(config)).toBe(false);
    expect(dataRetentionWarning(config)).toBe(RETAINED_WARNING);
  });

  test.each([true, 'true'])('dev with -c removeDataOnDestroy=%p destroys its data with the stacks, without a warning', (flag) => {
    const config = loadConfig('dev', {}, { removeDataOnDestroy: flag });
    expect(config.dataProtection.removeDataOnDestroy).toBe(true);
    expect(destroysData(config)).toBe(true);
    expect(dataRetentionWarning(config)).toBeUndefined();
  });

  test('the flag in prod fails with one line', () => {
    expect(() => loadConfig('prod', {}, { ...EXAMPLE_TARGET_CONTEXT.prod, removeDataOnDestroy: 'true' })).toThrow(
      new ConfigError(
        'Invalid config for environment "prod": removeDataOnDestroy is true; allowed: false in prod, which never destroys its data (remove -c removeDataOnDestroy=true).',
      ),
    );
  });

  test('the flag where the config retains data fails instead of doing nothing', () => {
    expect(() => loadConfig('staging', {}, { ...EXAMPLE_TARGET_CONTEXT.staging, removeDataOnDestroy: 'true' })).toThrow(
      new ConfigError(
        'Invalid config for environment "staging": removeDataOnDestroy is true; allowed: false unless dataProtection.removalPolicy is "destroy" (it is "retain"; remove -c removeDataOnDestroy=true).',
      ),
    );
  });

  test('a flag value that is not true or false fails', () => {
    expect(() => loadConfig('dev', {}, { removeDataOnDestroy: 'yes' })).toThrow(
      new ConfigError('Invalid config for environment "dev": removeDataOnDestroy is "yes"; allowed: true or false (-c removeDataOnDestroy=true).'),
    );
  });

  test('only the context turns the second key: a value written into the config is replaced', () => {
    const written = patchedConfig('dev', { dataProtection: { removeDataOnDestroy: true } });
    expect(destroysData(resolveConfig(written))).toBe(false);
  });

  test.each(['staging', 'prod'] as const)('%s, which retains its data by config, gives no warning', (name) => {
    expect(dataRetentionWarning(loadConfig(name, {}, EXAMPLE_TARGET_CONTEXT[name]))).toBeUndefined();
  });
});

describe('each kind of bad value gives an error naming field, value and what is allowed', () => {
  const cases: [string, ConfigPatch, string][] = [
    [
      'a value outside an enumeration',
      { dataProtection: { removalPolicy: 'delete' as never } },
      'dataProtection.removalPolicy is "delete"; allowed: one of "destroy", "retain", "snapshot".',
    ],
    [
      'a number out of range',
      { source: { backupRetentionDays: 0 } },
      'source.backupRetentionDays is 0; allowed: an integer from 1 to 35.',
    ],
    [
      'a fraction where an integer is needed',
      { streaming: { shardCount: 1.5 } },
      'streaming.shardCount is 1.5; allowed: an integer from 1 to 500.',
    ],
    ['a wrong type', { source: { multiAz: 'yes' as never } }, 'source.multiAz is "yes"; allowed: true or false.'],
    [
      'a missing field',
      { transform: { workerType: undefined as never } },
      'transform.workerType is missing; allowed: one of "G.1X", "G.2X", "G.4X", "G.8X".',
    ],
    [
      'a log retention CloudWatch does not offer',
      { dataProtection: { logRetentionDays: 10 } },
      'dataProtection.logRetentionDays is 10; allowed: one of 1, 3, 5, 7, 14, 30,',
    ],
    [
      "MySQL's default port",
      { source: { port: 3306 } },
      "source.port is 3306; allowed: an integer from 1150 to 65535 other than MySQL's default 3306.",
    ],
    [
      'a malformed CIDR',
      { network: { vpcCidr: '10.0.0.0/8' } },
      'network.vpcCidr is "10.0.0.0/8"; allowed: an IPv4 CIDR block from /16 to /24',
    ],
    [
      'an unknown interface endpoint',
      { network: { interfaceEndpoints: ['KMS', 'FTP' as never] } },
      'network.interfaceEndpoints.1 is "FTP"; allowed: one of "GLUE", "KMS",',
    ],
    [
      'a duplicated interface endpoint',
      { network: { interfaceEndpoints: ['KMS', 'KMS'] } },
      'network.interfaceEndpoints is ["KMS","KMS"]; allowed: each endpoint at most once.',
    ],
    [
      'NAT gateways without NAT egress',
      { network: { egress: 'endpoints', natGateways: 1 } },
      'network.natGateways is 1; allowed: an integer from 0 to 0.',
    ],
    [
      'NAT egress without a NAT gateway',
      { network: { egress: 'nat', natGateways: 0 } },
      'network.natGateways is 0; allowed: an integer from 1 to 2.',
    ],
    [
      'endpoints-only egress that leaves out an API the workloads call',
      { network: { egress: 'endpoints', natGateways: 0, interfaceEndpoints: ['KMS', 'GLUE'] } },
      'network.interfaceEndpoints is ["KMS","GLUE"]; allowed: with network.egress "endpoints", every API the in-VPC workloads call: add "SECRETS_MANAGER", "CLOUDWATCH_LOGS", "CLOUDWATCH_MONITORING", "STS" (or use egress "nat").',
    ],
    [
      'a database name that is not a MySQL identifier',
      { source: { databaseName: 'Classic-Models' } },
      'source.databaseName is "Classic-Models"; allowed: a lower-case MySQL identifier such as "classicmodels".',
    ],
    [
      'binlog retention beyond what RDS keeps',
      { source: { binlogRetentionHours: 200 } },
      'source.binlogRetentionHours is 200; allowed: an integer from 1 to 168.',
    ],
    ['a CDC switch that is not a boolean', { cdc: { enabled: 'on' as never } }, 'cdc.enabled is "on"; allowed: true or false.'],
    [
      'CDC with too little binlog retention',
      { cdc: { enabled: true }, source: { binlogRetentionHours: 12 } },
      'source.binlogRetentionHours is 12; allowed: at least 24 when cdc.enabled is true (DMS reads the binlog).',
    ],
    [
      'a DMS capacity DMS does not offer',
      { cdc: { maxCapacityUnits: 3 } },
      'cdc.maxCapacityUnits is 3; allowed: one of 1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384.',
    ],
    [
      'a Firehose buffer too small for dynamic partitioning',
      { streaming: { bufferSizeMiB: 32 } },
      'streaming.bufferSizeMiB is 32; allowed: an integer from 64 to 128.',
    ],
    [
      'storage autoscaling below the allocated storage',
      { source: { maxAllocatedStorageGiB: 10 } },
      'source.maxAllocatedStorageGiB is 10; allowed: an integer from 20 to 65536.',
    ],
    [
      'an instance class with the db. prefix',
      { source: { instanceClass: 'db.t4g.micro' } },
      'source.instanceClass is "db.t4g.micro"; allowed: an RDS instance class without "db.", such as "t4g.micro".',
    ],
    [
      'a malformed alert address',
      { operations: { alertEmails: ['oncall'] } },
      'operations.alertEmails.0 is "oncall"; allowed: an e-mail address such as "data-oncall@example.com".',
    ],
    [
      'a malformed schedule',
      { operations: { schedule: 'every day' } },
      'operations.schedule is "every day"; allowed: an EventBridge expression',
    ],
    ['a malformed region', { region: 'Europe' }, 'region is "Europe"; allowed: an AWS region name such as "eu-west-1".'],
    [
      'auto-deleting objects of retained buckets',
      { dataProtection: { removalPolicy: 'retain', autoDeleteObjects: true } },
      'dataProtection.autoDeleteObjects is true; allowed: false unless dataProtection.removalPolicy is "destroy" (it is "retain").',
    ],
    [
      'a Redshift node type that does not exist',
      { warehouse: { nodeType: 'm5.large' } },
      'warehouse.nodeType is "m5.large"; allowed: a Redshift node type such as "ra3.large".',
    ],
    [
      'a raw transition to Standard-IA before the 30 days S3 requires',
      { storage: { rawTransitionDays: 29 } },
      'storage.rawTransitionDays is 29; allowed: an integer from 30 to 3650.',
    ],
    [
      'a raw expiration before the raw transition',
      { storage: { rawTransitionDays: 30, rawExpirationDays: 10 } },
      'storage.rawExpirationDays is 10; allowed: 0 (never) or an integer greater than storage.rawTransitionDays (30) and at most 3650.',
    ],
    [
      'a raw expiration on the day of the raw transition',
      { storage: { rawTransitionDays: 60, rawExpirationDays: 60 } },
      'storage.rawExpirationDays is 60; allowed: 0 (never) or an integer greater than storage.rawTransitionDays (60) and at most 3650.',
    ],
    [
      'a negative raw expiration',
      { storage: { rawExpirationDays: -1 } },
      'storage.rawExpirationDays is -1; allowed: an integer from 0 to 3650.',
    ],
    [
      'quarantine moving to Standard-IA after it expired',
      { storage: { quarantineTransitionDays: 30, quarantineExpirationDays: 14 } },
      'storage.quarantineTransitionDays is 30; allowed: 0 (never) or an integer from 30 to less than storage.quarantineExpirationDays (14).',
    ],
    [
      'quarantine moving to Standard-IA before S3 allows it',
      { storage: { quarantineTransitionDays: 10, quarantineExpirationDays: 365 } },
      'storage.quarantineTransitionDays is 10; allowed: 0 (never) or an integer from 30 to less than storage.quarantineExpirationDays (365).',
    ],
    [
      'a quarantine that expires at once',
      { storage: { quarantineExpirationDays: 0 } },
      'storage.quarantineExpirationDays is 0; allowed: an integer from 1 to 3650.',
    ],
    [
      'a quarantine kept beyond ten years',
      { storage: { quarantineExpirationDays: 3651 } },
      'storage.quarantineExpirationDays is 3651; allowed: an integer from 1 to 3650.',
    ],
    [
      'noncurrent versions that expire at once',
      { storage: { noncurrentVersionExpirationDays: 0 } },
      'storage.noncurrentVersionExpirationDays is 0; allowed: an integer from 1 to 3650.',
    ],
    [
      'noncurrent version days that are not a number',
      { storage: { noncurrentVersionExpirationDays: '30' as never } },
      'storage.noncurrentVersionExpirationDays is "30"; allowed: an integer from 1 to 3650.',
    ],
    [
      'query results kept beyond a year',
      { storage: { queryResultsExpirationDays: 366 } },
      'storage.queryResultsExpirationDays is 366; allowed: an integer from 1 to 365.',
    ],
    [
      'query results that expire at once',
      { storage: { queryResultsExpirationDays: 0 } },
      'storage.queryResultsExpirationDays is 0; allowed: an integer from 1 to 365.',
    ],
    [
      'an Athena scan cap below 10 MB',
      { serving: { athenaBytesScannedCutoffPerQuery: 1000 } },
      'serving.athenaBytesScannedCutoffPerQuery is 1000; allowed: an integer from 10000000 to',
    ],
    [
      'a lake administrator that is not an ARN',
      { governance: { lakeAdminArns: ['DataLakeAdmin'] } },
      `governance.lakeAdminArns.0 is "DataLakeAdmin"; allowed: an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin".`,
    ],
    [
      'a lake administrator ARN of a group (only roles and users can administer)',
      { governance: { lakeAdminArns: [`arn:aws:iam::${EXAMPLE_ACCOUNT}:role/Admin`, `arn:aws:iam::${EXAMPLE_ACCOUNT}:group/Admins`] } },
      `governance.lakeAdminArns.1 is "arn:aws:iam::${EXAMPLE_ACCOUNT}:group/Admins"; allowed: an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin".`,
    ],
    [
      'a lake administrator ARN with a malformed account',
      { governance: { lakeAdminArns: ['arn:aws:iam::1234:role/Admin'] } },
      `governance.lakeAdminArns.0 is "arn:aws:iam::1234:role/Admin"; allowed: an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin".`,
    ],
    [
      'a lake administrator ARN of another service',
      { governance: { lakeAdminArns: [`arn:aws:s3:::${EXAMPLE_ACCOUNT}:role/Admin`] } },
      `governance.lakeAdminArns.0 is "arn:aws:s3:::${EXAMPLE_ACCOUNT}:role/Admin"; allowed: an IAM role or user ARN such as "arn:aws:iam::<account id>:role/DataLakeAdmin".`,
    ],
    [
      'lake administrators that are not a list',
      { governance: { lakeAdminArns: `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/Admin` as never } },
      `governance.lakeAdminArns is "arn:aws:iam::${EXAMPLE_ACCOUNT}:role/Admin"; allowed: a list.`,
    ],
  ];

  test.each(cases)('%s', (_name, patch, expected) => {
    const message = errorOf(patch);
    expect(message.startsWith('Invalid config for environment "dev": ')).toBe(true);
    expect(message).toContain(expected);
  });

  test('lake administrators may be empty, roles with paths, users, or in another partition', () => {
    for (const lakeAdminArns of [
      [],
      [`arn:aws:iam::${EXAMPLE_ACCOUNT}:role/service-role/Data.Lake_Admin@team`],
      [`arn:aws:iam::${EXAMPLE_ACCOUNT}:user/alice`, `arn:aws-us-gov:iam::${EXAMPLE_ACCOUNT}:role/Admin`],
    ]) {
      expect(() => validateConfig(patchedConfig('dev', { governance: { lakeAdminArns } }))).not.toThrow();
    }
  });

  test('raw data may be kept forever (0) or expire after its transition', () => {
    expect(() => validateConfig(patchedConfig('dev', { storage: { rawExpirationDays: 0 } }))).not.toThrow();
    expect(() =>
      validateConfig(patchedConfig('dev', { storage: { rawTransitionDays: 30, rawExpirationDays: 31 } })),
    ).not.toThrow();
  });

  test('a missing storage section names the section', () => {
    expect(() => validateConfig({ ...ENVIRONMENTS.dev, storage: undefined })).toThrow(
      'Invalid config for environment "dev": storage is missing; allowed: an object.',
    );
  });

  test('a whole section missing names the section', () => {
    const config = { ...ENVIRONMENTS.dev, streaming: undefined };
    expect(() => validateConfig(config)).toThrow(
      'Invalid config for environment "dev": streaming is missing; allowed: an object.',
    );
  });

  test('something that is not an object at all is rejected', () => {
    expect(() => validateConfig('dev')).toThrow('Invalid config for environment "?": (config) is "dev"; allowed: an object.');
  });
});

describe('prod guard rails', () => {
  test.each<[string, ConfigPatch, string]>([
    [
      'destroying data',
      { dataProtection: { removalPolicy: 'destroy' } },
      'dataProtection.removalPolicy is "destroy"; allowed: "retain" or "snapshot" in prod, which keeps its data.',
    ],
    ['an unprotected database', { source: { deletionProtection: false } }, 'source.deletionProtection is false; allowed: true in prod.'],
    ['a single-AZ database', { source: { multiAz: false } }, 'source.multiAz is false; allowed: true in prod.'],
    ['short backups', { source: { backupRetentionDays: 3 } }, 'source.backupRetentionDays is 3; allowed: at least 7 in prod.'],
    [
      'sample data',
      { source: { loadSampleData: true } },
      'source.loadSampleData is true; allowed: false in prod, whose database holds real data.',
    ],
    [
      'Flex jobs',
      { transform: { executionClass: 'FLEX' } },
      'transform.executionClass is "FLEX"; allowed: "STANDARD" in prod, whose runs must start on time.',
    ],
  ])('prod refuses %s', (_name, patch, expected) => {
    expect(errorOf({ ...TARGET.prod, ...patch }, 'prod')).toBe(`Invalid config for environment "prod": ${expected}`);
  });

  test('the same values are allowed outside prod', () => {
    expect(() =>
      validateConfig(deployable('staging', { source: { multiAz: false, deletionProtection: false, backupRetentionDays: 3 } })),
    ).not.toThrow();
  });
});

describe('the warehouse settings', () => {
  test('prod runs the warehouse on two ra3.xlplus nodes; dev and staging leave it off', () => {
    expect(ENVIRONMENTS.prod.warehouse).toMatchObject({ enabled: true, nodeType: 'ra3.xlplus', numberOfNodes: 2 });
    expect(ENVIRONMENTS.dev.warehouse.enabled).toBe(false);
    expect(ENVIRONMENTS.staging.warehouse.enabled).toBe(false);
  });

  test.each(ENVIRONMENT_NAMES)('%s uses a non-default port and admin name, and a snapshot retention and maintenance window', (name) => {
    expect(ENVIRONMENTS[name].warehouse).toMatchObject({
      port: 5450,
      adminUsername: 'warehouse_admin',
      maintenanceWindow: 'sun:03:00-sun:03:30',
      snapshotRetentionDays: { dev: 1, staging: 7, prod: 35 }[name],
    });
  });

  const cases: [string, ConfigPatch, string][] = [
    [
      "Redshift's default port",
      { warehouse: { port: 5439 } },
      `Invalid config for environment "dev": warehouse.port is 5439; allowed: an integer from 1150 to 65535 other than Redshift's default 5439.`,
    ],
    [
      'a port below 1150',
      { warehouse: { port: 1149 } },
      'Invalid config for environment "dev": warehouse.port is 1149; allowed: an integer from 1150 to 65535.',
    ],
    [
      'a port above 65535',
      { warehouse: { port: 65536 } },
      'Invalid config for environment "dev": warehouse.port is 65536; allowed: an integer from 1150 to 65535.',
    ],
    [
      'a missing port',
      { warehouse: { port: undefined } },
      'Invalid config for environment "dev": warehouse.port is missing; allowed: an integer from 1150 to 65535.',
    ],
    [
      'the admin name "admin"',
      { warehouse: { adminUsername: 'admin' } },
      'Invalid config for environment "dev": warehouse.adminUsername is "admin"; allowed: a lower-case identifier other than "admin" or "awsuser", such as "warehouse_admin".',
    ],
    [
      "Redshift's default admin name",
      { warehouse: { adminUsername: 'awsuser' } },
      'Invalid config for environment "dev": warehouse.adminUsername is "awsuser"; allowed: a lower-case identifier other than "admin" or "awsuser", such as "warehouse_admin".',
    ],
    [
      'an admin name with upper case',
      { warehouse: { adminUsername: 'WarehouseAdmin' } },
      'Invalid config for environment "dev": warehouse.adminUsername is "WarehouseAdmin"; allowed: a lower-case identifier (letter first, then letters, digits or "_", at most 64 characters) such as "warehouse_admin".',
    ],
    [
      'an admin name starting with a digit',
      { warehouse: { adminUsername: '1admin' } },
      'Invalid config for environment "dev": warehouse.adminUsername is "1admin"; allowed: a lower-case identifier (letter first, then letters, digits or "_", at most 64 characters) such as "warehouse_admin".',
    ],
    [
      'no automated snapshots',
      { warehouse: { snapshotRetentionDays: 0 } },
      'Invalid config for environment "dev": warehouse.snapshotRetentionDays is 0; allowed: an integer from 1 to 35.',
    ],
    [
      'more snapshot days than Redshift keeps',
      { warehouse: { snapshotRetentionDays: 36 } },
      'Invalid config for environment "dev": warehouse.snapshotRetentionDays is 36; allowed: an integer from 1 to 35.',
    ],
    [
      'a maintenance window without days',
      { warehouse: { maintenanceWindow: '03:00-03:30' } },
      'Invalid config for environment "dev": warehouse.maintenanceWindow is "03:00-03:30"; allowed: a weekly window "ddd:hh24:mi-ddd:hh24:mi" in UTC such as "sun:03:00-sun:03:30".',
    ],
    [
      'a maintenance window with an impossible hour',
      { warehouse: { maintenanceWindow: 'sun:24:00-mon:00:30' } },
      'Invalid config for environment "dev": warehouse.maintenanceWindow is "sun:24:00-mon:00:30"; allowed: a weekly window "ddd:hh24:mi-ddd:hh24:mi" in UTC such as "sun:03:00-sun:03:30".',
    ],
    [
      'a maintenance window with a full day name',
      { warehouse: { maintenanceWindow: 'sunday:03:00-sunday:03:30' } },
      'Invalid config for environment "dev": warehouse.maintenanceWindow is "sunday:03:00-sunday:03:30"; allowed: a weekly window "ddd:hh24:mi-ddd:hh24:mi" in UTC such as "sun:03:00-sun:03:30".',
    ],
  ];

  test.each(cases)('%s is rejected with the field, the value and what is allowed', (_name, patch, expected) => {
    expect(() => validateConfig(patchedConfig('dev', patch))).toThrow(expected);
  });

  test('a window across midnight, other ports and identifiers are allowed', () => {
    expect(() =>
      validateConfig(
        patchedConfig('dev', {
          warehouse: { port: 1150, adminUsername: 'dw_admin_2', snapshotRetentionDays: 35, maintenanceWindow: 'sat:23:45-sun:00:15' },
        }),
      ),
    ).not.toThrow();
    expect(() => validateConfig(patchedConfig('dev', { warehouse: { port: 65535 } }))).not.toThrow();
  });
});

describe('the transform execution class', () => {
  test('dev runs its Spark jobs on Flex capacity; staging and prod on standard capacity', () => {
    expect(ENVIRONMENTS.dev.transform.executionClass).toBe('FLEX');
    expect(ENVIRONMENTS.staging.transform.executionClass).toBe('STANDARD');
    expect(ENVIRONMENTS.prod.transform.executionClass).toBe('STANDARD');
  });

  test.each<[string, ConfigPatch, string]>([
    [
      'an unknown execution class',
      { transform: { executionClass: 'SPOT' as never } },
      'transform.executionClass is "SPOT"; allowed: one of "STANDARD", "FLEX".',
    ],
    [
      'a missing execution class',
      { transform: { executionClass: undefined as never } },
      'transform.executionClass is missing; allowed: one of "STANDARD", "FLEX".',
    ],
    [
      'Flex on G.4X workers',
      { transform: { executionClass: 'FLEX', workerType: 'G.4X' } },
      'transform.executionClass is "FLEX"; allowed: "STANDARD" with transform.workerType "G.4X" (Glue runs Flex jobs on "G.1X" or "G.2X" workers only).',
    ],
    [
      'Flex on G.8X workers',
      { transform: { executionClass: 'FLEX', workerType: 'G.8X' } },
      'transform.executionClass is "FLEX"; allowed: "STANDARD" with transform.workerType "G.8X" (Glue runs Flex jobs on "G.1X" or "G.2X" workers only).',
    ],
  ])('%s is rejected with the field, the value and what is allowed', (_name, patch, expected) => {
    expect(errorOf(patch)).toBe(`Invalid config for environment "dev": ${expected}`);
  });

  test.each(['G.1X', 'G.2X'] as const)('Flex on %s workers is allowed outside prod', (workerType) => {
    expect(() => validateConfig(deployable('staging', { transform: { executionClass: 'FLEX', workerType } }))).not.toThrow();
  });

  test('standard capacity allows every worker type', () => {
    expect(() => validateConfig(patchedConfig('dev', { transform: { executionClass: 'STANDARD', workerType: 'G.8X' } }))).not.toThrow();
  });
});

describe('the workflow retries of the Glue jobs', () => {
  test('dev never retries a failed job run, staging retries once and prod twice', () => {
    expect(ENVIRONMENTS.dev.transform.workflowRetries).toBe(0);
    expect(ENVIRONMENTS.staging.transform.workflowRetries).toBe(1);
    expect(ENVIRONMENTS.prod.transform.workflowRetries).toBe(2);
  });

  test.each<[string, ConfigPatch, string]>([
    ['more than ten retries', { transform: { workflowRetries: 11 } }, 'transform.workflowRetries is 11; allowed: an integer from 0 to 10.'],
    ['a negative number of retries', { transform: { workflowRetries: -1 } }, 'transform.workflowRetries is -1; allowed: an integer from 0 to 10.'],
    ['a fraction of a retry', { transform: { workflowRetries: 0.5 } }, 'transform.workflowRetries is 0.5; allowed: an integer from 0 to 10.'],
    [
      'missing workflow retries',
      { transform: { workflowRetries: undefined as never } },
      'transform.workflowRetries is missing; allowed: an integer from 0 to 10.',
    ],
    [
      'a Glue-level maxRetries left from an older config',
      { transform: { maxRetries: 2 } as never },
      'transform.maxRetries is 2; allowed: missing (every Glue job runs with MaxRetries 0; set transform.workflowRetries, the retries of the job tasks of the workflow, instead).',
    ],
  ])('%s is rejected with the field, the value and what is allowed', (_name, patch, expected) => {
    expect(errorOf(patch)).toBe(`Invalid config for environment "dev": ${expected}`);
  });

  test.each([0, 10])('%i workflow retries are allowed', (workflowRetries) => {
    expect(() => validateConfig(deployable('prod', { transform: { workflowRetries } }))).not.toThrow();
  });
});

describe('the live metrics of the click stream (serving.liveMetrics)', () => {
  /** dev's config with liveMetrics fields replaced (the patch of a section is shallow). */
  function withLiveMetrics(fields: Record<string, unknown>): ConfigPatch {
    return { serving: { liveMetrics: { ...ENVIRONMENTS.dev.serving.liveMetrics, ...fields } as never } };
  }

  test('every environment runs the consumer; only prod alarms on a site that looks down', () => {
    expect(ENVIRONMENTS.dev.serving.liveMetrics).toEqual({
      enabled: true,
      batchWindowSeconds: 30,
      minEventsPerMinute: 0,
      anomalyBandStdDevs: 0,
      maxErrorRatePercent: 5,
      lateAfterMinutes: 10,
    });
    expect(ENVIRONMENTS.staging.serving.liveMetrics).toEqual({
      enabled: true,
      batchWindowSeconds: 10,
      minEventsPerMinute: 0,
      anomalyBandStdDevs: 0,
      maxErrorRatePercent: 5,
      lateAfterMinutes: 10,
    });
    expect(ENVIRONMENTS.prod.serving.liveMetrics).toEqual({
      enabled: true,
      batchWindowSeconds: 5,
      minEventsPerMinute: 1,
      anomalyBandStdDevs: 3,
      maxErrorRatePercent: 2,
      lateAfterMinutes: 10,
    });
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['a switch that is not a boolean', { enabled: 'on' }, 'serving.liveMetrics.enabled is "on"; allowed: true or false.'],
    [
      'a batching window beyond what Lambda allows',
      { batchWindowSeconds: 301 },
      'serving.liveMetrics.batchWindowSeconds is 301; allowed: an integer from 0 to 300.',
    ],
    [
      'a negative floor',
      { minEventsPerMinute: -1 },
      'serving.liveMetrics.minEventsPerMinute is -1; allowed: 0 (no floor alarm) or an integer from 1 to 1000000 (events a minute).',
    ],
    [
      'a fractional floor',
      { minEventsPerMinute: 0.5 },
      'serving.liveMetrics.minEventsPerMinute is 0.5; allowed: 0 (no floor alarm) or an integer from 1 to 1000000 (events a minute).',
    ],
    [
      'an anomaly band wider than 10 standard deviations',
      { anomalyBandStdDevs: 11 },
      "serving.liveMetrics.anomalyBandStdDevs is 11; allowed: 0 (no anomaly alarm) or an integer from 1 to 10 (the band's width in standard deviations).",
    ],
    [
      'an error rate of 0 %, which would alarm on every bad record',
      { maxErrorRatePercent: 0 },
      'serving.liveMetrics.maxErrorRatePercent is 0; allowed: an integer from 1 to 100.',
    ],
    [
      'an error rate over 100 %',
      { maxErrorRatePercent: 101 },
      'serving.liveMetrics.maxErrorRatePercent is 101; allowed: an integer from 1 to 100.',
    ],
    [
      'a lateness of 0 minutes',
      { lateAfterMinutes: 0 },
      'serving.liveMetrics.lateAfterMinutes is 0; allowed: an integer from 1 to 1440.',
    ],
    [
      'a missing lateness',
      { lateAfterMinutes: undefined },
      'serving.liveMetrics.lateAfterMinutes is missing; allowed: an integer from 1 to 1440.',
    ],
    [
      'a misspelt field',
      { lateAfterMinute: 5 },
      'serving.liveMetrics.lateAfterMinute is 5; allowed: missing: serving.liveMetrics has no field "lateAfterMinute" (did you mean "lateAfterMinutes"?); its fields are enabled, batchWindowSeconds, minEventsPerMinute, anomalyBandStdDevs, maxErrorRatePercent, lateAfterMinutes.',
    ],
  ])('%s is rejected with the field, the value and what is allowed', (_name, fields, expected) => {
    expect(errorOf(withLiveMetrics(fields))).toBe(`Invalid config for environment "dev": ${expected}`);
  });

  test('a serving section without liveMetrics is rejected', () => {
    const serving: Record<string, unknown> = { ...ENVIRONMENTS.dev.serving };
    delete serving.liveMetrics;
    expect(problemsOf({ ...ENVIRONMENTS.dev, serving })).toEqual([
      'Invalid config for environment "dev": serving.liveMetrics is missing; allowed: an object.',
    ]);
  });

  test('both alarms off, the widest window and the largest values are allowed', () => {
    expect(() => validateConfig(patchedConfig('dev', withLiveMetrics({ minEventsPerMinute: 0, anomalyBandStdDevs: 0, batchWindowSeconds: 0 })))).not.toThrow();
    expect(() =>
      validateConfig(
        patchedConfig('dev', withLiveMetrics({ minEventsPerMinute: 1_000_000, anomalyBandStdDevs: 10, batchWindowSeconds: 300, maxErrorRatePercent: 100, lateAfterMinutes: 1440 })),
      ),
    ).not.toThrow();
    expect(() => validateConfig(patchedConfig('dev', withLiveMetrics({ enabled: false })))).not.toThrow();
  });
});

describe('QuickSight (serving.quickSight)', () => {
  const ON = { enabled: true, authorGroup: 'bi-authors', viewerGroup: 'bi-viewers', fallbackRefreshTimeUtc: '06:00' } as const;
  const quickSight = (fields: Record<string, unknown>): ConfigPatch => ({
    serving: { ...ENVIRONMENTS.dev.serving, quickSight: fields as never },
  });

  test('dev ships it off; staging and prod ship it on, each with its own author and viewer groups and a fallback refresh after its pipeline', () => {
    expect(ENVIRONMENTS.dev.serving.quickSight).toEqual({ enabled: false });
    expect(ENVIRONMENTS.staging.serving.quickSight).toEqual({
      enabled: true,
      authorGroup: 'undercurrent-staging-authors',
      viewerGroup: 'undercurrent-staging-viewers',
      fallbackRefreshTimeUtc: '07:00',
    });
    expect(ENVIRONMENTS.prod.serving.quickSight).toEqual({
      enabled: true,
      authorGroup: 'undercurrent-prod-authors',
      viewerGroup: 'undercurrent-prod-viewers',
      fallbackRefreshTimeUtc: '06:00',
    });
  });

  test('off needs nothing else; on with the groups, a refresh time, a namespace and an identity region passes', () => {
    expect(() => validateConfig(patchedConfig('dev', quickSight({ enabled: false })))).not.toThrow();
    expect(() => validateConfig(patchedConfig('dev', quickSight({ ...ON, namespace: 'retail', identityRegion: 'us-east-1' })))).not.toThrow();
  });

  test('on without its groups and refresh time names each missing field, one line each', () => {
    expect(problemsOf(patchedConfig('dev', quickSight({ enabled: true })))).toEqual([
      'Invalid config for environment "dev": serving.quickSight.authorGroup is missing; allowed: a QuickSight group name of letters, digits and "+=,.@_-" (at most 128 characters), such as "undercurrent-prod-authors", required when serving.quickSight.enabled is true.',
      'Invalid config for environment "dev": serving.quickSight.viewerGroup is missing; allowed: a QuickSight group name of letters, digits and "+=,.@_-" (at most 128 characters), such as "undercurrent-prod-authors", required when serving.quickSight.enabled is true.',
      'Invalid config for environment "dev": serving.quickSight.fallbackRefreshTimeUtc is missing; allowed: a time of day "HH:MM" in UTC, such as "06:00", required when serving.quickSight.enabled is true.',
    ]);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['a switch that is not a boolean', { enabled: 'yes' }, 'serving.quickSight.enabled is "yes"; allowed: true or false.'],
    [
      'a group name with a space (it becomes part of an ARN)',
      { ...ON, viewerGroup: 'bi viewers' },
      'serving.quickSight.viewerGroup is "bi viewers"; allowed: a QuickSight group name of letters, digits and "+=,.@_-" (at most 128 characters), such as "undercurrent-prod-authors".',
    ],
    [
      'a group ARN instead of a name',
      { ...ON, authorGroup: `arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:group/default/bi-authors` },
      `serving.quickSight.authorGroup is "arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:group/default/bi-authors"; allowed: a QuickSight group name of letters, digits and "+=,.@_-" (at most 128 characters), such as "undercurrent-prod-authors".`,
    ],
    [
      'the viewers being the authors',
      { ...ON, viewerGroup: 'bi-authors' },
      'serving.quickSight.viewerGroup is "bi-authors"; allowed: a group other than serving.quickSight.authorGroup ("bi-authors"): viewers must not get the authors\' permissions.',
    ],
    [
      'a refresh time past midnight',
      { ...ON, fallbackRefreshTimeUtc: '24:00' },
      'serving.quickSight.fallbackRefreshTimeUtc is "24:00"; allowed: a time of day "HH:MM" in UTC, such as "06:00".',
    ],
    [
      'an identity region that is not a region',
      { ...ON, identityRegion: 'US East' },
      'serving.quickSight.identityRegion is "US East"; allowed: an AWS region name such as "eu-west-1".',
    ],
    [
      'a namespace with a slash',
      { ...ON, namespace: 'team/retail' },
      'serving.quickSight.namespace is "team/retail"; allowed: a QuickSight namespace of letters, digits and "._-" (at most 64 characters), such as "default".',
    ],
    [
      'a misspelt field',
      { ...ON, viewersGroup: 'x' },
      'serving.quickSight.viewersGroup is "x"; allowed: missing: serving.quickSight has no field "viewersGroup" (did you mean "viewerGroup"?); its fields are enabled, namespace, identityRegion, authorGroup, viewerGroup, fallbackRefreshTimeUtc.',
    ],
  ])('%s is rejected with the field, the value and what is allowed', (_name, fields, expected) => {
    expect(problemsOf(patchedConfig('dev', quickSight(fields)))).toEqual([`Invalid config for environment "dev": ${expected}`]);
  });

  test('a serving section without quickSight (or liveMetrics) names it', () => {
    expect(problemsOf({ ...ENVIRONMENTS.dev, serving: { athenaBytesScannedCutoffPerQuery: 1_000_000_000 } })).toEqual([
      'Invalid config for environment "dev": serving.liveMetrics is missing; allowed: an object.',
      'Invalid config for environment "dev": serving.quickSight is missing; allowed: an object.',
    ]);
  });
});

/** The problems of a rejected config, one per line. */
function problemsOf(config: unknown): string[] {
  try {
    validateConfig(config);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual((error as Error).message.split('\n'));
    return (error as Error).message.split('\n');
  }
  throw new Error('expected the config to be rejected');
}

describe('every problem is reported at once, one line each', () => {
  const DEV = 'Invalid config for environment "dev": ';
  const PROD = 'Invalid config for environment "prod": ';

  test('one problem is one line, as ConfigError.problems too', () => {
    expect(problemsOf(patchedConfig('dev', { source: { port: 3306 } }))).toEqual([
      `${DEV}source.port is 3306; allowed: an integer from 1150 to 65535 other than MySQL's default 3306.`,
    ]);
  });

  test('mistakes in several sections are all reported, in the order of the fields', () => {
    const config = patchedConfig('dev', {
      appName: 'under current',
      network: { maxAzs: 5 },
      source: { port: 3306, multiAz: 'yes' as never },
      streaming: { shardCount: 1.5 },
      transform: { workflowRetries: -1 },
      operations: { alertEmails: ['oncall', 'data-oncall@example.com', 'ops'] },
    });
    expect(problemsOf(config)).toEqual([
      `${DEV}appName is "under current"; allowed: letters and digits, starting with a letter, at most 32 characters.`,
      `${DEV}network.maxAzs is 5; allowed: an integer from 2 to 3.`,
      `${DEV}source.multiAz is "yes"; allowed: true or false.`,
      `${DEV}source.port is 3306; allowed: an integer from 1150 to 65535 other than MySQL's default 3306.`,
      `${DEV}streaming.shardCount is 1.5; allowed: an integer from 1 to 500.`,
      `${DEV}transform.workflowRetries is -1; allowed: an integer from 0 to 10.`,
      `${DEV}operations.alertEmails.0 is "oncall"; allowed: an e-mail address such as "data-oncall@example.com".`,
      `${DEV}operations.alertEmails.2 is "ops"; allowed: an e-mail address such as "data-oncall@example.com".`,
    ]);
  });

  test('the rules between fields still run where another field is wrong', () => {
    const config = patchedConfig('dev', {
      dataProtection: { removalPolicy: 'retain', autoDeleteObjects: true },
      storage: { rawTransitionDays: 60, rawExpirationDays: 30 },
      cdc: { enabled: true },
      source: { binlogRetentionHours: 12, instanceClass: 'db.t4g.micro' },
      transform: { executionClass: 'FLEX', workerType: 'G.8X', timeoutMinutes: 0.5 },
    });
    expect(problemsOf(config)).toEqual([
      `${DEV}dataProtection.autoDeleteObjects is true; allowed: false unless dataProtection.removalPolicy is "destroy" (it is "retain").`,
      `${DEV}storage.rawExpirationDays is 30; allowed: 0 (never) or an integer greater than storage.rawTransitionDays (60) and at most 3650.`,
      `${DEV}source.instanceClass is "db.t4g.micro"; allowed: an RDS instance class without "db.", such as "t4g.micro".`,
      `${DEV}transform.timeoutMinutes is 0.5; allowed: an integer from 1 to 2880.`,
      `${DEV}transform.executionClass is "FLEX"; allowed: "STANDARD" with transform.workerType "G.8X" (Glue runs Flex jobs on "G.1X" or "G.2X" workers only).`,
      `${DEV}source.binlogRetentionHours is 12; allowed: at least 24 when cdc.enabled is true (DMS reads the binlog).`,
    ]);
  });

  test('a rule is left out where the fields it compares are wrong themselves: one line per field', () => {
    expect(problemsOf(patchedConfig('dev', { storage: { rawTransitionDays: 10, rawExpirationDays: 5 } }))).toEqual([
      `${DEV}storage.rawTransitionDays is 10; allowed: an integer from 30 to 3650.`,
    ]);
    expect(problemsOf(deployable('prod', { source: { backupRetentionDays: 0 } }))).toEqual([
      `${PROD}source.backupRetentionDays is 0; allowed: an integer from 1 to 35.`,
    ]);
  });

  test('a range that depends on another field is given exactly, whatever is wrong with the value', () => {
    expect(problemsOf(patchedConfig('dev', { network: { egress: 'nat', natGateways: 'one' as never } }))).toEqual([
      `${DEV}network.natGateways is "one"; allowed: an integer from 1 to 2.`,
    ]);
    expect(problemsOf(patchedConfig('staging', { ...TARGET.staging, source: { maxAllocatedStorageGiB: 30 } }))).toEqual([
      'Invalid config for environment "staging": source.maxAllocatedStorageGiB is 30; allowed: an integer from 50 to 65536.',
    ]);
  });

  test('on-demand streams ignore the shard count: any positive integer', () => {
    expect(() => validateConfig(patchedConfig('dev', { streaming: { capacityMode: 'on-demand', shardCount: 1000 } }))).not.toThrow();
    expect(problemsOf(patchedConfig('dev', { streaming: { capacityMode: 'provisioned', shardCount: 1000 } }))).toEqual([
      `${DEV}streaming.shardCount is 1000; allowed: an integer from 1 to 500.`,
    ]);
  });

  test('prod without its deploy target lists everything to set; the first line is the one-problem message', () => {
    let message = '';
    try {
      loadConfig('prod', {});
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `${PROD}account is missing; allowed: a 12-digit AWS account id, pinned for prod (set account in lib/config/environments.ts or pass -c account=<12 digits>).`,
      `${PROD}region is missing; allowed: an AWS region name such as "eu-west-1", pinned for prod (set region in lib/config/environments.ts or pass -c region=<region>).`,
      `${PROD}operations.alertEmails is []; allowed: at least one e-mail address in prod, whose alarms must reach someone (set operations.alertEmails in lib/config/environments.ts or pass -c alertEmails=<address>[,<address>...]).`,
    ]);
  });

  test('prod reports every guard rail it breaks, with the data-destruction flag first', () => {
    const config = patchedConfig('prod', {
      dataProtection: { removalPolicy: 'destroy' },
      source: { multiAz: false, deletionProtection: false, backupRetentionDays: 3, loadSampleData: true },
      transform: { executionClass: 'FLEX' },
    });
    expect(() => resolveConfig(config, {}, { ...EXAMPLE_TARGET_CONTEXT.prod, removeDataOnDestroy: 'true' })).toThrow(
      new ConfigError([
        `${PROD}removeDataOnDestroy is true; allowed: false in prod, which never destroys its data (remove -c removeDataOnDestroy=true).`,
        `${PROD}dataProtection.removalPolicy is "destroy"; allowed: "retain" or "snapshot" in prod, which keeps its data.`,
        `${PROD}source.deletionProtection is false; allowed: true in prod.`,
        `${PROD}source.multiAz is false; allowed: true in prod.`,
        `${PROD}source.backupRetentionDays is 3; allowed: at least 7 in prod.`,
        `${PROD}source.loadSampleData is true; allowed: false in prod, whose database holds real data.`,
        `${PROD}transform.executionClass is "FLEX"; allowed: "STANDARD" in prod, whose runs must start on time.`,
      ]),
    );
  });
});

describe('each section is strict: a key it does not know is an error naming the key', () => {
  const DEV = 'Invalid config for environment "dev": ';

  test('a misspelt key in a section is named, with the field it may have meant', () => {
    const config = patchedConfig('dev', { network: { egres: 'nat' } as never });
    expect(problemsOf(config)).toEqual([
      `${DEV}network.egres is "nat"; allowed: missing: network has no field "egres" (did you mean "egress"?); its fields are vpcCidr, maxAzs, egress, natGateways, interfaceEndpoints.`,
    ]);
  });

  test('a key in place of another reports both: the unknown key and the missing field', () => {
    const { bufferSizeMiB, ...streaming } = ENVIRONMENTS.dev.streaming;
    const config = { ...ENVIRONMENTS.dev, streaming: { ...streaming, bufferSizeMb: bufferSizeMiB } };
    expect(problemsOf(config)).toEqual([
      `${DEV}streaming.bufferSizeMiB is missing; allowed: an integer from 64 to 128.`,
      `${DEV}streaming.bufferSizeMb is 64; allowed: missing: streaming has no field "bufferSizeMb" (did you mean "bufferSizeMiB"?); its fields are capacityMode, shardCount, retentionHours, bufferIntervalSeconds, bufferSizeMiB.`,
    ]);
  });

  test('an unknown top-level key is an error too', () => {
    expect(problemsOf({ ...ENVIRONMENTS.dev, tags: { team: 'data' } })).toEqual([
      `${DEV}tags is {"team":"data"}; allowed: missing: the config has no field "tags"; its fields are envName, appName, account, region, dataProtection, network, storage, source, streaming, cdc, transform, warehouse, serving, operations, governance.`,
    ]);
  });

  test('several unknown keys are each reported', () => {
    const config = patchedConfig('dev', { cdc: { mode: 'full-load' } as never, serving: { athena: true, quicksight: true } as never });
    expect(problemsOf(config).map((line) => line.slice(DEV.length, line.indexOf(';')))).toEqual([
      'cdc.mode is "full-load"',
      'serving.athena is true',
      'serving.quicksight is true',
    ]);
  });
});

describe('the validated config', () => {
  test('is the config as written, typed and frozen', () => {
    const config = validateConfig(ENVIRONMENTS.dev);
    expect(config).toEqual(ENVIRONMENTS.dev);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.network)).toBe(true);
    expect(Object.isFrozen(config.network.interfaceEndpoints)).toBe(true);
  });
});
