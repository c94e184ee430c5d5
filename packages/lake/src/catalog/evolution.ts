import { SchemaChangeError } from './errors.js';
import {
  type ColumnChange,
  columnFromHiveType,
  formatHiveType,
  type HiveTypeNode,
  parseHiveType,
  type TableColumn,
  type TableDefinition,
  type TablePartition,
} from './table.js';

// Integer types widen along this chain, and every one of them into double (as the spec of the
// catalog allows: JSON and CSV readers parse any integer as a double).
const INTEGER_RANK: Record<string, number> = { tinyint: 1, smallint: 2, int: 3, bigint: 4 };

function isSimple(t: HiveTypeNode): t is { name: string; params?: number[] } {
  return !('element' in t) && !('key' in t) && !('fields' in t);
}

/**
 * The type a column can have so that files written with `from` still read: `to` itself when it
 * widens `from`, a union for structs, or `undefined` when `to` cannot hold `from`'s values.
 */
function mergeType(from: HiveTypeNode, to: HiveTypeNode): HiveTypeNode | undefined {
  if (formatHiveType(from) === formatHiveType(to)) return from;
  if ('element' in from || 'element' in to) {
    if (!('element' in from && 'element' in to)) return undefined;
    const element = mergeType(from.element, to.element);
    return element && { name: 'array', element };
  }
  if ('key' in from || 'key' in to) {
    if (!('key' in from && 'key' in to) || formatHiveType(from.key) !== formatHiveType(to.key))
      return undefined;
    const value = mergeType(from.value, to.value);
    return value && { name: 'map', key: from.key, value };
  }
  if ('fields' in from || 'fields' in to) {
    if (!('fields' in from && 'fields' in to)) return undefined;
    const fields: { name: string; type: HiveTypeNode }[] = [];
    for (const field of from.fields) {
      const next = to.fields.find((f) => f.name.toLowerCase() === field.name.toLowerCase());
      if (!next) {
        fields.push(field);
        continue;
      }
      const merged = mergeType(field.type, next.type);
      if (!merged) return undefined;
      fields.push({ name: field.name, type: merged });
    }
    for (const field of to.fields) {
      if (!from.fields.some((f) => f.name.toLowerCase() === field.name.toLowerCase())) fields.push(field);
    }
    return { name: 'struct', fields };
  }
  if (!isSimple(from) || !isSimple(to)) return undefined;
  const a = from.name;
  const b = to.name;
  const ra = INTEGER_RANK[a];
  const rb = INTEGER_RANK[b];
  if (ra !== undefined && rb !== undefined) return ra <= rb ? to : undefined;
  if ((ra !== undefined || a === 'float') && b === 'double') return to;
  if (a === 'decimal' && b === 'decimal') {
    const [p1 = 10, s1 = 0] = from.params ?? [];
    const [p2 = 10, s2 = 0] = to.params ?? [];
    return s2 >= s1 && p2 - s2 >= p1 - s1 ? to : undefined;
  }
  if ((a === 'varchar' || a === 'char') && b === 'string') return to;
  if (a === 'varchar' && b === 'varchar')
    return (to.params?.[0] ?? 0) >= (from.params?.[0] ?? 0) ? to : undefined;
  return undefined;
}

/** What changes between the columns of a table in a catalog and a new definition of it. */
export interface SchemaEvolution {
  /** The definition to store: existing columns (widened where needed), then added ones. */
  table: TableDefinition;
  /** Columns the new definition adds (stored as nullable: older files lack them). */
  added: string[];
  /** Columns whose type widened. */
  widened: ColumnChange[];
  /** Whether the stored columns differ from the existing ones. */
  columnsChanged: boolean;
  /** Partitions of the new definition that the existing one lacks. */
  newPartitions: TablePartition[];
}

function partitionId(values: readonly string[]): string {
  return JSON.stringify(values);
}

/** Existing partitions plus new ones, without duplicates, in value order. */
export function mergePartitions(
  existing: readonly TablePartition[],
  added: readonly TablePartition[],
): TablePartition[] {
  const byId = new Map(existing.map((p) => [partitionId(p.values), p]));
  for (const p of added) if (!byId.has(partitionId(p.values))) byId.set(partitionId(p.values), p);
  return [...byId.values()].sort((x, y) => (partitionId(x.values) < partitionId(y.values) ? -1 : 1));
}

/**
 * Merge a new definition of a table (a fresh crawl) into the one a catalog holds, as Glue's
 * crawler does with its "add new columns only" policy: existing columns keep their place and
 * widen where the new definition widens them (`int` → `bigint` → `double`, wider decimals,
 * struct fields added); columns the new definition lacks are kept (older files still hold them);
 * new columns are appended as nullable. Narrowing or changing a type (`bigint` → `string`,
 * `double` → `bigint`), or changing the partition keys or the format, throws
 * `SchemaChangeError` listing every incompatible change.
 *
 * @example
 * ```ts
 * // Catalogs apply it in putTable: a fresh crawl adds and widens columns, it never drops any.
 * const catalog = new LocalCatalog({ storage: lake.raw, database: 'tributary' });
 * const { action, added, widened } = await catalog.putTable(await crawl(lake.raw, 'sensors'));
 * console.log(action, added, widened.map((c) => `${c.column}: ${c.from} -> ${c.to}`));
 * ```
 */
export function evolveTable(existing: TableDefinition, next: TableDefinition): SchemaEvolution {
  const incompatible: ColumnChange[] = [];
  if (existing.format !== next.format)
    incompatible.push({ column: '(format)', from: existing.format, to: next.format });
  const keysText = (d: TableDefinition) =>
    d.partitionKeys.map((k) => `${k.name.toLowerCase()} ${formatHiveType(parseHiveType(k.type))}`).join(', ');
  if (keysText(existing) !== keysText(next)) {
    incompatible.push({
      column: '(partition keys)',
      from: keysText(existing) || '(none)',
      to: keysText(next) || '(none)',
    });
  }

  const nextByName = new Map(next.columns.map((c) => [c.name.toLowerCase(), c]));
  const widened: ColumnChange[] = [];
  const columns: TableColumn[] = [];
  for (const column of existing.columns) {
    const incoming = nextByName.get(column.name.toLowerCase());
    if (!incoming) {
      columns.push({ ...column, nullable: true });
      continue;
    }
    const from = parseHiveType(column.type);
    const merged = mergeType(from, parseHiveType(incoming.type));
    if (!merged) {
      incompatible.push({ column: column.name, from: column.type, to: incoming.type });
      continue;
    }
    const type = formatHiveType(merged);
    const nullable = column.nullable || incoming.nullable;
    if (type === formatHiveType(from)) {
      const same: TableColumn = { ...column, nullable };
      if (incoming.comment !== undefined) same.comment = incoming.comment;
      columns.push(same);
      continue;
    }
    widened.push({ column: column.name, from: column.type, to: type });
    columns.push(columnFromHiveType(column.name, type, nullable, incoming.comment ?? column.comment));
  }
  if (incompatible.length > 0) {
    throw new SchemaChangeError(
      existing.name,
      incompatible,
      existing.database ? { database: existing.database } : {},
    );
  }
  const existingNames = new Set(existing.columns.map((c) => c.name.toLowerCase()));
  const added: string[] = [];
  for (const column of next.columns) {
    if (existingNames.has(column.name.toLowerCase())) continue;
    added.push(column.name);
    columns.push({ ...column, nullable: true });
  }
  const known = new Set(existing.partitions.map((p) => partitionId(p.values)));
  const newPartitions = next.partitions.filter((p) => !known.has(partitionId(p.values)));
  const table: TableDefinition = {
    ...next,
    name: existing.name,
    columns,
    partitionKeys: existing.partitionKeys,
    partitions: mergePartitions(existing.partitions, next.partitions),
  };
  if (existing.database !== undefined) table.database = existing.database;
  const columnsChanged = JSON.stringify(columns) !== JSON.stringify(existing.columns);
  return { table, added, widened, columnsChanged, newPartitions };
}
