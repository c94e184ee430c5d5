// Only when the lake runs from its TypeScript sources (vitest, `node --import tsx`): the worker
// thread registers tsx, then loads parquet-worker.ts. The published package runs the built
// dist/parquet-worker.js (or .cjs) directly and never loads this file.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
