import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Write to a Node stream, waiting for 'drain' when its buffer is full; rejects if the stream fails. */
export async function writeTo(sink: Writable, chunk: Uint8Array | string): Promise<void> {
  if (sink.destroyed) throw sink.errored ?? new Error('the sink was destroyed');
  if (!sink.write(chunk)) {
    await Promise.race([once(sink, 'drain'), once(sink, 'error').then(([err]) => Promise.reject(err))]);
  }
}

/** End a Node stream and wait until it has flushed everything (or failed). */
export async function endSink(sink: Writable): Promise<void> {
  if (sink.writableFinished) return;
  const done = new Promise<void>((resolve, reject) => {
    sink.once('finish', resolve);
    sink.once('error', reject);
  });
  sink.end();
  await done;
}
