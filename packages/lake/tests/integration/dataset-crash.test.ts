import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { crawl } from '../../src/catalog/crawl.js';
import { readDataset, readManifest, writeDataset } from '../../src/dataset.js';
import { LocalStorage } from '../../src/local-storage.js';
import { byHour } from '../../src/partitions.js';
import { crashRows, crashSchema } from './fixtures/crash-rows.js';

const root = mkdtempSync(join(tmpdir(), 'tributary-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function keys(storage: LocalStorage, prefix: string): Promise<string[]> {
  return (await collect(storage.list(prefix))).map((o) => o.key);
}

/** Run the writer in a child process and SIGKILL it once it has written `killAfter` rows. */
function writeAndKill(writeId: string, killAfter: number): Promise<number> {
  const script = join(import.meta.dirname, 'fixtures', 'crash-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, root, writeId, '100000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let seen = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const match = /^progress (\d+)$/.exec(line);
        if (match) seen = Number(match[1]);
      }
      if (seen >= killAfter && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(seen);
      else reject(new Error(`writer exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

describe('writeDataset', () => {
  describe('crash', () => {
    it('leaves nothing visible when the writer process is killed mid-write, and a re-run commits cleanly', async () => {
      const storage = new LocalStorage({ root });
      const options = {
        storage,
        table: 'sensors',
        schema: crashSchema,
        partitionBy: byHour('timestamp'),
        format: 'parquet' as const,
      };
      await writeDataset(crashRows(100, 'old'), options);
      const committedBefore = await keys(storage, 'sensors/dt=');

      const written = await writeAndKill('crashed-write', 3000);

      // Files were written (staged), but the table still shows only the first commit.
      expect(written).toBeGreaterThanOrEqual(3000);
      expect((await keys(storage, '_tributary/sensors/_staging/crashed-write/')).length).toBeGreaterThan(0);
      expect((await readManifest(storage, 'sensors'))?.version).toBe(1);
      expect(await keys(storage, 'sensors/dt=')).toEqual(committedBefore);
      expect(await collect(readDataset({ storage, table: 'sensors', schema: crashSchema }))).toHaveLength(
        100,
      );

      const rerun = await writeDataset(crashRows(5000, 'n'), {
        ...options,
        maxRowsPerFile: 400,
        writeId: 'crashed-write',
      });
      const rows = await collect(readDataset({ storage, table: 'sensors', schema: crashSchema }));

      expect(rerun.version).toBe(2);
      expect(rows).toHaveLength(5100);
      expect(new Set(rows.map((r) => r.id)).size).toBe(5100);
      expect(await keys(storage, '_tributary/sensors/_staging/')).toEqual([]);
      // every file in the partitions is one the manifest names: no orphans from the crash
      const manifest = await readManifest(storage, 'sensors');
      expect(await keys(storage, 'sensors/dt=')).toEqual(manifest?.files.map((f) => f.key).sort());
    }, 60_000);
  });

  describe('crash inside a commit', () => {
    /** What a folder-listing reader sees: every Parquet file under the table's partitions, as DuckDB globs them. */
    async function folderRead(tableRoot: string): Promise<{ rows: number; ids: number }> {
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      try {
        const reader = await connection.runAndReadAll(
          `SELECT count(*)::INTEGER AS rows, count(DISTINCT id)::INTEGER AS ids FROM read_parquet('${join(tableRoot, 'dt=*', 'hour=*', '*.parquet')}', hive_partitioning = true)`,
        );
        const [row] = reader.getRowObjects() as { rows: number; ids: number }[];
        return row as { rows: number; ids: number };
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    }

    it('is rolled forward by the next read, after which crawl works and folder readers see no duplicates', async () => {
      const crashRoot = mkdtempSync(join(tmpdir(), 'tributary-commit-crash-'));
      try {
        const storage = new LocalStorage({ root: crashRoot });
        const options = {
          storage,
          table: 'sensors',
          schema: crashSchema,
          partitionBy: byHour('timestamp'),
          format: 'parquet' as const,
          maxRowsPerFile: 1_000,
        };
        await writeDataset(crashRows(8_000, 'n'), options);
        const script = join(import.meta.dirname, 'fixtures', 'commit-crasher.ts');

        const child = spawnSync(process.execPath, ['--import', 'tsx', script, crashRoot, '8000'], {
          encoding: 'utf8',
        });
        const manifest = await readManifest(storage, 'sensors');
        const halfway = await folderRead(join(crashRoot, 'sensors'));

        const table = await crawl(storage, 'sensors');
        const after = await folderRead(join(crashRoot, 'sensors'));
        const rows = await collect(readDataset({ storage, table: 'sensors', schema: crashSchema }));

        expect(child.signal, child.stderr).toBe('SIGKILL');
        // Killed after its commit point: version 2 is the snapshot, but only partly in place.
        expect(manifest?.version).toBe(2);
        expect(halfway.rows).toBeGreaterThan(8_000);
        expect(table.partitions?.length).toBe(4);
        expect(after).toEqual({ rows: 8_000, ids: 8_000 });
        expect(rows).toHaveLength(8_000);
        expect(await keys(storage, '_tributary/sensors/_staging/')).toEqual([]);
        expect((await keys(storage, 'sensors/dt=')).sort()).toEqual(manifest?.files.map((f) => f.key).sort());
      } finally {
        rmSync(crashRoot, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
