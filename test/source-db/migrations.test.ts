import { join } from 'node:path';
import {
  applyMigrations,
  bundledMigrations,
  loadMigrationsFromDirectory,
  migrationsFingerprint,
  parseMigrations,
  sha256,
  splitStatements,
  type Migration,
} from '../../lib/source/migrations';
import { FakeDb } from './fake-db';

const MIGRATIONS_DIR = join(__dirname, '../../lib/source/migrations');

function file(filename: string, sql = 'CREATE TABLE IF NOT EXISTS t (id INT NOT NULL);\n') {
  return { filename, sql };
}

describe('parseMigrations', () => {
  test('sorts migrations by version and computes the sha256 of each file', () => {
    const migrations = parseMigrations([file('V002__second.sql', 'SELECT 2;\n'), file('V001__first.sql', 'SELECT 1;\n')]);
    expect(migrations.map((m) => [m.version, m.name, m.filename])).toEqual([
      [1, 'first', 'V001__first.sql'],
      [2, 'second', 'V002__second.sql'],
    ]);
    expect(migrations[0].checksum).toBe(sha256('SELECT 1;\n'));
    expect(migrations[0].checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  test('rejects a file name that does not follow V<nnn>__<name>.sql', () => {
    expect(() => parseMigrations([file('V1_first.sql')])).toThrow(
      "Migration file name 'V1_first.sql' is invalid: use V<nnn>__<snake_case_name>.sql, e.g. V002__add_returns.sql.",
    );
  });

  test('rejects duplicate versions', () => {
    expect(() => parseMigrations([file('V001__first.sql'), file('V001__again.sql')])).toThrow(
      'Duplicate migration version V001 in the migration files: each version must appear exactly once.',
    );
  });

  test('rejects a gap in the versions', () => {
    expect(() => parseMigrations([file('V001__first.sql'), file('V003__third.sql')])).toThrow(
      'Migration versions in the migration files have a gap: expected V002 but found V003. Versions must start at V001 and increase by one.',
    );
  });

  test('rejects versions that do not start at V001', () => {
    expect(() => parseMigrations([file('V002__second.sql')])).toThrow('expected V001 but found V002');
  });

  test('rejects a migration without any statement', () => {
    expect(() => parseMigrations([file('V001__empty.sql', '-- nothing yet\n')])).toThrow(
      'Migration V001__empty.sql contains no SQL statement.',
    );
  });

  test('the repository migrations load from disk and equal the bundled ones', () => {
    const fromDisk = loadMigrationsFromDirectory(MIGRATIONS_DIR);
    expect(fromDisk.map((m) => m.filename)).toContain('V001__classic_models.sql');
    expect(bundledMigrations()).toEqual(fromDisk);
    expect(migrationsFingerprint()).toBe(migrationsFingerprint(fromDisk));
  });
});

describe('splitStatements', () => {
  test('splits on a semicolon at the end of a line and drops comment and blank lines', () => {
    const sql = '-- header; with a semicolon\nCREATE TABLE a (\n  id INT NOT NULL\n);\n\nCREATE TABLE b (id INT);  \n';
    expect(splitStatements(sql)).toEqual(['CREATE TABLE a (\n  id INT NOT NULL\n)', 'CREATE TABLE b (id INT)']);
  });

  test('rejects a trailing statement without a terminating semicolon', () => {
    expect(() => splitStatements('SELECT 1;\nSELECT 2\n')).toThrow(
      "SQL ends with a statement that is not terminated by ';' at the end of a line: SELECT 2",
    );
  });

  test('splits V001 into one CREATE TABLE per table', () => {
    const statements = splitStatements(bundledMigrations()[0].sql);
    expect(statements).toHaveLength(8);
    statements.forEach((statement) => expect(statement).toMatch(/^CREATE TABLE IF NOT EXISTS \w+ \(/));
  });
});

describe('applyMigrations', () => {
  const migrations: Migration[] = parseMigrations([
    file('V001__first.sql', 'CREATE TABLE IF NOT EXISTS a (id INT NOT NULL);\nCREATE TABLE IF NOT EXISTS b (id INT NOT NULL);\n'),
    file('V002__second.sql', 'ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL;\n'),
  ]);

  test('creates schema_migrations, applies every pending statement in order and records each version', async () => {
    const db = new FakeDb();
    const result = await applyMigrations(db, migrations);
    expect(db.statements[0]).toMatch(/^CREATE TABLE IF NOT EXISTS schema_migrations \(/);
    expect(db.statements[0]).toContain('checksum CHAR(64) NOT NULL');
    expect(db.statements[0]).toContain('applied_at TIMESTAMP(3)');
    expect(db.statements.slice(1)).toEqual([
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      'CREATE TABLE IF NOT EXISTS a (id INT NOT NULL)',
      'CREATE TABLE IF NOT EXISTS b (id INT NOT NULL)',
      'INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)',
      'ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL',
      'INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)',
    ]);
    expect(db.calls[4].params).toEqual([1, 'first', migrations[0].checksum]);
    expect(result).toEqual({
      applied: [
        { version: 1, name: 'first', statements: 2 },
        { version: 2, name: 'second', statements: 1 },
      ],
      alreadyApplied: [],
      currentVersion: 2,
    });
  });

  test('is idempotent: a second run applies nothing', async () => {
    const db = new FakeDb();
    await applyMigrations(db, migrations);
    const callsAfterFirstRun = db.calls.length;
    const result = await applyMigrations(db, migrations);
    expect(db.statements.slice(callsAfterFirstRun)).toEqual([
      expect.stringMatching(/^CREATE TABLE IF NOT EXISTS schema_migrations/),
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    ]);
    expect(result).toEqual({ applied: [], alreadyApplied: [1, 2], currentVersion: 2 });
  });

  test('applies only the versions that are not yet recorded', async () => {
    const db = new FakeDb();
    await applyMigrations(db, migrations.slice(0, 1));
    const before = db.calls.length;
    const result = await applyMigrations(db, migrations);
    expect(db.statements.slice(before + 2)).toEqual([
      'ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL',
      'INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)',
    ]);
    expect(result.applied.map((m) => m.version)).toEqual([2]);
    expect(result.alreadyApplied).toEqual([1]);
  });

  test('fails, changing nothing, when an applied migration was edited afterwards', async () => {
    const db = new FakeDb();
    await applyMigrations(db, migrations);
    const edited = parseMigrations([
      file('V001__first.sql', 'CREATE TABLE IF NOT EXISTS a (id BIGINT NOT NULL);\n'),
      file('V002__second.sql', 'ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL;\n'),
      file('V003__third.sql', 'CREATE TABLE IF NOT EXISTS c (id INT NOT NULL);\n'),
    ]);
    const before = db.calls.length;
    await expect(applyMigrations(db, edited)).rejects.toThrow(
      `Migration V001__first.sql was edited after it was applied (recorded checksum ${migrations[0].checksum}, ` +
        `file checksum ${edited[0].checksum}). Never edit an applied migration: restore it and add a new V004__<name>.sql instead.`,
    );
    expect(db.statements.slice(before + 2)).toEqual([]);
  });

  test('fails when the database records a version this code does not have', async () => {
    const db = new FakeDb();
    await applyMigrations(db, migrations);
    await expect(applyMigrations(db, migrations.slice(0, 1))).rejects.toThrow(
      'schema_migrations records V002__second, which is not among the 1 migration(s) of this deployment: the database is ahead of this code.',
    );
  });

  test('fails when schema_migrations itself has a gap', async () => {
    const db = new FakeDb();
    db.applied.push({ version: 2, name: 'second', checksum: migrations[1].checksum });
    await expect(applyMigrations(db, migrations)).rejects.toThrow(
      'schema_migrations has a gap: V001 is not recorded but V002 is.',
    );
  });

  test('fails before touching the database when the given migrations have a gap or a duplicate', async () => {
    const db = new FakeDb();
    const v3 = { ...migrations[1], version: 3, filename: 'V003__third.sql' };
    await expect(applyMigrations(db, [migrations[0], v3])).rejects.toThrow(
      'Migration versions in the migrations to apply have a gap: expected V002 but found V003.',
    );
    await expect(applyMigrations(db, [migrations[0], migrations[0]])).rejects.toThrow(
      'Duplicate migration version V001 in the migrations to apply',
    );
    expect(db.calls).toEqual([]);
  });

  test('fails when a migration checksum does not match its SQL', async () => {
    const db = new FakeDb();
    const tampered = [{ ...migrations[0], sql: 'DROP TABLE a;\n' }];
    await expect(applyMigrations(db, tampered)).rejects.toThrow(
      'Migration V001__first.sql has a checksum that does not match its SQL.',
    );
    expect(db.calls).toEqual([]);
  });

  test('does not record a migration whose statement failed, so the next run retries it', async () => {
    const db = new FakeDb();
    db.failOn = /^ALTER TABLE a/;
    await expect(applyMigrations(db, migrations)).rejects.toThrow('fake failure on: ALTER TABLE a');
    expect(db.applied.map((row) => row.version)).toEqual([1]);
    db.failOn = undefined;
    const result = await applyMigrations(db, migrations);
    expect(result.applied.map((m) => m.version)).toEqual([2]);
  });
});
