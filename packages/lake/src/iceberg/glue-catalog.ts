import { randomUUID } from 'node:crypto';
import {
  type Column,
  CreateTableCommand,
  GetTableCommand,
  type GlueClient,
  type Table,
  type TableInput,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { OptionsError } from '@tributary/core';
import { CatalogError } from '../catalog/errors.js';
import { callGlue, glueErrorName } from '../catalog/glue-errors.js';
import { catalogName } from '../catalog/table.js';
import type { Storage } from '../storage.js';
import { type IcebergCatalog, keyOf, type LoadedTable, locationOf } from './catalog.js';
import { IcebergError } from './errors.js';
import { stringifyJson } from './json.js';
import { parseTableMetadata, type TableMetadata, withMetadataLog } from './metadata.js';
import type { IcebergField, IcebergType } from './schema.js';

/** Options of {@link GlueIcebergCatalog}. */
export interface GlueIcebergCatalogOptions {
  /** A `GlueClient` you create (and destroy); only its `send` is used. */
  client: Pick<GlueClient, 'send'>;
  /** The Glue database the tables are registered in (it must exist: `GlueCatalog.ensureDatabase`). */
  database: string;
  /** Where the tables' files are: the storage `writeDataset` writes to (an `S3Storage`). */
  storage: Storage;
  /**
   * The Glue name of a lake table path. Default: lower case, every character other than a
   * letter, digit or `_` replaced by `_` (`coinmarketcap/quote` → `coinmarketcap_quote`).
   */
  tableName?: (table: string) => string;
  /** The Data Catalog's id (an account id) when it is not the caller's. */
  catalogId?: string;
  /**
   * Ask Glue not to archive the previous table version on each commit. Default `true`, as
   * Iceberg's Java and Python Glue catalogs do (Glue limits how many versions a table keeps).
   */
  skipArchive?: boolean;
}

// The table parameters Iceberg's Glue catalogs (Java, pyiceberg) read and write.
const TABLE_TYPE = 'table_type';
const METADATA_LOCATION = 'metadata_location';
const PREVIOUS_METADATA_LOCATION = 'previous_metadata_location';

const PRIMITIVE_HIVE_TYPES: Record<string, string> = {
  boolean: 'boolean',
  int: 'int',
  long: 'bigint',
  float: 'float',
  double: 'double',
  date: 'date',
  time: 'string',
  string: 'string',
  uuid: 'string',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
  timestamp_ns: 'timestamp',
  timestamptz_ns: 'timestamp',
  binary: 'binary',
};

/** The Hive type Glue and Athena show for an Iceberg type (the mapping of Iceberg's Glue catalogs). */
function hiveType(type: IcebergType): string {
  if (typeof type === 'string') {
    if (/^decimal\(\d+,\s*\d+\)$/.test(type)) return type.replace(/\s+/g, '');
    if (/^fixed\[\d+\]$/.test(type)) return 'binary';
    return PRIMITIVE_HIVE_TYPES[type] ?? type;
  }
  if (type.type === 'list') return `array<${hiveType(type.element)}>`;
  if (type.type === 'map') {
    const map = type as unknown as { key: IcebergType; value: IcebergType };
    return `map<${hiveType(map.key)},${hiveType(map.value)}>`;
  }
  const fields = (type as unknown as { fields: IcebergField[] }).fields ?? [];
  return `struct<${fields.map((f) => `${f.name}:${hiveType(f.type)}`).join(',')}>`;
}

/**
 * The Glue columns of a table's metadata, as Iceberg's Glue catalogs write them: the current
 * schema's columns, then columns only older schemas have (`iceberg.field.current` = `false`),
 * each with its Iceberg field id and optionality in the column parameters.
 *
 * @example
 * ```ts
 * import { icebergGlueColumns } from '@tributary/lake/glue';
 *
 * const loaded = await new StorageCatalog(lake.processed).load('sensors');
 * const columns = loaded ? icebergGlueColumns(loaded.metadata) : [];
 * // [{ Name: 'timestamp', Type: 'timestamp', Parameters: { 'iceberg.field.id': '3', ... } }, ...]
 * ```
 */
export function icebergGlueColumns(metadata: TableMetadata): Column[] {
  const columns = new Map<string, Column>();
  const current = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  const others = metadata.schemas.filter((s) => s !== current);
  for (const [schema, isCurrent] of [
    ...(current ? [[current, true] as const] : []),
    ...others.map((s) => [s, false] as const),
  ]) {
    for (const field of schema.fields) {
      if (columns.has(field.name)) continue;
      columns.set(field.name, {
        Name: field.name,
        Type: hiveType(field.type),
        ...(field.doc ? { Comment: field.doc } : {}),
        Parameters: {
          'iceberg.field.id': String(field.id),
          'iceberg.field.optional': String(!field.required),
          'iceberg.field.current': String(isCurrent),
        },
      });
    }
  }
  return [...columns.values()];
}

/** The version of a metadata file named `<version>-<uuid>.metadata.json` (-1 for any other name). */
function metadataVersion(location: string): number {
  const m = /\/(\d+)-[^/]*\.metadata\.json$/.exec(location);
  return m ? Number(m[1]) : -1;
}

/**
 * An Iceberg catalog on the AWS Glue Data Catalog, for `writeDataset`/`readDataset` with
 * `tableFormat: 'iceberg'` on S3: the table is registered as Iceberg's own Glue catalogs register
 * it (`table_type=ICEBERG`, `metadata_location`, `previous_metadata_location`, columns in Hive
 * types, no partition keys: Athena plans from the metadata), so Athena, Glue jobs, EMR and
 * pyiceberg's Glue catalog read what the lake writes.
 *
 * A commit writes `<table>/metadata/<version>-<uuid>.metadata.json`, checks that Glue still
 * points at the commit's base (same `metadata_location` and `VersionId`, as Iceberg's Java
 * catalog checks), then sends `UpdateTable` with the base's `VersionId`, which Glue refuses
 * (`ConcurrentModificationException`) when another commit came first: both become a retryable
 * `ICEBERG_COMMIT_CONFLICT`, and the writer applies its change again on the new snapshot. A
 * commit that fails deletes its metadata file, except when the failure leaves unknown whether
 * Glue took it: it reads the table again and, if its file is there, the commit counts as made;
 * if the table cannot be read, it throws a `CatalogError` with `context.commitState: 'unknown'`
 * and keeps the file.
 *
 * @example
 * ```ts
 * import { GlueClient } from '@aws-sdk/client-glue';
 * import { GlueIcebergCatalog } from '@tributary/lake/glue';
 *
 * const storage = lake.curated; // an S3Storage
 * const catalog = new GlueIcebergCatalog({ client: new GlueClient({}), database: 'curated', storage });
 * await writeDataset(readings, { storage, table: 'sensors', schema: readingSchema, tableFormat: 'iceberg', catalog });
 * // Glue table curated.sensors, table_type ICEBERG
 * ```
 */
export class GlueIcebergCatalog implements IcebergCatalog {
  readonly storage: Storage;
  readonly kind = 'glue';
  readonly database: string;
  readonly #client: Pick<GlueClient, 'send'>;
  readonly #catalogId: string | undefined;
  readonly #skipArchive: boolean;
  readonly #tableName: (table: string) => string;

  constructor(options: GlueIcebergCatalogOptions) {
    if (!options || typeof options !== 'object' || typeof options.client?.send !== 'function') {
      throw new OptionsError('GlueIcebergCatalogOptions.client must be a GlueClient', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'client',
      });
    }
    if (typeof options.storage?.getBytes !== 'function' || typeof options.storage.url !== 'string') {
      throw new OptionsError('GlueIcebergCatalogOptions.storage must be a Storage (an S3Storage)', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'storage',
      });
    }
    if (options.tableName !== undefined && typeof options.tableName !== 'function') {
      throw new OptionsError('GlueIcebergCatalogOptions.tableName must be a function', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'tableName',
      });
    }
    this.#client = options.client;
    this.storage = options.storage;
    this.database = catalogName(options.database, 'database');
    this.#catalogId = options.catalogId;
    this.#skipArchive = options.skipArchive ?? true;
    this.#tableName =
      options.tableName ?? ((table: string) => table.toLowerCase().replace(/[^a-z0-9_]/g, '_'));
    Object.freeze(this);
  }

  /** The Glue table name of a lake table path (`coinmarketcap/quote` → `coinmarketcap_quote`). */
  tableName(table: string): string {
    return catalogName(this.#tableName(table), 'table');
  }

  #call<T>(what: string, name: string, run: () => Promise<T>): Promise<T> {
    return callGlue(
      what,
      `${this.database}.${name}`,
      { database: this.database, table: name },
      run,
      (error) =>
        error === 'EntityNotFoundException' && what === 'CreateTable'
          ? 'CATALOG_DATABASE_NOT_FOUND'
          : 'CATALOG_FAILED',
    );
  }

  async #getTable(name: string): Promise<Table | undefined> {
    try {
      const out = await this.#call('GetTable', name, () =>
        this.#client.send(
          new GetTableCommand({
            ...(this.#catalogId ? { CatalogId: this.#catalogId } : {}),
            DatabaseName: this.database,
            Name: name,
          }),
        ),
      );
      return out.Table;
    } catch (err) {
      if (glueErrorName(err) === 'EntityNotFoundException') return undefined;
      throw err;
    }
  }

  /** The Glue table's metadata location; an error for a table that is not Iceberg. */
  #metadataLocation(raw: Table, name: string): string {
    const parameters = raw.Parameters ?? {};
    if (parameters[TABLE_TYPE]?.toUpperCase() !== 'ICEBERG') {
      throw new IcebergError(
        `Glue table ${this.database}.${name} is not an Iceberg table (table_type ${JSON.stringify(parameters[TABLE_TYPE] ?? null)})`,
        { code: 'ICEBERG_TABLE_NOT_FOUND', context: { database: this.database, table: name } },
      );
    }
    const location = parameters[METADATA_LOCATION];
    if (!location) {
      throw new IcebergError(`Glue table ${this.database}.${name} has no metadata_location`, {
        code: 'ICEBERG_METADATA_INVALID',
        context: { database: this.database, table: name },
      });
    }
    return location;
  }

  async #loaded(raw: Table, name: string): Promise<LoadedTable> {
    const metadataLocation = this.#metadataLocation(raw, name);
    const metadataKey = keyOf(this.storage, metadataLocation);
    const text = Buffer.from(await this.storage.getBytes(metadataKey)).toString('utf8');
    return {
      metadata: parseTableMetadata(text, metadataKey),
      metadataLocation,
      metadataKey,
      version: raw.VersionId ?? '',
    };
  }

  async load(table: string): Promise<LoadedTable | undefined> {
    const name = this.tableName(table);
    const raw = await this.#getTable(name);
    return raw ? this.#loaded(raw, name) : undefined;
  }

  #tableInput(name: string, metadata: TableMetadata, location: string, previous?: Table): TableInput {
    const kept = previous?.Parameters ?? {};
    const previousLocation = previous?.Parameters?.[METADATA_LOCATION];
    return {
      Name: name,
      TableType: 'EXTERNAL_TABLE',
      ...(previous?.Description !== undefined ? { Description: previous.Description } : {}),
      ...(previous?.Owner !== undefined ? { Owner: previous.Owner } : {}),
      Parameters: {
        ...kept,
        [TABLE_TYPE]: 'ICEBERG',
        [METADATA_LOCATION]: location,
        ...(previousLocation ? { [PREVIOUS_METADATA_LOCATION]: previousLocation } : {}),
      },
      StorageDescriptor: { Location: metadata.location, Columns: icebergGlueColumns(metadata) },
    };
  }

  #conflict(table: string, message: string, cause?: unknown): IcebergError {
    return new IcebergError(`${table}: ${message}`, {
      code: 'ICEBERG_COMMIT_CONFLICT',
      context: { table, database: this.database },
      ...(cause !== undefined ? { cause } : {}),
    });
  }

  /**
   * After a failed CreateTable/UpdateTable: did Glue take this commit anyway (a response lost
   * after Glue applied it, an SDK retry refused because the first try had landed)? Yes when the
   * table points at `location`, or at a later file whose metadata log lists it.
   */
  async #landed(name: string, location: string): Promise<LoadedTable | undefined> {
    const raw = await this.#getTable(name);
    if (!raw) return undefined;
    const current = await this.#loaded(raw, name);
    if (current.metadataLocation === location) return current;
    if (current.metadata['metadata-log'].some((e) => e['metadata-file'] === location)) {
      // Made, and another commit is already on top of it: this file is the table's history.
      return {
        ...current,
        metadataLocation: location,
        metadataKey: keyOf(this.storage, location),
        version: '',
      };
    }
    return undefined;
  }

  async commit(table: string, base: LoadedTable | undefined, next: TableMetadata): Promise<LoadedTable> {
    const name = this.tableName(table);
    const version = base ? metadataVersion(base.metadataLocation) + 1 : 0;
    const metadataKey = `${table}/metadata/${String(version).padStart(5, '0')}-${randomUUID()}.metadata.json`;
    const metadataLocation = locationOf(this.storage, metadataKey);
    const metadata = withMetadataLog(next, base?.metadataLocation, base?.metadata['last-updated-ms']);
    await this.storage.put(metadataKey, stringifyJson(metadata));
    const made = (glueVersion: string): LoadedTable => ({
      metadata,
      metadataLocation,
      metadataKey,
      version: glueVersion,
    });
    const discard = () => this.storage.delete([metadataKey]).catch(() => {});

    let previous: Table | undefined;
    if (base) {
      // Glue enforces VersionId; this check also covers Glue-compatible services that do not,
      // and a table someone re-registered with the same VersionId.
      try {
        previous = await this.#getTable(name);
      } catch (err) {
        await discard();
        throw err;
      }
      const location = previous?.Parameters?.[METADATA_LOCATION];
      if (!previous || location !== base.metadataLocation || (previous.VersionId ?? '') !== base.version) {
        await discard();
        if (!previous) {
          throw new IcebergError(
            `Glue table ${this.database}.${name} was deleted while ${table} was written`,
            {
              code: 'ICEBERG_TABLE_NOT_FOUND',
              context: { database: this.database, table: name },
            },
          );
        }
        throw this.#conflict(
          table,
          `another commit came first (Glue version ${previous.VersionId ?? '?'}, this write's base ${base.version || '?'})`,
        );
      }
    }

    try {
      if (!base) {
        await this.#call('CreateTable', name, () =>
          this.#client.send(
            new CreateTableCommand({
              ...(this.#catalogId ? { CatalogId: this.#catalogId } : {}),
              DatabaseName: this.database,
              TableInput: this.#tableInput(name, metadata, metadataLocation),
            }),
          ),
        );
        // Glue's first VersionId is not documented: read it back (one call, on creation only).
        const created = await this.#getTable(name).catch(() => undefined);
        const createdVersion =
          created?.Parameters?.[METADATA_LOCATION] === metadataLocation ? (created.VersionId ?? '') : '';
        return made(createdVersion);
      }
      await this.#call('UpdateTable', name, () =>
        this.#client.send(
          new UpdateTableCommand({
            ...(this.#catalogId ? { CatalogId: this.#catalogId } : {}),
            DatabaseName: this.database,
            TableInput: this.#tableInput(name, metadata, metadataLocation, previous),
            ...(base.version ? { VersionId: base.version } : {}),
            SkipArchive: this.#skipArchive,
          }),
        ),
      );
      // "A VersionId is a string representation of an integer. Each version is incremented by 1."
      return made(/^\d+$/.test(base.version) ? String(Number(base.version) + 1) : '');
    } catch (err) {
      let landed: LoadedTable | undefined;
      try {
        landed = await this.#landed(name, metadataLocation);
      } catch (readErr) {
        throw new CatalogError(
          `Glue ${base ? 'UpdateTable' : 'CreateTable'} failed for ${this.database}.${name} and the table could not be read to tell whether the commit was made; its metadata file ${metadataLocation} is kept`,
          {
            code: 'CATALOG_FAILED',
            cause: err,
            retryable: false,
            context: {
              database: this.database,
              table: name,
              commitState: 'unknown',
              metadataLocation,
              readError: (readErr as Error)?.message ?? String(readErr),
            },
          },
        );
      }
      if (landed) return { ...landed, metadata, metadataLocation, metadataKey };
      await discard();
      const error = glueErrorName(err);
      if (error === 'ConcurrentModificationException') {
        throw this.#conflict(
          table,
          `Glue refused the update of version ${base?.version}: another commit came first`,
          err,
        );
      }
      if (error === 'AlreadyExistsException') {
        throw this.#conflict(table, `another writer created Glue table ${this.database}.${name} first`, err);
      }
      throw err;
    }
  }
}
