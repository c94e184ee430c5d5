// A backend that dies while its connection is checked out, as after a crash, a failover or an
// administrator's pg_terminate_backend: the real pg client sees it, not a test double.
import { once } from 'node:events';
import pg from 'pg';

/** pg's client as the pool hands it out, with what the helper reads of it. */
type PoolClient = pg.PoolClient & { processID: number; connection: { stream: NodeJS.EventEmitter } };

export interface TerminatingPool {
  /** A real `pg.Pool`: pass it to the code under test. */
  readonly pool: pg.Pool;
  /** How many backends were terminated. */
  terminated(): number;
  end(): Promise<void>;
}

/**
 * A pool whose checked-out connections are terminated (`pg_terminate_backend` from another
 * connection) just before the first statement that `when` matches is sent, once. The statement
 * is sent only after the server has closed the connection, so the client sees the death while
 * it is idle between statements: the case where pg emits 'error' on the client.
 *
 * @example
 * ```ts
 * const server = await startPostgres();
 * const dying = terminatingPool(server.url, (text) => text.startsWith('INSERT'));
 * await dying.pool.query('CREATE TABLE t (id int)');
 * await dying.end();
 * await server.stop();
 * ```
 */
export function terminatingPool(url: string, when: (text: string) => boolean): TerminatingPool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  let armed = true;
  let terminated = 0;
  pool.on('acquire', (acquired) => {
    const client = acquired as PoolClient;
    const original = client.query as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
      const text = typeof config === 'string' ? config : undefined;
      if (!armed || text === undefined || !when(text)) return original.call(client, config, ...rest);
      armed = false;
      return (async () => {
        const closed = once(client.connection.stream, 'close');
        await admin.query('SELECT pg_terminate_backend($1)', [client.processID]);
        await closed;
        terminated += 1;
        return original.call(client, config, ...rest);
      })();
    };
  });
  // Back in the pool, a connection runs pg's own query() again.
  pool.on('release', (_err, client) => {
    delete (client as { query?: unknown }).query;
  });
  return {
    pool,
    terminated: () => terminated,
    async end() {
      await pool.end();
      await admin.end();
    },
  };
}
