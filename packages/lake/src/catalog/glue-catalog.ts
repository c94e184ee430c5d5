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
  type TableInput,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import {
  classifyError,
  type EventListener,
  emitSafely,
  type FailedItem,
  PartialBatchFailureError,
  TributaryError,
} from '@tributary/core';
import { storageOf } from './athena-ddl.js';
import { CatalogError } from './errors.js';
import { evolveTable, mergePartitions } from './evolution.js';
import { assertPartition } from './local-catalog.js';
import {
  type AddPartitionsResult,
  type Catalog,
  catalogName,
  columnFromHiveType,
  type GetTableOptions,
  type PutTableResult,
  type TableDefinition,
  type TableFormat,
  type TablePartition,
} from './table.js';

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
// Table parameters the catalog writes; any other parameter of an existing table is kept on update.
const MANAGED = [
  'EXTERNAL',
  'classification',
  'typeOfData',
  'objectCount',
  'sizeKey',
  'recordCount',
  'compressionType',
  'skip.header.line.count',
];

function causeName(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string' && name.endsWith('Exception')) return name;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function requireS3(location: string, what: string): void {
  if (!/^s3:\/\/[^/]+/.test(location)) {
    throw new CatalogError(
      `Glue needs an s3:// location for ${what}, got ${JSON.stringify(location)} (crawl with the \`location\` option to record the S3 location)`,
      { code: 'CATALOG_INVALID' },
    );
  }
}

function tableParameters(definition: TableDefinition): Record<string, string> {
  const storage = storageOf(definition.format);
  const parameters: Record<string, string> = {
    EXTERNAL: 'TRUE',
    classification: storage.classification,
    typeOfData: 'file',
    objectCount: String(definition.files),
    sizeKey: String(definition.bytes),
  };
  if (definition.rows !== undefined) parameters.recordCount = String(definition.rows);
  if (
    definition.format !== 'parquet' &&
    definition.compression !== undefined &&
    definition.compression !== 'mixed'
  ) {
    parameters.compressionType = definition.compression;
  }
  if (definition.format === 'csv') parameters['skip.header.line.count'] = '1';
  return parameters;
}

function storageDescriptor(definition: TableDefinition): StorageDescriptor {
  const storage = storageOf(definition.format);
  const serdeParameters: Record<string, string> =
    definition.format === 'parquet' ? { 'serialization.format': '1' } : { ...storage.serdeParameters };
  return {
    Columns: definition.columns.map((c) =>
      c.comment ? { Name: c.name, Type: c.type, Comment: c.comment } : { Name: c.name, Type: c.type },
    ),
    Location: definition.location,
    InputFormat: storage.input,
    OutputFormat: storage.output,
    Compressed: definition.compression === 'gzip',
    NumberOfBuckets: -1,
    SerdeInfo: { SerializationLibrary: storage.serde, Parameters: serdeParameters },
    StoredAsSubDirectories: false,
    Parameters: { classification: storage.classification },
  };
}

/**
 * The `TableInput` of CreateTable / UpdateTable for a definition: an `EXTERNAL_TABLE` with the
 * format's SerDe and input/output formats, the definition's columns and partition keys, its S3
 * location, and the parameters Glue's crawler sets (`classification`, `objectCount`, `sizeKey`,
 * `recordCount`, `compressionType`). Parameters of `keep` that the catalog does not manage
 * (e.g. partition projection set by hand) are kept.
 */
export function toGlueTableInput(definition: TableDefinition, keep: Record<string, string> = {}): TableInput {
  requireS3(definition.location, `table ${definition.name}`);
  const kept = Object.fromEntries(Object.entries(keep).filter(([k]) => !MANAGED.includes(k)));
  return {
    Name: definition.name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { ...kept, ...tableParameters(definition) },
    PartitionKeys: definition.partitionKeys.map((k) => ({ Name: k.name, Type: k.type })),
    StorageDescriptor: storageDescriptor(definition),
  };
}

function formatOf(table: Table): TableFormat {
  const classification =
    table.Parameters?.classification ?? table.StorageDescriptor?.Parameters?.classification;
  if (classification === 'parquet') return 'parquet';
  if (classification === 'json') return 'ndjson';
  if (classification === 'csv') return 'csv';
  const serde = table.StorageDescriptor?.SerdeInfo?.SerializationLibrary?.toLowerCase() ?? '';
  if (serde.includes('parquet')) return 'parquet';
  if (serde.includes('json')) return 'ndjson';
  if (serde.includes('csv')) return 'csv';
  throw new CatalogError(`Glue table ${table.DatabaseName}.${table.Name} is neither Parquet, JSON nor CSV`, {
    code: 'CATALOG_FAILED',
    context: { table: table.Name },
  });
}

/** A Glue table as a {@link TableDefinition} (every column nullable: Glue does not record it). */
export function fromGlueTable(table: Table, database: string): TableDefinition {
  const sd = table.StorageDescriptor ?? {};
  const parameters = table.Parameters ?? {};
  const location = sd.Location ?? '';
  const definition: TableDefinition = {
    name: table.Name ?? '',
    database,
    location: location === '' || location.endsWith('/') ? location : `${location}/`,
    format: formatOf(table),
    columns: (sd.Columns ?? []).map((c) =>
      columnFromHiveType(c.Name ?? '', c.Type ?? 'string', true, c.Comment),
    ),
    partitionKeys: (table.PartitionKeys ?? []).map((k) => ({ name: k.Name ?? '', type: k.Type ?? 'string' })),
    partitions: [],
    conflicts: [],
    files: Number(parameters.objectCount ?? 0) || 0,
    bytes: Number(parameters.sizeKey ?? 0) || 0,
    updatedAt: (table.UpdateTime ?? table.CreateTime ?? new Date(0)).toISOString(),
  };
  if (parameters.recordCount !== undefined && Number.isFinite(Number(parameters.recordCount)))
    definition.rows = Number(parameters.recordCount);
  if (parameters.compressionType === 'gzip' || parameters.compressionType === 'none')
    definition.compression = parameters.compressionType;
  return definition;
}

/**
 * The AWS Glue Data Catalog as the lake's catalog, for `aws` mode: the same operations as
 * `LocalCatalog`. `putTable` creates a table or, when it exists, applies the same evolution
 * rules (UpdateTable for added columns and widened types; `SchemaChangeError` for an
 * incompatible change, before anything is sent). `addPartitions` registers partitions with
 * BatchCreatePartition, 100 per call; partitions that exist already are fine, other failed
 * entries end in a `PartialBatchFailureError` holding them. SDK errors are rethrown as
 * `CatalogError` with the SDK's error as `cause`. Table locations must be `s3://` URLs.
 *
 * @example
 * ```ts
 * import { GlueClient } from '@aws-sdk/client-glue';
 * import { GlueCatalog } from '@tributary/lake/glue';
 *
 * const catalog = new GlueCatalog({ client: new GlueClient({}), database: 'tributary' });
 * await catalog.ensureDatabase();
 * const table = await crawl(lake.raw, 'sensors', { location: 's3://tributary-raw/sensors/' });
 * await catalog.putTable(table);
 * await catalog.addPartitions(table);
 * ```
 */
export class GlueCatalog implements Catalog {
  readonly #client: Pick<GlueClient, 'send'>;
  readonly #catalogId: string | undefined;
  readonly #onEvent: EventListener | undefined;
  readonly database: string;

  constructor(options: GlueCatalogOptions) {
    if (!options || typeof options !== 'object' || typeof options.client?.send !== 'function') {
      throw new CatalogError('GlueCatalogOptions.client must be a GlueClient', { code: 'CATALOG_INVALID' });
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new CatalogError('GlueCatalogOptions.onEvent must be a function', { code: 'CATALOG_INVALID' });
    }
    this.#client = options.client;
    this.#catalogId = options.catalogId;
    this.#onEvent = options.onEvent;
    this.database = catalogName(options.database, 'database');
    Object.freeze(this);
  }

  async #call<T>(
    what: string,
    context: { database: string; table?: string },
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (TributaryError.isInstance(err)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const where = context.table ? `${context.database}.${context.table}` : context.database;
      throw new CatalogError(`Glue ${what} failed for ${where}: ${message}`, {
        code: 'CATALOG_FAILED',
        cause: err,
        retryable: classifyError(err).retryable,
        context,
      });
    }
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
      if (causeName(err) === 'AlreadyExistsException') return 'existed';
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
      if (causeName(err) === 'EntityNotFoundException') return undefined;
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
      if (causeName(err) === 'EntityNotFoundException') return false;
      throw err;
    }
  }

  /**
   * Create the table, or update it when it exists: added columns and widened types go in one
   * UpdateTable (parameters the catalog does not manage are kept); an incompatible change throws
   * `SchemaChangeError` and sends nothing. Partitions are not registered here: call
   * `addPartitions`. The returned table lists no partitions.
   */
  async putTable(definition: TableDefinition): Promise<PutTableResult> {
    const ids = this.#ids(definition);
    const incoming: TableDefinition = { ...definition, name: ids.table, database: ids.database };
    let raw = await this.#rawTable(ids.database, ids.table);
    if (!raw) {
      try {
        await this.#call('CreateTable', ids, () =>
          this.#client.send(
            new CreateTableCommand({
              CatalogId: this.#catalogId,
              DatabaseName: ids.database,
              TableInput: toGlueTableInput(incoming),
            }),
          ),
        );
        return { action: 'created', added: [], widened: [], table: { ...incoming, partitions: [] } };
      } catch (err) {
        // Someone created it meanwhile: update it instead.
        if (causeName(err) !== 'AlreadyExistsException') throw err;
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
    if (same) return { action: 'unchanged', added: [], widened: [], table: { ...existing, partitions: [] } };
    if (raw.Description !== undefined) after.Description = raw.Description;
    if (raw.Owner !== undefined) after.Owner = raw.Owner;
    if (raw.Retention !== undefined) after.Retention = raw.Retention;
    await this.#call('UpdateTable', ids, () =>
      this.#client.send(
        new UpdateTableCommand({ CatalogId: this.#catalogId, DatabaseName: ids.database, TableInput: after }),
      ),
    );
    return { action: 'updated', added: evolution.added, widened: evolution.widened, table };
  }

  /**
   * Register a definition's partitions in the table (which must exist), 100 per
   * BatchCreatePartition call, each with the table's current storage descriptor and its own
   * location. Partitions Glue already has are counted as `existing`; any other failed entry is
   * collected and, after every batch was sent, thrown in a `PartialBatchFailureError` whose
   * `failed` items are the partitions.
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
    const keys = raw.PartitionKeys?.length ?? 0;
    const partitions = mergePartitions([], definition.partitions);
    for (const partition of partitions) {
      assertPartition(partition, keys, ids.table);
      requireS3(partition.location, `a partition of ${ids.table}`);
    }
    const base: StorageDescriptor = { ...(raw.StorageDescriptor ?? {}) };
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
      throw new PartialBatchFailureError(failed, {
        succeededCount: added + existing,
        message: `${failed.length} of ${partitions.length} partition(s) of ${ids.database}.${ids.table} could not be created (${[...new Set(failed.map((f) => f.code))].join(', ')})`,
        context: { table: ids.table, database: ids.database },
      });
    }
    return { added, existing };
  }
}
