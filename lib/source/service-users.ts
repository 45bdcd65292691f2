/**
 * Least-privilege service users of the source database: parsing the `ServiceUsers` resource
 * property, checking the user names read from their secrets, and the exact SQL each role gets.
 *
 * MySQL cannot take an account name as a query parameter, so the user name is spliced into the
 * SQL; it is only ever one that matches {@link SERVICE_USERNAME}. The password is only ever a
 * query parameter (mysql2's `query` escapes it client-side; the server rewrites CREATE/ALTER USER
 * passwords to their hash in its logs and binlog).
 */

export type ServiceUserRole = 'extract' | 'replication';

export const SERVICE_USER_ROLES: readonly ServiceUserRole[] = ['extract', 'replication'];

/** One entry of the `ServiceUsers` resource property. */
export interface ServiceUserSpec {
  readonly secretArn: string;
  readonly role: ServiceUserRole;
}

/** A lower-case letter, then up to 31 lower-case letters, digits or underscores (MySQL allows 32 characters). */
export const SERVICE_USERNAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Accounts of MySQL and Amazon RDS a service user must never be (the admin user is checked separately). */
export const RESERVED_USERNAMES: readonly string[] = ['root'];
/** Amazon RDS names its own accounts and roles `rds...` (rdsadmin, rdsrepladmin, rds_superuser_role, ...). */
export const RESERVED_USERNAME_PREFIX = 'rds';

const DATABASE_NAME = /^[A-Za-z0-9_]{1,64}$/;
const KEYS = ['SecretArn', 'Role'];
const PROPERTY = 'ResourceProperties.ServiceUsers';

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

/**
 * Parses `ServiceUsers`: absent means none; otherwise a JSON string of an array of
 * `{"SecretArn": "...", "Role": "extract" | "replication"}`, each secret once and never the admin's.
 * Errors name the property, the entry and what is wrong (the property holds no secrets).
 */
export function parseServiceUsers(raw: unknown, adminSecretArn?: string): readonly ServiceUserSpec[] {
  if (raw === undefined) {
    return [];
  }
  const shape = 'a JSON string of an array like [{"SecretArn":"arn:...","Role":"extract"}]';
  if (typeof raw !== 'string') {
    throw new Error(`${PROPERTY} must be ${shape} (got ${describeValue(raw)}).`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${PROPERTY} is not valid JSON (${reason}); expected ${shape}.`);
  }
  if (!Array.isArray(parsed)) {
    throw new Error(`${PROPERTY} must be a JSON array (got ${describeValue(parsed)}); expected ${shape}.`);
  }

  const seen = new Map<string, number>();
  return parsed.map((entry: unknown, index): ServiceUserSpec => {
    const at = `${PROPERTY}[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new Error(`${at} must be an object with "SecretArn" and "Role" (got ${describeValue(entry)}).`);
    }
    const record = entry as Record<string, unknown>;
    const unknownKey = Object.keys(record).find((key) => !KEYS.includes(key));
    if (unknownKey !== undefined) {
      throw new Error(`${at} has the unknown key ${JSON.stringify(unknownKey)}; allowed keys are "SecretArn" and "Role".`);
    }
    const secretArn = record.SecretArn;
    if (typeof secretArn !== 'string' || secretArn.trim() === '') {
      throw new Error(`${at}.SecretArn must be a non-empty string (got ${describeValue(secretArn)}).`);
    }
    const arn = secretArn.trim();
    const role = record.Role;
    if (typeof role !== 'string' || !(SERVICE_USER_ROLES as readonly string[]).includes(role)) {
      throw new Error(`${at}.Role must be ${SERVICE_USER_ROLES.map((r) => `"${r}"`).join(' or ')} (got ${describeValue(role)}).`);
    }
    const first = seen.get(arn);
    if (first !== undefined) {
      throw new Error(
        `${at}.SecretArn duplicates ${PROPERTY}[${first}].SecretArn (${JSON.stringify(arn)}); each secret may appear once.`,
      );
    }
    seen.set(arn, index);
    if (adminSecretArn !== undefined && arn === adminSecretArn.trim()) {
      throw new Error(`${at}.SecretArn is the admin SecretArn; a service user needs a secret of its own.`);
    }
    return { secretArn: arn, role: role as ServiceUserRole };
  });
}

/**
 * Checks a service user's name read from its secret. The name is spliced into SQL, so anything
 * but {@link SERVICE_USERNAME} is refused; a refused name is not quoted (the secret's fields
 * might be mixed up), only its length.
 */
export function checkServiceUsername(username: string, context: string, adminUsername: string): string {
  if (!SERVICE_USERNAME.test(username)) {
    throw new Error(
      `${context}: "username" must match ${SERVICE_USERNAME.source} (a lower-case letter, then up to 31 lower-case ` +
        `letters, digits or underscores); the secret's value (${username.length} characters) does not.`,
    );
  }
  if (username === adminUsername.toLowerCase()) {
    throw new Error(`${context}: "username" is "${username}", the admin user; a service user must be a separate account.`);
  }
  if (RESERVED_USERNAMES.includes(username) || username.startsWith(RESERVED_USERNAME_PREFIX)) {
    throw new Error(
      `${context}: "username" "${username}" is reserved (root and names starting with "${RESERVED_USERNAME_PREFIX}" belong to MySQL or Amazon RDS).`,
    );
  }
  return username;
}

/** One statement on the admin connection; `params` fill its `?` placeholders. */
export interface ServiceUserStatement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/** The privileges each role is granted, and nothing else. */
export function roleGrants(role: ServiceUserRole, database: string): readonly string[] {
  const schema = `SELECT ON \`${database}\`.*`;
  switch (role) {
    case 'extract':
      return [schema];
    case 'replication':
      // AWS DMS CDC reads the binlog: it needs REPLICATION CLIENT and REPLICATION SLAVE globally.
      return [schema, 'REPLICATION CLIENT, REPLICATION SLAVE ON *.*'];
  }
}

/**
 * The statements that make the account exist with exactly the secret's password (CREATE for a new
 * account, ALTER so the password follows the secret after a rotation), TLS required, then its grants.
 */
export function serviceUserStatements(
  user: { readonly username: string; readonly password: string; readonly role: ServiceUserRole },
  database: string,
): readonly ServiceUserStatement[] {
  if (!SERVICE_USERNAME.test(user.username)) {
    throw new Error(`A service user name must match ${SERVICE_USERNAME.source} before it is put in SQL.`);
  }
  if (!DATABASE_NAME.test(database)) {
    throw new Error(`A database name must match ${DATABASE_NAME.source} before it is put in SQL.`);
  }
  const account = `'${user.username}'@'%'`;
  return [
    { sql: `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ? REQUIRE SSL`, params: [user.password] },
    { sql: `ALTER USER ${account} IDENTIFIED BY ? REQUIRE SSL`, params: [user.password] },
    ...roleGrants(user.role, database).map((grant) => ({ sql: `GRANT ${grant} TO ${account}` })),
  ];
}
