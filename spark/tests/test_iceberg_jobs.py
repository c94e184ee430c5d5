"""The four jobs with ``--table-format iceberg``: the lake's Iceberg tables (Hadoop layout, the
lake's partition specs and required columns), one dynamic-overwrite snapshot per table and run,
read back by pyiceberg, a reader we did not write. The jobs run on the tests' one session."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyiceberg.table import StaticTable

import crypto_processed_to_curated as crypto_curated
import crypto_raw_to_processed as crypto_processed
import sensors_processed_to_curated as sensors_curated
import sensors_raw_to_processed as sensors_processed
import tributary_common as common
from test_crypto_raw_to_processed import COIN_HEADER, QUOTE_HEADER, quote, write

HOUR_10 = "sensors/2026/11/23/10/s-2026-11-23-10-00-00-a.ndjson"
HOUR_23 = "sensors/2026/11/23/23/s-2026-11-23-23-00-00-b.ndjson"


@pytest.fixture(autouse=True)
def iceberg_runtime(spark):
    """The tests' session, which has the runtime jar: the jobs' main() gets it back."""
    assert common.iceberg_runtime_jar(), "the Iceberg Spark runtime is missing: run node scripts/iceberg-runtime.mjs"
    return spark


def table(path: Path) -> StaticTable:
    """The table at its current metadata version, as pyiceberg reads a Hadoop table."""
    version = (path / "metadata" / "version-hint.text").read_text().strip()
    return StaticTable.from_metadata(f"file://{path}/metadata/v{version}.metadata.json")


def spec_of(t: StaticTable) -> list[tuple[str, str, str]]:
    schema = t.schema()
    return [(f.name, str(f.transform), schema.find_column_name(f.source_id)) for f in t.spec().fields]


def required_of(t: StaticTable) -> dict[str, bool]:
    return {f.name: f.required for f in t.schema().fields}


def record(id_, ts, value=21.5, type_="temperature", unit="°C"):
    return json.dumps({"id": id_, "sensorId": id_.split(":")[0], "type": type_, "value": value, "unit": unit, "timestamp": ts})


class TestSensors:
    def test_raw_to_processed_to_curated_on_iceberg(self, tmp_path):
        raw, processed, curated = tmp_path / "raw", tmp_path / "processed", tmp_path / "curated"
        for key, lines in {
            HOUR_10: [record("a:1", "2026-11-23T10:15:00.000Z", 20.0), record("a:1", "2026-11-23T10:15:00.000Z"), "oops"],
            HOUR_23: [record("b:1", "2026-11-23T23:59:59.999Z", 30.0), record("b:2", "2026-11-23T23:30:00.000Z", 40.0)],
        }.items():
            (raw / key).parent.mkdir(parents=True, exist_ok=True)
            (raw / key).write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = ["--raw", f"file://{raw}", "--processed", f"file://{processed}", "--table-format", "iceberg"]

        assert sensors_processed.main(args) == 0
        assert sensors_processed.main(args) == 0

        sensors = table(processed / "sensors")
        assert spec_of(sensors) == [("timestamp_hour", "hour", "timestamp")]
        assert required_of(sensors) == dict.fromkeys(["id", "sensorId", "type", "value", "unit", "timestamp"], True)
        assert str(sensors.schema().find_field("timestamp").field_type) == "timestamptz"
        rows = sorted((r["id"], r["value"], r["timestamp"].isoformat()) for r in sensors.scan().to_arrow().to_pylist())
        assert rows == [
            ("a:1", 20.0, "2026-11-23T10:15:00+00:00"),
            ("b:1", 30.0, "2026-11-23T23:59:59.999000+00:00"),
            ("b:2", 40.0, "2026-11-23T23:30:00+00:00"),
        ]
        # Each run is one snapshot that replaces the hours it writes, on one chain.
        snapshots = sensors.metadata.snapshots
        assert len(snapshots) == 2
        assert snapshots[1].parent_snapshot_id == snapshots[0].snapshot_id
        assert snapshots[1].summary.operation.value == "overwrite"
        hours = sorted(f["partition"]["timestamp_hour"] for f in sensors.inspect.files().to_pylist())
        epoch_hour = lambda text: int(dt.datetime.fromisoformat(text).timestamp()) // 3600  # noqa: E731
        assert hours == [epoch_hour("2026-11-23T10:00:00+00:00"), epoch_hour("2026-11-23T23:00:00+00:00")]

        errors = table(processed / "sensors_errors")
        assert spec_of(errors) == [("dt", "identity", "dt")]
        assert [(r["dt"], r["key"], r["line"], r["code"], r["raw"]) for r in errors.scan().to_arrow().to_pylist()] == [
            (dt.date(2026, 11, 23), HOUR_10, 3, "INVALID_JSON", "oops")
        ]
        assert len(errors.metadata.snapshots) == 2

        curated_args = ["--processed", f"file://{processed}", "--curated", f"file://{curated}", "--table-format", "iceberg"]
        assert sensors_curated.main(curated_args) == 0
        hourly = table(curated / "sensor_hourly")
        assert spec_of(hourly) == [("dt", "identity", "dt")]
        got = sorted((r["dt"], r["hour"], r["type"], r["count"], r["min"], r["max"]) for r in hourly.scan().to_arrow().to_pylist())
        assert got == [
            (dt.date(2026, 11, 23), 10, "temperature", 1, 20.0, 20.0),
            (dt.date(2026, 11, 23), 23, "temperature", 2, 30.0, 40.0),
        ]

    def test_a_table_partitioned_otherwise_is_refused_as_the_lake_refuses_it(self, spark, tmp_path):
        processed = tmp_path / "processed"
        target = common.IcebergTarget(f"file://{processed}")
        common.ensure_iceberg_table(spark, target, "sensors", common.load_schema("sensors"), [common.day("timestamp")])
        (tmp_path / "raw" / "sensors").mkdir(parents=True)

        with pytest.raises(common.IcebergSetupError, match=r"partitioned by \[day\(timestamp\)\], the job writes \[hour\(timestamp\)\]") as error:
            sensors_processed.main(["--raw", f"file://{tmp_path}/raw", "--processed", f"file://{processed}", "--table-format", "iceberg"])
        assert error.value.code == "ICEBERG_SPEC_MISMATCH"
        assert table(processed / "sensors").metadata.snapshots == []


class TestCrypto:
    def test_raw_to_processed_to_curated_on_iceberg(self, tmp_path):
        base = tmp_path / "raw" / "coinmarketcap" / "coinmarketcap"
        write(
            base / "cryptocurrency",
            "LOAD00000001.csv",
            COIN_HEADER,
            [
                "1,Bitcoin,BTC,bitcoin,1,10,19000000.5,,21000000,false,2013-04-28 00:00:00.000,2026-11-22 10:00:00.000,,",
                "2,Ether,ETH,ethereum,2,,,,,,2015-08-07 00:00:00.000,2026-11-22 10:00:00.000,,",
            ],
        )
        write(
            base / "quote",
            "LOAD00000001.csv",
            QUOTE_HEADER,
            [
                quote(1, "2026-11-22 10:00:00.000", "100.5", "5000"),
                quote(2, "2026-11-22 10:00:00.000", "3", "6000"),
                quote(1, "2026-11-23 10:00:00.000", "0.000000000000000001", "7000"),
            ],
        )
        processed, curated = tmp_path / "processed", tmp_path / "curated"
        args = ["--raw", f"file://{tmp_path}/raw", "--processed", f"file://{processed}", "--table-format", "iceberg"]

        assert crypto_processed.main(args) == 0
        # The second run: one deleted coin must vanish from the latest state (a full overwrite).
        write(
            base / "cryptocurrency",
            "20261123-100000000.csv",
            f"Op,commit_ts,{COIN_HEADER}",
            ["D,2026-11-23 10:00:00.000,2,,,,,,,,,,,,,"],
        )
        assert crypto_processed.main(args) == 0

        coins = table(processed / "coinmarketcap" / "cryptocurrency")
        assert spec_of(coins) == []
        assert [r["id"] for r in coins.scan().to_arrow().to_pylist()] == [1]
        assert [s.summary.operation.value for s in coins.metadata.snapshots] == ["overwrite", "overwrite"]
        assert required_of(coins)["name"] is True and required_of(coins)["cmc_rank"] is False

        quotes = table(processed / "coinmarketcap" / "quote")
        assert spec_of(quotes) == [("last_updated_day", "day", "last_updated")]
        assert str(quotes.schema().find_field("price").field_type) == "decimal(38, 18)"
        got = sorted((r["cryptocurrency_id"], r["last_updated"].isoformat(), r["price"]) for r in quotes.scan().to_arrow().to_pylist())
        assert got == [
            (1, "2026-11-22T10:00:00+00:00", Decimal("100.500000000000000000")),
            (1, "2026-11-23T10:00:00+00:00", Decimal("0.000000000000000001")),
            (2, "2026-11-22T10:00:00+00:00", Decimal("3.000000000000000000")),
        ]
        assert len(quotes.metadata.snapshots) == 2

        assert crypto_curated.main(["--processed", f"file://{processed}", "--curated", f"file://{curated}", "--table-format", "iceberg"]) == 0
        coin_daily = table(curated / "coin_daily")
        assert spec_of(coin_daily) == [("dt", "identity", "date"), ("convert", "identity", "convert")]
        days = sorted((r["date"], r["cryptocurrency_id"], r["rank"], r["rank_change"]) for r in coin_daily.scan().to_arrow().to_pylist())
        assert days == [
            (dt.date(2026, 11, 22), 1, 2, None),
            (dt.date(2026, 11, 22), 2, 1, None),
            (dt.date(2026, 11, 23), 1, 1, 1),
        ]
        market = table(curated / "market_daily")
        assert spec_of(market) == [("dt", "identity", "date"), ("convert", "identity", "convert")]
        totals = sorted((r["date"], r["total_market_cap"], r["coins"]) for r in market.scan().to_arrow().to_pylist())
        assert totals == [
            (dt.date(2026, 11, 22), Decimal("11000.000000000000000000"), 2),
            (dt.date(2026, 11, 23), Decimal("7000.000000000000000000"), 1),
        ]


class TestArguments:
    def test_table_format_defaults_to_hive_and_catalog_needs_iceberg(self):
        assert crypto_curated.parse_args(["--processed", "p", "--curated", "c"]).table_format == "hive"
        with pytest.raises(SystemExit):
            crypto_curated.parse_args(["--processed", "p", "--curated", "c", "--catalog", "glue_catalog", "--database", "lake"])
        with pytest.raises(SystemExit):
            sensors_processed.parse_args(["--raw", "r", "--processed", "p", "--table-format", "iceberg", "--catalog", "glue_catalog"])

    def test_a_catalog_names_tables_as_the_lakes_glue_catalog_does(self, spark):
        target = common.IcebergTarget("s3://acme-processed/zone/", "glue_catalog", "tributary")
        assert target.identifier(spark, "coinmarketcap/quote") == "`glue_catalog`.`tributary`.`coinmarketcap_quote`"
        assert target.location("coinmarketcap/quote") == "s3://acme-processed/zone/coinmarketcap/quote"
