import { describe, expect, it } from 'vitest';
import { Batcher, type BatcherClock, FlushFailedError, type FlushInfo } from '../../src/batcher.js';
import { ItemTooLargeError, TributaryError } from '../../src/errors.js';
import type { TributaryEvent } from '../../src/events.js';

/** Lets pending promise callbacks and one round of I/O callbacks run. */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Timers that fire only when the test moves time forward. */
class FakeClock implements BatcherClock {
  time = 1_000;
  #next = 1;
  readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at > this.time) continue;
      this.timers.delete(id);
      timer.fn();
    }
  }
}

describe('Batcher', () => {
  describe('oversized', () => {
    it('sends an item larger than maxBytes alone, after the buffer before it, when oversized is alone', async () => {
      const batches: [string[], FlushInfo][] = [];
      const batcher = new Batcher<string>({
        maxBytes: 4,
        oversized: 'alone',
        flush: async (items, info) => {
          batches.push([items, info]);
        },
      });

      await batcher.add('ab');
      await batcher.add('x'.repeat(10));
      await batcher.add('c');
      await batcher.close();

      expect(batches).toEqual([
        [['ab'], { reason: 'bytes', bytes: 2, sequence: 0 }],
        [['xxxxxxxxxx'], { reason: 'bytes', bytes: 10, sequence: 1 }],
        [['c'], { reason: 'close', bytes: 1, sequence: 2 }],
      ]);
    });

    it('still refuses it by default', async () => {
      const batcher = new Batcher<string>({ maxBytes: 4, flush: async () => {} });

      expect(await rejectionOf(batcher.add('x'.repeat(5)))).toBeInstanceOf(ItemTooLargeError);
    });
  });

  describe('reasons', () => {
    it('reports the reason of the cut, even when the batch waited for a slot and a flush() came meanwhile', async () => {
      const held = deferred();
      const reasons: string[] = [];
      const clock = new FakeClock();
      const batcher = new Batcher<string>({
        maxCount: 2,
        maxBytes: 1_000,
        maxAgeMs: 100,
        clock,
        flush: async (items, info) => {
          reasons.push(`${info.reason}:${items.join('')}`);
          if (reasons.length === 1) await held.promise;
        },
      });

      await batcher.add('a');
      await batcher.add('b'); // count, held
      await batcher.add('c');
      clock.advance(100); // age cut of [c], no slot free
      await tick();
      const flushing = batcher.flush(); // nothing left to cut: no manual batch
      held.resolve();
      await flushing;
      await batcher.add('d');
      await batcher.flush();

      expect(reasons).toEqual(['count:ab', 'age:c', 'manual:d']);
    });

    it('cuts on the next timer turn with maxAgeMs 0', async () => {
      const clock = new FakeClock();
      const reasons: FlushInfo['reason'][] = [];
      const batcher = new Batcher<string>({
        maxBytes: 100,
        maxAgeMs: 0,
        clock,
        flush: async (_items, info) => {
          reasons.push(info.reason);
        },
      });

      await batcher.add('a');
      expect(clock.timers.size).toBe(1);
      clock.advance(0);
      await tick();

      expect(reasons).toEqual(['age']);
      expect(clock.timers.size).toBe(0);
    });
  });

  describe("failedBatches: 'keep'", () => {
    function keeping(failures: number, options: { maxInFlight?: number; maxCount?: number } = {}) {
      const calls: [string[], number][] = [];
      const flushed: string[][] = [];
      let left = failures;
      const batcher = new Batcher<string>({
        maxCount: options.maxCount ?? 2,
        maxBytes: 1_000,
        maxInFlight: options.maxInFlight ?? 1,
        failedBatches: 'keep',
        flush: async (items, info) => {
          calls.push([items, info.sequence]);
          if (left > 0) {
            left--;
            throw new TributaryError('sink down', { code: 'SINK_DOWN', retryable: true });
          }
        },
        onFlushed: (items) => {
          flushed.push(items);
        },
      });
      return { batcher, calls, flushed };
    }

    it('keeps a failed batch and flushes it again, whole and under the same sequence, at the next cut', async () => {
      const { batcher, calls, flushed } = keeping(1);

      await batcher.add('a');
      await batcher.add('b'); // cut; its flush fails
      await tick();
      const refused = await rejectionOf(batcher.add('c'));
      await batcher.add('c');
      await batcher.add('d'); // cut: the kept batch is tried again first
      await batcher.close();

      expect(refused).toBeInstanceOf(FlushFailedError);
      expect(refused).toMatchObject({ code: 'FLUSH_FAILED', itemCount: 2, retryable: true });
      expect((refused as FlushFailedError<string>).batches.map((b) => b.items)).toEqual([['a', 'b']]);
      expect(calls).toEqual([
        [['a', 'b'], 0],
        [['a', 'b'], 0],
        [['c', 'd'], 1],
      ]);
      expect(flushed).toEqual([
        ['a', 'b'],
        ['c', 'd'],
      ]);
    });

    it('rejects flush() with the kept items when nothing can run, and close() may be called again', async () => {
      const { batcher, calls } = keeping(2);
      await batcher.add('a');

      const first = await rejectionOf(batcher.close());
      const second = await rejectionOf(batcher.close());
      await batcher.close();

      expect(first).toBeInstanceOf(FlushFailedError);
      expect(second).toBeInstanceOf(FlushFailedError);
      expect((first as FlushFailedError).cause).toMatchObject({ code: 'SINK_DOWN' });
      expect(calls.map(([items, sequence]) => `${items.join('')}@${sequence}`)).toEqual([
        'a@0',
        'a@0',
        'a@0',
      ]);
      expect(await rejectionOf(batcher.add('b'))).toMatchObject({ code: 'BATCHER_CLOSED' });
    });

    it('counts batches cut behind the kept ones, which hold every slot', async () => {
      const { batcher } = keeping(Number.POSITIVE_INFINITY, { maxCount: 1 });
      await batcher.add('a'); // fails and holds the only slot
      await tick();
      await rejectionOf(batcher.add('b')); // the failure is reported here
      await batcher.add('b'); // cut, waiting behind the kept batch

      const error = (await rejectionOf(batcher.flush())) as FlushFailedError<string>;

      expect(error.batches.map((b) => b.items)).toEqual([['a']]);
      expect(error.waitingCount).toBe(1);
      expect(error.itemCount).toBe(2);
      expect(batcher.pendingCount).toBe(1);
    });
  });

  describe('onFlushed', () => {
    it('runs in the order batches were cut, even when a later flush ends first', async () => {
      const first = deferred();
      const order: string[] = [];
      const batcher = new Batcher<string>({
        maxCount: 1,
        maxBytes: 1_000,
        maxInFlight: 2,
        flush: async (items) => {
          if (items[0] === 'a') await first.promise;
          order.push(`flush ${items[0]}`);
        },
        onFlushed: async (items, info) => {
          await tick();
          order.push(`flushed ${items[0]} ${info.sequence}`);
        },
      });

      await batcher.add('a');
      await batcher.add('b');
      await tick();
      first.resolve();
      await batcher.flush();

      expect(order).toEqual(['flush b', 'flush a', 'flushed a 0', 'flushed b 1']);
    });

    it('skips a batch that failed for good and reports a throwing hook as a failure event', async () => {
      const events: TributaryEvent[] = [];
      const seen: string[] = [];
      const batcher = new Batcher<string>({
        maxCount: 1,
        maxBytes: 1_000,
        flush: async ([item]) => {
          if (item === 'a') throw new Error('lost');
        },
        onFlushed: ([item]) => {
          seen.push(item as string);
          throw new Error('checkpoint store down');
        },
        onEvent: (event) => events.push(event),
      });

      await batcher.add('a');
      await batcher.add('b');
      const error = await rejectionOf(batcher.close());

      expect(error).toMatchObject({ code: 'PARTIAL_BATCH_FAILURE' });
      expect(seen).toEqual(['b']);
      expect(events.filter((e) => e.type === 'failure').map((e) => (e as { code: string }).code)).toEqual([
        'Error',
        'ON_FLUSHED_FAILED',
      ]);
    });
  });

  describe('clock', () => {
    it('takes its age timer and event times from the clock it is given', async () => {
      const clock = new FakeClock();
      const events: TributaryEvent[] = [];
      const reasons: string[] = [];
      const batcher = new Batcher<string>({
        maxBytes: 100,
        maxAgeMs: 60_000,
        clock,
        flush: async (_items, info) => {
          reasons.push(info.reason);
        },
        onEvent: (event) => events.push(event),
      });

      await batcher.add('a');
      clock.advance(59_999);
      await tick();
      expect(reasons).toEqual([]);
      clock.advance(1);
      await tick();

      expect(reasons).toEqual(['age']);
      expect(events).toEqual([expect.objectContaining({ type: 'flush', reason: 'age', time: 61_000 })]);
    });
  });
});
