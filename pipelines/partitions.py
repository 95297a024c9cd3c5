"""Monthly partitions: one per reporting month (``YYYY-MM``, the inbox folder name)."""

from __future__ import annotations

import dagster as dg

FIRST_MONTH = "2023-02"

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m", timezone="Europe/Paris")


def partition_range(months: list[str], available: list[str]) -> tuple[str, str] | None:
    """First and last partition covering ``months`` (inbox folders), limited to existing partitions."""
    covered = sorted(set(months) & set(available))
    return (covered[0], covered[-1]) if covered else None
