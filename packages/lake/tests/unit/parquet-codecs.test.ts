import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { ConfigError, defineSchema, field } from '@tributary/core';
import { parquetMetadata, snappyUncompress } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { snappyCompress as jsSnappy } from 'hyparquet-writer/src/snappy.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadNativeSnappy, SNAPPY_VARIABLE, snappyCodec } from '../../src/formats/parquet/codecs.js';
import { parquetFormat } from '../../src/formats/parquet.js';
import { MemoryStorage } from '../../src/memory-storage.js';

const nativeSnappy = createRequire(import.meta.url)('snappy') as {
  compressSync(input: Uint8Array): Uint8Array;
};

const readings = defineSchema({
  id: field.string(),
  sensorId: field.string(),
  value: field.double(),
  reading: field.double().nullable(),
  at: field.timestamp(),
  tags: field.list(field.string()),
});

function readingRows(count: number) {
  return Array.from({ length: count }, (_, i) =>
    readings.parse({
      id: `r-${(i * 2_654_435_761) % 4_294_967_296}`,
      sensorId: `temperature-${i % 250}`,
      value: Math.round(Math.sin(i) * 1e6) / 1000,
      reading: i % 10 === 0 ? null : i / 4,
      at: new Date(Date.UTC(2026, 10, 23) + i * 1_237),
      tags: i % 3 === 0 ? [] : ['t', `t${i % 4}`],
    }),
  );
}

type Row = ReturnType<typeof readingRows>[number];

/** A file of `rows` written with SNAPPY, and the rows our reader gives back from it. */
async function writeAndRead(format: typeof parquetFormat, rows: Row[]) {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  // Small row groups and many rows: several pages per column, dictionary pages too.
  const writer = format.createWriter(sink, readings, { rowGroupBytes: 64 * 1024 });
  for (const row of rows) await writer.write(row);
  await writer.close();
  const file = Buffer.concat(chunks);
  const storage = new MemoryStorage();
  await storage.put('part-0.parquet', file);
  const back: Row[] = [];
  for await (const row of format.read(storage, 'part-0.parquet', readings)) back.push(row);
  return { file, back };
}

/** Every page of the file: the bytes it stores and its uncompressed bytes (hyparquet's decoder). */
function pagesOf(file: Buffer): { stored: Uint8Array; raw: Uint8Array }[] {
  const bytes = new Uint8Array(file);
  const metadata = parquetMetadata(bytes.buffer);
  const view = new DataView(bytes.buffer);
  const pages: { stored: Uint8Array; raw: Uint8Array }[] = [];
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta) throw new Error('column chunk without metadata');
      expect(meta.codec).toBe('SNAPPY');
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const reader = { view, offset: start };
      while (reader.offset < start + Number(meta.total_compressed_size)) {
        const header = parquetHeader(reader);
        const stored = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
        reader.offset += header.compressed_page_size;
        const raw = new Uint8Array(header.uncompressed_page_size);
        snappyUncompress(stored, raw);
        pages.push({ stored, raw });
      }
    }
  }
  return pages;
}

/** Page-sized inputs that exercise snappy's literals, copies and incompressible runs. */
function samples(): [string, Uint8Array][] {
  const text = new TextEncoder().encode(
    Array.from({ length: 20_000 }, (_, i) => `sensor-${i % 250},temperature,${(i / 7).toFixed(3)}`).join(
      '\n',
    ),
  );
  let state = 7;
  const noise = new Uint8Array(1 << 20).map(() => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state >>> 24;
  });
  const doubles = new Uint8Array(
    Float64Array.from({ length: 65_536 }, (_, i) => Math.round(i * 1.37) / 100).buffer,
  );
  const inside = new Uint8Array(4096 + text.length);
  inside.set(text, 4096);
  return [
    ['empty', new Uint8Array(0)],
    ['one byte', new Uint8Array([42])],
    ['text', text],
    ['incompressible', noise],
    ['doubles', doubles],
    ['one repeated byte', new Uint8Array(300_000).fill(7)],
    // A view into a larger buffer, as ByteWriter.getBytes() may hand over.
    ['a view at an offset', inside.subarray(4096)],
  ];
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('snappyCodec', () => {
  it('uses the native snappy where its package loads', () => {
    vi.stubEnv(SNAPPY_VARIABLE, '');

    const codec = snappyCodec();

    expect(codec.implementation).toBe('native');
    expect(snappyCodec().compress).toBe(codec.compress);
  });

  it('uses the pure-JS snappy with TRIBUTARY_PARQUET_SNAPPY=js, and the native one with native or auto', () => {
    vi.stubEnv(SNAPPY_VARIABLE, 'js');
    const js = snappyCodec();
    vi.stubEnv(SNAPPY_VARIABLE, 'native');
    const forced = snappyCodec();
    vi.stubEnv(SNAPPY_VARIABLE, 'auto');
    const auto = snappyCodec();

    expect(js).toEqual({ implementation: 'js', compress: jsSnappy });
    expect(forced.implementation).toBe('native');
    expect(auto.implementation).toBe('native');
  });

  it('rejects any other value with a ConfigError naming the variable', () => {
    vi.stubEnv(SNAPPY_VARIABLE, 'fast');

    expect(() => snappyCodec()).toThrow(ConfigError);
    expect(() => snappyCodec()).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', variable: SNAPPY_VARIABLE }),
    );
  });
});

describe.each(['native', 'js'] as const)('the %s snappy', (implementation) => {
  it("compresses pages that hyparquet's decoder restores byte for byte", () => {
    vi.stubEnv(SNAPPY_VARIABLE, implementation);
    const { compress } = snappyCodec();

    for (const [name, input] of samples()) {
      const stored = compress(input);
      const restored = new Uint8Array(input.byteLength);
      snappyUncompress(stored, restored);

      expect({ name, equal: Buffer.from(restored).equals(input) }).toEqual({ name, equal: true });
      expect(stored.byteLength).toBeLessThanOrEqual(input.byteLength + input.byteLength / 6 + 32);
    }
  });

  it('compresses every page of the files the writer writes, which our reader reads back', async () => {
    vi.stubEnv(SNAPPY_VARIABLE, implementation);
    const compress = implementation === 'native' ? nativeSnappy.compressSync : jsSnappy;
    const rows = readingRows(20_000);

    const { file, back } = await writeAndRead(parquetFormat, rows);

    expect(back).toEqual(rows);
    const pages = pagesOf(file);
    expect(pages.length).toBeGreaterThan(12);
    // The two snappy encoders pick different matches, so the stored bytes tell which one wrote them.
    const differ = pages.filter((p) => !Buffer.from(compress(p.raw)).equals(p.stored));
    expect(differ).toEqual([]);
  });
});

describe('the pages of both', () => {
  it('hold the same uncompressed bytes: only the compressed bodies differ', async () => {
    const rows = readingRows(20_000);
    vi.stubEnv(SNAPPY_VARIABLE, 'native');
    const native = pagesOf((await writeAndRead(parquetFormat, rows)).file);
    vi.stubEnv(SNAPPY_VARIABLE, 'js');
    const js = pagesOf((await writeAndRead(parquetFormat, rows)).file);

    const raw = (pages: { raw: Uint8Array }[]) => Buffer.concat(pages.map((p) => p.raw));
    const stored = (pages: { stored: Uint8Array }[]) => Buffer.concat(pages.map((p) => p.stored));

    expect(native.length).toBe(js.length);
    expect(raw(native).equals(raw(js))).toBe(true);
    expect(stored(native).equals(stored(js))).toBe(false);
  });
});

describe('when the native snappy cannot load', () => {
  // A fresh module graph whose `createRequire` gives a require that fails for `snappy`, as on a
  // platform without a prebuilt binary or an install that skipped optional dependencies.
  async function withoutNative() {
    const load = vi.fn((id: string) => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    });
    vi.resetModules();
    vi.doMock('node:module', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:module')>()),
      createRequire: () => load,
    }));
    try {
      const codecs = await import('../../src/formats/parquet/codecs.js');
      const { parquetFormat: format } = await import('../../src/formats/parquet.js');
      return { load, codecs, format };
    } finally {
      vi.doUnmock('node:module');
      vi.resetModules();
    }
  }

  it('falls back to the JS snappy, trying the native one once', async () => {
    vi.stubEnv(SNAPPY_VARIABLE, '');
    const { load, codecs } = await withoutNative();

    const first = codecs.snappyCodec();
    const second = codecs.snappyCodec();

    expect(first).toEqual({ implementation: 'js', compress: jsSnappy });
    expect(second.implementation).toBe('js');
    expect(load.mock.calls).toEqual([['snappy']]);
  });

  it('writes files with the JS snappy that our reader reads back', async () => {
    vi.stubEnv(SNAPPY_VARIABLE, '');
    const { load, format } = await withoutNative();
    const rows = readingRows(20_000);

    const { file, back } = await writeAndRead(format, rows);

    expect(load).toHaveBeenCalledTimes(1);
    expect(back).toEqual(rows);
    const pages = pagesOf(file);
    expect(pages.filter((p) => !Buffer.from(jsSnappy(p.raw)).equals(p.stored))).toEqual([]);
  });

  it('throws a ConfigError with the load error as its cause under TRIBUTARY_PARQUET_SNAPPY=native', async () => {
    vi.stubEnv(SNAPPY_VARIABLE, 'native');
    const { codecs } = await withoutNative();

    expect(() => codecs.snappyCodec()).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        variable: SNAPPY_VARIABLE,
        message: expect.stringContaining("Cannot find module 'snappy'"),
        cause: expect.objectContaining({ code: 'MODULE_NOT_FOUND' }),
      }),
    );
  });

  it('takes a package without compressSync (another snappy) as not loaded', () => {
    const loaded = loadNativeSnappy(() => ({ compress: () => undefined }));

    expect(loaded).toBeInstanceOf(TypeError);
  });
});
