import { inspect } from 'node:util';
import { ConfigError } from './errors.js';

/** What a {@link Secret} shows instead of its value. */
export const REDACTED = '[redacted]';

/**
 * A string that must not leak: an API key, a connection URL with a password.
 * Every way a value is usually turned into text (`String`, template strings, `JSON.stringify`,
 * `console.log`, `util.inspect`) prints `[redacted]`; only `reveal()` returns the value.
 *
 * @example
 * ```ts
 * const key = new Secret(process.env.CMC_API_KEY ?? '');
 * console.log(`using ${key}`); // using [redacted]
 * await fetch('https://pro-api.coinmarketcap.com/v1/key/info', { headers: { 'X-CMC_PRO_API_KEY': key.reveal() } });
 * ```
 */
export class Secret {
  // A private field, unlike a property, is invisible to Object.keys, spread, structuredClone and inspect.
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') {
      throw new ConfigError(`Secret value must be a string (got ${typeof value})`);
    }
    this.#value = value;
  }

  /** The secret itself. Call it only where the value leaves for its destination. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
