import { type Clock, sleep, systemClock } from './clock.js';
import { optionChecks } from './options.js';

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens held, and so the largest burst. A finite number > 0. The bucket starts full. */
  capacity: number;
  /** Tokens gained per second. A finite number > 0. */
  refillPerSecond: number;
  /** Default {@link systemClock}. */
  clock?: Clock;
}

const check = optionChecks('TokenBucket', 'TOKEN_BUCKET_OPTIONS_INVALID');

/**
 * A token bucket: at most `capacity` tokens, refilled continuously at `refillPerSecond`, starting
 * full, so a short burst goes out at once and a long run settles at the rate. `take()` waits for
 * tokens (callers served in order); `waitMs()` and `debit()` serve callers that schedule
 * themselves (the balance may go negative, which delays what comes next). Time read from
 * `clock`; a clock that goes back adds nothing.
 *
 * @example
 * ```ts
 * // 30 calls a minute, in bursts of up to 30.
 * const bucket = new TokenBucket({ capacity: 30, refillPerSecond: 0.5 });
 * for (const url of ['https://example.com/a', 'https://example.com/b']) {
 *   await bucket.take();
 *   await fetch(url);
 * }
 * ```
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;
  // Callers of take() queue, so concurrent ones cannot all see the same token.
  #queue: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    check.object('options', options);
    this.#capacity = check.positiveNumber('capacity', options.capacity);
    this.#perMs = check.positiveNumber('refillPerSecond', options.refillPerSecond) / 1000;
    this.#clock = options.clock === undefined ? systemClock : check.clock('clock', options.clock);
    this.#tokens = this.#capacity;
    this.#updatedAt = this.#clock.now();
  }

  /** Tokens available now (fractional while refilling, negative after an overdraft). */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Milliseconds until `amount` tokens are there (0 when they are now). A request for more than
   * the capacity waits for a full bucket, so that an oversized item still goes through.
   */
  waitMs(amount = 1): number {
    this.#refill();
    const needed = Math.min(amount, this.#capacity);
    if (this.#tokens >= needed) return 0;
    return Math.max(1, Math.ceil((needed - this.#tokens) / this.#perMs));
  }

  /** Takes `amount` tokens if they are there; never waits. */
  tryTake(amount = 1): boolean {
    this.#refill();
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }

  /** Removes `amount` tokens whatever the balance; a negative balance delays what comes next. */
  debit(amount: number): void {
    this.#refill();
    this.#tokens -= amount;
  }

  /**
   * Takes `amount` tokens (at most the capacity is waited for), waiting on the clock until they
   * are there. Rejects with `signal.reason` if `signal` aborts first; nothing is taken then.
   */
  take(amount = 1, options: { signal?: AbortSignal } = {}): Promise<void> {
    const next = this.#queue.then(async () => {
      for (;;) {
        const wait = this.waitMs(amount);
        if (wait === 0) {
          this.debit(amount);
          return;
        }
        await sleep(wait, { clock: this.#clock, signal: options.signal });
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #refill(): void {
    const now = this.#clock.now();
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#perMs);
      this.#updatedAt = now;
    }
  }
}
