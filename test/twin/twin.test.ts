/**
 * The local twin end to end (lib/twin/twin.ts): dev as its synthesized templates deploy it,
 * on a real MariaDB, real Spark jobs and the interpreted workflow. Then one of the two mistakes
 * the twin exists to catch: a permission a job needs, taken out of its role's policy (the other,
 * the extract's double `source/` prefix, is double-prefix.test.ts: a file of its own, so that
 * Jest runs it beside this one).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TwinResource } from '../../lib/twin/assembly';
import { deniedAccesses, evaluateAccesses, formatDenial } from '../../lib/twin/permissions';
import { runTwin, type TwinResult } from '../../lib/twin/twin';
import { servingViews } from '../../lib/serving/semantic-layer';

const PYTHON = process.env.UNDERCURRENT_PYTHON ?? path.join(__dirname, '..', '..', '.venv', 'bin', 'python');
const SCALE = 0.05;
const MINUTES = 60_000;

function twin(work: string, assemblyDir?: string, until?: string): Promise<TwinResult> {
  if (!fs.existsSync(PYTHON)) {
    throw new Error(`No Python venv at ${PYTHON}: run "source scripts/python-env.sh" (npm test does) first.`);
  }
  return runTwin({ env: 'dev', work, scale: SCALE, python: PYTHON, assemblyDir, delayScale: 0, until });
}

describe('the local twin of dev', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'undercurrent-twin-'));
  let result: TwinResult;
  beforeAll(async () => {
    result = await twin(path.join(root, 'run'));
  }, 10 * MINUTES);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('runs the workflow of the template to its end, every job of it once', () => {
    expect(result.execution.status).toBe('SUCCEEDED');
    // The runs, in the order they ended: the two curations run side by side, so either may end first.
    expect(result.runs.map((r) => [r.jobName, r.status])).toEqual([
      ['undercurrent-dev-ingestion-sourceextract246addb6', 'SUCCEEDED'],
      expect.anything(),
      expect.anything(),
      ['undercurrent-dev-transform-curatedtogold2f829717', 'SUCCEEDED'],
    ]);
    expect(result.runs.slice(1, 3).map((r) => [r.jobName, r.status]).sort()).toEqual([
      ['undercurrent-dev-transform-clickstreamtocurateddcf9167e', 'SUCCEEDED'],
      ['undercurrent-dev-transform-sourcetocuratedc7af2823', 'SUCCEEDED'],
    ]);
  });

  test('runs the extract, then the two curations side by side, then gold, as the execution history recorded them', () => {
    // Each job task's state succeeds only when its job run has ended (startJobRun.sync).
    const history = result.execution.history.map((e) => `${e.type} ${e.state}`);
    expect(history.slice(0, 7)).toEqual([
      'StateEntered Start',
      'StateSucceeded Start',
      'StateEntered RunSourceExtract',
      'StateSucceeded RunSourceExtract',
      'StateEntered RunSourceToCuratedAndClickstreamToCurated',
      'StateEntered RunSourceToCurated',
      'StateEntered RunClickstreamToCurated',
    ]);
    // Both curations were started before either ended; which one ends first is up to the jobs.
    expect([...history.slice(7, 9)].sort()).toEqual(['StateSucceeded RunClickstreamToCurated', 'StateSucceeded RunSourceToCurated']);
    expect(history.slice(9)).toEqual([
      'StateSucceeded RunSourceToCuratedAndClickstreamToCurated',
      'StateEntered RunCuratedToGold',
      'StateSucceeded RunCuratedToGold',
      'StateEntered PipelineSucceeded',
      'StateSucceeded PipelineSucceeded',
    ]);
  });

  test('finds the lake as the design promises: raw holds the extract, curated and gold are built, gold revenue is the source\'s, quarantine holds exactly the injected rows', () => {
    expect(result.problems).toEqual([]);
    const counts = result.lake!.counts;
    expect(counts['undercurrent_dev_raw.source_order_lines']).toBe(result.source.rows.order_lines);
    expect(counts['undercurrent_dev_curated.customers']).toBe(result.source.rows.customers - 1);
    expect(Number(result.lake!.revenue)).toBeCloseTo(Number(result.source.revenue), 2);
    expect(counts['undercurrent_dev_quarantine.orders']).toBe(1);
    expect(counts['undercurrent_dev_quarantine.order_lines']).toBe(0);
    expect(result.lake!.quarantine.clickstream_events.map((r) => r.rule).sort()).toEqual([
      'invalid_event_time',
      'invalid_event_type',
      'missing_event_id',
    ]);
    expect(counts['undercurrent_dev_curated.clickstream_events']).toBe(result.clicks.valid);
  });

  test('answers every Athena view of the templates on its gold, with the columns the view stores', () => {
    const views = result.lake!.views;
    expect(Object.keys(views).sort()).toEqual(servingViews().map((v) => `undercurrent_dev_gold.${v.name}`));
    expect(views['undercurrent_dev_gold.customer_360'].rows).toBe(result.lake!.counts['undercurrent_dev_gold.dim_customer']);
    expect(Object.values(views).every((v) => v.rows > 0)).toBe(true);
  });

  test('records the S3 requests of every job and finds each allowed by its role and the bucket policies', () => {
    const roles = new Set(result.accesses.map((a) => a.principal.split('/').pop()));
    expect([...roles].sort()).toEqual([
      expect.stringMatching(/^undercurrent-dev-ingestion-sourceextractrole/),
      expect.stringMatching(/^undercurrent-dev-transform-clickstreamtocuratedrole/),
      expect.stringMatching(/^undercurrent-dev-transform-curatedtogoldrole/),
      expect.stringMatching(/^undercurrent-dev-transform-sourcetocuratedrole/),
    ]);
    expect(result.accesses.some((a) => a.action === 'glue:UpdateTable')).toBe(true);
    expect(result.denials).toEqual([]);
    // The Iceberg tables were created for the gold job (a run that stops before it creates none: double-prefix.test.ts).
    expect(fs.existsSync(path.join(root, 'run', 'access', 'catalog-setup.jsonl'))).toBe(true);
  });

  test('fails when a permission a job needs is taken out of its role', async () => {
    // SourceToCurated without the statement that lets it read the raw source tables.
    const rawRead = (r: TwinResource): boolean =>
      r.type === 'AWS::IAM::ManagedPolicy' && r.logicalId.startsWith('SourceToCuratedRolePolicy');
    const resources = result.assembly.resources.map((r) => {
      if (!rawRead(r)) {
        return r;
      }
      const document = r.properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] };
      const Statement = document.Statement.filter(
        (s) => !(s.Action === 's3:GetObject' && JSON.stringify(s.Resource).includes('rawzone')),
      );
      expect(Statement.length).toBe(document.Statement.length - 1);
      return { ...r, properties: { ...r.properties, PolicyDocument: { ...document, Statement } } };
    });
    const denials = deniedAccesses(await evaluateAccesses({ env: result.assembly.env, resources }, result.accesses));
    expect(denials.length).toBeGreaterThan(0);
    expect(denials.map(formatDenial)[0]).toMatch(
      /^undercurrent-dev-transform-sourcetocuratedrole\S* may not s3:GetObject on arn:aws:s3:::undercurrent-dev-storage-rawzonea7e2c7f3\/source\//,
    );
  });
});
