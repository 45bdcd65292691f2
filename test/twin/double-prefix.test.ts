/**
 * The mistake the local twin was built to catch: the extract's double `source/` prefix, put back
 * into the job script of dev's assembly. Its own file, so that Jest runs it beside the whole twin
 * run (twin.test.ts) instead of after it; the assembly is synthesized in process (the twin reads
 * only the templates and the Glue assets, which that synth stages as `cdk synth` does).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TwinAssembly } from '../../lib/twin/assembly';
import { runTwin } from '../../lib/twin/twin';
import { synthPlatform } from '../support/platform';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

const PYTHON = process.env.UNDERCURRENT_PYTHON ?? path.join(__dirname, '..', '..', '.venv', 'bin', 'python');
const MINUTES = 60_000;
/** Not dev's 3407: twin.test.ts runs the whole twin of dev at the same time, with its source on that port. */
const SOURCE_PORT = 3417;

describe('the local twin of dev', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'undercurrent-twin-prefix-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('fails when the extract writes under a second source/ again', async () => {
    if (!fs.existsSync(PYTHON)) {
      throw new Error(`No Python venv at ${PYTHON}: run "source scripts/python-env.sh" (npm test does) first.`);
    }
    const assemblyDir = path.join(root, 'double-prefix.out');
    // `cdk synth` takes the region of the machine's AWS config (the twin needs one); here it is
    // given. The source declares another port than dev's, which the whole run beside this one uses.
    const platform = synthPlatform('dev', { context: { region: EXAMPLE_REGION }, patch: { source: { port: SOURCE_PORT } } });
    fs.cpSync(platform.app.outdir, assemblyDir, { recursive: true });
    const assembly = TwinAssembly.load(assemblyDir, { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION, partition: 'aws' });
    const extract = assembly.resourcesOfType('AWS::Glue::Job').find((j) => j.logicalId.startsWith('SourceExtract'))!;
    const scriptPath = path.join(assemblyDir, path.basename(assembly.asset((extract.properties.Command as { ScriptLocation: string }).ScriptLocation).path));
    const code = fs.readFileSync(scriptPath, 'utf8');
    // The code before the fix: raw_table_path adds source/ to a raw_path that already ends in source/.
    const broken = code.replace('    source_table_path,\n', '    raw_table_path,\n').replace(/source_table_path\(raw_path/g, 'raw_table_path(raw_path');
    expect(broken).not.toBe(code);
    fs.writeFileSync(scriptPath, broken);

    // Only as far as the extract: what it wrote is what the check is about (the whole run also
    // fails the curation, which finds no raw rows: the cost of two more jobs and the lake read).
    const work = path.join(root, 'double-prefix');
    const failed = await runTwin({ env: 'dev', work, scale: 0.05, python: PYTHON, assemblyDir, delayScale: 0, until: 'RunSourceExtract' });
    expect(failed.execution.status).toBe('ABORTED');
    expect(failed.runs.map((r) => [r.jobName, r.status])).toEqual([['undercurrent-dev-ingestion-sourceextract246addb6', 'SUCCEEDED']]);
    // The Iceberg tables were never created: no job of this run uses them (the whole run does).
    expect(fs.existsSync(path.join(work, 'access', 'catalog-setup.jsonl'))).toBe(false);
    expect(failed.problems).toEqual([
      expect.stringMatching(
        /^undercurrent-dev-ingestion-sourceextractrole\S* wrote \d+ object\(s\) under no catalog table's location, where nothing reads them, such as s3:\/\/undercurrent-dev-storage-rawzonea7e2c7f3\/source\/source\//,
      ),
    ]);
  }, 10 * MINUTES);
});
