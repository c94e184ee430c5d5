import { TributaryError } from '@tributary/core';

/** A source of time, injectable so tests need not wait. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Calls allowed per minute; also the burst size. A positive number. */
  callsPerMinute: number;
  clock?: Clock;
}

/**
 * A token bucket: `callsPerMinute` tokens at most, refilled continuously at that rate. Starts
 * full, so a short burst goes out at once and a long run settles at the plan's rate. Internal: the
 * client's rate limit (`plan.callsPerMinute`).
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;
  // Callers queue, so concurrent take()s cannot all see the same token.
  #queue: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    const { callsPerMinute } = options;
    if (typeof callsPerMinute !== 'number' || !Number.isFinite(callsPerMinute) || callsPerMinute <= 0) {
      throw new TributaryError(`callsPerMinute must be a positive number (got ${String(callsPerMinute)})`, {
        code: 'INVALID_OPTIONS',
      });
    }
    this.#capacity = callsPerMinute;
    this.#perMs = callsPerMinute / 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = callsPerMinute;
    this.#updatedAt = this.#clock.now();
  }

  /** Tokens available now (fractional while refilling). */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Milliseconds until one token is available (0 when one is). */
  waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  /** Takes one token if there is one; never waits. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes one token, waiting on the clock until there is one. */
  take(): Promise<void> {
    const next = this.#queue.then(async () => {
      for (;;) {
        if (this.tryTake()) return;
        await this.#clock.sleep(this.waitMs());
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
}
