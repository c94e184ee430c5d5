import { describe, expect, it } from 'vitest';
import { createDelivery, type DeliveryFlushed } from '../../src/delivery.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import type { Body, ObjectInfo, PutOptions } from '../../src/storage.js';

// onFlushed is where a stream consumer checkpoints: it must hear of a flush only once its objects
// are stored, in cut order, and not past a flush that failed and is kept.

const clock = { now: () => Date.UTC(2026, 10, 23, 10), setTimeout: () => 0, clearTimeout: () => {} };

describe('createDelivery', () => {
  describe('onFlushed', () => {
    it('is told each stored flush with its record count and the reason that cut it', async () => {
      const flushed: DeliveryFlushed[] = [];
      const delivery = createDelivery({
        storage: new MemoryStorage(),
        prefix: 'clicks/',
        streamName: 'clicks',
        bufferBytes: 20, // two 8-byte lines
        clock,
        onFlushed: (info) => void flushed.push(info),
      });

      for (let n = 1; n <= 3; n++) await delivery.write(`{"n":${n}}`);
      await delivery.close();

      expect(flushed).toEqual([
        { count: 2, reason: 'size', sequence: 0 },
        { count: 1, reason: 'close', sequence: 1 },
      ]);
    });

    it('waits for a kept failed flush before telling of later ones', async () => {
      let puts = 0;
      const storedAtCall: number[] = [];
      let stored = 0;
      class FlakyStorage extends MemoryStorage {
        override async put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
          puts++;
          if (puts === 1) throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
          const info = await super.put(key, body, options);
          stored++;
          return info;
        }
      }
      const flushed: number[] = [];
      const delivery = createDelivery({
        storage: new FlakyStorage(),
        prefix: 'clicks/',
        streamName: 'clicks',
        bufferBytes: 8, // one line per flush
        clock,
        onFlushed: ({ sequence }) => {
          flushed.push(sequence);
          storedAtCall.push(stored);
        },
      });

      await delivery.write('{"n":1}'); // flush 0 fails and is kept
      const refused = await delivery.write('{"n":2}').catch((error: unknown) => error);
      await delivery.write('{"n":2}'); // tries flush 0 again
      await delivery.close();

      expect(refused).toBeInstanceOf(Error);
      expect(flushed).toEqual([0, 1]);
      // Flush 0 was reported once it was stored, and not before.
      expect(storedAtCall[0]).toBeGreaterThanOrEqual(1);
    });

    it('reports an error it throws as an ON_FLUSHED_FAILED failure event', async () => {
      const codes: string[] = [];
      const delivery = createDelivery({
        storage: new MemoryStorage(),
        prefix: 'clicks/',
        streamName: 'clicks',
        clock,
        onFlushed: () => {
          throw new Error('checkpoint store down');
        },
        onEvent: (event) => {
          if (event.type === 'failure') codes.push(event.code);
        },
      });

      await delivery.write('{"n":1}');
      const stats = await delivery.close();

      expect(stats.recordsDelivered).toBe(1);
      expect(codes).toEqual(['ON_FLUSHED_FAILED']);
    });
  });
});
