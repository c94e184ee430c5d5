import { hiveIdentifier, hiveString, type TableDefinition } from '@tributary/lake';
import { QueryParameterError, TableDefinitionError } from './errors.js';
import type { QueryParam } from './types.js';

// What the engine writes into Athena SQL: parameter literals, catalog names and the partition
// statements. Nothing here talks to Athena.

const PARTITIONS_PER_STATEMENT = 100;
const NAME = /^[a-z0-9_]{1,255}$/;

/**
 * A query parameter as the SQL literal text Athena's `ExecutionParameters` take: strings quoted
 * with `''` doubling (Trino reads no backslash escapes), numbers and bigints as digits, booleans
 * as `true`/`false`, a `Date` as `TIMESTAMP 'yyyy-MM-dd HH:mm:ss.SSS'` in UTC, `null` as `NULL`.
 *
 * @example
 * ```ts
 * import { athenaLiteral } from '@tributary/warehouse/athena';
 *
 * athenaLiteral("x'; DROP TABLE t; --"); // "'x''; DROP TABLE t; --'"
 * athenaLiteral(new Date('2026-11-23T10:00:00Z')); // "TIMESTAMP '2026-11-23 10:00:00.000'"
 * ```
 */
export function athenaLiteral(value: QueryParam, index = 0): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return `'${value.replace(/'/g, "''")}'`;
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number': {
      if (!Number.isFinite(value)) {
        throw new QueryParameterError(
          `Query parameter ${index + 1} is ${value}: Athena has no literal for it (use nan() or infinity() in the SQL)`,
          index + 1,
        );
      }
      // String() gives the shortest text that reads back as the same double; Trino takes
      // `1.5` as a decimal and `1E+21` as a double, both compare as expected with a double column.
      return Object.is(value, -0) ? '0' : String(value).replace('e', 'E');
    }
    case 'object':
      if (value instanceof Date) {
        const time = value.getTime();
        const year = value.getUTCFullYear();
        if (Number.isNaN(time) || year < 0 || year > 9999) {
          throw new QueryParameterError(
            `Query parameter ${index + 1} is a Date Athena cannot take (${Number.isNaN(time) ? 'invalid' : `year ${year}`})`,
            index + 1,
          );
        }
        return `TIMESTAMP '${value.toISOString().replace('T', ' ').replace('Z', '')}'`;
      }
      break;
    default:
      break;
  }
  throw new QueryParameterError(
    `Query parameter ${index + 1} must be a string, number, bigint, boolean, Date or null, got ${describeKind(value)}`,
    index + 1,
  );
}

/** `undefined`, `null`, a class name or a `typeof`, for error messages. */
export function describeKind(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return value === null ? 'null' : (value.constructor?.name ?? 'object');
  return typeof value;
}

/**
 * A Glue database or table name, lower-cased, or a `TableDefinitionError` (`TABLE_NAME_INVALID`).
 * The one check of Glue names, for the engine's statements and for `icebergAthenaDdl`.
 */
export function catalogName(name: unknown, what: 'database' | 'table'): string {
  const lower = typeof name === 'string' ? name.toLowerCase() : '';
  if (!NAME.test(lower)) {
    throw new TableDefinitionError(
      `Invalid ${what} name ${JSON.stringify(name)}: use 1 to 255 letters, digits and "_"`,
      { code: 'TABLE_NAME_INVALID', context: { [what]: String(name) } },
    );
  }
  return lower;
}

/** `` `database`.`table` `` when a database is given, else `` `table` ``: checked and quoted. */
export function qualifiedTable(table: string, database: string | undefined): string {
  const name = hiveIdentifier(catalogName(table, 'table'));
  return database ? `${hiveIdentifier(catalogName(database, 'database'))}.${name}` : name;
}

/**
 * The `ALTER TABLE … ADD IF NOT EXISTS PARTITION (…) LOCATION '…'` statements that register a
 * definition's partitions, at most `perStatement` partitions each.
 */
export function addPartitionStatements(
  definition: TableDefinition,
  database: string | undefined,
  perStatement = PARTITIONS_PER_STATEMENT,
): string[] {
  const table = catalogName(definition.name, 'table');
  const qualified = qualifiedTable(table, database ?? definition.database);
  const keys = definition.partitionKeys.map((k) => k.name);
  if (keys.length === 0 && definition.partitions.length > 0) {
    throw new TableDefinitionError(`Table ${table} has partitions but no partition keys`, {
      code: 'TABLE_DEFINITION_INVALID',
      table,
    });
  }
  const clauses = definition.partitions.map((partition) => {
    if (partition.values.length !== keys.length) {
      throw new TableDefinitionError(
        `Partition ${JSON.stringify(partition.values)} of ${table} has ${partition.values.length} values for ${keys.length} keys`,
        { code: 'TABLE_DEFINITION_INVALID', table },
      );
    }
    const spec = keys.map((k, i) => `${hiveIdentifier(k)} = ${hiveString(partition.values[i] as string)}`);
    return `  PARTITION (${spec.join(', ')}) LOCATION ${hiveString(partition.location)}`;
  });
  const statements: string[] = [];
  for (let i = 0; i < clauses.length; i += perStatement) {
    statements.push(
      [`ALTER TABLE ${qualified} ADD IF NOT EXISTS`, ...clauses.slice(i, i + perStatement)].join('\n'),
    );
  }
  return statements;
}
