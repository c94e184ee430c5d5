// processed → curated: hourly statistics per sensor type, from one snapshot of the processed table.
import { type EventListener, emitSafely } from '@tributary/core';
import {
  byField,
  type IcebergCatalog,
  IcebergError,
  type IcebergScan,
  type LakeTableFormat,
  listDatasetFiles,
  parsePartitions,
  readDataset,
  type Storage,
  scanIceberg,
  tableFormatOptions,
  writeDataset,
} from '@tributary/lake';
import { type CuratedHourlyRow, curatedHourlySchema } from '../curated-schema.js';
import { defaultSensorTypes } from '../models.js';
import { sensorRecordSchema } from '../record.js';
import { SensorTypeRegistry } from '../registry.js';
import type { SensorType } from '../sensor-type.js';
import {
  checkCatalog,
  checkDates,
  checkListener,
  checkOptions,
  checkPath,
  checkStorage,
  checkTableFormat,
  invalidOption,
  isCalendarDay,
  SensorTransformError,
  writeIdOf,
  writeIfAny,
} from './shared.js';

const CURATED_SOURCE = 'sensors:processed-to-curated';

/** The options of {@link processedToCurated}. */
export interface ProcessedToCuratedOptions {
  /** The processed zone, holding the `<source>` table written by {@link rawToProcessed}. */
  processed: Storage;
  /** The curated zone, where `<table>/dt=YYYY-MM-DD/` is written. */
  curated: Storage;
  /** The processed table. Default `sensors`. */
  source?: string;
  /** The curated table. Default `sensor_hourly`. */
  table?: string;
  /**
   * Units and declared ranges (for `anomalies`) of the types present. Default
   * `defaultSensorTypes()`. A type present that it does not hold is still aggregated, with the
   * records' unit and no anomalies, and counted in `unknownTypes`.
   */
  types?: SensorTypeRegistry | Iterable<SensorType>;
  /** Only these UTC days (`YYYY-MM-DD`). Default: every day of the processed table. */
  dates?: readonly string[];
  /**
   * The table format of both tables: `hive` (the default, as the lake's) or `iceberg`. An Iceberg
   * processed table is read at one snapshot (the current one when the run starts), whatever is
   * committed during the run; the curated table is then an Iceberg table partitioned by `dt`.
   */
  tableFormat?: LakeTableFormat;
  /** The Iceberg catalog of the curated table. Default: the curated zone's own (`StorageCatalog`); a `GlueIcebergCatalog` in AWS. */
  catalog?: IcebergCatalog;
  /** The Iceberg catalog of the processed table read. Default: the processed zone's own (`StorageCatalog`). */
  processedCatalog?: IcebergCatalog;
  onEvent?: EventListener;
}

/** What {@link processedToCurated} did. */
export interface ProcessedToCuratedStats {
  /** The days aggregated, ascending. */
  dates: string[];
  /** Processed records read. */
  records: number;
  /** Curated rows written (one per day, hour and type). */
  rows: number;
  /** Records outside their type's declared range. */
  anomalies: number;
  /** Curated partitions written, e.g. `dt=2026-11-23/`. */
  partitions: string[];
  /** The processed table's snapshot read, as decimal text (Iceberg only). */
  snapshotId?: string;
  /**
   * The types present that `types` does not hold, by name, with how many of their records were
   * aggregated: their rows have the records' unit and 0 anomalies (there is no range to check).
   */
  unknownTypes: { type: string; records: number }[];
}

/**
 * Linear interpolation between closest ranks over ascending `sorted` values: numpy's default,
 * Spark's `percentile`, DuckDB's `quantile_cont`.
 */
function percentile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const below = sorted[lo] as number;
  if (lo === h) return below;
  return below + (h - lo) * ((sorted[lo + 1] as number) - below);
}

/** Neumaier's compensated sum: the mean stays right to the last bits whatever the count. */
function sum(values: Float64Array): number {
  let total = 0;
  let compensation = 0;
  for (const value of values) {
    const t = total + value;
    compensation += Math.abs(total) >= Math.abs(value) ? total - t + value : value - t + total;
    total = t;
  }
  return total + compensation;
}

/** The values of one type in one hour; `unit` is the records' own, kept for a type the registry lacks. */
interface HourOfType {
  values: number[];
  type: SensorType | undefined;
  unit: string;
}

function hourlyRow(day: string, hour: number, name: string, of: HourOfType): CuratedHourlyRow {
  const sorted = Float64Array.from(of.values).sort();
  let anomalies = 0;
  const range = of.type?.range;
  if (range) for (const value of sorted) if (value < range.min || value > range.max) anomalies++;
  return {
    dt: day,
    hour,
    type: name,
    unit: of.type?.unit ?? of.unit,
    count: BigInt(sorted.length),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: sum(sorted) / sorted.length,
    p95: percentile(sorted, 0.95),
    anomalies: BigInt(anomalies),
  };
}

/** The partition field of an Iceberg processed table: `hour(timestamp)`, values `YYYY-MM-DD-HH`. */
const ICEBERG_HOUR_FIELD = 'timestamp_hour';

interface ProcessedFile {
  key: string;
  dt: string;
  hour: string;
  rows: number;
  bytes: number;
}

function layoutError(key: string, table: string, expected: string): SensorTransformError {
  return new SensorTransformError(`${key} is not under ${expected}`, {
    code: 'SENSOR_TRANSFORM_LAYOUT',
    context: { key, table },
  });
}

/**
 * The processed table's files with their UTC day and hour: a hive table's committed files
 * (`dt=…/hour=…/`), or an Iceberg table's at its current snapshot (`timestamp_hour`), with that
 * snapshot's id so every later read sees the same one.
 */
async function processedFilesOf(settings: {
  readonly processed: Storage;
  readonly source: string;
  readonly tableFormat: LakeTableFormat;
  readonly catalog: IcebergCatalog | undefined;
}): Promise<{ files: ProcessedFile[]; snapshotId?: string }> {
  const { processed, source } = settings;
  if (settings.tableFormat === 'hive') {
    return {
      files: (await listDatasetFiles(processed, source)).map((file) => {
        const { dt, hour } = parsePartitions(file.key);
        if (
          typeof dt !== 'string' ||
          !isCalendarDay(dt) ||
          typeof hour !== 'string' ||
          !/^\d{2}$/.test(hour)
        ) {
          throw layoutError(file.key, source, 'dt=YYYY-MM-DD/hour=HH/');
        }
        return { key: file.key, dt, hour, rows: file.rows, bytes: file.bytes };
      }),
    };
  }
  let scan: IcebergScan;
  try {
    scan = await scanIceberg({
      storage: processed,
      table: source,
      ...(settings.catalog ? { catalog: settings.catalog } : {}),
    });
  } catch (error) {
    // No table yet is no day to aggregate, as for a hive table without files.
    if (error instanceof IcebergError && error.code === 'ICEBERG_TABLE_NOT_FOUND') return { files: [] };
    throw error;
  }
  const files = scan.files.map((file) => {
    const value = file.partition[ICEBERG_HOUR_FIELD];
    const match = typeof value === 'string' ? /^(\d{4}-\d{2}-\d{2})-(\d{2})$/.exec(value) : null;
    if (!match || !isCalendarDay(match[1] as string)) {
      throw layoutError(file.key, source, `an Iceberg partition ${ICEBERG_HOUR_FIELD} (hour(timestamp))`);
    }
    return {
      key: file.key,
      dt: match[1] as string,
      hour: match[2] as string,
      rows: file.rows,
      bytes: file.bytes,
    };
  });
  return scan.snapshot ? { files, snapshotId: String(scan.snapshot['snapshot-id']) } : { files };
}

/**
 * The processed → curated transform: per UTC day, hour and sensor type of the processed table,
 * `count`, `min`, `max`, `mean`, `p95` and `anomalies` (values outside the type's declared
 * range), written as Parquet to `<table>/dt=YYYY-MM-DD/` ({@link curatedHourlySchema}) with
 * `overwrite_partitions`, rows in (hour, type) order. `p95` is exact: one hour's values of one
 * type are sorted (an hour of a type is small: memory holds one hour of values, 8 bytes each),
 * then interpolated linearly between the closest ranks — numpy's default, Spark's `percentile`,
 * DuckDB's `quantile_cont` — so the Spark job gives the same numbers. A type's unit and range
 * come from `types`. A type present that `types` does not hold never fails the run: it is
 * aggregated like the others, with the unit of its records (the smallest, if an hour's records
 * disagree) and `anomalies` 0, since it declares no range to be outside of, and it is counted in
 * `unknownTypes`. Users add their own sensor types: a new type's readings reach the processed
 * table whatever registry the raw step had, and its hourly statistics are what a user expects to
 * find next to the others; register it (`types: defaultSensorTypes().register(vibration)`) and run
 * again to get its unit and anomalies from its definition.
 * Running it again on the same processed files writes the same files under the same keys.
 *
 * @example
 * ```ts
 * const vibration = defineSensorType({ name: 'vibration', unit: 'mm/s', range: { min: 0, max: 10 }, model: () => 1 });
 * const stats = await processedToCurated({ processed: lake.processed, curated: lake.curated, types: defaultSensorTypes().register(vibration) });
 * console.log(`${stats.rows} hourly rows, ${stats.anomalies} anomalies, types not registered: ${stats.unknownTypes.length}`);
 * ```
 */
export async function processedToCurated(
  options: ProcessedToCuratedOptions,
): Promise<ProcessedToCuratedStats> {
  const input = checkOptions(options, 'options');
  const typesInput = input.types ?? defaultSensorTypes();
  let types: SensorTypeRegistry;
  if (typesInput instanceof SensorTypeRegistry) types = typesInput;
  else if (typeof typesInput === 'object' && typesInput !== null && Symbol.iterator in typesInput) {
    types = new SensorTypeRegistry(typesInput as Iterable<SensorType>);
  } else throw invalidOption('types', typesInput, 'a SensorTypeRegistry or a list of sensor types');
  const tableFormat = checkTableFormat(input.tableFormat);
  const settings = Object.freeze({
    processed: checkStorage('processed', input.processed),
    curated: checkStorage('curated', input.curated),
    source: checkPath('source', input.source, 'sensors'),
    table: checkPath('table', input.table, 'sensor_hourly'),
    dates: checkDates(input.dates),
    tableFormat,
    catalog: checkCatalog('catalog', input.catalog, tableFormat),
    processedCatalog: checkCatalog('processedCatalog', input.processedCatalog, tableFormat),
    onEvent: checkListener(input.onEvent),
  });
  const { processed, curated, source, onEvent } = settings;
  const sourceFormat = tableFormatOptions({ tableFormat, catalog: settings.processedCatalog });

  // The committed files of the processed table, by day and hour; an Iceberg table's at one snapshot.
  const byDay = new Map<string, { hours: Set<string>; files: string[] }>();
  const processedFiles = await processedFilesOf({ ...settings, catalog: settings.processedCatalog });
  for (const file of processedFiles.files) {
    const { dt, hour } = file;
    let entry = byDay.get(dt);
    if (!entry) {
      entry = { hours: new Set(), files: [] };
      byDay.set(dt, entry);
    }
    entry.hours.add(hour);
    entry.files.push(file.key, String(file.rows), String(file.bytes));
  }
  const snapshotId = processedFiles.snapshotId;
  const wanted = settings.dates ? new Set(settings.dates) : undefined;
  const dates = [...byDay.keys()].filter((d) => !wanted || wanted.has(d)).sort();
  const typeParts = types.list().flatMap((t) => [t.name, t.unit, String(t.range.min), String(t.range.max)]);

  const stats: ProcessedToCuratedStats = {
    dates,
    records: 0,
    rows: 0,
    anomalies: 0,
    partitions: [],
    unknownTypes: [],
  };
  /** Records of each type the registry does not hold. */
  const unknown = new Map<string, number>();
  for (const day of dates) {
    const entry = byDay.get(day) as { hours: Set<string>; files: string[] };
    let records = 0;
    let anomalies = 0;
    async function* rowsOfDay(): AsyncGenerator<CuratedHourlyRow> {
      for (const hour of [...entry.hours].sort()) {
        const byType = new Map<string, HourOfType>();
        const partitions: Record<string, string> =
          snapshotId === undefined ? { dt: day, hour } : { [ICEBERG_HOUR_FIELD]: `${day}-${hour}` };
        for await (const record of readDataset({
          storage: processed,
          table: source,
          schema: sensorRecordSchema,
          partitions,
          ...sourceFormat,
          ...(snapshotId === undefined ? {} : { snapshotId }),
        })) {
          let of = byType.get(record.type);
          if (!of) {
            const type = types.has(record.type) ? types.get(record.type) : undefined;
            of = { values: [], type, unit: record.unit };
            byType.set(record.type, of);
          }
          // Without a registered unit, the smallest of the records' (they normally agree), whatever their order.
          if (of.type === undefined) {
            if (record.unit < of.unit) of.unit = record.unit;
            unknown.set(record.type, (unknown.get(record.type) ?? 0) + 1);
          }
          of.values.push(record.value);
          records++;
        }
        for (const name of [...byType.keys()].sort()) {
          const row = hourlyRow(day, Number(hour), name, byType.get(name) as HourOfType);
          anomalies += Number(row.anomalies);
          yield row;
        }
      }
    }
    const result = await writeIfAny(rowsOfDay(), (rows) =>
      writeDataset(rows, {
        storage: curated,
        table: settings.table,
        schema: curatedHourlySchema,
        partitionBy: [byField('dt')],
        format: 'parquet',
        mode: 'overwrite_partitions',
        ...tableFormatOptions(settings),
        writeId: writeIdOf('curated', [source, settings.table, day, ...typeParts, ...entry.files]),
        onEvent,
      }),
    );
    emitSafely(onEvent, { type: 'records.in', source: CURATED_SOURCE, count: records, time: Date.now() });
    emitSafely(onEvent, {
      type: 'records.out',
      source: CURATED_SOURCE,
      count: result?.rows ?? 0,
      time: Date.now(),
    });
    stats.records += records;
    stats.anomalies += anomalies;
    stats.rows += result?.rows ?? 0;
    stats.partitions.push(...(result?.partitions ?? []));
  }
  if (snapshotId !== undefined) stats.snapshotId = snapshotId;
  stats.unknownTypes = [...unknown]
    .map(([type, records]) => ({ type, records }))
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return stats;
}
