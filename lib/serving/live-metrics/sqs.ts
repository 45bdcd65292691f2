/**
 * The dead-letter sender on Amazon SQS: `SendMessageBatch` with the AWS SDK for JavaScript v3
 * that the Lambda Node.js runtime provides (the bundle leaves `@aws-sdk/*` to the runtime, see
 * lib/shared/handler-bundling.ts). The repository does not install `@aws-sdk/client-sqs`: only
 * this function uses it, so the module is required at run time and typed here by the few
 * members it uses. The SDK's own retries (throttling, network) apply to each request.
 */
import type { DeadLetterSender } from './consumer';

/** The members of `@aws-sdk/client-sqs` this module uses. */
interface SqsModule {
  readonly SQSClient: new (config: Record<string, unknown>) => { send(command: unknown): Promise<SendMessageBatchOutput> };
  readonly SendMessageBatchCommand: new (input: SendMessageBatchInput) => unknown;
}

interface SendMessageBatchInput {
  readonly QueueUrl: string;
  readonly Entries: readonly {
    readonly Id: string;
    readonly MessageBody: string;
    readonly MessageAttributes: Record<string, { readonly DataType: 'String'; readonly StringValue: string }>;
  }[];
}

interface SendMessageBatchOutput {
  readonly Failed?: readonly { readonly Id?: string }[];
}

/** The module name, in one place: the bundle test provides a stand-in under it. */
export const SQS_MODULE = '@aws-sdk/client-sqs';

/** A sender to one queue; the client is made on first use and reused by later invocations. */
export function sqsDeadLetterSender(queueUrl: string, load: (name: string) => unknown = require): DeadLetterSender {
  let client: { send(command: unknown): Promise<SendMessageBatchOutput> } | undefined;
  let sdk: SqsModule | undefined;
  return async (entries) => {
    sdk ??= load(SQS_MODULE) as SqsModule;
    client ??= new sdk.SQSClient({});
    const output = await client.send(
      new sdk.SendMessageBatchCommand({
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
