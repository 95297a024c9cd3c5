"""Between Dagster and dbt: partitions → months, the dbt process's environment, build folder, groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipelines.defs.dbt.assets import build_target, dbt_models, dbt_months_env, environment
from pipelines.resources import PROJECT_ROOT


def test_one_month_becomes_one_month_for_dbt():
    assert dbt_months_env(["2024-03"]) == {"ALI_MIN_PERIODE": "2024-03-01", "ALI_MAX_PERIODE": "2024-03-01"}


def test_a_partition_range_becomes_its_first_and_last_month_in_any_order():
    assert dbt_months_env(["2024-05", "2023-02", "2024-01"]) == {
        "ALI_MIN_PERIODE": "2023-02-01", "ALI_MAX_PERIODE": "2024-05-01"}


def test_the_months_are_in_the_environment_only_while_dbt_starts(monkeypatch):
    monkeypatch.setenv("ALI_MAX_PERIODE", "2020-01-01")
    monkeypatch.delenv("ALI_MIN_PERIODE", raising=False)
    with environment(dbt_months_env(["2024-03"])):
        assert (os.environ["ALI_MIN_PERIODE"], os.environ["ALI_MAX_PERIODE"]) == ("2024-03-01", "2024-03-01")
    assert "ALI_MIN_PERIODE" not in os.environ and os.environ["ALI_MAX_PERIODE"] == "2020-01-01"


def test_each_warehouse_builds_in_one_fixed_folder_beside_it(tmp_path):
    assert build_target(tmp_path / "entrepot" / "ali.duckdb") == tmp_path / "entrepot" / "dbt"


def test_groups_are_the_dbt_layers_as_the_project_declares_them():
    groups = {key.path[-1]: spec.group_name for spec in dbt_models.specs for key in [spec.key]}
    assert (groups["stg_raw__beneficiaires"], groups["int_livraisons_par_cle"], groups["mart_ali_mensuel"],
            groups["contrat_fonctions"]) == ("staging", "intermediate", "marts", "contrat")


def test_the_code_location_imports_without_touching_path_or_the_environment_nor_the_sample_generator():
    probe = ("import json, os, sys; before = dict(os.environ); import pipelines.definitions; print(json.dumps("
             "[[k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)],"
             " [m for m in sys.modules if m.startswith('pipelines.sample')]]))")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_IS_DEV_CLI"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[], []]
    assert Path(PROJECT_ROOT / "dbt_project" / "target" / "manifest.json").exists()


def test_the_dbt_version_comes_from_the_installed_package_and_is_what_dbt_version_says():
    from dagster_dbt import DbtCliResource

    from pipelines.defs.dbt.assets import DBT_EXECUTABLE
    from pipelines.defs.dbt.resource import VenvDbtCliResource

    project = str(PROJECT_ROOT / "dbt_project")
    ours = VenvDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
    theirs = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)  # starts `dbt --version`
    assert ours._cli_version == theirs._cli_version and ours._cli_version.major == 1


def test_no_dbt_adapter_is_loaded_into_the_dagster_process(tmp_path):
    """dagster-dbt's adapter only serves ``fetch_row_counts``/``fetch_column_metadata`` (not used: DuckDB
    refuses a reader while dbt writes); dbt itself still runs, in its own process."""
    from pipelines.defs.dbt.assets import DBT_EXECUTABLE
    from pipelines.defs.dbt.resource import VenvDbtCliResource

    project = str(PROJECT_ROOT / "dbt_project")
    invocation = VenvDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
        ["parse", "--quiet"], target_path=tmp_path, manifest=PROJECT_ROOT / "dbt_project" / "target" / "manifest.json")
    assert invocation.wait().is_successful() and invocation.adapter is None
    assert (tmp_path / "manifest.json").exists()
