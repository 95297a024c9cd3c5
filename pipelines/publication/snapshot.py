"""Atomic publication of the marts for BI tools: DuckDB file, Parquet, French CSV and, when
configured, PostgreSQL, from one run: written aside, checked, then switched.

BI tools never open the warehouse (DuckDB lets one process write, and a reader holding the file
blocks the writer). ``stage`` writes each publication aside, complete and synced to disk, in
``snapshots/<id>.attente/`` (and the PostgreSQL schema ``en_attente_<id>``, ``publication/postgres.py``):
nothing reads it there but the privacy check. ``switch`` then renames it ``snapshots/<id>`` and ONE
atomic rename of the symbolic link ``current`` switches every format at once:

    <ALI_PUBLISH_DIR>/marts.duckdb -> current/marts.duckdb      (stable paths for BI tools)
    <ALI_PUBLISH_DIR>/parquet      -> current/parquet
    <ALI_PUBLISH_DIR>/csv          -> current/csv
    <ALI_PUBLISH_DIR>/current      -> snapshots/<id>           (swapped atomically)

In the published file the marts are the tables of its main schema: the file is named
``marts.duckdb``, so its catalog is ``marts`` and ``marts.mart_ali_mensuel`` reads as in the
warehouse (a schema also named ``marts`` inside would make that name ambiguous for DuckDB).

A reader that opened the previous snapshot keeps reading it (its files stay until pruned, and an
open file outlives its deletion). A run that fails or is blocked before the switch leaves the previous
publication byte for byte; of two runs, the one that staged last stays published.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.crash_points import kill_point
from pipelines.publication import postgres
from pipelines.publication.files import make_folders, sync_folder, sync_tree
from pipelines.publication.versions import PENDING, prune, swap_link

MARTS = ("mart_ali_mensuel", "mart_departement_mensuel", "mart_actions_mensuel", "mart_territoire_mensuel",
         "mart_livraisons", "mart_parcours_cohortes", "mart_freins_mensuel", "mart_qualite_sources")
STORAGE_VERSION = "v1.0.0"
"""On-disk format of the published DuckDB file: readable by DuckDB 1.0 and later (BI drivers bundle
their own, often older, DuckDB). Parquet is the version-free path."""
KEEP_SNAPSHOTS = 3
FORMULA_START = r"^\s*[=+\-@]|^[\t\r]"
"""Text a spreadsheet would run as a formula (CSV injection), also behind leading blanks: such a cell
is written with a leading ``'``. For RE2 (DuckDB) and Python's ``re`` alike."""


@dataclass(frozen=True)
class Publication:
    snapshot: Path
    published_at: dt.datetime
    rows: dict[str, int]
    postgres_schema: str | None = None

    @property
    def staged(self) -> Path:
        return self.snapshot.with_name(self.snapshot.name + PENDING)


def publish(warehouse_path: Path | str, directory: Path, run_id: str, postgres_url: str | None = None) -> Publication:
    """Stage then switch at once (no check between): for tools and tests that publish by hand."""
    done = stage(warehouse_path, directory, run_id, postgres_url)
    switch(directory, done, postgres_url)
    return done


def stage(warehouse_path: Path | str, directory: Path, run_id: str, postgres_url: str | None = None) -> Publication:
    """Write every mart of the warehouse as a new snapshot aside (and into PostgreSQL), synced, not yet read."""
    make_folders(directory)  # owner-only (or ALI_PUBLISH_GROUP's) from the start: files.restrict
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    published_at = now.replace(microsecond=0)
    # Microseconds in the name: a retried step of the same run may publish twice within a second.
    snapshot = directory / "snapshots" / f"{now:%Y%m%dT%H%M%S%f}-{run_id[:8]}"
    partial = snapshot.with_name(snapshot.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    make_folders(partial / "parquet")
    (partial / "csv").mkdir()
    with duckdb.connect() as con:  # in memory: the warehouse attached read-only, the new file read-write
        con.execute(f"ATTACH '{warehouse_path}' AS entrepot (READ_ONLY)")
        con.execute("USE entrepot")
        rows = {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchall()[0][0] for m in MARTS}
        _duckdb_file(con, partial / "marts.duckdb", run_id, published_at, rows)
        kill_point("publication.fichier_duckdb")
        for mart in MARTS:
            con.execute(f"COPY marts.{mart} TO '{partial / 'parquet' / mart}.parquet' (FORMAT parquet)")
            kill_point("publication.parquet")
            _french_csv(con, mart, partial / "csv" / f"{mart}.csv")
            kill_point("publication.csv")
    sync_tree(partial)
    done = Publication(snapshot, published_at, rows)
    os.replace(partial, done.staged)
    sync_folder(snapshot.parent)
    if postgres_url:
        schema = postgres.staged_schema(snapshot.name)
        postgres.stage(postgres_url, done.staged / "marts.duckdb", schema, MARTS)
        done = Publication(snapshot, published_at, rows, schema)
    return done


def switch(directory: Path, done: Publication, postgres_url: str | None = None) -> bool:
    """Make the staged ``done`` current (PostgreSQL first, then the files), unless a newer snapshot
    already is; False when it was not switched (its staged copy is then left to ``prune``)."""
    current = (directory / "current").resolve() if (directory / "current").exists() else None
    if current is not None and current.name > done.snapshot.name:
        return False
    if not done.staged.exists() and not done.snapshot.exists():
        return False  # a newer publication pruned it
    if postgres_url and done.postgres_schema:
        postgres.switch(postgres_url, done.postgres_schema)
    if done.staged.exists():
        os.replace(done.staged, done.snapshot)
        sync_folder(done.snapshot.parent)
    kill_point("publication.avant_bascule")
    _switch(directory, done.snapshot)
    kill_point("publication.apres_bascule")
    prune(directory / "snapshots", keep=done.snapshot, count=KEEP_SNAPSHOTS)
    return True


def _duckdb_file(warehouse, path: Path, run_id: str, published_at: dt.datetime, rows: dict[str, int]) -> None:
    warehouse.execute(f"ATTACH '{path}' AS publie (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        for mart in MARTS:
            warehouse.execute(f"CREATE TABLE publie.main.{mart} AS SELECT * FROM marts.{mart}")
        counts = ", ".join(f"{rows[m]}::BIGINT AS lignes_{m}" for m in MARTS)
        warehouse.execute(
            f"CREATE TABLE publie.main.publication AS SELECT ?::TIMESTAMP AS published_at, ? AS run_id, "
            f"min(periode) AS periode_min, max(periode) AS periode_max, count(*)::INTEGER AS periodes, {counts} "
            f"FROM marts.mart_departement_mensuel", [published_at, run_id],
        )
    finally:
        warehouse.execute("DETACH publie")


def _french_csv(warehouse, mart: str, path: Path) -> None:
    """Excel's French convention: ``;``, decimal comma, UTF-8 with BOM; formula-like text neutralised."""
    columns = warehouse.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'entrepot' "
        "AND table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position", [mart],
    ).fetchall()
    select = ", ".join(f"{_french_cell(c, t)} AS {c}" for c, t in columns)
    body = path.with_suffix(".body")
    warehouse.execute(
        f"COPY (SELECT {select} FROM marts.{mart}) TO '{body}' "
        f"(FORMAT csv, DELIMITER ';', HEADER)"
    )
    with path.open("wb") as out, body.open("rb") as source:
        out.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(source, out)
    body.unlink()


def _french_cell(column: str, data_type: str) -> str:
    """One CSV cell as a French Excel reads it (dates JJ/MM/AAAA, decimal comma, VRAI/FAUX)."""
    if data_type == "VARCHAR":
        return f"CASE WHEN regexp_matches({column}, '{FORMULA_START}') THEN chr(39) || {column} ELSE {column} END"
    if data_type in ("DOUBLE", "FLOAT") or data_type.startswith("DECIMAL"):
        return f"replace({column}::VARCHAR, '.', ',')"
    if data_type == "DATE":
        return f"strftime({column}, '%d/%m/%Y')"
    if data_type.startswith("TIMESTAMP"):
        return f"strftime({column}, '%d/%m/%Y %H:%M:%S')"
    if data_type == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'VRAI' WHEN NOT {column} THEN 'FAUX' END"
    return column


def _switch(directory: Path, snapshot: Path) -> None:
    """Point ``current`` at ``snapshot``; create the stable links (into ``current``) once."""
    swap_link(directory / "current", snapshot)
    sync_folder(directory)
    for name in ("marts.duckdb", "parquet", "csv"):
        stable = directory / name
        if not stable.is_symlink():
            stable.unlink(missing_ok=True) if stable.is_file() else shutil.rmtree(stable, ignore_errors=True)
            stable.symlink_to(Path("current") / name)


def current_publication(directory: Path) -> dict | None:
    """The ``publication`` row of the current snapshot (None before the first publication)."""
    path = directory / "marts.duckdb"
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute("SELECT * FROM main.publication")
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchall()[0]))
