import { describe, expect, it, vi } from 'vitest';
import { TributaryError } from '../../src/errors.js';
import { EventCounters, EventHub, emitSafely, type TributaryEvent } from '../../src/events.js';

const T0 = Date.UTC(2024, 0, 1);

const recordsIn = (source: string, count: number, bytes?: number, time = T0): TributaryEvent => ({
  type: 'records.in',
  source,
  count,
  bytes,
  time,
});
const recordsOut = (source: string, count: number, bytes?: number, time = T0): TributaryEvent => ({
  type: 'records.out',
  source,
  count,
  bytes,
  time,
});
const flush = (source: string, count: number, time = T0): TributaryEvent => ({
  type: 'flush',
  source,
  count,
  bytes: 10,
  reason: 'size',
  time,
});

describe('EventHub', () => {
  describe('on', () => {
    it('delivers every event to a listener without a type', () => {
      const hub = new EventHub();
      const seen: string[] = [];
      hub.on((event) => seen.push(event.type));

      hub.emit(recordsIn('a', 1));
      hub.emit(flush('a', 1));

      expect(seen).toEqual(['records.in', 'flush']);
    });

    it('delivers only the events of the requested type, typed as such', () => {
      const hub = new EventHub();
      const reasons: string[] = [];
      hub.on('flush', (event) => reasons.push(`${event.reason}:${event.count}`));

      hub.emit(recordsIn('a', 5));
      hub.emit(flush('a', 3));
      hub.emit({ type: 'retry', source: 'a', attempt: 1, delayMs: 100, time: T0 });

      expect(reasons).toEqual(['size:3']);
    });

    it('stops delivering after unsubscribe, and unsubscribing twice is harmless', () => {
      const hub = new EventHub();
      const listener = vi.fn();
      const stop = hub.on(listener);
      hub.emit(recordsIn('a', 1));

      stop();
      stop();
      hub.emit(recordsIn('a', 1));

      expect(listener).toHaveBeenCalledTimes(1);
      expect(hub.listenerCount()).toBe(0);
    });

    it('treats the same function subscribed twice as two subscriptions', () => {
      const hub = new EventHub();
      const listener = vi.fn();
      const stopFirst = hub.on(listener);
      hub.on(listener);

      stopFirst();
      hub.emit(recordsIn('a', 1));

      expect(listener).toHaveBeenCalledTimes(1);
    });

    it('rejects an unknown type and a missing listener', () => {
      const hub = new EventHub();

      expect(() => hub.on('records' as 'flush', () => {})).toThrow(/Unknown event type "records"/);
      expect(() => hub.on('records' as 'flush', () => {})).toThrow(
        expect.objectContaining({ code: 'EVENT_TYPE_INVALID' }),
      );
      expect(() => hub.on('flush', undefined as never)).toThrow(TributaryError);
    });
  });

  describe('emit', () => {
    it('is bound, so it works when passed around as a callback', () => {
      const hub = new EventHub();
      const listener = vi.fn();
      hub.on(listener);
      const onEvent = hub.emit;

      onEvent(recordsOut('a', 2));

      expect(listener).toHaveBeenCalledWith(recordsOut('a', 2));
    });

    it('isolates a throwing listener from the emitter and the other listeners', () => {
      const boom = new Error('listener broke');
      const onListenerError = vi.fn();
      const hub = new EventHub({ onListenerError });
      const after = vi.fn();
      hub.on(() => {
        throw boom;
      });
      hub.on(after);
      const event = recordsIn('a', 1);

      expect(() => hub.emit(event)).not.toThrow();

      expect(after).toHaveBeenCalledWith(event);
      expect(onListenerError).toHaveBeenCalledWith(boom, event);
    });

    it('ignores listener errors without onListenerError, and survives a throwing reporter', () => {
      const quiet = new EventHub();
      const loud = new EventHub({
        onListenerError: () => {
          throw new Error('reporter broke');
        },
      });
      const after = vi.fn();
      for (const hub of [quiet, loud]) {
        hub.on(() => {
          throw new Error('listener broke');
        });
        hub.on(after);
      }

      quiet.emit(recordsIn('a', 1));
      loud.emit(recordsIn('a', 1));

      expect(after).toHaveBeenCalledTimes(2);
    });

    it('delivers to the listeners present when emit started', () => {
      const hub = new EventHub();
      const late = vi.fn();
      const second = vi.fn();
      let unsubscribeSecond = (): void => {};
      hub.on(() => {
        hub.on(late);
        unsubscribeSecond();
      });
      unsubscribeSecond = hub.on(second);

      hub.emit(recordsIn('a', 1));

      expect(second).toHaveBeenCalledTimes(1);
      expect(late).not.toHaveBeenCalled();
    });
  });

  describe('constructor', () => {
    it('rejects an onListenerError that is not a function', () => {
      expect(() => new EventHub({ onListenerError: 'log' as never })).toThrow(
        expect.objectContaining({ code: 'EVENT_HUB_OPTIONS_INVALID', option: 'onListenerError' }),
      );
    });
  });
});

describe('EventCounters', () => {
  describe('stats', () => {
    it('sums each kind of event per source', () => {
      const counters = new EventCounters();
      const events: TributaryEvent[] = [
        recordsIn('producer', 10, 1000, T0),
        recordsIn('producer', 5, undefined, T0 + 500),
        recordsOut('producer', 12, 1200, T0 + 1000),
        { type: 'batch', source: 'producer', count: 12, bytes: 1200, time: T0 + 900 },
        { type: 'retry', source: 'producer', attempt: 1, delayMs: 50, count: 3, time: T0 + 950 },
        {
          type: 'failure',
          source: 'producer',
          count: 3,
          code: 'ProvisionedThroughputExceededException',
          time: T0 + 990,
        },
        flush('delivery', 12, T0 + 2000),
      ];

      for (const event of events) counters.listener(event);

      expect(counters.stats('producer')).toEqual({
        recordsIn: 15,
        recordsOut: 12,
        bytesIn: 1000,
        bytesOut: 1200,
        batches: 1,
        retries: 1,
        failures: 3,
        flushes: 0,
        firstAt: T0,
        lastAt: T0 + 1000,
      });
      expect(counters.stats('delivery')).toMatchObject({ flushes: 1, recordsOut: 0, firstAt: T0 + 2000 });
    });

    it('sums every source when no source is given', () => {
      const counters = new EventCounters();
      counters.listener(recordsOut('a', 4, 40, T0 + 100));
      counters.listener(recordsOut('b', 6, 60, T0));
      counters.listener(flush('b', 6, T0 + 300));

      expect(counters.stats()).toEqual({
        recordsIn: 0,
        recordsOut: 10,
        bytesIn: 0,
        bytesOut: 100,
        batches: 0,
        retries: 0,
        failures: 0,
        flushes: 1,
        firstAt: T0,
        lastAt: T0 + 300,
      });
    });

    it('returns zeros for an unknown source, and copies that callers cannot corrupt', () => {
      const counters = new EventCounters();
      counters.listener(recordsOut('a', 4));

      counters.stats('a').recordsOut = 999;

      expect(counters.stats('a').recordsOut).toBe(4);
      expect(counters.stats('nobody')).toEqual({
        recordsIn: 0,
        recordsOut: 0,
        bytesIn: 0,
        bytesOut: 0,
        batches: 0,
        retries: 0,
        failures: 0,
        flushes: 0,
      });
    });

    it('ignores non-finite amounts instead of turning totals into NaN', () => {
      const counters = new EventCounters();

      counters.listener(recordsIn('a', Number.NaN, Number.POSITIVE_INFINITY));
      counters.listener(recordsIn('a', 2, 20));

      expect(counters.stats('a')).toMatchObject({ recordsIn: 2, bytesIn: 20 });
    });
  });

  describe('sources', () => {
    it('lists sources in the order they first emitted', () => {
      const counters = new EventCounters();
      counters.listener(recordsIn('b', 1));
      counters.listener(recordsIn('a', 1));
      counters.listener(recordsIn('b', 1));

      expect(counters.sources()).toEqual(['b', 'a']);
    });
  });

  describe('rate', () => {
    it('divides records out by the seconds since the first event', () => {
      const counters = new EventCounters();
      counters.listener(recordsIn('a', 100, undefined, T0));
      counters.listener(recordsOut('a', 300, undefined, T0 + 1000));

      expect(counters.rate('a', T0 + 2000)).toBe(150);
    });

    it('uses Date.now() by default', () => {
      vi.useFakeTimers({ now: T0 + 4000 });
      try {
        const counters = new EventCounters();
        counters.listener(recordsOut('a', 100, undefined, T0));

        expect(counters.rate('a')).toBe(25);
      } finally {
        vi.useRealTimers();
      }
    });

    it('is 0 for an unknown source or before any time has passed', () => {
      const counters = new EventCounters();
      counters.listener(recordsOut('a', 100, undefined, T0));

      expect(counters.rate('nobody', T0 + 1000)).toBe(0);
      expect(counters.rate('a', T0)).toBe(0);
    });
  });

  describe('reset', () => {
    it('forgets every source', () => {
      const counters = new EventCounters();
      counters.listener(recordsOut('a', 100));

      counters.reset();

      expect(counters.sources()).toEqual([]);
      expect(counters.stats().recordsOut).toBe(0);
    });
  });

  describe('listener', () => {
    it('works when subscribed to an EventHub', () => {
      const hub = new EventHub();
      const counters = new EventCounters();
      hub.on(counters.listener);

      hub.emit(recordsOut('a', 7));

      expect(counters.stats('a').recordsOut).toBe(7);
    });
  });
});

describe('emitSafely', () => {
  it('delivers the event to the listener', () => {
    const listener = vi.fn();

    emitSafely(listener, recordsIn('a', 1));

    expect(listener).toHaveBeenCalledWith(recordsIn('a', 1));
  });

  it('ignores an undefined listener and swallows what a listener throws', () => {
    const thrower = vi.fn(() => {
      throw new Error('progress bar broke');
    });

    expect(() => emitSafely(undefined, recordsIn('a', 1))).not.toThrow();
    expect(() => emitSafely(thrower, recordsIn('a', 1))).not.toThrow();
    expect(thrower).toHaveBeenCalledTimes(1);
  });
});
