import { inspect } from 'node:util';
import {
  defineSchema,
  field,
  type PgClient,
  type PgPool,
  type PgQueryResult,
  type TributaryEvent,
} from '@tributary/core';
import { byField, byHour, MemoryStorage, scanIceberg, writeDataset } from '@tributary/lake';
import type pg from 'pg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { LoadError, WarehouseOptionsError } from '../../src/errors.js';
import {
  isSerializationConflict,
  RedshiftLoader,
  type RedshiftLoaderOptions,
  type RedshiftTableOptions,
} from '../../src/redshift-loader.js';

const ROLE = 'arn:aws:iam::123456789012:role/RedshiftCopy';
const SECRET = 'wJalrXUtnFEMI-example-secret-not-real';

/** A lake storage that says it is on S3: the loader only needs its URL and its objects. */
class S3LikeStorage extends MemoryStorage {
  override readonly url = 's3://lake-bucket/processed';
}

const readingSchema = defineSchema(
  {
    id: field.string(),
    dt: field.date(),
    value: field.decimal(12, 3),
    at: field.timestamp(),
  },
  { primaryKey: ['id', 'dt'] },
);

const rows = [
  { id: 'a', dt: '2026-11-22', value: '1.500', at: new Date('2026-11-22T10:00:00.000Z') },
  { id: 'b', dt: '2026-11-22', value: '2.000', at: new Date('2026-11-22T11:00:00.000Z') },
  { id: 'a', dt: '2026-11-23', value: '3.250', at: new Date('2026-11-23T10:00:00.000Z') },
];

async function partitionedSource(format: 'parquet' | 'ndjson' = 'parquet', gzip = false) {
  const storage = new S3LikeStorage();
  await writeDataset(rows, {
    storage,
    table: 'readings',
    schema: readingSchema,
    partitionBy: [byField('dt')],
    format,
    formatOptions: { gzip },
    writeId: 'golden-write',
  });
  return { storage, table: 'readings', schema: readingSchema };
}

async function flatSource(format: 'parquet' | 'ndjson', gzip = false) {
  const storage = new S3LikeStorage();
  await writeDataset(rows, {
    storage,
    table: 'readings',
    schema: readingSchema,
    format,
    formatOptions: { gzip },
    writeId: 'golden-write',
  });
  return { storage, table: 'readings', schema: readingSchema };
}

interface Call {
  text: string;
  values: unknown[] | undefined;
}

type Responder = (text: string, values: unknown[] | undefined, attempt: number) => PgQueryResult | undefined;

/** A pool that records every statement and answers like Redshift would for the loader's queries. */
class RecordingPool implements PgPool {
  readonly calls: Call[] = [];
  readonly releases: (Error | boolean | undefined)[] = [];
  connections = 0;
  /** Existing target columns (empty: no table). */
  targetColumns: string[] = [];
  stageRows = 3;
  matched = { updated: 1, matched: 1 };
  /** Manifests seen at COPY time (the loader deletes them afterwards). */
  readonly manifests: string[] = [];
  constructor(
    readonly storage: MemoryStorage | undefined,
    readonly respond: Responder = () => undefined,
  ) {}

  /** As `pg.Pool.query` does: on a connection of its own, released after the statement. */
  async query(text: string, values?: unknown[]): Promise<PgQueryResult> {
    const client = await this.connect();
    try {
      return await client.query(text, values);
    } finally {
      client.release();
    }
  }

  async connect(): Promise<PgClient> {
    this.connections += 1;
    const attempt = this.connections;
    return {
      query: async (text: string, values?: unknown[]) => {
        this.calls.push({ text, values });
        const custom = this.respond(text, values, attempt);
        if (custom) return custom;
        if (text.startsWith('COPY') && this.storage) {
          const url = /FROM '([^']+)'/.exec(text)?.[1] ?? '';
          const key = url.slice(this.storage.url.length + 1);
          if (text.includes(' MANIFEST ')) {
            this.manifests.push(Buffer.from(await this.storage.getBytes(key)).toString());
          }
        }
        if (text.startsWith('SELECT column_name FROM information_schema.columns')) {
          return { rows: this.targetColumns.map((column_name) => ({ column_name })), rowCount: 0 };
        }
        if (text.startsWith('SELECT count(*) AS n FROM "tributary_stage" WHERE'))
          return { rows: [{ n: 0 }], rowCount: 1 };
        if (text.startsWith('SELECT count(*) AS n FROM "tributary_stage"'))
          return { rows: [{ n: this.stageRows }], rowCount: 1 };
        if (text.startsWith('SELECT (SELECT count(*)')) return { rows: [this.matched], rowCount: 1 };
        if (text.startsWith('SELECT')) return { rows: [], rowCount: 0 };
        if (text.startsWith('INSERT INTO')) return { rows: [], rowCount: this.stageRows };
        if (text.startsWith('DELETE FROM')) return { rows: [], rowCount: 7 };
        return { rows: [], rowCount: null };
      },
      release: (error?: Error | boolean) => {
        this.releases.push(error);
      },
    };
  }

  /** The statements as a golden file: one per line, bound values after them. */
  golden(): string {
    return `${this.calls
      .map(({ text, values }) => {
        const normalized = text
          .replace(/;$/, '')
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
        return values === undefined || values.length === 0
          ? `${normalized};`
          : `${normalized};\n-- values: ${JSON.stringify(values)}`;
      })
      .join('\n')}\n`;
  }
}

function loader(pool: PgPool, extra: Partial<RedshiftLoaderOptions> = {}) {
  return new RedshiftLoader({ pool, iamRole: ROLE, retryBaseDelayMs: 1, ...extra });
}

describe('RedshiftLoader', () => {
  describe('types', () => {
    it('accepts a pg.Pool as its pool', () => {
      expectTypeOf<pg.Pool>().toMatchTypeOf<PgPool>();
      expectTypeOf<pg.PoolClient>().toMatchTypeOf<PgClient>();
    });
  });

  describe('a source without a manifest (written by Spark)', () => {
    it('takes hive keys that name schema fields as field partitions, as with a manifest', async () => {
      const withManifest = await partitionedSource();
      const expected = new RecordingPool(withManifest.storage);
      await loader(expected).load('readings', withManifest, { mode: 'append' });

      const spark = await partitionedSource();
      const manifests: string[] = [];
      // The lake keeps a table's manifests beside it, under _tributary/<table>/.
      for await (const o of spark.storage.list('_tributary/readings/')) manifests.push(o.key);
      expect(manifests.length).toBeGreaterThan(0);
      await spark.storage.delete(manifests);
      const pool = new RecordingPool(spark.storage);
      const result = await loader(pool).load('readings', spark, { mode: 'append' });

      expect(result).toMatchObject({ rows: 3, files: 2 });
      expect(pool.golden()).toBe(expected.golden());
      expect(pool.golden()).toContain('CAST($1 AS DATE)');
    });
  });

  describe('golden SQL', () => {
    it('append from partitioned Parquet into a new table with dist and sort keys', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      const result = await loader(pool).load({ schema: 'analytics', name: 'readings' }, source, {
        mode: 'append',
        tableOptions: { distKey: 'id', sortKey: ['dt'] },
      });
      expect(result).toMatchObject({ rows: 3, inserted: 3, files: 2, created: true });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/append-parquet-partitioned.sql');
      // One manifest per partition, each listing that partition's files with their sizes.
      const entries = pool.manifests.map(
        (m) =>
          JSON.parse(m) as {
            entries: { url: string; mandatory: boolean; meta: { content_length: number } }[];
          },
      );
      expect(entries).toHaveLength(2);
      for (const manifest of entries) {
        expect(manifest.entries).toHaveLength(1);
        const entry = manifest.entries[0];
        expect(entry?.mandatory).toBe(true);
        const key = (entry?.url ?? '').slice('s3://lake-bucket/processed/'.length);
        expect(entry?.meta.content_length).toBe((await source.storage.head(key))?.size);
      }
      // The manifests are gone after the load.
      const left: string[] = [];
      for await (const o of source.storage.list('_redshift/')) left.push(o.key);
      expect(left).toEqual([]);
    });

    it('replace from partitioned Parquet into an existing table', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const result = await loader(pool).load({ schema: 'analytics', name: 'readings' }, source, {
        mode: 'replace',
      });
      expect(result).toMatchObject({ rows: 3, inserted: 3, deleted: 7, created: false });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/replace-parquet-partitioned.sql');
    });

    it('merge from one partition of a Parquet dataset with MERGE', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      pool.stageRows = 1;
      pool.matched = { updated: 1, matched: 1 };
      const result = await loader(pool).load(
        { schema: 'analytics', name: 'readings' },
        { ...source, partitions: { dt: '2026-11-23' } },
        { mode: 'merge' },
      );
      expect(result).toMatchObject({ rows: 1, inserted: 0, updated: 1, files: 1 });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/merge-parquet-partition.sql');
    });

    it('merge with the delete-insert strategy', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      pool.matched = { updated: 2, matched: 2 };
      const result = await loader(pool, { mergeStrategy: 'delete-insert' }).load('readings', source, {
        mode: 'merge',
        keys: ['id', 'dt'],
      });
      expect(result).toMatchObject({ rows: 3, inserted: 1, updated: 2 });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/merge-delete-insert.sql');
    });

    it('append from gzipped NDJSON with credentials and a region: one COPY straight into the stage', async () => {
      const source = await flatSource('ndjson', true);
      const pool = new RecordingPool(source.storage);
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      await loader(pool, {
        iamRole: undefined,
        credentials: {
          accessKeyId: 'AKIAEXAMPLEEXAMPLE',
          secretAccessKey: SECRET,
          sessionToken: 'token-example',
        },
        region: 'eu-west-1',
      }).load({ schema: 'analytics', name: 'readings' }, source, { mode: 'append' });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/append-ndjson-gzip-credentials.sql');
      expect(pool.calls.filter((c) => c.text.startsWith('COPY'))).toHaveLength(1);
    });

    it('without a manifest: one COPY per file, by its URL', async () => {
      const source = await flatSource('parquet');
      const pool = new RecordingPool(source.storage);
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      await loader(pool, { useManifest: false }).load('readings', source, { mode: 'append' });
      await expect(pool.golden()).toMatchFileSnapshot('./golden/redshift/append-parquet-no-manifest.sql');
      expect(pool.manifests).toEqual([]);
    });
  });

  describe('options', () => {
    const pool = new RecordingPool(undefined);
    it.each([
      ['no auth', { pool }],
      ['both auths', { pool, iamRole: ROLE, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }],
      ['a bad role', { pool, iamRole: 'arn:aws:iam::123:user/x' }],
      ['a bad region', { pool, iamRole: ROLE, region: 'Europe' }],
      ['an absolute manifest prefix', { pool, iamRole: ROLE, manifestPrefix: '/x/' }],
      ['a manifest prefix without a slash', { pool, iamRole: ROLE, manifestPrefix: 'x' }],
      ['maxAttempts 0', { pool, iamRole: ROLE, maxAttempts: 0 }],
      ['an unknown merge strategy', { pool, iamRole: ROLE, mergeStrategy: 'upsert' }],
      ['credentials without a secret', { pool, credentials: { accessKeyId: 'a', secretAccessKey: '' } }],
      ['no pool', { iamRole: ROLE }],
    ])('rejects %s', (_name, options) => {
      expect(() => new RedshiftLoader(options as RedshiftLoaderOptions)).toThrow(WarehouseOptionsError);
    });

    it('takes only the four table options from a plain-JS tableOptions, never a table name or ifNotExists', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      const hostile = {
        table: { name: 'victim' },
        ifNotExists: false,
        distStyle: 'ALL',
      } as RedshiftTableOptions;

      await loader(pool).load('readings', source, { mode: 'append', tableOptions: hostile });
      const creates = pool.calls.map((c) => c.text).filter((t) => t.startsWith('CREATE TABLE'));

      expect(creates.some((t) => t.includes('"readings"') && t.includes('DISTSTYLE ALL'))).toBe(true);
      expect(creates.some((t) => t.includes('victim'))).toBe(false);
    });

    it('rejects a distStyle Redshift does not have before sending anything', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage);
      const hostile = { distStyle: 'EVEN; DROP TABLE victim; --' } as unknown as RedshiftTableOptions;

      await expect(
        loader(pool).load('readings', source, { mode: 'append', tableOptions: hostile }),
      ).rejects.toMatchObject({ code: 'DDL_OPTIONS_INVALID' });
      expect(pool.calls).toEqual([]);
    });

    it('rejects a source that is not on S3', async () => {
      const source = { storage: new MemoryStorage(), table: 'readings', schema: readingSchema };
      await expect(loader(pool).load('readings', source, { mode: 'append' })).rejects.toThrow(/s3:\/\//);
    });

    it('rejects a merge without keys, and keys that are not columns', async () => {
      const noKey = defineSchema({ id: field.string() });
      const source = { storage: new S3LikeStorage(), table: 'readings', schema: noKey };
      await expect(loader(pool).load('readings', source, { mode: 'merge' })).rejects.toBeInstanceOf(
        WarehouseOptionsError,
      );
      await expect(loader(pool).load('readings', source, { mode: 'merge', keys: ['nope'] })).rejects.toThrow(
        /"nope"/,
      );
    });

    it('rejects a source mixing Parquet and NDJSON', async () => {
      const storage = new S3LikeStorage();
      await storage.put('readings/a.parquet', 'x');
      await storage.put('readings/b.ndjson', '{}\n');
      const error = await loader(new RecordingPool(storage))
        .load('readings', { storage, table: 'readings', schema: readingSchema }, { mode: 'append' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LoadError);
      expect((error as LoadError).code).toBe('SOURCE_FORMATS_MIXED');
    });

    it('never shows the credentials', () => {
      const l = new RedshiftLoader({
        pool,
        credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET },
      });
      expect(inspect(l, { depth: 5 })).not.toContain(SECRET);
      expect(JSON.stringify(l.options)).not.toContain(SECRET);
      expect(l.options.authentication).toBe('credentials');
    });
  });

  describe('load errors', () => {
    const stlRow = {
      file_name: 's3://lake-bucket/processed/readings/dt=2026-11-22/part-0.parquet   ',
      line_number: '2',
      column_name: 'value     ',
      column_type: 'numeric   ',
      raw_field_value: '12345678901.5  ',
      raw_line: 'b,12345678901.5',
      error_code: 1216,
      error_reason: 'Overflow for NUMERIC(12,3)   ',
    };
    const copyError = Object.assign(
      new Error(
        "Load into table 'tributary_stage_files' failed. Check 'stl_load_errors' system table for details.",
      ),
      {
        code: 'XX000',
      },
    );

    it('rolls back, then reads stl_load_errors in the same session into LoadError.details', async () => {
      const source = await partitionedSource();
      let stlAfterRollback = false;
      const pool = new RecordingPool(source.storage, (text) => {
        if (text.startsWith('COPY')) throw copyError;
        if (text.includes('FROM stl_load_errors')) {
          stlAfterRollback = pool.calls.at(-2)?.text === 'ROLLBACK';
          return { rows: [stlRow], rowCount: 1 };
        }
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const error = (await loader(pool)
        .load('readings', source, { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect(error.code).toBe('COPY_REJECTED');
      expect(error.cause).toBe(copyError);
      expect(stlAfterRollback).toBe(true);
      expect(error.details).toEqual([
        {
          file: 's3://lake-bucket/processed/readings/dt=2026-11-22/part-0.parquet',
          line: 2,
          column: 'value',
          columnType: 'numeric',
          rawValue: '12345678901.5',
          rawLine: 'b,12345678901.5',
          errorCode: 1216,
          reason: 'Overflow for NUMERIC(12,3)',
        },
      ]);
      expect(error.message).toContain('line 2, column value: Overflow for NUMERIC(12,3)');
      // The connection is released with the error, so the pool discards it; not retried.
      expect(pool.releases).toEqual([copyError]);
      expect(pool.connections).toBe(1);
      // The manifests are deleted after a failure too.
      const left: string[] = [];
      for await (const o of source.storage.list('_redshift/')) left.push(o.key);
      expect(left).toEqual([]);
    });

    it('falls back to sys_load_error_detail where STL tables do not exist (Serverless)', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage, (text) => {
        if (text.startsWith('COPY')) throw copyError;
        if (text.includes('FROM stl_load_errors')) {
          throw Object.assign(new Error('relation "stl_load_errors" does not exist'), { code: '42P01' });
        }
        if (text.includes('FROM sys_load_error_detail')) {
          return {
            rows: [
              {
                file_name: 's3://lake-bucket/processed/readings/dt=2026-11-22/part-0.parquet',
                line_number: 3,
                column_name: 'at',
                column_type: 'timestamptz',
                error_code: 1206,
                error_reason: 'Invalid timestamp format or value',
              },
            ],
            rowCount: 1,
          };
        }
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const error = (await loader(pool)
        .load('readings', source, { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error.details).toEqual([
        {
          file: 's3://lake-bucket/processed/readings/dt=2026-11-22/part-0.parquet',
          line: 3,
          column: 'at',
          columnType: 'timestamptz',
          rawValue: undefined,
          rawLine: undefined,
          errorCode: 1206,
          reason: 'Invalid timestamp format or value',
        },
      ]);
    });

    it('keeps the credentials out of the error, its context and its JSON', async () => {
      const source = await flatSource('parquet');
      const pool = new RecordingPool(source.storage, (text) => {
        if (text.startsWith('COPY')) throw copyError;
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const l = loader(pool, {
        iamRole: undefined,
        credentials: {
          accessKeyId: 'AKIAEXAMPLEEXAMPLE',
          secretAccessKey: SECRET,
          sessionToken: 'token-secret-xyz',
        },
      });
      const events: TributaryEvent[] = [];
      const error = (await l
        .load('readings', source, { mode: 'append', onEvent: (e) => events.push(e) })
        .catch((e: unknown) => e)) as LoadError;
      // The COPY really carried the secret...
      expect(pool.calls.find((c) => c.text.startsWith('COPY'))?.text).toContain(SECRET);
      // ...but nothing the caller sees does.
      const seen = [
        error.message,
        JSON.stringify(error.context),
        inspect(error, { depth: 5 }),
        inspect(events, { depth: 6 }),
      ];
      for (const text of seen) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain('token-secret-xyz');
      }
      expect(error.context.statement).toContain("SECRET_ACCESS_KEY '<redacted>'");
    });
  });

  describe('retries', () => {
    const conflict = () =>
      Object.assign(new Error('1023'), {
        code: 'XX000',
        detail:
          'Serializable isolation violation on table - 123456, transactions forming the cycle are: 1, 2',
      });

    it('retries the whole transaction after a serialization conflict, then succeeds', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage, (text, _values, attempt) => {
        if (text.startsWith('MERGE') && attempt === 1) throw conflict();
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const events: TributaryEvent[] = [];
      const result = await loader(pool).load('readings', source, {
        mode: 'merge',
        onEvent: (e) => events.push(e),
      });
      expect(result.rows).toBe(3);
      expect(pool.connections).toBe(2);
      expect(pool.calls.filter((c) => c.text === 'BEGIN')).toHaveLength(2);
      expect(pool.calls.filter((c) => c.text === 'ROLLBACK')).toHaveLength(1);
      expect(pool.calls.filter((c) => c.text === 'COMMIT')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'retry')).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({ type: 'records.out', count: 3 });
    });

    it('gives up after maxAttempts conflicts with a typed error', async () => {
      const source = await partitionedSource();
      const pool = new RecordingPool(source.storage, (text) => {
        if (text.startsWith('MERGE'))
          throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const error = (await loader(pool, { maxAttempts: 2 })
        .load('readings', source, { mode: 'merge' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect(error.code).toBe('LOAD_SERIALIZATION_CONFLICT');
      expect(pool.connections).toBe(2);
    });

    it('does not retry other errors', async () => {
      const source = await partitionedSource();
      const denied = Object.assign(new Error('permission denied for relation readings'), { code: '42501' });
      const pool = new RecordingPool(source.storage, (text) => {
        if (text.startsWith('INSERT INTO "readings"')) throw denied;
        return undefined;
      });
      pool.targetColumns = ['id', 'dt', 'value', 'at'];
      const error = (await loader(pool)
        .load('readings', source, { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error.cause).toBe(denied);
      expect(error.code).toBe('LOAD_FAILED');
      expect(error.details).toEqual([]);
      expect(pool.connections).toBe(1);
      expect(pool.calls.some((c) => c.text.includes('stl_load_errors'))).toBe(false);
    });

    it('recognizes Redshift 1023 and PostgreSQL 40001, through causes, and nothing else', () => {
      expect(isSerializationConflict(conflict())).toBe(true);
      expect(
        isSerializationConflict(new Error('ERROR: 1023 DETAIL: Serializable isolation violation on table')),
      ).toBe(true);
      expect(isSerializationConflict(new LoadError('x', { table: 't', cause: { code: '40001' } }))).toBe(
        true,
      );
      expect(isSerializationConflict(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(
        false,
      );
      expect(isSerializationConflict(new Error('row 1023 is bad'))).toBe(false);
    });
  });

  describe('an Iceberg table (hour(at), written by writeDataset)', () => {
    const icebergSchema = defineSchema(
      { id: field.string(), at: field.timestamp(), value: field.decimal(12, 3) },
      { primaryKey: ['id'] },
    );
    const hours = (count: number, version: number) =>
      Array.from({ length: count }, (_, i) => ({
        id: `r${i}`,
        at: new Date(Date.UTC(2026, 10, 23, 8 + (i % 3), i)),
        value: `${i}.${version}00`,
      }));
    async function icebergSource() {
      const storage = new S3LikeStorage();
      const write = (records: ReturnType<typeof hours>, mode: 'append' | 'overwrite_partitions') =>
        writeDataset(records, {
          storage,
          table: 'readings',
          schema: icebergSchema,
          partitionBy: byHour('at'),
          tableFormat: 'iceberg',
          mode,
        });
      const first = await write(hours(30, 0), 'append');
      return { storage, write, first, source: { storage, table: 'readings', schema: icebergSchema } };
    }
    type Entry = { url: string; mandatory: boolean; meta: { content_length: number } };
    const entriesOf = (pool: RecordingPool) =>
      pool.manifests.flatMap((m) => (JSON.parse(m) as { entries: Entry[] }).entries);
    const expectedEntries = async (storage: MemoryStorage) =>
      (await scanIceberg({ storage, table: 'readings' })).files.map((f) => ({
        url: `s3://lake-bucket/processed/${f.key}`,
        mandatory: true,
        meta: { content_length: f.bytes },
      }));
    const byUrl = (a: Entry, b: Entry) => (a.url < b.url ? -1 : 1);

    it("COPYs from one manifest listing exactly the current snapshot's data files", async () => {
      const { storage, source, first } = await icebergSource();
      const pool = new RecordingPool(storage);

      const result = await loader(pool).load('readings', source, { mode: 'append' });

      const expected = await expectedEntries(storage);
      expect(expected).toHaveLength(3);
      expect(pool.manifests).toHaveLength(1);
      expect(entriesOf(pool).sort(byUrl)).toEqual(expected.sort(byUrl));
      for (const entry of entriesOf(pool)) {
        const key = entry.url.slice('s3://lake-bucket/processed/'.length);
        expect(entry.meta.content_length).toBe((await storage.head(key))?.size);
      }
      expect(result).toMatchObject({ files: 3, snapshotId: first.snapshotId, skipped: false });
      // A target whose columns are the files' columns in order: one COPY straight into the stage.
      const copies = pool.calls.filter((c) => c.text.startsWith('COPY'));
      expect(copies.map((c) => c.text.slice(0, 'COPY "tributary_stage" '.length))).toEqual([
        'COPY "tributary_stage" ',
      ]);
      expect(copies[0]?.text).toContain(' MANIFEST FORMAT AS PARQUET');
    });

    it("COPYs into a table shaped like the snapshot's files when the target orders columns otherwise", async () => {
      const { storage, source } = await icebergSource();
      const pool = new RecordingPool(storage);
      pool.targetColumns = ['value', 'id', 'at'];

      await loader(pool).load('readings', source, { mode: 'replace' });

      const texts = pool.calls.map((c) => c.text);
      expect(texts).toContain(
        'CREATE TEMP TABLE "tributary_stage_files" AS SELECT "id", "at", "value" FROM "readings" WHERE 1 = 0',
      );
      expect(texts.filter((t) => t.startsWith('COPY "tributary_stage_files" FROM'))).toHaveLength(1);
      expect(texts).toContain(
        'INSERT INTO "tributary_stage" ("id", "at", "value") SELECT "id", "at", "value" FROM "tributary_stage_files"',
      );
    });

    it('after overwrite_partitions, the manifest lists no removed file', async () => {
      const { storage, source, write } = await icebergSource();
      const overwrite = await write(
        hours(30, 1).filter((r) => r.at.getUTCHours() === 9),
        'overwrite_partitions',
      );
      expect(overwrite.removed).toHaveLength(1);
      const pool = new RecordingPool(storage);

      await loader(pool).load('readings', source, { mode: 'replace' });

      const urls = entriesOf(pool).map((e) => e.url);
      expect(urls.sort()).toEqual((await expectedEntries(storage)).map((e) => e.url).sort());
      expect(urls).not.toContain(`s3://lake-bucket/processed/${overwrite.removed[0]}`);
    });

    it('records the snapshot in the transaction, and skips a snapshot the target already holds', async () => {
      const { storage, source, first } = await icebergSource();
      const pool = new RecordingPool(storage);
      pool.targetColumns = ['id', 'at', 'value'];
      await loader(pool).load({ schema: 'analytics', name: 'readings' }, source, { mode: 'append' });
      const insert = pool.calls.find((c) => c.text.startsWith('INSERT INTO "analytics"."tributary_loads"'));
      expect(insert?.values?.slice(0, 5)).toEqual([
        '"analytics"."readings"',
        's3://lake-bucket/processed/readings',
        first.snapshotId,
        'append',
        3,
      ]);
      const texts = pool.calls.map((c) => c.text);
      expect(texts.indexOf('LOCK TABLE "analytics"."tributary_loads"')).toBeGreaterThan(
        texts.indexOf('BEGIN'),
      );
      expect(texts.indexOf(insert?.text ?? '')).toBeLessThan(texts.lastIndexOf('COMMIT'));

      const again = new RecordingPool(storage, (text) =>
        text.startsWith('SELECT snapshot_id FROM')
          ? { rows: [{ snapshot_id: first.snapshotId }], rowCount: 1 }
          : undefined,
      );
      again.targetColumns = ['id', 'at', 'value'];
      const result = await loader(again).load({ schema: 'analytics', name: 'readings' }, source, {
        mode: 'append',
      });

      expect(result).toMatchObject({ skipped: true, rows: 0, inserted: 0, files: 0 });
      expect(again.calls.filter((c) => /^(COPY|INSERT|DELETE|MERGE)/.test(c.text))).toEqual([]);
      expect(again.calls.at(-1)?.text).toBe('COMMIT');
    });

    it('refuses an Iceberg snapshot whose files hold a column the source schema lacks', async () => {
      const { storage } = await icebergSource();
      const narrow = defineSchema({ id: field.string(), at: field.timestamp() });
      const pool = new RecordingPool(storage);

      const error = await loader(pool)
        .load('readings', { storage, table: 'readings', schema: narrow }, { mode: 'append' })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LoadError);
      expect(error).toMatchObject({ code: 'SOURCE_COLUMNS_UNKNOWN', context: { unknown: ['value'] } });
      expect(pool.calls).toEqual([]);
    });
  });
});
