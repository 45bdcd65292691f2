/**
 * Versioned schema migrations of the source database.
 *
 * A migration is a file `V<nnn>__<name>.sql` in `lib/source/migrations/`. The .sql files
 * are the reviewed source of truth; `migrations/bundled.ts` embeds them byte for byte so the
 * Lambda bundle carries them without filesystem reads (regenerate it with
 * `npx tsx lib/source/migrations/generate.ts`; a test fails when it is stale).
 *
 * `applyMigrations` records what it applied in `schema_migrations` and refuses to run when
 * an applied migration was edited afterwards (checksum drift) or when versions have gaps or
 * duplicates. MySQL DDL is not transactional: a migration that fails half-way is not recorded,
 * so migrations must be re-runnable (`CREATE TABLE IF NOT EXISTS`, ...).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATION_FILES } from './migrations/bundled';

/** The few calls the migrator and the sample-data loader make: mysql2's `query` with `?` placeholders. */
export interface Db {
  query(sql: string, params?: unknown[]): Promise<unknown[]>;
}

/** A migration file as read from disk or from the bundled module. */
export interface MigrationFile {
  readonly filename: string;
  readonly sql: string;
}

export interface Migration {
  /** 1 for `V001__...`. */
  readonly version: number;
  /** `classic_models` for `V001__classic_models.sql`. */
  readonly name: string;
  readonly filename: string;
  readonly sql: string;
  /** sha256 (hex) of the file's UTF-8 bytes. */
  readonly checksum: string;
}

export interface ApplyMigrationsResult {
  /** Versions applied by this call, in order. */
  readonly applied: readonly { version: number; name: string; statements: number }[];
  /** Versions that were already recorded in `schema_migrations`. */
  readonly alreadyApplied: readonly number[];
  /** Highest version recorded after this call (0 when there are no migrations). */
  readonly currentVersion: number;
}

/** `V001__classic_models.sql`: three or more digits, two underscores, lower snake case name. */
export const MIGRATION_FILENAME = /^V(\d{3,})__([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

export const SCHEMA_MIGRATIONS_DDL = [
  'CREATE TABLE IF NOT EXISTS schema_migrations (',
  '  version INT NOT NULL,',
  '  name VARCHAR(200) NOT NULL,',
  '  checksum CHAR(64) NOT NULL,',
  '  applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),',
  '  PRIMARY KEY (version)',
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci',
].join('\n');

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function label(version: number): string {
  return `V${String(version).padStart(3, '0')}`;
}

/** Fails when versions are not exactly 1, 2, ..., n (after sorting). */
function assertContiguous(versions: readonly number[], what: string): void {
  const seen = new Set<number>();
  for (const version of versions) {
    if (seen.has(version)) {
      throw new Error(`Duplicate migration version ${label(version)} in ${what}: each version must appear exactly once.`);
    }
    seen.add(version);
  }
  const sorted = [...versions].sort((a, b) => a - b);
  sorted.forEach((version, index) => {
    if (version !== index + 1) {
      throw new Error(
        `Migration versions in ${what} have a gap: expected ${label(index + 1)} but found ${label(version)}. ` +
          'Versions must start at V001 and increase by one.',
      );
    }
  });
}

/** Validates names, versions and sorts by version; computes checksums. */
export function parseMigrations(files: readonly MigrationFile[]): Migration[] {
  const migrations = files.map((file): Migration => {
    const match = MIGRATION_FILENAME.exec(file.filename);
    if (!match) {
      throw new Error(
        `Migration file name '${file.filename}' is invalid: use V<nnn>__<snake_case_name>.sql, e.g. V002__add_returns.sql.`,
      );
    }
    if (splitStatements(file.sql).length === 0) {
      throw new Error(`Migration ${file.filename} contains no SQL statement.`);
    }
    return {
      version: Number(match[1]),
      name: match[2],
      filename: file.filename,
      sql: file.sql,
      checksum: sha256(file.sql),
    };
  });
  assertContiguous(
    migrations.map((m) => m.version),
    'the migration files',
  );
  return migrations.sort((a, b) => a.version - b.version);
}

/** Reads every `*.sql` file of a directory (tests and the generator; the Lambda uses `bundledMigrations`). */
export function readMigrationFiles(directory: string): MigrationFile[] {
  return readdirSync(directory)
    .filter((filename) => filename.endsWith('.sql'))
    .sort()
    .map((filename) => ({ filename, sql: readFileSync(join(directory, filename), 'utf8') }));
}

export function loadMigrationsFromDirectory(directory: string): Migration[] {
  return parseMigrations(readMigrationFiles(directory));
}

/** The migrations embedded in the bundle (`migrations/bundled.ts`). */
export function bundledMigrations(): Migration[] {
  return parseMigrations(MIGRATION_FILES);
}

/**
 * One value that changes whenever any migration is added or changed. Pass it as a property of
 * the custom resource so that CloudFormation sends an Update (and the new migrations run).
 */
export function migrationsFingerprint(migrations: readonly Migration[] = bundledMigrations()): string {
  return sha256(migrations.map((m) => `${m.filename}:${m.checksum}`).join('\n'));
}

/**
 * Splits a migration into statements: a statement ends with ';' at the end of a line.
 * Whole-line `--` comments and blank lines are dropped. No DELIMITER support (none is needed).
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const rawLine of sql.split(/\r?\n/)) {
    const line = rawLine.trimEnd();
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('--')) {
      continue;
    }
    if (line.endsWith(';')) {
      current.push(line.slice(0, -1));
      statements.push(current.join('\n').trim());
      current = [];
    } else {
      current.push(line);
    }
  }
  const rest = current.join('\n').trim();
  if (rest !== '') {
    throw new Error(`SQL ends with a statement that is not terminated by ';' at the end of a line: ${rest.slice(0, 80)}`);
  }
  return statements.filter((statement) => statement !== '');
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

function toAppliedRow(row: unknown): AppliedRow {
  const record = row as Record<string, unknown>;
  return { version: Number(record.version), name: String(record.name), checksum: String(record.checksum) };
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in version order, one
 * statement at a time, and records each. Fails before changing anything when the recorded
 * history disagrees with `migrations` (edited migration, unknown or missing version).
 */
export async function applyMigrations(db: Db, migrations: readonly Migration[]): Promise<ApplyMigrationsResult> {
  assertContiguous(
    migrations.map((m) => m.version),
    'the migrations to apply',
  );
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  for (const migration of ordered) {
    if (sha256(migration.sql) !== migration.checksum) {
      throw new Error(`Migration ${migration.filename} has a checksum that does not match its SQL.`);
    }
  }

  await db.query(SCHEMA_MIGRATIONS_DDL);
  const rows = (await db.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).map(toAppliedRow);

  const byVersion = new Map(ordered.map((m) => [m.version, m]));
  rows.forEach((row, index) => {
    const migration = byVersion.get(row.version);
    if (!migration) {
      throw new Error(
        `schema_migrations records ${label(row.version)}__${row.name}, which is not among the ${ordered.length} migration(s) ` +
          'of this deployment: the database is ahead of this code. Deploy the code that contains it.',
      );
    }
    if (row.checksum !== migration.checksum) {
      throw new Error(
        `Migration ${migration.filename} was edited after it was applied (recorded checksum ${row.checksum}, ` +
          `file checksum ${migration.checksum}). Never edit an applied migration: restore it and add a new ` +
          `V${String(ordered.length + 1).padStart(3, '0')}__<name>.sql instead.`,
      );
    }
    if (row.version !== index + 1) {
      throw new Error(
        `schema_migrations has a gap: ${label(index + 1)} is not recorded but ${label(row.version)} is. ` +
          'Repair schema_migrations by hand before deploying.',
      );
    }
  });

  const appliedVersions = new Set(rows.map((row) => row.version));
  const applied: { version: number; name: string; statements: number }[] = [];
  for (const migration of ordered) {
    if (appliedVersions.has(migration.version)) {
      continue;
    }
    const statements = splitStatements(migration.sql);
    for (const statement of statements) {
      await db.query(statement);
    }
    await db.query('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
    applied.push({ version: migration.version, name: migration.name, statements: statements.length });
  }

  return {
    applied,
    alreadyApplied: rows.map((row) => row.version),
    currentVersion: ordered.length === 0 ? 0 : ordered[ordered.length - 1].version,
  };
}
