/**
 * produce-clickstream: send generated click events to the clickstream Kinesis data stream.
 *
 *   npx tsx bin/produce-clickstream.ts --stream <name> [--events 100] [--seed 1] ...
 *   npx tsx bin/produce-clickstream.ts --dry-run --events 5
 *
 * Events come from lib/ingestion/producer/click-events.ts and conform to
 * glue-scripts/lib/undercurrent_glue/schemas/clickstream_event.json. One record per event:
 * the JSON object alone (Firehose adds the newline between records), partition key =
 * session_id, so a session's events stay in order on one shard.
 *
 * The AWS SDK is loaded and the client created only when records are sent: --help and
 * --dry-run need no credentials. Exit codes: 0 done, 1 failed, 2 bad arguments.
 */
import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import {
  DatasetDeclaration,
  MAX_UTC_OFFSET_MINUTES,
  clickEventRecord,
  generateClickEvents,
  isIsoInstantWithOffset,
  loadDeclaration,
  validateEvent,
  type ClickEvent,
  type GenerateOptions,
} from '../lib/ingestion/producer/click-events';
import {
  PutRecordsError,
  RecordRejectedError,
  batchRecords,
  checkRecord,
  sendWithRetries,
  type PutRecordsFn,
  type SendOptions,
} from '../lib/ingestion/producer/batching';

const PROGRAM = 'produce-clickstream';
export const MAX_EVENTS = 1_000_000;
const MAX_SEED = 0xffffffff;

export const USAGE = `Usage: ${PROGRAM} --stream <name> [options]
       ${PROGRAM} --dry-run [options]

Send generated click events (schemas/clickstream_event.json) to a Kinesis data stream,
one record per event: the event's JSON, partition key session_id.

Options:
  --stream <name>        Kinesis data stream name (required unless --dry-run)
  --events <n>           number of events, 1 to ${MAX_EVENTS} (default 100)
  --seed <n>             PRNG seed, 0 to ${MAX_SEED} (default 1)
  --start <time>         ISO-8601 instant with Z or +hh:mm, e.g. 2025-03-01T09:00:00Z;
                         sessions start within a minute after it (default: now)
  --utc-offset <+hh:mm>  offset written in event_time, -14:00 to +14:00 (default +00:00);
                         a negative one as --utc-offset=-05:00
  --region <region>      AWS region (default: AWS_REGION or the AWS profile's region)
  --check                validate every event against the declaration first; send
                         nothing if one does not conform
  --dry-run              print the events as JSON lines on stdout; send nothing
                         (needs no AWS credentials)
  -h, --help             show this help

The same --seed and --start give the same events, event ids included, so re-sending a
run is harmless downstream (the curated zone deduplicates on event_id).
Exit codes: 0 done, 1 failed (the error says what was not sent), 2 bad arguments.
`;

/** Bad command-line arguments; main() prints the message on one line and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliOptions {
  /** Undefined only with dryRun. */
  readonly stream?: string;
  readonly events: number;
  readonly seed: number;
  readonly start: Date;
  readonly utcOffsetMinutes: number;
  /** Undefined: the SDK's default region chain. */
  readonly region?: string;
  readonly dryRun: boolean;
  readonly check: boolean;
}

export type ParsedArgs = { readonly help: true } | { readonly help: false; readonly options: CliOptions };

/**
 * The options, for `parseArgs` of node:util (strict: an unknown option, a positional argument
 * or a missing value is an error). The defaults are those of USAGE; `--start` defaults to now.
 */
const OPTIONS = {
  stream: { type: 'string' },
  events: { type: 'string', default: '100' },
  seed: { type: 'string', default: '1' },
  start: { type: 'string' },
  'utc-offset': { type: 'string', default: '+00:00' },
  region: { type: 'string' },
  check: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const START = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

function parseInteger(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${text}".`);
  }
  return value;
}

function parseStart(text: string): Date {
  const date = new Date(text);
  const year = date.getUTCFullYear();
  if (!START.test(text) || !isIsoInstantWithOffset(text) || Number.isNaN(date.getTime()) || year < 1970 || year > 8999) {
    throw new UsageError(
      `--start must be an ISO-8601 instant from 1970 with Z or a +hh:mm offset, e.g. 2025-03-01T09:00:00Z, got "${text}".`,
    );
  }
  return date;
}

function parseOffset(text: string): number {
  if (text === 'Z') return 0;
  const m = OFFSET.exec(text);
  const minutes = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : NaN;
  if (!m || Number(m[3]) > 59 || Math.abs(minutes) > MAX_UTC_OFFSET_MINUTES) {
    throw new UsageError(`--utc-offset must be Z or +hh:mm / -hh:mm from -14:00 to +14:00, got "${text}".`);
  }
  return minutes;
}

/** The first quoted text of a parseArgs error message: the option or argument it is about. */
function quoted(message: string): string | undefined {
  return /'([^']*)'/.exec(message)?.[1];
}

/**
 * A parseArgs error of node:util as a one-line UsageError in the words of this command
 * (parseArgs' own messages span lines and speak of "arguments"); others are rethrown.
 */
function usageErrorOf(error: unknown, argv: readonly string[]): UsageError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const about = quoted(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && about !== undefined) {
    return new UsageError(`unknown option "${about}".`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && about !== undefined) {
    return new UsageError(`unexpected argument "${about}"; options start with --.`);
  }
  // "Option '--x <value>' argument missing", "Option '--x' argument is ambiguous..." (the next
  // argument starts with "-"), "Option '--x' does not take an argument".
  const name = /--[A-Za-z][\w-]*/.exec(message)?.[0];
  const option = name === undefined ? undefined : (OPTIONS as Record<string, { type: string }>)[name.slice(2)];
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && name !== undefined && option !== undefined) {
    if (option.type === 'boolean') {
      const given = argv.find((arg) => arg.startsWith(`${name}=`));
      return new UsageError(given === undefined ? `${name} takes no value.` : `${name} takes no value, got "${given}".`);
    }
    const at = argv.findIndex((arg, i) => arg === name && (argv[i + 1] === undefined || argv[i + 1].startsWith('-')));
    const next = at < 0 ? undefined : argv[at + 1];
    if (next === undefined || next.startsWith('--')) {
      return new UsageError(`${name} needs a value.`);
    }
    return new UsageError(`${name} needs a value (a value starting with "-" is written ${name}=${next}).`);
  }
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    return new UsageError(`${message.split('\n')[0].replace(/\.$/, '')}.`);
  }
  throw error;
}

/**
 * Parse the command-line arguments (without the node and script paths) with parseArgs of
 * node:util, then check each value.
 *
 * @param now gives the default --start.
 * @throws UsageError with a one-line message naming the argument and what is allowed.
 */
export function parseArgs(argv: readonly string[], now: () => Date = () => new Date()): ParsedArgs {
  let parsed;
  try {
    parsed = parseNodeArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false, tokens: true });
  } catch (error) {
    throw usageErrorOf(error, argv);
  }
  // parseArgs keeps the last of a repeated option: refuse it instead, as it is likely a mistake.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once.`);
    seen.add(token.name);
  }
  const values = parsed.values;
  if (values.help) return { help: true };

  const dryRun = values['dry-run'];
  const stream = values.stream;
  if (stream !== undefined && !STREAM_NAME.test(stream)) {
    throw new UsageError(
      `--stream must be a Kinesis stream name (1 to 128 of a-z A-Z 0-9 _ . -), not an ARN, got "${stream}".`,
    );
  }
  if (stream === undefined && !dryRun) {
    throw new UsageError('--stream is required (or pass --dry-run to print the events instead).');
  }
  const region = values.region;
  if (region !== undefined && !REGION.test(region)) {
    throw new UsageError(`--region must be an AWS region such as eu-west-1, got "${region}".`);
  }
  return {
    help: false,
    options: {
      stream,
      events: parseInteger('--events', values.events, 1, MAX_EVENTS),
      seed: parseInteger('--seed', values.seed, 0, MAX_SEED),
      start: values.start === undefined ? now() : parseStart(values.start),
      utcOffsetMinutes: parseOffset(values['utc-offset']),
      region,
      dryRun,
      check: values.check,
    },
  };
}

/** A way to put records to one stream; close() releases the client. */
export interface KinesisConnection {
  readonly putRecords: PutRecordsFn;
  close(): void;
}

export interface CliDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now: () => Date;
  /** Called only when records are sent (not for --help, --dry-run or a failed --check). */
  readonly connect: (target: { readonly stream: string; readonly region?: string }) => Promise<KinesisConnection>;
  readonly sendOptions?: SendOptions;
  /** @default - the clickstream declaration in glue-scripts */
  readonly declarationPath?: string;
}

/** The real connection: the AWS SDK is imported and the client made only here. */
export async function connectKinesis(target: {
  readonly stream: string;
  readonly region?: string;
}): Promise<KinesisConnection> {
  const { KinesisClient, PutRecordsCommand } = await import('@aws-sdk/client-kinesis');
  const client = new KinesisClient(target.region === undefined ? {} : { region: target.region });
  // Resolve region and credentials now, so that a missing one is one clear error
  // before anything is sent rather than a failure of every record.
  try {
    await client.config.region();
  } catch {
    client.destroy();
    throw new Error('no AWS region: pass --region or set AWS_REGION (or a region in the AWS profile).');
  }
  try {
    await client.config.credentials();
  } catch (error) {
    client.destroy();
    throw new Error(`no AWS credentials: ${(error as Error).message}`);
  }
  return {
    putRecords: (entries) => client.send(new PutRecordsCommand({ StreamName: target.stream, Records: entries })),
    close: () => client.destroy(),
  };
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function reproduce(options: CliOptions): string {
  return `--seed ${options.seed} --start ${options.start.toISOString()}`;
}

/** Validate every event (as sent: the record's bytes, parsed back) and every record size. */
function checkAll(
  events: Iterable<ClickEvent>,
  declaration: DatasetDeclaration,
  stderr: (text: string) => void,
): number {
  let invalid = 0;
  for (const event of events) {
    const record = clickEventRecord(event);
    const problems = validateEvent(JSON.parse(Buffer.from(record.data).toString('utf8')), declaration).map(
      (p) => p.message,
    );
    try {
      checkRecord(record);
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (problems.length > 0) {
      invalid += 1;
      if (invalid <= 5) stderr(`${PROGRAM}: event ${event.event_id}: ${problems.join('; ')}\n`);
    }
  }
  return invalid;
}

function countSessions(): { readonly count: () => number; readonly see: (event: ClickEvent) => void } {
  let sessions = 0;
  let last = '';
  return {
    count: () => sessions,
    see: (event) => {
      if (event.session_id !== last) {
        sessions += 1;
        last = event.session_id;
      }
    },
  };
}

/**
 * Run the command. Never throws: errors are written to stderr.
 *
 * @returns the exit code: 0 done, 1 failed, 2 bad arguments.
 */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv, deps.now);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    deps.stderr(`${PROGRAM}: error: ${error.message} Run with --help for usage.\n`);
    return 2;
  }
  if (parsed.help) {
    deps.stdout(USAGE);
    return 0;
  }
  const options = parsed.options;

  let declaration: DatasetDeclaration;
  try {
    declaration = loadDeclaration(deps.declarationPath);
  } catch (error) {
    deps.stderr(`${PROGRAM}: error: ${(error as Error).message}\n`);
    return 1;
  }
  const generateOptions: GenerateOptions = {
    count: options.events,
    seed: options.seed,
    startTime: options.start,
    utcOffsetMinutes: options.utcOffsetMinutes,
  };
  const generate = (): Generator<ClickEvent> => generateClickEvents(generateOptions, declaration);
  const checked = options.check ? ', all checked against the declaration' : '';

  try {
    if (options.check) {
      // A first pass over the same (deterministic) events: nothing is sent if one fails.
      const invalid = checkAll(generate(), declaration, deps.stderr);
      if (invalid > 0) {
        deps.stderr(
          `${PROGRAM}: error: check failed: ${invalid} of ${options.events} events do not conform to ` +
            `the declaration "${declaration.name}"; nothing was sent.\n`,
        );
        return 1;
      }
    }
    if (options.dryRun) {
      const sessions = countSessions();
      let chunk = '';
      for (const event of generate()) {
        sessions.see(event);
        chunk += `${JSON.stringify(event)}\n`;
        if (chunk.length >= 65536) {
          deps.stdout(chunk);
          chunk = '';
        }
      }
      if (chunk.length > 0) deps.stdout(chunk);
      deps.stderr(
        `${PROGRAM}: dry run: printed ${plural(options.events, 'event')} ` +
          `(${plural(sessions.count(), 'session')})${checked}; nothing sent; ${reproduce(options)}\n`,
      );
      return 0;
    }
  } catch (error) {
    deps.stderr(`${PROGRAM}: error: ${(error as Error).message}\n`);
    return 1;
  }

  const stream = options.stream as string;
  let connection: KinesisConnection;
  try {
    connection = await deps.connect({ stream, region: options.region });
  } catch (error) {
    deps.stderr(`${PROGRAM}: error: cannot connect to Kinesis: ${(error as Error).message}\n`);
    return 1;
  }
  let sent = 0;
  let retried = 0;
  let calls = 0;
  let batches = 0;
  const sessions = countSessions();
  try {
    const records = (function* () {
      for (const event of generate()) {
        sessions.see(event);
        yield clickEventRecord(event);
      }
    })();
    for (const batch of batchRecords(records)) {
      batches += 1;
      const stats = await sendWithRetries(batch, connection.putRecords, deps.sendOptions);
      sent += stats.sent;
      retried += stats.retried;
      calls += stats.attempts;
    }
  } catch (error) {
    if (error instanceof PutRecordsError) {
      sent += error.stats.sent;
    }
    const known = error instanceof PutRecordsError || error instanceof RecordRejectedError;
    deps.stderr(
      `${PROGRAM}: error: ${known ? '' : 'sending failed: '}${(error as Error).message}\n` +
        `${PROGRAM}: sent ${sent} of ${options.events} events to stream "${stream}" before the failure; ` +
        `re-run with ${reproduce(options)} to send them again (the curated zone deduplicates on event_id).\n`,
    );
    return 1;
  } finally {
    connection.close();
  }
  deps.stdout(
    `${PROGRAM}: sent ${plural(sent, 'event')} (${plural(sessions.count(), 'session')}) to stream "${stream}" ` +
      `in ${plural(batches, 'batch', 'batches')}, ${plural(calls, 'PutRecords call')}, ` +
      `${plural(retried, 'record')} retried${checked}; ${reproduce(options)}\n`,
  );
  return 0;
}

function defaultDeps(): CliDeps {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // A closed pipe (e.g. `| head`) is not a failure of the producer.
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  return {
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr: (text) => {
      process.stderr.write(text);
    },
    now: () => new Date(),
    connect: connectKinesis,
  };
}

if (require.main === module) {
  main(process.argv.slice(2), defaultDeps()).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${PROGRAM}: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
