"""Sensors, raw -> processed: the Spark twin of ``rawToProcessed`` (``@tributary/sensors``).

Reads the Firehose layout ``<raw>/<source>/YYYY/MM/DD/HH/*.ndjson[.gz]`` (folders by UTC arrival
hour), validates each line against the sensor record schema, deduplicates by ``id`` and writes
Parquet to ``<processed>/<table>/dt=YYYY-MM-DD/hour=HH/`` of event time. Lines that are not valid
records go to ``<processed>/<errors_table>/dt=…/`` (NDJSON) with a code and the reason:

- ``INVALID_JSON``: not JSON, or not a JSON object;
- ``INVALID_RECORD``: an object that fails the schema (each field's issue, as core words it);
- ``OUT_OF_WINDOW``: a valid record whose event hour is more than ``lateness_hours`` before its
  folder's hour, or more than one hour after it.

A valid record within the window belongs to its event day; every other line to its folder's day.
Per (event day, id) the kept occurrence is the one with the earliest event time, then the
earliest raw key (UTF-8 byte order), then the earliest line. Both tables are written with dynamic
partition overwrite, so a run again replaces exactly the partitions it writes.

    spark-submit --py-files tributary_common.py,sensor_validation.py sensors_raw_to_processed.py \\
        --raw s3://lake-raw --processed s3://lake-processed [--dates 2026-11-23 ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

import sensor_validation
import tributary_common as common

HOUR_MS = 3_600_000
DEFAULT_LATENESS_HOURS = 6
MAX_LATENESS_HOURS = 24 * 30

# What JavaScript's trim() removes: a line of only these is blank and skipped.
BLANK = "^[\\s\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]*$"
# An ISO-8601 UTC time as JavaScript's toISOString writes it (any fraction length).
FAST_ISO = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$"
STRING_LIMITS = {"id": 256, "sensorId": 128, "type": 64, "unit": 32}
RECORD_FIELDS = ["id", "sensorId", "type", "value", "unit", "timestamp"]

_SLOW_SCHEMA = T.StructType(
    [
        T.StructField("ok", T.BooleanType()),
        T.StructField("code", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("id", T.StringType()),
        T.StructField("sensorId", T.StringType()),
        T.StructField("type", T.StringType()),
        T.StructField("value", T.DoubleType()),
        T.StructField("unit", T.StringType()),
        T.StructField("ts_ms", T.LongType()),
    ]
)


@F.udf(returnType=_SLOW_SCHEMA)
def _validate_slow(line):
    result = sensor_validation.validate_line(line)
    return {name: result.get(name) for name in _SLOW_SCHEMA.fieldNames()}


def key_pattern(source: str) -> str:
    """The raw key of a data object, ``<source>/YYYY/MM/DD/HH/<name>``, as a Java regex over its path."""
    return f"(?:^|/)({re.escape(source)}/(\\d{{4}})/(\\d{{2}})/(\\d{{2}})/(\\d{{2}})/[^/]+)$"


def read_raw_lines(spark: SparkSession, raw: str, source: str = "sensors") -> DataFrame:
    """Every line of the raw objects: ``key`` (relative to the zone), ``line`` (1-based), ``text``.

    Objects are read whole (``.gz`` decompressed), so line numbers are those of the object, as the
    TypeScript transform counts them. Objects and folders whose names start with ``_`` or ``.``
    are skipped, as the lake does. An object anywhere else than ``<source>/YYYY/MM/DD/HH/`` fails
    the job, as it fails ``rawToProcessed`` (``SENSOR_TRANSFORM_LAYOUT``).
    """
    # One recursive listing of the source folder (Spark skips `_` and `.` files and folders on
    # the way, as the lake does); a glob over YYYY/MM/DD/HH/* would list each object again.
    try:
        listing = (
            spark.read.option("recursiveFileLookup", "true")
            .text(common.table_path(raw, source), wholetext=True)
        )
    except AnalysisException as err:
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            return spark.createDataFrame([], "key string, line int, text string")
        raise
    # The layout is checked on the listing alone: no object is read for it.
    layout = re.compile(key_pattern(source))
    for path in listing.inputFiles():
        if not layout.search(path):
            raise ValueError(f"{path} is not in the raw layout ({source}/YYYY/MM/DD/HH/<object>)")
    files = listing.select(
        F.regexp_extract(F.col("_metadata.file_path"), key_pattern(source), 1).alias("key"),
        F.col("value").alias("content"),
    )
    lines = files.select("key", F.posexplode(F.split("content", "\n", -1)).alias("pos", "text"))
    return lines.select(
        "key",
        (F.col("pos") + 1).cast("int").alias("line"),
        F.regexp_replace("text", "\r$", "").alias("text"),
    )


def _fast_line() -> str:
    """The shape of a well-formed record line, as ``JSON.stringify`` writes one (the fields in the
    schema's order, optional JSON whitespace): strings without escapes, a number for ``value``, an
    ISO-8601 UTC string or a number for ``timestamp``. A line of this shape is a JSON object of
    exactly the six fields with the right JSON types, so SQL alone can take it."""
    ws = "[ \\t\\n\\r]*"
    string = '"[^"\\\\\\x00-\\x1f]*"'
    number = "-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    iso = '"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?Z"'
    values = {"id": string, "sensorId": string, "type": string, "value": number, "unit": string}
    values["timestamp"] = f"(?:{iso}|{number})"
    members = f"{ws},{ws}".join(f'"{name}"{ws}:{ws}{values[name]}' for name in RECORD_FIELDS)
    return f"^{ws}\\{{{ws}{members}{ws}\\}}{ws}$"


FAST_LINE = _fast_line()
_FAST_SCHEMA = "id string, sensorId string, type string, value string, unit string, timestamp string"


def parse_lines(lines: DataFrame, source: str = "sensors", persist: bool = False) -> DataFrame:
    """Validate non-blank lines: each gets ``ok`` and, when ok, the record's fields and ``ts_ms``
    (event time in UTC milliseconds); otherwise ``code`` and ``reason``. Also ``folder_hour``
    (hours since the epoch of the key's ``HH`` folder).

    ``persist`` keeps the parsed lines (memory, then disk) for the two branches, SQL and Python,
    that read them: without it each branch reads and parses the raw zone again."""
    df = lines.filter(~F.col("text").rlike(BLANK))
    # The key is `<source>/YYYY/MM/DD/HH/<name>` (read_raw_lines checked it): the folder's hour
    # is at a fixed place, no regex needed per line.
    folder = F.substring("key", len(source) + 2, 13)
    df = df.withColumn(
        "folder_hour",
        F.floor(F.unix_seconds(F.to_timestamp(folder, "yyyy/MM/dd/HH")) / 3600).cast("long"),
    )
    # Lines of the common shape are parsed once, by from_json, with every field as its JSON text.
    df = df.withColumn(
        "_j", F.when(F.col("text").rlike(FAST_LINE), F.from_json("text", _FAST_SCHEMA))
    )
    value = F.col("_j.value").cast("double")
    ts_text = F.col("_j.timestamp")
    is_iso = ts_text.rlike(FAST_ISO)
    iso_ms = F.floor(F.unix_micros(F.regexp_replace(ts_text, "Z$", "").cast("timestamp")) / 1000)
    num_ms = F.floor(ts_text.cast("double"))
    ts_ms = F.when(is_iso, iso_ms).otherwise(num_ms)
    fast_ok = F.col("_j").isNotNull() & ~F.isnan(value) & (F.abs(value) < float("inf"))
    for name, limit in STRING_LIMITS.items():
        fast_ok = fast_ok & (F.octet_length(f"_j.{name}") <= limit)
    fast_ok = fast_ok & ts_ms.isNotNull() & (F.abs(ts_ms) <= sensor_validation.MAX_TIME_MS)
    df = df.withColumn("_fast", F.coalesce(fast_ok, F.lit(False)))
    if persist:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)

    fast = df.filter("_fast").select(
        "key",
        "line",
        "text",
        "folder_hour",
        F.lit(True).alias("ok"),
        F.lit(None).cast("string").alias("code"),
        F.lit(None).cast("string").alias("reason"),
        F.col("_j.id").alias("id"),
        F.col("_j.sensorId").alias("sensorId"),
        F.col("_j.type").alias("type"),
        value.alias("value"),
        F.col("_j.unit").alias("unit"),
        ts_ms.cast("long").alias("ts_ms"),
    )
    # The few other lines go to Python in a partition or two: a Python worker per task of the
    # whole input would cost more than the validation itself.
    slow = (
        df.filter(~F.col("_fast"))
        .repartition(2)
        .withColumn("_r", _validate_slow("text"))
        .select(
            "key",
            "line",
            "text",
            "folder_hour",
            "_r.ok",
            "_r.code",
            "_r.reason",
            "_r.id",
            "_r.sensorId",
            "_r.type",
            "_r.value",
            "_r.unit",
            "_r.ts_ms",
        )
    )
    return fast.unionByName(slow)


def _hour_text(hour: Column) -> Column:
    """``HH`` of an hour since the epoch."""
    return F.date_format(F.timestamp_seconds(hour * 3600), "HH")


def _day_of_hour(hour: Column) -> Column:
    return F.date_add(F.lit("1970-01-01").cast("date"), F.floor(hour / 24).cast("int"))


def transform(
    lines: DataFrame,
    lateness_hours: int = DEFAULT_LATENESS_HOURS,
    dates: list[str] | None = None,
    source: str = "sensors",
) -> tuple[DataFrame, DataFrame]:
    """Raw lines (``key``, ``line``, ``text``) -> ``(processed, errors)``.

    ``processed`` has the record's columns plus ``dt`` (``YYYY-MM-DD``) and ``hour`` (``HH``) of
    event time; ``errors`` has ``dt`` (the folder's day), ``key``, ``line``, ``code``, ``reason``,
    ``raw``. ``dates`` keeps only those days (of event time, and of folders for the errors).
    """
    return split(classify(lines, lateness_hours, dates, source), lateness_hours)


def classify(
    lines: DataFrame,
    lateness_hours: int = DEFAULT_LATENESS_HOURS,
    dates: list[str] | None = None,
    source: str = "sensors",
    persist: bool = False,
) -> DataFrame:
    """Each non-blank line validated (:func:`parse_lines`), with ``event_hour``, ``in_window`` and
    the day ``dt`` it belongs to."""
    check_lateness(lateness_hours)
    parsed = parse_lines(lines, source, persist)
    event_hour = F.floor(F.col("ts_ms") / HOUR_MS)
    parsed = parsed.withColumn("event_hour", event_hour).withColumn(
        "in_window",
        F.col("ok")
        & (F.col("event_hour") >= F.col("folder_hour") - lateness_hours)
        & (F.col("event_hour") <= F.col("folder_hour") + 1),
    )
    parsed = parsed.withColumn(
        "dt",
        F.date_format(_day_of_hour(F.when(F.col("in_window"), F.col("event_hour")).otherwise(F.col("folder_hour"))), "yyyy-MM-dd"),
    )
    if dates is not None:
        parsed = parsed.filter(F.col("dt").isin(*dates))
    return parsed


def split(parsed: DataFrame, lateness_hours: int = DEFAULT_LATENESS_HOURS) -> tuple[DataFrame, DataFrame]:
    """The classified lines -> ``(processed, errors)``: the kept occurrence of each (day, id) of
    the records in their window, and every other line with its code and reason."""
    valid = parsed.filter("in_window")
    # The kept occurrence of each (day, id): the smallest (event time, key, line). A hash
    # aggregate of the struct's minimum, no sort of the whole day.
    kept = valid.groupBy("dt", "id").agg(
        F.min(F.struct("ts_ms", "key", "line", "sensorId", "type", "value", "unit", "event_hour")).alias("k")
    )
    processed = kept.select(
        "id",
        "k.sensorId",
        "k.type",
        "k.value",
        "k.unit",
        F.timestamp_millis("k.ts_ms").alias("timestamp"),
        "dt",
        _hour_text(F.col("k.event_hour")).alias("hour"),
    )

    folder = F.col("folder_hour")
    when_text = F.when(
        F.col("event_hour") < folder, F.concat((folder - F.col("event_hour")).cast("string"), F.lit(" hours before"))
    ).otherwise(F.concat((F.col("event_hour") - folder).cast("string"), F.lit(" hours after")))
    iso = F.date_format(F.timestamp_millis("ts_ms"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    out_of_window_reason = F.concat(
        F.lit("event time "),
        iso,
        F.lit(" is "),
        when_text,
        F.lit(f" the folder's hour (window: {lateness_hours} hours before to 1 hour after)"),
    )
    errors = parsed.filter(~F.col("in_window")).select(
        "dt",
        "key",
        "line",
        F.when(F.col("ok"), F.lit("OUT_OF_WINDOW")).otherwise(F.col("code")).alias("code"),
        F.when(F.col("ok"), out_of_window_reason).otherwise(F.col("reason")).alias("reason"),
        F.col("text").alias("raw"),
    )
    return processed, errors


def check_lateness(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > MAX_LATENESS_HOURS:
        raise ValueError(f"lateness hours must be a whole number from 0 to {MAX_LATENESS_HOURS}, got {value!r}")
    return value


def _calendar_day(text: str) -> str:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and date.fromisoformat(text):
            return text
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a calendar day (YYYY-MM-DD)")


def _lateness(text: str) -> int:
    try:
        return check_lateness(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, help="the raw zone (file:///…/raw, s3://bucket/raw)")
    parser.add_argument("--processed", required=True, help="the processed zone")
    parser.add_argument("--source", default="sensors", help="the raw folder (default sensors)")
    parser.add_argument("--table", default="sensors", help="the processed table (default sensors)")
    parser.add_argument("--errors-table", default="sensors_errors", help="default sensors_errors")
    parser.add_argument("--max-lateness-hours", type=_lateness, default=DEFAULT_LATENESS_HOURS)
    parser.add_argument("--dates", nargs="*", type=_calendar_day, help="only these UTC days")
    parser.add_argument("--schemas", default=None, help="folder of the schema JSON (default spark/schemas)")
    parser.add_argument("--master", default=None, help="e.g. local[*] outside spark-submit")
    args = parser.parse_args(argv)
    if args.errors_table == args.table:
        parser.error("--errors-table must differ from --table")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-sensors-raw-to-processed", args.master)
    record_schema = common.load_schema("sensors", args.schemas, spark)
    errors_schema = common.load_schema("sensors_errors", args.schemas, spark)
    lines = read_raw_lines(spark, args.raw, args.source)
    # Parsed once and kept: both outputs come from it, and the raw zone is read once.
    classified = classify(lines, args.max_lateness_hours, args.dates, args.source, persist=True)
    processed, errors = split(classified, args.max_lateness_hours)
    processed = processed.select(*[processed[f.name].cast(f.dataType) for f in record_schema.fields], "dt", "hour")
    errors = errors.select(*[errors[f.name].cast(f.dataType) for f in errors_schema.fields if f.name != "dt"], "dt")
    common.write_partitions(
        processed, common.table_path(args.processed, args.table), ["dt", "hour"], "parquet", ["timestamp", "id"]
    )
    common.write_partitions(
        errors, common.table_path(args.processed, args.errors_table), ["dt"], "json", ["key", "line"]
    )
    print(f"sensors_raw_to_processed: wrote {args.processed.rstrip('/')}/{args.table} and {args.errors_table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
