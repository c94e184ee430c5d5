"""sensors_raw_to_processed: validation, windows, deduplication, layout — as rawToProcessed does them."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from chispa import assert_df_equality

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
        got = sorted(tuple(r) for r in job.read_raw_lines(spark, f"file://{raw}").collect())
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

    def test_objects_outside_the_layout_are_refused(self, spark, tmp_path):
        raw = tmp_path / "raw"
        self.write_raw(raw, "sensors/2026/11/23/xx/s.ndjson", "a\n")
        with pytest.raises(ValueError, match="not in the raw layout"):
            job.read_raw_lines(spark, f"file://{raw}")


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
