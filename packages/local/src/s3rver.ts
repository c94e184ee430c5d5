import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPort, terminate, trackChild } from './children.js';
import { localOptionsError } from './errors.js';

/** A running s3rver: an S3-compatible server that keeps its objects in a temporary folder. */
export interface S3rverServer {
  /** `http://127.0.0.1:<port>`: pass it as `endpoint` to an `S3Client`, with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly region: 'us-east-1';
  /** s3rver checks signatures, and only accepts these credentials. */
  readonly credentials: { readonly accessKeyId: 'S3RVER'; readonly secretAccessKey: 'S3RVER' };
  readonly forcePathStyle: true;
  /** The folder that holds the buckets; removed by `stop()`. */
  readonly directory: string;
  /** The server's process id. */
  readonly pid: number;
  /** Stops the server and removes its folder. Calling it again is harmless. */
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartS3rverOptions {
  /** Buckets to create before the server starts answering. */
  buckets?: readonly string[];
  /** How long to wait for the server to listen. Default 10,000 ms. */
  startTimeoutMs?: number;
}

// S3's bucket naming rules, so a typo fails here rather than as a confusing 404 later.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const STDERR_TAIL = 8 * 1024;
const STOP_GRACE_MS = 3_000;

// s3rver runs in a child Node process because it encrypts ListObjectsV2 continuation tokens with
// DES, which OpenSSL 3 only offers with --openssl-legacy-provider: in this process every
// paginated listing would fail with a 500. The child prints its port once it listens, exits when
// its stdin closes (so it never outlives us, even if we are killed outright), and closes its
// connections on SIGTERM.
const CHILD = `
const S3rver = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = new S3rver(options);
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => {
  if (!server.httpServer) process.exit(0);
  server.httpServer.close(() => process.exit(0));
  server.httpServer.closeAllConnections();
});
`;

/**
 * Start s3rver 3.7.1 on 127.0.0.1 and a port the OS picks, with its objects in a new temporary
 * folder. It lists keys folder by folder (so `a-b` comes after `a/...`, unlike S3) and implements
 * neither ListMultipartUploads nor AbortMultipartUpload; use `startMotoServer` to test those.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 *
 * const s3 = await startS3rver({ buckets: ['raw'] });
 * const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
 * // ...
 * await s3.stop();
 * ```
 */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverServer> {
  const buckets = [...(options.buckets ?? [])];
  for (const bucket of buckets) {
    if (!BUCKET_NAME.test(bucket))
      throw localOptionsError('startS3rver', 'buckets', `invalid bucket name ${JSON.stringify(bucket)}`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw localOptionsError(
      'startS3rver',
      'startTimeoutMs',
      `startTimeoutMs must be a positive number, got ${String(startTimeoutMs)}`,
    );
  }
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const directory = await mkdtemp(join(tmpdir(), 'tributary-s3rver-'));
  const serverOptions = {
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  };
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD, s3rverPath, JSON.stringify(serverOptions)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  trackChild(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });

  let port: number;
  try {
    port = await readPort(child, 's3rver', startTimeoutMs, () => stderr);
  } catch (err) {
    await terminate(child, STOP_GRACE_MS);
    await rm(directory, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return Object.freeze({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1' as const,
    // A new object each time: the SDK writes into the credentials it is given.
    get credentials() {
      return { accessKeyId: 'S3RVER' as const, secretAccessKey: 'S3RVER' as const };
    },
    forcePathStyle: true as const,
    directory,
    pid: child.pid ?? -1,
    stop(): Promise<void> {
      stopping ??= (async () => {
        await terminate(child, STOP_GRACE_MS);
        child.stdin?.destroy();
        await rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.stop();
    },
  });
}
