"""What the privacy scan and the write guard look for: the direct identifiers of the deliveries.

The warehouse holds none of them by design, and only the archive of originals holds them at all
(contract §5), so they are re-read from there, with the project's own reader, for every file the
manifest lists for the run's months (or processed by the run). They go into the TEMP table
``identifiants`` of the scanning connection, an in-memory DuckDB that cannot spill to disk
(``scanner``): no identifier is ever written to a file, a log line or metadata; only counts leave.

The write guard (``guard.py``) builds the same forms, with the same code, from the files the
ingestion has just read, inside the warehouse's own connection (TEMP, never committed).

Which forms are searched, and where (the choices against false positives, see ``matching.py``):

- matricule: the normalised 7 digits, and a delivered form that is not 1–6 digits (``123B567``,
  ``12345678``), as a whole token; a zero-stripped ``123456`` would be any count or amount.
- date de naissance: as delivered (valid date or not: ``31/02/1985`` may be a typo of the real
  one), ISO and JJ/MM/AAAA, inside text (never a DATE column: dates of entry or orientation are data).
- nom and prénom: the pair in either order anywhere in a text; each alone only as a whole cell, of
  3 letters or more, and not a text of the reference data (``Montreuil`` is a surname and a
  commune) nor a word of the contract (column names, enumerations).
- NIR: any 13- or 15-digit number (spaces allowed) of any cell of the originals.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contract import DATASETS
from pipelines.inbox.headers import map_header, normalise_header
from pipelines.inbox.read import Table, Unreadable, read_table
from pipelines.privacy import kept
from pipelines.privacy.matching import prepare
from pipelines.raw.validate import trimmed

IDENTIFIER_COLUMNS = ("matricule", "nom", "prenom", "date_naissance")
ALL_COLUMNS = {normalise_header(c.name) for d in DATASETS.values() for c in d.columns}
_NIR = re.compile(r"\d[\d ]{11,}\d")
NIR_RE2 = r"\p{Nd}[\p{Nd} ]{11,}\p{Nd}"
"""``_NIR`` for RE2 (Python's ``\\d`` is Unicode's Nd): the records of a big file that hold one."""
_MIN_NAME = 3

FORMS_SQL = r"""
CREATE OR REPLACE TEMP TABLE lus_t AS SELECT {trimmed} FROM lus;
CREATE OR REPLACE TEMP TABLE personnes AS
SELECT DISTINCT ali_norme(nom) AS nom, ali_norme(prenom) AS prenom FROM lus_t WHERE nom <> '' OR prenom <> '';
CREATE OR REPLACE TEMP TABLE mots_courants AS
SELECT DISTINCT ali_norme(mot) AS mot FROM (SELECT mot FROM mots_contrat UNION ALL {reference});
INSERT INTO identifiants
SELECT DISTINCT 'nom_prenom', 'cellule', n, NULL FROM (SELECT unnest([nom, prenom]) AS n FROM personnes)
WHERE length(n) >= {min_name} AND n NOT IN (SELECT mot FROM mots_courants WHERE mot IS NOT NULL);
INSERT INTO identifiants
SELECT DISTINCT 'nom_prenom', 'paire', unnest([prenom || ' ' || nom, nom || ' ' || prenom]),
    list_reduce(string_split(nom, ' '), lambda a, b: CASE WHEN length(b) > length(a) THEN b ELSE a END)
FROM personnes WHERE nom <> '' AND prenom <> '';
INSERT INTO identifiants
SELECT DISTINCT 'matricule', 'jeton', f, NULL FROM (
    SELECT unnest([CASE WHEN NOT regexp_full_match(m, '\d{{1,6}}') THEN upper(m) END,
                   CASE WHEN regexp_full_match(m, '\d{{1,7}}') THEN lpad(m, 7, '0') END]) AS f
    FROM (SELECT DISTINCT matricule AS m FROM lus_t WHERE matricule <> '')
) WHERE f IS NOT NULL;
INSERT INTO identifiants
SELECT DISTINCT 'date_naissance', 'date', f, NULL FROM (
    SELECT unnest([d, strftime(j, '%Y-%m-%d'), strftime(j, '%d/%m/%Y')]) AS f FROM (
        SELECT d, coalesce(try_strptime(d, '%Y-%m-%d'), try_strptime(d, '%d/%m/%Y'))::DATE AS j
        FROM (SELECT DISTINCT date_naissance AS d FROM lus_t WHERE date_naissance <> '')
    )
) WHERE f IS NOT NULL;
INSERT INTO identifiants SELECT DISTINCT 'nir', 'nir', forme, NULL FROM nirs_lus;
DROP TABLE lus_t;
"""
_TRIM = "coalesce({trimmed}, '') AS {c}"


def identifier_cells(table: Table, cells: pa.Table | None = None) -> pa.Table:
    """The four identifier columns of a read file, as delivered (null where the file has none).

    Found by header like any column (``map_header``), in any dataset: a ``nom`` column in a
    ``participations`` file is read too. ``cells`` (the contract's columns that ``prepare`` already
    transposed) is reused for the columns it holds: the same header position, no second pass.
    """
    positions, _ = map_header(table.header, IDENTIFIER_COLUMNS)
    columns = {}
    for name in IDENTIFIER_COLUMNS:
        i = positions.get(name)
        if i is None:
            columns[name] = pa.nulls(table.num_rows, pa.string())
        elif cells is not None and name in cells.column_names:
            columns[name] = cells[name]
        else:
            columns[name] = table.column(i)
    return pa.table(columns)


def read_archived(path: Path, dataset: str | None) -> Table | None:
    """An archived original read as ingestion reads it (None if it cannot be read)."""
    expected = {normalise_header(c) for c in DATASETS[dataset].column_names} if dataset in DATASETS else ALL_COLUMNS
    try:
        return read_table(path, expected)
    except (Unreadable, OSError):
        return None


class Forms:
    """Identifier cells gathered from read files, turned into rows of ``identifiants`` in one go.

    ``nirs``: also search every cell of the files for NIR-shaped numbers (the scan). The write guard
    does not: it withholds any 13- or 15-digit number instead (``nir_tout``, see ``matching.py``).
    ``run_id``: keep each archived file's forms (NIRs included) for the run's later steps, and take
    those kept by its earlier ones (``kept.py``).
    """

    def __init__(self, *, nirs: bool, run_id: str | None = None):
        self.parts: list[pa.Table] = []
        self.nirs: set[str] | None = set() if nirs else None
        self.run_id = run_id
        self.read = self.taken = 0
        """Archived files read by this object, and taken from what the run had read."""

    def add(self, table: Table, cells: pa.Table | None = None, archive: kept.Archived | None = None) -> None:
        """A file read; ``archive``: its (name in the archive, dataset), to keep its forms for the run."""
        keep = bool(self.run_id and archive)
        nirs = nir_forms(table.text(containing=NIR_RE2)) if keep or self.nirs is not None else ()  # any cell
        found = kept.FileForms(identifier_cells(table, cells), frozenset(nirs))
        if keep:
            kept.keep_file(self.run_id, archive, found)
        self._use(found)

    def add_archived(self, path: Path, archive: str, dataset: str | None) -> bool:
        """An archived original (``path``, named ``archive``): its forms kept by the run, else read; False if
        it cannot be read."""
        known = kept.file_forms(self.run_id, (archive, dataset)) if self.run_id else kept.NOT_READ
        if known is kept.NOT_READ:
            known = read_archived(path, dataset)
            if known is None:
                if self.run_id:
                    kept.keep_file(self.run_id, (archive, dataset), None)
                return False
            self.read += 1
            self.add(known, archive=(archive, dataset))
            return True
        if known is not None:
            self.taken += 1
            self._use(known)
        return known is not None

    def _use(self, found: kept.FileForms) -> None:
        self.parts.append(found.cells)
        if self.nirs is not None:
            self.nirs |= found.nirs

    def insert(self, con: duckdb.DuckDBPyConnection, catalog: str) -> None:
        """Add the forms of every file added since the last call to ``identifiants``."""
        empty = pa.table({name: pa.array([], pa.string()) for name in IDENTIFIER_COLUMNS})
        con.register("lus", pa.concat_tables([empty, *self.parts]))
        con.register("nirs_lus", pa.table({"forme": pa.array(sorted(self.nirs or ()), pa.string())}))
        con.register("mots_contrat", pa.table({"mot": sorted(contract_words())}))
        try:
            con.execute(FORMS_SQL.format(
                trimmed=", ".join(_TRIM.format(c=c, trimmed=trimmed(c)) for c in IDENTIFIER_COLUMNS),
                reference=_reference_words(con, catalog), min_name=_MIN_NAME))
        finally:
            for name in ("lus", "nirs_lus", "mots_contrat"):
                con.unregister(name)
        self.parts.clear()
        if self.nirs is not None:
            self.nirs.clear()


@contextmanager
def scanner() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that never offloads to a temporary file (identifiers stay in memory)."""
    con = duckdb.connect(config={"temp_directory": ""})
    try:
        prepare(con)
        yield con
    finally:
        con.close()


def archived_files(con: duckdb.DuckDBPyConnection, catalog: str, months: list[str], run_id: str) -> list[tuple]:
    """(archive path, dataset) of every version received for ``months`` or processed by ``run_id``.

    A run without months (an unpartitioned materialization) is checked against the last month.
    """
    return con.execute(
        f"SELECT DISTINCT archive, dataset FROM {catalog}.raw.livraisons WHERE archive IS NOT NULL AND ("
        f"list_contains($mois::VARCHAR[], periode_dossier) OR run_id = $run OR (len($mois::VARCHAR[]) = 0 "
        f"AND periode_dossier = (SELECT max(periode_dossier) FROM {catalog}.raw.livraisons WHERE periode IS NOT NULL))"
        f") ORDER BY ALL",
        {"mois": months, "run": run_id},
    ).fetchall()


def collect(con: duckdb.DuckDBPyConnection, catalog: str, archive_dir: Path, months: list[str], run_id: str, *,
            keep: bool = True) -> dict:
    """Fill ``identifiants`` from the archived originals; returns counts (never a value).

    ``keep``: take the forms the run's earlier steps kept, and keep these for its later ones (``kept.py``).
    """
    files = archived_files(con, catalog, months, run_id)
    key = (tuple(files), con.execute(f"SELECT md5(string_agg(mot, chr(31) ORDER BY mot)) FROM "
                                     f"({_reference_words(con, catalog)}) AS r(mot)").fetchall()[0][0])
    if keep and (known := kept.identifiers(run_id, key)):
        rows, counts = known
        con.register("formes_du_run", rows)
        con.execute("INSERT INTO identifiants SELECT * FROM formes_du_run")
        con.unregister("formes_du_run")
        return {**counts, "fichiers_relus_archive": 0, "fichiers_repris_du_run": counts["fichiers_relus"]}
    forms, unreadable = Forms(nirs=True, run_id=run_id if keep else None), 0
    for archive, dataset in files:
        unreadable += not forms.add_archived(archive_dir / archive, archive, dataset)
    forms.insert(con, catalog)
    found = dict(con.execute("SELECT nature, count(DISTINCT forme) FROM identifiants GROUP BY ALL").fetchall())
    counts = {"fichiers_relus": len(files) - unreadable, "fichiers_illisibles": unreadable,
              **{f"identifiants_{n}": found.get(n, 0) for n in ("matricule", "nom_prenom", "date_naissance", "nir")}}
    if keep:
        kept.keep_identifiers(run_id, key, con.sql("SELECT * FROM identifiants").to_arrow_table(), counts)
    return {**counts, "fichiers_relus_archive": forms.read, "fichiers_repris_du_run": forms.taken}


def add_key(con: duckdb.DuckDBPyConnection, key: bytes) -> int:
    """The pseudonymisation key as text, hex and base64: searched as a substring everywhere."""
    forms = {key.decode(errors="replace"), key.hex(), key.hex().upper(), base64.b64encode(key).decode(),
             base64.urlsafe_b64encode(key).decode()}
    con.executemany("INSERT INTO identifiants VALUES ('cle', 'sous_chaine', ?, NULL)", [[f] for f in forms])
    return len(forms)


def nir_forms(text: str) -> set[str]:
    """13- or 15-digit numbers of ``text``, spaces between digits allowed."""
    digits = (re.sub(r"\D", "", m.group()) for m in _NIR.finditer(text))
    return {d for d in digits if len(d) in (13, 15)}


def contract_words() -> set[str]:
    """Column names and enumerated values of the contract: whole cells of the warehouse, not names."""
    return {w for d in DATASETS.values() for c in d.columns for w in (c.name, *c.values)}


def _reference_words(con: duckdb.DuckDBPyConnection, catalog: str) -> str:
    """A query of every text of the reference tables (communes, ALI, partners, actions), as ``mot``."""
    columns = con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = 'reference' AND data_type = 'VARCHAR'", [catalog]).fetchall()
    parts = [f'SELECT "{c}" FROM {catalog}."{s}"."{t}"' for s, t, c in columns]
    return " UNION ALL ".join(parts) if parts else "SELECT NULL::VARCHAR WHERE false"
