// `pnpm bench sensors`: a simulated sensor fleet into a 4-shard Kinesis stream (kinesalite on
// loopback) by the batched KinesisProducer, the same with KPL aggregation and under the default
// rate limit, and one PutRecord per record; the batched producer with 0 % and 30 % of PutRecords
// entries failing (injected by SDK middleware); then end to end into the lake's raw zone. Each step
// starts its own kinesalite and afterwards reads back every shard (or the raw zone) to check that
// it holds exactly the records sent.

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as KinesisSdk from '@aws-sdk/client-kinesis';
import type { GenerateRecordsOptions, SensorRecord } from '@tributary/sensors';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';

export const description =
  'sensor fleet → Kinesis (kinesalite): batched vs aggregated vs one PutRecord per record, and end to end to the raw zone';

const MODES = {
  generate: 'generate only (baseline)',
  batched: 'KinesisProducer, PutRecords ≤ 500',
  aggregated: 'KinesisProducer, aggregate: true (KPL)',
  limited: 'KinesisProducer, default rate limit',
  single: 'PutRecord per record, 16 in flight',
  'failures-0': 'KinesisProducer, 0 % of entries failed (middleware)',
  'failures-30': 'KinesisProducer, 30 % of entries failed (middleware)',
  'end-to-end': 'end to end: batched → KinesisSource → deliverToLake',
  'end-to-end-aggregated': 'end to end: aggregated → KinesisSource → deliverToLake',
} as const;
type Mode = keyof typeof MODES;
const MODE_IDS = Object.keys(MODES) as Mode[];
type EndToEndMode = 'end-to-end' | 'end-to-end-aggregated';
type ProduceMode = Exclude<Mode, 'generate' | EndToEndMode>;
type FailureMode = 'failures-0' | 'failures-30';
/** Share of PutRecords entries the middleware fails, per failure step. */
const FAILURE_RATES: Record<FailureMode, number> = { 'failures-0': 0, 'failures-30': 0.3 };
/** The issue's target: with 30 % of entries failing, at least this share of the rate without failures. */
const MIN_FAILURE_RATIO = 0.6;
const isFailureMode = (mode: Mode): mode is FailureMode => mode in FAILURE_RATES;

const DEFAULT_RECORDS = 100_000;
/** The slow steps run this many records at most (their rate does not depend on the count). */
const DEFAULT_CAPPED_RECORDS = 20_000;
const SHARDS = 4;
const STREAM = 'sensors';
const SINGLE_IN_FLIGHT = 16;
// Kinesis' write limits per shard, which the producer enforces by default.
const SHARD_RECORDS_PER_SECOND = 1_000;
const SHARD_BYTES_PER_SECOND = 1024 * 1024;
/** "Raised": a thousand times the default, which kinesalite (it never throttles) never reaches. */
const RAISED_LIMIT = {
  recordsPerSecond: SHARD_RECORDS_PER_SECOND * 1_000,
  bytesPerSecond: SHARD_BYTES_PER_SECOND * 1_000,
};
/** A run under the default limit may beat it by this much (timer and clock granularity), no more. */
const LIMIT_TOLERANCE = 0.03;
/** After the producer closed, the end-to-end step gives up when the delivery has taken no record for this long. */
const STALL_MS = 30_000;

/**
 * The fleet: 100 sensors of each built-in type (300 partition keys, so the 4 shards get about a
 * quarter each), one reading per sensor every 3 s of event time, from a fixed seed and start.
 */
function fleetOptions(records: number): GenerateRecordsOptions {
  return {
    sensorsPerType: 100,
    ratePerSecond: 100,
    seed: 42,
    start: Date.UTC(2026, 10, 23),
    records,
  };
}

// ---------------------------------------------------------------------------------------------
// Plan

type StepInput =
  | { kind: 'generate'; records: number }
  | { kind: 'produce'; mode: ProduceMode; records: number }
  | { kind: 'end-to-end'; mode: EndToEndMode; records: number; dir: string };

interface Step {
  label: string;
  input: StepInput;
  nodeArgs?: string[];
  removeAfter?: string[];
}

interface Options {
  records: number;
  capped: number;
  modes: Mode[];
}

const USAGE = `options:
  --records N     records from the fleet (100000, 1e5, 100k all work). Default 100k.
  --capped N      records of the slow steps (default rate limit, one PutRecord per record).
                  Default 20k, or --records if fewer.
  --only a,b      steps: ${MODE_IDS.join(', ')}
                  (failures-0 and failures-30: the batched producer with 0 % and 30 % of
                  PutRecords entries failed by SDK middleware; the summary fails when the
                  second runs under ${MIN_FAILURE_RATIO}× the first)
  --keep          keep the end-to-end raw zone (its folder is printed)`;

function parseOptions(args: string[]): Options {
  let records = DEFAULT_RECORDS;
  let capped: number | undefined;
  let modes: Mode[] = MODE_IDS;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--records') records = parseCount(arg, args[++i], USAGE);
    else if (arg === '--capped') capped = parseCount(arg, args[++i], USAGE);
    else if (arg === '--only') {
      const names = (args[++i] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !MODE_IDS.includes(n as Mode));
      if (names.length === 0 || unknown.length > 0)
        throw new Error(`unknown step ${unknown.join(', ')}\n${USAGE}`);
      modes = MODE_IDS.filter((m) => names.includes(m));
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { records, capped: Math.min(capped ?? DEFAULT_CAPPED_RECORDS, records), modes };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

export function plan(args: string[], context: { workdir: string }) {
  const options = parseOptions(args);
  const steps: Step[] = [];
  for (const mode of options.modes) {
    const label = MODES[mode];
    if (mode === 'generate') {
      steps.push({ label, input: { kind: 'generate', records: options.records } });
    } else if (mode === 'end-to-end' || mode === 'end-to-end-aggregated') {
      const dir = join(context.workdir, mode);
      steps.push({
        label,
        input: { kind: 'end-to-end', mode, records: options.records, dir },
        removeAfter: [dir],
      });
    } else {
      const records = mode === 'limited' || mode === 'single' ? options.capped : options.records;
      steps.push({ label, input: { kind: 'produce', mode, records } });
    }
  }
  return {
    title: `sensors: ${int(options.records)} fleet records → ${SHARDS}-shard Kinesis stream (kinesalite) → raw zone (Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// Steps (each runs in its own child process)

/** What went over the wire: calls of `client.send`, and the Kinesis records and bytes they carried. */
interface Sent {
  requests: number;
  kinesisRecords: number;
  /** Data plus partition key, as Kinesis counts them against its limits. */
  bytes: number;
}

interface StreamCheck {
  /** Kinesis records in the stream (an aggregate counts once). */
  kinesisRecords: number;
  /** User records, de-aggregated. */
  records: number;
  distinctIds: number;
  /** User records per shard, in hash key order. */
  perShard: number[];
}

interface GenerateResult {
  kind: 'generate';
  records: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
}
interface ProduceResult {
  kind: 'produce';
  mode: ProduceMode;
  records: number;
  seconds: number;
  cpuSeconds: number;
  /** kinesalite's CPU time over the same span (Linux only). */
  serverCpuSeconds: number | undefined;
  maxRssMiB: number;
  sent: Sent;
  /** What the producer's `close()` reported (the PutRecord loop: its own counts). */
  producer: { sent: number; retried: number; failed: number };
  /** The failure steps: what the middleware failed. */
  injected?: Injected;
  stream: StreamCheck;
  problems: string[];
}
interface EndToEndResult {
  kind: 'end-to-end';
  mode: EndToEndMode;
  records: number;
  seconds: number;
  cpuSeconds: number;
  /** kinesalite's CPU time over the same span (Linux only). */
  serverCpuSeconds: number | undefined;
  /** When the producer's `close()` resolved: every record was in the stream. */
  producedSeconds: number;
  maxRssMiB: number;
  sent: Sent;
  objects: number;
  rawBytes: number;
  sourceCalls: number;
  /** Duration of the source's slowest `GetRecords` call, and the mean. */
  readMaxMs: number;
  readMeanMs: number;
  problems: string[];
}
type StepResult = GenerateResult | ProduceResult | EndToEndResult;

/** Wall time since the call; `cpu()`: this process's CPU time since the call (kinesalite's is its own). */

/**
 * CPU seconds a process has used so far, from /proc (Linux; `undefined` elsewhere): how busy
 * kinesalite, which runs in a process of its own, was during a step.
 */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // In clock ticks of 1/100 s (USER_HZ) on every Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Measures kinesalite's CPU seconds from now on: call the result when the timed part ends. */
function serverCpu(pid: number): () => number | undefined {
  const started = processCpuSeconds(pid);
  return () => {
    const now = processCpuSeconds(pid);
    return started === undefined || now === undefined ? undefined : now - started;
  };
}

type Sdk = typeof KinesisSdk;

/**
 * The Kinesis SDK the streams package is tested with. It is not a dependency of the repository's
 * root, so it is loaded from the streams package: the same copy that `KinesisProducer` loads.
 */
function loadSdk(repoRoot: string): Sdk {
  return createRequire(join(repoRoot, 'packages/streams/package.json'))('@aws-sdk/client-kinesis') as Sdk;
}

/**
 * Counts the requests, Kinesis records and bytes of every PutRecords / PutRecord call made with
 * `client` (by wrapping its `send`: a request the SDK itself retries counts once).
 */
function countPuts(client: KinesisSdk.KinesisClient, sdk: Sdk): Sent {
  const sent: Sent = { requests: 0, kinesisRecords: 0, bytes: 0 };
  const add = (entry: { Data?: Uint8Array | undefined; PartitionKey?: string | undefined }) => {
    sent.kinesisRecords++;
    sent.bytes += (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '');
  };
  const send = client.send.bind(client) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
  (client as { send: unknown }).send = (command: unknown, ...rest: unknown[]) => {
    // instanceof also proves that the producer uses the same copy of the SDK as this bench.
    if (command instanceof sdk.PutRecordsCommand) {
      sent.requests++;
      for (const entry of command.input.Records ?? []) add(entry);
    } else if (command instanceof sdk.PutRecordCommand) {
      sent.requests++;
      add(command.input);
    }
    return send(command, ...rest);
  };
  return sent;
}

/** What the failure-injecting middleware did. */
interface Injected {
  /** PutRecords entries it saw. */
  entries: number;
  /** Entries it held back from the server and answered as failed. */
  failed: number;
}

/**
 * Makes a share `rate` of the PutRecords entries sent with `client` fail, as Kinesis does when a
 * shard is over its limit: each chosen entry is held back from the server (so nothing failed is
 * stored) and answered with `ProvisionedThroughputExceededException` at its position. The choice
 * is deterministic: a hash of the entry's data and of how many times that data was seen before,
 * so the same records fail the same number of times in every run, whatever the timing.
 */
function injectEntryFailures(client: KinesisSdk.KinesisClient, rate: number): Injected {
  const injected: Injected = { entries: 0, failed: 0 };
  const seen = new Map<number, number>();
  const fnv1a = (data: Uint8Array, seed: number) => {
    let hash = 0x811c9dc5 ^ seed;
    for (const byte of data) hash = Math.imul(hash ^ byte, 0x01000193);
    return hash >>> 0;
  };
  const fails = (data: Uint8Array) => {
    const key = fnv1a(data, 0);
    const attempt = seen.get(key) ?? 0;
    seen.set(key, attempt + 1);
    return fnv1a(data, Math.imul(attempt + 1, 0x9e3779b1)) / 2 ** 32 < rate;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as KinesisSdk.PutRecordsCommandInput;
      const entries = input.Records ?? [];
      const failing = entries.map((entry) => fails(entry.Data ?? new Uint8Array()));
      const kept = entries.filter((_, i) => !failing[i]);
      injected.entries += entries.length;
      injected.failed += entries.length - kept.length;
      const stored: KinesisSdk.PutRecordsResultEntry[] = [];
      if (kept.length > 0) {
        const result = await next({ ...args, input: { ...input, Records: kept } });
        stored.push(...((result.output as KinesisSdk.PutRecordsCommandOutput).Records ?? []));
      }
      const answer = failing.map(
        (failed): KinesisSdk.PutRecordsResultEntry =>
          failed
            ? {
                ErrorCode: 'ProvisionedThroughputExceededException',
                ErrorMessage: 'Rate exceeded (injected)',
              }
            : (stored.shift() as KinesisSdk.PutRecordsResultEntry),
      );
      const output: KinesisSdk.PutRecordsCommandOutput = {
        $metadata: { httpStatusCode: 200 },
        FailedRecordCount: entries.length - kept.length,
        Records: answer,
      };
      return { output, response: {} };
    },
    { step: 'initialize', name: 'benchEntryFailures' },
  );
  return injected;
}

export async function runStep(input: StepInput): Promise<StepResult> {
  if (input.kind === 'generate') {
    const { generateRecords } = await import('@tributary/sensors');
    const elapsed = stopwatch();
    let checksum = 0;
    // Touch every record so that nothing of the generation can be skipped.
    for (const record of generateRecords(fleetOptions(input.records)))
      checksum += record.value + record.id.length;
    const seconds = elapsed();
    const cpuSeconds = elapsed.cpu();
    if (!Number.isFinite(checksum)) throw new Error('generated nothing usable');
    return { kind: 'generate', records: input.records, seconds, cpuSeconds, maxRssMiB: maxRssMiB() };
  }
  // The SDK warns once per process that its releases from 2027 need Node 22: known, and noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const sdk = loadSdk(fileURLToPath(new URL('..', import.meta.url)));
  const { startKinesalite } = await import('@tributary/local');
  // kinesalite runs in a child process of this one: its memory is not in this process's peak RSS.
  const kinesis = await startKinesalite({ streams: [{ name: STREAM, shards: SHARDS }] });
  try {
    return input.kind === 'produce'
      ? await produce(input.mode, input.records, sdk, kinesis)
      : await endToEnd(input.mode, input.records, input.dir, sdk, kinesis);
  } finally {
    await kinesis.stop();
  }
}

type Kinesalite = Awaited<ReturnType<typeof import('@tributary/local').startKinesalite>>;

async function produce(
  mode: ProduceMode,
  records: number,
  sdk: Sdk,
  kinesis: Kinesalite,
): Promise<ProduceResult> {
  const [{ generateRecords, sensorProducerOptions, sensorRecordSchema }, { KinesisProducer }] =
    await Promise.all([import('@tributary/sensors'), import('@tributary/streams/kinesis')]);
  const { encodeNdjsonLine } = await import('@tributary/core');
  const client = new sdk.KinesisClient(kinesis.createClientConfig());
  const sent = countPuts(client, sdk);
  const injected = isFailureMode(mode) ? injectEntryFailures(client, FAILURE_RATES[mode]) : undefined;
  const fleet = generateRecords(fleetOptions(records));
  let producer: ProduceResult['producer'];
  let seconds: number;
  let cpuSeconds: number;
  let serverCpuSeconds: number | undefined;

  if (mode === 'single') {
    // The baseline the issue asks for: the plain SDK, one request per record, the producer's
    // encoding and partition key, a few requests in flight as a simple app would have.
    const failures: unknown[] = [];
    let ok = 0;
    const server = serverCpu(kinesis.pid);
    const elapsed = stopwatch();
    const worker = async () => {
      for (let next = fleet.next(); !next.done; next = fleet.next()) {
        const record = next.value;
        try {
          await client.send(
            new sdk.PutRecordCommand({
              StreamName: STREAM,
              Data: Buffer.from(encodeNdjsonLine(record, sensorRecordSchema), 'utf8'),
              PartitionKey: record.sensorId,
            }),
          );
          ok++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: SINGLE_IN_FLIGHT }, worker));
    seconds = elapsed();
    cpuSeconds = elapsed.cpu();
    serverCpuSeconds = server();
    producer = { sent: ok, retried: 0, failed: failures.length };
  } else {
    const kinesisProducer = new KinesisProducer({
      client,
      streamName: STREAM,
      ...sensorProducerOptions,
      ...(mode === 'aggregated' ? { aggregate: true } : {}),
      // kinesalite never throttles: with Kinesis' limits in force, 4 shards take 4,000 records/s
      // at most and the producer would measure the limit, not itself.
      ...(mode === 'limited' ? {} : { rateLimit: RAISED_LIMIT }),
    });
    const server = serverCpu(kinesis.pid);
    const elapsed = stopwatch();
    await kinesisProducer.putMany(fleet);
    producer = await kinesisProducer.close();
    seconds = elapsed();
    cpuSeconds = elapsed.cpu();
    serverCpuSeconds = server();
  }
  // Read before the stream is read back, so that the peak is the sending's alone.
  const rss = maxRssMiB();

  const stream = await readStream(client, sdk);
  client.destroy();
  const problems = await checkStream(stream, records, mode === 'aggregated');
  if (producer.sent !== records || producer.failed !== 0) {
    problems.push(
      `the producer reported ${producer.sent} sent and ${producer.failed} failed, expected ${records} sent`,
    );
  }
  // Entries the middleware failed were sent but never reached the server.
  const heldBack = injected?.failed ?? 0;
  if (sent.kinesisRecords - heldBack !== stream.check.kinesisRecords) {
    problems.push(
      `${sent.kinesisRecords} Kinesis records were sent (${heldBack} of them failed by the middleware), the stream holds ${stream.check.kinesisRecords}`,
    );
  }
  if (injected !== undefined && producer.retried !== injected.failed) {
    problems.push(
      `the middleware failed ${injected.failed} entries, the producer reported ${producer.retried} re-sent`,
    );
  }
  if (mode !== 'aggregated' && stream.check.kinesisRecords !== records) {
    problems.push(`the stream holds ${stream.check.kinesisRecords} Kinesis records, expected one per record`);
  }
  if (mode === 'limited') {
    // The bucket of each shard starts full (one second's worth); after that, at most the
    // limit per second. The hottest shard sets the pace.
    const hottest = Math.max(...stream.check.perShard);
    const fastest = (hottest - SHARD_RECORDS_PER_SECOND) / seconds;
    if (fastest > SHARD_RECORDS_PER_SECOND * (1 + LIMIT_TOLERANCE)) {
      problems.push(
        `the hottest shard took ${int(hottest)} records in ${seconds.toFixed(2)} s: ${int(fastest)} records/s after its first second's burst, over the ${int(SHARD_RECORDS_PER_SECOND)} limit`,
      );
    }
  }
  return {
    kind: 'produce',
    mode,
    records,
    seconds,
    cpuSeconds,
    serverCpuSeconds,
    maxRssMiB: rss,
    sent: { ...sent },
    producer: { sent: producer.sent, retried: producer.retried, failed: producer.failed },
    ...(injected === undefined ? {} : { injected: { ...injected } }),
    stream: stream.check,
    problems,
  };
}

interface StoredRecord {
  partitionKey: string;
  data: Uint8Array;
}

/** Every record of every shard from TRIM_HORIZON, by shard in hash key order. */
async function readStream(
  client: KinesisSdk.KinesisClient,
  sdk: Sdk,
): Promise<{ shards: StoredRecord[][]; check: StreamCheck }> {
  const { Shards = [] } = await client.send(new sdk.ListShardsCommand({ StreamName: STREAM }));
  const ordered = [...Shards].sort((a, b) => {
    const start = (s: typeof a) => BigInt(s.HashKeyRange?.StartingHashKey ?? '0');
    return start(a) < start(b) ? -1 : start(a) > start(b) ? 1 : 0;
  });
  const shards: StoredRecord[][] = [];
  for (const shard of ordered) {
    const records: StoredRecord[] = [];
    let { ShardIterator: iterator } = await client.send(
      new sdk.GetShardIteratorCommand({
        StreamName: STREAM,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (iterator !== undefined) {
      const page = await client.send(new sdk.GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const got = page.Records ?? [];
      for (const record of got) {
        records.push({ partitionKey: record.PartitionKey ?? '', data: record.Data ?? new Uint8Array() });
      }
      iterator = got.length === 0 ? undefined : page.NextShardIterator;
    }
    shards.push(records);
  }
  return {
    shards,
    check: {
      kinesisRecords: shards.reduce((n, s) => n + s.length, 0),
      records: 0,
      distinctIds: 0,
      perShard: [],
    },
  };
}

/** The ids the fleet generates for `records` records. */
async function expectedIds(records: number): Promise<Set<string>> {
  const { generateRecords } = await import('@tributary/sensors');
  const ids = new Set<string>();
  for (const record of generateRecords(fleetOptions(records))) ids.add(record.id);
  if (ids.size !== records)
    throw new Error(`the fleet generated ${ids.size} distinct ids for ${records} records`);
  return ids;
}

/**
 * Compares user records (NDJSON lines) with what the fleet generated: the same count, every id
 * once, none missing or unexpected. Adds to `problems` and returns the count and distinct ids.
 */
function compareIds(
  lines: Iterable<{ line: string; partitionKey: string | undefined }>,
  expected: Set<string>,
  problems: string[],
): { records: number; distinctIds: number } {
  const seen = new Set<string>();
  let records = 0;
  let duplicates = 0;
  let unexpected = 0;
  let badKeys = 0;
  let badLines = 0;
  for (const { line, partitionKey } of lines) {
    records++;
    let parsed: Partial<SensorRecord>;
    try {
      parsed = JSON.parse(line) as Partial<SensorRecord>;
    } catch {
      badLines++;
      continue;
    }
    const id = String(parsed.id);
    if (seen.has(id)) duplicates++;
    seen.add(id);
    if (!expected.has(id)) unexpected++;
    if (partitionKey !== undefined && partitionKey !== parsed.sensorId) badKeys++;
  }
  const missing = [...expected].filter((id) => !seen.has(id)).length;
  if (records !== expected.size) problems.push(`${int(records)} records, expected ${int(expected.size)}`);
  if (seen.size !== expected.size)
    problems.push(`${int(seen.size)} distinct ids, expected ${int(expected.size)}`);
  if (duplicates > 0) problems.push(`${int(duplicates)} duplicates`);
  if (missing > 0) problems.push(`${int(missing)} ids missing`);
  if (unexpected > 0) problems.push(`${int(unexpected)} ids the fleet did not generate`);
  if (badKeys > 0) problems.push(`${int(badKeys)} records whose partition key is not their sensorId`);
  if (badLines > 0) problems.push(`${int(badLines)} records that are not JSON`);
  return { records, distinctIds: seen.size };
}

/**
 * The stream must hold exactly the generated records: every Kinesis record de-aggregated (only
 * the aggregated step may hold aggregates), each user record one NDJSON line under its sensor's
 * partition key. Fills in `stream.check` and returns the problems found.
 */
async function checkStream(
  stream: { shards: StoredRecord[][]; check: StreamCheck },
  records: number,
  aggregated: boolean,
): Promise<string[]> {
  const { deaggregate } = await import('@tributary/streams');
  const problems: string[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let aggregates = 0;
  let notOneLine = 0;
  const perShard = stream.shards.map(() => 0);
  function* lines() {
    for (const [shard, stored] of stream.shards.entries()) {
      for (const record of stored) {
        const users = deaggregate(record.data, record.partitionKey);
        if (users.some((u) => u.aggregated)) aggregates++;
        for (const user of users) {
          perShard[shard] = (perShard[shard] ?? 0) + 1;
          const text = decoder.decode(user.data);
          if (text.indexOf('\n') !== text.length - 1) notOneLine++;
          yield { line: text, partitionKey: user.partitionKey };
        }
      }
    }
  }
  const { records: count, distinctIds } = compareIds(lines(), await expectedIds(records), problems);
  if (notOneLine > 0) problems.push(`${int(notOneLine)} user records that are not one NDJSON line`);
  if (aggregated && aggregates === 0)
    problems.push('aggregate: true, yet no Kinesis record is a KPL aggregate');
  if (!aggregated && aggregates > 0)
    problems.push(`${aggregates} KPL aggregates in a stream written without aggregation`);
  Object.assign(stream.check, { records: count, distinctIds, perShard });
  return problems;
}

/**
 * The sensors' pipeline: the batched producer (as in the batched or the aggregated step) into the stream while a
 * `KinesisSource` reads every shard and `deliverToLake` writes the raw zone (`LocalStorage`,
 * checkpoints in the lake, Firehose's 60 s / 5 MiB buffering), all in this process. Timed until
 * every record is stored in the raw zone: once the delivery has accepted as many records as were
 * produced, the source is stopped (a real one runs on, and `stopWhenIdle` would add its idle
 * wait), and `deliverToLake` flushes the last object and saves the checkpoints.
 */
async function endToEnd(
  mode: EndToEndMode,
  records: number,
  dir: string,
  sdk: Sdk,
  kinesis: Kinesalite,
): Promise<EndToEndResult> {
  const [
    { generateRecords, sensorDeliveryOptions, sensorProducerOptions },
    { LakeCheckpointStore },
    { KinesisProducer, KinesisSource, deliverToLake },
    { LocalStorage },
  ] = await Promise.all([
    import('@tributary/sensors'),
    import('@tributary/streams'),
    import('@tributary/streams/kinesis'),
    import('@tributary/lake'),
  ]);
  const producerClient = new sdk.KinesisClient(kinesis.createClientConfig());
  const sourceClient = new sdk.KinesisClient(kinesis.createClientConfig());
  const sent = countPuts(producerClient, sdk);
  const storage = new LocalStorage({ root: dir });
  const stop = new AbortController();
  const reads = { count: 0, totalMs: 0, maxMs: 0 };
  const source = new KinesisSource({
    client: sourceClient,
    streamName: STREAM,
    checkpoints: new LakeCheckpointStore({ storage }),
    signal: stop.signal,
    onEvent: (event) => {
      if (event.type !== 'batch' || event.durationMs === undefined) return;
      reads.count++;
      reads.totalMs += event.durationMs;
      reads.maxMs = Math.max(reads.maxMs, event.durationMs);
    },
  });
  const producer = new KinesisProducer({
    client: producerClient,
    streamName: STREAM,
    ...sensorProducerOptions,
    ...(mode === 'end-to-end-aggregated' ? { aggregate: true } : {}),
    rateLimit: RAISED_LIMIT,
  });
  const problems: string[] = [];
  let accepted = 0;
  let lastProgress = performance.now();

  const server = serverCpu(kinesis.pid);
  const elapsed = stopwatch();
  const delivering = deliverToLake({
    source,
    storage,
    ...sensorDeliveryOptions,
    onEvent: (event) => {
      if (event.type === 'records.in') {
        accepted += event.count;
        lastProgress = performance.now();
        if (accepted >= records) stop.abort();
      } else if (event.type === 'failure') {
        problems.push(`delivery failure event: ${event.code} (${event.count} records)`);
      }
    },
  });
  // Should records go missing, the delivery would wait for them for ever: give up after a while
  // and let the check below say what is missing.
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const result = await (async () => {
    await producer.putMany(generateRecords(fleetOptions(records)));
    const produced = await producer.close();
    const producedSeconds = elapsed();
    watchdog = setInterval(() => {
      if (performance.now() - lastProgress <= STALL_MS) return;
      problems.push(
        `the delivery stalled at ${int(accepted)} of ${int(records)} records for ${STALL_MS / 1000} s`,
      );
      stop.abort();
    }, 1_000);
    const stats = await delivering;
    return {
      produced,
      producedSeconds,
      stats,
      seconds: elapsed(),
      cpuSeconds: elapsed.cpu(),
      serverCpuSeconds: server(),
    };
  })().finally(() => clearInterval(watchdog));
  const rss = maxRssMiB();
  const sourceStats = source.stats();
  producerClient.destroy();
  sourceClient.destroy();

  const { produced, stats } = result;
  if (produced.sent !== records || produced.failed !== 0) {
    problems.push(
      `the producer reported ${produced.sent} sent and ${produced.failed} failed, expected ${records} sent`,
    );
  }
  if (stats.recordsDelivered !== records || stats.recordsFailed !== 0 || stats.errorObjects !== 0) {
    problems.push(
      `the delivery reported ${stats.recordsDelivered} delivered, ${stats.recordsFailed} failed in ${stats.errorObjects} error objects, expected ${records} delivered`,
    );
  }
  const aggregated = sent.kinesisRecords < records;
  if (aggregated !== (mode === 'end-to-end-aggregated')) {
    problems.push(`${int(sent.kinesisRecords)} Kinesis records sent for ${int(records)} records`);
  }
  // Read back from the files, not from the delivery's word.
  const raw = rawZoneLines(dir);
  if (raw.errorFiles > 0) problems.push(`${raw.errorFiles} objects under errors/`);
  compareIds(
    raw.lines.map((line) => ({ line, partitionKey: undefined })),
    await expectedIds(records),
    problems,
  );
  return {
    kind: 'end-to-end',
    mode,
    records,
    seconds: result.seconds,
    cpuSeconds: result.cpuSeconds,
    serverCpuSeconds: result.serverCpuSeconds,
    producedSeconds: result.producedSeconds,
    maxRssMiB: rss,
    sent: { ...sent },
    objects: raw.files,
    rawBytes: raw.bytes,
    sourceCalls: sourceStats.calls,
    readMaxMs: reads.maxMs,
    readMeanMs: reads.count === 0 ? 0 : reads.totalMs / reads.count,
    problems,
  };
}

/** Every line of every object under `sensors/` in the raw zone. */
function rawZoneLines(dir: string): { lines: string[]; files: number; bytes: number; errorFiles: number } {
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  let errorFiles = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const key = path.slice(dir.length + 1);
    if (key.startsWith('errors/')) errorFiles++;
    if (!key.startsWith(`${STREAM}/`)) continue;
    const text = readFileSync(path, 'utf8');
    files++;
    bytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) if (line !== '') lines.push(line);
  }
  return { lines, files, bytes, errorFiles };
}

// ---------------------------------------------------------------------------------------------
// Summary (in the parent)

interface StepOutcome {
  step: Step;
  ok: boolean;
  seconds: number;
  result?: StepResult;
  error?: string;
}

const COLUMNS = [
  { key: 'records', title: 'records' },
  { key: 'step', title: 'step', align: 'left' },
  { key: 'seconds', title: 'time s' },
  { key: 'rate', title: 'records/s' },
  { key: 'ratio', title: '× batched' },
  { key: 'cpu', title: 'CPU s' },
  { key: 'serverCpu', title: 'kinesalite CPU s' },
  { key: 'rss', title: 'peak RSS MiB' },
  { key: 'kinesisRecords', title: 'Kinesis records sent' },
  { key: 'requests', title: 'requests' },
  { key: 'mib', title: 'MiB sent' },
];

const EMPTY_ROW = Object.fromEntries(COLUMNS.map((c) => [c.key, '—']));

/** Records/s a stream of `shards` shards takes under Kinesis' limits, for records of this shape. */
function awsCap(records: number, sent: Sent, shards = SHARDS): number {
  const byCount = (shards * SHARD_RECORDS_PER_SECOND * records) / sent.kinesisRecords;
  const byBytes = (shards * SHARD_BYTES_PER_SECOND * records) / sent.bytes;
  return Math.min(byCount, byBytes);
}

export function summarize(outcomes: StepOutcome[], context: { plan: ReturnType<typeof plan> }) {
  const { options } = context.plan;
  const rows: Record<string, string>[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const find = (mode: Mode) =>
    outcomes.find((o) => o.ok && o.result !== undefined && modeOf(o.result) === mode)?.result;
  const batched = find('batched');
  const batchedRate = batched ? batched.records / batched.seconds : undefined;
  const generated = find('generate');

  for (const outcome of outcomes) {
    const { input } = outcome.step;
    const label = outcome.step.label;
    if (!outcome.ok || !outcome.result) {
      failures.push(`${label}: ${outcome.error}`);
      rows.push({ ...EMPTY_ROW, records: int(input.records), step: label, seconds: 'FAILED' });
      continue;
    }
    const r = outcome.result;
    const rate = r.records / r.seconds;
    const row: Record<string, string> = {
      ...EMPTY_ROW,
      records: int(r.records),
      step: label,
      seconds: r.seconds.toFixed(2),
      rate: int(rate),
      cpu: r.cpuSeconds.toFixed(2),
      rss: r.maxRssMiB.toFixed(0),
    };
    if (r.kind !== 'generate') {
      Object.assign(row, {
        ratio: batchedRate === undefined ? '—' : `${(rate / batchedRate).toFixed(2)}×`,
        serverCpu: r.serverCpuSeconds === undefined ? '—' : r.serverCpuSeconds.toFixed(2),
        kinesisRecords: int(r.sent.kinesisRecords),
        requests: int(r.sent.requests),
        mib: mib(r.sent.bytes),
      });
      if (r.problems.length > 0) {
        row.seconds = `${row.seconds} MISMATCH`;
        failures.push(`${label}: ${r.problems.join('; ')}`);
      }
    }
    rows.push(row);

    if (r.kind === 'produce') {
      const s = r.stream;
      const status =
        r.problems.length === 0 ? 'verified, every generated id once' : `MISMATCH (${r.problems.join('; ')})`;
      notes.push(
        `${MODES[r.mode]}: read back ${int(s.kinesisRecords)} Kinesis records, ${int(s.records)} records de-aggregated, ${int(s.distinctIds)} distinct ids: ${status}; records per shard ${s.perShard.map(int).join(' / ')}. ` +
          `Sent per record: ${(r.sent.bytes / r.records).toFixed(0)} bytes and ${(r.sent.kinesisRecords / r.records).toFixed(r.mode === 'aggregated' ? 4 : 0)} Kinesis records, so a real ${SHARDS}-shard stream takes at most ${int(awsCap(r.records, r.sent))} records/s of these.`,
      );
      if (r.mode === 'limited') {
        const hottest = Math.max(...s.perShard);
        const sustained = (hottest - SHARD_RECORDS_PER_SECOND) / r.seconds;
        const head = `default rate limit (${int(SHARD_RECORDS_PER_SECOND)} records/s and 1 MiB/s per shard): ${int(rate)} records/s in ${int(r.sent.requests)} requests of ${(r.sent.kinesisRecords / r.sent.requests).toFixed(0)} records on average; the hottest shard took ${int(hottest)} records in ${r.seconds.toFixed(2)} s`;
        notes.push(
          hottest <= SHARD_RECORDS_PER_SECOND
            ? `${head}, all within the first second's burst (each shard's bucket starts full): too few records to show the limit, use --capped 20k or more.`
            : `${head}, ${int(sustained)} records/s after the first second's burst (each shard's bucket starts full): ${sustained <= SHARD_RECORDS_PER_SECOND * (1 + LIMIT_TOLERANCE) ? `within ${int(SHARD_RECORDS_PER_SECOND)}, the limiter holds the real-AWS rate` : `OVER the ${int(SHARD_RECORDS_PER_SECOND)} limit`}.`,
        );
      }
      if (r.mode === 'single' && r.records < options.records) {
        notes.push(
          `one PutRecord per record ran ${int(r.records)} records, not ${int(options.records)}; its rate does not depend on the count: ${int(options.records)} would take about ${(options.records / rate).toFixed(0)} s at ${int(rate)} records/s.`,
        );
      }
    }
    if (r.kind === 'end-to-end') {
      const status =
        r.problems.length === 0 ? 'verified, every generated id once' : `MISMATCH (${r.problems.join('; ')})`;
      notes.push(
        `${MODES[r.mode]}: ${r.objects} objects (${mib(r.rawBytes)} MiB of NDJSON) in the raw zone, read back: ${status}. The producer was done after ${r.producedSeconds.toFixed(2)} s (${int(r.records / r.producedSeconds)} records/s into the stream while the source read), the last object stored after ${r.seconds.toFixed(2)} s. The source made ${int(r.sourceCalls)} GetRecords calls, ${(r.readMeanMs / 1000).toFixed(2)} s each on average, the slowest ${(r.readMaxMs / 1000).toFixed(2)} s. Producer, source and delivery share one process (its peak RSS).`,
      );
    }
  }
  const failureSteps = (['failures-0', 'failures-30'] as const).map(find);
  const [clean, failing] = failureSteps;
  if (clean?.kind === 'produce' && failing?.kind === 'produce') {
    const cleanRate = clean.records / clean.seconds;
    const failingRate = failing.records / failing.seconds;
    const ratio = failingRate / cleanRate;
    const injected = failing.injected ?? { entries: 0, failed: 0 };
    const verdict = ratio >= MIN_FAILURE_RATIO ? 'at or above' : 'BELOW';
    notes.push(
      `entry failures (batched settings, SDK middleware holding entries back and answering ProvisionedThroughputExceededException): ${int(cleanRate)} records/s with none failed, ${int(failingRate)} records/s with ${((injected.failed / Math.max(1, injected.entries)) * 100).toFixed(1)} % of ${int(injected.entries)} entries failed (${int(failing.producer.retried)} re-sent): ratio ${ratio.toFixed(2)}, ${verdict} the ${MIN_FAILURE_RATIO} target.`,
    );
    if (clean.records !== failing.records) {
      failures.push(
        `the failure steps ran ${int(clean.records)} and ${int(failing.records)} records: their rates are not comparable`,
      );
    } else if (ratio < MIN_FAILURE_RATIO) {
      failures.push(
        `with 30 % of entries failing the producer ran at ${ratio.toFixed(2)}× its rate without failures (${int(failingRate)} vs ${int(cleanRate)} records/s), under the ${MIN_FAILURE_RATIO}× target`,
      );
    }
  }
  if (generated && batched) {
    notes.push(
      `generating the records takes ${((generated.seconds / generated.records) * batched.records).toFixed(2)} s of the batched producer's ${batched.seconds.toFixed(2)} s.`,
    );
  }
  notes.push(
    "`CPU s`: user + system time of the step's own process over the timed span (the producer, or in the end-to-end step producer, source and delivery); `kinesalite CPU s`: the server's process over the same span. `MiB sent`: data plus partition keys of every record sent.",
  );
  notes.push(
    `kinesalite ${SHARDS} shards, in its own process (not counted in peak RSS), one per step; it never throttles, so the producer steps other than "default rate limit" raise the per-shard limit ${int(RAISED_LIMIT.recordsPerSecond / SHARD_RECORDS_PER_SECOND)}×. Kinesis' default of 1,000 records/s and 1 MiB/s per shard caps ${SHARDS} shards at ${int(SHARDS * SHARD_RECORDS_PER_SECOND)} records/s without aggregation.`,
  );
  return { columns: COLUMNS, rows, notes, failures };
}

function modeOf(result: StepResult): Mode {
  return result.kind === 'generate' ? result.kind : result.mode;
}
