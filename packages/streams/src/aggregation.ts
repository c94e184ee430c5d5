import { createHash } from 'node:crypto';
import { utf8ByteLength } from '@tributary/core';
import { AggregationFormatError } from './errors.js';

/** One user record inside (or outside) a KPL aggregated Kinesis record. */
export interface UserRecord {
  partitionKey: string;
  /** A decimal 128-bit hash key that overrides the partition key's hash for shard routing. */
  explicitHashKey?: string;
  data: Uint8Array;
}

/** A user record that `deaggregate` found, with its position in the Kinesis record. */
export interface DeaggregatedRecord {
  /** The user record's own key; for a plain record, the `partitionKey` given to `deaggregate`. */
  partitionKey: string | undefined;
  explicitHashKey: string | undefined;
  data: Uint8Array;
  /** Position inside the aggregate (the KCL's sub-sequence number); 0 for a plain record. */
  subSequenceNumber: number;
  /** Whether the Kinesis record was a KPL aggregate. */
  aggregated: boolean;
}

// The 4 bytes that start every KPL aggregated record.
const KPL_MAGIC = new Uint8Array([0xf3, 0x89, 0x9a, 0xc2]);
const DIGEST_BYTES = 16;

// Protobuf field keys: (field number << 3) | wire type, wire type 0 = varint, 2 = length-delimited.
const KEY_PARTITION_KEY_TABLE = 0x0a; // AggregatedRecord.partition_key_table = 1
const KEY_EXPLICIT_HASH_KEY_TABLE = 0x12; // AggregatedRecord.explicit_hash_key_table = 2
const KEY_RECORDS = 0x1a; // AggregatedRecord.records = 3
const KEY_PARTITION_KEY_INDEX = 0x08; // Record.partition_key_index = 1
const KEY_EXPLICIT_HASH_KEY_INDEX = 0x10; // Record.explicit_hash_key_index = 2
const KEY_DATA = 0x1a; // Record.data = 3

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function varintSize(value: number): number {
  let size = 1;
  let rest = value;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 0x80);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  let at = offset;
  let rest = value;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at++] = rest;
  return at;
}

function writeBytes(out: Uint8Array, offset: number, key: number, bytes: Uint8Array): number {
  out[offset] = key;
  const at = writeVarint(out, offset + 1, bytes.byteLength);
  out.set(bytes, at);
  return at + bytes.byteLength;
}

function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

interface PendingRecord {
  keyIndex: number;
  hashKeyIndex: number | undefined;
  data: Uint8Array;
  size: number;
}

/**
 * Builds one KPL aggregated record incrementally, knowing its exact size at every step, so that a
 * producer can stop adding before a limit.
 */
export class AggregateBuilder {
  private readonly keys = new Map<string, number>();
  private readonly keyBytes: Uint8Array[] = [];
  private readonly hashKeys = new Map<string, number>();
  private readonly hashKeyBytes: Uint8Array[] = [];
  private readonly records: PendingRecord[] = [];
  private bodyBytes = 0;
  private first: string | undefined;

  /** User records added so far. */
  get count(): number {
    return this.records.length;
  }

  /** The partition key of the first user record: the aggregated record's own key. */
  get partitionKey(): string | undefined {
    return this.first;
  }

  /** Bytes of the aggregated record built from what was added (magic + protobuf + MD5). */
  get byteLength(): number {
    return KPL_MAGIC.byteLength + this.bodyBytes + DIGEST_BYTES;
  }

  /** Bytes of the aggregated record if `record` were added too. */
  byteLengthWith(record: UserRecord): number {
    return KPL_MAGIC.byteLength + this.bodyBytes + this.growth(record).total + DIGEST_BYTES;
  }

  add(record: UserRecord): void {
    const growth = this.growth(record);
    let keyIndex = this.keys.get(record.partitionKey);
    if (keyIndex === undefined) {
      keyIndex = this.keyBytes.length;
      this.keys.set(record.partitionKey, keyIndex);
      this.keyBytes.push(utf8.encode(record.partitionKey));
    }
    let hashKeyIndex: number | undefined;
    if (record.explicitHashKey !== undefined) {
      hashKeyIndex = this.hashKeys.get(record.explicitHashKey);
      if (hashKeyIndex === undefined) {
        hashKeyIndex = this.hashKeyBytes.length;
        this.hashKeys.set(record.explicitHashKey, hashKeyIndex);
        this.hashKeyBytes.push(utf8.encode(record.explicitHashKey));
      }
    }
    this.records.push({ keyIndex, hashKeyIndex, data: record.data, size: growth.record });
    this.bodyBytes += growth.total;
    this.first ??= record.partitionKey;
  }

  /** Magic number, protobuf `AggregatedRecord`, then the MD5 of the protobuf bytes. */
  build(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    out.set(KPL_MAGIC, 0);
    let at = KPL_MAGIC.byteLength;
    for (const key of this.keyBytes) at = writeBytes(out, at, KEY_PARTITION_KEY_TABLE, key);
    for (const key of this.hashKeyBytes) at = writeBytes(out, at, KEY_EXPLICIT_HASH_KEY_TABLE, key);
    for (const record of this.records) {
      out[at++] = KEY_RECORDS;
      at = writeVarint(out, at, record.size);
      out[at++] = KEY_PARTITION_KEY_INDEX;
      at = writeVarint(out, at, record.keyIndex);
      if (record.hashKeyIndex !== undefined) {
        out[at++] = KEY_EXPLICIT_HASH_KEY_INDEX;
        at = writeVarint(out, at, record.hashKeyIndex);
      }
      at = writeBytes(out, at, KEY_DATA, record.data);
    }
    const digest = createHash('md5').update(out.subarray(KPL_MAGIC.byteLength, at)).digest();
    out.set(digest, at);
    return out;
  }

  private growth(record: UserRecord): { total: number; record: number } {
    let total = 0;
    let keyIndex = this.keys.get(record.partitionKey);
    if (keyIndex === undefined) {
      keyIndex = this.keyBytes.length;
      total += fieldSize(utf8ByteLength(record.partitionKey));
    }
    let size = 1 + varintSize(keyIndex) + fieldSize(record.data.byteLength);
    if (record.explicitHashKey !== undefined) {
      let hashKeyIndex = this.hashKeys.get(record.explicitHashKey);
      if (hashKeyIndex === undefined) {
        hashKeyIndex = this.hashKeyBytes.length;
        total += fieldSize(utf8ByteLength(record.explicitHashKey));
      }
      size += 1 + varintSize(hashKeyIndex);
    }
    return { total: total + fieldSize(size), record: size };
  }
}

/**
 * Pack user records into one Kinesis record in the KPL aggregated format (magic `F3 89 9A C2`,
 * a protobuf `AggregatedRecord`, its MD5), readable by the KCL, Lambda's Kinesis trigger with
 * `aws-kinesis-agg`, and {@link deaggregate}. Send it with the first record's partition key. It
 * does not split: keep the result within Kinesis' 1 MiB (data + partition key) yourself, or let
 * `KinesisProducer` with `aggregate: true` do it.
 *
 * @example
 * ```ts
 * import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
 *
 * const utf8 = new TextEncoder();
 * const data = aggregate([
 *   { partitionKey: 't-1', data: utf8.encode('{"id":"t-1:0","value":21.5}\n') },
 *   { partitionKey: 't-2', data: utf8.encode('{"id":"t-2:0","value":19.5}\n') },
 * ]);
 * await new KinesisClient({}).send(new PutRecordCommand({ StreamName: 'readings', PartitionKey: 't-1', Data: data }));
 * ```
 */
export function aggregate(records: Iterable<UserRecord>): Uint8Array {
  const builder = new AggregateBuilder();
  for (const record of records) builder.add(record);
  return builder.build();
}

class Reader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly end: number,
  ) {}

  get done(): boolean {
    return this.offset >= this.end;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new AggregationFormatError('truncated varint');
      const byte = this.bytes[this.offset++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw new AggregationFormatError('varint beyond 2^53');
        return value;
      }
      scale *= 0x80;
    }
    throw new AggregationFormatError('varint longer than 10 bytes');
  }

  bytesField(): Uint8Array {
    const length = this.varint();
    const start = this.offset;
    if (start + length > this.end) throw new AggregationFormatError('field runs past the end');
    this.offset += length;
    return this.bytes.subarray(start, start + length);
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytesField();
    else if (wireType === 1 || wireType === 5) {
      this.offset += wireType === 1 ? 8 : 4;
      if (this.offset > this.end) throw new AggregationFormatError('field runs past the end');
    } else throw new AggregationFormatError(`unsupported wire type ${wireType}`);
  }
}

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new AggregationFormatError(`${what} is not UTF-8`);
  }
}

/**
 * True when `data` starts with the KPL magic number and ends with the MD5 of what lies between.
 *
 * @example
 * ```ts
 * isAggregated(aggregate([{ partitionKey: 'a', data: new TextEncoder().encode('{"id":"a"}\n') }])); // true
 * ```
 */
export function isAggregated(data: Uint8Array): boolean {
  if (data.byteLength < KPL_MAGIC.byteLength + DIGEST_BYTES) return false;
  for (let i = 0; i < KPL_MAGIC.byteLength; i++) if (data[i] !== KPL_MAGIC[i]) return false;
  const end = data.byteLength - DIGEST_BYTES;
  const digest = createHash('md5').update(data.subarray(KPL_MAGIC.byteLength, end)).digest();
  for (let i = 0; i < DIGEST_BYTES; i++) if (digest[i] !== data[end + i]) return false;
  return true;
}

/**
 * Unpack a Kinesis record's data into its user records. A record that is not a KPL aggregate
 * (no magic number, or a checksum that does not match, as the KCL decides) comes back as one
 * record with the `partitionKey` you pass. `data` of each result is a view into `data`.
 *
 * @example
 * ```ts
 * import { GetRecordsCommand, KinesisClient } from '@aws-sdk/client-kinesis';
 *
 * declare const shardIterator: string; // from GetShardIterator
 * const got = await new KinesisClient({}).send(new GetRecordsCommand({ ShardIterator: shardIterator }));
 * for (const record of got.Records ?? []) {
 *   if (record.Data === undefined) continue;
 *   for (const user of deaggregate(record.Data, record.PartitionKey)) console.log(user.partitionKey, user.data.byteLength);
 * }
 * ```
 */
export function deaggregate(data: Uint8Array, partitionKey?: string): DeaggregatedRecord[] {
  if (!isAggregated(data)) {
    return [{ partitionKey, explicitHashKey: undefined, data, subSequenceNumber: 0, aggregated: false }];
  }
  const keys: string[] = [];
  const hashKeys: string[] = [];
  const records: { keyIndex: number | undefined; hashKeyIndex: number | undefined; data: Uint8Array }[] = [];
  const reader = new Reader(data, data.byteLength - DIGEST_BYTES);
  reader.offset = KPL_MAGIC.byteLength;
  while (!reader.done) {
    const key = reader.varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 1 && wireType === 2) keys.push(text(reader.bytesField(), 'a partition key'));
    else if (field === 2 && wireType === 2) hashKeys.push(text(reader.bytesField(), 'an explicit hash key'));
    else if (field === 3 && wireType === 2) {
      const body = reader.bytesField();
      const inner = new Reader(body, body.byteLength);
      const record: (typeof records)[number] = {
        keyIndex: undefined,
        hashKeyIndex: undefined,
        data: new Uint8Array(0),
      };
      while (!inner.done) {
        const innerKey = inner.varint();
        const innerField = Math.floor(innerKey / 8);
        const innerType = innerKey % 8;
        if (innerField === 1 && innerType === 0) record.keyIndex = inner.varint();
        else if (innerField === 2 && innerType === 0) record.hashKeyIndex = inner.varint();
        else if (innerField === 3 && innerType === 2) record.data = inner.bytesField();
        else inner.skip(innerType);
      }
      records.push(record);
    } else reader.skip(wireType);
  }
  return records.map((record, index) => {
    if (record.keyIndex === undefined || record.keyIndex >= keys.length) {
      throw new AggregationFormatError(
        `user record ${index} points at partition key ${record.keyIndex} of ${keys.length}`,
        { subSequenceNumber: index },
      );
    }
    if (record.hashKeyIndex !== undefined && record.hashKeyIndex >= hashKeys.length) {
      throw new AggregationFormatError(
        `user record ${index} points at explicit hash key ${record.hashKeyIndex} of ${hashKeys.length}`,
        { subSequenceNumber: index },
      );
    }
    return {
      partitionKey: keys[record.keyIndex],
      explicitHashKey: record.hashKeyIndex === undefined ? undefined : hashKeys[record.hashKeyIndex],
      data: record.data,
      subSequenceNumber: index,
      aggregated: true,
    };
  });
}
