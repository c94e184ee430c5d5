"""sensors_processed_to_curated: the hourly aggregates processedToCurated computes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from chispa import assert_approx_df_equality

import sensors_processed_to_curated as job

TYPES = [
    {"name": "temperature", "unit": "°C", "min": -40, "max": 85},
    {"name": "power_factor", "unit": "1", "min": 0.7, "max": 1},
]


def processed(spark, rows):
    """Records of registered types: their unit comes from the registry, whatever the records say."""
    rows = [(type_, "?", value, day, hour) for type_, value, day, hour in rows]
    return spark.createDataFrame(rows, "type string, unit string, value double, dt string, hour string")


def test_aggregates_per_day_hour_and_type(spark):
    values = [float(v) for v in range(1, 21)]  # 1..20: p95 = 19 + 0.05 * (20 - 19)
    rows = [("temperature", v, "2026-11-23", "10") for v in values]
    rows += [("temperature", 90.0, "2026-11-23", "11"), ("power_factor", 0.5, "2026-11-23", "10"), ("power_factor", 0.9, "2026-11-23", "10")]
    got = job.transform(processed(spark, rows), job.types_frame(spark, TYPES)).orderBy("dt", "hour", "type")
    expected = spark.createDataFrame(
        [
            (dt.date(2026, 11, 23), 10, "power_factor", "1", 2, 0.5, 0.9, 0.7, 0.5 + 0.95 * 0.4, 1),
            (dt.date(2026, 11, 23), 10, "temperature", "°C", 20, 1.0, 20.0, 10.5, 19.05, 0),
            (dt.date(2026, 11, 23), 11, "temperature", "°C", 1, 90.0, 90.0, 90.0, 90.0, 1),
        ],
        "dt date, hour int, type string, unit string, count long, min double, max double, mean double, p95 double, anomalies long",
    )
    assert_approx_df_equality(got, expected, 1e-12, ignore_nullable=True)


def test_values_on_the_range_bounds_are_not_anomalies(spark):
    rows = [("temperature", -40.0, "2026-11-23", "00"), ("temperature", 85.0, "2026-11-23", "00"), ("temperature", 85.0001, "2026-11-23", "00")]
    (row,) = job.transform(processed(spark, rows), job.types_frame(spark, TYPES)).collect()
    assert row.anomalies == 1


def processed_with_units(spark, rows):
    return spark.createDataFrame(rows, "type string, unit string, value double, dt string, hour string")


def test_a_type_the_registry_lacks_is_aggregated_with_its_records_unit_and_no_anomalies(spark):
    rows = [
        ("vibration", "mm/s", 12.0, "2026-11-23", "10"),
        ("vibration", "mm/s", 2.0, "2026-11-23", "10"),
        ("wind", "m/s", 7.0, "2026-11-24", "00"),
        ("wind", "km/h", 9.0, "2026-11-24", "00"),  # units that disagree: the smallest, as TypeScript
        ("temperature", "K", 90.0, "2026-11-23", "10"),  # a registered type: the registry's unit
    ]
    got = job.transform(processed_with_units(spark, rows), job.types_frame(spark, TYPES)).orderBy("dt", "hour", "type")
    assert [(str(r.dt), r.hour, r.type, r.unit, r["count"], r.min, r.max, r.anomalies) for r in got.collect()] == [
        ("2026-11-23", 10, "temperature", "\u00b0C", 1, 90.0, 90.0, 1),
        ("2026-11-23", 10, "vibration", "mm/s", 2, 2.0, 12.0, 0),
        ("2026-11-24", 0, "wind", "km/h", 2, 7.0, 9.0, 0),
    ]
    assert job.unknown_types(got, job.types_frame(spark, TYPES)) == [
        {"type": "vibration", "records": 2},
        {"type": "wind", "records": 2},
    ]


def test_main_aggregates_unknown_types_and_reports_them(spark, tmp_path, capsys):
    zone = f"file://{tmp_path}"
    rows = [
        ("v-1:0", "v-1", "vibration", 12.0, "mm/s", dt.datetime(2026, 11, 23, 10, 0), "2026-11-23", "10"),
        ("t-1:0", "t-1", "temperature", 20.0, "\u00b0C", dt.datetime(2026, 11, 23, 10, 0), "2026-11-23", "10"),
    ]
    records = spark.createDataFrame(
        rows, "id string, sensorId string, type string, value double, unit string, timestamp timestamp, dt string, hour string"
    )
    records.write.partitionBy("dt", "hour").parquet(f"{zone}/processed/sensors")

    assert job.main(["--processed", f"{zone}/processed", "--curated", f"{zone}/curated"]) == 0

    curated = spark.read.parquet(f"{zone}/curated/sensor_hourly")
    assert sorted((r.type, r.unit, r["count"], r.anomalies) for r in curated.collect()) == [
        ("temperature", "\u00b0C", 1, 0),
        ("vibration", "mm/s", 1, 0),
    ]
    summaries = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
    assert summaries == [{"job": "sensors_processed_to_curated", "rows": 2, "unknownTypes": [{"type": "vibration", "records": 1}]}]


def test_main_reads_the_processed_layout_and_writes_dt_partitions(spark, tmp_path):
    import sensors_raw_to_processed as raw_job

    raw = tmp_path / "raw" / "sensors" / "2026" / "11" / "23" / "10"
    raw.mkdir(parents=True)
    lines = [
        '{"id":"t:%d","sensorId":"t","type":"temperature","value":%d,"unit":"°C","timestamp":"2026-11-23T10:%02d:00Z"}' % (i, i, i)
        for i in range(10)
    ]
    (raw / "s.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    zone = f"file://{tmp_path}"
    assert raw_job.main(["--raw", f"{zone}/raw", "--processed", f"{zone}/processed"]) == 0
    assert job.main(["--processed", f"{zone}/processed", "--curated", f"{zone}/curated"]) == 0
    curated = spark.read.parquet(f"{zone}/curated/sensor_hourly")
    (row,) = curated.collect()
    assert (str(row.dt), row.hour, row.type, row["count"], row.min, row.max, row.mean) == (
        "2026-11-23", 10, "temperature", 10, 0.0, 9.0, 4.5,
    )
    assert row.p95 == pytest.approx(8.55)
    assert [p.name for p in (tmp_path / "curated" / "sensor_hourly").iterdir() if not p.name.startswith(("_", "."))] == ["dt=2026-11-23"]
