import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Body, MemoryStorage, type ObjectInfo, type PutOptions, type Storage } from '@tributary/lake';
import type { SensorRecord } from '@tributary/sensors';
import { aggregate } from '@tributary/streams';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LambdaConsumerError } from '../../src/errors.js';
import { createHandler, handler, type InvocationStats, rawZoneFromEnvironment } from '../../src/handler.js';
import type { KinesisStreamEvent, KinesisStreamRecord } from '../../src/kinesis-event.js';

const ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/plant-sensors';
// 2026-11-23T10:16:40.250Z, as Lambda gives it: seconds with a fraction.
const ARRIVAL = 1_795_429_000.25;
const arrivalHour = new Date(ARRIVAL * 1000).toISOString().slice(0, 13).replace(/[-T]/g, '/');

function reading(n: number, sensorId = 'vibration-001'): SensorRecord {
  return {
    id: `${sensorId}:${n}`,
    sensorId,
    type: 'vibration',
    value: 2.5 + n,
    unit: 'mm/s',
    timestamp: new Date(Date.UTC(2026, 10, 23, 10, 0, n)),
  };
}

const line = (record: unknown) => Buffer.from(`${JSON.stringify(record)}\n`);

let sequence = 0;
function kinesisRecord(data: Uint8Array, shardId = 'shardId-000000000000'): KinesisStreamRecord {
  const sequenceNumber = `4959${String(++sequence).padStart(20, '0')}`;
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'vibration-001',
      sequenceNumber,
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: ARRIVAL,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-consumer',
    awsRegion: 'eu-west-1',
    eventSourceARN: ARN,
  };
}

async function linesUnder(storage: Storage, prefix: string): Promise<{ key: string; lines: string[] }[]> {
  const out: { key: string; lines: string[] }[] = [];
  for await (const info of storage.list(prefix)) {
    const text = Buffer.from(await storage.getBytes(info.key)).toString('utf8');
    out.push({ key: info.key, lines: text.split('\n').filter((l) => l !== '') });
  }
  return out;
}

const idsIn = (objects: { lines: string[] }[]) =>
  objects.flatMap((o) => o.lines.map((l) => JSON.parse(l).id));

/** A storage whose puts fail when `fails(n, key)` says so for the n-th put (from 1). */
class FailingStorage extends MemoryStorage {
  puts = 0;
  constructor(
    private readonly fails: (n: number, key: string) => boolean,
    private readonly errorOf: (key: string) => Error = (key) => new Error(`disk full writing ${key}`),
  ) {
    super();
  }

  override put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
    this.puts++;
    if (this.fails(this.puts, key)) return Promise.reject(this.errorOf(key));
    return super.put(key, body, options);
  }
}

const silent = () => ({ error: vi.fn() });

describe('createHandler', () => {
  describe('valid records', () => {
    it('writes plain records Firehose-style into one object of the arrival hour, and reports no failure', async () => {
      const storage = new MemoryStorage();
      const stats: InvocationStats[] = [];
      const handle = createHandler({ storage, onInvocation: (s) => stats.push(s) });
      const event: KinesisStreamEvent = { Records: [0, 1, 2].map((n) => kinesisRecord(line(reading(n)))) };

      const response = await handle(event);

      expect(response).toEqual({ batchItemFailures: [] });
      const objects = await linesUnder(storage, 'sensors/');
      expect(objects).toHaveLength(1);
      expect(objects[0]?.key).toMatch(
        new RegExp(
          `^sensors/${arrivalHour}/plant-sensors-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d-\\d\\d-[0-9a-f-]{36}\\.ndjson$`,
        ),
      );
      expect(objects[0]?.lines.map((l) => JSON.parse(l))).toEqual(
        [0, 1, 2].map((n) => JSON.parse(JSON.stringify(reading(n)))),
      );
      expect(stats).toEqual([
        { records: 3, shards: 1, userRecords: 3, delivered: 3, invalid: 0, objects: 1, failed: 0 },
      ]);
    });

    it('de-aggregates KPL aggregated records next to plain ones, keeping their order', async () => {
      const storage = new MemoryStorage();
      const stats: InvocationStats[] = [];
      const handle = createHandler({ storage, onInvocation: (s) => stats.push(s) });
      const packed = aggregate(
        [1, 2, 3, 4, 5].map((n) => ({
          partitionKey: `vibration-00${n}`,
          data: line(reading(n, `vibration-00${n}`)),
        })),
      );
      const event = { Records: [kinesisRecord(line(reading(0))), kinesisRecord(packed)] };

      const response = await handle(event);

      expect(response.batchItemFailures).toEqual([]);
      expect(idsIn(await linesUnder(storage, 'sensors/'))).toEqual([
        'vibration-001:0',
        'vibration-001:1',
        'vibration-002:2',
        'vibration-003:3',
        'vibration-004:4',
        'vibration-005:5',
      ]);
      expect(stats[0]).toMatchObject({ records: 2, userRecords: 6, delivered: 6 });
    });
  });

  describe('invalid records', () => {
    it('sends bad JSON, schema failures and corrupt aggregates to the error prefix, not to batchItemFailures', async () => {
      const storage = new MemoryStorage();
      const stats: InvocationStats[] = [];
      const handle = createHandler({ storage, onInvocation: (s) => stats.push(s) });
      const corrupt = aggregate([{ partitionKey: 'p', data: line(reading(9)) }]);
      corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff; // breaks the MD5
      const event = {
        Records: [
          kinesisRecord(Buffer.from('{"id": "vibration-001:0", truncated')),
          kinesisRecord(line({ ...reading(1), value: 'loud' })),
          kinesisRecord(line(reading(2))),
          kinesisRecord(corrupt),
        ],
      };

      const response = await handle(event);

      expect(response.batchItemFailures).toEqual([]);
      expect(idsIn(await linesUnder(storage, 'sensors/'))).toEqual(['vibration-001:2']);
      const invalidJson = await linesUnder(storage, `errors/sensors/invalid-json/${arrivalHour}/`);
      const failedSchema = await linesUnder(storage, `errors/sensors/validation-failed/${arrivalHour}/`);
      const errors = [...invalidJson, ...failedSchema].flatMap((o) => o.lines.map((l) => JSON.parse(l)));
      expect(errors.map((e) => e.errorCode).sort()).toEqual([
        'INVALID_JSON',
        'INVALID_JSON',
        'VALIDATION_FAILED',
      ]);
      // The raw bytes are kept, so a fixed consumer can replay them.
      const rawData = errors.map((e) => Buffer.from(e.rawData, 'base64').toString('latin1'));
      expect(rawData).toContain('{"id": "vibration-001:0", truncated');
      expect(rawData.some((raw) => raw.includes('"loud"'))).toBe(true);
      expect(rawData).toContain(Buffer.from(corrupt).toString('latin1'));
      expect(stats[0]).toMatchObject({ userRecords: 4, delivered: 1, invalid: 3, failed: 0 });
    });
  });

  describe('storage failures', () => {
    it('reports the record whose object failed and every later record of the shard, and nothing before', async () => {
      // Each Kinesis record is its own object (bufferBytes below one record); the third put fails.
      const storage = new FailingStorage((n) => n === 3);
      const logger = silent();
      const stats: InvocationStats[] = [];
      const handle = createHandler({ storage, bufferBytes: 10, logger, onInvocation: (s) => stats.push(s) });
      const records = [0, 1, 2, 3, 4].map((n) => kinesisRecord(line(reading(n))));

      const response = await handle({ Records: records });

      expect(response.batchItemFailures).toEqual(
        records.slice(2).map((r) => ({ itemIdentifier: r.kinesis.sequenceNumber })),
      );
      // The records before it are stored, each exactly once (one object each, listed by their random
      // names); the failed object left nothing behind.
      expect(idsIn(await linesUnder(storage, 'sensors/')).sort()).toEqual([
        'vibration-001:0',
        'vibration-001:1',
      ]);
      expect(stats[0]).toMatchObject({ records: 5, delivered: 2, objects: 2, failed: 3 });
      expect(logger.error).toHaveBeenCalledTimes(1);
      expect(String(logger.error.mock.calls[0]?.[0])).toContain(records[2]?.kinesis.sequenceNumber);
    });

    it('retries a transient put failure before anything is reported', async () => {
      const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      const storage = new FailingStorage((n) => n === 1, reset);
      const logger = silent();
      const handle = createHandler({ storage, logger, retry: { maxAttempts: 3, baseDelayMs: 1 } });

      const response = await handle({ Records: [0, 1].map((n) => kinesisRecord(line(reading(n)))) });

      expect(response.batchItemFailures).toEqual([]);
      expect(storage.puts).toBe(2);
      expect(idsIn(await linesUnder(storage, 'sensors/'))).toEqual(['vibration-001:0', 'vibration-001:1']);
      expect(logger.error).not.toHaveBeenCalled();
    });

    it('reports the whole batch when its only object fails for good', async () => {
      const storage = new FailingStorage(() => true);
      const handle = createHandler({ storage, logger: silent(), retry: { maxAttempts: 3, baseDelayMs: 1 } });
      const records = [0, 1, 2].map((n) => kinesisRecord(line(reading(n))));

      const response = await handle({ Records: records });

      expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
        records.map((r) => r.kinesis.sequenceNumber),
      );
      // Not a transient error: one attempt, no retries.
      expect(storage.puts).toBe(1);
    });

    it('keeps shards apart: a failure in one shard does not fail the records of another', async () => {
      // The first put fails, whichever shard makes it.
      const storage = new FailingStorage((n) => n === 1);
      const handle = createHandler({ storage, logger: silent() });
      const a = [0, 1].map((n) => kinesisRecord(line(reading(n)), 'shardId-000000000000'));
      const b = [2, 3].map((n) => kinesisRecord(line(reading(n)), 'shardId-000000000001'));

      const response = await handle({ Records: [a[0], b[0], a[1], b[1]] as KinesisStreamRecord[] });

      const failed = response.batchItemFailures.map((f) => f.itemIdentifier);
      // Exactly one shard's two records failed; the other shard's records are stored.
      expect(failed).toHaveLength(2);
      const failedShard = failed.every((s) => a.some((r) => r.kinesis.sequenceNumber === s)) ? a : b;
      const storedShard = failedShard === a ? b : a;
      expect(failed).toEqual(failedShard.map((r) => r.kinesis.sequenceNumber));
      expect(idsIn(await linesUnder(storage, 'sensors/')).sort()).toEqual(
        storedShard.map((r) => JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString()).id).sort(),
      );
    });
  });

  describe('misuse', () => {
    it('rejects an event that is not a Kinesis event with a typed error', async () => {
      const handle = createHandler({ storage: new MemoryStorage() });

      const noRecords = handle({} as KinesisStreamEvent);
      const noData = handle({ Records: [{ eventID: 'x' } as unknown as KinesisStreamRecord] });

      await expect(noRecords).rejects.toMatchObject({
        name: 'LambdaConsumerError',
        code: 'LAMBDA_EVENT_INVALID',
      });
      await expect(noData).rejects.toBeInstanceOf(LambdaConsumerError);
    });

    it('validates its options when created', () => {
      const storage = new MemoryStorage();

      expect(() => createHandler({ storage, bufferBytes: 0 })).toThrow(
        expect.objectContaining({ code: 'LAMBDA_OPTIONS_INVALID', context: { option: 'bufferBytes' } }),
      );
      expect(() => createHandler({ storage, prefix: 'no-slash' })).toThrow(
        expect.objectContaining({ code: 'DELIVERY_OPTIONS_INVALID', option: 'prefix' }),
      );
      expect(() => createHandler({ storage: {} as Storage })).toThrow(
        expect.objectContaining({ code: 'DELIVERY_OPTIONS_INVALID', option: 'storage' }),
      );
    });
  });
});

describe('handler (deployed entry point)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-lambda-handler-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes to the local lake the environment names (TRIBUTARY_MODE=local)', async () => {
    vi.stubEnv('TRIBUTARY_MODE', 'local');
    vi.stubEnv('TRIBUTARY_LAKE_DIR', dir);
    try {
      const response = await handler({ Records: [kinesisRecord(line(reading(7)))] });

      expect(response).toEqual({ batchItemFailures: [] });
      const hourDir = join(dir, 'raw', 'sensors', ...arrivalHour.split('/'));
      const files = readdirSync(hourDir);
      expect(files).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(hourDir, files[0] as string), 'utf8')).id).toBe('vibration-001:7');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('uses S3 in aws mode, with the bucket of TRIBUTARY_LAKE_RAW (no request made)', async () => {
    const storage = await rawZoneFromEnvironment({
      TRIBUTARY_MODE: 'aws',
      AWS_REGION: 'eu-west-1',
      TRIBUTARY_LAKE_RAW: 's3://acme-lake-raw/tributary',
      TRIBUTARY_LAKE_PROCESSED: 's3://acme-lake-processed',
      TRIBUTARY_LAKE_CURATED: 's3://acme-lake-curated',
    });

    expect(storage.url).toBe('s3://acme-lake-raw/tributary');
    expect(storage.constructor.name).toBe('S3Storage');
  });
});
