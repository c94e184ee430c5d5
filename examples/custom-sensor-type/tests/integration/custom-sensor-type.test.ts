import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readDataset } from '@tributary/lake';
import {
  type CuratedHourlyRow,
  curatedHourlySchema,
  type SensorRecord,
  sensorRecordSchema,
} from '@tributary/sensors';
import { afterAll, describe, expect, it } from 'vitest';
import { runCustomSensorType } from '../../src/custom-sensor-type.js';
import { vibrationSensorType } from '../../src/vibration.js';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = resolve(exampleDir, '../../node_modules/.bin/tsx');
const out = mkdtempSync(join(tmpdir(), 'tributary-example-custom-type-'));
const day = 86_400_000;
const start = new Date(Math.floor(Date.now() / day) * day - day);
const dt = start.toISOString().slice(0, 10);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('examples/custom-sensor-type', () => {
  it('runs a user-defined vibration type through the pipeline next to the built-in three', async () => {
    const result = await runCustomSensorType({ out, records: 9_600, sensorsPerType: 2, seed: 11, start });

    // Every record made it through every stage.
    expect(result.produced).toBeGreaterThan(9_500);
    expect(result.delivered).toBe(result.produced);
    expect(result.processed.written).toBe(result.produced);
    expect(result.processed.invalid).toBe(0);
    expect(result.byType.map((t) => t.type)).toEqual([
      'hydraulic_pressure',
      'power_factor',
      'temperature',
      'vibration',
    ]);

    // The curated table has one vibration row per hour of the simulated day.
    const rows: CuratedHourlyRow[] = [];
    for await (const row of readDataset({
      storage: result.lake.curated,
      table: 'sensor_hourly',
      schema: curatedHourlySchema,
    })) {
      if (row.type === 'vibration') rows.push(row);
    }
    expect(rows).toHaveLength(24);
    expect(new Set(rows.map((r) => r.dt))).toEqual(new Set([dt]));
    expect(rows.map((r) => Number(r.hour)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 24 }, (_, h) => h),
    );
    expect(rows.every((r) => r.unit === 'mm/s')).toBe(true);
    const { min, max } = vibrationSensorType.range;
    // p95 ignores the rare spikes: the model's own values are inside its declared range.
    for (const row of rows) {
      expect(row.p95).toBeGreaterThanOrEqual(min);
      expect(row.p95).toBeLessThanOrEqual(max);
      if (Number(row.anomalies) === 0) {
        expect(row.min).toBeGreaterThanOrEqual(min);
        expect(row.max).toBeLessThanOrEqual(max);
      }
    }
    // Higher under load: the 10:00 hour (working) well above the 03:00 hour (night).
    const at = (hour: number) => rows.find((r) => Number(r.hour) === hour);
    expect(at(10)?.p95 ?? 0).toBeGreaterThan((at(3)?.p95 ?? Infinity) + 1);

    // The processed Parquet holds the vibration records, read back with the record schema.
    const vibration: SensorRecord[] = [];
    for await (const record of readDataset({
      storage: result.lake.processed,
      table: 'sensors',
      schema: sensorRecordSchema,
    })) {
      if (record.type === 'vibration') vibration.push(record);
    }
    const summary = result.byType.find((t) => t.type === 'vibration');
    expect(vibration.length).toBe(summary?.records);
    expect(vibration.length).toBeGreaterThan(2_000);
    expect(vibration.every((r) => r.unit === 'mm/s' && r.sensorId.startsWith('vibration-'))).toBe(true);
    // The anomaly count of the curated rows is the processed records outside the declared range.
    const outside = vibration.filter((r) => r.value < min || r.value > max).length;
    expect(rows.reduce((sum, r) => sum + Number(r.anomalies), 0)).toBe(outside);
    expect(summary?.anomalies).toBe(outside);
  }, 120_000);

  it('runs from the command line, resolving --out against INIT_CWD', async () => {
    const cwd = mkdtempSync(join(out, 'cli-'));
    const { stdout } = await promisify(execFile)(
      tsx,
      ['src/cli.ts', '--', '--records', '2400', '--sensors', '1', '--start', dt, '--out', 'lake'],
      { cwd: exampleDir, env: { ...process.env, INIT_CWD: cwd }, timeout: 90_000 },
    );

    expect(stdout).toContain('vibration (mm/s)');
    expect(stdout).toMatch(/│\s*\d+\s*│\s*'vibration'\s*│\s*'mm\/s'\s*│\s*'0–45'\s*│\s*24\s*│/);
    expect(existsSync(join(cwd, 'lake', 'curated', 'sensor_hourly'))).toBe(true);
  }, 120_000);
});
