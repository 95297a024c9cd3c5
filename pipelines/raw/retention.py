"""Retention of the originals: the only clear identifiers the platform keeps are kept for a bounded time.

GDPR's storage limitation (art. 5.1.e): the archive's originals hold matricules, names and birth
dates. Their purpose is to rebuild and audit the warehouse, whose pseudonymised rows and marts stay.
The CNIL's retention reference for social and medico-social accompaniment keeps an accompanied
person's data in the active base 2 years after the last contact; an original of month M records the
accompaniment as of M, so it is kept ``ALI_ARCHIVE_RETENTION_MONTHS`` (default 24) full months after
M, then purged (docs/operations.md, "Retention").

A file's month is its période folder (for a folder outside any month, its reception month). An
original shared by several months (the same bytes sent twice) goes with the most recent of them.
Purging, in this order, so that a crash anywhere leaves the next purge to finish the job and the
ingestion never reads a deleted original:

1. the warehouse forgets the original (``raw.livraisons.archive`` set to NULL; marts untouched);
2. the journal records the purge (a rebuild then leaves those months out, and says so);
3. the original is deleted, and so are the inbox's copies of the purged versions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import duckdb

from pipelines.inbox.discover import sha256_of
from pipelines.months import parse_month
from pipelines.raw import journal
from pipelines.raw.load import Settings

DEFAULT_MONTHS = 24
ENV = "ALI_ARCHIVE_RETENTION_MONTHS"


def retention_months(environ: dict[str, str] | None = None) -> int:
    text = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not text:
        return DEFAULT_MONTHS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{ENV}={text!r} : attendu un nombre entier de mois, 1 au moins (défaut {DEFAULT_MONTHS})")
    return int(text)


def first_kept(today: date, months: int) -> str:
    """The oldest month whose originals are kept on ``today`` (``YYYY-MM``)."""
    index = today.year * 12 + today.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_of(record: dict) -> str:
    return record["periode"] if parse_month(record["periode"]) else record["recu_le"][:7]


@dataclass(frozen=True)
class Purge:
    first_kept: str
    originals: list[str]
    """Archive paths purged by this run."""
    months: list[str]
    inbox_files: int


def due(entries: list[journal.Entry], keep_from: str) -> dict[str, list[str]]:
    """Archived originals whose every month is older than ``keep_from`` and not purged yet → their months."""
    months: dict[str, set[str]] = {}
    for entry in entries:
        if entry.record["type"] == "fichier" and entry.record["archive"]:
            months.setdefault(entry.record["archive"], set()).add(month_of(entry.record))
    purged = journal.purged(entries)
    return {a: sorted(m) for a, m in sorted(months.items()) if a not in purged and max(m) < keep_from}


def purge(con: duckdb.DuckDBPyConnection, settings: Settings, today: date, months: int) -> Purge:
    """Purge the originals due on ``today`` (and finish a purge a crash interrupted); returns what was purged."""
    keep_from = first_kept(today, months)
    entries = journal.read(settings.archive) if journal.path(settings.archive).exists() else []
    originals = due(entries, keep_from)
    if originals:  # one statement: atomic
        con.execute("UPDATE raw.livraisons SET archive = NULL WHERE list_contains(?, archive)", [list(originals)])
        journal.append(settings.archive, [journal.purge_record(a, m) for a, m in originals.items()])
    gone = set(originals) | journal.purged(entries)
    for archive in sorted(gone):
        (settings.archive / archive).unlink(missing_ok=True)
    versions = {(r["fichier"], r["sha256"]) for r in (e.record for e in entries)
                if r["type"] == "fichier" and r["archive"] in gone}
    removed = 0
    for fichier, sha in sorted(versions):
        copy = settings.inbox / fichier
        if copy.is_file() and not copy.is_symlink() and sha256_of(copy) == sha:
            copy.unlink()
            removed += 1
    return Purge(keep_from, list(originals), sorted({m for ms in originals.values() for m in ms}), removed)
