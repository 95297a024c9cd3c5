"""The advisers (conseillers) of one ALI: hired as the caseload grows, leaving now and then.

Accompaniment staff (CIP, travailleurs sociaux) follow the ALI's target population at 80–100
people per full-time equivalent, which takes the territory from ~170 ETP in 2023 to the 340 of the
2026 target; each ALI also has a coordinator and business-relations staff.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import accumulate

from pipelines.contract import FONCTIONS_ACCOMPAGNEMENT as ACCOMPAGNEMENT
from pipelines.sample.population import Person
from pipelines.sample.reference import Ali
from pipelines.sample.timeline import Month, random_day, rng

MONTHLY_DEPARTURE = 0.012
UNKNOWN_REFERENT = 9000
"""Referent numbers from here on are never hired: a beneficiary row naming one is 'reported'."""


class Adviser:
    __slots__ = ("referent", "fonction", "etp", "arrivee", "depart")

    def __init__(self, referent: str, fonction: str, etp: float, arrivee: date) -> None:
        self.referent, self.fonction, self.etp, self.arrivee = referent, fonction, etp, arrivee
        self.depart: date | None = None


class Staff:
    """Everyone on the ALI's team at any time of the current month (leavers included)."""

    def __init__(self, ali: Ali) -> None:
        r = rng("staff", ali.code)
        self.ali = ali
        self.template = r.choice(("C{n:03d}", "{code}-{n:03d}", "REF{n:04d}", "cip{n}"))
        self.caseload = r.uniform(80, 100)
        self.members: list[Adviser] = []
        self.hired = 0

    def referent(self, number: int) -> str:
        return self.template.format(n=number, code=self.ali.code)

    def unknown_referent(self, r: random.Random) -> str:
        return self.referent(UNKNOWN_REFERENT + r.randint(0, 999))

    def step(self, month: Month, r: random.Random, target: float) -> None:
        self.members = [a for a in self.members if a.depart is None or a.depart >= month.first]
        for a in self.members:
            if a.depart is None and a.arrivee < month.first and r.random() < MONTHLY_DEPARTURE:
                a.depart = random_day(r, month.first, month.last)
        need = target / self.caseload
        staffed = sum(a.etp for a in self.members if a.fonction in ACCOMPAGNEMENT and a.depart is None)
        while staffed < max(need - 0.3, 0.5):
            staffed += self._hire(month, r, r.choices(ACCOMPAGNEMENT, (60, 40))[0]).etp
        for fonction, wanted in (("COORDINATION", 1), ("CHARGE_RELATIONS_ENTREPRISES", max(1, round(need / 12)))):
            present = sum(1 for a in self.members if a.fonction == fonction and a.depart is None)
            for _ in range(wanted - present):
                self._hire(month, r, fonction)

    def _hire(self, month: Month, r: random.Random, fonction: str) -> Adviser:
        """Opening teams arrive in the two months before the ALI opens; later hires in the month."""
        opening = self.ali.ouverture
        if month == Month.of(opening):
            arrivee = random_day(r, opening - timedelta(days=60), opening)
        else:
            arrivee = random_day(r, max(month.first, opening), month.last)
        etp = 1.0 if fonction == "COORDINATION" else r.choices((1.0, 0.8, 0.5), (80, 12, 8))[0]
        self.hired += 1
        adviser = Adviser(self.referent(self.hired), fonction, etp, arrivee)
        self.members.append(adviser)
        return adviser

    def assign(self, persons: list[Person], r: random.Random) -> None:
        """Give a referent to newcomers and to the people whose referent has left."""
        present = {a.referent for a in self.members}
        available = [a for a in self.members if a.fonction in ACCOMPAGNEMENT and a.depart is None]
        referents = [a.referent for a in available]
        weights = tuple(accumulate(a.etp for a in available))
        for p in persons:
            if p.referent not in present:
                p.referent = r.choices(referents, cum_weights=weights)[0]
