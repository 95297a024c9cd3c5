"""The people accompanied by one ALI, month after month.

A person persists: same matricule, organisme, name and birth date in every month and every file
while accompanied; enters on a ``date_entree`` of the month, leaves with a ``date_sortie`` and a
motif (~2–4 % a month), and sometimes moves to another ALI (a sortie here, an entrée there, the
same month). Sizes follow the press release: ~15k people accompanied in 2023, ~31k once all 22
ALI are open, split by commune population.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import accumulate

from pipelines.contract import FREINS, MOTIFS_SORTIE
from pipelines.sample.reference import PIERREFITTE, PIERREFITTE_SHARE, Ali, Commune
from pipelines.sample.timeline import Month, random_day, rng

# Every name is encodable in Windows-1252 (cp1252 senders must be able to write it) and many carry
# é, è, ç, œ or ’ (0x92 in cp1252): a file read with the wrong encoding shows it at once.
PRENOMS_F = (
    "Aïcha", "Amélie", "Aminata", "Anaïs", "Bénédicte", "Céline", "Chloé", "Fatoumata", "Fatima",
    "Hélène", "Inès", "Kadiatou", "Léa", "Leïla", "Mariam", "Marie-Thérèse", "Maëlle", "Nadège",
    "Naïma", "Noémie", "Océane", "Rokia", "Salomé", "Sandrine", "Sophie", "Thérèse", "Yasmine",
    "Zoé", "Françoise", "Agnès", "Élodie", "Gaëlle", "Jacqueline", "Linda", "Awa", "Nour",
)
PRENOMS_M = (
    "Abdoulaye", "Ahmed", "Alexandre", "André", "Bakary", "Benoît", "Cédric", "Clément", "Djibril",
    "Éric", "François", "Frédéric", "Gaël", "Grégoire", "Hervé", "Ibrahima", "Jérôme", "José",
    "Karim", "Loïc", "Mamadou", "Mehdi", "Moussa", "Noël", "Olivier", "Rachid", "Raphaël", "Rémi",
    "Sébastien", "Stéphane", "Théo", "Yannick", "Youssef", "Zinédine", "Jean-Noël", "Ousmane",
)
NOMS = (
    "N’Diaye", "D’Almeida", "Diallo", "Traoré", "Coulibaly", "Camara", "Koné", "Benali", "Haddad",
    "Lefèvre", "Lemaître", "Mercier", "Crèvecœur", "Lebœuf", "Desœuvre", "Martin", "Bernard",
    "Dubois", "Durand", "Moreau", "Garnier", "Fontaine", "Rousseau", "Gauthier", "Chevalier",
    "François", "Ferreira", "Gonçalves", "Da Silva", "Nguyen", "Tran", "Benhaddou", "Belkacem",
    "Mansouri", "Kanté", "Sissoko", "Doucouré", "Boucher", "Brûlé", "Gagné", "Hénault",
    "L’Hôte", "Dupré", "Bégué", "Zidane", "Mbappé", "Ouédraogo", "Sané", "Pépin", "Cœurderoy",
)
MOTIF_WEIGHTS = tuple(accumulate((12, 14, 8, 3, 15, 8, 10, 18, 12)))
"""Cumulative weights aligned on MOTIFS_SORTIE: ~37 % positive exits."""
MOVE_MOTIFS = ("REORIENTATION", "DEMENAGEMENT")
TRANSFER_RATE = 0.0012
RETURN_RATE = 0.015
"""Monthly chance that someone who left (not for another ALI) comes back to the same ALI, from 45 days
to a year after the exit: a new passage (date_entree, contract) of the same person."""
RAMP = (Month(2023, 3), Month(2026, 6))
ACCOMPANIED = (14_500, 31_000)
"""People accompanied by all ALI at the start and at the end of the ramp (scale 1)."""
MATRICULE_SPACE = 10**7
MATRICULE_SLOTS = 32


def territory_target(month: Month, scale: float) -> float:
    """People the whole territory's ALI aim to accompany in ``month``."""
    span = RAMP[1].index() - RAMP[0].index()
    progress = min(max((month.index() - RAMP[0].index()) / span, 0.0), 1.0)
    return scale * (ACCOMPANIED[0] + (ACCOMPANIED[1] - ACCOMPANIED[0]) * progress)


def _permute(n: int) -> int:
    """A bijection of [0, 10^7): a 4-round Feistel network on 24 bits, cycle-walking back into range."""
    while True:
        left, right = n >> 12, n & 0xFFF
        for key in (0x5A3, 0x1C7, 0xE29, 0x3B5):
            left, right = right, left ^ (((right * 0x9E3779B1 + key) >> 11) & 0xFFF)
        n = left << 12 | right
        if n < MATRICULE_SPACE:
            return n


class Matricules:
    """Unique 7-digit allocataire numbers, one disjoint stream per slot (an ALI, or partners).

    A permutation of [0, 10^7) scatters the numbers, so ~10 % start with a zero (which Excel and
    some exports then strip) and no two neighbours look alike.
    """

    def __init__(self, slot: int) -> None:
        if not 0 <= slot < MATRICULE_SLOTS:
            raise ValueError(f"matricule slot out of range: {slot}")
        self.slot, self.counter = slot, 0

    def next(self) -> int:
        while True:
            n = self.counter * MATRICULE_SLOTS + self.slot
            self.counter += 1
            if n >= MATRICULE_SPACE:
                raise ValueError("population too large for 7-digit matricules: lower the scale")
            value = _permute(n)
            if value >= 1000:
                return value


class Identity:
    """Who a person is, shared by every accompaniment and enrolment of that person."""

    __slots__ = ("matricule", "organisme", "nom", "prenom", "naissance", "sexe", "busy")

    def __init__(self, r: random.Random, matricules: Matricules) -> None:
        self.matricule = matricules.next()
        self.organisme = "MSA" if r.random() < 0.02 else "CAF"
        self.sexe = "F" if r.random() < 0.55 else "M"
        self.prenom = r.choice(PRENOMS_F if self.sexe == "F" else PRENOMS_M)
        self.nom = r.choice(NOMS)
        self.naissance = random_day(r, date(1961, 1, 1), date(2001, 12, 31))
        self.busy = 0
        """Partner actions the person is enrolled in."""


class Person:
    """One accompaniment of one identity by one ALI."""

    __slots__ = ("ident", "commune", "orientation", "premier_rdv", "entree", "contrat", "sortie",
                 "motif", "referent", "freins", "prescriptions", "moved")

    def __init__(self, ident: Identity, commune: str, orientation: date, premier_rdv: date | None,
                 entree: date, contrat: date | None, freins: tuple[str, ...]) -> None:
        self.ident, self.commune, self.orientation = ident, commune, orientation
        self.premier_rdv, self.entree, self.contrat, self.freins = premier_rdv, entree, contrat, freins
        self.sortie: date | None = None
        self.motif: str | None = None
        self.referent = ""
        self.prescriptions: tuple[str, ...] = ()
        self.moved = False
        """Leaves for, or arrives from, another ALI this month (reported, kept clean)."""


def _freins(r: random.Random) -> tuple[str, ...]:
    chosen = set(r.sample(FREINS, r.choices((0, 1, 2, 3), (25, 35, 25, 15))[0]))
    return tuple(f for f in FREINS if f in chosen)


class AliPopulation:
    """The people one ALI accompanies; ``persons`` holds everyone present during the month."""

    def __init__(self, ali: Ali, communes: dict[str, Commune], slot: int) -> None:
        self.ali = ali
        self.share = sum(communes[c].population for c in ali.communes) / sum(c.population for c in communes.values())
        """The ALI's part of the territory's population, hence of the people to accompany."""
        self.matricules = Matricules(slot)
        homes: dict[str, float] = {code: communes[code].population for code in ali.communes}
        if "93066" in homes:
            homes[PIERREFITTE[0]] = homes["93066"] * PIERREFITTE_SHARE
            homes["93066"] -= homes[PIERREFITTE[0]]
        self.homes = tuple(homes)
        self.home_weights = tuple(accumulate(homes.values()))
        self.elsewhere = tuple(sorted(communes))
        self.exit_rate = rng("exit-rate", ali.code).uniform(0.022, 0.038)
        self.persons: list[Person] = []
        self.former: list[Person] = []
        """Who left this ALI within the last year (not for another ALI): they may come back."""

    def is_open(self, month: Month) -> bool:
        return self.ali.ouverture <= month.last

    def home(self, r: random.Random) -> str:
        if r.random() < 0.02:
            return r.choice(self.elsewhere)
        return r.choices(self.homes, cum_weights=self.home_weights)[0]

    def start_month(self, r: random.Random) -> None:
        """Forget last month's leavers; let a few people's obstacles (freins) change."""
        self.former += [p for p in self.persons if p.sortie is not None and not p.moved]
        self.persons = [p for p in self.persons if p.sortie is None]
        for p in self.persons:
            p.prescriptions, p.moved = (), False
            if r.random() < 0.02:
                p.freins = _freins(r)

    def exits(self, month: Month, r: random.Random) -> list[Person]:
        """Close ~exit_rate of the accompaniments; return those leaving for another ALI."""
        movers = []
        for p in self.persons:
            if p.sortie is not None or p.entree >= month.first:
                continue
            u = r.random()
            if u < self.exit_rate:
                p.sortie = random_day(r, month.first, month.last)
                p.motif = r.choices(MOTIFS_SORTIE, cum_weights=MOTIF_WEIGHTS)[0]
            elif u < self.exit_rate + TRANSFER_RATE:
                p.sortie = random_day(r, month.first, month.last)
                p.motif, p.moved = r.choice(MOVE_MOTIFS), True
                movers.append(p)
        return movers

    def welcome(self, leaver: Person, month: Month, r: random.Random) -> Person:
        """The same identity entering this ALI the month it left another one."""
        assert leaver.sortie is not None
        entree = min(leaver.sortie + timedelta(days=r.randint(0, 7)), month.last)
        orientation = random_day(r, max(month.first, leaver.sortie - timedelta(days=10)), leaver.sortie)
        commune = self.home(r) if leaver.motif == "DEMENAGEMENT" else leaver.commune
        person = Person(leaver.ident, commune, orientation, entree, entree, self._contrat(r, entree), leaver.freins)
        person.moved = True
        return person

    def entries(self, month: Month, r: random.Random, target: float, incoming: list[Person]) -> None:
        """Newcomers: 40 % of the target at opening (people from the PIE), then fill the gap."""
        opening = month == Month.of(self.ali.ouverture)
        self.persons.extend(incoming)
        if opening:
            count = round(target * 0.4)
        else:
            staying = sum(1 for p in self.persons if p.sortie is None)
            count = max(0, round(min(target - staying, 0.12 * target) * r.uniform(0.85, 1.1)))
        start = max(month.first, self.ali.ouverture)
        returning = self._returning(month, rng("returns", month, self.ali.code), start)
        self.persons.extend(returning)
        for _ in range(max(0, count - len(returning))):
            self.persons.append(self._newcomer(r, month, start, opening))

    def _returning(self, month: Month, r: random.Random, start: date) -> list[Person]:
        """Former people of this ALI coming back this month, each with a new passage."""
        self.former = [p for p in self.former if p.sortie and (month.first - p.sortie).days <= 365]
        back = [p for p in self.former if (month.first - p.sortie).days >= 45 and r.random() < RETURN_RATE]
        self.former = [p for p in self.former if p not in back]
        returning = []
        for old in back:
            entree = random_day(r, start, month.last)
            orientation = max(old.sortie, entree - timedelta(days=r.randint(5, 40)))
            returning.append(Person(old.ident, old.commune, orientation, entree, entree, self._contrat(r, entree),
                                    _freins(r)))
        return returning

    def _newcomer(self, r: random.Random, month: Month, start: date, from_pie: bool) -> Person:
        entree = random_day(r, start, month.last)
        rdv = max(start, entree - timedelta(days=r.randint(0, 10)))
        if from_pie:
            orientation = rdv - timedelta(days=r.randint(30, 240))
        else:
            orientation = rdv - timedelta(days=min(2 + int(r.expovariate(1 / 18)), 75))
        premier_rdv = None if r.random() < 0.05 else rdv
        ident = Identity(r, self.matricules)
        return Person(ident, self.home(r), orientation, premier_rdv, entree, self._contrat(r, entree), _freins(r))

    @staticmethod
    def _contrat(r: random.Random, entree: date) -> date | None:
        """Most people sign their contrat d'engagement 2 weeks to 2½ months after entering."""
        return entree + timedelta(days=r.randint(15, 75)) if r.random() < 0.85 else None
