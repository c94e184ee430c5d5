import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import type { TributaryEvent } from '@tributary/core';
import { type KinesaliteServer, startKinesalite } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deaggregate } from '../../src/aggregation.js';
import { KinesisProducer, type KinesisProducerOptions } from '../../src/kinesis-producer.js';
import { ShardMap } from '../../src/shard-map.js';
import { putAllAndClose, readings, text } from '../fixtures/producers.js';
import { byDevice, encodeReading, type Reading } from '../fixtures/readings.js';

const SHARDS = 4;
const DEVICES = 60;

interface StoredRecord {
  shard: number;
  partitionKey: string;
  data: Uint8Array;
}

/** Every record of every shard, from TRIM_HORIZON to the end. */
async function readStream(client: KinesisClient, streamName: string): Promise<StoredRecord[]> {
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
  const map = ShardMap.fromListedShards(Shards);
  const out: StoredRecord[] = [];
  for (const shard of Shards) {
    const index = map.indexOf('', shard.HashKeyRange?.StartingHashKey);
    let { ShardIterator: iterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    for (;;) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const record of records) {
        out.push({
          shard: index,
          partitionKey: record.PartitionKey ?? '',
          data: record.Data ?? new Uint8Array(),
        });
      }
      iterator = page.NextShardIterator;
      if (records.length === 0 || iterator === undefined) break;
    }
  }
  return out;
}

/** A tiny deterministic generator, so that a failing run can be replayed. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const idOf = (data: Uint8Array): string => (JSON.parse(text(data)) as { id: string }).id;

/**
 * Produces `count` readings into `streamName` with `client` (NDJSON, keyed by device, `options`
 * on top), closes the producer and reads the stream back whole; destroys the client.
 */
async function produceAndRead(
  client: KinesisClient,
  streamName: string,
  count: number,
  options: Partial<KinesisProducerOptions<Reading>> = {},
) {
  const producer = new KinesisProducer({
    client,
    streamName,
    partitionKey: byDevice,
    encode: encodeReading,
    ...options,
  });
  const records = readings(count, DEVICES);
  try {
    const result = await putAllAndClose(producer, records);
    const stored = await readStream(client, streamName);
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    return { records, result, stored, shards: Shards };
  } finally {
    client.destroy();
  }
}

interface Faults {
  calls: number;
  dropped: number;
  throttledEntries: number;
}

/**
 * Fault injection between the producer and kinesalite (which never fails on its own): on some
 * PutRecords calls the connection "resets" before anything is sent; on others a share of the
 * entries is held back from the server and answered with ProvisionedThroughputExceededException
 * at their position, as Kinesis does. Nothing the producer is told failed was stored.
 */
function injectFaults(client: KinesisClient, seed: number): Faults {
  const random = lcg(seed);
  const faults: Faults = { calls: 0, dropped: 0, throttledEntries: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      faults.calls++;
      const roll = random();
      if (roll < 0.1) {
        faults.dropped++;
        throw Object.assign(new Error('read ECONNRESET (injected)'), { code: 'ECONNRESET' });
      }
      if (roll > 0.6) return next(args);
      const input = args.input as PutRecordsCommandInput;
      const entries = input.Records ?? [];
      const failing = new Set(entries.map((_, i) => i).filter(() => random() < 0.3));
      const kept = entries.filter((_, i) => !failing.has(i));
      faults.throttledEntries += failing.size;
      const answer: PutRecordsResultEntry[] = [];
      let stored: PutRecordsResultEntry[] = [];
      if (kept.length > 0) {
        const result = await next({ ...args, input: { ...input, Records: kept } });
        stored = [...((result.output as PutRecordsCommandOutput).Records ?? [])];
      }
      for (let i = 0; i < entries.length; i++) {
        answer.push(
          failing.has(i)
            ? {
                ErrorCode: 'ProvisionedThroughputExceededException',
                ErrorMessage: 'Rate exceeded (injected)',
              }
            : (stored.shift() as PutRecordsResultEntry),
        );
      }
      const output: PutRecordsCommandOutput = {
        $metadata: { httpStatusCode: 200 },
        FailedRecordCount: answer.filter((entry) => entry.ErrorCode !== undefined).length,
        Records: answer,
      };
      return { output, response: {} };
    },
    { step: 'initialize', name: 'tributaryFaultInjection' },
  );
  return faults;
}

interface EntryFailures {
  entries: number;
  failed: number;
  /** Calls that carried both an entry sent before and one never sent before. */
  mixedCalls: number;
}

/**
 * Fails a share `rate` of the PutRecords entries, chosen by a hash of the entry's data and of how
 * many times that data was sent before, so the same records fail the same number of times in every
 * run. A failed entry is held back from kinesalite and answered with
 * ProvisionedThroughputExceededException at its position, as Kinesis does.
 */
function failEntries(client: KinesisClient, rate: number): EntryFailures {
  const stats: EntryFailures = { entries: 0, failed: 0, mixedCalls: 0 };
  const seen = new Map<string, number>();
  const hash = (text: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h >>> 0) / 2 ** 32;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as PutRecordsCommandInput;
      const entries = input.Records ?? [];
      let again = 0;
      const failing = entries.map((entry) => {
        const text = Buffer.from(entry.Data ?? new Uint8Array()).toString('utf8');
        const sent = seen.get(text) ?? 0;
        seen.set(text, sent + 1);
        if (sent > 0) again++;
        return hash(`${sent}:${text}`) < rate;
      });
      if (again > 0 && again < entries.length) stats.mixedCalls++;
      const kept = entries.filter((_, i) => !failing[i]);
      stats.entries += entries.length;
      stats.failed += entries.length - kept.length;
      const stored: PutRecordsResultEntry[] = [];
      if (kept.length > 0) {
        const result = await next({ ...args, input: { ...input, Records: kept } });
        stored.push(...((result.output as PutRecordsCommandOutput).Records ?? []));
      }
      const output: PutRecordsCommandOutput = {
        $metadata: { httpStatusCode: 200 },
        FailedRecordCount: entries.length - kept.length,
        Records: failing.map((failed) =>
          failed
            ? {
                ErrorCode: 'ProvisionedThroughputExceededException',
                ErrorMessage: 'Rate exceeded (injected)',
              }
            : (stored.shift() as PutRecordsResultEntry),
        ),
      };
      return { output, response: {} };
    },
    { step: 'initialize', name: 'tributaryEntryFailures' },
  );
  return stats;
}

describe('KinesisProducer against kinesalite', () => {
  let kinesis: KinesaliteServer;
  beforeAll(async () => {
    kinesis = await startKinesalite({
      streams: [
        { name: 'sensors', shards: SHARDS },
        { name: 'faults', shards: 2 },
        { name: 'aggregated', shards: 2 },
        { name: 'entry-failures', shards: SHARDS },
      ],
    });
  });
  afterAll(async () => {
    await kinesis?.stop();
  });

  it('delivers 20,000 records to every shard with nothing lost or duplicated', async () => {
    const client = new KinesisClient(kinesis.createClientConfig());

    const { records, result, stored, shards } = await produceAndRead(client, 'sensors', 20_000);

    const ids = stored.map((record) => idOf(record.data));
    const map = ShardMap.fromListedShards(shards);
    expect(result).toEqual({ sent: 20_000, retried: 0, failed: 0 });
    expect(stored).toHaveLength(20_000);
    expect(new Set(ids).size).toBe(20_000);
    expect([...new Set(ids)].sort()).toEqual(records.map((r) => r.id).sort());
    expect(new Set(stored.map((record) => record.shard)).size).toBe(SHARDS);
    // Our MD5 routing agrees with the server's for every record.
    expect(stored.every((record) => map.indexOf(record.partitionKey) === record.shard)).toBe(true);
    expect(stored.every((record) => text(record.data).endsWith('}\n'))).toBe(true);
  });

  it('loses and duplicates nothing when calls reset and entries are throttled', async () => {
    const client = new KinesisClient({ ...kinesis.createClientConfig(), maxAttempts: 1 });
    const faults = injectFaults(client, 20_260_101);
    const events: TributaryEvent[] = [];

    const { records, result, stored } = await produceAndRead(client, 'faults', 10_000, {
      rateLimit: false,
      baseDelayMs: 20,
      throttledBaseDelayMs: 50,
      maxDelayMs: 400,
      onEvent: (event) => events.push(event),
    });

    const ids = stored.map((record) => idOf(record.data));
    const retryEvents = events.filter((event) => event.type === 'retry');
    expect(faults.dropped).toBeGreaterThan(0);
    expect(faults.throttledEntries).toBeGreaterThan(0);
    expect(result.sent).toBe(10_000);
    expect(result.failed).toBe(0);
    expect(result.retried).toBeGreaterThanOrEqual(faults.throttledEntries);
    expect(retryEvents.length).toBeGreaterThan(0);
    expect(stored).toHaveLength(10_000);
    expect(new Set(ids).size).toBe(10_000);
    expect([...new Set(ids)].sort()).toEqual(records.map((r) => r.id).sort());
  });

  it('sends entries failed 30 % of the time again with newer records, and every record arrives', async () => {
    const client = new KinesisClient(kinesis.createClientConfig());
    const failures = failEntries(client, 0.3);

    // Default settings: the per-shard rate limit, 4 requests in flight, the default backoff.
    const { records, result, stored } = await produceAndRead(client, 'entry-failures', 5_000);

    const ids = stored.map((record) => idOf(record.data));
    expect(failures.failed / failures.entries).toBeGreaterThan(0.25);
    expect(failures.failed / failures.entries).toBeLessThan(0.35);
    expect(failures.mixedCalls).toBeGreaterThan(0);
    expect(result).toEqual({ sent: 5_000, retried: failures.failed, failed: 0 });
    expect(new Set(ids)).toEqual(new Set(records.map((r) => r.id)));
    // Nothing the producer was told failed was stored, so each record is there once.
    expect(stored).toHaveLength(5_000);
  });

  it('aggregates records in the KPL format that deaggregate reads back from the stream', async () => {
    const client = new KinesisClient(kinesis.createClientConfig());

    const { records, result, stored } = await produceAndRead(client, 'aggregated', 5_000, {
      aggregate: true,
    });

    const map = ShardMap.uniform(2);
    const users = stored.flatMap((record) => deaggregate(record.data, record.partitionKey));
    const ids = users.map((user) => idOf(user.data));
    const misplaced = stored.filter((record) =>
      deaggregate(record.data).some((user) => map.indexOf(user.partitionKey ?? '') !== record.shard),
    );
    expect(result).toEqual({ sent: 5_000, retried: 0, failed: 0 });
    expect(misplaced).toEqual([]);
    expect(stored.length).toBeLessThan(20);
    expect(users.every((user) => user.aggregated)).toBe(true);
    expect(ids.sort()).toEqual(records.map((r) => r.id).sort());
  });
});
