import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { sleep } from '@tributary/core';
import { exited, terminate, trackChild } from './children.js';
import { LocalStartError, localOptionsError, PortTakenError } from './errors.js';
import { freePort } from './free-port.js';
import { repoRoot } from './repo-root.js';

/** A running moto_server: an emulator of the S3, Kinesis, Firehose, Glue and Athena APIs. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: pass it as `endpoint` to any AWS SDK client. */
  readonly endpoint: string;
  readonly region: 'us-east-1';
  readonly credentials: { readonly accessKeyId: 'testing'; readonly secretAccessKey: 'testing' };
  /** The server's process id. */
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period). Calling it again is harmless. */
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartMotoServerOptions {
  /** How long to wait for the server to answer HTTP. Default 20,000 ms. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 3,000 ms. */
  stopGraceMs?: number;
}

// Runs the venv's moto_server script, plus a thread that exits the process as soon as its stdin
// closes. Node holds the other end of that pipe, so even when Node is killed outright (no exit
// handler runs) the server goes with it.
const WATCHDOG = [
  'import os, runpy, sys, threading',
  'def _watch():',
  '    try:',
  '        sys.stdin.buffer.read()',
  '    finally:',
  '        os._exit(0)',
  'threading.Thread(target=_watch, daemon=True).start()',
  'sys.argv = sys.argv[1:]',
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join('\n');

const STDERR_TAIL = 8 * 1024;
const PORT_ATTEMPTS = 3;

/**
 * Start `spark/.venv/bin/moto_server` on 127.0.0.1 and a free port, and wait until it answers
 * HTTP. The venv is created by `node scripts/python-env.mjs` (the test setup runs it).
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 *
 * const moto = await startMotoServer();
 * const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true });
 * // ...
 * await moto.stop();
 * ```
 */
export async function startMotoServer(options: StartMotoServerOptions = {}): Promise<MotoServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const stopGraceMs = options.stopGraceMs ?? 3_000;
  for (const [name, value] of [
    ['startTimeoutMs', startTimeoutMs],
    ['stopGraceMs', stopGraceMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw localOptionsError(
        'startMotoServer',
        name,
        `${name} must be a positive number, got ${String(value)}`,
      );
    }
  }
  const venv = join(repoRoot(), 'spark', '.venv');
  const script = join(venv, 'bin', 'moto_server');
  const python = join(venv, 'bin', 'python');
  if (!existsSync(script) || !existsSync(python)) {
    throw new LocalStartError(
      `moto_server was not found at ${script}. Create the Python venv first: run \`node scripts/python-env.mjs\` at the repository root.`,
      { server: 'moto_server' },
    );
  }
  // freePort() can race with another process taking the port before moto binds it: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(python, script, await freePort(), startTimeoutMs, stopGraceMs);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

async function launch(
  python: string,
  script: string,
  port: number,
  startTimeoutMs: number,
  stopGraceMs: number,
): Promise<MotoServer> {
  const child = spawn(python, ['-c', WATCHDOG, script, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  trackChild(child);
  // Read stderr all along (werkzeug logs every request there): a full pipe would block the server.
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  const gone = exited(child).then(() => 'exited' as const);
  for (;;) {
    if (spawnError)
      throw new LocalStartError(`Could not start moto_server: ${spawnError.message}`, {
        server: 'moto_server',
        cause: spawnError,
      });
    if (await answersHttp(endpoint)) break;
    const waited = await Promise.race([gone, sleep(100).then(() => 'slept' as const)]);
    if (waited === 'exited') {
      await sleep(20); // let the last stderr chunk arrive
      const message = `moto_server exited before answering on ${endpoint} (code ${child.exitCode}, signal ${child.signalCode}).\n${stderr}`;
      if (/address already in use/i.test(stderr)) throw new PortTakenError(message, 'moto_server');
      throw new LocalStartError(message, { server: 'moto_server' });
    }
    if (Date.now() > deadline) {
      await terminate(child, stopGraceMs);
      throw new LocalStartError(
        `moto_server did not answer on ${endpoint} within ${startTimeoutMs} ms.\n${stderr}`,
        { server: 'moto_server' },
      );
    }
  }

  let stopping: Promise<void> | undefined;
  return Object.freeze({
    endpoint,
    region: 'us-east-1' as const,
    // A new object each time: the SDK writes into the credentials it is given.
    get credentials() {
      return { accessKeyId: 'testing' as const, secretAccessKey: 'testing' as const };
    },
    pid: child.pid ?? -1,
    stop(): Promise<void> {
      stopping ??= terminate(child, stopGraceMs).finally(() => child.stdin?.destroy());
      return stopping;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.stop();
    },
  });
}

/** True when something answers an HTTP GET on `url` (any status). */
function answersHttp(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
