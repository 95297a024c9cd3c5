"""Each figure's definition, read from where it is written once (the marts' dbt YAML), and how it is shown.

``dbt_project/models/marts/_marts.yml`` holds, per column, the full French wording (``description``)
and under ``config.meta`` its short label, display format and unit. The monthly report, the BI data
dictionary (``bi_docs.py``) and the refresh's summary read them through this module; none of them
words a definition again, and every French number goes through ``nombre``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

import yaml

MARTS_YML = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts" / "_marts.yml"
FORMATS = {"entier", "decimal", "taux", "oui_non", "texte", "date", "horodatage"}


class Definition(NamedTuple):
    libelle: str
    description: str
    format: str
    unite: str = ""
    type: str = ""


class Mart(NamedTuple):
    name: str
    description: str
    columns: dict[str, Definition]
    grain: tuple[str, ...] = ()
    """Its ``unique_combination`` test's columns, or its ``unique`` column."""
    grain_not_null: bool = False
    """Every column of the grain is tested ``not_null``."""


def one_line(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


@cache
def marts() -> dict[str, Mart]:
    """Every mart, its description and its columns' definitions, in contract order."""
    found = {}
    for model in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]:
        columns = {}
        for column in model["columns"]:
            meta = column.get("config", {}).get("meta", {})
            columns[column["name"]] = Definition(meta["libelle"], one_line(column.get("description")), meta["format"],
                                                 meta.get("unite", ""), column.get("data_type", ""))
        tests = {c["name"]: c.get("data_tests") or [] for c in model["columns"]}
        grain = next((tuple(t["unique_combination"]["arguments"]["columns"]) for t in model.get("data_tests") or []
                      if isinstance(t, dict) and "unique_combination" in t),
                     tuple(name for name, listed in tests.items() if "unique" in listed))
        found[model["name"]] = Mart(model["name"], one_line(model.get("description")), columns, grain,
                                    all("not_null" in tests[c] for c in grain))
    return found


def definition(mart: str, column: str) -> Definition:
    return marts()[mart].columns[column]


def nombre(value: float, decimales: int = 0) -> str:
    """French convention: narrow no-break space between thousands, decimal comma."""
    return f"{value:,.{decimales}f}".replace(",", "\u202f").replace(".", ",")


def affiche(format_: str, value) -> str:
    """A value as a French reader sees it, by its declared format; '—' for NULL."""
    if value is None:
        return "—"
    if format_ == "taux":
        return f"{nombre(100 * value, 1)}\u00a0%"
    if format_ in ("entier", "decimal"):
        return nombre(value, 0 if format_ == "entier" else 1)
    if format_ == "oui_non":
        return "oui" if value else "non"
    if format_ == "date":
        return f"{value:%d/%m/%Y}"
    return f"{value:%d/%m/%Y %H:%M}" if format_ == "horodatage" else str(value)
