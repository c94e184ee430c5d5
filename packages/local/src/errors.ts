import { OptionsError, TributaryError } from '@tributary/core';

// The local stack's errors. Wrong options are core's OptionsError (`LOCAL_OPTIONS_INVALID`, thrown
// before anything starts); a server that cannot start is still a plain Error with its log.

/** The error of wrong options of `start<Server>()`: `<fn>: <message>`, naming the option. */
export function localOptionsError(fn: string, option: string, message: string): OptionsError {
  return new OptionsError(`${fn}: ${message}`, { code: 'LOCAL_OPTIONS_INVALID', option });
}

/**
 * A server could not bind the port it was given (another process took it after `freePort()`
 * found it free); the caller tries again with another port.
 */
export class PortTakenError extends TributaryError {
  override name = 'PortTakenError';

  constructor(message: string) {
    super(message, { code: 'LOCAL_PORT_TAKEN', retryable: true });
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
export type LocalErrorCode = 'LOCAL_OPTIONS_INVALID' | 'LOCAL_PORT_TAKEN';
