import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, field, OptionsError } from '@tributary/core';
import {
  byField,
  byHour,
  compact,
  expireSnapshots,
  type IcebergCatalog,
  IcebergError,
  type LoadedTable,
  LocalStorage,
  MemoryStorage,
  readDataset,
  removeOrphanFiles,
  type Storage,
  StorageCatalog,
  scanIceberg,
  type TableMetadata,
  writeDataset,
  writeIceberg,
} from '@tributary/lake';
import { afterEach, describe, expect, it } from 'vitest';
import { parseJson, stringifyJson } from '../../src/iceberg/json.js';

const reading = defineSchema({
  id: field.string(),
  type: field.string(),
  value: field.double(),
  timestamp: field.timestamp(),
});
type Reading = typeof reading.$record;

function readings(count: number, prefix = 'r', hours: number[] = [10, 11]): Reading[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${String(i).padStart(3, '0')}`,
    type: ['temperature', 'power_factor'][i % 2] as string,
    value: i / 4,
    timestamp: new Date(Date.UTC(2026, 10, 23, hours[i % hours.length] as number, i % 60)),
  }));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  return (await collect(storage.list(prefix))).map((o) => o.key).sort();
}

async function readIds(storage: Storage, table: string, at: { snapshotId?: string; asOf?: number } = {}) {
  return ids(await collect(readDataset({ storage, table, schema: reading, tableFormat: 'iceberg', ...at })));
}

const iceberg = (storage: Storage, table = 'sensors') =>
  ({ storage, table, schema: reading, partitionBy: byHour('timestamp'), tableFormat: 'iceberg' }) as const;

async function summaryOf(storage: Storage, table: string, snapshotId: string | undefined) {
  const loaded = await new StorageCatalog(storage).load(table);
  return loaded?.metadata.snapshots.find((s) => String(s['snapshot-id']) === snapshotId)?.summary;
}

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function localTable(): Promise<{ storage: LocalStorage; dir: string }> {
  root = await mkdtemp(join(tmpdir(), 'tributary-iceberg-unit-'));
  return { storage: new LocalStorage({ root }), dir: root };
}

describe('Iceberg tables (writeDataset tableFormat iceberg)', () => {
  describe('modes', () => {
    it('append adds an append snapshot whose summary counts the added rows and files', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(4, 'a'), iceberg(storage));

      const result = await writeDataset(readings(6, 'b'), iceberg(storage));

      expect(await summaryOf(storage, 'sensors', result.snapshotId)).toMatchObject({
        operation: 'append',
        'added-records': '6',
        'added-data-files': '2',
        'deleted-data-files': '0',
        'deleted-records': '0',
        'total-records': '10',
        'total-data-files': '4',
      });
      expect(result.version).toBe(2);
      expect(await readIds(storage, 'sensors')).toEqual([...ids(readings(4, 'a')), ...ids(readings(6, 'b'))]);
    });

    it('overwrite replaces every file of the table in an overwrite snapshot', async () => {
      const storage = new MemoryStorage();
      const first = await writeDataset(readings(4, 'a'), iceberg(storage));

      const result = await writeDataset(readings(3, 'b', [12]), { ...iceberg(storage), mode: 'overwrite' });

      expect(await summaryOf(storage, 'sensors', result.snapshotId)).toMatchObject({
        operation: 'overwrite',
        'added-records': '3',
        'deleted-records': '4',
        'deleted-data-files': '2',
        'total-records': '3',
        'total-data-files': '1',
      });
      expect(result.removed.sort()).toEqual(first.files.map((f) => f.key).sort());
      expect(await readIds(storage, 'sensors')).toEqual(ids(readings(3, 'b')));
    });

    it('overwrite_partitions replaces only the partitions the write touches', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(4, 'a'), iceberg(storage));

      const result = await writeDataset(readings(2, 'b', [11]), {
        ...iceberg(storage),
        mode: 'overwrite_partitions',
      });

      expect(await summaryOf(storage, 'sensors', result.snapshotId)).toMatchObject({
        operation: 'overwrite',
        'replace-partitions': 'true',
        'added-records': '2',
        'deleted-records': '2',
        'deleted-data-files': '1',
        'changed-partition-count': '1',
        'total-records': '4',
      });
      expect(result.removed).toEqual([expect.stringContaining('timestamp_hour=2026-11-23-11/')]);
      expect(await readIds(storage, 'sensors')).toEqual(['a000', 'a002', 'b000', 'b001']);
    });

    it('compact rewrites a partition as a replace snapshot with the same rows', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(4, 'a'), iceberg(storage));
      await writeDataset(readings(4, 'b'), iceberg(storage));
      const before = await readIds(storage, 'sensors');

      const result = await compact({
        storage,
        table: 'sensors',
        schema: reading,
        partition: 'timestamp_hour=2026-11-23-10/',
        tableFormat: 'iceberg',
      });

      expect(await summaryOf(storage, 'sensors', result.snapshotId)).toMatchObject({
        operation: 'replace',
        'added-records': '4',
        'deleted-records': '4',
        'added-data-files': '1',
        'deleted-data-files': '2',
        'total-records': '8',
        'total-data-files': '3',
      });
      expect(await readIds(storage, 'sensors')).toEqual(before);
    });
  });

  describe('time travel', () => {
    it('reads a snapshot by id and the snapshot current at a time', async () => {
      const storage = new MemoryStorage();
      const first = await writeDataset(readings(3, 'a'), iceberg(storage));
      const second = await writeDataset(readings(2, 'b'), { ...iceberg(storage), mode: 'overwrite' });
      const metadata = (await new StorageCatalog(storage).load('sensors'))?.metadata as TableMetadata;
      const [t1, t2] = metadata.snapshots.map((s) => s['timestamp-ms']) as [number, number];

      expect(await readIds(storage, 'sensors', { snapshotId: first.snapshotId as string })).toEqual([
        'a000',
        'a001',
        'a002',
      ]);
      expect(await readIds(storage, 'sensors', { snapshotId: second.snapshotId as string })).toEqual([
        'b000',
        'b001',
      ]);
      expect(await readIds(storage, 'sensors', { asOf: t1 })).toEqual(['a000', 'a001', 'a002']);
      expect(await readIds(storage, 'sensors', { asOf: t2 - 1 })).toEqual(['a000', 'a001', 'a002']);
      expect(await readIds(storage, 'sensors', { asOf: t2 + 60_000 })).toEqual(['b000', 'b001']);
    });

    it('rejects an unknown snapshot id and a time before the first snapshot with ICEBERG_SNAPSHOT_NOT_FOUND', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(3, 'a'), iceberg(storage));
      const metadata = (await new StorageCatalog(storage).load('sensors'))?.metadata as TableMetadata;
      const t1 = metadata.snapshots[0]?.['timestamp-ms'] as number;

      await expect(readIds(storage, 'sensors', { snapshotId: '1234567890123456789' })).rejects.toMatchObject({
        code: 'ICEBERG_SNAPSHOT_NOT_FOUND',
      });
      await expect(readIds(storage, 'sensors', { asOf: t1 - 1 })).rejects.toMatchObject({
        code: 'ICEBERG_SNAPSHOT_NOT_FOUND',
      });
    });
  });

  describe('partition spec', () => {
    it('refuses a write partitioned otherwise than the table with ICEBERG_SPEC_MISMATCH, and commits nothing', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(3, 'a'), iceberg(storage));
      const dataBefore = await keys(storage, 'sensors/data/');

      const write = writeDataset(readings(3, 'b'), { ...iceberg(storage), partitionBy: [byField('type')] });

      await expect(write).rejects.toBeInstanceOf(IcebergError);
      await expect(write).rejects.toMatchObject({ code: 'ICEBERG_SPEC_MISMATCH' });
      expect(await keys(storage, 'sensors/data/')).toEqual(dataBefore);
      expect((await new StorageCatalog(storage).load('sensors'))?.version).toBe('1');
    });

    it('refuses an unpartitioned write to a partitioned table with ICEBERG_SPEC_MISMATCH', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(3, 'a'), iceberg(storage));

      await expect(
        writeDataset(readings(3, 'b'), { ...iceberg(storage), partitionBy: [] }),
      ).rejects.toMatchObject({ code: 'ICEBERG_SPEC_MISMATCH' });
    });
  });

  describe('invalid records', () => {
    const mixed = () => [
      ...readings(2, 'ok'),
      { id: 'bad-1', type: 'temperature', value: 'hot', timestamp: new Date(Date.UTC(2026, 10, 23, 10)) },
      { id: 'bad-2', type: 'temperature', value: 1 },
    ];

    it('returns them as a hive write does, and commits the valid ones', async () => {
      const hive = new MemoryStorage();
      const storage = new MemoryStorage();
      const expected = await writeDataset(mixed(), { ...iceberg(hive), tableFormat: 'hive' });

      const result = await writeDataset(mixed(), iceberg(storage));

      expect(result.invalidCount).toBe(2);
      expect(result.invalid).toEqual(expected.invalid);
      expect(result.rows).toBe(2);
      expect(await readIds(storage, 'sensors')).toEqual(['ok000', 'ok001']);
    });

    it('writes them to the error table as a hive write does', async () => {
      const hive = new MemoryStorage();
      const storage = new MemoryStorage();
      const options = { invalid: 'error-table', writeId: 'w-1' } as const;
      await writeDataset(mixed(), { ...iceberg(hive), tableFormat: 'hive', ...options });

      const result = await writeDataset(mixed(), { ...iceberg(storage), ...options });

      const hiveErrors = await keys(hive, 'errors/');
      expect(result.invalid).toEqual([]);
      expect(result.invalidCount).toBe(2);
      expect(hiveErrors.length).toBe(1);
      expect(await keys(storage, 'errors/')).toEqual(hiveErrors);
      expect(Buffer.from(await storage.getBytes(hiveErrors[0] as string)).toString()).toBe(
        Buffer.from(await hive.getBytes(hiveErrors[0] as string)).toString(),
      );
    });
  });

  describe('a failed write', () => {
    it('leaves the table as it was and deletes the data files it wrote when its input throws mid-way', async () => {
      const storage = new MemoryStorage();
      const first = await writeDataset(readings(4, 'a'), iceberg(storage));
      const before = await keys(storage, 'sensors/');
      async function* failing() {
        yield* readings(30, 'b');
        throw new Error('source went away');
      }

      const write = writeDataset(failing(), { ...iceberg(storage), maxRowsPerFile: 5 });

      await expect(write).rejects.toThrow(/source went away/);
      const loaded = await new StorageCatalog(storage).load('sensors');
      expect(loaded?.version).toBe('1');
      expect(String(loaded?.metadata['current-snapshot-id'])).toBe(first.snapshotId);
      expect(await keys(storage, 'sensors/')).toEqual(before);
      expect(await readIds(storage, 'sensors')).toEqual(ids(readings(4, 'a')));
    });
  });

  describe('commits', () => {
    /** A StorageCatalog whose first `hold` commits wait for each other, so they commit from the same base. */
    class RacingCatalog implements IcebergCatalog {
      readonly kind = 'racing';
      readonly inner: StorageCatalog;
      commits: string[] = [];
      #waiting: (() => void)[] = [];
      #hold: number;
      #before: (() => Promise<void>) | undefined;

      constructor(
        readonly storage: Storage,
        options: { hold?: number; beforeFirstCommit?: () => Promise<void> } = {},
      ) {
        this.inner = new StorageCatalog(storage);
        this.#hold = options.hold ?? 0;
        this.#before = options.beforeFirstCommit;
      }

      load(table: string) {
        return this.inner.load(table);
      }

      async commit(table: string, base: LoadedTable | undefined, next: TableMetadata) {
        if (this.#hold > 0) {
          this.#hold--;
          await new Promise<void>((resolve) => {
            this.#waiting.push(resolve);
            if (this.#hold === 0) for (const go of this.#waiting) go();
          });
        }
        const before = this.#before;
        this.#before = undefined;
        if (before) await before();
        try {
          const loaded = await this.inner.commit(table, base, next);
          this.commits.push(`v${loaded.version}`);
          return loaded;
        } catch (err) {
          this.commits.push((err as IcebergError).code);
          throw err;
        }
      }
    }

    it.each([
      ['MemoryStorage', async () => new MemoryStorage()],
      ['LocalStorage', async () => (await localTable()).storage],
    ] as const)(
      'of two appends from the same base, one wins and the other re-applies its change on the winner (%s)',
      async (_name, make) => {
        const storage = await make();
        await writeDataset(readings(2, 'a'), iceberg(storage));
        const catalog = new RacingCatalog(storage, { hold: 2 });

        const [x, y] = await Promise.all([
          writeDataset(readings(3, 'x'), { ...iceberg(storage), catalog }),
          writeDataset(readings(4, 'y'), { ...iceberg(storage), catalog }),
        ]);

        // Both reach the storage from version 1: exactly one creates v2, the other loses and retries as v3.
        expect([...catalog.commits].sort()).toEqual(['ICEBERG_COMMIT_CONFLICT', 'v2', 'v3']);
        expect([x.version, y.version].sort()).toEqual([2, 3]);
        expect(await readIds(storage, 'sensors')).toEqual(
          [...ids(readings(2, 'a')), ...ids(readings(3, 'x')), ...ids(readings(4, 'y'))].sort(),
        );
        const metadata = (await catalog.load('sensors'))?.metadata as TableMetadata;
        const [, second, third] = metadata.snapshots;
        expect(third?.['parent-snapshot-id']).toBe(second?.['snapshot-id']);
        expect(third?.summary['total-records']).toBe('9');
        // The losing attempt's manifests and manifest list are gone: every metadata file is in use.
        const orphans = await removeOrphanFiles({
          storage,
          table: 'sensors',
          olderThan: new Date(Date.now() + 60_000),
          dryRun: true,
        });
        expect(orphans).toEqual([]);
      },
    );

    it('fails a compaction whose input another commit removed with ICEBERG_COMMIT_CONFLICT, and deletes its files', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(4, 'a'), iceberg(storage));
      await writeDataset(readings(4, 'b'), iceberg(storage));
      const catalog = new RacingCatalog(storage, {
        // Another writer replaces the partition while the compaction writes.
        beforeFirstCommit: async () => {
          await writeDataset(readings(1, 'c', [10]), { ...iceberg(storage), mode: 'overwrite_partitions' });
        },
      });
      const before = await keys(storage, 'sensors/data/');

      const result = compact({
        storage,
        table: 'sensors',
        schema: reading,
        partition: 'timestamp_hour=2026-11-23-10/',
        tableFormat: 'iceberg',
        catalog,
      });

      await expect(result).rejects.toMatchObject({ code: 'ICEBERG_COMMIT_CONFLICT', retryable: true });
      expect(await readIds(storage, 'sensors')).toEqual(['a001', 'a003', 'b001', 'b003', 'c000']);
      const after = await keys(storage, 'sensors/data/');
      const added = after.filter((k) => !before.includes(k));
      // Only the other writer's file is new: the compaction's output was deleted.
      expect(added).toEqual([expect.stringContaining('timestamp_hour=2026-11-23-10/')]);
      expect(added.length).toBe(1);
    });

    it('StorageCatalog refuses a commit on a stale base with a retryable ICEBERG_COMMIT_CONFLICT', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(2, 'a'), iceberg(storage));
      const catalog = new StorageCatalog(storage);
      const base = (await catalog.load('sensors')) as LoadedTable;
      await writeDataset(readings(2, 'b'), iceberg(storage));

      const commit = catalog.commit('sensors', base, base.metadata);

      await expect(commit).rejects.toMatchObject({ code: 'ICEBERG_COMMIT_CONFLICT', retryable: true });
      expect((await catalog.load('sensors'))?.version).toBe('2');
    });
  });

  describe('metadata JSON', () => {
    it('keeps 63-bit snapshot ids exact as JSON numbers both ways', () => {
      const text =
        '{"snapshot-id":9223372036854775807,"parent-snapshot-id":9007199254740993,"n":12,"s":"12345678901234567890"}';

      const parsed = parseJson(text, 'test') as Record<string, unknown>;

      expect(parsed['snapshot-id']).toBe(9_223_372_036_854_775_807n);
      expect(parsed['parent-snapshot-id']).toBe(9_007_199_254_740_993n);
      expect(parsed.n).toBe(12);
      expect(parsed.s).toBe('12345678901234567890');
      expect(stringifyJson(parsed)).toBe(text);
    });

    it('writes the snapshot id of a commit unquoted and exactly, and loads it back as the same bigint', async () => {
      const storage = new MemoryStorage();
      const result = await writeDataset(readings(2, 'a'), iceberg(storage));

      const text = Buffer.from(await storage.getBytes('sensors/metadata/v1.metadata.json')).toString();
      const loaded = await new StorageCatalog(storage).load('sensors');

      expect(text).toContain(`"current-snapshot-id":${result.snapshotId},`);
      expect(text).toContain(`"snapshot-id":${result.snapshotId},`);
      expect(loaded?.metadata['current-snapshot-id']).toBe(BigInt(result.snapshotId as string));
    });

    it('rejects metadata that is not JSON with ICEBERG_METADATA_INVALID', async () => {
      const storage = new MemoryStorage();
      await storage.put('broken/metadata/v1.metadata.json', '{"format-version": 2, ');
      await storage.put('broken/metadata/version-hint.text', '1');

      await expect(scanIceberg({ storage, table: 'broken' })).rejects.toMatchObject({
        code: 'ICEBERG_METADATA_INVALID',
      });
    });
  });
});

describe('a storage without putIfAbsent (read-only access, a custom store)', () => {
  /** The storage's other methods, without the exclusive create. */
  function withoutPutIfAbsent(inner: MemoryStorage): Storage {
    return {
      url: inner.url,
      put: (k, b, o) => inner.put(k, b, o),
      get: (k, o) => inner.get(k, o),
      getBytes: (k, o) => inner.getBytes(k, o),
      head: (k) => inner.head(k),
      list: (p, o) => inner.list(p, o),
      listPrefixes: (p) => inner.listPrefixes(p),
      delete: (k) => inner.delete(k),
    };
  }

  it('reads an Iceberg table, and refuses a commit with ICEBERG_OPTIONS_INVALID, leaving no data file', async () => {
    const inner = new MemoryStorage();
    await writeDataset(readings(4), iceberg(inner));
    const plain = withoutPutIfAbsent(inner);

    const read = ids(await collect(readDataset({ storage: plain, table: 'sensors', schema: reading })));
    const failure = await writeDataset(readings(2, 'x'), iceberg(plain)).catch((e: unknown) => e);

    expect(read).toEqual(ids(readings(4)));
    expect(failure).toBeInstanceOf(IcebergError);
    expect(failure).toBeInstanceOf(OptionsError);
    expect(failure).toMatchObject({ code: 'ICEBERG_OPTIONS_INVALID', context: { option: 'storage' } });
    expect(await readIds(inner, 'sensors')).toEqual(ids(readings(4)));
    expect((await keys(inner, 'sensors/data/')).length).toBe(
      (await scanIceberg({ storage: inner, table: 'sensors' })).files.length,
    );
  });
});

describe('Iceberg maintenance', () => {
  async function filesOf(dir: string, sub: string): Promise<string[]> {
    const entries = await readdir(join(dir, sub), { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1))
      .sort();
  }

  describe('expireSnapshots', () => {
    it('keeps the last retainLast snapshots, deletes the files only expired ones reached, and keeps shared files', async () => {
      const storage = new MemoryStorage();
      const a = await writeDataset(readings(2, 'a', [10]), iceberg(storage));
      const b = await writeDataset(readings(2, 'b', [11]), iceberg(storage));
      const c = await writeDataset(readings(2, 'c', [11]), {
        ...iceberg(storage),
        mode: 'overwrite_partitions',
      });

      const result = await expireSnapshots({
        storage,
        table: 'sensors',
        olderThan: new Date(Date.now() + 60_000),
        retainLast: 2,
      });

      expect(result.expired).toEqual([a.snapshotId]);
      // a's data file is still live (c replaced only hour 11): never deleted. b's file is reached by b.
      expect(result.deletedFiles.filter((k) => k.includes('/data/'))).toEqual([]);
      expect(await keys(storage, 'sensors/data/')).toEqual(
        [...a.files, ...b.files, ...c.files].map((f) => f.key).sort(),
      );
      expect(await readIds(storage, 'sensors', { snapshotId: b.snapshotId as string })).toEqual([
        'a000',
        'a001',
        'b000',
        'b001',
      ]);
      await expect(readIds(storage, 'sensors', { snapshotId: a.snapshotId as string })).rejects.toMatchObject(
        {
          code: 'ICEBERG_SNAPSHOT_NOT_FOUND',
        },
      );
    });

    it('deletes a data file once no kept snapshot reaches it', async () => {
      const storage = new MemoryStorage();
      const a = await writeDataset(readings(2, 'a', [10]), iceberg(storage));
      await writeDataset(readings(2, 'b', [11]), { ...iceberg(storage), mode: 'overwrite' });

      const result = await expireSnapshots({
        storage,
        table: 'sensors',
        olderThan: new Date(Date.now() + 60_000),
        retainLast: 1,
      });

      expect(result.expired).toEqual([a.snapshotId]);
      expect(result.deletedFiles).toEqual(expect.arrayContaining(a.files.map((f) => f.key)));
      for (const f of a.files) expect(await storage.head(f.key)).toBeUndefined();
      expect(await readIds(storage, 'sensors')).toEqual(['b000', 'b001']);
    });

    it('keeps snapshots younger than olderThan whatever retainLast says', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(2, 'a'), iceberg(storage));
      await writeDataset(readings(2, 'b'), iceberg(storage));

      const result = await expireSnapshots({
        storage,
        table: 'sensors',
        olderThan: new Date(Date.now() - 60_000),
        retainLast: 1,
      });

      expect(result).toEqual({ expired: [], deletedFiles: [] });
      expect((await new StorageCatalog(storage).load('sensors'))?.metadata.snapshots.length).toBe(2);
    });

    it('refuses retainLast below 1 with ICEBERG_OPTIONS_INVALID', async () => {
      const storage = new MemoryStorage();
      await writeDataset(readings(2, 'a'), iceberg(storage));

      await expect(expireSnapshots({ storage, table: 'sensors', retainLast: 0 })).rejects.toMatchObject({
        code: 'ICEBERG_OPTIONS_INVALID',
      });
    });
  });

  describe('removeOrphanFiles', () => {
    it('removes an orphan older than olderThan, keeps a younger one, and never removes a file in use however old', async () => {
      const { storage, dir } = await localTable();
      const a = await writeDataset(readings(2, 'a'), iceberg(storage));
      await writeDataset(readings(2, 'b'), iceberg(storage));
      const inUse = await filesOf(dir, 'sensors');
      const dataFile = a.files[0]?.key as string;
      const old = [
        'sensors/data/timestamp_hour=2026-11-23-10/00009-killed.parquet',
        'sensors/metadata/killed-m0.avro',
        'sensors/metadata/v3.metadata.json.tmp',
      ];
      const young = 'sensors/data/timestamp_hour=2026-11-23-11/00009-running.parquet';
      for (const key of [...old, young]) await writeFile(join(dir, key), 'leftover');
      const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
      for (const key of [...old, ...inUse]) await utimes(join(dir, key), threeDaysAgo, threeDaysAgo);

      const removed = await removeOrphanFiles({
        storage,
        table: 'sensors',
        olderThan: new Date(Date.now() - 86_400_000),
      });

      expect(removed.sort()).toEqual([...old].sort());
      expect(await filesOf(dir, 'sensors')).toEqual([...inUse, young].sort());
      expect(inUse).toContain(dataFile);
      expect(await readIds(storage, 'sensors')).toEqual([...ids(readings(2, 'a')), ...ids(readings(2, 'b'))]);
    });

    it('lists without removing in a dry run', async () => {
      const { storage, dir } = await localTable();
      await writeDataset(readings(2, 'a'), iceberg(storage));
      const key = 'sensors/data/timestamp_hour=2026-11-23-10/00009-killed.parquet';
      await writeFile(join(dir, key), 'leftover');
      const old = new Date(Date.now() - 3 * 86_400_000);
      await utimes(join(dir, key), old, old);

      const listed = await removeOrphanFiles({ storage, table: 'sensors', dryRun: true });

      expect(listed).toEqual([key]);
      expect(await storage.head(key)).toBeDefined();
    });
  });
});

describe('Iceberg options errors', () => {
  async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
    return run().then(
      () => undefined,
      (err: unknown) => err,
    );
  }

  it('refuses an unknown write mode as an OptionsError naming mode, still an IcebergError', async () => {
    const storage = new MemoryStorage();

    const failure = await failureOf(() =>
      writeIceberg(readings(2), { storage, table: 'sensors', schema: reading, mode: 'upsert' as 'append' }),
    );

    expect(failure).toBeInstanceOf(OptionsError);
    expect(failure).toBeInstanceOf(IcebergError);
    expect(failure).toMatchObject({
      code: 'ICEBERG_OPTIONS_INVALID',
      option: 'mode',
      context: { option: 'mode' },
    });
    expect(await keys(storage, '')).toEqual([]);
  });

  it('refuses file limits below 1 as OptionsErrors naming the limit', async () => {
    const storage = new MemoryStorage();
    const limits = [{ maxRowsPerFile: 0 }, { targetFileBytes: 0 }, { maxOpenFiles: 1.5 }];

    const failures = await Promise.all(
      limits.map((limit) =>
        failureOf(() => writeIceberg(readings(2), { storage, table: 'sensors', schema: reading, ...limit })),
      ),
    );

    expect(failures.map((f) => (f instanceof OptionsError ? f.option : f))).toEqual([
      'maxRowsPerFile',
      'targetFileBytes',
      'maxOpenFiles',
    ]);
    expect(failures.every((f) => f instanceof IcebergError)).toBe(true);
  });

  it('checks the Parquet writer options of a write as parquetFormat does, naming the option, and writes nothing', async () => {
    const storage = new MemoryStorage();

    const failure = await failureOf(() =>
      writeIceberg(readings(2), {
        storage,
        table: 'sensors',
        schema: reading,
        formatOptions: { rowGroupBytes: 0 },
      }),
    );

    expect(failure).toBeInstanceOf(OptionsError);
    expect(failure).toMatchObject({ code: 'PARQUET_OPTIONS_INVALID', option: 'rowGroupBytes' });
    expect(await keys(storage, '')).toEqual([]);
  });

  it('refuses a catalog on another storage as an OptionsError naming catalog', async () => {
    const storage = new MemoryStorage();
    await writeDataset(readings(2), iceberg(storage));
    const elsewhere = new StorageCatalog((await localTable()).storage);

    const failure = await failureOf(() => scanIceberg({ storage, table: 'sensors', catalog: elsewhere }));

    expect(failure).toBeInstanceOf(OptionsError);
    expect(failure).toMatchObject({ code: 'ICEBERG_OPTIONS_INVALID', option: 'catalog' });
  });

  it('refuses retainLast that is not a whole number >= 1 as an OptionsError naming retainLast', async () => {
    const storage = new MemoryStorage();
    await writeDataset(readings(2, 'a'), iceberg(storage));

    const failures = await Promise.all(
      [0, 1.5].map((retainLast) =>
        failureOf(() => expireSnapshots({ storage, table: 'sensors', retainLast })),
      ),
    );

    for (const failure of failures) {
      expect(failure).toBeInstanceOf(OptionsError);
      expect(failure).toBeInstanceOf(IcebergError);
      expect(failure).toMatchObject({ code: 'ICEBERG_OPTIONS_INVALID', option: 'retainLast' });
    }
  });

  it('counts as an IcebergError only an options error of an Iceberg call, and keeps other IcebergErrors apart from OptionsError', () => {
    const other = new OptionsError('x', { code: 'DATASET_OPTIONS_INVALID', option: 'mode' });
    const conflict = new IcebergError('y', { code: 'ICEBERG_COMMIT_CONFLICT' });

    expect(other).not.toBeInstanceOf(IcebergError);
    expect(conflict).toBeInstanceOf(IcebergError);
    expect(conflict).not.toBeInstanceOf(OptionsError);
  });
});
