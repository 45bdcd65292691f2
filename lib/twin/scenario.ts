/**
 * What the twin feeds the pipeline and what it must find afterwards: the source rows and
 * click events it injects on purpose (each breaking exactly one declared rule), so that the
 * quarantine can be checked to hold exactly those, and nothing else.
 */
import { clickEventRecord, generateClickEvents } from '../ingestion/producer/click-events';

/** A source row the twin inserts that a quarantine rule of its table must catch. */
export interface BadSourceRow {
  readonly table: string;
  /** The declared rule it breaks, as the quarantine's `rule` column names it. */
  readonly rule: string;
  /** Columns that identify it in the quarantine's `record` (its key, or the part of it the twin sets). */
  readonly key: Readonly<Record<string, string | number>>;
  /**
   * Statements that insert it by copying a valid row of the table (run in order, as the
   * admin): a copy keeps every NOT NULL column filled whatever the schema adds later.
   */
  readonly statements: readonly string[];
}

/** Key values far above the sample data's (which count from 1 and 10100, 103, ...). */
const BAD_CUSTOMER = 990001;
const BAD_ORDER = 990002;

function copyRow(table: string, orderBy: string, changes: Record<string, string>): string[] {
  const sets = Object.entries(changes).map(([column, value]) => `${column} = ${value}`).join(', ');
  return [
    `DROP TEMPORARY TABLE IF EXISTS twin_bad_${table}`,
    `CREATE TEMPORARY TABLE twin_bad_${table} AS SELECT * FROM ${table} ORDER BY ${orderBy} LIMIT 1`,
    `UPDATE twin_bad_${table} SET ${sets}`,
    `INSERT INTO ${table} SELECT * FROM twin_bad_${table}`,
    `DROP TEMPORARY TABLE twin_bad_${table}`,
  ];
}

/**
 * One bad row per source table that has a quarantine rule a MySQL schema lets through
 * (no CHECK constraints: ranges and allowed values are the pipeline's rules, not the database's).
 * None is an order line, so the gold fact's revenue stays the source's (the twin checks it).
 */
export const BAD_SOURCE_ROWS: readonly BadSourceRow[] = [
  {
    table: 'customers',
    rule: 'range:credit_limit',
    key: { customer_number: BAD_CUSTOMER },
    statements: copyRow('customers', 'customer_number', { customer_number: String(BAD_CUSTOMER), credit_limit: '-100.00' }),
  },
  {
    table: 'orders',
    rule: 'allowed_values:status',
    key: { order_number: BAD_ORDER },
    statements: copyRow('orders', 'order_number', { order_number: String(BAD_ORDER), status: "'Lost'" }),
  },
  {
    table: 'payments',
    rule: 'range:amount',
    key: { check_number: 'TWIN-NEG-1' },
    statements: copyRow('payments', 'customer_number, check_number', { check_number: "'TWIN-NEG-1'", amount: '-5.00' }),
  },
  {
    table: 'products',
    rule: 'range:buy_price',
    key: { product_code: 'TWIN_BAD_1' },
    statements: copyRow('products', 'product_code', { product_code: "'TWIN_BAD_1'", buy_price: '-1.00' }),
  },
];

/** A click record the twin sends that must end in the clickstream quarantine (or Firehose's errors). */
export interface BadClickRecord {
  readonly data: string;
  /** The quarantine rule, or `firehose` for a record Firehose itself cannot partition. */
  readonly rule: string;
}

/** The click events of one twin run: valid events, their Firehose retries, and bad records. */
export interface ClickScenario {
  readonly records: readonly Buffer[];
  /** How many distinct valid events (the curated rows the run must end with). */
  readonly valid: number;
  /** Valid events sent twice (as a Firehose retry delivers them): removed by deduplication. */
  readonly duplicates: number;
  readonly bad: readonly BadClickRecord[];
}

/** Valid click events from the project's producer, `count` of them from `start`, plus the bad ones. */
export function clickScenario(count: number, start: Date): ClickScenario {
  const events = [...generateClickEvents({ count, seed: 7, startTime: start })];
  const valid = events.map((e) => Buffer.from(clickEventRecord(e).data));
  const template = events[0];
  const bad: BadClickRecord[] = [
    { rule: 'missing_event_id', data: JSON.stringify({ ...template, event_id: null }) },
    { rule: 'invalid_event_type', data: JSON.stringify({ ...template, event_id: 'twin-bad-type', event_type: 'teleport' }) },
    { rule: 'invalid_event_time', data: JSON.stringify({ ...template, event_id: 'twin-bad-time', event_time: '2025-13-45T99:00:00Z' }) },
    // Not one JSON object: Firehose's JQ partitioning fails, so it lands in the error prefix, not in raw.
    { rule: 'firehose', data: `${JSON.stringify({ ...template, event_id: 'twin-two-objects' })} {}` },
    { rule: 'firehose', data: 'not json at all' },
  ];
  const duplicates = Math.min(3, valid.length);
  return {
    records: [...valid, ...valid.slice(0, duplicates), ...bad.map((b) => Buffer.from(b.data, 'utf8'))],
    valid: valid.length,
    duplicates,
    bad,
  };
}
