import { OptionsError, TributaryError } from './errors.js';

/**
 * The one event vocabulary every tributary stage emits, for progress bars, logs and metrics.
 * `source` names the stage (`kinesis-producer`, `delivery:sensors`); `time` is epoch
 * milliseconds (`Date.now()`); `count` is records and `bytes` is bytes.
 *
 * - `records.in` / `records.out`: records accepted by / handed on from a stage.
 * - `batch`: one request or unit of work sent (a PutRecords call, a row group).
 * - `retry`: an attempt failed and will be repeated after `delayMs`.
 * - `failure`: records that failed for good (they travel on in a typed error or an error prefix).
 * - `flush`: a buffer was written out, and why (`size`, `interval`, `close`).
 *
 * @example
 * ```ts
 * const onEvent = (event: TributaryEvent) => {
 *   if (event.type === 'failure') console.error(`${event.source}: ${event.count} failed (${event.code})`);
 * };
 * ```
 */
export type TributaryEvent =
  | { type: 'records.in'; source: string; count: number; bytes?: number; time: number }
  | { type: 'records.out'; source: string; count: number; bytes?: number; time: number }
  | { type: 'batch'; source: string; count: number; bytes: number; durationMs?: number; time: number }
  | {
      type: 'retry';
      source: string;
      attempt: number;
      delayMs: number;
      count?: number;
      reason?: string;
      error?: unknown;
      time: number;
    }
  | { type: 'failure'; source: string; count: number; code: string; error?: unknown; time: number }
  | {
      type: 'flush';
      source: string;
      count: number;
      bytes: number;
      reason: string;
      target?: string;
      durationMs?: number;
      time: number;
    };

/** The `type` of a {@link TributaryEvent}: `'records.in' | 'records.out' | 'batch' | ...`. */
export type TributaryEventType = TributaryEvent['type'];

/**
 * The event of one type, e.g. `TributaryEventOf<'flush'>`.
 *
 * @example
 * ```ts
 * const logFlush = (event: TributaryEventOf<'flush'>) => console.log(event.target, event.bytes);
 * ```
 */
export type TributaryEventOf<K extends TributaryEventType> = Extract<TributaryEvent, { type: K }>;

/**
 * Receives events. Packages take one as an `onEvent` option; it should return quickly.
 *
 * @example
 * ```ts
 * const counts = new Map<TributaryEventType, number>();
 * const onEvent: EventListener = (event) => {
 *   counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
 * };
 * ```
 */
export type EventListener = (event: TributaryEvent) => void;

const EVENT_TYPES: ReadonlySet<string> = new Set<TributaryEventType>([
  'records.in',
  'records.out',
  'batch',
  'retry',
  'failure',
  'flush',
]);

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  /**
   * Called when a listener throws. The error never reaches the emitting stage or the other
   * listeners; without this option it is ignored. An error thrown here is ignored too.
   */
  onListenerError?: (error: unknown, event: TributaryEvent) => void;
}

interface Subscription {
  type: TributaryEventType | undefined;
  listener: EventListener;
}

/**
 * Fans one stream of events out to many listeners, optionally filtered by type. A listener
 * that throws cannot break the stage that emits or the listeners after it.
 *
 * @example
 * ```ts
 * import { createDelivery } from '@tributary/lake';
 *
 * const hub = new EventHub();
 * const stop = hub.on('flush', (e) => console.log(`wrote ${e.count} records to ${e.target}`));
 * const delivery = createDelivery({ storage: lake.raw, prefix: 'sensors/', streamName: 'sensors', onEvent: hub.emit });
 * await delivery.write({ id: 'a-1', value: 21.5 });
 * await delivery.close();
 * stop();
 * ```
 */
export class EventHub {
  readonly #subscriptions = new Set<Subscription>();
  readonly #options: Readonly<EventHubOptions>;

  constructor(options: EventHubOptions = {}) {
    if (options.onListenerError !== undefined && typeof options.onListenerError !== 'function') {
      throw new OptionsError(
        `EventHubOptions.onListenerError must be a function (got ${typeof options.onListenerError})`,
        { code: 'EVENT_HUB_OPTIONS_INVALID', option: 'onListenerError' },
      );
    }
    this.#options = Object.freeze({ ...options });
  }

  /** Listens to every event. Returns a function that unsubscribes; calling it twice is harmless. */
  on(listener: EventListener): () => void;
  /** Listens to events of one type only, typed accordingly. Returns a function that unsubscribes. */
  on<K extends TributaryEventType>(type: K, listener: (event: TributaryEventOf<K>) => void): () => void;
  on(typeOrListener: TributaryEventType | EventListener, maybeListener?: (event: never) => void): () => void {
    const type = typeof typeOrListener === 'function' ? undefined : typeOrListener;
    const listener = (typeof typeOrListener === 'function' ? typeOrListener : maybeListener) as unknown;
    if (type !== undefined && !EVENT_TYPES.has(type)) {
      throw new TributaryError(`Unknown event type ${JSON.stringify(type)}`, { code: 'EVENT_TYPE_INVALID' });
    }
    if (typeof listener !== 'function') {
      throw new TributaryError(`EventHub.on needs a listener function (got ${typeof listener})`, {
        code: 'ARGUMENT_INVALID',
      });
    }
    // A fresh object per call, so the same function subscribed twice is two subscriptions.
    const subscription: Subscription = { type, listener: listener as EventListener };
    this.#subscriptions.add(subscription);
    return () => {
      this.#subscriptions.delete(subscription);
    };
  }

  /** Delivers an event to the current listeners. Bound, so it can be passed as `onEvent: hub.emit`. */
  readonly emit: EventListener = (event) => {
    // A snapshot, so listeners that (un)subscribe during delivery do not change this round.
    for (const { type, listener } of [...this.#subscriptions]) {
      if (type !== undefined && type !== event.type) continue;
      try {
        listener(event);
      } catch (error) {
        this.#reportListenerError(error, event);
      }
    }
  };

  /** How many listeners are subscribed (to `type`, or in total). */
  listenerCount(type?: TributaryEventType): number {
    let n = 0;
    for (const subscription of this.#subscriptions) {
      if (type === undefined || subscription.type === undefined || subscription.type === type) n += 1;
    }
    return n;
  }

  #reportListenerError(error: unknown, event: TributaryEvent): void {
    try {
      this.#options.onListenerError?.(error, event);
    } catch {
      // The reporter failing must not break delivery either.
    }
  }
}

/** Totals of one stage (or of all stages summed). */
export interface StageStats {
  /** Records from `records.in` events. */
  recordsIn: number;
  /** Records from `records.out` events. */
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Number of `batch` events. */
  batches: number;
  /** Number of `retry` events. */
  retries: number;
  /** Records from `failure` events. */
  failures: number;
  /** Number of `flush` events. */
  flushes: number;
  /** Time of the earliest event seen (epoch ms). */
  firstAt?: number;
  /** Time of the latest event seen (epoch ms). */
  lastAt?: number;
}

function emptyStats(): StageStats {
  return {
    recordsIn: 0,
    recordsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    batches: 0,
    retries: 0,
    failures: 0,
    flushes: 0,
  };
}

/** A malformed event must not turn every total into NaN for the rest of the run. */
function amount(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * Aggregates events per source, for end-of-run summaries and progress displays.
 *
 * @example
 * ```ts
 * const hub = new EventHub();
 * const counters = new EventCounters();
 * hub.on(counters.listener);
 * // ... run stages with `onEvent: hub.emit` ...
 * const { recordsOut, failures } = counters.stats('kinesis-producer');
 * console.log(`${recordsOut} sent, ${failures} failed, ${counters.rate('kinesis-producer').toFixed(0)}/s`);
 * ```
 */
export class EventCounters {
  readonly #bySource = new Map<string, StageStats>();

  /** Counts one event. Bound, so it can be passed as `onEvent: counters.listener`. */
  readonly listener: EventListener = (event) => {
    let stats = this.#bySource.get(event.source);
    if (stats === undefined) {
      stats = emptyStats();
      this.#bySource.set(event.source, stats);
    }
    switch (event.type) {
      case 'records.in':
        stats.recordsIn += amount(event.count);
        stats.bytesIn += amount(event.bytes);
        break;
      case 'records.out':
        stats.recordsOut += amount(event.count);
        stats.bytesOut += amount(event.bytes);
        break;
      case 'batch':
        stats.batches += 1;
        break;
      case 'retry':
        stats.retries += 1;
        break;
      case 'failure':
        stats.failures += amount(event.count);
        break;
      case 'flush':
        stats.flushes += 1;
        break;
    }
    if (typeof event.time === 'number' && Number.isFinite(event.time)) {
      if (stats.firstAt === undefined || event.time < stats.firstAt) stats.firstAt = event.time;
      if (stats.lastAt === undefined || event.time > stats.lastAt) stats.lastAt = event.time;
    }
  };

  /** A copy of the totals of one source (zeros if it has sent nothing), or of all sources summed. */
  stats(source?: string): StageStats {
    if (source !== undefined) return { ...(this.#bySource.get(source) ?? emptyStats()) };
    const total = emptyStats();
    for (const stats of this.#bySource.values()) {
      total.recordsIn += stats.recordsIn;
      total.recordsOut += stats.recordsOut;
      total.bytesIn += stats.bytesIn;
      total.bytesOut += stats.bytesOut;
      total.batches += stats.batches;
      total.retries += stats.retries;
      total.failures += stats.failures;
      total.flushes += stats.flushes;
      if (stats.firstAt !== undefined && (total.firstAt === undefined || stats.firstAt < total.firstAt)) {
        total.firstAt = stats.firstAt;
      }
      if (stats.lastAt !== undefined && (total.lastAt === undefined || stats.lastAt > total.lastAt)) {
        total.lastAt = stats.lastAt;
      }
    }
    return total;
  }

  /** The sources seen so far, in the order they first emitted. */
  sources(): string[] {
    return [...this.#bySource.keys()];
  }

  /**
   * Records out per second for `source`, from its first event until `now` (default `Date.now()`).
   * 0 before any time has passed.
   */
  rate(source: string, now: number = Date.now()): number {
    const stats = this.#bySource.get(source);
    if (stats?.firstAt === undefined) return 0;
    const seconds = (now - stats.firstAt) / 1000;
    return seconds > 0 ? stats.recordsOut / seconds : 0;
  }

  /** Forgets every source and total. */
  reset(): void {
    this.#bySource.clear();
  }
}

/**
 * Delivers an event to an optional listener and ignores anything it throws: what a stage
 * calls so that a faulty progress bar never fails a pipeline.
 *
 * @example
 * ```ts
 * function reportBatch(onEvent: EventListener | undefined, count: number, bytes: number): void {
 *   emitSafely(onEvent, { type: 'batch', source: 'kinesis-producer', count, bytes, time: Date.now() });
 * }
 * ```
 */
export function emitSafely(listener: EventListener | undefined, event: TributaryEvent): void {
  if (typeof listener !== 'function') return;
  try {
    listener(event);
  } catch {
    // Observability must never change the outcome of the work it observes.
  }
}
