"""load_redshift / load_sql: the same statements as the TypeScript RedshiftLoader, checked against
the warehouse package's golden files (packages/warehouse/tests/unit/golden/redshift/)."""

from __future__ import annotations

import json
import os
import re

import pytest

import load_redshift as job
import load_sql

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "warehouse", "tests", "unit", "golden", "redshift")
ROLE = "arn:aws:iam::123456789012:role/RedshiftCopy"
BASE = "s3://lake-bucket/processed"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
READINGS = load_sql.TableSpec(
    (
        load_sql.Column("id", "VARCHAR(65535)", True),
        load_sql.Column("dt", "DATE", True),
        load_sql.Column("value", "DECIMAL(12,3)", True),
        load_sql.Column("at", "TIMESTAMPTZ", True),
    ),
    ("id", "dt"),
)
EXISTING = ("id", "dt", "value", "at")
LOAD_ID = "0b0b0b0b-1111-4222-8333-444444444444"


def golden(name: str) -> str:
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as handle:
        return handle.read()


def manifest_group(n: int, day: str) -> load_sql.Group:
    body = load_sql.manifest_body([(f"{BASE}/readings/dt={day}/part-0.parquet", 100)])
    return load_sql.Group((day,), (load_sql.Copy(f"{BASE}/_redshift/manifests/{LOAD_ID}-{n:04d}.manifest", body),))


def plan(**overrides) -> load_sql.LoadPlan:
    base = dict(
        schema="analytics",
        table="readings",
        spec=READINGS,
        mode="append",
        kind="parquet",
        groups=(manifest_group(0, "2026-11-22"), manifest_group(1, "2026-11-23")),
        partition_columns=("dt",),
        iam_role=ROLE,
        target_columns=EXISTING,
    )
    base.update(overrides)
    return load_sql.LoadPlan(**base)


def sql(p: load_sql.LoadPlan) -> str:
    return UUID.sub("<uuid>", load_sql.transcript(load_sql.load_statements(p)))


@pytest.fixture(scope="module", autouse=True)
def goldens_exist():
    if not os.path.isdir(GOLDEN):
        pytest.fail(f"the warehouse golden files are missing: {GOLDEN}")


class TestGoldenSql:
    def test_append_into_a_new_table_with_dist_and_sort_keys(self):
        p = plan(target_columns=(), dist_key="id", sort_key=("dt",))
        assert sql(p) == golden("append-parquet-partitioned.sql")

    def test_replace(self):
        assert sql(plan(mode="replace")) == golden("replace-parquet-partitioned.sql")

    def test_merge_one_partition(self):
        assert sql(plan(mode="merge", groups=(manifest_group(0, "2026-11-23"),))) == golden("merge-parquet-partition.sql")

    def test_merge_delete_insert(self):
        p = plan(schema=None, mode="merge", keys=("id", "dt"), merge_strategy="delete-insert")
        assert sql(p) == golden("merge-delete-insert.sql")

    def test_gzipped_ndjson_with_credentials_and_a_region(self):
        copy = load_sql.Copy(f"{BASE}/_redshift/manifests/{LOAD_ID}-0000.manifest", "{}")
        p = plan(
            kind="json.gz",
            groups=(load_sql.Group((), (copy,)),),
            partition_columns=(),
            iam_role=None,
            credentials={"accessKeyId": "AKIAEXAMPLEEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI-example-secret-not-real", "sessionToken": "token-example"},
            region="eu-west-1",
        )
        assert sql(p) == golden("append-ndjson-gzip-credentials.sql")

    def test_one_copy_per_file_without_a_manifest(self):
        copy = load_sql.Copy(f"{BASE}/readings/part-00000-{LOAD_ID}.parquet")
        p = plan(schema=None, groups=(load_sql.Group((), (copy,)),), partition_columns=())
        assert sql(p) == golden("append-parquet-no-manifest.sql")


class TestStatements:
    def test_credentials_are_redacted_when_shown(self):
        p = plan(iam_role=None, credentials={"accessKeyId": "AKIA-SECRET", "secretAccessKey": "very-secret"})
        shown = load_sql.transcript(load_sql.load_statements(p, shown=True))
        assert "very-secret" not in shown and "AKIA-SECRET" not in shown and "<redacted>" in shown

    def test_bad_plans_are_refused(self):
        with pytest.raises(ValueError, match="needs keys"):
            load_sql.load_statements(plan(mode="merge", spec=load_sql.TableSpec(READINGS.columns)))
        with pytest.raises(ValueError, match="lacks the source columns"):
            load_sql.load_statements(plan(target_columns=("id",)))
        with pytest.raises(ValueError, match="either an IAM role or credentials"):
            load_sql.load_statements(plan(iam_role=None))


def test_dry_run_plans_a_spark_written_table_by_partition(spark, tmp_path, capsys):
    table = tmp_path / "curated" / "coin_daily"
    for part in ("dt=2026-11-22/convert=USD", "dt=2026-11-23/convert=USD"):
        (table / part).mkdir(parents=True)
        (table / part / "part-00000-x.c000.snappy.parquet").write_bytes(b"PAR1")
    (table / "_SUCCESS").write_text("")
    args = [
        "--curated", f"file://{tmp_path}/curated", "--table", "coin_daily", "--target", "analytics.coin_daily",
        "--mode", "merge", "--iam-role", ROLE, "--dry-run", "--target-columns",
        *[c["name"] for c in json.load(open(os.path.join(os.path.dirname(__file__), "..", "schemas", "redshift", "coin_daily.json")))["columns"]],
    ]
    assert job.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("COPY \"tributary_stage_files\" FROM") == 2
    assert '-- values: ["2026-11-22","USD"]' in out and '-- values: ["2026-11-23","USD"]' in out
    assert 'CAST($1 AS DATE), CAST($2 AS VARCHAR(65535))' in out
    assert 'MERGE INTO "analytics"."coin_daily"' in out
    assert "_SUCCESS" not in out
