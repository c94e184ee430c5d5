import {
  GetRecordsCommand,
  type GetRecordsCommandInput,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  KinesisClient,
  ListShardsCommand,
  type ListShardsCommandInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { type Clock, OptionsError, type TributaryEvent } from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aggregate } from '../../src/aggregation.js';
import { MemoryCheckpointStore } from '../../src/checkpoints.js';
import {
  KinesisSource,
  KinesisSourceError,
  type KinesisSourceOptions,
  type KinesisSourceRecord,
} from '../../src/kinesis-source.js';

// ---------------------------------------------------------------------------------------------
// A small in-memory Kinesis behind aws-sdk-client-mock: shards with records, iterators that are
// `<shardId>|<index>`, closing and resharding, paginated ListShards.

interface FakeRecord {
  SequenceNumber: string;
  PartitionKey: string;
  Data: Uint8Array;
  ApproximateArrivalTimestamp: Date;
}

interface FakeShard {
  id: string;
  parents: string[];
  closed: boolean;
  records: FakeRecord[];
}

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const text = (value: string) => new TextEncoder().encode(value);
const decode = (data: Uint8Array) => new TextDecoder().decode(data);

class FakeStream {
  readonly shards: FakeShard[] = [];
  private seq = 0n;
  listPageSize = 100;
  /** Called before each GetRecords answer, to change the stream mid-read. */
  beforeGetRecords: (input: GetRecordsCommandInput, call: number) => void = () => {};
  getRecordsCalls = 0;

  addShard(id: string, parents: string[] = []): FakeShard {
    const shard: FakeShard = { id, parents, closed: false, records: [] };
    this.shards.push(shard);
    return shard;
  }

  shard(id: string): FakeShard {
    const shard = this.shards.find((s) => s.id === id);
    if (!shard) throw new Error(`no shard ${id}`);
    return shard;
  }

  put(shardId: string, partitionKey: string, data: Uint8Array | string): FakeRecord {
    const shard = this.shard(shardId);
    if (shard.closed) throw new Error(`${shardId} is closed`);
    this.seq++;
    const record: FakeRecord = {
      SequenceNumber: String(49_000_000_000_000_000_000_000n + this.seq),
      PartitionKey: partitionKey,
      Data: typeof data === 'string' ? text(data) : data,
      ApproximateArrivalTimestamp: new Date(T0 + Number(this.seq) * 1000),
    };
    shard.records.push(record);
    return record;
  }

  /** Closes `parentId` and opens two children, as SplitShard does. */
  split(parentId: string, children: [string, string]): void {
    this.shard(parentId).closed = true;
    for (const child of children) this.addShard(child, [parentId]);
  }

  listShards(input: ListShardsCommandInput) {
    if ((input.StreamName === undefined) === (input.NextToken === undefined)) {
      throw Object.assign(new Error('Either NextToken or StreamName'), { name: 'InvalidArgumentException' });
    }
    const offset = input.NextToken === undefined ? 0 : Number(input.NextToken.split('-')[1]);
    const page = this.shards.slice(offset, offset + this.listPageSize);
    const next = offset + this.listPageSize;
    const shards: Shard[] = page.map((shard) => ({
      ShardId: shard.id,
      ...(shard.parents[0] ? { ParentShardId: shard.parents[0] } : {}),
      ...(shard.parents[1] ? { AdjacentParentShardId: shard.parents[1] } : {}),
      HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
      SequenceNumberRange: {
        StartingSequenceNumber: '0',
        ...(shard.closed ? { EndingSequenceNumber: shard.records.at(-1)?.SequenceNumber ?? '1' } : {}),
      },
    }));
    return { Shards: shards, ...(next < this.shards.length ? { NextToken: `token-${next}` } : {}) };
  }

  getShardIterator(input: GetShardIteratorCommandInput) {
    const shard = this.shard(input.ShardId as string);
    const indexOf = (seq: string | undefined) => {
      const index = shard.records.findIndex((r) => r.SequenceNumber === seq);
      if (index === -1) throw new Error(`unknown sequence number ${seq}`);
      return index;
    };
    let index: number;
    switch (input.ShardIteratorType) {
      case 'TRIM_HORIZON':
        index = 0;
        break;
      case 'LATEST':
        index = shard.records.length;
        break;
      case 'AT_SEQUENCE_NUMBER':
        index = indexOf(input.StartingSequenceNumber);
        break;
      case 'AFTER_SEQUENCE_NUMBER':
        index = indexOf(input.StartingSequenceNumber) + 1;
        break;
      case 'AT_TIMESTAMP': {
        const at = (input.Timestamp as Date).getTime();
        index = shard.records.findIndex((r) => r.ApproximateArrivalTimestamp.getTime() >= at);
        if (index === -1) index = shard.records.length;
        break;
      }
      default:
        throw new Error(`unknown iterator type ${input.ShardIteratorType}`);
    }
    return { ShardIterator: `${shard.id}|${index}` };
  }

  getRecords(input: GetRecordsCommandInput): GetRecordsCommandOutput {
    this.beforeGetRecords(input, this.getRecordsCalls++);
    const [shardId, at] = (input.ShardIterator as string).split('|');
    const shard = this.shard(shardId as string);
    const start = Number(at);
    const records = shard.records.slice(start, start + (input.Limit ?? 10_000));
    const next = start + records.length;
    const ended = shard.closed && next >= shard.records.length;
    return {
      $metadata: {},
      Records: records,
      MillisBehindLatest: (shard.records.length - next) * 1000,
      ...(ended ? {} : { NextShardIterator: `${shard.id}|${next}` }),
    };
  }
}

const kinesis = mockClient(KinesisClient);
let client: KinesisClient;
let stream: FakeStream;

beforeEach(() => {
  kinesis.reset();
  stream = new FakeStream();
  kinesis.on(ListShardsCommand).callsFake((input) => stream.listShards(input));
  kinesis.on(GetShardIteratorCommand).callsFake((input) => stream.getShardIterator(input));
  kinesis.on(GetRecordsCommand).callsFake((input) => stream.getRecords(input));
  client = new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});
afterEach(() => {
  client.destroy();
});

/** Virtual time: a timer moves it forward and fires on the next turn of the event loop. */
function fakeClock(): Clock & { sleeps: number[] } {
  let time = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => time,
    setTimeout: (fn, ms) => {
      sleeps.push(ms);
      time += ms;
      return setImmediate(fn);
    },
    clearTimeout: (handle) => clearImmediate(handle as ReturnType<typeof setImmediate>),
  };
}

function source(options: Partial<KinesisSourceOptions> = {}): KinesisSource {
  return new KinesisSource({
    client,
    streamName: 'sensors',
    stopWhenIdle: true,
    idleTimeoutMs: 2_000,
    pollIntervalMs: 500,
    clock: fakeClock(),
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });
}

async function readAll(from: AsyncIterable<KinesisSourceRecord>): Promise<KinesisSourceRecord[]> {
  const out: KinesisSourceRecord[] = [];
  for await (const record of from) out.push(record);
  return out;
}

const payloads = (records: readonly KinesisSourceRecord[]) => records.map((r) => decode(r.data));

function iteratorRequests(): GetShardIteratorCommandInput[] {
  return kinesis.commandCalls(GetShardIteratorCommand).map((call) => call.args[0].input);
}

describe('KinesisSource', () => {
  describe('constructor', () => {
    it("rejects wrong options with core's OptionsError (SOURCE_OPTIONS_INVALID) naming the option", () => {
      const bad: [Partial<KinesisSourceOptions>, string][] = [
        [{ streamName: 'no spaces' }, 'streamName'],
        [{ client: {} as KinesisClient }, 'client'],
        [{ maxRecordsPerCall: 10_001 }, 'maxRecordsPerCall'],
        [{ pollIntervalMs: -1 }, 'pollIntervalMs'],
        [{ startingPosition: 'AT_SEQUENCE_NUMBER' as never }, 'startingPosition'],
        [{ startingPosition: { at: new Date(Number.NaN) } }, 'startingPosition'],
        [{ checkpoints: { load: async () => ({}) } as never }, 'checkpoints'],
        [{ stopWhenIdle: 'yes' as never }, 'stopWhenIdle'],
        [{ source: '' }, 'source'],
        [{ onEvent: 'log' as never }, 'onEvent'],
      ];
      for (const [options, option] of bad) {
        let caught: unknown;
        try {
          source(options);
        } catch (err) {
          caught = err;
        }
        expect(caught, option).toBeInstanceOf(OptionsError);
        expect((caught as OptionsError).code).toBe('SOURCE_OPTIONS_INVALID');
        expect((caught as OptionsError).option).toBe(option);
        expect((caught as OptionsError).context.option).toBe(option);
      }
    });

    it("takes core's Clock (now, setTimeout, clearTimeout) and refuses a clock without timers", () => {
      const sleepOnly = { now: () => 0, sleep: async () => {} };

      const error = (() => {
        try {
          source({ clock: sleepOnly as never });
        } catch (err) {
          return err;
        }
      })();

      expect(error).toBeInstanceOf(OptionsError);
      expect((error as OptionsError).code).toBe('SOURCE_OPTIONS_INVALID');
      expect((error as OptionsError).option).toBe('clock');
      expect(() => source({ clock: fakeClock() })).not.toThrow();
    });
  });

  describe('iteration', () => {
    it('reads every shard, over several ListShards pages and GetRecords pages, in order per shard', async () => {
      stream.listPageSize = 2;
      for (let s = 0; s < 5; s++) {
        stream.addShard(`shardId-00000000000${s}`);
        for (let i = 0; i < 3; i++) stream.put(`shardId-00000000000${s}`, `k${s}`, `s${s}-r${i}`);
      }

      const records = await readAll(source({ maxRecordsPerCall: 2 }));

      expect(records).toHaveLength(15);
      for (let s = 0; s < 5; s++) {
        const shardId = `shardId-00000000000${s}`;
        expect(payloads(records.filter((r) => r.shardId === shardId))).toEqual([
          `s${s}-r0`,
          `s${s}-r1`,
          `s${s}-r2`,
        ]);
      }
      const first = records[0] as KinesisSourceRecord;
      expect(first.partitionKey).toMatch(/^k\d$/);
      expect(first.arrivalTime).toBeInstanceOf(Date);
      expect(first.subSequenceNumber).toBeUndefined();
      // Three pages of shards: the second and third calls carry only the NextToken.
      const lists = kinesis.commandCalls(ListShardsCommand).map((call) => call.args[0].input);
      expect(lists.slice(0, 3)).toEqual([
        { StreamName: 'sensors' },
        { NextToken: 'token-2' },
        { NextToken: 'token-4' },
      ]);
      expect(kinesis.commandCalls(GetRecordsCommand)[0]?.args[0].input.Limit).toBe(2);
    });

    it('reads the two children of a shard split during the run, after every record of the parent', async () => {
      stream.addShard('shardId-000000000000');
      for (let i = 0; i < 4; i++) stream.put('shardId-000000000000', 'k', `parent-${i}`);
      stream.beforeGetRecords = (_input, call) => {
        if (call !== 1) return;
        // The split happens while the parent is being read: two more records, then it closes.
        stream.put('shardId-000000000000', 'k', 'parent-4');
        stream.split('shardId-000000000000', ['shardId-000000000001', 'shardId-000000000002']);
        stream.put('shardId-000000000001', 'k', 'child1-0');
        stream.put('shardId-000000000002', 'k', 'child2-0');
        stream.put('shardId-000000000001', 'k', 'child1-1');
      };

      const records = await readAll(source({ maxRecordsPerCall: 2 }));

      const order = payloads(records);
      expect([...order].sort()).toEqual(
        [
          'parent-0',
          'parent-1',
          'parent-2',
          'parent-3',
          'parent-4',
          'child1-0',
          'child1-1',
          'child2-0',
        ].sort(),
      );
      const lastParent = Math.max(...order.map((p, i) => (p.startsWith('parent') ? i : -1)));
      const firstChild = Math.min(...order.map((p, i) => (p.startsWith('child') ? i : order.length)));
      expect(lastParent).toBeLessThan(firstChild);
      expect(payloads(records.filter((r) => r.shardId === 'shardId-000000000001'))).toEqual([
        'child1-0',
        'child1-1',
      ]);
      // The children are read from their first record.
      const childRequests = iteratorRequests().filter((input) => input.ShardId !== 'shardId-000000000000');
      expect(childRequests.map((input) => input.ShardIteratorType)).toEqual(['TRIM_HORIZON', 'TRIM_HORIZON']);
    });

    it('reads a merged shard only after both of its parents', async () => {
      stream.addShard('shardId-000000000000');
      stream.addShard('shardId-000000000001');
      stream.addShard('shardId-000000000002', ['shardId-000000000000', 'shardId-000000000001']);
      for (let i = 0; i < 3; i++) stream.put('shardId-000000000000', 'a', `a-${i}`);
      for (let i = 0; i < 5; i++) stream.put('shardId-000000000001', 'b', `b-${i}`);
      stream.shard('shardId-000000000000').closed = true;
      stream.shard('shardId-000000000001').closed = true;
      stream.put('shardId-000000000002', 'a', 'merged-0');

      const records = await readAll(source({ maxRecordsPerCall: 1 }));

      const order = payloads(records);
      expect(order).toHaveLength(9);
      expect(order.at(-1)).toBe('merged-0');
    });

    it('reports a GetRecords the client gave up on as throttled as a retryable KinesisSourceError', async () => {
      // aws-sdk-client-mock stubs send, so no SDK retry runs: this is the error the client gives up with.
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'r0');
      const throttled = Object.assign(new Error('Rate exceeded for shard'), {
        name: 'ProvisionedThroughputExceededException',
        $metadata: { httpStatusCode: 400 },
      });
      stream.beforeGetRecords = () => {
        throw throttled;
      };
      const events: TributaryEvent[] = [];

      const failure = await readAll(source({ onEvent: (event) => events.push(event) })).catch(
        (err: unknown) => err,
      );

      expect(failure).toBeInstanceOf(KinesisSourceError);
      expect((failure as KinesisSourceError).cause).toBe(throttled);
      expect((failure as KinesisSourceError).retryable).toBe(true);
      expect(stream.getRecordsCalls).toBe(1);
      expect(events.filter((event) => event.type === 'retry')).toEqual([]);
    });

    it('de-aggregates KPL records and numbers their user records', async () => {
      stream.addShard('shardId-000000000000');
      stream.put(
        'shardId-000000000000',
        'pump-1',
        aggregate([
          { partitionKey: 'pump-1', data: text('u0') },
          { partitionKey: 'temp-2', data: text('u1') },
          { partitionKey: 'pump-1', data: text('u2') },
        ]),
      );
      stream.put('shardId-000000000000', 'temp-3', 'plain');

      const records = await readAll(source());

      expect(
        records.map((r) => [decode(r.data), r.partitionKey, r.subSequenceNumber, r.sequenceNumber]),
      ).toEqual([
        ['u0', 'pump-1', 0, '49000000000000000000001'],
        ['u1', 'temp-2', 1, '49000000000000000000001'],
        ['u2', 'pump-1', 2, '49000000000000000000001'],
        ['plain', 'temp-3', undefined, '49000000000000000000002'],
      ]);
    });

    it('ends at once when the signal aborts, leaving no call in flight', async () => {
      stream.addShard('shardId-000000000000');
      for (let i = 0; i < 5; i++) stream.put('shardId-000000000000', 'k', `r${i}`);
      const controller = new AbortController();
      const s = source({ signal: controller.signal, stopWhenIdle: false, maxRecordsPerCall: 1 });

      const seen: string[] = [];
      for await (const record of s) {
        seen.push(decode(record.data));
        if (seen.length === 2) controller.abort();
      }
      const calls = kinesis.commandCalls(GetRecordsCommand).length;
      await new Promise((resolve) => setTimeout(resolve, 20));

      expect(seen).toEqual(['r0', 'r1']);
      expect(kinesis.commandCalls(GetRecordsCommand).length).toBe(calls);
    });

    it('runs until the shards are idle and caught up, then ends', async () => {
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'r0');
      const clock = fakeClock();
      const s = source({ clock, idleTimeoutMs: 5_000, pollIntervalMs: 1_000 });

      const records = await readAll(s);

      expect(payloads(records)).toEqual(['r0']);
      // One page with the record, then empty polls until 5 s of idleness.
      expect(s.stats().calls).toBeGreaterThanOrEqual(6);
      expect(clock.now()).toBeGreaterThanOrEqual(5_000);
    });

    it('rejects with a KinesisSourceError when a read fails for good', async () => {
      stream.addShard('shardId-000000000000');
      const denied = Object.assign(new Error('not authorized'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 403 },
      });
      stream.beforeGetRecords = () => {
        throw denied;
      };

      const failure = await readAll(source()).catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(KinesisSourceError);
      expect((failure as KinesisSourceError).code).toBe('SOURCE_READ_FAILED');
      expect((failure as KinesisSourceError).context).toMatchObject({
        stream: 'sensors',
        shardId: 'shardId-000000000000',
      });
      expect((failure as KinesisSourceError).cause).toBe(denied);
    });

    it('gets a new iterator after the last record read when one expires', async () => {
      stream.addShard('shardId-000000000000');
      for (let i = 0; i < 3; i++) stream.put('shardId-000000000000', 'k', `r${i}`);
      stream.beforeGetRecords = (_input, call) => {
        if (call === 1)
          throw Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });
      };

      const records = await readAll(source({ maxRecordsPerCall: 1 }));

      expect(payloads(records)).toEqual(['r0', 'r1', 'r2']);
      expect(iteratorRequests()[1]).toMatchObject({
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: records[0]?.sequenceNumber,
      });
    });

    it('starts shards at startingPosition on a first run', async () => {
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'old');

      await readAll(source({ startingPosition: 'LATEST' }));
      await readAll(source({ startingPosition: { at: new Date(T0 + 5_000) } }));

      expect(iteratorRequests().map((input) => [input.ShardIteratorType, input.Timestamp])).toEqual([
        ['LATEST', undefined],
        ['AT_TIMESTAMP', new Date(T0 + 5_000)],
      ]);
    });

    it('can be iterated only once', async () => {
      stream.addShard('shardId-000000000000');
      const s = source();
      await readAll(s);

      expect(() => s[Symbol.asyncIterator]()).toThrow(/iterated once/);
    });
  });

  describe('checkpoint', () => {
    it('lets a second source resume right after the committed sequence numbers', async () => {
      stream.addShard('shardId-000000000000');
      stream.addShard('shardId-000000000001');
      for (let i = 0; i < 4; i++) {
        stream.put('shardId-000000000000', 'a', `a${i}`);
        stream.put('shardId-000000000001', 'b', `b${i}`);
      }
      const checkpoints = new MemoryCheckpointStore();
      const first = source({ checkpoints });
      const firstRecords = await readAll(first);
      const byPayload = new Map(firstRecords.map((r) => [decode(r.data), r]));

      first.commit(byPayload.get('a2') as KinesisSourceRecord);
      first.commit(byPayload.get('b0') as KinesisSourceRecord);
      await first.checkpoint();
      const second = await readAll(source({ checkpoints }));

      expect(await checkpoints.load('sensors')).toEqual({
        'shardId-000000000000': { sequenceNumber: byPayload.get('a2')?.sequenceNumber },
        'shardId-000000000001': { sequenceNumber: byPayload.get('b0')?.sequenceNumber },
      });
      expect(payloads(second).sort()).toEqual(['a3', 'b1', 'b2', 'b3']);
      expect(iteratorRequests().slice(2)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            ShardId: 'shardId-000000000000',
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: byPayload.get('a2')?.sequenceNumber,
          }),
        ]),
      );
    });

    it('resumes inside a KPL aggregate at the next user record', async () => {
      stream.addShard('shardId-000000000000');
      stream.put(
        'shardId-000000000000',
        'p',
        aggregate(['u0', 'u1', 'u2'].map((u) => ({ partitionKey: 'p', data: text(u) }))),
      );
      stream.put('shardId-000000000000', 'p', 'after');
      const checkpoints = new MemoryCheckpointStore();
      const first = source({ checkpoints });
      const firstRecords = await readAll(first);

      first.commit(firstRecords[1] as KinesisSourceRecord);
      await first.checkpoint();
      const second = await readAll(source({ checkpoints }));

      expect(await checkpoints.load('sensors')).toEqual({
        'shardId-000000000000': { sequenceNumber: firstRecords[1]?.sequenceNumber, subSequenceNumber: 1 },
      });
      expect(second.map((r) => [decode(r.data), r.subSequenceNumber])).toEqual([
        ['u2', 2],
        ['after', undefined],
      ]);
      expect(iteratorRequests()[1]).toMatchObject({ ShardIteratorType: 'AT_SEQUENCE_NUMBER' });
    });

    it('saves the last user record of an aggregate as the whole record', async () => {
      stream.addShard('shardId-000000000000');
      stream.put(
        'shardId-000000000000',
        'p',
        aggregate(['u0', 'u1'].map((u) => ({ partitionKey: 'p', data: text(u) }))),
      );
      const s = source();
      const records = await readAll(s);

      s.commit(records[1] as KinesisSourceRecord);

      expect(s.committed()).toEqual({
        'shardId-000000000000': { sequenceNumber: records[1]?.sequenceNumber },
      });
    });

    it('marks a closed shard finished once all its records are committed, and never reads it again', async () => {
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'r0');
      stream.put('shardId-000000000000', 'k', 'r1');
      stream.split('shardId-000000000000', ['shardId-000000000001', 'shardId-000000000002']);
      stream.put('shardId-000000000001', 'k', 'c0');
      const checkpoints = new MemoryCheckpointStore();
      const first = source({ checkpoints });
      const records = await readAll(first);

      first.commit(records[0] as KinesisSourceRecord);
      const partly = first.committed()['shardId-000000000000'];
      for (const record of records) first.commit(record);
      await first.checkpoint();
      kinesis.resetHistory();
      const second = await readAll(source({ checkpoints }));

      expect(partly).toEqual({ sequenceNumber: records[0]?.sequenceNumber });
      expect((await checkpoints.load('sensors'))['shardId-000000000000']).toEqual({
        sequenceNumber: records[1]?.sequenceNumber,
        finished: true,
      });
      // An empty child was read to nothing; it stays open and resumes from its start.
      expect(second).toEqual([]);
      expect(iteratorRequests().map((input) => input.ShardId)).not.toContain('shardId-000000000000');
    });

    it('saves nothing while nothing was committed, so a fresh source cannot wipe the store', async () => {
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'r0');
      const checkpoints = new MemoryCheckpointStore();
      const saved = { 'shardId-000000000000': { sequenceNumber: '49000000000000000000001' } };
      await checkpoints.save('sensors', saved);
      let saves = 0;
      const counting = {
        load: (stream: string) => checkpoints.load(stream),
        save: (stream: string, value: Record<string, object>) => {
          saves++;
          return checkpoints.save(stream, value);
        },
      };

      const s = source({ checkpoints: counting });
      await s.checkpoint();
      await readAll(s);
      await s.checkpoint();

      expect(saves).toBe(0);
      expect(await checkpoints.load('sensors')).toEqual(saved);
    });

    it('never moves a committed position back', async () => {
      stream.addShard('shardId-000000000000');
      for (let i = 0; i < 3; i++) stream.put('shardId-000000000000', 'k', `r${i}`);
      const s = source();
      const records = await readAll(s);

      s.commit(records[2] as KinesisSourceRecord);
      s.commit(records[0] as KinesisSourceRecord);

      expect(s.committed()).toEqual({
        'shardId-000000000000': { sequenceNumber: records[2]?.sequenceNumber },
      });
      expect(() =>
        s.commit({ ...(records[0] as KinesisSourceRecord), shardId: 'shardId-000000000009' }),
      ).toThrow(KinesisSourceError);
    });

    it('refuses to commit a record it did not read with SOURCE_COMMIT_INVALID naming the shard', async () => {
      stream.addShard('shardId-000000000000');
      stream.put('shardId-000000000000', 'k', 'r0');
      const s = source();
      const [record] = await readAll(s);

      const errors = [
        { ...(record as KinesisSourceRecord), shardId: 'shardId-000000000009' },
        { ...(record as KinesisSourceRecord), sequenceNumber: 'not-a-number' },
        null,
      ].map((bad) => {
        try {
          s.commit(bad as KinesisSourceRecord);
          return undefined;
        } catch (err) {
          return err;
        }
      });

      for (const error of errors) {
        expect(error).toBeInstanceOf(KinesisSourceError);
        expect((error as KinesisSourceError).code).toBe('SOURCE_COMMIT_INVALID');
        expect((error as KinesisSourceError).context.stream).toBe('sensors');
      }
      expect((errors[0] as KinesisSourceError).context.shardId).toBe('shardId-000000000009');
      expect(s.committed()).toEqual({});
    });

    it('reads shards without a checkpoint from TRIM_HORIZON once the stream has checkpoints', async () => {
      stream.addShard('shardId-000000000000');
      stream.addShard('shardId-000000000001');
      stream.put('shardId-000000000000', 'a', 'a0');
      stream.put('shardId-000000000001', 'b', 'b0');
      const checkpoints = new MemoryCheckpointStore();
      await checkpoints.save('sensors', {
        'shardId-000000000000': { sequenceNumber: '49000000000000000000001' },
      });

      const records = await readAll(source({ checkpoints, startingPosition: 'LATEST' }));

      expect(payloads(records)).toEqual(['b0']);
      expect(iteratorRequests().find((input) => input.ShardId === 'shardId-000000000001')).toMatchObject({
        ShardIteratorType: 'TRIM_HORIZON',
      });
    });
  });
});
