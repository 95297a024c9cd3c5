"""The reference data the generator draws its world from (``data/reference/*.csv``).

Read with the csv module so the generator depends on nothing but the files: a new ALI, partner or
catalogue action in the reference is picked up without a code change.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PIERREFITTE = ("93059", "Pierrefitte-sur-Seine")
"""Merged into Saint-Denis (93066) on 2025-01-01; senders still write its old code or name."""
PIERREFITTE_SHARE = 0.22
"""Share of Saint-Denis' merged population living in former Pierrefitte (≈ 31k of 141k)."""


@dataclass(frozen=True)
class Commune:
    code: str
    nom: str
    population: int
    ept: str


@dataclass(frozen=True)
class Ali:
    code: str
    nom: str
    communes: tuple[str, ...]
    ouverture: date


@dataclass(frozen=True)
class CatalogueAction:
    code: str
    partenaire: str
    thematique: str
    annee: int
    places: int
    budget: float


@dataclass(frozen=True)
class Partner:
    code: str
    thematique: str
    territoire: str
    """An EPT name, or ``Département`` for a partner serving every ALI."""


@dataclass(frozen=True)
class Reference:
    alis: tuple[Ali, ...]
    communes: dict[str, Commune]
    partners: tuple[Partner, ...]
    catalogue: dict[tuple[int, str], tuple[CatalogueAction, ...]]
    """(year, partner code) → the partner's actions of that year."""
    answers: dict[str, frozenset[str]]
    """Thématique → the freins its actions answer (freins_thematiques.csv)."""

    def actions_of(self, year: int, partner: str) -> tuple[CatalogueAction, ...]:
        return self.catalogue.get((year, partner), ())

    def codes_of_year(self, year: int) -> list[str]:
        return sorted(a.code for (y, _), actions in self.catalogue.items() if y == year for a in actions)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_reference(directory: Path) -> Reference:
    communes = {
        r["code_insee"]: Commune(r["code_insee"], r["nom"], int(r["population_municipale"]), r["ept"])
        for r in _rows(directory / "communes_93.csv")
    }
    alis = tuple(
        Ali(r["code_ali"], r["nom"], tuple(r["communes"].split("|")), date.fromisoformat(r["date_ouverture"]))
        for r in _rows(directory / "ali.csv")
    )
    partners = tuple(
        Partner(r["code_partenaire"], r["thematique"], r["territoire"]) for r in _rows(directory / "partenaires.csv")
    )
    catalogue: dict[tuple[int, str], list[CatalogueAction]] = {}
    for r in _rows(directory / "actions.csv"):
        action = CatalogueAction(
            r["code_action"], r["code_partenaire"], r["thematique"], int(r["annee"]),
            int(r["places_conventionnees"]), float(r["budget_annuel_eur"]),
        )
        catalogue.setdefault((action.annee, action.partenaire), []).append(action)
    answers: dict[str, set[str]] = {}
    for r in _rows(directory / "freins_thematiques.csv"):
        answers.setdefault(r["thematique"], set()).add(r["frein"])
    return Reference(
        answers={t: frozenset(f) for t, f in answers.items()},
        alis=tuple(sorted(alis, key=lambda a: a.code)),
        communes=communes,
        partners=tuple(sorted(partners, key=lambda p: p.code)),
        catalogue={key: tuple(sorted(v, key=lambda a: a.code)) for key, v in sorted(catalogue.items())},
    )
