import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** Runs bin/app.ts the way the CDK CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR. */
function runApp(
  context: Record<string, unknown>,
  target: Record<string, string> = {},
): { status: number | null; stderr: string; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'undercurrent-'));
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context }),
    CDK_OUTDIR: outdir,
  };
  // No credentials and no target: synthesis must not need them.
  for (const name of ['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'NODE_ENV', 'JEST_WORKER_ID']) {
    delete env[name];
  }
  Object.assign(env, target);
  const result = spawnSync(TSX, [path.join(ROOT, 'bin', 'app.ts')], { cwd: ROOT, env, encoding: 'utf8' });
  // CDK announces each Lambda bundle it builds; anything else on stderr is a finding.
  const stderr = result.stderr
    .split('\n')
    .filter((line) => !line.startsWith('Bundling asset '))
    .join('\n');
  return { status: result.status, stderr, outdir };
}

describe('bin/app.ts', () => {
  test('refuses an unknown environment with one line naming the known ones', () => {
    const result = runApp({ env: 'qa' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'Unknown environment "qa": known environments are dev, staging, prod (choose one with -c env=<name>).',
    ]);
    expect(fs.readdirSync(result.outdir)).toEqual([]);
  });

  test('refuses -c removeDataOnDestroy=true in prod with one line, before building anything', () => {
    const result = runApp({ env: 'prod', account: '123456789012', region: 'us-east-1', alertEmails: 'data-oncall@example.com', removeDataOnDestroy: 'true' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'Invalid config for environment "prod": removeDataOnDestroy is true; allowed: false in prod, which never destroys its data (remove -c removeDataOnDestroy=true).',
    ]);
    expect(fs.readdirSync(result.outdir)).toEqual([]);
  });

  test('refuses -c accountBaseline=<not a boolean> with one line, before building anything', () => {
    const result = runApp({ accountBaseline: 'yes' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual(['-c accountBaseline is "yes"; allowed: true or false (leave it out for false).']);
    expect(fs.readdirSync(result.outdir)).toEqual([]);
  });

  // One whole synth of dev for both (each takes seconds): the environment stack set without
  // -c accountBaseline is checked by test/stacks/account.test.ts, and the local twin's test
  // synthesizes dev through the CDK CLI without it.
  test('synthesizes the seven stacks of dev by default, with no credentials, under every check, warning once that dev keeps its data; -c accountBaseline=true adds the account stack, with the guard handler bundled as the code of its function', () => {
    const result = runApp({ accountBaseline: 'true' });
    expect(result.stderr.trim().split('\n')).toEqual([
      'Warning: environment "dev" retains its data when its stacks are deleted (buckets and their objects, keys, log groups, ' +
        'the database, the catalog): to destroy it with the stacks, deploy and destroy with -c removeDataOnDestroy=true.',
    ]);
    expect(result.status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(result.outdir, 'manifest.json'), 'utf8'));
    const stackNames = Object.values(manifest.artifacts as Record<string, { type: string; properties?: { stackName?: string } }>)
      .filter((a) => a.type === 'aws:cloudformation:stack')
      .map((a) => a.properties?.stackName)
      .sort();
    expect(stackNames).toEqual([
      'Undercurrent-account',
      ...['Foundation', 'Ingestion', 'Orchestration', 'Serving', 'Source', 'Storage', 'Transform'].map((s) => `Undercurrent-dev-${s}`),
    ]);
    const report = JSON.parse(fs.readFileSync(path.join(result.outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);

    // The packs ran: their acknowledged findings are written next to the resources, with reasons.
    const foundation = JSON.parse(fs.readFileSync(path.join(result.outdir, 'Foundation.template.json'), 'utf8'));
    const accessLogs = Object.entries(foundation.Resources as Record<string, { Type: string; Metadata?: Record<string, unknown> }>)
      .filter(([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('AccessLogs'))
      .map(([, r]) => r.Metadata?.cdk_nag);
    expect(accessLogs).toEqual([
      {
        rules_to_suppress: expect.arrayContaining([
          expect.objectContaining({ id: 'AwsSolutions-S1', reason: expect.stringContaining('access-log destination') }),
        ]),
      },
    ]);

    // The guard function's code asset, as the asset manifest lists it, is the bundled guard handler.
    const assets = JSON.parse(fs.readFileSync(path.join(result.outdir, 'Account.assets.json'), 'utf8'));
    const bundles = Object.values(assets.files as Record<string, { source: { path: string; packaging?: string } }>)
      .filter((file) => file.source.packaging === 'zip')
      .map((file) => fs.readFileSync(path.join(result.outdir, file.source.path, 'index.js'), 'utf8'));
    expect(bundles).toEqual([expect.stringContaining('Custom::LakeFormationOnly')]);
  });

  test('refuses prod without its target, one line for each thing to set, even where the credentials point at an account', () => {
    const result = runApp({ env: 'prod' }, { CDK_DEFAULT_ACCOUNT: '111122223333', CDK_DEFAULT_REGION: 'eu-west-1' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'Invalid config for environment "prod": account is missing; allowed: a 12-digit AWS account id, pinned for prod (set account in lib/config/environments.ts or pass -c account=<12 digits>).',
      'Invalid config for environment "prod": region is missing; allowed: an AWS region name such as "eu-west-1", pinned for prod (set region in lib/config/environments.ts or pass -c region=<region>).',
      'Invalid config for environment "prod": operations.alertEmails is []; allowed: at least one e-mail address in prod, whose alarms must reach someone (set operations.alertEmails in lib/config/environments.ts or pass -c alertEmails=<address>[,<address>...]).',
    ]);
    expect(fs.readdirSync(result.outdir)).toEqual([]);
  });

  test('synthesizes prod for the account and region of -c account= / -c region=, never the credentials’, looking nothing up in AWS', () => {
    const result = runApp(
      { env: 'prod', account: '123456789012', region: 'us-east-1', alertEmails: 'data-oncall@example.com' },
      { CDK_DEFAULT_ACCOUNT: '111122223333', CDK_DEFAULT_REGION: 'eu-west-1' },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(result.outdir, 'manifest.json'), 'utf8'));
    const environments = Object.values(manifest.artifacts as Record<string, { type: string; environment?: string }>)
      .filter((a) => a.type === 'aws:cloudformation:stack')
      .map((a) => a.environment);
    expect(environments).toEqual(Array(7).fill('aws://123456789012/us-east-1'));
    // A context lookup would appear as "missing" context for the CLI to fetch from the account.
    expect(manifest.missing).toBeUndefined();
    const foundation = JSON.parse(fs.readFileSync(path.join(result.outdir, 'Foundation.template.json'), 'utf8'));
    const subnets = Object.values(foundation.Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(3);
    // The alert address of -c alertEmails= is subscribed to the alerts topic.
    const subscriptions = Object.values(foundation.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>)
      .filter((r) => r.Type === 'AWS::SNS::Subscription')
      .map((r) => [r.Properties.Protocol, r.Properties.Endpoint]);
    expect(subscriptions).toEqual([['email', 'data-oncall@example.com']]);
  });
});
