import { classifyError, computeBackoff, emitSafely, sleep } from '@tributary/core';
import type { StreamsErrorCode } from './errors.js';
import { codeOf, type Envelope, messageOf, type ProducerLedger } from './producer-ledger.js';
import type { ProducerLimits, ResolvedProducerOptions } from './producer-options.js';

// Sending works like the KPL's: the entries of every cut batch join one send queue, and each free
// request slot takes the next request from it — first the failed entries whose backoff is over,
// then new entries in the order they were put. A failed entry goes back into that queue with its
// own attempt count, backoff and deadline, and out again with newer records in a later request; a
// slot is free as soon as its call returns, so retries never hold one.

/** One entry of a request: one user record, or several packed into one (KPL aggregation). */
export interface WireEntry<T> {
  readonly users: readonly Envelope<T>[];
  readonly data: Uint8Array;
  readonly key: string;
  /** Index of the shard it should land on, or -1 when unknown. */
  readonly shard: number;
  readonly size: number;
  readonly deadline: number;
  /** Times it was sent. */
  attempts: number;
  /**
   * Failed attempts in a row in which its shard (or, when the shard is unknown, its request)
   * accepted nothing: the exponent of its backoff.
   */
  stalls: number;
  /** Not to be sent again before this time (backoff). */
  notBefore: number;
  lastCode: string | undefined;
}

/** What the service said about one entry of a request, by position. */
export type EntryOutcome =
  | { ok: true; shardId?: string | undefined }
  | { ok: false; code: string; message?: string | undefined; retryable?: boolean };

/** The per-entry answer of PutRecords (`Records[i]`) and PutRecordBatch (`RequestResponses[i]`). */
export interface EntryAnswer {
  ErrorCode?: string | null | undefined;
  ErrorMessage?: string | null | undefined;
  ShardId?: string | null | undefined;
}

/** What a producer does for its service: send a request, and keep each shard under its rate. */
export interface SendHooks<T> {
  /** Sends one request and returns the outcome of each entry by position. */
  send(entries: readonly WireEntry<T>[]): Promise<EntryOutcome[]>;
  /** Milliseconds before `entry` may be sent under the rate limit (0: now). */
  rateWait(entry: WireEntry<T>, now: number): number;
  /** Counts `entry` against the rate limit: it is being sent. */
  rateTake(entry: WireEntry<T>, now: number): void;
  /** Told about each entry the service accepted. */
  accepted(entry: WireEntry<T>, outcome: EntryOutcome & { ok: true }): void;
}

/** A failed entry to send again, and what its failure says. */
interface Retry<T> {
  entry: WireEntry<T>;
  code: string;
  throttled: boolean;
  /** Whether its shard (or request) accepted other entries in the same call. */
  progress: boolean;
}

const MIN_RATE_WAIT_MS = 50;
const MISSING_RESULT: StreamsErrorCode = 'MISSING_RESULT';

/** A plain one-record entry, never sent yet. */
export function entryOf<T>(envelope: Envelope<T>, shard: number): WireEntry<T> {
  return {
    users: [envelope],
    data: envelope.data,
    key: envelope.key,
    shard,
    size: envelope.size,
    deadline: envelope.deadline,
    attempts: 0,
    stalls: 0,
    notBefore: Number.NEGATIVE_INFINITY,
    lastCode: undefined,
  };
}

/** The outcome of one entry from the service's answer at its position (`operation` names the call). */
export function outcomeOf(answer: EntryAnswer | undefined, operation: string): EntryOutcome {
  if (answer === undefined) {
    return {
      ok: false,
      code: MISSING_RESULT,
      message: `${operation} returned no result here`,
      retryable: true,
    };
  }
  if (answer.ErrorCode !== undefined && answer.ErrorCode !== null && answer.ErrorCode !== '') {
    return { ok: false, code: answer.ErrorCode, message: answer.ErrorMessage ?? undefined };
  }
  return { ok: true, shardId: answer.ShardId ?? undefined };
}

/** How a per-entry error code is classified: the AWS error of that name would be. */
function classifyCode(code: string): { retryable: boolean; throttled: boolean } {
  const classification = classifyError({ name: code, $metadata: {} });
  return { retryable: classification.retryable, throttled: classification.kind === 'throttling' };
}

const usersIn = <T>(entries: readonly WireEntry<T>[]): number =>
  entries.reduce((sum, entry) => sum + entry.users.length, 0);
const bytesIn = <T>(entries: readonly WireEntry<T>[]): number =>
  entries.reduce((sum, entry) => sum + entry.size, 0);

/**
 * The send queue of a producer: at most `maxConcurrentRequests` requests in flight, each within
 * the request limits and the rate limit; failed entries back in the queue after their backoff;
 * entries whose TTL ran out failed. Every record's fate goes to the ledger.
 */
export class SendQueue<T> {
  // Entries never sent, in put order, and failed entries waiting for their backoff.
  private fresh: WireEntry<T>[] = [];
  private again: WireEntry<T>[] = [];
  private requests = 0;
  // When the pending wake-up (a sleep on the clock) ends; one at a time, the earliest needed.
  private wakeAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly options: Readonly<ResolvedProducerOptions<T>>,
    private readonly limits: Readonly<ProducerLimits>,
    private readonly ledger: ProducerLedger<T>,
    private readonly hooks: SendHooks<T>,
  ) {}

  /** Queues new entries behind those already there, and sends what can go. */
  push(entries: readonly WireEntry<T>[]): void {
    for (const entry of entries) this.fresh.push(entry);
    this.pump();
  }

  /** Starts requests while slots are free and entries can go; when idle, sleeps until one can. */
  private pump(): void {
    const { clock, maxConcurrentRequests } = this.options;
    while (this.requests < maxConcurrentRequests && this.fresh.length + this.again.length > 0) {
      const now = clock.now();
      const { chunk, waitMs, rateLimited, untilDeadline } = this.take(now);
      if (chunk.length > 0) {
        this.requests++;
        void this.sendChunk(chunk).finally(() => {
          this.requests--;
          this.pump();
        });
        continue;
      }
      // A request in flight pumps again when it returns; a timer is needed only when none is.
      if (this.requests > 0 || this.fresh.length + this.again.length === 0) return;
      // Waiting for a few tokens more makes requests of many records rather than of one.
      const wait = rateLimited ? Math.max(waitMs, MIN_RATE_WAIT_MS) : waitMs;
      this.wake(now, Math.min(wait, untilDeadline));
      return;
    }
  }

  private wake(now: number, waitMs: number): void {
    const delay = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs)) : 1;
    const at = now + delay;
    if (at >= this.wakeAt) return;
    this.wakeAt = at;
    const woken = () => {
      if (this.wakeAt === at) this.wakeAt = Number.POSITIVE_INFINITY;
      this.pump();
    };
    sleep(delay, { clock: this.options.clock }).then(woken, woken);
  }

  /**
   * Takes the next request from the send queue: failed entries whose backoff is over first (they
   * are older), then new ones, within the request's limits and the rate limit; fails the entries
   * whose TTL ran out. When nothing can go, says how long until something can.
   */
  private take(now: number): {
    chunk: WireEntry<T>[];
    waitMs: number;
    rateLimited: boolean;
    untilDeadline: number;
  } {
    const { maxRequestCount, maxRequestBytes } = this.limits;
    const chunk: WireEntry<T>[] = [];
    let bytes = 0;
    let waitMs = Number.POSITIVE_INFINITY;
    let rateLimited = false;
    let untilDeadline = Number.POSITIVE_INFINITY;
    // Shards the rate limit holds back in this pass: their later entries wait without asking,
    // so that a small entry never jumps ahead of a larger one of the same shard.
    const held = new Set<number>();
    // Takes what can go from `queue` and compacts the rest in place, in order.
    const from = (queue: WireEntry<T>[]): void => {
      let kept = 0;
      let index = 0;
      for (; index < queue.length && chunk.length < maxRequestCount; index++) {
        const entry = queue[index] as WireEntry<T>;
        if (now >= entry.deadline) {
          this.expire(entry);
          continue;
        }
        let go = bytes + entry.size <= maxRequestBytes && entry.notBefore <= now;
        if (go && entry.shard >= 0 && held.has(entry.shard)) go = false;
        else if (go) {
          const wait = this.hooks.rateWait(entry, now);
          if (wait > 0) {
            go = false;
            rateLimited = true;
            waitMs = Math.min(waitMs, wait);
            if (entry.shard >= 0) held.add(entry.shard);
          }
        }
        if (go) {
          this.hooks.rateTake(entry, now);
          chunk.push(entry);
          bytes += entry.size;
          continue;
        }
        queue[kept++] = entry;
        untilDeadline = Math.min(untilDeadline, entry.deadline - now);
        if (entry.notBefore > now) waitMs = Math.min(waitMs, entry.notBefore - now);
      }
      if (kept === index) return;
      if (kept === 0) {
        queue.splice(0, index);
        return;
      }
      // What was not looked at (the request filled up) moves up behind what was kept.
      for (let next = index; next < queue.length; next++) queue[kept++] = queue[next] as WireEntry<T>;
      queue.length = kept;
    };
    from(this.again);
    from(this.fresh);
    return { chunk, waitMs, rateLimited, untilDeadline };
  }

  private expire(entry: WireEntry<T>): void {
    const last = entry.lastCode ?? 'none, it waited for the rate limit';
    const code: StreamsErrorCode = 'RECORD_TTL_EXPIRED';
    this.ledger.fail(
      entry.users,
      code,
      `Not delivered within recordTtlMs (${this.options.recordTtlMs} ms) after ${entry.attempts} attempt(s); last error: ${last}`,
    );
  }

  /** Sends one request and settles or re-queues each of its entries. */
  private async sendChunk(chunk: WireEntry<T>[]): Promise<void> {
    try {
      await this.sendOnce(chunk);
    } catch (error) {
      // Only a bug gets here; still, no record may go unaccounted for.
      for (const entry of chunk) {
        this.ledger.fail(entry.users, codeOf(error, 'PRODUCER_FAILED'), messageOf(error), error);
      }
    }
  }

  private async sendOnce(chunk: WireEntry<T>[]): Promise<void> {
    const { clock, onEvent } = this.options;
    for (const entry of chunk) {
      if (entry.attempts > 0) this.ledger.resent(entry.users.length);
      entry.attempts++;
    }
    const started = clock.now();
    let outcomes: EntryOutcome[];
    try {
      outcomes = await this.hooks.send(chunk);
    } catch (error) {
      const classification = classifyError(error);
      const code = codeOf(error, 'REQUEST_FAILED');
      if (!classification.retryable) {
        for (const entry of chunk) this.ledger.fail(entry.users, code, messageOf(error), error);
        return;
      }
      const throttled = classification.kind === 'throttling';
      this.requeue(
        chunk.map((entry) => ({ entry, code, throttled, progress: false })),
        classification.retryAfterMs ?? 0,
        error,
      );
      return;
    }
    emitSafely(onEvent, {
      type: 'batch',
      source: this.limits.source,
      count: usersIn(chunk),
      bytes: bytesIn(chunk),
      durationMs: clock.now() - started,
      time: Date.now(),
    });
    const failed: Omit<Retry<T>, 'progress'>[] = [];
    const delivered: WireEntry<T>[] = [];
    chunk.forEach((entry, index) => {
      const outcome: EntryOutcome = outcomes[index] ?? {
        ok: false,
        code: MISSING_RESULT,
        message: 'The response had no result for this entry',
        retryable: true,
      };
      if (outcome.ok) {
        delivered.push(entry);
        this.hooks.accepted(entry, outcome);
        return;
      }
      const classified = classifyCode(outcome.code);
      if (outcome.retryable ?? classified.retryable) {
        failed.push({ entry, code: outcome.code, throttled: classified.throttled });
      } else {
        this.ledger.fail(entry.users, outcome.code, outcome.message);
      }
    });
    if (delivered.length > 0) {
      this.ledger.delivered(
        delivered.flatMap((entry) => entry.users),
        bytesIn(delivered),
      );
    }
    if (failed.length === 0) return;
    // A shard that took some of the call's entries is taking records: what it refused goes back
    // soon. Only failures where it took none make the backoff longer.
    const acceptedShards = new Set(delivered.map((entry) => entry.shard));
    const progress = (entry: WireEntry<T>) =>
      entry.shard < 0 ? delivered.length > 0 : acceptedShards.has(entry.shard);
    this.requeue(
      failed.map((retry) => ({ ...retry, progress: progress(retry.entry) })),
      0,
      undefined,
    );
  }

  /**
   * Puts failed entries back into the send queue. An entry refused while its shard accepted
   * others waits up to `baseDelayMs`; one whose shard accepted nothing backs off from
   * `throttledBaseDelayMs` when the service said it was throttling, else from `baseDelayMs`,
   * doubling with each such failure in a row; at least the server's Retry-After (full jitter).
   * The entries of one response wait the longest of their backoffs, so that they go back
   * together (with newer records) rather than one by one.
   */
  private requeue(retries: Retry<T>[], retryAfterMs: number, error: unknown): void {
    const { baseDelayMs, throttledBaseDelayMs, maxDelayMs, random, clock, onEvent } = this.options;
    const draw = random();
    let delay = Math.min(retryAfterMs, maxDelayMs);
    let attempt = 0;
    let count = 0;
    for (const { entry, throttled, progress } of retries) {
      entry.stalls = progress ? 0 : entry.stalls + 1;
      const base = throttled && !progress ? throttledBaseDelayMs : baseDelayMs;
      delay = Math.max(
        delay,
        computeBackoff(Math.max(1, entry.stalls), base, maxDelayMs, () => draw),
      );
      attempt = Math.max(attempt, entry.attempts);
      count += entry.users.length;
    }
    const notBefore = clock.now() + delay;
    for (const { entry, code } of retries) {
      entry.notBefore = notBefore;
      entry.lastCode = code;
      this.again.push(entry);
    }
    emitSafely(onEvent, {
      type: 'retry',
      source: this.limits.source,
      attempt,
      delayMs: delay,
      count,
      reason: retries.find((r) => r.throttled)?.code ?? retries[0]?.code,
      error,
      time: Date.now(),
    });
    this.pump();
  }
}
