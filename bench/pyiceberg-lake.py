"""pyiceberg's side of `pnpm bench lake` (run with spark/.venv/bin/python).

    write --rows N --dir DIR     the bench's sensor rows as an Arrow table, appended by pyiceberg to a
                                 new table partitioned by hour(timestamp) (SqlCatalog: sqlite in DIR,
                                 warehouse file://DIR); prints one JSON line of timings and peak RSS
    read (--catalog-dir DIR | --metadata FILE)
                                 opens a table (pyiceberg's catalog, or tributary's vN.metadata.json
                                 with StaticTable), lists the current snapshot's data files
                                 (plan_files) and reads every row back; prints one JSON line
    rows --rows N                the generated rows as CSV with hex doubles (to compare with
                                 bench/sensor-rows.ts)

The rows are bench/sensor-rows.ts's, generated column-wise with pyarrow.compute (no numpy in the
venv): mulberry32's state after k draws is seed + k * 0x6D2B79F5 (mod 2^32), so every draw of
every row is computed at once, with the same uint32 wrap-around and the same float64 operations.
"""

import argparse
import json
import os
import resource
import sys
import time

STARTED = time.perf_counter()

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

SEED = 20261121
STEP = 0x6D2B79F5
DRAWS_PER_ROW = 7  # four for the id, one each for the sensor, the value and the lateness
SENSORS = 500
SENSOR_TYPES = ["power_factor", "temperature", "hydraulic_pressure"]
START_MS = 1795219200000  # Date.UTC(2026, 10, 21)
MAX_LATENESS_MS = 2000
HEX = pa.array(list("0123456789abcdef"))

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("sensorId", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def u32(value):
    return pa.scalar(value & 0xFFFFFFFF, pa.uint32())


def span_ms(count):
    # Math.max(3_600_000, Math.round((count / 1_000_000) * 3 * 24 * 3_600_000)); never a .5 tie here
    return max(3_600_000, int((count / 1_000_000) * 3 * 24 * 3_600_000 + 0.5))


def mulberry32(state):
    """mulberry32's output for each state (uint32 arithmetic wraps, as Math.imul and >>> do)."""
    t = state
    t = pc.multiply(pc.bit_wise_xor(t, pc.shift_right(t, u32(15))), pc.bit_wise_or(t, u32(1)))
    t = pc.bit_wise_xor(
        t,
        pc.add(t, pc.multiply(pc.bit_wise_xor(t, pc.shift_right(t, u32(7))), pc.bit_wise_or(t, u32(61)))),
    )
    return pc.bit_wise_xor(t, pc.shift_right(t, u32(14)))


def sensor_rows(count):
    """The rows of sensorRows(count) from bench/sensor-rows.ts, as an Arrow table."""
    index = pc.subtract(pc.cumulative_sum(pa.repeat(u32(1), count)), u32(1))  # 0 … count-1
    base = pc.multiply(index, u32(DRAWS_PER_ROW * STEP))

    def draw(j):  # the row's j-th draw: state seed + (7i + j + 1) * STEP
        return mulberry32(pc.add(base, u32(SEED + (j + 1) * STEP)))

    def unit(j):  # rnd(): the draw / 2^32, a float64 in [0, 1)
        return pc.divide(pc.cast(draw(j), pa.float64()), 4294967296.0)

    # id: 32 hex digits from four draws, shaped like a v4 uuid (digits 12 and 16 replaced)
    digits = []
    for j in range(4):
        u = draw(j)
        for shift in range(28, -4, -4):
            digits.append(pc.take(HEX, pc.bit_wise_and(pc.shift_right(u, u32(shift)), u32(15))))
    ids = pc.binary_join_element_wise(
        *digits[0:8], "-", *digits[8:12], "-4", *digits[13:16], "-a", *digits[17:20], "-", *digits[20:32], ""
    )
    sensor = pc.cast(pc.floor(pc.multiply(unit(4), float(SENSORS))), pa.int32())
    kind = pc.subtract(sensor, pc.multiply(pc.divide(sensor, 3), 3))  # sensor % 3 (integer divide)
    sensor_ids = pc.take(pa.array([f"sensor-{n:03d}" for n in range(SENSORS)]), sensor)
    types = pc.take(pa.array(SENSOR_TYPES), kind)
    r = unit(5)
    value = pc.if_else(
        pc.equal(kind, 0),
        pc.add(0.7, pc.multiply(r, 0.3)),
        pc.if_else(pc.equal(kind, 1), pc.add(15.0, pc.multiply(r, 30.0)), pc.add(80.0, pc.multiply(r, 120.0))),
    )
    # Math.round(value * 1000) / 1000: the nearest whole number, halves up
    scaled = pc.multiply(value, 1000.0)
    whole = pc.floor(scaled)
    value = pc.divide(pc.if_else(pc.greater_equal(pc.subtract(scaled, whole), 0.5), pc.add(whole, 1.0), whole), 1000.0)
    # START_MS + Math.floor((i * span) / count) - Math.floor(rnd() * MAX_LATENESS_MS), at least START_MS
    at = pc.floor(pc.divide(pc.multiply(pc.cast(index, pa.float64()), float(span_ms(count))), float(count)))
    at = pc.subtract(pc.add(at, float(START_MS)), pc.floor(pc.multiply(unit(6), float(MAX_LATENESS_MS))))
    ms = pc.cast(pc.max_element_wise(at, float(START_MS)), pa.int64())
    timestamps = pc.cast(pc.multiply(ms, 1000), pa.timestamp("us", tz="UTC"))
    return pa.Table.from_arrays([ids, sensor_ids, types, value, timestamps], schema=ARROW_SCHEMA)


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write(rows, directory):
    import pyiceberg
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import HourTransform
    from pyiceberg.types import DoubleType, NestedField, StringType, TimestamptzType

    import_seconds = time.perf_counter() - STARTED
    # The clock starts after the imports, as in the Node steps.
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    table_rows = sensor_rows(rows)
    generated = time.perf_counter()

    os.makedirs(directory, exist_ok=True)
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{os.path.join(directory, 'catalog.db')}", warehouse=f"file://{directory}"
    )
    catalog.create_namespace("bench")
    table = catalog.create_table(
        "bench.sensors",
        schema=Schema(
            NestedField(1, "id", StringType(), required=True),
            NestedField(2, "sensorId", StringType(), required=True),
            NestedField(3, "type", StringType(), required=True),
            NestedField(4, "value", DoubleType(), required=True),
            NestedField(5, "timestamp", TimestamptzType(), required=True),
        ),
        partition_spec=PartitionSpec(
            PartitionField(source_id=5, field_id=1000, transform=HourTransform(), name="timestamp_hour")
        ),
        # tributary's codec (pyiceberg's default is zstd); other write settings are pyiceberg's defaults
        properties={"write.parquet.compression-codec": "snappy"},
    )
    created = time.perf_counter()
    cpu_created = cpu_seconds()
    table.append(table_rows)
    appended = time.perf_counter()
    cpu_appended = cpu_seconds()

    snapshot = table.current_snapshot()
    return {
        "rows": table_rows.num_rows,
        "importSeconds": import_seconds,
        "generateSeconds": generated - started,
        "createSeconds": created - generated,
        "appendSeconds": appended - created,
        "wallSeconds": appended - started,
        "cpuSeconds": cpu_appended - cpu_started,
        "appendCpuSeconds": cpu_appended - cpu_created,
        "maxRssMiB": peak_rss_mib(),
        "snapshotId": str(snapshot.snapshot_id),
        "addedRecords": int(snapshot.summary["added-records"]),
        "metadataLocation": table.metadata_location,
        "versions": f"pyiceberg {pyiceberg.__version__}, pyarrow {pa.__version__}",
    }


def hour_text(hours):
    return time.strftime("%Y-%m-%d-%H", time.gmtime(hours * 3600))


def read(catalog_dir, metadata):
    if metadata is not None:
        from pyiceberg.table import StaticTable

        table = StaticTable.from_metadata(metadata)
    else:
        from pyiceberg.catalog.sql import SqlCatalog

        catalog = SqlCatalog(
            "bench", uri=f"sqlite:///{os.path.join(catalog_dir, 'catalog.db')}", warehouse=f"file://{catalog_dir}"
        )
        table = catalog.load_table("bench.sensors")
    spec = table.spec()
    hour_fields = [i for i, f in enumerate(spec.fields) if f.name == "timestamp_hour"]
    files = []
    for task in table.scan().plan_files():
        partition = task.file.partition
        files.append(
            {
                "path": task.file.file_path,
                "hour": hour_text(partition[hour_fields[0]]) if hour_fields else None,
                "rows": task.file.record_count,
            }
        )
    data = table.scan().to_arrow()
    minmax = pc.min_max(data["timestamp"])
    return {
        "snapshotId": str(table.current_snapshot().snapshot_id),
        "schema": [[f.field_id, f.name, str(f.field_type), f.required] for f in table.schema().fields],
        "spec": [[f.name, str(f.transform), f.source_id] for f in spec.fields],
        "files": files,
        "rows": data.num_rows,
        "distinctIds": pc.count_distinct(data["id"]).as_py(),
        "minMs": minmax["min"].cast(pa.int64()).as_py() // 1000,
        "maxMs": minmax["max"].cast(pa.int64()).as_py() // 1000,
        "valueSum": pc.sum(data["value"]).as_py(),
    }


def dump_rows(rows):
    import struct

    table = sensor_rows(rows)
    ms = pc.divide(pc.cast(table["timestamp"], pa.int64()), 1000).to_pylist()
    for i, (id_, sensor, kind, value) in enumerate(
        zip(
            table["id"].to_pylist(),
            table["sensorId"].to_pylist(),
            table["type"].to_pylist(),
            table["value"].to_pylist(),
        )
    ):
        sys.stdout.write(f"{id_},{sensor},{kind},{struct.pack('>d', value).hex()},{ms[i]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("write")
    w.add_argument("--rows", type=int, required=True)
    w.add_argument("--dir", required=True)
    r = commands.add_parser("read")
    source = r.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalog-dir")
    source.add_argument("--metadata")
    d = commands.add_parser("rows")
    d.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    if args.command == "rows":
        dump_rows(args.rows)
        return
    result = write(args.rows, os.path.abspath(args.dir)) if args.command == "write" else read(args.catalog_dir, args.metadata)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
