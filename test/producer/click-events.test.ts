import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import {
  CLICK_EVENT_TYPES,
  ClickEvent,
  DatasetDeclaration,
  FUNNEL_STAGE,
  Prng,
  assertGeneratorMatchesDeclaration,
  clickEventRecord,
  formatEventTime,
  generateClickEvents,
  isIsoInstantWithOffset,
  loadDeclaration,
  validateEvent,
} from '../../lib/ingestion/producer/click-events';

const declaration = loadDeclaration();
const START = new Date('2025-03-01T09:00:00Z');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function generate(count: number, seed = 1, startTime = START, utcOffsetMinutes = 0): ClickEvent[] {
  return Array.from(generateClickEvents({ count, seed, startTime, utcOffsetMinutes }, declaration));
}

function bySession(events: readonly ClickEvent[]): Map<string, ClickEvent[]> {
  const sessions = new Map<string, ClickEvent[]>();
  for (const event of events) {
    const session = sessions.get(event.session_id);
    if (session) session.push(event);
    else sessions.set(event.session_id, [event]);
  }
  return sessions;
}

/** A valid event to break one field at a time. */
const VALID: ClickEvent = {
  event_id: '0b8a6f4e-3c1d-4e5f-9a7b-1c2d3e4f5a6b',
  event_type: 'product_view',
  event_time: '2025-03-01T10:00:00.000+01:00',
  session_id: '7d9e2f1a-5b6c-4d7e-8f90-a1b2c3d4e5f6',
  customer_number: 103,
  product_code: 'S10_1678',
  page_url: 'https://shop.example.com/products/S10_1678',
  referrer: null,
  user_agent: 'Mozilla/5.0',
};

function rulesOf(event: unknown): string[] {
  return validateEvent(event, declaration).map((p) => p.rule);
}

describe('the declaration', () => {
  test('is read from the file shared with the catalog and the Spark job', () => {
    expect(declaration.name).toBe('clickstream_events');
    expect(declaration.columns.map((c) => c.name)).toEqual([
      'event_id',
      'event_type',
      'event_time',
      'session_id',
      'customer_number',
      'product_code',
      'page_url',
      'referrer',
      'user_agent',
    ]);
  });

  test('the generator matches it', () => {
    expect(() => assertGeneratorMatchesDeclaration(declaration)).not.toThrow();
    expect([...(declaration.allowed_values?.event_type ?? [])].sort()).toEqual([...CLICK_EVENT_TYPES].sort());
  });

  describe('a declaration the generator no longer matches is refused', () => {
    const drifted = (change: Partial<DatasetDeclaration>): DatasetDeclaration => ({ ...declaration, ...change });

    test('a new column', () => {
      const columns = [...declaration.columns, { name: 'country', type: 'string', nullable: false }];
      expect(() => assertGeneratorMatchesDeclaration(drifted({ columns }))).toThrow(
        '"country" is declared but the generator does not write it',
      );
    });

    test('a column made non-nullable', () => {
      const columns = declaration.columns.map((c) => (c.name === 'customer_number' ? { ...c, nullable: false } : c));
      expect(() => generateClickEvents({ count: 1, seed: 1, startTime: START }, drifted({ columns }))).toThrow(
        '"customer_number" is declared non-nullable; the generator writes null for it',
      );
    });

    test('a changed type', () => {
      const columns = declaration.columns.map((c) => (c.name === 'customer_number' ? { ...c, type: 'bigint' } : c));
      expect(() => assertGeneratorMatchesDeclaration(drifted({ columns }))).toThrow(
        '"customer_number" is declared bigint; the generator writes int',
      );
    });

    test('an event type no longer allowed', () => {
      const allowed_values = { event_type: ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'] };
      expect(() => assertGeneratorMatchesDeclaration(drifted({ allowed_values }))).toThrow(
        'event types remove_from_cart are not in allowed_values.event_type',
      );
    });
  });

  describe('loading a broken declaration fails with the file name', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'declaration-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('unparseable JSON', () => {
      const file = path.join(dir, 'broken.json');
      writeFileSync(file, '{"name": ');
      expect(() => loadDeclaration(file)).toThrow(`Cannot read the dataset declaration ${file}`);
    });

    test('an unsupported column type', () => {
      const file = path.join(dir, 'type.json');
      writeFileSync(file, JSON.stringify({ name: 'x', description: 'X.', columns: [{ name: 'a', type: 'varchar', nullable: true }] }));
      expect(() => loadDeclaration(file)).toThrow(`${file}: 'columns[0].type' must be a Glue/Hive type: string, int,`);
    });

    test('allowed values of an undeclared column', () => {
      const file = path.join(dir, 'allowed.json');
      writeFileSync(
        file,
        JSON.stringify({ name: 'x', description: 'X.', columns: [{ name: 'a', type: 'string', nullable: true }], allowed_values: { b: ['y'] } }),
      );
      expect(() => loadDeclaration(file)).toThrow(`${file}: 'allowed_values.b' names "b", which is not a declared column (declared: a).`);
    });
  });
});

describe('the generator', () => {
  const events = generate(3000, 42, START, 60);
  const sessions = bySession(events);

  test('the same seed and start give the same events, ids included', () => {
    expect(generate(300, 7)).toEqual(generate(300, 7));
    expect(JSON.stringify(generate(300, 7))).toBe(JSON.stringify(generate(300, 7)));
  });

  test('a different seed gives different events', () => {
    const a = generate(300, 7);
    const b = generate(300, 8);
    const idsOfA = new Set(a.map((e) => e.event_id));
    expect(b.some((e) => idsOfA.has(e.event_id))).toBe(false);
    expect(b.map((e) => e.event_type)).not.toEqual(a.map((e) => e.event_type));
  });

  test('a different start gives different event ids, so two runs never collide on the dedup key', () => {
    const later = generate(300, 7, new Date(START.getTime() + 1));
    const ids = new Set(generate(300, 7).map((e) => e.event_id));
    expect(later.some((e) => ids.has(e.event_id))).toBe(false);
  });

  test('a prefix of a run is the start of a longer run', () => {
    expect(generate(100, 3)).toEqual(generate(250, 3).slice(0, 100));
  });

  test('it makes exactly the number of events asked for', () => {
    expect(generate(0)).toEqual([]);
    expect(generate(1)).toHaveLength(1);
    expect(events).toHaveLength(3000);
  });

  test('every event validates against the declaration, as sent on the wire', () => {
    const withProblems = [...events, ...generate(500, 9, START, -330), ...generate(500, 10, START, 840)]
      .map((e) => ({ id: e.event_id, problems: validateEvent(JSON.parse(clickEventRecord(e).data.toString()), declaration) }))
      .filter((r) => r.problems.length > 0);
    expect(withProblems).toEqual([]);
  });

  test('event ids are unique UUID v4 and session ids are UUID v4', () => {
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(events.filter((e) => !UUID_V4.test(e.event_id) || !UUID_V4.test(e.session_id))).toEqual([]);
  });

  test('keys follow the declared column order', () => {
    expect(Object.keys(events[0])).toEqual(declaration.columns.map((c) => c.name));
  });

  test('each session is contiguous, in time order, and never goes back in the funnel', () => {
    // Contiguous: the session id changes exactly once per session.
    const changes = events.filter((e, i) => i === 0 || e.session_id !== events[i - 1].session_id).length;
    expect(changes).toBe(sessions.size);
    const outOfOrder: string[] = [];
    for (const session of sessions.values()) {
      if (session[0].event_type !== 'page_view') outOfOrder.push(`${session[0].event_id} does not start with a page view`);
      for (let i = 1; i < session.length; i++) {
        const [before, after] = [session[i - 1], session[i]];
        if (Date.parse(after.event_time) <= Date.parse(before.event_time)) outOfOrder.push(`${after.event_id} time`);
        if (FUNNEL_STAGE[after.event_type] < FUNNEL_STAGE[before.event_type]) {
          outOfOrder.push(`${after.event_id}: ${before.event_type} -> ${after.event_type}`);
        }
      }
    }
    expect(outOfOrder).toEqual([]);
  });

  test('sessions drop off at every stage of the funnel', () => {
    const lastStage = [...sessions.values()].map((s) => s[s.length - 1].event_type);
    for (const type of ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase']) {
      expect(lastStage).toContain(type);
    }
    const count = (type: string): number => events.filter((e) => e.event_type === type).length;
    expect(count('page_view')).toBeGreaterThan(count('product_view') / 2);
    expect(count('product_view')).toBeGreaterThan(count('add_to_cart'));
    expect(count('add_to_cart')).toBeGreaterThan(count('checkout'));
    expect(count('remove_from_cart')).toBeGreaterThan(0);
  });

  test('a session is signed in or anonymous throughout, and only signed-in customers check out', () => {
    const kinds = new Set<string>();
    const wrong: string[] = [];
    for (const [id, session] of sessions) {
      const customer = session[0].customer_number;
      const types = session.map((e) => e.event_type);
      kinds.add(customer === null ? 'anonymous' : 'signed in');
      if (session.some((e) => e.customer_number !== customer)) wrong.push(`${id} changes customer`);
      if (customer === null && types.includes('checkout')) wrong.push(`${id} checks out anonymously`);
      if (types.includes('purchase') && !types.includes('checkout')) wrong.push(`${id} buys without checkout`);
    }
    expect(wrong).toEqual([]);
    expect(kinds).toEqual(new Set(['anonymous', 'signed in']));
  });

  test('products are classicmodels codes, present exactly on product events', () => {
    const wrong = events.filter((e) =>
      e.event_type === 'page_view' || e.event_type === 'checkout'
        ? e.product_code !== null
        : !/^S\d{2,3}_\d{4}$/.test(e.product_code ?? ''),
    );
    expect(wrong).toEqual([]);
    const purchaseOk = [...sessions.values()].every((session) => {
      const added = new Set(session.filter((e) => e.event_type === 'add_to_cart').map((e) => e.product_code));
      return session.filter((e) => e.event_type === 'purchase').every((e) => added.has(e.product_code));
    });
    expect(purchaseOk).toBe(true);
  });

  test('referrers are the previous page, or external or null on the landing page', () => {
    const wrong: string[] = [];
    for (const session of sessions.values()) {
      if (session[0].referrer?.startsWith('https://shop.example.com')) wrong.push(session[0].event_id);
      for (let i = 1; i < session.length; i++) {
        const previous = session[i - 1];
        const expected = session[i].page_url === previous.page_url ? previous.referrer : previous.page_url;
        if (session[i].referrer !== expected) wrong.push(session[i].event_id);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('event times start at the start time and carry the requested offset', () => {
    const times = events.map((e) => Date.parse(e.event_time));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(START.getTime());
    expect(Math.max(...times)).toBeLessThan(START.getTime() + 30 * 60_000);
    expect(events.filter((e) => !/^2025-03-01T1\d:\d\d:\d\d\.\d{3}\+01:00$/.test(e.event_time))).toEqual([]);
  });

  test.each([
    ['a negative count', { count: -1 }, 'count must be a non-negative integer, got -1.'],
    ['a fractional count', { count: 1.5 }, 'count must be a non-negative integer, got 1.5.'],
    ['a negative seed', { seed: -1 }, 'seed must be an integer from 0 to 4294967295, got -1.'],
    ['a seed over 32 bits', { seed: 2 ** 32 }, 'seed must be an integer from 0 to 4294967295, got 4294967296.'],
    ['an offset over 14 hours', { utcOffsetMinutes: 900 }, 'utcOffsetMinutes must be an integer from -840 to 840, got 900.'],
    ['an invalid start', { startTime: new Date('nope') }, 'startTime must be a valid date from 1970 to 8999, got Invalid Date.'],
  ])('%s is refused when the generator is called', (_case, change, message) => {
    expect(() => generateClickEvents({ count: 1, seed: 1, startTime: START, ...change }, declaration)).toThrow(
      new RangeError(message),
    );
  });
});

describe('building blocks', () => {
  test('the PRNG is reproducible and its UUIDs are version 4', () => {
    const a = new Prng(1, 2);
    const b = new Prng(1, 2);
    const uuids = Array.from({ length: 1000 }, () => a.uuidV4());
    expect(Array.from({ length: 1000 }, () => b.uuidV4())).toEqual(uuids);
    expect(uuids.every((u) => UUID_V4.test(u))).toBe(true);
    expect(new Set(uuids).size).toBe(1000);
    expect(new Prng(1, 3).uuidV4()).not.toBe(uuids[0]);
  });

  test('event times are formatted with milliseconds and an explicit offset', () => {
    const instant = Date.parse('2025-12-31T23:30:05.007Z');
    expect(formatEventTime(instant, 0)).toBe('2025-12-31T23:30:05.007+00:00');
    expect(formatEventTime(instant, 60)).toBe('2026-01-01T00:30:05.007+01:00');
    expect(formatEventTime(instant, -570)).toBe('2025-12-31T14:00:05.007-09:30');
    expect(Date.parse(formatEventTime(instant, -570))).toBe(instant);
  });

  test('instants need an explicit offset and a real date, as in the Spark job', () => {
    expect(isIsoInstantWithOffset('2025-03-01T10:00:00Z')).toBe(true);
    expect(isIsoInstantWithOffset('2025-03-01T10:00:00.123456+0530')).toBe(true);
    expect(isIsoInstantWithOffset('2024-02-29T10:00:00-08:00')).toBe(true);
    expect(isIsoInstantWithOffset('2025-03-01T10:00:00')).toBe(false);
    expect(isIsoInstantWithOffset('2025-03-01 10:00:00Z')).toBe(false);
    expect(isIsoInstantWithOffset('2025-02-29T10:00:00Z')).toBe(false);
    expect(isIsoInstantWithOffset('2025-03-01T24:00:00Z')).toBe(false);
    expect(isIsoInstantWithOffset('2025-03-01T10:00Z')).toBe(false);
  });

  test('the record of an event is its JSON alone, keyed by session', () => {
    const record = clickEventRecord(VALID);
    expect(record.id).toBe(VALID.event_id);
    expect(record.partitionKey).toBe(VALID.session_id);
    expect(record.data.toString()).toBe(JSON.stringify(VALID));
    expect(record.data.toString().endsWith('}')).toBe(true);
  });
});

describe('validateEvent', () => {
  test('a conforming event has no problems', () => {
    expect(validateEvent(VALID, declaration)).toEqual([]);
    expect(validateEvent({ ...VALID, customer_number: null, product_code: null, user_agent: null }, declaration)).toEqual(
      [],
    );
  });

  test.each([
    ['null', null],
    ['an array', [VALID]],
    ['a JSON string', '{"event_id": 1}'],
    ['a number', 42],
  ])('%s is not an event', (_kind, value) => {
    expect(validateEvent(value, declaration)).toEqual([
      { column: null, rule: 'not_object', message: expect.stringContaining('the event must be a JSON object, got') },
    ]);
  });

  test('an undeclared column is reported', () => {
    expect(validateEvent({ ...VALID, country: 'FR' }, declaration)).toEqual([
      { column: 'country', rule: 'unknown_column', message: '"country" is not a declared column' },
    ]);
  });

  test.each([
    ['absent', undefined, '"session_id" is required but is absent'],
    ['null', null, '"session_id" is required but is null'],
    ['blank', ' \t', '"session_id" is required but is blank'],
  ])('a required column that is %s is missing', (_kind, value, message) => {
    const event: Record<string, unknown> = { ...VALID, session_id: value };
    if (value === undefined) delete event.session_id;
    expect(validateEvent(event, declaration)).toEqual([{ column: 'session_id', rule: 'missing_session_id', message }]);
  });

  test('a nullable column must be sent, as null rather than blank', () => {
    const absent: Record<string, unknown> = { ...VALID };
    delete absent.referrer;
    expect(rulesOf(absent)).toEqual(['absent_referrer']);
    expect(rulesOf({ ...VALID, user_agent: '' })).toEqual(['blank_user_agent']);
  });

  test.each([
    ['event_type', 'click', '"event_type" must be one of page_view, product_view, add_to_cart, remove_from_cart, checkout, purchase, got "click"'],
    ['event_type', 'Page_View', '"event_type" must be one of page_view, product_view, add_to_cart, remove_from_cart, checkout, purchase, got "Page_View"'],
    ['event_time', '2025-03-01T10:00:00', '"event_time" must be an ISO-8601 instant yyyy-MM-ddTHH:mm:ss[.fraction] with Z or a +hh:mm offset, got "2025-03-01T10:00:00"'],
    ['event_time', '2025-02-30T10:00:00Z', '"event_time" must be an ISO-8601 instant yyyy-MM-ddTHH:mm:ss[.fraction] with Z or a +hh:mm offset, got "2025-02-30T10:00:00Z"'],
    ['event_time', 1740823200000, '"event_time" must be an ISO-8601 instant yyyy-MM-ddTHH:mm:ss[.fraction] with Z or a +hh:mm offset, got number 1740823200000'],
    ['customer_number', 103.5, '"customer_number" must be a JSON integer from -2147483648 to 2147483647, got number 103.5'],
    ['customer_number', '103', '"customer_number" must be a JSON integer from -2147483648 to 2147483647, got "103"'],
    ['customer_number', 2 ** 31, '"customer_number" must be a JSON integer from -2147483648 to 2147483647, got number 2147483648'],
    ['product_code', 1678, '"product_code" must be a string, got number 1678'],
    ['page_url', { href: '/' }, '"page_url" must be a string, got an object'],
  ])('an invalid %s (%j) is reported', (column, value, message) => {
    expect(validateEvent({ ...VALID, [column]: value }, declaration)).toEqual([
      { column, rule: `invalid_${column}`, message },
    ]);
  });

  test('every problem of an event is reported, in column order', () => {
    const event = { ...VALID, event_id: '', event_type: 'click', customer_number: 'x', extra: 1 };
    expect(rulesOf(event)).toEqual(['unknown_column', 'missing_event_id', 'invalid_event_type', 'invalid_customer_number']);
  });
});
