"""One month of the inbox: every expected file, written in its source's form, at its reception time.

For each key (période, source, dataset): the true rows, the planted defects, the schedule (on time,
late, absent, corrected re-send) and the planted rejections; what was written is tallied so the
summary states exactly what the ingestion must find.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipelines.contract import DATASETS, DATASETS_BY_SOURCE_TYPE
from pipelines.sample import records, rejects, schedule
from pipelines.sample.cells import Layout, Row, commune_spellings
from pipelines.sample.faults import Context, corrupt
from pipelines.sample.forms import Form, file_name, form_for
from pipelines.sample.timeline import Month, rng
from pipelines.sample.world import World
from pipelines.sample.writers import render, write

NAME_CASES = ("title", "upper", "lower")
MAX_OMITTED = 3
"""Rows a first version forgets (at most a quarter of them) and its corrected re-send adds; a first
version too small to forget any gets at least one invalid row, fixed in the re-send."""


@dataclass
class Tally:
    files: int = 0
    rows: int = 0
    size: int = 0
    late: int = 0
    resends: int = 0
    absent: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)
    rejected_paths: list[tuple[str, str]] = field(default_factory=list)
    resent_paths: list[str] = field(default_factory=list)


class Deliverer:
    """Writes the months of ``world`` into ``out`` as received up to ``until`` (epoch seconds)."""

    def __init__(self, out: Path, world: World, until: int) -> None:
        self.out, self.world, self.until = out, world, until
        self.spellings = commune_spellings(world.ref.communes)
        self.tally = Tally()

    def deliver(self, month: Month) -> None:
        delivered: set[str] = set()
        codes = self.world.ref.codes_of_year(month.year)
        for pop in self.world.open_populations(month):
            for dataset in DATASETS_BY_SOURCE_TYPE["ALI"]:
                if self._key(month, pop.ali.code, dataset, codes) and dataset == "beneficiaires":
                    delivered.add(pop.ali.code)
        for partner in self.world.ref.partners:
            if self.world.ref.actions_of(month.year, partner.code):
                for dataset in DATASETS_BY_SOURCE_TYPE["PARTENAIRE"]:
                    self._key(month, partner.code, dataset, codes)
        moved = sum(1 for _, origin, target in self.world.transfers if {origin, target} <= delivered)
        self.tally.reported["personne_dans_deux_ali"] += moved

    def _records(self, month: Month, source: str, dataset: str, r: random.Random, codes: list[str]) -> records.Records:
        world = self.world
        if dataset == "beneficiaires":
            return records.beneficiaires(world.populations[source], world.staff[source], month, r, codes)
        if dataset == "conseillers":
            return records.conseillers(world.staff[source])
        if dataset == "participations":
            return records.participations(world.partners, source, month, r)
        return records.actions(world.partners, source, month, r)

    def _key(self, month: Month, source: str, dataset: str, codes: list[str]) -> bool:
        """Write the key's files; True when a valid version was delivered."""
        form = form_for(source, dataset, month)
        r = rng("rows", month, source, dataset)
        rows, protected, reported = self._records(month, source, dataset, r, codes)
        for extra in rejects.extras(month, source, dataset):
            at = schedule.plan(month, extra.source, dataset, self.until, forced=True).received
            if at is not None:
                self._reject(extra, self._render(extra.source, dataset, form, rows, r), at)
        planted = rejects.planted(month, source, dataset)
        plan = schedule.plan(month, source, dataset, self.until, forced=planted is not None)
        if plan.received is None:
            self.tally.absent += 1
            return False
        if planted is not None and planted.mode == "replace":
            self._reject(planted, self._broken(planted, source, form, rows, r), plan.received)
            return False
        folder, name = self.out / str(month) / source, file_name(dataset, form)
        candidates = sorted(set(range(len(rows))) - protected)
        resend_at = plan.resend_at if candidates else None
        forgotten = min(r.randint(1, MAX_OMITTED), len(candidates) // 4) if resend_at else 0
        omitted = set(r.sample(candidates, forgotten))
        kept = [i for i in range(len(rows)) if i not in omitted]
        layout = Layout(DATASETS[dataset], form, source, self.spellings, r)
        own = {a.code for a in self.world.ref.actions_of(month.year, source)}
        context = Context(dataset, month, form, frozenset(layout.columns), tuple(c for c in codes if c not in own))
        minimum = int(resend_at is not None and not omitted)
        first, counts = corrupt([rows[i] for i in kept], context, r, {n for n, i in enumerate(kept) if i in protected},
                                minimum)
        self._write(folder / name, render(layout, first, form, r), plan.received, len(first))
        self.tally.invalid += counts
        self.tally.reported += reported
        self.tally.late += plan.late
        if planted is not None:
            at = plan.received + rejects.RESEND_DELAY_DAYS * schedule.DAY
            self._reject(planted, self._broken(planted, source, form, rows, r), at)
        elif resend_at is not None:
            case = next(c for c in NAME_CASES if c != form.name_case)
            path = folder / file_name(dataset, replace(form, name_case=case))
            self._write(path, render(layout, rows, form, r), resend_at, len(rows))
            self.tally.resends += 1
            self.tally.resent_paths.append(path.relative_to(self.out).as_posix())
        return True

    def _render(self, source: str, dataset: str, form: Form, rows: list[Row], r: random.Random) -> bytes:
        return render(Layout(DATASETS[dataset], form, source, self.spellings, r), rows, form, r)

    def _broken(self, planted: rejects.Reject, source: str, form: Form, rows: list[Row], r: random.Random) -> bytes:
        if planted.kind == "fichier_vide":
            return rejects.empty(planted)
        if planted.dropped_column:
            form = replace(form, dropped=(*form.dropped, planted.dropped_column))
        data = self._render(source, planted.dataset, form, rows, r)
        return rejects.unreadable(data, form.xlsx) if planted.kind == "fichier_illisible" else data

    def _write(self, path: Path, data: bytes, received: int, rows: int) -> None:
        write(path, data, received)
        self.tally.files += 1
        self.tally.rows += rows
        self.tally.size += len(data)

    def _reject(self, reject: rejects.Reject, data: bytes, received: int) -> None:
        path = self.out / reject.path
        write(path, data, received)
        self.tally.files += 1
        self.tally.size += len(data)
        self.tally.rejected[reject.kind] += 1
        self.tally.rejected_paths.append((reject.path, reject.kind))
