import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PutRecordsCommandInput, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEnvironment, type LocalEnvironment } from '../../src/local-environment.js';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';

// A stream that acknowledges records it does not keep, as moto's Kinesis does under concurrent
// PutRecords (a race in its sequence numbers: every entry reported stored, some never readable).
// Here kinesalite is sent all but every 97th entry of each PutRecords, and the producer is told
// they were all stored. The demo must count what was lost instead of reporting success.

const out = mkdtempSync(join(tmpdir(), 'tributary-lost-records-'));
const EVERY = 97;
let env: LocalEnvironment;
let dropped = 0;
let result: QuickstartResult;
const lines: string[] = [];

beforeAll(async () => {
  env = await createLocalEnvironment({ out, env: { TRIBUTARY_MODE: 'local' } });
  env.kinesis.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as PutRecordsCommandInput;
      const entries = input.Records ?? [];
      const kept = entries.filter((_, i) => i % EVERY !== EVERY - 1);
      dropped += entries.length - kept.length;
      const response = await next({ ...args, input: { ...input, Records: kept } });
      const output = response.output as PutRecordsCommandOutput;
      const stored = [...(output.Records ?? [])];
      // Every entry acknowledged, the dropped ones with a sequence number nobody can read.
      const records = entries.map((_, i) =>
        i % EVERY === EVERY - 1
          ? {
              SequenceNumber: '49000000000000000000000000000000000000000000000000000000',
              ShardId: 'shardId-000000000000',
            }
          : stored.shift(),
      );
      return { ...response, output: { ...output, Records: records } };
    },
    { step: 'initialize', name: 'loseSomeRecords' },
  );
  result = await runQuickstart({
    out,
    environment: env,
    env: { TRIBUTARY_MODE: 'local' },
    records: 2_000,
    sensorsPerType: 1,
    snapshots: 1,
    log: (line) => {
      lines.push(line);
    },
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('runQuickstart with a stream that loses acknowledged records', () => {
  it('counts the records that never reached the raw zone and says so', () => {
    expect(dropped).toBeGreaterThan(0);
    expect(result.sensors.produced).toBe(2_000);
    expect(result.sensors.delivered).toBe(2_000 - dropped);
    expect(result.sensors.errored).toBe(0);
    expect(result.sensors.missing).toBe(dropped);
    expect(lines).toContain(
      `sensors: ${dropped} of 2,000 records the stream acknowledged never reached the raw zone`,
    );
  });
});
