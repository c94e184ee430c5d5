// Writes spark/schemas/<table>.json: the Spark schema (`toSparkSchema`) of every table the PySpark
// jobs read or write, plus the sensor types' units and declared ranges that the curated job needs.
// The JSON is committed (formatted by Biome); tests/spark/schemas.test.ts fails when its content
// drifts from what core emits.
//
//   node --import tsx spark/scripts/emit-schemas.ts
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cdcSchema,
  coinDailySchema,
  cryptocurrencySchema,
  marketDailySchema,
  quoteSchema,
} from '@tributary/coinmarketcap';
import { type Fields, redshiftType, type Schema, toSparkSchema } from '@tributary/core';
import {
  curatedHourlySchema,
  defaultSensorTypes,
  sensorErrorSchema,
  sensorRecordSchema,
} from '@tributary/sensors';

/** The folder the jobs read their schemas from. */
export const schemasDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

/** A table as Redshift sees it (core's `redshiftType`), for the Spark load job's DDL and casts. */
function redshiftTable(schema: Schema<Fields>) {
  return {
    columns: schema.columns.map((c) => ({
      name: c.name,
      type: redshiftType(c.def),
      notNull: c.def.presence === 'required',
    })),
    primaryKey: [...schema.primaryKey],
  };
}

/**
 * Every file of `spark/schemas/`, by file name, as the text to write (2-space JSON, final newline).
 *
 * @example
 * ```ts
 * const files = sparkSchemaFiles();
 * JSON.parse(files['sensors.json'] as string).fields.map((f: { name: string }) => f.name);
 * ```
 */
export function sparkSchemaFiles(): Record<string, string> {
  const documents: Record<string, unknown> = {
    // sensors: raw -> processed `sensors` (+ `sensors_errors`) -> curated `sensor_hourly`
    'sensors.json': toSparkSchema(sensorRecordSchema),
    'sensors_errors.json': toSparkSchema(sensorErrorSchema),
    'sensor_hourly.json': toSparkSchema(curatedHourlySchema),
    'sensor_types.json': {
      types: defaultSensorTypes()
        .list()
        .map((t) => ({ name: t.name, unit: t.unit, min: t.range.min, max: t.range.max })),
    },
    // crypto: DMS LOAD + CDC files -> processed `cryptocurrency`, `quote` -> curated daily tables
    'cryptocurrency.json': toSparkSchema(cryptocurrencySchema),
    'cryptocurrency_cdc.json': toSparkSchema(cdcSchema('cryptocurrency')),
    'quote.json': toSparkSchema(quoteSchema),
    'quote_cdc.json': toSparkSchema(cdcSchema('quote')),
    'coin_daily.json': toSparkSchema(coinDailySchema),
    'market_daily.json': toSparkSchema(marketDailySchema),
    // curated tables loaded into Redshift by load_redshift.py
    'redshift/sensor_hourly.json': redshiftTable(curatedHourlySchema),
    'redshift/coin_daily.json': redshiftTable(coinDailySchema),
    'redshift/market_daily.json': redshiftTable(marketDailySchema),
  };
  return Object.fromEntries(
    Object.entries(documents).map(([name, doc]) => [name, `${JSON.stringify(doc, null, 2)}\n`]),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of Object.entries(sparkSchemaFiles())) {
    mkdirSync(dirname(join(schemasDir, name)), { recursive: true });
    writeFileSync(join(schemasDir, name), text);
    process.stdout.write(`wrote spark/schemas/${name}\n`);
  }
  // In the repository's JSON style, so that `pnpm lint` passes on freshly emitted files.
  const biome = join(schemasDir, '..', '..', 'node_modules', '.bin', 'biome');
  execFileSync(biome, ['format', '--write', schemasDir], { stdio: 'inherit' });
}
