"""Statistical secrecy for the open-data export (contract §5): what leaves the Département, and how.

Published: ``ali_mensuel``, ``departement_mensuel``, ``actions_mensuel``, ``territoire_mensuel`` (the
marts' names and columns). Withheld: ``mart_livraisons`` (internal monitoring of contractors: file
names, hashes, free-text reasons, raw head counts); ``personnes_multi_ali`` (a quality signal that would
make Σ ALI file_active − the département's exact); means and shares whose base count the marts lack
(``delai_moyen_orientation_rdv_j``, ``part_rdv_sous_30j``, ``taux_contractualisation``: one over 1 to 10
persons would go unseen); the actions' monthly flows (``entrees``, ``sorties``, ``sorties_positives``:
mostly 1 to 10, and near identities with participants and places would give them back; docs/open-data.md).

Also published (parcours.md): ``parcours_cohortes`` and ``freins_mensuel``, but not
``delai_moyen_contrat_j`` (a mean over passages whose number the mart lacks, as the v1 means above).

Primary suppression: a count of persons or of events about persons from 1 to 10 is secret. 0 is
published (INSEE/DREES practice: "nobody" is no secret; hiding it hides structural zeros). Places,
ETP, money, populations, organisations are not about persons: never masked.

Secondary suppression: no secret may be recomputed from published cells. ``structure`` declares every
linear link ``Σ left = Σ right`` (``exact=False``: up to a small gap, masked as if exact). Per month
the ALI sum to the département (entrees, sorties, sorties_positives exact; file_active and
accompagnes_fin_mois up to persons in two ALI), so do the communes' file_active and the offered
actions' places_occupees (exact); per ALI row file_active = accompagnes_fin_mois + sorties (exact:
one row per person per file; approximate for the département), so the ALI table is 2-D; month to
month accompagnes_fin_mois(M) + entrees(M+1) ≈ file_active(M+1). A link is safe with 0 or ≥ 2
secrets, and when all its secrets are on one side their known sum must exceed their number (secrets
are ≥ 1: a remainder of 2 over two cells gives both). Nested counts (``NESTS``: entrants ⊇ sortis ⊇
sortis_positifs, sortis at 6 months ⊆ at 12, entrants ⊇ contrats_60j, personnes ⊇ personnes_orientees
and personnes_en_action) are persons too in their difference: a published outer − inner from 1 to 10
masks the inner count. ``suppress`` masks, in an unsafe link, the
smallest non-zero published cell (a département figure, then a 0, only as a last resort). A rate
is secret when a count it comes from is (taux × sorties would give sorties_positives back).

Masked cells are NULL in ``Suppression.values`` plus a parallel boolean frame ``Suppression.secret``
(CSV: ``s``; a NULL of the marts stays empty). ``verify`` shares no code with ``suppress``: counts from
1 to 10, rates on secrets, a secret alone in an approximate link, and the null space of the exact links'
equations, which finds any secret they fix, even in 2-D patterns a per-link count misses (combining
approximate links adds up their gaps: no recomputation).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LOW, HIGH = 1, 10
Cell = tuple[str, int, str]  # (table, row position, column)


@dataclass(frozen=True)
class Table:
    """One open-data table: the mart it comes from, its columns, its counts and its rates."""
    source: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[str, ...]
    rates: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def maskable(self) -> tuple[str, ...]:
        return self.counts + tuple(self.rates)


TABLES = {  # columns in file order; counts: primary suppression; rates: rate -> counts it comes from
    "ali_mensuel": Table(
        "mart_ali_mensuel", ("periode", "code_ali"),
        ("periode", "code_ali", "nom_ali", "livre", "file_active", "accompagnes_fin_mois", "entrees", "sorties",
         "sorties_positives", "taux_sorties_positives", "etp_accompagnement", "accompagnes_par_etp",
         "entretiens_par_personne"),
        ("file_active", "accompagnes_fin_mois", "entrees", "sorties", "sorties_positives"),
        {"taux_sorties_positives": ("sorties", "sorties_positives"), "accompagnes_par_etp": ("accompagnes_fin_mois",),
         "entretiens_par_personne": ("file_active",)}),
    "departement_mensuel": Table(
        "mart_departement_mensuel", ("periode",),
        ("periode", "ali_ouvertes", "ali_ayant_livre", "file_active", "accompagnes_fin_mois", "entrees", "sorties",
         "sorties_positives", "taux_sorties_positives", "etp_accompagnement", "accompagnes_par_etp",
         "places_conventionnees", "places_occupees", "taux_occupation", "objectif_places", "objectif_conseillers"),
        ("file_active", "accompagnes_fin_mois", "entrees", "sorties", "sorties_positives", "places_occupees"),
        {"taux_sorties_positives": ("sorties", "sorties_positives"), "accompagnes_par_etp": ("accompagnes_fin_mois",),
         "taux_occupation": ("places_occupees",)}),
    "actions_mensuel": Table(
        "mart_actions_mensuel", ("periode", "code_action"),
        ("periode", "code_action", "code_partenaire", "thematique", "livre", "places_conventionnees",
         "places_occupees", "taux_occupation", "participants", "prescriptions", "montant_consomme_eur"),
        ("places_occupees", "participants", "prescriptions"), {"taux_occupation": ("places_occupees",)}),
    "territoire_mensuel": Table(
        "mart_territoire_mensuel", ("periode", "code_insee"),
        ("periode", "code_insee", "commune", "ept", "population_municipale", "file_active",
         "accompagnes_pour_1000_hab"), ("file_active",), {"accompagnes_pour_1000_hab": ("file_active",)}),
    "parcours_cohortes": Table(
        "mart_parcours_cohortes", ("cohorte", "code_ali"),
        ("cohorte", "code_ali", "nom_ali", "entrants", "mature_6m", "mature_12m", "sortis_6m", "sortis_positifs_6m",
         "taux_sorties_positives_6m", "sortis_12m", "sortis_positifs_12m", "taux_sorties_positives_12m",
         "contrats_60j", "taux_contrat_60j"),
        ("entrants", "sortis_6m", "sortis_positifs_6m", "sortis_12m", "sortis_positifs_12m", "contrats_60j"),
        {"taux_sorties_positives_6m": ("entrants", "sortis_positifs_6m"),
         "taux_sorties_positives_12m": ("entrants", "sortis_positifs_12m"),
         "taux_contrat_60j": ("entrants", "contrats_60j")}),
    "freins_mensuel": Table(
        "mart_freins_mensuel", ("periode", "code_ali", "frein"),
        ("periode", "code_ali", "nom_ali", "frein", "personnes", "personnes_orientees", "taux_orientation",
         "personnes_en_action", "taux_en_action"),
        ("personnes", "personnes_orientees", "personnes_en_action"),
        {"taux_orientation": ("personnes", "personnes_orientees"),
         "taux_en_action": ("personnes", "personnes_en_action")}),
}
NESTS = {  # (outer, inner): the inner count's persons are among the outer one's, so outer − inner is a count too
    "parcours_cohortes": tuple(
        pair for k in (6, 12) for pair in (("entrants", f"sortis_{k}m"), ("entrants", f"sortis_positifs_{k}m"),
                                           (f"sortis_{k}m", f"sortis_positifs_{k}m"))
    ) + (("sortis_12m", "sortis_6m"), ("sortis_positifs_12m", "sortis_positifs_6m"), ("entrants", "contrats_60j")),
    "freins_mensuel": (("personnes", "personnes_orientees"), ("personnes", "personnes_en_action")),
}
DEPT = "departement_mensuel"


@dataclass(frozen=True)
class Group:
    """A linear link between published cells: ``Σ left = Σ right`` (``exact`` False: up to a small gap)."""
    left: tuple[Cell, ...]
    right: tuple[Cell, ...]
    exact: bool = True


def structure(tables: dict[str, pd.DataFrame], secret: dict[str, pd.DataFrame] | None = None) -> list[Group]:
    """Every link of the published tables; a cell takes part when it exists (a value or a secret)."""
    def exists(t: str, c: str) -> np.ndarray:
        there = tables[t][c].notna().to_numpy()
        return there | secret[t][c].to_numpy(dtype=bool) if secret is not None else there
    dept_row, groups = {p: i for i, p in enumerate(tables[DEPT]["periode"])}, []

    def by_month(t: str, col: str, exact: bool, where: np.ndarray | None = None) -> None:
        ok, total = exists(t, col) if where is None else exists(t, col) & where, exists(DEPT, col)
        rows = pd.Series(np.flatnonzero(ok)).groupby(tables[t]["periode"].to_numpy()[ok], sort=False).agg(list)
        for periode, members in rows.items():
            j = dept_row.get(periode)
            if j is not None and total[j]:
                groups.append(Group(tuple((t, int(i), col) for i in members), ((DEPT, j, col),), exact))

    def within(t: str, left: list, right: list, exact: bool) -> None:  # (column, 0 = this month, 1 = next)
        unit, when = tables[t][TABLES[t].key[-1]].to_numpy(), pd.to_datetime(tables[t]["periode"])
        row, following = {(u, w): i for i, (u, w) in enumerate(zip(unit, when))}, when + pd.DateOffset(months=1)
        ok = {c: exists(t, c) for c, _ in left + right}
        for i in range(len(unit)):
            at = (i, row.get((unit[i], following.iat[i])))
            sides = [tuple((t, at[k], c) for c, k in terms) for terms in (left, right)]
            if all(j is not None and ok[c][j] for _, j, c in sides[0] + sides[1]):
                groups.append(Group(*sides, exact))

    for col, exact in (("entrees", True), ("sorties", True), ("sorties_positives", True), ("file_active", False),
                       ("accompagnes_fin_mois", False)):
        by_month("ali_mensuel", col, exact)
    by_month("territoire_mensuel", "file_active", False)
    offered = pd.to_numeric(tables["actions_mensuel"]["places_conventionnees"]).fillna(0).to_numpy() > 0
    by_month("actions_mensuel", "places_occupees", True, offered)
    within("ali_mensuel", [("accompagnes_fin_mois", 0), ("sorties", 0)], [("file_active", 0)], True)
    within(DEPT, [("accompagnes_fin_mois", 0), ("sorties", 0)], [("file_active", 0)], False)
    within("ali_mensuel", [("accompagnes_fin_mois", 0), ("entrees", 1)], [("file_active", 1)], False)
    return groups


@dataclass
class Suppression:
    values: dict[str, pd.DataFrame]  # published columns, secret cells NULL
    secret: dict[str, pd.DataFrame]  # the maskable columns, True where secret
    primary: int
    secondary: int
    rates: int


def _unsafe(group: Group, is_secret, value) -> bool:
    """The rule ``suppress`` enforces: one secret member alone, or secrets that could only all be 1."""
    hidden = [m for m in group.left + group.right if is_secret(m)]
    if len(hidden) > 1 and group.exact:
        for mine, other in ((group.left, group.right), (group.right, group.left)):
            if not any(map(is_secret, other)):  # every secret on one side: their sum is known
                return sum(map(value, other)) - sum(value(m) for m in mine if not is_secret(m)) <= len(hidden)
    return len(hidden) == 1


def suppress(tables: dict[str, pd.DataFrame]) -> Suppression:
    """Primary then secondary suppression, then rates; ``tables`` hold the columns of ``TABLES``."""
    data = {t: {c: tables[t][c].to_numpy() for c in spec.counts} for t, spec in TABLES.items()}
    mask = {t: {c: tables[t][c].between(LOW, HIGH).fillna(False).to_numpy(dtype=bool) if c in spec.counts
                else np.zeros(len(tables[t]), dtype=bool) for c in spec.maskable} for t, spec in TABLES.items()}
    primary = sum(int(m.sum()) for cols in mask.values() for m in cols.values())

    def is_secret(cell: Cell) -> bool:
        return bool(mask[cell[0]][cell[2]][cell[1]])

    def value(cell: Cell) -> float:  # only asked of cells that exist (never NULL)
        return float(data[cell[0]][cell[2]][cell[1]])

    gaps = {(t, o, i): (tables[t][o] - tables[t][i]).between(LOW, HIGH).fillna(False).to_numpy(dtype=bool)
            for t, pairs in NESTS.items() for o, i in pairs}
    groups, secondary, changed = structure(tables), 0, True
    while changed:
        changed = False
        for (t, outer, inner), small in gaps.items():
            unsafe = ~mask[t][outer] & ~mask[t][inner] & small
            if unsafe.any():  # the inner count, the smaller, is masked (its rates follow)
                mask[t][inner] |= unsafe
                secondary, changed = secondary + int(unsafe.sum()), True
        for group in groups:
            while _unsafe(group, is_secret, value):
                # smallest non-zero published member; a département figure, then a 0, only as a last resort
                candidates = [m for m in group.left + group.right if not is_secret(m)]
                pick = min(candidates, key=lambda m: (m[0] == DEPT, value(m) == 0, value(m), m[1]))
                mask[pick[0]][pick[2]][pick[1]] = True
                secondary, changed = secondary + 1, True

    values, secret = {}, {}
    for t, spec in TABLES.items():
        for rate, inputs in spec.rates.items():
            mask[t][rate] = np.logical_or.reduce([mask[t][c] for c in inputs]) & tables[t][rate].notna().to_numpy()
        secret[t] = pd.DataFrame(mask[t], index=tables[t].index)
        values[t] = tables[t][list(spec.columns)].mask(secret[t].reindex(columns=list(spec.columns), fill_value=False))
    rates = sum(int(mask[t][r].sum()) for t, spec in TABLES.items() for r in spec.rates)
    return Suppression(values, secret, primary, secondary, rates)


def verify(values: dict[str, pd.DataFrame], secret: dict[str, pd.DataFrame]) -> list[str]:
    """Every breach of the rule in published tables (empty list: safe). Shares no code with ``suppress``."""
    problems: list[str] = []

    def name(cell: Cell) -> str:
        key = ", ".join(str(values[cell[0]][k].iat[cell[1]]).removesuffix(" 00:00:00") for k in TABLES[cell[0]].key)
        return f"{cell[0]} ({key}) {cell[2]}"

    def report(t: str, column: str, where, message: str) -> None:
        problems.extend(f"{name((t, int(i), column))} {message}" for i in np.flatnonzero(np.asarray(where, bool)))
    for t, spec in TABLES.items():
        df, hidden = values[t], {c: secret[t][c].to_numpy(dtype=bool) for c in spec.maskable}
        if list(df.columns) != list(spec.columns):
            problems.append(f"{t}: colonnes {list(df.columns)} au lieu de {list(spec.columns)}")
            continue
        for c in spec.counts:
            report(t, c, ~hidden[c] & df[c].between(LOW, HIGH).fillna(False), ": compte de 1 à 10 publié")
        for c in spec.maskable:
            report(t, c, hidden[c] & df[c].notna(), ": marqué secret mais publié")
        for rate, inputs in spec.rates.items():
            report(t, rate, np.logical_or.reduce([hidden[c] for c in inputs]) & df[rate].notna(),
                   f": publié alors que {'/'.join(inputs)} est secret")

        for outer, inner in NESTS.get(t, ()):
            gap = pd.to_numeric(df[outer]) - pd.to_numeric(df[inner])
            report(t, inner, ~hidden[outer] & ~hidden[inner] & gap.between(LOW, HIGH).fillna(False),
                   f": {outer} − {inner} publié entre 1 et 10")

    # numpy, not pandas: asked once per member of every group (members are maskable cells)
    flags = {(t, c): secret[t][c].to_numpy(dtype=bool) for t, spec in TABLES.items() for c in spec.maskable}
    numbers = {(t, c): pd.to_numeric(values[t][c]).to_numpy(dtype=float) for t, spec in TABLES.items()
               for c in spec.maskable}

    def is_secret(cell: Cell) -> bool:
        return bool(flags[cell[0], cell[2]][cell[1]])
    groups = structure(values, secret)
    for g in groups:  # a secret alone in a link; secrets ≥ 1 on one side of an exact link that must all be 1
        lone = [m for m in g.left + g.right if is_secret(m)]
        if not g.exact and len(lone) == 1:
            problems.append(f"{name(lone[0])} : secret estimable depuis un lien approché (seul secret du lien)")
        for side, other in ((g.left, g.right), (g.right, g.left)):
            hidden = [m for m in side if is_secret(m)]
            if g.exact and len(hidden) > 1 and not any(map(is_secret, other)):
                rest = sum(numbers[t, c][i] for t, i, c in other) - \
                    sum(numbers[t, c][i] for t, i, c in side if not is_secret((t, i, c)))
                if rest <= len(hidden):
                    problems.append(f"{name(hidden[0])} : les cellules secrètes du groupe valent toutes 1")
    exact = [g for g in groups if g.exact]  # approximate links combined add up their gaps: not a recomputation
    return problems + [f"{name(c)} : secret recalculable depuis les totaux publiés"
                       for c in determined(exact, is_secret)]


def determined(groups: list[Group], is_secret) -> list[Cell]:
    """Secret cells that the equations fix: their coordinate is 0 in every vector of the null space."""
    equations = [{**{c: 1.0 for c in g.left if is_secret(c)}, **{c: -1.0 for c in g.right if is_secret(c)}}
                 for g in groups]
    parent: dict[Cell, Cell] = {}

    def root(c: Cell) -> Cell:
        while parent.setdefault(c, c) != c:
            c = parent[c]
        return c

    for first, *others in filter(None, equations):  # independent blocks: one small system each
        for o in others:
            parent[root(o)] = root(first)
    blocks: dict[Cell, list[dict]] = {}
    for e in filter(None, equations):
        blocks.setdefault(root(next(iter(e))), []).append(e)
    found: list[Cell] = []
    for eqs in blocks.values():
        unknowns = sorted({c for e in eqs for c in e})
        _, s, vt = np.linalg.svd(np.array([[e.get(c, 0.0) for c in unknowns] for e in eqs]))
        null = vt[int((s > 1e-9).sum()):]
        found += [c for j, c in enumerate(unknowns) if not len(null) or np.abs(null[:, j]).max() < 1e-9]
    return found
