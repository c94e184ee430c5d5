import { defineSchema, field, TributaryError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { compact, listDatasetFiles, readDataset, readManifest, writeDataset } from '../../src/dataset.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import { byField, byHour } from '../../src/partitions.js';
import type { Body, PutOptions, Storage } from '../../src/storage.js';

const reading = defineSchema(
  {
    id: field.string(),
    type: field.string(),
    value: field.double(),
    timestamp: field.timestamp(),
  },
  { primaryKey: ['id'] },
);

function readings(count: number, startHour = 10, prefix = 'r') {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    type: ['temperature', 'power_factor', 'hydraulic_pressure'][i % 3] as string,
    value: i / 2,
    timestamp: new Date(Date.UTC(2026, 10, 23, startHour + (i % 2), i % 60)),
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

/** A storage whose puts fail for keys matching a pattern, to stop a write at a chosen point. */
class FailingStorage extends MemoryStorage {
  failOn: RegExp | undefined;
  override async put(key: string, body: Body, options?: PutOptions) {
    if (this.failOn?.test(key)) {
      throw new TributaryError(`injected failure for ${key}`, { code: 'INJECTED' });
    }
    return super.put(key, body, options);
  }
  override async putIfAbsent(key: string, body: Uint8Array | string) {
    if (this.failOn?.test(key)) {
      throw new TributaryError(`injected failure for ${key}`, { code: 'INJECTED' });
    }
    return super.putIfAbsent(key, body);
  }
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

describe.each(['ndjson', 'csv', 'parquet'] as const)('writeDataset (%s)', (format) => {
  const base = { table: 'sensors', schema: reading, partitionBy: byHour('timestamp'), format };

  describe('modes', () => {
    it('appends, overwrites partitions and overwrites, committing a new manifest each time', async () => {
      const storage = new MemoryStorage();

      const first = await writeDataset(readings(6), { ...base, storage });
      await writeDataset(readings(4, 10, 'a'), { ...base, storage, mode: 'append' });
      const afterAppend = await collect(readDataset({ storage, table: 'sensors', schema: reading }));
      await writeDataset(readings(2, 11, 'p').slice(0, 1), {
        ...base,
        storage,
        mode: 'overwrite_partitions',
      });
      const afterPartitions = await collect(readDataset({ storage, table: 'sensors', schema: reading }));
      await writeDataset(readings(1, 12, 'o'), { ...base, storage, mode: 'overwrite' });
      const afterOverwrite = await collect(readDataset({ storage, table: 'sensors', schema: reading }));

      expect(first.partitions).toEqual(['dt=2026-11-23/hour=10/', 'dt=2026-11-23/hour=11/']);
      expect(first.rows).toBe(6);
      expect(afterAppend).toHaveLength(10);
      expect(afterAppend.sort(byId)[0]).toEqual({
        id: 'a0',
        type: 'temperature',
        value: 0,
        timestamp: new Date(Date.UTC(2026, 10, 23, 10, 0)),
      });
      // hour=11 held r1, r3, r5, a1, a3; it is replaced by p0 alone; hour=10 is kept
      expect(afterPartitions.map((r) => r.id).sort()).toEqual(['a0', 'a2', 'p0', 'r0', 'r2', 'r4']);
      expect(afterOverwrite.map((r) => r.id)).toEqual(['o0']);
      expect((await readManifest(storage, 'sensors'))?.version).toBe(4);
      // replaced files are gone from storage, and nothing is left in staging
      // The table's prefix holds its data files and nothing else: folder readers see only data.
      expect(await keys(storage, 'sensors/')).toEqual(
        (await readManifest(storage, 'sensors'))?.files.map((f) => f.key),
      );
    });
  });

  describe('records already in validated form', () => {
    it('writes what each record held when it was given, though its source reuses one object', async () => {
      const storage = new MemoryStorage();
      // A generator that refills the same object: the writer must keep no reference to it.
      function* reused() {
        const row = { id: '', type: 'temperature', value: 0, timestamp: new Date(0) };
        for (let i = 0; i < 5; i++) {
          row.id = `r${i}`;
          row.value = i;
          row.timestamp = new Date(Date.UTC(2026, 10, 23, 10, i));
          yield row;
        }
      }

      await writeDataset(reused(), { ...base, storage });
      const read = await collect(readDataset({ storage, table: 'sensors', schema: reading }));

      expect(read.sort(byId).map((r) => [r.id, r.value, r.timestamp.getUTCMinutes()])).toEqual([
        ['r0', 0, 0],
        ['r1', 1, 1],
        ['r2', 2, 2],
        ['r3', 3, 3],
        ['r4', 4, 4],
      ]);
    });

    it('gives the event loop turns while it reads a fast source (uploads go on meanwhile)', async () => {
      const storage = new MemoryStorage();
      let read = 0;
      let readWhenTimerFired: number | undefined;
      function* fast() {
        for (const row of readings(20_000)) {
          read++;
          yield row;
        }
      }
      setImmediate(() => {
        readWhenTimerFired = read;
      });

      await writeDataset(fast(), { ...base, storage });

      expect(readWhenTimerFired).toBeGreaterThan(0);
      expect(readWhenTimerFired).toBeLessThan(20_000);
    });

    it('still coerces records that are not, next to records that are', async () => {
      const storage = new MemoryStorage();
      const input = [
        { id: 'a', type: 'temperature', value: 1, timestamp: new Date(Date.UTC(2026, 10, 23, 10)) },
        { id: 'b', type: 'temperature', value: 2, timestamp: '2026-11-23T10:30:00+01:00' },
        { id: 'c', type: 'temperature', value: 3, timestamp: Date.UTC(2026, 10, 23, 10, 45) },
      ];

      const result = await writeDataset(input, { ...base, storage });
      const read = await collect(readDataset({ storage, table: 'sensors', schema: reading }));

      expect(result.partitions).toEqual(['dt=2026-11-23/hour=09/', 'dt=2026-11-23/hour=10/']);
      expect(read.sort(byId).map((r) => r.timestamp.toISOString())).toEqual([
        '2026-11-23T10:00:00.000Z',
        '2026-11-23T09:30:00.000Z',
        '2026-11-23T10:45:00.000Z',
      ]);
    });
  });

  describe('files', () => {
    it('rolls files by rows, with deterministic names for the same writeId', async () => {
      const a = new MemoryStorage();
      const b = new MemoryStorage();

      const ra = await writeDataset(readings(10), { ...base, storage: a, maxRowsPerFile: 2, writeId: 'w1' });
      const rb = await writeDataset(readings(10), { ...base, storage: b, maxRowsPerFile: 2, writeId: 'w1' });

      expect(ra.files.map((f) => f.rows)).toEqual([2, 2, 1, 2, 2, 1]);
      expect(ra.files.map((f) => f.key)).toEqual(rb.files.map((f) => f.key));
      expect(ra.files[0]?.key).toMatch(
        new RegExp(
          `^sensors/dt=2026-11-23/hour=10/part-00000-[0-9a-f-]{36}\\.${format === 'ndjson' ? 'ndjson' : format}$`,
        ),
      );
    });
  });
});

describe('writeDataset', () => {
  const base = {
    table: 'sensors',
    schema: reading,
    partitionBy: byHour('timestamp'),
    format: 'ndjson' as const,
  };

  describe('invalid records', () => {
    it('returns them with their issues and writes the valid ones', async () => {
      const storage = new MemoryStorage();

      const result = await writeDataset([...readings(2), { id: 'bad', value: 'x' }], { ...base, storage });

      expect(result.rows).toBe(2);
      expect(result.invalidCount).toBe(1);
      expect(result.invalid[0]?.record).toEqual({ id: 'bad', value: 'x' });
      expect(result.invalid[0]?.issues.map((i) => i.path)).toEqual(['type', 'value', 'timestamp']);
    });

    it('routes them to the error table when asked, never dropping them', async () => {
      const storage = new MemoryStorage();

      const result = await writeDataset([{ id: 'bad' }, ...readings(1)], {
        ...base,
        storage,
        invalid: 'error-table',
        writeId: 'w9',
      });

      expect(result.invalid).toEqual([]);
      expect(result.invalidCount).toBe(1);
      const lines = Buffer.from(await storage.getBytes('errors/sensors/part-w9.ndjson'))
        .toString()
        .trim()
        .split('\n');
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        {
          writeId: 'w9',
          record: { id: 'bad' },
          issues: expect.arrayContaining([expect.objectContaining({ path: 'type', code: 'required' })]),
        },
      ]);
    });
  });

  describe('atomic commit', () => {
    it('leaves the table as it was when the write fails before its commit, and a re-run commits cleanly', async () => {
      const storage = new FailingStorage();
      await writeDataset(readings(3), { ...base, storage });
      storage.failOn = /_manifests\/v0000000002/;

      const failure = await writeDataset(readings(5, 10, 'n'), { ...base, storage, writeId: 'again' }).catch(
        (e) => e,
      );
      const visible = await collect(readDataset({ storage, table: 'sensors', schema: reading }));
      storage.failOn = undefined;
      const rerun = await writeDataset(readings(5, 10, 'n'), { ...base, storage, writeId: 'again' });
      const after = await collect(readDataset({ storage, table: 'sensors', schema: reading }));

      expect(failure).toMatchObject({ code: 'INJECTED' });
      expect(visible.map((r) => r.id).sort()).toEqual(['r0', 'r1', 'r2']);
      expect(rerun.version).toBe(2);
      expect(after).toHaveLength(8);
      expect(await keys(storage, '_tributary/sensors/_staging/')).toEqual([]);
    });

    it('reads a commit whose promotion was interrupted, and the next write finishes it', async () => {
      const storage = new FailingStorage();
      storage.failOn = /^sensors\/dt=/;

      const failure = await writeDataset(readings(4), { ...base, storage }).catch((e) => e);
      const visible = await collect(readDataset({ storage, table: 'sensors', schema: reading }));
      storage.failOn = undefined;
      await writeDataset(readings(1, 12, 'z'), { ...base, storage });

      expect(failure).toMatchObject({ code: 'INJECTED' });
      expect(visible).toHaveLength(4);
      expect(await collect(readDataset({ storage, table: 'sensors', schema: reading }))).toHaveLength(5);
      expect(await keys(storage, '_tributary/sensors/_staging/')).toEqual([]);
    });

    it('promotes each staged file with one copy where the storage copies (no HEAD of either key)', async () => {
      class CountingStorage extends MemoryStorage {
        heads: string[] = [];
        copies = 0;
        override async head(key: string) {
          this.heads.push(key);
          return super.head(key);
        }
        override async copy(from: string, to: string) {
          this.copies++;
          return super.copy(from, to);
        }
      }
      const storage = new CountingStorage();

      const result = await writeDataset(readings(6), { ...base, storage });

      expect(result.files).toHaveLength(2);
      expect(storage.copies).toBe(2);
      const fileKeys = new Set(result.files.map((f) => f.key));
      expect(storage.heads.filter((key) => fileKeys.has(key) || key.includes('/_staging/'))).toEqual([]);
      expect(await collect(readDataset({ storage, table: 'sensors', schema: reading }))).toHaveLength(6);
    });

    it('refuses to commit over a version another writer committed', async () => {
      const storage = new MemoryStorage();
      const slow = (async function* () {
        yield* readings(1);
        await writeDataset(readings(1, 10, 'x'), { ...base, storage });
      })();

      await expect(writeDataset(slow, { ...base, storage })).rejects.toMatchObject({
        code: 'DATASET_CONFLICT',
        retryable: true,
      });
    });
  });

  describe('field partitions', () => {
    it('keeps the partition field out of the files and puts it back on read', async () => {
      const storage = new MemoryStorage();
      const partitionBy = [byField('type')];

      const result = await writeDataset(readings(3), {
        storage,
        table: 'by_type',
        schema: reading,
        partitionBy,
        format: 'ndjson',
      });
      const raw = Buffer.from(await storage.getBytes(result.files[0]?.key as string)).toString();
      const back = await collect(readDataset({ storage, table: 'by_type', schema: reading, partitionBy }));

      expect(result.partitions).toEqual([
        'type=hydraulic_pressure/',
        'type=power_factor/',
        'type=temperature/',
      ]);
      expect(JSON.parse(raw.split('\n')[0] as string)).not.toHaveProperty('type');
      expect(back.sort(byId)).toEqual(readings(3).sort(byId));
    });

    it('escapes partition values so they cannot change the folder structure', async () => {
      const storage = new MemoryStorage();
      const row = { ...readings(1)[0], type: '../a/b=c' } as Record<string, unknown>;
      const partitionBy = [byField('type')];

      const result = await writeDataset([row], {
        storage,
        table: 't',
        schema: reading,
        partitionBy,
        format: 'ndjson',
      });
      const back = await collect(
        readDataset({ storage, table: 't', schema: reading, partitionBy, partitions: { type: '../a/b=c' } }),
      );

      expect(result.partitions).toEqual(['type=..%2Fa%2Fb%3Dc/']);
      expect(back.map((r) => r.type)).toEqual(['../a/b=c']);
    });
  });

  describe('readDataset', () => {
    it('filters partitions and reads tables written by other tools by listing', async () => {
      const storage = new MemoryStorage();
      await storage.put(
        'raw_table/2026/11/23/10/s-1.ndjson',
        '{"id":"a","type":"t","value":1,"timestamp":"2026-11-23T10:00:00Z"}\n',
      );
      await storage.put('raw_table/_tmp/ignored.ndjson', 'not json\n');
      await writeDataset(readings(4), { ...base, storage });

      const hour10 = await collect(
        readDataset({ storage, table: 'sensors', schema: reading, partitions: { hour: '10' } }),
      );
      const listed = await listDatasetFiles(storage, 'raw_table');
      const raw = await collect(readDataset({ storage, table: 'raw_table', schema: reading }));

      expect(hour10.map((r) => r.id).sort()).toEqual(['r0', 'r2']);
      expect(listed.map((f) => f.key)).toEqual(['raw_table/2026/11/23/10/s-1.ndjson']);
      expect(raw.map((r) => r.id)).toEqual(['a']);
    });
  });

  describe('compact', () => {
    it('merges a partition into one file and keeps every row', async () => {
      const storage = new MemoryStorage();
      for (let i = 0; i < 4; i++) await writeDataset(readings(3, 10, `b${i}-`), { ...base, storage });
      const partition = 'dt=2026-11-23/hour=10/';
      const before =
        (await readManifest(storage, 'sensors'))?.files.filter((f) => f.partition === partition) ?? [];

      const result = await compact({ storage, table: 'sensors', schema: reading, partition });
      const after = (await readManifest(storage, 'sensors'))?.files ?? [];
      const rows = await collect(readDataset({ storage, table: 'sensors', schema: reading }));

      expect(before).toHaveLength(4);
      expect(result.files).toHaveLength(1);
      expect(result.rows).toBe(8);
      expect(after.filter((f) => f.partition === partition)).toEqual(result.files);
      expect(rows).toHaveLength(12);
      expect((await keys(storage, `sensors/${partition}`)).length).toBe(1);
    });
  });
});

describe('field-partitioned tables', () => {
  it('restore their partition fields on read and survive compaction without being told the partitions', async () => {
    const storage = new MemoryStorage();
    const partitionBy = [byField('type')];
    for (let i = 0; i < 3; i++) {
      await writeDataset(readings(3, 10, `c${i}-`), {
        storage,
        table: 'typed',
        schema: reading,
        partitionBy,
        format: 'parquet',
      });
    }

    const result = await compact({
      storage,
      table: 'typed',
      schema: reading,
      partition: 'type=temperature/',
    });
    const back = await collect(readDataset({ storage, table: 'typed', schema: reading }));

    expect(result.rows).toBe(3);
    expect(back).toHaveLength(9);
    expect(
      back
        .filter((r) => r.type === 'temperature')
        .map((r) => r.id)
        .sort(),
    ).toEqual(['c0-0', 'c1-0', 'c2-0']);
    expect((await readManifest(storage, 'typed'))?.fieldPartitions).toEqual([
      { name: 'type', field: 'type' },
    ]);
  });
});

describe('tables of the earlier layout (manifests inside the table)', () => {
  it('are read from there, and their next commit moves the metadata beside the table', async () => {
    const storage = new MemoryStorage();
    const base = {
      storage,
      table: 'old',
      schema: reading,
      partitionBy: byHour('timestamp'),
      format: 'parquet',
    } as const;
    await writeDataset(readings(3, 10, 'a'), base);
    // What an earlier version left: the same manifest, under old/_manifests/.
    for await (const o of storage.list('_tributary/old/_manifests/')) {
      await storage.put(o.key.replace('_tributary/old/', 'old/'), await storage.getBytes(o.key));
      await storage.delete([o.key]);
    }
    const before = await collect(readDataset({ storage, table: 'old', schema: reading }));

    const second = await writeDataset(readings(2, 10, 'b'), base);
    const after = await collect(readDataset({ storage, table: 'old', schema: reading }));

    expect(before.map((r) => r.id).sort()).toEqual(['a0', 'a1', 'a2']);
    expect(second.version).toBe(2);
    expect(after.map((r) => r.id).sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
    expect(await keys(storage, 'old/_manifests/')).toEqual([]);
    expect((await keys(storage, 'old/')).every((k) => k.endsWith('.parquet'))).toBe(true);
    expect(await keys(storage, '_tributary/old/_manifests/')).toEqual([
      '_tributary/old/_manifests/v0000000002.json',
      '_tributary/old/_manifests/v0000000002.promoted',
    ]);
  });
});

describe('readDataset of a table written by another tool', () => {
  it('puts hive keys that name schema fields back into the records, as Spark writes them', async () => {
    const storage = new MemoryStorage();
    await writeDataset(readings(3, 10), {
      storage,
      table: 'spark',
      schema: reading,
      partitionBy: [byField('type')],
      format: 'parquet',
    });
    // What Spark leaves: the data files under type=…/ and no manifest.
    const manifests: string[] = [];
    for await (const o of storage.list('_tributary/spark/')) manifests.push(o.key);
    await storage.delete(manifests);
    expect(await readManifest(storage, 'spark')).toBeUndefined();

    const back = await collect(readDataset({ storage, table: 'spark', schema: reading }));

    expect(back).toHaveLength(3);
    expect(back.map((r) => r.type).sort()).toEqual(
      readings(3, 10)
        .map((r) => r.type)
        .sort(),
    );
  });
});

describe('commit on a storage without copy', () => {
  it('promotes staged files by reading and writing them', async () => {
    const inner = new MemoryStorage();
    const storage: Storage = {
      url: inner.url,
      put: (...args) => inner.put(...args),
      get: (...args) => inner.get(...args),
      getBytes: (...args) => inner.getBytes(...args),
      head: (...args) => inner.head(...args),
      list: (...args) => inner.list(...args),
      listPrefixes: (prefix) => inner.listPrefixes(prefix),
      delete: (...args) => inner.delete(...args),
    };

    await writeDataset(readings(4), {
      storage,
      table: 'plain',
      schema: reading,
      partitionBy: byHour('timestamp'),
      format: 'parquet',
    });

    expect(await collect(readDataset({ storage, table: 'plain', schema: reading }))).toHaveLength(4);
    expect(await keys(inner, '_tributary/plain/_staging/')).toEqual([]);
  });
});
