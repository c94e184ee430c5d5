import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Body, LocalStorage, type ObjectInfo, type PutOptions, type Storage } from '@tributary/lake';
import { generateRecords } from '@tributary/sensors';
import { afterAll, describe, expect, it } from 'vitest';
import { runLambdaConsumer } from '../../src/lambda-consumer.js';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = resolve(exampleDir, '../../node_modules/.bin/tsx');
const root = mkdtempSync(join(tmpdir(), 'tributary-example-lambda-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every id in the raw zone's data objects, one entry per stored line. */
async function storedIds(storage: Storage): Promise<string[]> {
  const ids: string[] = [];
  for await (const info of storage.list('sensors/')) {
    const text = Buffer.from(await storage.getBytes(info.key)).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') ids.push(JSON.parse(line).id);
  }
  return ids;
}

const expectedIds = (records: number, seed: number) =>
  [...generateRecords({ sensorsPerType: 5, seed, ratePerSecond: 1_000, records })].map((r) => r.id).sort();

/** The raw zone's folder, whose first `failures` puts of a data object fail (not transient: no retry). */
function flakyStorage(rootDir: string, failures: number): Storage & { failed: number } {
  const inner = new LocalStorage({ root: rootDir });
  const storage = {
    url: inner.url,
    failed: 0,
    put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
      if (key.startsWith('sensors/') && storage.failed < failures) {
        storage.failed++;
        return Promise.reject(new Error(`injected failure writing ${key}`));
      }
      return inner.put(key, body, options);
    },
    get: inner.get.bind(inner),
    getBytes: inner.getBytes.bind(inner),
    head: inner.head.bind(inner),
    list: inner.list.bind(inner),
    listPrefixes: inner.listPrefixes.bind(inner),
    delete: inner.delete.bind(inner),
  };
  return storage;
}

describe('examples/lambda-consumer', () => {
  it('delivers every produced record into the raw zone exactly once, batch by batch', async () => {
    const out = join(root, 'run');
    const result = await runLambdaConsumer({ out, records: 20_000, seed: 3, batchSize: 100, shards: 2 });

    expect(result.produced).toBe(20_000);
    // Aggregated: far fewer Kinesis records than readings, yet more than one batch per shard.
    expect(result.kinesisRecords).toBeLessThan(1_000);
    expect(result.kinesisRecords).toBeGreaterThan(200);
    expect(result.invocations).toBeGreaterThanOrEqual(Math.ceil(result.kinesisRecords / 100));
    expect(result.retried).toBe(0);
    expect(result.userRecords).toBe(20_000);
    expect(result.delivered).toBe(20_000);
    expect(result.invalid).toBe(0);

    const ids = await storedIds(result.lake.raw);
    expect(ids).toHaveLength(20_000);
    expect(ids.sort()).toEqual(expectedIds(20_000, 3));
  }, 120_000);

  it('retries from the first failed record after a storage failure, still exactly once', async () => {
    const out = join(root, 'flaky');
    const storage = flakyStorage(join(out, 'raw'), 2);
    const result = await runLambdaConsumer({
      out,
      records: 6_000,
      seed: 5,
      batchSize: 10,
      storage,
      onEvent: () => {},
    });

    expect(storage.failed).toBe(2);
    expect(result.retried).toBe(2);
    expect(result.delivered).toBe(6_000);
    const ids = await storedIds(result.lake.raw);
    expect(ids).toHaveLength(6_000);
    expect(ids.sort()).toEqual(expectedIds(6_000, 5));
  }, 120_000);

  it('runs from the command line, resolving --out against INIT_CWD', async () => {
    const cwd = mkdtempSync(join(root, 'cli-'));
    const { stdout } = await promisify(execFile)(
      tsx,
      ['src/cli.ts', '--', '--records', '3000', '--seed', '9', '--out', 'lake'],
      { cwd: exampleDir, env: { ...process.env, INIT_CWD: cwd }, timeout: 90_000 },
    );

    expect(stdout).toContain('produced 3,000 sensor records');
    expect(stdout).toMatch(/→ 3,000 in \d+ raw objects, 0 to the error prefix/);
    const ids = await storedIds(new LocalStorage({ root: join(cwd, 'lake', 'raw') }));
    expect(ids.sort()).toEqual(expectedIds(3_000, 9));
  }, 120_000);
});
