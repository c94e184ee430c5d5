import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { TributaryError, type TributaryEvent } from '@tributary/core';
import {
  type Body,
  type DeliveryStats,
  LocalStorage,
  type PutOptions,
  type Storage,
  StorageError,
} from '@tributary/lake';
import { type KinesaliteServer, startKinesalite } from '@tributary/local';
import {
  type Checkpoint,
  type CheckpointStore,
  LakeCheckpointStore,
  MemoryCheckpointStore,
} from '@tributary/streams';
import { deliverToLake, KinesisProducer, KinesisSource } from '@tributary/streams/kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords } from '../../src/fleet.js';
import type { SensorRecord } from '../../src/record.js';
import { sensorDeliveryOptions, sensorProducerOptions } from '../../src/stream-options.js';

const SHARDS = 4;
const KEY =
  /^sensors\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/[a-z-]+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.ndjson(\.gz)?$/;

interface Delivered {
  key: string;
  records: SensorRecord[];
}

/** Every object under `prefix`, its NDJSON lines parsed. */
async function readObjects(storage: Storage, prefix: string): Promise<Delivered[]> {
  const out: Delivered[] = [];
  for await (const object of storage.list(prefix)) {
    const bytes = Buffer.from(await storage.getBytes(object.key));
    const text = (object.key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    const lines = text.split('\n').filter((line) => line !== '');
    out.push({ key: object.key, records: lines.map((line) => JSON.parse(line) as SensorRecord) });
  }
  return out;
}

function fleetRecords(count: number, seed: number): SensorRecord[] {
  return [
    ...generateRecords({
      sensorsPerType: 20,
      ratePerSecond: 60,
      seed,
      records: count,
      start: Date.UTC(2026, 10, 23, 0, 0, 0),
    }),
  ];
}

async function produce(
  client: KinesisClient,
  streamName: string,
  records: readonly SensorRecord[],
  onFirstBatch: () => void = () => {},
) {
  let sent = false;
  const producer = new KinesisProducer({
    client,
    streamName,
    ...sensorProducerOptions,
    aggregate: true,
    rateLimit: false,
    onEvent: (event) => {
      if (event.type !== 'batch' || sent) return;
      sent = true;
      onFirstBatch();
    },
  });
  await producer.putMany(records);
  return producer.close();
}

/** Positions compare by sequence number, then sub-sequence number (a whole record comes last). */
function after(a: Checkpoint, b: Checkpoint | undefined): boolean {
  if (b?.sequenceNumber === undefined) return true;
  const sa = BigInt(a.sequenceNumber as string);
  const sb = BigInt(b.sequenceNumber);
  if (sa !== sb) return sa > sb;
  return (
    (a.subSequenceNumber ?? Number.POSITIVE_INFINITY) > (b.subSequenceNumber ?? Number.POSITIVE_INFINITY)
  );
}

type Positions = Map<string, { shardId: string; position: Checkpoint }>;

/** Where each record sits in the stream (shard, sequence and sub-sequence numbers), from a full read. */
async function positionsOf(client: KinesisClient, streamName: string): Promise<Positions> {
  const positions: Positions = new Map();
  const probe = new KinesisSource({
    client,
    streamName,
    checkpoints: new MemoryCheckpointStore(),
    stopWhenIdle: true,
    idleTimeoutMs: 500,
    pollIntervalMs: 100,
  });
  for await (const record of probe) {
    const { id } = JSON.parse(Buffer.from(record.data).toString('utf8')) as { id: string };
    positions.set(id, {
      shardId: record.shardId,
      position: { sequenceNumber: record.sequenceNumber, subSequenceNumber: record.subSequenceNumber },
    });
  }
  return positions;
}

/** A store that stops saving, as if the process died right after the delivery wrote its objects. */
class CrashableStore implements CheckpointStore {
  crashed = false;
  constructor(private readonly inner: CheckpointStore) {}
  load(stream: string) {
    return this.inner.load(stream);
  }
  async save(stream: string, checkpoints: Record<string, Checkpoint>) {
    if (!this.crashed) await this.inner.save(stream, checkpoints);
  }
}

describe('Kinesis → KinesisSource → deliverToLake → raw zone', () => {
  let kinesis: KinesaliteServer;
  let client: KinesisClient;
  let folder: string;
  beforeAll(async () => {
    kinesis = await startKinesalite({
      streams: [
        { name: 'sensors', shards: SHARDS },
        { name: 'restart', shards: SHARDS },
        { name: 'failing', shards: 2 },
      ],
    });
    client = new KinesisClient(kinesis.createClientConfig());
    folder = await mkdtemp(join(tmpdir(), 'tributary-e2e-'));
  });
  afterAll(async () => {
    client?.destroy();
    await kinesis?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  describe('deliverToLake', () => {
    it('delivers 100,000 fleet records with nothing lost or duplicated, every type in the same hourly files', async () => {
      const raw = new LocalStorage({ root: join(folder, 'raw') });
      const produced = fleetRecords(100_000, 42);
      const started = Date.now();
      const source = new KinesisSource({
        client,
        streamName: 'sensors',
        checkpoints: new LakeCheckpointStore({ storage: raw }),
        stopWhenIdle: true,
        idleTimeoutMs: 3_000,
        pollIntervalMs: 200,
      });

      // The source reads while the producer writes; it starts with the first PutRecords, so that
      // a slow start of the producer cannot look like an idle stream.
      let delivering: Promise<DeliveryStats> | undefined;
      const produceResult = await produce(client, 'sensors', produced, () => {
        delivering = deliverToLake({
          source,
          storage: raw,
          ...sensorDeliveryOptions,
          bufferIntervalMs: 1_000,
          bufferBytes: 1024 * 1024,
        });
      });
      const stats = await (delivering as Promise<DeliveryStats>);
      const elapsed = Date.now() - started;
      const objects = await readObjects(raw, 'sensors/');
      const errors = await readObjects(raw, 'errors/');
      const checkpoints = await new LakeCheckpointStore({ storage: raw }).load('sensors');

      const ids = objects.flatMap((object) => object.records.map((record) => record.id));
      expect(produceResult).toEqual({ sent: 100_000, retried: 0, failed: 0 });
      expect(ids).toHaveLength(100_000);
      expect(new Set(ids)).toEqual(new Set(produced.map((record) => record.id)));
      expect(stats).toMatchObject({ recordsIn: 100_000, recordsDelivered: 100_000, recordsFailed: 0 });
      expect(stats.objects).toBe(objects.length);
      expect(objects.length).toBeGreaterThanOrEqual(10);
      expect(errors).toEqual([]);
      // Dated by arrival time: the hour folders of this run, not the records' event time (2026-11-23).
      const hours = new Set([new Date(started), new Date()].map((d) => d.toISOString().slice(0, 13)));
      for (const { key } of objects) {
        const match = KEY.exec(key);
        expect(match, key).not.toBeNull();
        const [, y, m, d, h] = match as RegExpExecArray;
        expect(hours.has(`${y}-${m}-${d}T${h}`), key).toBe(true);
      }
      // All sensor types share the files.
      const types = ['temperature', 'power_factor', 'hydraulic_pressure'];
      for (const { key, records } of objects) {
        if (records.length >= 1_000) {
          expect(new Set(records.map((r) => r.type)), key).toEqual(new Set(types));
        }
      }
      expect(Object.keys(checkpoints)).toHaveLength(SHARDS);
      expect(Object.values(checkpoints).every((checkpoint) => checkpoint.sequenceNumber !== undefined)).toBe(
        true,
      );
      expect(elapsed).toBeLessThan(60_000);
    }, 90_000);

    it('after a crash, a new source redelivers only records past the saved checkpoints', async () => {
      const raw = new LocalStorage({ root: join(folder, 'restart') });
      const produced = fleetRecords(20_000, 7);
      await produce(client, 'restart', produced);
      const store = new CrashableStore(new LakeCheckpointStore({ storage: raw }));

      // Run 1: crash (no more checkpoint saves) once 8,000 records are in the lake.
      const controller = new AbortController();
      let delivered = 0;
      const onEvent = (event: TributaryEvent) => {
        if (event.type !== 'flush' || !event.target?.startsWith('sensors/')) return;
        delivered += event.count;
        if (delivered >= 8_000 && !store.crashed) {
          store.crashed = true;
          controller.abort();
        }
      };
      const first = new KinesisSource({
        client,
        streamName: 'restart',
        checkpoints: store,
        pollIntervalMs: 100,
        signal: controller.signal,
      });
      await deliverToLake({
        source: first,
        storage: raw,
        ...sensorDeliveryOptions,
        bufferIntervalMs: 500,
        bufferBytes: 256 * 1024,
        onEvent,
      });
      const firstKeys = new Set((await readObjects(raw, 'sensors/')).map((object) => object.key));
      const saved = await store.load('restart');

      // Run 2: a new source with the same store delivers the rest.
      const second = new KinesisSource({
        client,
        streamName: 'restart',
        checkpoints: store,
        stopWhenIdle: true,
        idleTimeoutMs: 1_000,
        pollIntervalMs: 100,
      });
      store.crashed = false;
      await deliverToLake({
        source: second,
        storage: raw,
        ...sensorDeliveryOptions,
        bufferIntervalMs: 500,
        bufferBytes: 256 * 1024,
      });
      const objects = await readObjects(raw, 'sensors/');

      const positions = await positionsOf(client, 'restart');

      const idsOf = (keep: (key: string) => boolean) =>
        objects.filter((object) => keep(object.key)).flatMap((object) => object.records.map((r) => r.id));
      const firstIds = idsOf((key) => firstKeys.has(key));
      const secondIds = idsOf((key) => !firstKeys.has(key));
      const firstSet = new Set(firstIds);
      const duplicates = secondIds.filter((id) => firstSet.has(id));
      const pastCheckpoint = (id: string) => {
        const at = positions.get(id);
        return at !== undefined && after(at.position, saved[at.shardId]);
      };

      expect(positions.size).toBe(20_000);
      expect(firstIds.length).toBeGreaterThanOrEqual(8_000);
      expect(firstIds.length).toBeLessThan(20_000);
      expect(new Set(firstIds).size).toBe(firstIds.length);
      expect(new Set(secondIds).size).toBe(secondIds.length);
      expect(new Set([...firstIds, ...secondIds])).toEqual(new Set(produced.map((r) => r.id)));
      // The uncheckpointed window was delivered twice, and nothing else was.
      expect(Object.keys(saved).length).toBeGreaterThan(0);
      expect(duplicates.length).toBeGreaterThan(0);
      expect(duplicates.every(pastCheckpoint)).toBe(true);
      expect(secondIds.every(pastCheckpoint)).toBe(true);
      expect(firstIds.length + secondIds.length - duplicates.length).toBe(20_000);
    }, 60_000);

    it('never saves a checkpoint past what is in the lake when the storage fails', async () => {
      const lake = new LocalStorage({ root: join(folder, 'failing') });
      const produced = fleetRecords(6_000, 9);
      await produce(client, 'failing', produced);
      // The fourth data object and every put after it fail, as a full disk would.
      let puts = 0;
      const failing: Storage = Object.assign(Object.create(lake) as Storage, {
        put: (key: string, body: Body, options?: PutOptions) => {
          if (key.startsWith('sensors/') && ++puts > 3) {
            return Promise.reject(new StorageError('No space left on device', { retryable: false }));
          }
          return lake.put(key, body, options);
        },
      });
      const checkpoints = new MemoryCheckpointStore();
      const source = new KinesisSource({
        client,
        streamName: 'failing',
        checkpoints,
        stopWhenIdle: true,
        idleTimeoutMs: 1_000,
        pollIntervalMs: 100,
      });

      const failure = await deliverToLake({
        source,
        storage: failing,
        ...sensorDeliveryOptions,
        bufferIntervalMs: 500,
        bufferBytes: 64 * 1024,
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      }).catch((err: unknown) => err);
      const saved = await checkpoints.load('failing');
      const inLake = new Set(
        (await readObjects(lake, 'sensors/')).flatMap((object) => object.records.map((r) => r.id)),
      );
      const positions = await positionsOf(client, 'failing');

      const checkpointed = [...positions].filter(([, at]) => !after(at.position, saved[at.shardId]));
      expect(failure).toBeInstanceOf(TributaryError);
      expect(inLake.size).toBeGreaterThan(0);
      expect(inLake.size).toBeLessThan(6_000);
      expect(checkpointed.length).toBeGreaterThan(0);
      expect(checkpointed.filter(([id]) => !inLake.has(id))).toEqual([]);
    });
  });
});
