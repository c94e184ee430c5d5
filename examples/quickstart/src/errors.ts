import { TributaryError, type TributaryErrorOptions } from '@tributary/core';

/**
 * The quickstart could not run as asked: an invalid option (`QUICKSTART_INVALID`, `context.option`
 * names it), a mode or engine that is not available here (`QUICKSTART_UNAVAILABLE`), or a stage
 * that failed (`QUICKSTART_STAGE_FAILED`, `context.stage` names it, `cause` holds the error).
 *
 * @example
 * ```ts
 * try { await runQuickstart({ out: '', records: 0 }); } catch (err) {
 *   if (err instanceof QuickstartError && err.code === 'QUICKSTART_INVALID') console.error(err.message);
 * }
 * ```
 */
export class QuickstartError extends TributaryError {
  override name = 'QuickstartError';

  constructor(message: string, options: TributaryErrorOptions = {}) {
    super(message, { code: 'QUICKSTART_FAILED', ...options });
  }
}

/** An option out of range or of the wrong type. */
export function invalidOption(option: string, message: string): QuickstartError {
  return new QuickstartError(message, { code: 'QUICKSTART_INVALID', context: { option } });
}
