import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { LocalStorage } from '@tributary/lake';
import { type KinesaliteServer, startKinesalite } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeCheckpointStore } from '../../src/checkpoints.js';
import { KinesisProducer } from '../../src/kinesis-producer.js';
import { KinesisSource, type KinesisSourceRecord } from '../../src/kinesis-source.js';
import { byDevice, encodeReading, type Reading, readingId } from '../fixtures/readings.js';

function reading(i: number): Reading {
  const deviceId = `sensor-${i % 20}`;
  return {
    id: readingId(deviceId, i),
    deviceId,
    type: ['temperature', 'power_factor', 'hydraulic_pressure'][i % 3] as string,
    value: i / 7,
    unit: 'u',
    timestamp: new Date(Date.UTC(2026, 0, 1) + i * 10),
  };
}

const idOf = (record: KinesisSourceRecord) =>
  (JSON.parse(Buffer.from(record.data).toString('utf8')) as { id: string }).id;
const indexOf = (id: string) => Number(id.split(':')[1]);

async function produce(
  client: KinesisClient,
  streamName: string,
  from: number,
  to: number,
  aggregate = false,
) {
  const producer = new KinesisProducer({
    client,
    streamName,
    partitionKey: byDevice,
    encode: encodeReading,
    rateLimit: false,
    aggregate,
  });
  await producer.putMany(Array.from({ length: to - from }, (_, i) => reading(from + i)));
  return producer.close();
}

async function waitActive(client: KinesisClient, streamName: string): Promise<void> {
  for (;;) {
    const { StreamDescriptionSummary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('KinesisSource against kinesalite', () => {
  let kinesis: KinesaliteServer;
  let client: KinesisClient;
  let folder: string;
  beforeAll(async () => {
    kinesis = await startKinesalite({
      streams: [
        { name: 'four', shards: 4 },
        { name: 'reshard', shards: 1 },
        { name: 'resume', shards: 2 },
      ],
    });
    client = new KinesisClient(kinesis.createClientConfig());
    folder = await mkdtemp(join(tmpdir(), 'tributary-source-'));
  });
  afterAll(async () => {
    client?.destroy();
    await kinesis?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  describe('iteration', () => {
    it('reads every record of every shard, in order per partition key', async () => {
      await produce(client, 'four', 0, 4_000);
      const source = new KinesisSource({
        client,
        streamName: 'four',
        stopWhenIdle: true,
        idleTimeoutMs: 500,
        pollIntervalMs: 100,
      });

      const records: KinesisSourceRecord[] = [];
      for await (const record of source) records.push(record);

      const ids = records.map(idOf);
      expect(ids).toHaveLength(4_000);
      expect(new Set(ids).size).toBe(4_000);
      expect(new Set(records.map((r) => r.shardId)).size).toBe(4);
      for (const record of records)
        expect(record.arrivalTime.getTime()).toBeGreaterThan(Date.UTC(2026, 0, 1));
      const bySensor = new Map<string, number[]>();
      for (const id of ids)
        bySensor.set(id.split(':')[0] as string, [
          ...(bySensor.get(id.split(':')[0] as string) ?? []),
          indexOf(id),
        ]);
      for (const indices of bySensor.values()) expect(indices).toEqual([...indices].sort((a, b) => a - b));
    });

    it('follows a split and then a merge, reading children after their parents', async () => {
      const controller = new AbortController();
      const timeout = setTimeout(() => controller.abort(), 25_000);
      const source = new KinesisSource({
        client,
        streamName: 'reshard',
        pollIntervalMs: 100,
        signal: controller.signal,
      });
      const records: KinesisSourceRecord[] = [];
      const reading = (async () => {
        for await (const record of source) {
          records.push(record);
          if (records.length === 3_000) break;
        }
      })();

      await produce(client, 'reshard', 0, 1_000);
      await client.send(
        new SplitShardCommand({
          StreamName: 'reshard',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: (2n ** 127n).toString(),
        }),
      );
      await waitActive(client, 'reshard');
      await produce(client, 'reshard', 1_000, 2_000);
      await client.send(
        new MergeShardsCommand({
          StreamName: 'reshard',
          ShardToMerge: 'shardId-000000000001',
          AdjacentShardToMerge: 'shardId-000000000002',
        }),
      );
      await waitActive(client, 'reshard');
      await produce(client, 'reshard', 2_000, 3_000);
      await reading;
      clearTimeout(timeout);
      const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: 'reshard' }));

      const ids = records.map(idOf);
      expect(Shards.map((s) => s.ShardId)).toEqual([
        'shardId-000000000000',
        'shardId-000000000001',
        'shardId-000000000002',
        'shardId-000000000003',
      ]);
      expect(new Set(ids).size).toBe(3_000);
      expect(new Set(records.map((r) => r.shardId)).size).toBe(4);
      // One partition key's records moved from the parent to a child to the merged shard: in order.
      const bySensor = new Map<string, number[]>();
      for (const id of ids) {
        const sensor = id.split(':')[0] as string;
        bySensor.set(sensor, [...(bySensor.get(sensor) ?? []), indexOf(id)]);
      }
      for (const indices of bySensor.values()) expect(indices).toEqual([...indices].sort((a, b) => a - b));
      const lastOf = (shardId: string) => records.map((r) => r.shardId).lastIndexOf(shardId);
      const firstOf = (shardId: string) => records.map((r) => r.shardId).indexOf(shardId);
      expect(lastOf('shardId-000000000000')).toBeLessThan(firstOf('shardId-000000000001'));
      expect(lastOf('shardId-000000000000')).toBeLessThan(firstOf('shardId-000000000002'));
      expect(Math.max(lastOf('shardId-000000000001'), lastOf('shardId-000000000002'))).toBeLessThan(
        firstOf('shardId-000000000003'),
      );
    });
  });

  describe('checkpoint', () => {
    it('resumes from a LakeCheckpointStore after a restart, inside KPL aggregates, with nothing lost or repeated', async () => {
      await produce(client, 'resume', 0, 3_000, true);
      const checkpoints = new LakeCheckpointStore({ storage: new LocalStorage({ root: folder }) });
      const first = new KinesisSource({ client, streamName: 'resume', checkpoints, pollIntervalMs: 100 });
      const firstIds: string[] = [];
      for await (const record of first) {
        firstIds.push(idOf(record));
        first.commit(record);
        if (firstIds.length === 1_234) break;
      }
      await first.checkpoint();

      const second = new KinesisSource({
        client,
        streamName: 'resume',
        checkpoints,
        stopWhenIdle: true,
        idleTimeoutMs: 500,
        pollIntervalMs: 100,
      });
      const secondRecords: KinesisSourceRecord[] = [];
      for await (const record of second) secondRecords.push(record);
      const saved = await checkpoints.load('resume');

      const secondIds = secondRecords.map(idOf);
      expect(secondIds.filter((id) => firstIds.includes(id))).toEqual([]);
      expect([...firstIds, ...secondIds].sort()).toEqual(
        Array.from({ length: 3_000 }, (_, i) => reading(i).id).sort(),
      );
      // The saved position of at least one shard is inside an aggregate.
      expect(Object.values(saved).some((checkpoint) => checkpoint.subSequenceNumber !== undefined)).toBe(
        true,
      );
    });
  });
});
