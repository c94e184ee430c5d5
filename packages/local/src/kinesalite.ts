import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readPort, terminate, trackChild } from './children.js';
import { localOptionsError } from './errors.js';

/** A stream to create when the server starts. */
export interface KinesaliteStream {
  /** 1 to 128 letters, digits, `_`, `.` or `-`. */
  readonly name: string;
  /** Shards of the stream. Default: `StartKinesaliteOptions.shardCount`. */
  readonly shards?: number;
}

export interface StartKinesaliteOptions {
  /** Streams to create (and wait for until ACTIVE) before `startKinesalite` resolves. */
  streams?: readonly (string | KinesaliteStream)[];
  /** Shards of each stream that does not say. Default 1. */
  shardCount?: number;
  /**
   * Most shards the server accepts over all its streams (Kinesis' account limit, which
   * kinesalite enforces). Default: 50, or the shards of `streams` if that is more.
   */
  shardLimit?: number;
  /** How long to wait for the server to listen and its streams to be ACTIVE. Default 10,000 ms. */
  startTimeoutMs?: number;
}

/** What an `@aws-sdk/client-kinesis` `KinesisClient` needs to talk to kinesalite. */
export interface KinesaliteClientConfig {
  endpoint: string;
  region: 'us-east-1';
  credentials: { accessKeyId: 'local'; secretAccessKey: 'local' };
  /** An HTTP/1.1 handler: the client's default HTTP/2 handler fails against kinesalite. */
  requestHandler: NodeHttpHandler;
}

/** A running kinesalite: a Kinesis-compatible server that keeps its streams in memory. */
export interface KinesaliteServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly region: 'us-east-1';
  /** kinesalite checks that requests are signed, not by whom: any credentials do. */
  readonly credentials: { readonly accessKeyId: 'local'; readonly secretAccessKey: 'local' };
  /** The streams created at start, with their shard counts. */
  readonly streams: readonly Required<KinesaliteStream>[];
  /** The server's process id. */
  readonly pid: number;
  /**
   * The configuration of a `KinesisClient` for this server: `new KinesisClient(server.createClientConfig())`.
   * A new object (and HTTP handler) on each call, since destroying a client destroys its handler.
   */
  createClientConfig(): KinesaliteClientConfig;
  /** Stops the server; its streams are gone. Calling it again is harmless. */
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

// Kinesis' rule for stream names, so a typo fails here rather than as a 400 from the server.
const STREAM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const STDERR_TAIL = 8 * 1024;
const STOP_GRACE_MS = 3_000;
const DEFAULT_SHARD_LIMIT = 50;

// kinesalite runs in a child Node process so that its request handling (it answers every call on
// the event loop, with LevelDB-in-memory work) never competes with the code under test, and so
// that stop() can always end it. The child creates the streams itself, waits until they are
// ACTIVE, then prints its port. It exits when its stdin closes (so it never outlives us, even if
// we are killed outright), and closes its connections on SIGTERM.
const CHILD = `
const http = require('node:http');
const kinesalite = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = kinesalite({ ssl: false, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: options.shardLimit });
function call(port, operation, body) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/', agent: false,
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'Content-Length': Buffer.byteLength(payload),
        'X-Amz-Target': 'Kinesis_20131202.' + operation,
        'X-Amz-Date': '20260101T000000Z',
        // kinesalite checks that a signature is there, not that it is right.
        Authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0',
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(operation + ' ' + JSON.stringify(body) + ' failed (' + res.statusCode + '): ' + text));
        else resolve(text === '' ? {} : JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
async function setUp(port) {
  for (const stream of options.streams) await call(port, 'CreateStream', { StreamName: stream.name, ShardCount: stream.shards });
  for (const stream of options.streams) {
    for (;;) {
      const { StreamDescriptionSummary } = await call(port, 'DescribeStreamSummary', { StreamName: stream.name });
      if (StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  setUp(port).then(
    () => process.stdout.write(JSON.stringify({ port }) + '\\n'),
    (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
  );
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
`;

/**
 * Start kinesalite 3.3.3 (a Kinesis-compatible server, streams in memory) on 127.0.0.1 and a
 * port the OS picks, in a child process, and create `streams`. It never throttles, rejects
 * PutRecords batches over 500 records and records over 1 MiB like Kinesis, and lacks
 * DescribeLimits, UpdateShardCount, enhanced fan-out consumers, `StreamARN` parameters and
 * on-demand streams.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 *
 * const kinesis = await startKinesalite({ streams: [{ name: 'sensors', shards: 2 }] });
 * const client = new KinesisClient(kinesis.createClientConfig());
 * // ...
 * client.destroy();
 * await kinesis.stop();
 * ```
 */
export async function startKinesalite(options: StartKinesaliteOptions = {}): Promise<KinesaliteServer> {
  const shardCount = options.shardCount ?? 1;
  if (!isPositiveInteger(shardCount)) {
    throw localOptionsError(
      'startKinesalite',
      'shardCount',
      `shardCount must be an integer ≥ 1, got ${String(shardCount)}`,
    );
  }
  const streams = (options.streams ?? []).map((stream) =>
    typeof stream === 'string' ? { name: stream, shards: shardCount } : { shards: shardCount, ...stream },
  );
  const names = new Set<string>();
  for (const { name, shards } of streams) {
    if (typeof name !== 'string' || !STREAM_NAME.test(name)) {
      throw localOptionsError('startKinesalite', 'streams', `invalid stream name ${JSON.stringify(name)}`);
    }
    if (names.has(name))
      throw localOptionsError('startKinesalite', 'streams', `stream ${JSON.stringify(name)} is listed twice`);
    names.add(name);
    if (!isPositiveInteger(shards)) {
      throw localOptionsError(
        'startKinesalite',
        'streams',
        `stream ${JSON.stringify(name)} needs an integer ≥ 1 of shards, got ${String(shards)}`,
      );
    }
  }
  const totalShards = streams.reduce((sum, stream) => sum + stream.shards, 0);
  const shardLimit = options.shardLimit ?? Math.max(DEFAULT_SHARD_LIMIT, totalShards);
  if (!isPositiveInteger(shardLimit) || shardLimit < totalShards) {
    throw localOptionsError(
      'startKinesalite',
      'shardLimit',
      `shardLimit must be an integer ≥ the ${totalShards} shard(s) of the streams, got ${String(shardLimit)}`,
    );
  }
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    throw localOptionsError(
      'startKinesalite',
      'startTimeoutMs',
      `startTimeoutMs must be a positive number, got ${String(startTimeoutMs)}`,
    );
  }

  const kinesalitePath = createRequire(import.meta.url).resolve('kinesalite');
  const child = spawn(
    process.execPath,
    ['-e', CHILD, kinesalitePath, JSON.stringify({ shardLimit, streams })],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  trackChild(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });

  let port: number;
  try {
    port = await readPort(child, 'kinesalite', startTimeoutMs, () => stderr);
  } catch (err) {
    await terminate(child, STOP_GRACE_MS);
    throw err;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  // A new object each time: the SDK writes into the credentials it is given.
  const credentials = () => ({ accessKeyId: 'local' as const, secretAccessKey: 'local' as const });
  let stopping: Promise<void> | undefined;
  return Object.freeze({
    endpoint,
    region: 'us-east-1' as const,
    get credentials() {
      return credentials();
    },
    streams: Object.freeze(streams.map((stream) => Object.freeze({ ...stream }))),
    pid: child.pid ?? -1,
    createClientConfig(): KinesaliteClientConfig {
      return {
        endpoint,
        region: 'us-east-1',
        credentials: credentials(),
        requestHandler: new NodeHttpHandler(),
      };
    },
    stop(): Promise<void> {
      stopping ??= terminate(child, STOP_GRACE_MS).finally(() => child.stdin?.destroy());
      return stopping;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.stop();
    },
  });
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}
