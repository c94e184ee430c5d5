import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type BatcherOptions, type FlushInfo } from '../../src/batcher.js';
import { ItemTooLargeError, PartialBatchFailureError, TributaryError } from '../../src/errors.js';
import type { TributaryEvent } from '../../src/events.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks and one round of I/O callbacks run (real timers only). */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Recorded<T> {
  items: T[];
  info: FlushInfo;
}

/** A Batcher whose flush records each batch and succeeds at once. */
function recording<T>(options: Omit<BatcherOptions<T>, 'flush'>): {
  batcher: Batcher<T>;
  batches: Recorded<T>[];
} {
  const batches: Recorded<T>[] = [];
  const batcher = new Batcher<T>({
    ...options,
    flush: async (items, info) => {
      batches.push({ items, info });
    },
  });
  return { batcher, batches };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('Batcher', () => {
  describe('constructor', () => {
    const flush = async (): Promise<void> => {};

    it.each([
      ['maxCount', 0],
      ['maxCount', -1],
      ['maxCount', 1.5],
      ['maxCount', Number.NaN],
      ['maxBytes', 0],
      ['maxBytes', Number.POSITIVE_INFINITY],
      ['maxBytes', '100'],
      ['maxInFlight', 0],
      ['maxInFlight', 2.5],
      ['maxAgeMs', Number.POSITIVE_INFINITY],
      ['maxAgeMs', -10],
      ['maxAgeMs', Number.NaN],
      ['maxAgeMs', 2 ** 31],
      ['overheadBytes', -1],
      ['overheadBytes', Number.NaN],
      ['sizeOf', 3],
      ['onEvent', 'log'],
      ['flush', undefined],
      ['oversized', 'split'],
      ['failedBatches', 'retry'],
      ['onFlushed', 1],
      ['clock', { now: () => 0 }],
    ])('rejects %s = %s with BATCHER_OPTIONS_INVALID', (option, value) => {
      const options = {
        maxCount: 10,
        maxBytes: 100,
        flush,
        [option]: value,
      } as unknown as BatcherOptions<string>;

      const error = (() => {
        try {
          new Batcher(options);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();

      expect(TributaryError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'BATCHER_OPTIONS_INVALID', context: { option } });
      expect((error as Error).message).toContain(option);
    });

    it('keeps its own copy of the options, unaffected by later changes to the object passed in', async () => {
      const batches: string[][] = [];
      const options: BatcherOptions<string> = {
        maxCount: 3,
        maxBytes: 100,
        flush: async (items) => {
          batches.push(items);
        },
      };
      const batcher = new Batcher(options);

      options.maxCount = 1;
      await batcher.add('a');
      await batcher.add('b');

      expect(batches).toEqual([]);
      expect(batcher.pendingCount).toBe(2);
    });
  });

  describe('add', () => {
    it('cuts a batch as soon as it holds maxCount items', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 3, maxBytes: 1000 });

      for (const item of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await batcher.add(item);
      const beforeClose = batches.length;
      await batcher.close();

      expect(beforeClose).toBe(2);
      expect(batches.map((b) => b.items)).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
      expect(batches.map((b) => b.info)).toEqual([
        { reason: 'count', bytes: 3, sequence: 0 },
        { reason: 'count', bytes: 3, sequence: 1 },
        { reason: 'close', bytes: 1, sequence: 2 },
      ]);
    });

    it('cuts before an item that would exceed maxBytes, and the item starts the next batch', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 10 });

      await batcher.add('aaaa');
      await batcher.add('bbbb');
      await batcher.add('cccc');

      expect(batches).toEqual([
        { items: ['aaaa', 'bbbb'], info: { reason: 'bytes', bytes: 8, sequence: 0 } },
      ]);
      expect(batcher.pendingCount).toBe(1);
      expect(batcher.pendingBytes).toBe(4);
    });

    it('cuts at once when the buffer reaches maxBytes exactly', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 8 });

      await batcher.add('aaaa');
      expect(batches).toHaveLength(0);
      await batcher.add('bbbb');

      expect(batches).toEqual([
        { items: ['aaaa', 'bbbb'], info: { reason: 'bytes', bytes: 8, sequence: 0 } },
      ]);
      expect(batcher.pendingCount).toBe(0);
      expect(batcher.pendingBytes).toBe(0);
    });

    it('counts the UTF-8 bytes of multibyte strings, not their length', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 7 });

      await batcher.add('€'); // 3 bytes, 1 UTF-16 unit
      expect(batcher.pendingBytes).toBe(3);
      await batcher.add('😀'); // 4 bytes, 2 UTF-16 units: 7 bytes reached exactly

      expect(batches).toEqual([{ items: ['€', '😀'], info: { reason: 'bytes', bytes: 7, sequence: 0 } }]);
    });

    it('sizes binary items by byteLength and other values by their JSON', async () => {
      const { batcher } = recording<unknown>({ maxCount: 100, maxBytes: 1000 });

      await batcher.add(new Uint8Array(5));
      expect(batcher.pendingBytes).toBe(5);
      await batcher.add({ t: 'é' }); // {"t":"é"} is 10 bytes
      expect(batcher.pendingBytes).toBe(15);
    });

    it('adds the per-item overhead of a function to sizeOf', async () => {
      interface Entry {
        key: string;
        data: string;
      }
      const { batcher, batches } = recording<Entry>({
        maxCount: 100,
        maxBytes: 20,
        sizeOf: (entry) => entry.data.length,
        overheadBytes: (entry) => entry.key.length,
      });
      const first = { key: 'sensor-1', data: 'xx' }; // 8 + 2
      const second = { key: 'sensor-22', data: 'y' }; // 9 + 1
      const third = { key: 'k', data: 'z' }; // 1 + 1

      await batcher.add(first);
      expect(batcher.pendingBytes).toBe(10);
      await batcher.add(second);

      expect(batches).toEqual([
        { items: [first, second], info: { reason: 'bytes', bytes: 20, sequence: 0 } },
      ]);
      await batcher.add(third);
      expect(batcher.pendingBytes).toBe(2);
    });

    it('adds a fixed overhead to every item', async () => {
      const { batcher } = recording<string>({ maxCount: 100, maxBytes: 100, overheadBytes: 10 });

      await batcher.add('abc');
      await batcher.add('');

      expect(batcher.pendingBytes).toBe(23);
    });

    it('rejects an item larger than maxBytes without flushing it or touching the buffer', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 10 });
      await batcher.add('ab');

      const error = await rejectionOf(batcher.add('x'.repeat(11)));

      expect(error).toBeInstanceOf(ItemTooLargeError);
      expect(error).toMatchObject({ size: 11, limit: 10, code: 'ITEM_TOO_LARGE' });
      expect(batcher.pendingCount).toBe(1);
      expect(batcher.pendingBytes).toBe(2);
      await batcher.add('cd');
      await batcher.close();
      expect(batches.map((b) => b.items)).toEqual([['ab', 'cd']]);
    });

    it('counts the overhead when deciding that an item is too large', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 10, overheadBytes: 5 });

      const error = await rejectionOf(batcher.add('abcdef'));
      await batcher.add('abcde');

      expect(error).toMatchObject({ size: 11, limit: 10 });
      expect(batches.map((b) => b.items)).toEqual([['abcde']]);
    });

    it('rejects an item whose size cannot be measured', async () => {
      const { batcher } = recording<unknown>({ maxCount: 10, maxBytes: 100 });
      const nanSized = recording<string>({ maxCount: 10, maxBytes: 100, sizeOf: () => Number.NaN }).batcher;

      await expect(batcher.add(undefined)).rejects.toMatchObject({ code: 'ITEM_INVALID' });
      await expect(batcher.add(10n)).rejects.toMatchObject({
        code: 'ITEM_INVALID',
        cause: expect.any(TypeError),
      });
      await expect(nanSized.add('a')).rejects.toMatchObject({ code: 'ITEM_INVALID' });
      expect(batcher.pendingCount).toBe(0);
    });

    it('keeps the next add pending while a full batch waits for a flush slot', async () => {
      const held = deferred();
      const calls: string[][] = [];
      const batcher = new Batcher<string>({
        maxCount: 2,
        maxBytes: 1000,
        maxInFlight: 1,
        flush: (items) => {
          calls.push(items);
          return calls.length === 1 ? held.promise : Promise.resolve();
        },
      });
      await batcher.add('a');
      await batcher.add('b'); // first batch cut and dispatched; its flush is held
      await batcher.add('c');
      await batcher.add('d'); // fills the buffer: cut, waiting for the slot

      let accepted = false;
      const adding = batcher.add('e').then(() => {
        accepted = true;
      });
      await tick();
      await tick();

      expect(accepted).toBe(false);
      expect(batcher.inFlight).toBe(1);
      expect(batcher.pendingCount).toBe(2);
      expect(batcher.pendingBytes).toBe(2);
      expect(calls).toEqual([['a', 'b']]);

      held.resolve();
      await adding;

      expect(accepted).toBe(true);
      expect(calls).toEqual([
        ['a', 'b'],
        ['c', 'd'],
      ]);
      await batcher.close();
      expect(calls.at(-1)).toEqual(['e']);
    });

    it('runs up to maxInFlight flushes at once', async () => {
      const holds = [deferred(), deferred(), deferred()];
      let calls = 0;
      const batcher = new Batcher<string>({
        maxCount: 1,
        maxBytes: 1000,
        maxInFlight: 2,
        flush: () => holds[calls++]?.promise ?? Promise.resolve(),
      });

      await batcher.add('a');
      await batcher.add('b');
      await batcher.add('c'); // cut; waits for a slot
      let fourthAccepted = false;
      const fourth = batcher.add('d').then(() => {
        fourthAccepted = true;
      });
      await tick();

      expect(batcher.inFlight).toBe(2);
      expect(calls).toBe(2);
      expect(fourthAccepted).toBe(false);

      holds[1]?.resolve();
      await fourth;
      expect(fourthAccepted).toBe(true);
      expect(batcher.inFlight).toBe(2);
      expect(calls).toBe(3);

      holds[0]?.resolve();
      holds[2]?.resolve();
      await batcher.close();
      expect(batcher.inFlight).toBe(0);
    });

    it('batches items in call order when adds are not awaited one by one', async () => {
      const batches: number[][] = [];
      const batcher = new Batcher<number>({
        maxCount: 3,
        maxBytes: 1000,
        maxInFlight: 1,
        flush: async (items) => {
          batches.push(items);
          await tick();
        },
      });
      const items = Array.from({ length: 10 }, (_, i) => i);

      await Promise.all(items.map(batcher.add));
      await batcher.close();

      expect(batches).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    });

    it('rejects with BATCHER_CLOSED after close, even before close has finished', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 10, maxBytes: 100 });
      await batcher.add('a');

      const closing = batcher.close();
      const early = await rejectionOf(batcher.add('b'));
      await closing;
      const late = await rejectionOf(batcher.add('c'));

      expect(early).toMatchObject({ code: 'BATCHER_CLOSED' });
      expect(late).toMatchObject({ code: 'BATCHER_CLOSED' });
      expect(TributaryError.isInstance(late)).toBe(true);
      expect(batches.map((b) => b.items)).toEqual([['a']]);
    });
  });

  describe('maxAgeMs', () => {
    it('cuts the buffer maxAgeMs after its first item, with reason age', async () => {
      vi.useFakeTimers();
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 1000, maxAgeMs: 1000 });

      await batcher.add('a');
      await vi.advanceTimersByTimeAsync(600);
      await batcher.add('b'); // a later item does not restart the clock
      await vi.advanceTimersByTimeAsync(399);
      expect(batches).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);

      expect(batches).toEqual([{ items: ['a', 'b'], info: { reason: 'age', bytes: 2, sequence: 0 } }]);
      expect(batcher.pendingCount).toBe(0);
    });

    it('starts a new clock with the first item of the next buffer', async () => {
      vi.useFakeTimers();
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 1000, maxAgeMs: 1000 });
      await batcher.add('a');
      await vi.advanceTimersByTimeAsync(1000);

      await vi.advanceTimersByTimeAsync(5000); // an empty buffer is never flushed
      expect(batches).toHaveLength(1);
      await batcher.add('b');
      await vi.advanceTimersByTimeAsync(999);
      expect(batches).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);

      expect(batches.map((b) => b.items)).toEqual([['a'], ['b']]);
    });

    it('drops the clock of a buffer cut by a limit, so the next buffer gets its full age', async () => {
      vi.useFakeTimers();
      const { batcher, batches } = recording<string>({ maxCount: 2, maxBytes: 1000, maxAgeMs: 1000 });
      await batcher.add('a');
      await vi.advanceTimersByTimeAsync(500);
      await batcher.add('b'); // cut by count
      expect(vi.getTimerCount()).toBe(0);
      await batcher.add('c');

      await vi.advanceTimersByTimeAsync(999);
      expect(batches.map((b) => b.info.reason)).toEqual(['count']);
      await vi.advanceTimersByTimeAsync(1);

      expect(batches.map((b) => b.items)).toEqual([['a', 'b'], ['c']]);
      expect(batches.map((b) => b.info.reason)).toEqual(['count', 'age']);
    });

    it('leaves no timer behind after close', async () => {
      vi.useFakeTimers();
      const { batcher, batches } = recording<string>({ maxCount: 100, maxBytes: 1000, maxAgeMs: 1000 });
      await batcher.add('a');
      expect(vi.getTimerCount()).toBe(1);

      await batcher.close();

      expect(vi.getTimerCount()).toBe(0);
      expect(batches.map((b) => b.info.reason)).toEqual(['close']);
    });

    it('does not keep the process alive with its timer', async () => {
      const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
      const { batcher } = recording<string>({ maxCount: 100, maxBytes: 1000, maxAgeMs: 60_000 });

      await batcher.add('a');

      const timer = setTimeoutSpy.mock.results.at(-1)?.value as NodeJS.Timeout;
      expect(setTimeoutSpy).toHaveBeenLastCalledWith(expect.any(Function), 60_000);
      expect(timer.hasRef()).toBe(false);
      await batcher.close();
    });
  });

  describe('flush', () => {
    it('sends a partial buffer with reason manual and waits for the flushes in flight', async () => {
      const held = deferred();
      const calls: Recorded<string>[] = [];
      const batcher = new Batcher<string>({
        maxCount: 100,
        maxBytes: 1000,
        flush: (items, info) => {
          calls.push({ items, info });
          return held.promise;
        },
      });
      await batcher.add('a');

      let flushed = false;
      const flushing = batcher.flush().then(() => {
        flushed = true;
      });
      await tick();

      expect(calls).toEqual([{ items: ['a'], info: { reason: 'manual', bytes: 1, sequence: 0 } }]);
      expect(flushed).toBe(false);
      held.resolve();
      await flushing;
      expect(flushed).toBe(true);
    });

    it('does not call the flush function for an empty buffer', async () => {
      const flush = vi.fn(async () => {});
      const batcher = new Batcher<string>({ maxCount: 10, maxBytes: 100, flush });

      await batcher.flush();

      expect(flush).not.toHaveBeenCalled();
    });
  });

  describe('failure reporting', () => {
    it('keeps failed items, keeps accepting, and reports them once on the next flush', async () => {
      const throttled = Object.assign(new Error('Rate exceeded'), { code: 'ThrottlingException' });
      const events: TributaryEvent[] = [];
      let calls = 0;
      const batcher = new Batcher<string>({
        maxCount: 2,
        maxBytes: 1000,
        flush: async () => {
          calls++;
          if (calls === 1) throw throttled;
        },
        onEvent: (event) => events.push(event),
      });

      await batcher.add('a');
      await batcher.add('b'); // this batch fails
      await batcher.add('c');
      await batcher.add('d');
      await batcher.add('e');
      const error = await rejectionOf(batcher.flush());

      expect(error).toBeInstanceOf(PartialBatchFailureError);
      const failure = error as PartialBatchFailureError<string>;
      expect(failure.failed).toEqual([
        { item: 'a', code: 'ThrottlingException', message: 'Rate exceeded' },
        { item: 'b', code: 'ThrottlingException', message: 'Rate exceeded' },
      ]);
      expect(failure.succeededCount).toBe(3);
      expect(failure.cause).toBe(throttled);
      expect(events.filter((e) => e.type === 'failure')).toEqual([
        {
          type: 'failure',
          source: 'batcher',
          count: 2,
          code: 'ThrottlingException',
          error: throttled,
          time: expect.any(Number),
        },
      ]);

      await batcher.add('f');
      await expect(batcher.flush()).resolves.toBeUndefined();
      await expect(batcher.close()).resolves.toBeUndefined();
      expect(calls).toBe(4);
    });

    it('counts succeeded items from the last report only', async () => {
      let fail = false;
      const batcher = new Batcher<string>({
        maxCount: 1,
        maxBytes: 1000,
        flush: async () => {
          if (fail) throw new Error('down');
        },
      });
      await batcher.add('a');
      await batcher.add('b');
      await batcher.flush();

      fail = true;
      await batcher.add('c');
      fail = false;
      await batcher.add('d');
      const error = (await rejectionOf(batcher.flush())) as PartialBatchFailureError<string>;

      expect(error.failed.map((f) => f.item)).toEqual(['c']);
      expect(error.succeededCount).toBe(1);
    });

    it('reports every failure since the last report, on close too', async () => {
      const batcher = new Batcher<number>({
        maxCount: 1,
        maxBytes: 1000,
        flush: async ([item]) => {
          if (item === 1) throw new RangeError('one');
          if (item === 3) throw 'three';
        },
      });

      for (const item of [1, 2, 3, 4]) await batcher.add(item);
      const error = (await rejectionOf(batcher.close())) as PartialBatchFailureError<number>;

      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed).toEqual([
        { item: 1, code: 'RangeError', message: 'one' },
        { item: 3, code: 'FLUSH_FAILED', message: 'three' },
      ]);
      expect(error.succeededCount).toBe(2);
      expect(error.cause).toBeInstanceOf(AggregateError);
      expect((error.cause as AggregateError).errors).toHaveLength(2);
    });

    it('counts only the items named by a PartialBatchFailureError from the flush function', async () => {
      const batcher = new Batcher<string>({
        maxCount: 3,
        maxBytes: 1000,
        flush: async (items) => {
          throw new PartialBatchFailureError([
            { item: items[1], code: 'ProvisionedThroughputExceededException' },
          ]);
        },
      });

      for (const item of ['a', 'b', 'c']) await batcher.add(item);
      const error = (await rejectionOf(batcher.flush())) as PartialBatchFailureError<string>;

      expect(error.failed).toEqual([{ item: 'b', code: 'ProvisionedThroughputExceededException' }]);
      expect(error.succeededCount).toBe(2);
    });

    it('counts the whole batch as failed when a PartialBatchFailureError names foreign items', async () => {
      const batcher = new Batcher<string>({
        maxCount: 2,
        maxBytes: 1000,
        flush: async () => {
          throw new PartialBatchFailureError([{ item: 'not-ours', code: 'X' }]);
        },
      });

      await batcher.add('a');
      await batcher.add('b');
      const error = (await rejectionOf(batcher.flush())) as PartialBatchFailureError<string>;

      expect(error.failed.map((f) => [f.item, f.code])).toEqual([
        ['a', 'PARTIAL_BATCH_FAILURE'],
        ['b', 'PARTIAL_BATCH_FAILURE'],
      ]);
      expect(error.succeededCount).toBe(0);
    });

    it('treats a flush function that throws synchronously as a failed flush', async () => {
      const batcher = new Batcher<string>({
        maxCount: 10,
        maxBytes: 1000,
        flush: () => {
          throw new TypeError('boom');
        },
      });
      await batcher.add('a');

      const error = (await rejectionOf(batcher.flush())) as PartialBatchFailureError<string>;

      expect(error.failed).toEqual([{ item: 'a', code: 'TypeError', message: 'boom' }]);
    });
  });

  describe('onEvent', () => {
    it('reports each successful flush with its count, bytes, reason and duration', async () => {
      const events: TributaryEvent[] = [];
      const { batcher } = recording<string>({
        maxCount: 2,
        maxBytes: 1000,
        onEvent: (event) => events.push(event),
      });

      await batcher.add('ab');
      await batcher.add('c');
      await batcher.add('d');
      await batcher.close();

      expect(events).toEqual([
        {
          type: 'flush',
          source: 'batcher',
          count: 2,
          bytes: 3,
          reason: 'count',
          durationMs: expect.any(Number),
          time: expect.any(Number),
        },
        {
          type: 'flush',
          source: 'batcher',
          count: 1,
          bytes: 1,
          reason: 'close',
          durationMs: expect.any(Number),
          time: expect.any(Number),
        },
      ]);
    });

    it('ignores an observer that throws, without losing the batch or its outcome', async () => {
      const { batcher, batches } = recording<string>({
        maxCount: 1,
        maxBytes: 1000,
        onEvent: () => {
          throw new Error('observer bug');
        },
      });

      await batcher.add('a');

      await expect(batcher.close()).resolves.toBeUndefined();
      expect(batches.map((b) => b.items)).toEqual([['a']]);
    });
  });

  describe('close', () => {
    it('returns the same promise when called twice', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 10, maxBytes: 100 });
      await batcher.add('a');

      const first = batcher.close();
      const second = batcher.close();
      await first;

      expect(second).toBe(first);
      expect(batches).toHaveLength(1);
    });
  });

  describe('properties', () => {
    interface Item {
      id: number;
      size: number;
    }

    const scenario = fc.record({
      maxCount: fc.integer({ min: 1, max: 8 }),
      maxBytes: fc.integer({ min: 1, max: 40 }),
      maxInFlight: fc.integer({ min: 1, max: 3 }),
      overhead: fc.integer({ min: 0, max: 3 }),
      sizes: fc.array(fc.integer({ min: 0, max: 45 }), { maxLength: 40 }),
      concurrent: fc.boolean(),
      delays: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 8 }),
      failing: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    });

    async function run(
      {
        maxCount,
        maxBytes,
        maxInFlight,
        overhead,
        sizes,
        concurrent,
        delays,
        failing,
      }: typeof scenario extends fc.Arbitrary<infer S> ? S : never,
      withFailures: boolean,
    ) {
      const items: Item[] = sizes.map((size, id) => ({ id, size }));
      const batches: { ids: number[]; info: FlushInfo; failed: boolean }[] = [];
      let running = 0;
      let mostRunning = 0;
      const batcher = new Batcher<Item>({
        maxCount,
        maxBytes,
        maxInFlight,
        overheadBytes: overhead,
        sizeOf: (item) => item.size,
        flush: async (batch, info) => {
          const failed = withFailures && failing[info.sequence % failing.length] === true;
          batches.push({ ids: batch.map((item) => item.id), info, failed });
          running++;
          mostRunning = Math.max(mostRunning, running);
          for (let i = 0; i < (delays[info.sequence % delays.length] ?? 0); i++) await tick();
          running--;
          if (failed) throw new Error(`batch ${info.sequence}`);
        },
      });

      let outcomes: PromiseSettledResult<void>[];
      if (concurrent) {
        outcomes = await Promise.allSettled(items.map(batcher.add));
      } else {
        outcomes = [];
        for (const item of items) outcomes.push(...(await Promise.allSettled([batcher.add(item)])));
      }
      const closeError = await batcher.close().then(
        () => undefined,
        (error: unknown) => error,
      );
      const accepted = items.filter((_, index) => outcomes[index]?.status === 'fulfilled');
      return { items, batches, mostRunning, outcomes, accepted, closeError };
    }

    it('keeps every batch within its limits and flushes each accepted item once, in order', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async (input) => {
          const { maxCount, maxBytes, maxInFlight, overhead } = input;
          const { items, batches, mostRunning, outcomes, accepted, closeError } = await run(input, false);
          const bytesOf = (id: number): number => (items[id]?.size ?? 0) + overhead;

          expect(closeError).toBeUndefined();
          expect(accepted).toEqual(items.filter((item) => item.size + overhead <= maxBytes));
          for (const [index, outcome] of outcomes.entries()) {
            if (outcome.status === 'rejected') {
              expect(outcome.reason).toBeInstanceOf(ItemTooLargeError);
              expect(outcome.reason).toMatchObject({ size: bytesOf(index), limit: maxBytes });
            }
          }
          expect(batches.flatMap((batch) => batch.ids)).toEqual(accepted.map((item) => item.id));
          expect(mostRunning).toBeLessThanOrEqual(maxInFlight);

          for (const [index, { ids, info }] of batches.entries()) {
            const bytes = ids.reduce((sum, id) => sum + bytesOf(id), 0);
            expect(info.sequence).toBe(index);
            expect(ids.length).toBeGreaterThanOrEqual(1);
            expect(ids.length).toBeLessThanOrEqual(maxCount);
            expect(info.bytes).toBe(bytes);
            expect(bytes).toBeLessThanOrEqual(maxBytes);
            const next = batches[index + 1];
            if (next !== undefined) {
              // Cut only when a limit forced it: full by count or bytes, or the next item did not fit.
              const forced =
                ids.length === maxCount ||
                bytes === maxBytes ||
                bytes + bytesOf(next.ids[0] ?? -1) > maxBytes;
              expect(forced).toBe(true);
              expect(info.reason).toBe(ids.length === maxCount ? 'count' : 'bytes');
            }
          }
        }),
        { numRuns: 200 },
      );
    });

    it('reports exactly the items of failed batches, and counts the rest as succeeded', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async (input) => {
          const { batches, accepted, closeError } = await run(input, true);
          const failedIds = batches.filter((batch) => batch.failed).flatMap((batch) => batch.ids);

          if (failedIds.length === 0) {
            expect(closeError).toBeUndefined();
            return;
          }
          expect(closeError).toBeInstanceOf(PartialBatchFailureError);
          const error = closeError as PartialBatchFailureError<Item>;
          expect(error.failed.map((f) => f.item.id).sort((a, b) => a - b)).toEqual(
            failedIds.sort((a, b) => a - b),
          );
          expect(error.succeededCount).toBe(accepted.length - failedIds.length);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('await using', () => {
    it('closes the batcher when the block ends: the buffer is sent with reason close', async () => {
      const { batcher, batches } = recording<string>({ maxCount: 10, maxBytes: 1_000 });
      {
        await using b = batcher;
        await b.add('a');
        expect(batches).toHaveLength(0);
      }

      expect(batches.map((b) => [b.items, b.info.reason])).toEqual([[['a'], 'close']]);
    });
  });
});
