"""What a run's privacy checks read: what the run wrote, plus a bounded random sample of the rest.

A refresh of one month must not pay for the whole history (issue 13), and what a run did not write
was scanned by the run that wrote it. So the three blocking checks read:

- in a table (warehouse, published DuckDB file, Parquet) that has a month (``periode``, else
  ``periode_dossier``): the rows of the run's months, the rows whose month is unknown, and
  ``SAMPLE_ROWS`` other rows drawn at random; a table without a month (reference, contract, a
  cohort mart, any table someone added by hand) is read whole;
- in a published CSV with a ``periode`` column: the same rows (``JJ/MM/AAAA`` or ISO);
- the published files modified since the run started, and ``SAMPLE_FILES`` others drawn at random;
- the run's event log and compute logs (they are the run's own).

A check that passed earlier in the same run read the files and events written before it started:
the next one reads from that start on (``verdict.run_scope``).

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
MTIME_SLACK = 0.05
"""Seconds: a file's time comes from the kernel's coarse clock, up to a tick (≤ 10 ms) behind ``time.time()``;
the publication folder must be on a file system with sub-second times (ext4, xfs, btrfs, tmpfs: all do)."""
_FRENCH_DATE = re.compile(r"\d{2}/(\d{2})/(\d{4})")
_ISO_MONTH = re.compile(r"(\d{4}-\d{2})(-\d{2})?")


@dataclass(frozen=True)
class Scope:
    """The run's months, when it started (epoch seconds), the seed and the sizes of its sample."""

    months: tuple[str, ...]
    since: float
    """Files modified from then on (epoch seconds) are read whole."""
    seed: int
    sample_rows: int = SAMPLE_ROWS
    sample_files: int = SAMPLE_FILES
    events_since: float | None = None
    """The run's events logged from then on are read (None: all)."""

    @classmethod
    def of_run(cls, months: Sequence[str], since: float, run_id: str, events_since: float | None = None) -> Scope:
        return cls(tuple(sorted(months)), since, int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16),
                   events_since=events_since)

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
        new = {p for p in paths if p.stat().st_mtime >= self.since - MTIME_SLACK}
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
