// What the demo hands to the report: every figure the report draws, already computed, so that the
// report is a pure function of this object (and can be tested without running the pipelines).

/** One reading of a sensor, for the day chart. */
export interface SensorPoint {
  /** ISO-8601 UTC event time. */
  t: string;
  value: number;
  /** Outside the sensor type's declared range. */
  anomaly: boolean;
}

/** The readings of one sensor of a type over the simulated day (one sensor per type is enough to read). */
export interface SensorSeries {
  type: string;
  unit: string;
  sensorId: string;
  /** The type's declared range, drawn as a band. */
  range: { min: number; max: number };
  points: SensorPoint[];
}

/** One row of the curated `sensor_hourly` table. */
export interface HourlyAggregate {
  dt: string;
  hour: number;
  type: string;
  unit: string;
  count: number;
  min: number;
  max: number;
  mean: number;
  p95: number | null;
  anomalies: number;
}

/** A coin's price over the loaded snapshots. */
export interface CoinPriceSeries {
  symbol: string;
  name: string;
  points: { t: string; price: number }[];
}

/** A pipeline stage, as the progress display counted it. */
export interface StageFigure {
  pipeline: 'crypto' | 'sensors' | 'queries';
  name: string;
  records: number;
  bytes: number;
  seconds: number;
  retries: number;
}

/** A table of the lake or the warehouse, as the summary counted it. */
export interface TableFigure {
  /** `raw`, `processed`, `curated` or `warehouse`. */
  zone: string;
  table: string;
  rows: number;
  files: number;
  bytes: number;
  /** `iceberg` for an Iceberg table; absent (hive) otherwise. */
  format?: 'hive' | 'iceberg';
  /** An Iceberg table's current snapshot id (decimal text). */
  snapshotId?: string;
  /** How many snapshots an Iceberg table's metadata holds. */
  snapshots?: number;
}

/**
 * The Iceberg tables' snapshot counts after one run of the demo in the same `--out` folder:
 * a run again adds snapshots and leaves the same rows.
 */
export interface SnapshotHistoryRun {
  /** ISO-8601 time the run ended. */
  at: string;
  tables: { zone: string; table: string; snapshots: number; snapshotId: string }[];
}

export interface ReportData {
  title: string;
  /** ISO-8601 time the report was generated. */
  generatedAt: string;
  run: {
    mode: 'local' | 'aws';
    engine: 'ts' | 'spark';
    seed: number;
    records: number;
    sensorsPerType: number;
    out: string;
    seconds: number;
  };
  sensors: {
    series: SensorSeries[];
    hourly: HourlyAggregate[];
  };
  coins: {
    /** The top coins by market cap, their price over the snapshots (USD). */
    prices: CoinPriceSeries[];
    /** Latest market-cap share per coin (0–1), the top 10 plus `Other`; sums to 1. */
    marketCapShares: { symbol: string; share: number }[];
  };
  pipeline: {
    stages: StageFigure[];
    tables: TableFigure[];
    /** Every run's snapshot counts, oldest first (the current run last); absent or empty without Iceberg tables. */
    snapshotHistory?: SnapshotHistoryRun[];
  };
}
