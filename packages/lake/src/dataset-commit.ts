import { mapLimit, OptionsError, TributaryError } from '@tributary/core';
import { ObjectNotFoundError } from './errors.js';
import { formatOfKey } from './formats/registry.js';
import type { ObjectInfo, Storage } from './storage.js';

// How a hive-layout table commits: files are staged under `_tributary/<table>/_staging/<writeId>/`,
// the manifest `_tributary/<table>/_manifests/vN.json` is the commit point, then staged files are
// promoted to their final keys and replaced files deleted, and `vN.promoted` records that
// promotion ended. The table's own prefix holds only data files, so readers that list it
// (awswrangler, polars, pyarrow, Spark, Athena) never meet a manifest or a staged file. Tables
// committed before this layout kept both under `<table>/`: they are read from there, and their
// next commit moves the table's metadata out.
// Every entry point that reads a table goes through `committedManifest`, which rolls an
// interrupted promotion forward first: after any tributary read or write, folder-listing readers
// (pyarrow, Spark, DuckDB globs, Athena) see exactly the committed snapshot again.

/** How a write combines with what the table already holds. */
export type WriteMode = 'append' | 'overwrite' | 'overwrite_partitions';

/** One committed data file of a table. */
export interface DatasetFile {
  /** Key relative to the zone, e.g. `sensors/dt=2026-11-23/hour=10/part-00000-<uuid>.parquet`. */
  key: string;
  /** `dt=2026-11-23/hour=10/`, or '' for an unpartitioned table. */
  partition: string;
  rows: number;
  bytes: number;
}

/** A snapshot of a table: the files a reader may see. Stored as `_tributary/<table>/_manifests/v<version>.json`. */
export interface Manifest {
  format: 'tributary-manifest';
  version: number;
  writeId: string;
  mode: WriteMode | 'compact';
  committedAt: string;
  /** Every committed file, final keys. */
  files: DatasetFile[];
  /** Files this commit brings in, from their staging keys: promoted after the manifest is written. */
  staged: { from: string; to: string }[];
  /** Files this commit replaced: deleted after promotion. */
  removed: string[];
  /** Partition columns that hold a field of the schema (left out of the files), so readers can put them back. */
  fieldPartitions?: { name: string; field: string }[];
}

export const MANIFESTS = '_manifests';
export const STAGING = '_staging';
/** The zone folder that holds hive tables' manifests and staged files, beside the tables. */
export const META_ROOT = '_tributary';
const PROMOTED = '.promoted';
/** Staged files promoted at once. */
const PROMOTE_CONCURRENCY = 16;

/** Where the table with prefix `sensors/` keeps its metadata: `_tributary/sensors/`. */
export function metaPrefix(prefix: string): string {
  return `${META_ROOT}/${prefix}`;
}

/** The staging folder of one write (and the one tables of the earlier layout used). */
export function stagingPrefix(prefix: string, writeId: string, legacy = false): string {
  return `${legacy ? prefix : metaPrefix(prefix)}${STAGING}/${writeId}/`;
}
/** Staging folders and temporary uploads younger than this are left alone by recovery. */
export const DEFAULT_RECOVERY_GRACE_MS = 24 * 60 * 60 * 1000;

export function datasetError(
  message: string,
  context: Record<string, unknown> = {},
  cause?: unknown,
  code = 'DATASET_FAILED',
): TributaryError {
  return new TributaryError(message, { code, context, cause });
}

/** `sensors/` for `sensors`; refuses paths that escape the zone or hide in `_`-folders. */
export function tablePrefix(table: string): string {
  const clean = typeof table === 'string' ? table.replace(/^\/+|\/+$/g, '') : '';
  if (
    clean === '' ||
    clean.split('/').some((s) => s === '' || s === '.' || s === '..' || s.startsWith('_'))
  ) {
    throw new TributaryError(`Invalid table path ${JSON.stringify(table)}`, {
      code: 'DATASET_INVALID',
      context: { table },
    });
  }
  return `${clean}/`;
}

function manifestKey(prefix: string, version: number, legacy = false): string {
  return `${legacy ? prefix : metaPrefix(prefix)}${MANIFESTS}/v${String(version).padStart(10, '0')}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= -1;

/**
 * Parse and check a manifest: JSON of the right shape, every key inside the table, every data
 * file of a format the lake reads. A manifest that fails any check is a typed
 * `DATASET_MANIFEST_INVALID` error, never a `SyntaxError` or a silently skipped file.
 */
export function parseManifest(bytes: Uint8Array, key: string, prefix: string): Manifest {
  const invalid = (problem: string, cause?: unknown) =>
    datasetError(`Manifest ${key} is invalid: ${problem}`, { key }, cause, 'DATASET_MANIFEST_INVALID');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw invalid('not UTF-8 JSON', err);
  }
  if (!isObject(value) || value.format !== 'tributary-manifest') throw invalid('not a tributary manifest');
  const { version, writeId, mode, committedAt, files, staged, removed, fieldPartitions } = value;
  if (!(Number.isInteger(version) && (version as number) >= 1))
    throw invalid('version is not a positive integer');
  if (typeof writeId !== 'string' || writeId === '' || writeId.includes('/'))
    throw invalid('writeId is not a name');
  if (!['append', 'overwrite', 'overwrite_partitions', 'compact'].includes(mode as string))
    throw invalid('unknown mode');
  if (typeof committedAt !== 'string') throw invalid('committedAt is not a string');
  const inTable = (k: unknown): k is string =>
    typeof k === 'string' && k.startsWith(prefix) && !k.slice(prefix.length).startsWith('_');
  if (!Array.isArray(files)) throw invalid('files is not a list');
  for (const [i, f] of files.entries()) {
    if (
      !isObject(f) ||
      !inTable(f.key) ||
      typeof f.partition !== 'string' ||
      !isCount(f.rows) ||
      !isCount(f.bytes)
    )
      throw invalid(`files[${i}] is not a data file of the table`);
    if (!formatOfKey(f.key)) throw invalid(`files[${i}] (${f.key}) has an extension no lake format reads`);
  }
  const staging = [stagingPrefix(prefix, writeId), stagingPrefix(prefix, writeId, true)];
  if (!Array.isArray(staged)) throw invalid('staged is not a list');
  for (const [i, s] of staged.entries()) {
    if (
      !isObject(s) ||
      typeof s.from !== 'string' ||
      !staging.some((p) => (s.from as string).startsWith(p)) ||
      !inTable(s.to)
    )
      throw invalid(`staged[${i}] does not move a file of this write's staging folder into the table`);
  }
  if (!Array.isArray(removed) || !removed.every(inTable))
    throw invalid('removed is not a list of keys in the table');
  if (
    fieldPartitions !== undefined &&
    !(
      Array.isArray(fieldPartitions) &&
      fieldPartitions.every((p) => isObject(p) && typeof p.name === 'string' && typeof p.field === 'string')
    )
  )
    throw invalid('fieldPartitions is not a list of { name, field }');
  return value as unknown as Manifest;
}

interface LatestManifest {
  manifest: Manifest;
  key: string;
  promoted: boolean;
  /** Found where tables of the earlier layout kept it (`<table>/_manifests/`). */
  legacy: boolean;
}

async function latestManifest(storage: Storage, prefix: string): Promise<LatestManifest | undefined> {
  for (const legacy of [false, true]) {
    const found = await latestIn(storage, prefix, legacy);
    if (found) return found;
  }
  return undefined;
}

async function latestIn(
  storage: Storage,
  prefix: string,
  legacy: boolean,
): Promise<LatestManifest | undefined> {
  let latest: ObjectInfo | undefined;
  const promoted = new Set<string>();
  for await (const object of storage.list(`${legacy ? prefix : metaPrefix(prefix)}${MANIFESTS}/v`)) {
    if (object.key.endsWith('.json')) latest = object;
    else if (object.key.endsWith(PROMOTED)) promoted.add(object.key.slice(0, -PROMOTED.length));
  }
  if (!latest) return undefined;
  const bytes = await storage.getBytes(latest.key).catch((err) => {
    throw datasetError(`Reading manifest ${latest.key} failed`, { key: latest.key }, err);
  });
  const manifest = parseManifest(bytes, latest.key, prefix);
  const base = latest.key.slice(0, -'.json'.length);
  if (base !== manifestKey(prefix, manifest.version, legacy)) {
    throw datasetError(
      `Manifest ${latest.key} is invalid: it says it is version ${manifest.version}`,
      { key: latest.key },
      undefined,
      'DATASET_MANIFEST_INVALID',
    );
  }
  return { manifest, key: latest.key, promoted: promoted.has(base), legacy };
}

/**
 * The latest committed manifest of a table, or `undefined` when the table has none (never
 * written by `writeDataset`, or only by crashed writes). It only reads: to get the snapshot
 * every reader sees, with an interrupted commit rolled forward, use `listDatasetFiles`.
 *
 * @example
 * ```ts
 * const manifest = await readManifest(lake.processed, 'sensors');
 * console.log(manifest?.files.length);
 * ```
 */
export async function readManifest(storage: Storage, table: string): Promise<Manifest | undefined> {
  return (await latestManifest(storage, tablePrefix(table)))?.manifest;
}

/**
 * The latest manifest, its commit rolled forward when its promotion never finished (a crash
 * between the commit point and the end of promotion). Every reading entry point goes through
 * here, so a table never stays half-promoted past the next tributary read or write.
 */
export async function committedManifest(
  storage: Storage,
  table: string,
): Promise<{ manifest: Manifest | undefined; rolledForward: boolean }> {
  const prefix = tablePrefix(table);
  const latest = await latestManifest(storage, prefix);
  if (!latest) return { manifest: undefined, rolledForward: false };
  if (latest.promoted) return { manifest: latest.manifest, rolledForward: false };
  try {
    await promote(storage, prefix, latest.manifest, latest.legacy);
  } catch (err) {
    throw datasetError(
      `Version ${latest.manifest.version} of ${table} is committed but its files could not be put in place: ${(err as Error).message}`,
      { table, key: latest.key },
      err,
      'DATASET_RECOVERY_FAILED',
    );
  }
  return { manifest: latest.manifest, rolledForward: true };
}

/** Put a committed manifest's files in place and delete what it replaced. Idempotent, and safe to run twice at once. */
export async function promote(
  storage: Storage,
  prefix: string,
  manifest: Manifest,
  legacy = false,
): Promise<void> {
  // Files are independent: on an object store each is a few requests, so they go in parallel.
  await mapLimit(manifest.staged, PROMOTE_CONCURRENCY, async ({ from, to }) => {
    try {
      // One request where the storage copies: copying again what an earlier attempt promoted puts
      // the same bytes in place, and a staged file already moved away is told apart below.
      if (storage.copy) {
        await storage.copy(from, to);
        return;
      }
      if (await storage.head(to)) return;
      const staged = await storage.head(from);
      if (!staged) throw new ObjectNotFoundError(from);
      await storage.put(to, await storage.get(from), { expectedSize: staged.size });
    } catch (err) {
      // Another process rolling the same commit forward may have moved it in the meantime.
      if (err instanceof ObjectNotFoundError && (await storage.head(to))) return;
      if (err instanceof ObjectNotFoundError) {
        throw datasetError(
          `Committed file ${to} is missing, and so is its staged copy ${from}`,
          { key: to },
          err,
        );
      }
      throw err;
    }
  });
  const leftovers = [...manifest.removed, ...manifest.staged.map((s) => s.from)];
  // Also whatever an earlier, crashed attempt of the same write staged and this one did not.
  for (const old of [false, true]) {
    for await (const object of storage.list(stagingPrefix(prefix, manifest.writeId, old)))
      leftovers.push(object.key);
  }
  if (leftovers.length > 0) await storage.delete(new Set(leftovers));
  await storage.put(`${manifestKey(prefix, manifest.version, legacy)}${PROMOTED}`, '', {
    contentType: 'text/plain',
  });
  if (!legacy) await removeLegacyMetadata(storage, prefix);
}

/**
 * Once a table has a manifest beside it, the manifests of the earlier layout (inside the table,
 * where they broke folder readers) are history: removed.
 */
async function removeLegacyMetadata(storage: Storage, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const object of storage.list(`${prefix}${MANIFESTS}/`)) keys.push(object.key);
  if (keys.length > 0) await storage.delete(keys);
}

/** Commit a new version: the manifest's put is the commit point; promotion follows. */
export async function commit(storage: Storage, prefix: string, manifest: Manifest): Promise<void> {
  const key = `${manifestKey(prefix, manifest.version)}.json`;
  const conflict = async () => {
    await discardStaged(storage, prefix, manifest.writeId).catch(() => {});
    return new TributaryError(`Another write committed version ${manifest.version} of ${prefix} first`, {
      code: 'DATASET_CONFLICT',
      retryable: true,
      context: { key },
    });
  };
  if (await storage.head(key)) throw await conflict();
  const body = `${JSON.stringify(manifest, null, 1)}\n`;
  try {
    // Exclusive where the storage can: of two writers committing the same version, one wins.
    if (storage.putIfAbsent) {
      if (!(await storage.putIfAbsent(key, body))) throw await conflict();
    } else {
      await storage.put(key, body, { contentType: 'application/json' });
    }
  } catch (err) {
    if (TributaryError.isInstance(err) && err.code === 'DATASET_CONFLICT') throw err;
    // Not committed (unless the put took effect and only its answer was lost): nothing stays staged.
    if ((await storage.head(key).catch(() => true)) === undefined) {
      await discardStaged(storage, prefix, manifest.writeId).catch(() => {});
    }
    throw err;
  }
  await promote(storage, prefix, manifest);
}

/** Delete every staged object of one write (a failed write leaves nothing staged). */
export async function discardStaged(storage: Storage, prefix: string, writeId: string): Promise<void> {
  const keys: string[] = [];
  for (const legacy of [false, true]) {
    for await (const object of storage.list(stagingPrefix(prefix, writeId, legacy))) keys.push(object.key);
  }
  if (keys.length > 0) await storage.delete(keys);
}

export interface RecoverDatasetOptions {
  /**
   * Staging folders and temporary uploads are abandoned once nothing was written to them for
   * this long (a write still running keeps adding files). Default 24 hours.
   */
  graceMs?: number;
  /** Never sweep this write's staging folder (the write about to run). */
  keepWriteId?: string;
  /** The current time, for tests. */
  now?: () => number;
}

/** What `recoverDataset` found and did. */
export interface RecoveryResult {
  /** The latest committed manifest, after recovery. */
  manifest: Manifest | undefined;
  /** True when an interrupted commit was rolled forward. */
  rolledForward: boolean;
  /** Objects deleted from abandoned staging folders (`_tributary/<table>/_staging/<writeId>/...`). */
  removedStaging: string[];
  /** Abandoned temporary uploads the storage removed (local `.tmp` files, S3 multipart uploads). */
  removedTemporary: string[];
}

/**
 * Finish what a crash left: roll an interrupted commit forward, and remove staging folders and
 * temporary uploads that nothing has written to for longer than the grace period. Idempotent;
 * `writeDataset` and `compact` run it before they write, and every read rolls commits forward.
 *
 * @example
 * ```ts
 * const { rolledForward, removedStaging, removedTemporary } = await recoverDataset(lake.processed, 'sensors', {
 *   graceMs: 60 * 60 * 1000,
 * });
 * console.log(rolledForward, removedStaging.length, removedTemporary.length);
 * ```
 */
export async function recoverDataset(
  storage: Storage,
  table: string,
  options: RecoverDatasetOptions = {},
): Promise<RecoveryResult> {
  const graceMs = options.graceMs ?? DEFAULT_RECOVERY_GRACE_MS;
  if (!(graceMs >= 0)) {
    throw new OptionsError('recoverDataset: graceMs must be a number >= 0', {
      code: 'DATASET_OPTIONS_INVALID',
      option: 'graceMs',
    });
  }
  const prefix = tablePrefix(table);
  const { manifest, rolledForward } = await committedManifest(storage, table);
  const cutoff = (options.now ?? Date.now)() - graceMs;

  // Group the staging area by write; a folder is abandoned when its newest object is older than the cutoff.
  const folders = new Map<string, { keys: string[]; newest: number }>();
  for (const root of [`${metaPrefix(prefix)}${STAGING}/`, `${prefix}${STAGING}/`]) {
    for await (const object of storage.list(root)) {
      const writeId = object.key.slice(root.length).split('/')[0] as string;
      const folder = folders.get(writeId) ?? { keys: [], newest: Number.NEGATIVE_INFINITY };
      folder.keys.push(object.key);
      // An object without a time is treated as just written: never swept by age alone.
      folder.newest = Math.max(folder.newest, object.lastModified?.getTime() ?? Number.POSITIVE_INFINITY);
      folders.set(writeId, folder);
    }
  }
  const removedStaging: string[] = [];
  for (const [writeId, folder] of folders) {
    if (writeId === options.keepWriteId || folder.newest > cutoff) continue;
    removedStaging.push(...folder.keys);
  }
  if (removedStaging.length > 0) await storage.delete(removedStaging);
  const removedTemporary: string[] = [];
  if (storage.removeAbandonedUploads) {
    for (const under of [metaPrefix(prefix), prefix]) {
      removedTemporary.push(
        ...(await storage.removeAbandonedUploads({ olderThan: new Date(cutoff), prefix: under })),
      );
    }
  }
  return { manifest, rolledForward, removedStaging, removedTemporary };
}
