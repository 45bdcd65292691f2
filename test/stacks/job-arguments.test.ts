import { readFileSync } from 'fs';
import * as path from 'path';
import { CfnElement } from 'aws-cdk-lib';
import { GlueSparkJob, ICEBERG_CATALOG } from '../../lib/transform/glue-spark-job';
import { GLUE_SCRIPTS_DIR } from '../../lib/lake/datasets';
import { Platform } from '../../lib/app';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';

/**
 * The contract between each Glue job in the stacks and its PySpark entrypoint: every argument
 * the script requires (`JOB_ARGUMENTS`, resolved with getResolvedOptions, which fails on an
 * absent one) is passed by the stack, and every argument the stack passes that is not Glue's
 * own is one the script reads (required or `OPTIONAL_ARGUMENTS`), so a renamed argument on
 * either side fails here instead of at the first run in AWS.
 */

/** Arguments Glue itself reads (job parameters, not the script's). */
const GLUE_OWN = /^--(enable-|job-|custom-logGroup-prefix$|datalake-formats$|conf$|extra-py-files$|TempDir$)/;
/** Arguments Glue passes to every run, not defaults of the job. */
const GLUE_PASSED = ['JOB_NAME'];

/** The names in a Python list assigned to `name` in a job script, resolving `NAME` constants defined in it or in the package. */
function pythonList(script: string, name: string): string[] {
  const source = readFileSync(path.join(GLUE_SCRIPTS_DIR, script), 'utf8');
  const match = new RegExp(`^${name} = \\[([^\\]]*)\\]`, 'm').exec(source);
  if (!match) {
    return [];
  }
  const packageSource = [
    source,
    ...['ingest_dates', 'gold'].map((m) => readFileSync(path.join(GLUE_SCRIPTS_DIR, 'lib', 'undercurrent_glue', `${m}.py`), 'utf8')),
  ].join('\n');
  return match[1]
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item)
    .map((item) => {
      const literal = /^"([^"]+)"$/.exec(item);
      if (literal) {
        return literal[1];
      }
      const constant = new RegExp(`^${item} = "([^"]+)"`, 'm').exec(packageSource);
      if (!constant) {
        throw new Error(`${script}: cannot resolve ${item} in ${name}`);
      }
      return constant[1];
    });
}

function jobsOf(platform: SynthesizedPlatform): [keyof Platform, GlueSparkJob][] {
  return STACK_KEYS.flatMap((key) =>
    platform[key].node
      .findAll()
      .filter((c): c is GlueSparkJob => c instanceof GlueSparkJob)
      .map((job) => [key, job] as [keyof Platform, GlueSparkJob]),
  );
}

describe.each(['dev', 'prod'] as const)('Glue job arguments agree with the scripts in %s', (envName) => {
  const platform = synthPlatform(envName);
  const jobs = jobsOf(platform);

  test('every job of the platform is checked', () => {
    expect(jobs.map(([, j]) => j.node.id).sort()).toEqual(['ClickstreamToCurated', 'CuratedToGold', 'SourceExtract', 'SourceToCurated']);
  });

  test.each(jobs.map(([key, job]) => [job.node.id, key, job] as const))('%s', (_id, key, job) => {
    const required = pythonList(job.script, 'JOB_ARGUMENTS').filter((a) => !GLUE_PASSED.includes(a));
    const optional = pythonList(job.script, 'OPTIONAL_ARGUMENTS');
    expect(required.length).toBeGreaterThan(0);
    const logicalId = platform[key].getLogicalId(job.job.node.defaultChild as CfnElement);
    const cfnJob = platform.template(key).toJSON().Resources[logicalId];
    expect(cfnJob.Type).toBe('AWS::Glue::Job');
    const passed = Object.keys(cfnJob.Properties.DefaultArguments as Record<string, string>)
      .filter((name) => !GLUE_OWN.test(name))
      .map((name) => name.slice(2));
    expect(passed.filter((name) => !required.includes(name) && !optional.includes(name))).toEqual([]);
    expect(required.filter((name) => !passed.includes(name))).toEqual([]);
  });
});

test('the gold job reads its Iceberg tables through the catalog name the stack configures', () => {
  const script = readFileSync(path.join(GLUE_SCRIPTS_DIR, 'jobs', 'curated_to_gold.py'), 'utf8');
  // Agreement of two implementations: the script's ICEBERG_CATALOG and the stack's (the --conf chain of transform-jobs.test.ts spells it out).
  expect(/^ICEBERG_CATALOG = "([^"]+)"/m.exec(script)?.[1]).toBe(ICEBERG_CATALOG);
});
