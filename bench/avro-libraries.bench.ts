// `pnpm bench avro-libraries`: the Avro libraries on the npm registry that could write the lake's
// Iceberg manifests, measured on what a manifest is: 10,000 v2 manifest entries (a data file each,
// with stats for 7 columns), deflate-compressed in an object-container file.
//
// Each candidate is installed with npm into the work directory (none of them is a workspace
// dependency except the one the lake pins), then measured in its own process:
// - encode/decode through the library's types (`Type.toBuffer` / `Type.decode`, the path the lake
//   takes: its manifests are built in memory, synchronously) and through the library's own
//   container streams (`BlockEncoder` / `BlockDecoder`), median of 5 runs;
// - whether the schema JSON the library writes into the file header keeps the non-standard
//   attributes Iceberg readers need (`field-id`, `element-id`, `logicalType: "map"`), both when it
//   is given the schema as JSON and when it is given a compiled type;
// - longs as bigint (snapshot ids are random 63-bit numbers, beyond Number.MAX_SAFE_INTEGER);
// - install size (du of node_modules) and the minified size of a bundle that uses it (esbuild).
// A last step reads every file a candidate wrote with fastavro (spark/.venv), outside our code.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { int, maxRssMiB, stopwatch } from './common.js';

export const description = 'Avro libraries for Iceberg manifests: 10,000 entries encoded and decoded';

const CANDIDATES = {
  'avsc-5.7.9': { spec: 'avsc@5.7.9', module: 'avsc', api: 'avsc' },
  'avsc-6.0.0-alpha.15': { spec: 'avsc@6.0.0-alpha.15', module: 'avsc', api: 'avsc' },
  // avro-js 1.12.2 requires `underscore` at load (etc/deprecated/validator.js) without declaring
  // it: installed alone, `require('avro-js')` throws MODULE_NOT_FOUND. Measured with it added.
  'avro-js-1.12.2': {
    spec: 'avro-js@1.12.2',
    module: 'avro-js',
    api: 'avro-js',
    extra: ['underscore@1.13.8'],
  },
} as const;
type Candidate = keyof typeof CANDIDATES;
const CANDIDATE_IDS = Object.keys(CANDIDATES) as Candidate[];
const ENTRIES = 10_000;
const RUNS = 5;

// ---------------------------------------------------------------------------------------------
// The manifest entry schema (Iceberg v2, as Java writes it) and realistic entries

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const opt = (name: string, type: Json, id: number): Json => ({
  name,
  type: ['null', type],
  default: null,
  'field-id': id,
});
const req = (name: string, type: Json, id: number): Json => ({ name, type, 'field-id': id });
const intMap = (key: number, value: number, valueType: string): Json => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name: `k${key}_v${value}`,
    fields: [req('key', 'int', key), req('value', valueType, value)],
  },
});

const ENTRY_SCHEMA: Json = {
  type: 'record',
  name: 'manifest_entry',
  fields: [
    req('status', 'int', 0),
    opt('snapshot_id', 'long', 1),
    opt('sequence_number', 'long', 3),
    opt('file_sequence_number', 'long', 4),
    req(
      'data_file',
      {
        type: 'record',
        name: 'r2',
        fields: [
          req('content', 'int', 134),
          req('file_path', 'string', 100),
          req('file_format', 'string', 101),
          req(
            'partition',
            {
              type: 'record',
              name: 'r102',
              fields: [opt('timestamp_hour', 'int', 1000), opt('type', 'string', 1001)],
            },
            102,
          ),
          req('record_count', 'long', 103),
          req('file_size_in_bytes', 'long', 104),
          opt('column_sizes', intMap(117, 118, 'long'), 108),
          opt('value_counts', intMap(119, 120, 'long'), 109),
          opt('null_value_counts', intMap(121, 122, 'long'), 110),
          opt('nan_value_counts', intMap(138, 139, 'long'), 137),
          opt('lower_bounds', intMap(126, 127, 'bytes'), 125),
          opt('upper_bounds', intMap(129, 130, 'bytes'), 128),
          opt('key_metadata', 'bytes', 131),
          opt('split_offsets', { type: 'array', items: 'long', 'element-id': 133 }, 132),
          opt('equality_ids', { type: 'array', items: 'int', 'element-id': 136 }, 135),
          opt('sort_order_id', 'int', 140),
        ],
      },
      2,
    ),
  ],
};

interface Entry {
  status: number;
  snapshot_id: bigint | null;
  sequence_number: bigint | null;
  file_sequence_number: bigint | null;
  data_file: Record<string, unknown>;
}

/** Deterministic entries: a sensor table partitioned by hour and type, 7 columns with stats. */
function entries(count: number): Entry[] {
  const snapshotId = 8_744_736_658_442_914_487n; // > 2^53, as real snapshot ids are
  const counts = (seed: number) =>
    Array.from({ length: 7 }, (_, c) => ({ key: c + 1, value: BigInt(seed * 31 + c * 1_000) }));
  const bytes = (seed: number, c: number) => {
    const length = c < 3 ? 16 : 8; // three string columns truncated to 16, four 8-byte numbers
    return Buffer.from(Array.from({ length }, (_, i) => (seed * 7 + c * 13 + i) & 0xff));
  };
  return Array.from({ length: count }, (_, i) => ({
    status: 1,
    snapshot_id: snapshotId,
    sequence_number: null,
    file_sequence_number: null,
    data_file: {
      content: 0,
      file_path: `s3://tributary-processed/sensors/data/timestamp_hour=2026-11-23-${String(i % 24).padStart(2, '0')}/type=temperature/00000-${i}-6f1c1d3e-54b2-4a53-9d0c-1b7e4a5d9c21-00001.parquet`,
      file_format: 'PARQUET',
      partition: { timestamp_hour: 499_000 + (i % 24), type: 'temperature' },
      record_count: BigInt(100_000 + i),
      file_size_in_bytes: BigInt(3_000_000 + i * 17),
      column_sizes: counts(i),
      value_counts: counts(i + 1),
      null_value_counts: counts(i + 2),
      nan_value_counts: counts(i + 3).slice(5),
      lower_bounds: Array.from({ length: 7 }, (_, c) => ({ key: c + 1, value: bytes(i, c) })),
      upper_bounds: Array.from({ length: 7 }, (_, c) => ({ key: c + 1, value: bytes(i + 1, c) })),
      key_metadata: null,
      split_offsets: [4n],
      equality_ids: null,
      sort_order_id: 0,
    },
  }));
}

// ---------------------------------------------------------------------------------------------
// What each library is asked to do, behind one small interface

interface AvroType {
  toBuffer(value: unknown): Buffer;
  decode(buf: Buffer, pos?: number): { value: unknown; offset: number };
  getSchema?(opts?: unknown): unknown;
  toString?(): string;
}
interface Library {
  compile(schema: Json): AvroType;
  /** The value in the library's own form (avro-js wants unions wrapped: `{ long: 5n }`). */
  wrap(value: unknown): unknown;
  /** A container file through the library's own BlockEncoder. */
  streamEncode(schemaOrType: Json | AvroType, values: unknown[]): Promise<Buffer>;
  streamDecode(file: Buffer): Promise<{ schema: string; values: unknown[] }>;
}

type WithMethods = (methods: object) => unknown;
function bigintLong(LongType: { __with?: WithMethods; using?: WithMethods }) {
  const methods = {
    // avsc 6 hands over a Uint8Array, avsc 5 and avro-js a Buffer
    fromBuffer: (buf: Uint8Array) => new DataView(buf.buffer, buf.byteOffset, 8).getBigInt64(0, true),
    toBuffer: (n: bigint) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64LE(n);
      return buf;
    },
    fromJSON: (n: unknown) => BigInt(n as number),
    toJSON: (n: bigint) => Number(n),
    isValid: (n: unknown) => typeof n === 'bigint',
    compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
  };
  return (LongType.__with ?? LongType.using)?.call(LongType, methods);
}

/** Wraps union branches for libraries that want `{ branch: value }` (avro-js). */
function wrapUnions(schema: Json, value: unknown): unknown {
  if (Array.isArray(schema)) {
    if (value === null) return null;
    const branch = schema.find((s) => s !== 'null') as Json;
    const name =
      typeof branch === 'string'
        ? branch
        : ((branch as { name?: string; type: string }).name ?? (branch as { type: string }).type);
    return { [name]: wrapUnions(branch, value) };
  }
  if (schema && typeof schema === 'object') {
    const s = schema as { type: string; fields?: { name: string; type: Json }[]; items?: Json };
    if (s.type === 'record' && s.fields) {
      const record = value as Record<string, unknown>;
      return Object.fromEntries(s.fields.map((f) => [f.name, wrapUnions(f.type, record[f.name])]));
    }
    if (s.type === 'array' && s.items !== undefined)
      return (value as unknown[]).map((v) => wrapUnions(s.items as Json, v));
  }
  return value;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}

function library(candidate: Candidate, prefix: string): Library {
  const { module, api } = CANDIDATES[candidate];
  const load = createRequire(join(prefix, 'package.json'));
  const avro = load(module);
  const codecs = {
    deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, deflateRawSync(buf)),
  };
  const decodeCodecs = {
    deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, inflateRawSync(buf)),
  };
  if (api === 'avsc') {
    const registry = () => ({ long: bigintLong(avro.types.LongType) });
    return {
      compile: (schema) => avro.Type.forSchema(schema, { registry: registry() }),
      wrap: (value) => value,
      async streamEncode(schemaOrType, values) {
        const encoder = new avro.streams.BlockEncoder(schemaOrType, {
          codec: 'deflate',
          codecs,
          registry: registry(),
        });
        const out = collect(encoder);
        let invalid: unknown;
        encoder.on('typeError', (err: unknown) => {
          invalid ??= err;
        });
        for (const v of values) encoder.write(v);
        encoder.end();
        const file = Buffer.concat(await out);
        if (invalid) throw invalid; // the encoder skips a record it cannot write and says so only by this event
        return file;
      },
      async streamDecode(file) {
        let schema = '';
        const decoder = new avro.streams.BlockDecoder({
          codecs: decodeCodecs,
          parseHook: (s: unknown) => {
            schema = JSON.stringify(s);
            return avro.Type.forSchema(s, { registry: registry() });
          },
        });
        const out = collect(decoder);
        decoder.end(file);
        return { schema, values: await out };
      },
    };
  }
  const longType = bigintLong(avro.types.LongType);
  return {
    compile: (schema) => avro.parse(schema, { registry: { long: longType } }),
    wrap: (value) => wrapUnions(ENTRY_SCHEMA, value),
    async streamEncode(schemaOrType, values) {
      const encoder = new avro.streams.BlockEncoder(schemaOrType, { codec: 'deflate', codecs });
      const out = collect(encoder);
      let invalid: unknown;
      encoder.on('typeError', (err: unknown) => {
        invalid ??= err;
      });
      for (const v of values) encoder.write(v);
      encoder.end();
      const file = Buffer.concat(await out);
      if (invalid) throw invalid;
      return file;
    },
    async streamDecode(file) {
      let schema = '';
      const decoder = new avro.streams.BlockDecoder({
        codecs: decodeCodecs,
        parseOpts: { registry: { long: longType } },
      });
      decoder.on('metadata', (type: AvroType) => {
        schema = JSON.stringify(type.getSchema?.() ?? type.toString?.());
      });
      const out = collect(decoder);
      decoder.end(file);
      return { schema, values: await out };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A minimal container framing around the library's type (the lake's path: synchronous, in memory)

const MAGIC = Buffer.from('Obj\x01', 'latin1');
function zigzag(n: number): Buffer {
  const out: number[] = [];
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
const avroBytes = (b: Buffer) => Buffer.concat([zigzag(b.length), b]);

function frame(schemaJson: string, records: Buffer[], count: number): Buffer {
  const sync = Buffer.from('0123456789abcdef');
  const meta = [
    ['avro.schema', Buffer.from(schemaJson)],
    ['avro.codec', Buffer.from('deflate')],
  ] as const;
  const header = Buffer.concat([
    MAGIC,
    zigzag(meta.length),
    ...meta.flatMap(([k, v]) => [avroBytes(Buffer.from(k)), avroBytes(v)]),
    zigzag(0),
    sync,
  ]);
  const data = deflateRawSync(Buffer.concat(records));
  return Buffer.concat([header, zigzag(count), zigzag(data.length), data, sync]);
}

// ---------------------------------------------------------------------------------------------
// Plan and steps

type StepInput =
  | { kind: 'measure'; candidate: Candidate; prefix: string; out: string }
  | { kind: 'verify'; repoRoot: string; files: string[] };

function duKiB(path: string): number {
  return Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]);
}

export function plan(args: string[], context: { workdir: string; repoRoot: string }) {
  const only = args.indexOf('--only');
  const names = only >= 0 ? (args[only + 1] ?? '').split(',') : CANDIDATE_IDS;
  const candidates = CANDIDATE_IDS.filter((c) => names.includes(c));
  if (candidates.length === 0) throw new Error(`--only takes some of ${CANDIDATE_IDS.join(', ')}`);
  const steps = candidates.map((candidate) => {
    const prefix = join(context.workdir, candidate);
    mkdirSync(prefix, { recursive: true });
    writeFileSync(join(prefix, 'package.json'), '{"private":true}\n');
    const { spec, ...rest } = CANDIDATES[candidate];
    const extra = 'extra' in rest ? rest.extra : [];
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--silent', '--ignore-scripts', spec, ...extra],
      {
        cwd: prefix,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    return {
      label: `${candidate} · encode/decode ${int(ENTRIES)} entries`,
      input: {
        kind: 'measure',
        candidate,
        prefix,
        out: join(context.workdir, `out-${candidate}`),
      } as StepInput,
    };
  });
  const files = candidates.flatMap((c) =>
    ['type', 'stream-json', 'stream-type'].map((k) => join(context.workdir, `out-${c}`, `${k}.avro`)),
  );
  return {
    title: `avro-libraries: ${int(ENTRIES)} Iceberg v2 manifest entries, deflate (Node ${process.version}, ${cpus().length} CPUs)`,
    steps: [
      ...steps,
      {
        label: 'fastavro reads every file',
        input: { kind: 'verify', repoRoot: context.repoRoot, files } as StepInput,
      },
    ],
  };
}

/** The `avro.schema` string in a container file's header, read without any library. */
function headerSchema(file: Buffer): string {
  let pos = MAGIC.length;
  const readLong = () => {
    let n = 0;
    let shift = 1;
    let b: number;
    do {
      b = file[pos++] as number;
      n += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  };
  const readBytes = () => {
    const length = readLong();
    pos += length;
    return file.subarray(pos - length, pos);
  };
  for (let count = readLong(); count !== 0; count = readLong()) {
    if (count < 0) readLong(); // a negative count is followed by the block's size
    for (let i = 0; i < Math.abs(count); i++) {
      const key = readBytes().toString();
      const value = readBytes().toString();
      if (key === 'avro.schema') return value;
    }
  }
  return '';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (seconds: number) => Math.round(seconds * 10_000) / 10;

function fieldIdsKept(schemaJson: string): boolean {
  return ['"field-id":0', '"field-id":117', '"element-id":133', '"logicalType":"map"'].every((s) =>
    schemaJson.includes(s),
  );
}

async function bundleKiB(candidate: Candidate, prefix: string): Promise<number> {
  const root = createRequire(import.meta.url);
  const esbuild = createRequire(root.resolve('tsup'))('esbuild');
  const entry = join(prefix, 'entry.cjs');
  writeFileSync(
    entry,
    `const avro = require('${CANDIDATES[candidate].module}');\nmodule.exports = (s) => (avro.Type ? avro.Type.forSchema ? avro.Type.forSchema(s) : avro.parse(s) : avro.parse(s));\n`,
  );
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  return Math.round(result.outputFiles[0].contents.length / 102.4) / 10;
}

async function measure(input: Extract<StepInput, { kind: 'measure' }>) {
  const lib = library(input.candidate, input.prefix);
  mkdirSync(input.out, { recursive: true });
  const values = entries(ENTRIES).map((e) => lib.wrap(e));
  const type = lib.compile(ENTRY_SCHEMA);
  const schemaJson = JSON.stringify(ENTRY_SCHEMA);

  const encodeType: number[] = [];
  const decodeType: number[] = [];
  const encodeStream: number[] = [];
  const decodeStream: number[] = [];
  let typeFile: Buffer = Buffer.alloc(0);
  let streamFile: Buffer = Buffer.alloc(0);
  let decodedSnapshot: unknown;
  let streamRecords = 0;
  for (let run = 0; run < RUNS; run++) {
    let t = stopwatch();
    typeFile = frame(
      schemaJson,
      values.map((v) => type.toBuffer(v)),
      values.length,
    );
    encodeType.push(t());

    t = stopwatch();
    const headerEnd = typeFile.indexOf('0123456789abcdef') + 16;
    // count and size varints, then the block (both fit the first bytes; parse them properly)
    let pos = headerEnd;
    const readLong = () => {
      let n = 0;
      let shift = 1;
      let b: number;
      do {
        b = typeFile[pos++] as number;
        n += (b & 0x7f) * shift;
        shift *= 128;
      } while (b & 0x80);
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    };
    const count = readLong();
    const size = readLong();
    const block = inflateRawSync(typeFile.subarray(pos, pos + size));
    const decoded: unknown[] = [];
    for (let i = 0, offset = 0; i < count; i++) {
      const r = type.decode(block, offset);
      decoded.push(r.value);
      offset = r.offset;
    }
    decodeType.push(t());
    decodedSnapshot = decoded[ENTRIES - 1];

    t = stopwatch();
    streamFile = await lib.streamEncode(type, values);
    encodeStream.push(t());

    t = stopwatch();
    const back = await lib.streamDecode(streamFile);
    decodeStream.push(t());
    streamRecords = back.values.length;
  }
  // Given the schema as JSON, the libraries compile it without options, so no bigint longs (and
  // they write the header with the first record): one entry with small longs as numbers.
  const small = JSON.parse(
    JSON.stringify(entries(1)[0], (_, v) => (typeof v === 'bigint' ? Number(v % 1_000_000n) : v)),
    (_, v) => (v && typeof v === 'object' && v.type === 'Buffer' ? Buffer.from(v.data) : v),
  );
  const fromJson = await lib.streamEncode(ENTRY_SCHEMA, [lib.wrap(small)]);
  const headerFromJson = headerSchema(fromJson);
  const headerFromType = headerSchema(streamFile);
  writeFileSync(join(input.out, 'type.avro'), typeFile);
  writeFileSync(join(input.out, 'stream-json.avro'), fromJson);
  writeFileSync(join(input.out, 'stream-type.avro'), streamFile);
  const snapshot = JSON.stringify(decodedSnapshot, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return {
    candidate: input.candidate,
    encodeTypeMs: ms(median(encodeType)),
    decodeTypeMs: ms(median(decodeType)),
    encodeStreamMs: ms(median(encodeStream)),
    decodeStreamMs: ms(median(decodeStream)),
    streamRecords,
    fileKiB: Math.round(typeFile.length / 102.4) / 10,
    idsFromJson: fieldIdsKept(headerFromJson),
    idsFromType: fieldIdsKept(headerFromType),
    bigintRoundTrip: snapshot.includes('"8744736658442914487n"'),
    installKiB: duKiB(join(input.prefix, 'node_modules')),
    bundleKiB: await bundleKiB(input.candidate, input.prefix),
    typings: (() => {
      try {
        const pkg = JSON.parse(
          readFileSync(
            join(input.prefix, 'node_modules', CANDIDATES[input.candidate].module, 'package.json'),
            'utf8',
          ),
        );
        return Boolean(pkg.types ?? pkg.typings);
      } catch {
        return false;
      }
    })(),
    maxRssMiB: maxRssMiB(),
  };
}

const VERIFY = `
import json, sys, fastavro
out = {}
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        reader = fastavro.reader(f)
        schema = json.loads(reader.metadata['avro.schema'])
        n = sum(1 for _ in reader)
    def ids(node):
        if isinstance(node, list):
            return all(ids(n) for n in node)
        if isinstance(node, dict):
            ok = all('field-id' in f and ids(f['type']) for f in node.get('fields', []))
            if node.get('type') == 'array' and node.get('logicalType') != 'map':
                ok = ok and 'element-id' in node
            return ok and ids(node.get('items'))
        return True
    out[path] = {'records': n, 'ids': ids(schema)}
print(json.dumps(out))
`;

function verify(input: Extract<StepInput, { kind: 'verify' }>) {
  const files = input.files.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
  const python = join(input.repoRoot, 'spark/.venv/bin/python');
  return JSON.parse(execFileSync(python, ['-c', VERIFY, ...files], { encoding: 'utf8' }));
}

export async function runStep(input: StepInput) {
  return input.kind === 'measure' ? measure(input) : verify(input);
}

interface Outcome {
  step: { input: StepInput };
  ok: boolean;
  result?: Record<string, unknown>;
  error?: string;
}

export function summarize(results: Outcome[], context: { workdir: string }) {
  const verified = (results.find((r) => r.step.input.kind === 'verify')?.result ?? {}) as Record<
    string,
    { records: number; ids: boolean }
  >;
  const failures: string[] = [];
  const rows = results
    .filter((r) => r.step.input.kind === 'measure')
    .map((r) => {
      const input = r.step.input as Extract<StepInput, { kind: 'measure' }>;
      if (!r.ok || !r.result) {
        failures.push(`${input.candidate}: ${r.error}`);
        return { candidate: input.candidate, encodeType: 'failed' };
      }
      const m = r.result;
      const reads = ['type', 'stream-json', 'stream-type'].map(
        (k) => verified[join(context.workdir, `out-${input.candidate}`, `${k}.avro`)],
      );
      const fastavro = reads
        .map((v) =>
          v ? `${v.records === ENTRIES ? 'ok' : `${v.records} records`}${v.ids ? '' : ', ids lost'}` : '—',
        )
        .join(' / ');
      return {
        candidate: input.candidate,
        encodeType: m.encodeTypeMs,
        decodeType: m.decodeTypeMs,
        encodeStream: m.encodeStreamMs,
        decodeStream:
          m.streamRecords === ENTRIES
            ? m.decodeStreamMs
            : `${m.decodeStreamMs} (${int(m.streamRecords as number)} records!)`,
        fileKiB: m.fileKiB,
        idsJson: m.idsFromJson ? 'kept' : 'lost',
        idsType: m.idsFromType ? 'kept' : 'lost',
        bigint: m.bigintRoundTrip ? 'yes' : 'no',
        typings: m.typings ? 'yes' : 'no',
        installKiB: m.installKiB,
        bundleKiB: m.bundleKiB,
        rss: m.maxRssMiB,
        fastavro,
      };
    });
  return {
    columns: [
      { key: 'candidate', title: 'library', align: 'left' },
      { key: 'encodeType', title: 'encode, type (ms)' },
      { key: 'decodeType', title: 'decode, type (ms)' },
      { key: 'encodeStream', title: 'encode, stream (ms)' },
      { key: 'decodeStream', title: 'decode, stream (ms)' },
      { key: 'fileKiB', title: 'file (KiB)' },
      { key: 'idsJson', title: 'field-id, schema JSON', align: 'left' },
      { key: 'idsType', title: 'field-id, compiled type', align: 'left' },
      { key: 'bigint', title: 'bigint longs', align: 'left' },
      { key: 'typings', title: 'own .d.ts', align: 'left' },
      { key: 'installKiB', title: 'install (KiB)' },
      { key: 'bundleKiB', title: 'bundle, min (KiB)' },
      { key: 'rss', title: 'peak RSS (MiB)' },
      { key: 'fastavro', title: 'fastavro: type / stream(JSON) / stream(type)', align: 'left' },
    ],
    rows,
    notes: [
      `median of ${RUNS} runs; "type" = Type.toBuffer per record + one deflate block (the lake's synchronous path), "stream" = the library's BlockEncoder/BlockDecoder`,
      'field-id: whether the header schema the library writes keeps field-id, element-id and logicalType "map", given the schema as JSON or as a compiled type',
    ],
    failures,
  };
}
