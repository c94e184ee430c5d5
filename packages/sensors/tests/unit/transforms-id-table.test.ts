import { describe, expect, it } from 'vitest';
import { IdTable } from '../../src/transforms/id-table.js';
import { SensorTransformError } from '../../src/transforms/shared.js';

describe('IdTable', () => {
  describe('offer / isKept', () => {
    it('keeps the earliest event time of an id, and the earlier ordinal at equal times', () => {
      // Arrange
      const table = new IdTable();

      // Act
      table.offer('a', 5_000, 0);
      table.offer('a', 1_000, 1);
      table.offer('a', 1_000, 2);
      table.offer('b', 7_000, 3);
      table.offer('b', 9_000, 4);

      // Assert
      expect(table.size).toBe(2);
      expect([0, 1, 2].map((ordinal) => table.isKept('a', ordinal))).toEqual([false, true, false]);
      expect([3, 4].map((ordinal) => table.isKept('b', ordinal))).toEqual([true, false]);
      expect(table.isKept('c', 0)).toBe(false);
    });

    it('keeps every id and its kept occurrence when it grows past its capacity and 70 % load', () => {
      // Arrange: 16 slots to start with, so 1,000 ids make it grow several times.
      const table = new IdTable(16);
      const ids = Array.from({ length: 1_000 }, (_, i) => `sensor-${i % 7}-${i}`);

      // Act: every id twice, the second copy earlier in event time.
      for (const [i, id] of ids.entries()) table.offer(id, 10_000, i);
      for (const [i, id] of ids.entries()) table.offer(id, 1_000, ids.length + i);

      // Assert
      expect(table.size).toBe(ids.length);
      expect(table.bytes).toBe(2048 * 20);
      expect(table.size).toBeLessThanOrEqual((table.bytes / 20) * 0.7);
      expect(ids.every((id, i) => table.isKept(id, ids.length + i) && !table.isKept(id, i))).toBe(true);
    });

    it('refuses an ordinal that would not fit its 32-bit slot', () => {
      // Arrange
      const table = new IdTable();

      // Act
      const offer = () => table.offer('a', 0, 0xffff_fffe);

      // Assert
      expect(offer).toThrow(SensorTransformError);
      expect(offer).toThrow(/More than 4,294,967,293 records in one day/);
    });
  });
});

describe('IdTable', () => {
  describe('offer', () => {
    it('says whether an occurrence is the first of its id, a duplicate, or earlier than the one kept', () => {
      // Arrange
      const table = new IdTable();

      // Act
      const outcomes = [
        table.offer('t-1:7', 5_000, 0),
        table.offer('t-1:7', 5_000, 1),
        table.offer('t-1:7', 9_000, 2),
        table.offer('t-1:7', 4_000, 3),
        table.offer('uuid-like', 5_000, 4),
        table.offer('uuid-like', 1_000, 5),
      ];

      // Assert
      expect(outcomes).toEqual(['new', 'duplicate', 'duplicate', 'earlier', 'new', 'earlier']);
      expect([0, 1, 2, 3].map((ordinal) => table.isKept('t-1:7', ordinal))).toEqual([
        false,
        false,
        false,
        true,
      ]);
      expect(table.isKept('uuid-like', 5)).toBe(true);
    });

    it('tells apart ids that share a sequence, a prefix or a chunk, and ids that only look alike', () => {
      // Arrange: the same sequence under other prefixes, neighbours in one chunk, a prefix with
      // colons, and ids that are not `<prefix>:<n>` (leading zero, no digits, 16 digits, no colon).
      const ids = [
        'a:5',
        'b:5',
        'a:6',
        'a:256',
        'a:b:5',
        'a:05',
        'a:',
        ':5',
        '',
        '5',
        'a-5',
        'a:1234567890123456',
        'a:123456789012345',
        'a:0',
        'a:00',
        'a:٥',
      ];
      const table = new IdTable();

      // Act
      const first = ids.map((id, i) => table.offer(id, 1_000, i));
      const again = ids.map((id, i) => table.offer(id, 1_000, ids.length + i));

      // Assert
      expect(first.every((o) => o === 'new')).toBe(true);
      expect(again.every((o) => o === 'duplicate')).toBe(true);
      expect(table.size).toBe(ids.length);
      expect(ids.every((id, i) => table.isKept(id, i) && !table.isKept(id, ids.length + i))).toBe(true);
    });

    it('holds a fleet day of sequence ids in 8 bytes each, chunk by chunk, besides the hash table', () => {
      // Arrange: 10 sensors × sequences 0..1023, four chunks of 256 each.
      const table = new IdTable(16);
      const ids = Array.from({ length: 10_240 }, (_, i) => `sensor-${i % 10}:${Math.floor(i / 10)}`);

      // Act
      for (const [i, id] of ids.entries()) table.offer(id, 10_000, i);
      for (const [i, id] of ids.entries()) table.offer(id, 1_000, ids.length + i);

      // Assert
      expect(table.size).toBe(ids.length);
      expect(table.bytes).toBe(16 * 20 + 40 * 256 * 8);
      expect(ids.every((id, i) => table.isKept(id, ids.length + i) && !table.isKept(id, i))).toBe(true);
    });

    it('sends sequence ids to the hash table once chunks would be mostly empty, and still finds every id', () => {
      // Arrange: sequences a million apart, one chunk each until chunks hold 2^20 slots.
      const table = new IdTable();
      const ids = Array.from({ length: 6_000 }, (_, i) => `s:${i * 1_000_000}`);

      // Act
      const first = ids.map((id, i) => table.offer(id, 5_000, i));
      const again = ids.map((id, i) => table.offer(id, 1_000, ids.length + i));

      // Assert: 4,097 chunks (the last made at 2^20 slots), the other 1,903 ids hashed.
      expect(first.every((o) => o === 'new')).toBe(true);
      expect(again.every((o) => o === 'earlier')).toBe(true);
      expect(table.size).toBe(ids.length);
      expect(table.bytes).toBe(4096 * 20 + 4097 * 256 * 8);
      expect(ids.every((id, i) => table.isKept(id, ids.length + i))).toBe(true);
    });
  });
});
