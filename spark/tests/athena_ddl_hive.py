"""Runs Hive DDL and queries in Spark SQL with Hive support, for tests/spark/athena-ddl-hive.test.ts.

The test sends one JSON document on stdin:

    {"jars": ["/path/hive-hcatalog-core-2.3.9.jar"],
     "scratch": "/tmp/some-empty-folder",
     "convert_metastore_parquet": true,
     "statements": ["CREATE DATABASE ...", "CREATE EXTERNAL TABLE ...", "ALTER TABLE ... ADD PARTITION ..."],
     "queries": {"name": "SELECT ..."}}

Every statement must succeed (the first failure ends the run with exit code 2 and the statement and
Spark's message on stderr). Each query's rows, or its error, are printed as one JSON line on
stdout: {"name": {"rows": [{...}]} | {"error": "..."}}. The Hive metastore is an embedded Derby
database under `scratch`, so nothing outlives the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import os
import sys


def _plain(value):
    """A JSON-friendly form of a value Spark returns."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    return value


def _session(plan: dict):
    from pyspark.sql import SparkSession

    scratch = plan["scratch"]
    metastore = os.path.join(scratch, "metastore_db")
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("athena-ddl-hive")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch} -Duser.timezone=UTC")
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={metastore};create=true")
        .config(
            "spark.sql.hive.convertMetastoreParquet",
            "true" if plan.get("convert_metastore_parquet", True) else "false",
        )
        .enableHiveSupport()
    )
    if plan.get("jars"):
        builder = builder.config("spark.jars", ",".join(plan["jars"]))
    return builder.getOrCreate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    plan = json.load(sys.stdin)
    spark = _session(plan)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for statement in plan.get("statements", []):
            try:
                spark.sql(statement)
            except Exception as error:  # noqa: BLE001 - reported to the test as is
                print(f"statement failed:\n{statement}\n{error}", file=sys.stderr)
                return 2
        results = {}
        for name, query in plan.get("queries", {}).items():
            try:
                rows = [_plain(row.asDict(recursive=True)) for row in spark.sql(query).collect()]
                results[name] = {"rows": rows}
            except Exception as error:  # noqa: BLE001 - a query's failure is a result the test checks
                results[name] = {"error": str(error)[:4000]}
        print(json.dumps(results))
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
