"""Crash safety: a refresh killed with SIGKILL at named points loses nothing and counts nothing twice.

The platform starts from a published state (sample months 2024-01..02). Then the inbox changes: the
new month 2024-03, a corrected re-send of an ALI's 2024-01 file and a broken (rejected) re-send of a
2024-02 file. The attacked refresh is killed — with its dbt — at a point of ``pipelines.crash_points``.
After each kill: the warehouse opens; every month's deliveries are all in or all out; each delivery
in force has exactly its rows; the published snapshot is the previous one or the new complete one;
the open-data export and the report pages are whole. After the last kill a plain refresh must end
with marts, raw tables, manifest and published files identical, value for value, to a clean run's.

Default (CI): one chain — each point in execution order kills the next run on the same platform
(crashes during recovery included). ``ALI_CRASH_CAMPAIGN=full``: every point from the same saved
state with its own recovery run, plus kills at random moments (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REFERENCE_DIR, child_env, group_alive, rebuild_cli, warehouse_rows

from pipelines.crash_points import POINTS
from pipelines.publication.open_data import check_directory
from pipelines.publication.snapshot import publish
from pipelines.sample import generate

pytestmark = pytest.mark.slow  # kills real refreshes

CHAIN = [
    "reference.avant_commit", "ingestion.archive_partielle", "ingestion.archive", "ingestion.lecture",
    "ingestion.validation", "ingestion.pseudonymisation", "ingestion.journal", "ingestion.ecriture",
    "ingestion.avant_commit", "ingestion.apres_commit", "ingestion.lecture#3", "ingestion.ecriture#2",
    "ingestion.avant_commit", "dbt.evenement", "dbt.evenement#40", "dbt.evenement#90", "dbt.fin",
    "publication.fichier_duckdb", "publication.parquet#2", "publication.csv#3", "publication.avant_bascule",
    "versions.lien_temporaire", "publication.apres_bascule", "versions.purge", "rapport.page#2",
    "open_data.fichiers", "open_data.avant_bascule",
]
FULL = os.environ.get("ALI_CRASH_CAMPAIGN") == "full"
RANDOM_KILLS = int(os.environ.get("ALI_CRASH_RANDOM_KILLS", "12" if FULL else "0"))
MARTS = ("mart_ali_mensuel", "mart_departement_mensuel", "mart_actions_mensuel", "mart_territoire_mensuel",
         "mart_livraisons", "mart_parcours_cohortes", "mart_freins_mensuel")


def refresh(root: Path, kill_at: str | None = None, kill_after: float | None = None, *args: str) -> int:
    """``python -m pipelines refresh`` in its own session; returns its exit status (-9 = killed)."""
    env = child_env(root, **({"ALI_KILL_AT": kill_at} if kill_at else {}))
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "refresh", *args], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    status = process.wait(timeout=900)
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_alive(process.pid) == []  # nothing of the group outlives it (dbt included)
    return status


def table_rows(con, table: str, exclude: str = "") -> list[tuple]:
    return con.execute(f"SELECT * {exclude} FROM {table} ORDER BY ALL").fetchall()


def published(root: Path) -> dict[str, list[tuple]]:
    """The current snapshot, after checking it is whole: its 5 marts as Parquet, equal to its DuckDB file."""
    current = (root / "published" / "current").resolve()
    assert "." not in current.name and current.parent.name == "snapshots", current
    with duckdb.connect(str(current / "marts.duckdb"), read_only=True) as con:
        count = con.execute("SELECT * FROM main.publication").fetchall()
        content = {m: table_rows(con, f"marts.{m}") for m in MARTS}
        columns = [d[0] for d in con.execute("SELECT * FROM main.publication").description]
    stated = dict(zip(columns, count[0]))
    for mart in MARTS:
        assert len(content[mart]) == stated[f"lignes_{mart}"]
        assert duckdb.sql(f"SELECT count(*) FROM '{current}/parquet/{mart}.parquet'").fetchall()[0][0] == len(content[mart])
        assert (current / "csv" / f"{mart}.csv").stat().st_size > 0
    return content


def state(root: Path) -> dict:
    """Everything a clean run and a recovered run must agree on (run ids and processing times aside)."""
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        tables = {f"marts.{m}": table_rows(con, f"marts.{m}") for m in MARTS}
        for name in ("beneficiaires", "conseillers", "participations", "actions", "quarantaine", "signalements"):
            tables[f"raw.{name}"] = table_rows(con, f"raw.{name}")
        tables["raw.livraisons"] = table_rows(con, "raw.livraisons", "EXCLUDE (traite_le, run_id)")
    open_data = {p.name: p.read_text() for p in sorted((root / "published" / "open_data").iterdir())}
    pages = sorted(p.name for p in (root / "published" / "rapports").glob("*.html"))
    return {**tables, "published": published(root), "open_data": open_data, "pages": pages}


def check_after_kill(root: Path, new_files: dict[str, set], before: dict, expected: dict) -> None:
    """What must hold whatever the point of the crash."""
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.livraisons GROUP BY fichier, sha256 HAVING count(*) > 1"
                           ).fetchall() == []
        assert con.execute("SELECT count(*) FROM raw.livraisons WHERE en_vigueur "
                           "GROUP BY periode_dossier, source_code, dataset HAVING count(*) > 1").fetchall() == []
        for dataset in ("beneficiaires", "conseillers", "participations", "actions"):
            stored = con.execute(f"SELECT periode, source_code, sha256, count(*) FROM raw.{dataset} GROUP BY ALL")
            stored = set(stored.fetchall())
            in_force = con.execute("SELECT periode, source_code, sha256, lignes_chargees FROM raw.livraisons "
                                   "WHERE en_vigueur AND dataset = ? AND lignes_chargees > 0", [dataset]).fetchall()
            assert stored == set(in_force), dataset
        recorded = set(con.execute("SELECT periode_dossier, fichier, sha256 FROM raw.livraisons").fetchall())
    for month, files in new_files.items():  # a month is all in or all out
        assert len({(month, *f) for f in files} & recorded) in (0, len(files)), month
    assert published(root) in (before["published"], expected["published"])
    assert check_directory((root / "published" / "open_data").resolve()) == []
    for page in (root / "published" / "rapports").glob("*.html"):
        assert page.read_text().rstrip().endswith("</html>"), page


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Saved states: ``before`` (published 2024-01..02), ``attacked`` (inbox changed), ``clean`` (its clean run)."""
    work = tmp_path_factory.mktemp("crash")
    sample = work / "sample"
    generate(sample, scale=0.02, start="2024-01", end="2024-03", reference_dir=REFERENCE_DIR)
    before = work / "before"
    for month in ("2024-01", "2024-02"):
        shutil.copytree(sample / month, before / "inbox" / month)
    assert refresh(before) == 0
    for n in range(3):  # older snapshots, so that every run prunes
        publish(before / "warehouse" / "ali.duckdb", before / "published", f"ancien-{n}")
    assert refresh(before) == 0
    attacked = work / "attacked"
    shutil.copytree(before, attacked, symlinks=True)
    shutil.copytree(sample / "2024-03", attacked / "inbox" / "2024-03")
    resent = min((attacked / "inbox" / "2024-01").glob("ALI*/beneficiaires.csv"))
    resent.write_bytes(resent.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[0] + b"\n")  # last row removed
    broken = min((attacked / "inbox" / "2024-02").glob("ALI*/conseillers.csv"))
    broken.write_text("referent;fonction\nR1;CIP\n")  # required columns missing: rejected
    for changed in (resent, broken):  # received after the originals, settled (older than any quiet period)
        os.utime(changed, (time.time() - 600, time.time() - 600))
    new_files = {"2024-01": {(str(resent.relative_to(attacked / "inbox")),)},
                 "2024-02": {(str(broken.relative_to(attacked / "inbox")),)},
                 "2024-03": {(str(p.relative_to(attacked / "inbox")),)
                             for p in (attacked / "inbox" / "2024-03").rglob("*") if p.is_file()}}
    clean = work / "clean"
    shutil.copytree(attacked, clean, symlinks=True)
    started = time.monotonic()
    assert refresh(clean) == 0
    return {"clean_seconds": time.monotonic() - started, "work": work, "before": before, "attacked": attacked,
            "new_files": new_files,
            "before_state": state(before), "expected": state(clean)}


def with_sha(root: Path, new_files: dict[str, set]) -> dict[str, set]:
    from pipelines.inbox.discover import sha256_of

    return {m: {(f[0], sha256_of(root / "inbox" / f[0])) for f in files} for m, files in new_files.items()}


def test_every_kill_point_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reliability.md").read_text()
    assert [p for p in POINTS if f"| `{p}` | {POINTS[p]} |" not in doc] == []


def test_the_clean_run_really_changed_things(platform):
    before, expected = platform["before_state"], platform["expected"]
    assert expected["published"] != before["published"] and expected["raw.livraisons"] != before["raw.livraisons"]
    # every kill point is attacked (those of PostgreSQL by test_postgres.py)
    assert {p.partition("#")[0] for p in CHAIN} == {p for p in POINTS if not p.startswith("postgres.")}


@pytest.mark.skipif(FULL, reason="the full campaign replaces the chain")
def test_a_chain_of_kills_then_one_refresh_ends_as_a_clean_run(platform, tmp_path):
    root = tmp_path / "platform"
    shutil.copytree(platform["attacked"], root, symlinks=True)
    new_files = with_sha(root, platform["new_files"])
    for point in CHAIN:
        assert refresh(root, point) == -signal.SIGKILL, f"{point} not reached: the run ended by itself"
        check_after_kill(root, new_files, platform["before_state"], platform["expected"])
    assert refresh(root) == 0
    assert state(root) == platform["expected"]
    # the archive's journal holds every file the crashed runs recorded: a rebuild gives the warehouse back
    done = rebuild_cli(root, root / "rebuilt" / "ali.duckdb")
    assert done.returncode == 0, done.stdout + done.stderr
    assert warehouse_rows(root / "rebuilt" / "ali.duckdb") == warehouse_rows(root / "warehouse" / "ali.duckdb")


def month_rows(root: Path, mart: str, month: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{mart} WHERE periode = ?::DATE ORDER BY ALL", [f"{month}-01"]).fetchall()


def test_a_month_a_crash_left_behind_is_rebuilt_by_the_next_run_of_another_month(platform, tmp_path):
    """Killed after 2024-01's re-send was committed, before dbt: the sensor's next run is for 2024-03
    only, and must still bring 2024-01's marts up to date with the delivery now in force."""
    root = tmp_path / "platform"
    shutil.copytree(platform["attacked"], root, symlinks=True)
    assert refresh(root, "ingestion.apres_commit") == -signal.SIGKILL
    assert refresh(root, None, None, "--period", "2024-03") == 0
    clean = platform["work"] / "clean"
    for mart in ("mart_ali_mensuel", "mart_departement_mensuel", "mart_livraisons"):
        assert month_rows(platform["before"], mart, "2024-01") != month_rows(clean, mart, "2024-01")
        assert month_rows(root, mart, "2024-01") == month_rows(clean, mart, "2024-01"), mart


@pytest.mark.parametrize("point", [*dict.fromkeys(CHAIN), *(f"random-{n}" for n in range(RANDOM_KILLS))] if FULL else [])
def test_each_kill_from_the_same_state_then_one_refresh_ends_as_a_clean_run(platform, tmp_path, point):
    root = tmp_path / "platform"
    shutil.copytree(platform["attacked"], root, symlinks=True)
    new_files = with_sha(root, platform["new_files"])
    if point.startswith("random-"):
        delay = random.Random(point).uniform(1.0, platform["clean_seconds"])  # somewhere inside a refresh
        status = refresh(root, kill_after=delay)
        print(f"{point}: killed after {delay:.1f} s" if status == -signal.SIGKILL else f"{point}: ended first")
    else:
        assert refresh(root, point) == -signal.SIGKILL, f"{point} not reached"
    check_after_kill(root, new_files, platform["before_state"], platform["expected"])
    started = time.monotonic()
    assert refresh(root) == 0
    print(f"{point}: recovered in {time.monotonic() - started:.1f} s")
    assert state(root) == platform["expected"]
