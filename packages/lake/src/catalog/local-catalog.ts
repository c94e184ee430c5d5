import { OptionsError } from '@tributary/core';
import type { Storage } from '../storage.js';
import { CatalogError } from './errors.js';
import { evolveTable, mergePartitions } from './evolution.js';
import {
  type AddPartitionsResult,
  type Catalog,
  catalogName,
  type GetTableOptions,
  type PutTableResult,
  type TableDefinition,
  type TablePartition,
  withCatalogNames,
} from './table.js';

/** Options of {@link LocalCatalog}. */
export interface LocalCatalogOptions {
  /** Where the catalog's JSON lives, usually a zone of the lake (`lake.raw`). */
  storage: Storage;
  /** Key prefix of the catalog. Default `_catalog/` (the `_` keeps it out of every table listing). */
  prefix?: string;
  /** The database of tables whose definition names none. Default `default`. */
  database?: string;
}

interface StoredTable {
  format: 'tributary-catalog-table';
  version: 1;
  table: TableDefinition;
}

interface StoredDatabase {
  format: 'tributary-catalog-database';
  version: 1;
  name: string;
  description?: string;
  createdAt: string;
}

/**
 * A table catalog kept as JSON in the lake itself, for `local` mode: the same operations as
 * `GlueCatalog` (database, create-or-update a table with the same schema-evolution rules, add
 * partitions), one object per table at `<prefix><database>/<table>.json` and one per database at
 * `<prefix><database>.json`. Like `GlueCatalog`, `putTable` keeps the definition's partitions and
 * stores names lowercased; a table never projects its partitions here.
 * Updates are read-modify-write: run one writer at a time per table.
 *
 * @example
 * ```ts
 * const catalog = new LocalCatalog({ storage: lake.raw, database: 'tributary' });
 * await catalog.createDatabase();
 * await catalog.putTable(await crawl(lake.raw, 'sensors'));
 * console.log((await catalog.getTable('sensors'))?.columns);
 * ```
 */
export class LocalCatalog implements Catalog {
  readonly #storage: Storage;
  readonly #prefix: string;
  readonly database: string;

  constructor(options: LocalCatalogOptions) {
    if (
      !options ||
      typeof options !== 'object' ||
      !options.storage ||
      typeof options.storage.put !== 'function'
    ) {
      throw new OptionsError('LocalCatalogOptions.storage must be a Storage', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'storage',
      });
    }
    const prefix = options.prefix ?? '_catalog/';
    if (typeof prefix !== 'string' || prefix.startsWith('/') || (prefix !== '' && !prefix.endsWith('/'))) {
      throw new OptionsError(
        `LocalCatalogOptions.prefix must be relative and end in "/" (got ${JSON.stringify(prefix)})`,
        {
          code: 'CATALOG_OPTIONS_INVALID',
          option: 'prefix',
        },
      );
    }
    this.#storage = options.storage;
    this.#prefix = prefix;
    this.database = catalogName(options.database ?? 'default', 'database');
    Object.freeze(this);
  }

  #databaseKey(database: string): string {
    return `${this.#prefix}${database}.json`;
  }

  #tableKey(database: string, table: string): string {
    return `${this.#prefix}${database}/${table}.json`;
  }

  async #readJson<T>(key: string): Promise<T | undefined> {
    if (!(await this.#storage.head(key))) return undefined;
    const text = Buffer.from(await this.#storage.getBytes(key)).toString('utf8');
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new CatalogError(`Catalog object ${key} is not JSON`, {
        code: 'CATALOG_FAILED',
        cause: err,
        context: { key },
      });
    }
  }

  async #write(key: string, value: unknown): Promise<void> {
    await this.#storage.put(key, `${JSON.stringify(value, null, 1)}\n`, { contentType: 'application/json' });
  }

  /** Create a database (the catalog's own by default); creating one that exists is not an error. */
  async createDatabase(
    name: string = this.database,
    options: { description?: string } = {},
  ): Promise<'created' | 'existed'> {
    const database = catalogName(name, 'database');
    if (await this.#storage.head(this.#databaseKey(database))) return 'existed';
    const stored: StoredDatabase = {
      format: 'tributary-catalog-database',
      version: 1,
      name: database,
      createdAt: new Date().toISOString(),
    };
    if (options.description !== undefined) stored.description = options.description;
    await this.#write(this.#databaseKey(database), stored);
    return 'created';
  }

  /** Same as `createDatabase()` for the catalog's database: the name `GlueCatalog` uses. */
  ensureDatabase(): Promise<'created' | 'existed'> {
    return this.createDatabase(this.database);
  }

  async #requireDatabase(database: string): Promise<void> {
    if (!(await this.#storage.head(this.#databaseKey(database)))) {
      throw new CatalogError(`Database ${database} does not exist; call createDatabase() first`, {
        code: 'CATALOG_DATABASE_NOT_FOUND',
        context: { database },
      });
    }
  }

  /** A table's definition (with its partitions), or `undefined` when there is none. */
  async getTable(name: string, options: GetTableOptions = {}): Promise<TableDefinition | undefined> {
    const db = catalogName(options.database ?? this.database, 'database');
    const key = this.#tableKey(db, catalogName(name, 'table'));
    const stored = await this.#readJson<StoredTable>(key);
    if (stored === undefined) return undefined;
    if (stored.format !== 'tributary-catalog-table' || typeof stored.table !== 'object') {
      throw new CatalogError(`${key} is not a catalog table`, { code: 'CATALOG_FAILED', context: { key } });
    }
    return stored.table;
  }

  /**
   * Create a table, or update it: added columns are appended, widened types (`int` → `bigint` →
   * `double`) replace the old ones, partitions are merged (those already there count as
   * `existing`); an incompatible change throws `SchemaChangeError` and leaves the stored table as
   * it was. Column and partition key names are stored lowercased, as `GlueCatalog` stores them
   * (see `withCatalogNames`); the data files keep theirs.
   */
  async putTable(definition: TableDefinition): Promise<PutTableResult> {
    const database = catalogName(definition.database ?? this.database, 'database');
    const name = catalogName(definition.name, 'table');
    const incoming: TableDefinition = { ...withCatalogNames(definition), name, database };
    for (const partition of incoming.partitions)
      assertPartition(partition, incoming.partitionKeys.length, name);
    await this.#requireDatabase(database);
    const given = mergePartitions([], incoming.partitions).length;
    const existing = await this.getTable(name, { database });
    if (!existing) {
      const table = { ...incoming, partitions: mergePartitions([], incoming.partitions) };
      await this.#write(this.#tableKey(database, name), {
        format: 'tributary-catalog-table',
        version: 1,
        table,
      } satisfies StoredTable);
      return {
        action: 'created',
        added: [],
        widened: [],
        table,
        partitions: { added: given, existing: 0, projected: false },
      };
    }
    const evolution = evolveTable(existing, incoming);
    const added = evolution.table.partitions.length - existing.partitions.length;
    const partitions = { added, existing: given - added, projected: false };
    // The crawl time alone is no change worth a write.
    const withoutTime = (t: TableDefinition) => JSON.stringify({ ...t, updatedAt: '' });
    if (withoutTime(evolution.table) === withoutTime(existing)) {
      return { action: 'unchanged', added: [], widened: [], table: existing, partitions };
    }
    await this.#write(this.#tableKey(database, name), {
      format: 'tributary-catalog-table',
      version: 1,
      table: evolution.table,
    } satisfies StoredTable);
    return {
      action: 'updated',
      added: evolution.added,
      widened: evolution.widened,
      table: evolution.table,
      partitions,
    };
  }

  /** A table's partitions (none when there is no such table). */
  async listPartitions(name: string, database?: string): Promise<TablePartition[]> {
    return (await this.getTable(name, { database }))?.partitions ?? [];
  }

  /** The names of a database's tables, sorted. */
  async listTables(database: string = this.database): Promise<string[]> {
    const prefix = `${this.#prefix}${catalogName(database, 'database')}/`;
    const names: string[] = [];
    for await (const object of this.#storage.list(prefix)) {
      const rest = object.key.slice(prefix.length);
      if (!rest.includes('/') && rest.endsWith('.json')) names.push(rest.slice(0, -'.json'.length));
    }
    return names.sort();
  }

  /** Delete a table's definition (never its data). Returns whether there was one. */
  async deleteTable(name: string, database: string = this.database): Promise<boolean> {
    const key = this.#tableKey(catalogName(database, 'database'), catalogName(name, 'table'));
    if (!(await this.#storage.head(key))) return false;
    await this.#storage.delete([key]);
    return true;
  }

  /**
   * Add a definition's partitions to the table in the catalog (which must exist). Partitions it
   * already has are counted as `existing`, not an error.
   */
  async addPartitions(
    definition: Pick<TableDefinition, 'name' | 'database' | 'partitions'>,
  ): Promise<AddPartitionsResult> {
    const database = catalogName(definition.database ?? this.database, 'database');
    const name = catalogName(definition.name, 'table');
    const existing = await this.getTable(name, { database });
    if (!existing) {
      throw new CatalogError(`Table ${database}.${name} does not exist; putTable() first`, {
        code: 'CATALOG_TABLE_NOT_FOUND',
        context: { database, table: name },
      });
    }
    for (const partition of definition.partitions)
      assertPartition(partition, existing.partitionKeys.length, name);
    const merged = mergePartitions(existing.partitions, definition.partitions);
    const added = merged.length - existing.partitions.length;
    const given = mergePartitions([], definition.partitions).length;
    if (added > 0) {
      const table: TableDefinition = { ...existing, partitions: merged, updatedAt: new Date().toISOString() };
      await this.#write(this.#tableKey(database, name), {
        format: 'tributary-catalog-table',
        version: 1,
        table,
      } satisfies StoredTable);
    }
    return { added, existing: given - added, projected: false };
  }
}

/** A partition must give one value per partition key and a location. */
export function assertPartition(partition: TablePartition, keys: number, table: string): void {
  if (
    !Array.isArray(partition.values) ||
    partition.values.length !== keys ||
    partition.values.some((v) => typeof v !== 'string')
  ) {
    throw new CatalogError(
      `A partition of ${table} has values ${JSON.stringify(partition.values)}; the table has ${keys} partition key(s)`,
      { code: 'CATALOG_INVALID', context: { table } },
    );
  }
  if (typeof partition.location !== 'string' || partition.location === '') {
    throw new CatalogError(`A partition of ${table} has no location`, {
      code: 'CATALOG_INVALID',
      context: { table },
    });
  }
}
