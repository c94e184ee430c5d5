import { defineSchema, field } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { fileSchemaOf, hivePlacement } from '../../src/dataset-partitioning.js';
import { PartitionError } from '../../src/errors.js';
import { byField, byHour } from '../../src/partitions.js';

const schema = defineSchema({ id: field.string(), type: field.string(), at: field.timestamp() });
const record = { id: 'a-1', type: 'temperature', at: new Date(Date.UTC(2026, 10, 23, 10, 15)) };

describe('hivePlacement', () => {
  it('puts a record of an unpartitioned table at the root, whole', () => {
    const placement = hivePlacement(schema, []);

    expect(placement.partitionOf(record)).toBe('');
    expect(placement.project).toBeUndefined();
    expect(placement.fileSchema).toBe(schema);
    expect(placement.fieldPartitions).toStrictEqual([]);
  });

  it('places a record by its partition values, and leaves field partitions out of its file', () => {
    const placement = hivePlacement(schema, [byField('type', 'kind'), ...byHour('at')]);

    const partition = placement.partitionOf(record);
    const inFile = placement.project?.(record);

    expect(partition).toBe('kind=temperature/dt=2026-11-23/hour=10/');
    expect(inFile).toStrictEqual({ id: 'a-1', at: record.at });
    expect(placement.fileSchema.columns.map((c) => c.name)).toStrictEqual(['id', 'at']);
    expect(placement.fieldPartitions).toStrictEqual([{ name: 'kind', field: 'type' }]);
  });

  it('refuses a partition name that cannot be a folder name', () => {
    expect(() => hivePlacement(schema, [byField('type', 'a/b')])).toThrow(PartitionError);
  });
});

describe('fileSchemaOf', () => {
  it('keeps the schema when no partition is a field, and drops the fields that are', () => {
    expect(fileSchemaOf(schema, [])).toBe(schema);
    expect(fileSchemaOf(schema, [{ name: 'kind', field: 'type' }]).columns.map((c) => c.name)).toStrictEqual([
      'id',
      'at',
    ]);
  });
});
