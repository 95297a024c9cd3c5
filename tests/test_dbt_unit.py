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


def dbt(args: list[str], warehouse: Path, target: Path, months: tuple[str, str] | None = ("2024-01-01", "2024-03-01")
        ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ALI_MIN_PERIODE", "ALI_MAX_PERIODE")}
    env["ALI_WAREHOUSE"] = str(warehouse)
    if months:
        env.update(ALI_MIN_PERIODE=months[0], ALI_MAX_PERIODE=months[1])
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


def test_the_intermediate_views_tests_read_the_runs_months_and_a_plain_build_every_row(tmp_path):
    """``where: mois_du_run(periode)`` (``macros/periodes_rafraichies.sql``): a refresh tests the views'
    rows of its months only; without months (a plain ``dbt build``), every row; other tests are whole."""
    warehouse, target = tmp_path / "ali.duckdb", tmp_path / "dbt"
    with connect(warehouse) as con:
        load_reference(con, REFERENCE_DIR)
    compiled = {}
    for months in (("2024-02-01", "2024-05-01"), None):
        run = dbt(["compile", "--select", "int_personnes_mois,test_type:generic int_passages,test_type:generic"], warehouse,
                  target, months)
        assert run.returncode == 0, run.stdout[-3000:]
        folder = target / "compiled" / "ali93" / "models" / "intermediate" / "_intermediate.yml"
        compiled[months] = {("personnes" if "personnes" in path.name else "passages"): " ".join(path.read_text().split())
                            for path in folder.glob("unique_combination_int_*.sql")}  # long names end in a hash
    scoped = compiled[("2024-02-01", "2024-05-01")]
    assert len(scoped) == 2
    assert "where periode >= date '2024-02-01' and periode <= date '2024-05-01') dbt_subquery" in scoped["personnes"]
    assert "dbt_subquery" not in scoped["passages"]  # no month: whole
    assert "where true and true) dbt_subquery" in compiled[None]["personnes"]
