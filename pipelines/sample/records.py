"""The true rows of each dataset for one source and month, read off the simulated world.

Also where the 'reported, not blocked' cases are planted (a referent missing from ``conseillers``,
an unknown prescribed action code): those rows, and those of people moving between ALI, are
returned as ``protected`` so that no defect or omission lands on them.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from pipelines.sample.cells import Row
from pipelines.sample.partners import Partners
from pipelines.sample.population import AliPopulation
from pipelines.sample.staff import Staff
from pipelines.sample.timeline import Month

ENTRETIENS = (0, 1, 2, 3, 4, 5, 6)
ENTRETIENS_WEIGHTS = (20, 35, 25, 12, 5, 2, 1)
EXTRA_PRESCRIPTION = 0.03
UNKNOWN_REFERENT_FILES = 0.3
UNKNOWN_ACTION_FILES = 0.2

Records = tuple[list[Row], set[int], Counter[str]]


def beneficiaires(pop: AliPopulation, staff: Staff, month: Month, r: random.Random, codes: list[str]) -> Records:
    rows: list[Row] = []
    protected: set[int] = set()
    activity = (10, 80, 60) if month.year >= 2025 else (0, 60, 12)
    for p in pop.persons:
        ident = p.ident
        actions = p.prescriptions
        if codes and r.random() < EXTRA_PRESCRIPTION:
            actions += (r.choice(codes),)
        entrant = p.entree >= month.first
        contrat = p.contrat if p.contrat and p.contrat <= min(month.last, p.sortie or month.last) else None
        if p.moved:
            protected.add(len(rows))
        rows.append({
            "matricule": ident.matricule, "organisme": ident.organisme, "nom": ident.nom, "prenom": ident.prenom,
            "date_naissance": ident.naissance, "sexe": ident.sexe, "commune": p.commune,
            "date_orientation": p.orientation, "date_premier_rdv": p.premier_rdv, "date_entree": p.entree,
            "date_contrat": contrat, "date_sortie": p.sortie, "motif_sortie": p.motif, "referent": p.referent,
            "nb_entretiens": r.randint(1, 4) if entrant else r.choices(ENTRETIENS, ENTRETIENS_WEIGHTS)[0],
            "heures_activite": None if r.random() < 0.1 else round(r.triangular(*activity) * 2) / 2,
            "freins": p.freins, "actions": actions,
        })
    reported = Counter[str]()
    free = [i for i in range(len(rows)) if i not in protected]
    if free and r.random() < UNKNOWN_REFERENT_FILES:
        i = r.choice(free)
        rows[i]["referent"] = staff.unknown_referent(r)
        protected.add(i)
        reported["referent_absent_des_conseillers"] += 1
    free = [i for i in free if i not in protected]
    if free and r.random() < UNKNOWN_ACTION_FILES:
        i = r.choice(free)
        rows[i]["actions"] = (*rows[i]["actions"], f"A9{r.randint(0, 999):03d}")
        protected.add(i)
        reported["action_prescrite_inconnue"] += 1
    return rows, protected, reported


def conseillers(staff: Staff) -> Records:
    rows: list[Row] = [
        {"referent": a.referent, "fonction": a.fonction, "etp": a.etp, "date_arrivee": a.arrivee,
         "date_depart": a.depart}
        for a in staff.members
    ]
    return rows, set(), Counter()


def participations(partners: Partners, partner: str, month: Month, r: random.Random) -> Records:
    rows: list[Row] = []
    for action in partners.ref.actions_of(month.year, partner):
        low, high = partners.monthly_hours(action)
        for e in partners.states[action.code].enrolments:
            start: date = max(e.entree, month.first)
            attended = ((e.sortie or month.last) - start).days + 1
            hours = round(r.uniform(low, high) * attended / month.days * 2) / 2
            rows.append({
                "matricule": e.ident.matricule, "organisme": e.ident.organisme, "code_action": action.code,
                "date_entree": e.entree, "date_sortie": e.sortie, "resultat_sortie": e.resultat,
                "heures_realisees": None if r.random() < 0.05 else hours,
            })
    return rows, set(), Counter()


def actions(partners: Partners, partner: str, month: Month, r: random.Random) -> Records:
    """Month-end state of the partner's catalogue actions; amounts are the catalogue's, whatever the scale."""
    rows: list[Row] = []
    for action in partners.ref.actions_of(month.year, partner):
        state = partners.states[action.code]
        rows.append({
            "code_action": action.code, "places_conventionnees": state.places, "places_occupees": state.occupees,
            "montant_consomme_eur": round(action.budget / 12 * r.uniform(0.75, 1.2), 2),
        })
    return rows, set(), Counter()
