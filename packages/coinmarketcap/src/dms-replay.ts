import { Readable } from 'node:stream';
import {
  type AnyField,
  defineSchema,
  Field,
  type FieldDef,
  type Fields,
  OptionsError,
  type Schema,
} from '@tributary/core';
import { csvFormat, parquetFormat, readParquetSchema, type Storage } from '@tributary/lake';
import { DmsExportError } from './dms-export.js';
import {
  type DmsFileLayout,
  datedPathPattern,
  exportTablesLayout,
  type ResolvedDmsLayout,
  resolveDmsLayout,
} from './dms-layout.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName } from './schemas.js';

/** Options of {@link replayExport}. */
export interface ReplayExportOptions {
  /** The export's prefix in the storage (DMS's `BucketFolder` and a `/`). Default `coinmarketcap/`. */
  prefix?: string;
  /** The PostgreSQL schema the files came from. Default {@link CRYPTO_SCHEMA}. */
  schema?: string;
  /** The files of `exportTables` in this format. Default `csv`. Ignored when `dms` is given. */
  format?: 'csv' | 'parquet';
  /**
   * Files written by a real AWS DMS task with these endpoint settings instead of `exportTables`.
   * Without it, the files are read as `exportTables` writes them.
   */
  dms?: DmsFileLayout;
}

type Change = { op: 'I' | 'U' | 'D'; row: Record<string, unknown> };

// Kinds that DMS may hand over as text in Parquet (PostgreSQL NUMERIC without a precision or past
// 38 digits is a STRING in DMS) and that the schemas parse from text exactly.
const FROM_TEXT = new Set(['timestamp', 'decimal', 'int64', 'date']);

/**
 * The schema a file of `table` is read with: `Op` and the timestamp column optional (a file has
 * them or not), the primary key required and every other column nullable (a delete may carry
 * only the key). `textColumns` are read as strings and parsed afterwards.
 */
function changeSchema(
  table: CryptoTableName,
  timestampColumn: string | undefined,
  textColumns: ReadonlySet<string> = new Set(),
): Schema<Fields> {
  const base = CRYPTO_TABLES[table] as Schema<Fields>;
  const fields: Record<string, AnyField> = {
    Op: new Field({ kind: 'string', presence: 'optional' }),
  };
  if (timestampColumn !== undefined) {
    fields[timestampColumn] = new Field({ kind: 'string', presence: 'optional' });
  }
  for (const column of base.columns) {
    const presence = base.primaryKey.includes(column.name) ? 'required' : 'nullable';
    const def: FieldDef = textColumns.has(column.name)
      ? { kind: 'string', presence }
      : { ...column.def, presence };
    fields[column.name] = new Field(def);
  }
  return defineSchema(fields, { description: `DMS files of ${table}` });
}

/** The names a headerless CSV file's columns have, in order: what DMS writes before the table's. */
function headerlessNames(table: CryptoTableName, layout: ResolvedDmsLayout, load: boolean): string[] {
  const names: string[] = [];
  if (!load || layout.includeOpForFullLoad) names.push('Op');
  if (layout.timestampColumnName !== undefined) names.push(layout.timestampColumnName);
  for (const column of (CRYPTO_TABLES[table] as Schema<Fields>).columns) names.push(column.name);
  return names;
}

/** The storage, except that `key` reads with `line` in front: a header for a headerless CSV file. */
function withFirstLine(storage: Storage, key: string, line: string): Storage {
  const get: Storage['get'] = async (k, options) => {
    const body = await storage.get(k, options);
    if (k !== key) return body;
    return Readable.from(
      (async function* () {
        yield Buffer.from(line, 'utf8');
        yield* body;
      })(),
    );
  };
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'get') return get;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function* readRows(
  storage: Storage,
  key: string,
  table: CryptoTableName,
  layout: ResolvedDmsLayout,
  load: boolean,
): AsyncGenerator<Record<string, unknown>> {
  if (layout.dataFormat === 'csv') {
    const schema = changeSchema(table, layout.timestampColumnName);
    const source = layout.addColumnName
      ? storage
      : withFirstLine(storage, key, `${headerlessNames(table, layout, load).join(',')}\n`);
    yield* csvFormat.read(source, key, schema);
    return;
  }
  // Parquet names its columns: Op and the timestamp column are read when the file has them.
  const columns = new Map((await readParquetSchema(storage, key)).map((c) => [c.name, c]));
  const text = new Set<string>();
  for (const column of (CRYPTO_TABLES[table] as Schema<Fields>).columns) {
    const found = columns.get(column.name);
    if (found?.kind === 'string' && FROM_TEXT.has(column.def.kind)) text.add(column.name);
  }
  const names = ['Op', ...(CRYPTO_TABLES[table] as Schema<Fields>).columns.map((c) => c.name)];
  const schema = changeSchema(table, undefined, text);
  const strict = text.size > 0 ? changeSchema(table, undefined) : undefined;
  for await (const row of parquetFormat.read(storage, key, schema, {
    columns: names.filter((n) => n !== 'Op' || columns.has('Op')),
  })) {
    if (!strict) {
      yield row;
      continue;
    }
    const parsed = strict.validate(row);
    if (!parsed.ok) {
      throw new DmsExportError(`${key}: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
        code: 'CMC_EXPORT_INVALID',
        context: { key },
      });
    }
    yield parsed.value;
  }
}

/** The rows of one file as changes: full-load rows are inserts; CDC rows must say what they are. */
async function* readChanges(
  storage: Storage,
  key: string,
  table: CryptoTableName,
  layout: ResolvedDmsLayout,
  load: boolean,
): AsyncGenerator<Change> {
  const timestampColumn = layout.timestampColumnName;
  for await (const record of readRows(storage, key, table, layout, load)) {
    const { Op, ...rest } = record;
    if (timestampColumn !== undefined) delete rest[timestampColumn];
    const op = Op ?? (load ? 'I' : undefined);
    if (op === 'I' || (!load && (op === 'U' || op === 'D'))) {
      yield { op, row: rest };
      continue;
    }
    throw new DmsExportError(
      op === undefined
        ? `${key}: a CDC file without an Op column (CdcInsertsOnly / CdcInsertsAndUpdates are not read)`
        : `${key}: unknown Op ${String(op)}${load ? ' in a full-load file' : ''}`,
      { code: 'CMC_EXPORT_INVALID', context: { key } },
    );
  }
}

function resolveLayout(options: ReplayExportOptions): ResolvedDmsLayout {
  if (options.dms !== undefined) return resolveDmsLayout(options.dms, 'replayExport');
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'parquet') {
    throw new OptionsError("replayExport options.format must be 'csv' or 'parquet'", {
      code: 'CMC_EXPORT_OPTIONS_INVALID',
      option: 'format',
    });
  }
  return exportTablesLayout(format);
}

/**
 * Replay a table's files in the raw zone, as `exportTables` or a real AWS DMS task (`dms`: its
 * endpoint's {@link DmsFileLayout}) wrote them: the full-load `LOAD…` files, then the CDC files
 * in name order (their names are their UTC times), each change applied by primary key. Files may
 * sit in the table folder or, with date partitioning, in the layout's date folders. Returns the
 * rows by primary key (the key's values joined as JSON): the table at the time of the last file.
 * Every object under the table folder is read, except `_`/`.` names: any other object (another
 * extension, another folder) fails the replay with `CMC_EXPORT_UNREAD` rather than being skipped.
 * A full-load row's `Op` must be `I`, a CDC row's `I`, `U` or `D` (`CMC_EXPORT_INVALID`).
 *
 * @example
 * ```ts
 * const rows = await replayExport(lake.raw, 'quote');
 * const fromDms = await replayExport(lake.raw, 'quote', { dms: { dataFormat: 'parquet', datePartitionEnabled: true } });
 * console.log(rows.size, fromDms.size);
 * ```
 */
export async function replayExport(
  storage: Storage,
  table: CryptoTableName,
  options: ReplayExportOptions = {},
): Promise<Map<string, Record<string, unknown>>> {
  const layout = resolveLayout(options);
  const ext = layout.dataFormat === 'csv' ? '.csv' : '.parquet';
  const dated = datedPathPattern(layout);
  const schema = CRYPTO_TABLES[table] as Schema<Fields>;
  const folder = `${options.prefix ?? 'coinmarketcap/'}${options.schema ?? CRYPTO_SCHEMA}/${table}/`;
  const loads: string[] = [];
  const changes: string[] = [];
  for await (const object of storage.list(folder)) {
    const name = object.key.slice(folder.length);
    const segments = name.split('/');
    const base = segments[segments.length - 1] as string;
    // `_` and `.` names are bookkeeping (`_SUCCESS`, `.crc`), as Hadoop, Spark and Athena read them.
    if (segments.some((s) => s.startsWith('_') || s.startsWith('.'))) continue;
    const unread = (reason: string) =>
      new DmsExportError(`${object.key} cannot be replayed: ${reason}`, {
        code: 'CMC_EXPORT_UNREAD',
        context: { key: object.key },
      });
    if (!name.endsWith(ext)) throw unread(`it is not a ${ext} file of this export's format`);
    if (segments.length > 1 && !dated?.test(name)) {
      throw unread(
        dated
          ? `it is neither in the table folder nor in a date folder of the layout (${layout.datePartitionSequence}, ${layout.datePartitionDelimiter})`
          : 'it is not in the table folder, and the layout has no date folders',
      );
    }
    (base.startsWith('LOAD') ? loads : changes).push(object.key);
  }
  // LOAD and CDC file names sort in time order wherever their folders are.
  const byName = (a: string, b: string) =>
    a.slice(a.lastIndexOf('/') + 1).localeCompare(b.slice(b.lastIndexOf('/') + 1)) || a.localeCompare(b);
  const keyOf = (row: Record<string, unknown>) =>
    JSON.stringify(
      schema.primaryKey.map((k) =>
        row[k] instanceof Date ? (row[k] as Date).toISOString() : String(row[k]),
      ),
    );
  const out = new Map<string, Record<string, unknown>>();
  for (const key of loads.sort(byName)) {
    for await (const { row } of readChanges(storage, key, table, layout, true)) out.set(keyOf(row), row);
  }
  for (const key of changes.sort(byName)) {
    for await (const { op, row } of readChanges(storage, key, table, layout, false)) {
      if (op === 'D') out.delete(keyOf(row));
      else out.set(keyOf(row), row);
    }
  }
  return out;
}
