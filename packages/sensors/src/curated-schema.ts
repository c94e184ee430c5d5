import { defineSchema, field, type Infer } from '@tributary/core';

/**
 * The curated table `sensor_hourly`: one row per sensor type and UTC hour of event time, made by
 * `processedToCurated` from the processed `sensors` table and by the Spark job of the same name.
 * Stored as Parquet under `<curated>/sensor_hourly/dt=YYYY-MM-DD/`: `dt` is the hive partition
 * (the files leave it out, as Hive, Spark and Athena expect; readers put it back), `hour` is a
 * column. The statistics are over `value`:
 *
 * | column | definition |
 * |---|---|
 * | `count` | rows of that type in that hour |
 * | `min`, `max`, `mean` | of the values (`mean` = sum / count) |
 * | `p95` | exact 95th percentile, linear interpolation between closest ranks: with the values sorted ascending as `x[0..n-1]`, `h = (n - 1) × 0.95`, `p95 = x[⌊h⌋] + (h − ⌊h⌋) × (x[⌈h⌉] − x[⌊h⌋])` — numpy's default (`'linear'`), Spark's `percentile` (not `percentile_approx`), DuckDB's `quantile_cont` |
 * | `anomalies` | values outside the sensor type's declared `range` (below `min` or above `max`) |
 * | `unit` | the sensor type's unit, from the registry |
 *
 * @example
 * ```ts
 * import { byField, readDataset } from '@tributary/lake';
 *
 * for await (const row of readDataset({ storage: lake.curated, table: 'sensor_hourly', schema: curatedHourlySchema, partitionBy: [byField('dt')] })) {
 *   console.log(row.dt, row.hour, row.type, row.p95);
 * }
 * ```
 */
export const curatedHourlySchema = defineSchema(
  {
    dt: field.date().describe('UTC day of event time; the hive partition'),
    hour: field.int32().describe('UTC hour of event time, 0-23'),
    type: field.string({ maxLength: 64 }).describe('the sensor type'),
    unit: field.string({ maxLength: 32 }).describe('the unit of the values, from the sensor type'),
    count: field.int64().describe('readings in the hour'),
    min: field.double(),
    max: field.double(),
    mean: field.double().describe('sum / count'),
    p95: field
      .double()
      .describe('exact, linear interpolation between closest ranks (numpy linear, Spark percentile)'),
    anomalies: field.int64().describe("readings outside the sensor type's declared range"),
  },
  {
    primaryKey: ['dt', 'hour', 'type'],
    description: 'Per sensor type and UTC hour: count, min, max, mean, p95 and anomalies of the readings',
  },
);

/** A row of the curated `sensor_hourly` table. */
export type CuratedHourlyRow = Infer<typeof curatedHourlySchema>;
