"""Deterministic sample deliveries: a realistic inbox for demos, tests and load runs.

``generate`` simulates the 22 ALI and the 82 partners month by month (people persist, advisers come
and go, actions fill) and drops each month's files into ``<out>/<YYYY-MM>/<source>/<dataset>.<ext>``
in each source's own form, with planted invalid rows, rejected files, late deliveries and corrected
re-sends, counted in the returned summary so the ingestion can be checked against it.
Same arguments, same bytes and mtimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.sample.deliveries import Deliverer, Tally
from pipelines.sample.reference import load_reference
from pipelines.sample.schedule import snapshot
from pipelines.sample.timeline import Month, month_range
from pipelines.sample.world import World

__all__ = ["SampleSummary", "generate"]


@dataclass(frozen=True)
class SampleSummary:
    files: int
    rows: int
    """Data rows of the files that are not rejected (every version), without header, blank or Total rows."""
    months: int
    invalid_rows: dict[str, int]
    """Rows the ingestion must quarantine, by kind (one defect per row; a duplicate counts its later copy)."""
    rejected_files: dict[str, int]
    late_files: int
    resends: int
    """Corrected re-sends (a valid second version of a key); rejected re-sends count in rejected_files."""
    absent: int
    """Expected keys with no file (not delivered, or not yet by the snapshot)."""
    size: int
    rejected: tuple[tuple[str, str], ...]
    """(path relative to ``out``, kind) of every file the ingestion must reject."""
    resent: tuple[str, ...]
    """Paths of the corrected re-sends (each replaces the earlier file of its key)."""
    reported: dict[str, int]
    """Cases the contract reports without blocking, counted once per key delivered."""

    @property
    def invalid_share(self) -> float:
        return sum(self.invalid_rows.values()) / self.rows if self.rows else 0.0

    def lines(self) -> list[str]:
        def kinds(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        return [
            f"{self.files} files, {self.rows} data rows, {self.size / 1e6:.1f} MB over {self.months} months",
            f"invalid rows (to quarantine): {sum(self.invalid_rows.values())} "
            f"({self.invalid_share:.2%}): {kinds(self.invalid_rows)}",
            f"rejected files: {sum(self.rejected_files.values())}: {kinds(self.rejected_files)}",
            f"late files {self.late_files}, corrected re-sends {self.resends}, absent deliveries {self.absent}",
            f"reported, not blocked: {kinds(self.reported)}",
        ]


def generate(out: Path, *, scale: float = 1.0, start: str = "2023-02", end: str = "2026-10",
             reference_dir: Path = Path("data/reference")) -> SampleSummary:
    """Write the inbox for months ``start``..``end`` into ``out``.

    The world is always simulated from the first ALI opening, so a month's files do not depend on
    the range asked for, except that nothing arrives after the snapshot (25th of the month after
    ``end``).
    """
    first, last = Month.parse(start), Month.parse(end)
    if scale <= 0 or first > last:
        raise ValueError("scale must be > 0 and start ≤ end")
    world = World(load_reference(Path(reference_dir)), scale)
    deliverer = Deliverer(Path(out), world, snapshot(last))
    for month in month_range(min(first, world.first_month), last):
        world.step(month)
        if month >= first:
            deliverer.deliver(month)
    return _summary(deliverer.tally, months=len(month_range(first, last)))


def _summary(tally: Tally, months: int) -> SampleSummary:
    return SampleSummary(
        files=tally.files, rows=tally.rows, months=months, invalid_rows=dict(sorted(tally.invalid.items())),
        rejected_files=dict(sorted(tally.rejected.items())), late_files=tally.late, resends=tally.resends,
        absent=tally.absent, size=tally.size, rejected=tuple(sorted(tally.rejected_paths)),
        resent=tuple(sorted(tally.resent_paths)), reported=dict(sorted(tally.reported.items())),
    )
