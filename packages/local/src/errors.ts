import { OptionsError, TributaryError } from '@tributary/core';

// The local stack's errors. Wrong options are core's OptionsError (`LOCAL_OPTIONS_INVALID`, thrown
// before anything starts); a server that cannot start is a LocalStartError with its log.

/** The error of wrong options of `start<Server>()`: `<fn>: <message>`, naming the option. */
export function localOptionsError(fn: string, option: string, message: string): OptionsError {
  return new OptionsError(`${fn}: ${message}`, { code: 'LOCAL_OPTIONS_INVALID', option });
}

/** The servers of the local stack, as {@link LocalStartError} names them. */
export type LocalServerName = 'postgres' | 'moto_server' | 'kinesalite' | 's3rver';

/**
 * A local server could not start: its program is missing, it exited, it did not answer in time,
 * or its setup (databases, streams) failed. The message ends with the tail of the server's log;
 * `context.server` names it.
 *
 * @example
 * ```ts
 * import { LocalStartError, startPostgres } from '@tributary/local';
 *
 * try {
 *   await startPostgres();
 * } catch (error) {
 *   if (error instanceof LocalStartError) console.error(`${error.context.server} did not start`);
 *   throw error;
 * }
 * ```
 */
export class LocalStartError extends TributaryError {
  override name = 'LocalStartError';

  constructor(
    message: string,
    options: { server: LocalServerName; cause?: unknown; code?: 'LOCAL_START_FAILED' | 'LOCAL_PORT_TAKEN' },
  ) {
    super(message, {
      code: options.code ?? 'LOCAL_START_FAILED',
      context: { server: options.server },
      cause: options.cause,
      retryable: options.code === 'LOCAL_PORT_TAKEN',
    });
  }
}

/**
 * A server could not bind the port it was given (another process took it after `freePort()`
 * found it free); the caller tries again with another port.
 */
export class PortTakenError extends LocalStartError {
  override name = 'PortTakenError';

  constructor(message: string, server: LocalServerName) {
    super(message, { server, code: 'LOCAL_PORT_TAKEN' });
  }
}

/**
 * Every code the local stack's errors carry.
 *
 * @example
 * ```ts
 * const code: LocalErrorCode = 'LOCAL_OPTIONS_INVALID';
 * ```
 */
export type LocalErrorCode = 'LOCAL_OPTIONS_INVALID' | 'LOCAL_START_FAILED' | 'LOCAL_PORT_TAKEN';
