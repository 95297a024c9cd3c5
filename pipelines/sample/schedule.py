"""When each file arrives: on time (1st–5th of the next month), late, re-sent, or not at all.

Reception times become the files' mtimes. Files are only dropped up to the snapshot (the 25th of
the month after the last one generated): a late delivery due after it has simply not arrived yet,
which leaves a handful of sources missing for the last month, as in real life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pipelines.sample.timeline import Month, epoch, rng

ABSENT_SOURCE = 0.01
LATE_SOURCE = 0.04
ABSENT_FILE = 0.005
RESEND = 0.025
DAY = 86_400


@dataclass(frozen=True)
class Plan:
    received: int | None
    """Epoch seconds of reception; None when the file is not (yet) delivered."""
    late: bool = False
    resend_at: int | None = None
    """Reception of a corrected re-send of the same key, if any."""


def snapshot(last: Month) -> int:
    """The moment the sample inbox is 'looked at': the 25th of the month after the last month."""
    return epoch(last.next().first.replace(day=25))


def plan(month: Month, source: str, dataset: str, until: int, forced: bool = False) -> Plan:
    """The delivery of one key; ``forced`` keys (planted rejections) arrive on time, once."""
    r = rng("delivery", month, source)
    u = r.random()
    absent = u < ABSENT_SOURCE and not forced
    late = ABSENT_SOURCE <= u < ABSENT_SOURCE + LATE_SOURCE and not forced
    day = month.last + timedelta(days=r.randint(21, 120) if late else r.randint(1, 5))
    k = rng("delivery", month, source, dataset)
    received = epoch(day, r.randint(8 * 3600, 18 * 3600)) + k.randint(0, 1800)
    if absent or (k.random() < ABSENT_FILE and not forced) or received > until:
        return Plan(None)
    resend_at = received + k.randint(1, 20) * DAY + k.randint(0, 3600) if k.random() < RESEND else None
    if forced or (resend_at is not None and resend_at > until):
        resend_at = None
    return Plan(received, late, resend_at)
