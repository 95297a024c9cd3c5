"""Partner actions month after month: places, occupancy, who is enrolled.

Each catalogue action keeps its participants across months (and years) until their planned end or
an abandon. Places are filled to a realistic 60–95 % occupancy with people currently accompanied
by an ALI of the partner's territory (so matricules overlap with ``beneficiaires``), or, when the
ALI are still few (2023), with people followed elsewhere (PIE): fresh matricules.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import accumulate

from pipelines.contract import RESULTATS_SORTIE
from pipelines.sample.population import Identity, Matricules, Person
from pipelines.sample.reference import CatalogueAction, Reference
from pipelines.sample.timeline import Month, random_day, rng

DURATION_DAYS = {
    "ACCES_DROITS": (30, 120), "ESTIME_DE_SOI": (30, 90), "SANTE": (60, 180), "VIE_QUOTIDIENNE": (60, 180),
    "INSERTION_SOCIO_PRO": (90, 270), "NUMERIQUE": (30, 90), "FRANCAIS": (90, 270), "FORMATION": (90, 270),
    "ENTREPRENEURIAT": (90, 365), "IAE": (120, 720), "PASSERELLE_ENTREPRISE": (30, 90),
    "CLAUSES_SOCIALES": (90, 365),
}
MONTHLY_HOURS = {"IAE": (80, 140), "FORMATION": (60, 120), "FRANCAIS": (24, 60), "PASSERELLE_ENTREPRISE": (40, 100)}
RESULT_WEIGHTS = {
    "IAE": (35, 10, 2, 35, 10, 8), "FORMATION": (20, 25, 1, 40, 10, 4), "ENTREPRENEURIAT": (10, 5, 35, 35, 10, 5),
    "PASSERELLE_ENTREPRISE": (55, 10, 0, 25, 7, 3), "CLAUSES_SOCIALES": (60, 5, 0, 25, 5, 5),
}
"""Weights aligned on RESULTATS_SORTIE (EMPLOI, FORMATION, CREATION_ENTREPRISE, FIN_ACTION, ABANDON, AUTRE)."""
DEFAULT_RESULTS = (8, 6, 1, 70, 10, 5)
MONTHLY_ABANDON = 0.025
MAX_ACTIONS_PER_PERSON = 2


class Enrolment:
    __slots__ = ("ident", "entree", "fin", "sortie", "resultat")

    def __init__(self, ident: Identity, entree: date, fin: date) -> None:
        self.ident, self.entree, self.fin = ident, entree, fin
        self.sortie: date | None = None
        self.resultat: str | None = None


class ActionState:
    """One action's participants and its month-end figures."""

    __slots__ = ("code", "enrolments", "members", "places", "occupees")

    def __init__(self, code: str) -> None:
        self.code = code
        self.enrolments: list[Enrolment] = []
        self.members: set[Identity] = set()
        self.places = 0
        self.occupees = 0


class Partners:
    def __init__(self, ref: Reference, scale: float) -> None:
        self.ref, self.scale = ref, scale
        self.outsiders = Matricules(0)
        self.states: dict[str, ActionState] = {}

    def places(self, action: CatalogueAction, month: Month) -> int:
        """Catalogue places (scaled), occasionally amended from some month of the year on."""
        base = max(1, round(action.places * self.scale)) if action.places else 0
        r = rng("amendment", action.code, action.annee)
        if r.random() < 0.06 and month.month >= r.randint(2, 12):
            return round(base * r.choice((0.9, 1.1, 1.2)))
        return base

    def step(self, month: Month, pools: dict[str, list[Person]], everyone: list[Person], backfill: bool) -> None:
        """Advance every partner's actions; ``backfill`` starts enrolments before the first month."""
        current: set[str] = set()
        for partner in self.ref.partners:
            r = rng("partner", month, partner.code)
            pool = everyone if partner.territoire not in pools else pools[partner.territoire]
            for action in self.ref.actions_of(month.year, partner.code):
                current.add(action.code)
                state = self.states.setdefault(action.code, ActionState(action.code))
                self._step_action(state, action, month, r, pool, backfill)
        for code in sorted(set(self.states) - current):
            for e in self.states.pop(code).enrolments:
                e.ident.busy -= 1

    def _step_action(self, state: ActionState, action: CatalogueAction, month: Month, r: random.Random,
                     pool: list[Person], backfill: bool) -> None:
        for e in state.enrolments:
            if e.sortie is not None:
                e.ident.busy -= 1
                state.members.discard(e.ident)
        state.enrolments = [e for e in state.enrolments if e.sortie is None]
        weights = tuple(accumulate(RESULT_WEIGHTS.get(action.thematique, DEFAULT_RESULTS)))
        for e in state.enrolments:
            if e.fin <= month.last:
                e.sortie = max(e.fin, month.first)
                e.resultat = r.choices(RESULTATS_SORTIE, cum_weights=weights)[0]
            elif r.random() < MONTHLY_ABANDON:
                e.sortie, e.resultat = random_day(r, max(month.first, e.entree), month.last), "ABANDON"
        state.places = self.places(action, month)
        staying = sum(1 for e in state.enrolments if e.sortie is None)
        if state.places:
            occupancy = rng("occupancy", action.code, action.annee).uniform(0.6, 0.95) + r.uniform(-0.04, 0.04)
            wanted = round(state.places * min(occupancy, 0.98))
        else:
            wanted = round(self.scale * rng("followed", action.code).randint(3, 12))
        low, high = DURATION_DAYS.get(action.thematique, (60, 180))
        for _ in range(wanted - staying):
            days = r.randint(low, high)
            if backfill:
                entree = month.first + timedelta(days=r.randint(1 - days, month.days - 1))
            else:
                entree = random_day(r, month.first, month.last)
            ident = self._participant(r, pool, state, prescribed=entree >= month.first,
                                      answered=self.ref.answers.get(action.thematique, frozenset()))
            state.enrolments.append(Enrolment(ident, entree, entree + timedelta(days=days)))
            state.members.add(ident)
            ident.busy += 1
        state.occupees = max(staying, wanted) if state.places else 0

    def _participant(self, r: random.Random, pool: list[Person], state: ActionState, prescribed: bool,
                     answered: frozenset[str]) -> Identity:
        """Someone accompanied by an ALI (the action then shows in their prescriptions), else an outsider.

        Advisers prescribe for a reason: among a few people who could join, one whose freins the
        action's thématique answers goes first (LANGUE to a French course), else the first one."""
        candidates = [pool[r.randrange(len(pool))] for _ in range(6 if pool else 0)]
        free = [p for p in candidates if p.ident.busy < MAX_ACTIONS_PER_PERSON and p.ident not in state.members]
        if not free:
            return Identity(r, self.outsiders)
        person = next((p for p in free if answered.intersection(p.freins)), free[0])
        if prescribed:
            person.prescriptions += (state.code,)
        return person.ident

    @staticmethod
    def monthly_hours(action: CatalogueAction) -> tuple[int, int]:
        return MONTHLY_HOURS.get(action.thematique, (4, 30))
