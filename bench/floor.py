"""The benchmark's floor: the least a one-month refresh could cost (``python -m bench.floor MONTH_DIR MONTH``).

A refresh validates, quarantines, pseudonymises, loads a warehouse and runs dbt; the floor only reads
the month's raw deliveries in force, CSV and Excel, and computes approximations of
``mart_ali_mensuel``, ``mart_departement_mensuel`` and the participations per action
(``bench/floor.sql``) in a fresh in-memory DuckDB. DuckDB reads the CSV files; the ``.xlsx`` files,
which it cannot read here (no extension), are read with calamine as the refresh reads them and
handed to it as Arrow tables of text cells. Its wall time, the Excel conversion included, is the
physical lower bound the refresh is compared with (``bench/run.py``, scenario ``plancher``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from python_calamine import CalamineWorkbook

from pipelines.contract import DATASETS
from pipelines.inbox.headers import normalise_header
from pipelines.inbox.read import excel_cell

SCRIPT = Path(__file__).with_name("floor.sql")
SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
"""The contract's closed lists (which exit motifs are positive, which functions accompany)."""
DEFAULT_ORGANISME = DATASETS["beneficiaires"].column("organisme").default
EXCEL_STEP = "-- @excel"
"""The line of floor.sql where the files in force are known and the workbooks are read."""
EXCEL_EPOCH = dt.date(1899, 12, 30)
DATE_COLUMNS = {name: {normalise_header(c.name) for c in d.columns if c.type == "date"} for name, d in DATASETS.items()}


def run_floor(month_dir: Path, month: str) -> dict:
    """Run the floor on ``month_dir`` (``<inbox>/<YYYY-MM>``) for ``month`` (``YYYY-MM-01``)."""
    sql = (SCRIPT.read_text(encoding="utf-8")
           .replace("__MONTH_DIR__", str(Path(month_dir).resolve()).replace("'", "''"))
           .replace("__MONTH__", month).replace("__SEEDS__", str(SEEDS).replace("'", "''"))
           .replace("__DEFAULT_ORGANISME__", DEFAULT_ORGANISME))
    step = sql.index(f"\n{EXCEL_STEP}")
    files_sql, rows_sql = sql[:step], sql[step:]
    pa.array([], pa.string())  # pyarrow imports pandas at its first conversion: an import, not timed
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(files_sql)
        workbooks = con.execute("SELECT filename, dataset FROM floor_files WHERE NOT csv").fetchall()
        excel = {name: [] for name in DATASETS}
        for filename, dataset in workbooks:
            excel[dataset].append(workbook_table(Path(filename), dataset))
        for dataset, tables in excel.items():
            con.register(f"floor_xlsx_{dataset}", pa.concat_tables(tables, promote_options="default") if tables
                         else pa.table({"filename": pa.array([], pa.string())}))
        con.execute(rows_sql)
        seconds = time.perf_counter() - started
        count = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in (
            "floor_rows", "floor_ali_mensuel", "floor_departement_mensuel", "floor_participations_mensuel")}
        participations_rows = con.execute(
            "SELECT count(*) FROM floor_rows WHERE dataset = 'participations'").fetchone()[0]
    finally:
        con.close()
    # rows_read: every row in floor_rows, participations and workbooks included; excel_rows: the rows
    # the workbooks gave (data rows and closing Total rows, as for the CSVs)
    return {"seconds": round(seconds, 3), "rows_read": count["floor_rows"], "ali_rows": count["floor_ali_mensuel"],
            "departement_rows": count["floor_departement_mensuel"], "participations_rows": participations_rows,
            "participations_mensuel_rows": count["floor_participations_mensuel"],
            "excel_files": len(workbooks), "excel_rows": sum(t.num_rows for ts in excel.values() for t in ts)}


def workbook_table(path: Path, dataset: str) -> pa.Table:
    """The first sheet of a workbook as text cells, like its CSV export: one column per header cell
    (named by it, in lower case so that DuckDB's case-insensitive names stay unique), a ``filename``
    column; blank rows dropped, a closing Total row kept (as DuckDB's CSV reader keeps it). A workbook
    calamine cannot open counts as not delivered (the refresh rejects it)."""
    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 — calamine raises private types; a Rust panic is a BaseException
        sheet = []  # the refresh rejects it: not delivered
    rows = [row for row in sheet if any(cell != "" and cell is not None for cell in row)]
    if not rows:
        return pa.table({"filename": pa.array([], pa.string())})
    width = max(len(row) for row in rows)
    header, body = rows[0], rows[1:]
    columns = list(zip(*(row + [""] * (width - len(row)) for row in body))) or [()] * width
    names, arrays = [], []
    for index, (label, cells) in enumerate(zip(list(header) + [""] * (width - len(header)), columns)):
        name = base = (_text(label) or "").strip().lower() or f"column{index}"
        repeat = 0
        while name in names:  # a repeated column is renamed (and so ignored) as DuckDB's CSV reader does
            repeat += 1
            name = f"{base}_{repeat}"
        if all(type(cell) is str for cell in cells):  # most columns: no conversion
            values = [cell or None for cell in cells]
        else:
            text = _date_text if normalise_header(name) in DATE_COLUMNS[dataset] else _text
            values = [text(cell) for cell in cells]
        names.append(name)
        arrays.append(pa.array(values, pa.string()))
    names.append("filename")
    arrays.append(pa.array([str(path)] * len(body), pa.string()))
    return pa.table(arrays, names=names)


def _text(value: object) -> str | None:
    """A cell as the text a CSV export holds, as the refresh reads it (``pipelines.inbox.read``); empty =
    NULL, as DuckDB's CSV reader gives it."""
    return excel_cell(value) or None


def _date_text(value: object) -> str | None:
    """A date column's cell: a serial number (a date cell without a date format) in ISO too."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 2958466:
        return (EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()
    return _text(value)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.floor MONTH_DIR YYYY-MM-01")
    print(json.dumps(run_floor(Path(sys.argv[1]), sys.argv[2])))
