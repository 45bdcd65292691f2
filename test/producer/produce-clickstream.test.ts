import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import {
  CliDeps,
  KinesisConnection,
  USAGE,
  UsageError,
  main,
  parseArgs,
} from '../../bin/produce-clickstream';
import { PutRecordsEntry, PutRecordsResult } from '../../lib/ingestion/producer/batching';
import { CLICKSTREAM_DECLARATION_PATH, loadDeclaration, validateEvent } from '../../lib/ingestion/producer/click-events';

const NOW = new Date('2025-03-01T09:00:00.000Z');
const now = (): Date => NOW;
const ROOT = path.resolve(__dirname, '..', '..');

describe('parsing the command line', () => {
  test('the defaults: 100 events, seed 1, starting now, offset +00:00, the SDK region', () => {
    expect(parseArgs(['--stream', 'clicks'], now)).toEqual({
      help: false,
      options: {
        stream: 'clicks',
        events: 100,
        seed: 1,
        start: NOW,
        utcOffsetMinutes: 0,
        region: undefined,
        dryRun: false,
        check: false,
      },
    });
  });

  test('every option, in both the "--name value" and the "--name=value" forms', () => {
    const argv = [
      '--stream=undercurrent-dev-clicks',
      '--events',
      '1000000',
      '--seed=0',
      '--start',
      '2025-06-30T23:59:59.5+02:00',
      '--utc-offset=-05:30',
      '--region',
      'eu-west-1',
      '--check',
      '--dry-run',
    ];
    expect(parseArgs(argv, now)).toEqual({
      help: false,
      options: {
        stream: 'undercurrent-dev-clicks',
        events: 1_000_000,
        seed: 0,
        start: new Date('2025-06-30T21:59:59.500Z'),
        utcOffsetMinutes: -330,
        region: 'eu-west-1',
        dryRun: true,
        check: true,
      },
    });
  });

  test('a negative offset and a value that starts with "-" are given after "="', () => {
    const parsed = parseArgs(['--dry-run', '--utc-offset=-05:30', '--seed=7'], now);
    expect(parsed.help === false && [parsed.options.utcOffsetMinutes, parsed.options.seed]).toEqual([-330, 7]);
  });

  test('--dry-run needs no stream', () => {
    const parsed = parseArgs(['--dry-run'], now);
    expect(parsed.help === false && parsed.options.stream).toBeUndefined();
  });

  test.each([[['--help']], [['-h']], [['--stream', 'clicks', '--help']], [['--help', '--events', '0']]])(
    'help is asked with %j',
    (argv) => {
      expect(parseArgs(argv, now)).toEqual({ help: true });
    },
  );

  test.each([
    [[], '--stream is required (or pass --dry-run to print the events instead).'],
    [['--stream'], '--stream needs a value.'],
    [['--stream', '--dry-run'], '--stream needs a value.'],
    [['--stream', `arn:aws:kinesis:eu-west-1:${EXAMPLE_ACCOUNT}:stream/clicks`], `--stream must be a Kinesis stream name (1 to 128 of a-z A-Z 0-9 _ . -), not an ARN, got "arn:aws:kinesis:eu-west-1:${EXAMPLE_ACCOUNT}:stream/clicks".`],
    [['--dry-run', '--events', '0'], '--events must be an integer from 1 to 1000000, got "0".'],
    [['--dry-run', '--events', '1000001'], '--events must be an integer from 1 to 1000000, got "1000001".'],
    [['--dry-run', '--events', '1e3'], '--events must be an integer from 1 to 1000000, got "1e3".'],
    [['--dry-run', '--events=-5'], '--events must be an integer from 1 to 1000000, got "-5".'],
    // parseArgs takes a value starting with "-" only after "=": it might be a forgotten value.
    [['--dry-run', '--events', '-5'], '--events needs a value (a value starting with "-" is written --events=-5).'],
    [['--dry-run', '--utc-offset', '-05:30'], '--utc-offset needs a value (a value starting with "-" is written --utc-offset=-05:30).'],
    [['--dry-run', '--events='], '--events must be an integer from 1 to 1000000, got "".'],
    [['--dry-run', '--seed', '4294967296'], '--seed must be an integer from 0 to 4294967295, got "4294967296".'],
    [['--dry-run', '--seed', 'abc'], '--seed must be an integer from 0 to 4294967295, got "abc".'],
    [['--dry-run', '--start', '2025-03-01T09:00:00'], '--start must be an ISO-8601 instant from 1970 with Z or a +hh:mm offset, e.g. 2025-03-01T09:00:00Z, got "2025-03-01T09:00:00".'],
    [['--dry-run', '--start', '2025-02-30T09:00:00Z'], '--start must be an ISO-8601 instant from 1970 with Z or a +hh:mm offset, e.g. 2025-03-01T09:00:00Z, got "2025-02-30T09:00:00Z".'],
    [['--dry-run', '--start', 'yesterday'], '--start must be an ISO-8601 instant from 1970 with Z or a +hh:mm offset, e.g. 2025-03-01T09:00:00Z, got "yesterday".'],
    [['--dry-run', '--utc-offset', '+15:00'], '--utc-offset must be Z or +hh:mm / -hh:mm from -14:00 to +14:00, got "+15:00".'],
    [['--dry-run', '--utc-offset', '0100'], '--utc-offset must be Z or +hh:mm / -hh:mm from -14:00 to +14:00, got "0100".'],
    [['--dry-run', '--region', 'Ireland'], '--region must be an AWS region such as eu-west-1, got "Ireland".'],
    [['--dry-run', '--dry-run'], '--dry-run is given more than once.'],
    [['--dry-run', '-h', '--help'], '--help is given more than once.'],
    [['--stream', 'a', '--stream', 'b'], '--stream is given more than once.'],
    [['--dry-run=yes'], '--dry-run takes no value, got "--dry-run=yes".'],
    [['--dry-run', '--count', '5'], 'unknown option "--count".'],
    [['--dry-run', '-n', '5'], 'unknown option "-n".'],
    [['--dry-run', 'clicks'], 'unexpected argument "clicks"; options start with --.'],
    [['--dry-run', '--', 'clicks'], 'unexpected argument "clicks"; options start with --.'],
    [['--dry-run', '-hn'], 'unknown option "-n".'],
    [['--help=yes'], '--help takes no value, got "--help=yes".'],
  ])('%j is refused', (argv, message) => {
    expect(() => parseArgs(argv, now)).toThrow(new UsageError(message));
  });
});

/** Dependencies that record what the CLI writes and sends. */
function fakeDeps(answer?: (entries: PutRecordsEntry[]) => PutRecordsResult | Promise<PutRecordsResult>): {
  deps: CliDeps;
  out: string[];
  err: string[];
  sent: PutRecordsEntry[][];
  connects: { stream: string; region?: string }[];
  closed: () => number;
} {
  const out: string[] = [];
  const err: string[] = [];
  const sent: PutRecordsEntry[][] = [];
  const connects: { stream: string; region?: string }[] = [];
  let closed = 0;
  const ok = (entries: PutRecordsEntry[]): PutRecordsResult => ({
    FailedRecordCount: 0,
    Records: entries.map((_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })),
  });
  const deps: CliDeps = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    now,
    connect: async (target): Promise<KinesisConnection> => {
      connects.push({ ...target });
      return {
        putRecords: async (entries) => {
          sent.push(entries);
          return (answer ?? ok)(entries);
        },
        close: () => {
          closed += 1;
        },
      };
    },
    sendOptions: { sleep: async () => undefined, random: () => 0 },
  };
  return { deps, out, err, sent, connects, closed: () => closed };
}

describe('running the command', () => {
  test('--help prints the usage and exits 0 without connecting', async () => {
    const fake = fakeDeps();
    await expect(main(['--help'], fake.deps)).resolves.toBe(0);
    expect(fake.out.join('')).toBe(USAGE);
    expect(fake.connects).toEqual([]);
  });

  test.each([
    [['--dry-run', '--count', '5'], 'unknown option "--count".'],
    [['--stream'], '--stream needs a value.'],
    [['--dry-run', '--utc-offset', '-05:30'], '--utc-offset needs a value (a value starting with "-" is written --utc-offset=-05:30).'],
  ])('an error of parseArgs, %j, is one line too and exits 2', async (argv, message) => {
    const fake = fakeDeps();
    await expect(main(argv, fake.deps)).resolves.toBe(2);
    expect(fake.err).toEqual([`produce-clickstream: error: ${message} Run with --help for usage.\n`]);
    expect(fake.out).toEqual([]);
  });

  test('bad arguments print one error line and exit 2', async () => {
    const fake = fakeDeps();
    await expect(main(['--dry-run', '--events', 'many'], fake.deps)).resolves.toBe(2);
    expect(fake.err).toEqual([
      'produce-clickstream: error: --events must be an integer from 1 to 1000000, got "many". Run with --help for usage.\n',
    ]);
    expect(fake.out).toEqual([]);
  });

  test('--dry-run prints valid events as JSON lines, a summary on stderr, and never connects', async () => {
    const fake = fakeDeps();
    await expect(main(['--dry-run', '--events', '25', '--seed', '3', '--check'], fake.deps)).resolves.toBe(0);
    const lines = fake.out.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(25);
    const declaration = loadDeclaration();
    expect(lines.flatMap((line) => validateEvent(JSON.parse(line), declaration))).toEqual([]);
    expect(fake.err).toEqual([
      expect.stringMatching(
        /^produce-clickstream: dry run: printed 25 events \(\d+ sessions\), all checked against the declaration; nothing sent; --seed 3 --start 2025-03-01T09:00:00.000Z\n$/,
      ),
    ]);
    expect(fake.connects).toEqual([]);
  });

  test('sending puts one record per event: its JSON without a newline, keyed by session', async () => {
    const fake = fakeDeps();
    const code = await main(['--stream', 'clicks', '--region', 'eu-west-1', '--events', '1200', '--seed', '5'], fake.deps);
    expect(code).toBe(0);
    expect(fake.connects).toEqual([{ stream: 'clicks', region: 'eu-west-1' }]);
    expect(fake.sent.map((entries) => entries.length)).toEqual([500, 500, 200]);
    const entries = fake.sent.flat();
    const events = entries.map((e) => JSON.parse(Buffer.from(e.Data).toString('utf8')) as { session_id: string });
    expect(entries.every((e) => !Buffer.from(e.Data).toString('utf8').endsWith('\n'))).toBe(true);
    expect(entries.every((e, i) => e.PartitionKey === events[i].session_id)).toBe(true);
    const sessions = new Set(events.map((e) => e.session_id)).size;
    expect(fake.out).toEqual([
      `produce-clickstream: sent 1200 events (${sessions} sessions) to stream "clicks" in 3 batches, ` +
        '3 PutRecords calls, 0 records retried; --seed 5 --start 2025-03-01T09:00:00.000Z\n',
    ]);
    expect(fake.closed()).toBe(1);
  });

  test('the same arguments send the same records', async () => {
    const first = fakeDeps();
    const second = fakeDeps();
    await main(['--stream', 'clicks', '--events', '50'], first.deps);
    await main(['--stream', 'clicks', '--events', '50'], second.deps);
    const wire = (sent: PutRecordsEntry[][]): string[] =>
      sent.flat().map((e) => `${e.PartitionKey} ${Buffer.from(e.Data).toString('utf8')}`);
    expect(wire(first.sent)).toHaveLength(50);
    expect(wire(second.sent)).toEqual(wire(first.sent));
  });

  test('throttled records are retried and counted in the summary', async () => {
    let calls = 0;
    const fake = fakeDeps((entries) => {
      calls += 1;
      return {
        FailedRecordCount: calls === 1 ? 1 : 0,
        Records: entries.map((_, i) =>
          calls === 1 && i === 0 ? { ErrorCode: 'ProvisionedThroughputExceededException' } : { SequenceNumber: String(i) },
        ),
      };
    });
    await expect(main(['--stream', 'clicks', '--events', '10'], fake.deps)).resolves.toBe(0);
    expect(fake.sent.map((e) => e.length)).toEqual([10, 1]);
    expect(fake.out[0]).toMatch(/ in 1 batch, 2 PutRecords calls, 1 record retried;/);
  });

  test('records that still fail make it exit 1, saying what was not sent and how to resend', async () => {
    const fake = fakeDeps((entries) => ({
      FailedRecordCount: entries.length,
      Records: entries.map(() => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' })),
    }));
    fake.deps = { ...fake.deps, sendOptions: { ...fake.deps.sendOptions, maxAttempts: 2 } };
    await expect(main(['--stream', 'clicks', '--events', '10'], fake.deps)).resolves.toBe(1);
    const stderr = fake.err.join('');
    expect(stderr).toMatch(
      /^produce-clickstream: error: 10 of 10 records failed after 2 attempts: ProvisionedThroughputExceededException x10; failed record ids: /,
    );
    expect(stderr).toContain(
      'produce-clickstream: sent 0 of 10 events to stream "clicks" before the failure; re-run with --seed 1 ' +
        '--start 2025-03-01T09:00:00.000Z to send them again (the curated zone deduplicates on event_id).\n',
    );
    expect(fake.out).toEqual([]);
    expect(fake.closed()).toBe(1);
  });

  test('a connection failure exits 1 with the reason', async () => {
    const fake = fakeDeps();
    fake.deps = {
      ...fake.deps,
      connect: async () => {
        throw new Error('no AWS region: pass --region or set AWS_REGION (or a region in the AWS profile).');
      },
    };
    await expect(main(['--stream', 'clicks'], fake.deps)).resolves.toBe(1);
    expect(fake.err).toEqual([
      'produce-clickstream: error: cannot connect to Kinesis: no AWS region: pass --region or set AWS_REGION (or a region in the AWS profile).\n',
    ]);
  });

  describe('with a declaration the generator no longer matches', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'cli-declaration-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('nothing is sent and it exits 1', async () => {
      const declaration = loadDeclaration(CLICKSTREAM_DECLARATION_PATH);
      const file = path.join(dir, 'clickstream_event.json');
      writeFileSync(
        file,
        JSON.stringify({ ...declaration, columns: [...declaration.columns, { name: 'country', type: 'string', nullable: false }] }),
      );
      const fake = fakeDeps();
      await expect(main(['--stream', 'clicks', '--check'], { ...fake.deps, declarationPath: file })).resolves.toBe(1);
      expect(fake.err.join('')).toContain('"country" is declared but the generator does not write it');
      expect(fake.connects).toEqual([]);
    });
  });

  test('the script runs with tsx: --dry-run needs no AWS credentials or region', () => {
    const result = spawnSync(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['bin/produce-clickstream.ts', '--dry-run', '--events', '3', '--start', '2025-03-01T09:00:00Z'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 20_000,
        env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' },
      },
    );
    expect(result.stderr).toMatch(/^produce-clickstream: dry run: printed 3 events/);
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(3);
  });
});
