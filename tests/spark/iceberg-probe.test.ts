// The Spark-with-Iceberg harness proves itself: Spark 3.5.6 with iceberg-spark-runtime 1.10.0 (what
// AWS Glue 5.1 runs) writes a partitioned format-version-2 table, reads it back at each snapshot,
// and pyiceberg, an implementation we did not write either, reads the same rows from the same
// metadata. The lake's Iceberg tests use the same harness and the same table (writeSparkTable).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SparkIceberg,
  SparkIcebergCommandError,
  type SparkWrittenTable,
  sparkIcebergProblem,
  sparkTableRows,
  writeSparkTable,
} from './iceberg-probe.js';
import { python, root } from './spark-env.js';

const SPARK_TIMEOUT = 300_000;

// pyiceberg's StaticTable reads the table from one metadata file: each snapshot's rows (sorted by
// id), the schema and the partition spec, with values written as the probe writes them.
const PYICEBERG_READ = `
import datetime as dt, decimal, json, sys
from pyiceberg.table import StaticTable

table = StaticTable.from_metadata(sys.argv[1])
schema = table.schema()

def value(v):
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, list):
        return [value(x) for x in v]
    return v

snapshots = {}
for snapshot_id in json.loads(sys.argv[2]):
    rows = table.scan(snapshot_id=int(snapshot_id)).to_arrow().to_pylist()
    snapshots[snapshot_id] = [{k: value(v) for k, v in r.items()} for r in sorted(rows, key=lambda r: r["id"])]
print(json.dumps({
    "formatVersion": table.metadata.format_version,
    "currentSnapshotId": str(table.metadata.current_snapshot_id),
    "fields": [[f.field_id, f.name, str(f.field_type), f.required] for f in schema.fields],
    "spec": [[f.field_id, f.name, str(f.transform), schema.find_column_name(f.source_id)] for f in table.spec().fields],
    "snapshots": snapshots,
}))
`;

interface PyicebergRead {
  formatVersion: number;
  currentSnapshotId: string;
  fields: [number, string, string, boolean][];
  spec: [number, string, string, string][];
  snapshots: Record<string, Record<string, unknown>[]>;
}

function readWithPyiceberg(metadataLocation: string, snapshotIds: string[]): Promise<PyicebergRead> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', PYICEBERG_READ, metadataLocation, JSON.stringify(snapshotIds)], {
      cwd: root,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as PyicebergRead)
        : reject(new Error(`pyiceberg exited with ${code}:\n${stderr}`)),
    );
  });
}

describe('Spark with Iceberg (spark/tests/iceberg_probe.py)', () => {
  const work = mkdtempSync(join(tmpdir(), 'tributary-spark-iceberg-'));
  let spark: SparkIceberg;

  beforeAll(async () => {
    const problem = sparkIcebergProblem();
    expect(problem, problem).toBeUndefined();
    spark = await SparkIceberg.start();
  }, SPARK_TIMEOUT);

  afterAll(async () => {
    await spark?.close();
    rmSync(work, { recursive: true, force: true });
  }, SPARK_TIMEOUT);

  it('runs the Spark and Iceberg that AWS Glue 5.1 runs', () => {
    expect([spark.sparkVersion, spark.icebergVersion]).toEqual(['3.5.6', '1.10.0']);
  });

  describe('a partitioned table Spark writes (writeSparkTable)', () => {
    // A space in the path: Hadoop must not turn it into %20 in the table's location.
    const path = join(work, 'spark writes', 'readings');
    let written: SparkWrittenTable;

    beforeAll(async () => {
      written = await writeSparkTable(spark, path);
    }, SPARK_TIMEOUT);

    it('is a format-version-2 Hadoop table: metadata/vN.metadata.json and version-hint.text', () => {
      const metadata = join(path, 'metadata');
      const versions = readdirSync(metadata).filter((name) => /^v\d+\.metadata\.json$/.test(name));

      expect(written.table.formatVersion).toBe(2);
      expect(written.table.metadataLocation).toBe(join(metadata, `v${versions.length}.metadata.json`));
      expect(readFileSync(join(metadata, 'version-hint.text'), 'utf8').trim()).toBe(String(versions.length));
      expect(JSON.parse(readFileSync(written.table.metadataLocation, 'utf8'))['format-version']).toBe(2);
    });

    it('has the schema and the hour partition spec it was created with, hidden partitioning', () => {
      expect(written.table.schema.fields).toEqual([
        { id: 1, name: 'id', required: true, type: 'long' },
        { id: 2, name: 'timestamp', required: true, type: 'timestamptz' },
        { id: 3, name: 'amount', required: false, type: 'decimal(38, 18)' },
        {
          id: 4,
          name: 'tags',
          required: false,
          type: { type: 'list', 'element-id': 6, element: 'string', 'element-required': false },
        },
        { id: 5, name: 'note', required: false, type: 'string' },
      ]);
      expect(written.table.partitionSpec).toEqual([
        { name: 'timestamp_hour', transform: 'hour', source: 'timestamp', fieldId: 1000 },
      ]);
      // One data folder per hour, the pre-epoch one included (hour -1).
      expect(readdirSync(join(path, 'data')).sort()).toEqual([
        'timestamp_hour=1969-12-31-23',
        'timestamp_hour=2026-11-23-10',
        'timestamp_hour=2026-11-23-11',
      ]);
    });

    it('has one append snapshot per write, each the child of the one before', () => {
      const [first, second] = written.table.snapshots;

      expect(written.table.snapshots).toHaveLength(2);
      expect(written.snapshots.map((s) => s.snapshotId)).toEqual([first?.snapshotId, second?.snapshotId]);
      expect(written.table.currentSnapshotId).toBe(second?.snapshotId);
      expect([first?.operation, second?.operation]).toEqual(['append', 'append']);
      expect([first?.parentId, second?.parentId]).toEqual([null, first?.snapshotId]);
      expect([first?.sequenceNumber, second?.sequenceNumber]).toEqual([1, 2]);
      expect([first?.summary['added-records'], second?.summary['added-records']]).toEqual(['3', '2']);
      expect(second?.summary['total-records']).toBe('5');
    });

    it(
      'reads back every row of the current snapshot with its types',
      async () => {
        const read = await spark.read(path, { orderBy: ['id'] });

        expect(read.rows).toEqual(sparkTableRows(1));
        expect(read.readSchema).toEqual([
          { name: 'id', type: 'bigint', nullable: false },
          { name: 'timestamp', type: 'timestamp', nullable: false },
          { name: 'amount', type: 'decimal(38,18)', nullable: true },
          { name: 'tags', type: 'array<string>', nullable: true },
          { name: 'note', type: 'string', nullable: true },
        ]);
      },
      SPARK_TIMEOUT,
    );

    it(
      'travels in time, by snapshot id and by timestamp',
      async () => {
        const [first, second] = written.table.snapshots;
        if (!first || !second) throw new Error('two snapshots expected');

        const byId = await spark.read(path, { snapshotId: first.snapshotId, orderBy: ['id'] });
        const atFirst = await spark.read(path, { asOfMillis: first.timestampMillis, orderBy: ['id'] });
        const atSecond = await spark.read(path, { asOfMillis: second.timestampMillis, orderBy: ['id'] });

        expect(byId.rows).toEqual(sparkTableRows(0));
        expect(atFirst.rows).toEqual(sparkTableRows(0));
        expect(atSecond.rows).toEqual(sparkTableRows(1));
      },
      SPARK_TIMEOUT,
    );

    it(
      'is read by pyiceberg with the same rows at each snapshot, schema and partition spec',
      async () => {
        const ids = written.snapshots.map((s) => s.snapshotId);

        const read = await readWithPyiceberg(written.table.metadataLocation, ids);

        expect(read.formatVersion).toBe(2);
        expect(read.currentSnapshotId).toBe(written.table.currentSnapshotId);
        expect(read.fields).toEqual([
          [1, 'id', 'long', true],
          [2, 'timestamp', 'timestamptz', true],
          [3, 'amount', 'decimal(38, 18)', false],
          [4, 'tags', 'list<string>', false],
          [5, 'note', 'string', false],
        ]);
        expect(read.spec).toEqual([[1000, 'timestamp_hour', 'hour', 'timestamp']]);
        for (const snapshot of written.snapshots) {
          expect(read.snapshots[snapshot.snapshotId], snapshot.snapshotId).toEqual(snapshot.rows);
        }
      },
      SPARK_TIMEOUT,
    );
  });

  describe('commands', () => {
    it(
      'overwrites the partitions it has rows for, and the whole table',
      async () => {
        const path = join(work, 'overwrites');
        const row = (id: string, hour: string) => ({
          id,
          timestamp: `2026-11-23T${hour}:00:00.000000Z`,
          amount: null,
          tags: null,
          note: null,
        });
        await spark.write(path, {
          schema:
            'id bigint not null, timestamp timestamp not null, amount decimal(10,2), tags array<string>, note string',
          partitionBy: ['hours(timestamp)'],
          rows: [row('1', '10'), row('2', '11')],
        });

        const dynamic = await spark.write(path, { rows: [row('3', '11')], mode: 'overwritePartitions' });
        const afterDynamic = await spark.read(path, { orderBy: ['id'] });
        const whole = await spark.write(path, { rows: [row('4', '12')], mode: 'overwrite' });
        const afterWhole = await spark.read(path, { orderBy: ['id'] });

        expect(dynamic.snapshots.at(-1)?.operation).toBe('overwrite');
        expect(afterDynamic.rows.map((r) => r.id)).toEqual(['1', '3']);
        expect(whole.snapshots.at(-1)?.operation).toBe('overwrite');
        expect(afterWhole.rows.map((r) => r.id)).toEqual(['4']);
      },
      SPARK_TIMEOUT,
    );

    it(
      'runs SQL on a table, and fails a command Spark refuses without ending the session',
      async () => {
        const missing = join(work, 'no such table');

        const refused = spark.read(missing);
        await expect(refused).rejects.toBeInstanceOf(SparkIcebergCommandError);
        const count = await spark.sql(join(work, 'overwrites'), 'SELECT count(*) AS n FROM {table}');

        expect(existsSync(missing)).toBe(false);
        expect(count.rows).toEqual([{ n: '1' }]);
      },
      SPARK_TIMEOUT,
    );
  });
});
