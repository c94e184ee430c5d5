import { readFileSync } from 'node:fs';
import {
  AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  type QueryExecutionStatus,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { OptionsError, TributaryError, type TributaryEvent } from '@tributary/core';
import type { TableDefinition } from '@tributary/lake';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AthenaEngine, type AthenaEngineOptions } from '../../src/athena-engine.js';
import { addPartitionStatements } from '../../src/athena-literals.js';
import {
  QueryCancelledError,
  QueryFailedError,
  QueryParameterError,
  TableDefinitionError,
  WarehouseOptionsError,
} from '../../src/errors.js';

const athena = mockClient(AthenaClient);
const client = new AthenaClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
});

afterEach(() => {
  athena.reset();
  vi.useRealTimers();
});

const golden = (name: string) => readFileSync(new URL(`./golden/athena/${name}`, import.meta.url), 'utf8');

const QUERY_ID = '11111111-2222-3333-4444-555555555555';

function engine(options: Partial<AthenaEngineOptions> = {}): AthenaEngine {
  return new AthenaEngine({
    client,
    database: 'processed',
    outputLocation: 's3://tributary-athena/results/',
    pollIntervalMs: 1,
    ...options,
  });
}

function execution(
  state: QueryExecutionStatus['State'],
  extra: Partial<QueryExecutionStatus> = {},
  statementType = 'DML',
): GetQueryExecutionCommandOutput {
  return {
    $metadata: {},
    QueryExecution: {
      QueryExecutionId: QUERY_ID,
      StatementType: statementType as 'DML',
      Status: { State: state, ...extra },
      Statistics: { DataScannedInBytes: 4096, EngineExecutionTimeInMillis: 321 },
    },
  };
}

const col = (name: string, type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({
  Name: name,
  Label: name,
  Type: type,
  ...extra,
});

/** A GetQueryResults page; `undefined` in a row is SQL NULL (no VarCharValue). */
function page(
  columns: readonly ColumnInfo[],
  rows: readonly (readonly (string | undefined)[])[],
  nextToken?: string,
): GetQueryResultsCommandOutput {
  return {
    $metadata: {},
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: [...columns] },
      Rows: rows.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
    },
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
}

const header = (columns: readonly ColumnInfo[]) => columns.map((c) => c.Label as string);

function throttled(): Error {
  return Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}

function invalidRequest(message: string): Error {
  return Object.assign(new Error(message), {
    name: 'InvalidRequestException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}

/** Resolves when GetQueryExecution has been called `count` times; answers RUNNING forever. */
function runningForever(count = 1): Promise<void> {
  return new Promise((resolve) => {
    let calls = 0;
    athena.on(GetQueryExecutionCommand).callsFake(async () => {
      calls++;
      if (calls === count) resolve();
      return execution('RUNNING');
    });
  });
}

describe('AthenaEngine', () => {
  describe('constructor', () => {
    it.each([
      ['no client', { client: undefined }],
      ['a client without send', { client: {} }],
      ['a non-S3 outputLocation', { outputLocation: '/tmp/results' }],
      ['an empty workGroup', { workGroup: '' }],
      ['a pageSize over 1000', { pageSize: 1001 }],
      ['a fractional pageSize', { pageSize: 2.5 }],
      ['a zero pollIntervalMs', { pollIntervalMs: 0 }],
      ['a maxPollIntervalMs below pollIntervalMs', { pollIntervalMs: 500, maxPollIntervalMs: 100 }],
      ['a negative timeoutMs', { timeoutMs: -1 }],
      ['a string projection', { projection: 'yes' }],
      ['an onEvent that is not a function', { onEvent: 'log' }],
    ])('rejects %s', (_what, options) => {
      expect(() => engine(options as Partial<AthenaEngineOptions>)).toThrow(WarehouseOptionsError);
    });

    it("reports a wrong option as core's OptionsError that names it", () => {
      let error: unknown;
      try {
        engine({ pageSize: 1001 });
      } catch (caught) {
        error = caught;
      }

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'ATHENA_OPTIONS_INVALID', option: 'pageSize' });
    });

    it('accepts a client alone and exposes no options object to mutate', () => {
      const e = new AthenaEngine({ client });

      expect(e.name).toBe('athena');
      expect(Object.keys(e)).not.toContain('options');
    });
  });

  describe('query: request shape', () => {
    it('sends StartQueryExecution with context, output, workgroup, parameters and the caller token', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('n', 'bigint')], [['n'], ['1']]));
      const e = engine({ workGroup: 'analytics', catalog: 'lakehouse' });

      await e
        .query(
          'SELECT count(*) AS n FROM sensors WHERE type = ? AND value > ? AND dt >= ? AND ok = ? AND note IS ?',
          {
            params: ["x'; DROP TABLE t; --", 1.5, new Date('2026-11-23T00:00:00Z'), true, null],
            clientRequestToken: 'tok-0123456789abcdef0123456789abcdef',
          },
        )
        .collect();

      const input = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
      expect(`${JSON.stringify(input, null, 2)}\n`).toBe(golden('start-query-execution.json'));
      expect(input?.ExecutionParameters?.[0]).toBe("'x''; DROP TABLE t; --'");
    });

    it('leaves out what the caller did not give: no token, no parameters, no workgroup, no output', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('one', 'integer')], [['one'], ['1']]));

      await new AthenaEngine({ client, pollIntervalMs: 1 })
        .query('SELECT 1 AS one', { params: [] })
        .collect();

      expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toEqual({
        QueryString: 'SELECT 1 AS one',
        QueryExecutionContext: { Catalog: 'AwsDataCatalog' },
      });
    });

    it('rejects a bad parameter before anything is sent', () => {
      expect(() => engine().query('SELECT ?', { params: [Number.NaN] })).toThrow(QueryParameterError);
      expect(() => engine().query('SELECT 1', { clientRequestToken: 'short' })).toThrow(
        WarehouseOptionsError,
      );
      expect(() => engine().query('  ')).toThrow(expect.objectContaining({ code: 'QUERY_TEXT_INVALID' }));
      expect(athena.calls()).toHaveLength(0);
    });
  });

  describe('query: lifecycle', () => {
    it('is lazy: nothing is sent until the result is iterated', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('a', 'varchar')], [['a'], ['x']]));

      const result = engine().query('SELECT a FROM t');
      await new Promise((r) => setTimeout(r, 5));
      expect(athena.calls()).toHaveLength(0);
      expect(result.columns).toBeUndefined();
      expect(result.stats).toBeUndefined();

      const { rows } = await result.collect();
      expect(rows).toEqual([{ a: 'x' }]);
    });

    it('can be iterated only once', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('a', 'varchar')], [['a'], ['x']]));
      const result = engine().query('SELECT a FROM t');
      await result.collect();

      const again = result.collect();

      await expect(again).rejects.toThrow(TributaryError);
      await expect(again).rejects.toMatchObject({ code: 'QUERY_RESULT_CONSUMED' });
      expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
    });

    it('polls QUEUED → RUNNING → SUCCEEDED with doubling waits capped at maxPollIntervalMs', async () => {
      vi.useFakeTimers({ now: 0 });
      const states = ['QUEUED', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'SUCCEEDED'] as const;
      const polledAt: number[] = [];
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).callsFake(async () => {
        polledAt.push(Date.now());
        return execution(states[polledAt.length - 1]);
      });
      athena.on(GetQueryResultsCommand).resolves(page([col('a', 'integer')], [['a'], ['1']]));

      const done = engine({ pollIntervalMs: 100, maxPollIntervalMs: 500 }).query('SELECT 1 AS a').collect();
      await vi.runAllTimersAsync();
      const { rows } = await done;

      expect(rows).toEqual([{ a: 1 }]);
      expect(polledAt.slice(1).map((t, i) => t - (polledAt[i] as number))).toEqual([100, 200, 400, 500, 500]);
    });

    it('pages with NextToken and MaxResults, skipping the header on the first page only', async () => {
      const columns = [col('sensor', 'varchar'), col('value', 'double')];
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena
        .on(GetQueryResultsCommand)
        .resolvesOnce(page(columns, [header(columns), ['s1', '1.5'], ['s2', '2.5']], 'token-1'))
        .resolvesOnce(
          page(
            columns,
            [
              ['s3', '3.5'],
              ['s4', '4'],
            ],
            'token-2',
          ),
        )
        .resolvesOnce(page(columns, [['s5', '-0.5']]));
      const result = engine({ pageSize: 2 }).query('SELECT sensor, value FROM t');

      const seen: unknown[] = [];
      const columnsAtFirstRow: unknown[] = [];
      for await (const row of result) {
        if (seen.length === 0) columnsAtFirstRow.push(result.columns);
        seen.push(row);
      }

      expect(columnsAtFirstRow).toEqual([
        [
          { name: 'sensor', type: 'varchar' },
          { name: 'value', type: 'double' },
        ],
      ]);
      expect(seen).toEqual([
        { sensor: 's1', value: 1.5 },
        { sensor: 's2', value: 2.5 },
        { sensor: 's3', value: 3.5 },
        { sensor: 's4', value: 4 },
        { sensor: 's5', value: -0.5 },
      ]);
      const calls = athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input);
      expect(calls).toEqual([
        { QueryExecutionId: QUERY_ID, MaxResults: 2 },
        { QueryExecutionId: QUERY_ID, MaxResults: 2, NextToken: 'token-1' },
        { QueryExecutionId: QUERY_ID, MaxResults: 2, NextToken: 'token-2' },
      ]);
      expect(result.stats).toMatchObject({ engine: 'athena', queryId: QUERY_ID, rows: 5 });
    });

    it('reads the first row of a later page as data even when it equals the labels', async () => {
      const columns = [col('sensor', 'varchar'), col('kind', 'varchar')];
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena
        .on(GetQueryResultsCommand)
        .resolvesOnce(page(columns, [header(columns), ['s1', 'a']], 'token-1'))
        .resolvesOnce(page(columns, [header(columns), ['s2', 'b']]));

      const { rows } = await engine().query('SELECT sensor, kind FROM t').collect();

      expect(rows).toEqual([
        { sensor: 's1', kind: 'a' },
        { sensor: 'sensor', kind: 'kind' },
        { sensor: 's2', kind: 'b' },
      ]);
    });

    it('keeps a first row equal to the labels when the statement is not DML (SHOW, DESCRIBE)', async () => {
      const columns = [col('tab_name', 'string')];
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', {}, 'UTILITY'));
      athena.on(GetQueryResultsCommand).resolves(page(columns, [['tab_name'], ['sensors']]));

      const { rows } = await engine().query('SHOW TABLES').collect();

      expect(rows).toEqual([{ tab_name: 'tab_name' }, { tab_name: 'sensors' }]);
    });

    it('reports stats: query id, rows, bytes scanned, engine time and wall time', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('a', 'integer')], [['a'], ['1'], ['2']]));

      const { stats } = await engine().query('SELECT a FROM t').collect();

      expect(stats).toEqual({
        engine: 'athena',
        queryId: QUERY_ID,
        rows: 2,
        bytesScanned: 4096,
        engineMs: 321,
        elapsedMs: expect.any(Number),
      });
    });
  });

  describe('query: values', () => {
    it('converts every Athena type to the Row shape', async () => {
      const columns = [
        col('s', 'varchar'),
        col('empty', 'varchar'),
        col('missing', 'varchar'),
        col('i', 'integer'),
        col('si', 'smallint'),
        col('ti', 'tinyint'),
        col('big', 'bigint'),
        col('d', 'double'),
        col('r', 'real'),
        col('nan', 'double'),
        col('dec', 'decimal', { Precision: 38, Scale: 18 }),
        col('yes', 'boolean'),
        col('no', 'boolean'),
        col('ts', 'timestamp'),
        col('ts_micros', 'timestamp'),
        col('tz', 'timestamp with time zone'),
        col('day', 'date'),
        col('tags', 'array'),
        col('none', 'array'),
        col('nested', 'array'),
        col('js', 'json'),
        col('m', 'map'),
        col('rw', 'row'),
        col('null_int', 'integer'),
      ];
      const values = [
        'héllo, world',
        '',
        undefined,
        '-2147483648',
        '32767',
        '-128',
        '9007199254740993',
        '1.0E10',
        '0.25',
        'NaN',
        '1.500000000000000000',
        'true',
        'false',
        '2026-11-23 10:05:09.123',
        '2026-11-23 10:05:09.123456',
        '2026-11-23 12:05:09.000 +02:00',
        '2026-11-23',
        '[a, b c, null]',
        '[]',
        '[[1, 2], [3]]',
        '{"a":[1,2]}',
        '{k=v}',
        '{x=1, y=2}',
        undefined,
      ];
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page(columns, [header(columns), values]));

      const { rows, columns: described } = await engine().query('SELECT ...').collect();

      expect(rows[0]).toStrictEqual({
        s: 'héllo, world',
        empty: '',
        missing: null,
        i: -2147483648,
        si: 32767,
        ti: -128,
        big: 9007199254740993n,
        d: 1e10,
        r: 0.25,
        nan: Number.NaN,
        dec: '1.500000000000000000',
        yes: true,
        no: false,
        ts: new Date('2026-11-23T10:05:09.123Z'),
        ts_micros: new Date('2026-11-23T10:05:09.123Z'),
        tz: new Date('2026-11-23T10:05:09.000Z'),
        day: '2026-11-23',
        tags: ['a', 'b c', null],
        none: [],
        nested: '[[1, 2], [3]]',
        js: '{"a":[1,2]}',
        m: '{k=v}',
        rw: '{x=1, y=2}',
        null_int: null,
      });
      expect(described?.find((c) => c.name === 'dec')?.type).toBe('decimal(38,18)');
    });

    it.each([
      ['integer', 'abc'],
      ['bigint', '1.5'],
      ['boolean', 'yes'],
      ['timestamp', '23/11/2026'],
      ['double', ''],
    ])('rejects a %s value Athena should not give (%j) with a QueryFailedError', async (type, text) => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
      athena.on(GetQueryResultsCommand).resolves(page([col('v', type)], [['v'], [text]]));

      await expect(engine().query('SELECT v').collect()).rejects.toThrow(QueryFailedError);
    });
  });

  describe('query: failures', () => {
    it('turns FAILED into a QueryFailedError with the reason, category and type', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(
        execution('FAILED', {
          StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
          AthenaError: { ErrorCategory: 2, ErrorType: 1006 },
        }),
      );
      const events: TributaryEvent[] = [];

      const error = await engine({ onEvent: (e) => events.push(e) })
        .query('SELECT nope FROM sensors')
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryFailedError);
      expect(error).toMatchObject({
        code: 'QUERY_FAILED',
        reason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
        queryId: QUERY_ID,
        errorCategory: 2,
        errorType: 1006,
        retryable: false,
      });
      expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
      expect(events.some((e) => e.type === 'failure' && e.code === 'QUERY_FAILED')).toBe(true);
    });

    it.each([
      {
        what: 'a system error (category 1)',
        athenaError: { ErrorCategory: 1, ErrorType: 401 },
        retryable: true,
      },
      {
        what: 'a user error (category 2)',
        athenaError: { ErrorCategory: 2, ErrorType: 1006 },
        retryable: false,
      },
      {
        what: 'Athena Retryable=false over category 1',
        athenaError: { ErrorCategory: 1, Retryable: false },
        retryable: false,
      },
      {
        what: 'Athena Retryable=true on category 3',
        athenaError: { ErrorCategory: 3, Retryable: true },
        retryable: true,
      },
    ])('marks $what as retryable: $retryable', async ({ athenaError, retryable }) => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('FAILED', { AthenaError: athenaError }));

      await expect(engine().query('SELECT 1').collect()).rejects.toMatchObject({ retryable });
    });

    it('turns CANCELLED into a QueryCancelledError', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena
        .on(GetQueryExecutionCommand)
        .resolves(execution('CANCELLED', { StateChangeReason: 'Query cancelled by user' }));

      const error = await engine()
        .query('SELECT 1')
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryCancelledError);
      expect(error).toMatchObject({ code: 'QUERY_CANCELLED', queryId: QUERY_ID });
      expect((error as Error).message).toContain('Query cancelled by user');
    });

    it('wraps a rejected StartQueryExecution in a QueryFailedError with the SDK error as cause', async () => {
      const sdkError = invalidRequest('WorkGroup does not exist');
      athena.on(StartQueryExecutionCommand).rejects(sdkError);

      const error = await engine({ workGroup: 'nope' })
        .query('SELECT 1')
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryFailedError);
      expect((error as QueryFailedError).reason).toBe('StartQueryExecution: WorkGroup does not exist');
      expect((error as Error).cause).toBe(sdkError);
      expect((error as QueryFailedError).retryable).toBe(false);
      expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
    });

    it('sends a StartQueryExecution that failed on the server once, with or without the caller token', async () => {
      const serverError = () =>
        Object.assign(new Error('internal'), {
          name: 'InternalServerException',
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
        });
      athena.on(StartQueryExecutionCommand).rejects(serverError());

      const first = await engine()
        .query('SELECT 1')
        .collect()
        .catch((e: unknown) => e);
      expect(first).toMatchObject({ retryable: true });
      expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);

      athena.reset();
      athena
        .on(StartQueryExecutionCommand)
        .rejectsOnce(serverError())
        .resolves({ QueryExecutionId: QUERY_ID });

      const second = await engine()
        .query('SELECT 1 AS a', { clientRequestToken: 'a'.repeat(32) })
        .collect()
        .catch((e: unknown) => e);
      expect(second).toMatchObject({ retryable: true });
      expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
    });
  });

  describe("query: retries are the client's", () => {
    it.each(['StartQueryExecution', 'GetQueryExecution', 'GetQueryResults'] as const)(
      'sends a throttled %s once and lets the error surface, retryable',
      async (operation) => {
        const sdkError = throttled();
        const start = athena.on(StartQueryExecutionCommand);
        const poll = athena.on(GetQueryExecutionCommand);
        const results = athena.on(GetQueryResultsCommand);
        (operation === 'StartQueryExecution' ? start.rejectsOnce(sdkError) : start).resolves({
          QueryExecutionId: QUERY_ID,
        });
        (operation === 'GetQueryExecution' ? poll.rejectsOnce(sdkError) : poll).resolves(
          execution('SUCCEEDED'),
        );
        (operation === 'GetQueryResults' ? results.rejectsOnce(sdkError) : results).resolves(
          page([col('a', 'integer')], [['a'], ['7']]),
        );

        const error = await engine()
          .query('SELECT 7 AS a')
          .collect()
          .catch((e: unknown) => e);

        expect(error).toBeInstanceOf(QueryFailedError);
        expect(error).toMatchObject({ retryable: true, reason: `${operation}: Rate exceeded` });
        expect((error as Error).cause).toBe(sdkError);
        const sent = {
          StartQueryExecution: athena.commandCalls(StartQueryExecutionCommand),
          GetQueryExecution: athena.commandCalls(GetQueryExecutionCommand),
          GetQueryResults: athena.commandCalls(GetQueryResultsCommand),
        };
        expect(sent[operation]).toHaveLength(1);
      },
    );

    it('refuses the retry option with a WarehouseOptionsError that points at the client', () => {
      const options = { retry: { maxAttempts: 3 } } as unknown as Partial<AthenaEngineOptions>;

      expect(() => engine(options)).toThrow(
        /maxAttempts.*retryStrategy.*AthenaClient|AthenaClient.*maxAttempts/,
      );
      expect(() => engine(options)).toThrow(WarehouseOptionsError);
    });
  });

  describe('lifetime', () => {
    it('await using calls close() at the end of the block and leaves the client alone', async () => {
      const close = vi.spyOn(AthenaEngine.prototype, 'close');
      const destroy = vi.spyOn(client, 'destroy');

      {
        await using e = engine();
        expect(e.name).toBe('athena');
        expect(close).not.toHaveBeenCalled();
      }

      expect(close).toHaveBeenCalledTimes(1);
      expect(destroy).not.toHaveBeenCalled();
      close.mockRestore();
      destroy.mockRestore();
    });
  });

  describe('query: cancellation', () => {
    it('cancel() mid-poll sends StopQueryExecution and iteration rejects with QueryCancelledError', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      const polled = runningForever(1);
      athena.on(StopQueryExecutionCommand).resolves({});
      const result = engine({ pollIntervalMs: 60_000, maxPollIntervalMs: 60_000 }).query('SELECT 1');
      const done = result.collect().catch((e: unknown) => e);
      await polled;

      const startedAt = performance.now();
      await result.cancel();
      const error = await done;

      expect(performance.now() - startedAt).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(QueryCancelledError);
      expect((error as Error).message).toContain('cancel() was called');
      expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([
        { QueryExecutionId: QUERY_ID },
      ]);
      expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
    });

    it('an aborted signal stops the query on Athena and rejects with QueryCancelledError', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      const polled = runningForever(3);
      athena.on(StopQueryExecutionCommand).resolves({});
      const controller = new AbortController();
      const done = engine({ pollIntervalMs: 1 })
        .query('SELECT 1', { signal: controller.signal })
        .collect()
        .catch((e: unknown) => e);
      await polled;

      controller.abort(new Error('user left'));
      const error = await done;

      expect(error).toBeInstanceOf(QueryCancelledError);
      expect((error as Error).cause).toEqual(new Error('user left'));
      expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(1);
    });

    it('an already aborted signal sends nothing', async () => {
      const error = await engine()
        .query('SELECT 1', { signal: AbortSignal.abort() })
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryCancelledError);
      expect(athena.calls()).toHaveLength(0);
    });

    it('cancel() before iteration means the query never starts', async () => {
      const result = engine().query('SELECT 1');
      await result.cancel();

      await expect(result.collect()).rejects.toThrow(QueryCancelledError);
      expect(athena.calls()).toHaveLength(0);
    });

    it('timeoutMs stops a query that runs too long', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      runningForever();
      athena.on(StopQueryExecutionCommand).resolves({});

      const error = await engine({ timeoutMs: 50, pollIntervalMs: 5, maxPollIntervalMs: 10 })
        .query('SELECT 1')
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryCancelledError);
      expect((error as Error).message).toContain('timeoutMs (50 ms) elapsed');
      expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(1);
    });

    it('cancel() reports a StopQueryExecution that failed, and the iteration says so too', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      const polled = runningForever();
      athena.on(StopQueryExecutionCommand).rejects(invalidRequest('Query has already completed'));
      const result = engine({ pollIntervalMs: 60_000, maxPollIntervalMs: 60_000 }).query('SELECT 1');
      const done = result.collect().catch((e: unknown) => e);
      await polled;

      await expect(result.cancel()).rejects.toThrow(/StopQueryExecution failed: Query has already completed/);
      const error = await done;
      expect(error).toBeInstanceOf(QueryCancelledError);
      expect((error as Error).message).toContain('StopQueryExecution failed');
    });
  });

  describe('execute', () => {
    it('runs a statement to completion without reading results', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', {}, 'DDL'));

      const stats = await engine().execute('CREATE DATABASE IF NOT EXISTS processed');

      expect(stats).toMatchObject({
        engine: 'athena',
        queryId: QUERY_ID,
        rows: 0,
        bytesScanned: 4096,
        engineMs: 321,
      });
      expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
    });

    it('rejects with the QueryFailedError of a failed statement', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena
        .on(GetQueryExecutionCommand)
        .resolves(
          execution('FAILED', { StateChangeReason: 'FAILED: SemanticException table not found' }, 'DDL'),
        );

      await expect(engine().execute('MSCK REPAIR TABLE nope')).rejects.toThrow(
        /SemanticException table not found/,
      );
    });
  });

  describe('catalog statements', () => {
    const table: TableDefinition = {
      name: 'Sensors',
      location: 's3://tributary-processed/sensors/',
      format: 'parquet',
      columns: [
        { name: 'id', type: 'string', kind: 'string', nullable: false },
        { name: 'value', type: 'double', kind: 'double', nullable: false },
      ],
      partitionKeys: [
        { name: 'dt', type: 'string' },
        { name: 'hour', type: 'string' },
      ],
      partitions: [
        { values: ['2026-11-23', '10'], location: 's3://tributary-processed/sensors/dt=2026-11-23/hour=10/' },
        { values: ['2026-11-22', '23'], location: 's3://tributary-processed/sensors/dt=2026-11-22/hour=23/' },
      ],
      conflicts: [],
      files: 2,
      bytes: 2048,
      updatedAt: '2026-11-23T11:00:00.000Z',
    };

    function statements(): string[] {
      return athena
        .commandCalls(StartQueryExecutionCommand)
        .map((c) => c.args[0].input.QueryString as string);
    }

    function succeedEverything(): void {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: QUERY_ID });
      athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', {}, 'DDL'));
    }

    it('registerTable with replace drops the table, then creates it with projection', async () => {
      succeedEverything();

      await engine({ projection: true }).registerTable(table, { replace: true });

      expect(`${statements().join('\n;\n')}\n`).toBe(golden('register-table-replace.sql'));
    });

    it('registerTable without replace only creates, and a per-call projection overrides the engine', async () => {
      succeedEverything();

      await engine({ projection: true }).registerTable(table, { projection: false });

      expect(statements()).toHaveLength(1);
      expect(statements()[0]).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `processed`.`sensors`/);
      expect(statements()[0]).not.toContain('projection.enabled');
    });

    it("puts the table in its definition's database rather than the engine's", async () => {
      succeedEverything();

      await engine().registerTable({ ...table, database: 'curated' }, { replace: true });

      expect(statements()[0]).toBe('DROP TABLE IF EXISTS `curated`.`sensors`');
      expect(statements()[1]).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `curated`.`sensors`/);
    });

    it('repairTable runs MSCK REPAIR TABLE on a quoted name', async () => {
      succeedEverything();

      await engine().repairTable('Sensors');

      expect(statements()).toEqual(['MSCK REPAIR TABLE `sensors`']);
      await expect(engine().repairTable('x`; DROP TABLE t')).rejects.toThrow(TableDefinitionError);
    });

    it('addPartitions quotes keys and values safely', async () => {
      succeedEverything();
      const hostile: TableDefinition = {
        ...table,
        partitionKeys: [{ name: 'we`ird', type: 'string' }],
        partitions: [
          { values: ["it's"], location: "s3://tributary-processed/sensors/we`ird=it's/" },
          { values: ['back\\slash'], location: 's3://tributary-processed/sensors/x/' },
        ],
      };

      const summary = await engine().addPartitions(hostile);

      expect(summary).toEqual({ partitions: 2, statements: 1 });
      expect(`${statements()[0]}\n`).toBe(golden('add-partitions.sql'));
    });

    it('addPartitions sends at most 100 partitions per statement', async () => {
      succeedEverything();
      const many: TableDefinition = {
        ...table,
        partitions: Array.from({ length: 250 }, (_, i) => ({
          values: ['2026-11-23', String(i)],
          location: `s3://tributary-processed/sensors/dt=2026-11-23/hour=${i}/`,
        })),
      };

      const summary = await engine().addPartitions(many);

      expect(summary).toEqual({ partitions: 250, statements: 3 });
      expect(statements().map((s) => s.match(/PARTITION \(/g)?.length)).toEqual([100, 100, 50]);
    });

    it('addPartitions rejects a partition whose values do not match the keys', () => {
      expect(() =>
        addPartitionStatements(
          { ...table, partitions: [{ values: ['2026-11-23'], location: 's3://b/x/' }] },
          undefined,
        ),
      ).toThrow(TableDefinitionError);
    });

    it('close() leaves the client alone', async () => {
      const destroy = vi.spyOn(client, 'destroy');

      await engine().close();

      expect(destroy).not.toHaveBeenCalled();
    });
  });
});
