import { type OptionsErrorCode, TributaryError } from '@tributary/core';

// The Iceberg and Parquet options errors were `IcebergError`s and `ParquetError`s before they became
// core `OptionsError`s; `instanceof` of the old class stays true for them, so that code written
// against it keeps catching them.

/**
 * `instanceof` for an error class whose options errors are core `OptionsError`s: an instance of
 * `target`, or, for `base` itself (not a subclass), any tributary error carrying its options code.
 */
export function isInstanceOrOptionsError(
  target: abstract new (...args: never[]) => unknown,
  base: abstract new (...args: never[]) => unknown,
  value: unknown,
  code: OptionsErrorCode,
): boolean {
  if (Function.prototype[Symbol.hasInstance].call(target, value)) return true;
  return target === base && TributaryError.isInstance(value) && value.code === code;
}
