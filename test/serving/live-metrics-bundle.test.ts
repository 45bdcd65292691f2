/**
 * The consumer's Lambda bundle, built as NodejsFunction builds it (local esbuild, the app's
 * HANDLER_BUNDLING options) and run as Lambda runs it: the SQS client comes from the runtime
 * (here a stand-in for `@aws-sdk/client-sqs` that records the requests), the settings from the
 * environment, the metrics go to stdout one EMF document per line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleHandler } from '../support/bundle-handler';
import { clickEvent, kinesisEvent, kinesisRecord } from './kinesis-records';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

const ENTRY = join(__dirname, '../../lib/serving/live-metrics/handler.ts');
const QUEUE_URL = `https://sqs.${EXAMPLE_REGION}.amazonaws.com/${EXAMPLE_ACCOUNT}/undercurrent-dev-rejected-clicks`;

describe('the live consumer bundle', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'live-metrics-bundle-'));
  const outfile = join(outdir, 'index.js');
  let bundle = '';

  beforeAll(async () => {
    bundle = await bundleHandler(ENTRY, outdir);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('carries the declaration’s event types, leaves the AWS SDK to the runtime and holds no CDK code', () => {
    for (const type of ['page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase']) {
      expect(bundle).toContain(type);
    }
    expect(bundle).toContain('@aws-sdk/client-sqs');
    expect(bundle).not.toContain('aws-cdk-lib');
    expect(bundle.length).toBeLessThan(50_000);
  });

  test('runs a batch: rejected records to the queue with SendMessageBatch, metrics to stdout', async () => {
    const commands: { QueueUrl: string; Entries: { Id: string; MessageBody: string; MessageAttributes: unknown }[] }[] = [];
    const clients: unknown[] = [];
    const sqs = {
      SQSClient: class {
        constructor(config: unknown) {
          clients.push(config);
        }
        async send(command: { input: (typeof commands)[number] }) {
          commands.push(command.input);
          return { Successful: command.input.Entries.map((e) => ({ Id: e.Id })), Failed: [] };
        }
      },
      SendMessageBatchCommand: class {
        constructor(readonly input: unknown) {}
      },
    };
    const fakeRequire = (name: string): unknown => {
      if (name === '@aws-sdk/client-sqs') {
        return sqs;
      }
      throw new Error(`the bundle required ${name}`);
    };
    const module = { exports: {} as { handler?: (event: unknown) => Promise<unknown> } };
    new Function('require', 'module', 'exports', '__filename', '__dirname', bundle)(fakeRequire, module, module.exports, outfile, outdir);

    const saved = { ...process.env };
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      process.env.METRICS_NAMESPACE = 'Undercurrent/dev/Clickstream';
      process.env.REJECTED_QUEUE_URL = QUEUE_URL;
      process.env.LATE_AFTER_MINUTES = '10';
      const arrivalMs = Date.now();
      const event = kinesisEvent([
        kinesisRecord(clickEvent({ event_time: new Date(arrivalMs - 1000).toISOString() }), { arrivalMs, sequenceNumber: '1' }),
        kinesisRecord('not json', { arrivalMs, sequenceNumber: '2' }),
      ]);
      await expect(module.exports.handler!(event)).resolves.toEqual({ batchItemFailures: [] });
      // A second invocation reuses the client (one per execution environment).
      await module.exports.handler!(kinesisEvent([]));
    } finally {
      write.mockRestore();
      process.env = saved;
    }
    expect(clients).toHaveLength(1);
    expect(commands).toHaveLength(1);
    expect(commands[0].QueueUrl).toBe(QUEUE_URL);
    expect(commands[0].Entries.map((e) => [e.Id, JSON.parse(e.MessageBody).reason, e.MessageAttributes])).toEqual([
      ['r1', 'malformed_json', { reason: { DataType: 'String', StringValue: 'malformed_json' } }],
    ]);
    expect(written.every((chunk) => chunk.endsWith('\n') && chunk.indexOf('\n') === chunk.length - 1)).toBe(true);
    const documents = written.map((line) => JSON.parse(line)).filter((d) => '_aws' in d);
    expect(documents[0]).toMatchObject({ Records: 2, Rejected: 1 });
    expect(documents[0]._aws.CloudWatchMetrics[0].Namespace).toBe('Undercurrent/dev/Clickstream');
  });
});
