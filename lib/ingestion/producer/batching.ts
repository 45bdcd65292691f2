/**
 * Kinesis PutRecords batching and retries, as pure logic: no AWS SDK here. The caller
 * injects the `putRecords` call (and, in tests, `sleep` and `random`).
 *
 * Limits (Kinesis Data Streams PutRecords): at most 500 records and 5 MiB per request,
 * counting each record's data and partition key; at most 1 MiB per record; partition keys
 * of 1 to 256 characters. A record over a limit is rejected before anything is sent, with
 * an error naming it; no record is ever dropped silently.
 */

/** A record to put: `id` names it in errors (the event id); `data` is sent as is. */
export interface KinesisRecord {
  readonly id: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface KinesisLimits {
  readonly maxRecordsPerRequest: number;
  /** Data plus partition key bytes of all records of one request. */
  readonly maxBytesPerRequest: number;
  /** Data plus partition key bytes of one record. */
  readonly maxBytesPerRecord: number;
  /** In characters (Unicode code points). */
  readonly maxPartitionKeyLength: number;
}

const MIB = 1024 * 1024;

export const KINESIS_LIMITS: KinesisLimits = {
  maxRecordsPerRequest: 500,
  maxBytesPerRequest: 5 * MIB,
  maxBytesPerRecord: MIB,
  maxPartitionKeyLength: 256,
};

/** A record that Kinesis would refuse; thrown before any request that would hold it. */
export class RecordRejectedError extends Error {
  constructor(
    readonly recordId: string,
    message: string,
  ) {
    super(message);
    this.name = 'RecordRejectedError';
  }
}

/** Bytes a record counts for against the limits: its data plus its UTF-8 partition key. */
export function recordSize(record: KinesisRecord): number {
  return record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
}

/**
 * Check one record against the per-record limits.
 *
 * @returns its size in bytes (see {@link recordSize}).
 * @throws RecordRejectedError naming the record.
 */
export function checkRecord(record: KinesisRecord, limits: KinesisLimits = KINESIS_LIMITS): number {
  const keyLength = Array.from(record.partitionKey).length;
  if (keyLength < 1 || keyLength > limits.maxPartitionKeyLength) {
    throw new RecordRejectedError(
      record.id,
      `Record ${record.id} has a partition key of ${keyLength} characters; Kinesis takes 1 to ` +
        `${limits.maxPartitionKeyLength}. It was not sent.`,
    );
  }
  const size = recordSize(record);
  if (size > limits.maxBytesPerRecord) {
    throw new RecordRejectedError(
      record.id,
      `Record ${record.id} is ${size} bytes (data + partition key), over the Kinesis limit of ` +
        `${limits.maxBytesPerRecord} bytes per record. It was not sent; make the event smaller.`,
    );
  }
  return size;
}

function checkLimits(limits: KinesisLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`limits.${name} must be a positive integer, got ${value}.`);
    }
  }
  if (limits.maxBytesPerRecord > limits.maxBytesPerRequest) {
    throw new RangeError('limits.maxBytesPerRecord cannot exceed limits.maxBytesPerRequest.');
  }
}

/**
 * Group records, in order, into PutRecords requests within the limits. Lazy: each batch is
 * made when it is asked for, so a stream of records never has to be held in memory; a
 * record over a limit throws before the batch that would hold it is returned.
 *
 * @throws RecordRejectedError for a record over a per-record limit.
 */
export function* batchRecords(
  records: Iterable<KinesisRecord>,
  limits: KinesisLimits = KINESIS_LIMITS,
): Generator<KinesisRecord[]> {
  checkLimits(limits);
  let batch: KinesisRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = checkRecord(record, limits);
    if (batch.length > 0 && (batch.length >= limits.maxRecordsPerRequest || bytes + size > limits.maxBytesPerRequest)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(record);
    bytes += size;
  }
  if (batch.length > 0) {
    yield batch;
  }
}

/**
 * Split records, in order, into PutRecords requests within the limits. Every record is
 * checked before any batch is returned, so an oversize record means nothing is sent.
 *
 * @throws RecordRejectedError for a record over a per-record limit.
 */
export function splitIntoBatches(
  records: readonly KinesisRecord[],
  limits: KinesisLimits = KINESIS_LIMITS,
): KinesisRecord[][] {
  return Array.from(batchRecords(records, limits));
}

// ---------------------------------------------------------------------------------------
// Sending with retries
// ---------------------------------------------------------------------------------------

/** One entry of a PutRecords request (a subset of the SDK's PutRecordsRequestEntry). */
export interface PutRecordsEntry {
  readonly Data: Uint8Array;
  readonly PartitionKey: string;
}

/** One entry of a PutRecords response, in request order (the SDK's PutRecordsResultEntry). */
export interface PutRecordsResultEntry {
  readonly SequenceNumber?: string;
  readonly ShardId?: string;
  readonly ErrorCode?: string;
  readonly ErrorMessage?: string;
}

/** The parts of the SDK's PutRecordsOutput this module reads. */
export interface PutRecordsResult {
  readonly FailedRecordCount?: number;
  readonly Records?: readonly PutRecordsResultEntry[];
}

export type PutRecordsFn = (entries: PutRecordsEntry[]) => Promise<PutRecordsResult>;

/** Per-record error codes worth retrying (the two PutRecords can return). */
export const RETRYABLE_ERROR_CODES: readonly string[] = ['ProvisionedThroughputExceededException', 'InternalFailure'];

/**
 * Names of thrown errors that retrying cannot fix (wrong stream, permissions, request,
 * key or credentials); any other thrown error (network, timeout, throttling) is retried.
 */
export const NON_RETRYABLE_ERROR_NAMES: readonly string[] = [
  'ResourceNotFoundException',
  'AccessDeniedException',
  'ValidationException',
  'InvalidArgumentException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'CredentialsProviderError',
  'UnrecognizedClientException',
];

export interface SendOptions {
  /**
   * PutRecords calls per batch, the first included.
   * @default 8
   */
  readonly maxAttempts?: number;
  /**
   * Backoff before retry n (n = 1, 2, ...) is random() * min(maxDelayMs, baseDelayMs * 2^(n-1)).
   * @default 100
   */
  readonly baseDelayMs?: number;
  /**
   * Cap of the backoff.
   * @default 5000
   */
  readonly maxDelayMs?: number;
  /**
   * Waits the given milliseconds.
   * @default - a setTimeout promise
   */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * A float in [0, 1) for the full jitter.
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * Decides whether an error thrown by putRecords is retried.
   * @default - retried unless its name is in NON_RETRYABLE_ERROR_NAMES
   */
  readonly isRetryableError?: (error: unknown) => boolean;
}

export interface SendStats {
  /** Records Kinesis accepted. */
  readonly sent: number;
  /** Record sends after the first attempt (a record re-sent twice counts twice). */
  readonly retried: number;
  /** PutRecords calls made. */
  readonly attempts: number;
}

/** A record that was not written, with the last error it got. */
export interface FailedRecord {
  readonly id: string;
  readonly errorCode: string;
  readonly errorMessage?: string;
}

/** Some records of a batch were not written; `failed` lists every one of them. */
export class PutRecordsError extends Error {
  constructor(
    message: string,
    readonly failed: readonly FailedRecord[],
    readonly stats: SendStats,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PutRecordsError';
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function defaultIsRetryableError(error: unknown): boolean {
  return !NON_RETRYABLE_ERROR_NAMES.includes(errorName(error));
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The full-jitter backoff before retry `retry` (1 for the first retry).
 * Exported for tests and for callers that want to show the schedule.
 */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * cap);
}

function summarize(failed: readonly FailedRecord[]): string {
  const counts = new Map<string, number>();
  for (const f of failed) counts.set(f.errorCode, (counts.get(f.errorCode) ?? 0) + 1);
  const codes = [...counts].map(([code, n]) => `${code} x${n}`).join(', ');
  const ids = failed.slice(0, 5).map((f) => f.id);
  const more = failed.length > ids.length ? ` and ${failed.length - ids.length} more` : '';
  return `${codes}; failed record ids: ${ids.join(', ')}${more}`;
}

/**
 * Put one batch (see {@link batchRecords}) with `putRecords`, re-sending only the records
 * that failed, in their original order, with exponential backoff and full jitter.
 *
 * Per-record errors in {@link RETRYABLE_ERROR_CODES} are retried; other per-record errors
 * are not (the rest of the batch still is). A thrown error is retried for every record of
 * that call, unless `isRetryableError` says otherwise.
 *
 * @returns stats when every record was written.
 * @throws PutRecordsError after maxAttempts calls, or at once for an error that is not
 *   retried, saying how many records failed and with which error codes; its `failed` lists
 *   them all and its `stats.sent` counts those written.
 */
export async function sendWithRetries(
  batch: readonly KinesisRecord[],
  putRecords: PutRecordsFn,
  options: SendOptions = {},
): Promise<SendStats> {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const isRetryableError = options.isRetryableError ?? defaultIsRetryableError;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}.`);
  }
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) {
    throw new RangeError(`baseDelayMs and maxDelayMs must be >= 0, got ${baseDelayMs} and ${maxDelayMs}.`);
  }

  let pending: readonly KinesisRecord[] = batch;
  let failed: FailedRecord[] = [];
  const permanent: FailedRecord[] = [];
  let sent = 0;
  let retried = 0;
  let attempts = 0;
  let lastThrown: unknown;
  const stats = (): SendStats => ({ sent, retried, attempts });
  const give = (reason: string, records: readonly FailedRecord[]): PutRecordsError =>
    new PutRecordsError(
      `${records.length} of ${batch.length} records failed ${reason}: ${summarize(records)}` +
        (lastThrown === undefined ? '' : `; last error: ${errorName(lastThrown)}: ${errorMessage(lastThrown)}`),
      records,
      stats(),
      lastThrown,
    );

  while (pending.length > 0 && attempts < maxAttempts) {
    if (attempts > 0) {
      retried += pending.length;
      await sleep(backoffDelay(attempts, baseDelayMs, maxDelayMs, random));
    }
    attempts += 1;
    let result: PutRecordsResult;
    try {
      result = await putRecords(pending.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey })));
    } catch (error) {
      lastThrown = error;
      failed = pending.map((r) => ({ id: r.id, errorCode: errorName(error), errorMessage: errorMessage(error) }));
      if (!isRetryableError(error)) {
        throw give('with an error that is not retried', [...permanent, ...failed]);
      }
      continue;
    }
    const entries = result.Records ?? [];
    if (entries.length !== pending.length) {
      failed = pending.map((r) => ({ id: r.id, errorCode: 'MalformedResponse' }));
      throw give(
        `because PutRecords answered ${entries.length} results for ${pending.length} records`,
        [...permanent, ...failed],
      );
    }
    lastThrown = undefined;
    const retry: KinesisRecord[] = [];
    failed = [];
    entries.forEach((entry, i) => {
      const record = pending[i];
      if (entry.ErrorCode === undefined || entry.ErrorCode === '') {
        sent += 1;
        return;
      }
      const failure = { id: record.id, errorCode: entry.ErrorCode, errorMessage: entry.ErrorMessage };
      if (RETRYABLE_ERROR_CODES.includes(entry.ErrorCode)) {
        retry.push(record);
        failed.push(failure);
      } else {
        permanent.push(failure);
      }
    });
    pending = retry;
  }

  const notWritten = [...permanent, ...(pending.length > 0 ? failed : [])];
  if (notWritten.length > 0) {
    throw give(`after ${attempts} attempt${attempts === 1 ? '' : 's'}`, notWritten);
  }
  return stats();
}
