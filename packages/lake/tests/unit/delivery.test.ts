import { gunzipSync } from 'node:zlib';
import { defineSchema, field, OptionsError, RetryExhaustedError, type TributaryEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import {
  createDelivery,
  type DeliveryClock,
  DeliveryError,
  type DeliveryOptions,
} from '../../src/delivery.js';
import { FirehosePrefixError, StorageError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import type { Body, ObjectInfo, PutOptions, Storage } from '../../src/storage.js';

const T0 = Date.UTC(2026, 10, 23, 10, 15, 0); // 2026-11-23T10:15:00Z

/** Timers that fire only when the test moves time forward. */
class FakeClock implements DeliveryClock {
  time: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = T0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = end;
  }
}

/** Counts puts; the first `failures` puts reject with `error`; `gate` holds every put until opened. */
class TestStorage extends MemoryStorage {
  puts: string[] = [];
  failures = 0;
  error: () => unknown = () => new StorageError('S3 is down', { retryable: true });
  gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.gate = undefined;
  }

  override async put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
    this.puts.push(key);
    if (this.gate) await this.gate;
    if (this.failures > 0) {
      this.failures--;
      throw this.error();
    }
    return super.put(key, body, options);
  }
}

function uuids(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

function reading(i: number, type = ['temperature', 'power_factor', 'hydraulic_pressure'][i % 3]) {
  return { id: `r-${i}`, sensorId: `s-${i % 4}`, type, value: i / 4, timestamp: '2026-11-23T10:15:00.000Z' };
}

/** Records of one byte size (for i < 10), for tests that count bytes. */
function fixed(i: number) {
  return {
    id: `r-${i}`,
    sensorId: 's-1',
    type: 'temperature',
    value: i + 0.5,
    timestamp: '2026-11-23T10:15:00.000Z',
  };
}

const lineBytes = (record: object) => Buffer.byteLength(`${JSON.stringify(record)}\n`);

const readingSchema = defineSchema({
  id: field.string(),
  sensorId: field.string(),
  type: field.string(),
  value: field.double(),
  timestamp: field.timestamp(),
});

function setup(options: Partial<DeliveryOptions> = {}) {
  const storage = new TestStorage();
  const clock = new FakeClock();
  const events: TributaryEvent[] = [];
  const delivery = createDelivery({
    storage,
    prefix: 'sensors/',
    streamName: 'sensors',
    clock,
    randomUUID: uuids(),
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, random: () => 0 },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { storage, clock, events, delivery };
}

async function keysOf(storage: Storage, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}

async function linesOf(storage: Storage, key: string): Promise<string[]> {
  let bytes = Buffer.from(await storage.getBytes(key));
  if (key.endsWith('.gz')) bytes = gunzipSync(bytes);
  const text = bytes.toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

async function recordsOf(storage: Storage, key: string): Promise<unknown[]> {
  return (await linesOf(storage, key)).map((line) => JSON.parse(line));
}

/** Lets background flushes run (storage puts and gzip are asynchronous). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Resolves to 'pending' if the promise has not settled after a few turns of the event loop. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let result: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => {
      result = 'resolved';
    },
    () => {
      result = 'rejected';
    },
  );
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return result;
}

const flushes = (events: TributaryEvent[]) =>
  events.filter((e): e is Extract<TributaryEvent, { type: 'flush' }> => e.type === 'flush');

describe('createDelivery', () => {
  describe('options', () => {
    it.each([
      ['a stream name with a slash', { streamName: 'a/b' }, 'streamName'],
      ['a prefix without a trailing slash', { prefix: 'sensors' }, 'prefix'],
      ['YYYY (week-based year)', { prefix: 'sensors/!{timestamp:YYYY}/' }, 'prefix'],
      ['an unknown namespace', { prefix: 'sensors/!{partitionKeyFromQuery:id}/' }, 'prefix'],
      ['error-output-type in the data prefix', { prefix: 'x/!{firehose:error-output-type}/' }, 'prefix'],
      ['an unclosed quote', { prefix: "sensors/!{timestamp:yyyy'}/" }, 'prefix'],
      ['a prefix giving keys with an empty segment', { prefix: 'sensors//' }, 'prefix'],
      ['bufferBytes 0', { bufferBytes: 0 }, 'bufferBytes'],
      ['a negative interval', { bufferIntervalMs: -1 }, 'bufferIntervalMs'],
      ['an unknown compression', { compression: 'zstd' as 'gzip' }, 'compression'],
      ['maxInFlight 0', { maxInFlight: 0 }, 'maxInFlight'],
      ['a storage without put', { storage: {} as Storage }, 'storage'],
      ['a clock without setTimeout', { clock: { now: () => 0 } as unknown as DeliveryClock }, 'clock'],
      [
        'a randomUUID that is not a function',
        { randomUUID: 'uuid' as unknown as () => string },
        'randomUUID',
      ],
      ['an onEvent that is not a function', { onEvent: 1 as never }, 'onEvent'],
      ['an onFlushed that is not a function', { onFlushed: {} as never }, 'onFlushed'],
      ['a schema without validate', { schema: {} as never }, 'schema'],
      ['retry options that are not an object', { retry: 3 as never }, 'retry'],
    ])(
      'rejects %s with an OptionsError DELIVERY_OPTIONS_INVALID naming the option',
      (_name, override, option) => {
        let caught: unknown;
        try {
          setup(override as Partial<DeliveryOptions>);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(OptionsError);
        expect(caught).toMatchObject({ code: 'DELIVERY_OPTIONS_INVALID', option, context: { option } });
        expect((caught as Error).message).toContain(`createDelivery option ${option}`);
      },
    );

    it('rejects options that are not an object, naming options', () => {
      const create = () => createDelivery(null as unknown as DeliveryOptions);

      expect(create).toThrow(OptionsError);
      expect(create).toThrow(
        expect.objectContaining({ code: 'DELIVERY_OPTIONS_INVALID', option: 'options' }),
      );
    });

    it('carries the prefix grammar error as the cause', () => {
      let caught: unknown;
      try {
        setup({ prefix: 'sensors/!{timestamp:YYYY}/' });
      } catch (error) {
        caught = error;
      }

      expect(caught).toBeInstanceOf(OptionsError);
      expect((caught as Error).cause).toBeInstanceOf(FirehosePrefixError);
    });
  });
});

describe('Delivery', () => {
  describe('write', () => {
    it('puts every record of a flush, all sensor types, in one NDJSON object named after the stream', async () => {
      const { storage, delivery } = setup();
      const records = Array.from({ length: 9 }, (_, i) => reading(i));

      for (const record of records) await delivery.write(record);
      const stats = await delivery.close();

      const keys = await keysOf(storage);
      expect(keys).toEqual([
        'sensors/2026/11/23/10/sensors-2026-11-23-10-15-00-00000000-0000-4000-8000-000000000001.ndjson',
      ]);
      expect(await recordsOf(storage, keys[0] as string)).toEqual(records);
      expect(new Set(records.map((r) => r.type)).size).toBe(3);
      expect(stats).toMatchObject({
        recordsIn: 9,
        recordsDelivered: 9,
        recordsFailed: 0,
        recordsPending: 0,
        objects: 1,
      });
    });

    it('writes JSON text and bytes as compact lines, keeping the digits of large integers', async () => {
      const { storage, delivery } = setup();

      await delivery.write(
        '{ "id": "a",\n  "note": "two  spaces \\" and \\n", "n": 12345678901234567890 }\n',
      );
      await delivery.write(new TextEncoder().encode('{"id":"b","value":1.50}'));
      await delivery.write({ id: 'c', big: 12345678901234567891n, at: new Date(T0) });
      await delivery.close();

      const [key] = await keysOf(storage);
      expect(await linesOf(storage, key as string)).toEqual([
        '{"id":"a","note":"two  spaces \\" and \\n","n":12345678901234567890}',
        '{"id":"b","value":1.50}',
        '{"id":"c","big":12345678901234567891,"at":"2026-11-23T10:15:00.000Z"}',
      ]);
    });

    it('sends what is not a JSON object to errors/<prefix>invalid-json/ as Firehose error records, the rest to the data object', async () => {
      const { storage, delivery, clock } = setup();
      const badUtf8 = Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]);

      await delivery.write(reading(1));
      await delivery.write('not json at all');
      await delivery.write({ data: '[1,2,3]', arrivalTime: T0 - 1000 });
      await delivery.write(badUtf8);
      await delivery.write(reading(2));
      clock.advance(5_000);
      const stats = await delivery.close();

      const errorKeys = await keysOf(storage, 'errors/');
      expect(errorKeys).toEqual([
        'errors/sensors/invalid-json/2026/11/23/10/sensors-2026-11-23-10-15-05-00000000-0000-4000-8000-000000000002.ndjson',
      ]);
      const errors = (await recordsOf(storage, errorKeys[0] as string)) as Record<string, unknown>[];
      expect(errors.map((e) => e.errorCode)).toEqual(['INVALID_JSON', 'NOT_A_JSON_OBJECT', 'INVALID_JSON']);
      expect(errors[0]).toEqual({
        attemptsMade: 1,
        arrivalTimestamp: T0,
        errorCode: 'INVALID_JSON',
        errorMessage: expect.stringMatching(/^not JSON: /),
        attemptEndingTimestamp: T0,
        rawData: Buffer.from('not json at all').toString('base64'),
      });
      expect(errors[1]?.arrivalTimestamp).toBe(T0 - 1000);
      expect(errors[1]?.errorMessage).toBe('expected a JSON object, got an array');
      expect(Buffer.from(errors[2]?.rawData as string, 'base64')).toEqual(Buffer.from(badUtf8));

      const dataKeys = await keysOf(storage, 'sensors/');
      expect(dataKeys).toHaveLength(1);
      expect(await recordsOf(storage, dataKeys[0] as string)).toEqual([reading(1), reading(2)]);
      expect(stats).toMatchObject({
        recordsIn: 5,
        recordsDelivered: 2,
        recordsFailed: 3,
        objects: 1,
        errorObjects: 1,
      });
    });

    it('sends records failing the schema to validation-failed with the issues and the raw payload', async () => {
      const { storage, delivery } = setup({ schema: readingSchema });
      const bad = { ...reading(3), value: 'high' };

      await delivery.write(reading(1));
      await delivery.write(JSON.stringify(bad));
      await delivery.close();

      const [errorKey] = await keysOf(storage, 'errors/sensors/validation-failed/2026/11/23/10/');
      const [error] = (await recordsOf(storage, errorKey as string)) as Record<string, unknown>[];
      expect(error?.errorCode).toBe('VALIDATION_FAILED');
      expect(error?.errorMessage).toMatch(/^value: expected double/);
      expect(error?.issues).toEqual([expect.objectContaining({ path: 'value', code: 'type' })]);
      expect(JSON.parse(Buffer.from(error?.rawData as string, 'base64').toString())).toEqual(bad);
      const [dataKey] = await keysOf(storage, 'sensors/');
      expect(await recordsOf(storage, dataKey as string)).toEqual([reading(1)]);
    });

    it('rejects after close with DELIVERY_CLOSED', async () => {
      const { delivery } = setup();
      await delivery.close();

      await expect(delivery.write(reading(1))).rejects.toMatchObject({ code: 'DELIVERY_CLOSED' });
    });
  });

  describe('buffering', () => {
    it('flushes when the buffered bytes reach bufferBytes, before the interval', async () => {
      const records = [fixed(1), fixed(2), fixed(3), fixed(4)];
      const { storage, delivery, events } = setup({ bufferBytes: lineBytes(fixed(0)) * 3 });

      for (const record of records) await delivery.write(record);
      await until(() => flushes(events).length === 1);

      const [first] = await keysOf(storage);
      expect(await recordsOf(storage, first as string)).toEqual(records.slice(0, 3));
      expect(flushes(events)[0]).toMatchObject({ reason: 'size', count: 3, target: first });
      expect(delivery.stats().recordsPending).toBe(1);
    });

    it('flushes bufferIntervalMs after the first record entered the empty buffer', async () => {
      const { storage, delivery, clock, events } = setup({ bufferIntervalMs: 60_000 });

      await delivery.write(reading(1));
      clock.advance(30_000);
      await delivery.write(reading(2));
      clock.advance(29_999);
      await until(() => true);
      expect(await keysOf(storage)).toEqual([]);
      clock.advance(1);
      await until(() => flushes(events).length === 1);

      const keys = await keysOf(storage);
      expect(keys).toEqual([
        expect.stringMatching(/^sensors\/2026\/11\/23\/10\/sensors-2026-11-23-10-16-00-/),
      ]);
      expect(await recordsOf(storage, keys[0] as string)).toEqual([reading(1), reading(2)]);
      expect(flushes(events)[0]).toMatchObject({ reason: 'interval', count: 2 });
      expect(clock.pending).toBe(0);
    });

    it('delivers a record larger than bufferBytes alone, after what was buffered before it', async () => {
      const small = reading(1);
      const big = { ...reading(2), note: 'x'.repeat(500) };
      const { storage, delivery, events } = setup({ bufferBytes: 200 });

      await delivery.write(small);
      await delivery.write(big);
      await until(() => flushes(events).length === 2);
      await delivery.write(reading(3));
      await delivery.close();

      const counts = flushes(events).map((e) => [e.reason, e.count]);
      expect(counts).toEqual([
        ['size', 1],
        ['size', 1],
        ['close', 1],
      ]);
      const bodies = await Promise.all(flushes(events).map((e) => recordsOf(storage, e.target as string)));
      expect(bodies).toEqual([[small], [big], [reading(3)]]);
    });

    it('reports each flush with the reason that cut it: a size cut after a pending flush() is size, not manual', async () => {
      const { storage, delivery, events } = setup({ bufferBytes: lineBytes(fixed(0)) * 2 });
      storage.hold();

      await delivery.write(fixed(0));
      await delivery.write(fixed(1)); // full: cut for size, in flight (held)
      await delivery.write(fixed(2));
      const flushing = delivery.flush(); // asks for [2] while no slot is free
      const filling = delivery.write(fixed(3));
      const needingRoom = delivery.write(fixed(4));
      await state(needingRoom);
      storage.release();
      await Promise.all([flushing, filling, needingRoom]);
      await delivery.close();

      expect(flushes(events).map((e) => [e.reason, e.count])).toEqual([
        ['size', 2],
        ['manual', 1],
        ['size', 2],
      ]);
      expect(delivery.stats()).toMatchObject({ recordsIn: 5, recordsDelivered: 5, recordsPending: 0 });
    });

    it('takes the prefix from the oldest record’s arrival time and the name from the delivery start', async () => {
      const { storage, delivery, clock } = setup();
      clock.time = Date.UTC(2026, 10, 23, 10, 59, 59);

      await delivery.write(reading(1));
      clock.advance(31_000); // 11:00:30
      await delivery.write(reading(2));
      await delivery.flush();

      const keys = await keysOf(storage);
      expect(keys).toEqual([
        'sensors/2026/11/23/10/sensors-2026-11-23-11-00-30-00000000-0000-4000-8000-000000000001.ndjson',
      ]);
      expect(await recordsOf(storage, keys[0] as string)).toEqual([reading(1), reading(2)]);
    });

    it('refuses an arrivalTime that is not a time with DELIVERY_RECORD_INVALID', async () => {
      const { delivery } = setup();

      await expect(delivery.write({ data: reading(1), arrivalTime: Number.NaN })).rejects.toMatchObject({
        code: 'DELIVERY_RECORD_INVALID',
      });
    });

    it('uses the oldest arrivalTime given with the records, not the order they came in', async () => {
      const { storage, delivery } = setup();

      await delivery.write({ data: reading(1), arrivalTime: new Date(Date.UTC(2026, 10, 23, 9, 30)) });
      await delivery.write({ data: reading(2), arrivalTime: Date.UTC(2026, 10, 22, 23, 59, 59) });
      await delivery.close();

      expect(await keysOf(storage)).toEqual([
        expect.stringMatching(/^sensors\/2026\/11\/22\/23\/sensors-2026-11-23-10-15-00-/),
      ]);
    });

    it('evaluates a hive template and derives the default error prefix from its static part', async () => {
      const { storage, delivery } = setup({
        prefix: "sensors/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/min=!{timestamp:mm'm'}/",
      });

      await delivery.write(reading(1));
      await delivery.write('oops');
      await delivery.close();

      expect(await keysOf(storage)).toEqual([
        expect.stringMatching(
          /^errors\/sensors\/invalid-json\/2026\/11\/23\/10\/sensors-2026-11-23-10-15-00-[-0-9a-f]{36}\.ndjson$/,
        ),
        expect.stringMatching(
          /^sensors\/dt=2026-11-23\/hour=10\/min=15m\/sensors-2026-11-23-10-15-00-[-0-9a-f]{36}\.ndjson$/,
        ),
      ]);
    });

    it('appends the error type and the default time to an error prefix that lacks them', async () => {
      const { storage, delivery } = setup({ errorPrefix: 'failed/' });

      await delivery.write('{');
      await delivery.close();

      expect(await keysOf(storage)).toEqual([
        expect.stringMatching(/^failed\/invalid-json\/2026\/11\/23\/10\/sensors-/),
      ]);
    });

    it('writes .ndjson.gz objects that gunzip to the records', async () => {
      const { storage, delivery } = setup({ compression: 'gzip' });
      const records = Array.from({ length: 50 }, (_, i) => reading(i));

      for (const record of records) await delivery.write(record);
      const stats = await delivery.close();

      const [key] = await keysOf(storage);
      expect(key).toMatch(/\.ndjson\.gz$/);
      expect(await recordsOf(storage, key as string)).toEqual(records);
      const stored = await storage.head(key as string);
      expect(stats.bytes).toBe(stored?.size);
      expect(stats.bytes).toBeLessThan(records.reduce((sum, r) => sum + lineBytes(r), 0));
    });
  });

  describe('failures', () => {
    it('retries a failed put with withRetry and reports the retries', async () => {
      const { storage, delivery, events } = setup();
      storage.failures = 2;

      await delivery.write(reading(1));
      const stats = await delivery.close();

      expect(storage.puts).toHaveLength(3);
      expect(events.filter((e) => e.type === 'retry').map((e) => (e as { attempt: number }).attempt)).toEqual(
        [1, 2],
      );
      expect(stats).toMatchObject({ recordsDelivered: 1, failedFlushes: 0 });
    });

    it('surfaces exhausted retries as a DeliveryError, keeps the records and writes them under the same key next time', async () => {
      const { storage, delivery, events } = setup({
        retry: { maxAttempts: 2, baseDelayMs: 1, random: () => 0 },
      });
      storage.failures = 3;
      const records = [reading(1), reading(2), reading(3)];
      for (const record of records) await delivery.write(record);

      const first = await delivery.close().then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(first).toBeInstanceOf(DeliveryError);
      expect(first).toMatchObject({ code: 'DELIVERY_FAILED', recordCount: 3, retryable: true });
      expect((first as DeliveryError).cause).toBeInstanceOf(RetryExhaustedError);
      expect(((first as DeliveryError).cause as Error).cause).toBeInstanceOf(StorageError);
      expect(delivery.stats()).toMatchObject({ recordsPending: 3, recordsDelivered: 0, failedFlushes: 1 });
      expect(events.find((e) => e.type === 'failure')).toMatchObject({ code: 'DELIVERY_FAILED', count: 3 });

      const stats = await delivery.close();

      expect(stats).toMatchObject({ recordsIn: 3, recordsDelivered: 3, recordsPending: 0, objects: 1 });
      expect(new Set(storage.puts).size).toBe(1);
      expect(storage.puts).toHaveLength(4);
      expect(await recordsOf(storage, storage.puts[0] as string)).toEqual(records);
    });

    it('rejects the next write after a background flush failed, without accepting that record, then recovers on flush', async () => {
      const records = Array.from({ length: 4 }, (_, i) => fixed(i));
      const { storage, delivery, events } = setup({
        bufferBytes: lineBytes(fixed(0)) * 2,
        retry: { maxAttempts: 1 },
      });
      storage.failures = 1;

      await delivery.write(fixed(0));
      await delivery.write(fixed(1)); // full: a size flush starts and fails
      await until(() => events.some((e) => e.type === 'failure'));

      await expect(delivery.write(fixed(2))).rejects.toBeInstanceOf(DeliveryError);
      expect(delivery.stats()).toMatchObject({ recordsIn: 2, recordsPending: 2 });
      await delivery.write(fixed(2));
      await delivery.write(fixed(3)); // needs room: the kept batch is tried again and succeeds
      await delivery.flush();

      const delivered = [];
      for (const key of await keysOf(storage)) delivered.push(...(await recordsOf(storage, key)));
      expect(delivered).toEqual(records);
      expect(delivery.stats()).toMatchObject({
        recordsIn: 4,
        recordsDelivered: 4,
        recordsPending: 0,
        failedFlushes: 1,
      });
    });

    it('without retry, tries each put once per flush and writes the kept records under the same key at the next flush', async () => {
      const { storage, delivery, events } = setup({ retry: undefined });
      storage.failures = 1;
      await delivery.write(reading(1));

      const error = await delivery.flush().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      await delivery.flush();

      expect(error).toBeInstanceOf(DeliveryError);
      expect((error as DeliveryError).cause).toBeInstanceOf(StorageError);
      expect(events.filter((e) => e.type === 'retry')).toEqual([]);
      expect(storage.puts).toHaveLength(2);
      expect(new Set(storage.puts).size).toBe(1);
      expect(delivery.stats()).toMatchObject({ recordsDelivered: 1, recordsPending: 0, failedFlushes: 1 });
    });

    it('does not retry an error classified as permanent, but still keeps the records', async () => {
      const { storage, delivery } = setup();
      storage.failures = 1;
      storage.error = () => new Error('AccessDenied');

      await delivery.write(reading(1));
      await expect(delivery.flush()).rejects.toMatchObject({ recordCount: 1, retryable: false });
      expect(storage.puts).toHaveLength(1);
      await delivery.flush();

      expect(delivery.stats()).toMatchObject({ recordsDelivered: 1, recordsPending: 0 });
    });
  });

  describe('backpressure', () => {
    it('makes write wait while the buffer is full and a flush is in flight', async () => {
      const { storage, delivery } = setup({ bufferBytes: lineBytes(fixed(0)) * 2 });
      storage.hold();

      await delivery.write(fixed(0));
      await delivery.write(fixed(1)); // full: cut and in flight (held)
      await delivery.write(fixed(2));
      await delivery.write(fixed(3)); // full again; no slot free
      const blocked = delivery.write(fixed(4));

      expect(await state(blocked)).toBe('pending');
      expect(storage.puts).toHaveLength(1);
      expect(delivery.stats().recordsPending).toBe(4);

      storage.release();
      await blocked;
      await delivery.close();
      expect(storage.puts).toHaveLength(3);
      expect(delivery.stats()).toMatchObject({ recordsIn: 5, recordsDelivered: 5 });
      const delivered = [];
      for (const key of storage.puts) delivered.push(...(await recordsOf(storage, key)));
      expect(delivered).toEqual([0, 1, 2, 3, 4].map(fixed));
    });

    it('allows maxInFlight flushes at once', async () => {
      const { storage, delivery } = setup({ bufferBytes: lineBytes(fixed(0)), maxInFlight: 2 });
      storage.hold();

      await delivery.write(fixed(0));
      await delivery.write(fixed(1));
      await delivery.write(fixed(2)); // two flushes in flight, this one fills the buffer
      const blocked = delivery.write(fixed(3));

      expect(await state(blocked)).toBe('pending');
      expect(storage.puts).toHaveLength(2);
      storage.release();
      await blocked;
      await delivery.close();
      expect(delivery.stats()).toMatchObject({ recordsDelivered: 4, objects: 4 });
    });
  });

  describe('events', () => {
    it('emits records.in, flush with target, bytes, count and reason, and failure for the error prefix', async () => {
      const { delivery, events } = setup();

      await delivery.write(reading(1));
      await delivery.write('nope');
      await delivery.close();

      expect(events.filter((e) => e.type === 'records.in')).toHaveLength(2);
      const [data, errors] = flushes(events);
      expect(data).toMatchObject({
        source: 'delivery:sensors',
        reason: 'close',
        count: 1,
        bytes: lineBytes(reading(1)),
        target: expect.stringMatching(/^sensors\//),
        time: T0,
      });
      expect(errors).toMatchObject({
        count: 1,
        target: expect.stringMatching(/^errors\/sensors\/invalid-json\//),
      });
      expect(events.find((e) => e.type === 'failure')).toMatchObject({ code: 'INVALID_JSON', count: 1 });
    });
  });

  describe('consume', () => {
    it('writes every record of an async iterable, closes and returns the stats', async () => {
      const { storage, delivery } = setup({ bufferBytes: 1_000 });
      async function* source() {
        for (let i = 0; i < 100; i++) yield i % 10 === 0 ? `bad-${i}` : reading(i);
      }

      const stats = await delivery.consume(source());

      expect(stats).toMatchObject({
        recordsIn: 100,
        recordsDelivered: 90,
        recordsFailed: 10,
        recordsPending: 0,
      });
      let lines = 0;
      for (const key of await keysOf(storage, 'sensors/')) lines += (await linesOf(storage, key)).length;
      expect(lines).toBe(90);
      await expect(delivery.write(reading(1))).rejects.toMatchObject({ code: 'DELIVERY_CLOSED' });
    });
  });

  describe('await using', () => {
    it('writes out the buffer when the block ends', async () => {
      const { storage, delivery: made } = setup();
      {
        await using delivery = made;
        await delivery.write(reading(1));
        expect(await keysOf(storage, 'sensors/')).toEqual([]);
      }

      expect(await keysOf(storage, 'sensors/')).toHaveLength(1);
      await expect(made.write(reading(2))).rejects.toMatchObject({ code: 'DELIVERY_CLOSED' });
    });
  });
});
