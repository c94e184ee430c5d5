"""What every tributary Spark job shares: the session settings, the schemas core emits, and the
writers that follow the lake's layout: hive partitions with dynamic partition overwrite, or Iceberg
tables (``--table-format iceberg``) in the lake's Hadoop layout or a catalog such as Glue's.

Shipped next to the jobs (``--py-files tributary_common.py`` on EMR); the jobs import it by name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import unquote, urlsplit

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
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


def session(app_name: str, master: str | None = None, table_format: str = "hive") -> SparkSession:
    """The job's session. ``master`` only for local runs; on EMR spark-submit sets it.

    With ``table_format="iceberg"`` and a local ``master``, the Iceberg Spark runtime
    (:func:`iceberg_runtime_jar`) and Iceberg's SQL extensions are added unless spark-submit
    (``--jars``/``--packages``) already did; the session then fails early, with what to do, when
    Iceberg's classes are still missing (on EMR and Glue, the cluster's Iceberg settings provide them).
    """
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if table_format == "iceberg" and master:
        builder = with_iceberg_runtime(builder)
    spark = configure(builder).getOrCreate()
    # getOrCreate may hand back a session made earlier: make sure the settings hold for it too.
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    ship_modules(spark)
    if table_format == "iceberg":
        check_iceberg(spark)
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


# ---------------------------------------------------------------------------------------------
# Table formats: hive (folders of Parquet) or Iceberg (the lake's Hadoop layout, or a catalog)

TABLE_FORMATS = ("hive", "iceberg")
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
# The runtime AWS Glue 5.1 ships, the one scripts/iceberg-runtime.mjs puts in the local Maven repository.
ICEBERG_RUNTIME = ("org.apache.iceberg", "iceberg-spark-runtime-3.5_2.12", "1.10.0")
ICEBERG_JAR_ENV = "TRIBUTARY_ICEBERG_JAR"


class IcebergSetupError(RuntimeError):
    """Spark cannot work on Iceberg tables here (no runtime on the classpath, a table partitioned
    otherwise than the lake partitions it: ``ICEBERG_SPEC_MISMATCH``, as the lake says it)."""

    def __init__(self, message: str, code: str = "ICEBERG_UNAVAILABLE"):
        super().__init__(f"{code}: {message}")
        self.code = code


def iceberg_runtime_jar() -> str | None:
    """The runtime jar on this machine: ``$TRIBUTARY_ICEBERG_JAR``, else where
    ``node scripts/iceberg-runtime.mjs`` puts it (``$MAVEN_REPO_LOCAL`` or ``~/.m2/repository``).
    None when it is not there: nothing is downloaded."""
    given = os.environ.get(ICEBERG_JAR_ENV)
    if given:
        return given if os.path.isfile(given) else None
    group, artifact, version = ICEBERG_RUNTIME
    repository = os.environ.get("MAVEN_REPO_LOCAL") or os.path.join(os.path.expanduser("~"), ".m2", "repository")
    path = os.path.join(repository, *group.split("."), artifact, version, f"{artifact}-{version}.jar")
    return path if os.path.isfile(path) else None


def with_iceberg_runtime(builder: SparkSession.Builder) -> SparkSession.Builder:
    """A local session's builder with the runtime jar (when found) and Iceberg's SQL extensions,
    unless ``PYSPARK_SUBMIT_ARGS`` or spark-submit already give Iceberg."""
    submitted = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    if "iceberg-spark-runtime" not in submitted:
        jar = iceberg_runtime_jar()
        if jar:
            builder = builder.config("spark.jars", jar)
    if "spark.sql.extensions" not in submitted:
        builder = builder.config("spark.sql.extensions", ICEBERG_EXTENSIONS)
    return builder


def check_iceberg(spark: SparkSession) -> None:
    """Fail with what to do when the Iceberg Spark runtime is not on the session's classpath."""
    jvm = spark.sparkContext._jvm
    try:
        loader = jvm.org.apache.spark.util.Utils.getContextOrSparkClassLoader()
        jvm.java.lang.Class.forName("org.apache.iceberg.spark.SparkCatalog", True, loader)
    except Exception as error:  # py4j wraps the JVM's ClassNotFoundException
        group, artifact, version = ICEBERG_RUNTIME
        raise IcebergSetupError(
            f"the Iceberg Spark runtime {group}:{artifact}:{version} is not on Spark's classpath: locally run "
            f"`node scripts/iceberg-runtime.mjs` (or set {ICEBERG_JAR_ENV}) or pass --jars/--packages to "
            "spark-submit; on EMR use the iceberg-defaults classification, on Glue --datalake-formats iceberg"
        ) from error


def add_table_format_args(parser: argparse.ArgumentParser) -> None:
    """``--table-format hive|iceberg`` (default hive, as the TypeScript transforms) and, for
    Iceberg, ``--catalog``/``--database``: without them each zone is its own Hadoop catalog (the
    lake's ``StorageCatalog`` layout); with them the tables are ``<catalog>.<database>.<name>``,
    the Glue name of each lake table (``coinmarketcap/quote`` -> ``coinmarketcap_quote``)."""
    parser.add_argument("--table-format", choices=TABLE_FORMATS, default="hive", help="default hive")
    parser.add_argument(
        "--catalog",
        default=None,
        help="Iceberg only: a Spark catalog configured by spark-submit (e.g. glue_catalog); default: a Hadoop catalog per zone",
    )
    parser.add_argument("--database", default=None, help="Iceberg only: the catalog's database (with --catalog)")


def check_table_format_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.table_format != "iceberg" and (args.catalog or args.database):
        parser.error("--catalog and --database need --table-format iceberg")
    if bool(args.catalog) != bool(args.database):
        parser.error("--catalog and --database go together")


@dataclass(frozen=True)
class IcebergSpec:
    """One partition field: ``transform`` (``identity``, ``hour``, ``day``) of column ``source``,
    named ``name`` (the lake's names: ``timestamp_hour``, ``last_updated_day``, ``dt`` for ``date``)."""

    transform: str
    source: str
    name: str


def identity(source: str, name: str | None = None) -> IcebergSpec:
    return IcebergSpec("identity", source, name or source)


def hour(source: str) -> IcebergSpec:
    return IcebergSpec("hour", source, f"{source}_hour")


def day(source: str) -> IcebergSpec:
    return IcebergSpec("day", source, f"{source}_day")


def glue_table_name(table: str) -> str:
    """The lake's default Glue name of a table path (``GlueIcebergCatalog``): lower case, every
    character other than a letter, digit or ``_`` replaced by ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", table.lower())


def _plain_location(zone: str) -> str:
    """A ``file://`` zone as a plain path (Hadoop would keep a URI's ``%20`` as three characters)."""
    if zone.startswith("file:"):
        return unquote(urlsplit(zone).path).rstrip("/")
    if "://" not in zone:
        return os.path.abspath(zone).rstrip("/")
    return zone.rstrip("/")


@dataclass(frozen=True)
class IcebergTarget:
    """Where a job's Iceberg tables are: a zone and, optionally, a catalog and database."""

    zone: str
    catalog: str | None = None
    database: str | None = None

    def identifier(self, spark: SparkSession, table: str) -> str:
        """The table's Spark identifier, configuring the zone's Hadoop catalog when needed."""
        if self.catalog:
            return f"{_quote(self.catalog)}.{_quote(self.database or '')}.{_quote(glue_table_name(table))}"
        catalog = hadoop_catalog(spark, self.zone)
        return ".".join([catalog, *(_quote(part) for part in table.split("/"))])

    def location(self, table: str) -> str:
        return table_path(_plain_location(self.zone), table)


def _quote(part: str) -> str:
    return "`" + part.replace("`", "``") + "`"


def hadoop_catalog(spark: SparkSession, zone: str) -> str:
    """A Hadoop catalog whose warehouse is the zone (``<zone>/<table>/metadata/vN.metadata.json``
    and ``version-hint.text``: the layout the lake's ``StorageCatalog`` commits). Named after the
    zone, set once per session; no cache, so a commit another engine makes between two statements
    is seen."""
    warehouse = _plain_location(zone)
    name = "tributary_" + hashlib.sha1(warehouse.encode("utf-8")).hexdigest()[:12]
    prefix = f"spark.sql.catalog.{name}"
    if spark.conf.get(prefix, None) is None:
        spark.conf.set(f"{prefix}.type", "hadoop")
        spark.conf.set(f"{prefix}.warehouse", warehouse)
        spark.conf.set(f"{prefix}.cache-enabled", "false")
        spark.conf.set(prefix, "org.apache.iceberg.spark.SparkCatalog")
    return name


def _iceberg_catalog(spark: SparkSession, identifier: str):
    """Iceberg's own ``Catalog`` behind a Spark catalog, and the table's ``TableIdentifier``."""
    jvm = spark.sparkContext._jvm
    parts = _split_identifier(identifier)
    spark_catalog = spark._jsparkSession.sessionState().catalogManager().catalog(parts[0])
    levels = spark.sparkContext._gateway.new_array(jvm.java.lang.String, len(parts) - 2)
    for index, level in enumerate(parts[1:-1]):
        levels[index] = level
    name = jvm.org.apache.iceberg.catalog.TableIdentifier.of(jvm.org.apache.iceberg.catalog.Namespace.of(levels), parts[-1])
    return spark_catalog.icebergCatalog(), name


def _split_identifier(identifier: str) -> list[str]:
    parts = re.findall(r"`((?:[^`]|``)*)`|([^.`]+)", identifier)
    return [quoted.replace("``", "`") if quoted else plain for quoted, plain in parts]


def ensure_iceberg_table(
    spark: SparkSession,
    target: IcebergTarget,
    table: str,
    schema: StructType,
    partitions: list[IcebergSpec],
) -> str:
    """The table's identifier, created (format version 2) when it does not exist, with ``schema``
    (required where not nullable: the lake's required columns) and exactly ``partitions`` (a
    spec's field names are the lake's, e.g. ``dt`` for ``identity(date)``, which Spark SQL's
    ``PARTITIONED BY`` cannot name). An existing table, whoever created it, must be partitioned
    the same way (``ICEBERG_SPEC_MISMATCH`` otherwise, as the lake would refuse the write)."""
    identifier = target.identifier(spark, table)
    jvm = spark.sparkContext._jvm
    catalog, name = _iceberg_catalog(spark, identifier)
    if catalog.tableExists(name):
        current = catalog.loadTable(name)
        have = [
            (str(f.transform().toString()), str(current.schema().findColumnName(f.sourceId())))
            for f in current.spec().fields()
        ]
        want = [(p.transform, p.source) for p in partitions]
        if have != want:
            show = lambda specs: ", ".join(f"{t}({s})" for t, s in specs) or "none"  # noqa: E731
            raise IcebergSetupError(
                f"{identifier} is partitioned by [{show(have)}], the job writes [{show(want)}]",
                code="ICEBERG_SPEC_MISMATCH",
            )
        return identifier
    iceberg_schema = jvm.org.apache.iceberg.spark.SparkSchemaUtil.convert(
        spark._jsparkSession.parseDataType(schema.json())
    )
    builder = jvm.org.apache.iceberg.PartitionSpec.builderFor(iceberg_schema)
    for p in partitions:
        if p.transform == "identity":
            builder = builder.identity(p.source, p.name)
        elif p.transform == "hour":
            builder = builder.hour(p.source, p.name)
        elif p.transform == "day":
            builder = builder.day(p.source, p.name)
        else:
            raise ValueError(f"unknown partition transform {p.transform!r}")
    properties = jvm.java.util.HashMap()
    properties.put("format-version", "2")
    properties.put("write.format.default", "parquet")
    creating = catalog.buildTable(name, iceberg_schema).withPartitionSpec(builder.build()).withProperties(properties)
    if target.catalog:
        # In Glue (or any non-Hadoop catalog) the table lives where the lake keeps it.
        creating = creating.withLocation(target.location(table))
    try:
        creating.create()
    except Exception as error:
        # Another writer created it meanwhile: the spec check above decides on the next call.
        if "AlreadyExistsException" not in str(error):
            raise
        return ensure_iceberg_table(spark, target, table, schema, partitions)
    return identifier


def read_iceberg(spark: SparkSession, target: IcebergTarget, table: str) -> DataFrame:
    """The table at its current snapshot."""
    return spark.table(target.identifier(spark, table))


def write_iceberg(
    df: DataFrame,
    target: IcebergTarget,
    table: str,
    schema: StructType,
    partitions: list[IcebergSpec],
    mode: str = "overwrite_partitions",
) -> None:
    """Commit ``df`` (the columns of ``schema``) to the Iceberg table as one snapshot:
    ``overwrite_partitions`` replaces the partitions it has rows for (dynamic overwrite, the lake's
    mode of the same name), ``overwrite`` the whole table. Spark checks the required columns
    (a null there fails the write, nothing is committed)."""
    if mode not in ("overwrite_partitions", "overwrite"):
        raise ValueError(f"mode must be overwrite_partitions or overwrite, got {mode!r}")
    spark = df.sparkSession
    identifier = ensure_iceberg_table(spark, target, table, schema, partitions)
    writer = conform(df, schema).writeTo(identifier)
    if mode == "overwrite":
        writer.overwrite(F.lit(True))
    else:
        writer.overwritePartitions()
