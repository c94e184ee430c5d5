// The entry point of a Parquet encoding worker (see encode-pool.ts): it encodes the row groups it
// is sent, one at a time, and says `ready` once loaded, so that a worker that cannot load (a
// missing script in a bundle, a broken install) is told apart from one that failed a task.
import { parentPort } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './encode-pool.js';
import { encodeRowGroup, errorData, leavesOf } from './row-group-task.js';

const port = parentPort;
if (!port) throw new Error('parquet-worker must run in a worker thread');

port.on('message', ({ id, task }: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const { bytes, chunks } = encodeRowGroup(leavesOf(task), task.compression);
    reply = { type: 'done', id, bytes, chunks };
    port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { type: 'failed', id, error: errorData(err) };
    port.postMessage(reply);
  }
});
const ready: WorkerReply = { type: 'ready' };
port.postMessage(ready);
