// Which files a Redshift load reads, grouped by field-partition values, in which COPYs, through
// which COPY manifests.
import { randomUUID } from 'node:crypto';
import type { Column, Fields, Schema, TableName, TributaryEvent } from '@tributary/core';
import { type DatasetFile, parsePartitions, readManifest } from '@tributary/lake';
import { LoadError } from './errors.js';
import { resolveSource } from './load-arguments.js';
import { bookkeepingSource, checkFileColumns } from './load-sql.js';
import type { RedshiftLoadOptions } from './redshift-options.js';
import type { LakeSource } from './types.js';

/** The file formats COPY reads. */
export type FileKind = 'parquet' | 'json' | 'json.gz';

/** The COPY format of a data file, by its name; `undefined` for one COPY cannot read. */
export function kindOf(key: string): FileKind | undefined {
  if (key.endsWith('.parquet')) return 'parquet';
  if (key.endsWith('.ndjson') || key.endsWith('.json')) return 'json';
  if (key.endsWith('.ndjson.gz') || key.endsWith('.json.gz')) return 'json.gz';
  return undefined;
}

/** One COPY: from a manifest (its key and body) or from one file's URL. */
export interface CopyUnit {
  url: string;
  manifest: { key: string; body: string } | undefined;
  files: DatasetFile[];
}

/** The COPYs of one field-partition value tuple (or of the whole source when there is none). */
export interface PartitionGroup {
  values: (string | null)[];
  copies: CopyUnit[];
}

/** Everything one load's attempts need, decided once before the first. */
export interface Plan {
  label: string;
  target: TableName;
  schema: Schema<Fields>;
  columns: string[];
  keys: readonly string[];
  createTable: boolean;
  options: RedshiftLoadOptions;
  files: DatasetFile[];
  kind: FileKind | undefined;
  fileColumns: string[];
  partitionColumns: Column[];
  groups: PartitionGroup[];
  /** Iceberg: the snapshot loaded, and the source as the bookkeeping names it (none: no bookkeeping). */
  snapshotId: string | undefined;
  booked: string | undefined;
  emit: (event: TributaryEvent) => void;
}

/**
 * Plan a load: resolve the source once, check its files' formats and columns, group them by
 * field-partition values and cut each group into COPYs (one per manifest, or one per file).
 */
export async function planLoad(
  settings: { useManifest: boolean; manifestPrefix: string },
  label: string,
  target: TableName,
  schema: Schema<Fields>,
  keys: readonly string[],
  createTable: boolean,
  source: LakeSource,
  options: RedshiftLoadOptions,
  emit: (event: TributaryEvent) => void,
): Promise<Plan> {
  const resolved = await resolveSource(source);
  const { files } = resolved;
  const kinds = new Set<FileKind>();
  for (const file of files) {
    const kind = kindOf(file.key);
    if (kind === undefined) {
      throw new LoadError(
        `${file.key}: Redshift COPY reads Parquet and NDJSON/JSON (optionally gzipped) only`,
        {
          table: label,
          code: 'SOURCE_FORMAT_UNSUPPORTED',
          context: { key: file.key },
        },
      );
    }
    kinds.add(kind);
  }
  if (kinds.size > 1) {
    throw new LoadError(
      `the source mixes file formats (${[...kinds].join(', ')}): one COPY reads one format`,
      { table: label, code: 'SOURCE_FORMATS_MIXED', context: { formats: [...kinds] } },
    );
  }
  const byField = new Map(schema.columns.map((c) => [c.name, c]));
  if (resolved.fileColumns !== undefined) {
    const unknown = checkFileColumns(label, schema, resolved.fileColumns);
    if (unknown) throw unknown;
  }
  const manifest = resolved.format === 'hive' ? await readManifest(source.storage, source.table) : undefined;
  // Without a manifest (a table Spark or Hive wrote), a hive key that names a schema field is
  // a field partition, as readDataset reads it. An Iceberg table's files hold every column
  // (identity partitions included), in its schema's order.
  const fieldPartitions = (
    resolved.format === 'iceberg'
      ? []
      : source.partitionBy
        ? source.partitionBy.flatMap((p) => (p.field ? [{ name: p.name, field: p.field }] : []))
        : manifest
          ? (manifest.fieldPartitions ?? [])
          : Object.keys(parsePartitions(files[0]?.key ?? '')).map((name) => ({ name, field: name }))
  ).filter((p) => byField.has(p.field));
  const partitionColumns = fieldPartitions.map((p) => byField.get(p.field) as Column);
  const partitionFields = new Set(partitionColumns.map((c) => c.name));
  const fileColumns =
    resolved.fileColumns ?? schema.columns.map((c) => c.name).filter((n) => !partitionFields.has(n));

  const base = source.storage.url.replace(/\/+$/, '');
  const loadId = randomUUID();
  const groups = new Map<string, PartitionGroup & { files: DatasetFile[] }>();
  for (const file of files) {
    const values = parsePartitions(file.key);
    const tuple = fieldPartitions.map((p) => values[p.name] ?? null);
    const id = JSON.stringify(tuple);
    let group = groups.get(id);
    if (!group) {
      group = { values: tuple, copies: [], files: [] };
      groups.set(id, group);
    }
    group.files.push(file);
  }
  let n = 0;
  for (const group of groups.values()) {
    if (settings.useManifest) {
      const key = `${settings.manifestPrefix}${loadId}-${String(n++).padStart(4, '0')}.manifest`;
      const body = JSON.stringify({
        entries: group.files.map((f) => ({
          url: `${base}/${f.key}`,
          mandatory: true,
          meta: { content_length: f.bytes },
        })),
      });
      group.copies.push({ url: `${base}/${key}`, manifest: { key, body }, files: group.files });
    } else {
      for (const f of group.files)
        group.copies.push({ url: `${base}/${f.key}`, manifest: undefined, files: [f] });
    }
  }
  return {
    label,
    target,
    schema,
    columns: schema.columns.map((c) => c.name),
    keys,
    createTable,
    options,
    files,
    kind: [...kinds][0],
    fileColumns,
    partitionColumns,
    groups: [...groups.values()].map(({ values, copies }) => ({ values, copies })),
    snapshotId: resolved.snapshotId,
    booked: bookkeepingSource(source, resolved),
    emit,
  };
}

/** Write the plan's COPY manifests into the source storage. */
export async function writeManifests(source: LakeSource, plan: Plan): Promise<void> {
  for (const group of plan.groups) {
    for (const copy of group.copies) {
      if (copy.manifest) {
        await source.storage.put(copy.manifest.key, copy.manifest.body, {
          contentType: 'application/json',
          ...(plan.options.signal === undefined ? {} : { signal: plan.options.signal }),
        });
      }
    }
  }
}

/** Delete the plan's COPY manifests, best effort. */
export async function deleteManifests(source: LakeSource, plan: Plan): Promise<void> {
  const keys = plan.groups.flatMap((g) => g.copies.flatMap((c) => (c.manifest ? [c.manifest.key] : [])));
  if (keys.length === 0) return;
  try {
    await source.storage.delete(keys);
  } catch {
    // A leftover manifest under the manifest prefix is harmless: readers of the dataset skip `_` paths.
  }
}
