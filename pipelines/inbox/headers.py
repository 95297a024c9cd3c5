"""Header matching (contract §2): the same column whatever case, accents, apostrophes or separators."""

from __future__ import annotations

import re
import unicodedata

_ELIDED = re.compile(r"(?<![a-z0-9])[dl]'")
_DROPPED = re.compile(r"[\s'_\-]+")


def fold(text: str) -> str:
    """Lower case without accents, ``’`` read as ``'``."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def normalise_header(name: str) -> str:
    """``Date d'entrée`` = ``Date d’entrée`` = ``DATE_ENTREE`` = ``date-entree`` → ``dateentree``."""
    return _DROPPED.sub("", _ELIDED.sub("", fold(name.strip().lstrip("\ufeff"))))


def map_header(header: list[str], columns: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
    """Position of each contract column found in ``header`` and the extra (ignored) header cells.

    The first occurrence of a column wins; a repeated column is reported as extra.
    """
    wanted = {normalise_header(c): c for c in columns}
    positions: dict[str, int] = {}
    extra: list[str] = []
    for index, cell in enumerate(header):
        column = wanted.get(normalise_header(cell))
        if column is None or column in positions:
            if cell.strip():
                extra.append(cell.strip())
        else:
            positions[column] = index
    return positions, extra
