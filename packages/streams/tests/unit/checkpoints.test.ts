import { OptionsError } from '@tributary/core';
import { MemoryStorage, StorageError } from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  CheckpointError,
  LakeCheckpointStore,
  MemoryCheckpointStore,
} from '../../src/checkpoints.js';

const CHECKPOINTS: Record<string, Checkpoint> = {
  'shardId-000000000000': { sequenceNumber: '49650000000000000000000000000000000000000000000000000001' },
  'shardId-000000000001': {
    sequenceNumber: '49650000000000000000000000000000000000000000000000000002',
    subSequenceNumber: 7,
  },
  'shardId-000000000002': {
    sequenceNumber: '49650000000000000000000000000000000000000000000000000003',
    finished: true,
  },
  'shardId-000000000003': { finished: true },
};

describe('LakeCheckpointStore', () => {
  describe('save and load', () => {
    it('round-trips the checkpoints through _checkpoints/<stream>.json', async () => {
      const storage = new MemoryStorage();
      const store = new LakeCheckpointStore({ storage });

      await store.save('sensors', CHECKPOINTS);
      const loaded = await store.load('sensors');
      const file = JSON.parse(
        Buffer.from(await storage.getBytes('_checkpoints/sensors.json')).toString('utf8'),
      );

      expect(loaded).toEqual(CHECKPOINTS);
      expect(file.stream).toBe('sensors');
      expect(file.shards).toEqual(CHECKPOINTS);
      expect(Number.isNaN(Date.parse(file.savedAt))).toBe(false);
      expect(await store.load('other')).toEqual({});
    });

    it('replaces the previous checkpoints and keeps streams apart under a custom prefix', async () => {
      const storage = new MemoryStorage();
      const store = new LakeCheckpointStore({ storage, prefix: 'state/kinesis/' });

      await store.save('a', CHECKPOINTS);
      await store.save('a', { 'shardId-000000000000': { sequenceNumber: '5' } });
      await store.save('b', { 'shardId-000000000009': { finished: true } });

      expect(await store.load('a')).toEqual({ 'shardId-000000000000': { sequenceNumber: '5' } });
      expect(await store.load('b')).toEqual({ 'shardId-000000000009': { finished: true } });
      expect(store.keyOf('a')).toBe('state/kinesis/a.json');
      expect(await storage.head('state/kinesis/b.json')).toBeDefined();
    });
  });

  describe('load', () => {
    it('refuses a file that is not a checkpoint file instead of starting afresh', async () => {
      const storage = new MemoryStorage();
      const store = new LakeCheckpointStore({ storage });
      await storage.put('_checkpoints/broken.json', '{"stream": "broken", "shards": {');
      await storage.put('_checkpoints/moved.json', JSON.stringify({ stream: 'elsewhere', shards: {} }));
      await storage.put(
        '_checkpoints/bad.json',
        JSON.stringify({ stream: 'bad', shards: { s: { sequenceNumber: 42 } } }),
      );

      for (const stream of ['broken', 'moved', 'bad']) {
        const failure = await store.load(stream).catch((err: unknown) => err);
        expect(failure, stream).toBeInstanceOf(CheckpointError);
        expect((failure as CheckpointError).code).toBe('CHECKPOINT_INVALID');
        expect((failure as CheckpointError).context.key).toBe(`_checkpoints/${stream}.json`);
      }
    });

    it('wraps a storage failure as CHECKPOINT_FAILED with its cause and retryable flag', async () => {
      const cause = new StorageError('disk unavailable', { retryable: true });
      const storage = new MemoryStorage();
      storage.getBytes = async () => {
        throw cause;
      };
      storage.put = async () => {
        throw cause;
      };
      const store = new LakeCheckpointStore({ storage });

      const loadFailure = await store.load('sensors').catch((err: unknown) => err);
      const saveFailure = await store.save('sensors', CHECKPOINTS).catch((err: unknown) => err);

      for (const failure of [loadFailure, saveFailure]) {
        expect(failure).toBeInstanceOf(CheckpointError);
        expect((failure as CheckpointError).code).toBe('CHECKPOINT_FAILED');
        expect((failure as CheckpointError).cause).toBe(cause);
        expect((failure as CheckpointError).retryable).toBe(true);
      }
    });
  });

  describe('constructor', () => {
    it('rejects a missing storage and a prefix that is not a folder', () => {
      expect(() => new LakeCheckpointStore({} as never)).toThrow(OptionsError);
      expect(() => new LakeCheckpointStore({ storage: new MemoryStorage(), prefix: 'state' })).toThrow(
        /ending with "\/"/,
      );
    });

    it("throws core's OptionsError (CHECKPOINT_STORE_OPTIONS_INVALID) naming the option", () => {
      const cases: [unknown, string][] = [
        [null, 'options'],
        [{}, 'storage'],
        [{ storage: new MemoryStorage(), prefix: '/abs/' }, 'prefix'],
      ];

      for (const [options, option] of cases) {
        let error: unknown;
        try {
          new LakeCheckpointStore(options as never);
        } catch (err) {
          error = err;
        }
        expect(error, option).toBeInstanceOf(OptionsError);
        expect((error as OptionsError).code).toBe('CHECKPOINT_STORE_OPTIONS_INVALID');
        expect((error as OptionsError).option).toBe(option);
      }
    });
  });
});

describe('MemoryCheckpointStore', () => {
  describe('save and load', () => {
    it('keeps copies, so that later changes on either side do not leak', async () => {
      const store = new MemoryCheckpointStore();
      const saved: Record<string, Checkpoint> = { s: { sequenceNumber: '1' } };

      await store.save('sensors', saved);
      (saved.s as Checkpoint).sequenceNumber = '2';
      const loaded = await store.load('sensors');
      (loaded.s as Checkpoint).sequenceNumber = '3';

      expect(await store.load('sensors')).toEqual({ s: { sequenceNumber: '1' } });
      expect(await store.load('unknown')).toEqual({});
    });

    it('refuses checkpoints that are not checkpoints', async () => {
      const store = new MemoryCheckpointStore();

      await expect(store.save('sensors', { s: { sequenceNumber: 'abc' } })).rejects.toThrow(CheckpointError);
      await expect(store.save('sensors', { s: { subSequenceNumber: 1 } })).rejects.toThrow(
        /next to a sequenceNumber/,
      );
      await expect(store.save('', {})).rejects.toThrow(CheckpointError);
    });
  });
});
