// A process-wide pool of worker threads that encode and compress Parquet row groups, so that the
// main thread keeps validating and buffering records while a full row group is encoded. A row
// group goes to a worker only when one is ready and idle; otherwise the calling thread encodes it
// itself (while a worker starts, and whenever every worker is busy), so neither thread waits on
// the other: at the end of a write, when every open file closes at once, both encode. Workers
// start on the first row group large enough to be worth sending, and are unref'd whenever they
// have nothing to do, so an idle pool never keeps the process alive. A worker that cannot start
// (its script missing because the package was bundled, a broken install) turns the pool off for
// the process: the writer then encodes inline, with the same bytes.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { ConfigError } from '@tributary/core';
import type { LeafBuffer } from './column-buffer.js';
import type { ChunkResult, Codec } from './column-chunk.js';
import { ParquetError } from './errors.js';
import {
  type EncodedRowGroup,
  type ErrorData,
  errorFromData,
  type RowGroupTask,
  rowGroupTask,
} from './row-group-task.js';

/**
 * The environment variable that sizes the pool: unset (one worker per core but one on a machine
 * of 3 or more cores, none on 1 or 2), `0` (encode every row group on the calling thread), or a
 * number of workers. Read at each row group; the pool's size is fixed when its first worker starts.
 *
 * On 2 cores a worker made a 1M-row write 8 % faster in wall time on an idle machine (3.31 →
 * 3.05 s, medians of 3) but took 7 % more CPU and about 50 MiB more memory, and 3 % slower with
 * the other core busy: the default leaves it off there.
 */
export const WORKERS_VARIABLE = 'TRIBUTARY_PARQUET_WORKERS';

/**
 * Row groups with less plain-encoded column data than this are encoded inline: sending them
 * costs about what encoding them does (and a small file never starts a worker).
 */
export const MIN_POOL_BYTES = 256 * 1024;

/** Cores a machine needs before the pool is on by default. */
export const MIN_CORES_FOR_DEFAULT_POOL = 3;

/** Workers the environment asks for (0: inline). */
export function workerCount(): number {
  const value = process.env[WORKERS_VARIABLE];
  if (value === undefined || value === '') {
    const cores = availableParallelism();
    return cores >= MIN_CORES_FOR_DEFAULT_POOL ? cores - 1 : 0;
  }
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new ConfigError(
      `${WORKERS_VARIABLE} must be a whole number of workers (0: encode inline), got ${JSON.stringify(value)}`,
      { variable: WORKERS_VARIABLE },
    );
  }
  return n;
}

/** What a worker runs: the built script next to this module, or the sources through tsx. */
export interface WorkerEntry {
  file: URL;
  workerData?: unknown;
}

/**
 * The worker script beside this module: dist/parquet-worker.js from the ESM build,
 * dist/parquet-worker.cjs from the CommonJS one (whose `import.meta.url` the build rewrites to
 * the chunk's own file URL), and from the TypeScript sources a small .mjs that registers tsx.
 */
export function defaultWorkerEntry(): WorkerEntry {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      file: new URL('./parquet-worker-tsx.mjs', here),
      workerData: { entry: new URL('./parquet-worker.ts', here).href },
    };
  }
  return { file: new URL(here.endsWith('.cjs') ? './parquet-worker.cjs' : './parquet-worker.js', here) };
}

/** Main thread → worker. */
export interface WorkerRequest {
  id: number;
  task: RowGroupTask;
}

/** Worker → main thread. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'done'; id: number; bytes: Uint8Array; chunks: ChunkResult[] }
  | { type: 'failed'; id: number; error: ErrorData };

interface Job {
  id: number;
  leaves: readonly LeafBuffer[];
  compression: Codec;
  resolve(value: EncodedRowGroup): void;
  reject(reason: unknown): void;
}

interface PoolWorker {
  worker: Worker;
  ready: boolean;
  /** Settles once the worker is ready or lost. */
  started: Promise<void>;
  onStarted(): void;
  /** Jobs posted to the worker, by id. */
  running: Map<number, Job>;
  gone: boolean;
}

export interface EncodePoolOptions {
  /** Most workers (at least 1). */
  size: number;
  /** Default: {@link defaultWorkerEntry}. */
  entry?: WorkerEntry;
}

/**
 * Encodes row groups on worker threads. `encode` resolves with the group's bytes (at offset 0), or
 * returns undefined when no worker is ready and idle, in which case the leaves are untouched and
 * the caller encodes them itself.
 */
export class EncodePool {
  readonly size: number;
  readonly #entry: WorkerEntry;
  readonly #workers: PoolWorker[] = [];
  #nextId = 0;
  /** Why the pool is off (a worker could not start), once it is. */
  #unavailable: Error | undefined;

  constructor(options: EncodePoolOptions) {
    this.size = Math.max(1, Math.floor(options.size));
    this.#entry = options.entry ?? defaultWorkerEntry();
  }

  /** False once a worker failed to start: every later row group is encoded inline. */
  get available(): boolean {
    return this.#unavailable === undefined;
  }

  /**
   * Send a row group to an idle worker, or return undefined (synchronously) when none is ready and
   * idle: the caller encodes it itself. A worker is started meanwhile while the pool is below its
   * size.
   */
  encode(leaves: readonly LeafBuffer[], compression: Codec): Promise<EncodedRowGroup> | undefined {
    if (this.#unavailable) return undefined;
    const target = this.#idleWorker();
    if (!target) return undefined;
    return new Promise((resolve, reject) => {
      this.#post(target, { id: this.#nextId++, leaves, compression, resolve, reject });
      this.#updateRef(target);
    });
  }

  /** Start every worker and wait until each is ready (or the pool is off): tests, and warming up. */
  async warm(): Promise<void> {
    while (!this.#unavailable && this.#workers.length < this.size) if (!this.#start()) break;
    await Promise.all(this.#workers.map((w) => w.started));
  }

  /** Stop every worker (tests; the pool starts new ones on the next row group). */
  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(
      workers.map((w) => {
        w.gone = true;
        this.#fail(
          w,
          new ParquetError('the Parquet encoding pool was closed', { code: 'PARQUET_WRITE_FAILED' }),
        );
        return w.worker.terminate();
      }),
    );
  }

  /** A ready worker with nothing to do; else undefined, starting one while the pool is below its size. */
  #idleWorker(): PoolWorker | undefined {
    let starting = false;
    for (const w of this.#workers) {
      if (w.ready && w.running.size === 0) return w;
      if (!w.ready) starting = true;
    }
    if (!starting && this.#workers.length < this.size) this.#start();
    return undefined;
  }

  #start(): PoolWorker | undefined {
    const { file, workerData } = this.#entry;
    if (file.protocol === 'file:' && !existsSync(fileURLToPath(file))) {
      this.#turnOff(new Error(`the Parquet worker script ${fileURLToPath(file)} does not exist`));
      return undefined;
    }
    let worker: Worker;
    try {
      // SHARE_ENV: the worker reads TRIBUTARY_PARQUET_SNAPPY as this thread sees it now.
      worker = new Worker(file, { env: SHARE_ENV, workerData });
    } catch (err) {
      this.#turnOff(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
    worker.unref();
    let onStarted = () => {};
    const started = new Promise<void>((resolve) => {
      onStarted = resolve;
    });
    const w: PoolWorker = { worker, ready: false, started, onStarted, running: new Map(), gone: false };
    this.#workers.push(w);
    worker.on('message', (reply: WorkerReply) => this.#reply(w, reply));
    worker.on('error', (err) => this.#lost(w, err));
    worker.on('exit', (code) =>
      this.#lost(w, new Error(`the Parquet encoding worker exited with code ${code}`)),
    );
    return w;
  }

  #post(w: PoolWorker, job: Job): void {
    const { task, transfer } = rowGroupTask(job.leaves, job.compression);
    const request: WorkerRequest = { id: job.id, task };
    w.running.set(job.id, job);
    try {
      w.worker.postMessage(request, transfer);
    } catch (err) {
      w.running.delete(job.id);
      job.reject(err);
    }
  }

  #reply(w: PoolWorker, reply: WorkerReply): void {
    if (reply.type === 'ready') {
      w.ready = true;
      this.#updateRef(w);
      w.onStarted();
      return;
    }
    const job = w.running.get(reply.id);
    if (!job) return;
    w.running.delete(reply.id);
    this.#updateRef(w);
    if (reply.type === 'done') job.resolve({ bytes: reply.bytes, chunks: reply.chunks });
    else job.reject(errorFromData(reply.error));
  }

  /** A worker errored or exited: before `ready`, the pool turns off; after, its jobs fail. */
  #lost(w: PoolWorker, err: Error): void {
    if (w.gone) return;
    w.gone = true;
    const at = this.#workers.indexOf(w);
    if (at >= 0) this.#workers.splice(at, 1);
    // Jobs go only to ready workers: one lost while starting had none, and turns the pool off.
    if (!w.ready) this.#turnOff(err);
    w.onStarted();
    this.#fail(
      w,
      new ParquetError(`a Parquet encoding worker failed: ${err.message}`, {
        code: 'PARQUET_WRITE_FAILED',
        cause: err,
      }),
    );
    void w.worker.terminate();
  }

  #fail(w: PoolWorker, err: Error): void {
    for (const job of w.running.values()) job.reject(err);
    w.running.clear();
  }

  #turnOff(err: Error): void {
    if (this.#unavailable) return;
    this.#unavailable = err;
    process.emitWarning(
      `Parquet encoding workers are off, row groups are encoded on the calling thread: ${err.message}`,
      { code: 'TRIBUTARY_PARQUET_WORKERS' },
    );
  }

  /** Hold the process open only while the worker has jobs. */
  #updateRef(w: PoolWorker): void {
    if (w.running.size > 0) w.worker.ref();
    else w.worker.unref();
  }
}

let shared: EncodePool | undefined;

/**
 * The pool for a row group of `plainBytes`, or undefined to encode it inline: a small group,
 * `TRIBUTARY_PARQUET_WORKERS=0`, or a pool whose workers could not start.
 */
export function poolFor(plainBytes: number): EncodePool | undefined {
  if (plainBytes < MIN_POOL_BYTES) return undefined;
  const size = workerCount();
  if (size === 0) return undefined;
  shared ??= new EncodePool({ size });
  return shared.available ? shared : undefined;
}
