"""The simulated territory: every ALI's people and team, every partner's actions, one month at a time.

Only the current state is held (people accompanied now, advisers present now, enrolments running
now): memory grows with the population, not with the history, so a national-size run streams.
"""

from __future__ import annotations

from collections import defaultdict

from pipelines.sample.partners import Partners
from pipelines.sample.population import AliPopulation, Identity, Person, territory_target
from pipelines.sample.reference import Reference
from pipelines.sample.staff import Staff
from pipelines.sample.timeline import Month, rng


class World:
    def __init__(self, ref: Reference, scale: float) -> None:
        self.ref, self.scale = ref, scale
        self.populations = {
            ali.code: AliPopulation(ali, ref.communes, slot) for slot, ali in enumerate(ref.alis, start=1)
        }
        self.staff = {ali.code: Staff(ali) for ali in ref.alis}
        self.partners = Partners(ref, scale)
        self.first_month = min(Month.of(ali.ouverture) for ali in ref.alis)
        self.transfers: list[tuple[Identity, str, str]] = []
        """(who, from ALI, to ALI) of the current month: people present in two ALI."""
        self.ept = {ali.code: ref.communes[ali.communes[0]].ept for ali in ref.alis}

    def open_populations(self, month: Month) -> list[AliPopulation]:
        return [pop for pop in self.populations.values() if pop.is_open(month)]

    def step(self, month: Month) -> None:
        """Exits and moves first (all ALI), then entries, teams and referents, then partner actions."""
        opened = self.open_populations(month)
        movers: list[tuple[Person, str]] = []
        for pop in opened:
            pop.start_month(rng("start", month, pop.ali.code))
            movers += [(p, pop.ali.code) for p in pop.exits(month, rng("exits", month, pop.ali.code))]
        incoming: dict[str, list[Person]] = defaultdict(list)
        self.transfers = []
        for leaver, origin in movers:
            r = rng("move", month, origin, leaver.ident.matricule)
            destinations = [pop for pop in opened if pop.ali.code != origin]
            if destinations:
                destination = r.choice(destinations)
                incoming[destination.ali.code].append(destination.welcome(leaver, month, r))
                self.transfers.append((leaver.ident, origin, destination.ali.code))
            else:
                leaver.moved = False
        pools: dict[str, list[Person]] = defaultdict(list)
        everyone: list[Person] = []
        for pop in opened:
            code = pop.ali.code
            target = territory_target(month, self.scale) * pop.share
            pop.entries(month, rng("entries", month, code), target, incoming[code])
            self.staff[code].step(month, rng("team", month, code), target)
            self.staff[code].assign(pop.persons, rng("referents", month, code))
            staying = [p for p in pop.persons if p.sortie is None]
            pools[self.ept[code]] += staying
            everyone += staying
        self.partners.step(month, pools, everyone, backfill=month == self.first_month)
