/**
 * Reading one Kinesis record of the click stream, as pure functions: decode it, check it
 * against the clickstream declaration with the curate job's rules, and normalise its page to a
 * route. Nothing here throws on bad input: a record is either a click event or a rejection
 * naming the first rule it failed.
 *
 * The rules and their names are those of the Spark job that curates the raw zone
 * (`glue-scripts/lib/undercurrent_glue/clickstream.py`), so that the live `Rejected` count
 * predicts what the curated zone will quarantine: `malformed_json`, then `missing_<column>` for
 * each non-nullable column (absent, null or blank after trimming), then `invalid_event_type`
 * (not an allowed value, case-insensitive), then `invalid_<column>` for a value that does not
 * convert to its declared type. The consumer adds one rule of its own, checked first:
 * `undecodable_record`, for record data that is not base64 of UTF-8 text.
 *
 * The declaration is the JSON file itself, bundled into the function by esbuild: the Lambda
 * reads no file at run time, and a changed declaration changes what it checks.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import declarationJson from '../../../glue-scripts/lib/undercurrent_glue/schemas/clickstream_event.json';

/** One column of the declaration, as far as the consumer reads it. */
interface DeclaredColumn {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

/** The declaration, as far as the consumer reads it. */
interface ClickstreamDeclaration {
  readonly columns: readonly DeclaredColumn[];
  readonly allowed_values?: Readonly<Record<string, readonly string[]>>;
}

const DECLARATION: ClickstreamDeclaration = declarationJson;

/** The declared types this module converts; another type in the declaration is an error at load. */
const SUPPORTED_TYPES = ['string', 'int', 'timestamp'] as const;

/** The columns the consumer needs, by the names the declaration gives them. */
const REQUIRED_COLUMNS = ['event_id', 'event_type', 'event_time', 'session_id', 'page_url'] as const;

/** The first rule a record fails, in checking order (see the module comment). */
export type RejectionRule = 'undecodable_record' | 'malformed_json' | `missing_${string}` | `invalid_${string}`;

/** A record that is a click event, with the fields the metrics need, cleaned as the curate job cleans them. */
export interface ClickEvent {
  /** Trimmed; the deduplication key. */
  readonly eventId: string;
  /** Trimmed and lower case; one of the declared allowed values. */
  readonly eventType: string;
  /** `event_time` as epoch milliseconds (UTC). */
  readonly eventTimeMs: number;
  readonly sessionId: string;
  /** `page_url` normalised by {@link routeOf}. */
  readonly route: string;
}

/** Where a record sits in the stream, for the dead-letter message and the partial-batch response. */
export interface RecordPosition {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly shardId: string;
  readonly eventSourceArn: string;
  /** `approximateArrivalTimestamp`: when Kinesis received the record, epoch milliseconds. */
  readonly arrivalMs: number;
}

/** A record read: a click event, or a rejection with its rule and the raw data (base64). */
export type ClickRecord =
  | { readonly kind: 'event'; readonly position: RecordPosition; readonly event: ClickEvent }
  | { readonly kind: 'rejected'; readonly position: RecordPosition; readonly rule: RejectionRule; readonly data: string };

// ---------------------------------------------------------------------------------------------
// The declaration's rules, built once
// ---------------------------------------------------------------------------------------------

interface Rule {
  readonly name: RejectionRule;
  readonly kind: 'missing' | 'allowed' | 'type';
  readonly column: string;
}

/**
 * The rules in checking order, from the declaration, as the curate job builds them
 * (`_rule_specs`): missing for each non-nullable column, then allowed values, then types.
 *
 * @throws Error when the declaration has a type this module cannot convert or lacks a column
 *   the metrics need: a test loads the module, so this fails the build, never a Lambda.
 */
export function declarationRules(declaration: ClickstreamDeclaration = DECLARATION): readonly Rule[] {
  const unsupported = declaration.columns.filter((c) => !(SUPPORTED_TYPES as readonly string[]).includes(c.type));
  if (unsupported.length > 0) {
    throw new Error(
      `The live metrics consumer cannot check columns of type ${unsupported.map((c) => `${c.name} (${c.type})`).join(', ')}; ` +
        'extend lib/serving/live-metrics/records.ts together with the declaration.',
    );
  }
  const missing = REQUIRED_COLUMNS.filter((name) => !declaration.columns.some((c) => c.name === name && !c.nullable));
  if (missing.length > 0) {
    throw new Error(`The live metrics consumer needs the non-nullable columns ${missing.join(', ')}, which the declaration does not declare.`);
  }
  const allowed = declaration.allowed_values ?? {};
  return [
    ...declaration.columns.filter((c) => !c.nullable).map((c): Rule => ({ name: `missing_${c.name}`, kind: 'missing', column: c.name })),
    ...Object.keys(allowed).map((name): Rule => ({ name: `invalid_${name}`, kind: 'allowed', column: name })),
    ...declaration.columns
      .filter((c) => c.type !== 'string' && !(c.name in allowed))
      .map((c): Rule => ({ name: `invalid_${c.name}`, kind: 'type', column: c.name })),
  ];
}

const RULES = declarationRules();
const TYPES: ReadonlyMap<string, string> = new Map(DECLARATION.columns.map((c) => [c.name, c.type]));
const ALLOWED: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(DECLARATION.allowed_values ?? {}).map(([name, values]) => [name, new Set(values.map((v) => v.toLowerCase()))]),
);

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|([+-])(\d{2}):?(\d{2}))$/;
const INTEGER = /^[+-]?\d+$/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
/** The largest offset Spark's timestamp parser accepts (hours and minutes). */
const MAX_OFFSET_MINUTES = 18 * 60;

function isRealDate(year: number, month: number, day: number): boolean {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * An ISO-8601 instant `yyyy-MM-ddTHH:mm:ss[.fraction]` with `Z` or a `+hh:mm` / `+hhmm`
 * offset, as epoch milliseconds (a fraction beyond milliseconds is truncated); undefined for
 * anything else, an impossible date or time included. The same shape the curate job accepts.
 */
export function parseEventTime(text: string): number | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (!isRealDate(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(1, 4).padEnd(3, '0'));
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    offsetMinutes = offsetHours * 60 + offsetMins;
    if (offsetMins > 59 || offsetMinutes > MAX_OFFSET_MINUTES) {
      return undefined;
    }
    if (m[9] === '-') {
      offsetMinutes = -offsetMinutes;
    }
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, millis);
  return utc.getTime() - offsetMinutes * 60_000;
}

/**
 * The text of a JSON value as the curate job reads a declared column (Spark's `from_json` into
 * a string): a string as it is, any other non-null value as its JSON text; null or absent as
 * undefined. Trimmed; blank is undefined.
 */
function columnText(value: unknown): string | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  const text = (typeof value === 'string' ? value : JSON.stringify(value)).trim();
  return text === '' ? undefined : text;
}

/** Whether a column's text converts to its declared type. */
function convertsTo(type: string, text: string): boolean {
  switch (type) {
    case 'int': {
      if (!INTEGER.test(text)) {
        return false;
      }
      const value = Number(text);
      return value >= INT_MIN && value <= INT_MAX;
    }
    case 'timestamp':
      return parseEventTime(text) !== undefined;
    default:
      return true;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The first rule a parsed JSON value fails, with the cleaned texts of its columns; the rules and
 * their order are the declaration's (see {@link declarationRules}).
 */
export function checkEvent(parsed: unknown): { rule: RejectionRule } | { texts: ReadonlyMap<string, string> } {
  if (!isPlainObject(parsed)) {
    return { rule: 'malformed_json' };
  }
  const texts = new Map<string, string>();
  for (const name of TYPES.keys()) {
    const text = columnText(Object.prototype.hasOwnProperty.call(parsed, name) ? parsed[name] : undefined);
    if (text !== undefined) {
      texts.set(name, ALLOWED.has(name) ? text.toLowerCase() : text);
    }
  }
  for (const rule of RULES) {
    const text = texts.get(rule.column);
    const failed =
      rule.kind === 'missing'
        ? text === undefined
        : rule.kind === 'allowed'
          ? text !== undefined && !ALLOWED.get(rule.column)!.has(text)
          : text !== undefined && !convertsTo(TYPES.get(rule.column)!, text);
    if (failed) {
      return { rule: rule.name };
    }
  }
  return { texts };
}

// ---------------------------------------------------------------------------------------------
// Routes: the page dimension
// ---------------------------------------------------------------------------------------------

/** The route of a page the route table does not know, or of a `page_url` that is not a URL. */
export const OTHER_ROUTE = 'other';

/**
 * The site's routes, each a CloudWatch dimension value (and so a billed custom metric): the
 * static pages and the templated ones, with their identifiers replaced by a placeholder. The
 * table is the cap: every other page is {@link OTHER_ROUTE}. Add a route here only when a
 * dashboard needs it on its own.
 */
export const ROUTES: readonly { readonly route: string; readonly path: RegExp }[] = [
  { route: '/', path: /^\/$/ },
  { route: '/search', path: /^\/search$/ },
  { route: '/deals', path: /^\/deals$/ },
  { route: '/product-lines/{line}', path: /^\/product-lines\/[^/]+$/ },
  { route: '/products/{code}', path: /^\/products\/[^/]+$/ },
  { route: '/cart', path: /^\/cart$/ },
  { route: '/checkout', path: /^\/checkout$/ },
  { route: '/checkout/confirmation', path: /^\/checkout\/confirmation$/ },
];

/** Resolves a relative `page_url` ("/cart"); never a real host. */
const URL_BASE = 'https://page.invalid';

/**
 * The route of a page URL: its path (any host; query and fragment ignored; a trailing slash
 * and letter case do not matter) matched against {@link ROUTES}, else {@link OTHER_ROUTE}.
 */
export function routeOf(pageUrl: string): string {
  let path: string;
  try {
    path = new URL(pageUrl, URL_BASE).pathname.toLowerCase();
  } catch {
    return OTHER_ROUTE;
  }
  if (path.length > 1 && path.endsWith('/')) {
    path = path.slice(0, -1);
  }
  return ROUTES.find((r) => r.path.test(path))?.route ?? OTHER_ROUTE;
}

// ---------------------------------------------------------------------------------------------
// One Kinesis record
// ---------------------------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 text of a record's base64 data, or undefined when it is neither. */
function decodeData(data: unknown): string | undefined {
  if (typeof data !== 'string' || !BASE64.test(data)) {
    return undefined;
  }
  try {
    return UTF8.decode(Buffer.from(data, 'base64'));
  } catch {
    return undefined;
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Where a record sits: its sequence number, partition key, shard (from `eventID`,
 * `shardId-...:<sequence number>`) and arrival time; a missing or bad arrival time is `nowMs`.
 */
export function positionOf(record: KinesisStreamRecord, nowMs: number): RecordPosition {
  const kinesis = (record?.kinesis ?? {}) as Partial<KinesisStreamRecord['kinesis']>;
  const arrivalSeconds = kinesis.approximateArrivalTimestamp;
  const eventId = text(record?.eventID);
  return {
    sequenceNumber: text(kinesis.sequenceNumber),
    partitionKey: text(kinesis.partitionKey),
    shardId: eventId.includes(':') ? eventId.slice(0, eventId.indexOf(':')) : '',
    eventSourceArn: text(record?.eventSourceARN),
    arrivalMs: typeof arrivalSeconds === 'number' && Number.isFinite(arrivalSeconds) ? Math.round(arrivalSeconds * 1000) : nowMs,
  };
}

/**
 * Reads one record of a Lambda Kinesis event: a click event, or a rejection naming the first
 * rule it failed. Never throws, whatever the record holds.
 */
export function readRecord(record: KinesisStreamRecord, nowMs: number): ClickRecord {
  const position = positionOf(record, nowMs);
  const data = text(record?.kinesis?.data);
  const rejected = (rule: RejectionRule): ClickRecord => ({ kind: 'rejected', position, rule, data });
  const decoded = decodeData(record?.kinesis?.data);
  if (decoded === undefined) {
    return rejected('undecodable_record');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    return rejected('malformed_json');
  }
  const checked = checkEvent(parsed);
  if ('rule' in checked) {
    return rejected(checked.rule);
  }
  const { texts } = checked;
  return {
    kind: 'event',
    position,
    event: {
      eventId: texts.get('event_id')!,
      eventType: texts.get('event_type')!,
      eventTimeMs: parseEventTime(texts.get('event_time')!)!,
      sessionId: texts.get('session_id')!,
      route: routeOf(texts.get('page_url')!),
    },
  };
}
