import { defineSchema, type Fields, type Schema } from '@tributary/core';
import { checkPartitionName, type PartitionSpec, partitionPathOf } from './partitions.js';

// Where a hive table's records go: the partition folder each record is written under, and what of
// the record its file holds. Field partitions (byField) live in the folder names, not in the files.

/** A partition key whose value is a field of the records: the field lives in the paths, not in the files. */
export interface FieldPartition {
  name: string;
  field: string;
}

/** How a hive write places its records (see {@link hivePlacement}). */
export interface HivePlacement<F extends Fields> {
  /** The schema of the table's files: the records' schema minus the field partitions. */
  readonly fileSchema: Schema<F>;
  /** The field partitions, as the manifest records them. */
  readonly fieldPartitions: readonly FieldPartition[];
  /** The partition folder of a valid record (`''` unpartitioned); a `PartitionError` refuses the record. */
  partitionOf(record: Record<string, unknown>): string;
  /** The record as its file holds it; absent when files hold whole records. */
  readonly project?: (record: Record<string, unknown>) => Record<string, unknown>;
}

/** The field partitions among partition specs (`byField`'s). */
export function fieldPartitionsOf(partitionBy: readonly PartitionSpec[]): FieldPartition[] {
  return partitionBy.flatMap((p) => (p.field ? [{ name: p.name, field: p.field }] : []));
}

/**
 * How `writeDataset` places each record of a hive table partitioned by `partitionBy`: the one place
 * that computes a record's partition. Throws a `PartitionError` for a name that cannot be a folder.
 */
export function hivePlacement<F extends Fields>(
  schema: Schema<F>,
  partitionBy: readonly PartitionSpec[],
): HivePlacement<F> {
  for (const spec of partitionBy) checkPartitionName(spec.name);
  const fieldPartitions = fieldPartitionsOf(partitionBy);
  const partitionOf = partitionPathOf(partitionBy);
  if (fieldPartitions.length === 0) return { fileSchema: schema, fieldPartitions, partitionOf };
  const inPaths = new Set(fieldPartitions.map((p) => p.field));
  return {
    fileSchema: fileSchemaOf(schema, fieldPartitions),
    fieldPartitions,
    partitionOf,
    project: (record) => {
      const slim: Record<string, unknown> = {};
      for (const key in record) if (!inPaths.has(key)) slim[key] = record[key];
      return slim;
    },
  };
}

/** The schema of the files of a table with these field partitions: their fields live in the paths. */
export function fileSchemaOf<F extends Fields>(
  schema: Schema<F>,
  fieldPartitions: readonly FieldPartition[],
): Schema<F> {
  if (fieldPartitions.length === 0) return schema;
  const drop = new Set(fieldPartitions.map((p) => p.field));
  const fields = Object.fromEntries(Object.entries(schema.fields).filter(([name]) => !drop.has(name)));
  return defineSchema(fields, { unknownFields: schema.unknownFields }) as unknown as Schema<F>;
}
