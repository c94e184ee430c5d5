import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, field, TributaryError } from '@tributary/core';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { compact, listDatasetFiles, readDataset, recoverDataset, writeDataset } from '../../src/dataset.js';
import { PartitionError } from '../../src/errors.js';
import { formatFor } from '../../src/formats/registry.js';
import type { RecordWriter } from '../../src/formats/types.js';
import { LocalStorage } from '../../src/local-storage.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import {
  byField,
  byHour,
  checkPartitionName,
  HIVE_DEFAULT_PARTITION,
  parsePartitions,
  partitionPath,
} from '../../src/partitions.js';
import type { Storage } from '../../src/storage.js';

const reading = defineSchema({
  id: field.string(),
  type: field.string().nullable(),
  value: field.double(),
  timestamp: field.timestamp(),
});

function readings(count: number, prefix = 'r') {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    type: ['temperature', 'power_factor'][i % 2] as string,
    value: i,
    timestamp: new Date(Date.UTC(2026, 10, 23, 10 + (i % 2), i % 60)),
  }));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function keys(storage: Storage, prefix = ''): Promise<string[]> {
  return (await collect(storage.list(prefix))).map((o) => o.key);
}

/** Settles within `ms` or fails: the faults below used to hang forever. */
function settlesWithin<T>(promise: Promise<T>, ms = 2_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms),
    ),
  ]);
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function localStorage(): LocalStorage {
  const root = mkdtempSync(join(tmpdir(), 'tributary-faults-'));
  roots.push(root);
  return new LocalStorage({ root });
}

const storages = [
  ['memory', () => new MemoryStorage()],
  ['local', localStorage],
] as const;
const formats = ['ndjson', 'csv', 'parquet'] as const;

describe('writeDataset', () => {
  describe.each(storages)('failing input or writer (%s storage)', (_name, makeStorage) => {
    it.each(formats)(
      'rejects promptly with the cause when the input (async or sync) throws after a record (%s), leaving nothing staged',
      async (format) => {
        const storage = makeStorage();
        await writeDataset(readings(2, 'old'), { storage, table: 't', schema: reading, format });
        async function* input() {
          yield* readings(3);
          throw new Error('the source broke');
        }
        // A synchronous source is read synchronously: it must fail the same way.
        function* syncInput() {
          yield* readings(3);
          throw new Error('the source broke');
        }

        for (const source of [input(), syncInput()]) {
          const failure = await settlesWithin(
            writeDataset(source, {
              storage,
              table: 't',
              schema: reading,
              partitionBy: byHour('timestamp'),
              format,
            }),
          ).catch((err: unknown) => err);

          expect(failure).toBeInstanceOf(TributaryError);
          expect((failure as TributaryError).message).toContain('the source broke');
          expect(((failure as TributaryError).cause as Error).message).toBe('the source broke');
          expect(await keys(storage, '_tributary/t/_staging/')).toEqual([]);
          expect(
            (await collect(readDataset({ storage, table: 't', schema: reading }))).map((r) => r.id).sort(),
          ).toEqual(['old0', 'old1']);
        }
      },
    );

    it.each(formats)(
      'rejects promptly with the cause when the format writer throws (%s), leaving nothing staged',
      async (format) => {
        const storage = makeStorage();
        const real = formatFor(format);
        const createWriter = real.createWriter.bind(real);
        vi.spyOn(real, 'createWriter').mockImplementation((sink, schema, options) => {
          const writer = createWriter(sink, schema, options) as RecordWriter<Record<string, unknown>>;
          let calls = 0;
          return {
            get rows() {
              return writer.rows;
            },
            get estimatedBytes() {
              return writer.estimatedBytes;
            },
            write: async (record: Record<string, unknown>) => {
              if (++calls === 2) throw new Error('the encoder broke');
              return writer.write(record);
            },
            close: () => writer.close(),
          };
        });

        const failure = await settlesWithin(
          writeDataset(readings(6), { storage, table: 't', schema: reading, format }),
        ).catch((err: unknown) => err);

        expect((failure as TributaryError).message).toContain('the encoder broke');
        expect(await keys(storage, 't/')).toEqual([]);
      },
    );
  });

  it('rejects promptly when compact cannot read an input, leaving the table as it was and nothing staged', async () => {
    const storage = new MemoryStorage();
    const options = { storage, table: 't', schema: reading, format: 'ndjson' as const };
    await writeDataset(readings(3, 'a'), options);
    await writeDataset(readings(3, 'b'), options);
    const before = await listDatasetFiles(storage, 't');
    // The second input breaks after compact has already staged an output file from the first.
    await storage.put(
      (before[1] as { key: string }).key,
      '{"id": "b0", "type": null, "value": 1, "timestamp": 0}\n{not json\n',
    );

    const failure = await settlesWithin(compact({ ...options, partition: '', maxRowsPerFile: 2 })).catch(
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(TributaryError);
    expect(await listDatasetFiles(storage, 't')).toEqual(before);
    expect(await keys(storage, '_tributary/t/_staging/')).toEqual([]);
  });

  describe('partition values', () => {
    it('refuses the records whose partition value would not read back unchanged, and writes the rest', async () => {
      const storage = new MemoryStorage();
      const rows = [
        { id: 'ok', type: 'a/b=c', value: 1, timestamp: new Date(0) },
        { id: 'null', type: null, value: 2, timestamp: new Date(0) },
        { id: 'literal', type: HIVE_DEFAULT_PARTITION, value: 3, timestamp: new Date(0) },
        { id: 'empty', type: '', value: 4, timestamp: new Date(0) },
        { id: 'long', type: 'x'.repeat(300), value: 5, timestamp: new Date(0) },
      ];

      const result = await writeDataset(rows, {
        storage,
        table: 'by_type',
        schema: reading,
        partitionBy: [byField('type')],
        format: 'ndjson',
      });
      const back = await collect(readDataset({ storage, table: 'by_type', schema: reading }));

      expect(result.rows).toBe(2);
      expect(result.invalid.map((i) => [(i.record as { id: string }).id, i.issues[0]?.code])).toEqual([
        ['literal', 'partition'],
        ['empty', 'partition'],
        ['long', 'partition'],
      ]);
      expect(back.map((r) => [r.id, r.type]).sort()).toEqual([
        ['null', null],
        ['ok', 'a/b=c'],
      ]);
    });

    it.each(['', 'a/b', 'k=x', '1st', 'dt ', 'd%t'])(
      'refuses the partition column name %j before writing anything',
      async (name) => {
        const storage = new MemoryStorage();
        const spec = { name, value: () => 'x' };

        const failure = await writeDataset(readings(1), {
          storage,
          table: 't',
          schema: reading,
          partitionBy: [spec],
        }).catch((err: unknown) => err);

        expect(failure).toBeInstanceOf(PartitionError);
        expect((failure as PartitionError).code).toBe('PARTITION_INVALID');
        expect(await keys(storage)).toEqual([]);
      },
    );

    it('round-trips every value it accepts, exactly', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
          let path: string;
          try {
            path = partitionPath([['k', value]]);
          } catch (err) {
            expect(err).toBeInstanceOf(PartitionError);
            return;
          }
          expect(parsePartitions(`t/${path}f.parquet`)).toEqual({ k: value });
        }),
        { numRuns: 2_000 },
      );
      expect(() => checkPartitionName('dt')).not.toThrow();
    });
  });
});

describe('manifests', () => {
  async function table(storage: MemoryStorage) {
    await writeDataset(readings(4), { storage, table: 't', schema: reading, format: 'ndjson' });
    const [key] = await keys(storage, '_tributary/t/_manifests/v0000000001.json');
    return key as string;
  }

  it.each([
    ['not JSON', '{"format": "tributary-manifest", '],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['the wrong shape', JSON.stringify({ format: 'tributary-manifest', version: 1, files: 'all' })],
    ['a key outside the table', null],
    ['an unknown extension', null],
  ])('reads a manifest that is %s as a typed error', async (problem, body) => {
    const storage = new MemoryStorage();
    const key = await table(storage);
    const manifest = JSON.parse(Buffer.from(await storage.getBytes(key)).toString('utf8'));
    if (problem === 'a key outside the table') manifest.removed = ['other/table/file.parquet'];
    if (problem === 'an unknown extension')
      manifest.files[0].key = manifest.files[0].key.replace('.ndjson', '.orc');
    await storage.put(key, body ?? JSON.stringify(manifest));

    const failure = await collect(readDataset({ storage, table: 't', schema: reading })).catch(
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(TributaryError);
    expect((failure as TributaryError).code).toBe('DATASET_MANIFEST_INVALID');
  });
});

describe('recoverDataset', () => {
  it('rolls an interrupted commit forward on the next read, so folder listings match the snapshot', async () => {
    const storage = new MemoryStorage();
    const options = {
      storage,
      table: 't',
      schema: reading,
      partitionBy: byHour('timestamp'),
      format: 'ndjson' as const,
    };
    await writeDataset(readings(4, 'old'), options);
    const dataFiles = async () => (await keys(storage, 't/dt=')).filter((k) => k.endsWith('.ndjson'));
    const before = await dataFiles();
    const copy = vi.spyOn(storage, 'copy').mockRejectedValueOnce(new Error('killed during promotion'));
    await writeDataset(readings(4, 'new'), { ...options, mode: 'overwrite' }).catch(() => {});
    copy.mockRestore();
    const halfway = await dataFiles();

    const listed = await listDatasetFiles(storage, 't');

    // Before: the old files and at most one of the two new ones (files are promoted in parallel,
    // and the first copy failed) sat in the folders; after: exactly the new snapshot.
    expect(before).toHaveLength(2);
    expect(halfway).toEqual(expect.arrayContaining(before));
    expect(halfway.length).toBeLessThanOrEqual(3);
    expect(await dataFiles()).toEqual(listed.map((f) => f.key).sort());
    expect(listed.map((f) => f.key)).not.toEqual(expect.arrayContaining(before));
    expect(
      (await collect(readDataset({ storage, table: 't', schema: reading }))).map((r) => r.id).sort(),
    ).toEqual(['new0', 'new1', 'new2', 'new3']);
    expect(await keys(storage, '_tributary/t/_staging/')).toEqual([]);
  });

  it('is run by the next write, whose result says what it did', async () => {
    const storage = new MemoryStorage();
    const options = { storage, table: 't', schema: reading, format: 'ndjson' as const };
    await writeDataset(readings(2, 'old'), options);
    const copy = vi.spyOn(storage, 'copy').mockRejectedValueOnce(new Error('killed during promotion'));
    await writeDataset(readings(2, 'new'), options).catch(() => {});
    copy.mockRestore();

    const next = await writeDataset(readings(1, 'next'), options);

    expect(next.recovery).toEqual({ rolledForward: true, removedStaging: [], removedTemporary: [] });
    expect(next.version).toBe(3);
    expect(await collect(readDataset({ storage, table: 't', schema: reading }))).toHaveLength(5);
  });

  it('removes staging folders and temporary files older than the grace period, and says what it removed', async () => {
    const storage = localStorage();
    const options = { storage, table: 't', schema: reading, format: 'ndjson' as const };
    await writeDataset(readings(2), options);
    const abandoned = join(storage.root, '_tributary', 't', '_staging', 'crashed-write');
    const recent = join(storage.root, '_tributary', 't', '_staging', 'running-write');
    const temp = join(storage.root, '.tributary-tmp');
    await mkdir(abandoned, { recursive: true });
    await mkdir(recent, { recursive: true });
    await mkdir(temp, { recursive: true });
    const old = new Date(Date.now() - 3 * 60 * 60 * 1000);
    for (const [path, time] of [
      [join(abandoned, 'part-00000.ndjson'), old],
      [join(recent, 'part-00000.ndjson'), new Date()],
      [join(temp, 'dead.tmp'), old],
      [join(temp, 'live.tmp'), new Date()],
    ] as const) {
      writeFileSync(path, 'x');
      utimesSync(path, time, time);
    }

    const result = await recoverDataset(storage, 't', { graceMs: 60 * 60 * 1000 });

    expect(result.rolledForward).toBe(false);
    expect(result.manifest?.version).toBe(1);
    expect(result.removedStaging).toEqual(['_tributary/t/_staging/crashed-write/part-00000.ndjson']);
    expect(result.removedTemporary).toEqual(['.tributary-tmp/dead.tmp']);
    expect(await keys(storage, '_tributary/t/_staging/')).toEqual([
      '_tributary/t/_staging/running-write/part-00000.ndjson',
    ]);
  });

  it('refuses a negative grace period', async () => {
    await expect(recoverDataset(new MemoryStorage(), 't', { graceMs: -1 })).rejects.toMatchObject({
      name: 'OptionsError',
      code: 'DATASET_OPTIONS_INVALID',
      option: 'graceMs',
    });
  });
});
