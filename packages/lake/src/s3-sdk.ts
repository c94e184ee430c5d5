// What S3Storage reads of the SDK's answers and errors, and the body it streams to lib-storage.

/**
 * The body as a stream of Buffers for lib-storage: counts the bytes, and ends with the signal's
 * reason as soon as it aborts, even while waiting for the next chunk.
 */
export async function* abortable(
  body: AsyncIterable<Uint8Array | string>,
  counted: { bytes: number },
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  let finished = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const result = await (signal ? Promise.race([iterator.next(), aborted]) : iterator.next());
      if (result.done) {
        finished = true;
        return;
      }
      const chunk =
        typeof result.value === 'string'
          ? Buffer.from(result.value)
          : Buffer.from(result.value.buffer, result.value.byteOffset, result.value.byteLength);
      counted.bytes += chunk.byteLength;
      yield chunk;
    }
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // Release the caller's stream when we stop early. Not awaited: a generator that is still
    // waiting for its next chunk only returns after that chunk.
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => {});
  }
}

export function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

export function isNoSuchKey(err: unknown): boolean {
  const name = (err as Error | undefined)?.name;
  return name === 'NoSuchKey' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}

export function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '');
}
