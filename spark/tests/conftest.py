"""One local[1] SparkSession for the whole pytest run, with the jobs' own settings."""

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
    session = tributary_common.configure(builder).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    tributary_common.ship_modules(session)
    yield session
    session.stop()
