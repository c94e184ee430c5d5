// The benchmark's input: deterministic sensor readings, the same in every child process.

export interface SensorRow {
  id: string;
  sensorId: string;
  type: string;
  value: number;
  timestamp: Date;
}

export const SENSOR_TYPES = ['power_factor', 'temperature', 'hydraulic_pressure'] as const;
const SENSORS = 500;
/**
 * Readings start here (UTC) and span three days per million rows (72 `dt`/`hour` partitions at 1M,
 * 216 at 3M): every partition holds the same number of rows whatever the total, so a writer whose
 * memory is bounded shows the same peak at 1M and 3M.
 */
export const START_MS = Date.UTC(2026, 10, 21);
export function spanMs(count: number): number {
  return Math.max(3_600_000, Math.round((count / 1_000_000) * 3 * 24 * 3_600_000));
}
/** Readings arrive up to this late, so hour boundaries interleave two partitions as real streams do. */
const MAX_LATENESS_MS = 2_000;

/** mulberry32: tiny, fast, and its 32-bit state never repeats within 2³² draws. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex8 = (rnd: () => number) => ((rnd() * 0x100000000) >>> 0).toString(16).padStart(8, '0');

/**
 * `count` readings in time order (give or take two seconds of lateness): a uuid-shaped id from
 * the seeded generator, one of 500 sensors (each of a fixed type), a value in the type's range.
 */
export function* sensorRows(count: number, seed = 20261121): Generator<SensorRow> {
  const rnd = prng(seed);
  const span = spanMs(count);
  for (let i = 0; i < count; i++) {
    const h = hex8(rnd) + hex8(rnd) + hex8(rnd) + hex8(rnd);
    const sensor = Math.floor(rnd() * SENSORS);
    const type = SENSOR_TYPES[sensor % 3] as string;
    const r = rnd();
    const value =
      type === 'power_factor' ? 0.7 + r * 0.3 : type === 'temperature' ? 15 + r * 30 : 80 + r * 120;
    const at = START_MS + Math.floor((i * span) / count) - Math.floor(rnd() * MAX_LATENESS_MS);
    yield {
      id: `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`,
      sensorId: `sensor-${String(sensor).padStart(3, '0')}`,
      type,
      value: Math.round(value * 1000) / 1000,
      timestamp: new Date(Math.max(START_MS, at)),
    };
  }
}

/** What a correct dataset of `sensorRows(count)` holds, for checking a writer's output. */
export interface Expected {
  rows: number;
  distinctIds: number;
  minMs: number;
  maxMs: number;
  valueSum: number;
  partitions: number;
}

/** Generate the rows again and summarise them (a Set of every id: run it outside measured processes). */
export function expectedOf(count: number): Expected {
  const ids = new Set<string>();
  const partitions = new Set<string>();
  let minMs = Number.POSITIVE_INFINITY;
  let maxMs = Number.NEGATIVE_INFINITY;
  let valueSum = 0;
  for (const row of sensorRows(count)) {
    ids.add(row.id);
    const ms = row.timestamp.getTime();
    if (ms < minMs) minMs = ms;
    if (ms > maxMs) maxMs = ms;
    valueSum += row.value;
    partitions.add(row.timestamp.toISOString().slice(0, 13));
  }
  return { rows: count, distinctIds: ids.size, minMs, maxMs, valueSum, partitions: partitions.size };
}
