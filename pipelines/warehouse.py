"""The DuckDB warehouse: connection, the raw layer's tables (derived from the contract) and macros.

Only the ingestion and reference assets write here, one process at a time (Dagster pool
``warehouse``). BI tools never open this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.contract import DATASETS, Column, Dataset

_SQL_TYPES = {"text": "VARCHAR", "enum": "VARCHAR", "date": "DATE", "int": "BIGINT", "decimal": "DOUBLE",
              "list": "VARCHAR[]"}

MACROS = r"""
CREATE OR REPLACE TEMP MACRO ali_cle_commune(s) AS replace(regexp_replace(trim(regexp_replace(
    strip_accents(lower(replace(s, '’', ''''))), '[^a-z0-9]+', ' ', 'g')), '^(le|la|les|l) ', ''), ' ', '');
CREATE OR REPLACE TEMP MACRO ali_tranche_age(naissance, fin) AS CASE
    WHEN date_sub('year', naissance, fin) < 25 THEN 'MOINS_25'
    WHEN date_sub('year', naissance, fin) < 35 THEN '25_34'
    WHEN date_sub('year', naissance, fin) < 45 THEN '35_44'
    WHEN date_sub('year', naissance, fin) < 55 THEN '45_54'
    ELSE '55_PLUS' END;
"""

DELIVERY_COLUMNS = (("periode", "DATE"), ("source_code", "VARCHAR"), ("sha256", "VARCHAR"), ("ligne", "INTEGER"))


def stored_columns(dataset: Dataset) -> list[tuple[str, str]]:
    """Columns of ``raw.<dataset>``: direct identifiers replaced by their pseudonymised forms."""
    columns: list[tuple[str, str]] = []
    for column in dataset.columns:
        columns.extend(stored_as(column))
    return columns


def stored_as(column: Column) -> list[tuple[str, str]]:
    """What a delivered column becomes in the warehouse (nothing for a direct identifier)."""
    if column.name == "matricule":
        return [("personne_id", "VARCHAR")]
    if column.name == "date_naissance":
        return [("annee_naissance", "INTEGER"), ("tranche_age", "VARCHAR")]
    if column.name == "commune":
        return [("code_insee", "VARCHAR")]
    if column.personal:
        return []
    return [(column.name, _SQL_TYPES[column.type])]


def _ddl() -> str:
    statements = ["CREATE SCHEMA IF NOT EXISTS raw", "CREATE SCHEMA IF NOT EXISTS reference"]
    for dataset in DATASETS.values():
        columns = ", ".join(f"{n} {t}" for n, t in (*DELIVERY_COLUMNS, *stored_columns(dataset)))
        statements.append(f"CREATE TABLE IF NOT EXISTS raw.{dataset.name} ({columns})")
    statements += [
        """CREATE TABLE IF NOT EXISTS raw.livraisons (
            periode DATE, periode_dossier VARCHAR, source_code VARCHAR, dataset VARCHAR,
            fichier VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, taille_octets BIGINT,
            recu_le TIMESTAMP, traite_le TIMESTAMP, statut VARCHAR NOT NULL, en_vigueur BOOLEAN NOT NULL,
            lignes_lues INTEGER, lignes_chargees INTEGER, lignes_quarantaine INTEGER,
            lignes_ignorees INTEGER, motif_rejet VARCHAR, encodage VARCHAR, separateur VARCHAR,
            colonnes_ignorees VARCHAR[], archive VARCHAR, run_id VARCHAR, regle_rejet VARCHAR,
            premier_recu_le TIMESTAMP, PRIMARY KEY (fichier, sha256))""",
        """CREATE TABLE IF NOT EXISTS raw.quarantaine (
            periode DATE, source_code VARCHAR, dataset VARCHAR, sha256 VARCHAR, fichier VARCHAR,
            ligne INTEGER, motifs STRUCT(colonne VARCHAR, regle VARCHAR, message VARCHAR, valeur VARCHAR)[])""",
        """CREATE TABLE IF NOT EXISTS raw.signalements (
            periode DATE, source_code VARCHAR, dataset VARCHAR, regle VARCHAR, message VARCHAR,
            nb_lignes BIGINT)""",
        "CREATE TABLE IF NOT EXISTS raw.parametres (cle VARCHAR PRIMARY KEY, valeur VARCHAR)",
    ]
    return ";\n".join(statements)


def _upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Columns added since v1, appended to a warehouse created before them (NULL in older rows)."""
    known = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
                                       "AND table_name = 'livraisons'").fetchall()}
    if "regle_rejet" not in known:  # the code of motif_rejet (pipelines.contract.REJECTIONS)
        con.execute("ALTER TABLE raw.livraisons ADD COLUMN regle_rejet VARCHAR")
    if "premier_recu_le" not in known:  # the first reception of a (fichier, sha256) received again
        con.execute("ALTER TABLE raw.livraisons ADD COLUMN premier_recu_le TIMESTAMP")
        con.execute("UPDATE raw.livraisons SET premier_recu_le = recu_le")


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (created owner-only on first use) with the raw schema and macros ready."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # DuckDB re-creates the .wal (and .tmp spill files) beside the file with the process umask
        # after every checkpoint: only an owner-only directory keeps them private.
        path.parent.chmod(0o700)
    created = not path.exists()
    old_umask = os.umask(0o077)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    finally:
        os.umask(old_umask)
    if created and path.exists():
        path.chmod(0o600)
    if not read_only:
        con.execute(_ddl())
        _upgrade(con)
    con.execute(MACROS)
    return con
