"""crypto_processed_to_curated: daily coin metrics and the market summary, exact as in TypeScript."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import crypto_math
import crypto_processed_to_curated as job
import tributary_common as common

D = Decimal


def quotes(spark, rows):
    schema = common.load_schema("quote").add("dt", "string")
    full = []
    for coin, when, price, cap, convert in rows:
        stamp = dt.datetime.fromisoformat(when)
        full.append((coin, convert, stamp, price, D("10"), None, None, None, None, None, cap, D("1.5"), None, stamp.date().isoformat()))
    return spark.createDataFrame(full, schema)


@pytest.fixture()
def history(spark):
    return quotes(
        spark,
        [
            (1, "2026-11-22 10:00:00", D("100"), D("5000"), "USD"),
            (1, "2026-11-22 20:00:00", D("110"), D("5500"), "USD"),
            (1, "2026-11-22 15:00:00", D("90"), D("4500"), "USD"),
            (2, "2026-11-22 10:00:00", D("10"), D("6000"), "USD"),
            (2, "2026-11-22 20:00:00", D("9"), D("5400"), "USD"),
            (3, "2026-11-22 20:00:00", None, None, "USD"),
            (1, "2026-11-22 20:00:00", D("1"), D("1"), "EUR"),
            (1, "2026-11-24 10:00:00", D("120"), D("7000"), "USD"),
            (3, "2026-11-24 10:00:00", D("1"), D("7000"), "USD"),
        ],
    )


def test_coin_days_take_open_high_low_close_and_rank(history):
    coins, _ = job.transform(history, "USD")
    got = {(str(r.date), r.cryptocurrency_id): r for r in coins.collect()}
    btc = got[("2026-11-22", 1)]
    assert (btc.open, btc.high, btc.low, btc.close, btc.market_cap, btc.snapshots) == (D("100"), D("110"), D("90"), D("110"), D("5500"), 3)
    assert [got[("2026-11-22", c)].rank for c in (1, 2, 3)] == [1, 2, 3]  # 5500 > 5400 > null
    assert got[("2026-11-22", 1)].rank_change is None
    # The 24th follows the 22nd (no quotes on the 23rd); equal caps rank by coin id.
    assert (got[("2026-11-24", 1)].rank, got[("2026-11-24", 1)].rank_change) == (1, 0)
    assert (got[("2026-11-24", 3)].rank, got[("2026-11-24", 3)].rank_change) == (2, 1)
    assert ("2026-11-24", 2) not in got


def test_market_days_are_exact(history):
    _, market = job.transform(history, "USD")
    day = {str(r.date): r for r in market.collect()}["2026-11-22"]
    assert (day.total_market_cap, day.total_volume_24h, day.coins) == (D("10900"), D("30"), 3)
    assert day.top_coin_id == 1
    assert day.top_coin_dominance == pytest.approx(5500 / 10900 * 100, abs=1e-10)
    assert (day.top_gainer_id, day.top_gainer_change) == (1, 10.0)
    assert (day.top_loser_id, day.top_loser_change) == (2, -10.0)


def test_other_converts_are_left_out(history):
    coins, market = job.transform(history, "EUR")
    assert [(r.cryptocurrency_id, r.close) for r in coins.collect()] == [(1, D("1"))]
    assert market.count() == 1


def test_percent_arithmetic_truncates_like_bigint():
    # (2 - 3) / 3 = -33.333333333333…: truncated toward zero at 10 decimals, then a double.
    assert crypto_math.percent_change(D("3"), D("2")) == -33.3333333333
    assert crypto_math.percent_change(D("0"), D("2")) is None
    big = D("99999999999999999999.999999999999999999")
    assert crypto_math.share(big, big) == 100.0


def test_main_writes_dt_and_convert_partitions(spark, history, tmp_path):
    zone = f"file://{tmp_path}"
    common.write_partitions(history, f"{zone}/processed/coinmarketcap/quote", ["dt"])
    assert job.main(["--processed", f"{zone}/processed", "--curated", f"{zone}/curated"]) == 0
    parts = sorted(p.relative_to(tmp_path / "curated" / "market_daily").as_posix() for p in (tmp_path / "curated" / "market_daily").glob("dt=*/convert=*"))
    assert parts == ["dt=2026-11-22/convert=USD", "dt=2026-11-24/convert=USD"]
    coin_daily = spark.read.parquet(f"{zone}/curated/coin_daily")
    assert coin_daily.count() == 5
    assert "date" not in coin_daily.columns
