"""The open-data export: the marts restricted and masked by ``secrecy``, written as CSV, swapped atomically.

Format: what data.gouv.fr asks of open data, not the French Excel CSV of the BI publication (``;``,
decimal comma, BOM), which portals and scripts misread: UTF-8 without BOM, ``,`` separator, ``.``
decimals, ISO dates, ``true``/``false``; ``s`` marks a secret cell, an empty cell is a value the marts
do not have (an ALI that did not deliver). Layout, with stable paths for harvesters:

    <ALI_PUBLISH_DIR>/open_data        -> .open_data/<id>   (symbolic link, replaced by one rename)
    <ALI_PUBLISH_DIR>/.open_data/<id>/<table>.csv
    <ALI_PUBLISH_DIR>/.open_data/<id>/datapackage.json   (the Frictionless Data Package: ``datapackage``)

A directory cannot be renamed over a non-empty one, so the switch is the rename of a link, as for
the BI snapshot: a reader sees the old export or the new one, never a mix. A new export is written
in ``<id>.partial``, re-read and verified there (``check_directory``); only then is it renamed (the
verified bytes are the published ones) and made current. An export that fails verification is
deleted (it may hold unprotected cells) and the previous one stays. The previous export is kept
until the next one, for readers still on it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.crash_points import kill_point
from pipelines.publication import datapackage
from pipelines.publication.datapackage import SECRET
from pipelines.publication.files import make_folders, sync_folder, sync_tree
from pipelines.publication.secrecy import TABLES, Suppression, suppress, verify
from pipelines.publication.snapshot import FORMULA_START
from pipelines.publication.versions import prune, swap_link

KEEP = 2


@dataclass
class Export:
    directory: Path | None  # the stable path, None when nothing was published
    suppression: Suppression
    rows: dict[str, int]
    problems: list[str] = field(default_factory=list)


def read_marts(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The published columns of each mart (``marts.<mart>``: the warehouse or the published file).

    Integers and booleans become nullable dtypes, so a masked count stays an integer column.
    """
    tables = {}
    for t, spec in TABLES.items():
        columns, order = ", ".join(spec.columns), ", ".join(spec.key)
        df = con.execute(f"SELECT {columns} FROM marts.{spec.source} ORDER BY {order}").df()
        for c in df.columns:
            if pd.api.types.is_bool_dtype(df[c]):
                df[c] = df[c].astype("boolean")
            elif pd.api.types.is_integer_dtype(df[c]):
                df[c] = df[c].astype("Int64")
        tables[t] = df
    return tables


def export(con: duckdb.DuckDBPyConnection, directory: Path) -> Export:
    """Mask, write aside, verify the written files, then make them current at ``directory``."""
    tables = read_marts(con)
    done = suppress(tables)
    versions = directory.parent / f".{directory.name}"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    partial = versions / f"{stamp}.partial"
    make_folders(partial)
    for t in TABLES:
        write_csv(done.values[t], done.secret[t], partial / f"{t}.csv")
    datapackage.write(done.values, partial)  # in the same version as the files it describes
    sync_tree(partial)  # the publication's permissions (files.restrict), whole files before the rename
    kill_point("open_data.fichiers")
    rows = {t: len(v) for t, v in done.values.items()}
    problems = check_directory(partial)
    if problems:
        shutil.rmtree(partial)
        return Export(None, done, rows, problems)
    final = versions / stamp
    os.replace(partial, final)
    sync_folder(versions)
    kill_point("open_data.avant_bascule")
    _switch(directory, final)
    prune(versions, keep=final, count=KEEP)
    return Export(directory, done, rows)


def write_csv(values: pd.DataFrame, secret: pd.DataFrame, path: Path) -> None:
    text = pd.DataFrame({c: _text(values[c], c in secret and secret[c]) for c in values.columns})
    text.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _text(column: pd.Series, hidden) -> pd.Series:
    """One column as open-data text: ``true``/``false``, ISO dates, integers, shortest float repr."""
    if pd.api.types.is_bool_dtype(column):
        out = column.map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
    elif pd.api.types.is_datetime64_any_dtype(column):
        out = column.dt.strftime("%Y-%m-%d").fillna("")
    elif pd.api.types.is_integer_dtype(column):
        out = column.map(lambda v: "" if pd.isna(v) else str(int(v)))
    elif pd.api.types.is_float_dtype(column):
        out = column.map(lambda v: "" if pd.isna(v) else repr(float(v)))
    else:  # text a spreadsheet would run as a formula gets a leading ' (as in the BI CSV files)
        out = column.map(lambda v: "" if pd.isna(v) else str(v))
        out = out.where(~out.str.contains(FORMULA_START, regex=True), "'" + out)
    return out.mask(hidden, SECRET) if hidden is not False else out


def read_published(directory: Path) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], list[str]]:
    """Values (secret and missing cells NULL), secret flags, and markers found where none may be."""
    values, secret, problems = {}, {}, []
    for t, spec in TABLES.items():
        raw = pd.read_csv(directory / f"{t}.csv", dtype=str, keep_default_na=False)
        numeric = {*spec.maskable, "places_conventionnees"}
        secret[t] = pd.DataFrame({c: raw[c].eq(SECRET) if c in raw else False for c in spec.maskable})
        values[t] = pd.DataFrame({
            c: pd.to_numeric(raw[c].mask(raw[c].isin(["", SECRET]))) if c in numeric else raw[c].replace("", None)
            for c in raw.columns})
        problems += [f"{t}: « {SECRET} » dans la colonne {c}, qui n'est jamais secrète"
                     for c in raw.columns if c not in spec.maskable and raw[c].eq(SECRET).any()]
    return values, secret, problems


def check_directory(directory: Path) -> list[str]:
    """Re-read the CSV files of an export and list every breach of statistical secrecy."""
    values, secret, problems = read_published(directory)
    return problems + verify(values, secret)


def _switch(directory: Path, version: Path) -> None:
    if directory.exists() and not directory.is_symlink():  # a plain folder from an older layout
        os.replace(directory, version.with_name(f"{version.name}.ancien"))
    swap_link(directory, version)
