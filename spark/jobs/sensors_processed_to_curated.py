"""Sensors, processed -> curated: the Spark twin of ``processedToCurated`` (``@tributary/sensors``).

Per UTC day, hour and sensor type of the processed ``sensors`` table: ``count``, ``min``, ``max``,
``mean`` (sum / count), ``p95`` (exact: Spark's ``percentile``, linear interpolation between the
closest ranks, as the TypeScript transform, numpy and DuckDB's ``quantile_cont``) and
``anomalies`` (values outside the type's declared range). Units and ranges come from
``spark/schemas/sensor_types.json`` (emitted from ``defaultSensorTypes()``) or ``--types``; a type
present in the data but not there fails the job, as ``UnknownSensorTypeError`` does in TypeScript.
Written to ``<curated>/<table>/dt=YYYY-MM-DD/`` with dynamic partition overwrite.

    spark-submit --py-files tributary_common.py,sensor_validation.py sensors_processed_to_curated.py \\
        --processed s3://lake-processed --curated s3://lake-curated
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import tributary_common as common


class UnknownSensorTypeError(ValueError):
    """The processed table holds a type that the registry does not know."""


def types_frame(spark: SparkSession, types: list[dict]) -> DataFrame:
    """The registry as a DataFrame: ``type``, ``unit``, ``range_min``, ``range_max``."""
    rows = [(t["name"], t["unit"], float(t["min"]), float(t["max"])) for t in types]
    return spark.createDataFrame(rows, "type string, unit string, range_min double, range_max double")


def transform(processed: DataFrame, types: DataFrame) -> DataFrame:
    """Processed records (``type``, ``value``, ``dt``, ``hour``) -> one row per (dt, hour, type).

    ``dt`` is a date and ``hour`` an int in the output, as ``curatedHourlySchema`` has them. A
    type the registry does not know gets a row with a null ``unit``: see :func:`check_types`.
    """
    # The unit comes from the registry, as in TypeScript, not from the records.
    records = processed.select("type", "value", "dt", "hour")
    joined = records.join(F.broadcast(types), "type", "left")
    outside = (F.col("value") < F.col("range_min")) | (F.col("value") > F.col("range_max"))
    return joined.groupBy(
        F.col("dt").cast("date").alias("dt"), F.col("hour").cast("int").alias("hour"), "type"
    ).agg(
        F.first("unit").alias("unit"),
        F.count("*").alias("count"),
        F.min("value").alias("min"),
        F.max("value").alias("max"),
        (F.sum("value") / F.count("*")).alias("mean"),
        F.percentile("value", 0.95).alias("p95"),
        F.sum(outside.cast("long")).alias("anomalies"),
    )


def check_types(rows: DataFrame, types: DataFrame) -> None:
    """Fail on types the registry does not know (rows of :func:`transform`, or records with a
    ``type``): their unit and range would be made up otherwise."""
    unknown = [r.type for r in rows.select("type").distinct().join(types, "type", "left_anti").collect()]
    if unknown:
        known = sorted(r.type for r in types.select("type").collect())
        raise UnknownSensorTypeError(
            f"Unknown sensor type(s) {', '.join(sorted(unknown))}; registered: {', '.join(known)}"
        )


def read_processed(spark: SparkSession, processed: str, table: str, schemas: str | None, dates: list[str] | None):
    """The processed table with its partition columns ``dt`` (string) and ``hour`` (int)."""
    record = common.load_schema("sensors", schemas, spark)
    schema = record.add("dt", "string").add("hour", "integer")
    df = spark.read.schema(schema).parquet(common.table_path(processed, table))
    if dates:
        df = df.filter(F.col("dt").isin(*dates))
    return df


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processed", required=True, help="the processed zone (file:///…, s3://…)")
    parser.add_argument("--curated", required=True, help="the curated zone")
    parser.add_argument("--source", default="sensors", help="the processed table (default sensors)")
    parser.add_argument("--table", default="sensor_hourly", help="the curated table (default sensor_hourly)")
    parser.add_argument("--types", default=None, help="a sensor_types.json of your own (custom types)")
    parser.add_argument("--dates", nargs="*", help="only these UTC days (YYYY-MM-DD)")
    parser.add_argument("--schemas", default=None, help="folder of the schema JSON (default spark/schemas)")
    parser.add_argument("--master", default=None, help="e.g. local[*] outside spark-submit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-sensors-processed-to-curated", args.master)
    if args.types:
        with open(args.types, encoding="utf-8") as handle:
            registry = json.load(handle)["types"]
    else:
        registry = common.load_json("sensor_types", args.schemas, spark)["types"]
    types = types_frame(spark, registry)
    processed = read_processed(spark, args.processed, args.source, args.schemas, args.dates)
    curated_schema = common.load_schema("sensor_hourly", args.schemas, spark)
    # Checked on the aggregates (a few rows per hour), so the processed table is read once.
    rows = transform(processed, types).persist()
    check_types(rows, types)
    rows = rows.select(*[rows[f.name].cast(f.dataType) for f in curated_schema.fields])
    common.write_partitions(rows, common.table_path(args.curated, args.table), ["dt"], "parquet", ["hour", "type"])
    print(f"sensors_processed_to_curated: wrote {args.curated.rstrip('/')}/{args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
