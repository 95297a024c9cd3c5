"""What one delivered file may cost, read from the environment when used (README lists the variables).

A sender's file is read whole into memory (a CSV as bytes, then text, then cells; a workbook as
calamine's dense grid): without limits one file of a few hundred bytes or a few gigabytes could take
the run, and the months behind it, down. The defaults leave a wide margin over real deliveries: in a
national-size month (``python -m pipelines sample --scale 20``) the largest CSV is 7 Mo and the largest
workbook 1,8 Mo, whose sheet is 15 Mo of XML and 0,4 million cells; a département sends ~100 files of
under 1 Mo.

The limits are read at each use, not at import, so an operator can raise one for a single run.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "ALI_MAX_FILE_BYTES": 200_000_000,
    "ALI_MAX_XLSX_UNCOMPRESSED_BYTES": 500_000_000,
    "ALI_MAX_XLSX_CELLS": 20_000_000,
    "ALI_INBOX_QUIET_SECONDS": 120,
}
"""Sizes in bytes; cells of the first sheet's rectangle (calamine allocates 32 bytes per cell, then
one Python object each); seconds a file must have stayed unmodified before it is read."""


def limit(name: str) -> int:
    """``$name`` as a non-negative integer (``_`` allowed as a digit separator), else its default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} = {raw!r} : un entier positif ou nul est attendu")
    return value


def octets(count: int) -> str:
    """``250000000`` → ``250 000 000 octets`` (French digit grouping)."""
    return f"{count:,} octets".replace(",", " ")


def too_large(size: int) -> str | None:
    """The rejection reason of a file of ``size`` bytes, or None if it may be read."""
    cap = limit("ALI_MAX_FILE_BYTES")
    if size <= cap:
        return None
    return f"fichier trop volumineux : {octets(size)} pour une limite de {octets(cap)} (ALI_MAX_FILE_BYTES)"
