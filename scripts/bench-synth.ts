/**
 * Synthesis benchmark (a script, not a test): median wall time of synthesizing every stack
 * of an environment through bin/app.ts, against an empty CDK app through the same runner
 * (tsx) on the same machine, and their ratio.
 *
 *   npm run bench:synth -- [--runs N] [--env dev]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const runs = Number(option('runs', '5'));
const envName = option('env', 'dev');
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`--runs must be a positive integer, got ${option('runs', '')}`);
}
// staging and prod synthesize only with a pinned target (and prod an alert address): documentation values.
const target = envName === 'dev' ? {} : { account: '123456789012', region: 'us-east-1', alertEmails: 'ops@example.com' };
const context = { ...JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context, ...target, env: envName };

/** Wall time in ms of one synthesis of `entry`, as the CDK CLI would run it. */
function timeOnce(entry: string, extraEnv: Record<string, string> = {}): number {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  const start = process.hrtime.bigint();
  const result = spawnSync(TSX, [entry], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir, ...extraEnv },
  });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  fs.rmSync(outdir, { recursive: true, force: true });
  if (result.status !== 0) {
    throw new Error(`${entry} failed:\n${result.stderr}`);
  }
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function measure(label: string, entry: string, extraEnv: Record<string, string> = {}): number {
  timeOnce(entry, extraEnv); // warm the file cache and tsx's transform cache
  const samples = Array.from({ length: runs }, () => timeOnce(entry, extraEnv));
  const m = median(samples);
  console.log(`${label.padEnd(34)} median ${(m / 1000).toFixed(2)} s  (runs: ${samples.map((s) => (s / 1000).toFixed(2)).join(', ')})`);
  return m;
}

console.log(`synth benchmark: ${runs} runs each, env=${envName}, ${os.cpus().length} CPUs, node ${process.version}`);
const empty = measure('empty CDK app (scripts/empty-app.ts)', path.join(ROOT, 'scripts', 'empty-app.ts'));
const full = measure(`all stacks of ${envName} (bin/app.ts)`, path.join(ROOT, 'bin', 'app.ts'));
// Where the time goes: the same synth without aws-cdk-lib's built-in CloudFormation validator
// (the real synth keeps it on; this line only shows its share).
const noValidator = measure('  same, CDK_VALIDATION=false', path.join(ROOT, 'bin', 'app.ts'), { CDK_VALIDATION: 'false' });
const ratio = full / empty;
console.log(`ratio full/empty: ${ratio.toFixed(2)}x (target: within 2x) -> ${ratio <= 2 ? 'met' : 'NOT met'}`);
console.log(`ratio full without the CloudFormation validator/empty: ${(noValidator / empty).toFixed(2)}x`);
