"""Sensors, processed -> curated: the Spark twin of ``processedToCurated`` (``@tributary/sensors``).

Per UTC day, hour and sensor type of the processed ``sensors`` table: ``count``, ``min``, ``max``,
``mean`` (sum / count), ``p95`` (exact: Spark's ``percentile``, linear interpolation between the
closest ranks, as the TypeScript transform, numpy and DuckDB's ``quantile_cont``) and
``anomalies`` (values outside the type's declared range). Units and ranges come from
``spark/schemas/sensor_types.json`` (emitted from ``defaultSensorTypes()``) or ``--types``. A type
present in the data but not there never fails the job, as in TypeScript: it is aggregated with
the unit of its records (the smallest, in JavaScript's string order, if an hour's records
disagree) and 0 anomalies (it declares no range), and counted in the JSON line the job prints
(``{"job": …, "rows": …, "unknownTypes": [{"type", "records"}]}``, as ``stats.unknownTypes``).
Written to ``<curated>/<table>/dt=YYYY-MM-DD/`` with dynamic partition overwrite; with
``--table-format iceberg``, read from the Iceberg processed table (its current snapshot) and
written to an Iceberg table partitioned by ``identity(dt)``, one dynamic-overwrite snapshot.

    spark-submit --py-files tributary_common.py,sensor_validation.py sensors_processed_to_curated.py \\
        --processed s3://lake-processed --curated s3://lake-curated [--table-format iceberg]
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import tributary_common as common

ICEBERG_PARTITIONS = [common.identity("dt")]


def types_frame(spark: SparkSession, types: list[dict]) -> DataFrame:
    """The registry as a DataFrame: ``type``, ``unit``, ``range_min``, ``range_max``."""
    rows = [(t["name"], t["unit"], float(t["min"]), float(t["max"])) for t in types]
    return spark.createDataFrame(rows, "type string, unit string, range_min double, range_max double")


def transform(processed: DataFrame, types: DataFrame) -> DataFrame:
    """Processed records (``type``, ``unit``, ``value``, ``dt``, ``hour``) -> one row per (dt, hour, type).

    ``dt`` is a date and ``hour`` an int in the output, as ``curatedHourlySchema`` has them. The
    unit comes from the registry, as in TypeScript; a type the registry does not know gets its
    records' unit and 0 anomalies (see :func:`unknown_types`).
    """
    records = processed.select("type", "unit", "value", "dt", "hour")
    registry = types.withColumnRenamed("unit", "_type_unit")
    joined = records.join(F.broadcast(registry), "type", "left")
    outside = (F.col("value") < F.col("range_min")) | (F.col("value") > F.col("range_max"))
    # The smallest unit as JavaScript compares strings (by UTF-16 code units), only for a type
    # without a registered unit.
    record_unit = F.min_by("unit", F.when(F.col("_type_unit").isNull(), F.encode("unit", "UTF-16BE")))
    return joined.groupBy(
        F.col("dt").cast("date").alias("dt"), F.col("hour").cast("int").alias("hour"), "type"
    ).agg(
        F.coalesce(F.first("_type_unit"), record_unit).alias("unit"),
        F.count("*").alias("count"),
        F.min("value").alias("min"),
        F.max("value").alias("max"),
        (F.sum("value") / F.count("*")).alias("mean"),
        F.percentile("value", 0.95).alias("p95"),
        # No range, no anomaly: the sum over an unknown type's null comparisons is null.
        F.coalesce(F.sum(outside.cast("long")), F.lit(0).cast("long")).alias("anomalies"),
    )


def unknown_types(rows: DataFrame, types: DataFrame) -> list[dict]:
    """The types of the rows of :func:`transform` that the registry does not hold, with how many
    records each had: ``[{"type", "records"}]`` in JavaScript's string order, as
    ``processedToCurated``'s ``stats.unknownTypes``."""
    unknown = rows.join(types, "type", "left_anti").groupBy("type").agg(F.sum("count").alias("records"))
    found = [{"type": r.type, "records": int(r.records)} for r in unknown.collect()]
    return sorted(found, key=lambda t: t["type"].encode("utf-16-be", "surrogatepass"))


def read_processed(spark: SparkSession, processed: str, table: str, schemas: str | None, dates: list[str] | None):
    """The processed table with its partition columns ``dt`` (string) and ``hour`` (int)."""
    record = common.load_schema("sensors", schemas, spark)
    schema = record.add("dt", "string").add("hour", "integer")
    df = spark.read.schema(schema).parquet(common.table_path(processed, table))
    return _days(df, dates)


def read_processed_iceberg(spark: SparkSession, target: common.IcebergTarget, table: str, dates: list[str] | None):
    """The Iceberg processed table at its current snapshot, with ``dt`` and ``hour`` of event
    time (UTC, the session's zone), as the hive table's partitions have them."""
    df = common.read_iceberg(spark, target, table)
    df = df.withColumn("dt", F.date_format("timestamp", "yyyy-MM-dd")).withColumn(
        "hour", F.hour("timestamp").cast("int")
    )
    return _days(df, dates)


def _days(df: DataFrame, dates: list[str] | None) -> DataFrame:
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
    common.add_table_format_args(parser)
    args = parser.parse_args(argv)
    common.check_table_format_args(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-sensors-processed-to-curated", args.master, args.table_format)
    if args.types:
        with open(args.types, encoding="utf-8") as handle:
            registry = json.load(handle)["types"]
    else:
        registry = common.load_json("sensor_types", args.schemas, spark)["types"]
    types = types_frame(spark, registry)
    iceberg = args.table_format == "iceberg"
    if iceberg:
        source = common.IcebergTarget(args.processed, args.catalog, args.database)
        processed = read_processed_iceberg(spark, source, args.source, args.dates)
    else:
        processed = read_processed(spark, args.processed, args.source, args.schemas, args.dates)
    curated_schema = common.load_schema("sensor_hourly", args.schemas, spark)
    # Counted on the aggregates (a few rows per hour), so the processed table is read once.
    rows = transform(processed, types).persist()
    summary = {"job": "sensors_processed_to_curated", "rows": rows.count(), "unknownTypes": unknown_types(rows, types)}
    rows = rows.select(*[rows[f.name].cast(f.dataType) for f in curated_schema.fields])
    if iceberg:
        target = common.IcebergTarget(args.curated, args.catalog, args.database)
        common.write_iceberg(rows, target, args.table, curated_schema, ICEBERG_PARTITIONS)
    else:
        common.write_partitions(rows, common.table_path(args.curated, args.table), ["dt"], "parquet", ["hour", "type"])
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    print(f"sensors_processed_to_curated: wrote {args.curated.rstrip('/')}/{args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
