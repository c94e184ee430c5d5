import { Readable } from 'node:stream';
import { AthenaClient } from '@aws-sdk/client-athena';
import type { TributaryEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { AthenaEngine } from '../../src/athena-engine.js';
import { QueryFailedError } from '../../src/errors.js';

// A real AthenaClient, with its own middleware and retry strategy, over a request handler that
// answers from a script: what the SDK does between `send` and the wire is what is under test
// here, so aws-sdk-client-mock (which replaces `send`) cannot be used.

const QUERY_ID = '11111111-2222-3333-4444-555555555555';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

interface SentRequest {
  operation: string;
  body: Record<string, unknown>;
  attemptHeader: string | undefined;
}

const ok = (body: Record<string, unknown>): Reply => ({ status: 200, body });
const fault = (status: number, type: string): Reply => ({
  status,
  body: { __type: type, Message: `${type} from the script` },
});

const SUCCEEDED = ok({
  QueryExecution: { QueryExecutionId: QUERY_ID, StatementType: 'DML', Status: { State: 'SUCCEEDED' } },
});
const RESULTS = ok({
  ResultSet: {
    ResultSetMetadata: { ColumnInfo: [{ Name: 'a', Label: 'a', Type: 'integer' }] },
    Rows: [{ Data: [{ VarCharValue: 'a' }] }, { Data: [{ VarCharValue: '7' }] }],
  },
});

/** An AthenaClient whose HTTP handler answers each operation from `script`, in order (the last reply repeats). */
function scriptedClient(
  script: Record<string, Reply[]>,
  maxAttempts: number,
): { client: AthenaClient; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const requestHandler = {
    async handle(request: { headers: Record<string, string>; body?: unknown }) {
      const operation = (request.headers['x-amz-target'] ?? '').replace('AmazonAthena.', '');
      sent.push({
        operation,
        body: JSON.parse(String(request.body ?? '{}')) as Record<string, unknown>,
        attemptHeader: request.headers['amz-sdk-request'],
      });
      const replies = script[operation] ?? [fault(400, 'InvalidRequestException')];
      const reply = (replies.length > 1 ? replies.shift() : replies[0]) as Reply;
      return {
        response: {
          statusCode: reply.status,
          reason: undefined,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-requestid': `req-${sent.length}`,
            ...(reply.status >= 300 ? { 'x-amzn-errortype': String(reply.body.__type) } : {}),
          },
          body: Readable.from([Buffer.from(JSON.stringify(reply.body))]),
        },
      };
    },
    updateHttpClientConfig(): void {},
    httpHandlerConfigs(): Record<string, never> {
      return {};
    },
    destroy(): void {},
  };
  const client = new AthenaClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
    maxAttempts,
    requestHandler,
  });
  return { client, sent };
}

describe('AthenaEngine with a real AthenaClient', () => {
  describe('query: retries', () => {
    it("leaves a failed call to the client's own retries, which keep the StartQueryExecution token", async () => {
      const { client, sent } = scriptedClient(
        {
          StartQueryExecution: [fault(500, 'InternalServerException'), ok({ QueryExecutionId: QUERY_ID })],
          GetQueryExecution: [SUCCEEDED],
          GetQueryResults: [RESULTS],
        },
        2,
      );
      const engine = new AthenaEngine({ client, pollIntervalMs: 1 });

      const { rows } = await engine.query('SELECT 7 AS a').collect();

      expect(rows).toEqual([{ a: 7 }]);
      const starts = sent.filter((r) => r.operation === 'StartQueryExecution');
      expect(starts.map((r) => r.attemptHeader)).toEqual(['attempt=1; max=2', 'attempt=2; max=2']);
      // The SDK fills in the idempotency token once, before its retry loop: a repeated start
      // cannot start a second query.
      expect(starts[0]?.body.ClientRequestToken).toEqual(expect.any(String));
      expect(starts[1]?.body.ClientRequestToken).toBe(starts[0]?.body.ClientRequestToken);
      client.destroy();
    });

    it('makes exactly maxAttempts attempts of a throttled call, then rejects with a retryable QueryFailedError', async () => {
      const { client, sent } = scriptedClient(
        { StartQueryExecution: [fault(400, 'TooManyRequestsException')] },
        2,
      );
      const engine = new AthenaEngine({ client, pollIntervalMs: 1 });

      const error = await engine
        .query('SELECT 1')
        .collect()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryFailedError);
      expect(error).toMatchObject({ retryable: true });
      expect((error as Error).cause).toMatchObject({
        name: 'TooManyRequestsException',
        $metadata: { attempts: 2 },
      });
      expect(sent.filter((r) => r.operation === 'StartQueryExecution')).toHaveLength(2);
      client.destroy();
    });
  });

  describe('events', () => {
    it("reports each of the client's retries once as a retry event, with the error and the wait", async () => {
      const { client } = scriptedClient(
        {
          StartQueryExecution: [ok({ QueryExecutionId: QUERY_ID })],
          GetQueryExecution: [fault(503, 'InternalServerException'), SUCCEEDED],
          GetQueryResults: [
            fault(500, 'InternalServerException'),
            fault(500, 'InternalServerException'),
            RESULTS,
          ],
        },
        3,
      );
      const events: TributaryEvent[] = [];
      const engine = new AthenaEngine({ client, pollIntervalMs: 1, onEvent: (e) => events.push(e) });

      await engine.query('SELECT 7 AS a').collect();

      const retries = events.filter((e) => e.type === 'retry');
      expect(retries).toEqual([
        expect.objectContaining({ source: 'athena', attempt: 1, reason: 'server', error: expect.any(Error) }),
        expect.objectContaining({ source: 'athena', attempt: 1, reason: 'server' }),
        expect.objectContaining({ source: 'athena', attempt: 2, reason: 'server' }),
      ]);
      for (const retry of retries) expect(retry).toMatchObject({ delayMs: expect.any(Number) });
      client.destroy();
    });
  });
});
