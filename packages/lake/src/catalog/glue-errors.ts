import { classifyError, type ErrorContext, TributaryError } from '@tributary/core';
import { CatalogError } from './errors.js';

// How the two Glue catalogs (tables, Iceberg tables) read and wrap the SDK's errors.

/** The name of an AWS error (`EntityNotFoundException`), looking through causes. */
export function glueErrorName(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string' && name.endsWith('Exception')) return name;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Run a Glue call; an SDK error becomes a `CatalogError` (`CATALOG_FAILED`, or the code `codeOf`
 * gives for the error's name) with the SDK's error as `cause`; tributary errors pass unchanged.
 */
export async function callGlue<T>(
  what: string,
  where: string,
  context: ErrorContext,
  run: () => Promise<T>,
  codeOf: (errorName: string | undefined) => string = () => 'CATALOG_FAILED',
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (TributaryError.isInstance(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new CatalogError(`Glue ${what} failed for ${where}: ${message}`, {
      code: codeOf(glueErrorName(err)),
      cause: err,
      retryable: classifyError(err).retryable,
      context,
    });
  }
}
