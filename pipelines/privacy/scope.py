"""What a run's privacy checks read: what the run wrote, plus a bounded random sample of the rest.

A refresh of one month must not pay for the whole history (issue 13), and what a run did not write
was scanned by the run that wrote it. So the three blocking checks read:

- in a table (warehouse, published DuckDB file, Parquet) that has a month (``periode``, else
  ``periode_dossier``): the rows of the run's months, the rows whose month is unknown, and
  ``SAMPLE_ROWS`` other rows drawn at random; a table without a month (reference, contract, a
  cohort mart, any table someone added by hand) is read whole;
- in a published CSV with a ``periode`` column: the same rows (``JJ/MM/AAAA`` or ISO);
- the published files modified since the run started, and ``SAMPLE_FILES`` others drawn at random;
- the run's whole event log and compute logs (they are the run's own).

The draw's seed is the run id: a run samples other rows than the previous one, the same rows if
re-checked. Everything, every month and every file, is read by the full scan
(``aucun_identifiant_nulle_part``, its own scheduled job): what the sample does not catch today,
the full scan catches within a week.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_ROWS = 1000
SAMPLE_FILES = 20
_FRENCH_DATE = re.compile(r"\d{2}/(\d{2})/(\d{4})")
_ISO_MONTH = re.compile(r"(\d{4}-\d{2})(-\d{2})?")


@dataclass(frozen=True)
class Scope:
    """The run's months, when it started (epoch seconds), the seed and the sizes of its sample."""

    months: tuple[str, ...]
    since: float
    seed: int
    sample_rows: int = SAMPLE_ROWS
    sample_files: int = SAMPLE_FILES

    @classmethod
    def of_run(cls, months: Sequence[str], started: float, run_id: str) -> Scope:
        return cls(tuple(sorted(months)), started, int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16))

    def rows(self, source: str, columns: Sequence[str], types: Sequence[str], row: str) -> tuple[str, str]:
        """(FROM clause, row expression) reading the run's rows of ``source`` and a sample of the others."""
        month = month_of(dict(zip(columns, types)))
        if month is None:
            return source, row
        months = ", ".join(f"'{m}'" for m in self.months) or "NULL"
        ours = f"({month}) IS NULL OR ({month}) IN ({months})"
        return (f"(SELECT {row} AS ali_rang, * FROM {source} WHERE {ours} UNION ALL SELECT * FROM ("
                f"SELECT {row} AS ali_rang, * FROM {source} WHERE NOT ({ours})) "
                f"USING SAMPLE reservoir({self.sample_rows} ROWS) REPEATABLE ({self.seed}))", "ali_rang")

    def csv_rows(self, rows: list[list[str]]) -> list[int]:
        """Indexes of the rows of a published CSV to read: header, the run's months, a sample of the rest."""
        if not rows or "periode" not in rows[0]:
            return list(range(len(rows)))
        column = rows[0].index("periode")
        ours, others = [0], []
        for i in range(1, len(rows)):
            cell = rows[i][column] if column < len(rows[i]) else ""
            (ours if cell_month(cell) in (None, *self.months) else others).append(i)
        return sorted(ours + random.Random(self.seed).sample(others, min(self.sample_rows, len(others))))

    def files(self, paths: list[Path]) -> list[Path]:
        """The files written since the run started, and a sample of the others."""
        new = {p for p in paths if p.stat().st_mtime >= self.since - 1}  # a second of slack: coarse clocks
        old = sorted(p for p in paths if p not in new)
        return sorted([*new, *random.Random(self.seed).sample(old, min(self.sample_files, len(old)))])


def month_of(types: dict[str, str]) -> str | None:
    """SQL of a row's month (``YYYY-MM``) from its ``periode`` (DATE or text), else ``periode_dossier``."""
    parts = ["strftime(\"periode\", '%Y-%m')" if types.get("periode") == "DATE"
             else "left(\"periode\"::VARCHAR, 7)" if "periode" in types else None,
             "\"periode_dossier\"" if "periode_dossier" in types else None]
    parts = [p for p in parts if p]
    return f"coalesce({', '.join(parts)})" if parts else None


def cell_month(cell: str) -> str | None:
    """``YYYY-MM`` of a CSV cell holding a date (``JJ/MM/AAAA`` or ISO), None if it holds none."""
    cell = cell.strip()
    if m := _FRENCH_DATE.fullmatch(cell):
        return f"{m.group(2)}-{m.group(1)}"
    if m := _ISO_MONTH.fullmatch(cell):
        return m.group(1)
    return None
