import { optionChecks } from '@tributary/core';
import type { Storage } from '../storage.js';
import { keyOf, loadTable, type TableLocation } from './catalog.js';
import { IcebergError } from './errors.js';
import { decodeManifest } from './manifest.js';
import { currentSnapshot, type Snapshot, type TableMetadata } from './metadata.js';
import { snapshotManifests } from './snapshot-files.js';

/** Snapshots younger than this are kept by default (Iceberg's `history.expire.max-snapshot-age-ms`). */
export const DEFAULT_SNAPSHOT_MAX_AGE_MS = 5 * 24 * 60 * 60 * 1000;
/** Files younger than this are never orphans: a write may still be running (Iceberg's default is 3 days). */
export const DEFAULT_ORPHAN_GRACE_MS = 24 * 60 * 60 * 1000;

/** Every file a set of snapshots reaches: manifest lists, manifests, and data files (live ones, or all). */
async function reachable(
  storage: Storage,
  snapshots: readonly Snapshot[],
  liveOnly: boolean,
): Promise<{ lists: Set<string>; manifests: Set<string>; data: Set<string> }> {
  const lists = new Set<string>();
  const manifests = new Set<string>();
  const data = new Set<string>();
  const seen = new Set<string>();
  for (const snapshot of snapshots) {
    lists.add(keyOf(storage, snapshot['manifest-list']));
    for (const manifest of await snapshotManifests(storage, snapshot)) {
      const key = keyOf(storage, manifest.manifestPath);
      manifests.add(key);
      if (seen.has(key)) continue;
      seen.add(key);
      const { entries } = decodeManifest(await storage.getBytes(key));
      for (const entry of entries) {
        if (liveOnly && entry.status === 2) continue;
        data.add(keyOf(storage, entry.dataFile.filePath));
      }
    }
  }
  return { lists, manifests, data };
}

export interface ExpireSnapshotsOptions extends TableLocation {
  /** Expire snapshots older than this. Default: 5 days ago. */
  olderThan?: Date;
  /** Keep at least this many of the most recent snapshots, whatever their age. Default 1. */
  retainLast?: number;
}

export interface ExpireSnapshotsResult {
  /** The ids of the snapshots removed from the table's metadata. */
  expired: string[];
  /** Files deleted because no remaining snapshot reaches them (data files, manifests, manifest lists). */
  deletedFiles: string[];
}

/**
 * Remove old snapshots from a table (time travel to them ends) and delete the files only they
 * reached: the current snapshot and the `retainLast` newest are always kept. Committed like a
 * write: a concurrent commit makes it start over on the new metadata.
 *
 * @example
 * ```ts
 * const { expired } = await expireSnapshots({ storage: lake.processed, table: 'sensors', olderThan: new Date(Date.now() - 86_400_000), retainLast: 5 });
 * ```
 */
export async function expireSnapshots(options: ExpireSnapshotsOptions): Promise<ExpireSnapshotsResult> {
  const retainLast = optionChecks('expireSnapshots', 'ICEBERG_OPTIONS_INVALID').positiveInteger(
    'retainLast',
    options.retainLast ?? 1,
  );
  const cutoff = (options.olderThan ?? new Date(Date.now() - DEFAULT_SNAPSHOT_MAX_AGE_MS)).getTime();
  for (let tries = 0; ; tries++) {
    const { catalog, table, loaded } = await loadTable(options);
    const { metadata } = loaded;
    const newest = [...metadata.snapshots].sort((a, b) => b['timestamp-ms'] - a['timestamp-ms']);
    const keep = new Set<bigint>(newest.slice(0, retainLast).map((s) => s['snapshot-id']));
    const current = currentSnapshot(metadata);
    if (current) keep.add(current['snapshot-id']);
    for (const ref of Object.values(metadata.refs)) keep.add(ref['snapshot-id']);
    for (const s of metadata.snapshots) if (s['timestamp-ms'] >= cutoff) keep.add(s['snapshot-id']);
    const kept = metadata.snapshots.filter((s) => keep.has(s['snapshot-id']));
    const expired = metadata.snapshots.filter((s) => !keep.has(s['snapshot-id']));
    if (expired.length === 0) return { expired: [], deletedFiles: [] };
    const next: TableMetadata = {
      ...metadata,
      'last-updated-ms': Math.max(Date.now(), metadata['last-updated-ms'] + 1),
      snapshots: kept,
      'snapshot-log': metadata['snapshot-log'].filter((e) => keep.has(e['snapshot-id'])),
    };
    try {
      await catalog.commit(table, loaded, next);
    } catch (err) {
      if (err instanceof IcebergError && err.code === 'ICEBERG_COMMIT_CONFLICT' && tries < 4) continue;
      throw err;
    }
    const { storage } = catalog;
    const live = await reachable(storage, kept, true);
    const gone = await reachable(storage, expired, false);
    const deletedFiles = [
      ...[...gone.data].filter((k) => !live.data.has(k)),
      ...[...gone.manifests].filter((k) => !live.manifests.has(k)),
      ...[...gone.lists].filter((k) => !live.lists.has(k)),
    ];
    await storage.delete(deletedFiles);
    return { expired: expired.map((s) => String(s['snapshot-id'])), deletedFiles };
  }
}

export interface RemoveOrphanFilesOptions extends TableLocation {
  /** Only files last written before this are removed. Default: 24 hours ago. */
  olderThan?: Date;
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
}

/**
 * Delete the files under a table that no snapshot or metadata version refers to: what a write
 * killed before its commit left (data files, manifests, metadata versions that lost a race).
 * Files younger than `olderThan` are left alone, since a write may still be running; pass the
 * current time only when no writer can be.
 *
 * @example
 * ```ts
 * const removed = await removeOrphanFiles({ storage: lake.processed, table: 'sensors' });
 * ```
 */
export async function removeOrphanFiles(options: RemoveOrphanFilesOptions): Promise<string[]> {
  const { catalog, table, loaded } = await loadTable(options);
  const { storage } = catalog;
  const cutoff = (options.olderThan ?? new Date(Date.now() - DEFAULT_ORPHAN_GRACE_MS)).getTime();
  const { metadata } = loaded;
  const used = new Set<string>([loaded.metadataKey, `${table}/metadata/version-hint.text`]);
  for (const entry of metadata['metadata-log']) {
    try {
      used.add(keyOf(storage, entry['metadata-file']));
    } catch {
      // A log entry outside this storage refers to nothing here.
    }
  }
  const refs = await reachable(storage, metadata.snapshots, false);
  for (const set of [refs.lists, refs.manifests, refs.data]) for (const key of set) used.add(key);
  const version = /\/v(\d+)\.metadata\.json$/.exec(loaded.metadataKey)?.[1];
  const orphans: string[] = [];
  // Only the table's own folders: another table may live below this one's name.
  for (const folder of ['data/', 'metadata/']) {
    for await (const object of storage.list(`${table}/${folder}`)) {
      if (used.has(object.key)) continue;
      // Hadoop's local file system writes a `.<name>.crc` checksum beside each file it writes.
      const crc = /^(.*\/)\.([^/]+)\.crc$/.exec(object.key);
      if (crc && used.has(`${crc[1]}${crc[2]}`)) continue;
      // Older metadata versions of the Hadoop layout are the table's history.
      const v = /^metadata\/v(\d+)\.metadata\.json$/.exec(object.key.slice(table.length + 1))?.[1];
      if (v !== undefined && version !== undefined && Number(v) <= Number(version)) continue;
      if ((object.lastModified?.getTime() ?? 0) >= cutoff) continue;
      orphans.push(object.key);
    }
  }
  if (!options.dryRun) await storage.delete(orphans);
  return orphans;
}
