"""sensors_processed_to_curated: the hourly aggregates processedToCurated computes."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_approx_df_equality

import sensors_processed_to_curated as job

TYPES = [
    {"name": "temperature", "unit": "°C", "min": -40, "max": 85},
    {"name": "power_factor", "unit": "1", "min": 0.7, "max": 1},
]


def processed(spark, rows):
    return spark.createDataFrame(rows, "type string, value double, dt string, hour string")


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


def test_unknown_types_fail_the_job(spark):
    rows = [("vibration", 1.0, "2026-11-23", "00")]
    with pytest.raises(job.UnknownSensorTypeError, match="vibration"):
        job.check_types(processed(spark, rows), job.types_frame(spark, TYPES))


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
