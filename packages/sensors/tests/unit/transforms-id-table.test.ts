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
