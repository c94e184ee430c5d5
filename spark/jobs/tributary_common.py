"""What every tributary Spark job shares: the session settings, the schemas core emits, and the
writers that follow the lake's layout (hive partitions, dynamic partition overwrite).

Shipped next to the jobs (``--py-files tributary_common.py`` on EMR); the jobs import it by name.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

SCHEMAS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas")

# The settings the lake's readers depend on, whatever the cluster's defaults:
# - UTC everywhere (partitions are UTC days and hours; the TypeScript side never uses local time);
# - Parquet timestamps as TIMESTAMP(MILLIS, isAdjustedToUTC), what the TypeScript writer writes and
#   hyparquet reads (never INT96);
# - ANSI off, so that a malformed value in a raw line becomes NULL for the validation to report
#   instead of failing the job;
# - plain (pickled) Python UDFs: the Arrow ones need pandas, which the jobs do without.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MILLIS",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.execution.pythonUDF.arrow.enabled": "false",
}


def configure(builder: SparkSession.Builder) -> SparkSession.Builder:
    """Apply :data:`SESSION_CONF` to a session builder (the tests' session gets the same)."""
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    return builder


# The modules of spark/jobs that Python UDFs run on the executors need there too.
SHIPPED_MODULES = ("tributary_common.py", "sensor_validation.py", "crypto_math.py")


def ship_modules(spark: SparkSession) -> None:
    """Send the jobs' own modules to the executors' Python workers (``--py-files`` does the same)."""
    folder = os.path.dirname(os.path.abspath(__file__))
    shipped = spark.conf.get("spark.tributary.shipped", "")
    if shipped == folder:
        return
    for name in SHIPPED_MODULES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            spark.sparkContext.addPyFile(path)
    spark.conf.set("spark.tributary.shipped", folder)


def session(app_name: str, master: str | None = None) -> SparkSession:
    """The job's session. ``master`` only for local runs; on EMR spark-submit sets it."""
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    spark = configure(builder).getOrCreate()
    # getOrCreate may hand back a session made earlier: make sure the settings hold for it too.
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    ship_modules(spark)
    return spark


def _read_text(path: str, spark: SparkSession | None) -> str:
    if "://" not in path or path.startswith("file://"):
        local = path[len("file://") :] if path.startswith("file://") else path
        with open(local, encoding="utf-8") as handle:
            return handle.read()
    if spark is None:
        raise ValueError(f"reading {path} needs a SparkSession")
    # S3 and other Hadoop file systems: let Spark read the small JSON document.
    return spark.read.text(path, wholetext=True).first()[0]


def load_json(name: str, schemas_dir: str | None = None, spark: SparkSession | None = None) -> dict:
    """A JSON document of ``spark/schemas/`` (or of ``schemas_dir``, a local path or a URL)."""
    folder = schemas_dir or SCHEMAS_DIR
    return json.loads(_read_text(f"{folder.rstrip('/')}/{name}.json", spark))


def load_schema(name: str, schemas_dir: str | None = None, spark: SparkSession | None = None) -> StructType:
    """The Spark schema ``@tributary/core``'s ``toSparkSchema`` emitted for a table."""
    return StructType.fromJson(load_json(name, schemas_dir, spark))


def without(schema: StructType, names: Iterable[str]) -> StructType:
    """The schema less some fields (hive partition columns, which live in the path, not the file)."""
    drop = set(names)
    return StructType([f for f in schema.fields if f.name not in drop])


def table_path(zone: str, table: str) -> str:
    """``<zone>/<table>``: a zone is a folder URL (``file:///…/processed``, ``s3://bucket/processed``)."""
    return f"{zone.rstrip('/')}/{table}"


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """The columns of ``schema``, in its order and with its types."""
    return df.select([df[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def write_partitions(
    df: DataFrame,
    path: str,
    partition_by: list[str],
    fmt: str = "parquet",
    sort_by: list[str] | None = None,
) -> None:
    """Write ``df`` under hive partitions, replacing only the partitions it has rows for.

    One file per partition (the tables are partitioned finely enough for that), rows sorted so
    that a run again on the same input writes the same rows in the same order.
    """
    out = df.repartition(*partition_by)
    if sort_by:
        out = out.sortWithinPartitions(*partition_by, *sort_by)
    (
        out.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*partition_by)
        .format(fmt)
        .save(path)
    )


def write_table(df: DataFrame, path: str, sort_by: list[str] | None = None) -> None:
    """Replace a whole unpartitioned Parquet table with ``df`` (one file)."""
    out = df.coalesce(1)
    if sort_by:
        out = out.sortWithinPartitions(*sort_by)
    out.write.mode("overwrite").parquet(path)
