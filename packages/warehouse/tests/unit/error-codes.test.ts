// Which error each wrong input gets: a wrong option is core's OptionsError (a WarehouseOptionsError)
// with `<AREA>_OPTIONS_INVALID` naming the option; wrong data (a parameter, a name, a table
// definition) is not an options error and says what is wrong with `<THING>_INVALID`.
import { AthenaClient } from '@aws-sdk/client-athena';
import { defineSchema, field, OptionsError, type PgPool } from '@tributary/core';
import { MemoryStorage, type TableDefinition } from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { AthenaEngine } from '../../src/athena-engine.js';
import { icebergAthenaDdl } from '../../src/athena-iceberg.js';
import { addPartitionStatements, athenaLiteral, catalogName } from '../../src/athena-literals.js';
import { duckDbViewSql } from '../../src/duckdb-engine.js';
import { duckDbIcebergType, icebergSelectSql } from '../../src/duckdb-iceberg.js';
import { QueryParameterError, TableDefinitionError, WarehouseOptionsError } from '../../src/errors.js';
import { PostgresLoader } from '../../src/postgres-loader.js';
import { RedshiftLoader } from '../../src/redshift-loader.js';

const client = new AthenaClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
});

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const pool: PgPool = {
  connect: async () => Promise.reject(new Error('must not connect')),
  query: async () => Promise.reject(new Error('must not query')),
};

const readingSchema = defineSchema({ id: field.string(), value: field.double() }, { primaryKey: ['id'] });

class S3LikeStorage extends MemoryStorage {
  override readonly url = 's3://lake-bucket/processed';
}

const table: TableDefinition = {
  name: 'sensors',
  location: 's3://tributary-processed/sensors/',
  format: 'parquet',
  columns: [{ name: 'value', type: 'double', kind: 'double', nullable: false }],
  partitionKeys: [{ name: 'dt', type: 'string' }],
  partitions: [],
  conflicts: [],
  files: 0,
  bytes: 0,
  updatedAt: '2026-11-23T11:00:00.000Z',
};

describe('warehouse errors', () => {
  describe('options', () => {
    it.each([
      [
        'AthenaEngine',
        () => new AthenaEngine({ client, pageSize: 5000 }),
        'ATHENA_OPTIONS_INVALID',
        'pageSize',
      ],
      [
        'AthenaEngine without a client',
        () => new AthenaEngine({} as never),
        'ATHENA_OPTIONS_INVALID',
        'client',
      ],
      [
        'AthenaEngine query params',
        () => new AthenaEngine({ client }).query('SELECT 1', { params: 'x' as never }),
        'QUERY_OPTIONS_INVALID',
        'params',
      ],
      [
        'AthenaEngine query clientRequestToken',
        () => new AthenaEngine({ client }).query('SELECT 1', { clientRequestToken: 'short' }),
        'QUERY_OPTIONS_INVALID',
        'clientRequestToken',
      ],
      [
        'RedshiftLoader',
        () => new RedshiftLoader({ pool, iamRole: 'nope' }),
        'LOADER_OPTIONS_INVALID',
        'iamRole',
      ],
      ['PostgresLoader', () => new PostgresLoader({} as never), 'LOADER_OPTIONS_INVALID', 'pool'],
      [
        'icebergAthenaDdl location',
        () => icebergAthenaDdl(readingSchema, { table: 'readings', location: 'file:///tmp/r' }),
        'ICEBERG_DDL_OPTIONS_INVALID',
        'location',
      ],
    ])('%s: an OptionsError with its area code naming the option', (_what, fn, code, option) => {
      const error = caught(fn);

      expect(error).toBeInstanceOf(WarehouseOptionsError);
      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code, option, context: { option } });
    });

    it.each([
      ['an empty table name', '', { mode: 'append' }, 'LOAD_OPTIONS_INVALID', 'table'],
      ['an unknown mode', 'readings', { mode: 'upsert' }, 'LOAD_OPTIONS_INVALID', 'mode'],
      [
        'a merge key that is not a column',
        'readings',
        { mode: 'merge', keys: ['nope'] },
        'LOAD_OPTIONS_INVALID',
        'keys',
      ],
      [
        'a non-boolean createTable',
        'readings',
        { mode: 'append', createTable: 'yes' },
        'LOAD_OPTIONS_INVALID',
        'createTable',
      ],
    ])('load() with %s is an OptionsError naming it', async (_what, target, options, code, option) => {
      const loader = new PostgresLoader({ pool });
      const source = { storage: new MemoryStorage(), table: 'readings', schema: readingSchema };

      const error = await rejected(loader.load(target, source, options as never));

      expect(error).toBeInstanceOf(WarehouseOptionsError);
      expect(error).toMatchObject({ code, option });
    });

    it('RedshiftLoader.load() from a non-S3 storage names source.storage', async () => {
      const loader = new RedshiftLoader({ pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy' });
      const source = { storage: new MemoryStorage(), table: 'readings', schema: readingSchema };

      const error = await rejected(loader.load('readings', source, { mode: 'append' }));

      expect(error).toBeInstanceOf(WarehouseOptionsError);
      expect(error).toMatchObject({ code: 'LOAD_OPTIONS_INVALID', option: 'source.storage' });
    });

    it('RedshiftLoader.load() with tableOptions that are not an object names tableOptions', async () => {
      const loader = new RedshiftLoader({ pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy' });
      const source = { storage: new S3LikeStorage(), table: 'readings', schema: readingSchema };

      const error = await rejected(
        loader.load('readings', source, { mode: 'append', tableOptions: 'ALL' as never }),
      );

      expect(error).toMatchObject({ code: 'LOAD_OPTIONS_INVALID', option: 'tableOptions' });
    });
  });

  describe('data', () => {
    it.each([
      ['NaN', Number.NaN],
      ['an invalid Date', new Date(Number.NaN)],
      ['an object', { a: 1 }],
    ])('a query parameter that is %s is a QueryParameterError, not an options error', (_what, value) => {
      const error = caught(() => athenaLiteral(value as never, 1));

      expect(error).toBeInstanceOf(QueryParameterError);
      expect(error).not.toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({
        code: 'QUERY_PARAMETER_INVALID',
        parameter: 2,
        context: { parameter: 2 },
      });
    });

    it('empty query text is QUERY_TEXT_INVALID, not an options error', () => {
      const error = caught(() => new AthenaEngine({ client }).query('  '));

      expect(error).not.toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'QUERY_TEXT_INVALID' });
    });

    it.each([
      ['catalogName', () => catalogName('x`; DROP TABLE t', 'table'), { table: 'x`; DROP TABLE t' }],
      [
        'icebergAthenaDdl',
        () => icebergAthenaDdl(readingSchema, { table: 'quo tes', location: 's3://lake/q' }),
        { table: 'quo tes' },
      ],
      [
        'icebergAthenaDdl database',
        () => icebergAthenaDdl(readingSchema, { database: 'a-b', table: 'q', location: 's3://lake/q' }),
        { database: 'a-b' },
      ],
    ])('a bad Glue name in %s is TABLE_NAME_INVALID', (_what, fn, context) => {
      const error = caught(fn);

      expect(error).toBeInstanceOf(TableDefinitionError);
      expect(error).not.toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'TABLE_NAME_INVALID', context });
    });

    it('partitions that do not match the keys are TABLE_DEFINITION_INVALID', () => {
      const error = caught(() =>
        addPartitionStatements({ ...table, partitions: [{ values: [], location: 's3://b/x/' }] }, undefined),
      );

      expect(error).toBeInstanceOf(TableDefinitionError);
      expect(error).toMatchObject({ code: 'TABLE_DEFINITION_INVALID', table: 'sensors' });
    });

    it('a type Athena cannot create in Iceberg is COLUMN_TYPE_UNSUPPORTED', () => {
      const error = caught(() =>
        icebergAthenaDdl(
          { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 't', required: true, type: 'time' }] },
          { table: 'q', location: 's3://lake/q' },
        ),
      );

      expect(error).toBeInstanceOf(TableDefinitionError);
      expect(error).toMatchObject({ code: 'COLUMN_TYPE_UNSUPPORTED', context: { column: 't' } });
    });

    it('a partition without an Iceberg transform is TABLE_DEFINITION_INVALID', () => {
      const error = caught(() =>
        icebergAthenaDdl(readingSchema, {
          table: 'q',
          location: 's3://lake/q',
          partitionBy: [{ name: 'x', value: () => 'x' }],
        }),
      );

      expect(error).toMatchObject({ code: 'TABLE_DEFINITION_INVALID', context: { partition: 'x' } });
    });

    it('an Iceberg type DuckDB cannot read is COLUMN_TYPE_UNSUPPORTED', () => {
      const error = caught(() => duckDbIcebergType('variant' as never));

      expect(error).toBeInstanceOf(TableDefinitionError);
      expect(error).toMatchObject({ code: 'COLUMN_TYPE_UNSUPPORTED' });
    });

    it('an Iceberg table without columns is TABLE_DEFINITION_INVALID', () => {
      const error = caught(() =>
        icebergSelectSql(
          { schema: { type: 'struct', 'schema-id': 0, fields: [] }, files: [] },
          new MemoryStorage(),
          'empty',
        ),
      );

      expect(error).toMatchObject({ code: 'TABLE_DEFINITION_INVALID', table: 'empty' });
    });

    it('a table DuckDB cannot read from where it is is TABLE_LOCATION_UNSUPPORTED', async () => {
      const error = await rejected(duckDbViewSql(table, { replace: true, database: 'main' }));

      expect(error).toBeInstanceOf(TableDefinitionError);
      expect(error).not.toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'TABLE_LOCATION_UNSUPPORTED', table: 'sensors' });
    });
  });
});
