"""Where the privacy scan looks: every text a run leaves behind, as rows of the TEMP table ``textes``.

``textes(lieu, objet, colonne, ligne, cellules, valeur, origine)`` holds each distinct text once per
column (``cellules`` = how many cells hold it, ``ligne`` = the first row, ``origine`` = that row's
sender file and row when the table says so), so the matching (``matching.py``) runs over distinct
values only. What counts as a text, and why:

- a database (the warehouse, the published ``marts.duckdb``): every VARCHAR of every table, also
  inside lists and structs (``raw.quarantaine.motifs``), the SQL of every view (dbt's staging and
  intermediate layers are views over scanned tables: their rows hold nothing their SQL and tables
  do not), and table and column names; never a number or a DATE column (counts, amounts and dates of
  entry would collide with matricules and birth dates);
- Parquet: as a database table; CSV: every cell but plain numbers (counts, amounts, rates; kept if
  13 digits or more before the decimal point); the same data is scanned typed in the DuckDB file and
  Parquet; HTML: text, attribute values and the string literals of scripts
  (chart labels), except the bundled plotly.js library (vendor code, not data: the file beside the
  reports, or inlined in a page written before it was);
- the run's event log: every string of every event (messages, errors, metadata of materializations,
  observations and check evaluations), never its numbers (timestamps, counts);
- the run's compute logs (captured stdout/stderr), line by line, when the instance keeps them.
"""

from __future__ import annotations

import bisect
import csv
import functools
import html
import io
import json
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.privacy.scope import Scope

TEXTES_SQL = ("CREATE OR REPLACE TEMP TABLE textes (lieu VARCHAR, objet VARCHAR, colonne VARCHAR, ligne BIGINT, "
              "cellules BIGINT, valeur VARCHAR, origine VARCHAR)")
_INSERT = ("INSERT INTO textes {read}SELECT ?, ?, c, min(r), count(*), v, arg_min(o, r) FROM ({branches}) "
           "WHERE v IS NOT NULL AND v <> '' GROUP BY c, v")
_BRANCH = "SELECT ?::VARCHAR AS c, r, v, o FROM (SELECT {row} AS r, {values} AS v, {origin} AS o FROM {source})"
_NUMBER = re.compile(r"[+-]?[1-9][\d \u00a0\u202f]*([.,]\d+)?|[+-]?0([.,]\d+)?")
_PIECES = re.compile(r"<script\b[^>]*>(.*?)</script\s*>|<style\b[^>]*>.*?</style\s*>|<!--.*?-->|<([^>]*)>|([^<]+)",
                     re.DOTALL | re.IGNORECASE)
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_ATTRIBUTE = re.compile(r"""=\s*(?:"([^"]*)"|'([^']*)')""")


def texts_of(expression: str, type_: duckdb.DuckDBPyType, depth: int = 0) -> str | None:
    """SQL list of every VARCHAR inside ``expression`` (lists, structs and maps walked), or None."""
    kind = type_.id
    if kind in ("varchar", "json", "enum"):
        return f"[{expression}::VARCHAR]"
    if kind in ("list", "array"):
        return _elements(expression, type_.children[0][1], depth)
    if kind == "map":
        (_, key), (_, value) = type_.children
        parts = [_elements(f"map_keys({expression})", key, depth), _elements(f"map_values({expression})", value, depth)]
    elif kind == "struct":
        parts = [texts_of(f"struct_extract({expression}, '{name}')", t, depth) for name, t in type_.children]
    else:
        return None
    parts = [p for p in parts if p]
    return f"flatten([{', '.join(parts)}])" if parts else None


def _elements(expression: str, child: duckdb.DuckDBPyType, depth: int) -> str | None:
    inner = texts_of(f"x{depth}", child, depth + 1)
    return f"flatten(list_transform({expression}, lambda x{depth}: {inner}))" if inner else None


def database(con: duckdb.DuckDBPyConnection, catalog: str, place, prefix: str = "", scope: Scope | None = None) -> None:
    """Every table and view of an attached database (the run's rows only, with a ``scope``);
    ``place(schema, table)`` names the lieu."""
    for schema, table in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY ALL", [catalog]
    ).fetchall():
        _relation(con, place(schema, table), f"{prefix}{schema}.{table}", f'{catalog}."{schema}"."{table}"', "rowid",
                  scope)
    views = con.execute("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE database_name = ? "
                        "AND NOT internal", [catalog]).fetchall()
    add(con, [(place(s, v), f"{prefix}{s}.{v}", "(définition)", 0, sql) for s, v, sql in views])


def _relation(con: duckdb.DuckDBPyConnection, lieu: str, objet: str, source: str, row: str,
              scope: Scope | None) -> None:
    """Every text of one table: one statement for all its columns (a statement per column cost ~20 ms
    each, most of a small check's time)."""
    relation = con.sql(f"SELECT * FROM {source} LIMIT 0")
    add(con, [(lieu, objet, "(nom)", 0, name) for name in [objet, *relation.columns]])
    origin = origin_of(relation.columns)
    read = ""
    if scope is not None:  # the run's rows and a sample: bounded, so read once for every column
        scoped, row = scope.rows(source, relation.columns, [str(t) for t in relation.types], row)
        if scoped != source:
            read, source = f"WITH lus AS MATERIALIZED (SELECT * FROM {scoped}) ", "lus"
    branches, columns = [], []
    for column, type_ in zip(relation.columns, relation.types):
        if type_.id in ("varchar", "json", "enum"):
            values = f'"{column}"::VARCHAR'
        else:
            listed = texts_of(f'"{column}"', type_)
            if listed is None:
                continue
            values = f"unnest({listed})"
        branches.append(_BRANCH.format(row=row, values=values, origin=origin, source=source))
        columns.append(column)
    if branches:
        con.execute(_INSERT.format(read=read, branches=" UNION ALL ".join(branches)), [lieu, objet, *columns])


def origin_of(columns: list[str]) -> str:
    """Where a row of a table about deliveries comes from: the sender's file and row (quarantine, manifest)."""
    if "fichier" in columns and "ligne" in columns:
        return "\"fichier\" || ', ligne ' || \"ligne\""
    return '"fichier"' if "fichier" in columns else "NULL::VARCHAR"


def published(con: duckdb.DuckDBPyConnection, directory: Path, scope: Scope | None = None) -> int:
    """Every file under the publication directory (links not followed; with a ``scope``, those the run
    wrote and a sample); returns files not examined."""
    paths = sorted(Path(root) / name for root, _, names in os.walk(directory) for name in names)
    paths = [p for p in paths if p.is_file() and not p.is_symlink()]
    skipped, texts = 0, []
    for path in scope.files(paths) if scope is not None else paths:
        objet = str(path.relative_to(directory))
        suffix = path.suffix.lower()
        if suffix == ".duckdb":
            con.execute(f"ATTACH '{_quoted(path)}' AS publie (READ_ONLY)")
            try:
                database(con, "publie", lambda s, t: "publication", prefix=f"{objet}:", scope=scope)
            finally:
                con.execute("DETACH publie")
        elif suffix == ".parquet":
            _relation(con, "publication", objet, f"read_parquet('{_quoted(path)}', file_row_number = true)",
                      "file_row_number + 1", scope)
        elif suffix == ".csv":
            texts += [("publication", objet, *cell) for cell in csv_cells(path.read_text("utf-8-sig", "replace"),
                                                                           scope)]
        elif suffix in (".html", ".htm"):
            texts += [("publication", objet, *cell) for cell in html_cells(path.read_text("utf-8", "replace"))]
        elif suffix == ".json":
            texts += [("publication", objet, *cell) for cell in json_cells(path.read_text("utf-8", "replace"))]
        elif suffix == ".js" and path.read_text("utf-8", "replace") == _plotly_js():
            continue  # the chart library beside the reports, byte for byte the bundled one
        else:
            skipped += 1
    add(con, texts)  # once: thousands of small files (the receipts) would cost one INSERT each
    return skipped


def postgres(con: duckdb.DuckDBPyConnection, url: str, scope: Scope | None = None) -> int:
    """Every table of the PostgreSQL publication database (the live ``marts``, a staged schema waiting
    for this check): copied in through Arrow, then read as a warehouse table. Returns tables read."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as pg, pg.cursor() as cursor:
        cursor.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema "
                       "NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")
        tables = cursor.fetchall()
        for schema, table in tables:
            cursor.execute(f'SELECT * FROM "{schema}"."{table}"')
            con.register("postgres_arrow", cursor.fetch_arrow_table())
            con.execute("CREATE OR REPLACE TEMP TABLE postgres_lu AS SELECT * FROM postgres_arrow")
            con.unregister("postgres_arrow")
            _relation(con, "publication", f"postgres:{schema}.{table}", "postgres_lu", "rowid", scope)
    con.execute("DROP TABLE IF EXISTS postgres_lu")
    return len(tables)


def csv_cells(text: str, scope: Scope | None = None):
    """(colonne, ligne, cellule) of a CSV, ``;`` or ``,`` (the run's rows and a sample, with a ``scope``);
    plain numbers left out."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    for i in scope.csv_rows(rows) if scope is not None else range(len(rows)):
        number, row = i + 1, rows[i]
        for index, cell in enumerate(row, start=1):
            if cell.strip() and not plain_number(cell):
                yield f"colonne {index}", number, cell


@functools.cache
def _plotly_js() -> str:
    """The bundled plotly.js (4.6 Mo read from disk: once per process, not once per page)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def html_cells(text: str):
    """(colonne, ligne, texte) of a page: text, attribute values, script string literals."""
    library = _plotly_js()
    if "Plotly" in text:  # line numbers stay those of the file
        text = text.replace(library, "\n" * library.count("\n"))
    newlines = [m.start() for m in re.finditer("\n", text)]
    for piece in _PIECES.finditer(text):
        line = bisect.bisect(newlines, piece.start()) + 1
        script, tag, content = piece.group(1), piece.group(2), piece.group(3)
        if script is not None:
            for literal in _STRING.finditer(script):
                value = _json_string(literal.group(0))
                if value.strip() and not plain_number(value):
                    yield "script", line, value
        elif tag is not None:
            for attribute in _ATTRIBUTE.finditer(tag):
                yield "attribut", line, html.unescape(attribute.group(1) or attribute.group(2) or "")
        elif content is not None and content.strip() and not plain_number(html.unescape(content)):
            yield "texte", line, html.unescape(content).strip()


def json_cells(text: str):
    """(clé, rang, texte) of every string of a JSON document (a receipt, the open data's datapackage.json)."""

    def walk(node, where: str):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{where}.{key}" if where else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{where}[{index}]")
        elif isinstance(node, str) and node.strip() and not plain_number(node):
            yield where, node

    try:
        document = json.loads(text)
    except ValueError:  # not JSON after all: read as plain text, line by line
        yield from (("texte", number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip())
        return
    for number, (where, value) in enumerate(walk(document, ""), start=1):
        yield where, number, value


def plain_number(text: str) -> bool:
    """A count, an amount or a rate (``12 345,5``): left out of files; an integer part of 13 digits or
    more is a NIR's shape, kept."""
    text = text.strip()
    return bool(_NUMBER.fullmatch(text)) and sum(c.isdigit() for c in re.split("[.,]", text)[0]) < 13


def run_log(con: duckdb.DuckDBPyConnection, instance, run_id: str, since: float | None = None) -> None:
    """Every string of every event of the run (logged from ``since`` on, epoch seconds): ``metadonnees``
    under a metadata field, else ``journal``."""
    from dagster._serdes import serialize_value  # the event log's own JSON form: every field, nested

    rows = []
    for index, entry in enumerate(instance.all_logs(run_id), start=1):
        if since is not None and entry.timestamp < since:
            continue
        event = entry.dagster_event
        objet = f"{entry.step_key or 'run'} · {event.event_type_value if event else 'LOG'}"
        for where, value in _strings(json.loads(serialize_value(entry)), "journal"):
            rows.append((where, objet, "metadonnees" if where == "metadonnees" else "evenement", index, value))
    add(con, rows)


def compute_logs(con: duckdb.DuckDBPyConnection, instance, run_id: str) -> int:
    """stdout and stderr captured for the run's steps, line by line; returns how many files were read."""
    from dagster._core.storage.compute_log_manager import ComputeIOType

    manager, keys = instance.compute_log_manager, set()
    for io_type in (ComputeIOType.STDOUT, ComputeIOType.STDERR):
        try:
            keys |= {tuple(k) for k in manager.get_log_keys_for_log_key_prefix([run_id, "compute_logs"], io_type)}
        except (NotImplementedError, OSError):  # instance without stored compute logs
            pass
    rows = []
    for key in sorted(keys):
        data = manager.get_log_data(list(key))
        for stream, content in (("stdout", data.stdout), ("stderr", data.stderr)):
            for number, line in enumerate((content or b"").decode("utf-8", "replace").splitlines(), start=1):
                rows.append(("journaux_calcul", key[-1], stream, number, line))
    add(con, rows)
    return len(keys)


def add(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Rows (lieu, objet, colonne, ligne, valeur) into ``textes``, one row per distinct text."""
    if not rows:
        return
    names = ("lieu", "objet", "colonne", "ligne", "valeur")
    con.register("textes_lus", pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)},
                                        schema=pa.schema([(n, pa.int64() if n == "ligne" else pa.string())
                                                          for n in names])))
    try:
        con.execute("INSERT INTO textes SELECT lieu, objet, colonne, min(ligne), count(*), valeur, NULL FROM textes_lus "
                    "WHERE valeur IS NOT NULL AND valeur <> '' GROUP BY lieu, objet, colonne, valeur")
    finally:
        con.unregister("textes_lus")


def _strings(node, where: str):
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            inside = "metadonnees" if where == "metadonnees" or "metadata" in key else where
            yield inside, key
            yield from _strings(value, inside)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, where)


def _json_string(literal: str) -> str:
    try:
        return json.loads(literal)
    except ValueError:
        return literal[1:-1]


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
