"""Invalid rows on purpose: each breaks exactly one rule of contract §3–4, so it must be quarantined.

A file gets ~0.4–3 % of them. Every defect is one change to one clean row (so counts by kind are
exact); a duplicate is an extra, otherwise valid copy of a clean row placed after it (the copy is
the quarantined one). Rows the generator reports on (people in two ALI, unknown referents or
prescribed actions) are never touched.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pipelines.contract import DATASETS
from pipelines.sample.cells import Raw, Row
from pipelines.sample.forms import Form
from pipelines.sample.timeline import Month

DUPLICATE = "doublon_cle"
DUPLICATE_SHARE = 0.12
IMPOSSIBLE_DATE_COLUMN = {
    "beneficiaires": "date_naissance", "conseillers": "date_arrivee", "participations": "date_entree",
}
EXIT_REASON = {"beneficiaires": ("motif_sortie", "AUTRE"), "participations": ("resultat_sortie", "FIN_ACTION")}
BAD_ENUM = {"beneficiaires": ("sexe", "X"), "conseillers": ("fonction", "DIRECTEUR"),
            "participations": ("resultat_sortie", "REUSSITE")}
BAD_NUMBER = {"beneficiaires": "nb_entretiens", "participations": "heures_realisees", "actions": "places_occupees"}


@dataclass(frozen=True)
class Context:
    dataset: str
    month: Month
    form: Form
    columns: frozenset[str]
    """The columns the file has: a defect in a column the source does not send would not show."""
    foreign_codes: tuple[str, ...]
    """Action codes of other partners (the same year)."""


Defect = Callable[[Row, Context, random.Random], bool]


def _matricule(row: Row, ctx: Context, r: random.Random) -> bool:
    if "matricule" not in row:
        return False
    digits = f"{row['matricule']:07d}"
    row["matricule"] = Raw(str(10_000_000 + int(digits)) if r.random() < 0.5 else digits[:3] + "B" + digits[4:])
    return True


def _required_empty(row: Row, ctx: Context, r: random.Random) -> bool:
    dataset = DATASETS[ctx.dataset]
    row[r.choice([c.name for c in dataset.columns if c.required and c.name not in dataset.key])] = None
    return True


def _impossible_date(row: Row, ctx: Context, r: random.Random) -> bool:
    column = IMPOSSIBLE_DATE_COLUMN.get(ctx.dataset)
    if column is None:
        return False
    year = row[column].year
    row[column] = Raw(f"{year}-13-01" if ctx.form.dates == "iso" and not ctx.form.xlsx else f"31/02/{year}")
    return True


def _exit_outside_month(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset not in EXIT_REASON or row["date_sortie"] is not None:
        return False
    reason, value = EXIT_REASON[ctx.dataset]
    row["date_sortie"], row[reason] = ctx.month.last + timedelta(days=r.randint(1, 20)), value
    return True


def _exit_before_entry(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset not in EXIT_REASON or row["date_entree"] <= ctx.month.first:
        return False
    reason, _ = EXIT_REASON[ctx.dataset]
    row["date_sortie"], row[reason] = row["date_entree"] - timedelta(days=1), "ABANDON"
    return True


def _entry_after_month(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset not in EXIT_REASON or row["date_sortie"] is not None:
        return False
    row["date_entree"] = ctx.month.last + timedelta(days=r.randint(1, 15))
    return True


def _rdv_before_orientation(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset != "beneficiaires" or "date_premier_rdv" not in ctx.columns:
        return False
    row["date_premier_rdv"] = row["date_orientation"] - timedelta(days=r.randint(1, 20))
    return True


def _exit_without_reason(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset not in EXIT_REASON or row["date_sortie"] is None:
        return False
    row[EXIT_REASON[ctx.dataset][0]] = None
    return True


def _bad_enum(row: Row, ctx: Context, r: random.Random) -> bool:
    column, value = BAD_ENUM.get(ctx.dataset, ("", ""))
    if column not in ctx.columns or row[column] is None:
        return False
    row[column] = Raw(value)
    return True


def _bad_list_item(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset != "beneficiaires" or "freins" not in ctx.columns:
        return False
    row["freins"] = (*row["freins"], "TRANSPORT")
    return True


def _commune_outside(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset != "beneficiaires":
        return False
    row["commune"] = Raw(r.choice(("75056", "Paris", "94068")))
    return True


def _bad_number(row: Row, ctx: Context, r: random.Random) -> bool:
    column = BAD_NUMBER.get(ctx.dataset)
    if column not in ctx.columns:
        return False
    fraction = "1,5" if ctx.form.decimal_comma or ctx.form.xlsx else "1.5"
    row[column] = Raw(fraction if column != "heures_realisees" and r.random() < 0.5 else "-2")
    return True


def _bad_etp(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset != "conseillers":
        return False
    row["etp"] = r.choice((0.0, 1.2))
    return True


def _departure_before_arrival(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset != "conseillers":
        return False
    row["date_depart"] = row["date_arrivee"] - timedelta(days=r.randint(1, 30))
    return True


def _foreign_action(row: Row, ctx: Context, r: random.Random) -> bool:
    if ctx.dataset not in ("participations", "actions") or not ctx.foreign_codes:
        return False
    row["code_action"] = r.choice(ctx.foreign_codes)
    return True


DEFECTS: dict[str, Defect] = {
    "matricule_invalide": _matricule,
    "valeur_requise_vide": _required_empty,
    "date_impossible": _impossible_date,
    "date_sortie_hors_mois": _exit_outside_month,
    "date_sortie_avant_entree": _exit_before_entry,
    "date_entree_apres_mois": _entry_after_month,
    "rdv_avant_orientation": _rdv_before_orientation,
    "sortie_sans_motif": _exit_without_reason,
    "enum_invalide": _bad_enum,
    "liste_invalide": _bad_list_item,
    "commune_hors_93": _commune_outside,
    "nombre_invalide": _bad_number,
    "etp_hors_bornes": _bad_etp,
    "date_depart_avant_arrivee": _departure_before_arrival,
    "action_autre_partenaire": _foreign_action,
}


def corrupt(rows: list[Row], ctx: Context, r: random.Random, protected: set[int],
            minimum: int = 0) -> tuple[list[Row], Counter[str]]:
    """A copy of ``rows`` with ~0.4–3 % (at least ``minimum``) invalid rows, and their count by kind."""
    candidates = [i for i in range(len(rows)) if i not in protected]
    wanted = min(max(int(len(rows) * r.uniform(0.004, 0.03) + r.random()), minimum), len(candidates))
    out, counts = list(rows), Counter[str]()
    copies: dict[int, list[Row]] = {}
    for i in sorted(r.sample(candidates, wanted)):
        if r.random() < DUPLICATE_SHARE:
            copies.setdefault(r.randint(i, len(rows) - 1), []).append(rows[i])
            counts[DUPLICATE] += 1
            continue
        for kind in r.sample(list(DEFECTS), len(DEFECTS)):
            row = dict(rows[i])
            if DEFECTS[kind](row, ctx, r):
                out[i] = row
                counts[kind] += 1
                break
    return [row for i, row in enumerate(out) for row in (row, *copies.get(i, ()))], counts
