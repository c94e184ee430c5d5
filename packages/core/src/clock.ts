// The one time source of tributary: timers, pacing, token buckets and event times all read it, so
// a test can drive them with a fake one.

/**
 * A time source: the time and the timers. Inject a fake one in tests.
 *
 * @example
 * ```ts
 * // A clock that runs only when the test says so.
 * let now = 0;
 * const timers = new Set<{ at: number; fn: () => void }>();
 * const manual: Clock = {
 *   now: () => now,
 *   setTimeout: (fn, ms) => {
 *     const timer = { at: now + ms, fn };
 *     timers.add(timer);
 *     return timer;
 *   },
 *   clearTimeout: (handle) => {
 *     timers.delete(handle as { at: number; fn: () => void });
 *   },
 * };
 * ```
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now()` and the global timers (which keep the process alive while they run).
 *
 * @example
 * ```ts
 * const startedAt = systemClock.now();
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Ends the wait at once: the promise rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Default {@link systemClock}. */
  clock?: Clock | undefined;
}

/**
 * Resolves after `ms` milliseconds on `clock`; rejects with `signal.reason` as soon as `signal`
 * aborts (at once if it already has), and then clears its timer.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(new Error('shutting down')), 50);
 * await sleep(1_000, { signal: controller.signal }).catch((reason) => console.log(reason)); // after 50 ms
 * ```
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, clock = systemClock } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let handle: unknown;
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    // Listen first: a fake clock may run the callback before setTimeout returns.
    signal?.addEventListener('abort', onAbort, { once: true });
    handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
  });
}
