/**
 * Click events for the clickstream pipeline: a deterministic, seeded generator of browser
 * sessions and a validator, both driven by the dataset declaration
 * `glue-scripts/lib/undercurrent_glue/schemas/clickstream_event.json`, the same file that
 * defines the Glue catalog table and that the Spark job validates the raw lines against.
 *
 * The generator is a pure function of its options: the same seed and start time give
 * byte-identical events, event ids included (they come from the seeded PRNG, not from the
 * system's random source). Re-sending a run is therefore harmless, since the curated zone
 * deduplicates on `event_id`; two runs with different start times never share an id.
 */
import { CLICKSTREAM_DECLARATION_PATH, DatasetDeclaration, isRecord, loadDeclaration } from '../../lake/datasets';

export { CLICKSTREAM_DECLARATION_PATH, loadDeclaration };
export type { DatasetDeclaration };
import type { KinesisRecord } from './batching';

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/** The event types the generator emits, in funnel order (all are declared allowed values). */
export const CLICK_EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout',
  'purchase',
] as const;
export type ClickEventType = (typeof CLICK_EVENT_TYPES)[number];

/**
 * Position of each event type in the purchase funnel. Within one generated session the
 * stage never goes down (remove_from_cart shares the cart stage with add_to_cart).
 */
export const FUNNEL_STAGE: Readonly<Record<ClickEventType, number>> = {
  page_view: 0,
  product_view: 1,
  add_to_cart: 2,
  remove_from_cart: 2,
  checkout: 3,
  purchase: 4,
};

/** One click event, as sent to Kinesis (one JSON object per record). */
export interface ClickEvent {
  readonly event_id: string;
  readonly event_type: ClickEventType;
  /** ISO-8601 with milliseconds and an explicit offset, e.g. 2025-03-01T14:05:09.120+01:00. */
  readonly event_time: string;
  readonly session_id: string;
  /** A classicmodels customerNumber; null for anonymous sessions. */
  readonly customer_number: number | null;
  /** A classicmodels productCode such as S10_1678; null when the event has no product. */
  readonly product_code: string | null;
  readonly page_url: string;
  readonly referrer: string | null;
  readonly user_agent: string | null;
}

/** What the generator writes for each column: the declared type and whether it may be null. */
const GENERATED_COLUMNS: Readonly<Record<keyof ClickEvent, { type: string; mayBeNull: boolean }>> = {
  event_id: { type: 'string', mayBeNull: false },
  event_type: { type: 'string', mayBeNull: false },
  event_time: { type: 'timestamp', mayBeNull: false },
  session_id: { type: 'string', mayBeNull: false },
  customer_number: { type: 'int', mayBeNull: true },
  product_code: { type: 'string', mayBeNull: true },
  page_url: { type: 'string', mayBeNull: false },
  referrer: { type: 'string', mayBeNull: true },
  user_agent: { type: 'string', mayBeNull: true },
};

/**
 * Check that the generator still writes what the declaration declares: the same columns,
 * the same types, nulls only where allowed and event types among the allowed values.
 *
 * @throws Error listing every mismatch, so a changed declaration fails loudly here instead
 *   of producing events the Spark job would quarantine.
 */
export function assertGeneratorMatchesDeclaration(declaration: DatasetDeclaration): void {
  const problems: string[] = [];
  const declared = new Map(declaration.columns.map((c) => [c.name, c]));
  for (const [name, generated] of Object.entries(GENERATED_COLUMNS)) {
    const column = declared.get(name);
    if (!column) {
      problems.push(`the generator writes "${name}", which the declaration does not declare`);
    } else if (column.type !== generated.type) {
      problems.push(`"${name}" is declared ${column.type}; the generator writes ${generated.type}`);
    } else if (generated.mayBeNull && !column.nullable) {
      problems.push(`"${name}" is declared non-nullable; the generator writes null for it`);
    }
  }
  for (const name of declared.keys()) {
    if (!(name in GENERATED_COLUMNS)) {
      problems.push(`"${name}" is declared but the generator does not write it`);
    }
  }
  const allowedTypes = declaration.allowed_values?.event_type;
  if (allowedTypes) {
    const unknown = CLICK_EVENT_TYPES.filter((t) => !allowedTypes.includes(t));
    if (unknown.length > 0) {
      problems.push(`event types ${unknown.join(', ')} are not in allowed_values.event_type`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `The click event generator no longer matches the declaration "${declaration.name}": ${problems.join('; ')}. ` +
        'Update lib/ingestion/producer/click-events.ts together with the declaration.',
    );
  }
}

// ---------------------------------------------------------------------------------------
// Seeded PRNG (sfc32, seeded through a 32-bit integer hash)
// ---------------------------------------------------------------------------------------

function mix32(value: number): number {
  let z = value | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A small deterministic pseudo-random generator (sfc32); not for cryptography. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param words 32-bit unsigned integers; the same words give the same sequence. */
  constructor(...words: number[]) {
    let h = 0x9e3779b9;
    for (const word of words) {
      h = mix32(h ^ mix32(word + 0x6d2b79f5));
    }
    this.a = mix32(h + 1);
    this.b = mix32(h + 2);
    this.c = mix32(h + 3);
    this.d = 1;
    for (let i = 0; i < 15; i++) {
      this.uint32();
    }
  }

  /** The next unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A random (version 4, RFC 9562 variant) UUID drawn from this generator. */
  uuidV4(): string {
    const w0 = this.uint32();
    const w1 = this.uint32();
    // Version nibble 4 in the 13th hex digit, variant bits 10 in the 17th.
    const w2 = ((this.uint32() & 0x3fffffff) | 0x80000000) >>> 0;
    const w3 = this.uint32();
    return (
      `${hex32(w0)}-${HEX_BYTES[w1 >>> 24]}${HEX_BYTES[(w1 >>> 16) & 0xff]}-` +
      `4${HEX_DIGITS[(w1 >>> 8) & 0xf]}${HEX_BYTES[w1 & 0xff]}-` +
      `${HEX_BYTES[w2 >>> 24]}${HEX_BYTES[(w2 >>> 16) & 0xff]}-` +
      `${HEX_BYTES[(w2 >>> 8) & 0xff]}${HEX_BYTES[w2 & 0xff]}${hex32(w3)}`
    );
  }
}

const HEX_DIGITS = '0123456789abcdef';
/** Two lower-case hex digits for each byte value (Number#toString(16) is slow in a hot loop). */
const HEX_BYTES = Array.from({ length: 256 }, (_, b) => (b < 16 ? '0' : '') + b.toString(16));

function hex32(word: number): string {
  return (
    HEX_BYTES[word >>> 24] + HEX_BYTES[(word >>> 16) & 0xff] + HEX_BYTES[(word >>> 8) & 0xff] + HEX_BYTES[word & 0xff]
  );
}

// ---------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------

/** Site the generated sessions browse (example.com: reserved, never a real shop). */
export const SITE = 'https://shop.example.com';

/** classicmodels customers.customerNumber values (signed-in visitors). */
const CUSTOMER_NUMBERS = [
  103, 112, 114, 119, 121, 124, 125, 128, 129, 131, 141, 144, 145, 146, 148, 151, 157, 161, 166, 167,
  168, 169, 171, 172, 173, 175, 177, 181, 186, 187, 189, 198, 201, 202, 204, 205, 209, 211, 216, 219,
  223, 227, 233, 237, 239, 240, 242, 247, 249, 250, 256, 259, 260, 276, 278, 282, 286, 293, 298, 299,
  303, 307, 311, 314, 319, 320, 321, 323, 324, 328, 333, 334, 335, 339, 344, 347, 348, 350, 353, 356,
  357, 361, 362, 363, 369, 376, 379, 381, 382, 385, 386, 398, 406, 409, 412, 415, 424, 443, 447, 448,
  450, 452, 455, 456, 458, 459, 462, 465, 471, 473, 475, 477, 480, 481, 484, 486, 487, 489, 495, 496,
];

/** classicmodels products.productCode values. */
const PRODUCT_CODES = [
  'S10_1678', 'S10_1949', 'S10_2016', 'S10_4698', 'S10_4757', 'S10_4962', 'S12_1099', 'S12_1108',
  'S12_1666', 'S12_2823', 'S12_3148', 'S12_3380', 'S12_3891', 'S12_3990', 'S12_4473', 'S12_4675',
  'S18_1097', 'S18_1129', 'S18_1342', 'S18_1367', 'S18_1589', 'S18_1662', 'S18_1749', 'S18_1889',
  'S18_1984', 'S18_2238', 'S18_2248', 'S18_2319', 'S18_2325', 'S18_2432', 'S18_2581', 'S18_2625',
  'S18_2795', 'S18_2870', 'S18_2949', 'S18_2957', 'S18_3029', 'S18_3136', 'S18_3140', 'S18_3232',
  'S18_3233', 'S18_3259', 'S18_3278', 'S18_3320', 'S18_3482', 'S18_3685', 'S18_3782', 'S18_3856',
  'S18_4027', 'S18_4409', 'S18_4522', 'S18_4600', 'S18_4668', 'S18_4721', 'S18_4933', 'S24_1046',
  'S24_1444', 'S24_1578', 'S24_1628', 'S24_1785', 'S24_1937', 'S24_2000', 'S24_2011', 'S24_2022',
  'S24_2300', 'S24_2360', 'S24_2766', 'S24_2840', 'S24_2841', 'S24_2887', 'S24_2972', 'S24_3151',
  'S24_3191', 'S24_3371', 'S24_3420', 'S24_3432', 'S24_3816', 'S24_3856', 'S24_3949', 'S24_3969',
  'S24_4048', 'S24_4258', 'S24_4278', 'S24_4620', 'S32_1268', 'S32_1374', 'S32_2206', 'S32_2509',
  'S32_3207', 'S32_3522', 'S32_4289', 'S32_4485', 'S50_1341', 'S50_1392', 'S50_1514', 'S50_4713',
  'S700_1138', 'S700_1691', 'S700_1938', 'S700_2047', 'S700_2466', 'S700_2610', 'S700_2824',
  'S700_2834', 'S700_3167', 'S700_3505', 'S700_3962', 'S700_4002', 'S72_1253', 'S72_3212',
];

const LANDING_PAGES = [
  `${SITE}/`,
  `${SITE}/search?q=ferrari`,
  `${SITE}/search?q=harley+davidson`,
  `${SITE}/deals`,
];

const PRODUCT_LINE_PAGES = [
  'classic-cars',
  'motorcycles',
  'planes',
  'ships',
  'trains',
  'trucks-and-buses',
  'vintage-cars',
].map((line) => `${SITE}/product-lines/${line}`);

const EXTERNAL_REFERRERS = [
  'https://www.google.com/',
  'https://www.bing.com/',
  'https://duckduckgo.com/',
  'https://news.example.org/diecast-models',
  'https://mail.example.net/newsletter/2025-spring',
];

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
];

const CART_URL = `${SITE}/cart`;
const CHECKOUT_URL = `${SITE}/checkout`;
const CONFIRMATION_URL = `${SITE}/checkout/confirmation`;

/** Funnel probabilities: each is the chance to go on to the next stage. */
const FUNNEL = {
  signedIn: 0.55,
  noUserAgent: 0.03,
  directVisit: 0.35,
  viewsProducts: 0.75,
  addsToCart: 0.45,
  addsAnotherViewed: 0.35,
  removesFromCart: 0.15,
  checksOut: 0.55,
  purchases: 0.7,
};

const MAX_SEED = 0xffffffff;
const MIN_START = Date.UTC(1970, 0, 1);
const MAX_START = Date.UTC(9000, 0, 1);
/** Largest UTC offset ISO-8601 / Spark accept in practice (+-14:00, Line Islands). */
export const MAX_UTC_OFFSET_MINUTES = 14 * 60;

export interface GenerateOptions {
  /** How many events to generate (the last session may be cut short to hit it exactly). */
  readonly count: number;
  /** Seed of the PRNG, an integer from 0 to 4294967295. */
  readonly seed: number;
  /** Sessions start at or after this instant. */
  readonly startTime: Date;
  /**
   * Offset written in `event_time`, in minutes east of UTC (-840 .. 840).
   * @default 0 - times are written with "+00:00"
   */
  readonly utcOffsetMinutes?: number;
  /**
   * Sessions start at a random instant within this many milliseconds after `startTime`.
   * @default 60000 - one minute
   */
  readonly sessionSpreadMs?: number;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Format an instant as ISO-8601 with milliseconds and the given offset (e.g. "+01:00"). */
export function formatEventTime(epochMs: number, utcOffsetMinutes: number): string {
  // Built from getUTC* rather than toISOString(), which is several times slower.
  const local = new Date(epochMs + utcOffsetMinutes * 60_000);
  const abs = Math.abs(utcOffsetMinutes);
  return (
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}` +
    `T${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}` +
    `.${pad(local.getUTCMilliseconds(), 3)}${utcOffsetMinutes < 0 ? '-' : '+'}` +
    `${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`
  );
}

function checkGenerateOptions(options: GenerateOptions): void {
  const { count, seed, startTime } = options;
  const offset = options.utcOffsetMinutes ?? 0;
  const spread = options.sessionSpreadMs ?? 60_000;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}.`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}.`);
  }
  const start = startTime.getTime();
  if (Number.isNaN(start) || start < MIN_START || start >= MAX_START) {
    throw new RangeError(`startTime must be a valid date from 1970 to 8999, got ${String(startTime)}.`);
  }
  if (!Number.isInteger(offset) || Math.abs(offset) > MAX_UTC_OFFSET_MINUTES) {
    throw new RangeError(
      `utcOffsetMinutes must be an integer from -${MAX_UTC_OFFSET_MINUTES} to ${MAX_UTC_OFFSET_MINUTES}, got ${offset}.`,
    );
  }
  if (!Number.isSafeInteger(spread) || spread < 1) {
    throw new RangeError(`sessionSpreadMs must be a positive integer, got ${spread}.`);
  }
}

type GeneratedFields = { -readonly [K in keyof ClickEvent]: ClickEvent[K] };

/** One browsing session: page views, then maybe products, cart, checkout and purchase. */
function* session(rng: Prng, startMs: number, utcOffsetMinutes: number): Generator<GeneratedFields> {
  const sessionId = rng.uuidV4();
  const customer = rng.chance(FUNNEL.signedIn) ? rng.pick(CUSTOMER_NUMBERS) : null;
  const userAgent = rng.chance(FUNNEL.noUserAgent) ? null : rng.pick(USER_AGENTS);
  let referrer: string | null = rng.chance(FUNNEL.directVisit) ? null : rng.pick(EXTERNAL_REFERRERS);
  let page = '';
  let time = startMs;

  // document.referrer semantics: events on the same page share its referrer.
  const at = (url: string): void => {
    if (url !== page) {
      if (page !== '') {
        referrer = page;
      }
      page = url;
    }
  };
  const event = (type: ClickEventType, productCode: string | null): GeneratedFields => {
    const fields: GeneratedFields = {
      event_id: rng.uuidV4(),
      event_type: type,
      event_time: formatEventTime(time, utcOffsetMinutes),
      session_id: sessionId,
      customer_number: customer,
      product_code: productCode,
      page_url: page,
      referrer,
      user_agent: userAgent,
    };
    time += rng.int(1_000, 45_000);
    return fields;
  };
  const productPage = (code: string): string => `${SITE}/products/${code}`;

  const pageViews = rng.int(1, 3);
  for (let i = 0; i < pageViews; i++) {
    let url = i === 0 ? rng.pick(LANDING_PAGES) : rng.pick(PRODUCT_LINE_PAGES);
    while (url === page) url = rng.pick(PRODUCT_LINE_PAGES);
    at(url);
    yield event('page_view', null);
  }
  if (!rng.chance(FUNNEL.viewsProducts)) return;

  const viewed: string[] = [];
  const productViews = rng.int(1, 3);
  for (let i = 0; i < productViews; i++) {
    const code = rng.pick(PRODUCT_CODES);
    if (!viewed.includes(code)) viewed.push(code);
    at(productPage(code));
    yield event('product_view', code);
  }
  if (!rng.chance(FUNNEL.addsToCart)) return;

  const cart: string[] = [];
  for (const code of viewed) {
    if (cart.length === 0 || rng.chance(FUNNEL.addsAnotherViewed)) {
      cart.push(code);
      at(productPage(code));
      yield event('add_to_cart', code);
    }
  }
  if (cart.length > 1 && rng.chance(FUNNEL.removesFromCart)) {
    const [removed] = cart.splice(rng.int(0, cart.length - 1), 1);
    at(CART_URL);
    yield event('remove_from_cart', removed);
  }
  // Guests browse and fill a cart, but only signed-in customers check out.
  if (customer === null || !rng.chance(FUNNEL.checksOut)) return;
  at(CHECKOUT_URL);
  yield event('checkout', null);
  if (!rng.chance(FUNNEL.purchases)) return;
  at(CONFIRMATION_URL);
  for (const code of cart) {
    yield event('purchase', code);
  }
}

/**
 * Generate `count` click events, session after session (each session's events are
 * contiguous, in time order, and follow the funnel page_view -> product_view ->
 * add_to_cart (-> remove_from_cart) -> checkout -> purchase, dropping off at every stage).
 *
 * Lazy: events are made as they are consumed, so a million events need no memory.
 * Each event's keys are in the declaration's column order.
 *
 * @param declaration checked against the generator before the first event
 *   (see {@link assertGeneratorMatchesDeclaration}); defaults to the file on disk.
 * @throws RangeError for bad options; Error when the declaration no longer matches.
 */
export function generateClickEvents(
  options: GenerateOptions,
  declaration: DatasetDeclaration = loadDeclaration(),
): Generator<ClickEvent> {
  // Checked here, not inside the generator body, so bad options throw at the call.
  checkGenerateOptions(options);
  assertGeneratorMatchesDeclaration(declaration);
  return events(options, declaration.columns.map((c) => c.name as keyof ClickEvent));
}

function* events(options: GenerateOptions, order: readonly (keyof ClickEvent)[]): Generator<ClickEvent> {
  const startMs = options.startTime.getTime();
  const offset = options.utcOffsetMinutes ?? 0;
  const spread = options.sessionSpreadMs ?? 60_000;
  // The start time is part of the seed so that runs at different times never share ids.
  const rng = new Prng(options.seed, startMs % 4294967296, Math.floor(startMs / 4294967296));
  let produced = 0;
  while (produced < options.count) {
    const sessionStart = startMs + Math.floor(rng.next() * spread);
    for (const fields of session(rng, sessionStart, offset)) {
      const ordered: Partial<GeneratedFields> = {};
      for (const name of order) {
        (ordered as Record<string, unknown>)[name] = fields[name];
      }
      yield ordered as ClickEvent;
      produced += 1;
      if (produced >= options.count) return;
    }
  }
}

/** The Kinesis record of an event: the JSON object alone (Firehose adds the newline), keyed by session. */
export function clickEventRecord(event: ClickEvent): KinesisRecord {
  return {
    id: event.event_id,
    partitionKey: event.session_id,
    data: Buffer.from(JSON.stringify(event), 'utf8'),
  };
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/** One reason an event does not conform to the declaration. */
export interface ValidationProblem {
  /** The column concerned; null when the problem is the whole event. */
  readonly column: string | null;
  /**
   * Rule name. The ones the Spark job also enforces use its quarantine rule names
   * (`missing_<column>`, `invalid_<column>`); the producer is stricter with
   * `not_object`, `unknown_column`, `absent_<column>` (a nullable column must be sent,
   * as null) and `blank_<column>` (send null, not a blank string).
   */
  readonly rule: string;
  readonly message: string;
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|([+-])(\d{2}):?(\d{2}))$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

function isRealDate(year: number, month: number, day: number): boolean {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** True for `yyyy-MM-ddTHH:mm:ss[.fraction]` with `Z` or `+hh:mm` that names a real instant. */
export function isIsoInstantWithOffset(text: string): boolean {
  const m = ISO_INSTANT.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (!isRealDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return false;
  if (m[8] !== 'Z') {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > 18 * 60) return false;
  }
  return true;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The problem with a non-null value of a declared type, or undefined when it is fine. */
function typeProblem(type: string, value: unknown): string | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'int':
      return Number.isInteger(value) && (value as number) >= INT_MIN && (value as number) <= INT_MAX
        ? undefined
        : `must be a JSON integer from ${INT_MIN} to ${INT_MAX}`;
    case 'bigint':
      return Number.isSafeInteger(value) ? undefined : 'must be a JSON integer (safe range)';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'timestamp':
      return typeof value === 'string' && isIsoInstantWithOffset(value)
        ? undefined
        : 'must be an ISO-8601 instant yyyy-MM-ddTHH:mm:ss[.fraction] with Z or a +hh:mm offset';
    case 'date': {
      const m = typeof value === 'string' ? ISO_DATE.exec(value) : null;
      return m && isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) ? undefined : 'must be a date yyyy-MM-dd';
    }
    default: // double, decimal(p,s)
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a finite JSON number';
  }
}

/**
 * Check an event (a parsed JSON value) against a dataset declaration.
 *
 * @returns every problem found, in column order; empty when the event conforms.
 */
export function validateEvent(event: unknown, declaration: DatasetDeclaration): ValidationProblem[] {
  if (!isRecord(event)) {
    return [{ column: null, rule: 'not_object', message: `the event must be a JSON object, got ${describeValue(event)}` }];
  }
  const problems: ValidationProblem[] = [];
  const declared = new Set(declaration.columns.map((c) => c.name));
  for (const key of Object.keys(event)) {
    if (!declared.has(key)) {
      problems.push({ column: key, rule: 'unknown_column', message: `"${key}" is not a declared column` });
    }
  }
  for (const column of declaration.columns) {
    const { name } = column;
    const present = Object.prototype.hasOwnProperty.call(event, name);
    const value = present ? event[name] : undefined;
    const blank = typeof value === 'string' && value.trim() === '';
    if (value === null || value === undefined || blank) {
      if (!column.nullable) {
        const got = present ? (blank ? 'blank' : 'null') : 'absent';
        problems.push({ column: name, rule: `missing_${name}`, message: `"${name}" is required but is ${got}` });
      } else if (!present) {
        problems.push({ column: name, rule: `absent_${name}`, message: `"${name}" is absent; send null explicitly` });
      } else if (blank) {
        problems.push({ column: name, rule: `blank_${name}`, message: `"${name}" is blank; send null instead` });
      }
      continue;
    }
    const problem = typeProblem(column.type, value);
    if (problem) {
      problems.push({ column: name, rule: `invalid_${name}`, message: `"${name}" ${problem}, got ${describeValue(value)}` });
      continue;
    }
    const allowed = declaration.allowed_values?.[name];
    if (allowed && !allowed.includes(value as string)) {
      problems.push({
        column: name,
        rule: `invalid_${name}`,
        message: `"${name}" must be one of ${allowed.join(', ')}, got ${describeValue(value)}`,
      });
    }
  }
  return problems;
}
