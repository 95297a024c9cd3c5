"""Département-wide parcours figures, read from the marts: what the refresh prints, what the marts'
materializations show as their headline and what the report's Parcours section draws.

A département ratio is the sum of the ALI rows' numerators over the sum of their denominators
(rows of ALI that did not deliver are NULL and add nothing), so it reconciles with the ALI rows; the
labels are the marts' own (``figures.definition``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pipelines.publication.figures import affiche, definition, nombre

HORIZONS = (6, 12)
"""Months of hindsight of mart_parcours_cohortes' exit figures."""


class Cohorte(NamedTuple):
    cohorte: dt.date
    horizon: int
    entrants: int
    sortis_positifs: int

    @property
    def taux(self) -> float | None:
        return self.sortis_positifs / self.entrants if self.entrants else None


class Frein(NamedTuple):
    frein: str
    personnes: int
    orientees: int
    en_action: int

    @property
    def taux_orientation(self) -> float | None:
        return self.orientees / self.personnes if self.personnes else None

    @property
    def taux_en_action(self) -> float | None:
        return self.en_action / self.personnes if self.personnes else None


def cohortes_matures(con) -> list[Cohorte]:
    """Every cohort mature at 6 (resp. 12) months that some ALI reported, oldest first, with its
    département figures."""
    found = []
    for horizon in HORIZONS:
        rows = con.execute(
            f"SELECT cohorte, sum(entrants), sum(sortis_positifs_{horizon}m) FROM marts.mart_parcours_cohortes "
            f"WHERE mature_{horizon}m GROUP BY cohorte HAVING sum(entrants) IS NOT NULL ORDER BY cohorte").fetchall()
        found += [Cohorte(c, horizon, int(e or 0), int(s or 0)) for c, e, s in rows]
    return found


def derniere_cohorte(con, horizon: int) -> Cohorte | None:
    mature = [c for c in cohortes_matures(con) if c.horizon == horizon]
    return mature[-1] if mature else None


def freins_du_mois(con, month: str) -> list[Frein]:
    """Each frein's département figures for ``month`` (YYYY-MM), in the contract's order of the mart."""
    rows = con.execute(
        "SELECT frein, sum(personnes), sum(personnes_orientees), sum(personnes_en_action) "
        "FROM marts.mart_freins_mensuel WHERE strftime(periode, '%Y-%m') = ? GROUP BY frein ORDER BY frein",
        [month]).fetchall()
    return [Frein(f, int(p or 0), int(o or 0), int(a or 0)) for f, p, o, a in rows]


def lignes_resume(con, month: str) -> list[str]:
    """The refresh's parcours lines: the last mature cohorts' positive-exit rates, barriers' orientation."""
    lines = ["Parcours :"]
    for horizon in HORIZONS:
        last = derniere_cohorte(con, horizon)
        label = definition("mart_parcours_cohortes", f"taux_sorties_positives_{horizon}m").libelle
        lines.append(f"  {label:<40} " + (f"{affiche('taux', last.taux)} (cohorte {last.cohorte:%Y-%m}, "
                                          f"{nombre(last.entrants)} entrants)" if last else "aucune cohorte mûre"))
    freins = freins_du_mois(con, month)
    if freins:
        lines.append(f"  {definition('mart_freins_mensuel', 'taux_orientation').libelle} par frein ({month}) :")
        lines += [f"    {f.frein:<15} {affiche('taux', f.taux_orientation):>8}  ({nombre(f.personnes)} personnes)"
                  for f in freins]
    return lines


def chiffre_cle(con, mart: str) -> dict[str, str | float]:
    """The headline figure shown on a mart's materialization (none for a mart without one)."""
    if mart == "mart_parcours_cohortes":
        last = derniere_cohorte(con, HORIZONS[0])
        if last and last.taux is not None:
            return {"chiffre_cle": (
                f"cohorte {last.cohorte:%Y-%m} : {affiche('taux', last.taux)} de sorties positives à 6 mois"),
                "taux_sorties_positives_6m": (last.taux)}
    if mart == "mart_freins_mensuel":
        row = con.execute("SELECT strftime(max(periode), '%Y-%m') FROM marts.mart_freins_mensuel "
                          "WHERE personnes IS NOT NULL").fetchone()
        freins = freins_du_mois(con, row[0]) if row and row[0] else []
        personnes, orientees = sum(f.personnes for f in freins), sum(f.orientees for f in freins)
        if personnes:
            return {"chiffre_cle": (
                f"{row[0]} : {affiche('taux', orientees / personnes)} des freins ont une action qui y répond"),
                "taux_orientation": (orientees / personnes)}
    if mart == "mart_actions_mensuel":
        row = con.execute("SELECT strftime(periode, '%Y-%m'), sum(prescrits_entres_3m), sum(prescrits) "
                          "FROM marts.mart_actions_mensuel WHERE prescrits_entres_3m IS NOT NULL "
                          "GROUP BY periode ORDER BY periode DESC LIMIT 1").fetchone()
        if row and row[2]:
            return {"chiffre_cle": (
                f"{row[0]} : {affiche('taux', row[1] / row[2])} des prescriptions concrétisées sous 3 mois"),
                "taux_concretisation_3m": (row[1] / row[2])}
    return {}
