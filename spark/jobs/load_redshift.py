"""Curated tables -> Redshift, the S3 + COPY route, with the SQL of ``RedshiftLoader``.

Lists the table's data files in the curated zone (skipping ``_``/``.`` paths such as Spark's
``_SUCCESS``), groups them by partition, writes one COPY manifest per partition under
``<zone>/_redshift/manifests/``, and runs :func:`load_sql.load_statements` in one transaction over
JDBC (the Redshift JDBC driver on the classpath: ``--jars redshift-jdbc42.jar``). Spark's files do
not hold the partition columns (``dt``, ``convert``), so they are COPYed into a files table and
bound per partition, as the TypeScript loader does for lake datasets.

``--dry-run`` prints the statements (credentials redacted) and the manifests instead, which is
how it is tested here: there is no Redshift to run them on.

    spark-submit --py-files tributary_common.py,load_sql.py load_redshift.py \\
        --curated s3://lake-curated --table coin_daily --target analytics.coin_daily \\
        --mode merge --iam-role arn:aws:iam::123456789012:role/RedshiftCopy \\
        --jdbc-url jdbc:redshift://cluster:5439/dev --user loader --password-env REDSHIFT_PASSWORD
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid

from pyspark.sql import SparkSession

import load_sql
import tributary_common as common

# Curated tables: the hive partition folders, and the column each one holds.
PARTITIONS = {
    "sensor_hourly": {"dt": "dt"},
    "coin_daily": {"dt": "date", "convert": "convert"},
    "market_daily": {"dt": "date", "convert": "convert"},
}


def _fs(spark: SparkSession, url: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(url)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def list_data_files(spark: SparkSession, zone: str, table: str) -> list[tuple[str, int]]:
    """``(key, size)`` of the table's data files, keys relative to the zone, in key order."""
    root, fs = _fs(spark, common.table_path(zone, table))
    if not fs.exists(root):
        return []
    files = fs.listFiles(root, True)
    base = root.toString().rstrip("/")
    out = []
    while files.hasNext():
        status = files.next()
        rest = status.getPath().toString()[len(base) + 1 :]
        if any(s.startswith(("_", ".")) for s in rest.split("/")):
            continue
        if rest.endswith((".parquet", ".json", ".ndjson", ".json.gz", ".ndjson.gz")):
            out.append((f"{table}/{rest}", status.getLen()))
    return sorted(out)


def kind_of(key: str) -> str:
    if key.endswith(".parquet"):
        return "parquet"
    return "json.gz" if key.endswith(".gz") else "json"


def plan_copies(
    zone_url: str, files: list[tuple[str, int]], folders: dict[str, str], load_id: str, manifest_prefix: str, use_manifest: bool
) -> tuple[list[load_sql.Group], dict[str, str]]:
    """Groups of COPYs, one per partition tuple (in order of first appearance), and the manifests to write (key -> body)."""
    base = zone_url.rstrip("/")
    groups: dict[tuple, list[tuple[str, int]]] = {}
    for key, size in files:
        values = dict(seg.split("=", 1) for seg in key.split("/") if "=" in seg)
        tuple_ = tuple(values.get(name) for name in folders)
        groups.setdefault(tuple_, []).append((key, size))
    out, manifests = [], {}
    for n, (values, members) in enumerate(groups.items()):
        if use_manifest:
            key = f"{manifest_prefix}{load_id}-{n:04d}.manifest"
            body = load_sql.manifest_body([(f"{base}/{k}", size) for k, size in members])
            manifests[key] = body
            copies = (load_sql.Copy(f"{base}/{key}", body),)
        else:
            copies = tuple(load_sql.Copy(f"{base}/{k}") for k, _ in members)
        out.append(load_sql.Group(values, copies))
    return out, manifests


def _write_text(spark: SparkSession, url: str, text: str) -> None:
    path, fs = _fs(spark, url)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def _delete(spark: SparkSession, url: str) -> None:
    path, fs = _fs(spark, url)
    fs.delete(path, False)


def _execute(spark: SparkSession, args: argparse.Namespace, plan_for) -> None:
    """Run the load in one transaction over JDBC; roll back on any failure."""
    jvm = spark.sparkContext._jvm
    password = os.environ.get(args.password_env, "") if args.password_env else ""
    connection = jvm.java.sql.DriverManager.getConnection(args.jdbc_url, args.user, password)
    try:
        connection.setAutoCommit(False)
        query = connection.prepareStatement(load_sql.target_columns_sql(args.schema, args.name).text.replace("$1", "?").replace("$2", "?"))
        query.setString(1, args.schema) if args.schema else query.setNull(1, jvm.java.sql.Types.VARCHAR)
        query.setString(2, args.name)
        result = query.executeQuery()
        existing = []
        while result.next():
            existing.append(result.getString(1))
        statements = load_sql.load_statements(plan_for(tuple(existing)))
        for s in statements[2:]:  # BEGIN and the columns query are done
            if s.text == "COMMIT":
                connection.commit()
                continue
            text = s.text
            for i in range(len(s.values or ()), 0, -1):
                text = text.replace(f"${i}", "?")
            prepared = connection.prepareStatement(text)
            for i, value in enumerate(s.values or ()):
                prepared.setString(i + 1, value)
            has_rows = prepared.execute()
            # The merge checks, as the TypeScript loader makes them: NULL keys, duplicate keys.
            if has_rows and text.startswith('SELECT count(*) AS n FROM "tributary_stage" WHERE'):
                rs = prepared.getResultSet()
                if rs.next() and rs.getLong(1) > 0:
                    raise RuntimeError(f"merge into {args.target}: {rs.getLong(1)} source rows have a NULL key")
            if has_rows and text.startswith("SELECT CAST("):
                rs = prepared.getResultSet()
                if rs.next():
                    raise RuntimeError(f"merge into {args.target}: the source holds duplicate keys")
    except Exception:
        connection.rollback()
        raise
    finally:
        connection.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curated", required=True, help="the curated zone (s3://bucket/curated)")
    parser.add_argument("--table", required=True, choices=sorted(PARTITIONS), help="the curated table")
    parser.add_argument("--target", required=True, help="the Redshift table, name or schema.name")
    parser.add_argument("--mode", choices=["append", "replace", "merge"], default="merge")
    parser.add_argument("--keys", nargs="*", help="merge keys (default: the table's primary key)")
    parser.add_argument("--merge-strategy", choices=["merge", "delete-insert"], default="merge")
    auth = parser.add_mutually_exclusive_group(required=True)
    auth.add_argument("--iam-role", help="the role COPY assumes to read S3")
    auth.add_argument("--credentials-env", action="store_true", help="COPY with AWS_ACCESS_KEY_ID/… from the environment")
    parser.add_argument("--region", help="the bucket's region (JSON COPY only)")
    parser.add_argument("--manifest-prefix", default="_redshift/manifests/")
    parser.add_argument("--no-manifest", action="store_true", help="one COPY per file, by its URL")
    parser.add_argument("--dist-key", help="DISTKEY of a table created by the load")
    parser.add_argument("--sort-key", nargs="*", default=[], help="SORTKEY of a table created by the load")
    parser.add_argument("--target-columns", nargs="*", help="dry run: the target's columns (none: it does not exist)")
    parser.add_argument("--dry-run", action="store_true", help="print the SQL and the manifests, run nothing")
    parser.add_argument("--jdbc-url", help="jdbc:redshift://host:5439/db")
    parser.add_argument("--user")
    parser.add_argument("--password-env", help="the environment variable holding the password")
    parser.add_argument("--load-id", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--schemas", default=None, help="folder of the schema JSON (default spark/schemas)")
    parser.add_argument("--master", default=None)
    args = parser.parse_args(argv)
    args.schema, _, args.name = args.target.rpartition(".")
    args.schema = args.schema or None
    if not args.dry_run and not args.jdbc_url:
        parser.error("--jdbc-url is needed unless --dry-run")
    if not args.curated.startswith("s3://") and not args.dry_run:
        parser.error("Redshift COPY reads s3:// URLs: --curated must be on S3")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spark = common.session("tributary-load-redshift", args.master)
    spec = load_sql.TableSpec.from_json(common.load_json(f"redshift/{args.table}", args.schemas, spark))
    folders = PARTITIONS[args.table]
    files = list_data_files(spark, args.curated, args.table)
    kinds = {kind_of(k) for k, _ in files}
    if len(kinds) > 1:
        raise ValueError(f"the source mixes file formats ({', '.join(sorted(kinds))}): one COPY reads one format")
    load_id = args.load_id or str(uuid.uuid4())
    groups, manifests = plan_copies(args.curated, files, folders, load_id, args.manifest_prefix, not args.no_manifest)
    credentials = None
    if args.credentials_env:
        credentials = {
            "accessKeyId": os.environ["AWS_ACCESS_KEY_ID"],
            "secretAccessKey": os.environ["AWS_SECRET_ACCESS_KEY"],
            "sessionToken": os.environ.get("AWS_SESSION_TOKEN"),
        }

    def plan_for(existing: tuple[str, ...]) -> load_sql.LoadPlan:
        return load_sql.LoadPlan(
            schema=args.schema,
            table=args.name,
            spec=spec,
            mode=args.mode,
            kind=next(iter(kinds)) if kinds else "parquet",
            groups=tuple(groups),
            partition_columns=tuple(folders.values()),
            keys=tuple(args.keys) if args.keys else None,
            merge_strategy=args.merge_strategy,
            iam_role=args.iam_role,
            credentials=credentials,
            region=args.region,
            target_columns=existing,
            dist_key=args.dist_key,
            sort_key=tuple(args.sort_key),
        )

    if args.dry_run:
        print(load_sql.transcript(load_sql.load_statements(plan_for(tuple(args.target_columns or ())), shown=True)), end="")
        for key, body in manifests.items():
            print(f"-- manifest {args.curated.rstrip('/')}/{key}: {body}")
        return 0
    for key, body in manifests.items():
        _write_text(spark, f"{args.curated.rstrip('/')}/{key}", body)
    try:
        _execute(spark, args, plan_for)
    finally:
        for key in manifests:
            # A leftover manifest is harmless (readers skip `_` paths), so a failure here is not fatal.
            try:
                _delete(spark, f"{args.curated.rstrip('/')}/{key}")
            except Exception:  # noqa: BLE001
                pass
    print(f"load_redshift: loaded {args.table} into {args.target} ({args.mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
