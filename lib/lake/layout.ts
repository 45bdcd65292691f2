/**
 * Where each dataset lives in the lake: the prefixes that the writers (Firehose, the Glue
 * jobs), the catalog tables and the grants share. A module of plain constants, so that every
 * stack can import it without importing another stack.
 */

/** Raw-zone prefix of the click events Firehose delivers: `clickstream/event_date=D/ingest_date=D/`. */
export const CLICKSTREAM_RAW_PREFIX = 'clickstream/';
/** Curated and quarantine prefix of the click events dataset. */
export const CLICKSTREAM_DATASET_PREFIX = 'clickstream_events/';
/** Raw-zone prefix of the records Firehose could not parse or deliver. */
export const CLICKSTREAM_ERROR_PREFIX = 'clickstream-errors/';
/** Raw-zone prefix of the batch extract: `source/<table>/ingest_date=YYYY-MM-DD/...`. */
export const SOURCE_RAW_PREFIX = 'source/';
/** Raw-zone prefix of change data capture: `cdc/<database>/<table>/YYYY/MM/DD/`. */
export const CDC_RAW_PREFIX = 'cdc/';

/**
 * Curated, quarantine and gold prefix of a dataset named by its table: `<table>/` (e.g. the
 * curated source table `customers/`, its quarantine `customers/`, the gold table `dim_customer/`).
 */
export function datasetPrefix(table: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(table)) {
    throw new Error(`Dataset name "${table}" cannot be a lake prefix; use lower-case letters, digits and "_", starting with a letter.`);
  }
  return `${table}/`;
}
