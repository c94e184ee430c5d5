import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KinesaliteServer, LocalStartError, startKinesalite } from '../../src/index.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startKinesalite', () => {
  let server: KinesaliteServer;
  let client: KinesisClient;
  beforeAll(async () => {
    server = await startKinesalite({ streams: [{ name: 'sensors', shards: 3 }, 'plain'], shardCount: 2 });
    client = new KinesisClient(server.createClientConfig());
  });
  afterAll(async () => {
    client.destroy();
    await server.stop();
  });

  it('creates the streams with their shards, ACTIVE before it resolves', async () => {
    const sensors = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'sensors' }));
    const plain = await client.send(new ListShardsCommand({ StreamName: 'plain' }));
    const streams = await client.send(new ListStreamsCommand({}));

    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sensors.StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
    expect(sensors.StreamDescriptionSummary?.OpenShardCount).toBe(3);
    expect(plain.Shards).toHaveLength(2);
    expect(streams.StreamNames?.sort()).toEqual(['plain', 'sensors']);
    expect(server.streams).toEqual([
      { name: 'sensors', shards: 3 },
      { name: 'plain', shards: 2 },
    ]);
  });

  it('stores records that GetRecords reads back, through the HTTP/1.1 handler of createClientConfig', async () => {
    const put = await client.send(
      new PutRecordsCommand({
        StreamName: 'plain',
        Records: [1, 2, 3].map((n) => ({ PartitionKey: `k${n}`, Data: new TextEncoder().encode(`r${n}`) })),
      }),
    );
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: 'plain' }));
    const read: string[] = [];
    for (const shard of Shards) {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: 'plain',
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await client.send(new GetRecordsCommand({ ShardIterator }));
      for (const record of got.Records ?? []) read.push(new TextDecoder().decode(record.Data));
    }

    expect(put.FailedRecordCount).toBe(0);
    expect(read.sort()).toEqual(['r1', 'r2', 'r3']);
  });

  it('rejects what it cannot start before spawning anything', async () => {
    await expect(startKinesalite({ streams: ['bad name!'] })).rejects.toThrow(/invalid stream name/);
    await expect(startKinesalite({ streams: [{ name: 'a', shards: 0 }] })).rejects.toThrow(/integer ≥ 1/);
    await expect(startKinesalite({ streams: ['a', 'a'] })).rejects.toThrow(/listed twice/);
    await expect(startKinesalite({ streams: ['bad name!'] })).rejects.toMatchObject({
      code: 'LOCAL_OPTIONS_INVALID',
      option: 'streams',
    });
  });

  it('rejects a server that does not start in time with a LocalStartError naming it, and leaves no process', async () => {
    const failure = await startKinesalite({ startTimeoutMs: 1 }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(LocalStartError);
    expect(failure).toMatchObject({ code: 'LOCAL_START_FAILED', context: { server: 'kinesalite' } });
    expect(String((failure as Error).message)).toMatch(/kinesalite did not start within 1 ms/);
  });
});

describe('KinesaliteServer', () => {
  describe('stop', () => {
    it('ends the process, and is harmless when called twice', async () => {
      const second = await startKinesalite();
      const client = new KinesisClient({ ...second.createClientConfig(), maxAttempts: 1 });
      const runningBeforeStop = isRunning(second.pid);

      await Promise.all([second.stop(), second.stop()]);
      await second.stop();

      expect(runningBeforeStop).toBe(true);
      expect(isRunning(second.pid)).toBe(false);
      await expect(client.send(new ListStreamsCommand({}))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      client.destroy();
    });

    it('is what `await using` calls when the block ends', async () => {
      let pid = -1;
      {
        await using server = await startKinesalite();
        pid = server.pid;
        expect(isRunning(pid)).toBe(true);
      }

      expect(isRunning(pid)).toBe(false);
    });
  });
});
