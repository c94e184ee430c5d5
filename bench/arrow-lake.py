"""The Python baselines of `pnpm bench lake` (run with spark/.venv/bin/python).

    pyarrow --rows N --dir DIR
        the bench's sensor rows as an Arrow table, dt and hour derived with pyarrow.compute, then
        pyarrow.dataset.write_dataset: Parquet (snappy), hive partitions dt=/hour= under DIR
    awswrangler --rows N --endpoint URL --path s3://BUCKET/PREFIX/
        the same Arrow table (with dt and hour) as a pandas DataFrame, then
        awswrangler.s3.to_parquet(dataset=True, partition_cols=["dt", "hour"]) to an S3 API at URL
        (the bench's moto_server; the bucket exists)

Each prints one JSON line: input seconds (generating the rows, deriving dt and hour and, for
awswrangler, the DataFrame), write seconds (the library call alone), wall seconds (both), CPU
seconds over the wall span and over the write alone (every thread) and the process's peak RSS,
taken when the write returns.
The rows are bench/pyiceberg-lake.py's (the same rows as bench/sensor-rows.ts, computed column-wise).
"""

import argparse
import importlib.util
import json
import os
import resource
import time

STARTED = time.perf_counter()

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402


def _generator():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyiceberg-lake.py")
    spec = importlib.util.spec_from_file_location("pyiceberg_lake", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sensor_rows


sensor_rows = _generator()


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def with_partitions(table):
    """dt (YYYY-MM-DD) and hour (zero-padded HH) of each row's UTC timestamp, as the lake spells them."""
    ts = table["timestamp"]
    return table.append_column("dt", pc.strftime(ts, format="%Y-%m-%d")).append_column(
        "hour", pc.strftime(ts, format="%H")
    )


def write_pyarrow(rows, directory):
    import pyarrow.dataset as ds

    import_seconds = time.perf_counter() - STARTED
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    table = sensor_rows(rows)
    generated = time.perf_counter()
    table = with_partitions(table)
    derived = time.perf_counter()
    cpu_input = cpu_seconds()
    ds.write_dataset(
        table,
        directory,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("dt", pa.string()), ("hour", pa.string())]), flavor="hive"),
        file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
        existing_data_behavior="overwrite_or_ignore",
    )
    written = time.perf_counter()
    return {
        "rows": table.num_rows,
        "importSeconds": import_seconds,
        "generateSeconds": generated - started,
        "deriveSeconds": derived - generated,
        "inputSeconds": derived - started,
        "writeSeconds": written - derived,
        "wallSeconds": written - started,
        "cpuSeconds": cpu_seconds() - cpu_started,
        "writeCpuSeconds": cpu_seconds() - cpu_input,
        "maxRssMiB": peak_rss_mib(),
        "versions": f"pyarrow {pa.__version__}",
    }


def write_awswrangler(rows, endpoint, path):
    import awswrangler as wr

    wr.config.s3_endpoint_url = endpoint
    import_seconds = time.perf_counter() - STARTED
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    table = sensor_rows(rows)
    generated = time.perf_counter()
    table = with_partitions(table)
    derived = time.perf_counter()
    frame = table.to_pandas()
    del table
    converted = time.perf_counter()
    cpu_input = cpu_seconds()
    result = wr.s3.to_parquet(
        df=frame,
        path=path,
        dataset=True,
        partition_cols=["dt", "hour"],
        mode="overwrite",
        compression="snappy",
    )
    written = time.perf_counter()
    return {
        "rows": len(frame),
        "importSeconds": import_seconds,
        "generateSeconds": generated - started,
        "deriveSeconds": derived - generated,
        "pandasSeconds": converted - derived,
        "inputSeconds": converted - started,
        "writeSeconds": written - converted,
        "wallSeconds": written - started,
        "cpuSeconds": cpu_seconds() - cpu_started,
        "writeCpuSeconds": cpu_seconds() - cpu_input,
        "maxRssMiB": peak_rss_mib(),
        "objects": len(result["paths"]),
        "versions": f"awswrangler {wr.__version__}, pyarrow {pa.__version__}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pyarrow")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--dir", required=True)
    w = commands.add_parser("awswrangler")
    w.add_argument("--rows", type=int, required=True)
    w.add_argument("--endpoint", required=True)
    w.add_argument("--path", required=True)
    args = parser.parse_args()
    if args.command == "pyarrow":
        result = write_pyarrow(args.rows, os.path.abspath(args.dir))
    else:
        result = write_awswrangler(args.rows, args.endpoint, args.path)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
