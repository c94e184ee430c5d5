"""sensors_raw_to_processed: validation, windows, deduplication, layout — as rawToProcessed does them."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

import sensor_validation
import sensors_raw_to_processed as job

FOLDER = "sensors/2026/11/23/10/s-2026-11-23-10-00-00-a.ndjson"
LATER = "sensors/2026/11/23/10/s-2026-11-23-10-05-00-b.ndjson"


def record(id_="t-1:0", ts="2026-11-23T10:15:00.000Z", value=21.5, **extra):
    body = {"id": id_, "sensorId": id_.split(":")[0], "type": "temperature", "value": value, "unit": "°C", "timestamp": ts}
    body.update(extra)
    return json.dumps(body, ensure_ascii=False)


def lines_df(spark, rows):
    return spark.createDataFrame(rows, "key string, line int, text string")


def run(spark, rows, **kwargs):
    processed, errors = job.transform(lines_df(spark, rows), **kwargs)
    return processed, errors


class TestValidation:
    def test_valid_records_land_in_their_event_hour(self, spark):
        processed, errors = run(spark, [(FOLDER, 1, record()), (FOLDER, 2, record("t-2:0", "2026-11-23T09:59:59.999Z"))])
        got = processed.selectExpr("id", "dt", "hour", "cast(timestamp as string) ts", "value").orderBy("id")
        expected = spark.createDataFrame(
            [("t-1:0", "2026-11-23", "10", "2026-11-23 10:15:00", 21.5), ("t-2:0", "2026-11-23", "09", "2026-11-23 09:59:59.999", 21.5)],
            "id string, dt string, hour string, ts string, value double",
        )
        assert_df_equality(got, expected, ignore_nullable=True)
        assert errors.count() == 0

    def test_epoch_millis_and_offsets_are_accepted_like_core(self, spark):
        rows = [
            (FOLDER, 1, record("a:1", 1795428000000.7)),  # floored
            (FOLDER, 2, record("a:2", "2026-11-23T11:30:00+01:00")),  # slow path: offset
            (FOLDER, 3, record("a:3", "2026-11-23 10:00")),
        ]
        processed, errors = run(spark, rows)
        got = {r.id: r.ms for r in processed.selectExpr("id", "unix_millis(timestamp) ms").collect()}
        assert got == {"a:1": 1795428000000, "a:2": 1795429800000, "a:3": 1795428000000}
        assert errors.count() == 0

    def test_invalid_lines_get_core_codes_and_reasons(self, spark):
        rows = [
            (FOLDER, 1, "not json"),
            (FOLDER, 2, "[1, 2]"),
            (FOLDER, 3, record(value="hot")),
            (FOLDER, 4, json.dumps({"id": "x:1", "type": "t", "value": 1, "unit": "u", "timestamp": "2026-02-30T00:00:00Z", "extra": True})),
            (FOLDER, 5, record(value=1e400).replace("Infinity", "1e400")),
            (FOLDER, 6, "   "),
        ]
        _, errors = run(spark, rows)
        got = {r.line: (r.dt, r.code, r.reason) for r in errors.collect()}
        assert got[1][:2] == ("2026-11-23", "INVALID_JSON") and got[1][2].startswith("not JSON: ")
        assert got[2] == ("2026-11-23", "INVALID_JSON", "not a JSON object: array")
        assert got[3] == ("2026-11-23", "INVALID_RECORD", 'value: expected double, got string "hot"')
        assert got[4] == (
            "2026-11-23",
            "INVALID_RECORD",
            'sensorId: required; timestamp: expected ISO-8601 timestamp, got string "2026-02-30T00:00:00Z"; extra: is not a field of the schema',
        )
        assert got[5][1:] == ("INVALID_RECORD", "value: expected finite double, got number Infinity")
        assert 6 not in got  # blank lines are skipped, not errors

    def test_strings_are_limited_in_utf8_bytes(self, spark):
        long_type = "é" * 33  # 66 bytes > 64
        _, errors = run(spark, [(FOLDER, 1, record(type=long_type))])
        (row,) = errors.collect()
        assert row.code == "INVALID_RECORD"
        assert row.reason.startswith("type: expected string of at most 64 UTF-8 bytes, got string")


class TestWindow:
    def test_records_outside_the_lateness_window_are_errors_of_the_folder_day(self, spark):
        rows = [
            (FOLDER, 1, record("a:1", "2026-11-23T04:00:00Z")),  # 6 h before folder 10: in
            (FOLDER, 2, record("a:2", "2026-11-23T03:59:59Z")),  # 7 h before: out
            (FOLDER, 3, record("a:3", "2026-11-23T11:59:59Z")),  # 1 h after: in
            (FOLDER, 4, record("a:4", "2026-11-23T12:00:00Z")),  # 2 h after: out
        ]
        processed, errors = run(spark, rows)
        assert sorted(r.id for r in processed.collect()) == ["a:1", "a:3"]
        got = {r.line: (r.dt, r.code, r.reason) for r in errors.collect()}
        assert got == {
            2: (
                "2026-11-23",
                "OUT_OF_WINDOW",
                "event time 2026-11-23T03:59:59.000Z is 7 hours before the folder's hour (window: 6 hours before to 1 hour after)",
            ),
            4: (
                "2026-11-23",
                "OUT_OF_WINDOW",
                "event time 2026-11-23T12:00:00.000Z is 2 hours after the folder's hour (window: 6 hours before to 1 hour after)",
            ),
        }

    def test_a_late_record_belongs_to_its_event_day(self, spark):
        key = "sensors/2026/11/24/01/s.ndjson"
        processed, _ = run(spark, [(key, 1, record("a:1", "2026-11-23T23:30:00Z"))], lateness_hours=2)
        assert [(r.dt, r.hour) for r in processed.collect()] == [("2026-11-23", "23")]

    def test_dates_keep_only_those_days(self, spark):
        rows = [(FOLDER, 1, record("a:1")), ("sensors/2026/11/24/10/x.ndjson", 1, record("a:2", "2026-11-24T10:00:00Z"))]
        processed, _ = run(spark, rows, dates=["2026-11-24"])
        assert [r.id for r in processed.collect()] == ["a:2"]

    def test_lateness_is_checked(self, spark):
        with pytest.raises(ValueError, match="lateness hours"):
            run(spark, [], lateness_hours=-1)


class TestDeduplication:
    def test_the_earliest_event_time_then_key_then_line_wins(self, spark):
        rows = [
            (LATER, 1, record("a:1", "2026-11-23T10:00:00Z", value=3.0)),
            (FOLDER, 2, record("a:1", "2026-11-23T10:00:00Z", value=2.0)),
            (FOLDER, 1, record("a:1", "2026-11-23T10:00:01Z", value=1.0)),
            (FOLDER, 3, record("a:1", "2026-11-23T10:00:00Z", value=4.0)),
        ]
        processed, errors = run(spark, rows)
        assert [(r.id, r.value) for r in processed.collect()] == [("a:1", 2.0)]
        assert errors.count() == 0

    def test_copies_on_two_days_are_kept_once_per_day(self, spark):
        rows = [
            (FOLDER, 1, record("a:1", "2026-11-23T10:00:00Z")),
            ("sensors/2026/11/24/10/x.ndjson", 1, record("a:1", "2026-11-24T10:00:00Z")),
        ]
        processed, _ = run(spark, rows)
        assert sorted(r.dt for r in processed.collect()) == ["2026-11-23", "2026-11-24"]


class TestReadAndWrite:
    def write_raw(self, root, key, text, gz=False):
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if gz:
            with gzip.open(path, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

    def test_reads_keys_and_line_numbers_of_plain_and_gzip_objects(self, spark, tmp_path):
        raw = tmp_path / "raw"
        self.write_raw(raw, FOLDER, "a\n\nb\r\nc")
        self.write_raw(raw, "sensors/2026/11/23/11/s.ndjson.gz", "d\ne\n", gz=True)
        self.write_raw(raw, "sensors/2026/11/23/11/_tmp/skip.ndjson", "x\n")
        got = sorted(tuple(r) for r in job.read_raw_lines(spark, f"file://{raw}").select("key", "line", "text").collect())
        assert got == [
            (FOLDER, 1, "a"),
            (FOLDER, 2, ""),
            (FOLDER, 3, "b"),
            (FOLDER, 4, "c"),
            ("sensors/2026/11/23/11/s.ndjson.gz", 1, "d"),
            ("sensors/2026/11/23/11/s.ndjson.gz", 2, "e"),
            ("sensors/2026/11/23/11/s.ndjson.gz", 3, ""),
        ]

    def test_main_writes_partitions_and_a_second_run_replaces_them(self, spark, tmp_path):
        raw, processed = tmp_path / "raw", tmp_path / "processed"
        self.write_raw(raw, FOLDER, "\n".join([record("a:1"), record("a:1"), "oops", record("a:2")]) + "\n")
        args = ["--raw", f"file://{raw}", "--processed", f"file://{processed}"]
        assert job.main(args) == 0
        assert job.main(args) == 0
        table = spark.read.parquet(str(processed / "sensors"))
        assert sorted((r.id, str(r.dt), r.hour) for r in table.collect()) == [
            ("a:1", "2026-11-23", 10),
            ("a:2", "2026-11-23", 10),
        ]
        assert os.listdir(processed / "sensors" / "dt=2026-11-23") == ["hour=10"]
        errors = [json.loads(line) for f in (processed / "sensors_errors" / "dt=2026-11-23").glob("*.json") for line in f.read_text().splitlines()]
        assert [(e["key"], e["line"], e["code"], e["raw"]) for e in errors] == [(FOLDER, 3, "INVALID_JSON", "oops")]



OUTSIDE = "not in an hour folder sensors/YYYY/MM/DD/HH/: its arrival hour is unknown"


class TestRawObjects:
    """Which raw objects are read, and every other one reported: rawToProcessed's rules."""

    def write(self, root, key, body: bytes):
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(body)

    def test_survey_reads_hour_folders_and_reports_every_other_object_with_why(self):
        keys = [
            "sensors/2026/11/23/10/my.stream-1-2026-11-23-10-00-00-0a1b2c3d",
            "sensors/2026/11/23/10/a.ndjson",
            "sensors/2026/11/23/10/b.jsonl",
            "sensors/2026/11/23/10/c.JSON.gz",
            "sensors/2026/11/23/10/d.gz",
            "sensors/2026/11/23/10/e.ndjson._COPYING_",
            "sensors/x.ndjson",
            "sensors/2026/x.ndjson",
            "sensors/2026/11/x.ndjson",
            "sensors/2026/11/23/x.ndjson",
            "sensors/2026/11/23/late/x.ndjson",
            "sensors/2026/11/23/24/x.ndjson",
            "sensors/2026/11/23/10/deeper/x.ndjson",
            "sensors/2026/11/23/10/part-0.crc",
            "sensors/2026/11/23/10/part-0.parquet",
            "sensors/2026/11/23/10/x.ndjson.GZ",
            "sensors/2026/13/01/10/x.ndjson",
            "sensors/2026/11/31/10/x.ndjson",
            "sensors/year=2026/x.ndjson",
            "sensors/\uff12\uff10\uff12\uff16/11/23/10/x.ndjson",  # fullwidth digits are not a year
            "sensors/2026/11/23/10/_SUCCESS",
            "sensors/2026/11/23/10/.part-0.ndjson.crc",
            "sensors/_temporary/0/task/x.ndjson",
            "sensors/_temporary/1/x.ndjson",
            "sensors/2026/11/_temporary/a.ndjson",
            "sensors/2026/11/23/11/_tmp/a.ndjson",
            "sensors/year=2026/_x/a.ndjson",
        ]

        survey = job.survey_raw(keys)

        assert survey.read == sorted(keys[:6])
        reasons = dict(survey.unread)
        assert [key for key, _ in survey.unread] == sorted(reasons)
        assert reasons == {
            "sensors/x.ndjson": OUTSIDE,
            "sensors/2026/x.ndjson": OUTSIDE,
            "sensors/2026/11/x.ndjson": OUTSIDE,
            "sensors/2026/11/23/x.ndjson": OUTSIDE,
            "sensors/2026/11/23/late/x.ndjson": 'folder "late" is not an hour (00-23)',
            "sensors/2026/11/23/24/x.ndjson": 'folder "24" is not an hour (00-23)',
            "sensors/2026/11/23/10/deeper/x.ndjson": "in a folder below the hour folder sensors/2026/11/23/10/",
            "sensors/2026/11/23/10/part-0.crc": 'not NDJSON: extension ".crc" (read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)',
            "sensors/2026/11/23/10/part-0.parquet": 'not NDJSON: extension ".parquet" (read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)',
            "sensors/2026/11/23/10/x.ndjson.GZ": 'not NDJSON: extension ".GZ" (read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)',
            "sensors/2026/13/01/10/x.ndjson": 'folder "13" is not a month (01-12)',
            "sensors/2026/11/31/10/x.ndjson": 'folder "31" is not a day of 2026-11 (01-31)',
            "sensors/year=2026/x.ndjson": 'folder "year=2026" is not a year (YYYY)',
            "sensors/\uff12\uff10\uff12\uff16/11/23/10/x.ndjson": 'folder "\uff12\uff10\uff12\uff16" is not a year (YYYY)',
        }
        assert survey.ignored == [
            "sensors/2026/11/23/10/.part-0.ndjson.crc",
            "sensors/2026/11/23/10/_SUCCESS",
            "sensors/2026/11/23/11/_tmp/",
            "sensors/2026/11/_temporary/",
            "sensors/_temporary/",
            "sensors/year=2026/_x/",
        ]

    def test_main_reads_what_the_survey_reads_and_reports_the_rest(self, spark, tmp_path, capsys):
        raw, processed = tmp_path / "raw", tmp_path / "processed"
        hour = "sensors/2026/11/23/10/"
        self.write(raw, hour + "a.ndjson", (record("a:1") + "\n").encode())
        self.write(raw, hour + "b c%+\u00e9[1]'\\.jsonl", (record("a:2") + "\n").encode())
        self.write(raw, hour + "c.ndjson._COPYING_", (record("a:3") + "\n").encode())
        self.write(raw, hour + "d.json.gz", gzip.compress((record("a:4") + "\n").encode()))
        # Not read: misplaced records, and objects that are not NDJSON (a wrong .gz would fail a read).
        self.write(raw, "sensors/x.ndjson", (record("x:1") + "\n").encode())
        self.write(raw, "sensors/2026/11/x.ndjson", (record("x:2") + "\n").encode())
        self.write(raw, hour + "deeper/x.ndjson", (record("x:3") + "\n").encode())
        self.write(raw, hour + "part-0.parquet.gz", b"PAR1 not gzip")
        self.write(raw, hour + "_SUCCESS", b"")
        self.write(raw, hour + "_x=1", (record("x:4") + "\n").encode())
        self.write(raw, hour + ".a.ndjson.crc", b"\x00\x01")

        assert job.main(["--raw", f"file://{raw}", "--processed", f"file://{processed}"]) == 0

        table = spark.read.parquet(str(processed / "sensors"))
        assert sorted(r.id for r in table.collect()) == ["a:1", "a:2", "a:3", "a:4"]
        summaries = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
        assert len(summaries) == 1
        assert summaries[0]["files"] == 4
        assert summaries[0]["unreadObjects"] == [
            {"key": hour + "deeper/x.ndjson", "reason": "in a folder below the hour folder sensors/2026/11/23/10/"},
            {"key": hour + "part-0.parquet.gz", "reason": 'not NDJSON: extension ".parquet" (read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)'},
            {"key": "sensors/2026/11/x.ndjson", "reason": OUTSIDE},
            {"key": "sensors/x.ndjson", "reason": OUTSIDE},
        ]
        assert summaries[0]["ignoredObjects"] == [hour + ".a.ndjson.crc", hour + "_SUCCESS", hour + "_x=1"]

    def test_keys_of_the_lines_are_the_objects_keys(self, spark, tmp_path):
        raw = tmp_path / "raw"
        key = "sensors/2026/11/23/10/b c%+\u00e9[1]'\\.jsonl"
        self.write(raw, key, b"x\n")
        lines = job.read_raw_lines(spark, f"file://{raw}")
        assert [tuple(r) for r in lines.collect()] == [(key, 1, "x", None), (key, 2, "", None)]


class TestInvalidUtf8:
    """A line that is not UTF-8 is an INVALID_UTF8 error with the byte offset; the rest is read."""

    def write(self, root, key, body: bytes, gz=False):
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(gzip.compress(body) if gz else body)

    @pytest.mark.parametrize("gz", [False, True])
    def test_a_line_not_utf8_is_an_error_and_the_rest_of_the_object_is_read(self, spark, tmp_path, gz):
        raw = tmp_path / "raw"
        key = FOLDER + (".gz" if gz else "")
        utf8 = record("caf\u00e9-1:0").encode()
        at = utf8.index("\u00e9".encode())
        latin1 = utf8[:at] + b"\xe9" + utf8[at + 2 :]  # a Latin-1 producer's "é"
        body = b"\r\n".join([record("t-1:0").encode(), latin1, record("t-1:1").encode()]) + b"\r\n"
        self.write(raw, key, body, gz)

        processed, errors = job.transform(job.read_raw_lines(spark, f"file://{raw}"))

        assert sorted((r.id, r.unit) for r in processed.collect()) == [("t-1:0", "\u00b0C"), ("t-1:1", "\u00b0C")]
        assert [tuple(r) for r in errors.collect()] == [
            ("2026-11-23", key, 2, "INVALID_UTF8", f"invalid UTF-8 at byte offset {at}", latin1.decode("utf-8", "replace"))
        ]
        assert "caf\ufffd-1:0" in errors.first().raw

    def test_each_ill_formed_sequence_is_found_as_core_finds_it(self, spark, tmp_path):
        raw = tmp_path / "raw"
        lines = [
            b"\xef\xbb\xbf" + record("bom:0").encode(),  # a byte order mark on the first line is dropped
            record("ok:\ufffd").encode(),  # U+FFFD written as UTF-8 is data, not an error
            b"ab\xed\xa0\x80",  # an encoded UTF-16 surrogate
            b"\xc0\x80",  # an overlong NUL
            b"abc\xf4\x90\x80\x80",  # above U+10FFFF
            b"\xe2\x82",  # cut short by the end of the line
            b"\xef\xbb\xbfx\xff",  # a byte order mark past the first line is kept
        ]
        self.write(raw, FOLDER, b"\n".join(lines))

        processed, errors = job.transform(job.read_raw_lines(spark, f"file://{raw}"))

        assert sorted(r.id for r in processed.collect()) == ["bom:0", "ok:\ufffd"]
        assert sorted((r.line, r.code, r.reason, r.raw) for r in errors.collect()) == [
            (3, "INVALID_UTF8", "invalid UTF-8 at byte offset 2", "ab\ufffd\ufffd\ufffd"),
            (4, "INVALID_UTF8", "invalid UTF-8 at byte offset 0", "\ufffd\ufffd"),
            (5, "INVALID_UTF8", "invalid UTF-8 at byte offset 3", "abc\ufffd\ufffd\ufffd\ufffd"),
            (6, "INVALID_UTF8", "invalid UTF-8 at byte offset 0", "\ufffd"),
            (7, "INVALID_UTF8", "invalid UTF-8 at byte offset 4", "\ufeffx\ufffd"),
        ]


    def test_the_utf8_check_agrees_with_pythons_strict_decoder(self, spark):
        # Every 1- and 2-byte sequence, 3- and 4-byte ones around each lead byte's limits, between
        # ASCII letters: the check Spark runs on every object must not differ from Python's (and
        # core's) notion of UTF-8 on any of them, whichever Spark version runs it.
        tails = (0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0)
        cases = [bytes([a]) for a in range(256)] + [bytes([a, b]) for a in range(0x80, 0x100) for b in range(256)]
        cases += [bytes([a, b, c]) for a in range(0xE0, 0x100) for b in tails for c in tails]
        cases += [bytes([a, b, c, d]) for a in range(0xF0, 0x100) for b in tails for c in tails for d in (0x41, 0x80, 0xBF)]
        framed = [b"a" + case + b"z" for case in cases]

        df = spark.createDataFrame([(i, bytearray(data)) for i, data in enumerate(framed)], "i int, data binary")
        got = {r.i: r.ok for r in df.select("i", job._is_utf8(F.col("data")).alias("ok")).collect()}

        def strict(data: bytes) -> bool:
            try:
                data.decode("utf-8")
                return True
            except UnicodeDecodeError:
                return False

        disagree = [data for i, data in enumerate(framed) if got[i] != strict(data)]
        assert disagree == []
        assert sum(got.values()) == sum(strict(data) for data in framed) > 2000


class TestPythonValidation:
    @pytest.mark.parametrize(
        ("value", "text"),
        [(21.5, "21.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (123456789012345680000.0, "123456789012345680000"), (0.000001, "0.000001"), (-3.0, "-3")],
    )
    def test_numbers_are_written_as_javascript_does(self, value, text):
        assert sensor_validation.js_number(value) == text

    def test_iso_timestamps_follow_core(self):
        assert sensor_validation.parse_iso_timestamp("1970-01-01T00:00:00.9999Z") == 999
        assert sensor_validation.parse_iso_timestamp("1970-01-01T01:00:00+0100") == 0
        assert sensor_validation.parse_iso_timestamp("1970-01-01") == 0
        assert sensor_validation.parse_iso_timestamp("2024-02-29T00:00:00Z") == 1709164800000
        assert sensor_validation.parse_iso_timestamp("2023-02-29T00:00:00Z") is None
