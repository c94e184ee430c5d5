import { fileURLToPath } from 'node:url';
import { OptionsError } from '@tributary/core';
import { tablePrefix } from '../dataset-commit.js';
import { ObjectNotFoundError } from '../errors.js';
import type { Storage } from '../storage.js';
import { IcebergError } from './errors.js';
import { stringifyJson } from './json.js';
import { parseTableMetadata, type TableMetadata, withMetadataLog } from './metadata.js';

/** A table's metadata as a catalog holds it, with what a commit on top of it needs. */
export interface LoadedTable {
  metadata: TableMetadata;
  /** The metadata file's absolute location (`file:///…/v3.metadata.json`, `s3://…`). */
  metadataLocation: string;
  /** The metadata file's key in the catalog's storage. */
  metadataKey: string;
  /** What the catalog checks a commit against (a version number, Glue's `VersionId`). */
  version: string;
}

/**
 * Where Iceberg tables are registered, and how a commit is made atomic. Every table's files live
 * in `storage` under the table's name (`<table>/data/…`, `<table>/metadata/…`).
 */
export interface IcebergCatalog {
  readonly storage: Storage;
  /** A name for messages: `storage`, `glue`. */
  readonly kind: string;
  /** The table's current metadata, or `undefined` when there is no such table. */
  load(table: string): Promise<LoadedTable | undefined>;
  /**
   * Make `next` the table's metadata if `base` is still its current one (`undefined`: create the
   * table). Rejects with a retryable `ICEBERG_COMMIT_CONFLICT` when another commit came first,
   * and with an error whose `context.commitState` is `'unknown'` when it cannot tell whether the
   * commit was made (the writer then keeps its files).
   */
  commit(table: string, base: LoadedTable | undefined, next: TableMetadata): Promise<LoadedTable>;
}

/** `<storage url>/<key>`: a file's location as the metadata records it. */
export function locationOf(storage: Storage, key: string): string {
  return `${rootOf(storage)}/${key}`;
}

/**
 * The storage's root as Iceberg locations spell it. A local folder is `file://` and its path as
 * it is, not percent-encoded: Java (Hadoop paths) and pyiceberg take a location's characters
 * literally, so `with%20space` would name another folder than `with space`.
 */
function rootOf(storage: Storage): string {
  return storage.url.startsWith('file:') ? `file://${fileURLToPath(storage.url)}` : storage.url;
}

/**
 * The storage key of a location the metadata names: a file of this storage (`file:///root/k`,
 * `file:/root/k`, `/root/k`, `s3://bucket/prefix/k`, `s3a://…`), or `ICEBERG_FILE_OUTSIDE_STORAGE`.
 */
export function keyOf(storage: Storage, location: string): string {
  const normalize = (url: string) =>
    url
      .replace(/^s3[an]:\/\//, 's3://')
      .replace(/^file:\/\/\//, '/')
      .replace(/^file:\//, '/');
  const root = `${normalize(rootOf(storage))}/`;
  const path = normalize(location);
  if (!path.startsWith(root)) {
    throw new IcebergError(`${location} is outside the table's storage ${storage.url}`, {
      code: 'ICEBERG_FILE_OUTSIDE_STORAGE',
      context: { location, url: storage.url },
    });
  }
  // Not decoded: `%` escapes of partition values are part of the names (as Java writes them).
  return path.slice(root.length);
}

const VERSION_FILE = /^v(\d+)\.metadata\.json$/;
/** How Glue, REST and SQL catalogs name metadata files: `00003-<uuid>.metadata.json`. */
const OTHER_VERSION_FILE = /^(\d+)-[0-9a-fA-F-]+\.metadata\.json$/;

function versionKey(table: string, version: number): string {
  return `${table}/metadata/v${version}.metadata.json`;
}

/**
 * The catalog of a folder of tables, in the layout of Iceberg's Hadoop catalog, which Spark's
 * `HadoopCatalog`/`HadoopTables` and pyiceberg's `StaticTable` read: `<table>/metadata/vN.metadata.json`
 * and `<table>/metadata/version-hint.text`. A commit creates version N+1 only if no one else has
 * (the storage's `putIfAbsent`: a hard link locally, a conditional write on S3), so of two
 * writers exactly one wins; the version hint is then updated, and readers look past a stale hint.
 *
 * @example
 * ```ts
 * const catalog = new StorageCatalog(lake.processed);
 * const table = await catalog.load('sensors');
 * console.log(table?.metadata['current-snapshot-id']);
 * ```
 */
export class StorageCatalog implements IcebergCatalog {
  readonly storage: Storage;
  readonly kind = 'storage';

  constructor(storage: Storage) {
    this.storage = storage;
  }

  /**
   * The current version and its metadata file: from the hint and the versions past it, else the
   * highest `vN.metadata.json`, else (a table another catalog wrote here, e.g. pyiceberg's SQL
   * catalog) the highest `<N>-<uuid>.metadata.json`. Version 0: no table.
   */
  async #current(table: string): Promise<{ version: number; key: string } | undefined> {
    let version = 0;
    try {
      const hint = Buffer.from(await this.storage.getBytes(`${table}/metadata/version-hint.text`))
        .toString('utf8')
        .trim();
      if (/^\d+$/.test(hint)) version = Number(hint);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
    let other: { version: number; key: string } | undefined;
    if (version === 0) {
      for await (const object of this.storage.list(`${table}/metadata/`)) {
        const name = object.key.slice(`${table}/metadata/`.length);
        const m = VERSION_FILE.exec(name);
        if (m) version = Math.max(version, Number(m[1]));
        const n = OTHER_VERSION_FILE.exec(name);
        if (n && Number(n[1]) >= (other?.version ?? -1)) other = { version: Number(n[1]), key: object.key };
      }
    }
    // A commit that stopped before updating the hint: its version file is the table's state.
    while (version > 0 && (await this.storage.head(versionKey(table, version + 1)))) version++;
    if (version === 0) return other;
    return { version, key: versionKey(table, version) };
  }

  async load(table: string): Promise<LoadedTable | undefined> {
    const current = await this.#current(table);
    if (!current) return undefined;
    const { version, key } = current;
    const text = Buffer.from(await this.storage.getBytes(key)).toString('utf8');
    return {
      metadata: parseTableMetadata(text, key),
      metadataLocation: locationOf(this.storage, key),
      metadataKey: key,
      version: String(version),
    };
  }

  async commit(table: string, base: LoadedTable | undefined, next: TableMetadata): Promise<LoadedTable> {
    const version = (base ? Number(base.version) : 0) + 1;
    const key = versionKey(table, version);
    if (!this.storage.putIfAbsent) {
      // Reading needs nothing more than gets; a commit needs an exclusive create.
      throw new OptionsError(
        `${this.storage.url} cannot create an object only if it is absent, which Iceberg commits need: use LocalStorage, S3Storage or a Glue catalog`,
        { code: 'ICEBERG_OPTIONS_INVALID', option: 'storage', context: { url: this.storage.url } },
      );
    }
    const metadata = withMetadataLog(next, base?.metadataLocation, base?.metadata['last-updated-ms']);
    const created = await (this.storage.putIfAbsent as NonNullable<Storage['putIfAbsent']>)(
      key,
      stringifyJson(metadata),
    );
    if (!created) {
      throw new IcebergError(`${table}: another writer committed version ${version} first`, {
        code: 'ICEBERG_COMMIT_CONFLICT',
        context: { table, version },
      });
    }
    // Only a hint: a reader that finds it stale looks for later versions.
    await this.storage.put(`${table}/metadata/version-hint.text`, String(version)).catch(() => {});
    return {
      metadata,
      metadataLocation: locationOf(this.storage, key),
      metadataKey: key,
      version: String(version),
    };
  }
}

/** Where a call finds a table: its storage, and the catalog that registers it (the storage's own by default). */
export interface TableLocation {
  storage: Storage;
  table: string;
  catalog?: IcebergCatalog;
}

/** The catalog of a call: `options.catalog` (which must keep its tables in `options.storage`), else the storage's own. */
export function catalogFor(options: Omit<TableLocation, 'table'>): IcebergCatalog {
  const catalog = options.catalog ?? new StorageCatalog(options.storage);
  if (catalog.storage !== options.storage && catalog.storage.url !== options.storage.url) {
    throw new OptionsError(`the catalog's storage (${catalog.storage.url}) is not ${options.storage.url}`, {
      code: 'ICEBERG_OPTIONS_INVALID',
      option: 'catalog',
      context: { url: options.storage.url },
    });
  }
  return catalog;
}

/** The table's name without slashes around it (`sensors`), as catalogs and keys spell it. */
export function tableName(table: string): string {
  return tablePrefix(table).slice(0, -1);
}

/** Load a table that must exist (`ICEBERG_TABLE_NOT_FOUND` otherwise), with its catalog and name. */
export async function loadTable(
  options: TableLocation,
): Promise<{ catalog: IcebergCatalog; table: string; loaded: LoadedTable }> {
  const table = tableName(options.table);
  const catalog = catalogFor(options);
  const loaded = await catalog.load(table);
  if (!loaded) {
    throw new IcebergError(`no Iceberg table ${table} in ${options.storage.url}`, {
      code: 'ICEBERG_TABLE_NOT_FOUND',
      context: { table, url: options.storage.url },
    });
  }
  return { catalog, table, loaded };
}
