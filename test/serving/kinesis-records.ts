import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

/**
 * Lambda Kinesis events for the live-metrics tests, shaped exactly as Lambda delivers them
 * (base64 data, `approximateArrivalTimestamp` in seconds, `eventID` = `<shard>:<sequence>`).
 * Not a test file (jest matches `*.test.ts` only).
 */

export const STREAM_ARN = `arn:aws:kinesis:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:stream/undercurrent-dev-clicks`;

/** Options of {@link kinesisRecord}. */
export interface RecordOptions {
  /** @default - a sequence number from the record's position */
  readonly sequenceNumber?: string;
  readonly partitionKey?: string;
  /** When Kinesis received it, epoch milliseconds. */
  readonly arrivalMs: number;
  /** @default 'shardId-000000000000' */
  readonly shardId?: string;
}

let counter = 0;

/** A record whose data is `data` as UTF-8 text (an object is sent as its JSON). */
export function kinesisRecord(data: string | object, options: RecordOptions): KinesisStreamRecord {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return rawKinesisRecord(Buffer.from(text, 'utf8').toString('base64'), options);
}

/** A record whose `kinesis.data` is given as it is (to send data that is not base64). */
export function rawKinesisRecord(base64: string, options: RecordOptions): KinesisStreamRecord {
  counter += 1;
  const sequenceNumber = options.sequenceNumber ?? `4959033827149025660855969253836157109592157598913${String(counter).padStart(7, '0')}`;
  const shardId = options.shardId ?? 'shardId-000000000000';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: options.partitionKey ?? 'session',
      sequenceNumber,
      data: base64,
      approximateArrivalTimestamp: options.arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/consumer`,
    awsRegion: 'us-east-1',
    eventSourceARN: STREAM_ARN,
  };
}

export function kinesisEvent(records: readonly KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: [...records] };
}

/** A click event as the producer sends it (every declared column), with fields replaced. */
export function clickEvent(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: '0b8a6f4e-3c1d-4e5f-9a7b-1c2d3e4f5a6b',
    event_type: 'product_view',
    event_time: '2025-03-01T09:29:30.000Z',
    session_id: 'c1f0e3d2-5b4a-4c3d-8e2f-0a1b2c3d4e5f',
    customer_number: 103,
    product_code: 'S10_1678',
    page_url: 'https://shop.example.com/products/S10_1678',
    referrer: null,
    user_agent: 'Mozilla/5.0',
    ...fields,
  };
}
