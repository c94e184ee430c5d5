import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/index.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

describe('mapLimit', () => {
  it('returns the results in the items order with at most `limit` calls at once', async () => {
    let running = 0;
    let most = 0;

    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
      running++;
      most = Math.max(most, running);
      for (let k = 0; k < n; k++) await tick();
      running--;
      return n * 10 + i;
    });

    expect(out).toEqual([50, 11, 42, 23, 34, 5]);
    expect(most).toBe(2);
  });

  it('resolves an empty list without calling fn', async () => {
    let calls = 0;

    const out = await mapLimit([], 4, async () => calls++);

    expect([out, calls]).toEqual([[], 0]);
  });

  it('rejects with the first failure and starts no call after it', async () => {
    const started: number[] = [];

    const failure = await mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick();
      if (n === 1) throw new Error('item 1 failed');
      return n;
    }).catch((error: unknown) => error);

    expect((failure as Error).message).toBe('item 1 failed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual([0, 1, 2]);
  });
});
