"""Crypto, processed -> curated: the Spark twin of ``cryptoProcessedToCurated`` (``@tributary/coinmarketcap``).

From the processed quote history of one convert currency, per day (the ``dt`` partition):

- ``coin_daily``: per coin, open / close (the first and last snapshot's price), high / low (of
  the non-null prices), volume, market cap and dominance of the last snapshot, the number of
  snapshots, the rank by closing market cap (largest first, nulls last, ties by coin id) and its
  change since the previous day that has quotes (``previous rank - rank``; null for a coin absent
  that day);
- ``market_daily``: exact totals of closing market cap and volume (nulls count as 0), the coin
  count, the top coin (rank 1, when its market cap is known) and its share of the total, and the
  top gainer and loser by ``(close - open) / open`` (first coin id on ties).

Decimals stay decimal(38,18); the percent figures use the TypeScript's exact integer arithmetic
(``crypto_math``). Written to ``<curated>/coin_daily/`` and ``<curated>/market_daily/`` under
``dt=YYYY-MM-DD/convert=XXX/`` with dynamic partition overwrite. With ``--table-format iceberg``
the quotes come from the Iceberg ``coinmarketcap/quote`` table and both outputs are Iceberg
tables partitioned by ``identity(date)`` (field ``dt``) and ``identity(convert)``, each one
dynamic-overwrite snapshot.

    spark-submit --py-files tributary_common.py,crypto_math.py crypto_processed_to_curated.py \\
        --processed s3://lake-processed --curated s3://lake-curated [--convert USD] [--table-format iceberg]
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

import crypto_math
import tributary_common as common

QUOTE_TABLE = "coinmarketcap/quote"
COIN_DAILY_TABLE = "coin_daily"
MARKET_DAILY_TABLE = "market_daily"
# The lake's CRYPTO_CURATED_PARTITIONS: byField('date', 'dt'), byField('convert').
ICEBERG_PARTITIONS = [common.identity("date", "dt"), common.identity("convert")]


@F.udf(returnType=T.DoubleType())
def _percent_change(open_, close):
    return crypto_math.percent_change(open_, close)


@F.udf(returnType=T.DoubleType())
def _share(part, total):
    return crypto_math.share(part, total)


def coin_days(quotes: DataFrame) -> DataFrame:
    """Quotes of one convert (``dt``, ``cryptocurrency_id``, ``convert``, ``last_updated``, …) ->
    the ``coin_daily`` rows, with ``date`` for the day."""
    snap = F.struct("last_updated", "price", "volume_24h", "market_cap", "market_cap_dominance")
    per_coin = quotes.groupBy("dt", "cryptocurrency_id", "convert").agg(
        F.min(snap).alias("first"),
        F.max(snap).alias("last"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.count("*").cast("int").alias("snapshots"),
    )
    ranked = per_coin.withColumn(
        "rank",
        F.row_number()
        .over(Window.partitionBy("dt").orderBy(F.desc_nulls_last("last.market_cap"), F.asc("cryptocurrency_id")))
        .cast("int"),
    )
    # The previous day is the previous day with quotes, not the calendar day before.
    days = ranked.select("dt").distinct().withColumn("day_index", F.row_number().over(Window.orderBy("dt")))
    ranked = ranked.join(days, "dt")
    previous = ranked.select(
        (F.col("day_index") + 1).alias("day_index"), "cryptocurrency_id", F.col("rank").alias("previous_rank")
    )
    out = ranked.join(previous, ["day_index", "cryptocurrency_id"], "left")
    return out.select(
        F.col("dt").cast("date").alias("date"),
        "cryptocurrency_id",
        "convert",
        F.col("first.price").alias("open"),
        "high",
        "low",
        F.col("last.price").alias("close"),
        F.col("last.volume_24h").alias("volume_24h"),
        F.col("last.market_cap").alias("market_cap"),
        F.col("last.market_cap_dominance").alias("dominance"),
        "rank",
        (F.col("previous_rank") - F.col("rank")).cast("int").alias("rank_change"),
        "snapshots",
    )


def market_days(coins: DataFrame) -> DataFrame:
    """``coin_daily`` rows -> the ``market_daily`` rows."""
    zero = F.lit(0).cast("decimal(38,18)")
    totals = coins.groupBy("date", "convert").agg(
        F.coalesce(F.sum("market_cap"), zero).cast("decimal(38,18)").alias("total_market_cap"),
        F.coalesce(F.sum("volume_24h"), zero).cast("decimal(38,18)").alias("total_volume_24h"),
        F.count("*").cast("int").alias("coins"),
    )
    top = coins.filter(F.col("rank") == 1).select(
        "date", "convert", F.col("cryptocurrency_id").alias("top_id"), F.col("market_cap").alias("top_cap")
    )
    changes = coins.withColumn("change", _percent_change("open", "close")).filter(F.col("change").isNotNull())
    by_day = Window.partitionBy("date", "convert")
    gainers = (
        changes.withColumn("_n", F.row_number().over(by_day.orderBy(F.desc("change"), "cryptocurrency_id")))
        .filter("_n = 1")
        .select("date", "convert", F.col("cryptocurrency_id").alias("top_gainer_id"), F.col("change").alias("top_gainer_change"))
    )
    losers = (
        changes.withColumn("_n", F.row_number().over(by_day.orderBy(F.asc("change"), "cryptocurrency_id")))
        .filter("_n = 1")
        .select("date", "convert", F.col("cryptocurrency_id").alias("top_loser_id"), F.col("change").alias("top_loser_change"))
    )
    out = totals.join(top, ["date", "convert"], "left").join(gainers, ["date", "convert"], "left").join(
        losers, ["date", "convert"], "left"
    )
    return out.select(
        "date",
        "convert",
        "total_market_cap",
        "total_volume_24h",
        "coins",
        F.when(F.col("top_cap").isNotNull(), F.col("top_id")).alias("top_coin_id"),
        _share("top_cap", "total_market_cap").alias("top_coin_dominance"),
        "top_gainer_id",
        "top_gainer_change",
        "top_loser_id",
        "top_loser_change",
    )


def transform(quotes: DataFrame, convert: str = "USD") -> tuple[DataFrame, DataFrame]:
    """Processed quotes (with ``dt``) -> ``(coin_daily, market_daily)`` for one convert currency."""
    if not isinstance(convert, str) or convert == "":
        raise ValueError("convert must be a non-empty string")
    coins = coin_days(quotes.filter(F.col("convert") == convert))
    return coins, market_days(coins)


def read_quotes(spark: SparkSession, processed: str, schemas: str | None) -> DataFrame:
    schema = common.load_schema("quote", schemas, spark).add("dt", "string")
    return spark.read.schema(schema).parquet(common.table_path(processed, QUOTE_TABLE))


def read_quotes_iceberg(spark: SparkSession, target: common.IcebergTarget) -> DataFrame:
    """The Iceberg quote table at its current snapshot, with ``dt`` (the UTC day of ``last_updated``)."""
    quotes = common.read_iceberg(spark, target, QUOTE_TABLE)
    return quotes.withColumn("dt", F.date_format("last_updated", "yyyy-MM-dd"))


def _partitioned(df: DataFrame, schema: T.StructType) -> DataFrame:
    """The table's columns with ``date`` as the ``dt`` partition and ``convert`` as the next one."""
    columns = [df[f.name].cast(f.dataType) for f in schema.fields if f.name not in ("date", "convert")]
    return df.select(*columns, F.date_format("date", "yyyy-MM-dd").alias("dt"), "convert")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processed", required=True, help="the processed zone (file:///…, s3://…)")
    parser.add_argument("--curated", required=True, help="the curated zone")
    parser.add_argument("--convert", default="USD", help="the convert currency to curate (default USD)")
    parser.add_argument("--schemas", default=None, help="folder of the schema JSON (default spark/schemas)")
    parser.add_argument("--master", default=None, help="e.g. local[*] outside spark-submit")
    common.add_table_format_args(parser)
    args = parser.parse_args(argv)
    common.check_table_format_args(parser, args)
    if not args.convert:
        parser.error("--convert must not be empty")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-crypto-processed-to-curated", args.master, args.table_format)
    iceberg = args.table_format == "iceberg"
    if iceberg:
        quotes = read_quotes_iceberg(spark, common.IcebergTarget(args.processed, args.catalog, args.database))
    else:
        quotes = read_quotes(spark, args.processed, args.schemas)
    coins, market = transform(quotes, args.convert)
    coins = coins.persist()
    coin_schema = common.load_schema("coin_daily", args.schemas, spark)
    market_schema = common.load_schema("market_daily", args.schemas, spark)
    if iceberg:
        target = common.IcebergTarget(args.curated, args.catalog, args.database)
        common.write_iceberg(coins, target, COIN_DAILY_TABLE, coin_schema, ICEBERG_PARTITIONS)
        common.write_iceberg(market, target, MARKET_DAILY_TABLE, market_schema, ICEBERG_PARTITIONS)
        print(f"crypto_processed_to_curated: wrote {args.curated.rstrip('/')}/{{coin_daily,market_daily}} ({args.convert}, iceberg)")
        return 0
    common.write_partitions(
        _partitioned(coins, coin_schema),
        common.table_path(args.curated, COIN_DAILY_TABLE),
        ["dt", "convert"],
        "parquet",
        ["cryptocurrency_id"],
    )
    common.write_partitions(
        _partitioned(market, market_schema), common.table_path(args.curated, MARKET_DAILY_TABLE), ["dt", "convert"]
    )
    print(f"crypto_processed_to_curated: wrote {args.curated.rstrip('/')}/{{coin_daily,market_daily}} ({args.convert})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
