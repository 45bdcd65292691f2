/**
 * The click stream's live consumer: a Lambda function on the Kinesis stream's event-source
 * mapping (with `ReportBatchItemFailures`). Everything it does is in consumer.ts; this module
 * only wires the real world in: the settings from the environment (settings.ts), the
 * rejected-records queue (sqs.ts), stdout and the clock, and one memory per execution
 * environment, kept between invocations.
 *
 * Environment: METRICS_NAMESPACE, REJECTED_QUEUE_URL, LATE_AFTER_MINUTES (settings.ts).
 * Returns `{ batchItemFailures }`: empty, or the first record whose dead letter could not be
 * sent. Throws only when the settings are missing (every invocation then fails and alarms).
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { consumeBatch, ConsumerDeps } from './consumer';
import { createMemory } from './metrics';
import { readSettings } from './settings';
import { sqsDeadLetterSender } from './sqs';

let deps: ConsumerDeps | undefined;

/** One EMF document or summary per write, with no prefix, so CloudWatch Logs extracts the metrics. */
function writeLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  if (!deps) {
    const settings = readSettings(process.env);
    deps = {
      settings,
      memory: createMemory(),
      sendDeadLetters: sqsDeadLetterSender(settings.rejectedQueueUrl),
      writeLine,
      now: Date.now,
    };
  }
  return consumeBatch(event, deps);
}
