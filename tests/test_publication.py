"""Publication for BI: readers in another process never block, never see a partial snapshot."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import BENEF_HEADER, benef_row

from pipelines import warehouse
from pipelines.publication.snapshot import MARTS
from pipelines.refresh import run_refresh

pytestmark = pytest.mark.slow  # full refreshes

READER = """
import json, sys, time
import sqlalchemy as sa
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
marts = sys.argv[4].split(",")
seen, errors, answers = [], [], 0
deadline = time.time() + 300
from pathlib import Path
while not Path(stop).exists() and time.time() < deadline:
    try:
        engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=sa.pool.NullPool)
        with engine.connect() as con:
            pub = con.execute(sa.text("SELECT * FROM main.publication")).mappings().one()
            for mart in marts:
                n = con.execute(sa.text(f"SELECT count(*) FROM marts.{mart}")).scalar_one()
                if n != pub[f"lignes_{mart}"]:
                    errors.append(f"{mart}: {n} rows, publication says {pub[f'lignes_{mart}']}")
            answers += 1
            if not seen or seen[-1] != pub["run_id"]:
                seen.append(pub["run_id"])
        engine.dispose()
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    time.sleep(0.01)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors, "answers": answers}))
"""


def deliver(env, month: str, matricules: list[str], source: str = "ALI01") -> None:
    folder = env["ALI_INBOX_DIR"] / month / source
    folder.mkdir(parents=True, exist_ok=True)
    year, mm = month.split("-")
    rows = [benef_row(m, orientation=f"{year}-01-05", rdv=f"{year}-01-20", entree=f"{month}-01") for m in matricules]
    (folder / "beneficiaires.csv").write_text("\n".join([BENEF_HEADER, *rows]))


def digest(directory: Path) -> dict[str, str]:
    """Every file of the current snapshot, by content, plus where the links point."""
    target = directory.resolve()
    files = {str(p.relative_to(target)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(target.rglob("*")) if p.is_file()}
    return {**files, "current ->": os.readlink(directory.parent / "current")}


def test_a_bi_reader_in_another_process_sees_whole_snapshots_while_two_refreshes_publish(env, tmp_path):
    deliver(env, "2024-03", ["1", "2"])
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    published = env["ALI_PUBLISH_DIR"] / "marts.duckdb"
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(out), ",".join(MARTS)])
    try:
        time.sleep(2)
        runs = []
        for month, people in (("2024-04", ["1", "2", "3"]), ("2024-05", ["4"])):
            deliver(env, month, people)
            result = run_refresh(instance=dg.DagsterInstance.ephemeral())
            assert result.success
            runs.append(result.run_id)
            time.sleep(1)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert report["answers"] > 20
    assert report["seen"][-2:] == runs  # saw both publications, in order, and the last one at the end
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT run_id, periodes FROM main.publication").fetchall() == [(runs[-1], 16)]  # 2023-02 (first ALI opening) … 2024-05
        assert con.execute("SELECT count(*) FROM marts.mart_ali_mensuel WHERE periode = DATE '2024-05-01' "
                           "AND code_ali = 'ALI01' AND file_active = 1").fetchall() == [(1,)]
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"publication", *MARTS}
    assert sorted(p.name for p in (env["ALI_PUBLISH_DIR"] / "parquet").iterdir()) == sorted(f"{m}.parquet"
                                                                                           for m in MARTS)


def test_a_run_that_fails_before_publication_leaves_it_byte_identical(env):
    deliver(env, "2024-03", ["1", "2"])
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    before = digest(env["ALI_PUBLISH_DIR"] / "current")
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:  # an inconsistent manifest: the blocking check fails
        con.execute("INSERT INTO raw.livraisons SELECT * REPLACE ('2024-03/ALI01/copie.csv' AS fichier) "
                    "FROM raw.livraisons")
    deliver(env, "2024-03", ["1", "2", "3"], source="ALI02")
    result = run_refresh(instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    ran = {e.step_key for e in result.all_events if e.is_step_success}
    assert "reference_data" in ran and not ran & {"publication__instantane", "publication__marts"}
    assert digest(env["ALI_PUBLISH_DIR"] / "current") == before


def test_the_same_run_publishing_several_times_in_a_second_gets_distinct_snapshots(env):
    """A retried publication step of one run must not collide with its own first snapshot."""
    from pipelines.publication.snapshot import KEEP_SNAPSHOTS, current_publication, publish

    deliver(env, "2024-03", ["1", "2"])
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    directory = env["ALI_PUBLISH_DIR"]
    done = [publish(env["ALI_WAREHOUSE"], directory, "meme-run-0000") for _ in range(5)]  # ~20 ms each
    assert len({d.published_at for d in done}) < 5  # at least two within one second: the case at stake
    assert len({d.snapshot for d in done}) == 5
    assert (directory / "current").resolve() == done[-1].snapshot
    assert current_publication(directory)["run_id"] == "meme-run-0000"
    assert len(list((directory / "snapshots").iterdir())) == KEEP_SNAPSHOTS


def test_csv_follow_the_french_excel_convention_and_neutralise_formulas(env):
    deliver(env, "2024-03", ["1", "2"])
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    raw = (env["ALI_PUBLISH_DIR"] / "csv" / "mart_ali_mensuel.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, *rows = raw[3:].decode("utf-8").splitlines()
    assert header.startswith("periode;code_ali;nom_ali;livre;file_active")
    aubervilliers = next(r.split(";") for r in rows if r.startswith("01/03/2024;ALI01;"))
    # 2 persons, 2 interviews each → entretiens_par_personne 2,0 ; livre VRAI
    assert aubervilliers[:5] == ["01/03/2024", "ALI01", "ALI Aubervilliers", "VRAI", "2"]
    assert aubervilliers[header.split(";").index("entretiens_par_personne")] == "2,0"


@pytest.mark.parametrize("text, expected", [("=1+1", "'=1+1"), ("+33 1", "'+33 1"), ("-2", "'-2"),
                                            ("@SUM(A1)", "'@SUM(A1)"), ("ALI Bobigny", "ALI Bobigny")])
def test_formula_like_text_is_neutralised_in_csv(tmp_path, text, expected):
    from pipelines.publication.snapshot import _french_cell

    con = duckdb.connect()
    assert con.execute(f"SELECT {_french_cell('x', 'VARCHAR')} FROM (SELECT ? AS x)", [text]).fetchall() == [
        (expected,)]


def test_bi_guide_dictionary_is_generated_from_the_marts_dbt_docs():
    from pipelines.publication.bi_docs import DOC, render

    text = DOC.read_text()
    assert render(text) == text, "docs/bi.md is stale: run python -m pipelines.publication.bi_docs"
    assert all(f"### `{m}`" in text for m in MARTS)
