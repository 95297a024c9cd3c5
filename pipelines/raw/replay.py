"""Replaying the archive's journal into an empty warehouse: the same ingestion, in the same order.

Each ``fichier`` record becomes the ``Prepared`` file the run's reception step built (placed by
``pipelines.inbox.discover.placed``, read from its archived copy; a link or an oversize file, never
archived, is refused from its record as it was from the inbox), and each month of each run goes
through ``ingest_received`` as it did: the manifest, quarantine, deliveries in force, reported
anomalies and the write guard's withheld texts come out as the runs left them. Each ``run`` record
re-creates that run's write guard (its months' identifiers), so a replay withholds what the run
withheld. Records a crashed run wrote before its commit, then written again by the next run, are
skipped the second time by the rule reception applies (``pipelines.raw.receive.is_new``).

Before anything is written every original is checked (present, same SHA-256): a missing or altered
one stops the rebuild, naming it; months whose originals the retention purged are left out, and said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.inbox.discover import placed, sha256_of
from pipelines.months import parse_month
from pipelines.privacy.guard import Guard
from pipelines.raw import journal
from pipelines.raw.load import Settings, ingest_received
from pipelines.raw.prepare import Prepared
from pipelines.raw.pseudonymise import Pseudonymiser
from pipelines.raw.receive import is_new, processed
from pipelines.timings import Stopwatch


class RebuildError(RuntimeError):
    """The archive cannot rebuild the warehouse as it stands: the message names the record and what to do."""


@dataclass
class Plan:
    entries: list[journal.Entry]
    lost_months: list[str] = field(default_factory=list)
    """Folders with an original the retention purged: not rebuilt (their marts survive only in the old warehouse)."""

    @property
    def files(self) -> list[dict]:
        return [e.record for e in self.entries if e.record["type"] == "fichier"]

    @property
    def months(self) -> list[str]:
        """The month folders rebuilt (a folder outside any month is replayed too: its files were rejected)."""
        return sorted({r["periode"] for r in self.files if parse_month(r["periode"])} - set(self.lost_months))


def plan(archive_dir: Path) -> Plan:
    """Read the journal and check every original it still needs; raise ``JournalError``/``RebuildError``."""
    entries = journal.read(archive_dir)
    purged = journal.purged(entries)
    result = Plan(entries)
    result.lost_months = sorted({r["periode"] for r in result.files if r["archive"] in purged})
    checked: set[str] = set()
    for entry in entries:
        record = entry.record
        if record["type"] != "fichier" or record["periode"] in result.lost_months or not record["archive"]:
            continue
        if record["archive"] in checked:
            continue
        _check_original(Path(archive_dir), entry)
        checked.add(record["archive"])
    return result


def _check_original(archive_dir: Path, entry: journal.Entry) -> None:
    record = entry.record
    where = (f"« {record['fichier']} » (reçu le {record['recu_le']}, ligne {entry.line} du journal), "
             f"original {archive_dir / record['archive']}")
    original = archive_dir / record["archive"]
    if not original.is_file():
        raise RebuildError(f"original manquant : {where}. Le restaurer depuis la sauvegarde de l'archive ; "
                           "rien n'a été écrit.")
    if sha256_of(original) != record["sha256"]:
        raise RebuildError(f"original altéré (SHA-256 différent de celui reçu) : {where}. Le restaurer depuis la "
                           "sauvegarde de l'archive ; rien n'a été écrit.")


def replay(con: duckdb.DuckDBPyConnection, todo: Plan, settings: Settings, pseudo: Pseudonymiser,
           clock: Stopwatch | None = None) -> int:
    """Ingest every record of ``todo`` in journal order; returns the number of files processed."""
    clock = clock or Stopwatch()
    guard: Guard | None = None
    guard_run = None
    batch: list[dict] = []
    done = 0

    def flush() -> int:
        if not batch:
            return 0
        first = batch[0]
        seen = processed(con, first["periode"])
        received = [_prepared(r, settings) for r in batch
                    if is_new(seen, r["fichier"], r["sha256"], dt.datetime.fromisoformat(r["recu_le"]))]
        batch.clear()
        return ingest_received(con, settings, first["periode"], received, pseudo, first["run_id"], clock,
                               guard if guard_run == first["run_id"] else None, journal=False)

    for entry in todo.entries:
        record = entry.record
        if record["type"] == "run":
            done += flush()
            guard, guard_run = Guard(con, settings.archive, record["mois"], record["run_id"]), record["run_id"]
        elif record["type"] == "fichier" and record["periode"] not in todo.lost_months:
            if batch and (batch[-1]["run_id"], batch[-1]["periode"]) != (record["run_id"], record["periode"]):
                done += flush()
            batch.append(record)
    return done + flush()


def _prepared(record: dict, settings: Settings) -> Prepared:
    """The file as the run's reception step handed it over: placed as received, read from its archived copy."""
    file = placed(settings.inbox / record["fichier"], record["fichier"], dt.datetime.fromisoformat(record["recu_le"]),
                  record["taille_octets"], lien=record["lien"])
    copy = settings.archive / record["archive"] if record["archive"] else None
    return Prepared(file, record["sha256"], record["archive"], copy=copy)
