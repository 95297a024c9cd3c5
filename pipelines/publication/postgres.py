"""The marts published to PostgreSQL, for the BI servers that cannot open a file (Metabase, Power BI
gateways, Tableau Server, QGIS).

With ``ALI_PUBLISH_POSTGRES_URL`` set, each publication copies the tables of the new snapshot's
DuckDB file (the very rows the files hold) into a new schema ``en_attente_<stamp>``: each mart created
with its types, grain key and comments (``pipelines.postgres.ddl``), then filled in bulk (Arrow through
ADBC, PostgreSQL's binary ``COPY``). The BI role cannot read that schema. Once the privacy check has
read it, ONE transaction renames the live ``marts`` aside and the new schema to ``marts`` and grants
the BI role its read: a reader sees the old marts or the new ones, never a mix, and a query already
running finishes on the old ones. A failed copy drops its schema; ``marts`` is untouched.

Schemas left behind (a killed copy, a blocked one, the replaced marts) are dropped at the next switch,
except the marts just replaced (a reader may still be on them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import duckdb
import psycopg
from psycopg import sql

from pipelines.crash_points import kill_point
from pipelines.postgres.ddl import create_table, quoted
from pipelines.publication import figures

LIVE, STAGED, REPLACED = "marts", "en_attente_", "remplace_"
SCHEMA_COMMENT = "Marts publiés pour la BI (lecture seule), instantané "
"""Each schema's comment ends with its snapshot's stamp: which of two publications is the newer."""
PUBLICATION_COMMENT = ("Publication en cours : quand, par quel run, les mois couverts et le nombre de lignes de "
                       "chaque mart (un lecteur compare ces comptes aux tables).")


def bi_role() -> str:
    return os.environ.get("ALI_PUBLISH_POSTGRES_BI_ROLE", "ali_bi")


def staged_schema(snapshot_name: str) -> str:
    """``20261207T051200123456-1a2b3c4d`` → ``en_attente_20261207051200123456_1a2b3c4d``."""
    return STAGED + re.sub(r"[^0-9a-z]+", "_", snapshot_name.lower().replace("t", "", 1))


def stage(url: str, snapshot_file: Path, schema: str, marts: tuple[str, ...]) -> dict[str, int]:
    """Copy every mart and the ``publication`` table of ``snapshot_file`` into ``schema``; rows copied."""
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        with psycopg.connect(url) as con:  # one transaction: the tables and their comments
            for mart in marts:
                for statement in create_table(schema, mart):
                    con.execute(statement)
        copied = {}
        with duckdb.connect(str(snapshot_file), read_only=True) as source, adbc.connect(url) as target:
            with target.cursor() as cursor:
                for table in (*marts, "publication"):
                    batches = source.sql(f"SELECT * FROM main.{table}").to_arrow_reader()
                    expected = list(figures.marts()[table].columns) if table in marts else batches.schema.names
                    if batches.schema.names != expected:  # ADBC would fill a missing column with NULL
                        raise ValueError(f"{table} : colonnes {batches.schema.names}, le contrat attend {expected}")
                    mode = "create" if table == "publication" else "append"
                    copied[table] = cursor.adbc_ingest(table, batches, mode=mode, db_schema_name=schema)
                    kill_point("postgres.copie")
            target.commit()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"COMMENT ON TABLE {schema}.publication IS {quoted(PUBLICATION_COMMENT)}")
            con.execute(f"COMMENT ON SCHEMA {schema} IS {quoted(SCHEMA_COMMENT + schema.removeprefix(STAGED))}")
        return copied
    except BaseException:
        drop(url, schema)
        raise


def switch(url: str, schema: str, *, role: str | None = None) -> bool:
    """Make ``schema`` the live ``marts`` in one transaction, unless a newer one already is (two runs:
    the last to stage stays published). Returns whether it switched."""
    role = role or bi_role()
    stamp = schema.removeprefix(STAGED)
    with psycopg.connect(url) as con:
        con.execute("SET LOCAL lock_timeout = '60s'")
        schemas = {name for (name,) in con.execute("SELECT nspname FROM pg_namespace").fetchall()}
        if schema not in schemas:
            return False
        if LIVE in schemas:
            live = con.execute("SELECT obj_description('marts'::regnamespace)").fetchone()[0] or ""
            if live.removeprefix(SCHEMA_COMMENT) > stamp:
                return False
            con.execute(sql.SQL("ALTER SCHEMA marts RENAME TO {}").format(sql.Identifier(REPLACED + stamp)))
        con.execute(sql.SQL("ALTER SCHEMA {} RENAME TO marts").format(sql.Identifier(schema)))
        con.execute(sql.SQL("GRANT USAGE ON SCHEMA marts TO {}").format(sql.Identifier(role)))
        con.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA marts TO {}").format(sql.Identifier(role)))
        kill_point("postgres.bascule")
    prune(url, stamp)
    return True


def prune(url: str, stamp: str) -> None:
    """Drop the marts replaced before the switch of ``stamp`` (those it replaced stay: a reader may be on
    them) and the schemas staged before it (killed or blocked copies); a newer staged schema is
    another run's, waiting for its check. One held by a reader's lock stays for a later switch."""
    with psycopg.connect(url, autocommit=True) as con:
        names = [n for (n,) in con.execute("SELECT nspname FROM pg_namespace").fetchall()
                 if (n.startswith(REPLACED) and n != REPLACED + stamp) or (n.startswith(STAGED) and n < STAGED + stamp)]
        con.execute("SET lock_timeout = '5s'")
        for name in names:
            try:
                con.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
            except psycopg.errors.LockNotAvailable:
                continue


def drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
