"""One local[1] SparkSession for the whole pytest run, with the jobs' own settings and, when the
jar is on this machine (``node scripts/iceberg-runtime.mjs``), the Iceberg Spark runtime: one
session serves the hive and the Iceberg tests (a JVM holds one SparkContext)."""

from __future__ import annotations

import os
import sys

import pytest

JOBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs")
sys.path.insert(0, os.path.abspath(JOBS))

import tributary_common  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[1]")
        .appName("tributary-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.adaptive.enabled", "false")
    )
    # Without the jar the Iceberg tests fail with the reason (test_iceberg_jobs.py), never skip.
    builder = tributary_common.with_iceberg_runtime(builder)
    session = tributary_common.configure(builder).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    tributary_common.ship_modules(session)
    yield session
    session.stop()
