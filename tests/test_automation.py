"""The monthly schedule and the inbox sensor, evaluated for real against a temporary inbox."""

from __future__ import annotations

import datetime as dt
import json
import os

import dagster as dg
import pytest
from conftest import BENEF_HEADER, benef_row

from pipelines.definitions import build_defs
from pipelines.defs.automation.sensors import inbox_sensor
from pipelines.refresh import run_refresh


@pytest.fixture
def root(env, tmp_path):
    return tmp_path



def put(root, relative, text, mtime):
    path = root / "inbox" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def evaluate(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=build_defs())
    result = inbox_sensor(context)
    requests = [] if isinstance(result, dg.SkipReason) else result
    return [(r.partition_key, r.run_key, int(r.tags["ali/fichiers"]), r.tags["ali/premier_fichier"])
            for r in requests], context.cursor


def test_schedule_runs_the_previous_month_on_the_10th_at_6_paris_time():
    defs = build_defs()
    schedule = defs.resolve_schedule_def("monthly_refresh_schedule")
    assert schedule.cron_schedule == "0 6 10 * *" and schedule.execution_timezone == "Europe/Paris"
    paris = dt.timezone(dt.timedelta(hours=1))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 3, 10, 6, 0, tzinfo=paris))
        requests = list(schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2026-02"]


def test_sensor_requests_one_run_per_month_with_new_or_changed_files_and_none_for_unchanged(root):
    v1 = "\n".join([BENEF_HEADER, benef_row("1")])
    put(root, "2024-03/ALI01/beneficiaires.csv", v1, 1_711_000_000)
    put(root, "2024-03/ALI01/conseillers.csv", "referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n",
        1_711_000_100)
    with dg.instance_for_test() as instance:
        first, cursor = evaluate(instance)
        assert [(p, n, f) for p, _, n, f in first] == [("2024-03", 2, "2024-03/ALI01/beneficiaires.csv")]
        unchanged, cursor = evaluate(instance, cursor)
        assert unchanged == []
        # a late delivery for an older month, a corrected re-send, and a file touched without change
        put(root, "2023-11/ALI02/beneficiaires.csv", v1, 1_712_000_000)
        put(root, "2024-03/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("2")]), 1_712_000_100)
        put(root, "2024-03/ALI01/conseillers.csv", "referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n",
            1_712_000_200)
        second, cursor = evaluate(instance, cursor)
        assert [(p, n, f) for p, _, n, f in second] == [
            ("2023-11", 1, "2023-11/ALI02/beneficiaires.csv"), ("2024-03", 1, "2024-03/ALI01/beneficiaires.csv")]
        run_keys = [k for _, k, _, _ in second]
        assert run_keys[1].startswith("2024-03:") and run_keys[1] != first[0][1]  # a new change, a new run
        assert evaluate(instance, cursor)[0] == []
        # v2 then v1 sent back: same bytes as a change already run, but it takes force again, so it runs
        put(root, "2023-11/ALI02/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("2")]), 1_713_000_000)
        third, cursor = evaluate(instance, cursor)
        put(root, "2023-11/ALI02/beneficiaires.csv", v1, 1_714_000_000)
        fourth, cursor = evaluate(instance, cursor)
        keys = [run_keys[0], third[0][1], fourth[0][1]]
        assert [(p, n) for p, _, n, _ in third + fourth] == [("2023-11", 1)] * 2 and len(set(keys)) == 3


@pytest.mark.slow
def test_sensor_without_cursor_skips_what_the_warehouse_already_holds(root):
    put(root, "2024-03/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("1")]), 1_711_000_000)
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    put(root, "2024-03/ALI03/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("3")]), 1_711_000_500)
    with dg.instance_for_test() as instance:
        requests, cursor = evaluate(instance)
    assert [(p, n, f) for p, _, n, f in requests] == [("2024-03", 1, "2024-03/ALI03/beneficiaires.csv")]
    assert set(json.loads(cursor)) == {"2024-03/ALI01/beneficiaires.csv", "2024-03/ALI03/beneficiaires.csv"}


def test_sensor_leaves_a_file_being_written_for_the_tick_that_finds_it_settled(root, monkeypatch):
    import time

    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "300")
    now = int(time.time())
    put(root, "2024-03/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("1")]), now - 3600)
    put(root, "2024-04/ALI01/beneficiaires.csv", BENEF_HEADER, now - 5)  # still being uploaded
    with dg.instance_for_test() as instance:
        first, cursor = evaluate(instance)
        assert [(p, n) for p, _, n, _ in first] == [("2024-03", 1)]
        assert set(json.loads(cursor)) == {"2024-03/ALI01/beneficiaires.csv"}
        assert evaluate(instance, cursor)[0] == []  # still within the quiet period: nothing yet
        put(root, "2024-04/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("2")]), now - 600)
        settled, cursor = evaluate(instance, cursor)  # upload finished ten minutes ago
        assert [(p, n, f) for p, _, n, f in settled] == [("2024-04", 1, "2024-04/ALI01/beneficiaires.csv")]


@pytest.mark.slow
def test_sensor_assigns_no_partition_to_a_file_outside_a_month_folder(root):
    """Such a file belongs to no month: no run for it; the next run of any month records it as rejected."""
    put(root, "divers/ALI01/beneficiaires.csv", BENEF_HEADER, 1_711_000_000)
    put(root, "2031-01/ALI01/beneficiaires.csv", BENEF_HEADER, 1_711_000_000)  # not a partition yet
    with dg.instance_for_test() as instance:
        requests, cursor = evaluate(instance)
        assert requests == [] and json.loads(cursor) == {}
        put(root, "2024-03/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("1")]), 1_711_000_100)
        requests, cursor = evaluate(instance, cursor)
        assert [(p, f) for p, _, _, f in requests] == [("2024-03", "2024-03/ALI01/beneficiaires.csv")]
    assert run_refresh("2024-03", instance=dg.DagsterInstance.ephemeral()).success
    from pipelines.warehouse import connect

    with connect(root / "warehouse" / "ali.duckdb", read_only=True) as con:
        assert con.execute("SELECT fichier, statut, periode FROM raw.livraisons WHERE periode_dossier = 'divers'"
                           ).fetchall() == [("divers/ALI01/beneficiaires.csv", "REJETE", None)]
