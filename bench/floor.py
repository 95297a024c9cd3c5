"""The benchmark's floor: the least a one-month refresh could cost (``python -m bench.floor MONTH_DIR MONTH``).

A refresh validates, quarantines, pseudonymises, loads a warehouse and runs dbt; the floor only reads
the month's raw CSV deliveries and computes approximations of ``mart_ali_mensuel`` and
``mart_departement_mensuel`` (``bench/floor.sql``) in a fresh in-memory DuckDB. Its wall time is
the physical lower bound the refresh is compared with (``bench/run.py``, scenario ``plancher``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

from pipelines.contract import DATASETS

SCRIPT = Path(__file__).with_name("floor.sql")
SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
"""The contract's closed lists (which exit motifs are positive, which functions accompany)."""
DEFAULT_ORGANISME = DATASETS["beneficiaires"].column("organisme").default


def run_floor(month_dir: Path, month: str) -> dict:
    """Run the floor on ``month_dir`` (``<inbox>/<YYYY-MM>``) for ``month`` (``YYYY-MM-01``)."""
    sql = (SCRIPT.read_text(encoding="utf-8")
           .replace("__MONTH_DIR__", str(Path(month_dir).resolve()).replace("'", "''"))
           .replace("__MONTH__", month).replace("__SEEDS__", str(SEEDS).replace("'", "''"))
           .replace("__DEFAULT_ORGANISME__", DEFAULT_ORGANISME))
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(sql)
        seconds = time.perf_counter() - started
        rows_read = con.execute("SELECT count(*) FROM floor_rows").fetchone()[0]
        ali_rows = con.execute("SELECT count(*) FROM floor_ali_mensuel").fetchone()[0]
        departement_rows = con.execute("SELECT count(*) FROM floor_departement_mensuel").fetchone()[0]
    finally:
        con.close()
    return {"seconds": round(seconds, 3), "rows_read": rows_read, "ali_rows": ali_rows,
            "departement_rows": departement_rows}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.floor MONTH_DIR YYYY-MM-01")
    print(json.dumps(run_floor(Path(sys.argv[1]), sys.argv[2])))
