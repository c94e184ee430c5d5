"""Sensors, raw -> processed: the Spark twin of ``rawToProcessed`` (``@tributary/sensors``).

Reads the Firehose layout ``<raw>/<source>/YYYY/MM/DD/HH/<object>`` (folders by UTC arrival
hour; objects named ``*.ndjson``, ``*.jsonl`` or ``*.json``, each optionally ``.gz``, or without an
extension), validates each line against the sensor record schema, deduplicates by ``id`` and
writes Parquet to ``<processed>/<table>/dt=YYYY-MM-DD/hour=HH/`` of event time. Every other object
under ``<raw>/<source>/`` is not read and is reported, as ``rawToProcessed`` reports it in
``unreadObjects`` (:func:`survey_raw`): the job prints one JSON line with them
(``{"job": …, "files": …, "unreadObjects": [{"key", "reason"}], "ignoredObjects": […]}``) and logs
each on stderr with the code ``SENSOR_RAW_OBJECT_UNREAD``; names starting with ``_`` or ``.`` are
ignored (listed in ``ignoredObjects``). Lines that are not valid records go to
``<processed>/<errors_table>/dt=…/`` (NDJSON) with a code and the reason:

- ``INVALID_UTF8``: the line's bytes are not UTF-8 (``invalid UTF-8 at byte offset N``, 0-based in
  the line; ``raw`` shows each ill-formed sequence as U+FFFD); the object's other lines are read;
- ``INVALID_JSON``: not JSON, or not a JSON object;
- ``INVALID_RECORD``: an object that fails the schema (each field's issue, as core words it);
- ``OUT_OF_WINDOW``: a valid record whose event hour is more than ``lateness_hours`` before its
  folder's hour, or more than one hour after it.

A valid record within the window belongs to its event day; every other line to its folder's day.
Per (event day, id) the kept occurrence is the one with the earliest event time, then the
earliest raw key (UTF-8 byte order), then the earliest line. Both tables are written with dynamic
partition overwrite, so a run again replaces exactly the partitions it writes.

With ``--table-format iceberg`` both are Iceberg tables instead (the lake's ``tableFormat:
'iceberg'``): ``<table>`` partitioned by ``hour(timestamp)`` (field ``timestamp_hour``) and
``<errors_table>`` (Parquet, with its ``dt`` column) by ``identity(dt)``, each written as one
dynamic-overwrite snapshot (``overwritePartitions``).

    spark-submit --py-files tributary_common.py,sensor_validation.py sensors_raw_to_processed.py \\
        --raw s3://lake-raw --processed s3://lake-processed [--dates 2026-11-23 ...] [--table-format iceberg]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable
from urllib.parse import unquote, urlsplit

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

import sensor_validation
import tributary_common as common

HOUR_MS = 3_600_000
DEFAULT_LATENESS_HOURS = 6
MAX_LATENESS_HOURS = 24 * 30

# What JavaScript's trim() removes: a line of only these is blank and skipped.
# (Java's `$` would also match before a final U+0085 or U+2028, which trim() keeps: `\z`.)
BLANK = "^[\\s\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]*\\z"
# An ISO-8601 UTC time as JavaScript's toISOString writes it (any fraction length).
FAST_ISO = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z\\z"
STRING_LIMITS = {"id": 256, "sensorId": 128, "type": 64, "unit": 32}
RECORD_FIELDS = ["id", "sensorId", "type", "value", "unit", "timestamp"]
# The Iceberg partition specs of rawToProcessed's tables.
ICEBERG_PARTITIONS = [common.hour("timestamp")]
ICEBERG_ERRORS_PARTITIONS = [common.identity("dt")]

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
        # For an INVALID_UTF8 line: the line with U+FFFD for each ill-formed sequence.
        T.StructField("raw", T.StringType()),
    ]
)


@F.udf(returnType=_SLOW_SCHEMA)
def _validate_slow(text, data, line):
    if data is not None:
        # Only lines whose bytes are not UTF-8 come with their bytes (read_raw_lines).
        bad = sensor_validation.invalid_utf8(bytes(data), line == 1)
        if bad is not None:
            return {name: bad.get(name) for name in _SLOW_SCHEMA.fieldNames()}
        # Unreachable while _is_utf8 (Java's UTF-8 decoder) and Python's strict decoder agree (they
        # do on every sequence of up to four bytes): validate the text they decode to.
        text = bytes(data).decode("utf-8")
        text = text[1:] if line == 1 and text.startswith("\ufeff") else text
    result = sensor_validation.validate_line(text)
    return {**{name: result.get(name) for name in _SLOW_SCHEMA.fieldNames()}, "raw": text}


# ---------------------------------------------------------------------------------------------
# Which raw objects are read: rawToProcessed's rules (@tributary/sensors)

UNREAD_CODE = "SENSOR_RAW_OBJECT_UNREAD"
DATA_EXTENSIONS = frozenset({"ndjson", "jsonl", "json"})
# What an extension looks like (after the last dot: ASCII letters and digits), so that Firehose's
# own names such as `my.stream-1-2026-…` have none and are read.
_EXTENSION = re.compile(r"[a-z][a-z0-9]{0,9}", re.ASCII | re.IGNORECASE)
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"0[1-9]|1[0-2]")
_TWO_DIGITS = re.compile(r"[0-9]{2}")


@dataclass(frozen=True)
class RawSurvey:
    """What is under ``<source>/``: the objects read, the others with why, and the hidden names.

    ``read`` and ``unread`` (``(key, reason)``) are in key order (UTF-8 byte order), as
    ``rawToProcessed``'s ``unreadObjects``; ``ignored`` is its ``ignoredObjects``: objects, and
    hidden folders once as their prefix ending in ``/``, whose path has a segment starting with
    ``_`` or ``.`` (Hadoop's, Spark's and Athena's rule for what is not data)."""

    read: list[str] = field(default_factory=list)
    unread: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The job's JSON summary of the listing, with rawToProcessed's field names."""
        return {
            "files": len(self.read),
            "unreadObjects": [{"key": key, "reason": reason} for key, reason in self.unread],
            "ignoredObjects": list(self.ignored),
        }


def _hidden(segment: str) -> bool:
    return segment.startswith(("_", "."))


def _not_data(name: str) -> str | None:
    """Why an object of an hour folder is not read, or None when it is NDJSON by its name."""
    base = name[:-3] if name.endswith(".gz") else name
    extension = base[base.rfind(".") + 1 :]
    if "." not in base or not _EXTENSION.fullmatch(extension) or extension.lower() in DATA_EXTENSIONS:
        return None
    return (
        f'not NDJSON: extension ".{extension}" '
        "(read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)"
    )


def _is_day(year: str, month: str, day: str) -> bool:
    return bool(_TWO_DIGITS.fullmatch(day)) and 1 <= int(day) <= sensor_validation.days_in_month(int(year), int(month))


def _unread_reason(prefix: str, segments: list[str]) -> str | None:
    """Why the object at ``<prefix><segments joined by />`` is not read, or None when it is."""
    outside = f"not in an hour folder {prefix}YYYY/MM/DD/HH/: its arrival hour is unknown"
    # (the level a segment is at, the check of a folder's name there)
    levels = [
        (lambda s: bool(_YEAR.fullmatch(s)), lambda s: f'folder "{s}" is not a year (YYYY)'),
        (lambda s: bool(_MONTH.fullmatch(s)), lambda s: f'folder "{s}" is not a month (01-12)'),
        (
            lambda s: _is_day(segments[0], segments[1], s),
            lambda s: f'folder "{s}" is not a day of {segments[0]}-{segments[1]} (01-31)',
        ),
        (lambda s: bool(_TWO_DIGITS.fullmatch(s)) and int(s) <= 23, lambda s: f'folder "{s}" is not an hour (00-23)'),
    ]
    for depth, (valid, problem) in enumerate(levels):
        if len(segments) == depth + 1:
            return outside
        if not valid(segments[depth]):
            return problem(segments[depth])
    if len(segments) > 5:
        return f"in a folder below the hour folder {prefix}{'/'.join(segments[:4])}/"
    return _not_data(segments[4])


def survey_raw(keys: Iterable[str], source: str = "sensors") -> RawSurvey:
    """Sort the keys of the objects under ``<source>/`` (relative to the raw zone) into read,
    unread with the reason, and ignored, by ``rawToProcessed``'s rules and in its words.

    Read: objects of an hour folder ``<source>/YYYY/MM/DD/HH/`` (a calendar day, hours 00-23)
    named ``*.ndjson``, ``*.jsonl`` or ``*.json``, each optionally ``.gz``, or without an extension.
    Unread: every other object, among them those outside the hour folders (their arrival hour,
    which decides which records are late, is unknown). Ignored: a path with a segment starting with
    ``_`` or ``.``. Pure: no Spark, no storage.
    """
    prefix = f"{source}/"
    read: list[str] = []
    unread: dict[str, str] = {}
    ignored: set[str] = set()
    for key in keys:
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {prefix}")
        segments = key[len(prefix) :].split("/")
        hidden = next((i for i, segment in enumerate(segments) if _hidden(segment)), None)
        if hidden is not None:
            ignored.add(key if hidden == len(segments) - 1 else f"{prefix}{'/'.join(segments[: hidden + 1])}/")
            continue
        reason = _unread_reason(prefix, segments)
        if reason is None:
            read.append(key)
        else:
            unread[key] = reason
    return RawSurvey(sorted(set(read)), sorted(unread.items()), sorted(ignored))


def _hadoop(spark: SparkSession, path: str):
    """The Hadoop file system of ``path`` and the path, with the session's Hadoop settings."""
    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(conf)
    if fs.getUri().getScheme() == "file":
        # The local file system hides `.x.crc` files from listings: the raw one shows every file.
        fs = jvm.org.apache.hadoop.fs.FileSystem.getLocal(conf).getRawFileSystem()
    return fs, hadoop_path


def _zone_path(spark: SparkSession, raw: str) -> str:
    """The raw zone's path on its file system (``/…/raw``, ``/raw`` of ``s3://bucket/raw``), decoded."""
    fs, zone = _hadoop(spark, raw)
    return fs.makeQualified(zone).toUri().getPath().rstrip("/")


def list_raw_keys(spark: SparkSession, raw: str, source: str = "sensors") -> list[str]:
    """The keys (relative to the raw zone) of every object under ``<raw>/<source>/``, hidden ones
    too: one recursive listing (on S3, one paginated listing of the prefix)."""
    fs, folder = _hadoop(spark, common.table_path(raw, source))
    if not fs.exists(folder):
        return []
    zone = _zone_path(spark, raw)
    keys: list[str] = []
    if fs.getUri().getScheme() == "file":
        # Hadoop's local listing runs a process per file for its permissions: walk the folder here.
        top = fs.makeQualified(folder).toUri().getPath()
        for parent, _, names in os.walk(top):
            keys.extend(os.path.join(parent, name)[len(zone) + 1 :] for name in names)
        return keys
    files = fs.listFiles(folder, True)
    while files.hasNext():
        keys.append(files.next().getPath().toUri().getPath()[len(zone) + 1 :])
    return keys


# One object's lines: Spark's `split` decodes (leniently) before it splits, so the objects that
# are not UTF-8 as a whole are split as ISO-8859-1 text instead (one character per byte), each of
# their lines is turned back into its bytes and checked on its own.
_LATIN1 = "ISO-8859-1"
_BOM = "\ufeff"
_LINES_SCHEMA = "key string, line int, text string, bytes binary"


def read_raw_lines(
    spark: SparkSession, raw: str, source: str = "sensors", survey: RawSurvey | None = None
) -> DataFrame:
    """Every line of the objects :func:`survey_raw` reads: ``key`` (relative to the zone), ``line``
    (1-based), ``text`` (without its ``\\n`` or ``\\r\\n``, nor the byte order mark that starts an
    object), and ``bytes``: null, except for a line whose bytes are not UTF-8, whose ``text`` is
    then null and ``bytes`` its bytes (:func:`parse_lines` makes it an ``INVALID_UTF8`` error).

    Objects are read whole (``.gz`` decompressed), so line numbers are those of the object, as
    the TypeScript transform counts them. ``survey`` (default: a listing now) says which objects.
    """
    if survey is None:
        survey = survey_raw(list_raw_keys(spark, raw, source), source)
    if not survey.read:
        return spark.createDataFrame([], _LINES_SCHEMA)
    wanted = set(survey.read)
    # Spark's own listing of the source folder (one, recursive), narrowed to the objects to read
    # by a filter on each file's path that Spark applies to the listing: no other object is
    # opened (a `.parquet.gz` that is not gzip would fail the read).
    zone = _zone_path(spark, raw)
    listing = spark.read.option("recursiveFileLookup", "true").text(common.table_path(raw, source), wholetext=True)
    # `_metadata.file_path` is the path as a URI (`%20` for a space, `%25` for `%`, `+` as it is).
    path = F.url_decode(F.replace(F.col("_metadata.file_path"), F.lit("+"), F.lit("%2B")))
    path = F.regexp_replace(path, "^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?", "")
    key = F.when(path.startswith(f"{zone}/"), F.substring(path, len(zone) + 2, 1 << 30))
    files = listing.select(key.alias("key"), F.col("value").alias("content")).filter(_key_in(survey.read))
    # Spark's listing leaves out names ending in `._COPYING_` (Hadoop's copies in progress), which
    # the TypeScript transform reads: those few are read here.
    listed = {_key_of_uri(uri, zone) for uri in listing.inputFiles()}
    missing = sorted(wanted - listed)
    if missing:
        files = files.unionByName(_read_objects(spark, raw, missing))

    # One select per step: Spark then computes each expression once per line.
    files = files.select("key", "content", _is_utf8(F.col("content").cast("binary")).alias("_valid"))
    parts = F.when(F.col("_valid"), F.split("content", "\n", -1)).otherwise(
        F.split(F.decode(F.col("content").cast("binary"), _LATIN1), "\n", -1)
    )
    lines = files.select("key", "_valid", F.posexplode(parts).alias("pos", "part"))
    # Without the `\r` of a `\r\n` (never part of an ill-formed sequence, so no offset moves).
    lines = lines.select("key", "_valid", "pos", F.regexp_replace("part", "\\r\\z", "").alias("part"))
    lines = lines.select("key", "_valid", "pos", "part", F.when(~F.col("_valid"), F.encode("part", _LATIN1)).alias("_b"))
    lines = lines.select(
        "key", "_valid", "pos", "part", "_b", (F.col("_valid") | _is_utf8(F.col("_b"))).alias("_ok")
    )
    lines = lines.select(
        "key",
        "pos",
        F.when(F.col("_valid"), F.col("part")).when(F.col("_ok"), F.col("_b").cast("string")).alias("text"),
        F.when(~F.col("_ok"), F.col("_b")).alias("bytes"),
    )
    text = F.col("text")
    first = (F.col("pos") == 0) & text.startswith(_BOM)
    return lines.select(
        "key",
        (F.col("pos") + 1).cast("int").alias("line"),
        F.when(first, F.substring(text, 2, 1 << 30)).otherwise(text).alias("text"),
        "bytes",
    )


def _is_utf8(data: Column) -> Column:
    """Whether bytes are well-formed UTF-8 (RFC 3629: no surrogates, overlongs, nor code points
    above U+10FFFF), null for null; the same on Spark 3.5 and 4.

    Spark 3.5 has no ``is_valid_utf8`` (4.0 added it): the bytes as a Spark string, encoded back
    to UTF-8, are the same bytes exactly when they are well-formed, since turning the string into
    a Java one replaces each ill-formed sequence with U+FFFD (3 bytes that no ill-formed sequence
    is). Measured on 147 MB: 2.7 s on both versions, where ``is_valid_utf8`` takes 1.7 s on 4.3.
    ``decode(bytes, 'UTF-8')`` is not used: Spark 4 raises on ill-formed input where 3.5 replaces.
    """
    return F.encode(data.cast("string"), "UTF-8") == data


def _key_in(keys: list[str]) -> Column:
    """``key IN (…)`` as one SQL expression: one call to the JVM, where ``Column.isin`` makes
    one per key (seconds for tens of thousands of objects)."""
    quoted = ("'" + k.replace("\\", "\\\\").replace("'", "\\'") + "'" for k in keys)
    return F.expr(f"key IN ({', '.join(quoted)})")


def _key_of_uri(uri: str, zone: str) -> str:
    """The key of a file Spark listed (``file:///…/raw/sensors/…`` -> ``sensors/…``)."""
    return unquote(urlsplit(uri).path)[len(zone) + 1 :]


def _read_objects(spark: SparkSession, raw: str, keys: list[str]) -> DataFrame:
    """Objects read by the driver (only those Spark's listing leaves out): ``key``, ``content``."""
    jvm = spark.sparkContext._jvm
    fs, _ = _hadoop(spark, raw)
    rows = []
    for key in keys:
        stream = fs.open(jvm.org.apache.hadoop.fs.Path(common.table_path(raw, key)))
        try:
            data = bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
        rows.append((key, bytearray(gzip.decompress(data) if key.endswith(".gz") else data)))
    contents = spark.createDataFrame(rows, "key string, content binary")
    return contents.select("key", F.col("content").cast("string").alias("content"))


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
    return f"^{ws}\\{{{ws}{members}{ws}\\}}{ws}\\z"


FAST_LINE = _fast_line()
_FAST_SCHEMA = "id string, sensorId string, type string, value string, unit string, timestamp string"


def parse_lines(lines: DataFrame, source: str = "sensors", persist: bool = False) -> DataFrame:
    """Validate non-blank lines: each gets ``ok`` and, when ok, the record's fields and ``ts_ms``
    (event time in UTC milliseconds); otherwise ``code`` and ``reason``. Also ``folder_hour``
    (hours since the epoch of the key's ``HH`` folder). A line with ``bytes`` (not UTF-8, see
    :func:`read_raw_lines`) is an ``INVALID_UTF8`` error whose ``text`` is the line with U+FFFD.

    ``persist`` keeps the parsed lines (memory, then disk) for the two branches, SQL and Python,
    that read them: without it each branch reads and parses the raw zone again."""
    if "bytes" not in lines.columns:
        lines = lines.withColumn("bytes", F.lit(None).cast("binary"))
    # A line that is not UTF-8 is never blank: it is an error, as in TypeScript.
    df = lines.filter(F.col("bytes").isNotNull() | ~F.col("text").rlike(BLANK))
    # The key is `<source>/YYYY/MM/DD/HH/<name>` (survey_raw read no other): the folder's hour
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
    # The few other lines (and those that are not UTF-8) go to Python in a partition or two: a
    # Python worker per task of the whole input would cost more than the validation itself.
    slow = (
        df.filter(~F.col("_fast"))
        .repartition(2)
        .withColumn("_r", _validate_slow("text", "bytes", "line"))
        .select(
            "key",
            "line",
            F.coalesce("text", "_r.raw").alias("text"),
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
    common.add_table_format_args(parser)
    args = parser.parse_args(argv)
    common.check_table_format_args(parser, args)
    if args.errors_table == args.table:
        parser.error("--errors-table must differ from --table")
    return args


def report_survey(survey: RawSurvey) -> None:
    """Never a silent skip: each object not read on stderr (as rawToProcessed's failure events),
    and one JSON line on stdout with them all (as its ``unreadObjects`` and ``ignoredObjects``)."""
    for key, reason in survey.unread:
        print(f"sensors_raw_to_processed: {UNREAD_CODE}: {key} was not read: {reason}", file=sys.stderr)
    print(json.dumps({"job": "sensors_raw_to_processed", **survey.summary()}, ensure_ascii=False), flush=True)


def write_iceberg(
    processed: DataFrame,
    errors: DataFrame,
    args: argparse.Namespace,
    record_schema: T.StructType,
    errors_schema: T.StructType,
) -> None:
    """Both outputs as Iceberg tables, each one dynamic-overwrite snapshot: the record columns
    (the hour partition comes from ``timestamp``), and the errors with ``dt`` as a date column."""
    target = common.IcebergTarget(args.processed, args.catalog, args.database)
    common.write_iceberg(processed, target, args.table, record_schema, ICEBERG_PARTITIONS)
    common.write_iceberg(errors, target, args.errors_table, errors_schema, ICEBERG_ERRORS_PARTITIONS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-sensors-raw-to-processed", args.master, args.table_format)
    record_schema = common.load_schema("sensors", args.schemas, spark)
    errors_schema = common.load_schema("sensors_errors", args.schemas, spark)
    survey = survey_raw(list_raw_keys(spark, args.raw, args.source), args.source)
    report_survey(survey)
    lines = read_raw_lines(spark, args.raw, args.source, survey)
    # Parsed once and kept: both outputs come from it, and the raw zone is read once.
    classified = classify(lines, args.max_lateness_hours, args.dates, args.source, persist=True)
    processed, errors = split(classified, args.max_lateness_hours)
    if args.table_format == "iceberg":
        write_iceberg(processed, errors, args, record_schema, errors_schema)
        print(f"sensors_raw_to_processed: wrote {args.processed.rstrip('/')}/{args.table} and {args.errors_table} (iceberg)")
        return 0
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
