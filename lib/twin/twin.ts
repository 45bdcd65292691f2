/**
 * The local twin of one environment: the pipeline as the synthesized templates deploy it, run
 * on this machine. Every fact comes from the cloud assembly: the buckets (local directories),
 * the catalog tables (a local catalog with the templates' locations and columns), the source
 * database (a real MariaDB on the port the RDS instance declares, set up by the project's own
 * custom-resource handler), the Firehose delivery (its prefixes and JQ query), the Glue jobs
 * (their script assets, resolved arguments, connections and roles) and the Step Functions
 * workflow (interpreted). Afterwards it checks the lake from the catalog, as Athena would
 * read it, against the source, checks that every object a job wrote lies where a catalog table
 * reads it, and evaluates every recorded access against the IAM policies of the templates.
 */
import { execFile, execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { TwinAssembly, type TwinEnvironment } from './assembly';
import { deliver, deliveryStream } from './firehose';
import { catalogTables, catalogViews, GlueTwin, usesIceberg, type CatalogTable, type CatalogView, type JobRun, type TwinSecret } from './glue';
import { startMariaDb, type MariaDbServer } from './mariadb';
import { BAD_SOURCE_ROWS, clickScenario, type ClickScenario } from './scenario';
import { deniedAccesses, evaluateAccesses, formatDenial, parseAccessRecords, type AccessRecord, type Denial } from './permissions';
import { generateSampleData, loadSampleData } from '../source/sample-data';
import { adminConnection, generateSecretFromTemplate, setUpSourceDatabase, type SourceSetupResourceProperties } from './source-database';
import { QuickSightTwin } from './quicksight';
import { runStateMachine, type ExecutionResult, type TaskHandler } from './workflow';

const ROOT = path.resolve(__dirname, '..', '..');
const LAKE_SCRIPT = path.join(ROOT, 'glue-scripts', 'local', 'twin', 'lake.py');
/** The account the twin stands in for when the assembly is account-agnostic: AWS's documentation example. */
export const TWIN_ACCOUNT = '123456789012';

/** Options of {@link runTwin}. */
export interface TwinOptions {
  /** The environment (`-c env=`). */
  readonly env: string;
  /**
   * More context for the synth, as `-c key=value` pairs: staging and prod need their deploy
   * target (`account`, `region`, and in prod `alertEmails`).
   * @default - none (enough for dev)
   */
  readonly context?: Readonly<Record<string, string>>;
  /** The twin's working directory (created; its previous content is removed). */
  readonly work: string;
  /** Scale of the source sample rows and of the click events (1 = 122 customers, 1000 clicks). */
  readonly scale: number;
  /** The Python of the project's venv (with pyspark); see scripts/python-env.sh. */
  readonly python: string;
  /**
   * An existing cloud assembly to run instead of synthesizing one (a test may have edited it).
   * @default - `npx cdk synth -c env=<env> [-c key=value ...]` into `<work>/cdk.out`
   */
  readonly assemblyDir?: string;
  /** Progress lines. @default - none */
  readonly log?: (line: string) => void;
  /** Factor on the workflow's Retry intervals. @default 1 */
  readonly delayScale?: number;
  /**
   * Stops the workflow once this state has succeeded (e.g. `RunSourceExtract`), to try one job
   * quickly. The checks of the lake, which are of a whole run, are then skipped; the checks of
   * the recorded accesses (allowed, and written where a table reads) still run.
   * @default - the whole workflow
   */
  readonly until?: string;
}

/** The lake as the twin's catalog reads it (from glue-scripts/local/twin/lake.py). */
export interface LakeReport {
  readonly counts: Record<string, number>;
  readonly revenue: string | null;
  readonly quarantine: Record<string, Record<string, unknown>[]>;
  /** Each Athena view (`<database>.<name>`) as run on the twin's lake: its rows and its columns' Presto types. */
  readonly views: Record<string, { rows: number; columns: { name: string; type: string }[] }>;
}

/** What a twin run did and found. */
export interface TwinResult {
  readonly assembly: TwinAssembly;
  readonly execution: ExecutionResult;
  readonly runs: readonly JobRun[];
  readonly lake?: LakeReport;
  /** Every check that failed, one sentence each; empty when the run is as the design promises. */
  readonly problems: readonly string[];
  /** The source's row counts (after the injected rows) and its revenue. */
  readonly source: SourceFacts;
  readonly clicks: ClickScenario;
  /** Every S3 request and catalog call the jobs made, as recorded, and those their policies deny. */
  readonly accesses: readonly AccessRecord[];
  readonly denials: readonly Denial[];
}

/**
 * Row counts per source table and the revenue of all order lines, read from the source
 * database. No injected bad row is an order line, so every order line reaches the gold fact.
 */
export interface SourceFacts {
  readonly rows: Record<string, number>;
  readonly revenue: string;
}

/**
 * Synthesizes the environment's cloud assembly into `dir` with the project's CDK CLI, passing
 * `context` on as `-c key=value` pairs (staging and prod need `account`, `region`, prod `alertEmails`).
 */
export function synthesize(env: string, dir: string, context: Readonly<Record<string, string>> = {}): void {
  const pairs = Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '-q', '-c', `env=${env}`, ...pairs, '-o', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
  });
}

/** The account and region of the assembly's stacks (`aws://<account>/<region>`). */
export function assemblyEnvironment(dir: string): TwinEnvironment {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; environment?: string }>;
  };
  const environments = new Set(
    Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack').map((a) => a.environment),
  );
  if (environments.size !== 1) {
    throw new Error(`The twin runs one environment; the assembly has ${[...environments].join(', ')}.`);
  }
  const match = /^aws:\/\/([^/]+)\/([^/]+)$/.exec([...environments][0] ?? '');
  if (!match || match[2] === 'unknown-region') {
    throw new Error('The assembly has no region: the twin needs the region the environment config pins.');
  }
  const account = /^\d{12}$/.test(match[1]) ? match[1] : TWIN_ACCOUNT;
  return { account, region: match[2], partition: match[2].startsWith('cn-') ? 'aws-cn' : 'aws' };
}

/** Runs the whole twin; never throws for a failed check (see `problems`), only for a twin that cannot start. */
export async function runTwin(options: TwinOptions): Promise<TwinResult> {
  const log = options.log ?? (() => undefined);
  const work = path.resolve(options.work);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });

  const assemblyDir = options.assemblyDir ?? path.join(work, 'cdk.out');
  if (!options.assemblyDir) {
    log(`synthesizing ${options.env} into ${assemblyDir}`);
    synthesize(options.env, assemblyDir, options.context);
  }
  // The database endpoint resolves to the twin's server, which listens on the port the instance declares.
  const assembly = TwinAssembly.load(assemblyDir, assemblyEnvironment(assemblyDir), {
    'AWS::RDS::DBInstance': { 'Endpoint.Address': '127.0.0.1' },
  });
  const database = assembly.resourcesOfType('AWS::RDS::DBInstance');
  if (database.length !== 1) {
    throw new Error(`The twin expects one source database instance in the assembly; found ${database.length}.`);
  }
  const port = Number((database[0].properties as { Port?: string }).Port);

  const s3Root = path.join(work, 's3');
  for (const bucket of assembly.resourcesOfType('AWS::S3::Bucket')) {
    fs.mkdirSync(path.join(s3Root, bucket.ref), { recursive: true });
  }

  // The catalog's Iceberg tables (a Spark process) are created while the source database starts
  // and is set up; the workflow starts when both are ready, as on AWS once every resource is
  // created. A run that stops early (`until`) creates them only before the first job run that uses
  // Iceberg (`--datalake-formats`), if it gets that far: the extract alone never reads them.
  const tables = catalogTables(assembly);
  const lakeSpec = path.join(work, 'lake-spec.json');
  fs.writeFileSync(lakeSpec, JSON.stringify({ work, ...assembly.env, tables, views: catalogViews(assembly) }, null, 1));
  let lakeCreated: Promise<void> | undefined;
  const createLake = (): Promise<void> => {
    if (!lakeCreated) {
      log(`creating ${tables.filter((t) => t.format === 'iceberg').length} Iceberg tables of the templates in the twin's catalog`);
      lakeCreated = runPython(options.python, [LAKE_SCRIPT, 'create', '--spec', lakeSpec]);
      // Awaited (and before returning or throwing); this only keeps an early failure from being unhandled meanwhile.
      lakeCreated.catch(() => undefined);
    }
    return lakeCreated;
  };
  if (options.until === undefined) {
    void createLake();
  }

  log(`starting the source database (MariaDB) on 127.0.0.1:${port}`);
  const server = await startMariaDb(path.join(work, 'mysql'), port).catch(async (error: unknown) => {
    await lakeCreated?.catch(() => undefined);
    throw error;
  });
  try {
    const secrets = twinSecrets(assembly, server);
    const setup = assembly.resourcesOfType('Custom::SourceDatabaseSetup');
    if (setup.length !== 1) {
      throw new Error(`The twin expects one Custom::SourceDatabaseSetup in the assembly; found ${setup.length}.`);
    }
    log('setting up the source schema with the project\'s custom-resource handler');
    await setUpSourceDatabase(server, {
      resourceProperties: setup[0].properties as unknown as SourceSetupResourceProperties,
      secrets: Object.fromEntries(secrets),
      sampleDataScale: options.scale,
      logicalResourceId: setup[0].logicalId,
    });
    const setupProps = setup[0].properties as { Database: string; LoadSampleData: string };
    const source = await loadInjectAndMeasure(server, setupProps.Database, setupProps.LoadSampleData === 'true' ? undefined : options.scale);
    if (setupProps.LoadSampleData !== 'true') {
      log(`${options.env} loads no sample rows (LoadSampleData ${setupProps.LoadSampleData}): the twin inserted them, as the business's application would`);
    }

    await lakeCreated;

    const clicks = clickScenario(Math.max(10, Math.round(1000 * options.scale)), new Date(Date.now() - 2 * 3600_000));
    const delivery = deliver(deliveryStream(assembly), clicks.records, new Date(), s3Root);
    log(`Firehose delivered ${delivery.delivered} click records (${delivery.failed} to its error prefix)`);

    const machines = assembly.resourcesOfType('AWS::StepFunctions::StateMachine');
    if (machines.length !== 1) {
      throw new Error(`The twin expects one state machine in the assembly; found ${machines.length}.`);
    }
    const glue = new GlueTwin({
      assembly,
      work,
      python: options.python,
      secrets,
      caFile: server.caFile,
      log: (line) => log(`  ${line}`),
      beforeRun: async (job) => (usesIceberg(job) ? createLake() : undefined),
    });
    const quickSight = new QuickSightTwin(assembly);
    const tasks: TaskHandler = (resource, parameters, context) =>
      quickSight.handles(resource) ? quickSight.tasks(resource, parameters, context) : glue.tasks(resource, parameters, context);
    log(`running the workflow ${machines[0].ref}`);
    const execution = await runStateMachine(JSON.parse(String(machines[0].properties.DefinitionString)), {}, tasks, {
      executionId: `${machines[0].ref}:twin-${crypto.randomBytes(4).toString('hex')}`,
      delayScale: options.delayScale,
      stopAfter: options.until,
    });
    // A lake that could not be created is a twin that cannot run, whichever job asked for it.
    await lakeCreated;
    for (const run of glue.runs) {
      log(`  ${run.jobName} ${run.status} in ${run.seconds.toFixed(1)} s${run.error ? `: ${run.error}` : ''}`);
    }

    for (const ingestion of quickSight.ingestions) {
      log(`  QuickSight: ${ingestion.ingestionType} import ${ingestion.ingestionId} of ${ingestion.dataSetId} requested`);
    }
    const problems: string[] = [];
    // A run that succeeded asked for one import of every dashboard dataset (where QuickSight is on).
    const imported = quickSight.ingestions.map((i) => i.dataSetId).sort();
    if (execution.status === 'SUCCEEDED' && JSON.stringify(imported) !== JSON.stringify([...quickSight.dataSetIds].sort())) {
      problems.push(`the workflow asked QuickSight to import ${imported.join(', ') || 'no dataset'}; the assembly's datasets are ${quickSight.dataSetIds.join(', ')}`);
    }
    if (execution.status === 'FAILED') {
      // The Fail state's cause is generic; the failure notification carries the job's error.
      const notified = glue.notifications.map((n) => JSON.stringify(n.message)).join('; ');
      problems.push(`the workflow failed: ${execution.error}: ${execution.cause}${notified ? `; the alerts topic was sent ${notified}` : ''}`);
    }
    let lake: LakeReport | undefined;
    if (execution.status === 'ABORTED') {
      log(`stopped after ${options.until}: the checks of the lake, which are of a whole run, are skipped`);
    } else {
      log('reading the lake through the catalog tables');
      const reportFile = path.join(work, 'lake-report.json');
      execFileSync(options.python, [LAKE_SCRIPT, 'verify', '--spec', lakeSpec, '--out', reportFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      lake = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as LakeReport;
      problems.push(...checkLake(assembly, lake, source, clicks));
    }

    const accesses = jobAccesses(work);
    problems.push(...strayWrites(tables, accesses));
    const denials = deniedAccesses(await evaluateAccesses(assembly, accesses));
    log(`evaluated ${accesses.length} recorded accesses of the jobs against the templates' IAM policies: ${denials.length} denied`);
    problems.push(...denials.map(formatDenial));
    return { assembly, execution, runs: glue.runs, lake, problems, source, clicks, accesses, denials };
  } finally {
    await lakeCreated?.catch(() => undefined);
    await server.stop();
  }
}

/** Runs a Python script of the twin to its end; rejects with its standard error when it fails. */
function runPython(python: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(python, [...args], { maxBuffer: 64 * 1024 * 1024 }, (error) => (error ? reject(error) : resolve()));
  });
}

/** The accesses recorded for the jobs' roles (the twin's own setup and reads are recorded for `twin:` principals). */
export function jobAccesses(work: string): AccessRecord[] {
  const dir = path.join(work, 'access');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort() : [];
  return files
    .flatMap((file) => parseAccessRecords(fs.readFileSync(path.join(dir, file), 'utf8')))
    .filter((record) => !record.principal.startsWith('twin:'));
}

const FOLDER_MARKER = '_$folder$';

/**
 * The objects the jobs wrote where no catalog table reads them: every object a job puts must lie
 * under the location of a table of the templates, or be the `_$folder$` marker of a directory
 * above one. One sentence per role, with the first such object.
 */
export function strayWrites(tables: readonly Pick<CatalogTable, 'location'>[], accesses: readonly AccessRecord[]): string[] {
  const locations = tables.map((t) => t.location.replace(/^s3:\/\//, '').replace(/\/?$/, '/'));
  const read = (object: string): boolean =>
    locations.some((location) => object.startsWith(location)) ||
    (object.endsWith(FOLDER_MARKER) && locations.some((location) => location.startsWith(`${object.slice(0, -FOLDER_MARKER.length)}/`)));
  const stray = new Map<string, Set<string>>();
  for (const access of accesses.filter((a) => a.action === 's3:PutObject')) {
    const object = access.resource.replace(/^arn:[^:]+:s3:::/, '');
    if (!read(object)) {
      stray.set(access.principal, (stray.get(access.principal) ?? new Set<string>()).add(object));
    }
  }
  return [...stray].map(([principal, objects]) => {
    const first = [...objects].sort()[0];
    return `${principal.split('/').pop()} wrote ${objects.size} object(s) under no catalog table's location, where nothing reads them, such as s3://${first}`;
  });
}

/** The twin's Secrets Manager: generated values for the templates' secrets; the RDS-managed admin secret is the server's admin. */
function twinSecrets(assembly: TwinAssembly, server: MariaDbServer): Map<string, TwinSecret> {
  const secrets = new Map<string, TwinSecret>();
  for (const secret of assembly.resourcesOfType('AWS::SecretsManager::Secret')) {
    const generate = secret.properties.GenerateSecretString as Parameters<typeof generateSecretFromTemplate>[0] | undefined;
    if (generate) {
      secrets.set(secret.ref, JSON.parse(generateSecretFromTemplate(generate)) as TwinSecret);
    }
  }
  for (const instance of assembly.resourcesOfType('AWS::RDS::DBInstance')) {
    const adminArn = assembly.resolveAttribute(instance, 'MasterUserSecret.SecretArn');
    secrets.set(adminArn, { username: server.adminUser, password: server.adminPassword });
  }
  return secrets;
}

/**
 * Loads the sample rows when the environment's setup did not (`sampleScale`), inserts the bad
 * rows, then reads what the source holds: rows per table and the order lines' revenue.
 */
async function loadInjectAndMeasure(server: MariaDbServer, database: string, sampleScale: number | undefined): Promise<SourceFacts> {
  const db = await adminConnection(server, database);
  try {
    if (sampleScale !== undefined) {
      await loadSampleData(db, generateSampleData({ scale: sampleScale }));
    }
    for (const row of BAD_SOURCE_ROWS) {
      for (const statement of row.statements) {
        await db.query(statement);
      }
    }
    const tables = (await db.query(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name <> 'schema_migrations'",
      [database],
    )) as { name: string }[];
    const rows: Record<string, number> = {};
    for (const { name } of tables) {
      const [count] = (await db.query(`SELECT COUNT(*) AS n FROM \`${name}\``)) as { n: number }[];
      rows[name] = Number(count.n);
    }
    const [revenue] = (await db.query('SELECT CAST(SUM(quantity_ordered * price_each) AS CHAR) AS total FROM order_lines')) as { total: string }[];
    return { rows, revenue: revenue.total };
  } finally {
    await db.end();
  }
}

/** The checks of the lake against the source and the injected rows; one sentence per failure. */
export function checkLake(assembly: TwinAssembly, lake: LakeReport, source: SourceFacts, clicks: ClickScenario): string[] {
  const problems: string[] = [];
  const database = (zone: string): string => {
    const found = assembly.resourcesOfType('AWS::Glue::Database').map((d) => d.ref).filter((name) => name.endsWith(`_${zone}`));
    if (found.length !== 1) {
      throw new Error(`The twin expects one ${zone} database in the assembly; found ${found.join(', ') || 'none'}.`);
    }
    return found[0];
  };
  const [raw, curated, quarantine, gold] = ['raw', 'curated', 'quarantine', 'gold'].map(database);
  const count = (table: string): number | undefined => lake.counts[table];

  for (const [table, rows] of Object.entries(source.rows)) {
    const bad = BAD_SOURCE_ROWS.filter((r) => r.table === table).length;
    if (count(`${raw}.source_${table}`) !== rows) {
      problems.push(`raw ${raw}.source_${table} holds ${count(`${raw}.source_${table}`)} rows; the source table has ${rows}`);
    }
    if (count(`${curated}.${table}`) !== rows - bad) {
      problems.push(`curated ${curated}.${table} holds ${count(`${curated}.${table}`)} rows; expected ${rows - bad} (the source's ${rows} less ${bad} quarantined)`);
    }
    const quarantined = lake.quarantine[table] ?? [];
    const expected = BAD_SOURCE_ROWS.filter((r) => r.table === table);
    const matched = expected.filter((bad) =>
      quarantined.some((row) => row.rule === bad.rule && matchesKey(row.record, bad.key)),
    );
    if (quarantined.length !== expected.length || matched.length !== expected.length) {
      problems.push(
        `quarantine ${quarantine}.${table} holds ${JSON.stringify(quarantined.map((r) => r.rule))}; expected exactly ${JSON.stringify(expected.map((r) => r.rule))}`,
      );
    }
  }

  const clickRows = count(`${curated}.clickstream_events`);
  if (clickRows !== clicks.valid) {
    problems.push(`curated ${curated}.clickstream_events holds ${clickRows} rows; expected the ${clicks.valid} distinct valid events`);
  }
  const expectedClickRules = clicks.bad.filter((b) => b.rule !== 'firehose').map((b) => b.rule).sort();
  const clickRules = (lake.quarantine.clickstream_events ?? []).map((r) => String(r.rule)).sort();
  if (JSON.stringify(clickRules) !== JSON.stringify(expectedClickRules)) {
    problems.push(`quarantine ${quarantine}.clickstream_events holds ${JSON.stringify(clickRules)}; expected exactly ${JSON.stringify(expectedClickRules)}`);
  }

  for (const [name, rows] of Object.entries(lake.counts).filter(([name]) => name.startsWith(`${gold}.`))) {
    if (rows === 0) {
      problems.push(`gold ${name} is empty`);
    }
  }
  problems.push(...checkViews(catalogViews(assembly), lake.views));
  const expectedRevenue = Number(source.revenue).toFixed(2);
  if (lake.revenue === null || Number(lake.revenue).toFixed(2) !== expectedRevenue) {
    problems.push(`gold revenue is ${lake.revenue}; the source's order lines add up to ${expectedRevenue}`);
  }
  return problems;
}

/**
 * The checks of the Athena views of the templates as run on the lake: each ran, gives the columns
 * and types its definition stores (else Athena would call it stale), and has rows.
 */
export function checkViews(views: readonly CatalogView[], ran: LakeReport['views']): string[] {
  return views.flatMap((view) => {
    const key = `${view.database}.${view.name}`;
    const result = ran[key];
    if (!result) {
      return [`view ${key} was not run`];
    }
    if (JSON.stringify(result.columns) !== JSON.stringify(view.columns)) {
      return [`view ${key} gives the columns ${JSON.stringify(result.columns)}; its definition stores ${JSON.stringify(view.columns)} (Athena would call it stale)`];
    }
    return result.rows === 0 ? [`view ${key} is empty`] : [];
  });
}

function matchesKey(record: unknown, key: Readonly<Record<string, string | number>>): boolean {
  const parsed = typeof record === 'string' ? (JSON.parse(record) as Record<string, unknown>) : (record as Record<string, unknown>);
  return Object.entries(key).every(([column, value]) => String(parsed?.[column]) === String(value));
}
