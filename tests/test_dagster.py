"""The Dagster code location and the ``refresh`` command, run for real on a small inbox."""

from __future__ import annotations

import contextvars
import datetime as dt
import gc
import json

import dagster as dg
import pytest
from conftest import BENEF_HEADER, benef_row
from dagster._core.test_utils import freeze_time  # what Dagster's own tests use to set the clock

from pipelines import warehouse
from pipelines.__main__ import main
from pipelines.definitions import build_defs, job_for
from pipelines.defs.dbt.assets import build_target
from pipelines.defs.dbt.checks import FRESHNESS_CHECKS
from pipelines.months import partition_range
from pipelines.publication.snapshot import MARTS
from pipelines.refresh import run_refresh


def test_code_location_loads_with_partitioned_assets_in_one_pool():
    defs = build_defs()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/beneficiaires", "raw/conseillers", "raw/participations", "raw/actions", "raw/livraisons",
            "raw/quarantaine", "raw/signalements", "reference/ali", "reference/actions"} <= keys
    raw = graph.get(dg.AssetKey(["raw", "beneficiaires"]))
    assert raw.partitions_def.get_partition_keys()[0] == "2023-02"
    job = defs.resolve_job_def("monthly_refresh")
    pools = {name: node.definition.pool for name, node in job.graph.node_dict.items()}
    # Every step opens the warehouse or writes the publication folder: one pool, one writer at a time.
    assert set(pools.values()) == {"warehouse"}, pools


def test_the_job_loads_even_when_dagster_left_a_disposed_instance_current():
    """What failed two CI runs: a context Dagster builds with its own ephemeral instance, inside an instance
    a test had entered, restores that instance as "current" when it is garbage-collected, after it was
    disposed; a plain load then fails, ``job_for`` loads against the run's instance. In a copy of the
    context: the disposed instance stays current there only."""

    def after_the_collector() -> None:
        with dg.instance_for_test():
            context = dg.build_op_context()
        del context
        gc.collect()
        with pytest.raises(dg.DagsterInvariantViolationError, match="undefined DagsterInstance weakref"):
            build_defs().resolve_job_def("monthly_refresh")
        assert job_for("monthly_refresh", dg.DagsterInstance.ephemeral()).name == "monthly_refresh"

    contextvars.copy_context().run(after_the_collector)
    build_defs().resolve_job_def("monthly_refresh")  # this test's own context is untouched


def test_partition_range_covers_inbox_months_within_partitions():
    assert partition_range(["2024-03", "2023-01", "2024-01"], ["2023-02", "2024-01", "2024-02", "2024-03"]) == (
        "2024-01", "2024-03")
    assert partition_range(["2022-12"], ["2023-02"]) is None


@pytest.mark.slow
def test_refresh_runs_every_inbox_month_in_one_dagster_run(env, capfd):
    inbox = env["ALI_INBOX_DIR"]
    for month, rows in (("2024-02", ["1", "2"]), ("2024-03", ["1", "3", "4"])):
        folder = inbox / month / "ALI01"
        folder.mkdir(parents=True)
        year, mm = month.split("-")
        lines = [benef_row(m, orientation=f"{year}-01-05", rdv=f"{year}-01-20", entree=f"{year}-{mm}-01")
                 for m in rows]
        (folder / "beneficiaires.csv").write_text("\n".join([BENEF_HEADER, *lines]))
    (inbox / "2024-13" / "ALI01").mkdir(parents=True)
    (inbox / "2024-13" / "ALI01" / "beneficiaires.csv").write_text(BENEF_HEADER)

    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh(instance=instance)
    assert result.success
    # dbt's log goes to the build folder beside the warehouse, not to the console; a new warehouse: full parse
    dbt_log = build_target(env["ALI_WAREHOUSE"]) / "dbt.log"  # rotated by dbt: dbt.log.1, …
    assert sum(f.read_text().count("Unable to do partial parsing") for f in dbt_log.parent.glob("dbt.log*")) == 1
    # streamed: the first staging model is in Dagster's log before dbt has finished its last mart
    results = json.loads((build_target(env["ALI_WAREHOUSE"]) / "run_results.json").read_text())["results"]
    last_mart = max(dt.datetime.fromisoformat(t["completed_at"].rstrip("Z")).replace(tzinfo=dt.UTC).timestamp()
                    for r in results if r["unique_id"].startswith("model.ali93.mart_") for t in r["timing"]
                    if t["name"] == "execute")
    first_model = min(e.timestamp for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.asset_materialization.asset_key.path[0] == "staging")
    assert first_model < last_mart
    run = instance.get_run_by_id(result.run_id)
    assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == (
        "2024-02", "2024-03")
    materialized = instance.get_materialized_partitions(dg.AssetKey(["raw", "beneficiaires"]))
    assert materialized == {"2024-02", "2024-03"}
    # the marts' freshness: March is built, which is all one may ask on 11 April; on 11 May April is missing
    paris = dt.timezone(dt.timedelta(hours=2))
    assert freshness(instance, dt.datetime(2024, 4, 11, 0, 30, tzinfo=paris)) == {True}
    assert freshness(instance, dt.datetime(2024, 4, 10, 23, 30, tzinfo=paris)) == {True}  # deadline of February
    assert freshness(instance, dt.datetime(2024, 5, 11, 0, 30, tzinfo=paris)) == {False}
    with warehouse.connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        per_month = con.execute(
            "SELECT strftime(periode, '%Y-%m'), count(*) FROM raw.beneficiaires GROUP BY 1 ORDER BY 1").fetchall()
        rejected = con.execute("SELECT fichier, motif_rejet FROM raw.livraisons WHERE statut = 'REJETE'").fetchall()
    assert per_month == [("2024-02", 2), ("2024-03", 3)]
    assert rejected == [("2024-13/ALI01/beneficiaires.csv",
                         "dossier de période « 2024-13 » invalide : attendu AAAA-MM "
                         "(<AAAA-MM>/<code_source>/<jeu>.<csv|xlsx>)")]

    capfd.readouterr()
    assert main(["refresh"]) == 0
    out = capfd.readouterr().out
    assert sum(f.read_text().count("Unable to do partial parsing") for f in dbt_log.parent.glob("dbt.log*")) == 1  # …then dbt reuses its parse
    assert "Running with dbt" not in out and "→ dbt_models" in out and "✓ dbt_models" in out
    assert out.count("  · marts/mart_ali_mensuel\n") == 1  # once, whatever the number of months
    assert "2024-02 | 1 | 1 | 0 | 1 | 2 | 0 | 0" in out
    assert "2024-03 | 1 | 1 | 0 | 1 | 3 | 0 | 0" in out
    assert "2024-13 | 1 | 0 | 1 | 0 | 0 | 0 | 0" in out


def freshness(instance: dg.DagsterInstance, now: dt.datetime) -> set[bool]:
    """Outcomes of the marts' freshness checks evaluated for real at ``now`` (one per mart)."""
    job = dg.define_asset_job("fraicheur", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS))
    defs = dg.Definitions.merge(build_defs(), dg.Definitions(jobs=[job]))
    with freeze_time(now):
        result = defs.resolve_job_def("fraicheur").execute_in_process(instance=instance)
    evaluations = result.get_asset_check_evaluations()
    assert {e.asset_key.path[-1] for e in evaluations} == set(MARTS)
    return {e.passed for e in evaluations}


def test_refresh_without_key_fails_cleanly_and_writes_nothing(env, monkeypatch, capsys):
    monkeypatch.delenv("ALI_PSEUDONYMISATION_KEY")
    folder = env["ALI_INBOX_DIR"] / "2024-03" / "ALI01"
    folder.mkdir(parents=True)
    (folder / "beneficiaires.csv").write_text("\n".join([BENEF_HEADER, benef_row("1")]))
    assert main(["refresh", "--period", "2024-03"]) == 1
    assert "ALI_PSEUDONYMISATION_KEY n'est pas définie" in capsys.readouterr().out
    with warehouse.connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.livraisons").fetchall() == [(0,)]


@pytest.mark.slow
def test_dagster_dev_workspace_loads(tmp_path):
    """What ``dagster dev`` loads: the workspace's code location validates in a fresh process, with the
    dev-mode dbt preparation (``prepare_if_dev``) on and the venv NOT on PATH."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=root, capture_output=True,
        text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path), "DAGSTER_IS_DEV_CLI": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful for code location ali93" in done.stderr + done.stdout


@pytest.mark.slow
def test_a_failed_ingestion_check_blocks_the_marts(env):
    folder = env["ALI_INBOX_DIR"] / "2024-03" / "ALI01"
    folder.mkdir(parents=True)
    (folder / "beneficiaires.csv").write_text("\n".join([BENEF_HEADER, benef_row("1")]))
    assert run_refresh("2024-03", instance=dg.DagsterInstance.ephemeral()).success
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:
        before = con.execute("SELECT * FROM marts.mart_ali_mensuel ORDER BY ALL").fetchall()
        # a second delivery "in force" for the same key: the manifest no longer says which one counts
        con.execute("INSERT INTO raw.livraisons SELECT * REPLACE ('2024-03/ALI01/copie.csv' AS fichier) "
                    "FROM raw.livraisons")
    (folder / "conseillers.csv").write_text("referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n")
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh("2024-03", instance=instance)
    assert not result.success
    check = [e.asset_check_evaluation for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert [(c.check_name, c.passed) for c in check] == [("ingestion_coherente", False)]
    assert "plusieurs_en_vigueur : 2024-03/ALI01/beneficiaires" in check[0].metadata["exemples"].text
    assert "dbt_models" not in {e.step_key for e in result.all_events if e.is_step_success}
    with warehouse.connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        assert con.execute("SELECT * FROM marts.mart_ali_mensuel ORDER BY ALL").fetchall() == before
