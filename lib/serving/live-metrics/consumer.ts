/**
 * One batch of the click stream, from the Lambda event to the partial-batch response. The
 * logic is pure but for what is injected: the dead-letter sender, the line writer, the clock and
 * the environment's memory.
 *
 * 1. Every record is read (records.ts): a click event or a rejection. Nothing throws.
 * 2. Each rejected record is sent, with its raw data and stream position, to the rejected-records
 *    queue, in stream order; after a request with a failed entry nothing more is sent.
 * 3. The records before the first one whose dead letter failed are counted (metrics.ts) and
 *    written as EMF lines, plus one summary line.
 * 4. The response names that first failed record (`batchItemFailures`), or none.
 *
 * Kinesis checkpoints by sequence number: Lambda resumes from the lowest record a response names,
 * so that record and every one after it come again, and only the records before it are done.
 * That is why step 3 counts only those: a retried batch never counts a record twice. Rejected
 * records after the failure whose dead letter was sent are sent again on the retry (their
 * `sequenceNumber` tells the copies apart). Only a failure to send a dead letter fails a record:
 * a bad record is a rejection, never an error, so it can neither block the shard nor be retried.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { DeadLetter, deadLetterOf, groupDeadLetters } from './dead-letters';
import { aggregate, ConsumerMemory, renderEmf } from './metrics';
import { ClickRecord, readRecord } from './records';
import type { ConsumerSettings } from './settings';

/**
 * Sends one request of dead letters (at most 10, within SQS's size limit) and returns the ids
 * of the entries that were not accepted. Throwing means none was.
 */
export type DeadLetterSender = (entries: readonly DeadLetter[]) => Promise<{ readonly failedIds: readonly string[] }>;

/** What a batch needs besides its records. */
export interface ConsumerDeps {
  readonly settings: Pick<ConsumerSettings, 'namespace' | 'lateAfterMinutes'>;
  /** This execution environment's memory of counted events and sessions. */
  readonly memory: ConsumerMemory;
  readonly sendDeadLetters: DeadLetterSender;
  /** Writes one log line (an EMF document is one line, without Lambda's log prefix). */
  readonly writeLine: (line: string) => void;
  /** The time, epoch milliseconds. */
  readonly now: () => number;
}

/** The summary line of a batch (not EMF: it creates no metric), for Logs Insights. */
export interface BatchSummary {
  readonly message: 'live metrics batch';
  readonly records: number;
  /** Records counted in the metrics (those before the first failed dead letter). */
  readonly counted: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly events: number;
  readonly lateEvents: number;
  readonly droppedLateEvents: number;
  readonly futureEvents: number;
  readonly deadLettersSent: number;
  /** Sequence number Lambda retries from, when a dead letter could not be sent. */
  readonly retryFrom: string | null;
  /** The error of the failed send (its message only: never record data). */
  readonly sendError: string | null;
}

/**
 * Sends the dead letters request by request, in stream order, until a request has a failed
 * entry. Returns the batch index of the first failed record, if any, and how many were sent.
 */
async function sendInOrder(
  letters: readonly DeadLetter[],
  send: DeadLetterSender,
): Promise<{ firstFailed?: number; sent: number; error?: string }> {
  let sent = 0;
  for (const group of groupDeadLetters(letters)) {
    let failedIds: ReadonlySet<string>;
    let error: string | undefined;
    try {
      failedIds = new Set((await send(group)).failedIds);
    } catch (caught) {
      failedIds = new Set(group.map((entry) => entry.id));
      error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
    }
    const failed = group.filter((entry) => failedIds.has(entry.id));
    sent += group.length - failed.length;
    if (failed.length > 0) {
      return { firstFailed: Math.min(...failed.map((entry) => entry.index)), sent, error: error ?? `${failed.length} entries not accepted` };
    }
  }
  return { sent };
}

/** The records of an event, whatever it holds. */
function recordsOf(event: KinesisStreamEvent): readonly KinesisStreamRecord[] {
  return Array.isArray(event?.Records) ? event.Records : [];
}

/**
 * Processes one batch: dead letters, metrics, summary, partial-batch response (see the module
 * comment). Rejects only when the injected writer or clock throws.
 */
export async function consumeBatch(event: KinesisStreamEvent, deps: ConsumerDeps): Promise<KinesisStreamBatchResponse> {
  const records = recordsOf(event);
  const nowMs = deps.now();
  const read: ClickRecord[] = records.map((record) => readRecord(record, nowMs));
  const letters = read.flatMap((record, index) => deadLetterOf(record, index) ?? []);
  const { firstFailed, sent, error } = await sendInOrder(letters, deps.sendDeadLetters);
  const done = firstFailed === undefined ? read : read.slice(0, firstFailed);
  const metrics = aggregate(done, { lateAfterMs: deps.settings.lateAfterMinutes * 60_000, nowMs }, deps.memory);
  for (const document of renderEmf(metrics, deps.settings.namespace)) {
    deps.writeLine(JSON.stringify(document));
  }
  const retryFrom = firstFailed === undefined ? null : read[firstFailed].position.sequenceNumber;
  const { totals } = metrics;
  const summary: BatchSummary = {
    message: 'live metrics batch',
    records: read.length,
    counted: done.length,
    rejected: totals.rejected,
    duplicates: totals.duplicates,
    events: totals.events,
    lateEvents: totals.lateEvents,
    droppedLateEvents: totals.droppedLateEvents,
    futureEvents: totals.futureEvents,
    deadLettersSent: sent,
    retryFrom,
    sendError: error ?? null,
  };
  deps.writeLine(JSON.stringify(summary));
  return { batchItemFailures: retryFrom === null ? [] : [{ itemIdentifier: retryFrom }] };
}
