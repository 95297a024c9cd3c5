"""Ingestion of one period folder: archive, read, validate, pseudonymise, load — atomically.

The delivery in force for a (période, source, dataset) is the valid file received last (file
modification time). The same bytes received again under the same name replace their manifest row
(``recu_le`` moves) but keep their first reception (``premier_recu_le``): punctuality counts from it.
Everything a run decides for a month is written in ONE transaction: the raw rows of the deliveries
that take force, their quarantine records, the manifest and the reported anomalies, once the month's
records in the archive's journal are fsynced (``pipelines.raw.journal``: what a rebuild replays). A
crash leaves each month as before or after its transaction; a re-run of the same inbox changes
nothing; a rejected re-send leaves the previous delivery in force. Which files a run takes, and
which it leaves for later because they are still being written: ``pipelines.raw.receive``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contract import DATASETS
from pipelines.crash_points import kill_point
from pipelines.privacy.guard import Guard
from pipelines.raw.journal import append, file_record
from pipelines.raw.prepare import Prepared, prepare
from pipelines.raw.pseudonymise import HMAC_SQL, Pseudonymiser
from pipelines.raw.receive import received_files
from pipelines.raw.reported import REPORTED_SQL
from pipelines.raw.validate import validation_sql
from pipelines.timings import Stopwatch
from pipelines.warehouse import stored_columns


@dataclass(frozen=True)
class Settings:
    inbox: Path
    archive: Path


def _stored_expressions(dataset_name: str) -> list[str]:
    """SELECT list turning validated rows into ``raw.<dataset>`` rows (identifiers pseudonymised)."""
    expressions = {
        "personne_id": HMAC_SQL.format(message="v.organisme || ':' || v.matricule"),
        "annee_naissance": "year(v.date_naissance)",
        "tranche_age": "ali_tranche_age(v.date_naissance, v.fin)",
        "code_insee": "v.commune",
    }
    return [f"{expressions.get(name, 'v.' + name)} AS {name}" for name, _ in stored_columns(DATASETS[dataset_name])]


def known_sources(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT code_ali, 'ALI' FROM reference.ali UNION ALL SELECT code_partenaire, 'PARTENAIRE' "
        "FROM reference.partenaires"
    ).fetchall()
    if not rows:
        raise RuntimeError("référentiel absent de l'entrepôt : matérialiser d'abord les assets reference/*")
    return dict(rows)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a month's files are read.

    Reading allocates millions of lists of strings (no reference cycles: plain reference counting
    frees them) and keeps them until validation; each collection walks that growing heap, which
    made reading a national-size month 2.5× slower (9.0 s → 3.6 s with the collector paused).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_folder(
    con: duckdb.DuckDBPyConnection, settings: Settings, folder: str, pseudo: Pseudonymiser, run_id: str,
    stopwatch: Stopwatch | None = None, deferred: list[tuple[str, str]] | None = None, guard: Guard | None = None,
) -> int:
    """Ingest ``<inbox>/<folder>``; returns the number of files processed (0 = nothing new).

    Files left for a later run are appended to ``deferred`` as (fichier, reason), else logged.
    ``guard`` holds the identifier forms of the run's deliveries (``pipelines.privacy.guard``); without
    one, a guard of this folder alone is built.
    """
    clock = stopwatch or Stopwatch()
    waiting: list[tuple[str, str]] = []
    with clock.stage("archivage"):
        received = received_files(con, settings.inbox, settings.archive, folder, waiting)
    if deferred is None:
        for fichier, why in waiting:
            logging.getLogger(__name__).warning("%s laissé pour un prochain run : %s", fichier, why)
    else:
        deferred += waiting
    return ingest_received(con, settings, folder, received, pseudo, run_id, clock, guard)


def ingest_received(
    con: duckdb.DuckDBPyConnection, settings: Settings, folder: str, received: list[Prepared], pseudo: Pseudonymiser,
    run_id: str, clock: Stopwatch, guard: Guard | None = None, *, journal: bool = True,
) -> int:
    """Read, validate, pseudonymise and record the ``received`` files of ``folder`` in one transaction.

    Their journal records are fsynced first (``journal=False`` when a rebuild replays the journal).
    """
    sources = known_sources(con)
    with clock.stage("lecture"), collector_paused():
        todo = [_read(p, sources) for p in received]
    if not todo:
        return 0
    clock.counts["lignes_traitees"] += sum(p.table.rows_read for p in todo if p.table)
    for reader in ("duckdb", "python"):  # which reader read the files (pipelines.inbox.csv_duckdb)
        clock.counts[f"fichiers_lus_{reader}"] += sum(1 for p in todo if p.table and p.table.reader == reader)
    periode = todo[0].file.periode
    validated = [name for name, dataset in DATASETS.items()
                 if any(p.dataset is dataset and p.cells is not None for p in todo)]
    with clock.stage("validation"):
        for name in validated:
            validate_files(con, name, [p for p in todo if p.dataset is DATASETS[name] and p.cells is not None], periode)
    kill_point("ingestion.validation")
    with clock.stage("pseudonymisation"):
        pseudo.bind(con)
        for name in validated:
            _pseudonymise(con, name)
    kill_point("ingestion.pseudonymisation")
    with clock.stage("garde"):
        guard = guard or Guard(con, settings.archive, [folder], run_id)
        guard.add(con, todo)
    if journal:
        append(settings.archive, [file_record(p, run_id) for p in todo])
        kill_point("ingestion.journal")
    with clock.stage("chargement"):
        con.execute("BEGIN")
        try:
            _record(con, todo, run_id, guard)
            if periode is not None:
                con.execute("DELETE FROM raw.signalements WHERE periode = ?", [periode])
                con.execute(REPORTED_SQL, {"periode": periode})
            kill_point("ingestion.avant_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    kill_point("ingestion.apres_commit")
    return len(todo)


def _read(received: Prepared, sources: dict[str, str]) -> Prepared:
    prepared = prepare(received, sources)
    kill_point("ingestion.lecture")
    return prepared


def validate_files(con: duckdb.DuckDBPyConnection, name: str, batch: list[Prepared], periode: dt.date | None) -> None:
    """Validate every file of one dataset of the month in a single query into ``validated_<name>``."""
    if not batch:
        return
    last = dt.date(periode.year, periode.month, calendar.monthrange(periode.year, periode.month)[1])
    files = pa.table({
        "file_id": pa.array(range(len(batch)), pa.int32()),
        "source_code": [p.file.source_code for p in batch],
        "debut": pa.array([periode] * len(batch), pa.date32()),
        "fin": pa.array([last] * len(batch), pa.date32()),
        "annee": pa.array([periode.year] * len(batch), pa.int32()),
        "excel": [p.file.path.suffix.lower() == ".xlsx" for p in batch],
    })
    for i, p in enumerate(batch):
        p.file_id = i
    incoming = pa.concat_tables(
        p.cells.append_column("file_id", pa.array([i] * p.cells.num_rows, pa.int32())) for i, p in enumerate(batch)
    )
    con.register("incoming", incoming)
    con.register("incoming_files", files)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE validated_{name} AS {validation_sql(DATASETS[name])}")
    finally:
        con.unregister("incoming")
        con.unregister("incoming_files")


def _pseudonymise(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Valid rows as ``raw.<name>`` stores them, in ``stored_<name>``: identifiers replaced or dropped."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stored_{name} AS SELECT v.file_id, v.debut AS periode, v.source_code, "
        f"v.ligne, {', '.join(_stored_expressions(name))} FROM validated_{name} v CROSS JOIN ali_cle "
        f"WHERE len(v.erreurs) = 0"
    )


RECORD_SQL = """
CREATE OR REPLACE TEMP TABLE received_counts AS
SELECT r.*, c.chargees, c.quarantaine, least(r.recu_le, p.premier_recu_le) AS premier_recu_le
FROM received r LEFT JOIN ({counts}) c USING (dataset, file_id)
LEFT JOIN raw.livraisons p USING (fichier, sha256);
DELETE FROM raw.livraisons l USING received r WHERE l.fichier = r.fichier AND l.sha256 = r.sha256;
INSERT INTO raw.livraisons BY NAME
SELECT periode, periode_dossier, source_code, dataset, fichier, sha256, taille_octets, recu_le,
    (now() AT TIME ZONE 'UTC') AS traite_le, statut, false AS en_vigueur, lignes_lues,
    CASE WHEN statut = 'VALIDE' THEN coalesce(chargees, 0) END AS lignes_chargees,
    CASE WHEN statut = 'VALIDE' THEN coalesce(quarantaine, 0) END AS lignes_quarantaine, lignes_ignorees,
    motif_rejet, regle_rejet, premier_recu_le, encodage, separateur,
    ali_garde_colonnes(colonnes_ignorees) AS colonnes_ignorees, archive, run_id
FROM received_counts;
DELETE FROM raw.quarantaine q USING received r WHERE q.fichier = r.fichier AND q.sha256 = r.sha256;
{quarantine}
CREATE OR REPLACE TEMP TABLE winners AS
WITH touched AS (SELECT DISTINCT periode_dossier, source_code, dataset FROM received WHERE statut = 'VALIDE'),
ranked AS (
    SELECT l.*, row_number() OVER (PARTITION BY l.periode_dossier, l.source_code, l.dataset
                                   ORDER BY l.recu_le DESC, l.fichier DESC) AS rang
    FROM raw.livraisons l JOIN touched USING (periode_dossier, source_code, dataset)
    WHERE l.statut = 'VALIDE'
)
SELECT w.periode, w.periode_dossier, w.source_code, w.dataset, w.fichier, w.sha256, r.file_id
FROM ranked w JOIN received r USING (fichier, sha256)
WHERE w.rang = 1;
"""


def _record(con: duckdb.DuckDBPyConnection, todo: list[Prepared], run_id: str, guard: Guard) -> None:
    """Manifest and quarantine rows for every processed file; raw rows for the deliveries taking force.

    Set-wise: a handful of statements per month whatever the number of files. The winner of a key
    is its valid version received last; only versions processed in this run can newly win (an
    older one received again is processed again), so their validated rows are at hand. Texts taken
    from the deliveries are written through the guard, which first re-applies itself to those stored.
    """
    con.register("received_files", _received(todo, run_id))
    con.execute("CREATE OR REPLACE TEMP TABLE received AS SELECT * FROM received_files")
    con.unregister("received_files")
    validated = sorted({p.dataset.name for p in todo if p.cells is not None})
    guard.withhold(con, validated)
    guard.scrub(con)
    counts = " UNION ALL ".join([
        "SELECT NULL::VARCHAR AS dataset, NULL::INTEGER AS file_id, 0 AS chargees, 0 AS quarantaine WHERE false",
        *(f"SELECT '{name}' AS dataset, file_id, count(*) FILTER (len(erreurs) = 0) AS chargees, "
        f"count(*) FILTER (len(erreurs) > 0) AS quarantaine FROM validated_{name} GROUP BY file_id"
        for name in validated),
    ])
    quarantine = "\n".join(
        f"INSERT INTO raw.quarantaine SELECT v.debut, v.source_code, r.dataset, r.sha256, r.fichier, v.ligne, "
        f"{guard.guarded(name)} FROM validated_{name} v JOIN received r ON r.dataset = '{name}' AND r.file_id = v.file_id "
        f"WHERE len(v.erreurs) > 0 ORDER BY r.fichier, v.ligne;"
        for name in validated
    )
    con.execute(RECORD_SQL.format(counts=counts, quarantine=quarantine))
    for name in validated:
        con.execute(
            f"DELETE FROM raw.{name} t USING winners w WHERE w.dataset = '{name}' "
            f"AND t.periode = w.periode AND t.source_code = w.source_code"
        )
        kill_point("ingestion.ecriture")  # manifest written, the old rows of this dataset deleted, new ones not yet
        stored = ", ".join(f"s.{column}" for column, _ in stored_columns(DATASETS[name]))
        con.execute(
            f"INSERT INTO raw.{name} SELECT s.periode, s.source_code, w.sha256, s.ligne, {stored} "
            f"FROM stored_{name} s JOIN winners w ON w.dataset = '{name}' AND w.file_id = s.file_id "
            f"ORDER BY s.source_code, s.ligne"
        )
    con.execute(
        "UPDATE raw.livraisons l SET en_vigueur = (l.fichier = w.fichier AND l.sha256 = w.sha256) FROM winners w "
        "WHERE l.periode_dossier = w.periode_dossier AND l.source_code = w.source_code AND l.dataset = w.dataset"
    )


def _received(todo: list[Prepared], run_id: str) -> pa.Table:
    """One row per processed file, as the manifest records it (counts of valid rows come from SQL)."""
    return pa.table({
        "periode": pa.array([p.file.periode for p in todo], pa.date32()),
        "periode_dossier": [p.file.periode_dossier for p in todo],
        "source_code": pa.array([p.file.source_code for p in todo], pa.string()),
        "dataset": pa.array([p.file.dataset for p in todo], pa.string()),
        "file_id": pa.array([p.file_id if p.cells is not None else None for p in todo], pa.int32()),
        "fichier": [p.file.fichier for p in todo],
        "sha256": [p.sha256 for p in todo],
        "taille_octets": pa.array([p.file.taille_octets for p in todo], pa.int64()),
        "recu_le": pa.array([p.file.recu_le for p in todo], pa.timestamp("us")),
        "statut": ["REJETE" if p.rejection else "VALIDE" for p in todo],
        "lignes_lues": pa.array([p.table.rows_read if p.table and not p.rejection else None for p in todo], pa.int32()),
        "lignes_ignorees": pa.array(
            [len(p.table.ignored_rows) if p.table and not p.rejection else None for p in todo], pa.int32()),
        "motif_rejet": pa.array([p.rejection for p in todo], pa.string()),
        "regle_rejet": pa.array([p.rejection_rule for p in todo], pa.string()),
        "encodage": pa.array([p.table.encoding if p.table else None for p in todo], pa.string()),
        "separateur": pa.array([_DELIMITER_NAMES.get(p.table.delimiter) if p.table else None for p in todo],
                               pa.string()),
        "colonnes_ignorees": pa.array([p.extra_columns for p in todo], pa.list_(pa.string())),
        "archive": pa.array([p.archive for p in todo], pa.string()),
        "run_id": [run_id] * len(todo),
    })


_DELIMITER_NAMES = {";": ";", ",": ",", "\t": "TAB"}
