import { TributaryError } from '@tributary/core';

/**
 * The Lambda consumer was misused: bad handler options (`LAMBDA_OPTIONS_INVALID`, with
 * `context.option`), an event that is not a Kinesis event (`LAMBDA_EVENT_INVALID`), or the local
 * runner gave up on a batch that kept failing (`LAMBDA_BATCH_FAILED`, with `context.shardId`).
 *
 * @example
 * ```ts
 * try { createHandler({ storage: lake.raw, bufferBytes: 0 }); }
 * catch (err) { if (err instanceof LambdaConsumerError) console.log(err.code, err.context.option); }
 * ```
 */
export class LambdaConsumerError extends TributaryError {
  override name = 'LambdaConsumerError';

  constructor(
    message: string,
    options: { code: string; cause?: unknown; retryable?: boolean; context?: Record<string, unknown> },
  ) {
    super(message, options);
  }
}
