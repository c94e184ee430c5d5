// PostgresStore builds its DDL from the schema name it is given: with hostile names (quotes,
// semicolons, comment markers, backslashes, newlines, unicode, NUL, lone surrogates, very long)
// the store either refuses with a typed error or sends exactly the statements meant, in that
// schema, as PostgreSQL's own parser (libpg-query) reads them.
import { TributaryError } from '@tributary/core';
import fc from 'fast-check';
import { parse } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/postgres-store.js';
import { CRYPTO_TABLES } from '../../src/schemas.js';

const SEED = Number(process.env.FC_SEED ?? 20261123);
const PIECES = [
  '"',
  "'",
  ';',
  '--',
  '/*',
  '\\',
  '\n',
  '\0',
  '$$',
  'é',
  '😀',
  '\uD800',
  'DROP TABLE victim',
  'x',
];
const hostile = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', 'x'.repeat(63), 'x'.repeat(64), 'crypto'),
);

/** The SQL init() sends, or `refused` for a typed error. */
async function initSql(schema: string): Promise<string[] | 'refused'> {
  const sent: string[] = [];
  const pool = {
    query: async (text: string) => {
      sent.push(text);
      return { rows: [], rowCount: 0 };
    },
    connect: async () => {
      throw new Error('init needs no client');
    },
  };
  try {
    await new PostgresStore({ pool: pool as never, schema }).init();
    return sent;
  } catch (error) {
    if (TributaryError.isInstance(error)) return 'refused';
    throw error;
  }
}

describe('PostgresStore', () => {
  describe('init under hostile schema names', () => {
    it('refuses, or creates exactly the schema and tables meant, in the schema given', async () => {
      const names = fc.sample(hostile, { numRuns: 150, seed: SEED });
      let written = 0;
      for (const schema of names) {
        const sent = await initSql(schema);
        if (sent === 'refused') continue;
        written++;
        const statements = ((await parse(sent.join(';\n'))).stmts ?? []).map(
          (s) => s.stmt as unknown as Record<string, unknown>,
        );
        const creates = statements.filter((s) => 'CreateStmt' in s);
        const context = JSON.stringify(schema);
        for (const s of statements) {
          expect(['CreateSchemaStmt', 'CreateStmt', 'CommentStmt'], context).toContain(Object.keys(s)[0]);
        }
        expect(
          statements
            .filter((s) => 'CreateSchemaStmt' in s)
            .map(
              // biome-ignore lint/suspicious/noExplicitAny: libpg-query's JSON AST
              (s: any) => s.CreateSchemaStmt.schemaname,
            ),
          context,
        ).toEqual(Object.keys(CRYPTO_TABLES).map(() => schema));
        expect(
          // biome-ignore lint/suspicious/noExplicitAny: libpg-query's JSON AST
          creates.map((s: any) => [s.CreateStmt.relation.schemaname, s.CreateStmt.relation.relname]),
          context,
        ).toEqual(Object.keys(CRYPTO_TABLES).map((name) => [schema, name]));
      }
      expect(written).toBeGreaterThan(20);
    });
  });
});
