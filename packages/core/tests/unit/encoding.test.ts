import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createNdjsonDecoder,
  createNdjsonEncoder,
  decodeNdjson,
  defineSchema,
  encodeNdjson,
  encodeNdjsonLine,
  field,
  NdjsonDecodeError,
  NdjsonDecoderStream,
  NdjsonEncoderStream,
  ndjsonLines,
  ValidationError,
} from '../../src/index.js';
import { utf8InvalidOffset } from '../../src/utf8.js';

const reading = defineSchema({
  id: field.string(),
  n: field.int64(),
  at: field.timestamp(),
  price: field.decimal(20, 4).nullable(),
});

function webStream<T>(items: T[]): ReadableStream<T> {
  return new ReadableStream({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('NDJSON', () => {
  describe('encodeNdjsonLine', () => {
    it('writes one compact object and a newline', () => {
      expect(encodeNdjsonLine({ a: 1, b: 'x y', c: [1, 2] })).toBe('{"a":1,"b":"x y","c":[1,2]}\n');
    });

    it('writes bigints as exact integers and Dates as ISO-8601 UTC', () => {
      const line = encodeNdjsonLine({
        n: 12345678901234567890n,
        m: -5n,
        at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
      });

      expect(line).toBe('{"n":12345678901234567890,"m":-5,"at":"2026-01-02T03:04:05.006Z"}\n');
    });

    it('keeps a string that looks like the internal bigint marker intact', () => {
      const record = { s: '\0bigint:5', n: 7n };

      const line = encodeNdjsonLine(record);

      expect(JSON.parse(line)).toEqual({ s: '\0bigint:5', n: '7' });
    });

    it('writes a record in the schema form when given a schema', () => {
      const line = encodeNdjsonLine({ id: 'a', n: '42', at: 0, price: 1.5 }, reading);

      expect(line).toBe('{"id":"a","n":42,"at":"1970-01-01T00:00:00.000Z","price":"1.5000"}\n');
      expect(() => encodeNdjsonLine({ id: 1 }, reading)).toThrow(ValidationError);
    });
  });

  describe('decodeNdjson', () => {
    it('tolerates CRLF, blank lines and a missing final newline, across chunk borders', async () => {
      const text = '{"a":1}\r\n\n  \r\n{"a":2}\n{"a":3}';
      const chunks = [text.slice(0, 3), text.slice(3, 11), text.slice(11)];

      expect(await collect(decodeNdjson(chunks))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    });

    it('decodes multi-byte characters split between byte chunks', async () => {
      const bytes = new TextEncoder().encode('{"s":"é🚀"}\n');
      const chunks = Array.from(bytes, (b) => Uint8Array.of(b));

      expect(await collect(decodeNdjson(chunks))).toEqual([{ s: 'é🚀' }]);
    });

    it('names the line number and keeps the raw line of invalid JSON', async () => {
      const failure = await collect(decodeNdjson(['{"a":1}\n\n{oops}\n'])).catch((err) => err);

      expect(failure).toBeInstanceOf(NdjsonDecodeError);
      expect(failure).toMatchObject({ line: 3, raw: '{oops}', code: 'NDJSON_JSON_INVALID' });
    });

    it('routes bad lines to onInvalid and goes on', async () => {
      const bad: NdjsonDecodeError[] = [];

      const records = await collect(
        decodeNdjson(['{"id":"a","n":1,"at":"2026-01-01T00:00:00Z","price":null}\n[1]\n', '{"id":2}\n'], {
          schema: reading,
          onInvalid: (err) => bad.push(err),
        }),
      );

      expect(records).toEqual([{ id: 'a', n: 1n, at: new Date('2026-01-01T00:00:00Z'), price: null }]);
      expect(bad.map((e) => [e.line, e.code, e.raw])).toEqual([
        [2, 'NDJSON_JSON_INVALID', '[1]'],
        [3, 'NDJSON_RECORD_INVALID', '{"id":2}'],
      ]);
      expect(bad[1]?.issues.map((i) => i.path)).toEqual(['id', 'n', 'at', 'price']);
    });

    it('keeps every digit of an int64 beyond 2^53', async () => {
      const line =
        '{"id":"x","n":9223372036854775807,"at":"2026-01-01T00:00:00Z","price":"1234567890123456.1"}\n';

      const [record] = await collect(decodeNdjson([line], { schema: reading }));

      expect(record?.n).toBe(9223372036854775807n);
      expect(record?.price).toBe('1234567890123456.1000');
    });

    it('round-trips any records through encode and decode', async () => {
      const arbitraryRecord = fc.record({
        id: fc.string({ unit: 'grapheme' }),
        n: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        at: fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        price: fc.option(
          fc.bigInt({ min: -(10n ** 19n) + 1n, max: 10n ** 19n - 1n }).map((v) => {
            const s = (v < 0n ? -v : v).toString().padStart(5, '0');
            return `${v < 0n ? '-' : ''}${s.slice(0, -4)}.${s.slice(-4)}`;
          }),
        ),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(arbitraryRecord, { maxLength: 20 }), async (records) => {
          const text = (await collect(encodeNdjson(records, { schema: reading }))).join('');
          const decoded = await collect(decodeNdjson([text], { schema: reading }));
          expect(decoded).toEqual(records);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('strict UTF-8', () => {
    const utf8 = new TextEncoder();
    const bytesOf = (...parts: (string | number[])[]) =>
      Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...utf8.encode(p)] : p)));

    it('sends a line that is not UTF-8 to onInvalid with the byte offset, and decodes the lines around it', async () => {
      const bad: NdjsonDecodeError[] = [];
      const input = bytesOf('{"a":1}\n{"s":"caf', [0xe9], '"}\n{"a":2}\n');

      const records = await collect(decodeNdjson([input], { onInvalid: (err) => bad.push(err) }));

      expect(records).toEqual([{ a: 1 }, { a: 2 }]);
      expect(bad).toHaveLength(1);
      expect(bad[0]).toMatchObject({
        line: 2,
        code: 'NDJSON_UTF8_INVALID',
        reason: 'invalid UTF-8 at byte offset 9',
        raw: '{"s":"caf\uFFFD"}',
        context: { line: 2, byteOffset: 9 },
      });
      expect(bad[0]?.bytes).toEqual(bytesOf('{"s":"caf', [0xe9], '"}'));
    });

    it('throws on a line that is not UTF-8 when there is no onInvalid', async () => {
      const run = collect(decodeNdjson([bytesOf('{"a":1}\n{"s":"', [0xc3, 0x28], '"}\n')]));

      await expect(run).rejects.toMatchObject({
        name: 'NdjsonDecodeError',
        code: 'NDJSON_UTF8_INVALID',
        line: 2,
      });
    });

    it.each([
      ['a lone continuation byte', [0x80], 0],
      ['a truncated 3-byte sequence before the quote', [0xe2, 0x82], 0],
      ['an overlong encoding of "/"', [0xc0, 0xaf], 0],
      ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80], 0],
      ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
      ['0xFF', [0xff], 0],
    ])('rejects %s', async (_name, sequence, at) => {
      const bad: NdjsonDecodeError[] = [];
      const input = bytesOf('{"s":"é', sequence, '"}\n');

      await collect(decodeNdjson([input], { onInvalid: (err) => bad.push(err) }));

      expect(bad.map((e) => [e.code, e.context.byteOffset])).toEqual([['NDJSON_UTF8_INVALID', 8 + at]]);
    });

    it('finds a bad line whatever the chunk borders, and still joins characters split between chunks', async () => {
      const input = bytesOf('{"s":"é🚀"}\n{"s":"', [0xf0, 0x9f, 0x9a], '"}\r\n{"s":"°C"}');
      for (let cut1 = 0; cut1 <= input.length; cut1++) {
        for (let cut2 = cut1; cut2 <= input.length; cut2 += 3) {
          const chunks = [input.slice(0, cut1), input.slice(cut1, cut2), input.slice(cut2)];
          const bad: NdjsonDecodeError[] = [];

          const records = await collect(decodeNdjson(chunks, { onInvalid: (err) => bad.push(err) }));

          expect(records).toEqual([{ s: 'é🚀' }, { s: '°C' }]);
          expect(bad.map((e) => [e.line, e.context.byteOffset])).toEqual([[2, 6]]);
        }
      }
    });

    it('gives each line as a fatal TextDecoder decodes it, or its error, for any bytes in any chunks', async () => {
      const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      const line = fc.uint8Array({ maxLength: 24 }).map((b) => b.map((x) => (x === 10 ? 32 : x)));
      await fc.assert(
        fc.asyncProperty(
          fc.array(line, { minLength: 1, maxLength: 6 }),
          fc.array(fc.nat()),
          async (lines, cuts) => {
            const input = bytesOf(...lines.flatMap((l) => [[...l], '\n']));
            const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
            const ends = [...points, input.length];
            const chunks = [0, ...points].map((from, i) => input.slice(from, ends[i]));

            const out = (await collect(ndjsonLines(chunks))).map((l) =>
              typeof l === 'string' ? l : `error at ${l.context.byteOffset}`,
            );

            const expected = lines.map((l, i) => {
              try {
                const text = fatal.decode(l);
                const unmarked = i === 0 && text.startsWith('\uFEFF') ? text.slice(1) : text;
                return unmarked.endsWith('\r') ? unmarked.slice(0, -1) : unmarked;
              } catch {
                return `error at ${utf8InvalidOffset(l)}`;
              }
            });
            expect(out).toEqual(expected);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('keeps a byte order mark inside a line, and drops only the one that starts the input', async () => {
      const bom = [0xef, 0xbb, 0xbf];
      const input = bytesOf(bom, '{"a":1}\n{"s":"', bom, 'x"}\n');

      expect(await collect(decodeNdjson([input.slice(0, 2), input.slice(2)]))).toEqual([
        { a: 1 },
        { s: '\uFEFFx' },
      ]);
    });
  });

  describe('ndjsonLines', () => {
    it('yields every line, blank ones too, without its line end, and the last one without a newline', async () => {
      const chunks = ['{"a":1}\r\n\n', Buffer.from(' \n{"a":'), Buffer.from('2}')];

      expect(await collect(ndjsonLines(chunks))).toEqual(['{"a":1}', '', ' ', '{"a":2}']);
    });

    it('yields a line that is not UTF-8 as an NdjsonDecodeError in its place, and reads on', async () => {
      const input = Buffer.concat([
        Buffer.from('{"a":1}\n"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"\n{"a":2}\n'),
      ]);

      const lines = await collect(ndjsonLines([input.subarray(0, 9), input.subarray(9)]));

      expect(lines[0]).toBe('{"a":1}');
      expect(lines[1]).toBeInstanceOf(NdjsonDecodeError);
      expect(lines[1]).toMatchObject({
        line: 2,
        reason: 'invalid UTF-8 at byte offset 1',
        raw: '"\uFFFD\uFFFD"',
      });
      expect(lines[2]).toBe('{"a":2}');
      expect(lines).toHaveLength(3);
    });
  });

  describe('web streams', () => {
    it('encodes and decodes through TransformStreams', async () => {
      const records = [{ id: 'a', n: 1n, at: new Date(0), price: '2.0000' }];

      const out = await collect(
        webStream(records)
          .pipeThrough(new NdjsonEncoderStream({ schema: reading }))
          .pipeThrough(new TextEncoderStream())
          .pipeThrough(new NdjsonDecoderStream({ schema: reading })),
      );

      expect(out).toEqual(records);
    });

    it('errors the stream on a bad line', async () => {
      const stream = webStream(['{"a":1}\n', 'nope\n']).pipeThrough(new NdjsonDecoderStream());

      await expect(collect(stream)).rejects.toMatchObject({ line: 2, raw: 'nope' });
    });
  });

  describe('Node streams', () => {
    it('encodes and decodes through Node Transforms', async () => {
      const records = Array.from({ length: 1000 }, (_, i) => ({
        id: `r${i}`,
        n: BigInt(i),
        at: new Date(i),
        price: null,
      }));
      const out: unknown[] = [];

      await pipeline(
        Readable.from(records),
        createNdjsonEncoder({ schema: reading }),
        createNdjsonDecoder({ schema: reading }),
        new Writable({
          objectMode: true,
          write(record, _enc, callback) {
            out.push(record);
            callback();
          },
        }),
      );

      expect(out).toEqual(records);
    });

    it('fails the pipeline on a bad line with its number', async () => {
      const run = pipeline(
        Readable.from(['{"a":1}\n{"a":\n']),
        createNdjsonDecoder(),
        new Writable({ objectMode: true, write: (_r, _e, cb) => cb() }),
      );

      await expect(run).rejects.toMatchObject({ name: 'NdjsonDecodeError', line: 2 });
    });
  });
});
