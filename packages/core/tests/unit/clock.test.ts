import { describe, expect, it, vi } from 'vitest';
import { type Clock, sleep, systemClock } from '../../src/index.js';

/** A clock whose timers fire only when the test advances it. */
function manualClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...timers]) {
        if (timer.at <= now) {
          timers.delete(id);
          timer.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

describe('systemClock', () => {
  it('tells the time of Date.now', () => {
    const before = Date.now();

    const now = systemClock.now();

    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

describe('sleep', () => {
  it('resolves after the given time on the clock it is given', async () => {
    const clock = manualClock();
    const done = vi.fn();

    const slept = sleep(100, { clock }).then(done);
    clock.advance(99);
    await Promise.resolve();
    const earlyCalls = done.mock.calls.length;
    clock.advance(1);
    await slept;

    expect([earlyCalls, done.mock.calls.length]).toEqual([0, 1]);
  });

  it('rejects with the signal reason at once when aborted, and clears its timer', async () => {
    const clock = manualClock();
    const controller = new AbortController();
    const reason = new Error('stop');

    const slept = sleep(1_000, { clock, signal: controller.signal });
    controller.abort(reason);

    await expect(slept).rejects.toBe(reason);
    expect(clock.pending()).toBe(0);
  });

  it('rejects without starting a timer when the signal is already aborted', async () => {
    const clock = manualClock();

    const slept = sleep(10, { clock, signal: AbortSignal.abort('gone') });

    await expect(slept).rejects.toBe('gone');
    expect(clock.pending()).toBe(0);
  });

  it('waits on the real timers by default', async () => {
    const started = performance.now();

    await sleep(20);

    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });
});
