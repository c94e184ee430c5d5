// The lake's Iceberg tables and Spark 3.5.6 with Iceberg 1.10.0 (what AWS Glue 5.1 runs), both ways.
// tributary → Spark: three tables (by hour, by field, unpartitioned) through append, append,
// partition overwrite, compaction, schema evolution and expiry; Spark reads every snapshot by id as
// the lake does, with the same schema and spec, runs SQL that prunes by partition, and lists in
// its metadata tables the snapshots and files the lake committed. Spark → tributary: the lake
// reads Spark's table at every snapshot (by id and by time), appends to it, and Spark goes on
// appending after the lake. One Spark session for the file.

import { mkdtempSync, rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, type Fields, field, normalizeDecimal, type Schema } from '@tributary/core';
import {
  byField,
  byHour,
  compact,
  expireSnapshots,
  LocalStorage,
  type PartitionSpec,
  readDataset,
  readIceberg,
  StorageCatalog,
  scanIceberg,
  schemaFromIceberg,
  writeDataset,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SparkIceberg,
  SparkIcebergCommandError,
  type SparkIcebergRow,
  type SparkIcebergTable,
  type SparkWrittenTable,
  sparkIcebergProblem,
  writeSparkTable,
} from './iceberg-probe.js';

const SPARK_TIMEOUT = 300_000;

type Row = Record<string, unknown>;

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** A timestamp as the probe prints it: ISO-8601 UTC with microseconds. */
const isoMicros = (date: Date) => date.toISOString().replace(/Z$/, '000Z');
/** Spark's microseconds floored to the milliseconds of a core timestamp (a `Date`). */
const floorToMillis = (iso: string) => iso.replace(/\.(\d{3})\d{3}Z$/, '.$1000Z');
const decimalText = (value: unknown) => {
  const text = normalizeDecimal(value as string, 38, 18);
  if (typeof text !== 'string') throw new Error(`${String(value)} is not a decimal(38,18)`);
  return text;
};

// ---------------------------------------------------------------------------------------------
// tributary → Spark

const schemaV1 = defineSchema({
  id: field.string(),
  type: field.string(),
  value: field.double(),
  level: field.int32(),
  seq: field.int64(),
  amount: field.decimal(38, 18).nullable(),
  day: field.date(),
  timestamp: field.timestamp(),
  tags: field.list(field.string()),
  note: field.string().nullable(),
});
/** The schema evolution step adds a nullable column. */
const schemaV2 = defineSchema({ ...schemaV1.fields, extra: field.string().nullable() });

/** A lake row as Spark's probe prints it: long as text, decimal at scale 18, timestamp with µs. */
function fromLake(row: Row): Row {
  const out: Row = {};
  for (const [name, v] of Object.entries(row)) {
    if (v === null || v === undefined) out[name] = null;
    else if (name === 'seq') out[name] = String(v);
    else if (name === 'amount') out[name] = decimalText(v);
    else if (name === 'timestamp') out[name] = isoMicros(v as Date);
    else out[name] = v;
  }
  return out;
}

function fromSpark(row: SparkIcebergRow): Row {
  return { ...row, amount: row.amount === null ? null : decimalText(row.amount) };
}

const byStringId = (a: Row, b: Row) =>
  String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0;
const lakeRows = (rows: Row[]) => rows.map(fromLake).sort(byStringId);
const sparkRows = (rows: SparkIcebergRow[]) => rows.map(fromSpark).sort(byStringId);

/** Rows of one step: ids `s<step>-nn`, every type, nulls, empty lists, non-ASCII strings. */
function rowsOf(
  step: number,
  count: number,
  hours: number[],
  options: { types?: string[]; extra?: boolean } = {},
) {
  const types = options.types ?? ['power_factor', 'temperature'];
  const days = ['2026-11-23', '1969-12-31', '1900-01-01', '9999-12-31'];
  const rows: Row[] = Array.from({ length: count }, (_, i) => ({
    id: `s${step}-${String(i).padStart(2, '0')}`,
    type: types[i % types.length],
    value: step * 100 + i / 8,
    level: (i % 2 ? -1 : 1) * (i * 1000 + step),
    seq:
      i === 0
        ? 2n ** 63n - 1n - BigInt(step)
        : i === 1
          ? -(2n ** 63n) + BigInt(step)
          : BigInt(i * step) * 1_000_000_007n,
    amount:
      i % 3 === 0 ? null : i % 3 === 1 ? `${step}${i}.000000000000000001` : '-123456789.123456789012345678',
    day: days[i % days.length],
    timestamp: new Date(Date.UTC(2026, 10, 23, hours[i % hours.length] as number, i % 60, step, 123)),
    tags: i % 3 === 0 ? [] : ['alpha', `ü-${i}`, '✓'],
    note: i % 4 === 0 ? null : `Straßenbahn ☕ ${step}-${i}`,
    ...(options.extra ? { extra: i % 2 ? `extra-${i}` : null } : {}),
  }));
  return rows;
}

/** One row before the epoch: hour -1, a negative partition value. */
const pastRow = (step: number): Row => ({
  id: `s${step}-past`,
  type: 'power_factor',
  value: -0.5,
  level: -(2 ** 31),
  seq: -1n,
  amount: '0.000000000000000001',
  day: '1969-12-31',
  timestamp: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999)),
  tags: ['past'],
  note: null,
});

interface Case {
  table: string;
  partitionBy: PartitionSpec[];
  partitionOf: (row: Row) => string;
  /** The partition compacted (its data folder), and its name and value as a scan reports it. */
  compactPartition: string;
  spec: SparkIcebergTable['partitionSpec'];
  /** A filter that only one partition's files can match, and the partition value of the others. */
  pruning?: {
    where: string;
    matches: (row: Row) => boolean;
    otherFiles: (partition: Record<string, string | null>) => boolean;
  };
}

const CASES: Case[] = [
  {
    table: 'hourly',
    partitionBy: byHour('timestamp'),
    partitionOf: (row) => String(Math.floor((row.timestamp as Date).getTime() / 3_600_000)),
    compactPartition: 'timestamp_hour=2026-11-23-10/',
    spec: [{ name: 'timestamp_hour', transform: 'hour', source: 'timestamp', fieldId: 1000 }],
    pruning: {
      where: "timestamp >= TIMESTAMP '2026-11-23 12:00:00'",
      matches: (row) => (row.timestamp as Date).getTime() >= Date.UTC(2026, 10, 23, 12),
      otherFiles: (p) => (p.timestamp_hour ?? '') < '2026-11-23-12',
    },
  },
  {
    table: 'by_type',
    partitionBy: [byField('type')],
    partitionOf: (row) => String(row.type),
    compactPartition: 'type=power_factor/',
    spec: [{ name: 'type', transform: 'identity', source: 'type', fieldId: 1000 }],
    pruning: {
      where: "type = 'temperature'",
      matches: (row) => row.type === 'temperature',
      otherFiles: (p) => p.type !== 'temperature',
    },
  },
  { table: 'flat', partitionBy: [], partitionOf: () => '', compactPartition: '', spec: [] },
];

interface Step {
  name: string;
  operation: string;
  snapshotId: string;
  /** The model's rows at this snapshot, and the lake's read of it (readDataset by snapshot id). */
  model: Row[];
  lake: Row[];
  /** The snapshot's data files as the lake plans them: absolute locations. */
  files: string[];
  schema: 1 | 2;
}

/** The data files of Iceberg's `.files` table, and the expected Spark (not Iceberg) column types. */
const SPARK_TYPES = (schema: 1 | 2) => [
  { name: 'id', type: 'string', nullable: false },
  { name: 'type', type: 'string', nullable: false },
  { name: 'value', type: 'double', nullable: false },
  { name: 'level', type: 'int', nullable: false },
  { name: 'seq', type: 'bigint', nullable: false },
  { name: 'amount', type: 'decimal(38,18)', nullable: true },
  { name: 'day', type: 'date', nullable: false },
  { name: 'timestamp', type: 'timestamp', nullable: false },
  { name: 'tags', type: 'array<string>', nullable: false },
  { name: 'note', type: 'string', nullable: true },
  ...(schema === 2 ? [{ name: 'extra', type: 'string', nullable: true }] : []),
];

/** Iceberg's schema of the lake's tables, as Iceberg's Java library prints it. */
const ICEBERG_FIELDS = (schema: 1 | 2) => [
  { id: 1, name: 'id', required: true, type: 'string' },
  { id: 2, name: 'type', required: true, type: 'string' },
  { id: 3, name: 'value', required: true, type: 'double' },
  { id: 4, name: 'level', required: true, type: 'int' },
  { id: 5, name: 'seq', required: true, type: 'long' },
  { id: 6, name: 'amount', required: false, type: 'decimal(38, 18)' },
  { id: 7, name: 'day', required: true, type: 'date' },
  { id: 8, name: 'timestamp', required: true, type: 'timestamptz' },
  {
    id: 9,
    name: 'tags',
    required: true,
    type: { type: 'list', 'element-id': 10, element: 'string', 'element-required': true },
  },
  { id: 11, name: 'note', required: false, type: 'string' },
  ...(schema === 2 ? [{ id: 12, name: 'extra', required: false, type: 'string' }] : []),
];

/** Exact sum of decimal(38,18) texts, as Spark's sum prints it. */
function decimalSum(values: unknown[]): string {
  const scaled = values
    .filter((v) => v !== null && v !== undefined)
    .map((v) => {
      const [whole, fraction = ''] = decimalText(v).replace('-', '').split('.');
      const units = BigInt(whole as string) * 10n ** 18n + BigInt(fraction.padEnd(18, '0'));
      return decimalText(v).startsWith('-') ? -units : units;
    })
    .reduce((a, b) => a + b, 0n);
  const sign = scaled < 0n ? '-' : '';
  const abs = scaled < 0n ? -scaled : scaled;
  return `${sign}${abs / 10n ** 18n}.${String(abs % 10n ** 18n).padStart(18, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Spark → tributary

/** The lake's schema for Spark's table (SPARK_TABLE_SCHEMA), to append to it. */
const sparkTableSchema = defineSchema({
  id: field.int64(),
  timestamp: field.timestamp(),
  amount: field.decimal(38, 18).nullable(),
  tags: field.list(field.string()).nullable(),
  note: field.string().nullable(),
});

/** A lake row of Spark's table as the probe prints it (timestamps in ms precision). */
function fromLakeSparkTable(row: Row): Row {
  return {
    id: String(row.id),
    timestamp: isoMicros(row.timestamp as Date),
    amount: row.amount === null ? null : decimalText(row.amount),
    tags: row.tags,
    note: row.note,
  };
}

/** A Spark row as a core timestamp can hold it: microseconds floored to milliseconds. */
function fromSparkTable(row: SparkIcebergRow): Row {
  return {
    ...row,
    timestamp: floorToMillis(row.timestamp as string),
    amount: row.amount === null ? null : decimalText(row.amount),
  };
}

const byLongId = (a: Row, b: Row) => {
  const x = BigInt(a.id as string);
  const y = BigInt(b.id as string);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The probe's `file:` location (Hadoop writes `file:/abs/path`, the lake `file:///abs/path`) as a path. */
const pathOf = (location: string) => decodeURI(location.replace(/^file:(\/\/)?/, ''));

describe('the lake and Spark 3.5.6 with Iceberg 1.10.0 on one Iceberg table', () => {
  const work = mkdtempSync(join(tmpdir(), 'tributary-iceberg-interop-'));
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

  describe('tributary writes, Spark reads', () => {
    const root = join(work, 'lake');
    const storage = new LocalStorage({ root });
    const steps = new Map<string, Step[]>();

    /** The five commits on one table, recording after each what the lake reads and plans. */
    async function runCommits(c: Case): Promise<Step[]> {
      const out: Step[] = [];
      let model: Row[] = [];
      const record = async (
        name: string,
        operation: string,
        snapshotId: string | undefined,
        version: 1 | 2,
      ) => {
        if (!snapshotId) throw new Error(`${c.table}: ${name} committed no snapshot`);
        const schema: Schema<Fields> = version === 2 ? schemaV2 : schemaV1;
        const lake = await collect(
          readDataset({ storage, table: c.table, schema, tableFormat: 'iceberg', snapshotId }),
        );
        const scan = await scanIceberg({ storage, table: c.table, snapshotId });
        out.push({
          name,
          operation,
          snapshotId,
          model: lakeRows(model.map((r) => (version === 2 ? { extra: null, ...r } : r))),
          lake: lakeRows(lake),
          files: scan.files.map((f) => `${storage.url}/${f.key}`).sort(),
          schema: version,
        });
      };
      const write = (
        rows: Row[],
        mode: 'append' | 'overwrite_partitions',
        schema: Schema<Fields>,
        maxRowsPerFile = 1000,
      ) =>
        writeDataset(rows, {
          storage,
          table: c.table,
          schema,
          partitionBy: c.partitionBy,
          mode,
          tableFormat: 'iceberg',
          maxRowsPerFile,
        });

      const first = [...rowsOf(1, 10, [10, 11]), pastRow(1)];
      model = [...first];
      await record('append 1', 'append', (await write(first, 'append', schemaV1)).snapshotId, 1);

      const second = rowsOf(2, 12, [10, 12]);
      model = [...model, ...second];
      await record('append 2', 'append', (await write(second, 'append', schemaV1, 3)).snapshotId, 1);

      const third = rowsOf(3, 6, [11], { types: ['temperature'] });
      const touched = new Set(third.map(c.partitionOf));
      model = [...model.filter((r) => !touched.has(c.partitionOf(r))), ...third];
      await record(
        'overwrite_partitions',
        'overwrite',
        (await write(third, 'overwrite_partitions', schemaV1, 3)).snapshotId,
        1,
      );

      const compacted = await compact({
        storage,
        table: c.table,
        schema: schemaV1,
        partition: c.compactPartition,
        tableFormat: 'iceberg',
      });
      await record('compact', 'replace', compacted.snapshotId, 1);

      const fifth = rowsOf(5, 6, [12, 13], { extra: true });
      model = [...model, ...fifth];
      await record('schema evolution', 'append', (await write(fifth, 'append', schemaV2)).snapshotId, 2);
      return out;
    }

    beforeAll(async () => {
      for (const c of CASES) steps.set(c.table, await runCommits(c));
    }, SPARK_TIMEOUT);

    const stepsOf = (c: Case) => steps.get(c.table) as Step[];

    describe.each(CASES)('$table', (c) => {
      const path = join(root, c.table);

      it('is read by the lake as the model says at every snapshot (the baseline Spark must match)', () => {
        const list = stepsOf(c);

        expect(list.map((s) => s.name)).toEqual([
          'append 1',
          'append 2',
          'overwrite_partitions',
          'compact',
          'schema evolution',
        ]);
        for (const step of list) expect(step.lake, step.name).toEqual(step.model);
        // The compaction rewrote files (so the replace snapshot has new files to read).
        expect(list[3]?.files).not.toEqual(list[2]?.files);
      });

      it(
        'is read by Spark at every snapshot by id, and at the current one, as the lake reads it',
        async () => {
          const list = stepsOf(c);

          const reads = [];
          for (const step of list) reads.push(await spark.read(path, { snapshotId: step.snapshotId }));
          const current = await spark.read(path);

          for (const [i, step] of list.entries()) {
            expect(sparkRows(reads[i]?.rows ?? []), step.name).toEqual(step.lake);
            expect(reads[i]?.readSchema, step.name).toEqual(SPARK_TYPES(step.schema));
          }
          expect(sparkRows(current.rows)).toEqual(list.at(-1)?.lake);
        },
        SPARK_TIMEOUT,
      );

      it(
        "has, to Iceberg's Java library, the lake's schema, partition spec and snapshot chain",
        async () => {
          const list = stepsOf(c);

          const table = await spark.run({ op: 'describe', path });

          expect(table.formatVersion).toBe(2);
          expect(table.schema.fields).toEqual(ICEBERG_FIELDS(2));
          expect(table.partitionSpec).toEqual(c.spec);
          expect(table.currentSnapshotId).toBe(list.at(-1)?.snapshotId);
          expect(table.snapshots.map((s) => [s.snapshotId, s.operation, s.sequenceNumber])).toEqual(
            list.map((s, i) => [s.snapshotId, s.operation, i + 1]),
          );
          expect(table.snapshots.map((s) => s.parentId)).toEqual([
            null,
            ...list.slice(0, -1).map((s) => s.snapshotId),
          ]);
        },
        SPARK_TIMEOUT,
      );

      it(
        'lists in its .snapshots and .files metadata tables what the lake committed',
        async () => {
          const list = stepsOf(c);

          const snapshots = await spark.sql(
            path,
            "SELECT snapshot_id, parent_id, operation, summary['added-records'] AS added, summary['total-records'] AS total FROM {table}.snapshots",
          );
          const files = [];
          for (const step of list) {
            files.push(
              await spark.sql(
                path,
                `SELECT file_path, record_count FROM {table}.files VERSION AS OF ${step.snapshotId}`,
              ),
            );
          }
          const current = await spark.sql(path, 'SELECT file_path FROM {table}.files');

          expect(snapshots.rows.map((r) => r.snapshot_id).sort()).toEqual(
            list.map((s) => s.snapshotId).sort(),
          );
          for (const step of list) {
            const row = snapshots.rows.find((r) => r.snapshot_id === step.snapshotId);
            expect(row?.operation, step.name).toBe(step.operation);
            expect(row?.total, step.name).toBe(String(step.model.length));
          }
          for (const [i, step] of list.entries()) {
            const rows = files[i]?.rows ?? [];
            expect(rows.map((r) => r.file_path).sort(), step.name).toEqual(step.files);
            expect(
              rows.reduce((n, r) => n + Number(r.record_count), 0),
              step.name,
            ).toBe(step.model.length);
          }
          expect(current.rows.map((r) => r.file_path).sort()).toEqual(list.at(-1)?.files);
        },
        SPARK_TIMEOUT,
      );

      it(
        'runs SQL on the table; a filter on the partition source reads only its partition',
        async () => {
          const model = stepsOf(c).at(-1)?.model ?? [];
          const lakeModel = (await collect(
            readDataset({ storage, table: c.table, schema: schemaV2, tableFormat: 'iceberg' }),
          )) as Row[];
          const matching = lakeModel.filter((r) => c.pruning?.matches(r) ?? true);
          const query = `SELECT count(*) AS n, sum(level) AS levels, sum(amount) AS amounts, count(extra) AS extras FROM {table}${c.pruning ? ` WHERE ${c.pruning.where}` : ''}`;

          const result = await spark.sql(path, query);

          expect(lakeRows(lakeModel)).toEqual(model);
          expect(matching.length).toBeGreaterThan(0);
          if (c.pruning) expect(matching.length).toBeLessThan(lakeModel.length);
          expect(result.rows).toEqual([
            {
              n: String(matching.length),
              levels: String(matching.reduce((n, r) => n + (r.level as number), 0)),
              amounts: decimalSum(matching.map((r) => r.amount)),
              extras: String(matching.filter((r) => r.extra !== null).length),
            },
          ]);
          if (!c.pruning) return;
          // Take the other partitions' files away: a query that prunes them still answers, one
          // that does not fails. Put them back whatever happens.
          const scan = await scanIceberg({ storage, table: c.table });
          const others = scan.files
            .filter((f) => c.pruning?.otherFiles(f.partition))
            .map((f) => join(root, f.key));
          expect(others.length).toBeGreaterThan(0);
          for (const file of others) await rename(file, `${file}.away`);
          try {
            const pruned = await spark.sql(path, query);
            const unpruned = await spark
              .sql(path, 'SELECT count(*) AS n, sum(level) AS levels FROM {table}')
              .catch((error: unknown) => error);
            expect(pruned.rows).toEqual(result.rows);
            expect(unpruned).toBeInstanceOf(SparkIcebergCommandError);
          } finally {
            for (const file of others) await rename(`${file}.away`, file);
          }
        },
        SPARK_TIMEOUT,
      );

      it(
        'after expireSnapshots(retainLast 2), Spark sees only the two newest snapshots, each as before',
        async () => {
          const list = stepsOf(c);
          const kept = list.slice(-2);
          const gone = list.slice(0, -2);

          const expired = await expireSnapshots({
            storage,
            table: c.table,
            olderThan: new Date(Date.now() + 1),
            retainLast: 2,
          });
          const table = await spark.run({ op: 'describe', path });
          const reads = [];
          for (const step of kept) reads.push(await spark.read(path, { snapshotId: step.snapshotId }));
          const current = await spark.read(path);
          const refused = await spark
            .read(path, { snapshotId: gone[0]?.snapshotId })
            .catch((error: unknown) => error);
          const files = await spark.sql(path, 'SELECT file_path FROM {table}.files');

          expect([...expired.expired].sort()).toEqual(gone.map((s) => s.snapshotId).sort());
          expect(table.snapshots.map((s) => s.snapshotId)).toEqual(kept.map((s) => s.snapshotId));
          for (const [i, step] of kept.entries())
            expect(sparkRows(reads[i]?.rows ?? []), step.name).toEqual(step.lake);
          expect(sparkRows(current.rows)).toEqual(kept.at(-1)?.lake);
          expect(refused).toBeInstanceOf(SparkIcebergCommandError);
          expect(files.rows.map((r) => r.file_path).sort()).toEqual(kept.at(-1)?.files);
        },
        SPARK_TIMEOUT,
      );
    });
  });

  describe('Spark writes, tributary reads and appends', () => {
    const root = join(work, 'spark');
    const path = join(root, 'readings');
    const storage = new LocalStorage({ root });
    const table = 'readings';
    let written: SparkWrittenTable;
    let overwritten: SparkIcebergTable;
    /** Spark's read of each snapshot, by id (oldest first). */
    const sparkReads = new Map<string, Row[]>();
    /** Replaces hour 11, whose row has a list with a null element (which a core list cannot hold). */
    const hour11: SparkIcebergRow[] = [
      {
        id: '5',
        timestamp: '2026-11-23T11:45:00.000001Z',
        amount: '1.5',
        tags: ['y', 'z'],
        note: 'replaced',
      },
      { id: '6', timestamp: '2026-11-23T11:00:00.999999Z', amount: null, tags: [], note: null },
    ];

    beforeAll(async () => {
      written = await writeSparkTable(spark, path);
      overwritten = await spark.write(path, { rows: hour11, mode: 'overwritePartitions' });
      for (const snapshot of overwritten.snapshots) {
        const read = await spark.read(path, { snapshotId: snapshot.snapshotId });
        sparkReads.set(snapshot.snapshotId, read.rows.map(fromSparkTable).sort(byLongId));
      }
    }, SPARK_TIMEOUT);

    it("is Spark's: three snapshots (append, append, overwrite), zstd by default", () => {
      expect(overwritten.snapshots.map((s) => s.operation)).toEqual(['append', 'append', 'overwrite']);
      expect(overwritten.snapshots.slice(0, 2).map((s) => s.snapshotId)).toEqual(
        written.snapshots.map((s) => s.snapshotId),
      );
      expect(overwritten.properties['write.parquet.compression-codec']).toBe('zstd');
      expect(sparkReads.get(overwritten.currentSnapshotId as string)?.map((r) => r.id)).toEqual([
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
      ]);
    });

    it(
      'is planned by scanIceberg with the files Spark lists, at every snapshot',
      async () => {
        for (const snapshot of overwritten.snapshots) {
          const scan = await scanIceberg({ storage, table, snapshotId: snapshot.snapshotId });
          const listed = await spark.sql(
            path,
            `SELECT file_path, record_count FROM {table}.files VERSION AS OF ${snapshot.snapshotId}`,
          );

          expect(scan.files.map((f) => join(root, f.key)).sort(), snapshot.snapshotId).toEqual(
            listed.rows.map((r) => pathOf(r.file_path as string)).sort(),
          );
          expect(scan.files.reduce((n, f) => n + f.rows, 0)).toBe(
            sparkReads.get(snapshot.snapshotId)?.length,
          );
        }
      },
      SPARK_TIMEOUT,
    );

    it("maps Spark's schema as documented: timestamp, decimal, a nullable list of optional strings", async () => {
      const scan = await scanIceberg({ storage, table });

      const schema = schemaFromIceberg(scan.schema, table);

      expect(schema.columns.map((c) => [c.name, c.def.kind, c.def.presence])).toEqual([
        ['id', 'int64', 'required'],
        ['timestamp', 'timestamp', 'required'],
        ['amount', 'decimal', 'nullable'],
        ['tags', 'list', 'nullable'],
        ['note', 'string', 'nullable'],
      ]);
      expect(schema.columns.find((c) => c.name === 'amount')?.def).toMatchObject({
        precision: 38,
        scale: 18,
      });
      expect(schema.columns.find((c) => c.name === 'tags')?.def.element).toMatchObject({ kind: 'string' });
    });

    it('is read by the lake, schema derived from the table, as Spark reads it: by id, by time, current', async () => {
      const [first, second, third] = overwritten.snapshots;
      if (!first || !second || !third) throw new Error('three snapshots expected');

      const byId = await collect(readIceberg({ storage, table, snapshotId: first.snapshotId }));
      const asOfFirst = await collect(readIceberg({ storage, table, asOf: first.timestampMillis }));
      const asOfThird = await collect(readIceberg({ storage, table, asOf: new Date(third.timestampMillis) }));
      const current = await collect(
        readDataset({
          storage,
          table,
          schema: schemaFromIceberg((await scanIceberg({ storage, table })).schema),
        }),
      );
      // The second snapshot holds ['x', null]: a core list holds no null, so the read fails, typed.
      const withNullElement = await collect(
        readIceberg({ storage, table, snapshotId: second.snapshotId }),
      ).catch((error: unknown) => error);

      const lake = (rows: Row[]) => rows.map(fromLakeSparkTable).sort(byLongId);
      expect(lake(byId)).toEqual(sparkReads.get(first.snapshotId));
      expect(lake(asOfFirst)).toEqual(sparkReads.get(first.snapshotId));
      expect(lake(asOfThird)).toEqual(sparkReads.get(third.snapshotId));
      expect(lake(current)).toEqual(sparkReads.get(third.snapshotId));
      expect(withNullElement).toMatchObject({ code: 'PARQUET_SCHEMA_MISMATCH' });
    });

    it(
      "appends to Spark's table; Spark reads its rows and the lake's, and Spark appends after, one chain",
      async () => {
        const ours = [
          {
            id: 100n,
            timestamp: new Date(Date.UTC(2026, 10, 23, 10, 5, 0, 7)),
            amount: '-3.25',
            tags: ['lake'],
            note: 'tributary',
          },
          {
            id: 2n ** 62n,
            timestamp: new Date(Date.UTC(2026, 10, 23, 12, 0, 0, 0)),
            amount: null,
            tags: null,
            note: null,
          },
        ];
        const theirs: SparkIcebergRow[] = [
          {
            id: '200',
            timestamp: '2026-11-23T12:30:00.000000Z',
            amount: '2',
            tags: ['spark'],
            note: 'after the lake',
          },
        ];

        const appended = await writeDataset(ours, {
          storage,
          table,
          schema: sparkTableSchema,
          partitionBy: byHour('timestamp'),
          tableFormat: 'iceberg',
        });
        const afterOurs = await spark.read(path, { orderBy: ['id'] });
        const afterTheirs = await spark.write(path, { rows: theirs, mode: 'append' });
        const sparkFinal = await spark.read(path, { orderBy: ['id'] });
        const lakeFinal = await collect(readIceberg({ storage, table }));
        const lakeAtOurs = await collect(
          readDataset({ storage, table, schema: sparkTableSchema, snapshotId: appended.snapshotId }),
        );
        const catalog = await new StorageCatalog(storage).load(table);

        const oursAsSpark = ours.map(fromLakeSparkTable);
        const before = sparkReads.get(overwritten.currentSnapshotId as string) ?? [];
        expect(afterOurs.currentSnapshotId).toBe(appended.snapshotId);
        expect(afterOurs.rows.map(fromSparkTable)).toEqual([...before, ...oursAsSpark].sort(byLongId));
        expect(afterOurs.schema).toEqual(overwritten.schema);
        expect(afterOurs.readSchema).toEqual([
          { name: 'id', type: 'bigint', nullable: false },
          { name: 'timestamp', type: 'timestamp', nullable: false },
          { name: 'amount', type: 'decimal(38,18)', nullable: true },
          { name: 'tags', type: 'array<string>', nullable: true },
          { name: 'note', type: 'string', nullable: true },
        ]);
        const chain = afterTheirs.snapshots;
        expect(chain.map((s) => s.operation)).toEqual(['append', 'append', 'overwrite', 'append', 'append']);
        expect(chain.map((s) => s.sequenceNumber)).toEqual([1, 2, 3, 4, 5]);
        expect(chain.map((s) => s.parentId)).toEqual([null, ...chain.slice(0, -1).map((s) => s.snapshotId)]);
        expect(chain[3]?.snapshotId).toBe(appended.snapshotId);
        expect(chain[3]?.summary['added-records']).toBe('2');
        expect(chain[4]?.summary['total-records']).toBe(String(before.length + 3));
        expect(catalog?.metadata['current-snapshot-id']?.toString()).toBe(afterTheirs.currentSnapshotId);
        expect(sparkFinal.rows.map(fromSparkTable)).toEqual(
          [...before, ...oursAsSpark, ...theirs.map(fromSparkTable)].sort(byLongId),
        );
        expect(lakeFinal.map(fromLakeSparkTable).sort(byLongId)).toEqual(sparkFinal.rows.map(fromSparkTable));
        expect(lakeAtOurs.map(fromLakeSparkTable).sort(byLongId)).toEqual(afterOurs.rows.map(fromSparkTable));
      },
      SPARK_TIMEOUT,
    );
  });
  describe('a table in a folder whose name has a space', () => {
    // Iceberg's Java library records locations as plain paths (`file:/tmp/a b/t/data/…`); the
    // lake's LocalStorage URL is percent-encoded (`file:///tmp/a%20b`).
    const root = join(work, 'with space');

    it(
      'written by the lake, is read by Spark',
      async () => {
        const storage = new LocalStorage({ root });
        const rows = rowsOf(1, 4, [10]);
        await writeDataset(rows, {
          storage,
          table: 'lake_table',
          schema: schemaV1,
          partitionBy: byHour('timestamp'),
          tableFormat: 'iceberg',
        });

        const read = await spark.read(join(root, 'lake_table')).catch((error: unknown) => error);

        expect(read instanceof Error ? read.message : undefined).toBeUndefined();
        expect(sparkRows((read as { rows: SparkIcebergRow[] }).rows)).toEqual(lakeRows(rows));
      },
      SPARK_TIMEOUT,
    );

    it(
      'written by Spark, is read by the lake',
      async () => {
        const storage = new LocalStorage({ root });
        const written = await writeSparkTable(spark, join(root, 'spark_table'));
        const first = written.snapshots[0];
        if (!first) throw new Error('a snapshot expected');

        const rows = await collect(
          readIceberg({ storage, table: 'spark_table', snapshotId: first.snapshotId }),
        );

        expect(rows.map(fromLakeSparkTable).sort(byLongId)).toEqual(
          first.rows.map(fromSparkTable).sort(byLongId),
        );
      },
      SPARK_TIMEOUT,
    );
  });
});
