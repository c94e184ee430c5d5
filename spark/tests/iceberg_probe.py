"""A local Spark with Iceberg for the tests: one session, commands as JSON lines, results as JSON lines.

    spark/.venv/bin/python spark/tests/iceberg_probe.py --jar <iceberg-spark-runtime.jar>

Starts ONE ``local[1]`` session with the Iceberg Spark runtime on ``spark.jars`` (a local file: the
probe downloads nothing; ``node scripts/iceberg-runtime.mjs`` puts the jar in the local Maven
repository), Iceberg's SQL extensions and UTC as the session time zone. It then prints one line
``{"ready": true, "sparkVersion", "icebergVersion", "startMillis"}`` and answers each line of
stdin (one JSON command) with one line on stdout, ``{"ok": true, "result": …}`` or
``{"ok": false, "error": {"type", "message"}}``, until stdin closes. Spark's own output goes to
stderr. Commands (``path`` is a table folder: ``<path>/metadata/vN.metadata.json`` and
``version-hint.text``, the layout of Iceberg's Hadoop tables, which the lake writes):

- ``{"op": "read", "path", "snapshotId": null | "123", "asOfMillis": null | 1764000000000,
  "orderBy": ["id"]}``: the table as ``spark.read.format("iceberg").load(path)`` reads it (the
  current snapshot, or the one given) -> :func:`describe`'s fields plus ``rows`` (values as
  :func:`to_json` writes them) and ``readSchema`` (Spark's schema of what was read).
- ``{"op": "write", "path", "schema": "id bigint not null, …", "partitionBy": ["hours(timestamp)"],
  "properties": {…}, "rows": [{…}], "mode": "append" | "overwrite" | "overwritePartitions"}``:
  creates the table when it does not exist (format version 2; ``schema`` and ``partitionBy`` in
  Spark SQL, as in ``CREATE TABLE … PARTITIONED BY``), then writes ``rows`` (JSON values as
  :func:`from_json` reads them) with ``DataFrameWriterV2``: ``append``, ``overwrite`` (the whole
  table) or ``overwritePartitions`` (dynamic) -> :func:`describe`.
- ``{"op": "sql", "path", "sql": "CALL {catalog}.system.expire_snapshots(table => '{name}', retain_last => 1)"}``:
  any statement, ``{table}`` replaced by the table's identifier, ``{catalog}`` by its catalog
  and ``{name}`` by its name in that catalog -> ``{"rows", "schema"}``.
- ``{"op": "describe", "path"}`` -> :func:`describe`.

Writing goes through a Hadoop catalog whose warehouse is the table's parent folder (one catalog
per parent folder), so a table Spark writes is a plain Hadoop table at ``path``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import sys
import tempfile
import time
import traceback
from decimal import Decimal

EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
WRITE_MODES = ("append", "overwrite", "overwritePartitions")


def start(jar: str):
    """The session: local[1], the runtime jar from a local path, Iceberg's SQL extensions, UTC."""
    if not os.path.isfile(jar):
        raise FileNotFoundError(f"the Iceberg Spark runtime is not at {jar} (run: node scripts/iceberg-runtime.mjs)")
    # Python turns Spark's timestamps into datetimes in the process's time zone: make that UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    from pyspark.sql import SparkSession

    scratch = tempfile.mkdtemp(prefix="tributary-iceberg-probe-")
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("tributary-iceberg-probe")
        .config("spark.jars", jar)
        .config("spark.sql.extensions", EXTENSIONS)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.memory", "1g")
        # Nothing lands in the working folder (spark-warehouse/), whatever a statement does.
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.local.dir", os.path.join(scratch, "local"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class Probe:
    """The commands, on one session; a catalog per parent folder of the tables written."""

    def __init__(self, spark):
        self.spark = spark
        self.jvm = spark.sparkContext._jvm
        self.catalogs: dict[str, str] = {}

    # -- tables ---------------------------------------------------------------------------------

    def catalog_of(self, path: str) -> tuple[str, str]:
        """``(catalog, quoted name)`` of the table at ``path`` in a Hadoop catalog over its parent."""
        path = os.path.abspath(path)
        parent, name = os.path.split(path.rstrip("/"))
        catalog = self.catalogs.get(parent)
        if catalog is None:
            catalog = f"probe_{len(self.catalogs) + 1}"
            prefix = f"spark.sql.catalog.{catalog}"
            self.spark.conf.set(prefix, "org.apache.iceberg.spark.SparkCatalog")
            self.spark.conf.set(f"{prefix}.type", "hadoop")
            # A plain path: Hadoop would keep a URI's %20 as three characters of the folder name.
            self.spark.conf.set(f"{prefix}.warehouse", parent)
            self.spark.conf.set(f"{prefix}.cache-enabled", "false")
            self.catalogs[parent] = catalog
        return catalog, "`" + name.replace("`", "``") + "`"

    def load(self, path: str):
        """Iceberg's own ``Table`` for ``path`` (HadoopTables reads ``version-hint.text``)."""
        conf = self.spark._jsc.hadoopConfiguration()
        return self.jvm.org.apache.iceberg.hadoop.HadoopTables(conf).load(os.path.abspath(path))

    def exists(self, path: str) -> bool:
        conf = self.spark._jsc.hadoopConfiguration()
        return bool(self.jvm.org.apache.iceberg.hadoop.HadoopTables(conf).exists(os.path.abspath(path)))

    # -- commands -------------------------------------------------------------------------------

    def run(self, command: dict):
        op = command.get("op")
        if op == "read":
            return self.read(command)
        if op == "write":
            return self.write(command)
        if op == "sql":
            return self.sql(command)
        if op == "describe":
            return describe(self.load(_path(command)), self.jvm)
        raise ValueError(f"unknown op {op!r} (read, write, sql, describe)")

    def read(self, command: dict) -> dict:
        path = _path(command)
        reader = self.spark.read.format("iceberg")
        if command.get("snapshotId") is not None:
            reader = reader.option("snapshot-id", str(int(command["snapshotId"])))
        if command.get("asOfMillis") is not None:
            reader = reader.option("as-of-timestamp", str(int(command["asOfMillis"])))
        df = reader.load(os.path.abspath(path))
        if command.get("orderBy"):
            df = df.orderBy(*command["orderBy"])
        rows = [to_json(row, df.schema) for row in df.collect()]
        return {**describe(self.load(path), self.jvm), "readSchema": schema_json(df.schema), "rows": rows}

    def write(self, command: dict) -> dict:
        from pyspark.sql import functions as F

        path = _path(command)
        mode = command.get("mode", "append")
        if mode not in WRITE_MODES:
            raise ValueError(f"mode must be one of {', '.join(WRITE_MODES)}, got {mode!r}")
        catalog, name = self.catalog_of(path)
        table = f"{catalog}.{name}"
        if not self.exists(path):
            if not command.get("schema"):
                raise ValueError(f"no table at {path}: give its schema to create it")
            partition_by = command.get("partitionBy") or []
            if isinstance(partition_by, str):
                partition_by = [partition_by]
            properties = {"format-version": "2", **(command.get("properties") or {})}
            self.spark.sql(
                f"CREATE TABLE {table} ({command['schema']}) USING iceberg"
                + (f" PARTITIONED BY ({', '.join(partition_by)})" if partition_by else "")
                + f" TBLPROPERTIES ({', '.join(f'{_sql_string(k)} = {_sql_string(v)}' for k, v in properties.items())})"
            )
        schema = self.spark.table(table).schema
        rows = [from_json(row, schema) for row in command.get("rows") or []]
        df = self.spark.createDataFrame(rows, schema, verifySchema=True)
        writer = df.writeTo(table)
        if mode == "append":
            writer.append()
        elif mode == "overwrite":
            writer.overwrite(F.lit(True))
        else:
            writer.overwritePartitions()
        return describe(self.load(path), self.jvm)

    def sql(self, command: dict) -> dict:
        catalog, name = self.catalog_of(_path(command))
        statement = command["sql"].replace("{table}", f"{catalog}.{name}")
        statement = statement.replace("{catalog}", catalog).replace("{name}", name.strip("`"))
        df = self.spark.sql(statement)
        return {"schema": schema_json(df.schema), "rows": [to_json(row, df.schema) for row in df.collect()]}


def _path(command: dict) -> str:
    path = command.get("path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ValueError(f"path must be an absolute folder path, got {path!r}")
    return path


def _sql_string(value) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _long(value) -> str | None:
    return None if value is None else str(int(value))


# -- what Iceberg says about a table ------------------------------------------------------------


def describe(table, jvm) -> dict:
    """The table's metadata as Iceberg's Java library reads it: ``metadataLocation``,
    ``formatVersion``, ``currentSnapshotId``, ``schema`` (Iceberg's JSON: field ids and types),
    ``partitionSpec`` (``[{"name", "transform", "source", "fieldId"}]``), ``snapshots`` (oldest
    first: ``snapshotId``, ``parentId``, ``sequenceNumber``, ``timestampMillis``, ``operation``,
    ``summary``, ``manifestList``) and ``properties``. Snapshot ids are strings (they are 64-bit)."""
    jvm_schema = table.schema()
    spec = table.spec()
    current = table.currentSnapshot()
    metadata = table.operations().current()
    snapshots = []
    for snapshot in table.snapshots():
        snapshots.append(
            {
                "snapshotId": _long(snapshot.snapshotId()),
                "parentId": _long(snapshot.parentId()),
                "sequenceNumber": int(snapshot.sequenceNumber()),
                "timestampMillis": int(snapshot.timestampMillis()),
                "operation": snapshot.operation(),
                "summary": dict(snapshot.summary().items()),
                "manifestList": snapshot.manifestListLocation(),
            }
        )
    return {
        "metadataLocation": metadata.metadataFileLocation(),
        "formatVersion": int(metadata.formatVersion()),
        "currentSnapshotId": None if current is None else _long(current.snapshotId()),
        "schema": json.loads(jvm.org.apache.iceberg.SchemaParser.toJson(jvm_schema)),
        "partitionSpec": [
            {
                "name": field.name(),
                "transform": field.transform().toString(),
                "source": jvm_schema.findColumnName(field.sourceId()),
                "fieldId": int(field.fieldId()),
            }
            for field in spec.fields()
        ],
        "snapshots": snapshots,
        "properties": dict(table.properties().items()),
    }


# -- values ---------------------------------------------------------------------------------------


def schema_json(schema) -> list[dict]:
    """``[{"name", "type", "nullable"}]``, types in Spark SQL's words (``decimal(38,18)``, ``array<string>``)."""
    return [{"name": f.name, "type": f.dataType.simpleString(), "nullable": f.nullable} for f in schema.fields]


def to_json(value, data_type):
    """A Spark value as JSON: timestamps as ISO-8601 UTC strings with microseconds
    (``2026-11-23T10:15:00.000000Z``; without ``Z`` for ``timestamp_ntz``), dates ``YYYY-MM-DD``,
    decimals and longs as strings (exact: JSON numbers are doubles in JavaScript), binary as base64,
    NaN and infinities as strings, structs and rows as objects, maps as ``[key, value]`` pairs."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(data_type, T.StructType):
        return {f.name: to_json(value[f.name], f.dataType) for f in data_type.fields}
    if isinstance(data_type, T.ArrayType):
        return [to_json(v, data_type.elementType) for v in value]
    if isinstance(data_type, T.MapType):
        return [[to_json(k, data_type.keyType), to_json(v, data_type.valueType)] for k, v in value.items()]
    if isinstance(data_type, T.TimestampNTZType):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(data_type, T.TimestampType):
        # The probe runs with TZ=UTC: the naive datetime PySpark makes is UTC.
        utc = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(data_type, T.DateType):
        return value.isoformat()
    if isinstance(data_type, T.DecimalType):
        return format(value, "f")
    if isinstance(data_type, T.LongType):
        return str(value)
    if isinstance(data_type, T.BinaryType):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(data_type, (T.FloatType, T.DoubleType)) and (math.isnan(value) or math.isinf(value)):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    return value


def from_json(value, data_type):
    """The inverse of :func:`to_json` for writing: ISO-8601 strings for timestamps (an offset or
    ``Z``, or epoch microseconds as a number or string), ``YYYY-MM-DD`` for dates, strings or
    numbers for decimals and longs, base64 for binary; a row is an object by column name."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(data_type, T.StructType):
        if not isinstance(value, dict):
            raise ValueError(f"a row must be a JSON object, got {value!r}")
        unknown = set(value) - set(data_type.fieldNames())
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)} (the table has {data_type.fieldNames()})")
        return tuple(from_json(value.get(f.name), f.dataType) for f in data_type.fields)
    if isinstance(data_type, T.ArrayType):
        return [from_json(v, data_type.elementType) for v in value]
    if isinstance(data_type, T.MapType):
        pairs = value.items() if isinstance(value, dict) else value
        return {from_json(k, data_type.keyType): from_json(v, data_type.valueType) for k, v in pairs}
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return _timestamp(value, isinstance(data_type, T.TimestampNTZType))
    if isinstance(data_type, T.DateType):
        return dt.date.fromisoformat(value)
    if isinstance(data_type, T.DecimalType):
        return Decimal(str(value))
    if isinstance(data_type, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)):
        return int(value)
    if isinstance(data_type, (T.FloatType, T.DoubleType)):
        return float(value)
    if isinstance(data_type, T.BinaryType):
        return bytearray(base64.b64decode(value))
    return value


def _timestamp(value, ntz: bool) -> dt.datetime:
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.lstrip("-").isdigit()):
        micros = int(value)
        moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=micros)
    else:
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    # Naive UTC: PySpark reads a naive datetime in the process's zone, which is UTC here.
    return moment


# -- the CLI ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jar", required=True, help="the iceberg-spark-runtime jar (a local file)")
    args = parser.parse_args(argv)

    # stdout is the protocol: everything else (the JVM's output too, a child of this process) goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def say(message: dict) -> None:
        protocol.write(json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n")
        protocol.flush()

    started = time.monotonic()
    spark = start(args.jar)
    probe = Probe(spark)
    iceberg = probe.jvm.org.apache.iceberg.IcebergBuild.version()
    say(
        {
            "ready": True,
            "sparkVersion": spark.version,
            "icebergVersion": iceberg,
            "startMillis": round((time.monotonic() - started) * 1000),
        }
    )
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                say({"ok": True, "result": probe.run(json.loads(line))})
            except Exception as error:  # noqa: BLE001 - every failure goes back to the caller
                print(traceback.format_exc(), file=sys.stderr)
                say({"ok": False, "error": {"type": type(error).__name__, "message": _message(error)}})
    finally:
        spark.stop()
    return 0


def _message(error: Exception) -> str:
    text = str(error)
    # Py4J and Spark errors carry the JVM's stack trace: its first lines say what went wrong.
    return "\n".join(text.splitlines()[:8])


if __name__ == "__main__":
    sys.exit(main())
