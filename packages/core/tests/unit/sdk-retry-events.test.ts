import { describe, expect, it } from 'vitest';
import type { TributaryEvent } from '../../src/events.js';
import {
  addSdkRetryEvents,
  SDK_RETRY_EVENTS_MIDDLEWARE,
  type SdkHandler,
  type SdkMiddleware,
} from '../../src/sdk-retry-events.js';

// A stand-in for an AWS SDK v3 middleware stack: `add` records the middleware, and `send` runs it
// the way the SDK's retry middleware does, calling the wrapped handler once per attempt.

interface Added {
  middleware: SdkMiddleware;
  options: { step: string; priority: string; name: string; override: boolean };
}

function fakeCommand() {
  const added: Added[] = [];
  return {
    added,
    middlewareStack: {
      add(middleware: SdkMiddleware, options: Added['options']): void {
        added.push({ middleware, options });
      },
    },
    /** One `send`: `outcomes` are the attempts' results (an Error fails the attempt); stops at the first success. */
    async send(outcomes: readonly (string | Error)[]): Promise<unknown> {
      let attempt = 0;
      const wire: SdkHandler<unknown, string> = async () => {
        const outcome = outcomes[attempt++] as string | Error;
        if (outcome instanceof Error) throw outcome;
        return outcome;
      };
      const handler = added.reduce<SdkHandler<unknown, string>>(
        (next, { middleware }) => middleware(next, {}),
        wire,
      );
      let error: unknown;
      for (let i = 0; i < outcomes.length; i++) {
        try {
          return await handler({});
        } catch (e) {
          error = e;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      throw error;
    },
  };
}

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });
const serverError = () =>
  Object.assign(new Error('boom'), { name: 'InternalServerException', $metadata: { httpStatusCode: 500 } });

describe('addSdkRetryEvents', () => {
  it('adds one named middleware inside the retry step, replacing an earlier one of that name', () => {
    const command = fakeCommand();

    const returned = addSdkRetryEvents(command, { source: 'athena', onEvent: () => {} });

    expect(returned).toBe(command);
    expect(command.added.map((a) => a.options)).toEqual([
      expect.objectContaining({
        name: SDK_RETRY_EVENTS_MIDDLEWARE,
        step: 'finalizeRequest',
        priority: 'low',
        override: true,
      }),
    ]);
  });

  it('adds nothing without a listener', () => {
    const command = fakeCommand();

    addSdkRetryEvents(command, { source: 'athena', onEvent: undefined });

    expect(command.added).toHaveLength(0);
  });

  it('emits one retry event per repeated attempt, with the failed attempt, its error, kind and wait', async () => {
    const command = fakeCommand();
    const events: TributaryEvent[] = [];
    addSdkRetryEvents(command, { source: 'kinesis-source', onEvent: (e) => events.push(e) });
    const first = throttled();
    const second = serverError();

    const output = await command.send([first, second, 'ok']);

    expect(output).toBe('ok');
    expect(events).toEqual([
      expect.objectContaining({ type: 'retry', source: 'kinesis-source', attempt: 1, reason: 'throttling' }),
      expect.objectContaining({ type: 'retry', source: 'kinesis-source', attempt: 2, reason: 'server' }),
    ]);
    expect(events.map((e) => (e.type === 'retry' ? e.error : undefined))).toEqual([first, second]);
    for (const event of events) expect(event.type === 'retry' && event.delayMs).toBeGreaterThanOrEqual(4);
  });

  it('emits nothing for a call that succeeds at once, nor for a last failure that is not retried', async () => {
    const command = fakeCommand();
    const events: TributaryEvent[] = [];
    addSdkRetryEvents(command, { source: 'athena', onEvent: (e) => events.push(e) });

    await command.send(['ok']);
    await expect(command.send([serverError()])).rejects.toThrow('boom');

    expect(events).toEqual([]);
  });

  it('counts each send on its own: attempts start from 1 again', async () => {
    const command = fakeCommand();
    const events: TributaryEvent[] = [];
    addSdkRetryEvents(command, { source: 'athena', onEvent: (e) => events.push(e) });

    await command.send([throttled(), 'ok']);
    await command.send([throttled(), 'ok']);

    expect(events.map((e) => (e.type === 'retry' ? e.attempt : 0))).toEqual([1, 1]);
  });

  it('a listener that throws does not change the outcome of the call', async () => {
    const command = fakeCommand();
    addSdkRetryEvents(command, {
      source: 'athena',
      onEvent: () => {
        throw new Error('listener failed');
      },
    });

    await expect(command.send([throttled(), 'ok'])).resolves.toBe('ok');
  });
});
