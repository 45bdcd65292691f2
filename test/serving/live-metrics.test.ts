/**
 * The click stream's live consumer, on real Lambda Kinesis batches: reading records with the
 * curate job's rules, dead letters, per-minute metrics as EMF documents, duplicates, late and
 * future events, and the partial-batch response when a dead letter cannot be sent.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { isIsoInstantWithOffset } from '../../lib/ingestion/producer/click-events';
import { consumeBatch, ConsumerDeps, DeadLetterSender } from '../../lib/serving/live-metrics/consumer';
import { DeadLetter, groupDeadLetters, MAX_DATA_CHARS } from '../../lib/serving/live-metrics/dead-letters';
import { createMemory, ConsumerMemory, RecentSet } from '../../lib/serving/live-metrics/metrics';
import { declarationRules, parseEventTime, readRecord, routeOf } from '../../lib/serving/live-metrics/records';
import { readSettings } from '../../lib/serving/live-metrics/settings';
import { clickEvent, kinesisEvent, kinesisRecord, rawKinesisRecord, RecordOptions, STREAM_ARN } from './kinesis-records';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

const NAMESPACE = 'Undercurrent/dev/Clickstream';
const NOW = Date.parse('2025-03-01T09:30:10Z');
const ARRIVAL = Date.parse('2025-03-01T09:30:05Z');
const AT: RecordOptions = { arrivalMs: ARRIVAL };
const MINUTE_0929 = Date.parse('2025-03-01T09:29:00Z');
const MINUTE_0930 = Date.parse('2025-03-01T09:30:00Z');

/** An EMF document as the tests read it back. */
type Emf = {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [member: string]: unknown;
};

/** What one run of consumeBatch wrote and sent. */
interface Run {
  readonly response: Awaited<ReturnType<typeof consumeBatch>>;
  readonly emf: Emf[];
  readonly summary: Record<string, unknown>;
  /** Every request the sender got. */
  readonly requests: DeadLetter[][];
}

/** A sender that accepts everything, or fails the entries `fail` picks (a thrown error fails all). */
function recordingSender(requests: DeadLetter[][], fail: (entry: DeadLetter, request: number) => boolean | 'throw' = () => false): DeadLetterSender {
  return async (entries) => {
    requests.push([...entries]);
    const verdicts = entries.map((entry) => fail(entry, requests.length - 1));
    if (verdicts.includes('throw')) {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    return { failedIds: entries.filter((_, i) => verdicts[i] === true).map((entry) => entry.id) };
  };
}

async function run(
  records: readonly KinesisStreamRecord[],
  options: { memory?: ConsumerMemory; fail?: (entry: DeadLetter, request: number) => boolean | 'throw'; lateAfterMinutes?: number } = {},
): Promise<Run> {
  const lines: string[] = [];
  const requests: DeadLetter[][] = [];
  const deps: ConsumerDeps = {
    settings: { namespace: NAMESPACE, lateAfterMinutes: options.lateAfterMinutes ?? 10 },
    memory: options.memory ?? createMemory(),
    sendDeadLetters: recordingSender(requests, options.fail),
    writeLine: (line) => lines.push(line),
    now: () => NOW,
  };
  const response = await consumeBatch(kinesisEvent(records), deps);
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines.every((line) => !line.includes('\n'))).toBe(true);
  const emf = parsed.filter((p) => '_aws' in p) as Emf[];
  const summaries = parsed.filter((p) => !('_aws' in p));
  expect(summaries).toHaveLength(1);
  return { response, emf, summary: summaries[0], requests };
}

/** The value of a metric summed over the documents of one dimension set (`{}`: no dimension). */
function metric(emf: readonly Emf[], name: string, dimensions: Record<string, string> = {}, timestamp?: number): number {
  const keys = Object.keys(dimensions);
  return emf
    .filter((d) => JSON.stringify(d._aws.CloudWatchMetrics[0].Dimensions) === JSON.stringify([keys]))
    .filter((d) => keys.every((k) => d[k] === dimensions[k]))
    .filter((d) => timestamp === undefined || d._aws.Timestamp === timestamp)
    .filter((d) => d._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === name))
    .reduce((sum, d) => sum + (d[name] as number), 0);
}

/** Every value of one dimension across the documents. */
function dimensionValues(emf: readonly Emf[], dimension: string): string[] {
  return [...new Set(emf.flatMap((d) => (typeof d[dimension] === 'string' ? [d[dimension] as string] : [])))].sort();
}

function event(id: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return clickEvent({ event_id: id, ...fields });
}

// ---------------------------------------------------------------------------------------------

describe('reading a record with the curate job rules', () => {
  test('the rules are the declaration’s, in the curate job’s order', () => {
    expect(declarationRules().map((r) => r.name)).toEqual([
      'missing_event_id',
      'missing_event_type',
      'missing_event_time',
      'missing_session_id',
      'missing_page_url',
      'invalid_event_type',
      'invalid_event_time',
      'invalid_customer_number',
    ]);
  });

  test('a declaration with a type the consumer cannot check fails loudly, naming the column', () => {
    const declaration = {
      columns: [
        { name: 'event_id', type: 'string', nullable: false },
        { name: 'price', type: 'double', nullable: true },
      ],
    };
    expect(() => declarationRules(declaration)).toThrow(
      'The live metrics consumer cannot check columns of type price (double); extend lib/serving/live-metrics/records.ts together with the declaration.',
    );
  });

  test('a valid event is read with its fields cleaned as the curate job cleans them', () => {
    const record = readRecord(
      kinesisRecord(event('  e-1  ', { event_type: ' Page_View ', page_url: 'https://shop.example.com/products/S18_1749?ref=mail' }), {
        ...AT,
        sequenceNumber: '42',
        partitionKey: 'p',
        shardId: 'shardId-000000000003',
      }),
      NOW,
    );
    expect(record).toEqual({
      kind: 'event',
      position: { sequenceNumber: '42', partitionKey: 'p', shardId: 'shardId-000000000003', eventSourceArn: STREAM_ARN, arrivalMs: ARRIVAL },
      event: {
        eventId: 'e-1',
        eventType: 'page_view',
        eventTimeMs: Date.parse('2025-03-01T09:29:30Z'),
        sessionId: 'c1f0e3d2-5b4a-4c3d-8e2f-0a1b2c3d4e5f',
        route: '/products/{code}',
      },
    });
  });

  const rejections: [string, string, KinesisStreamRecord][] = [
    ['data that is not base64', 'undecodable_record', rawKinesisRecord('%%% not base64 %%%', AT)],
    ['data that is not UTF-8', 'undecodable_record', rawKinesisRecord(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'), AT)],
    ['text that is not JSON', 'malformed_json', kinesisRecord('{"event_id": "e-1", ', AT)],
    ['two objects in one record', 'malformed_json', kinesisRecord(`${JSON.stringify(event('a'))}${JSON.stringify(event('b'))}`, AT)],
    ['a JSON array', 'malformed_json', kinesisRecord([event('a')], AT)],
    ['a JSON string', 'malformed_json', kinesisRecord('"page_view"', AT)],
    ['an empty record', 'malformed_json', kinesisRecord('', AT)],
    ['no event_id', 'missing_event_id', kinesisRecord(event('x', { event_id: undefined }), AT)],
    ['a blank session_id', 'missing_session_id', kinesisRecord(event('x', { session_id: '  \t' }), AT)],
    ['a null page_url', 'missing_page_url', kinesisRecord(event('x', { page_url: null }), AT)],
    ['a missing field before a bad one: the first rule wins', 'missing_event_id', kinesisRecord(event('x', { event_type: 'hover', event_id: '' }), AT)],
    ['an unknown event type', 'invalid_event_type', kinesisRecord(event('x', { event_type: 'hover' }), AT)],
    ['an event_time without an offset', 'invalid_event_time', kinesisRecord(event('x', { event_time: '2025-03-01T09:29:30' }), AT)],
    ['an impossible date', 'invalid_event_time', kinesisRecord(event('x', { event_time: '2025-02-30T09:29:30Z' }), AT)],
    ['an offset beyond 18 hours', 'invalid_event_time', kinesisRecord(event('x', { event_time: '2025-03-01T09:29:30+19:00' }), AT)],
    ['an event_time as a number', 'invalid_event_time', kinesisRecord(event('x', { event_time: 1740821370000 }), AT)],
    ['a customer number that is not an integer', 'invalid_customer_number', kinesisRecord(event('x', { customer_number: 'abc' }), AT)],
    ['a fractional customer number', 'invalid_customer_number', kinesisRecord(event('x', { customer_number: 1.5 }), AT)],
    ['a customer number beyond int', 'invalid_customer_number', kinesisRecord(event('x', { customer_number: 2147483648 }), AT)],  ];

  test.each(rejections)('%s is rejected by the rule %s', (_name, rule, record) => {
    const read = readRecord(record, NOW);
    expect(read.kind === 'rejected' && read.rule).toBe(rule);
    expect(read.kind === 'rejected' && read.data).toBe(record.kinesis.data);
  });

  test.each<[string, Record<string, unknown>]>([
    ['a numeric event_id (read as its JSON text, as Spark reads a string column)', { event_id: 12345 }],
    ['a customer number given as a string of digits', { customer_number: ' 103 ' }],
    ['no customer number (nullable)', { customer_number: null }],
    ['an absent nullable column', { referrer: undefined }],
    ['an unknown extra column (the curate job ignores it)', { campaign: 'spring' }],
    ['an event type in upper case', { event_type: 'PURCHASE' }],
  ])('%s is accepted', (_name, fields) => {
    expect(readRecord(kinesisRecord(event('x', fields), AT), NOW).kind).toBe('event');
  });

  test('no record, however broken, makes reading throw', () => {
    const broken = [
      null,
      undefined,
      {},
      { kinesis: null },
      { kinesis: { data: 42 } },
      { kinesis: { data: null, approximateArrivalTimestamp: 'yesterday' } },
      { eventID: 17, kinesis: { data: 'e30=', sequenceNumber: 5 } },
    ] as unknown as KinesisStreamRecord[];
    for (const record of broken) {
      expect(() => readRecord(record, NOW)).not.toThrow();
      expect(readRecord(record, NOW).kind).toBe('rejected');
    }
  });

  test('a record without an arrival time counts as received now', () => {
    const record = kinesisRecord(event('x'), AT);
    delete (record.kinesis as Partial<KinesisStreamRecord['kinesis']>).approximateArrivalTimestamp;
    expect(readRecord(record, NOW).position.arrivalMs).toBe(NOW);
  });
});

describe('event times', () => {
  test.each<[string, string]>([
    ['2025-03-01T10:05:09.120+01:00', '2025-03-01T09:05:09.120Z'],
    ['2025-03-01T09:05:09Z', '2025-03-01T09:05:09.000Z'],
    ['2025-03-01T03:35:09.5-05:30', '2025-03-01T09:05:09.500Z'],
    ['2025-03-01T10:05:09.123456789+0100', '2025-03-01T09:05:09.123Z'],
    ['2024-02-29T23:59:59.999+00:00', '2024-02-29T23:59:59.999Z'],
  ])('%s is the instant %s', (text, instant) => {
    expect(parseEventTime(text)).toBe(Date.parse(instant));
  });

  test('the consumer accepts exactly the instants the producer validates', () => {
    const samples = [
      '2025-03-01T10:05:09.120+01:00',
      '2025-03-01T10:05:09Z',
      '2025-03-01T10:05:09+0100',
      '2025-03-01T10:05:09.1234567891Z',
      '2025-03-01T10:05:09',
      '2025-03-01 10:05:09Z',
      '2025-13-01T10:05:09Z',
      '2025-02-29T10:05:09Z',
      '2025-03-01T24:00:00Z',
      '2025-03-01T10:60:09Z',
      '2025-03-01T10:05:60Z',
      '2025-03-01T10:05:09+18:00',
      '2025-03-01T10:05:09+18:01',
      '2025-03-01T10:05:09+05:60',
      '20250301T100509Z',
      '',
    ];
    for (const sample of samples) {
      expect([sample, parseEventTime(sample) !== undefined]).toEqual([sample, isIsoInstantWithOffset(sample)]);
    }
  });
});

describe('routes: the page dimension, from a fixed table', () => {
  test.each<[string, string]>([
    ['https://shop.example.com/', '/'],
    ['https://shop.example.com', '/'],
    ['https://shop.example.com/search?q=ferrari', '/search'],
    ['https://shop.example.com/deals/', '/deals'],
    ['https://shop.example.com/product-lines/classic-cars', '/product-lines/{line}'],
    ['https://shop.example.com/products/S10_1678', '/products/{code}'],
    ['https://shop.example.com/PRODUCTS/S700_2824#reviews', '/products/{code}'],
    ['https://shop.example.com/cart', '/cart'],
    ['/checkout', '/checkout'],
    ['https://shop.example.com/checkout/confirmation', '/checkout/confirmation'],
    ['https://shop.example.com/products/S10_1678/reviews', 'other'],
    ['https://shop.example.com/account/orders/10100', 'other'],
    ['https://shop.example.com/wp-admin', 'other'],
    ['http://[not a url', 'other'],
  ])('%s is %s', (url, route) => {
    expect(routeOf(url)).toBe(route);
  });
});

describe('a batch', () => {
  test('an empty batch writes no metric, only its summary, and fails nothing', async () => {
    const { response, emf, summary, requests } = await run([]);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(emf).toEqual([]);
    expect(requests).toEqual([]);
    expect(summary).toEqual({
      message: 'live metrics batch',
      records: 0,
      counted: 0,
      rejected: 0,
      duplicates: 0,
      events: 0,
      lateEvents: 0,
      droppedLateEvents: 0,
      futureEvents: 0,
      deadLettersSent: 0,
      retryFrom: null,
      sendError: null,
    });
  });

  test('an event that is not a batch at all is an empty batch', async () => {
    for (const event of [{}, { Records: null }, null]) {
      const deps: ConsumerDeps = {
        settings: { namespace: NAMESPACE, lateAfterMinutes: 10 },
        memory: createMemory(),
        sendDeadLetters: recordingSender([]),
        writeLine: () => undefined,
        now: () => NOW,
      };
      await expect(consumeBatch(event as never, deps)).resolves.toEqual({ batchItemFailures: [] });
    }
  });

  test('valid events give one health document per arrival minute and traffic documents per event minute', async () => {
    const { response, emf } = await run([
      kinesisRecord(event('e-1', { event_type: 'page_view', page_url: 'https://shop.example.com/', session_id: 's-1' }), AT),
      kinesisRecord(event('e-2', { event_type: 'product_view', session_id: 's-1' }), AT),
      kinesisRecord(event('e-3', { event_type: 'product_view', session_id: 's-2', event_time: '2025-03-01T10:30:01.000+01:00' }), AT),
    ]);
    expect(response).toEqual({ batchItemFailures: [] });
    // Health, in the arrival minute, with every metric (zeros included).
    expect(emf[0]).toEqual({
      _aws: {
        Timestamp: MINUTE_0930,
        CloudWatchMetrics: [
          {
            Namespace: NAMESPACE,
            Dimensions: [[]],
            Metrics: ['Records', 'Rejected', 'Duplicates', 'LateEvents', 'DroppedLateEvents', 'FutureEvents'].map((Name) => ({ Name, Unit: 'Count' })),
          },
        ],
      },
      Records: 3,
      Rejected: 0,
      Duplicates: 0,
      LateEvents: 0,
      DroppedLateEvents: 0,
      FutureEvents: 0,
    });
    // Traffic of 09:29: two events of one session, by type and by route.
    expect(emf.slice(1, 5)).toEqual([
      {
        _aws: { Timestamp: MINUTE_0929, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [[]], Metrics: [{ Name: 'Events', Unit: 'Count' }, { Name: 'ActiveSessions', Unit: 'Count' }] }] },
        Events: 2,
        ActiveSessions: 1,
      },
      {
        _aws: { Timestamp: MINUTE_0929, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [['EventType']], Metrics: [{ Name: 'Events', Unit: 'Count' }] }] },
        EventType: 'page_view',
        Events: 1,
      },
      {
        _aws: { Timestamp: MINUTE_0929, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [['EventType']], Metrics: [{ Name: 'Events', Unit: 'Count' }] }] },
        EventType: 'product_view',
        Events: 1,
      },
      {
        _aws: { Timestamp: MINUTE_0929, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [['Route']], Metrics: [{ Name: 'Events', Unit: 'Count' }] }] },
        Route: '/',
        Events: 1,
      },
    ]);
    expect(metric(emf, 'Events', { Route: '/products/{code}' }, MINUTE_0929)).toBe(1);
    // Traffic of 09:30 (10:30:01 at +01:00).
    expect(metric(emf, 'Events', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'ActiveSessions', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'Events', { EventType: 'product_view' }, MINUTE_0930)).toBe(1);
    expect(emf).toHaveLength(1 + 4 + 1 + 3);
  });

  test('malformed records are counted as rejected and sent, raw, to the dead-letter queue; the batch does not fail', async () => {
    const bad = [
      kinesisRecord('not json at all', { ...AT, sequenceNumber: '100', partitionKey: 'k1' }),
      rawKinesisRecord('@@@', { ...AT, sequenceNumber: '101', partitionKey: 'k2', shardId: 'shardId-000000000001' }),
      kinesisRecord(event('x', { event_type: 'hover' }), { ...AT, sequenceNumber: '102' }),
      kinesisRecord(event('y', { session_id: null }), { ...AT, sequenceNumber: '103' }),
    ];
    const { response, emf, summary, requests } = await run([kinesisRecord(event('ok'), AT), ...bad]);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(metric(emf, 'Records')).toBe(5);
    expect(metric(emf, 'Rejected')).toBe(4);
    expect(metric(emf, 'Events')).toBe(1);
    expect(summary).toMatchObject({ rejected: 4, deadLettersSent: 4, retryFrom: null });
    expect(requests).toHaveLength(1);
    expect(requests[0].map((e) => [e.id, e.reason])).toEqual([
      ['r1', 'malformed_json'],
      ['r2', 'undecodable_record'],
      ['r3', 'invalid_event_type'],
      ['r4', 'missing_session_id'],
    ]);
    expect(JSON.parse(requests[0][1].body)).toEqual({
      kind: 'rejected-click-record',
      reason: 'undecodable_record',
      eventSourceArn: STREAM_ARN,
      shardId: 'shardId-000000000001',
      sequenceNumber: '101',
      partitionKey: 'k2',
      arrivedAt: '2025-03-01T09:30:05.000Z',
      data: '@@@',
      dataLength: 3,
      truncated: false,
    });
    expect(Buffer.from(JSON.parse(requests[0][0].body).data, 'base64').toString('utf8')).toBe('not json at all');
  });

  test('a record too large for an SQS message is sent cut, saying how long it was', async () => {
    const huge = 'x'.repeat(200_000);
    const { requests } = await run([kinesisRecord(huge, AT)]);
    const body = JSON.parse(requests[0][0].body);
    expect(body.truncated).toBe(true);
    expect(body.data).toHaveLength(MAX_DATA_CHARS);
    expect(body.dataLength).toBe(Buffer.from(huge).toString('base64').length);
    expect(Buffer.byteLength(requests[0][0].body)).toBeLessThan(70 * 1024);
  });

  test('dead letters go in requests of at most 10 entries and 256 KiB', () => {
    const letter = (index: number, bytes: number): DeadLetter => ({ id: `r${index}`, body: 'b'.repeat(bytes), reason: 'malformed_json', index });
    expect(groupDeadLetters(Array.from({ length: 23 }, (_, i) => letter(i, 10))).map((g) => g.length)).toEqual([10, 10, 3]);
    expect(groupDeadLetters(Array.from({ length: 5 }, (_, i) => letter(i, 70 * 1024))).map((g) => g.length)).toEqual([3, 2]);
  });

  test('a duplicated event_id in a batch is counted once, and the copies as duplicates', async () => {
    const { emf, summary } = await run([
      kinesisRecord(event('e-1'), AT),
      kinesisRecord(event('e-1'), AT),
      kinesisRecord(event(' e-1 ', { event_type: 'purchase' }), AT),
      kinesisRecord(event('e-2'), AT),
    ]);
    expect(metric(emf, 'Records')).toBe(4);
    expect(metric(emf, 'Duplicates')).toBe(2);
    expect(metric(emf, 'Events')).toBe(2);
    expect(metric(emf, 'Events', { EventType: 'product_view' })).toBe(2);
    expect(metric(emf, 'Events', { EventType: 'purchase' })).toBe(0);
    expect(summary).toMatchObject({ records: 4, duplicates: 2, events: 2 });
  });

  test('a duplicate in a later batch is counted once by the same environment, again by a fresh one', async () => {
    const memory = createMemory();
    await run([kinesisRecord(event('e-1'), AT)], { memory });
    const again = await run([kinesisRecord(event('e-1'), AT), kinesisRecord(event('e-3'), AT)], { memory });
    expect(metric(again.emf, 'Duplicates')).toBe(1);
    expect(metric(again.emf, 'Events')).toBe(1);
    const elsewhere = await run([kinesisRecord(event('e-1'), AT)]);
    expect(metric(elsewhere.emf, 'Duplicates')).toBe(0);
    expect(metric(elsewhere.emf, 'Events')).toBe(1);
  });

  test('the memory of event ids is bounded: the oldest is forgotten first', () => {
    const set = new RecentSet(2);
    set.add('a');
    set.add('b');
    set.add('a');
    set.add('c');
    expect([set.has('a'), set.has('b'), set.has('c'), set.size]).toEqual([true, false, true, 2]);
    expect(() => new RecentSet(0)).toThrow('RecentSet capacity must be a positive integer, got 0.');
  });

  test('active sessions count each session once per minute, across batches of one environment', async () => {
    const memory = createMemory();
    const first = await run(
      [
        kinesisRecord(event('e-1', { session_id: 's-1' }), AT),
        kinesisRecord(event('e-2', { session_id: 's-1' }), AT),
        kinesisRecord(event('e-3', { session_id: 's-2' }), AT),
      ],
      { memory },
    );
    expect(metric(first.emf, 'ActiveSessions', {}, MINUTE_0929)).toBe(2);
    const second = await run(
      [
        kinesisRecord(event('e-4', { session_id: 's-2' }), AT),
        kinesisRecord(event('e-5', { session_id: 's-3' }), AT),
        kinesisRecord(event('e-6', { session_id: 's-2', event_time: '2025-03-01T09:30:01Z' }), AT),
      ],
      { memory },
    );
    expect(metric(second.emf, 'ActiveSessions', {}, MINUTE_0929)).toBe(1);
    expect(metric(second.emf, 'ActiveSessions', {}, MINUTE_0930)).toBe(1);
  });

  test('a late event is counted as late when it arrives and as traffic in the minute it happened', async () => {
    const { emf } = await run(
      [
        kinesisRecord(event('late', { event_time: '2025-03-01T09:05:00Z' }), AT),
        kinesisRecord(event('on-time', { event_time: '2025-03-01T09:21:00Z' }), AT),
      ],
      { lateAfterMinutes: 10 },
    );
    expect(metric(emf, 'LateEvents', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'Events', {}, Date.parse('2025-03-01T09:05:00Z'))).toBe(1);
    expect(metric(emf, 'Events', { EventType: 'product_view' }, Date.parse('2025-03-01T09:05:00Z'))).toBe(1);
    expect(metric(emf, 'Events', {}, Date.parse('2025-03-01T09:21:00Z'))).toBe(1);
    expect(metric(emf, 'DroppedLateEvents')).toBe(0);
  });

  test('an event older than CloudWatch takes is counted as dropped-late, never as traffic', async () => {
    const { emf, summary } = await run([kinesisRecord(event('ancient', { event_time: '2025-02-14T09:30:00Z' }), AT)]);
    expect(metric(emf, 'LateEvents', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'DroppedLateEvents', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'Events')).toBe(0);
    expect(emf.map((d) => d._aws.Timestamp)).toEqual([MINUTE_0930]);
    expect(summary).toMatchObject({ records: 1, events: 0, droppedLateEvents: 1 });
  });

  test('an event dated after it arrived (a wrong clock) is counted as future and as traffic when it arrived', async () => {
    const { emf } = await run([
      kinesisRecord(event('future', { event_time: '2025-03-01T11:00:00Z' }), AT),
      kinesisRecord(event('skewed-a-little', { event_time: '2025-03-01T09:33:00Z' }), AT),
    ]);
    expect(metric(emf, 'FutureEvents', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'Events', {}, MINUTE_0930)).toBe(1);
    expect(metric(emf, 'Events', {}, Date.parse('2025-03-01T09:33:00Z'))).toBe(1);
    expect(emf.some((d) => d._aws.Timestamp === Date.parse('2025-03-01T11:00:00Z'))).toBe(false);
  });

  test('records of several arrival and event minutes are counted each in its own', async () => {
    const arrived0929 = { arrivalMs: Date.parse('2025-03-01T09:29:59Z') };
    const { emf } = await run([
      kinesisRecord(event('a', { event_time: '2025-03-01T09:29:58Z' }), arrived0929),
      kinesisRecord('broken', arrived0929),
      kinesisRecord(event('b', { event_time: '2025-03-01T09:30:02Z' }), AT),
      kinesisRecord(event('c', { event_time: '2025-03-01T09:28:30Z' }), AT),
    ]);
    expect([metric(emf, 'Records', {}, MINUTE_0929), metric(emf, 'Rejected', {}, MINUTE_0929)]).toEqual([2, 1]);
    expect([metric(emf, 'Records', {}, MINUTE_0930), metric(emf, 'Rejected', {}, MINUTE_0930)]).toEqual([2, 0]);
    expect(metric(emf, 'Events', {}, Date.parse('2025-03-01T09:28:00Z'))).toBe(1);
    expect(metric(emf, 'Events', {}, MINUTE_0929)).toBe(1);
    expect(metric(emf, 'Events', {}, MINUTE_0930)).toBe(1);
    // Health documents first, then traffic, each in minute order.
    const health = emf.filter((d) => 'Records' in d).map((d) => d._aws.Timestamp);
    const traffic = emf.filter((d) => !('Records' in d)).map((d) => d._aws.Timestamp);
    expect(health).toEqual([MINUTE_0929, MINUTE_0930]);
    expect(traffic).toEqual([...traffic].sort((x, y) => x - y));
    expect(emf.slice(0, 2).every((d) => 'Records' in d)).toBe(true);
  });

  test('every record is accounted for: records = rejected + duplicates + events + dropped-late', async () => {
    const records = Array.from({ length: 60 }, (_, i) => {
      switch (i % 6) {
        case 0:
          return kinesisRecord('{', AT);
        case 1:
          // Ten records, two event ids (i % 4 is 1 or 3): eight duplicates.
          return kinesisRecord(event(`dup-${i % 4}`), AT);
        case 2:
          return kinesisRecord(event(`old-${i}`, { event_time: '2025-01-01T00:00:00Z' }), AT);
        case 3:
          return kinesisRecord(event(`late-${i}`, { event_time: '2025-03-01T08:00:00Z' }), AT);
        case 4:
          return kinesisRecord(event(`future-${i}`, { event_time: '2025-03-02T00:00:00Z' }), AT);
        default:
          return kinesisRecord(event(`e-${i}`), AT);
      }
    });
    const { emf, summary } = await run(records);
    expect(metric(emf, 'Records')).toBe(60);
    expect(metric(emf, 'Rejected') + metric(emf, 'Duplicates') + metric(emf, 'Events') + metric(emf, 'DroppedLateEvents')).toBe(60);
    expect(metric(emf, 'Events')).toBe(metric(emf, 'Events', {}));
    const byType = dimensionValues(emf, 'EventType').reduce((sum, t) => sum + metric(emf, 'Events', { EventType: t }), 0);
    const byRoute = dimensionValues(emf, 'Route').reduce((sum, r) => sum + metric(emf, 'Events', { Route: r }), 0);
    expect([byType, byRoute]).toEqual([metric(emf, 'Events'), metric(emf, 'Events')]);
    expect(summary).toMatchObject({ records: 60, rejected: 10, duplicates: 8, droppedLateEvents: 10, lateEvents: 20, futureEvents: 10, events: 32 });
  });
});

describe('a dead letter that cannot be sent fails its record, and only the records before it are counted', () => {
  /** 23 records: events at even positions, bad ones at odd positions (11 dead letters: requests of 10 and 1). */
  const records = (): KinesisStreamRecord[] =>
    Array.from({ length: 23 }, (_, i) =>
      i % 2 === 0 ? kinesisRecord(event(`e-${i}`), { ...AT, sequenceNumber: `${1000 + i}` }) : kinesisRecord('{bad', { ...AT, sequenceNumber: `${1000 + i}` }),
    );

  test('an entry SQS does not accept: Lambda retries from that record; the next request is not sent', async () => {
    // The third bad record (batch position 5) is refused.
    const { response, emf, summary, requests } = await run(records(), { fail: (entry) => entry.index === 5 });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '1005' }] });
    expect(requests.map((r) => r.length)).toEqual([10]);
    // Positions 0..4 are done: three events and two rejected records.
    expect([metric(emf, 'Records'), metric(emf, 'Events'), metric(emf, 'Rejected')]).toEqual([5, 3, 2]);
    expect(summary).toMatchObject({ records: 23, counted: 5, deadLettersSent: 9, retryFrom: '1005', sendError: '1 entries not accepted' });
  });

  test('a failure in the second request: the first request’s records are done', async () => {
    const { response, emf, requests } = await run(records(), { fail: (_entry, request) => request === 1 });
    expect(requests.map((r) => r.length)).toEqual([10, 1]);
    // The eleventh bad record is at position 21.
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '1021' }] });
    expect([metric(emf, 'Records'), metric(emf, 'Events'), metric(emf, 'Rejected')]).toEqual([21, 11, 10]);
  });

  test('a sender that throws fails the request’s first record, and the consumer does not throw', async () => {
    const { response, emf, summary } = await run(records(), { fail: () => 'throw' });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '1001' }] });
    expect([metric(emf, 'Records'), metric(emf, 'Events')]).toEqual([1, 1]);
    expect(summary).toMatchObject({ counted: 1, deadLettersSent: 0, retryFrom: '1001', sendError: 'ThrottlingException: Rate exceeded' });
  });

  test('the retry from the failed record, in the same environment, completes the counts without counting twice', async () => {
    const memory = createMemory();
    const all = records();
    const first = await run(all, { memory, fail: (entry) => entry.index === 5 });
    const retry = await run(all.slice(5), { memory });
    expect(retry.response).toEqual({ batchItemFailures: [] });
    expect(metric(first.emf, 'Records') + metric(retry.emf, 'Records')).toBe(23);
    expect(metric(first.emf, 'Events') + metric(retry.emf, 'Events')).toBe(12);
    expect(metric(retry.emf, 'Duplicates')).toBe(0);
  });
});

describe('the settings from the environment', () => {
  test('are read from the three variables', () => {
    expect(
      readSettings({
        METRICS_NAMESPACE: 'Undercurrent/prod/Clickstream',
        REJECTED_QUEUE_URL: `https://sqs.${EXAMPLE_REGION}.amazonaws.com/${EXAMPLE_ACCOUNT}/rejected`,
        LATE_AFTER_MINUTES: '10',
      }),
    ).toEqual({ namespace: 'Undercurrent/prod/Clickstream', rejectedQueueUrl: `https://sqs.${EXAMPLE_REGION}.amazonaws.com/${EXAMPLE_ACCOUNT}/rejected`, lateAfterMinutes: 10 });
  });

  test('missing or wrong ones are all named', () => {
    expect(() => readSettings({ METRICS_NAMESPACE: 'AWS/Lambda', LATE_AFTER_MINUTES: '0' })).toThrow(
      'The live metrics consumer is misconfigured: METRICS_NAMESPACE must be a custom CloudWatch namespace such as "Undercurrent/dev/Clickstream", got "AWS/Lambda"; ' +
        'REJECTED_QUEUE_URL must be the https URL of an SQS queue, got ""; LATE_AFTER_MINUTES must be an integer from 1 to 1440, got "0".',
    );
  });
});
