import { randomBytes, randomUUID } from 'node:crypto';
import { IcebergError } from './errors.js';
import { parseJson, toLong } from './json.js';
import type { IcebergPartitionSpec, IcebergSchema } from './schema.js';

/** A snapshot of an Iceberg table (metadata `snapshots[]`). Ids are 63-bit: bigint. */
export interface Snapshot {
  'snapshot-id': bigint;
  'parent-snapshot-id'?: bigint;
  'sequence-number': bigint;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: { operation: 'append' | 'overwrite' | 'replace' | 'delete'; [key: string]: string };
  'schema-id'?: number;
}

/** Iceberg table metadata, format version 2 (`metadata/vN.metadata.json`). */
export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': bigint;
  'last-updated-ms': number;
  'last-column-id': number;
  'current-schema-id': number;
  schemas: IcebergSchema[];
  'default-spec-id': number;
  'partition-specs': IcebergPartitionSpec[];
  'last-partition-id': number;
  'default-sort-order-id': number;
  'sort-orders': { 'order-id': number; fields: unknown[] }[];
  properties: Record<string, string>;
  'current-snapshot-id': bigint;
  refs: Record<string, { 'snapshot-id': bigint; type: 'branch' | 'tag'; [key: string]: unknown }>;
  snapshots: Snapshot[];
  statistics: unknown[];
  'partition-statistics'?: unknown[];
  'snapshot-log': { 'timestamp-ms': number; 'snapshot-id': bigint }[];
  'metadata-log': { 'timestamp-ms': number; 'metadata-file': string }[];
}

/** A new snapshot id: 63 random bits, positive (as Java and pyiceberg make them). */
export function newSnapshotId(): bigint {
  return randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn || 1n;
}

/** The properties the lake's tables carry: what its files are. */
const DEFAULT_PROPERTIES: Record<string, string> = {
  'write.format.default': 'parquet',
  'write.parquet.compression-codec': 'snappy',
  'write.metadata.metrics.default': 'truncate(16)',
};

/** The metadata of a new, empty table. */
export function newTableMetadata(options: {
  location: string;
  schema: IcebergSchema;
  lastColumnId: number;
  spec: IcebergPartitionSpec;
  properties?: Record<string, string>;
  now?: number;
}): TableMetadata {
  const { spec } = options;
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: options.location,
    'last-sequence-number': 0n,
    'last-updated-ms': options.now ?? Date.now(),
    'last-column-id': options.lastColumnId,
    'current-schema-id': options.schema['schema-id'],
    schemas: [options.schema],
    'default-spec-id': spec['spec-id'],
    'partition-specs': [spec],
    'last-partition-id': spec.fields.reduce((max, f) => Math.max(max, f['field-id']), 999),
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: { ...DEFAULT_PROPERTIES, ...options.properties },
    'current-snapshot-id': -1n,
    refs: {},
    snapshots: [],
    statistics: [],
    'snapshot-log': [],
    'metadata-log': [],
  };
}

function invalid(message: string, file: string, cause?: unknown): IcebergError {
  return new IcebergError(`${file}: ${message}`, {
    code: 'ICEBERG_METADATA_INVALID',
    context: { file },
    cause,
  });
}

/**
 * Parse and check table metadata written by the lake or by another engine (Spark, pyiceberg).
 * Format version 1 tables are read too (their fields are brought to version 2's names).
 */
export function parseTableMetadata(text: string, file: string): TableMetadata {
  const raw = parseJson(text, file) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw invalid('not a JSON object', file);
  const version = raw['format-version'];
  if (version !== 1 && version !== 2) {
    throw new IcebergError(`${file}: format version ${String(version)} is not supported (1 and 2 are)`, {
      code: 'ICEBERG_UNSUPPORTED',
      context: { file },
    });
  }
  try {
    const schemas = (raw.schemas as IcebergSchema[] | undefined) ?? [
      { ...(raw.schema as IcebergSchema), 'schema-id': (raw.schema as IcebergSchema)['schema-id'] ?? 0 },
    ];
    const specs = (raw['partition-specs'] as IcebergPartitionSpec[] | undefined) ?? [
      {
        'spec-id': 0,
        fields: ((raw['partition-spec'] as IcebergPartitionSpec['fields']) ?? []).map((f, i) => ({
          ...f,
          'field-id': f['field-id'] ?? 1000 + i,
        })),
      },
    ];
    const snapshots = ((raw.snapshots as Record<string, unknown>[] | undefined) ?? []).map(
      (s): Snapshot => ({
        ...(s as unknown as Snapshot),
        'snapshot-id': toLong(s['snapshot-id']),
        ...(s['parent-snapshot-id'] === undefined || s['parent-snapshot-id'] === null
          ? {}
          : { 'parent-snapshot-id': toLong(s['parent-snapshot-id']) }),
        'sequence-number': s['sequence-number'] === undefined ? 0n : toLong(s['sequence-number']),
        'timestamp-ms': Number(s['timestamp-ms']),
        summary: (s.summary as Snapshot['summary']) ?? { operation: 'append' },
      }),
    );
    const current =
      raw['current-snapshot-id'] === undefined || raw['current-snapshot-id'] === null
        ? -1n
        : toLong(raw['current-snapshot-id']);
    const refs = Object.fromEntries(
      Object.entries((raw.refs as TableMetadata['refs'] | undefined) ?? {}).map(([name, ref]) => [
        name,
        { ...ref, 'snapshot-id': toLong(ref['snapshot-id']) },
      ]),
    );
    if (current !== -1n && !refs.main) refs.main = { 'snapshot-id': current, type: 'branch' };
    const metadata: TableMetadata = {
      ...(raw as unknown as TableMetadata),
      'format-version': 2,
      'table-uuid': String(raw['table-uuid'] ?? ''),
      location: String(raw.location),
      'last-sequence-number':
        raw['last-sequence-number'] === undefined ? 0n : toLong(raw['last-sequence-number']),
      'last-updated-ms': Number(raw['last-updated-ms']),
      'last-column-id': Number(raw['last-column-id']),
      'current-schema-id': Number(raw['current-schema-id'] ?? schemas[0]?.['schema-id'] ?? 0),
      schemas,
      'default-spec-id': Number(raw['default-spec-id'] ?? 0),
      'partition-specs': specs,
      'last-partition-id': Number(raw['last-partition-id'] ?? 999),
      'default-sort-order-id': Number(raw['default-sort-order-id'] ?? 0),
      'sort-orders': (raw['sort-orders'] as TableMetadata['sort-orders']) ?? [{ 'order-id': 0, fields: [] }],
      properties: (raw.properties as Record<string, string>) ?? {},
      'current-snapshot-id': current,
      refs,
      snapshots,
      statistics: (raw.statistics as unknown[]) ?? [],
      'snapshot-log': (
        (raw['snapshot-log'] as { 'timestamp-ms': number; 'snapshot-id': unknown }[]) ?? []
      ).map((e) => ({ 'timestamp-ms': Number(e['timestamp-ms']), 'snapshot-id': toLong(e['snapshot-id']) })),
      'metadata-log': (raw['metadata-log'] as TableMetadata['metadata-log']) ?? [],
    };
    if (
      typeof raw.location !== 'string' ||
      !Array.isArray(metadata.schemas) ||
      metadata.schemas.length === 0
    ) {
      throw invalid('location and schemas are required', file);
    }
    if (!metadata.schemas.some((s) => s['schema-id'] === metadata['current-schema-id'])) {
      throw invalid(`current schema ${metadata['current-schema-id']} is not among its schemas`, file);
    }
    if (current !== -1n && !snapshots.some((s) => s['snapshot-id'] === current)) {
      throw invalid(`current snapshot ${current} is not among its snapshots`, file);
    }
    return metadata;
  } catch (err) {
    if (err instanceof IcebergError) throw err;
    throw invalid(`malformed table metadata: ${(err as Error).message}`, file, err);
  }
}

/** The table's current schema. */
export function currentSchema(metadata: TableMetadata): IcebergSchema {
  return metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']) as IcebergSchema;
}

/** The table's default partition spec. */
export function defaultSpec(metadata: TableMetadata): IcebergPartitionSpec {
  return (
    metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']) ?? {
      'spec-id': 0,
      fields: [],
    }
  );
}

/** The current snapshot, or `undefined` for a table without one. */
export function currentSnapshot(metadata: TableMetadata): Snapshot | undefined {
  const id = metadata.refs.main?.['snapshot-id'] ?? metadata['current-snapshot-id'];
  return metadata.snapshots.find((s) => s['snapshot-id'] === id);
}

/**
 * The snapshot to read: the current one, one by id, or the one current at a time (the last
 * snapshot-log entry at or before it): time travel.
 */
export function snapshotFor(
  metadata: TableMetadata,
  at: { snapshotId?: bigint | number | string; asOf?: Date | number } = {},
): Snapshot | undefined {
  if (at.snapshotId !== undefined) {
    const id = BigInt(at.snapshotId);
    const found = metadata.snapshots.find((s) => s['snapshot-id'] === id);
    if (!found) {
      throw new IcebergError(`no snapshot ${id} in the table`, {
        code: 'ICEBERG_SNAPSHOT_NOT_FOUND',
        context: { snapshotId: String(id) },
      });
    }
    return found;
  }
  if (at.asOf !== undefined) {
    const time = typeof at.asOf === 'number' ? at.asOf : at.asOf.getTime();
    let id: bigint | undefined;
    for (const entry of metadata['snapshot-log'])
      if (entry['timestamp-ms'] <= time) id = entry['snapshot-id'];
    const found = id === undefined ? undefined : metadata.snapshots.find((s) => s['snapshot-id'] === id);
    if (!found) {
      throw new IcebergError(`the table had no snapshot at ${new Date(time).toISOString()}`, {
        code: 'ICEBERG_SNAPSHOT_NOT_FOUND',
        context: { asOf: time },
      });
    }
    return found;
  }
  return currentSnapshot(metadata);
}

/** The metadata after committing `snapshot` on top of `base` (as the `main` branch's head). */
export function withSnapshot(
  base: TableMetadata,
  snapshot: Snapshot,
  changes: { schema?: IcebergSchema; lastColumnId?: number },
): TableMetadata {
  const schemas =
    changes.schema && !base.schemas.some((s) => s['schema-id'] === changes.schema?.['schema-id'])
      ? [...base.schemas, changes.schema]
      : base.schemas;
  return {
    ...base,
    'last-sequence-number': snapshot['sequence-number'],
    'last-updated-ms': snapshot['timestamp-ms'],
    'last-column-id': Math.max(base['last-column-id'], changes.lastColumnId ?? 0),
    'current-schema-id': changes.schema?.['schema-id'] ?? base['current-schema-id'],
    schemas,
    'current-snapshot-id': snapshot['snapshot-id'],
    refs: { ...base.refs, main: { 'snapshot-id': snapshot['snapshot-id'], type: 'branch' } },
    snapshots: [...base.snapshots, snapshot],
    'snapshot-log': [
      ...base['snapshot-log'],
      { 'timestamp-ms': snapshot['timestamp-ms'], 'snapshot-id': snapshot['snapshot-id'] },
    ],
  };
}

/**
 * The metadata with a log entry for the file it replaces (written at `previousTime`): every commit
 * records where it came from, the last `max` of them (`write.metadata.previous-versions-max`).
 */
export function withMetadataLog(
  metadata: TableMetadata,
  previous: string | undefined,
  previousTime: number | undefined,
  max = 100,
): TableMetadata {
  if (!previous || metadata['metadata-log'].some((e) => e['metadata-file'] === previous)) return metadata;
  const entry = { 'timestamp-ms': previousTime ?? metadata['last-updated-ms'], 'metadata-file': previous };
  return { ...metadata, 'metadata-log': [...metadata['metadata-log'], entry].slice(-max) };
}
