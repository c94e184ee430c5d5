import { PassThrough } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { defineSchema, field } from '@tributary/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvFormat, parseCsv } from '../../src/formats/csv.js';
import { ndjsonFormat } from '../../src/formats/ndjson.js';
import type { FileFormat } from '../../src/formats/types.js';
import { MemoryStorage } from '../../src/memory-storage.js';

const coin = defineSchema({
  id: field.int32(),
  name: field.string(),
  symbol: field.string().nullable(),
  price: field.decimal(38, 8).nullable(),
  supply: field.int64().nullable(),
  active: field.boolean(),
  updated: field.timestamp(),
  day: field.date().nullable(),
  tags: field.list(field.string()).nullable(),
});

const rows = [
  {
    id: 1,
    name: 'Bitcoin',
    symbol: 'BTC',
    price: '43250.12345678',
    supply: 21000000n,
    active: true,
    updated: new Date('2026-11-23T10:15:30.123Z'),
    day: '2026-11-23',
    tags: ['mineable', 'pow'],
  },
  {
    id: 2,
    name: 'Quote "Coin", with\nnewline',
    symbol: '',
    price: null,
    supply: null,
    active: false,
    updated: new Date(0),
    day: null,
    tags: [],
  },
  {
    id: 3,
    name: ' padded ',
    symbol: null,
    price: '-0.00000001',
    supply: 9223372036854775807n,
    active: true,
    updated: new Date('1999-12-31T23:59:59.999Z'),
    day: '2000-02-29',
    tags: null,
  },
];

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function writeFile(
  format: FileFormat,
  storage: MemoryStorage,
  key: string,
  records: unknown[],
  gzip = false,
) {
  const sink = new PassThrough();
  const upload = storage.put(key, sink);
  const writer = format.createWriter(sink, coin, { gzip });
  for (const r of records) await writer.write(r as never);
  const stats = await writer.close();
  await upload;
  return stats;
}

describe('csvFormat', () => {
  describe('write', () => {
    it('writes a header and DMS-style fields: null empty, empty string quoted, UTC timestamps', async () => {
      const storage = new MemoryStorage();

      const stats = await writeFile(csvFormat, storage, 'coin.csv', rows.slice(0, 2));

      const text = Buffer.from(await storage.getBytes('coin.csv')).toString();
      expect(text).toBe(
        'id,name,symbol,price,supply,active,updated,day,tags\n' +
          '1,Bitcoin,BTC,43250.12345678,21000000,true,2026-11-23 10:15:30.123,2026-11-23,"[""mineable"",""pow""]"\n' +
          '2,"Quote ""Coin"", with\nnewline","",,,false,1970-01-01 00:00:00.000,,[]\n',
      );
      expect(stats).toEqual({ rows: 2, bytes: Buffer.byteLength(text) });
    });
  });

  describe('read', () => {
    it('reads back exactly what it wrote', async () => {
      const storage = new MemoryStorage();
      await writeFile(csvFormat, storage, 'coin.csv', rows);

      expect(await collect(csvFormat.read(storage, 'coin.csv', coin))).toEqual(rows);
    });

    it('rejects a row with the wrong number of fields, naming the line', async () => {
      const storage = new MemoryStorage();
      await storage.put('bad.csv', 'id,name\n1,a\n2,b,c\n');
      const schema = defineSchema({ id: field.int32(), name: field.string() });

      await expect(collect(csvFormat.read(storage, 'bad.csv', schema))).rejects.toMatchObject({
        code: 'CSV_INVALID',
        context: { line: 3 },
      });
    });
  });

  describe('parseCsv', () => {
    it('parses the same rows whatever the chunk boundaries', async () => {
      const text = 'a,"b ""q""",c\r\n"multi\nline","",\n"""",x,"y"\n';
      const expected = await collect(parseCsv([text]));

      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 8 }),
          async (cuts) => {
            const points = [0, ...[...new Set(cuts)].sort((x, y) => x - y), text.length];
            const chunks = points.slice(1).map((end, i) => text.slice(points[i], end));
            expect(await collect(parseCsv(chunks))).toEqual(expected);
          },
        ),
        { numRuns: 200 },
      );
      expect(expected.map((r) => r.cells.map((c) => c.text))).toEqual([
        ['a', 'b "q"', 'c'],
        ['multi\nline', '', ''],
        ['"', 'x', 'y'],
      ]);
      expect(expected[1]?.cells.map((c) => c.quoted)).toEqual([true, true, false]);
      expect(expected.map((r) => r.line)).toEqual([1, 2, 4]);
    });

    it('fails on an unterminated quote', async () => {
      await expect(collect(parseCsv(['a,"open\n']))).rejects.toMatchObject({ code: 'CSV_INVALID' });
    });

    it('fails on invalid UTF-8 instead of reading U+FFFD, and decodes a character split across chunks', async () => {
      const degree = Buffer.from('a,°\n');

      const split = await collect(parseCsv([degree.subarray(0, 3), degree.subarray(3)]));
      const invalid = collect(parseCsv([Buffer.from('a,b\n'), Buffer.from([0x63, 0xff, 0x0a])]));
      const truncated = collect(parseCsv([degree.subarray(0, 3)]));

      expect(split.map((r) => r.cells.map((c) => c.text))).toEqual([['a', '°']]);
      await expect(invalid).rejects.toMatchObject({ code: 'CSV_UTF8_INVALID', context: { line: 2 } });
      await expect(truncated).rejects.toMatchObject({ code: 'CSV_UTF8_INVALID' });
    });
  });
});

describe('ndjsonFormat', () => {
  describe('write and read', () => {
    it.each([false, true])('round-trips every kind (gzip: %s)', async (gzip) => {
      const storage = new MemoryStorage();
      const key = `coin${ndjsonFormat.extension({ gzip })}`;

      const stats = await writeFile(ndjsonFormat, storage, key, rows, gzip);
      const bytes = Buffer.from(await storage.getBytes(key));

      expect(key).toBe(gzip ? 'coin.ndjson.gz' : 'coin.ndjson');
      expect(stats.rows).toBe(3);
      expect(stats.bytes).toBe(bytes.byteLength);
      const text = gzip ? gunzipSync(bytes).toString() : bytes.toString();
      expect(text.split('\n')[0]).toBe(
        '{"id":1,"name":"Bitcoin","symbol":"BTC","price":"43250.12345678","supply":21000000,"active":true,"updated":"2026-11-23T10:15:30.123Z","day":"2026-11-23","tags":["mineable","pow"]}',
      );
      expect(await collect(ndjsonFormat.read(storage, key, coin))).toEqual(rows);
    });
  });

  describe('read', () => {
    it.each([false, true])(
      'refuses a line that is not UTF-8 instead of reading U+FFFD into a value (gzip: %s)',
      async (gzip) => {
        const storage = new MemoryStorage();
        const text = (name: string) =>
          Buffer.from(
            `{"id":1,"name":"${name}","symbol":null,"price":null,"supply":null,"active":true,"updated":"2026-11-23T10:15:30.123Z","day":null,"tags":null}\n`,
          );
        // "Zürich" written by a Latin-1 producer: 0xFC alone is not UTF-8.
        const body = Buffer.concat([text('Bern'), text('Z\u0000rich')]);
        body[body.indexOf(0) as number] = 0xfc;
        const key = gzip ? 'latin1.ndjson.gz' : 'latin1.ndjson';
        await storage.put(key, gzip ? gzipSync(body) : body);

        const read = collect(ndjsonFormat.read(storage, key, coin));

        await expect(read).rejects.toMatchObject({
          name: 'NdjsonDecodeError',
          code: 'NDJSON_UTF8_INVALID',
          line: 2,
          reason: 'invalid UTF-8 at byte offset 17',
        });
      },
    );
  });
});
