"""The parcours marts (../shared/spec/parcours.md) on 14 hand-made months, every new column of every row
checked against figures computed by hand from the spec's wording.

The story, 2024-01 … 2025-02 (L = 2025-02, the last month with a valid beneficiaires delivery):
ALI01 delivers every month, ALI02 from 2024-03 on but its June file comes late (phase 2), partner
P041 sends two participations files. Letters are persons (matricule 1000001 = A …, CAF):

- A enters ALI01 on 2024-01-10, contract 2024-03-10 (day 60), leaves 2024-05-20 EMPLOI_DURABLE;
- B enters 2024-01-15, contract 2024-03-16 (day 61), leaves 2024-08-05 ABANDON (after E(C + 6));
- C enters 2024-01-05, leaves 01-12 ABANDON, re-enters 01-28 (reported in February), contract 02-15
  (day 18), leaves 06-30 FORMATION_QUALIFIANTE; barrier LANGUE Feb–Jun, A0041 (FRANCAIS) prescribed
  in March, participation in A0041 entered 04-02 (April's file);
- D enters ALI01 2024-02-01, leaves 04-15 REORIENTATION, enters ALI02 04-20 (A0041 prescribed, never
  joined), contract 05-01 (day 11), stays;
- E enters ALI01 2024-07-01, contract the same day, leaves 2025-01-31 = E(C + 6) CREATION_ENTREPRISE;
  barrier LANGUE in Nov 2024 with A0999 prescribed (an action of the 2025 catalogue only), and Jan 2025;
- F enters ALI01 2025-01-06; in Feb 2025 barriers LANGUE and SANTE, A0999 prescribed and joined;
- G enters ALI02 2024-03-05; its exit 06-10 EMPLOI_DURABLE is only in the late June file;
- H enters ALI02 2024-06-03 (first seen in the late June file; in July's file on time), contract 06-20
  (day 17); barrier SANTE Jun–Sep, A0015 (SANTE) prescribed in June.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

import duckdb
import pytest
from conftest import BENEF_HEADER, REFERENCE_DIR, Inbox, benef_row, lines, platform_env
from test_marts import COLUMNS as CONTRACT
from test_marts import PARTICIPATIONS_HEADER, refresh

pytestmark = pytest.mark.slow  # three refreshes of 14 months

MONTHS = [f"{y}-{m:02d}" for y, m in [(2024, m) for m in range(1, 13)] + [(2025, 1), (2025, 2)]]
CALENDAR = [f"2023-{m:02d}" for m in range(2, 13)] + MONTHS  # from the first ALI opening (2023-02-01)
FREINS = ("LOGEMENT", "SANTE", "GARDE_ENFANTS", "MOBILITE", "LANGUE", "NUMERIQUE", "ADMINISTRATIF", "FINANCES")

# written by hand from L = 2025-02: C + 6 ≤ L, C + 12 ≤ L, C + 2 ≤ L; M + 2 ≤ L for the actions
MATURE_6M_UNTIL, MATURE_12M_UNTIL, CONTRATS_UNTIL, CONCRETISATION_UNTIL = "2024-08", "2024-02", "2024-12", "2024-12"


def r(matricule, entree, *, contrat="", sortie="", motif="", heures="", freins="", actions=""):
    return benef_row(matricule, orientation=entree, rdv=entree, entree=entree, contrat=contrat, sortie=sortie,
                     motif=motif, heures=heures, freins=freins, actions=actions)


A, B, C, D, E, F, G, H = (f"100000{n}" for n in range(1, 9))
CA, CB, CC, CD, CE, CH = "2024-03-10", "2024-03-16", "2024-02-15", "2024-05-01", "2024-07-01", "2024-06-20"
ALI01 = {
    "2024-01": [r(A, "2024-01-10"), r(B, "2024-01-15"), r(C, "2024-01-05", sortie="2024-01-12", motif="ABANDON")],
    "2024-02": [r(A, "2024-01-10", heures="60"), r(B, "2024-01-15"),
                r(C, "2024-01-28", contrat=CC, freins="LANGUE"), r(D, "2024-02-01")],
    "2024-03": [r(A, "2024-01-10", contrat=CA, heures="66,4286"), r(B, "2024-01-15", contrat=CB),
                r(C, "2024-01-28", contrat=CC, freins="LANGUE", actions="A0041"), r(D, "2024-02-01")],
    "2024-04": [r(A, "2024-01-10", contrat=CA), r(B, "2024-01-15", contrat=CB, heures="64,2857"),
                r(C, "2024-01-28", contrat=CC, freins="LANGUE"),
                r(D, "2024-02-01", sortie="2024-04-15", motif="REORIENTATION")],
    "2024-05": [r(A, "2024-01-10", contrat=CA, sortie="2024-05-20", motif="EMPLOI_DURABLE"),
                r(B, "2024-01-15", contrat=CB), r(C, "2024-01-28", contrat=CC, freins="LANGUE")],
    "2024-06": [r(B, "2024-01-15", contrat=CB, heures="64.2858"),
                r(C, "2024-01-28", contrat=CC, freins="LANGUE", sortie="2024-06-30", motif="FORMATION_QUALIFIANTE")],
    "2024-07": [r(B, "2024-01-15", contrat=CB), r(E, "2024-07-01", contrat=CE)],
    "2024-08": [r(B, "2024-01-15", contrat=CB, sortie="2024-08-05", motif="ABANDON"), r(E, "2024-07-01", contrat=CE)],
    "2024-09": [r(E, "2024-07-01", contrat=CE)],
    "2024-10": [r(E, "2024-07-01", contrat=CE)],
    "2024-11": [r(E, "2024-07-01", contrat=CE, freins="LANGUE", actions="A0999")],
    "2024-12": [r(E, "2024-07-01", contrat=CE)],
    "2025-01": [r(E, "2024-07-01", contrat=CE, freins="LANGUE", heures="100", sortie="2025-01-31",
                  motif="CREATION_ENTREPRISE"), r(F, "2025-01-06", heures="66,4285")],
    "2025-02": [r(F, "2025-01-06", heures="60", freins="LANGUE|SANTE", actions="A0999")],
}
ALI02 = {
    "2024-03": [r(G, "2024-03-05")],
    "2024-04": [r(G, "2024-03-05"), r(D, "2024-04-20", actions="A0041")],
    "2024-05": [r(G, "2024-03-05"), r(D, "2024-04-20", contrat=CD)],
    "2024-07": [r(D, "2024-04-20", contrat=CD), r(H, "2024-06-03", contrat=CH, freins="SANTE")],
    "2024-08": [r(D, "2024-04-20", contrat=CD), r(H, "2024-06-03", contrat=CH, freins="SANTE")],
    "2024-09": [r(D, "2024-04-20", contrat=CD), r(H, "2024-06-03", contrat=CH, freins="SANTE")],
    **{m: [r(D, "2024-04-20", contrat=CD), r(H, "2024-06-03", contrat=CH)]
       for m in ("2024-10", "2024-11", "2024-12", "2025-01", "2025-02")},
}
ALI02_LATE_JUNE = [r(G, "2024-03-05", sortie="2024-06-10", motif="EMPLOI_DURABLE"), r(D, "2024-04-20", contrat=CD),
                   r(H, "2024-06-03", contrat=CH, freins="SANTE", actions="A0015")]
P041 = {"2024-04": [f"{C};CAF;A0041;2024-04-02;;;"], "2025-02": [f"{F};CAF;A0999;2025-02-10;;;"]}
A0999 = "A0999,P041,FRANCAIS,Plateforme d'apprentissage du français – action 2025,2025,10,1000"


LATE_FILE = "2024-06/ALI02/beneficiaires.csv"
LATE_AT = 1_720_000_000  # its reception time, the same on both platforms (mart_livraisons.recu_le)


def put_inbox(inbox: Inbox, late: bool) -> None:
    for month, rows in ALI01.items():
        inbox.put(f"{month}/ALI01/beneficiaires.csv", lines(BENEF_HEADER, *rows))
    for month, rows in ALI02.items():
        inbox.put(f"{month}/ALI02/beneficiaires.csv", lines(BENEF_HEADER, *rows))
    for month, rows in P041.items():
        inbox.put(f"{month}/P041/participations.csv", lines(PARTICIPATIONS_HEADER, *rows))
    if late:
        put_late_file(inbox)


def put_late_file(inbox: Inbox) -> None:
    inbox.put(LATE_FILE, lines(BENEF_HEADER, *ALI02_LATE_JUNE), mtime=LATE_AT)


def platform(root, late: bool) -> dict[str, str]:
    reference = root / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    with (reference / "actions.csv").open("a", encoding="utf-8") as handle:
        handle.write(A0999 + "\n")  # an action of the 2025 catalogue only
    env = {**os.environ, **platform_env(root), "ALI_REFERENCE_DIR": str(reference)}
    env.pop("ALI_DEMO_MODE", None)
    put_inbox(Inbox(root / "inbox"), late)
    return env


def marts(root) -> dict[str, list[tuple]]:
    """Every mart, whole, sorted."""
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM marts.{m} ORDER BY ALL").fetchall() for m in CONTRACT}


@pytest.fixture(scope="module")
def phases(tmp_path_factory):
    """Phase 1: every file but ALI02's June, one refresh. Phase 2: the late June file, refresh of 2024-06
    only. Clean: the whole inbox in one refresh of a new platform. Every mart, whole, at each stage."""
    late_root, clean_root = tmp_path_factory.mktemp("tardif"), tmp_path_factory.mktemp("propre")
    env = platform(late_root, late=False)
    refresh(env)
    before = marts(late_root)
    put_late_file(Inbox(late_root / "inbox"))
    refresh(env, "2024-06")
    refresh(platform(clean_root, late=True))
    return {"before": before, "after": marts(late_root), "clean": marts(clean_root)}


def d(month: str) -> dt.date:
    return dt.date.fromisoformat(f"{month}-01")


def open_ali(month: str) -> list[str]:
    """ALI open on the month's last day, written by hand from ali.csv (opening dates)."""
    opening = {"ALI03": "2023-03", "ALI04": "2023-09", "ALI05": "2023-10", "ALI06": "2023-03", "ALI07": "2023-02",
               "ALI08": "2023-11", "ALI10": "2023-02", "ALI11": "2023-04", "ALI12": "2023-12", "ALI14": "2023-04",
               "ALI15": "2024-01", "ALI16": "2024-02", "ALI17": "2023-02", "ALI18": "2024-03", "ALI19": "2023-04",
               "ALI20": "2024-04", "ALI21": "2023-03", "ALI22": "2024-04"}
    return [f"ALI{n:02d}" for n in range(1, 23) if opening.get(f"ALI{n:02d}", "2023-03") <= month]


DELIVERED = {("ALI01", m) for m in MONTHS} | {("ALI02", m) for m in MONTHS if m >= "2024-03"}
COHORT_COLUMNS = ("cohorte, code_ali, entrants, mature_6m, mature_12m, sortis_6m, sortis_positifs_6m, "
                  "taux_sorties_positives_6m, sortis_12m, sortis_positifs_12m, taux_sorties_positives_12m, "
                  "contrats_60j, taux_contrat_60j, delai_moyen_contrat_j")


def cohort(month, ali, entrants=0, s6=0, p6=0, s12=0, p12=0, contrats=0, delai=None, *, late=True):
    """A cohort row by hand: counts NULL when the ALI did not deliver C, a figure needing months after L NULL."""
    delivered = (ali, month) in DELIVERED and (late or (ali, month) != ("ALI02", "2024-06"))
    m6, m12, c60 = month <= MATURE_6M_UNTIL, month <= MATURE_12M_UNTIL, month <= CONTRATS_UNTIL

    def rate(n, ok):
        return n / entrants if delivered and ok and entrants else None
    return (d(month), ali, entrants if delivered else None, m6, m12,
            s6 if delivered and m6 else None, p6 if delivered and m6 else None, rate(p6, m6),
            s12 if delivered and m12 else None, p12 if delivered and m12 else None, rate(p12, m12),
            contrats if delivered and c60 else None, rate(contrats, c60), delai if delivered else None)


COHORTS = {
    # A, B, C (two passages, one entrant); ≤ E(2024-07): A, C (first exit ABANDON, second positive) → 2 of
    # which 2 positive; ≤ E(2025-01): A, B, C; contracts ≤ 60 days: A (60), C (18), not B (61);
    # mean delay over passages with a contract (60 + 61 + 18) / 3
    ("2024-01", "ALI01"): dict(entrants=3, s6=2, p6=2, s12=3, p12=2, contrats=2, delai=139 / 3),
    # D's ALI01 passage, out 04-15 REORIENTATION; C + 12 = L: mature at 12 months
    ("2024-02", "ALI01"): dict(entrants=1, s6=1, p6=0, s12=1, p12=0),
    ("2024-07", "ALI01"): dict(entrants=1, s6=1, p6=1, contrats=1, delai=0.0),  # E, out on E(C + 6)
    ("2025-01", "ALI01"): dict(entrants=1),  # F: nothing observable yet but entrants
    ("2024-03", "ALI02"): dict(entrants=1, s6=1, p6=1),  # G, its exit in the late June file
    ("2024-04", "ALI02"): dict(entrants=1, contrats=1, delai=11.0),  # D moved in on 04-20
    ("2024-06", "ALI02"): dict(entrants=1, contrats=1, delai=17.0),  # H
}


def expected_cohorts(late: bool) -> list[tuple]:
    rows = []
    for month in CALENDAR:
        for ali in open_ali(month):
            figures = COHORTS.get((month, ali), {})
            if not late and (month, ali) == ("2024-03", "ALI02"):
                figures = dict(entrants=1)  # G's exit is not known yet
            rows.append(cohort(month, ali, **figures, late=late))
    return sorted(rows)


# (month, ALI, frein) → (personnes, orientées, en action)
FREINS_BY_HAND = {
    ("2024-02", "ALI01", "LANGUE"): (1, 0, 0),  # C; A0041 comes in March
    ("2024-03", "ALI01", "LANGUE"): (1, 1, 0),  # prescribed in M; joined in April
    ("2024-04", "ALI01", "LANGUE"): (1, 1, 1),
    ("2024-05", "ALI01", "LANGUE"): (1, 1, 1),  # prescription in M − 2
    ("2024-06", "ALI01", "LANGUE"): (1, 0, 1),  # prescription in M − 3: no; participation in M − 2
    ("2024-11", "ALI01", "LANGUE"): (1, 0, 0),  # E: A0999 is not in the 2024 catalogue
    ("2025-01", "ALI01", "LANGUE"): (1, 0, 0),  # E: its November row's A0999 is of the 2024 catalogue
    ("2025-02", "ALI01", "LANGUE"): (1, 1, 1),  # F: A0999 answers LANGUE in 2025; joined in February
    ("2025-02", "ALI01", "SANTE"): (1, 0, 0),
    ("2024-06", "ALI02", "SANTE"): (1, 1, 0),  # H, A0015 (SANTE) prescribed in the late June file
    ("2024-07", "ALI02", "SANTE"): (1, 1, 0),
    ("2024-08", "ALI02", "SANTE"): (1, 1, 0),
    ("2024-09", "ALI02", "SANTE"): (1, 0, 0),
}


def expected_freins(late: bool) -> list[tuple]:
    rows = []
    for month in CALENDAR:
        for ali in open_ali(month):
            delivered = (ali, month) in DELIVERED and (late or (ali, month) != ("ALI02", "2024-06"))
            for frein in FREINS:
                n, o, a = FREINS_BY_HAND.get((month, ali, frein), (0, 0, 0))
                if not late and ali == "ALI02" and month in ("2024-07", "2024-08"):
                    o = 0  # the June prescription is not known yet
                if not delivered:
                    rows.append((d(month), ali, frein, None, None, None, None, None))
                else:
                    rows.append((d(month), ali, frein, n, o, o / n if n else None, a, a / n if n else None))
    return sorted(rows)


def catalogue(year: str) -> list[str]:
    with (REFERENCE_DIR / "actions.csv").open(encoding="utf-8") as handle:
        codes = [line.split(",")[0] for line in handle if line.split(",")[4:5] == [year]]
    return codes + (["A0999"] if year == "2025" else [])


# (month, action) → (prescrits, entrés sous 3 mois)
PRESCRIPTIONS = {
    ("2024-03", "A0041"): (1, 1),  # C, entered 04-02 (April's file)
    ("2024-04", "A0041"): (1, 0),  # D at ALI02, never joined
    ("2024-06", "A0015"): (1, 0),  # H (late June file)
    ("2025-02", "A0999"): (1, None),  # F: M + 2 > L
}


def expected_actions(late: bool) -> list[tuple]:
    rows = []
    for month in CALENDAR:
        for code in catalogue(month[:4]):
            p, e = PRESCRIPTIONS.get((month, code), (0, 0))
            if not late and (month, code) == ("2024-06", "A0015"):
                p, e = 0, 0
            if month > CONCRETISATION_UNTIL:
                e = None
            rows.append((d(month), code, p, e, e / p if p and e is not None else None))
    return sorted(rows)


# (month, ALI) → (accompanied at month end with heures, share reaching 15 h a week)
ACTIVITE = {
    ("2024-02", "ALI01"): (1, 0.0),  # A 60 h < 15 × 29 / 7 = 62.14
    ("2024-03", "ALI01"): (1, 1.0),  # A 66.4286 ≥ 465 / 7 = 66.428571…
    ("2024-04", "ALI01"): (1, 0.0),  # B 64.2857 < 450 / 7 = 64.285714…
    ("2024-06", "ALI01"): (1, 1.0),  # B 64.2858
    ("2025-01", "ALI01"): (1, 0.0),  # F 66.4285 < 66.428571…; E (100 h) has left
    ("2025-02", "ALI01"): (1, 1.0),  # F 60 h = 15 × 28 / 7
}


def expected_activite(late: bool) -> list[tuple]:
    rows = []
    for month in CALENDAR:
        for ali in open_ali(month):
            delivered = (ali, month) in DELIVERED and (late or (ali, month) != ("ALI02", "2024-06"))
            n, share = ACTIVITE.get((month, ali), (0, None))
            rows.append((d(month), ali, n if delivered else None, share if delivered else None))
    return sorted(rows)


NEW_COLUMNS = {
    "mart_parcours_cohortes": COHORT_COLUMNS,
    "mart_freins_mensuel": "periode, code_ali, frein, personnes, personnes_orientees, taux_orientation, "
                           "personnes_en_action, taux_en_action",
    "mart_actions_mensuel": "periode, code_action, prescrits, prescrits_entres_3m, taux_concretisation_3m",
    "mart_ali_mensuel": "periode, code_ali, activite_renseignee, part_activite_15h",
}
EXPECTED = {"mart_parcours_cohortes": expected_cohorts, "mart_freins_mensuel": expected_freins,
            "mart_actions_mensuel": expected_actions, "mart_ali_mensuel": expected_activite}


def differences(got: list[tuple], want: list[tuple]) -> list[str]:
    def same(a, b):
        if isinstance(b, float) and a is not None:
            return abs(a - b) <= 1e-12
        return a == b and type(a) is type(b) or (a is None and b is None)
    problems = [f"ligne {w[:3]}: obtenu {g}, attendu {w}" for g, w in zip(got, want)
                if len(g) != len(w) or not all(same(a, b) for a, b in zip(g, w))]
    if len(got) != len(want):
        problems.insert(0, f"{len(got)} lignes, {len(want)} attendues")
    return problems


def new_columns(all_marts: dict[str, list[tuple]], mart: str) -> list[tuple]:
    """The key and the new columns of a mart, from the whole rows (column order of the contract)."""
    names = [c.strip() for c in NEW_COLUMNS[mart].split(",")]
    return sorted(tuple(row[CONTRACT[mart].index(n)] for n in names) for row in all_marts[mart])


@pytest.mark.parametrize("stage", ["before", "after"])
@pytest.mark.parametrize("mart", list(NEW_COLUMNS))
def test_every_new_column_of_every_row(phases, mart, stage):
    """Before the late file (phase 1) and after the refresh of its month alone (phase 2)."""
    problems = differences(new_columns(phases[stage], mart), EXPECTED[mart](late=stage == "after"))
    assert not problems, f"{mart}: {len(problems)} écart(s)\n" + "\n".join(problems[:40])


def test_the_late_file_refreshed_alone_equals_a_full_rebuild(phases):
    """A refresh of 2024-06 alone rebuilt every month its file changes (cohorts of earlier months,
    barriers of June to August, prescriptions of April to June): every mart, row for row, equals one
    refresh of the whole inbox on a new platform."""
    for mart, rows in phases["after"].items():
        assert rows == phases["clean"][mart], mart
    assert phases["before"]["mart_parcours_cohortes"] != phases["after"]["mart_parcours_cohortes"]
