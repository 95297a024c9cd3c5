"""The dbt unit tests (fixed inputs and hand-computed outputs in ``models/*/_*__unit_tests.yml``), for real.

A run's ``dbt build`` leaves them out (``BUILD_ARGS``: they prove the SQL, not the data, and cost
≈ 4 s a run); here they run as dbt advises, before each commit and in CI: an empty build creates the
relations they read (``--empty``), then ``dbt test`` runs every unit test against a real DuckDB.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml
from conftest import REFERENCE_DIR

from pipelines.defs.dbt.assets import BUILD_ARGS, DBT_EXECUTABLE
from pipelines.reference.tables import load_reference
from pipelines.resources import PROJECT_ROOT
from pipelines.warehouse import connect

PROJECT = PROJECT_ROOT / "dbt_project"


def dbt(args: list[str], warehouse: Path, target: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ALI_WAREHOUSE": str(warehouse), "ALI_MIN_PERIODE": "2024-01-01",
           "ALI_MAX_PERIODE": "2024-03-01"}
    return subprocess.run([DBT_EXECUTABLE, *args, "--profiles-dir", str(PROJECT), "--target-path", str(target)],
                          cwd=PROJECT, env=env, capture_output=True, text=True)


def declared_unit_tests() -> set[str]:
    return {f"{test['model']}.{test['name']}" for path in PROJECT.glob("models/**/*__unit_tests.yml")
            for test in yaml.safe_load(path.read_text(encoding="utf-8"))["unit_tests"]}


def test_every_unit_test_passes_and_runs_build_leaves_them_out(tmp_path):
    warehouse, target = tmp_path / "ali.duckdb", tmp_path / "dbt"
    with connect(warehouse) as con:
        load_reference(con, REFERENCE_DIR)
    empty = dbt(["build", "--empty", "--exclude-resource-type", "unit_test", "--exclude-resource-type", "test"],
                warehouse, target)
    assert empty.returncode == 0, empty.stdout[-3000:]
    run = dbt(["test", "--select", "test_type:unit"], warehouse, target)
    assert run.returncode == 0, run.stdout[-3000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    passed = {r["unique_id"].split(".", 2)[2] for r in results if r["status"] == "pass"}
    assert passed == declared_unit_tests() and len(passed) >= 19
    listed = dbt(["ls", *BUILD_ARGS[1:], "--output", "json", "--output-keys", "resource_type", "--quiet"],
                 warehouse, target)  # what a run's build selects: no unit test, every model and data test
    kinds = [json.loads(line)["resource_type"] for line in listed.stdout.splitlines() if line.startswith("{")]
    assert "unit_test" not in kinds and {"model", "seed", "test"} <= set(kinds)
