"""crypto_raw_to_processed: DMS LOAD + CDC replay in file and row order, as replayExport does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import crypto_raw_to_processed as job
import tributary_common as common

QUOTE_HEADER = "cryptocurrency_id,convert,last_updated,price,volume_24h,volume_change_24h,percent_change_1h,percent_change_24h,percent_change_7d,percent_change_30d,market_cap,market_cap_dominance,fully_diluted_market_cap"
COIN_HEADER = "id,name,symbol,slug,cmc_rank,num_market_pairs,circulating_supply,total_supply,max_supply,infinite_supply,date_added,last_updated,platform_id,token_address"


def quote(coin, when, price, cap="1000"):
    return f"{coin},USD,{when},{price},10,,,,,,{cap},,"


def write(folder, name, header, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture()
def raw(tmp_path):
    base = tmp_path / "raw" / "coinmarketcap" / "coinmarketcap"
    write(
        base / "cryptocurrency",
        "LOAD00000001.csv",
        COIN_HEADER,
        [
            '1,Bitcoin,BTC,bitcoin,1,10,19000000.5,,21000000,false,2013-04-28 00:00:00.000,2026-11-22 10:00:00.000,,',
            '2,"Ether, the coin",ETH,ethereum,2,,,,,,2015-08-07 00:00:00.000,2026-11-22 10:00:00.000,,""',
            "3,Gone,GONE,gone,3,,,,,,2020-01-01 00:00:00.000,2026-11-22 10:00:00.000,,",
        ],
    )
    write(
        base / "cryptocurrency",
        "20261123-100000000.csv",
        f"Op,commit_ts,{COIN_HEADER}",
        [
            "U,2026-11-23 10:00:00.000,1,Bitcoin,BTC,bitcoin,1,11,19000001,,21000000,false,2013-04-28 00:00:00.000,2026-11-23 10:00:00.000,,",
            "D,2026-11-23 10:00:00.000,3,,,,,,,,,,,,,",
        ],
    )
    # A later file whose commit_ts is older: the file order decides, not commit_ts.
    write(
        base / "cryptocurrency",
        "20261124-100000000.csv",
        f"Op,commit_ts,{COIN_HEADER}",
        [
            "U,2026-11-20 00:00:00.000,2,Ether,ETH,ethereum,2,5,,,,,2015-08-07 00:00:00.000,2026-11-24 10:00:00.000,,",
            "I,2026-11-20 00:00:00.000,3,Back,BACK,back,3,,,,,,2020-01-01 00:00:00.000,2026-11-24 10:00:00.000,,",
            "D,2026-11-20 00:00:00.000,3,,,,,,,,,,,,,",
            "I,2026-11-20 00:00:00.000,3,Back again,BACK,back,3,,,,,,2020-01-01 00:00:00.000,2026-11-24 10:00:00.000,,",
        ],
    )
    write(base / "quote", "LOAD00000001.csv", QUOTE_HEADER, [quote(1, "2026-11-22 10:00:00.000", "100.5"), quote(2, "2026-11-22 10:00:00.000", "3")])
    write(
        base / "quote",
        "20261123-100000000.csv",
        f"Op,commit_ts,{QUOTE_HEADER}",
        ["I,2026-11-23 10:00:00.000," + quote(1, "2026-11-23 10:00:00.000", "0.000000000000000001"), "U,2026-11-23 10:00:00.000," + quote(2, "2026-11-22 10:00:00.000", "4")],
    )
    return tmp_path


def test_replay_applies_changes_in_file_and_row_order(spark, raw):
    args = job.parse_args(["--raw", f"file://{raw}/raw", "--processed", f"file://{raw}/processed"])
    coins = {r.id: r for r in job.replay_table(spark, args, "cryptocurrency").collect()}
    assert sorted(coins) == [1, 2, 3]
    assert coins[1].num_market_pairs == 11 and coins[1].circulating_supply == Decimal("19000001")
    assert coins[2].name == "Ether" and coins[2].num_market_pairs == 5
    assert coins[3].name == "Back again"
    assert coins[1].last_updated == dt.datetime(2026, 11, 23, 10, 0)


def test_csv_quoting_and_nulls_follow_the_lake_writer(spark, raw):
    base = raw / "raw" / "coinmarketcap" / "coinmarketcap" / "cryptocurrency"
    (base / "20261123-100000000.csv").unlink()
    (base / "20261124-100000000.csv").unlink()
    args = job.parse_args(["--raw", f"file://{raw}/raw", "--processed", f"file://{raw}/processed"])
    coins = {r.id: r for r in job.replay_table(spark, args, "cryptocurrency").collect()}
    assert coins[2].name == "Ether, the coin"
    assert coins[2].token_address == ""  # quoted empty: an empty string
    assert coins[3].token_address is None  # empty field: null
    assert coins[1].infinite_supply is False


def test_unknown_ops_are_refused(spark, raw):
    base = raw / "raw" / "coinmarketcap" / "coinmarketcap" / "quote"
    write(base, "20261125-000000000.csv", f"Op,commit_ts,{QUOTE_HEADER}", ["X,2026-11-25 00:00:00.000," + quote(1, "2026-11-25 00:00:00.000", "1")])
    args = job.parse_args(["--raw", f"file://{raw}/raw", "--processed", f"file://{raw}/processed"])
    with pytest.raises(job.ExportError, match="unknown Op X"):
        job.replay_table(spark, args, "quote")


def test_main_writes_the_latest_state_and_quotes_by_day(spark, raw):
    zone = f"file://{raw}"
    assert job.main(["--raw", f"{zone}/raw", "--processed", f"{zone}/processed"]) == 0
    coins = spark.read.parquet(f"{zone}/processed/coinmarketcap/cryptocurrency")
    assert [r.id for r in coins.collect()] == [1, 2, 3]
    quotes = spark.read.schema(common.load_schema("quote").add("dt", "string")).parquet(f"{zone}/processed/coinmarketcap/quote")
    got = sorted((r.dt, r.cryptocurrency_id, str(r.price)) for r in quotes.collect())
    assert got == [
        ("2026-11-22", 1, "100.500000000000000000"),
        ("2026-11-22", 2, "4.000000000000000000"),
        ("2026-11-23", 1, "1E-18"),
    ]
