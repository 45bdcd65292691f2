import {
  KINESIS_LIMITS,
  KinesisLimits,
  KinesisRecord,
  PutRecordsEntry,
  PutRecordsError,
  PutRecordsResult,
  RecordRejectedError,
  SendOptions,
  backoffDelay,
  batchRecords,
  sendWithRetries,
  splitIntoBatches,
} from '../../lib/ingestion/producer/batching';

const MIB = 1024 * 1024;
const THROTTLED = 'ProvisionedThroughputExceededException';

function record(id: string, dataBytes = 10, partitionKey = `key-${id}`): KinesisRecord {
  return { id, partitionKey, data: new Uint8Array(dataBytes) };
}

function records(n: number, dataBytes = 10): KinesisRecord[] {
  return Array.from({ length: n }, (_, i) => record(`r${i}`, dataBytes));
}

function ids(batches: readonly (readonly KinesisRecord[])[]): string[][] {
  return batches.map((b) => b.map((r) => r.id));
}

describe('splitting records into PutRecords batches', () => {
  test('a batch holds at most 500 records, in the original order', () => {
    const input = records(1201);
    const batches = splitIntoBatches(input);
    expect(batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(batches.flat()).toEqual(input);
  });

  test('no records give no batches', () => {
    expect(splitIntoBatches([])).toEqual([]);
  });

  test('a batch holds at most 5 MiB, records of exactly 1 MiB included', () => {
    const key = 'k'.repeat(36);
    const data = new Uint8Array(MIB - key.length);
    const input = Array.from({ length: 11 }, (_, i) => ({ id: `big${i}`, partitionKey: key, data }));
    expect(splitIntoBatches(input).map((b) => b.length)).toEqual([5, 5, 1]);
  });

  test('partition key bytes count towards the request size', () => {
    const limits: KinesisLimits = { ...KINESIS_LIMITS, maxBytesPerRequest: 100, maxBytesPerRecord: 60 };
    // 45 data bytes + 10 key bytes = 55: two data blobs fit in 100 bytes, two records do not.
    const input = ['a', 'b', 'c'].map((id) => record(id, 45, `${id}-234567890`.slice(0, 10)));
    expect(ids(splitIntoBatches(input, limits))).toEqual([['a'], ['b'], ['c']]);
    // Multi-byte characters count as their UTF-8 bytes: 'é' is 2.
    const small = [record('x', 40, 'é'.repeat(5)), record('y', 40, 'é'.repeat(5))];
    expect(ids(splitIntoBatches(small, limits))).toEqual([['x', 'y']]);
    const over = [record('x', 40, 'é'.repeat(6)), record('y', 40, 'é'.repeat(6))];
    expect(ids(splitIntoBatches(over, limits))).toEqual([['x'], ['y']]);
  });

  test('a record over 1 MiB is rejected up front with an error naming its event id', () => {
    const oversize = { id: 'evt-oversize', partitionKey: 'session-1', data: new Uint8Array(MIB) };
    const input = [record('a'), oversize, record('b')];
    expect(() => splitIntoBatches(input)).toThrow(
      new RecordRejectedError(
        'evt-oversize',
        'Record evt-oversize is 1048585 bytes (data + partition key), over the Kinesis limit of 1048576 bytes ' +
          'per record. It was not sent; make the event smaller.',
      ),
    );
    try {
      splitIntoBatches(input);
    } catch (error) {
      expect(error).toBeInstanceOf(RecordRejectedError);
      expect((error as RecordRejectedError).recordId).toBe('evt-oversize');
    }
  });

  test('partition keys must have 1 to 256 characters', () => {
    expect(() => splitIntoBatches([record('a', 10, '')])).toThrow(
      'Record a has a partition key of 0 characters; Kinesis takes 1 to 256. It was not sent.',
    );
    expect(() => splitIntoBatches([record('b', 10, 'k'.repeat(257))])).toThrow(
      'Record b has a partition key of 257 characters; Kinesis takes 1 to 256. It was not sent.',
    );
    expect(splitIntoBatches([record('c', 10, 'é'.repeat(256))])).toHaveLength(1);
  });

  test('lazy batching stops before the batch that would hold an oversize record', () => {
    const limits: KinesisLimits = { ...KINESIS_LIMITS, maxRecordsPerRequest: 2 };
    const batches = batchRecords([record('a'), record('b'), record('c'), record('big', MIB)], limits);
    expect(ids([batches.next().value as KinesisRecord[]])).toEqual([['a', 'b']]);
    expect(() => batches.next()).toThrow('Record big is');
  });
});

/** A fake PutRecords: answers each call with the given per-entry error codes ('' = written). */
function fakePutRecords(...answers: (readonly string[] | Error)[]): {
  putRecords: (entries: PutRecordsEntry[]) => Promise<PutRecordsResult>;
  calls: string[][];
} {
  const calls: string[][] = [];
  const putRecords = async (entries: PutRecordsEntry[]): Promise<PutRecordsResult> => {
    calls.push(entries.map((e) => e.PartitionKey));
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    const codes = answer.length === 0 ? entries.map(() => '') : answer;
    return {
      FailedRecordCount: codes.filter((c) => c !== '').length,
      Records: codes.map((code, i) =>
        code === '' ? { SequenceNumber: `${calls.length}-${i}`, ShardId: 'shardId-000000000000' } : { ErrorCode: code, ErrorMessage: `${code} on ${i}` },
      ),
    };
  };
  return { putRecords, calls };
}

function errorNamed(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('sending a batch with retries', () => {
  const batch = ['a', 'b', 'c', 'd', 'e'].map((id) => record(id, 10, id));
  let sleeps: number[];
  let options: SendOptions;
  beforeEach(() => {
    sleeps = [];
    options = {
      maxAttempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    };
  });

  test('all records written the first time take one call and no wait', async () => {
    const fake = fakePutRecords([]);
    await expect(sendWithRetries(batch, fake.putRecords, options)).resolves.toEqual({ sent: 5, retried: 0, attempts: 1 });
    expect(fake.calls).toEqual([['a', 'b', 'c', 'd', 'e']]);
    expect(sleeps).toEqual([]);
  });

  test('the entries are the records: data as is, partition key as given', async () => {
    const seen: PutRecordsEntry[][] = [];
    await sendWithRetries([record('a', 3, 'session-1')], async (entries) => {
      seen.push(entries);
      return { FailedRecordCount: 0, Records: [{ SequenceNumber: '1' }] };
    });
    expect(seen).toEqual([[{ Data: new Uint8Array(3), PartitionKey: 'session-1' }]]);
  });

  test('an empty batch makes no call', async () => {
    const fake = fakePutRecords([]);
    await expect(sendWithRetries([], fake.putRecords, options)).resolves.toEqual({ sent: 0, retried: 0, attempts: 0 });
    expect(fake.calls).toEqual([]);
  });

  test('a partial failure re-sends only the failed entries, in their order', async () => {
    const fake = fakePutRecords(['', THROTTLED, '', 'InternalFailure', ''], [THROTTLED, ''], []);
    await expect(sendWithRetries(batch, fake.putRecords, options)).resolves.toEqual({ sent: 5, retried: 3, attempts: 3 });
    expect(fake.calls).toEqual([['a', 'b', 'c', 'd', 'e'], ['b', 'd'], ['b']]);
    expect(sleeps).toEqual([50, 100]);
  });

  test('after maxAttempts it throws, saying how many records failed and their error codes', async () => {
    const fake = fakePutRecords(['', THROTTLED, '', 'InternalFailure', THROTTLED], [THROTTLED, 'InternalFailure', THROTTLED]);
    const error = await sendWithRetries(batch, fake.putRecords, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PutRecordsError);
    expect((error as PutRecordsError).message).toBe(
      '3 of 5 records failed after 4 attempts: ProvisionedThroughputExceededException x2, InternalFailure x1; ' +
        'failed record ids: b, d, e',
    );
    expect((error as PutRecordsError).failed).toEqual([
      { id: 'b', errorCode: THROTTLED, errorMessage: `${THROTTLED} on 0` },
      { id: 'd', errorCode: 'InternalFailure', errorMessage: 'InternalFailure on 1' },
      { id: 'e', errorCode: THROTTLED, errorMessage: `${THROTTLED} on 2` },
    ]);
    expect((error as PutRecordsError).stats).toEqual({ sent: 2, retried: 9, attempts: 4 });
    expect(fake.calls).toHaveLength(4);
  });

  test('a per-record error that is not retryable is not re-sent, and is reported with the rest', async () => {
    const fake = fakePutRecords(['', 'KMSAccessDeniedException', THROTTLED, '', ''], []);
    await expect(sendWithRetries(batch, fake.putRecords, options)).rejects.toThrow(
      '1 of 5 records failed after 2 attempts: KMSAccessDeniedException x1; failed record ids: b',
    );
    expect(fake.calls).toEqual([['a', 'b', 'c', 'd', 'e'], ['c']]);
  });

  test('backoff delays grow exponentially with full jitter and are capped', async () => {
    const fake = fakePutRecords([THROTTLED]);
    const random = jest.fn(() => 0.999);
    await expect(
      sendWithRetries([record('a')], fake.putRecords, { ...options, maxAttempts: 8, random }),
    ).rejects.toThrow(PutRecordsError);
    // floor(0.999 * min(1000, 100 * 2^(n-1))) for retries n = 1..7
    expect(sleeps).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect(random).toHaveBeenCalledTimes(7);
    expect(backoffDelay(3, 100, 1000, () => 0)).toBe(0);
    expect(backoffDelay(3, 100, 1000, () => 0.25)).toBe(100);
    expect(backoffDelay(30, 100, 1000, () => 0.5)).toBe(500);
  });

  test('a thrown error (network) is retried for every entry of that call', async () => {
    const fake = fakePutRecords(['', THROTTLED, '', '', THROTTLED], errorNamed('TimeoutError', 'socket timed out'), []);
    await expect(sendWithRetries(batch, fake.putRecords, options)).resolves.toEqual({ sent: 5, retried: 4, attempts: 3 });
    expect(fake.calls).toEqual([['a', 'b', 'c', 'd', 'e'], ['b', 'e'], ['b', 'e']]);
  });

  test('thrown errors until maxAttempts are reported with the last error', async () => {
    const fake = fakePutRecords(errorNamed('TimeoutError', 'socket timed out'));
    await expect(sendWithRetries(batch.slice(0, 2), fake.putRecords, options)).rejects.toThrow(
      '2 of 2 records failed after 4 attempts: TimeoutError x2; failed record ids: a, b; ' +
        'last error: TimeoutError: socket timed out',
    );
    expect(fake.calls).toHaveLength(4);
  });

  test('a thrown error that retrying cannot fix stops at once', async () => {
    const fake = fakePutRecords(errorNamed('ResourceNotFoundException', 'Stream clicks not found'));
    const error = (await sendWithRetries(batch, fake.putRecords, options).catch((e: unknown) => e)) as PutRecordsError;
    expect(error.message).toBe(
      '5 of 5 records failed with an error that is not retried: ResourceNotFoundException x5; ' +
        'failed record ids: a, b, c, d, e; last error: ResourceNotFoundException: Stream clicks not found',
    );
    expect(error.cause).toBeInstanceOf(Error);
    expect(fake.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('a response that does not match the request is an error, not a success', async () => {
    const putRecords = async (): Promise<PutRecordsResult> => ({ FailedRecordCount: 0, Records: [{ SequenceNumber: '1' }] });
    await expect(sendWithRetries(batch.slice(0, 2), putRecords, options)).rejects.toThrow(
      '2 of 2 records failed because PutRecords answered 1 results for 2 records: MalformedResponse x2',
    );
  });

  test('more than five failed ids are summarized', async () => {
    const many = records(8);
    const fake = fakePutRecords(many.map(() => THROTTLED));
    await expect(sendWithRetries(many, fake.putRecords, { ...options, maxAttempts: 1 })).rejects.toThrow(
      '8 of 8 records failed after 1 attempt: ProvisionedThroughputExceededException x8; ' +
        'failed record ids: r0, r1, r2, r3, r4 and 3 more',
    );
  });

  test('bad retry options are refused', async () => {
    await expect(sendWithRetries(batch, fakePutRecords([]).putRecords, { maxAttempts: 0 })).rejects.toThrow(
      'maxAttempts must be a positive integer, got 0.',
    );
  });
});
