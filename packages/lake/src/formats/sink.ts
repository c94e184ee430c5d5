import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** Write to a Node stream, waiting for 'drain' when its buffer is full; rejects if the stream fails. */
export async function writeTo(sink: Writable, chunk: Uint8Array | string): Promise<void> {
  if (sink.destroyed) throw sink.errored ?? new Error('the sink was destroyed');
  if (sink.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    // Every listener is removed again, so a long file does not pile up listeners per wait.
    const cleanup = () => {
      sink.off('drain', onDrain);
      sink.off('error', onError);
      sink.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(sink.errored ?? new Error('the sink closed before it drained'));
    };
    sink.on('drain', onDrain);
    sink.on('error', onError);
    sink.on('close', onClose);
  });
}

/** End a Node stream and wait until it has flushed everything (rejects if it fails or is destroyed first). */
export async function endSink(sink: Writable): Promise<void> {
  if (sink.writableFinished) return;
  const done = finished(sink, { readable: false });
  sink.end();
  await done;
}
