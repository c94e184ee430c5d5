import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, defineSchema, type Fields, field, type Schema } from '@tributary/core';
import { parquetMetadata } from 'hyparquet';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeDataset } from '../../src/dataset.js';
import { PAGE_BYTES } from '../../src/formats/parquet/column-chunk.js';
import {
  EncodePool,
  MIN_CORES_FOR_DEFAULT_POOL,
  MIN_POOL_BYTES,
  poolFor,
  WORKERS_VARIABLE,
  workerCount,
} from '../../src/formats/parquet/encode-pool.js';
import { ParquetError } from '../../src/formats/parquet/errors.js';
import { type EncodedRowGroup, encodeRowGroup } from '../../src/formats/parquet/row-group-task.js';
import { MAX_GROUPS_IN_FLIGHT, ParquetRecordWriter } from '../../src/formats/parquet/writer.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import { byHour } from '../../src/partitions.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

// Every physical type and nesting the writer has: dictionary and plain strings, booleans, int32,
// int64, doubles, the three decimal widths, timestamps, dates, nulls, lists.
const everyKind = defineSchema({
  id: field.string(),
  sensor: field.string(),
  active: field.boolean(),
  rank: field.int32().nullable(),
  volume: field.int64(),
  value: field.double(),
  small: field.decimal(9, 2),
  mid: field.decimal(18, 4),
  price: field.decimal(38, 18).optional(),
  at: field.timestamp(),
  day: field.date(),
  tags: field.list(field.string()).nullable(),
  counts: field.list(field.int64()).optional(),
});

function record(i: number) {
  return everyKind.parse({
    id: `${(i * 2654435761) % 4294967296}-${i}-réading-𝄞`,
    sensor: `sensor-${i % 37}`,
    active: i % 3 === 0,
    rank: i % 5 === 0 ? null : i - 5000,
    volume: BigInt(i) * 1_000_003n - 7n,
    value: i % 11 === 0 ? 0 : (i % 7) - 3.25 + i / 1000,
    small: `${(i % 20000) - 10000}.${String(i % 100).padStart(2, '0')}`,
    mid: `${i * 31}.${String(i % 10000).padStart(4, '0')}`,
    ...(i % 4 === 0 ? {} : { price: `${i}.${'1'.repeat(18)}` }),
    at: new Date(Date.UTC(2026, 10, 21) + i * 997),
    day: `2026-11-${String((i % 28) + 1).padStart(2, '0')}`,
    tags: i % 6 === 0 ? null : i % 6 === 1 ? [] : [`t${i % 3}`, `tag-${i % 50}`],
    ...(i % 5 === 0 ? {} : { counts: [BigInt(i), -BigInt(i)] }),
  });
}

const records = Array.from({ length: 12_000 }, (_, i) => record(i));

function memorySink(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

/** Write records with a writer whose row groups go to `encodePool` (null: inline). */
async function writeFile(
  encodePool: EncodePool | null,
  inputs: readonly Record<string, unknown>[] = records,
  rowGroupBytes = 64 * 1024,
  schema: Schema<Fields> = everyKind as Schema<Fields>,
) {
  const { sink, bytes } = memorySink();
  const writer = new ParquetRecordWriter(sink, schema, { rowGroupBytes, compression: 'SNAPPY', encodePool });
  for (const input of inputs) {
    const pending = writer.append(input);
    if (pending) await pending;
  }
  const stats = await writer.close();
  return { file: bytes(), stats };
}

/** The first failure of a write and its close, whichever reports it. */
async function failureOf(encodePool: EncodePool | null): Promise<unknown> {
  return writeFile(encodePool).then(
    () => {
      throw new Error('the write succeeded');
    },
    (err: unknown) => err,
  );
}

const pools: EncodePool[] = [];
/** A pool whose workers are ready (a row group goes only to a ready, idle worker). */
async function pool(entry?: URL): Promise<EncodePool> {
  const created = new EncodePool({ size: 2, ...(entry ? { entry: { file: entry } } : {}) });
  pools.push(created);
  await created.warm();
  return created;
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('ParquetRecordWriter on encoding workers', () => {
  describe('bytes', () => {
    it('writes the same file, byte for byte, as the inline encoding (many row groups, every type)', async () => {
      // Arrange
      const workers = await pool();
      const encode = vi.spyOn(workers, 'encode');

      // Act
      const inline = await writeFile(null);
      const pooled = await writeFile(workers);

      // Assert
      const taken = encode.mock.results.filter((result) => result.value !== undefined).length;
      expect(taken).toBeGreaterThan(5);
      expect(workers.available).toBe(true);
      expect(pooled.file.equals(inline.file)).toBe(true);
      expect(pooled.stats).toEqual(inline.stats);
    });

    it('writes the same file for row groups with several pages per column', async () => {
      // Arrange: 4 MiB groups of unique ids (plain, several 1 MiB pages) and a dictionary column.
      const schema = defineSchema({ id: field.string(), sensor: field.string(), value: field.double() });
      const inputs = Array.from({ length: 150_000 }, (_, i) => ({
        id: `${i.toString(36).padStart(12, '0')}-${'x'.repeat(i % 40)}`,
        sensor: `sensor-${i % 500}`,
        value: i / 7,
      }));
      const workers = await pool();

      // Act
      const inline = await writeFile(null, inputs, 4 << 20, schema as Schema<Fields>);
      const pooled = await writeFile(workers, inputs, 4 << 20, schema as Schema<Fields>);

      // Assert
      const { file } = pooled;
      const meta = parquetMetadata(
        file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer,
      );
      const idChunk = meta.row_groups[0]?.columns[0]?.meta_data;
      expect(meta.row_groups.length).toBeGreaterThan(1);
      expect(idChunk?.encodings).not.toContain('RLE_DICTIONARY');
      expect(Number(idChunk?.total_uncompressed_size)).toBeGreaterThan(2 * PAGE_BYTES);
      expect(pooled.file.equals(inline.file)).toBe(true);
    });
  });

  describe('when no worker is idle', () => {
    it('encodes the row group on the calling thread, into the same bytes', async () => {
      // Arrange: one ready worker. Appends run synchronously until a group must be waited for, so
      // the worker's reply to one group cannot arrive before the next group is flushed.
      const one = new EncodePool({ size: 1 });
      pools.push(one);
      await one.warm();
      const encode = vi.spyOn(one, 'encode');

      // Act
      const inline = await writeFile(null);
      const mixed = await writeFile(one);

      // Assert: some groups went to the worker, the others were encoded here, and nothing changed.
      const taken = encode.mock.results.filter((result) => result.value !== undefined).length;
      expect(taken).toBeGreaterThan(0);
      expect(encode.mock.calls.length - taken).toBeGreaterThan(0);
      expect(mixed.file.equals(inline.file)).toBe(true);
      expect(mixed.stats).toEqual(inline.stats);
    });

    it('encodes on the calling thread while the first worker starts', () => {
      // Arrange
      const cold = new EncodePool({ size: 1 });
      pools.push(cold);
      const leaves = [] as Parameters<EncodePool['encode']>[0];

      // Act / Assert: nothing ready yet, so the caller keeps the group.
      expect(cold.encode(leaves, 'SNAPPY')).toBeUndefined();
      expect(cold.encode(leaves, 'SNAPPY')).toBeUndefined();
    });
  });

  describe('in flight', () => {
    it(`waits only once more than ${MAX_GROUPS_IN_FLIGHT} row groups are in flight, and close() waits for all`, async () => {
      // Arrange: a pool whose row groups finish when the test says so.
      const finish: (() => void)[] = [];
      const slow = {
        available: true,
        encode: (leaves: Parameters<typeof encodeRowGroup>[0]) => {
          const encoded = encodeRowGroup(leaves, 'SNAPPY');
          return new Promise<EncodedRowGroup>((resolve) => finish.push(() => resolve(encoded)));
        },
      } as unknown as EncodePool;
      const { sink, bytes } = memorySink();
      const writer = new ParquetRecordWriter(sink, everyKind as Schema<Fields>, {
        rowGroupBytes: 16 * 1024,
        compression: 'SNAPPY',
        encodePool: slow,
      });
      let next = 0;
      const untilBlocked = () => {
        for (; next < records.length; next++) {
          const pending = writer.append(records[next] as Record<string, unknown>);
          if (pending) {
            next++;
            return pending;
          }
        }
        return undefined;
      };

      // Act
      const blocked = untilBlocked();
      const sentBeforeBlocking = finish.length;
      let released = false;
      const waiting = blocked?.then(() => {
        released = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const releasedBeforeFinish = released;
      finish[0]?.();
      await waiting;

      // Assert
      expect(sentBeforeBlocking).toBe(MAX_GROUPS_IN_FLIGHT + 1);
      expect(releasedBeforeFinish).toBe(false);
      expect(released).toBe(true);

      // Act: close while groups are still out.
      let closed = false;
      const closing = writer.close().then((stats) => {
        closed = true;
        return stats;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const closedEarly = closed;
      for (const done of finish.slice(1)) done();
      const stats = await closing;

      // Assert
      expect(closedEarly).toBe(false);
      expect(stats.rows).toBe(next);
      const inline = await writeFile(null, records.slice(0, next), 16 * 1024);
      expect(bytes().equals(inline.file)).toBe(true);
    });
  });

  describe('fallback', () => {
    it('encodes inline, with the same bytes and one warning, when the worker script is missing', async () => {
      // Arrange
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const missing = await pool(fixture('no-such-worker.js'));

      // Act
      const inline = await writeFile(null);
      const pooled = await writeFile(missing);

      // Assert
      expect(missing.available).toBe(false);
      expect(pooled.file.equals(inline.file)).toBe(true);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/encoded on the calling thread.*no-such-worker/);
    });

    it('encodes inline, with the same bytes, when the worker fails while loading', async () => {
      // Arrange
      const broken = await pool(fixture('parquet-worker-throws-on-load.mjs'));
      vi.spyOn(process, 'emitWarning').mockImplementation(() => {});

      // Act
      const inline = await writeFile(null);
      const pooled = await writeFile(broken);

      // Assert
      expect(broken.available).toBe(false);
      expect(pooled.file.equals(inline.file)).toBe(true);
    });
  });

  describe('errors', () => {
    it('reports a codec ConfigError from the worker as the inline encoding does', async () => {
      // Arrange: a value of TRIBUTARY_PARQUET_SNAPPY that the codec refuses (the worker shares the env).
      vi.stubEnv('TRIBUTARY_PARQUET_SNAPPY', 'lz4');

      // Act
      const inline = await failureOf(null);
      const pooled = await failureOf(await pool());

      // Assert
      expect(inline).toBeInstanceOf(ConfigError);
      expect(pooled).toBeInstanceOf(ConfigError);
      expect(pooled).toMatchObject({
        code: 'CONFIG_INVALID',
        message: (inline as Error).message,
        context: { variable: 'TRIBUTARY_PARQUET_SNAPPY' },
      });
    });

    it('wraps a plain error of the encoder in PARQUET_WRITE_FAILED', async () => {
      // Act
      const err = await failureOf(await pool(fixture('parquet-worker-fails.mjs')));

      // Assert
      expect(err).toBeInstanceOf(ParquetError);
      expect(err).toMatchObject({
        code: 'PARQUET_WRITE_FAILED',
        message: 'writing a Parquet row group failed: offset out of range',
      });
      expect((err as Error).cause).toMatchObject({ name: 'RangeError', message: 'offset out of range' });
    });

    it('fails the write with PARQUET_WRITE_FAILED when a worker dies on a row group', async () => {
      // Act
      const err = await failureOf(await pool(fixture('parquet-worker-exits.mjs')));

      // Assert
      expect(err).toBeInstanceOf(ParquetError);
      expect(err).toMatchObject({ code: 'PARQUET_WRITE_FAILED' });
      expect((err as Error).message).toMatch(/encoding worker failed.*code 3/);
    });
  });
});

describe('the process-wide encoding pool', () => {
  it(`reads ${WORKERS_VARIABLE}: a count, 0 for inline, unset one per core but one from 3 cores (none on 2), a ConfigError otherwise`, () => {
    // Act / Assert
    vi.stubEnv(WORKERS_VARIABLE, '3');
    expect(workerCount()).toBe(3);
    vi.stubEnv(WORKERS_VARIABLE, '0');
    expect(workerCount()).toBe(0);
    vi.stubEnv(WORKERS_VARIABLE, '');
    const cores = availableParallelism();
    expect(workerCount()).toBe(cores >= MIN_CORES_FOR_DEFAULT_POOL ? cores - 1 : 0);
    vi.stubEnv(WORKERS_VARIABLE, 'two');
    expect(() => workerCount()).toThrow(ConfigError);
  });

  it('writes the same dataset files with workers as with TRIBUTARY_PARQUET_WORKERS=0', async () => {
    // Arrange: two hours of rows, each file one row group above the pool's threshold.
    const schema = defineSchema({ id: field.string(), sensor: field.string(), at: field.timestamp() });
    const start = Date.UTC(2026, 10, 21);
    const rows = Array.from({ length: 16_000 }, (_, i) => ({
      id: `${i.toString(16).padStart(8, '0')}-reading-${'r'.repeat(i % 17)}`,
      sensor: `sensor-${i % 100}`,
      at: new Date(start + Math.floor(i / 8_000) * 3_600_000 + (i % 8_000)),
    }));
    const write = async (workers: string) => {
      vi.stubEnv(WORKERS_VARIABLE, workers);
      const storage = new MemoryStorage();
      const result = await writeDataset(rows, {
        storage,
        table: 'readings',
        schema,
        partitionBy: byHour('at'),
        format: 'parquet',
        writeId: 'same-write',
      });
      const files = new Map<string, Buffer>();
      for (const file of result.files) files.set(file.key, Buffer.from(await storage.getBytes(file.key)));
      return files;
    };
    const encode = vi.spyOn(EncodePool.prototype, 'encode');

    // Act
    const inline = await write('0');
    const sentInline = encode.mock.calls.length;
    // The process-wide pool, with its worker ready: the first hour's group goes to it.
    vi.stubEnv(WORKERS_VARIABLE, '1');
    await poolFor(MIN_POOL_BYTES)?.warm();
    const pooled = await write('1');

    // Assert
    expect(sentInline).toBe(0);
    expect(encode.mock.calls.length).toBe(2);
    expect(encode.mock.results[0]?.value).toBeDefined();
    expect([...pooled.keys()]).toEqual([...inline.keys()]);
    for (const [key, bytes] of inline) expect(pooled.get(key)?.equals(bytes), key).toBe(true);
    expect(MIN_POOL_BYTES).toBeLessThan(8_000 * 40);
  });

  it('never keeps the process alive once idle, and keeps it alive while encoding', async () => {
    // Arrange: a process that writes through a pool and never closes it.
    const root = fileURLToPath(new URL('../../../../', import.meta.url));

    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(fixture('parquet-pool-exit.mts'))],
      { cwd: root, timeout: 60_000 },
    );

    // Assert: it printed its result (a worker unref'd while busy would let it exit before) and exited.
    const result = JSON.parse(stdout);
    expect(result.available).toBe(true);
    expect(result.sent).toBeGreaterThan(1);
    expect(result.bytes).toBeGreaterThan(0);
  }, 90_000);
});
