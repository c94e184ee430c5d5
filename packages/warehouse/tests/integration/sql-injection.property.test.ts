// Hostile identifiers and option values (quotes, semicolons, comment markers, backslashes,
// newlines, unicode, NUL, lone surrogates, very long names) fed to every function that makes SQL
// from names: core's DDL, the lake's Athena DDL, the loaders' statements and DuckDB's views. Each
// output must be a typed refusal or parse, with a parser we did not write, to exactly the
// statements meant: as many, of the kind meant, with the names as given.
//   PostgreSQL: libpg-query (PostgreSQL's own parser, compiled to wasm).
//   Redshift and Athena (Hive DDL): sqlglot, in one Python process per run.
//   DuckDB: DuckDB itself (statement extraction, then the views it created).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance, StatementType } from '@duckdb/node-api';
import {
  type Column,
  defineSchema,
  type FieldDef,
  field,
  qualifiedName,
  type RedshiftDdlOptions,
  TributaryError,
  toPostgresDdl,
  toRedshiftDdl,
} from '@tributary/core';
import { type TableDefinition, toAthenaDdl } from '@tributary/lake';
import fc from 'fast-check';
import { parse as parsePostgres } from 'libpg-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckDbViewSql } from '../../src/duckdb-engine.js';
import * as sql from '../../src/load-sql.js';

const SEED = Number(process.env.FC_SEED ?? 20261123);
const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const SQLGLOT = join(here, 'support/sqlglot-parse.py');

// ---------------------------------------------------------------------------------------------
// Inputs

const PIECES = [
  '"',
  "'",
  '`',
  ';',
  '--',
  '/*',
  '*/',
  '\\',
  '\n',
  '\r',
  '\t',
  '\0',
  '$$',
  '$a$',
  ')',
  '(',
  ',',
  '.',
  ' ',
  ':',
  '<',
  '>',
  '=',
  'DROP TABLE victim',
  'é',
  '名',
  '😀',
  '\uD800',
  '\uDC00',
  '\u202E',
  'x',
  'ID',
];
/** A name or value an attacker or a careless caller would pass. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(63),
      'x'.repeat(64),
      'é'.repeat(32),
      'x'.repeat(127),
      'x'.repeat(128),
      'x'.repeat(2000),
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom('plain', 'id', 'value', 'dt', 'hour') },
);
const names = (max: number) => fc.uniqueArray(hostile, { minLength: 1, maxLength: max });
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

function sample<T>(arbitrary: fc.Arbitrary<T>, numRuns: number, offset: number): T[] {
  return fc.sample(arbitrary, { numRuns, seed: SEED + offset });
}

/** The function's output, or `refused` for a typed error; any other throw fails the test. */
function attempt<T>(make: () => T): T | 'refused' {
  try {
    return make();
  } catch (error) {
    if (TributaryError.isInstance(error)) return 'refused';
    throw error;
  }
}

/** A schema with the given column names, or `refused` when defineSchema refuses them. */
function schemaOf(
  columns: readonly string[],
  description?: string,
  columnComment?: string,
  primaryKey = false,
) {
  return attempt(() =>
    defineSchema(
      Object.fromEntries(
        columns.map((c, i) => [
          c,
          i === 0 && columnComment !== undefined ? field.int64().describe(columnComment) : field.int64(),
        ]),
      ),
      {
        primaryKey: primaryKey ? [columns[0] as string] : [],
        ...(description === undefined ? {} : { description }),
      },
    ),
  );
}

const shown = (value: unknown) =>
  JSON.stringify(value, (_k, v) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 60)}…` : v));

/** Fails with the first case whose check threw, naming the case. */
function everyCase<C>(cases: readonly C[], check: (c: C, index: number) => void): void {
  cases.forEach((c, i) => {
    try {
      check(c, i);
    } catch (error) {
      throw new Error(`case ${i} (seed ${SEED}) ${shown(c)}: ${(error as Error).message}`, { cause: error });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Parsers

// biome-ignore lint/suspicious/noExplicitAny: libpg-query's JSON AST
type PgNode = any;

/** The statements PostgreSQL's parser finds, or `{ error }` when the text does not parse. */
async function postgresStatements(text: string): Promise<PgNode[]> {
  try {
    const tree = await parsePostgres(text);
    return (tree.stmts ?? []).map((s: PgNode) => s.stmt);
  } catch (error) {
    return [{ ParseError: (error as Error).message }];
  }
}

const kindOf = (stmt: PgNode) => Object.keys(stmt)[0] as string;
const strings = (list: PgNode[] | undefined) => (list ?? []).map((n: PgNode) => n.String?.sval);

/** Every relation and every name (columns, aliases, targets) the statement mentions. */
function postgresNames(stmt: PgNode): { relations: string[]; identifiers: Set<string> } {
  const relations: string[] = [];
  const identifiers = new Set<string>();
  const walk = (node: PgNode): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    if (node.RangeVar) relations.push(`${node.RangeVar.schemaname ?? ''}|${node.RangeVar.relname}`);
    if (node.RangeVar?.alias) identifiers.add(node.RangeVar.alias.aliasname);
    if (node.ColumnRef) for (const f of node.ColumnRef.fields) if (f.String) identifiers.add(f.String.sval);
    if (node.ResTarget?.name !== undefined) identifiers.add(node.ResTarget.name);
    for (const value of Object.values(node)) walk(value);
  };
  walk(stmt);
  return { relations, identifiers };
}

interface SqlglotColumn {
  name: string;
  type: string | null;
  comment: string | null;
}
interface SqlglotStatement {
  kind: string;
  what?: string;
  exists?: boolean;
  db?: string | null;
  table?: string;
  columns?: SqlglotColumn[];
  primaryKey?: string[];
  properties?: unknown[][];
}
type SqlglotAnswer = { statements?: SqlglotStatement[]; type?: string; error?: string };

/** One Python process for every request of the run. */
function sqlglot(
  requests: ({ dialect: string; sql: string } | { dialect: string; type: string })[],
): SqlglotAnswer[] {
  const run = spawnSync(PYTHON, [SQLGLOT], {
    input: JSON.stringify(requests),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`sqlglot failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as SqlglotAnswer[];
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: toPostgresDdl and the loaders' statements

describe('toPostgresDdl under hostile names', () => {
  const cases = sample(
    fc.record({
      schema: optional(hostile),
      name: hostile,
      columns: names(4),
      description: optional(hostile),
      columnComment: optional(hostile),
      primaryKey: fc.boolean(),
    }),
    250,
    1,
  );

  it('refuses, or gives exactly the statements meant, with the names given (libpg-query)', async () => {
    const outputs = cases.map((c) => {
      const schema = schemaOf(c.columns, c.description, c.columnComment, c.primaryKey);
      if (schema === 'refused') return 'refused';
      return attempt(() => toPostgresDdl(schema, { table: { schema: c.schema, name: c.name } }));
    });
    const parsed = await Promise.all(
      outputs.map((o) => (o === 'refused' ? undefined : postgresStatements(o))),
    );

    everyCase(cases, (c, i) => {
      const statements = parsed[i];
      if (statements === undefined) return;
      const expected: string[] = [];
      if (c.schema !== undefined) expected.push('CreateSchemaStmt');
      expected.push('CreateStmt');
      if (c.description) expected.push('CommentStmt');
      if (c.columnComment) expected.push('CommentStmt');
      expect(statements.map(kindOf)).toEqual(expected);
      let at = 0;
      if (c.schema !== undefined) expect(statements[at++].CreateSchemaStmt.schemaname).toBe(c.schema);
      const create = statements[at++].CreateStmt;
      expect([create.relation.schemaname, create.relation.relname]).toEqual([c.schema, c.name]);
      const defs = create.tableElts
        .filter((e: PgNode) => e.ColumnDef)
        .map((e: PgNode) => e.ColumnDef.colname);
      expect(defs).toEqual(c.columns);
      const keys = create.tableElts.filter((e: PgNode) => e.Constraint?.contype === 'CONSTR_PRIMARY');
      expect(keys.map((k: PgNode) => strings(k.Constraint.keys))).toEqual(
        c.primaryKey ? [[c.columns[0]]] : [],
      );
      const table = c.schema === undefined ? [c.name] : [c.schema, c.name];
      if (c.description) {
        const comment = statements[at++].CommentStmt;
        expect([comment.objtype, strings(comment.object.List.items), comment.comment]).toEqual([
          'OBJECT_TABLE',
          table,
          c.description,
        ]);
      }
      if (c.columnComment) {
        const comment = statements[at++].CommentStmt;
        expect([comment.objtype, strings(comment.object.List.items), comment.comment]).toEqual([
          'OBJECT_COLUMN',
          [...table, c.columns[0]],
          c.columnComment,
        ]);
      }
    });
    // Not vacuous: plenty of hostile cases were written, not refused.
    expect(parsed.filter(Boolean).length).toBeGreaterThan(40);
  });
});

describe('the loaders’ statements (load-sql) under hostile names', () => {
  const cases = sample(
    fc.record({
      schema: optional(hostile),
      name: hostile,
      columns: names(5),
      keyCount: fc.integer({ min: 1, max: 2 }),
    }),
    150,
    2,
  );

  it('each is one statement of its kind, naming only the given table and columns (libpg-query)', async () => {
    const results = await Promise.all(
      cases.map(async (c) => {
        const built = attempt(() => {
          const target = qualifiedName({ schema: c.schema, name: c.name });
          const columns = c.columns;
          const keys = columns.slice(0, Math.min(c.keyCount, columns.length));
          const fileColumns = columns.slice(0, Math.max(1, columns.length - 1));
          const partitionColumns: Column[] = columns
            .slice(fileColumns.length)
            .map((name) => ({ name, def: { kind: 'string', presence: 'nullable' } as FieldDef }));
          const statements: [string, string][] = [
            ['CreateStmt', sql.createStageSql('postgres', target)],
            ['CreateTableAsStmt', sql.createFilesTableSql(target, fileColumns)],
            [
              'InsertStmt',
              sql.insertPartitionSql(
                'postgres',
                fileColumns,
                partitionColumns,
                partitionColumns.map(() => 'v'),
              ).text,
            ],
            ['SelectStmt', sql.nullKeysSql(keys)],
            ['SelectStmt', sql.duplicateKeysSql(keys)],
            ['SelectStmt', sql.matchCountsSql(target, keys)],
            ['UpdateStmt', sql.updateFromStageSql(target, columns, keys)],
            ['InsertStmt', sql.insertMissingSql(target, columns, keys)],
            ['InsertStmt', sql.insertFromStageSql(target, columns)],
            ['MergeStmt', sql.mergeSql(target, columns, keys)],
            ['DeleteStmt', sql.deleteMatchedSql(target, keys)],
            ['DeleteStmt', sql.deleteAllSql(target)],
            ['DropStmt', sql.dropTableSql(target)],
            ['SelectStmt', sql.countSql(target)],
          ];
          return statements;
        });
        if (built === 'refused') return undefined;
        return Promise.all(
          built.map(async ([kind, text]) => ({ kind, statements: await postgresStatements(text) })),
        );
      }),
    );

    everyCase(cases, (c, i) => {
      const statements = results[i];
      if (statements === undefined) return;
      const allowedRelations = new Set([
        `${c.schema ?? ''}|${c.name}`,
        `|${sql.STAGE_TABLE}`,
        `|${sql.FILES_TABLE}`,
      ]);
      const allowedNames = new Set([
        ...c.columns,
        't',
        's',
        'n',
        'updated',
        'matched',
        'key_0',
        'key_1',
        c.name,
      ]);
      if (c.schema !== undefined) allowedNames.add(c.schema);
      for (const { kind, statements: parsed } of statements) {
        expect(parsed.map(kindOf)).toEqual([kind]);
        const { relations, identifiers } = postgresNames(parsed[0]);
        for (const r of relations) expect(allowedRelations).toContain(r);
        for (const name of identifiers) expect(allowedNames).toContain(name);
      }
      // Every column the merge names reaches it as given.
      const merge = postgresNames(statements.find((s) => s.kind === 'MergeStmt')?.statements[0]);
      for (const column of c.columns) expect(merge.identifiers).toContain(column);
    });
    expect(results.filter(Boolean).length).toBeGreaterThan(30);
  });
});

// ---------------------------------------------------------------------------------------------
// Redshift and Athena: sqlglot

const STYLES = { dist: ['AUTO', 'EVEN', 'ALL', 'KEY'], sort: ['AUTO', 'COMPOUND', 'INTERLEAVED'] } as const;

/** Coherent Redshift options, with one of them hostile in about one case in three. */
const redshiftOptions = (columns: string[]) => {
  const column = fc.constantFrom(...columns);
  const distribution = fc.oneof(
    fc.constant({}),
    fc.record({ distStyle: fc.constantFrom('AUTO', 'EVEN', 'ALL') }),
    fc.record({ distKey: column }),
    fc.record({ distStyle: fc.constant('KEY'), distKey: column }),
  );
  const sortKey = fc.uniqueArray(column, { minLength: 1, maxLength: 3 });
  const sort = fc.oneof(
    fc.constant({}),
    fc.record({ sortKey }),
    fc.record({ sortKey, sortStyle: fc.constantFrom('COMPOUND', 'INTERLEAVED') }),
    fc.record({ sortStyle: fc.constant('AUTO') }),
  );
  const valid = fc.tuple(distribution, sort).map(([d, o]) => ({ ...d, ...o }) as Record<string, unknown>);
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    fc.tuple(valid, hostile).map(([o, distStyle]) => ({ ...o, distStyle, distKey: undefined })),
    fc.tuple(valid, hostile).map(([o, sortStyle]) => ({ ...o, sortStyle })),
    fc.tuple(valid, hostile).map(([o, distKey]) => ({ ...o, distStyle: 'KEY', distKey })),
    fc.tuple(valid, hostile).map(([o, key]) => ({ ...o, sortKey: [key], sortStyle: undefined })),
  );
};

const redshiftCases = sample(
  names(4).chain((columns) =>
    fc.record({
      schema: optional(hostile),
      name: hostile,
      columns: fc.constant(columns),
      primaryKey: fc.boolean(),
      ifNotExists: optional(fc.boolean()),
      options: redshiftOptions(columns),
    }),
  ),
  300,
  3,
).map(({ options, ...c }) => {
  const o = options as Record<string, unknown>;
  return {
    ...c,
    distStyle: o.distStyle as string | undefined,
    distKey: o.distKey as string | undefined,
    sortKey: o.sortKey as string[] | undefined,
    sortStyle: o.sortStyle as string | undefined,
  };
});

const TYPES = [
  'string',
  'INT',
  'integer',
  'bigint',
  'double',
  'float',
  'boolean',
  'date',
  'timestamp',
  'binary',
  'decimal(38,18)',
  'Decimal( 10 , 2 )',
  'varchar(10)',
  'char(3)',
  'array<string>',
  'map<string,array<bigint>>',
  'struct<a:int,b:string>',
];
const hiveType: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TYPES) },
  { weight: 2, arbitrary: hostile.map((n) => `struct<\`${n.replace(/`/g, '``')}\`:int>`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "string) LOCATION 's3://evil/'; DROP TABLE y; --",
      'string, `x` int',
      "int COMMENT 'x'",
      'drop',
    ),
  },
  { weight: 1, arbitrary: hostile },
);
const athenaCases = sample(
  fc.record({
    database: optional(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('processed', 'Raw_1') }, hostile)),
    name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('sensors', 'T_2') }, hostile),
    columns: fc.uniqueArray(fc.record({ name: hostile, type: hiveType, comment: optional(hostile) }), {
      minLength: 1,
      maxLength: 3,
      selector: (c) => c.name.toLowerCase(),
    }),
    partitionKeys: fc.uniqueArray(
      fc.record({ name: hostile, type: fc.oneof(fc.constant('string'), hiveType) }),
      {
        maxLength: 2,
        selector: (k) => k.name.toLowerCase(),
      },
    ),
    values: fc.array(hostile, { minLength: 2, maxLength: 2 }),
    location: fc.oneof(
      fc.constant('s3://bucket/table/'),
      hostile,
      hostile.map((h) => `s3://bucket/${h}/`),
    ),
    format: fc.constantFrom('parquet' as const, 'ndjson' as const, 'csv' as const),
    projection: fc.oneof(
      fc.constant(undefined),
      fc.constant(true),
      fc.record({ values: fc.array(hostile, { minLength: 1, maxLength: 3 }) }),
    ),
  }),
  800,
  4,
);

/** A struct field name needs no backquotes when plain; both spellings are the same type. */
const plainNames = (type: string | null) => type?.replace(/`([A-Za-z0-9_]+)`/g, '$1') ?? null;

function athenaDefinition(c: (typeof athenaCases)[number]): TableDefinition {
  return {
    name: c.name,
    ...(c.database === undefined ? {} : { database: c.database }),
    location: c.location,
    format: c.format,
    columns: c.columns.map((col) => ({
      name: col.name,
      type: col.type,
      kind: 'other',
      nullable: true,
      ...(col.comment === undefined ? {} : { comment: col.comment }),
    })),
    partitionKeys: c.partitionKeys,
    partitions:
      c.partitionKeys.length === 0
        ? []
        : [{ values: c.partitionKeys.map((_k, i) => c.values[i] as string), location: `${c.location}p/` }],
    conflicts: [],
    files: 1,
    bytes: 1,
    updatedAt: '2026-11-23T00:00:00.000Z',
  };
}

function athenaOptions(c: (typeof athenaCases)[number]) {
  if (c.projection === undefined) return {};
  if (c.projection === true) return { projection: true };
  const values = c.projection.values;
  return {
    projection: {
      keys: Object.fromEntries(c.partitionKeys.map((k) => [k.name, { type: 'enum' as const, values }])),
    },
  };
}

describe('toRedshiftDdl and toAthenaDdl under hostile names and options (sqlglot)', () => {
  let redshiftOutputs: (string | 'refused')[];
  let athenaOutputs: (string | 'refused')[];
  let redshiftParsed: SqlglotAnswer[];
  let athenaParsed: SqlglotAnswer[];
  let typeParsed: Map<string, SqlglotAnswer>;

  beforeAll(() => {
    redshiftOutputs = redshiftCases.map((c) => {
      const schema = schemaOf(c.columns, undefined, undefined, c.primaryKey);
      if (schema === 'refused') return 'refused';
      const options = { table: { schema: c.schema, name: c.name } } as RedshiftDdlOptions;
      for (const key of ['ifNotExists', 'distStyle', 'distKey', 'sortKey', 'sortStyle'] as const) {
        if (c[key] !== undefined) (options as unknown as Record<string, unknown>)[key] = c[key];
      }
      return attempt(() => toRedshiftDdl(schema, options));
    });
    athenaOutputs = athenaCases.map((c) => attempt(() => toAthenaDdl(athenaDefinition(c), athenaOptions(c))));
    const types = [
      ...new Set(athenaCases.flatMap((c) => [...c.columns, ...c.partitionKeys].map((x) => x.type))),
    ];
    // sqlglot's Redshift grammar has no INTERLEAVED SORTKEY or SORTKEY AUTO: those exact tails
    // are checked here and given to it in a form it reads (anything else in them is refused).
    const forSqlglot = redshiftOutputs.map((o) =>
      o === 'refused'
        ? 'SELECT 1'
        : o.replace(/\nINTERLEAVED SORTKEY \(/, '\nCOMPOUND SORTKEY (').replace(/\nSORTKEY AUTO;$/, ';'),
    );
    const answers = sqlglot([
      ...forSqlglot.map((text) => ({ dialect: 'redshift', sql: text })),
      ...athenaOutputs.map((o) => ({ dialect: 'hive', sql: o === 'refused' ? 'SELECT 1' : o })),
      ...types.map((type) => ({ dialect: 'hive', type })),
    ]);
    redshiftParsed = answers.slice(0, redshiftCases.length);
    athenaParsed = answers.slice(redshiftCases.length, redshiftCases.length + athenaCases.length);
    typeParsed = new Map(
      types.map((t, i) => [t, answers[redshiftCases.length + athenaCases.length + i] as SqlglotAnswer]),
    );
  }, 60_000);

  it('toRedshiftDdl refuses, or gives one CREATE TABLE with the names and options given', () => {
    everyCase(redshiftCases, (c, i) => {
      const output = redshiftOutputs[i] as string;
      if (output === 'refused') return;
      const answer = redshiftParsed[i] as SqlglotAnswer;
      expect(answer.error).toBeUndefined();
      expect(answer.statements?.map((s) => s.kind)).toEqual(['Create']);
      const create = answer.statements?.[0] as SqlglotStatement;
      expect([create.what, create.exists, create.db, create.table]).toEqual([
        'TABLE',
        c.ifNotExists !== false,
        c.schema ?? null,
        c.name,
      ]);
      expect(create.columns?.map((col) => col.name)).toEqual(c.columns);
      expect(create.primaryKey).toEqual(c.primaryKey ? [c.columns[0]] : []);
      const distStyle = c.distStyle ?? (c.distKey !== undefined ? 'KEY' : undefined);
      const sortStyle = c.sortStyle ?? (c.sortKey?.length ? 'COMPOUND' : undefined);
      const expected: unknown[][] = [];
      if (distStyle !== undefined) expected.push(['diststyle', distStyle]);
      if (c.distKey !== undefined) expected.push(['distkey', c.distKey]);
      if (sortStyle === 'COMPOUND' || sortStyle === 'INTERLEAVED')
        expected.push(['sortkey', c.sortKey, true]);
      expect(create.properties).toEqual(expected);
      if (sortStyle === 'AUTO') expect(output.endsWith('\nSORTKEY AUTO;')).toBe(true);
      if (sortStyle === 'INTERLEAVED') expect(output).toContain('\nINTERLEAVED SORTKEY (');
    });
    expect(redshiftOutputs.filter((o) => o !== 'refused').length).toBeGreaterThan(40);
    // The hostile option values themselves never got through.
    for (const [i, c] of redshiftCases.entries()) {
      if (redshiftOutputs[i] === 'refused') continue;
      if (c.distStyle !== undefined) expect(STYLES.dist).toContain(c.distStyle);
      if (c.sortStyle !== undefined) expect(STYLES.sort).toContain(c.sortStyle);
    }
  });

  it('toAthenaDdl refuses, or gives one CREATE EXTERNAL TABLE with the names, types and literals given', () => {
    everyCase(athenaCases, (c, i) => {
      const output = athenaOutputs[i] as string;
      if (output === 'refused') return;
      const answer = athenaParsed[i] as SqlglotAnswer;
      expect(answer.error).toBeUndefined();
      expect(answer.statements?.map((s) => s.kind)).toEqual(['Create']);
      const create = answer.statements?.[0] as SqlglotStatement;
      expect([create.what, create.exists, create.db, create.table]).toEqual([
        'TABLE',
        true,
        c.database?.toLowerCase() ?? null,
        c.name.toLowerCase(),
      ]);
      const typeOf = (given: string) => {
        const normalised = typeParsed.get(given);
        expect(normalised?.error, `sqlglot reads the type ${given} we accepted`).toBeUndefined();
        return plainNames(normalised?.type ?? null);
      };
      expect(create.columns?.map((col) => ({ ...col, type: plainNames(col.type) }))).toEqual(
        c.columns.map((col) => ({
          name: col.name,
          quoted: true,
          type: typeOf(col.type),
          comment: col.comment || null,
        })),
      );
      const properties = create.properties as unknown[][];
      const kinds = properties.map((p) => p[0]);
      expect(kinds.filter((k) => k !== 'property')).toEqual([
        'external',
        ...(c.partitionKeys.length > 0 ? ['partitionedBy'] : []),
        'serde',
        ...(c.format === 'csv' ? ['serdeProperties'] : []),
        'fileFormat',
        'location',
      ]);
      const partitionedBy = properties.find((p) => p[0] === 'partitionedBy');
      if (partitionedBy) {
        expect(
          (partitionedBy[1] as SqlglotColumn[]).map((col) => ({ ...col, type: plainNames(col.type) })),
        ).toEqual(
          c.partitionKeys.map((k) => ({ name: k.name, quoted: true, type: typeOf(k.type), comment: null })),
        );
      }
      expect(properties.find((p) => p[0] === 'location')?.[1]).toBe(c.location);
      const tblproperties = properties
        .filter((p) => p[0] === 'property')
        .map((p) => [p[1], p[2]] as [string, string]);
      const keys = c.partitionKeys.map((k) => k.name);
      for (const [key, value] of tblproperties) {
        const known =
          [
            'classification',
            'compressionType',
            'skip.header.line.count',
            'projection.enabled',
            'storage.location.template',
          ].includes(key) || keys.some((k) => key.startsWith(`projection.${k}.`));
        expect(known, `table property ${shown(key)}`).toBe(true);
        if (typeof c.projection === 'object' && key.endsWith('.values'))
          expect(value).toBe(c.projection.values.join(','));
      }
    });
    expect(athenaOutputs.filter((o) => o !== 'refused').length).toBeGreaterThan(40);
  });
});

// ---------------------------------------------------------------------------------------------
// DuckDB: the view registration, run by DuckDB

describe('DuckDB view registration under hostile names', () => {
  let dir: string;
  let instance: DuckDBInstance;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-hostile-'));
    instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  });

  afterAll(async () => {
    instance?.closeSync();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases = sample(
    fc.record({
      database: fc.oneof(fc.constant('main'), hostile),
      name: hostile,
      columns: fc.uniqueArray(hostile, { minLength: 1, maxLength: 3, selector: (n) => n.toLowerCase() }),
      keys: fc.uniqueArray(hostile, { maxLength: 2, selector: (n) => n.toLowerCase() }),
      values: fc.array(hostile, { minLength: 2, maxLength: 2 }),
    }),
    80,
    5,
  );

  it('makes one statement per step, of the kind meant, and a view with exactly the names and values given', async () => {
    const connection = await instance.connect();
    let written = 0;
    try {
      for (const [i, c] of cases.entries()) {
        // Column and key names compare without case in DuckDB; the generator keeps them apart.
        const lower = new Set(c.columns.map((n) => n.toLowerCase()));
        if (c.keys.some((k) => lower.has(k.toLowerCase()))) continue;
        const root = join(dir, `case-${i}`);
        const partition = join(root, 'p0');
        await mkdir(partition, { recursive: true });
        const row = Object.fromEntries(c.columns.map((n, j) => [n, j]));
        await writeFile(join(partition, 'part-0.ndjson'), `${JSON.stringify(row)}\n`);
        const definition: TableDefinition = {
          name: c.name,
          location: `${pathToFileURL(root).href}/`,
          format: 'ndjson',
          columns: c.columns.map((name) => ({ name, type: 'bigint', kind: 'int64', nullable: true })),
          partitionKeys: c.keys.map((name) => ({ name, type: 'string' })),
          partitions:
            c.keys.length === 0
              ? []
              : [
                  {
                    values: c.keys.map((_k, j) => c.values[j] as string),
                    location: `${pathToFileURL(partition).href}/`,
                  },
                ],
          conflicts: [],
          files: 1,
          bytes: 1,
          updatedAt: '2026-11-23T00:00:00.000Z',
        };
        if (c.keys.length === 0) {
          await rm(partition, { recursive: true });
          await writeFile(join(root, 'part-0.ndjson'), `${JSON.stringify(row)}\n`);
        }
        let statements: string[];
        try {
          statements = await duckDbViewSql(definition, { replace: true, database: c.database });
        } catch (error) {
          if (TributaryError.isInstance(error)) continue;
          throw new Error(`case ${i} ${shown(c)}: ${(error as Error).message}`);
        }
        const context = `case ${i} (seed ${SEED}) ${shown(c)}`;
        const kinds: number[] = [];
        for (const statement of statements) {
          try {
            const extracted = await connection.extractStatements(statement);
            expect(extracted.count, context).toBe(1);
            for (let s = 0; s < extracted.count; s++) kinds.push((await extracted.prepare(s)).statementType);
            await connection.run(statement);
          } catch (error) {
            throw new Error(`${context}: DuckDB refused a statement we made: ${(error as Error).message}`);
          }
        }
        expect(kinds, context).toEqual(
          c.database === 'main' ? [StatementType.CREATE] : [StatementType.CREATE, StatementType.CREATE],
        );
        const views = await connection.runAndReadAll(
          'SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND view_name = $1',
          [c.name],
        );
        expect(views.getRows(), context).toEqual([[c.database, c.name]]);
        const quote = (n: string) => `"${n.replace(/"/g, '""')}"`;
        const result = await connection
          .runAndReadAll(`SELECT * FROM ${quote(c.database)}.${quote(c.name)}`)
          .catch((error: Error) => {
            throw new Error(`${context}: DuckDB cannot read the view we made: ${error.message}`);
          });
        expect(result.columnNames(), context).toEqual([...c.columns, ...c.keys]);
        expect(result.getRowObjectsJS(), context).toEqual([
          {
            ...Object.fromEntries(c.columns.map((n, j) => [n, BigInt(j)])),
            ...Object.fromEntries(c.keys.map((k, j) => [k, c.values[j]])),
          },
        ]);
        await connection.run(`DROP VIEW ${quote(c.database)}.${quote(c.name)}`);
        written++;
      }
    } finally {
      connection.closeSync();
    }
    expect(written).toBeGreaterThan(15);
  }, 60_000);
});
