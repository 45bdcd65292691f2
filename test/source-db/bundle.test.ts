/**
 * The Lambda code bundles locally with esbuild (no Docker), as NodejsFunction bundles it,
 * and the bundle carries the migrations and the RDS CA bundle.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMigrationFiles, splitStatements } from '../../lib/source/migrations';
import { BUNDLED_MODULE_PATH, MIGRATIONS_DIRECTORY, readSqlFiles, renderBundledModule } from '../../lib/source/migrations/generate';
import { MIGRATION_FILES } from '../../lib/source/migrations/bundled';
import { bundleHandler } from '../support/bundle-handler';

const REPO = join(__dirname, '../..');
const ENTRY = join(REPO, 'lib/source/handler.ts');

describe('the migrations embedded in the bundle', () => {
  test('bundled.ts embeds every .sql migration byte for byte', () => {
    const files = readMigrationFiles(MIGRATIONS_DIRECTORY);
    expect(files.length).toBeGreaterThan(0);
    expect(MIGRATION_FILES.map((f) => f.filename)).toEqual(files.map((f) => f.filename));
    MIGRATION_FILES.forEach((embedded, i) => {
      expect(Buffer.from(embedded.sql, 'utf8').equals(readFileSync(join(MIGRATIONS_DIRECTORY, files[i].filename)))).toBe(true);
    });
  });

  test('bundled.ts is exactly what the generator renders (run `npx tsx lib/source/migrations/generate.ts` if not)', () => {
    expect(readFileSync(BUNDLED_MODULE_PATH, 'utf8')).toBe(renderBundledModule(readSqlFiles()));
  });

  test('the generator escapes backticks, backslashes, ${ and carriage returns faithfully', () => {
    const tricky = 'SELECT `a`, \'\\n\', "${x}";\r\n-- \\`\n';
    const source = renderBundledModule([{ filename: 'V001__tricky.sql', sql: tricky }]);
    const compiled = source.replace(/^export const MIGRATION_FILES[^=]*=/m, 'return').replace(/^\/\/.*$/gm, '');
    expect(new Function(compiled)()).toEqual([{ filename: 'V001__tricky.sql', sql: tricky }]);
  });
});

describe('bundling the handler with esbuild', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'source-db-bundle-'));
  const outfile = join(outdir, 'index.js');
  let bundle = '';

  beforeAll(async () => {
    bundle = await bundleHandler(ENTRY, outdir);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('builds without Docker and contains the V001 SQL text', () => {
    const v001 = readFileSync(join(MIGRATIONS_DIRECTORY, 'V001__classic_models.sql'), 'utf8');
    expect(bundle).toContain(v001);
    splitStatements(v001).forEach((statement) => expect(bundle).toContain(statement));
  });

  test('includes mysql2 and the RDS CA bundle but leaves the AWS SDK to the Lambda runtime', () => {
    expect(bundle).toContain('-----BEGIN CERTIFICATE-----');
    expect(bundle).toMatch(/require\("@aws-sdk\/client-secrets-manager"\)/);
    expect(bundle).not.toMatch(/require\("mysql2/);
  });

  test('the bundle loads and exports onEvent', () => {
    // Resolve the external AWS SDK from the repository, as the Lambda runtime provides it.
    const requireFromRepo = createRequire(join(REPO, 'package.json'));
    const module = { exports: {} as Record<string, unknown> };
    new Function('require', 'module', 'exports', '__filename', '__dirname', bundle)(
      requireFromRepo,
      module,
      module.exports,
      outfile,
      outdir,
    );
    expect(typeof module.exports.onEvent).toBe('function');
  });
});
