import { describe, expect, it } from 'vitest';
import { type Clock, OptionsError, TokenBucket } from '../../src/index.js';

function fakeClock(): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = 1_000;
  const timers: { at: number; fn: () => void }[] = [];
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (handle: unknown) => {
      const index = timers.indexOf(handle as (typeof timers)[number]);
      if (index >= 0) timers.splice(index, 1);
    },
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at)) {
        if (timer.at <= now) {
          timers.splice(timers.indexOf(timer), 1);
          timer.fn();
        }
      }
    },
    set(ms: number) {
      now = ms;
    },
  };
  return clock;
}

describe('TokenBucket', () => {
  describe('constructor', () => {
    it.each([
      [{ capacity: 0, refillPerSecond: 1 }, 'capacity'],
      [{ capacity: 5, refillPerSecond: -1 }, 'refillPerSecond'],
      [{ capacity: 5, refillPerSecond: Number.NaN }, 'refillPerSecond'],
    ])('rejects %j naming %s', (options, option) => {
      expect(() => new TokenBucket(options)).toThrow(OptionsError);
      expect(() => new TokenBucket(options)).toThrow(
        expect.objectContaining({ code: 'TOKEN_BUCKET_OPTIONS_INVALID', option }),
      );
    });
  });

  describe('tryTake', () => {
    it('starts full, takes up to its capacity, then refills at its rate', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, clock });

      const burst = [bucket.tryTake(), bucket.tryTake(), bucket.tryTake()];
      clock.advance(999);
      const early = bucket.tryTake();
      clock.advance(1);
      const onTime = bucket.tryTake();

      expect([burst, early, onTime]).toEqual([[true, true, false], false, true]);
    });

    it('never holds more than its capacity', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 10, clock });

      clock.advance(60_000);

      expect(bucket.available()).toBe(3);
    });

    it('ignores a clock that goes back', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock });
      bucket.tryTake();

      clock.set(0);
      bucket.available();
      clock.set(1_500);

      expect(bucket.available()).toBeCloseTo(0.5);
    });
  });

  describe('waitMs', () => {
    it('is 0 when the amount is there and the whole milliseconds until it is otherwise', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 4, clock });

      const full = bucket.waitMs(10);
      bucket.debit(10);

      expect([full, bucket.waitMs(), bucket.waitMs(2)]).toEqual([0, 250, 500]);
    });

    it('waits exactly the refill time at a rate that is not exact in binary (2 a minute)', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 2 / 60, clock });
      bucket.debit(2);

      const wait = bucket.waitMs();
      clock.advance(wait);

      expect([wait, bucket.tryTake()]).toEqual([30_000, true]);
    });

    it('waits for a full bucket when asked for more than the capacity', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 100, refillPerSecond: 100, clock });
      bucket.debit(100);

      expect(bucket.waitMs(1_000)).toBe(1_000);
    });
  });

  describe('debit', () => {
    it('may take the balance below zero, which delays what comes next', () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 10, clock });

      bucket.debit(30);

      expect([bucket.available(), bucket.waitMs()]).toEqual([-20, 2_100]);
    });
  });

  describe('take', () => {
    it('waits on the clock for a token, serving callers in order', async () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 2, clock });
      const order: string[] = [];

      const first = bucket.take().then(() => order.push('first'));
      const second = bucket.take().then(() => order.push('second'));
      const third = bucket.take().then(() => order.push('third'));
      await first;
      await Promise.resolve();
      const afterBurst = [...order];
      for (let step = 0; step < 4; step++) {
        clock.advance(250);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all([second, third]);

      expect(afterBurst).toEqual(['first']);
      expect(order).toEqual(['first', 'second', 'third']);
    });

    it('rejects with the signal reason when aborted while waiting', async () => {
      const clock = fakeClock();
      const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock });
      bucket.debit(1);
      const controller = new AbortController();

      const taking = bucket.take(1, { signal: controller.signal });
      await new Promise((resolve) => setImmediate(resolve));
      controller.abort(new Error('stop'));

      await expect(taking).rejects.toThrow('stop');
      expect(bucket.available()).toBe(0);
    });
  });
});
