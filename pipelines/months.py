"""Months, in one place: the monthly partitions, the one ``YYYY-MM`` pattern, a run's months.

A month is a Dagster partition (``YYYY-MM``, the inbox folder's name). A run covers one partition
or a range of them (single-run backfill); every step, asset check included, reads its months from
Dagster's own partition context, never from the run's tags.
"""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg

FIRST_MONTH = "2023-02"
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m", timezone="Europe/Paris")


def parse_month(text: str) -> dt.date | None:
    """The first day of month ``YYYY-MM``; None for any other text."""
    match = MONTH.fullmatch(text)
    return dt.date(int(match[1]), int(match[2]), 1) if match else None


def due_date(month: str) -> dt.date:
    """The day the delivery of ``month`` (``YYYY-MM``) is due: ``ECHEANCE_JOUR`` of M + 1 (end of day,
    Europe/Paris). The marts say the same in SQL (dbt macro ``echeance_livraison``)."""
    from pipelines.contract import ECHEANCE_JOUR

    first = parse_month(month)
    return (first + dt.timedelta(days=31)).replace(day=ECHEANCE_JOUR)


def months_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The run's months, for any step of it (an unpartitioned asset or check included); none for a
    run without partitions."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return []


def partition_range(months: list[str], available: list[str]) -> tuple[str, str] | None:
    """First and last partition covering ``months`` (inbox folders), limited to existing partitions."""
    covered = sorted(set(months) & set(available))
    return (covered[0], covered[-1]) if covered else None


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags that make one run cover months ``first`` … ``last`` (a single-run backfill)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
