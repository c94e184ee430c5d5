import { describe, expect, it } from 'vitest';
import { QueryCancelledError } from '../../src/errors.js';
import { createQueryResult, type QueryControl } from '../../src/query-result.js';

function counting(rows: number, onStart: () => void = () => {}) {
  return async function* (control: QueryControl) {
    onStart();
    control.onColumns([{ name: 'n', type: 'integer' }]);
    control.onStats({ queryId: 'q-1', bytesScanned: 42 });
    for (let n = 0; n < rows; n++) {
      await new Promise((resolve) => setImmediate(resolve));
      yield { n };
    }
  };
}

describe('createQueryResult', () => {
  it('runs nothing until iterated, then sets columns and stats', async () => {
    let started = 0;
    const result = createQueryResult(
      'athena',
      counting(3, () => started++),
    );
    expect(started).toBe(0);
    expect(result.columns).toBeUndefined();
    const collected = await result.collect();
    expect(started).toBe(1);
    expect(collected.rows).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(collected.columns).toEqual([{ name: 'n', type: 'integer' }]);
    expect(collected.stats).toMatchObject({ engine: 'athena', rows: 3, queryId: 'q-1', bytesScanned: 42 });
    expect(result.stats).toBe(collected.stats);
  });

  it('can be iterated only once', async () => {
    const result = createQueryResult('duckdb', counting(1));
    await result.collect();
    await expect(result.collect()).rejects.toMatchObject({ code: 'QUERY_RESULT_CONSUMED' });
  });

  it('rejects with QueryCancelledError when cancelled before it starts, without running', async () => {
    let started = 0;
    const result = createQueryResult(
      'duckdb',
      counting(1, () => started++),
    );
    await result.cancel();
    await expect(result.collect()).rejects.toBeInstanceOf(QueryCancelledError);
    expect(started).toBe(0);
  });

  it('stops between rows when the caller aborts, and calls the interrupt', async () => {
    const controller = new AbortController();
    let interrupted = 0;
    const result = createQueryResult('duckdb', counting(1_000), controller.signal, () => {
      interrupted++;
    });
    const seen: number[] = [];
    const error = await (async () => {
      for await (const row of result) {
        seen.push(row.n as number);
        if (seen.length === 5) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryCancelledError);
    expect(seen).toHaveLength(5);
    expect(interrupted).toBe(1);
    expect(result.stats).toBeUndefined();
  });

  it('refuses to start with an already aborted signal', async () => {
    const result = createQueryResult('athena', counting(1), AbortSignal.abort());
    await expect(result.collect()).rejects.toThrow(/cancelled before it started/);
  });
});
