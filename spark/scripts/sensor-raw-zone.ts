// A sensor raw zone written the way the TypeScript pipeline writes one: a seeded fleet
// (`generateRecords`) delivered Firehose-style by the lake's `createDelivery` into
// `sensors/YYYY/MM/DD/HH/`, by arrival time. Optionally with what real streams bring: at-least-once
// copies, late and early arrivals, records beyond the lateness window, conflicting copies, gzip
// objects, and an object of lines that are not valid records. Used by the cross-engine test and
// by `pnpm bench spark`, so both engines get the very same input.
import { createDelivery, LocalStorage } from '@tributary/lake';
import { generateRecords, type SensorRecord } from '@tributary/sensors';

const HOUR_MS = 3_600_000;
const BUFFER_MS = 60_000;

/** Options of {@link writeSensorRawZone}. */
export interface SensorRawZoneOptions {
  /** The raw zone's folder. */
  root: string;
  records: number;
  seed?: number;
  /** Event time of the first record. Default 2026-11-22T20:00:00Z. */
  start?: Date;
  /** Event time the records span. Default 8 hours. */
  spanMs?: number;
  /**
   * Add duplicates, late, early and out-of-window arrivals, conflicting copies and bad lines, a
   * line that is not UTF-8, a record of a type no registry holds, and objects that are not read
   * (outside the hour folders, not NDJSON) or ignored (`_SUCCESS`).
   */
  edgeCases?: boolean;
  /** Records per object at most; an object also closes 60 s (arrival time) after its first record. Default 2,000. */
  recordsPerObject?: number;
}

/** What {@link writeSensorRawZone} wrote. */
export interface SensorRawZone {
  records: number;
  lines: number;
  objects: number;
  bytes: number;
}

/** Lines that are not valid records, as a misbehaving producer sends them. */
export const BAD_LINES = [
  'not json at all',
  '[1,2,3]',
  'null',
  '{"id":"x:1","sensorId":"x","type":"temperature","value":"hot","unit":"°C","timestamp":"2026-11-22T21:00:00Z"}',
  '{"id":"x:2","sensorId":"x","type":"temperature","value":1,"unit":"°C","timestamp":"2026-02-30T21:00:00Z"}',
  '{"id":"x:3","sensorId":"x","type":"temperature","value":1,"unit":"°C","timestamp":"2026-11-22T21:00:00Z","extra":true}',
  '{"id":"x:4","type":"temperature","value":1,"unit":"°C","timestamp":1795460400000}',
  '',
  '{"id":"x:5","sensorId":"x","type":"temperature","value":1e400,"unit":"°C","timestamp":"2026-11-22T21:00:00Z"}',
  `{"id":"${'i'.repeat(300)}","sensorId":"x","type":"temperature","value":1,"unit":"°C","timestamp":"2026-11-22T21:00:00Z"}`,
  '{"id":"x:6","sensorId":"x","type":"temperature","value":2.5,"unit":"°C","timestamp":"2026-11-22T22:30:00+01:00"}',
  '{"id":"x:7","sensorId":"x","type":"temperature","value":3,"unit":"°C","timestamp":1795460400000.9}',
];

/**
 * Write a raw zone of `records` fleet records (plus, with `edgeCases`, the copies and bad lines).
 *
 * @example
 * ```ts
 * await writeSensorRawZone({ root: '/tmp/lake/raw', records: 10_000, edgeCases: true });
 * ```
 */
export async function writeSensorRawZone(options: SensorRawZoneOptions): Promise<SensorRawZone> {
  const storage = new LocalStorage({ root: options.root });
  const start = options.start ?? new Date(Date.UTC(2026, 10, 22, 20));
  const spanMs = options.spanMs ?? 8 * HOUR_MS;
  const perObject = options.recordsPerObject ?? 2_000;
  const fleet = generateRecords({
    sensorsPerType: 20,
    seed: options.seed ?? 42,
    start,
    ratePerSecond: options.records / (spanMs / 1000),
    records: options.records,
    anomalies: { spikeRate: 0.002, stuckRate: 0.001, dropoutRate: 0.001 },
  });
  let objects = 0;
  let bytes = 0;
  let lines = 0;
  const deliver = async (
    streamName: string,
    compression: 'none' | 'gzip',
    arrivals: Iterable<{ data: SensorRecord; arrivalTime: number }>,
  ) => {
    const delivery = createDelivery({
      storage,
      prefix: 'sensors/',
      streamName,
      compression,
      bufferBytes: 128 * 1024 * 1024,
      bufferIntervalMs: 900_000,
    });
    let inObject = 0;
    let oldest = 0;
    for (const arrival of arrivals) {
      // Firehose's buffer: out after `perObject` records or 60 s after its oldest record arrived.
      if (inObject > 0 && arrival.arrivalTime - oldest >= BUFFER_MS) {
        await delivery.flush();
        inObject = 0;
      }
      if (inObject === 0) oldest = arrival.arrivalTime;
      await delivery.write(arrival);
      lines++;
      if (++inObject === perObject) {
        await delivery.flush();
        inObject = 0;
      }
    }
    const stats = await delivery.close();
    objects += stats.objects;
    bytes += stats.bytes;
  };

  if (!options.edgeCases) {
    // Streamed: memory stays bounded for millions of records (arrival = event time + 2 s).
    await deliver(
      'sensors',
      'none',
      (function* () {
        for (const record of fleet) yield { data: record, arrivalTime: record.timestamp.getTime() + 2_000 };
      })(),
    );
    return { records: options.records, lines, objects, bytes };
  }

  // Arrival = event time + a small delay, except for the edge cases.
  const arrivals: { data: SensorRecord; arrivalTime: number }[] = [];
  let n = 0;
  for (const record of fleet) {
    const time = record.timestamp.getTime();
    arrivals.push({ data: record, arrivalTime: time + 2_000 });
    if (n % 50 === 7) arrivals.push({ data: record, arrivalTime: time + 30 * 60_000 }); // a retried send
    if (n % 97 === 3) arrivals.push({ data: record, arrivalTime: time + 3 * HOUR_MS }); // late, in the window
    if (n % 211 === 5) arrivals.push({ data: record, arrivalTime: time + 9 * HOUR_MS }); // beyond 6 h
    if (n % 173 === 11) arrivals.push({ data: record, arrivalTime: time - 90 * 60_000 }); // clock skew: early
    if (n % 131 === 13) {
      // A conflicting copy with an earlier event time: it is the one kept.
      const copy = { ...record, value: record.value + 1, timestamp: new Date(time - 1_000) };
      arrivals.push({ data: copy, arrivalTime: time + 60_000 });
    }
    n++;
  }
  arrivals.sort((a, b) => a.arrivalTime - b.arrivalTime);
  // Every other block of records goes through a gzip delivery.
  const block = (i: number) => Math.floor(i / perObject) % 2;
  await deliver(
    'sensors-plain',
    'none',
    arrivals.filter((_, i) => block(i) === 0),
  );
  await deliver(
    'sensors-gzip',
    'gzip',
    arrivals.filter((_, i) => block(i) === 1),
  );
  const hour = new Date(start.getTime() + HOUR_MS).toISOString();
  const key = `sensors/${hour.slice(0, 4)}/${hour.slice(5, 7)}/${hour.slice(8, 10)}/${hour.slice(11, 13)}/bad-producer-0000.ndjson`;
  const body = `${BAD_LINES.join('\r\n')}\n`;
  await storage.put(key, body);
  objects++;
  bytes += Buffer.byteLength(body);
  lines += BAD_LINES.length;

  // A producer that writes Latin-1 ("é" as the single byte 0xE9) and a sensor type of its own.
  const at = new Date(start.getTime() + HOUR_MS + 10 * 60_000).toISOString();
  const reading = (id: string, type = 'temperature', unit = '°C') =>
    `{"id":"${id}","sensorId":"${id.split(':')[0]}","type":"${type}","value":4.5,"unit":"${unit}","timestamp":"${at}"}`;
  const folder = key.slice(0, key.lastIndexOf('/') + 1);
  const mixed = Buffer.concat([
    Buffer.from(`${reading('latin1-1:0')}\n`),
    Buffer.from(`${reading('caf\u00e9-1:0')}\n`, 'latin1'),
    Buffer.from(
      `${reading('vibration-1:0', 'vibration', 'mm/s')}\n${reading('vibration-1:1', 'vibration', 'mm/s')}\n`,
    ),
  ]);
  await storage.put(`${folder}latin1-producer-0000.ndjson`, mixed);
  // Not read, and reported: outside the hour folders, and not NDJSON. Ignored: `_SUCCESS`.
  await storage.put(
    `${folder.split('/').slice(0, 3).join('/')}/misplaced.ndjson`,
    `${reading('misplaced-1:0')}\n`,
  );
  await storage.put(`${folder}part-0.crc`, Uint8Array.of(0, 1, 2, 3));
  await storage.put(`${folder}_SUCCESS`, '');
  objects++;
  bytes += mixed.length;
  lines += 4;
  return { records: options.records, lines, objects, bytes };
}
