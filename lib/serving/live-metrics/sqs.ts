/**
 * The dead-letter sender on Amazon SQS: `SendMessageBatch` with the AWS SDK for JavaScript v3
 * that the Lambda Node.js runtime provides (the bundle leaves `@aws-sdk/*` to the runtime, see
 * lib/shared/handler-bundling.ts; the repository pins the client as a dev dependency for its
 * types and tests). The SDK's own retries (throttling, network) apply to each request.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSender } from './consumer';

/** A sender to one queue; the client is made on first use and reused by later invocations. */
export function sqsDeadLetterSender(queueUrl: string): DeadLetterSender {
  let client: SQSClient | undefined;
  return async (entries) => {
    client ??= new SQSClient({});
    const output = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.map((entry) => ({
          Id: entry.id,
          MessageBody: entry.body,
          MessageAttributes: { reason: { DataType: 'String', StringValue: entry.reason } },
        })),
      }),
    );
    return { failedIds: (output.Failed ?? []).flatMap((failure) => (failure.Id === undefined ? [] : [failure.Id])) };
  };
}
