import { type EventListener, emitSafely } from './events.js';
import { classifyError } from './retry.js';

/**
 * The name of the middleware {@link addSdkRetryEvents} puts in a middleware stack. Adding it
 * again replaces it (`override`), so a command or client never counts a retry twice.
 */
export const SDK_RETRY_EVENTS_MIDDLEWARE = 'tributarySdkRetryEvents';

/** One step of an AWS SDK v3 handler chain, as the middleware stack calls it. */
export type SdkHandler<A, O> = (args: A) => Promise<O>;

/** An AWS SDK v3 middleware that fits every step: wraps the next handler, once per `send`. */
export type SdkMiddleware = <A, O>(next: SdkHandler<A, O>, context: unknown) => SdkHandler<A, O>;

/**
 * What {@link addSdkRetryEvents} needs: an AWS SDK v3 command or client, typed by the one call it
 * makes on its middleware stack (core depends on no AWS package).
 */
export interface SdkMiddlewareHost {
  readonly middlewareStack: {
    add(
      middleware: SdkMiddleware,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string; override: boolean; tags: string[] },
    ): unknown;
  };
}

/** Options of {@link addSdkRetryEvents}. */
export interface SdkRetryEventsOptions {
  /** The `source` of the events: the stage that sends the commands (`athena`, `kinesis-source`). */
  source: string;
  /** Receives one `retry` event per retry the SDK makes. Nothing is added when it is undefined. */
  onEvent: EventListener | undefined;
}

/**
 * Report the AWS SDK's own retries of a command (or of every command of a client) as `retry`
 * events: the SDK retries each call itself (`maxAttempts`, `retryStrategy` on the client), and this
 * middleware is how a stage counts those retries without adding a loop of its own.
 *
 * It sits in the `finalizeRequest` step at low priority, inside the SDK's retry middleware, so it
 * sees every attempt. When an attempt starts after a failed one it emits `retry` with the failed
 * attempt's number (from 1), the error, its kind (`classifyError`) and `delayMs`, the time since
 * that attempt failed (the SDK's wait). A final failure that the SDK does not retry emits nothing:
 * it reaches the caller. Returns `host`.
 *
 * @example
 * ```ts
 * declare const command: SdkMiddlewareHost; // e.g. new GetQueryExecutionCommand({ QueryExecutionId })
 * addSdkRetryEvents(command, {
 *   source: 'athena',
 *   onEvent: (event) => {
 *     if (event.type === 'retry') console.warn(`retry ${event.attempt} after ${event.reason}`);
 *   },
 * });
 * ```
 */
export function addSdkRetryEvents<H extends SdkMiddlewareHost>(host: H, options: SdkRetryEventsOptions): H {
  const { source, onEvent } = options;
  if (onEvent === undefined) return host;
  const middleware: SdkMiddleware = (next) => {
    let attempt = 0;
    let failed: { error: unknown; at: number } | undefined;
    return async (args) => {
      attempt++;
      if (failed !== undefined) {
        emitSafely(onEvent, {
          type: 'retry',
          source,
          attempt: attempt - 1,
          delayMs: Math.max(0, Date.now() - failed.at),
          reason: classifyError(failed.error).kind,
          error: failed.error,
          time: Date.now(),
        });
        failed = undefined;
      }
      try {
        return await next(args);
      } catch (error) {
        failed = { error, at: Date.now() };
        throw error;
      }
    };
  };
  host.middlewareStack.add(middleware, {
    step: 'finalizeRequest',
    priority: 'low',
    name: SDK_RETRY_EVENTS_MIDDLEWARE,
    override: true,
    tags: ['TRIBUTARY', 'RETRY_EVENTS'],
  });
  return host;
}
