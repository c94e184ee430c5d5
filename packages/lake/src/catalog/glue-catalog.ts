import {
  BatchCreatePartitionCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteTableCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  type GlueClient,
  type PartitionInput,
  type StorageDescriptor,
  type Table,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import {
  type EventListener,
  emitSafely,
  type FailedItem,
  OptionsError,
  PartialBatchFailureError,
} from '@tributary/core';
import { CatalogError } from './errors.js';
import { evolveTable, mergePartitions } from './evolution.js';
import { callGlue, glueErrorName } from './glue-errors.js';
import { fromGlueTable, requireS3, toGlueTableInput } from './glue-table-input.js';
import { assertPartition } from './local-catalog.js';
import {
  type AddPartitionsResult,
  type Catalog,
  catalogName,
  type GetTableOptions,
  type PutTableResult,
  partitionLabel,
  type TableDefinition,
  type TablePartition,
  withCatalogNames,
} from './table.js';

export { fromGlueTable, toGlueTableInput } from './glue-table-input.js';

/** Options of {@link GlueCatalog}. */
export interface GlueCatalogOptions {
  /** A `GlueClient` you create (and destroy); only its `send` is used. */
  client: Pick<GlueClient, 'send'>;
  /** The database of tables whose definition names none. */
  database: string;
  /** The Data Catalog's id (an account id) when it is not the caller's. */
  catalogId?: string;
  onEvent?: EventListener;
}

const BATCH = 100;
// The table parameter that turns Athena's partition projection on.
const PROJECTION = 'projection.enabled';
// Partitions a failure message names before it says "and N more".
const NAMED = 10;

/** What the catalog needs of a table (as Glue returns it, or as it was just sent) to add partitions to it. */
type TableShape = Pick<Table, 'Parameters' | 'PartitionKeys' | 'StorageDescriptor'>;

function projects(table: TableShape): boolean {
  return table.Parameters?.[PROJECTION]?.trim().toLowerCase() === 'true';
}

/**
 * The AWS Glue Data Catalog as the lake's catalog, for `aws` mode: the same operations as
 * `LocalCatalog`, under the same contract. `putTable` creates a table or, when it exists, applies
 * the same evolution rules (UpdateTable for added columns and widened types; `SchemaChangeError`
 * for an incompatible change, before anything is sent), then registers the definition's
 * partitions; `addPartitions` registers partitions alone. Both use BatchCreatePartition, 100 per
 * call; partitions that exist already are fine, other failed entries end in a
 * `PartialBatchFailureError` naming them; a table whose parameters enable partition projection
 * gets none. Column and partition key names are stored lowercased, as Glue's crawler stores them.
 * SDK errors are rethrown as `CatalogError` with the SDK's error as `cause`. Table locations must
 * be `s3://` URLs.
 *
 * @example
 * ```ts
 * import { GlueClient } from '@aws-sdk/client-glue';
 * import { GlueCatalog } from '@tributary/lake/glue';
 *
 * const catalog = new GlueCatalog({ client: new GlueClient({}), database: 'tributary' });
 * await catalog.ensureDatabase();
 * const table = await crawl(lake.raw, 'sensors', { location: 's3://tributary-raw/sensors/' });
 * const { partitions } = await catalog.putTable(table); // the table, then its partitions
 * console.log(`${partitions.added} partitions registered, ${partitions.existing} already there`);
 * ```
 */
export class GlueCatalog implements Catalog {
  readonly #client: Pick<GlueClient, 'send'>;
  readonly #catalogId: string | undefined;
  readonly #onEvent: EventListener | undefined;
  readonly database: string;

  constructor(options: GlueCatalogOptions) {
    if (!options || typeof options !== 'object' || typeof options.client?.send !== 'function') {
      throw new OptionsError('GlueCatalogOptions.client must be a GlueClient', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'client',
      });
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new OptionsError('GlueCatalogOptions.onEvent must be a function', {
        code: 'CATALOG_OPTIONS_INVALID',
        option: 'onEvent',
      });
    }
    this.#client = options.client;
    this.#catalogId = options.catalogId;
    this.#onEvent = options.onEvent;
    this.database = catalogName(options.database, 'database');
    Object.freeze(this);
  }

  #call<T>(what: string, context: { database: string; table?: string }, run: () => Promise<T>): Promise<T> {
    const where = context.table ? `${context.database}.${context.table}` : context.database;
    return callGlue(what, where, context, run);
  }

  #ids(definition: { name: string; database?: string }): { database: string; table: string } {
    return {
      database: catalogName(definition.database ?? this.database, 'database'),
      table: catalogName(definition.name, 'table'),
    };
  }

  /** Create the catalog's database; one that exists already is fine. Returns which happened. */
  async ensureDatabase(options: { description?: string } = {}): Promise<'created' | 'existed'> {
    try {
      await this.#call('CreateDatabase', { database: this.database }, () =>
        this.#client.send(
          new CreateDatabaseCommand({
            CatalogId: this.#catalogId,
            DatabaseInput: { Name: this.database, Description: options.description },
          }),
        ),
      );
      return 'created';
    } catch (err) {
      if (glueErrorName(err) === 'AlreadyExistsException') return 'existed';
      throw err;
    }
  }

  async #rawTable(database: string, table: string): Promise<Table | undefined> {
    try {
      const out = await this.#call('GetTable', { database, table }, () =>
        this.#client.send(
          new GetTableCommand({ CatalogId: this.#catalogId, DatabaseName: database, Name: table }),
        ),
      );
      return out.Table;
    } catch (err) {
      if (glueErrorName(err) === 'EntityNotFoundException') return undefined;
      throw err;
    }
  }

  /** A table's definition, or `undefined` when there is none. */
  async getTable(name: string, options: GetTableOptions = {}): Promise<TableDefinition | undefined> {
    const { database, table } = this.#ids({ name, database: options.database });
    const raw = await this.#rawTable(database, table);
    if (!raw) return undefined;
    const definition = fromGlueTable(raw, database);
    if (options.partitions) definition.partitions = await this.listPartitions(table, database);
    return definition;
  }

  /** Every partition of a table, following GetPartitions' pages. */
  async listPartitions(name: string, database?: string): Promise<TablePartition[]> {
    const ids = this.#ids({ name, database });
    const partitions: TablePartition[] = [];
    let token: string | undefined;
    do {
      const out = await this.#call('GetPartitions', ids, () =>
        this.#client.send(
          new GetPartitionsCommand({
            CatalogId: this.#catalogId,
            DatabaseName: ids.database,
            TableName: ids.table,
            NextToken: token,
          }),
        ),
      );
      for (const p of out.Partitions ?? [])
        partitions.push({ values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
      token = out.NextToken;
    } while (token);
    return mergePartitions([], partitions);
  }

  /** The names of the database's tables, following GetTables' pages. */
  async listTables(database?: string): Promise<string[]> {
    const db = catalogName(database ?? this.database, 'database');
    const names: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.#call('GetTables', { database: db }, () =>
        this.#client.send(
          new GetTablesCommand({ CatalogId: this.#catalogId, DatabaseName: db, NextToken: token }),
        ),
      );
      for (const t of out.TableList ?? []) if (t.Name) names.push(t.Name);
      token = out.NextToken;
    } while (token);
    return names.sort();
  }

  /** Delete a table from the catalog (never its data). Returns whether there was one. */
  async deleteTable(name: string, database?: string): Promise<boolean> {
    const ids = this.#ids({ name, database });
    try {
      await this.#call('DeleteTable', ids, () =>
        this.#client.send(
          new DeleteTableCommand({ CatalogId: this.#catalogId, DatabaseName: ids.database, Name: ids.table }),
        ),
      );
      return true;
    } catch (err) {
      if (glueErrorName(err) === 'EntityNotFoundException') return false;
      throw err;
    }
  }

  /**
   * Create the table, or update it when it exists (added columns and widened types go in one
   * UpdateTable; parameters the catalog does not manage are kept), then register the
   * definition's partitions as `addPartitions` does. Names are stored lowercased. Everything that
   * can be refused is checked before anything is sent: names that collide once lowercased and
   * partitions that do not match the keys or lie outside S3 throw `CatalogError`
   * (`CATALOG_INVALID`), an incompatible change throws `SchemaChangeError`. Partitions Glue
   * refuses throw a `PartialBatchFailureError` naming them (the table itself is then in place;
   * running `putTable` again registers the rest). A table whose parameters enable partition
   * projection gets no partitions registered (`partitions.projected`). The returned table lists
   * the definition's partitions; `listPartitions` lists all the table has.
   */
  async putTable(definition: TableDefinition): Promise<PutTableResult> {
    const ids = this.#ids(definition);
    const incoming: TableDefinition = {
      ...withCatalogNames(definition),
      name: ids.table,
      database: ids.database,
    };
    const partitions = checkPartitions(incoming.partitions, incoming.partitionKeys.length, ids.table);
    const put = await this.#putTableOnly(ids, incoming);
    const registered = await this.#register(ids, put.stored, partitions);
    return {
      action: put.action,
      added: put.added,
      widened: put.widened,
      table: { ...put.table, partitions },
      partitions: registered,
    };
  }

  async #putTableOnly(
    ids: { database: string; table: string },
    incoming: TableDefinition,
  ): Promise<Omit<PutTableResult, 'partitions'> & { stored: TableShape }> {
    let raw = await this.#rawTable(ids.database, ids.table);
    if (!raw) {
      const input = toGlueTableInput(incoming);
      try {
        await this.#call('CreateTable', ids, () =>
          this.#client.send(
            new CreateTableCommand({
              CatalogId: this.#catalogId,
              DatabaseName: ids.database,
              TableInput: input,
            }),
          ),
        );
        return {
          action: 'created',
          added: [],
          widened: [],
          table: { ...incoming, partitions: [] },
          stored: input,
        };
      } catch (err) {
        // Someone created it meanwhile: update it instead.
        if (glueErrorName(err) !== 'AlreadyExistsException') throw err;
        raw = await this.#rawTable(ids.database, ids.table);
        if (!raw) throw err;
      }
    }
    const existing = fromGlueTable(raw, ids.database);
    const evolution = evolveTable(existing, incoming);
    const table: TableDefinition = { ...evolution.table, partitions: [] };
    const before = toGlueTableInput(existing, raw.Parameters ?? {});
    const after = toGlueTableInput(table, raw.Parameters ?? {});
    const same =
      JSON.stringify(before.StorageDescriptor) === JSON.stringify(after.StorageDescriptor) &&
      JSON.stringify(before.Parameters) === JSON.stringify(after.Parameters);
    if (same)
      return {
        action: 'unchanged',
        added: [],
        widened: [],
        table: { ...existing, partitions: [] },
        stored: raw,
      };
    if (raw.Description !== undefined) after.Description = raw.Description;
    if (raw.Owner !== undefined) after.Owner = raw.Owner;
    if (raw.Retention !== undefined) after.Retention = raw.Retention;
    await this.#call('UpdateTable', ids, () =>
      this.#client.send(
        new UpdateTableCommand({ CatalogId: this.#catalogId, DatabaseName: ids.database, TableInput: after }),
      ),
    );
    return {
      action: 'updated',
      added: evolution.added,
      widened: evolution.widened,
      table: withCatalogNames(table),
      stored: after,
    };
  }

  /**
   * Register a definition's partitions in the table (which must exist), 100 per
   * BatchCreatePartition call, each with the table's current storage descriptor and its own
   * location. Partitions Glue already has are counted as `existing`; any other failed entry is
   * collected and, after every batch was sent, thrown in a `PartialBatchFailureError` whose
   * `failed` items are the partitions and whose message names them. A table whose parameters
   * enable partition projection gets none (`projected: true`): Athena ignores registered
   * partitions of such a table.
   */
  async addPartitions(
    definition: Pick<TableDefinition, 'name' | 'database' | 'partitions'>,
  ): Promise<AddPartitionsResult> {
    const ids = this.#ids(definition);
    const raw = await this.#rawTable(ids.database, ids.table);
    if (!raw) {
      throw new CatalogError(`Glue table ${ids.database}.${ids.table} does not exist; putTable() first`, {
        code: 'CATALOG_TABLE_NOT_FOUND',
        context: ids,
      });
    }
    const partitions = checkPartitions(definition.partitions, raw.PartitionKeys?.length ?? 0, ids.table);
    return this.#register(ids, raw, partitions);
  }

  async #register(
    ids: { database: string; table: string },
    table: TableShape,
    partitions: readonly TablePartition[],
  ): Promise<AddPartitionsResult> {
    if (projects(table)) return { added: 0, existing: 0, projected: true };
    const base: StorageDescriptor = { ...(table.StorageDescriptor ?? {}) };
    const source = `glue-catalog:${ids.database}.${ids.table}`;
    const failed: FailedItem<TablePartition>[] = [];
    let added = 0;
    let existing = 0;
    for (let i = 0; i < partitions.length; i += BATCH) {
      const chunk = partitions.slice(i, i + BATCH);
      const input: PartitionInput[] = chunk.map((p) => ({
        Values: p.values,
        StorageDescriptor: { ...base, Location: p.location },
      }));
      const started = Date.now();
      const out = await this.#call('BatchCreatePartition', ids, () =>
        this.#client.send(
          new BatchCreatePartitionCommand({
            CatalogId: this.#catalogId,
            DatabaseName: ids.database,
            TableName: ids.table,
            PartitionInputList: input,
          }),
        ),
      );
      emitSafely(this.#onEvent, {
        type: 'batch',
        source,
        count: chunk.length,
        bytes: 0,
        durationMs: Date.now() - started,
        time: Date.now(),
      });
      const errors = out.Errors ?? [];
      for (const error of errors) {
        const values = JSON.stringify(error.PartitionValues ?? []);
        const partition = chunk.find((p) => JSON.stringify(p.values) === values) ?? {
          values: error.PartitionValues ?? [],
          location: '',
        };
        if (error.ErrorDetail?.ErrorCode === 'AlreadyExistsException') existing++;
        else
          failed.push({
            item: partition,
            code: error.ErrorDetail?.ErrorCode ?? 'UNKNOWN',
            message: error.ErrorDetail?.ErrorMessage,
          });
      }
      added += chunk.length - errors.length;
    }
    if (failed.length > 0) {
      emitSafely(this.#onEvent, {
        type: 'failure',
        source,
        count: failed.length,
        code: 'PARTIAL_BATCH_FAILURE',
        time: Date.now(),
      });
      const keys = (table.PartitionKeys ?? []).map((k) => ({ name: k.Name ?? '', type: k.Type ?? 'string' }));
      const named = failed
        .slice(0, NAMED)
        .map((f) => `${partitionLabel(keys, f.item.values)} (${f.code}${f.message ? `: ${f.message}` : ''})`);
      const more = failed.length > NAMED ? ` and ${failed.length - NAMED} more` : '';
      throw new PartialBatchFailureError(failed, {
        succeededCount: added + existing,
        message: `${failed.length} of ${partitions.length} partition(s) of ${ids.database}.${ids.table} could not be registered in Glue: ${named.join(', ')}${more}`,
        context: { table: ids.table, database: ids.database },
      });
    }
    return { added, existing, projected: false };
  }
}

/** The partitions to register, without duplicates, once each is known to fit the table and to lie in S3. */
function checkPartitions(
  partitions: readonly TablePartition[],
  keys: number,
  table: string,
): TablePartition[] {
  for (const partition of partitions) {
    assertPartition(partition, keys, table);
    requireS3(partition.location, `a partition of ${table}`);
  }
  return mergePartitions([], partitions);
}
