import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanIceberg } from '@tributary/lake';
import { afterAll, describe, expect, it } from 'vitest';
import { runSensorsToLake } from '../../src/sensors-to-lake.js';

const out = mkdtempSync(join(tmpdir(), 'tributary-example-sensors-'));
// The same simulated day (yesterday, UTC) in both runs: the second run replays the very same records.
const day = 86_400_000;
const start = new Date(Math.floor(Date.now() / day) * day - day);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('examples/sensors-to-lake', () => {
  it('runs fleet → Kinesis → raw → processed → curated and summarizes each sensor type', async () => {
    const result = await runSensorsToLake({ out, records: 6_000, sensorsPerType: 2, seed: 7, start });

    expect(result.produced).toBe(6_000);
    expect(result.delivered).toBe(6_000);
    expect(result.rawObjects).toBeGreaterThan(0);
    expect(result.processed.written).toBe(6_000);
    expect(result.processed.invalid).toBe(0);
    expect(result.byType.map((t) => t.type)).toEqual(['hydraulic_pressure', 'power_factor', 'temperature']);
    expect(result.byType.reduce((sum, t) => sum + t.records, 0)).toBe(6_000);
    const temperature = result.byType.find((t) => t.type === 'temperature');
    expect(temperature?.unit).toBe('°C');
    expect(temperature?.min).toBeLessThan(temperature?.max as number);
    // Iceberg by default: the processed table's current snapshot holds every record once.
    const scan = await scanIceberg({ storage: result.lake.processed, table: 'sensors' });
    expect(scan.files.reduce((n, f) => n + f.rows, 0)).toBe(6_000);
    expect(scan.metadata['partition-specs'].at(-1)?.fields.map((f) => f.transform)).toEqual(['hour']);
  }, 120_000);

  it('is idempotent: a second run on the same folder gives the same processed and curated tables', async () => {
    const again = await runSensorsToLake({ out, records: 6_000, sensorsPerType: 2, seed: 7, start });

    // The raw zone now holds both runs' deliveries; deduplication by id keeps one copy of each.
    expect(again.processed.written).toBe(6_000);
    expect(again.byType.reduce((sum, t) => sum + t.records, 0)).toBe(6_000);
  }, 120_000);
});
