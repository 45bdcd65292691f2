/**
 * The per-minute metrics of a batch of click records, and their CloudWatch embedded metric
 * format (EMF) documents, as pure functions. The only state is the consumer's
 * {@link ConsumerMemory}, passed in and updated explicitly.
 *
 * Two clocks, each where it can be trusted:
 *
 * - **Traffic** (`Events`, `ActiveSessions`, and `Events` per `EventType` and per `Route`) is
 *   counted in the minute of the event's own `event_time`, stamped on the EMF document, so a
 *   late event lands in the minute it happened (CloudWatch takes a timestamp up to two weeks in
 *   the past). An event too old for that is not counted as traffic but as `DroppedLateEvents`.
 *   An event dated more than {@link FUTURE_SKEW_MS} after Kinesis received it has a wrong
 *   clock: it is counted as traffic in the minute it arrived, and as `FutureEvents`.
 * - **Stream health** (`Records`, `Rejected`, `Duplicates`, `LateEvents`, `DroppedLateEvents`,
 *   `FutureEvents`) is counted in the minute Kinesis received the record
 *   (`approximateArrivalTimestamp`): a rejected record has no event time to trust. The error
 *   rate is `Rejected / Records` of the same minutes, computed by CloudWatch metric math (a
 *   ratio per batch could not be summed across batches).
 *
 * Accounting, per batch: `Records = Rejected + Duplicates + Events + DroppedLateEvents`.
 */
import type { ClickEvent, ClickRecord } from './records';

/** Milliseconds in a minute. */
const MINUTE_MS = 60_000;

/**
 * How far an event may be dated after Kinesis received it before its clock counts as wrong:
 * 5 minutes (clients' clocks drift; CloudWatch itself refuses more than 2 hours ahead).
 */
export const FUTURE_SKEW_MS = 5 * MINUTE_MS;

/**
 * The oldest metric timestamp the consumer stamps, before the time of processing: CloudWatch
 * takes data points up to two weeks old; one hour less leaves room for the time the log event
 * takes to reach it.
 */
export const MAX_METRIC_AGE_MS = 14 * 24 * 60 * MINUTE_MS - 60 * MINUTE_MS;

/** The newest metric timestamp the consumer stamps, after the time of processing (CloudWatch: 2 hours). */
export const MAX_METRIC_LEAD_MS = 60 * MINUTE_MS;

/** Dimension names: each value of each is a billed custom metric. */
export const DIMENSIONS = { eventType: 'EventType', route: 'Route' } as const;

/** Metric names. */
export const METRIC_NAMES = {
  records: 'Records',
  rejected: 'Rejected',
  duplicates: 'Duplicates',
  lateEvents: 'LateEvents',
  droppedLateEvents: 'DroppedLateEvents',
  futureEvents: 'FutureEvents',
  events: 'Events',
  activeSessions: 'ActiveSessions',
} as const;

// ---------------------------------------------------------------------------------------------
// The consumer's memory across batches
// ---------------------------------------------------------------------------------------------

/**
 * A set of the most recently added strings, at most `capacity`: adding one more forgets the
 * oldest. Memory is bounded whatever the stream sends.
 */
export class RecentSet {
  private readonly items = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`RecentSet capacity must be a positive integer, got ${capacity}.`);
    }
  }

  get size(): number {
    return this.items.size;
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  add(item: string): void {
    this.items.delete(item);
    this.items.add(item);
    if (this.items.size > this.capacity) {
      this.items.delete(this.items.values().next().value as string);
    }
  }
}

/**
 * What one execution environment of the consumer remembers between the batches it processes:
 * the event ids it counted (to count a duplicate sent again in a later batch only once) and the
 * sessions it counted per minute (so that `ActiveSessions`, summed over batches, counts a
 * session once per minute). Lambda gives each shard one batch at a time and usually the same
 * warm environment, and the producer keys records by session, so a session's events stay on
 * one shard: the memory catches most repeats. What it misses (another environment, a cold
 * start, more ids than it holds) is counted again: the live counts can only err high, by the
 * repeats the memory did not see. The curated zone deduplicates exactly.
 */
export interface ConsumerMemory {
  readonly eventIds: RecentSet;
  readonly sessionsByMinute: Map<number, Set<string>>;
}

/** Event ids one environment remembers (about 5 MB of a 256 MB function). */
export const REMEMBERED_EVENT_IDS = 50_000;
/** How long, in event time before the newest minute remembered, sessions are remembered per minute. */
export const SESSION_MEMORY_MS = 30 * MINUTE_MS;
/** Sessions one environment remembers over all minutes. */
export const REMEMBERED_SESSIONS = 100_000;

export function createMemory(eventIds: number = REMEMBERED_EVENT_IDS): ConsumerMemory {
  return { eventIds: new RecentSet(eventIds), sessionsByMinute: new Map() };
}

// ---------------------------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------------------------

/** Stream health of one minute (arrival time). */
export interface HealthCounts {
  records: number;
  rejected: number;
  duplicates: number;
  lateEvents: number;
  droppedLateEvents: number;
  futureEvents: number;
}

/** Traffic of one minute (event time). */
export interface TrafficCounts {
  events: number;
  /** Sessions counted in this minute for the first time by this environment. */
  activeSessions: number;
  readonly byEventType: Map<string, number>;
  readonly byRoute: Map<string, number>;
}

/** The metrics of a batch, by minute (epoch milliseconds of the minute's start). */
export interface BatchMetrics {
  readonly health: Map<number, HealthCounts>;
  readonly traffic: Map<number, TrafficCounts>;
  /** The sums over every minute, for the batch's log line and the accounting check. */
  readonly totals: HealthCounts & { events: number };
}

/** What the aggregation needs to know besides the records. */
export interface AggregateOptions {
  /** An event received more than this after its `event_time` is late. */
  readonly lateAfterMs: number;
  /** The time of processing, epoch milliseconds. */
  readonly nowMs: number;
}

/** The start of the minute of an instant. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function emptyHealth(): HealthCounts {
  return { records: 0, rejected: 0, duplicates: 0, lateEvents: 0, droppedLateEvents: 0, futureEvents: 0 };
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Counts a batch's records (in stream order) into per-minute metrics, and remembers the
 * events and sessions it counted in `memory`. Give it only records that are done with: a
 * record whose dead letter could not be sent, and those after it, come back in a later batch
 * (see consumer.ts), and counting them now would count them twice.
 */
export function aggregate(records: readonly ClickRecord[], options: AggregateOptions, memory: ConsumerMemory): BatchMetrics {
  const { lateAfterMs, nowMs } = options;
  const oldest = nowMs - MAX_METRIC_AGE_MS;
  const newest = nowMs + MAX_METRIC_LEAD_MS;
  const stampable = (minute: number): boolean => minute >= minuteOf(oldest) && minute <= newest;
  const health = new Map<number, HealthCounts>();
  const traffic = new Map<number, TrafficCounts>();
  const totals = { ...emptyHealth(), events: 0 };

  // A record received outside CloudWatch's window (only possible when records wait in the
  // stream longer than the mapping's maximum record age allows) is counted in the current minute.
  const arrivalMinuteOf = (arrivalMs: number): number => (stampable(minuteOf(arrivalMs)) ? minuteOf(arrivalMs) : minuteOf(nowMs));
  const healthOf = (minute: number): HealthCounts => {
    let counts = health.get(minute);
    if (!counts) {
      counts = emptyHealth();
      health.set(minute, counts);
    }
    return counts;
  };
  const countTraffic = (minute: number, event: ClickEvent): void => {
    let counts = traffic.get(minute);
    if (!counts) {
      counts = { events: 0, activeSessions: 0, byEventType: new Map(), byRoute: new Map() };
      traffic.set(minute, counts);
    }
    counts.events += 1;
    totals.events += 1;
    increment(counts.byEventType, event.eventType);
    increment(counts.byRoute, event.route);
    let sessions = memory.sessionsByMinute.get(minute);
    if (!sessions) {
      sessions = new Set();
      memory.sessionsByMinute.set(minute, sessions);
    }
    if (!sessions.has(event.sessionId)) {
      sessions.add(event.sessionId);
      counts.activeSessions += 1;
    }
  };

  for (const record of records) {
    const { arrivalMs } = record.position;
    const arrivalMinute = arrivalMinuteOf(arrivalMs);
    const h = healthOf(arrivalMinute);
    h.records += 1;
    totals.records += 1;
    if (record.kind === 'rejected') {
      h.rejected += 1;
      totals.rejected += 1;
      continue;
    }
    const { event } = record;
    if (memory.eventIds.has(event.eventId)) {
      h.duplicates += 1;
      totals.duplicates += 1;
      continue;
    }
    memory.eventIds.add(event.eventId);
    if (event.eventTimeMs > arrivalMs + FUTURE_SKEW_MS) {
      h.futureEvents += 1;
      totals.futureEvents += 1;
      countTraffic(arrivalMinute, event);
      continue;
    }
    if (arrivalMs - event.eventTimeMs > lateAfterMs) {
      h.lateEvents += 1;
      totals.lateEvents += 1;
    }
    const minute = minuteOf(event.eventTimeMs);
    if (!stampable(minute)) {
      h.droppedLateEvents += 1;
      totals.droppedLateEvents += 1;
      continue;
    }
    countTraffic(minute, event);
  }
  forgetOldSessions(memory);
  return { health, traffic, totals };
}

/**
 * Forgets the sessions of the minutes more than {@link SESSION_MEMORY_MS} before the newest
 * minute remembered, then the oldest minutes while more than {@link REMEMBERED_SESSIONS}
 * sessions are remembered.
 */
function forgetOldSessions(memory: ConsumerMemory): void {
  const minutes = [...memory.sessionsByMinute.keys()].sort((a, b) => a - b);
  if (minutes.length === 0) {
    return;
  }
  const newest = minutes[minutes.length - 1];
  let remembered = 0;
  for (const minute of minutes) {
    remembered += memory.sessionsByMinute.get(minute)!.size;
  }
  for (const minute of minutes) {
    if (minute >= newest - SESSION_MEMORY_MS && remembered <= REMEMBERED_SESSIONS) {
      break;
    }
    remembered -= memory.sessionsByMinute.get(minute)!.size;
    memory.sessionsByMinute.delete(minute);
  }
}

// ---------------------------------------------------------------------------------------------
// Embedded metric format
// ---------------------------------------------------------------------------------------------

/** One EMF document: the metadata and the members it names. */
export interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: 'Count' }[];
    }[];
  };
  readonly [member: string]: unknown;
}

function emf(namespace: string, timestamp: number, dimensions: Record<string, string>, values: Record<string, number>): EmfDocument {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.keys(values).map((name) => ({ Name: name, Unit: 'Count' as const })),
        },
      ],
    },
    ...dimensions,
    ...values,
  };
}

/**
 * The EMF documents of a batch's metrics, one JSON line each, by minute: per arrival minute one
 * health document (no dimension); per event minute one traffic document (no dimension), one per
 * event type (dimension `EventType`) and one per route (dimension `Route`). A dimension value is
 * always one of a fixed set (the declaration's event types, the route table), so the number of
 * custom metrics is bounded whatever the stream sends.
 */
export function renderEmf(metrics: BatchMetrics, namespace: string): EmfDocument[] {
  const documents: EmfDocument[] = [];
  const N = METRIC_NAMES;
  for (const [minute, h] of [...metrics.health].sort(([a], [b]) => a - b)) {
    documents.push(
      emf(namespace, minute, {}, {
        [N.records]: h.records,
        [N.rejected]: h.rejected,
        [N.duplicates]: h.duplicates,
        [N.lateEvents]: h.lateEvents,
        [N.droppedLateEvents]: h.droppedLateEvents,
        [N.futureEvents]: h.futureEvents,
      }),
    );
  }
  for (const [minute, t] of [...metrics.traffic].sort(([a], [b]) => a - b)) {
    documents.push(emf(namespace, minute, {}, { [N.events]: t.events, [N.activeSessions]: t.activeSessions }));
    for (const [eventType, count] of [...t.byEventType].sort(([a], [b]) => a.localeCompare(b))) {
      documents.push(emf(namespace, minute, { [DIMENSIONS.eventType]: eventType }, { [N.events]: count }));
    }
    for (const [route, count] of [...t.byRoute].sort(([a], [b]) => a.localeCompare(b))) {
      documents.push(emf(namespace, minute, { [DIMENSIONS.route]: route }, { [N.events]: count }));
    }
  }
  return documents;
}
