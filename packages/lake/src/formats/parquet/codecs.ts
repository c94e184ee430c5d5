// The page codecs of the Parquet writer. SNAPPY pages go through the native `snappy` package
// (napi-rs, an optional dependency with prebuilt binaries for Linux glibc and musl, macOS, Windows,
// FreeBSD and Android) when it loads, and through hyparquet-writer's pure-JS snappy otherwise. Both
// write the raw snappy block format that Parquet stores (not snappy's framing format), which every
// reader decodes; the native one takes about a quarter of the JS one's CPU time per page.
import { createRequire } from 'node:module';
import { ConfigError } from '@tributary/core';
import { snappyCompress as jsSnappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { Codec } from './column-chunk.js';

/** Raw page bytes in, the bytes the page stores out. */
export type PageCompressor = (raw: Uint8Array) => Uint8Array;

/** Which snappy compresses the pages: the native addon or the pure-JS fallback. */
export type SnappyImplementation = 'native' | 'js';

/**
 * The environment variable that picks the snappy implementation: unset or `auto` (the native one
 * when it loads, else the JS one), `native` (the native one or a `ConfigError`), `js`.
 */
export const SNAPPY_VARIABLE = 'TRIBUTARY_PARQUET_SNAPPY';

const CHOICES = ['auto', 'native', 'js'] as const;
type Choice = (typeof CHOICES)[number];

/** What the native package gives us: its one-shot raw-format compressor. */
interface NativeSnappy {
  compressSync(input: Uint8Array): Uint8Array;
}

/** The native compressor, or why it could not load; undefined until first asked for. */
let native: PageCompressor | Error | undefined;

/**
 * Load the native snappy through `load` (a CommonJS `require`): its compressor, or the load error.
 * A missing package, a platform without a prebuilt binary or an ABI mismatch all end here.
 */
export function loadNativeSnappy(load: (id: string) => unknown): PageCompressor | Error {
  try {
    const { compressSync } = load('snappy') as Partial<NativeSnappy>;
    if (typeof compressSync !== 'function') throw new TypeError('the snappy package has no compressSync');
    return (raw) => compressSync(raw);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function nativeSnappy(): PageCompressor | Error {
  // createRequire, not import(): pages are compressed synchronously, and the CommonJS build has no
  // top-level await. Tried once per process; a failure is remembered too.
  native ??= loadNativeSnappy(createRequire(import.meta.url));
  return native;
}

function choice(): Choice {
  const value = process.env[SNAPPY_VARIABLE];
  if (value === undefined || value === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(value)) return value as Choice;
  throw new ConfigError(
    `${SNAPPY_VARIABLE} must be one of ${CHOICES.join(', ')}, got ${JSON.stringify(value)}`,
    {
      variable: SNAPPY_VARIABLE,
    },
  );
}

/**
 * The snappy that compresses pages now: the native one unless `TRIBUTARY_PARQUET_SNAPPY=js` or it
 * cannot load. Read on each call (once per column chunk), so the variable applies to the next chunk.
 */
export function snappyCodec(): { implementation: SnappyImplementation; compress: PageCompressor } {
  const wanted = choice();
  if (wanted === 'js') return { implementation: 'js', compress: jsSnappyCompress };
  const loaded = nativeSnappy();
  if (typeof loaded === 'function') return { implementation: 'native', compress: loaded };
  if (wanted === 'native') {
    throw new ConfigError(
      `${SNAPPY_VARIABLE}=native, but the snappy package did not load: ${loaded.message}`,
      { variable: SNAPPY_VARIABLE },
      loaded,
    );
  }
  return { implementation: 'js', compress: jsSnappyCompress };
}

/** The compressor of a column chunk's pages, undefined for UNCOMPRESSED. */
export function pageCompressor(codec: Codec): PageCompressor | undefined {
  return codec === 'SNAPPY' ? snappyCodec().compress : undefined;
}
