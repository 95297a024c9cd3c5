"""The inbox sensor's cursor survives a daemon restart: the real ``dagster-daemon``, killed by SIGKILL.

The daemon runs the project's ``workspace.yaml`` on a throw-away instance (the project's
``dagster.yaml`` plus ``concurrency.runs.max_concurrent_runs: 0``: the run queue daemon dequeues
``max_concurrent_runs − runs in progress`` runs, i.e. none, so requested runs stay QUEUED and
the test is about the sensor alone). As nothing is ever ingested, the warehouse stays empty: a
sensor that lost its cursor would fall back on that empty manifest and request month A again. One
file of A is touched (same bytes, new time) while the daemon is down, so a lost cursor would also
give A a NEW run key, which Dagster's run-key de-duplication could not hide.

About 1.5 min: the second daemon waits for the sensor's 60 s interval since the first tick.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from conftest import BENEF_HEADER, INSTANCES, benef_row, dagster_home, group_alive, platform_env
from dagster._core.scheduler.instigation import InstigatorType, TickStatus  # ticks have no public API

from pipelines.resources import PROJECT_ROOT

pytestmark = pytest.mark.slow  # the Dagster daemon

REFRESHES = dg.RunsFilter(job_name="monthly_refresh")  # the freshness sensor launches its own check runs

A, B = "2024-03", "2024-04"
CONSEILLERS = "referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n"


def put(inbox: Path, relative: str, text: str, mtime: int) -> Path:
    path = inbox / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def wait_until(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} : rien après {timeout:.0f} s\n{log.read_text()[-4000:]}")


class Daemon:
    """``dagster-daemon run`` in its own session (its code server shares the process group)."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [str(PROJECT_ROOT / ".venv" / "bin" / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown hook of the daemon runs."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(self.process.pid), f"processus du démon encore vivants : {group_alive(self.process.pid)}"


@pytest.fixture(params=INSTANCES)
def platform(tmp_path, monkeypatch, request):
    """(instance, daemon environment, inbox): DAGSTER_HOME and every platform path under tmp_path, on
    the local (SQLite) and the production (PostgreSQL) instance."""
    home = dagster_home(tmp_path / "dagster", request.param, request, concurrency={"runs": {"max_concurrent_runs": 0}})
    env = {**os.environ, **platform_env(tmp_path), **home}
    env.pop("ALI_DEMO_MODE", None)
    for name, value in home.items():
        monkeypatch.setenv(name, value)
    # not ``with instance``: entering an instance sets Dagster's current definitions-state storage (a context
    # variable), and an instance entered inside the test and exited later by the garbage collector would
    # restore this one, disposed, for the tests after it ("Attempted to resolve undefined DagsterInstance weakref")
    instance = dg.DagsterInstance.get()
    try:
        yield instance, env, tmp_path / "inbox"
    finally:
        instance.dispose()


def sensor_ticks(instance: dg.DagsterInstance):
    """(state, ticks oldest first) of ``inbox_sensor``; (None, []) before its first tick."""
    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
              if s.instigator_name == "inbox_sensor"]
    if not states:
        return None, []
    state, = states
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
    return state, sorted(ticks, key=lambda t: t.timestamp)


def finished_ticks(instance: dg.DagsterInstance, count: int):
    state, ticks = sensor_ticks(instance)
    done = [t for t in ticks if t.status != TickStatus.STARTED]
    return (state, done) if len(done) >= count else None


def test_cursor_survives_sigkill_of_the_daemon_without_rerunning_or_skipping_a_file(platform, tmp_path):
    instance, env, inbox = platform
    put(inbox, f"{A}/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("1")]), 1_711_000_000)
    touched = put(inbox, f"{A}/ALI01/conseillers.csv", CONSEILLERS, 1_711_000_100)
    daemons = [Daemon(env, tmp_path / "daemon-1.log")]
    try:
        _, (first,) = wait_until(lambda: finished_ticks(instance, 1), 240, "premier passage du capteur",
                                 daemons[0].log)
        assert first.status == TickStatus.SUCCESS, first.skip_reason or first.error
        run_a, = instance.get_runs(REFRESHES)
        assert run_a.status == dg.DagsterRunStatus.QUEUED and first.run_ids == [run_a.run_id]
        assert run_a.tags["dagster/partition"] == A and run_a.tags["ali/fichiers"] == "2"
        assert run_a.tags["dagster/run_key"] == first.run_keys[0] and run_a.tags["dagster/run_key"].startswith(f"{A}:")
        # the daemon writes the finished tick, then the sensor's state: kill it once the state holds the cursor
        state = wait_until(lambda: (s := sensor_ticks(instance)[0]) and s.instigator_data.cursor and s, 60,
                           "curseur enregistré", daemons[0].log)
        daemons[0].kill()

        cursor_1 = json.loads(first.cursor)
        assert json.loads(state.instigator_data.cursor) == cursor_1  # persisted before the kill
        assert json.loads(sensor_ticks(instance)[0].instigator_data.cursor) == cursor_1  # and still there after it
        assert set(cursor_1) == {f"{A}/ALI01/beneficiaires.csv", f"{A}/ALI01/conseillers.csv"}

        # while the daemon is down: a file for month B lands, a file of A is touched without change
        put(inbox, f"{B}/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("2")]), 1_712_000_000)
        os.utime(touched, (1_712_000_100, 1_712_000_100))

        daemons.append(Daemon(env, tmp_path / "daemon-2.log"))
        _, (_, second) = wait_until(lambda: finished_ticks(instance, 2), 240, "passage après redémarrage",
                                    daemons[1].log)
        state = wait_until(  # as above: the finished tick first, the state's cursor a moment later
            lambda: (s := sensor_ticks(instance)[0]) and second.cursor and s.instigator_data.cursor
            and json.loads(s.instigator_data.cursor) == json.loads(second.cursor) and s, 60,
            "curseur enregistré après redémarrage", daemons[1].log)
        daemons[1].kill()
    finally:
        for daemon in daemons:
            daemon.kill()

    assert second.timestamp >= first.timestamp + 60  # the interval held across the restart
    assert second.status == TickStatus.SUCCESS, second.skip_reason or second.error
    runs = {r.run_id: r for r in instance.get_runs(REFRESHES)}
    assert len(runs) == 2 and second.run_ids[0] in runs and run_a.run_id in runs
    run_b = runs[second.run_ids[0]]
    assert (run_b.tags["dagster/partition"], run_b.tags["ali/fichiers"], run_b.tags["ali/premier_fichier"]) == (
        B, "1", f"{B}/ALI01/beneficiaires.csv")
    assert second.run_keys == [run_b.tags["dagster/run_key"]] and run_b.tags["dagster/run_key"].startswith(f"{B}:")
    assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.QUEUED}  # nothing ran: only the sensor acted

    cursor_2 = json.loads(second.cursor)
    assert json.loads(state.instigator_data.cursor) == cursor_2
    assert cursor_2[f"{A}/ALI01/beneficiaires.csv"] == cursor_1[f"{A}/ALI01/beneficiaires.csv"]
    mtime, size, sha = cursor_2[f"{A}/ALI01/conseillers.csv"]
    assert (mtime, size, sha) == (1_712_000_100, cursor_1[f"{A}/ALI01/conseillers.csv"][1],
                                  cursor_1[f"{A}/ALI01/conseillers.csv"][2])
    assert set(cursor_2) == {*cursor_1, f"{B}/ALI01/beneficiaires.csv"}
