import {
  AthenaClient,
  type ColumnInfo,
  GetDatabaseCommand,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { TableDefinition } from '@tributary/lake';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AthenaEngine } from '../../src/athena-engine.js';
import { QueryCancelledError, QueryFailedError } from '../../src/errors.js';

let moto: MotoServer;
let client: AthenaClient;
/** Each Athena call the client made, with the query state GetQueryExecution answered. */
const calls: { command: string; state?: string }[] = [];

beforeAll(async () => {
  moto = await startMotoServer();
  client = new AthenaClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const output = result.output as { QueryExecution?: { Status?: { State?: string } } };
      calls.push({ command: context.commandName as string, state: output.QueryExecution?.Status?.State });
      return result;
    },
    { step: 'initialize', name: 'athenaMotoTestRecorder' },
  );
});

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

afterEach(async () => {
  calls.length = 0;
  await transition(undefined);
});

async function motoApi(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${moto.endpoint}/moto-api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
}

/** Queue a result for the next query moto starts, as moto 5.2.5's static Athena API takes it. */
async function seed(columns: readonly ColumnInfo[], rows: readonly (readonly (string | undefined)[])[]) {
  await motoApi('static/athena/query-results', {
    account_id: '123456789012',
    region: moto.region,
    results: [
      {
        rows: rows.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
        column_info: columns,
      },
    ],
  });
}

/** Make moto's queries move one state per `times` GetQueryExecution calls (undefined: at once). */
async function transition(times: number | undefined): Promise<void> {
  if (times === undefined) {
    await motoApi('state-manager/unset-transition', { model_name: 'athena::execution' });
  } else {
    await motoApi('state-manager/set-transition', {
      model_name: 'athena::execution',
      transition: { progression: 'manual', times },
    });
  }
}

function engine(options: Partial<ConstructorParameters<typeof AthenaEngine>[0]> = {}): AthenaEngine {
  return new AthenaEngine({
    client,
    database: 'default',
    outputLocation: 's3://tributary-athena-results/queries/',
    pollIntervalMs: 5,
    maxPollIntervalMs: 20,
    ...options,
  });
}

const col = (name: string, type: string, extra: Partial<ColumnInfo> = {}): ColumnInfo => ({
  Name: name,
  Label: name,
  Type: type,
  Nullable: 'NULLABLE',
  ...extra,
});

describe('AthenaEngine (moto_server)', () => {
  it('polls QUEUED → RUNNING → SUCCEEDED and reads a seeded result back typed', async () => {
    const columns = [
      col('id', 'varchar'),
      col('n', 'integer'),
      col('big', 'bigint'),
      col('value', 'double'),
      col('price', 'decimal', { Precision: 38, Scale: 18 }),
      col('ok', 'boolean'),
      col('ts', 'timestamp'),
      col('dt', 'date'),
      col('tags', 'array'),
      col('note', 'varchar'),
    ];
    const total = 2500;
    const rows = Array.from({ length: total }, (_, i) => [
      `r${i}`,
      String(i),
      String(2n ** 53n + BigInt(i)),
      String(i + 0.5),
      `${i}.500000000000000000`,
      i % 2 === 0 ? 'true' : 'false',
      `2026-11-23 10:00:${String(i % 60).padStart(2, '0')}.250`,
      '2026-11-23',
      `[t${i}, x]`,
      i % 3 === 0 ? undefined : i % 3 === 1 ? '' : 'text',
    ]);
    await seed(columns, [columns.map((c) => c.Label as string), ...rows]);
    await transition(2);

    const result = engine({ pageSize: 1000 }).query('SELECT * FROM sensors WHERE dt = ? AND id <> ?', {
      params: ['2026-11-23', "x'; DROP TABLE t; --"],
    });
    const collected = await result.collect();

    expect(collected.rows).toHaveLength(total);
    expect(collected.rows[0]).toStrictEqual({
      id: 'r0',
      n: 0,
      big: 9007199254740992n,
      value: 0.5,
      price: '0.500000000000000000',
      ok: true,
      ts: new Date('2026-11-23T10:00:00.250Z'),
      dt: '2026-11-23',
      tags: ['t0', 'x'],
      note: null,
    });
    expect(collected.rows[total - 1]).toMatchObject({ id: 'r2499', big: 9007199254743491n, note: null });
    expect(collected.rows[1]?.note).toBe('');
    expect(collected.rows[2]?.note).toBe('text');
    expect(collected.columns.map((c) => c.type)).toContain('decimal(38,18)');
    expect(collected.stats).toMatchObject({ engine: 'athena', rows: total, bytesScanned: 0, engineMs: 0 });

    const states = calls.filter((c) => c.command === 'GetQueryExecutionCommand').map((c) => c.state);
    expect(states).toEqual(['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED']);
    // moto 5.2.5 ignores MaxResults and NextToken: the 2,500 rows come in one page.
    expect(calls.filter((c) => c.command === 'GetQueryResultsCommand')).toHaveLength(1);

    // The parameters reached the server as literals, the hostile one as one quoted string.
    const execution = await client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: collected.stats.queryId as string }),
    );
    expect(execution.QueryExecution?.ExecutionParameters).toEqual([
      "'2026-11-23'",
      "'x''; DROP TABLE t; --'",
    ]);
    expect(execution.QueryExecution?.QueryExecutionContext).toEqual({
      Database: 'default',
      Catalog: 'AwsDataCatalog',
    });
  });

  it('runs DDL with execute: CREATE DATABASE makes a database moto then knows', async () => {
    const stats = await engine().execute('CREATE DATABASE IF NOT EXISTS lakehouse');

    expect(stats).toMatchObject({ engine: 'athena', rows: 0 });
    const database = await client.send(
      new GetDatabaseCommand({ CatalogName: 'AwsDataCatalog', DatabaseName: 'lakehouse' }),
    );
    expect(database.Database?.Name).toBe('lakehouse');
  });

  it('sends registerTable and addPartitions statements that arrive intact', async () => {
    const table: TableDefinition = {
      name: 'sensors',
      location: 's3://tributary-processed/sensors/',
      format: 'parquet',
      columns: [{ name: 'value', type: 'double', kind: 'double', nullable: false }],
      partitionKeys: [{ name: 'dt', type: 'string' }],
      partitions: [{ values: ["2026-11-23'"], location: 's3://tributary-processed/sensors/dt=x/' }],
      conflicts: [],
      files: 1,
      bytes: 1,
      updatedAt: '2026-11-23T11:00:00.000Z',
    };
    const e = engine({ database: 'lakehouse' });

    await e.registerTable(table, { replace: true });
    await e.addPartitions(table);

    const { QueryExecutionIds = [] } = await client.send(new ListQueryExecutionsCommand({}));
    const queries = await Promise.all(
      QueryExecutionIds.map(
        async (id) =>
          (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution,
      ),
    );
    const texts = queries.map((q) => q?.Query ?? '');
    expect(texts).toContain('DROP TABLE IF EXISTS `lakehouse`.`sensors`');
    expect(texts.some((t) => t.startsWith('CREATE EXTERNAL TABLE IF NOT EXISTS `lakehouse`.`sensors`'))).toBe(
      true,
    );
    expect(texts).toContain(
      "ALTER TABLE `lakehouse`.`sensors` ADD IF NOT EXISTS\n  PARTITION (`dt` = '2026-11-23\\'') LOCATION 's3://tributary-processed/sensors/dt=x/'",
    );
    expect(queries.find((q) => q?.Query?.startsWith('ALTER'))?.StatementType).toBe('DDL');
  });

  it('turns a query in a workgroup that does not exist into a QueryFailedError', async () => {
    const error = await engine({ workGroup: 'no-such-workgroup' })
      .query('SELECT 1')
      .collect()
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError).reason).toBe('StartQueryExecution: WorkGroup does not exist');
    expect((error as QueryFailedError).retryable).toBe(false);
    expect(((error as Error).cause as Error).name).toBe('InvalidRequestException');
  });

  it('cancel() stops a running query: moto then reports it CANCELLED', async () => {
    await transition(1_000);
    const result = engine({ pollIntervalMs: 10, maxPollIntervalMs: 10 }).query('SELECT * FROM sensors');
    const done = result.collect().catch((e: unknown) => e);
    await expect
      .poll(() => calls.filter((c) => c.command === 'GetQueryExecutionCommand').length)
      .toBeGreaterThanOrEqual(2);

    await result.cancel();
    const error = await done;

    expect(error).toBeInstanceOf(QueryCancelledError);
    const queryId = (error as QueryCancelledError).queryId as string;
    expect(calls.filter((c) => c.command === 'StopQueryExecutionCommand')).toHaveLength(1);
    const after = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }));
    expect(after.QueryExecution?.Status?.State).toBe('CANCELLED');
  });

  it('an abort signal stops the query the same way', async () => {
    await transition(1_000);
    const controller = new AbortController();
    const done = engine({ pollIntervalMs: 10, maxPollIntervalMs: 10 })
      .query('SELECT * FROM sensors', { signal: controller.signal })
      .collect()
      .catch((e: unknown) => e);
    await expect
      .poll(() => calls.filter((c) => c.command === 'GetQueryExecutionCommand').length)
      .toBeGreaterThanOrEqual(1);

    controller.abort();
    const error = await done;

    expect(error).toBeInstanceOf(QueryCancelledError);
    const queryId = (error as QueryCancelledError).queryId as string;
    const after = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }));
    expect(after.QueryExecution?.Status?.State).toBe('CANCELLED');
  });

  it('a query moto stops between two polls ends in QueryCancelledError from the CANCELLED state', async () => {
    await transition(1_000);
    const e = engine({ pollIntervalMs: 200, maxPollIntervalMs: 200 });
    const done = e
      .query('SELECT 1')
      .collect()
      .catch((err: unknown) => err);
    await expect.poll(() => calls.some((c) => c.command === 'GetQueryExecutionCommand')).toBe(true);
    const { QueryExecutionIds = [] } = await client.send(new ListQueryExecutionsCommand({}));
    const running = await Promise.all(
      QueryExecutionIds.map(
        async (id) =>
          (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution,
      ),
    );
    const target = running.find((q) => q?.Status?.State === 'QUEUED');
    // Someone else (the console, another process) stops it.
    await client.send(
      new StopQueryExecutionCommand({ QueryExecutionId: target?.QueryExecutionId as string }),
    );

    const error = await done;

    expect(error).toBeInstanceOf(QueryCancelledError);
    expect((error as QueryCancelledError).queryId).toBe(target?.QueryExecutionId);
  });
});
