/**
 * The local twin's stand-in for the Source stack's `Custom::SourceDatabaseSetup`: runs the
 * project's own handler (lib/source/handler.ts, unchanged) with a Create event built from the
 * resource's properties as the synthesized template gives them, against the twin's MariaDB.
 *
 * What the twin swaps, and only that:
 * - Secrets Manager: a map of secret ARN to credentials that the twin made (the admin secret holds
 *   the twin server's admin; a service user's secret is generated as the template's
 *   `GenerateSecretString` describes, see {@link generateSecretFromTemplate}).
 * - The CA: the connection keeps the handler's TLS options (certificate and host name verified,
 *   TLS 1.2 or later) but trusts the twin's throwaway CA instead of the Amazon RDS bundle.
 * - RDS-only server features the handler relies on: {@link RDS_SHIMS}, installed on the twin
 *   server before the handler runs.
 */
import { randomInt } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import {
  asDbConnection,
  createHandler,
  rdsTlsOptions,
  type ConnectOptions,
  type DbConnection,
  type DbCredentials,
  type OnEventResponse,
} from '../source/handler';
import { bundledMigrations } from '../source/migrations';
import { generateSampleData } from '../source/sample-data';
import { parseServiceUsers } from '../source/service-users';
import type { MariaDbServer } from './mariadb';

/** A difference between RDS for MySQL 8.4 and the twin's MariaDB that the twin papers over. */
export interface RdsShim {
  readonly name: string;
  /** What RDS has or does. */
  readonly rds: string;
  /** Why the twin's stand-in is good enough for what the platform relies on. */
  readonly why: string;
  /** Where the shim is installed. */
  readonly installedBy: 'scripts/mariadb.sh (server start)' | 'setUpSourceDatabase (before the handler)';
  /** The statements `setUpSourceDatabase` runs as the admin (idempotent); none for a server option. */
  readonly statements: readonly string[];
}

/**
 * Every shim of the twin's source database. Each stands in for something RDS for MySQL 8.4 has and
 * Debian's MariaDB 10.11 lacks; the handler and the migrations are run unchanged.
 */
export const RDS_SHIMS: readonly RdsShim[] = [
  {
    // MySQL 8's default collation, named by every COLLATE clause of the migrations and by the
    // handler's CREATE DATABASE. MariaDB 10.11 rejects the name ("Unknown collation"); 11.4.5 adds it.
    name: 'utf8mb4_0900_ai_ci collation',
    rds: "MySQL 8.4's default collation: UCA 9.0.0 weights, accent- and case-insensitive, NO PAD, id 255.",
    why:
      'The twin defines a collation of that name and id in its own character-set directory: accent- and case-insensitive ' +
      'and NO PAD as in MySQL, on UCA 4.0.0 weights. Equality and order agree for the Latin-script sample data; ' +
      'characters UCA 4.0.0 does not know (emoji) compare equal to each other on the twin only.',
    installedBy: 'scripts/mariadb.sh (server start)',
    statements: [],
  },
  {
    // The handler calls it on every Create and Update to keep the binlogs AWS DMS CDC reads.
    name: 'mysql.rds_set_configuration',
    rds:
      "An RDS stored procedure: CALL mysql.rds_set_configuration('binlog retention hours', N) keeps binary logs N hours " +
      "(1..168; NULL purges them as soon as possible) and records the value in mysql.rds_configuration, which " +
      'mysql.rds_show_configuration lists; it also accepts "source delay" and "target delay".',
    why:
      'The twin records the call in a mysql.rds_configuration table of the same shape and sets MariaDB\'s own ' +
      'binlog_expire_logs_seconds to N hours, so the binlog a CDC reader sees is kept as long as on RDS; an unknown ' +
      'name or an out-of-range retention fails, as on RDS.',
    installedBy: 'setUpSourceDatabase (before the handler)',
    statements: [
      [
        'CREATE TABLE IF NOT EXISTS mysql.rds_configuration (',
        '  name VARCHAR(100) NOT NULL,',
        '  value VARCHAR(100) NULL,',
        '  description VARCHAR(300) NOT NULL,',
        '  PRIMARY KEY (name)',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      ].join('\n'),
      [
        'INSERT IGNORE INTO mysql.rds_configuration (name, value, description) VALUES',
        "  ('binlog retention hours', NULL, 'binlog retention hours specifies the duration in hours before binary logs are automatically deleted.'),",
        "  ('source delay', '0', 'source delay specifies replication delay in seconds between current instance and its master.'),",
        "  ('target delay', '0', 'target delay specifies replication delay in seconds between current instance and its future read-replica.')",
      ].join('\n'),
      [
        'CREATE OR REPLACE PROCEDURE mysql.rds_set_configuration(IN p_name VARCHAR(100), IN p_value INT)',
        '  MODIFIES SQL DATA',
        '  SQL SECURITY DEFINER',
        "  COMMENT 'Local twin stand-in for the Amazon RDS procedure (lib/twin/source-database.ts)'",
        'BEGIN',
        "  IF p_name = 'binlog retention hours' THEN",
        '    IF p_value IS NOT NULL AND (p_value < 1 OR p_value > 168) THEN',
        "      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'For binlog retention hours the value must be between 1 and 168 inclusive or be NULL';",
        '    END IF;',
        '    SET GLOBAL binlog_expire_logs_seconds = IFNULL(p_value, 0) * 3600;',
        "  ELSEIF p_name NOT IN ('source delay', 'target delay') THEN",
        "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid configuration name';",
        '  END IF;',
        '  UPDATE mysql.rds_configuration SET value = CAST(p_value AS CHAR) WHERE name = p_name;',
        'END',
      ].join('\n'),
    ],
  },
];

/**
 * The `Custom::SourceDatabaseSetup` properties as the synthesized Source template gives them,
 * once the twin has resolved the intrinsics (strings, as CloudFormation passes them).
 */
export interface SourceSetupResourceProperties {
  /** The admin secret (RDS-managed master user secret). */
  readonly SecretArn: string;
  /** Must be the twin server's host (127.0.0.1): its certificate is checked for it. */
  readonly Host: string;
  /** Must be the twin server's port. */
  readonly Port: string;
  readonly Database: string;
  readonly BinlogRetentionHours: string;
  readonly LoadSampleData: string;
  /** JSON array of {"SecretArn", "Role"}. */
  readonly ServiceUsers?: string;
  /** ServiceToken, MigrationsFingerprint, ...: passed to the handler, which ignores them. */
  readonly [other: string]: unknown;
}

/** Properties of {@link setUpSourceDatabase}. */
export interface SourceDatabaseSetupProps {
  readonly resourceProperties: SourceSetupResourceProperties;
  /** The twin's Secrets Manager: every secret the properties name, by ARN. */
  readonly secrets: Readonly<Record<string, DbCredentials>>;
  /**
   * Scale of the sample data (when LoadSampleData is "true").
   * @default - 1, the handler's default (7 offices, 23 employees, 122 customers, ...)
   */
  readonly sampleDataScale?: number;
  /**
   * Receives the handler's JSON log lines as they are written.
   * @default - they are only returned in the result
   */
  readonly log?: (line: string) => void;
  /**
   * Logical id of the custom resource in the Source template.
   * @default 'SchemaSetup'
   */
  readonly logicalResourceId?: string;
}

export interface SourceDatabaseSetupResult {
  /** What the handler returned (PhysicalResourceId and Data). */
  readonly response: OnEventResponse;
  /** The extract service user (Role "extract"): the twin's Glue connection logs in as it. */
  readonly extractUser: DbCredentials;
  /** The replication service user, when the properties have one (CDC enabled). */
  readonly replicationUser?: DbCredentials;
  /** The handler's JSON log lines. */
  readonly log: readonly string[];
}

/** The handler's TLS options with the twin's CA in place of the Amazon RDS bundle. */
export function twinTlsOptions(server: Pick<MariaDbServer, 'readCa'>): ConnectOptions['ssl'] {
  return { ...rdsTlsOptions(), ca: [server.readCa()] };
}

/** A TLS connection to the twin server as its admin (verified against the twin's CA), as the handler's `Db`. */
export async function adminConnection(server: MariaDbServer, database?: string): Promise<DbConnection> {
  const tls = twinTlsOptions(server);
  return asDbConnection(
    await createConnection({
      host: server.host,
      port: server.port,
      user: server.adminUser,
      password: server.adminPassword,
      database,
      ssl: { ...tls, ca: [...tls.ca] },
      connectTimeout: 10_000,
    }),
  );
}

/** Installs the SQL shims of {@link RDS_SHIMS} as the twin's admin (idempotent). */
export async function installRdsShims(server: MariaDbServer): Promise<void> {
  const connection = await adminConnection(server);
  try {
    for (const shim of RDS_SHIMS) {
      for (const statement of shim.statements) {
        await connection.query(statement);
      }
    }
  } finally {
    await connection.end();
  }
}

function serviceUserCredentials(
  props: SourceDatabaseSetupProps,
): { extractUser: DbCredentials; replicationUser?: DbCredentials } {
  const { resourceProperties, secrets } = props;
  const users = parseServiceUsers(resourceProperties.ServiceUsers, resourceProperties.SecretArn);
  const credentialsOf = (role: 'extract' | 'replication'): DbCredentials | undefined => {
    const user = users.find((u) => u.role === role);
    return user && secrets[user.secretArn];
  };
  const extractUser = credentialsOf('extract');
  if (extractUser === undefined) {
    throw new Error(
      'ResourceProperties.ServiceUsers names no "extract" user whose secret the twin holds; ' +
        'the Source template always has one (ExtractUserSecret): pass its resolved properties and its secret.',
    );
  }
  return { extractUser, replicationUser: credentialsOf('replication') };
}

/**
 * Runs the project's source-database setup (the custom resource's handler, with the bundled
 * migrations) against the twin server, as CloudFormation's Create would against RDS. Idempotent
 * like the handler: a second run applies no migration and keeps the sample rows.
 */
export async function setUpSourceDatabase(
  server: MariaDbServer,
  props: SourceDatabaseSetupProps,
): Promise<SourceDatabaseSetupResult> {
  const properties = props.resourceProperties;
  if (properties.Host !== server.host || properties.Port !== String(server.port)) {
    throw new Error(
      `ResourceProperties.Host and Port are ${JSON.stringify(properties.Host)} and ${JSON.stringify(properties.Port)}, ` +
        `but the twin's source database listens on ${server.host}:${server.port}: resolve the database endpoint ` +
        'to the twin server (its certificate is for 127.0.0.1 and localhost).',
    );
  }
  const { extractUser, replicationUser } = serviceUserCredentials(props);

  await installRdsShims(server);

  const lines: string[] = [];
  const handler = createHandler({
    getSecret: async (secretArn) => {
      const secret = props.secrets[secretArn];
      if (secret === undefined) {
        // Secrets Manager's ResourceNotFoundException, as the handler would meet it.
        throw new Error(`Secrets Manager can't find the specified secret (twin): ${secretArn}`);
      }
      return secret;
    },
    connect: async (options) => {
      const ssl = { ...options.ssl, ca: [server.readCa()] };
      return asDbConnection(await createConnection({ ...options, ssl }));
    },
    migrations: bundledMigrations(),
    now: () => new Date(),
    log: (line) => {
      lines.push(line);
      props.log?.(line);
    },
    sampleData:
      props.sampleDataScale === undefined ? undefined : () => generateSampleData({ scale: props.sampleDataScale }),
  });

  const logicalResourceId = props.logicalResourceId ?? 'SchemaSetup';
  const response = await handler({
    RequestType: 'Create',
    ServiceToken: String(properties.ServiceToken ?? 'twin:SchemaSetupProvider'),
    ResponseURL: 'http://127.0.0.1/twin-has-no-response-url',
    StackId: 'twin:Source',
    RequestId: `twin-${Date.now()}`,
    LogicalResourceId: logicalResourceId,
    ResourceType: 'Custom::SourceDatabaseSetup',
    ResourceProperties: { ServiceToken: 'twin:SchemaSetupProvider', ...properties },
  });
  return { response, extractUser, replicationUser, log: lines };
}

/** The `GenerateSecretString` of an `AWS::SecretsManager::Secret` (the fields the platform's templates use). */
export interface GenerateSecretString {
  readonly SecretStringTemplate?: string;
  readonly GenerateStringKey?: string;
  readonly PasswordLength?: number;
  readonly ExcludeCharacters?: string;
  readonly ExcludePunctuation?: boolean;
  readonly ExcludeUppercase?: boolean;
  readonly ExcludeLowercase?: boolean;
  readonly ExcludeNumbers?: boolean;
  readonly IncludeSpace?: boolean;
  readonly RequireEachIncludedType?: boolean;
}

const CHARACTER_TYPES = {
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  numbers: '0123456789',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  space: ' ',
} as const;

/**
 * The SecretString Secrets Manager generates from a template's `GenerateSecretString`: the
 * `SecretStringTemplate` JSON with a random password under `GenerateStringKey` (or the bare
 * password without a template), with Secrets Manager's character classes and defaults
 * (32 characters, at least one of each included class).
 */
export function generateSecretFromTemplate(spec: GenerateSecretString): string {
  if ((spec.SecretStringTemplate === undefined) !== (spec.GenerateStringKey === undefined)) {
    throw new Error('GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither.');
  }
  const excluded = new Set(spec.ExcludeCharacters ?? '');
  const included: string[] = [];
  const add = (chars: string, wanted: boolean): void => {
    const kept = [...chars].filter((c) => !excluded.has(c)).join('');
    if (wanted && kept !== '') included.push(kept);
  };
  add(CHARACTER_TYPES.lowercase, !spec.ExcludeLowercase);
  add(CHARACTER_TYPES.uppercase, !spec.ExcludeUppercase);
  add(CHARACTER_TYPES.numbers, !spec.ExcludeNumbers);
  add(CHARACTER_TYPES.punctuation, !spec.ExcludePunctuation);
  add(CHARACTER_TYPES.space, spec.IncludeSpace === true);
  const length = spec.PasswordLength ?? 32;
  if (included.length === 0 || length < included.length) {
    throw new Error(`GenerateSecretString leaves no way to make a ${length}-character password: check its Exclude* fields.`);
  }
  const all = included.join('');
  const chars = Array.from({ length }, () => all[randomInt(all.length)]);
  if (spec.RequireEachIncludedType !== false) {
    // One character of each class, at distinct random positions.
    const positions = [...Array(length).keys()];
    for (const kind of included) {
      const [position] = positions.splice(randomInt(positions.length), 1);
      chars[position] = kind[randomInt(kind.length)];
    }
  }
  const password = chars.join('');
  if (spec.SecretStringTemplate === undefined || spec.GenerateStringKey === undefined) {
    return password;
  }
  const template = JSON.parse(spec.SecretStringTemplate) as Record<string, unknown>;
  return JSON.stringify({ ...template, [spec.GenerateStringKey]: password });
}
