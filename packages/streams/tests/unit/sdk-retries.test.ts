import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Clock, TributaryEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { KinesisProducer } from '../../src/kinesis-producer.js';
import { KinesisSource, KinesisSourceError } from '../../src/kinesis-source.js';

// The AWS SDK retries each call itself; the source and the producer add no loop of its own around `send`. These
// tests go through a real KinesisClient (its middleware stack and retry strategy run) whose HTTP
// handler answers from a script, so they see which layer retried.

type Answer = { status: number; body: unknown };

/** A KinesisClient whose requests are answered in turn by `answers[target]`; counts the requests. */
function scriptedClient(answers: Record<string, Answer[]>, maxAttempts: number) {
  const requests: string[] = [];
  const requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      const target = (request.headers['x-amz-target'] ?? '').replace('Kinesis_20131202.', '');
      requests.push(target);
      const queue = answers[target] ?? [];
      const answer = (queue.length > 1 ? queue.shift() : queue[0]) ?? { status: 500, body: {} };
      const type = (answer.body as { __type?: string }).__type;
      return {
        response: {
          statusCode: answer.status,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            ...(type === undefined ? {} : { 'x-amzn-errortype': type }),
          },
          body: new TextEncoder().encode(JSON.stringify(answer.body)),
        },
      };
    },
  };
  // Retries without waiting: `maxAttempts` attempts per call, as the client's own policy says.
  const token = (count: number) => ({ getRetryCount: () => count, getRetryDelay: () => 0 });
  const retryStrategy = {
    mode: 'standard',
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous: ReturnType<typeof token>, info: { error: unknown }) => {
      if (previous.getRetryCount() + 1 >= maxAttempts) throw info.error;
      return token(previous.getRetryCount() + 1);
    },
    recordSuccess: () => {},
  };
  const client = new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: requestHandler as never,
    retryStrategy: retryStrategy as never,
  });
  return { client, requests };
}

const throttled: Answer = {
  status: 400,
  body: { __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for shard' },
};

// One closed shard holding one record: the source reads it and ends.
const stream = (getRecords: Answer[]): Record<string, Answer[]> => ({
  ListShards: [
    {
      status: 200,
      body: {
        Shards: [
          {
            ShardId: 'shardId-000000000000',
            HashKeyRange: { StartingHashKey: '0', EndingHashKey: '340282366920938463463374607431768211455' },
            SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' },
          },
        ],
      },
    },
  ],
  GetShardIterator: [{ status: 200, body: { ShardIterator: 'it-0' } }],
  GetRecords: getRecords,
});

const oneRecord: Answer = {
  status: 200,
  body: {
    Records: [
      {
        SequenceNumber: '1',
        PartitionKey: 'k',
        Data: Buffer.from('{"n":1}').toString('base64'),
        ApproximateArrivalTimestamp: 1_795_000_000,
      },
    ],
    MillisBehindLatest: 0,
  },
};

// Every wait ends on the next turn of the event loop.
const clock: Clock = {
  now: () => 0,
  setTimeout: (fn) => setImmediate(fn),
  clearTimeout: (handle) => clearImmediate(handle as ReturnType<typeof setImmediate>),
};

async function readAll(source: KinesisSource): Promise<string[]> {
  const out: string[] = [];
  for await (const record of source) out.push(new TextDecoder().decode(record.data));
  return out;
}

describe('KinesisSource', () => {
  describe('retries', () => {
    it('leaves a throttled GetRecords to the client, which retries it, and reports that retry as an event', async () => {
      const { client, requests } = scriptedClient(stream([throttled, oneRecord]), 3);
      const events: TributaryEvent[] = [];

      const records = await readAll(
        new KinesisSource({
          client,
          streamName: 'clicks',
          clock,
          onEvent: (event) => void events.push(event),
        }),
      );

      expect(records).toEqual(['{"n":1}']);
      expect(requests.filter((target) => target === 'GetRecords')).toHaveLength(2);
      const retries = events.filter((event) => event.type === 'retry');
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ source: 'kinesis-source', attempt: 1, reason: 'throttling' });
    });

    it('adds no retries of its own: a client that does not retry makes a throttled read fail', async () => {
      const { client, requests } = scriptedClient(stream([throttled, oneRecord]), 1);

      const failure = await readAll(new KinesisSource({ client, streamName: 'clicks', clock })).catch(
        (error: unknown) => error,
      );

      expect(failure).toBeInstanceOf(KinesisSourceError);
      expect((failure as KinesisSourceError).code).toBe('SOURCE_READ_FAILED');
      expect(requests.filter((target) => target === 'GetRecords')).toHaveLength(1);
    });
  });
});

describe('KinesisProducer', () => {
  describe('retries', () => {
    it('reports the client retrying a throttled PutRecords as a retry event, and sends the request once', async () => {
      const { client, requests } = scriptedClient(
        {
          PutRecords: [
            throttled,
            {
              status: 200,
              body: {
                FailedRecordCount: 0,
                Records: [{ SequenceNumber: '1', ShardId: 'shardId-000000000000' }],
              },
            },
          ],
        },
        3,
      );
      const events: TributaryEvent[] = [];
      const producer = new KinesisProducer<{ n: number }>({
        client,
        streamName: 'clicks',
        partitionKey: (record) => String(record.n),
        rateLimit: false,
        onEvent: (event) => void events.push(event),
      });

      await producer.put({ n: 1 });
      const result = await producer.close();

      expect(result.sent).toBe(1);
      expect(requests).toEqual(['PutRecords', 'PutRecords']);
      const retries = events.filter((event) => event.type === 'retry');
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ attempt: 1, reason: 'throttling' });
    });
  });
});
