"""Crypto, raw -> processed: the Spark twin of ``cryptoRawToProcessed`` (``@tributary/coinmarketcap``).

Replays the DMS-style export of each table: the full-load files ``LOAD00000001.csv``… first, then
the CDC files (``<yyyyMMdd-HHmmssSSS>.csv``, columns ``Op`` and ``commit_ts`` first) in name order,
each file's rows in order; the last change of a primary key wins, and a key whose last change is
``D`` is gone. The order is the files' and rows' order, never ``commit_ts``, as ``replayExport``
does. Writes the latest state ``<processed>/coinmarketcap/cryptocurrency/`` (the whole table
replaced) and the quote history ``<processed>/coinmarketcap/quote/dt=YYYY-MM-DD/`` (UTC day of
``last_updated``, dynamic partition overwrite).

With ``--table-format iceberg`` both are Iceberg tables: ``cryptocurrency`` unpartitioned and
replaced whole by each run (one ``overwrite`` snapshot: the latest state is small and a key may
vanish, so every run rewrites it), ``quote`` partitioned by ``day(last_updated)`` (field
``last_updated_day``), one dynamic-overwrite snapshot.

    spark-submit --py-files tributary_common.py crypto_raw_to_processed.py \\
        --raw s3://lake-raw --processed s3://lake-processed [--table-format iceberg]
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

import tributary_common as common

PRIMARY_KEYS = {
    "cryptocurrency": ["id"],
    "quote": ["cryptocurrency_id", "convert", "last_updated"],
}
PROCESSED_TABLES = {"cryptocurrency": "coinmarketcap/cryptocurrency", "quote": "coinmarketcap/quote"}
ICEBERG_QUOTE_PARTITIONS = [common.day("last_updated")]


EMPTY_MARKER = "\u0000tributary-empty\u0000"


class ExportError(ValueError):
    """The export in the raw zone cannot be replayed (an unknown ``Op``, a row missing a value)."""


def _nullable(schema: StructType) -> StructType:
    # CSV cannot promise anything: required columns are checked after the replay.
    return StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields])


def _read(spark: SparkSession, paths: list[str], schema: StructType, fmt: str) -> DataFrame:
    reader = spark.read.schema(_nullable(schema))
    if fmt == "csv":
        # multiLine keeps each file in one task (quoted fields may hold newlines), so that the
        # row order within a file is the order of monotonically_increasing_id.
        df = reader.options(
            header=True,
            multiLine=True,
            escape='"',
            mode="FAILFAST",
            # The lake writes null as an empty field and "" as a quoted empty one; Spark reads both
            # as null unless the quoted one becomes a marker first.
            emptyValue=EMPTY_MARKER,
        ).csv(paths)
        df = df.select(
            *[
                F.when(F.col(f.name) == EMPTY_MARKER, F.lit("")).otherwise(F.col(f.name)).alias(f.name)
                if f.dataType.typeName() == "string"
                else F.col(f.name)
                for f in schema.fields
            ],
            "_metadata",
        )
        position = F.monotonically_increasing_id()
    else:
        df = reader.parquet(*paths)
        position = F.col("_metadata.row_index")
    return df.withColumn("_file", F.col("_metadata.file_name")).withColumn("_pos", position)


def list_export(spark: SparkSession, folder: str, ext: str) -> tuple[list[str], list[str]]:
    """The LOAD files and the CDC files of a table's folder (paths), each in name order."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return [], []
    loads, changes = [], []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if not status.isFile() or not name.endswith(ext) or name.startswith(("_", ".")):
            continue
        (loads if name.startswith("LOAD") else changes).append((name, status.getPath().toString()))
    return [p for _, p in sorted(loads)], [p for _, p in sorted(changes)]


def read_changes(
    spark: SparkSession, loads: list[str], changes: list[str], table_schema: StructType, cdc_schema: StructType, fmt: str
) -> DataFrame:
    """Every row of the export as a change: ``Op`` (``I`` for full-load rows), the table's
    columns, and ``_kind`` (0 full load, 1 CDC), ``_file``, ``_pos`` giving the replay order."""
    columns = [f.name for f in table_schema.fields]
    parts = []
    if loads:
        parts.append(
            _read(spark, loads, table_schema, fmt).select(
                F.lit("I").alias("Op"), *columns, F.lit(0).alias("_kind"), "_file", "_pos"
            )
        )
    if changes:
        parts.append(
            _read(spark, changes, cdc_schema, fmt).select("Op", *columns, F.lit(1).alias("_kind"), "_file", "_pos")
        )
    if not parts:
        raise ExportError("no LOAD or CDC files to replay")
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def replay(changes: DataFrame, primary_key: list[str]) -> DataFrame:
    """The table after every change: per primary key the last change in (kind, file, position)
    order, unless it is a delete. Returns the table's columns only."""
    columns = [c for c in changes.columns if c not in ("Op", "_kind", "_file", "_pos")]
    latest = Window.partitionBy(*primary_key).orderBy(F.desc("_kind"), F.desc("_file"), F.desc("_pos"))
    return (
        changes.withColumn("_n", F.row_number().over(latest))
        .filter((F.col("_n") == 1) & (F.col("Op") != "D"))
        .select(*columns)
    )


def check_ops(changes: DataFrame) -> None:
    bad = changes.filter(~F.col("Op").isin("I", "U", "D") | F.col("Op").isNull()).select("_file", "Op").limit(1).collect()
    if bad:
        raise ExportError(f"{bad[0]['_file']}: unknown Op {bad[0]['Op']}")


def check_required(df: DataFrame, schema: StructType, table: str) -> None:
    """Rows that miss a required value do not fit the table (``CMC_TRANSFORM_INVALID`` in TypeScript)."""
    required = [f.name for f in schema.fields if not f.nullable]
    if not required:
        return
    missing = df.filter(F.greatest(*[F.col(c).isNull() for c in required], F.lit(False))).count()
    if missing:
        raise ExportError(f"{missing} replayed rows of {table} do not fit their schema (a required value is missing)")


def quotes_by_day(quotes: DataFrame) -> DataFrame:
    """The quote history with its partition ``dt``, the UTC day of ``last_updated``."""
    return quotes.withColumn("dt", F.date_format("last_updated", "yyyy-MM-dd"))


def replay_table(spark: SparkSession, args: argparse.Namespace, table: str) -> DataFrame:
    table_schema = common.load_schema(table, args.schemas, spark)
    cdc_schema = common.load_schema(f"{table}_cdc", args.schemas, spark)
    folder = common.table_path(args.raw, f"{args.prefix}{args.schema}/{table}")
    loads, changes = list_export(spark, folder, f".{args.format}")
    if not loads and not changes:
        raise ExportError(f"no export of {table} under {folder}")
    all_changes = read_changes(spark, loads, changes, table_schema, cdc_schema, args.format).persist()
    check_ops(all_changes)
    rows = replay(all_changes, PRIMARY_KEYS[table])
    rows = rows.select(*[rows[f.name].cast(f.dataType) for f in table_schema.fields]).persist()
    check_required(rows, table_schema, table)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, help="the raw zone (file:///…/raw, s3://bucket/raw)")
    parser.add_argument("--processed", required=True, help="the processed zone")
    parser.add_argument("--schema", default="coinmarketcap", help="the PostgreSQL schema exported")
    parser.add_argument("--prefix", default="coinmarketcap/", help="the export's prefix in the raw zone")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--schemas", default=None, help="folder of the schema JSON (default spark/schemas)")
    parser.add_argument("--master", default=None, help="e.g. local[*] outside spark-submit")
    common.add_table_format_args(parser)
    args = parser.parse_args(argv)
    common.check_table_format_args(parser, args)
    if args.prefix and not args.prefix.endswith("/"):
        parser.error("--prefix must be empty or end with /")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-crypto-raw-to-processed", args.master, args.table_format)
    coins = replay_table(spark, args, "cryptocurrency")
    if args.table_format == "iceberg":
        target = common.IcebergTarget(args.processed, args.catalog, args.database)
        quotes = replay_table(spark, args, "quote")
        common.write_iceberg(
            coins, target, PROCESSED_TABLES["cryptocurrency"], common.load_schema("cryptocurrency", args.schemas, spark), [], "overwrite"
        )
        common.write_iceberg(
            quotes, target, PROCESSED_TABLES["quote"], common.load_schema("quote", args.schemas, spark), ICEBERG_QUOTE_PARTITIONS
        )
        print(f"crypto_raw_to_processed: wrote {args.processed.rstrip('/')}/coinmarketcap/{{cryptocurrency,quote}} (iceberg)")
        return 0
    common.write_table(coins, common.table_path(args.processed, PROCESSED_TABLES["cryptocurrency"]), ["id"])
    quotes = quotes_by_day(replay_table(spark, args, "quote"))
    common.write_partitions(
        quotes,
        common.table_path(args.processed, PROCESSED_TABLES["quote"]),
        ["dt"],
        "parquet",
        ["last_updated", "cryptocurrency_id", "convert"],
    )
    print(f"crypto_raw_to_processed: wrote {args.processed.rstrip('/')}/coinmarketcap/{{cryptocurrency,quote}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
