/**
 * The twin's stand-in for the AWS Glue service: a job run of an `AWS::Glue::Job` of the
 * templates becomes one local process (`glue-scripts/local/twin/run_job.py`, a fresh JVM as on
 * Glue) that runs the job's script asset with its resolved DefaultArguments, its role as the
 * principal of every recorded access, and its connections mapped to the twin's servers.
 * It also reads the templates' catalog tables for the twin's local catalog.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { TwinAssembly, TwinResource } from './assembly';
import { StatesError, type TaskHandler } from './workflow';

/** Credentials of a secret, as the twin's stand-in for Secrets Manager holds them. */
export interface TwinSecret {
  readonly username: string;
  readonly password: string;
}

/** The Glue connection a job run gets (what `useConnectionProperties` reads on Glue). */
export interface ConnectionSpec {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly enforceSsl: boolean;
  readonly caFile?: string;
}

/** Everything the Glue stand-in needs. */
export interface GlueTwinOptions {
  readonly assembly: TwinAssembly;
  /** The twin's working directory (`s3/`, `catalog/`, `runs/`, `logs/`, `access/`...). */
  readonly work: string;
  /** The Python of the project's venv. */
  readonly python: string;
  /** Secrets by ARN (the twin's Secrets Manager). */
  readonly secrets: ReadonlyMap<string, TwinSecret>;
  /** The CA that TLS connections to the twin's database servers verify against. */
  readonly caFile?: string;
  /** Lines of the jobs' output go here. @default - nowhere (they are in `<work>/logs/`) */
  readonly log?: (line: string) => void;
  /**
   * Awaited before each job run starts, with the job's definition (e.g. to create what the job
   * needs first); a rejection fails the task. @default - nothing
   */
  readonly beforeRun?: (job: TwinResource) => Promise<void>;
}

/** One finished job run. */
export interface JobRun {
  readonly jobName: string;
  readonly runId: string;
  readonly principal: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMEOUT';
  readonly error?: string;
  readonly seconds: number;
}

const RUN_JOB = path.join(__dirname, '..', '..', 'glue-scripts', 'local', 'twin', 'run_job.py');
const GLUE_SYNC = /^arn:[^:]+:states:::glue:startJobRun\.sync$/;
const SNS_PUBLISH = /^arn:[^:]+:states:::sns:publish$/;

/** Reads what a job definition promises and refuses what the twin (or a `.sync` workflow) cannot honour. */
export function jobDefinition(assembly: TwinAssembly, jobName: string): TwinResource {
  const job = assembly.resourceByRef('AWS::Glue::Job', jobName);
  const props = job.properties as { Command?: { Name?: string; PythonVersion?: string }; GlueVersion?: string; MaxRetries?: number };
  if (props.Command?.Name !== 'glueetl' || props.GlueVersion !== '5.0') {
    throw new StatesError(
      'Twin.Unsupported',
      `job ${jobName} is ${props.Command?.Name} on Glue ${props.GlueVersion}; the twin runs glueetl on Glue 5.0 (Spark 3.5, Python 3.11) only`,
    );
  }
  if ((props.MaxRetries ?? 0) !== 0) {
    throw new StatesError(
      'Twin.JobRetriesOutsideWorkflow',
      `job ${jobName} has MaxRetries ${props.MaxRetries}: a Glue retry is a new job run that a startJobRun.sync task does not follow ` +
        '(the workflow fails and alerts while the retry runs on, out of order); retry in the state machine and keep MaxRetries 0',
    );
  }
  return job;
}

/** Whether a Glue job uses Iceberg (`--datalake-formats` names it, as Glue requires). */
export function usesIceberg(job: TwinResource): boolean {
  const formats = (job.properties as { DefaultArguments?: Record<string, unknown> }).DefaultArguments?.['--datalake-formats'];
  return String(formats ?? '').split(',').map((f) => f.trim()).includes('iceberg');
}

/** The Glue stand-in: runs job runs, and handles the workflow's Glue and SNS tasks. */
export class GlueTwin {
  readonly runs: JobRun[] = [];
  readonly notifications: { topicArn: string; subject?: string; message: unknown }[] = [];
  private readonly running = new Map<string, number>();

  constructor(private readonly options: GlueTwinOptions) {}

  /** The Task handler of the state machine interpreter. */
  readonly tasks: TaskHandler = async (resource, parameters) => {
    if (GLUE_SYNC.test(resource)) {
      const run = await this.startJobRun(String(parameters.JobName), (parameters.Arguments ?? {}) as Record<string, string>);
      if (run.status !== 'SUCCEEDED') {
        throw new StatesError(
          'States.TaskFailed',
          JSON.stringify({ JobName: run.jobName, Id: run.runId, JobRunState: run.status === 'TIMEOUT' ? 'TIMEOUT' : 'FAILED', ErrorMessage: run.error }),
        );
      }
      return { JobName: run.jobName, Id: run.runId, JobRunState: 'SUCCEEDED' };
    }
    if (SNS_PUBLISH.test(resource)) {
      this.notifications.push({ topicArn: String(parameters.TopicArn), subject: parameters.Subject as string | undefined, message: parameters.Message });
      return { MessageId: crypto.randomUUID() };
    }
    throw new StatesError('Twin.Unsupported', `task resource ${resource} is not modelled by the twin`);
  };

  /** Runs one job run to its end (`startJobRun` and waiting for it, as the `.sync` integration does). */
  async startJobRun(jobName: string, runArguments: Record<string, string> = {}): Promise<JobRun> {
    const { assembly, work } = this.options;
    const job = jobDefinition(assembly, jobName);
    const props = job.properties as {
      Command: { ScriptLocation: string };
      DefaultArguments?: Record<string, string>;
      Connections?: { Connections?: string[] };
      ExecutionProperty?: { MaxConcurrentRuns?: number };
      Role: string;
      Timeout?: number;
    };
    // Before the concurrency check, so that nothing is awaited between the check and the count.
    await this.options.beforeRun?.(job);
    const concurrent = this.running.get(jobName) ?? 0;
    if (concurrent >= (props.ExecutionProperty?.MaxConcurrentRuns ?? 1)) {
      throw new StatesError('Glue.ConcurrentRunsExceededException', `job ${jobName} already has ${concurrent} run(s) in progress`);
    }
    const args = { ...(props.DefaultArguments ?? {}), ...runArguments };
    const extra = (args['--extra-py-files'] ?? '').split(',').filter((url) => url !== '');
    const runId = `jr_${crypto.randomBytes(16).toString('hex')}`;
    const spec = {
      work,
      jobName,
      runId,
      script: assembly.asset(props.Command.ScriptLocation).path,
      extraPyFiles: extra.map((url) => assembly.asset(url).path),
      arguments: args,
      principal: props.Role,
      connections: Object.fromEntries((props.Connections?.Connections ?? []).map((name) => [name, this.connection(name)])),
      account: assembly.env.account,
      region: assembly.env.region,
      partition: assembly.env.partition,
    };
    for (const dir of ['runs', 'logs', 'specs']) {
      fs.mkdirSync(path.join(work, dir), { recursive: true });
    }
    const specFile = path.join(work, 'specs', `${runId}.json`);
    fs.writeFileSync(specFile, JSON.stringify(spec, null, 1), { mode: 0o600 });

    this.running.set(jobName, concurrent + 1);
    const started = Date.now();
    let status: JobRun['status'];
    let error: string | undefined;
    try {
      const exit = await this.runProcess(runId, specFile, (props.Timeout ?? 2880) * 60);
      const result = readRunResult(path.join(work, 'runs', `${runId}.json`));
      if (exit === 'timeout') {
        status = 'TIMEOUT';
        error = `the run exceeded the job's Timeout of ${props.Timeout} minutes`;
      } else if (exit === 0 && result?.status === 'SUCCEEDED') {
        status = 'SUCCEEDED';
      } else {
        status = 'FAILED';
        error = result?.error ?? `the job process exited with ${exit}; see ${path.join(work, 'logs', `${runId}.log`)}`;
      }
    } finally {
      this.running.set(jobName, (this.running.get(jobName) ?? 1) - 1);
    }
    const run: JobRun = { jobName, runId, principal: props.Role, status, error, seconds: (Date.now() - started) / 1000 };
    this.runs.push(run);
    return run;
  }

  private connection(name: string): ConnectionSpec {
    const { assembly, secrets, caFile } = this.options;
    const resource = assembly.resourceByRef('AWS::Glue::Connection', name);
    const input = resource.properties.ConnectionInput as { ConnectionType: string; ConnectionProperties: Record<string, string> };
    if (input.ConnectionType !== 'JDBC') {
      throw new StatesError('Twin.Unsupported', `connection ${name} is of type ${input.ConnectionType}; the twin models JDBC connections only`);
    }
    const properties = input.ConnectionProperties;
    const secretId = properties.SECRET_ID;
    const secret = secretId ? secrets.get(secretId) : undefined;
    if (!secret) {
      throw new StatesError('Twin.MissingSecret', `connection ${name} reads secret ${secretId}, which the twin's Secrets Manager does not hold`);
    }
    const enforceSsl = properties.JDBC_ENFORCE_SSL === 'true';
    return { url: properties.JDBC_CONNECTION_URL, user: secret.username, password: secret.password, enforceSsl, caFile: enforceSsl ? caFile : undefined };
  }

  private runProcess(runId: string, specFile: string, timeoutSeconds: number): Promise<number | 'timeout'> {
    const logFile = path.join(this.options.work, 'logs', `${runId}.log`);
    const out = fs.openSync(logFile, 'a');
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.python, [RUN_JOB, '--spec', specFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
      const forward = (chunk: Buffer): void => {
        fs.writeSync(out, chunk);
        if (this.options.log) {
          for (const line of chunk.toString('utf8').split('\n').filter((l) => l.trim() !== '')) {
            this.options.log(line);
          }
        }
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutSeconds * 1000);
      child.on('error', (error) => {
        clearTimeout(timer);
        fs.closeSync(out);
        reject(error);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        fs.closeSync(out);
        resolve(timedOut ? 'timeout' : (code ?? 1));
      });
    });
  }
}

function readRunResult(file: string): { status: string; error?: string | null } | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { status: string; error?: string | null }) : undefined;
}

/** A catalog table of the templates, as the twin's catalog creates and reads it. */
export interface CatalogTable {
  readonly database: string;
  readonly name: string;
  readonly location: string;
  readonly format: 'iceberg' | 'parquet' | 'json';
  readonly columns: readonly { name: string; type: string }[];
  readonly partitionKeys: readonly { name: string; type: string }[];
  readonly parameters: Record<string, string>;
}

/**
 * Every `AWS::Glue::Table` of the assembly that holds data, with its format read from its
 * definition. The serving views (`TableType` `VIRTUAL_VIEW`) hold none and are left out: the
 * local pipeline runs their SQL on the gold it builds (glue-scripts/local/serving.py).
 */
export function catalogTables(assembly: TwinAssembly): CatalogTable[] {
  const dataTables = assembly.resourcesOfType('AWS::Glue::Table').filter((table) => (table.properties.TableInput as { TableType?: string }).TableType !== 'VIRTUAL_VIEW');
  return dataTables.map((table) => {
    const input = table.properties.TableInput as {
      Name: string;
      Parameters?: Record<string, string>;
      PartitionKeys?: { Name: string; Type: string }[];
      StorageDescriptor: { Location: string; Columns: { Name: string; Type: string }[]; SerdeInfo?: { SerializationLibrary?: string } };
    };
    const serde = input.StorageDescriptor.SerdeInfo?.SerializationLibrary ?? '';
    let format: CatalogTable['format'];
    if (table.properties.OpenTableFormatInput) {
      format = 'iceberg';
    } else if (/parquet/i.test(serde)) {
      format = 'parquet';
    } else if (/JsonSerDe/.test(serde)) {
      format = 'json';
    } else {
      throw new Error(`Catalog table ${input.Name} (${table.logicalId}) has SerDe ${serde || 'none'}, which the twin cannot read.`);
    }
    const columns = (list: { Name: string; Type: string }[] | undefined): { name: string; type: string }[] =>
      (list ?? []).map((c) => ({ name: c.Name, type: c.Type }));
    return {
      database: String(table.properties.DatabaseName),
      name: input.Name,
      location: input.StorageDescriptor.Location,
      format,
      columns: columns(input.StorageDescriptor.Columns),
      partitionKeys: columns(input.PartitionKeys),
      parameters: Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([k, v]) => [k, String(v)])),
    };
  });
}
