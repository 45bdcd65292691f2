#!/usr/bin/env node
/**
 * `npm run twin -- -c env=dev [-c key=value ...] [--scale N] [--workdir DIR] [--until STATE]`: runs
 * the local twin of an environment (lib/twin/twin.ts) and exits non-zero when any check fails;
 * `--until` stops the workflow after that state (such as RunSourceExtract) to try one job quickly.
 * Every other `-c key=value` goes to the synth as it is (staging and prod need `-c account=`,
 * `-c region=`, prod `-c alertEmails=`). scripts/twin.sh prepares the Python venv and the jars first.
 */
import * as path from 'path';
import { runTwin } from '../lib/twin/twin';

function parse(argv: readonly string[]): { env: string; context: Record<string, string>; scale: number; work: string; until?: string } {
  let env = 'dev';
  const context: Record<string, string> = {};
  let scale = 0.2;
  let work: string | undefined;
  let until: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) {
        throw new Error(`${arg} needs a value.`);
      }
      return next;
    };
    if (arg === '-c' || arg === '--context') {
      const pair = value();
      const at = pair.indexOf('=');
      const key = at > 0 ? pair.slice(0, at) : '';
      const v = at > 0 ? pair.slice(at + 1) : '';
      if (!key || !v) {
        throw new Error(`-c takes key=value (such as -c env=prod or -c account=123456789012); got -c ${pair}.`);
      }
      if (key === 'env') {
        env = v;
      } else {
        context[key] = v;
      }
    } else if (arg === '--scale') {
      scale = Number(value());
      if (!(scale > 0 && scale <= 10)) {
        throw new Error(`--scale must be a number greater than 0 and at most 10; got ${argv[i]}.`);
      }
    } else if (arg === '--workdir') {
      work = value();
    } else if (arg === '--until') {
      until = value();
    } else {
      throw new Error(`Unknown argument ${arg}; usage: npm run twin -- -c env=<name> [-c key=value ...] [--scale N] [--workdir DIR] [--until STATE]`);
    }
  }
  return { env, context, scale, work: work ?? path.join('.twin', env), until };
}

/** Progress and the summary go to standard output. */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  const { env, context, scale, work, until } = parse(process.argv.slice(2));
  const python = process.env.UNDERCURRENT_PYTHON ?? path.join(__dirname, '..', '.venv', 'bin', 'python');
  const started = Date.now();
  // Each progress line starts with the seconds since the start: the phases' times are the differences.
  const progress = (line: string): void => print(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  // The workflow's Retry intervals (minutes on AWS) are not slept locally; the retries still run.
  const result = await runTwin({ env, context, scale, work, python, log: progress, delayScale: 0, until });
  print(`\nTwin of ${env} at scale ${scale} in ${((Date.now() - started) / 1000).toFixed(0)} s (work directory ${work}):`);
  if (result.lake) {
    for (const [table, rows] of Object.entries(result.lake.counts).sort()) {
      print(`  ${table.padEnd(48)} ${rows}`);
    }
    print(`  gold revenue ${result.lake.revenue}; source revenue ${result.source.revenue}`);
  } else {
    print(`  the workflow stopped after ${until}: the lake was not read`);
  }
  if (result.problems.length > 0) {
    console.error(`\n${result.problems.length} check(s) failed:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  print('\nEvery check passed.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
