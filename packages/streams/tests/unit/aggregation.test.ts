import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AggregateBuilder, aggregate, deaggregate, isAggregated } from '../../src/aggregation.js';
import { AggregationFormatError } from '../../src/errors.js';

// aws-kinesis-agg is CommonJS, and its own typings import packages we do not install (aws-sdk v2).
interface AggUserRecord {
  PartitionKey: string;
  ExplicitPartitionKey?: string;
  SubSequenceNumber: number;
  Data: string;
}
interface AwsKinesisAgg {
  deaggregateSync(
    record: { Data: string; PartitionKey: string; SequenceNumber: string },
    computeChecksums: boolean,
    callback: (err: Error | null, records?: AggUserRecord[]) => void,
  ): void;
  aggregate(
    records: { partitionKey: string; explicitHashKey?: string; data: Buffer }[],
    onEncoded: (encoded: { partitionKey: string; data: Buffer }, done: (err?: Error) => void) => void,
    afterAll: () => void,
    onError: (err: Error) => void,
  ): void;
}
const KPL_MAGIC = [0xf3, 0x89, 0x9a, 0xc2];
const agg = createRequire(import.meta.url)('aws-kinesis-agg') as AwsKinesisAgg;

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const bytes = (value: string) => new Uint8Array(Buffer.from(value, 'utf8'));

function deaggregateWithAwsKinesisAgg(data: Uint8Array): AggUserRecord[] {
  let result: AggUserRecord[] | undefined;
  let failure: Error | null = null;
  agg.deaggregateSync(
    { Data: Buffer.from(data).toString('base64'), PartitionKey: 'outer', SequenceNumber: '1' },
    true,
    (err, records) => {
      failure = err;
      result = records;
    },
  );
  if (failure) throw failure;
  return result ?? [];
}

function aggregateWithAwsKinesisAgg(
  records: { partitionKey: string; explicitHashKey?: string; data: Buffer }[],
): Promise<{ partitionKey: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const encoded: { partitionKey: string; data: Buffer }[] = [];
    agg.aggregate(
      records,
      (record, done) => {
        encoded.push(record);
        done();
      },
      () => resolve(encoded),
      reject,
    );
  });
}

const users = [
  { partitionKey: 'temp-1', data: bytes('{"id":"temp-1:0","value":21.5}\n') },
  { partitionKey: 'pump-2', data: bytes('{"id":"pump-2:0","value":180}\n') },
  { partitionKey: 'temp-1', data: bytes('{"id":"temp-1:1","value":21.6}\n') },
  { partitionKey: 'pf-é', data: bytes('{"id":"pf-é:0","unit":"°"}\n') },
  { partitionKey: 'empty', data: new Uint8Array(0) },
];

describe('aggregate', () => {
  it('writes the KPL format that aws-kinesis-agg de-aggregates, every key and payload intact', () => {
    const data = aggregate(users);

    const back = deaggregateWithAwsKinesisAgg(data);

    expect([...data.subarray(0, 4)]).toEqual([0xf3, 0x89, 0x9a, 0xc2]);
    expect(back.map((r) => r.PartitionKey)).toEqual(users.map((u) => u.partitionKey));
    expect(back.map((r) => Buffer.from(r.Data, 'base64').toString('utf8'))).toEqual(
      users.map((u) => text(u.data)),
    );
    expect(back.map((r) => r.SubSequenceNumber)).toEqual([0, 1, 2, 3, 4]);
  });

  it('ends with the MD5 of the protobuf bytes, and stores each distinct partition key once', () => {
    const data = aggregate(users);
    const body = data.subarray(4, data.byteLength - 16);

    const digest = createHash('md5').update(body).digest();
    const occurrences = Buffer.from(body).toString('latin1').split('temp-1').length - 1;

    expect(Buffer.from(data.subarray(data.byteLength - 16)).equals(digest)).toBe(true);
    // once in the key table, twice inside the two payloads that mention it
    expect(occurrences).toBe(3);
  });

  it('carries explicit hash keys through aws-kinesis-agg', () => {
    const data = aggregate([
      { partitionKey: 'a', explicitHashKey: '170141183460469231731687303715884105728', data: bytes('x') },
      { partitionKey: 'b', data: bytes('y') },
    ]);

    const back = deaggregateWithAwsKinesisAgg(data);

    expect(back[0]?.ExplicitPartitionKey).toBe('170141183460469231731687303715884105728');
    expect(back.map((r) => r.PartitionKey)).toEqual(['a', 'b']);
  });
});

describe('AggregateBuilder', () => {
  describe('byteLengthWith', () => {
    it('predicts the exact size of the built record, large payloads and many keys included', () => {
      const builder = new AggregateBuilder();
      const predicted: number[] = [];
      const records = [
        { partitionKey: 'k'.repeat(200), data: new Uint8Array(300_000) },
        ...Array.from({ length: 150 }, (_, i) => ({
          partitionKey: `key-${i}`,
          data: bytes(`${i}`.repeat(i)),
        })),
        { partitionKey: 'key-3', data: new Uint8Array(20_000) },
      ];

      for (const record of records) {
        predicted.push(builder.byteLengthWith(record));
        builder.add(record);
      }

      expect(predicted.at(-1)).toBe(builder.byteLength);
      expect(builder.build().byteLength).toBe(builder.byteLength);
      expect(builder.count).toBe(152);
      expect(builder.partitionKey).toBe('k'.repeat(200));
    });
  });
});

describe('deaggregate', () => {
  it('reads what aws-kinesis-agg aggregates', async () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      partitionKey: `sensor-${i % 7}`,
      data: Buffer.from(JSON.stringify({ id: `sensor-${i % 7}:${i}`, value: i / 3 })),
    }));
    const encoded = await aggregateWithAwsKinesisAgg(records);

    const back = encoded.flatMap((record) => deaggregate(record.data, record.partitionKey));

    expect(encoded.length).toBeGreaterThan(0);
    expect(back.every((r) => r.aggregated)).toBe(true);
    expect(back.map((r) => r.partitionKey)).toEqual(records.map((r) => r.partitionKey));
    expect(back.map((r) => text(r.data))).toEqual(records.map((r) => r.data.toString('utf8')));
  });

  it('round-trips our own aggregate, with sub-sequence numbers and explicit hash keys', () => {
    const data = aggregate([
      { partitionKey: 'a', data: bytes('1') },
      { partitionKey: 'b', explicitHashKey: '42', data: bytes('2') },
    ]);

    const back = deaggregate(data);

    expect(back).toEqual([
      {
        partitionKey: 'a',
        explicitHashKey: undefined,
        data: bytes('1'),
        subSequenceNumber: 0,
        aggregated: true,
      },
      { partitionKey: 'b', explicitHashKey: '42', data: bytes('2'), subSequenceNumber: 1, aggregated: true },
    ]);
  });

  it('returns a plain record as it is, with the partition key given', () => {
    const data = bytes('{"id":"t-1:0"}\n');

    const back = deaggregate(data, 't-1');

    expect(back).toEqual([
      { partitionKey: 't-1', explicitHashKey: undefined, data, subSequenceNumber: 0, aggregated: false },
    ]);
    expect(isAggregated(data)).toBe(false);
  });

  it('treats a record with the magic number but a wrong checksum as plain, like the KCL', () => {
    const data = aggregate(users);
    data[data.byteLength - 1] = (data[data.byteLength - 1] as number) ^ 0xff;

    const back = deaggregate(data, 'outer');

    expect(back).toHaveLength(1);
    expect(back[0]?.aggregated).toBe(false);
    expect(back[0]?.data).toBe(data);
  });

  it('throws AggregationFormatError for a checksummed body that is not a valid AggregatedRecord', () => {
    // records = 3 holding a Record whose partition_key_index (5) points past an empty key table
    const body = new Uint8Array([0x1a, 0x04, 0x08, 0x05, 0x1a, 0x00]);
    const data = new Uint8Array([...KPL_MAGIC, ...body, ...createHash('md5').update(body).digest()]);
    const truncated = new Uint8Array([0x0a, 0x09, 0x41]);
    const broken = new Uint8Array([
      ...KPL_MAGIC,
      ...truncated,
      ...createHash('md5').update(truncated).digest(),
    ]);

    expect(() => deaggregate(data)).toThrow(AggregationFormatError);
    expect(() => deaggregate(data)).toThrow(/partition key 5 of 0/);
    expect(() => deaggregate(broken)).toThrow(/runs past the end/);
  });
});
