"""Ingestion of one period folder: archive, read, validate, pseudonymise, load — atomically.

The delivery in force for a (période, source, dataset) is the valid file received last (file
modification time). Everything a run decides for a month is written in ONE transaction: the raw
rows of the deliveries that take force, their quarantine records, the manifest and the reported
anomalies. A crash leaves the warehouse as before the run; a re-run of the same inbox changes
nothing; a rejected re-send leaves the previous delivery in force.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contract import DATASETS
from pipelines.inbox.discover import list_files, sha256_of
from pipelines.raw.archive import archive
from pipelines.raw.prepare import Prepared, prepare
from pipelines.raw.pseudonymise import HMAC_SQL, Pseudonymiser
from pipelines.raw.reported import REPORTED_SQL
from pipelines.raw.validate import validation_sql
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


def _sources(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT code_ali, 'ALI' FROM reference.ali UNION ALL SELECT code_partenaire, 'PARTENAIRE' "
        "FROM reference.partenaires"
    ).fetchall()
    if not rows:
        raise RuntimeError("référentiel absent de l'entrepôt : matérialiser d'abord les assets reference/*")
    return dict(rows)


def _to_process(con: duckdb.DuckDBPyConnection, settings: Settings, folder: str) -> list[Prepared]:
    """Files new to the manifest, or received again since (a re-sent earlier version)."""
    seen = dict(
        ((f, s), r) for f, s, r in con.execute(
            "SELECT fichier, sha256, recu_le FROM raw.livraisons WHERE periode_dossier = ?", [folder]
        ).fetchall()
    )
    todo = []
    for file in list_files(settings.inbox, folder):
        sha = sha256_of(file.path)
        received = seen.get((file.fichier, sha))
        if received is None or received < file.recu_le:
            kept = archive(file.path, sha, settings.archive)
            todo.append(Prepared(file, sha, str(kept.relative_to(settings.archive))))
    return todo


def ingest_folder(
    con: duckdb.DuckDBPyConnection, settings: Settings, folder: str, pseudo: Pseudonymiser, run_id: str
) -> int:
    """Ingest ``<inbox>/<folder>``; returns the number of files processed (0 = nothing new)."""
    sources = _sources(con)
    todo = [prepare(p, sources) for p in _to_process(con, settings, folder)]
    if not todo:
        return 0
    periode = todo[0].file.periode
    pseudo.bind(con)
    for name, dataset in DATASETS.items():
        batch = [p for p in todo if p.dataset is dataset and p.cells is not None]
        _validate(con, name, batch, periode)
    con.execute("BEGIN")
    try:
        _record(con, todo, run_id)
        if periode is not None:
            con.execute("DELETE FROM raw.signalements WHERE periode = ?", [periode])
            con.execute(REPORTED_SQL, {"periode": periode})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(todo)


def _validate(con: duckdb.DuckDBPyConnection, name: str, batch: list[Prepared], periode: dt.date | None) -> None:
    """Validate every file of one dataset of the month in a single query into ``validated_<name>``."""
    if not batch:
        con.execute(f"CREATE OR REPLACE TEMP TABLE validated_{name} AS SELECT NULL::INTEGER AS file_id LIMIT 0")
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


def _record(con: duckdb.DuckDBPyConnection, todo: list[Prepared], run_id: str) -> None:
    """Manifest rows for every processed file; raw rows for the deliveries that take force."""
    for p in todo:
        _manifest(con, p, run_id)
    for key in dict.fromkeys(p.key for p in todo if p.rejection is None and p.dataset is not None):
        winner = con.execute(
            "SELECT fichier, sha256 FROM raw.livraisons WHERE periode_dossier = ? AND source_code = ? "
            "AND dataset = ? AND statut = 'VALIDE' ORDER BY recu_le DESC, fichier DESC LIMIT 1", list(key)
        ).fetchall()[0]
        current = con.execute(
            "SELECT fichier, sha256 FROM raw.livraisons WHERE periode_dossier = ? AND source_code = ? "
            "AND dataset = ? AND en_vigueur", list(key)
        ).fetchall()
        if current and current[0] == winner:
            continue
        chosen = next(p for p in todo if (p.file.fichier, p.sha256) == winner)
        name = chosen.dataset.name
        con.execute(f"DELETE FROM raw.{name} WHERE periode = ? AND source_code = ?", [chosen.file.periode, key[1]])
        con.execute(
            f"INSERT INTO raw.{name} SELECT v.debut AS periode, v.source_code, ? AS sha256, v.ligne, "
            f"{', '.join(_stored_expressions(name))} FROM validated_{name} v CROSS JOIN ali_cle "
            f"WHERE v.file_id = ? AND len(v.erreurs) = 0 ORDER BY v.ligne",
            [chosen.sha256, chosen.file_id],
        )
        con.execute(
            "UPDATE raw.livraisons SET en_vigueur = (fichier = ? AND sha256 = ?) "
            "WHERE periode_dossier = ? AND source_code = ? AND dataset = ?", [*winner, *key],
        )


def _manifest(con: duckdb.DuckDBPyConnection, p: Prepared, run_id: str) -> None:
    counts = (None, None, None, None)
    if p.rejection is None:
        name = p.dataset.name
        loaded, quarantined = con.execute(
            f"SELECT count(*) FILTER (len(erreurs) = 0), count(*) FILTER (len(erreurs) > 0) "
            f"FROM validated_{name} WHERE file_id = ?", [p.file_id]
        ).fetchall()[0]
        counts = (p.table.rows_read, loaded, quarantined, len(p.table.ignored_rows))
        con.execute("DELETE FROM raw.quarantaine WHERE fichier = ? AND sha256 = ?", [p.file.fichier, p.sha256])
        con.execute(
            f"INSERT INTO raw.quarantaine SELECT debut, source_code, ?, ?, ?, ligne, erreurs "
            f"FROM validated_{name} WHERE file_id = ? AND len(erreurs) > 0 ORDER BY ligne",
            [name, p.sha256, p.file.fichier, p.file_id],
        )
    f = p.file
    con.execute(
        "INSERT OR REPLACE INTO raw.livraisons VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, "
        "coalesce((SELECT en_vigueur FROM raw.livraisons WHERE fichier = ? AND sha256 = ?), false), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            f.periode, f.periode_dossier, f.source_code, f.dataset, f.fichier, p.sha256, f.taille_octets,
            f.recu_le, "REJETE" if p.rejection else "VALIDE", f.fichier, p.sha256, *counts, p.rejection,
            p.table.encoding if p.table else None,
            {";": ";", ",": ",", "\t": "TAB"}.get(p.table.delimiter) if p.table and p.table.delimiter else None,
            p.extra_columns, p.archive, run_id,
        ],
    )
