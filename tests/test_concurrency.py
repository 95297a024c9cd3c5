"""Concurrency: two refreshes at once, a sensor run racing the scheduled run, a BI reader during both.

One writer at a time: the Dagster pool ``warehouse`` inside one instance, and the warehouse lock
(``pipelines.warehouse_lock``) across everything else; the second run waits, or fails with a clear
message after ``ALI_WAREHOUSE_LOCK_TIMEOUT``, and nothing is corrupted or counted twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import INSTANCES, REFERENCE_DIR, child_env, dagster_home, platform_env
from test_publication import READER

from pipelines.definitions import build_defs
from pipelines.defs.automation.sensors import inbox_sensor
from pipelines.publication.snapshot import MARTS
from pipelines.resources import HELD, RELEASED
from pipelines.sample import generate
from pipelines.warehouse_lock import warehouse_lock

pytestmark = pytest.mark.slow  # concurrent refreshes and the Dagster daemon

PROJECT = Path(__file__).resolve().parents[1]
RUN_REQUEST = """
import json, sys
import dagster as dg
from pipelines.definitions import build_defs
request = json.loads(sys.argv[1])
job = build_defs().resolve_job_def("monthly_refresh")
result = job.execute_in_process(instance=dg.DagsterInstance.get(), partition_key=request["partition"],
                                tags=request["tags"], raise_on_error=False)
print(json.dumps({"run_id": result.run_id, "success": result.success}))
"""


def marts(root: Path) -> dict[str, list]:
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM marts.{m} ORDER BY ALL").fetchall() for m in MARTS}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A platform with 2024-01..02 refreshed and published, 2024-03 waiting beside it; and the
    marts of ONE refresh of all three months (the expected result whatever the interleaving)."""
    work = tmp_path_factory.mktemp("concurrency")
    generate(work / "sample", scale=0.02, start="2024-01", end="2024-03", reference_dir=REFERENCE_DIR)
    root = work / "base"
    for month in ("2024-01", "2024-02"):
        shutil.copytree(work / "sample" / month, root / "inbox" / month)
    subprocess.run([sys.executable, "-m", "pipelines", "refresh"], env=child_env(root), check=True,
                   capture_output=True)
    expected = work / "expected"
    shutil.copytree(root, expected, symlinks=True)
    shutil.copytree(work / "sample" / "2024-03", expected / "inbox" / "2024-03")
    subprocess.run([sys.executable, "-m", "pipelines", "refresh"], env=child_env(expected), check=True,
                   capture_output=True)
    return {"root": root, "march": work / "sample" / "2024-03", "expected": marts(expected)}


def platform(base, tmp_path: Path) -> Path:
    root = tmp_path / "platform"
    shutil.copytree(base["root"], root, symlinks=True)
    shutil.copytree(base["march"], root / "inbox" / "2024-03")
    return root


def start_reader(root: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root / "published" / "marts.duckdb"), str(stop),
                               str(out), ",".join(MARTS)])
    return reader, stop, out


def stop_reader(reader: subprocess.Popen, stop: Path, out: Path) -> dict:
    stop.touch()
    reader.wait(timeout=60)
    return json.loads(out.read_text())


def check_loaded_once(root: Path, expected: dict) -> None:
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.livraisons GROUP BY fichier, sha256 HAVING count(*) > 1"
                           ).fetchall() == []
        runs = con.execute("SELECT count(DISTINCT run_id) FROM raw.livraisons WHERE periode_dossier = '2024-03'")
        assert runs.fetchall() == [(1,)]  # the month was ingested by one run; the other found nothing new
    assert marts(root) == expected


def test_two_refreshes_at_once_run_one_after_the_other_and_a_reader_never_fails(base, tmp_path):
    root = platform(base, tmp_path)
    reader, stop, out = start_reader(root, tmp_path)
    runs = [subprocess.Popen([sys.executable, "-m", "pipelines", "refresh"], env=child_env(root),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    seen = stop_reader(reader, stop, out)
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("Could not set lock" not in output for output in outputs)
    check_loaded_once(root, base["expected"])
    assert seen["errors"] == [] and seen["answers"] > 0 and len(seen["seen"]) >= 2


def test_a_run_that_waits_too_long_fails_cleanly_and_writes_nothing(base, tmp_path):
    root = platform(base, tmp_path)
    warehouse = root / "warehouse" / "ali.duckdb"
    def fingerprint():
        archived = sorted(p.name for p in (root / "archive").rglob("*") if p.is_file() and p.name != "journal.jsonl")
        return hashlib.sha256(warehouse.read_bytes()).hexdigest(), os.readlink(root / "published" / "current"), archived

    before = fingerprint()
    with warehouse_lock(warehouse, holder="run de test"):
        result = subprocess.run([sys.executable, "-m", "pipelines", "refresh"], capture_output=True, text=True,
                                env=child_env(root, ALI_WAREHOUSE_LOCK_TIMEOUT="2", ALI_RETRIES="0"), timeout=300,
                                check=False)
    assert result.returncode == 1
    assert f"entrepôt occupé par un autre run (pid {os.getpid()}, run de test, depuis" in result.stdout
    assert "attente de 2 s dépassée" in result.stdout
    assert fingerprint() == before  # not a file archived, not a byte of the warehouse, the same publication


@pytest.mark.parametrize("kind", INSTANCES)
def test_a_sensor_run_racing_the_scheduled_run_on_one_instance(base, tmp_path, kind, request):
    root = platform(base, tmp_path)
    home = tmp_path / "dagster_home"
    env = child_env(root, **dagster_home(home, kind, request))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        instance = dg.DagsterInstance.from_config(str(home))
        defs = build_defs()
        sensor = dg.build_sensor_context(instance=instance, definitions=defs)
        sensed = [r for r in inbox_sensor(sensor) if r.partition_key == "2024-03"]
        paris = dt.timezone(dt.timedelta(hours=2))
        tick = dg.build_schedule_context(instance=instance,
                                         scheduled_execution_time=dt.datetime(2024, 4, 10, 6, tzinfo=paris))
        scheduled = list(defs.resolve_schedule_def("monthly_refresh_schedule").evaluate_tick(tick).run_requests)
    assert [r.partition_key for r in sensed + scheduled] == ["2024-03", "2024-03"]
    # the deployment's one-time step (docs/operations.md): the pool's row exists before two runs race for it
    subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "concurrency", "set", "warehouse", "1"],
                   env=env, check=True, capture_output=True)
    reader, stop, out = start_reader(root, tmp_path)
    runs = [subprocess.Popen([sys.executable, "-c", RUN_REQUEST, json.dumps(
        {"partition": r.partition_key, "tags": dict(r.tags)})], env=env, stdout=subprocess.PIPE, text=True)
        for r in (sensed[0], scheduled[0])]
    results = [json.loads(run.communicate(timeout=900)[0].strip().splitlines()[-1]) for run in runs]
    seen = stop_reader(reader, stop, out)
    assert [r["success"] for r in results] == [True, True]
    check_loaded_once(root, base["expected"])
    assert seen["errors"] == []
    # never two at once: the lock is the guarantee (on SQLite the pool can hand its one slot to two
    # steps started in the same instant, see WarehouseResource)
    holds = sorted(h for r in results for h in warehouse_holds(instance, r["run_id"]))
    assert len(holds) >= 2 * 8 and all(a[1] <= b[0] for a, b in itertools.pairwise(holds))


def warehouse_holds(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    """(taken, released) of each hold of the warehouse by a step of a run, from the run's log; every
    step of the run in pool ``warehouse`` holds it."""
    job = build_defs().resolve_job_def("monthly_refresh")
    pooled = {node.name for node in job.graph.node_defs if node.pool == "warehouse"}
    started = {r.step_key for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)}
    taken, holds, holders = {}, [], set()
    for record in instance.all_logs(run_id):
        if record.user_message == HELD:
            taken[record.step_key] = record.timestamp
        elif record.user_message == RELEASED:
            holds.append((taken.pop(record.step_key), record.timestamp))
            holders.add(record.step_key)
    assert not taken and holders == started & pooled
    return holds


HOLD = """
import sys, time
from pipelines.warehouse_lock import warehouse_lock
with warehouse_lock(sys.argv[1], holder="un autre programme"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_transient_failure_is_retried_and_bad_data_is_not(tmp_path, monkeypatch):
    from pipelines.defs.ingest.assets import reference_data
    from pipelines.resources import resources_from_env

    env = platform_env(tmp_path)
    for name, value in {**env, "ALI_WAREHOUSE_LOCK_TIMEOUT": "1", "ALI_RETRY_WAIT_SECONDS": "1",
                        "ALI_RETRIES": "10"}.items():
        monkeypatch.setenv(name, value)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, env["ALI_WAREHOUSE"], "4"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    result = dg.materialize([reference_data], resources=resources_from_env(), raise_on_error=False,
                            instance=dg.DagsterInstance.ephemeral())
    holder.wait(timeout=60)
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert result.success and len(retried) >= 2  # waited 1 s for the lock, retried 1 s later, twice or more

    broken = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, broken)
    (broken / "ali.csv").write_text("code_ali;nom\n")  # required columns missing: bad data
    monkeypatch.setenv("ALI_REFERENCE_DIR", str(broken))
    result = dg.materialize([reference_data], resources=resources_from_env(), raise_on_error=False,
                            instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    assert [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY] == []


@pytest.mark.parametrize("kind", INSTANCES)
def test_the_instance_retries_runs_whose_worker_died_but_not_failed_steps(tmp_path, kind, request, monkeypatch):
    for name, value in dagster_home(tmp_path, kind, request).items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    assert type(instance.run_storage).__name__ == {"sqlite": "SqliteRunStorage", "postgres": "PostgresRunStorage"}[kind]
    assert instance.run_monitoring_enabled and instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2 and not instance.run_retries_retry_on_asset_or_op_failure
