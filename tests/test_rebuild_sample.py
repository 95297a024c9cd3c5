"""The warehouse lost, then rebuilt from the archive alone by ``python -m pipelines rebuild``; the key rotated.

Sample deliveries go through two real refreshes (the second with a corrected re-send, a rejected
re-send, the same bytes received again, a link and a file outside any month); the inbox is then
deleted and the warehouse moved away. The rebuild must give back every table and view of ``raw`` and
``marts`` row for row; under a new key, the same marts with no ``personne_id`` in common.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from conftest import BENEF_HEADER, platform_env, rebuild_cli, refreshed_sample, warehouse_rows

from pipelines.definitions import build_defs
from pipelines.defs.ingest.retention import retention_schedule
from pipelines.rebuild import build_marts
from pipelines.refresh import run_refresh

pytestmark = pytest.mark.slow  # two refreshes, four rebuilds and a dbt build

NEW_KEY = "une-nouvelle-cle-apres-rotation-jamais-en-production-0123456789"


@pytest.fixture(scope="module")
def lost(tmp_path_factory):
    """The platform after two runs, its inbox deleted and its warehouse moved to ``lost.duckdb``."""
    root = tmp_path_factory.mktemp("rebuild")
    paths = refreshed_sample(root, 0.03, "2024-01", "2024-02")
    inbox = paths["ALI_INBOX_DIR"]
    resent = min((inbox / "2024-01").glob("ALI*/beneficiaires.csv"))
    resent.write_bytes(resent.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[0] + b"\n")  # last row removed
    broken = min((inbox / "2024-02").glob("ALI*/conseillers.csv"))
    broken.write_text("referent;fonction\nR1;CIP\n")  # required columns missing: rejected, the previous stays
    again = max((inbox / "2024-02").glob("P*/actions.csv"))  # the same bytes received again
    os.symlink("/etc/hostname", inbox / "2024-02" / "ALI01" / "participations.csv")  # rejected, never archived
    (inbox / "divers" / "ALI02").mkdir(parents=True)
    (inbox / "divers" / "ALI02" / "beneficiaires.csv").write_text(BENEF_HEADER + "\n")
    for changed in (resent, broken, again, inbox / "divers" / "ALI02" / "beneficiaires.csv"):
        os.utime(changed, (time.time() - 600, time.time() - 600))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in platform_env(root).items():
            mp.setenv(name, value)
        assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    warehouse = paths["ALI_WAREHOUSE"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = dict(con.execute("SELECT fichier, statut FROM raw.livraisons WHERE run_id = "
                                    "(SELECT max_by(run_id, traite_le) FROM raw.livraisons)").fetchall())
    shutil.rmtree(inbox)
    lost_copy = warehouse.with_name("lost.duckdb")
    os.rename(warehouse, lost_copy)
    return {"root": root, "warehouse": warehouse, "lost": lost_copy, "second_run": statuses,
            "relative": {p: str(p.relative_to(inbox)) for p in (resent, broken, again)}}


def test_the_second_run_received_what_the_test_means(lost):
    relative, second = lost["relative"], lost["second_run"]
    assert [second.get(relative[p]) for p in relative] == ["VALIDE", "REJETE", "VALIDE"]
    assert second["2024-02/ALI01/participations.csv"] == "REJETE"
    assert second["divers/ALI02/beneficiaires.csv"] == "REJETE"


def test_the_rebuild_gives_back_every_raw_and_mart_row_and_never_overwrites(lost):
    started = time.monotonic()
    done = rebuild_cli(lost["root"], lost["warehouse"])
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"reconstruction : {time.monotonic() - started:.1f} s — {done.stdout.strip()}")
    assert "reconstruction réussie" in done.stdout and "mois (2024-01 → 2024-02)" in done.stdout
    rebuilt, before = warehouse_rows(lost["warehouse"]), warehouse_rows(lost["lost"])
    assert {"raw.livraisons", "raw.quarantaine", "marts.mart_livraisons", "marts.mart_parcours_cohortes"} <= set(before)
    assert rebuilt.keys() == before.keys()
    assert [name for name in before if rebuilt[name] != before[name]] == []
    assert len(before["raw.quarantaine"]) > 0 and len(before["raw.livraisons"]) > 100

    again = rebuild_cli(lost["root"], lost["warehouse"])
    assert again.returncode == 1 and "existe : une reconstruction n'écrase jamais un entrepôt" in again.stdout


def test_a_rebuild_under_a_new_key_is_the_key_rotation(lost):
    target = lost["root"] / "rotation" / "ali.duckdb"
    done = rebuild_cli(lost["root"], target, ALI_PSEUDONYMISATION_KEY=NEW_KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    rotated, before = warehouse_rows(target), warehouse_rows(lost["lost"])
    assert {n: r for n, r in rotated.items() if n.startswith("marts.")} == {
        n: r for n, r in before.items() if n.startswith("marts.")}
    ids = ("SELECT DISTINCT personne_id FROM raw.beneficiaires UNION SELECT DISTINCT personne_id "
           "FROM raw.participations")
    with duckdb.connect(str(target), read_only=True) as new, duckdb.connect(str(lost["lost"]), read_only=True) as old:
        new_ids, old_ids = set(new.execute(ids).fetchall()), set(old.execute(ids).fetchall())
        assert len(new_ids) == len(old_ids) > 100 and new_ids & old_ids == set()
        assert new.execute("SELECT valeur FROM raw.parametres").fetchall() != old.execute(
            "SELECT valeur FROM raw.parametres").fetchall()  # the new key's fingerprint


def test_after_a_purge_the_marts_stay_and_a_rebuild_says_which_months_it_cannot_rebuild(lost, monkeypatch):
    """Last (it purges the archive): on the rebuilt warehouse, the retention's tick of 1 February 2026 purges
    2024-01; the marts, built again, are those of the lost warehouse; a rebuild leaves 2024-01 out, saying so."""
    for name, value in platform_env(lost["root"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALI_ARCHIVE_RETENTION_MONTHS", "24")
    day = dt.datetime(2026, 2, 1, 3, 0, tzinfo=ZoneInfo("Europe/Paris"))
    request = retention_schedule(dg.build_schedule_context(scheduled_execution_time=day))
    with dg.instance_for_test() as instance:
        assert build_defs().resolve_job_def("purge_archive").execute_in_process(
            run_config=request.run_config, instance=instance).success
    assert build_marts(lost["warehouse"], ["2024-01", "2024-02"]).success
    marts = {n: r for n, r in warehouse_rows(lost["warehouse"]).items() if n.startswith("marts.")}
    assert marts == {n: r for n, r in warehouse_rows(lost["lost"]).items() if n.startswith("marts.")}
    done = rebuild_cli(lost["root"], lost["root"] / "apres-purge" / "ali.duckdb")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 mois (2024-02 → 2024-02)" in done.stdout
    assert "mois NON reconstruits (originaux purgés par la durée de conservation) : 2024-01" in done.stdout
