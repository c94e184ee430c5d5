"""The Python baselines of `pnpm bench coinmarketcap` (run with spark/.venv/bin/python).

    awswrangler --input DIR
        per snapshot, wr.postgresql.to_sql(mode="upsert") of the cryptocurrency rows, then of the
        quote rows, into the store's tables (created by PostgresStore.init), over pg8000, committed
        once per snapshot (commit_transaction=False, then con.commit())
    dlt --input DIR [--format insert_values|csv]
        per snapshot, one pipeline.run of two resources (cryptocurrency, quote) with
        write_disposition="merge" and their primary keys, to dlt's postgres destination (psycopg2),
        dataset dlt_bench; the rows as Arrow tables

The connection comes from BENCH_PG_URL (postgres://user:password@host:port/database). DIR holds
snapshot-00000.json, … as the bench wrote them: the normalized rows of each snapshot
({"cryptocurrency": [...], "quote": [...]}, timestamps as ISO text, decimals as text). Building
the frames is not timed (the store's snapshots are normalized before its clock starts either);
imports are not timed. Prints one JSON line: seconds of the loads, per-snapshot seconds, CPU
seconds over the loads, peak RSS of the process.
"""

import argparse
import json
import os
import resource
import sys
import time
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote, urlparse

import pyarrow as pa

AMOUNT = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
# The columns of the store's tables (packages/coinmarketcap/src/schemas.ts), in their order.
TABLES = {
    "cryptocurrency": [
        ("id", pa.int32()),
        ("name", pa.string()),
        ("symbol", pa.string()),
        ("slug", pa.string()),
        ("cmc_rank", pa.int32()),
        ("num_market_pairs", pa.int32()),
        ("circulating_supply", AMOUNT),
        ("total_supply", AMOUNT),
        ("max_supply", AMOUNT),
        ("infinite_supply", pa.bool_()),
        ("date_added", TIMESTAMP),
        ("last_updated", TIMESTAMP),
        ("platform_id", pa.int32()),
        ("token_address", pa.string()),
    ],
    "quote": [
        ("cryptocurrency_id", pa.int32()),
        ("convert", pa.string()),
        ("last_updated", TIMESTAMP),
        ("price", AMOUNT),
        ("volume_24h", AMOUNT),
        ("volume_change_24h", AMOUNT),
        ("percent_change_1h", AMOUNT),
        ("percent_change_24h", AMOUNT),
        ("percent_change_7d", AMOUNT),
        ("percent_change_30d", AMOUNT),
        ("market_cap", AMOUNT),
        ("market_cap_dominance", AMOUNT),
        ("fully_diluted_market_cap", AMOUNT),
    ],
}
KEYS = {"cryptocurrency": ["id"], "quote": ["cryptocurrency_id", "convert", "last_updated"]}


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def python_value(kind, value):
    if value is None:
        return None
    if kind == AMOUNT:
        return Decimal(value)
    if kind == TIMESTAMP:
        return datetime.fromisoformat(value)
    return value


def arrow_table(name, rows):
    columns = TABLES[name]
    arrays = [pa.array([python_value(kind, row.get(column)) for row in rows], type=kind) for column, kind in columns]
    return pa.Table.from_arrays(arrays, schema=pa.schema(columns))


def snapshots(directory):
    files = sorted(f for f in os.listdir(directory) if f.startswith("snapshot-") and f.endswith(".json"))
    for file in files:
        with open(os.path.join(directory, file), encoding="utf-8") as handle:
            rows = json.load(handle)
        yield {name: arrow_table(name, rows[name]) for name in TABLES}


def connection_parts():
    url = urlparse(os.environ["BENCH_PG_URL"])
    return {
        "user": unquote(url.username),
        "password": unquote(url.password or ""),
        "host": url.hostname,
        "port": url.port,
        "database": url.path.lstrip("/"),
    }


def frame(table):
    """A DataFrame awswrangler sends as it is: Python ints (None for nulls), Decimals, Timestamps."""
    import pandas as pd

    data = {}
    for field in table.schema:
        column = table[field.name]
        if pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            data[field.name] = pd.Series(column.to_pylist(), dtype=object)
        else:
            data[field.name] = column.to_pandas()
    return pd.DataFrame(data)


def load_awswrangler(directory):
    import awswrangler as wr
    import pg8000

    frames = [{name: frame(table) for name, table in tables.items()} for tables in snapshots(directory)]
    con = pg8000.connect(**connection_parts())
    times = []
    cpu_started = cpu_seconds()
    for tables in frames:
        started = time.perf_counter()
        for name in ("cryptocurrency", "quote"):
            wr.postgresql.to_sql(
                df=tables[name],
                con=con,
                table=name,
                schema="coinmarketcap",
                mode="upsert",
                upsert_conflict_columns=KEYS[name],
                use_column_names=True,
                commit_transaction=False,
            )
        con.commit()
        times.append(time.perf_counter() - started)
    cpu = cpu_seconds() - cpu_started
    con.close()
    return {
        "seconds": sum(times),
        "snapshotSeconds": times,
        "cpuSeconds": cpu,
        "maxRssMiB": peak_rss_mib(),
        "versions": f"awswrangler {wr.__version__}, pg8000 {pg8000.__version__}",
    }


def load_dlt(directory, file_format, pipelines_dir):
    import dlt

    tables = list(snapshots(directory))
    parts = connection_parts()
    pipeline = dlt.pipeline(
        pipeline_name="bench_coinmarketcap",
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.postgres(
            credentials=f"postgresql://{parts['user']}:{parts['password']}@{parts['host']}:{parts['port']}/{parts['database']}"
        ),
        dataset_name="dlt_bench",
    )
    times = []
    cpu_started = cpu_seconds()
    for snapshot in tables:
        started = time.perf_counter()
        resources = [
            dlt.resource(snapshot[name], name=name, write_disposition="merge", primary_key=KEYS[name])
            for name in ("cryptocurrency", "quote")
        ]
        info = pipeline.run(resources, loader_file_format=file_format)
        info.raise_on_failed_jobs()
        times.append(time.perf_counter() - started)
    cpu = cpu_seconds() - cpu_started
    return {
        "seconds": sum(times),
        "snapshotSeconds": times,
        "cpuSeconds": cpu,
        "maxRssMiB": peak_rss_mib(),
        "versions": f"dlt {dlt.__version__}, {file_format}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("awswrangler")
    w.add_argument("--input", required=True)
    d = commands.add_parser("dlt")
    d.add_argument("--input", required=True)
    d.add_argument("--format", choices=["insert_values", "csv"], default="insert_values")
    d.add_argument("--pipelines-dir", required=True)
    args = parser.parse_args()
    if args.command == "awswrangler":
        result = load_awswrangler(args.input)
    else:
        result = load_dlt(args.input, args.format, args.pipelines_dir)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
