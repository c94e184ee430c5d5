import { EventEmitter } from 'node:events';
import pg from 'pg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { TributaryError } from '../../src/errors.js';
import type { PgClient, PgPool, PgQueryResult } from '../../src/index.js';
import { type ClientPool, withClient } from '../../src/with-client.js';

/** A pooled connection as pg hands it out: an EventEmitter with release(). */
class FakeClient extends EventEmitter {
  released: (Error | boolean | undefined)[] = [];
  release(error?: Error | boolean): void {
    this.released.push(error);
  }
}

const poolOf = (client: FakeClient) => ({ connect: async () => client });

describe('withClient', () => {
  it('releases a connection that served well as healthy, and stops listening to it', async () => {
    const client = new FakeClient();

    const result = await withClient(poolOf(client), async () => 42);

    expect(result).toBe(42);
    expect(client.released).toEqual([undefined]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it("listens for the connection's errors during the checkout, so none is unhandled", async () => {
    const client = new FakeClient();
    const dead = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });

    const error = await withClient(poolOf(client), async (c) => {
      c.emit('error', dead); // would throw "Unhandled 'error' event" without a listener
      throw new Error('Client has encountered a connection error and is not queryable');
    }).catch((e: unknown) => e);

    expect(error).toBe(dead);
    expect(client.released).toEqual([dead]);
  });

  it('releases as broken when the callback fails, with its error', async () => {
    const client = new FakeClient();
    const failure = new Error('syntax error');

    const error = await withClient(poolOf(client), async () => {
      throw failure;
    }).catch((e: unknown) => e);

    expect(error).toBe(failure);
    expect(client.released).toEqual([failure]);
  });

  it('passes a typed error of the callback unchanged, even after the connection failed', async () => {
    const client = new FakeClient();
    const typed = new TributaryError('merge keys are duplicated', { code: 'LOAD_DUPLICATE_KEYS' });

    const error = await withClient(poolOf(client), async (c) => {
      c.emit('error', new Error('Connection terminated unexpectedly'));
      throw typed;
    }).catch((e: unknown) => e);

    expect(error).toBe(typed);
    expect(client.released[0]).toBeInstanceOf(Error);
  });

  it('releases as broken a connection that failed after the callback succeeded, and keeps the result', async () => {
    const client = new FakeClient();
    const late = new Error('Connection terminated unexpectedly');

    const result = await withClient(poolOf(client), async (c) => {
      c.emit('error', late);
      return 'committed';
    });

    expect(result).toBe('committed');
    expect(client.released).toEqual([late]);
    // Still listened to while the pool ends it.
    expect(() => client.emit('error', new Error('again'))).not.toThrow();
  });

  it('works with a client that has no events (a test double)', async () => {
    const released: unknown[] = [];
    const client = { release: (e?: Error | boolean) => void released.push(e) };

    await withClient({ connect: async () => client }, async () => undefined);

    expect(released).toEqual([undefined]);
  });

  it('passes a failure to connect unchanged', async () => {
    const refused = new Error('ECONNREFUSED');

    const error = await withClient(
      {
        connect: async (): Promise<FakeClient> => {
          throw refused;
        },
      },
      async () => 1,
    ).catch((e: unknown) => e);

    expect(error).toBe(refused);
  });
});

describe('PgPool', () => {
  it('is satisfied by a real pg.Pool, whose clients are PgClients', async () => {
    // A pool opens no connection until one is asked for.
    const real = new pg.Pool({ host: '127.0.0.1', port: 1, max: 1 });

    const pool: PgPool = real;

    expectTypeOf<pg.PoolClient>().toMatchTypeOf<PgClient>();
    expectTypeOf<pg.QueryResult>().toMatchTypeOf<PgQueryResult>();
    expectTypeOf<PgPool>().toMatchTypeOf<ClientPool<PgClient>>();
    expect(pool.connect).toBe(real.connect);
    expect(pool.query).toBe(real.query);
    await real.end();
  });

  it('is what withClient takes: the client it lends is a PgClient that queries', async () => {
    const statements: string[] = [];
    const released: unknown[] = [];
    const client: PgClient = {
      query: async (text) => {
        statements.push(text);
        return { rows: [{ n: 1 }], rowCount: 1 };
      },
      release: (error) => void released.push(error),
    };
    const pool: PgPool = { connect: async () => client, query: async () => ({ rows: [], rowCount: 0 }) };

    const rows = await withClient(pool, async (c) => (await c.query('SELECT 1 AS n')).rows);

    expect(rows).toEqual([{ n: 1 }]);
    expect(statements).toEqual(['SELECT 1 AS n']);
    expect(released).toEqual([undefined]);
  });
});
