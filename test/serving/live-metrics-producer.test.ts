/**
 * The producer CLI drives the live consumer: `produce-clickstream` (bin/produce-clickstream.ts,
 * with its generator and PutRecords batching) sends to a local two-shard stream that keys
 * records by partition key as Kinesis does (MD5), and the stream hands each shard's records to
 * the consumer in batches, as Lambda's event-source mapping does. The metrics are checked
 * against the events that reached the stream.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { createHash } from 'crypto';
import { main } from '../../bin/produce-clickstream';
import type { PutRecordsEntry, PutRecordsResult } from '../../lib/ingestion/producer/batching';
import { consumeBatch, ConsumerDeps } from '../../lib/serving/live-metrics/consumer';
import { createMemory, ConsumerMemory } from '../../lib/serving/live-metrics/metrics';
import { STREAM_ARN } from './kinesis-records';
import { EXAMPLE_ACCOUNT } from '../support/example-account';

const NAMESPACE = 'Undercurrent/dev/Clickstream';
const START = '2025-03-01T09:00:00Z';
const EVENTS = 400;

/** A stream of two shards, in memory, with one consumer environment (memory) per shard. */
class LocalStream {
  readonly shards: KinesisStreamRecord[][] = [[], []];
  private sequence = 0;
  private calls = 0;

  /** PutRecords: the first call throttles every fifth entry, as a busy shard does; the producer re-sends those. */
  putRecords = async (entries: PutRecordsEntry[]): Promise<PutRecordsResult> => {
    this.calls += 1;
    const throttle = this.calls === 1;
    const results = entries.map((entry, i) => {
      if (throttle && i % 5 === 0) {
        return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' };
      }
      // Kinesis maps the MD5 of the partition key onto the shards' hash-key ranges: two halves here.
      const shard = createHash('md5').update(entry.PartitionKey).digest()[0] < 128 ? 0 : 1;
      this.sequence += 1;
      const sequenceNumber = String(this.sequence).padStart(20, '0');
      // A site sends its events as they happen: Kinesis receives each two seconds after its event_time.
      const arrivalMs = Date.parse(JSON.parse(Buffer.from(entry.Data).toString('utf8')).event_time) + 2000;
      this.shards[shard].push({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: entry.PartitionKey,
          sequenceNumber,
          data: Buffer.from(entry.Data).toString('base64'),
          approximateArrivalTimestamp: arrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-00000000000${shard}:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/consumer`,
        awsRegion: 'us-east-1',
        eventSourceARN: STREAM_ARN,
      });
      return { SequenceNumber: sequenceNumber, ShardId: `shardId-00000000000${shard}` };
    });
    return { FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results };
  };

  /** Every event that reached the stream, parsed. */
  events(): Record<string, string>[] {
    return this.shards.flat().map((r) => JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')));
  }
}

/** Runs the CLI against the stream; returns its exit code and output. */
async function produce(stream: LocalStream, extraArgs: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['--stream', 'undercurrent-dev-clicks', '--events', String(EVENTS), '--seed', '7', '--start', START, '--check', ...extraArgs], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    now: () => new Date(START),
    connect: async () => ({ putRecords: stream.putRecords, close: () => undefined }),
    sendOptions: { sleep: async () => undefined, random: () => 0 },
  });
  return { code, stdout, stderr };
}

type Emf = { _aws: { Timestamp: number; CloudWatchMetrics: { Dimensions: string[][] }[] }; [member: string]: unknown };

/**
 * Hands each shard's records, from `from` on, to the consumer in batches of `batchSize`, as the
 * event-source mapping does (in order, one batch at a time per shard, retrying from a failed
 * record). Returns the EMF documents written.
 */
async function drain(stream: LocalStream, memories: ConsumerMemory[], from: number[], batchSize = 100): Promise<Emf[]> {
  const documents: Emf[] = [];
  for (const [shard, records] of stream.shards.entries()) {
    let next = from[shard];
    while (next < records.length) {
      const batch = records.slice(next, next + batchSize);
      const latest = Math.max(...batch.map((r) => r.kinesis.approximateArrivalTimestamp * 1000));
      const deps: ConsumerDeps = {
        settings: { namespace: NAMESPACE, lateAfterMinutes: 10 },
        memory: memories[shard],
        sendDeadLetters: async () => ({ failedIds: [] }),
        writeLine: (line) => {
          const parsed = JSON.parse(line);
          if ('_aws' in parsed) {
            documents.push(parsed);
          }
        },
        now: () => latest + 1000,
      };
      const { batchItemFailures } = await consumeBatch({ Records: batch }, deps);
      expect(batchItemFailures).toEqual([]);
      next += batch.length;
    }
  }
  return documents;
}

function total(documents: readonly Emf[], name: string, dimension?: string, value?: string): number {
  return documents
    .filter((d) => JSON.stringify(d._aws.CloudWatchMetrics[0].Dimensions) === JSON.stringify([dimension === undefined ? [] : [dimension]]))
    .filter((d) => dimension === undefined || d[dimension] === value)
    .reduce((sum, d) => sum + (typeof d[name] === 'number' ? (d[name] as number) : 0), 0);
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  }
  return counts;
}

describe('the producer CLI drives the live consumer through a local stream', () => {
  const stream = new LocalStream();
  const memories = [createMemory(), createMemory()];
  let documents: Emf[];
  let sent: Record<string, string>[];

  beforeAll(async () => {
    const { code, stdout, stderr } = await produce(stream, ['--utc-offset=-05:30']);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toContain(`sent ${EVENTS} events`);
    sent = stream.events();
    documents = await drain(stream, memories, [0, 0]);
  });

  test('every event the producer sent reached the stream once, on both shards, and was counted once', () => {
    expect(sent).toHaveLength(EVENTS);
    expect(new Set(sent.map((e) => e.event_id)).size).toBe(EVENTS);
    expect(stream.shards.map((s) => s.length > 0)).toEqual([true, true]);
    expect(total(documents, 'Records')).toBe(EVENTS);
    expect(total(documents, 'Events')).toBe(EVENTS);
    for (const name of ['Rejected', 'Duplicates', 'LateEvents', 'DroppedLateEvents', 'FutureEvents']) {
      expect([name, total(documents, name)]).toEqual([name, 0]);
    }
  });

  test('the events per type are those sent, and per minute of event time (UTC, whatever the offset written)', () => {
    const expected = countBy(sent, (e) => e.event_type);
    for (const [type, count] of Object.entries(expected)) {
      expect([type, total(documents, 'Events', 'EventType', type)]).toEqual([type, count]);
    }
    expect(sent[0].event_time.endsWith('-05:30')).toBe(true);
    const perMinute = countBy(sent, (e) => String(Math.floor(Date.parse(e.event_time) / 60_000) * 60_000));
    const published: Record<string, number> = {};
    for (const d of documents.filter((doc) => 'Events' in doc && doc._aws.CloudWatchMetrics[0].Dimensions[0].length === 0)) {
      published[String(d._aws.Timestamp)] = (published[String(d._aws.Timestamp)] ?? 0) + (d.Events as number);
    }
    expect(published).toEqual(perMinute);
  });

  test('every page the generator visits has its own route: none is "other"', () => {
    const routes = [...new Set(documents.flatMap((d) => (typeof d.Route === 'string' ? [d.Route] : [])))].sort();
    expect(routes.every((r) => ['/', '/cart', '/checkout', '/checkout/confirmation', '/deals', '/product-lines/{line}', '/products/{code}', '/search'].includes(r))).toBe(true);
    expect(routes).toContain('/products/{code}');
    expect(total(documents, 'Events', 'Route', 'other')).toBe(0);
  });

  test('active sessions, summed over batches, are the distinct sessions of each minute (a session stays on its shard)', () => {
    const pairs = new Set(sent.map((e) => `${Math.floor(Date.parse(e.event_time) / 60_000)}|${e.session_id}`));
    expect(total(documents, 'ActiveSessions')).toBe(pairs.size);
  });

  test('the same run sent again (same --seed and --start) is counted as duplicates, not as traffic', async () => {
    const before = stream.shards.map((s) => s.length);
    const { code } = await produce(stream, ['--utc-offset=-05:30']);
    expect(code).toBe(0);
    const again = await drain(stream, memories, before);
    expect(total(again, 'Records')).toBe(EVENTS);
    expect(total(again, 'Duplicates')).toBe(EVENTS);
    expect(total(again, 'Events')).toBe(0);
  });
});
