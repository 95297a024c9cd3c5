"""Months, reception timestamps and seeded randomness: the clock and dice of the generator.

Everything random is drawn from a ``random.Random`` seeded by a stable string (never ``hash()``,
never the global generator, never the current time), so one set of arguments always yields the
same bytes and the same mtimes.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta


def rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts``: the same parts give the same draws on every machine."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True, order=True)
class Month:
    """One reporting month (période)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        year, month = (int(part) for part in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError(f"not a month: {text!r}")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def days(self) -> int:
        return self.last.day

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def index(self) -> int:
        """Months since year 0: differences of indexes count months."""
        return self.year * 12 + self.month - 1


def month_range(first: Month, last: Month) -> list[Month]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next()
    return months


def random_day(r: random.Random, low: date, high: date) -> date:
    """A day in [low, high] (inclusive); ``low`` when the interval is empty."""
    span = (high - low).days
    return low if span <= 0 else low + timedelta(days=r.randint(0, span))


def epoch(day: date, seconds: int = 0) -> int:
    """UTC epoch seconds of ``day`` at midnight plus ``seconds``: independent of the local TZ."""
    return calendar.timegm(day.timetuple()) + seconds
