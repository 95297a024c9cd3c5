"""The run's identifier forms, kept in the memory of the process that runs it, between its steps.

A refresh reads each delivery once (ingestion), yet its three blocking privacy checks each need the
identifiers of every archived version of the run's months: re-reading the originals three times was
most of their cost (national month: 195 files, 7 s a check). The monthly job runs its steps in one
process (``in_process_executor``; ``python -m pipelines refresh`` too), so what one step has read
can serve the next:

- per archived file (its name is the sha256 of its bytes: the same name, the same identifiers), the
  four identifier columns and the NIR-shaped numbers, stored by whoever reads it first: the write
  guard for the files the ingestion reads, a check for the others;
- per check, the finished ``identifiants`` rows for a list of files and reference words (``digest``),
  which the next check of the run takes as they are.

Memory only, like the scanner's connection: nothing here is ever written to a file, a log line or
metadata. Only one run is kept: the first use by another run drops everything (a long-lived process,
such as the test suite, holds at most one run's forms). The weekly full scan keeps nothing (it reads
every month once, in its own run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

Archived = tuple[str, str | None]
"""(name in the archive, dataset as the manifest says): the same bytes read the same way."""


@dataclass(frozen=True)
class FileForms:
    """What an archived file holds that the scan looks for: its identifier cells and NIR-shaped numbers."""

    cells: pa.Table
    nirs: frozenset[str]


@dataclass
class _Run:
    run_id: str
    files: dict[Archived, FileForms | None] = field(default_factory=dict)
    """None: the file could not be read."""
    forms: dict[tuple, tuple[pa.Table, dict]] = field(default_factory=dict)


_kept: _Run | None = None


def _run(run_id: str) -> _Run:
    global _kept
    if _kept is None or _kept.run_id != run_id:
        _kept = _Run(run_id)
    return _kept


NOT_READ = object()
"""What ``file_forms`` answers for a file no step of the run has read."""


def file_forms(run_id: str, archive: Archived) -> FileForms | None | object:
    """The forms of ``archive`` read earlier in the run (None: unreadable), else ``NOT_READ``."""
    return _run(run_id).files.get(archive, NOT_READ)


def keep_file(run_id: str, archive: Archived, forms: FileForms | None) -> None:
    _run(run_id).files[archive] = forms


def identifiers(run_id: str, key: tuple) -> tuple[pa.Table, dict] | None:
    """The ``identifiants`` rows and their counts for ``key`` (files, reference words), if built in the run."""
    return _run(run_id).forms.get(key)


def keep_identifiers(run_id: str, key: tuple, rows: pa.Table, counts: dict) -> None:
    _run(run_id).forms[key] = (rows, counts)

