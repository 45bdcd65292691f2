/**
 * The twin's source database: a real MariaDB (scripts/mariadb.sh) set up by the project's own
 * custom-resource handler, from the properties and secrets of the synthesized Source template
 * (the dev snapshot), as the local twin does it. One server for the whole file.
 * Needs Debian's mariadb-server: without it every test fails with the install command.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { parseCredentials, rdsTlsOptions, type DbCredentials } from '../../lib/source/handler';
import { startMariaDb, type MariaDbServer } from '../../lib/twin/mariadb';
import {
  generateSecretFromTemplate,
  RDS_SHIMS,
  setUpSourceDatabase,
  twinTlsOptions,
  type GenerateSecretString,
  type SourceDatabaseSetupResult,
  type SourceSetupResourceProperties,
} from '../../lib/twin/source-database';
import { EXAMPLE_ACCOUNT } from '../support/example-account';

const SOURCE_TEMPLATE = join(__dirname, '../snapshots/dev/Source.template.json');

const SOURCE_TABLES = ['customers', 'employees', 'offices', 'order_lines', 'orders', 'payments', 'product_lines', 'products'];

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

const secretArn = (logicalId: string): string => `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:${logicalId}-TwIn01`;

/**
 * What the twin does with the template: every generated secret gets a SecretString, a secret
 * attachment's Ref is its secret's ARN, the instance's endpoint is the twin server, and the
 * custom resource's properties are resolved with these (Port: the config's literal is replaced
 * by the twin server's port, as the twin maps the whole endpoint).
 */
function twinSourceSetup(server: MariaDbServer): {
  properties: SourceSetupResourceProperties;
  secrets: Record<string, DbCredentials>;
  generated: Record<string, string>;
} {
  const resources = (JSON.parse(readFileSync(SOURCE_TEMPLATE, 'utf8')) as { Resources: Record<string, CfnResource> }).Resources;
  const refs: Record<string, string> = {};
  const getAtts: Record<string, string> = {};
  const secrets: Record<string, DbCredentials> = {};
  const generated: Record<string, string> = {};
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::SecretsManager::Secret') {
      const spec = resource.Properties?.GenerateSecretString as GenerateSecretString | undefined;
      if (spec) {
        refs[id] = secretArn(id);
        generated[id] = generateSecretFromTemplate(spec);
        secrets[refs[id]] = parseCredentials(generated[id], refs[id]);
      }
    }
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::SecretsManager::SecretTargetAttachment') {
      const target = (resource.Properties?.SecretId as { Ref: string }).Ref;
      refs[id] = refs[target];
    }
    if (resource.Type === 'AWS::RDS::DBInstance') {
      const adminArn = secretArn(`${id}MasterUserSecret`);
      getAtts[`${id}.MasterUserSecret.SecretArn`] = adminArn;
      getAtts[`${id}.Endpoint.Address`] = server.host;
      getAtts[`${id}.Endpoint.Port`] = String(server.port);
      secrets[adminArn] = { username: server.adminUser, password: server.adminPassword };
    }
  }
  const resolve = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const intrinsic = value as Record<string, unknown>;
    if ('Ref' in intrinsic) return refs[intrinsic.Ref as string] ?? `unresolved:${String(intrinsic.Ref)}`;
    if ('Fn::GetAtt' in intrinsic) return getAtts[(intrinsic['Fn::GetAtt'] as string[]).join('.')] ?? 'unresolved:GetAtt';
    if ('Fn::Join' in intrinsic) {
      const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
      return parts.map(resolve).join(separator);
    }
    return value;
  };
  const custom = Object.values(resources).filter((r) => r.Type === 'Custom::SourceDatabaseSetup');
  expect(custom).toHaveLength(1);
  const properties = Object.fromEntries(
    Object.entries(custom[0].Properties ?? {}).map(([key, value]) => [key, resolve(value)]),
  ) as SourceSetupResourceProperties;
  return { properties: { ...properties, Port: String(server.port) }, secrets, generated };
}

function tlsConnection(server: MariaDbServer, user: DbCredentials, database?: string): Promise<Connection> {
  const tls = twinTlsOptions(server);
  return createConnection({
    host: server.host,
    port: server.port,
    user: user.username,
    password: user.password,
    database,
    ssl: { ...tls, ca: [...tls.ca] },
    connectTimeout: 10_000,
  });
}

async function rows(connection: Connection, sql: string, params?: unknown[]): Promise<RowDataPacket[]> {
  const [result] = await connection.query<RowDataPacket[]>(sql, params);
  return result;
}

describe('the twin source database (MariaDB set up by the source-db handler)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-source-db-'));
  let server: MariaDbServer | undefined;
  let setup: ReturnType<typeof twinSourceSetup>;
  let first: SourceDatabaseSetupResult;
  let second: SourceDatabaseSetupResult;
  let admin: Connection;
  const timings: Record<string, number> = {};

  const running = (): MariaDbServer => {
    if (!server) throw new Error('The MariaDB server did not start (see the beforeAll error).');
    return server;
  };

  beforeAll(async () => {
    let started = Date.now();
    server = await startMariaDb(join(dir, 'mariadb'));
    timings.serverStartMs = Date.now() - started;
    setup = twinSourceSetup(server);
    started = Date.now();
    first = await setUpSourceDatabase(server, { resourceProperties: setup.properties, secrets: setup.secrets });
    timings.firstSetupMs = Date.now() - started;
    started = Date.now();
    second = await setUpSourceDatabase(server, { resourceProperties: setup.properties, secrets: setup.secrets });
    timings.secondSetupMs = Date.now() - started;
    admin = await tlsConnection(server, { username: server.adminUser, password: server.adminPassword }, 'classicmodels');
  });

  afterAll(async () => {
    try {
      await admin?.end();
    } finally {
      try {
        await server?.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`twin source database timings: ${JSON.stringify(timings)}`);
  });

  describe('the server', () => {
    test('listens on 127.0.0.1 only (TCP), on the port it reports', () => {
      const { port } = running();
      const listening: string[] = [];
      for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
        for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
          const [, local, , state] = line.trim().split(/\s+/);
          const [address, hexPort] = local.split(':');
          if (state === '0A' && parseInt(hexPort, 16) === port) listening.push(address);
        }
      }
      // 0100007F is 127.0.0.1 in /proc/net/tcp's byte order.
      expect(listening).toEqual(['0100007F']);
    });

    test('refuses connections on the machine\'s other addresses', async () => {
      const { port } = running();
      // Every address of this machine but 127.0.0.1 (link-local IPv6 needs a scope: left out).
      const others = Object.values(networkInterfaces())
        .flatMap((addresses) => addresses ?? [])
        .map((a) => a.address)
        .filter((address) => address !== '127.0.0.1' && !address.startsWith('fe80:'));
      for (const address of others) {
        const outcome = await new Promise<string>((resolve) => {
          const socket = netConnect({ host: address, port, timeout: 2000 });
          socket.on('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.on('timeout', () => {
            socket.destroy();
            resolve('timeout');
          });
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
        expect(`${address}: ${outcome}`).toBe(`${address}: ECONNREFUSED`);
      }
    });

    test('has a certificate for 127.0.0.1 and localhost from its own throwaway CA', () => {
      const dirOf = running().dir;
      const cert = new X509Certificate(readFileSync(join(dirOf, 'tls/server-cert.pem')));
      const ca = new X509Certificate(readFileSync(running().caFile));
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(ca.ca).toBe(true);
    });

    test('has the RDS parameter group\'s settings: TLS required, row-based binlog, UTC', async () => {
      const [vars] = await rows(
        admin,
        'SELECT @@require_secure_transport AS tls, @@log_bin AS log_bin, @@binlog_format AS format, @@server_id AS server_id, ' +
          '@@time_zone AS tz, @@collation_server AS collation, @@GLOBAL.sql_mode AS sql_mode',
      );
      expect(vars).toEqual({
        tls: 1,
        log_bin: 1,
        format: 'ROW',
        server_id: 1,
        tz: '+00:00',
        collation: 'utf8mb4_0900_ai_ci',
        sql_mode: 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',
      });
    });

    test('does not trust the Amazon RDS CA bundle for its certificate (the handler\'s verification is on)', async () => {
      const tls = rdsTlsOptions();
      await expect(
        createConnection({
          host: running().host,
          port: running().port,
          user: running().adminUser,
          password: running().adminPassword,
          ssl: { ...tls, ca: [...tls.ca] },
          connectTimeout: 10_000,
        }),
      ).rejects.toMatchObject({ code: 'HANDSHAKE_SSL_ERROR', message: 'self-signed certificate in certificate chain' });
    });
  });

  describe('the setup, run as the custom resource\'s Create', () => {
    test('the handler reports the schema, the migration, the sample rows and the extract user', () => {
      expect(first.response).toEqual({
        PhysicalResourceId: '127.0.0.1/classicmodels',
        Data: {
          Database: 'classicmodels',
          SchemaVersion: '1',
          MigrationsApplied: '1',
          SampleData: expect.stringMatching(/^offices:\+7 employees:\+23 customers:\+122 orders:\+326 payments:\+273 product_lines:\+7 products:\+110 order_lines:\+\d+$/),
          ServiceUsers: 'undercurrent_extract:extract',
        },
      });
      expect(first.extractUser.username).toBe('undercurrent_extract');
      expect(first.replicationUser).toBeUndefined();
    });

    test('the extract user\'s secret is generated as the template describes (30 characters, none excluded)', () => {
      const [id] = Object.keys(setup.generated).filter((key) => key.startsWith('ExtractUserSecret'));
      const secret = JSON.parse(setup.generated[id]) as { username: string; password: string };
      expect(secret.username).toBe('undercurrent_extract');
      expect(secret.password).toHaveLength(30);
      expect(secret.password).toMatch(/^[^ %+~`#$&*()|[\]{}:;<>?!'/@"\\]+$/);
      expect(first.extractUser).toEqual(secret);
    });

    test('every table of the migrations exists, with MySQL 8.4\'s collation', async () => {
      const tables = await rows(
        admin,
        "SELECT TABLE_NAME AS name, TABLE_COLLATION AS collation, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'classicmodels'",
      );
      expect(tables.map((t) => String(t.name)).sort()).toEqual([...SOURCE_TABLES, 'schema_migrations'].sort());
      expect(new Set(tables.map((t) => `${t.collation} ${t.engine}`))).toEqual(new Set(['utf8mb4_0900_ai_ci InnoDB']));
    });

    test('the sample rows are there (scale 1)', async () => {
      const counts: Record<string, number> = {};
      for (const table of ['offices', 'employees', 'customers', 'product_lines', 'products', 'orders', 'payments']) {
        const [row] = await rows(admin, `SELECT COUNT(*) AS n FROM \`${table}\``);
        counts[table] = Number(row.n);
      }
      expect(counts).toEqual({ offices: 7, employees: 23, customers: 122, product_lines: 7, products: 110, orders: 326, payments: 273 });
    });

    test('the binlog retention went through the rds_set_configuration shim', async () => {
      const [row] = await rows(
        admin,
        "SELECT value, @@binlog_expire_logs_seconds AS expire FROM mysql.rds_configuration WHERE name = 'binlog retention hours'",
      );
      expect(row).toEqual({ value: '24', expire: 86400 });
      expect(RDS_SHIMS.map((s) => s.name)).toEqual(['utf8mb4_0900_ai_ci collation', 'mysql.rds_set_configuration']);
    });

    test('the binlog holds the sample rows as row events (what CDC reads)', async () => {
      const [log] = await rows(admin, 'SHOW MASTER STATUS');
      const events = await rows(admin, `SHOW BINLOG EVENTS IN '${String(log.File)}'`);
      expect(events.some((e) => e.Event_type === 'Write_rows_v1')).toBe(true);
    });

    test('running it again applies no migration and keeps the rows', async () => {
      expect(second.response.Data).toMatchObject({
        SchemaVersion: '1',
        MigrationsApplied: 'none',
        SampleData: expect.stringMatching(/^offices:kept 7 employees:kept 23 customers:kept 122 /),
        ServiceUsers: 'undercurrent_extract:extract',
      });
      const migrations = await rows(admin, 'SELECT version, name FROM schema_migrations');
      expect(migrations.map((m) => ({ ...m }))).toEqual([{ version: 1, name: 'classic_models' }]);
    });

    test('refuses properties whose endpoint is not the twin server', async () => {
      await expect(
        setUpSourceDatabase(running(), { resourceProperties: { ...setup.properties, Port: '3407' }, secrets: setup.secrets }),
      ).rejects.toThrow(`but the twin's source database listens on 127.0.0.1:${running().port}`);
    });
  });

  describe('the extract user', () => {
    let extract: Connection;
    beforeAll(async () => {
      extract = await tlsConnection(running(), first.extractUser, 'classicmodels');
    });
    afterAll(async () => {
      await extract?.end();
    });

    test('has exactly SELECT on the source schema', async () => {
      const grants = await rows(extract, 'SHOW GRANTS');
      expect(grants.map((g) => Object.values(g)[0])).toEqual([
        expect.stringMatching(/^GRANT USAGE ON \*\.\* TO `undercurrent_extract`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}' REQUIRE SSL$/),
        'GRANT SELECT ON `classicmodels`.* TO `undercurrent_extract`@`%`',
      ]);
    });

    test('can SELECT every source table', async () => {
      for (const table of SOURCE_TABLES) {
        const [row] = await rows(extract, `SELECT COUNT(*) AS n FROM \`${table}\``);
        expect(`${table}: ${Number(row.n) > 0}`).toBe(`${table}: true`);
      }
    });

    test.each([
      ['INSERT', "INSERT INTO offices (office_code, city, phone, address_line1, country, postal_code, territory) VALUES ('99', 'x', 'x', 'x', 'x', 'x', 'x')"],
      ['UPDATE', "UPDATE offices SET city = 'x' WHERE office_code = '1'"],
      ['DELETE', "DELETE FROM payments WHERE customer_number = 0"],
    ])('cannot %s (the server refuses it)', async (command, sql) => {
      const table = sql.includes('payments') ? 'payments' : 'offices';
      await expect(extract.query(sql)).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
        message: `${command} command denied to user 'undercurrent_extract'@'127.0.0.1' for table \`classicmodels\`.\`${table}\``,
      });
    });

    // MySQL 8.4 answers ER_SECURE_TRANSPORT_REQUIRED (3159); MariaDB answers access denied (1045).
    // The same credentials log in over TLS (beforeAll), so TLS is what is missing.
    test('cannot connect without TLS', async () => {
      await expect(
        createConnection({
          host: running().host,
          port: running().port,
          user: first.extractUser.username,
          password: first.extractUser.password,
          connectTimeout: 10_000,
        }),
      ).rejects.toMatchObject({
        code: 'ER_ACCESS_DENIED_ERROR',
        message: "Access denied for user 'undercurrent_extract'@'127.0.0.1' (using password: YES)",
      });
    });
  });
});
