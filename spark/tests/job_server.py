"""Runs the jobs of ``spark/jobs`` one after the other in ONE Python process and ONE Spark session.

    spark/.venv/bin/python spark/tests/job_server.py --master local[2]

For tests that run many jobs (tests/spark/cross-engine.test.ts): each job run as its own
spark-submit starts a JVM and a SparkContext (10-20 s each on two cores); here they start once.
The session is made first with the Iceberg runtime and extensions (``tributary_common.session``
with ``table_format="iceberg"``), so hive and Iceberg jobs alike get it back from
``getOrCreate``. It prints ``{"ready": true}``, then answers each stdin line
``{"job": "sensors_raw_to_processed", "args": ["--raw", "file:///…", …]}`` with one line
``{"job", "code", "stdout", "error"}``: the exit code of the job's ``main(args)`` (1 with the
traceback in ``error`` when it raised), and what it printed. The jobs are the ones spark-submit
runs; nothing about them changes here.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import traceback

JOBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--master", default="local[2]")
    options = parser.parse_args()
    sys.path.insert(0, os.path.abspath(JOBS))
    import tributary_common as common

    out = sys.stdout
    common.session("tributary-job-server", options.master, "iceberg")
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        job, args = request["job"], [*request["args"], "--master", options.master]
        printed = io.StringIO()
        code, error = 0, None
        try:
            with contextlib.redirect_stdout(printed):
                code = importlib.import_module(job).main(args) or 0
        except SystemExit as exit_:  # argparse and explicit exits
            code = exit_.code if isinstance(exit_.code, int) else 1
            error = f"SystemExit({exit_.code})"
        except BaseException:  # noqa: BLE001 - every failure goes back to the test, with its traceback
            code, error = 1, traceback.format_exc()
        print(json.dumps({"job": job, "code": code, "stdout": printed.getvalue(), "error": error}), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
