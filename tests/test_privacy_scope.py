"""What a run's privacy checks read (``pipelines/privacy/scope.py``): the run's rows and files, a bounded sample.

On real DuckDB tables and files, with the real scan: a value planted in the run's month is found, one
planted elsewhere is found only by the sample or the full scan (``scope=None``), never missed by both.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.privacy import places
from pipelines.privacy.identifiers import scanner
from pipelines.privacy.scan import match, start
from pipelines.privacy.scope import Scope, cell_month, month_of


def test_a_cells_month_in_french_or_iso_form():
    assert [cell_month(c) for c in ("01/03/2024", "2024-03-01", "2024-03", " 2024-03-01 ", "VRAI", "", "1/3/2024")] == [
        "2024-03", "2024-03", "2024-03", "2024-03", None, None, None]


def test_a_tables_month_comes_from_periode_then_periode_dossier():
    assert month_of({"periode": "DATE"}) == "coalesce(strftime(\"periode\", '%Y-%m'))"
    assert month_of({"periode": "DATE", "periode_dossier": "VARCHAR"}) == (
        "coalesce(strftime(\"periode\", '%Y-%m'), \"periode_dossier\")")
    assert month_of({"code_ali": "VARCHAR"}) is None


@pytest.fixture
def table():
    """3 000 rows over three months (1 000 each) and 5 rows without a month."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT (DATE '2024-01-01' + INTERVAL (i % 3) MONTH)::DATE AS periode, "
                "'texte ' || i AS note FROM range(3000) r(i) UNION ALL SELECT NULL, 'sans mois ' || i FROM range(5) r(i)")
    yield con
    con.close()


def rows_read(con, scope: Scope) -> list[tuple]:
    relation = con.sql("SELECT * FROM t LIMIT 0")
    source, row = scope.rows("t", relation.columns, [str(t) for t in relation.types], "rowid")
    return con.execute(f"SELECT {row}, strftime(periode, '%Y-%m') FROM {source}").fetchall()


def test_a_table_is_read_for_the_runs_months_unknown_months_and_a_bounded_sample(table):
    scope = Scope.of_run(["2024-02"], time.time(), "run-1")
    read = rows_read(table, scope)
    by_month = {m: sum(1 for _, x in read if x == m) for m in ("2024-01", "2024-02", "2024-03", None)}
    assert by_month["2024-02"] == 1000 and by_month[None] == 5
    assert by_month["2024-01"] + by_month["2024-03"] == 1000  # SAMPLE_ROWS of the 2 000 others
    assert len({r for r, _ in read}) == len(read)  # each row once, with its own row number
    assert rows_read(table, scope) == read  # the same run draws the same sample
    assert sorted(rows_read(table, Scope.of_run(["2024-02"], time.time(), "run-2"))) != sorted(read)
    alone = rows_read(table, Scope(("2024-02",), time.time(), 1, sample_rows=0))
    assert len(alone) == 1005


def test_a_table_without_a_month_is_read_whole(table):
    table.execute("CREATE TABLE u AS SELECT 'x' || i AS code FROM range(5000) r(i)")
    relation = table.sql("SELECT * FROM u LIMIT 0")
    assert Scope(("2024-02",), 0, 1).rows("u", relation.columns, [str(t) for t in relation.types], "rowid") == (
        "u", "rowid")


def test_a_published_csv_keeps_its_header_the_runs_rows_and_a_sample():
    rows = [["periode", "code"]] + [[f"01/{m:02d}/2024", str(i)] for i in range(600) for m in (1, 2)] + [["?", "x"]]
    kept = Scope(("2024-02",), 0, 7, sample_rows=100).csv_rows(rows)
    months = [cell_month(rows[i][0]) for i in kept]
    assert kept[0] == 0 and months.count("2024-02") == 600 and months.count("2024-01") == 100 and months.count(None) == 2
    assert Scope(("2024-02",), 0, 7).csv_rows([["code"], ["1"], ["2"]]) == [0, 1, 2]  # no month: whole


def test_files_written_since_the_run_started_and_a_sample_of_the_others(tmp_path):
    old = [tmp_path / f"ancien_{i}.csv" for i in range(30)]
    for path in old:
        path.write_text("x")
        os.utime(path, (1_000_000, 1_000_000))
    new = tmp_path / "nouveau.csv"
    new.write_text("x")
    chosen = Scope(("2024-02",), time.time() - 60, 3).files([*old, new])
    assert new in chosen and len(chosen) == 21 and len(set(chosen)) == 21


def leaks(scope: Scope | None, warehouse: Path, publish: Path) -> set[tuple[str, str, int, int]]:
    """The scan's findings for a matricule of the identifiers, over a warehouse and a publication folder."""
    with scanner() as con:
        started = start(con)
        con.execute("INSERT INTO identifiants VALUES ('matricule', 'jeton', '0123456', NULL)")
        con.execute(f"ATTACH '{warehouse}' AS entrepot (READ_ONLY)")
        places.database(con, "entrepot", lambda s, t: "entrepot", scope=scope)
        con.execute("DETACH entrepot")
        places.published(con, publish, scope)
        return {(f.objet, f.colonne, f.ligne, f.cellules) for f in match(con, started, {}).findings}


def test_a_leak_outside_the_run_is_read_by_the_sample_or_the_full_scan_never_by_neither(tmp_path):
    warehouse, publish = tmp_path / "w.duckdb", tmp_path / "publie"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.notes AS SELECT (DATE '2024-01-01' + INTERVAL (i % 2) MONTH)"
                    "::DATE AS periode, 'rien ' || i AS note FROM range(4000) r(i)")
        con.execute("UPDATE raw.notes SET note = 'dossier 0123456' WHERE rowid IN (10, 11)")  # 2024-01, 2024-02
    publish.mkdir()
    (publish / "ancien.csv").write_text("periode;note\n01/02/2024;dossier 0123456\n", encoding="utf-8")
    os.utime(publish / "ancien.csv", (1_000_000, 1_000_000))
    (publish / "nouveau.csv").write_text("periode;note\n01/02/2024;rien\n01/01/2024;voir 0123456\n", encoding="utf-8")

    only_the_run = Scope(("2024-02",), time.time() - 60, 5, sample_rows=0, sample_files=0)
    assert leaks(only_the_run, warehouse, publish) == {("raw.notes", "note", 11, 1)}  # the 2024-02 row only
    assert leaks(Scope(("2024-02",), time.time() - 60, 5, sample_rows=0), warehouse, publish) == {
        ("raw.notes", "note", 11, 1), ("ancien.csv", "colonne 2", 2, 1)}  # a sampled file: its run's rows
    assert leaks(None, warehouse, publish) == {
        ("raw.notes", "note", 10, 2), ("ancien.csv", "colonne 2", 2, 1), ("nouveau.csv", "colonne 2", 3, 1)}
