"""Turning typed row values into the cells one source writes: its columns, labels and spellings.

Rows are dicts of typed values (``int`` matricule, ``date``, ``float``, enum ``str``, ``tuple`` for
lists, INSEE code for communes); a :class:`Raw` value is a deliberately malformed cell and is
written exactly as given.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from pipelines.contract import Dataset
from pipelines.sample.forms import Form, header_label
from pipelines.sample.reference import PIERREFITTE, Commune
from pipelines.sample.timeline import rng

Row = dict[str, object]
COMMENTS = (
    "RDV reporté ; relance faite, en attente",
    "Suivi renforcé\nvoir dossier papier",
    'Absent au RDV, "excusé"',
    "Besoin d’un interprète",
    "Orientée vers la PMI; cœur du suivi : logement,\nmobilité",
)
OBSERVATIONS = ("RAS", "Déménagement prévu", "Dossier complet", "À revoir, priorité")
COMMUNE_STYLES = ("insee", "nom", "minuscules", "majuscules", "sans_article")


class Raw(str):
    """A value written exactly as given: a deliberately malformed cell."""


@lru_cache(maxsize=None)
def format_date(day: date, style: str) -> str:
    return day.isoformat() if style == "iso" else f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def format_decimal(value: float, comma: bool, thousands: str = "") -> str:
    text = f"{value:,.2f}" if thousands else f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", "," if comma else ".").replace("\0", thousands)


def commune_spellings(communes: dict[str, Commune]) -> dict[str, dict[str, str]]:
    """Every way a sender writes each commune: INSEE code, official name and hand-typed variants."""
    names = {code: c.nom for code, c in communes.items()} | {PIERREFITTE[0]: PIERREFITTE[1]}
    spellings = {}
    for code, name in names.items():
        folded = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
        spellings[code] = {
            "insee": code,
            "nom": name,
            "minuscules": re.sub(r"[-'’]", " ", folded.lower()),
            "majuscules": name.upper(),
            "sans_article": re.sub(r"^(Le |La |Les |L')", "", name),
        }
    return spellings


class Layout:
    """The columns of one file as its source writes them, and the conversion of each value."""

    def __init__(self, dataset: Dataset, form: Form, source: str, spellings: dict[str, dict[str, str]],
                 r: random.Random) -> None:
        self.dataset, self.form, self.spellings, self.r = dataset, form, spellings, r
        names = [c.name for c in dataset.columns if c.name not in form.dropped] + list(form.extras)
        if form.shuffled:
            rng("order", source, dataset.name).shuffle(names)
        self.columns = names
        self.header = [header_label(n, form.headers) for n in names]
        self.empty = None if form.xlsx else ""
        self._convert = [self._converter(n) for n in names]

    def cells(self, row: Row) -> list[object]:
        return [v if type(v) is Raw else f(v) for v, f in zip([row.get(n) for n in self.columns], self._convert)]

    def total(self, rows: list[Row]) -> list[object]:
        """A closing ``Total`` row summing the numeric columns, as spreadsheet users add one."""
        cells: list[object] = []
        for name, convert in zip(self.columns, self._convert):
            numeric = name in self.dataset.column_names and self.dataset.column(name).type in ("int", "decimal")
            values = [v for row in rows if type(v := row.get(name)) in (int, float)] if numeric else []
            cells.append(convert(round(sum(values), 2)) if values else self.empty)
        cells[0] = "Total"
        return cells

    def _converter(self, name: str) -> Callable[[object], object]:
        form, empty, r = self.form, self.empty, self.r
        if name in ("commentaire", "observations"):
            texts, rate = (COMMENTS, 0.04) if name == "commentaire" else (OBSERVATIONS, 0.03)
            return lambda _: r.choice(texts) if r.random() < rate else empty
        if name == "matricule":
            if form.xlsx:
                return lambda v: v
            return str if form.strip_zeros else (lambda v: f"{v:07d}")
        if name == "commune":
            if form.communes == "mixte":
                return lambda v: empty if v is None else self.spellings[v][r.choice(COMMUNE_STYLES)]
            return lambda v: empty if v is None else self.spellings[v][form.communes]
        if name == "organisme":
            enum = self._enum()
            return lambda v: empty if form.caf_empty and v == "CAF" else enum(v)
        kind = self.dataset.column(name).type
        if kind == "date":
            return (lambda v: v) if form.xlsx else (lambda v: empty if v is None else format_date(v, form.dates))
        if kind == "int" or (form.xlsx and kind == "decimal"):
            return (lambda v: v) if form.xlsx else (lambda v: empty if v is None else str(v))
        if kind == "decimal":
            thousands = form.thousands if name == "montant_consomme_eur" else ""
            return lambda v: empty if v is None else format_decimal(v, form.decimal_comma, thousands)
        if kind == "enum":
            enum = self._enum()
            return lambda v: empty if v is None else enum(v)
        if kind == "list":
            item = self._enum() if self.dataset.column(name).values else str
            return lambda v: form.list_sep.join(item(i).strip() for i in v) if v else empty
        return lambda v: empty if v is None else v

    def _enum(self) -> Callable[[str], str]:
        if self.form.enums == "lower":
            return str.lower
        if self.form.enums == "padded":
            return lambda v: f" {v.lower()} "
        return str
