/**
 * The dead letters of rejected click records, as pure functions: the SQS message of each (the
 * raw record and where it sits in the stream) and their grouping into `SendMessageBatch`
 * requests within SQS's limits. Sending is the caller's (consumer.ts, with an injected sender).
 */
import type { RejectionRule } from './records';
import type { ClickRecord } from './records';

/** What the message body's `kind` says: a record the consumer rejected. */
export const REJECTED_RECORD_KIND = 'rejected-click-record';

/**
 * The most base64 characters of a record's data a message carries (48 KiB of data): a Kinesis
 * record may hold 1 MiB, an SQS message 256 KiB. A longer record is cut (`truncated: true`)
 * and can be read whole from the stream by its shard and sequence number while the stream
 * retains it.
 */
export const MAX_DATA_CHARS = 64 * 1024;

/** SendMessageBatch: at most 10 entries and 256 KiB of bodies and attributes together. */
export const SQS_BATCH_LIMITS = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/** The body of a dead letter, as JSON. */
export interface DeadLetterBody {
  readonly kind: typeof REJECTED_RECORD_KIND;
  /** The first rule the record failed (records.ts). */
  readonly reason: RejectionRule;
  readonly eventSourceArn: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** When Kinesis received the record, ISO-8601 UTC. */
  readonly arrivedAt: string;
  /** The record's data, base64, as Kinesis delivered it (the first {@link MAX_DATA_CHARS} characters). */
  readonly data: string;
  /** Length of the whole base64 data. */
  readonly dataLength: number;
  readonly truncated: boolean;
}

/** One entry of a `SendMessageBatch` request: `id` unique within the request. */
export interface DeadLetter {
  readonly id: string;
  readonly body: string;
  /** Also a message attribute `reason`, so that a reader can filter without parsing. */
  readonly reason: RejectionRule;
  /** Position of the record in the batch (the partial-batch response names the first failure). */
  readonly index: number;
}

/** The dead letter of the record at `index` of a batch, when it was rejected. */
export function deadLetterOf(record: ClickRecord, index: number): DeadLetter | undefined {
  if (record.kind !== 'rejected') {
    return undefined;
  }
  const { position } = record;
  const truncated = record.data.length > MAX_DATA_CHARS;
  const body: DeadLetterBody = {
    kind: REJECTED_RECORD_KIND,
    reason: record.rule,
    eventSourceArn: position.eventSourceArn,
    shardId: position.shardId,
    sequenceNumber: position.sequenceNumber,
    partitionKey: position.partitionKey,
    arrivedAt: new Date(position.arrivalMs).toISOString(),
    data: truncated ? record.data.slice(0, MAX_DATA_CHARS) : record.data,
    dataLength: record.data.length,
    truncated,
  };
  return { id: `r${index}`, body: JSON.stringify(body), reason: record.rule, index };
}

/** Bytes an entry counts for against the request's limit: its body and its `reason` attribute. */
export function entrySize(entry: DeadLetter): number {
  return Buffer.byteLength(entry.body, 'utf8') + Buffer.byteLength(`reason${'String'}${entry.reason}`, 'utf8');
}

/** Groups dead letters, in order, into requests within {@link SQS_BATCH_LIMITS}. */
export function groupDeadLetters(entries: readonly DeadLetter[], limits = SQS_BATCH_LIMITS): DeadLetter[][] {
  const groups: DeadLetter[][] = [];
  let group: DeadLetter[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (group.length > 0 && (group.length >= limits.maxEntries || bytes + size > limits.maxBytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += size;
  }
  if (group.length > 0) {
    groups.push(group);
  }
  return groups;
}
