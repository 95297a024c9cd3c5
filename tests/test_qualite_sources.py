"""mart_qualite_sources (../shared/spec/retours.md §3) on hand-made deliveries of two months, every column
of every row checked against figures computed by hand; the report's section and the completeness check.

Due dates: 2026-02 is due on 2026-03-05 (Paris = UTC+1), 2026-03 on 2026-04-05 (Paris = UTC+2, after
the switch of 29 March). Reception times below are the files' mtimes, in UTC, as raw.livraisons records
them. Run 1 refreshes the whole inbox; run 2 (late corrections) refreshes 2026-02 alone.

2026-02
  ALI01  beneficiaires 03-05 22:59 UTC = 23:59 on the 5th (on time) + conseillers 03-02 → on time
  ALI02  beneficiaires 03-05 23:01 UTC = 00:01 on the 6th (1 day late; 1 row quarantined) + conseillers
  ALI03  beneficiaires rejected on 03-02 (no date_entree), then (run 2) valid on 03-09 09:00 UTC = the
         9th → 4 days; conseillers on time
  ALI04  beneficiaires on time, no conseillers (missing), and an actions file (not allowed for an ALI:
         rejected, but a version received)
  P001   actions 03-04 + participations 03-05 10:00 UTC (3 rows, 2 quarantined), re-sent corrected
         (run 2) on 03-20 (5 rows, 1 quarantined): the first valid version counts → on time
2026-03
  ALI01  beneficiaires 04-05 21:59 UTC = 23:59 on the 5th (on time; in winter 22:59 would be) + conseillers
  ALI02  beneficiaires 04-05 22:01 UTC = 00:01 on the 6th (1 day late; it would be on time in winter),
         1 row of 3 quarantined + conseillers
  P002   participations on time, actions rejected (no places_occupees): a dataset missing
Every other source (22 ALI open, 82 partners with a 2026 catalogue action) sent nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from conftest import BENEF_HEADER, Inbox, benef_row, lines, platform_env
from test_marts import ACTIONS_HEADER, CONSEILLERS_HEADER, PARTICIPATIONS_HEADER, _reference, at, refresh

from pipelines.defs.dbt.checks import completude, echeance
from pipelines.months import range_tags
from pipelines.publication.report_qualite import section

M1, M2 = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
MART = "mart_qualite_sources"
COLUMNS = ["periode", "source_code", "source_type", "datasets_attendus", "datasets_livres", "a_l_heure", "retard_j",
           "versions_recues", "lignes_lues", "lignes_quarantaine", "taux_quarantaine"]
PARIS = ZoneInfo("Europe/Paris")


def b(matricule: str, sexe: str = "F") -> str:
    return benef_row(matricule, sexe=sexe)  # sexe X: quarantined


CONSEILLERS_2 = lines(CONSEILLERS_HEADER, "R1;CIP;1;2023-03-01;", "R2;CIP;0,5;2023-03-01;")
CONSEILLERS_1 = lines(CONSEILLERS_HEADER, "R1;CIP;1;2023-03-01;")
P001_ACTIONS = lines(ACTIONS_HEADER, "A0001;219;150;1000")
NOT_P001 = "A0002"  # P002's action: quarantined in P001's participations

RUN_1 = [
    ("2026-02/ALI01/beneficiaires.csv", lines(BENEF_HEADER, b("1000001"), b("1000002"), b("1000003")),
     "2026-03-05 22:59:00"),
    ("2026-02/ALI01/conseillers.csv", CONSEILLERS_2, "2026-03-02 10:00:00"),
    ("2026-02/ALI02/beneficiaires.csv", lines(BENEF_HEADER, b("2000001"), b("2000002"), b("2000003"),
                                              b("2000004", sexe="X")), "2026-03-05 23:01:00"),
    ("2026-02/ALI02/conseillers.csv", CONSEILLERS_1, "2026-03-03 10:00:00"),
    ("2026-02/ALI03/beneficiaires.csv", lines("matricule;organisme;date_naissance;commune;date_orientation",
                                              "3000001;CAF;1980-04-03;93027;2026-01-10"), "2026-03-02 09:00:00"),
    ("2026-02/ALI03/conseillers.csv", CONSEILLERS_1, "2026-03-04 10:00:00"),
    ("2026-02/ALI04/beneficiaires.csv", lines(BENEF_HEADER, b("4000001"), b("4000002")), "2026-03-03 11:00:00"),
    ("2026-02/ALI04/actions.csv", P001_ACTIONS, "2026-03-03 11:05:00"),
    ("2026-02/P001/actions.csv", P001_ACTIONS, "2026-03-04 09:00:00"),
    ("2026-02/P001/participations.csv", lines(
        PARTICIPATIONS_HEADER, "1000001;CAF;A0001;2026-01-10;;;", f"1000002;CAF;{NOT_P001};2026-01-10;;;",
        "1000001;CAF;A0001;2026-01-12;;;"),  # the same person twice in the action: quarantined
     "2026-03-05 10:00:00"),
    ("2026-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, b("1000001"), b("1000002")), "2026-04-05 21:59:00"),
    ("2026-03/ALI01/conseillers.csv", CONSEILLERS_2, "2026-04-01 08:00:00"),
    ("2026-03/ALI02/beneficiaires.csv", lines(BENEF_HEADER, b("2000001"), b("2000002"), b("2000005", sexe="X")),
     "2026-04-05 22:01:00"),
    ("2026-03/ALI02/conseillers.csv", CONSEILLERS_1, "2026-04-02 08:00:00"),
    ("2026-03/P002/participations.csv", lines(PARTICIPATIONS_HEADER, "2000001;CAF;A0002;2026-02-01;;;",
                                              "2000002;CAF;A0002;2026-03-01;;;"), "2026-04-03 08:00:00"),
    ("2026-03/P002/actions.csv", lines("code_action;places_conventionnees", "A0002;161"), "2026-04-03 08:05:00"),
]
RUN_2 = [  # late corrections of 2026-02, refreshed alone
    ("2026-02/ALI03/beneficiaires.csv", lines(BENEF_HEADER, b("3000001"), b("3000002")), "2026-03-09 09:00:00"),
    ("2026-02/P001/participations.csv", lines(
        PARTICIPATIONS_HEADER, *(f"100000{n};CAF;A0001;2026-01-10;;;" for n in range(1, 5)),
        f"1000005;CAF;{NOT_P001};2026-01-10;;;"), "2026-03-20 09:00:00"),
]

OPEN_ALI = [f"ALI{n:02d}" for n in range(1, 23)]  # all opened by 2024-04-02 (ali.csv)
PARTNERS_2026 = sorted({r["code_partenaire"] for r in _reference("actions.csv") if r["annee"] == "2026"})


def row(periode, source, livres=0, retard=None, versions=0, lues=0, quarantaine=0) -> dict:
    """A row by hand: 2 datasets expected; on time ⇔ retard_j = 0; taux NULL without a line read."""
    return {"periode": periode, "source_code": source, "source_type": "ALI" if source.startswith("ALI") else
            "PARTENAIRE", "datasets_attendus": 2, "datasets_livres": livres, "a_l_heure": retard == 0,
            "retard_j": retard, "versions_recues": versions, "lignes_lues": lues, "lignes_quarantaine": quarantaine,
            "taux_quarantaine": quarantaine / lues if lues else None}


FIGURES = {
    # 23:59 on the 5th: on time; 3 + 2 rows read
    (M1, "ALI01"): dict(livres=2, retard=0, versions=2, lues=5),
    # 00:01 on the 6th: date_diff(03-05, 03-06) = 1; 4 + 1 rows, 1 quarantined → 0.2
    (M1, "ALI02"): dict(livres=2, retard=1, versions=2, lues=5, quarantaine=1),
    # rejected on 03-02 (not counted), first valid on the 9th → 4; versions: rejected, valid, conseillers
    (M1, "ALI03"): dict(livres=2, retard=4, versions=3, lues=3),
    # conseillers missing → NULL; versions: beneficiaires + the actions file not allowed for an ALI
    (M1, "ALI04"): dict(livres=1, versions=2, lues=2),
    # participations first valid 03-05 11:00 Paris (the 03-20 re-send does not count): on time;
    # in force: actions 1 row + participations v2 5 rows (1 quarantined) → 1 / 6; versions 1 + 2
    (M1, "P001"): dict(livres=2, retard=0, versions=3, lues=6, quarantaine=1),
    (M2, "ALI01"): dict(livres=2, retard=0, versions=2, lues=4),  # 21:59 UTC = 23:59 in summer
    (M2, "ALI02"): dict(livres=2, retard=1, versions=2, lues=4, quarantaine=1),  # 22:01 UTC = 00:01 on the 6th
    (M2, "P002"): dict(livres=1, versions=2, lues=2),  # actions rejected: missing
}
EXPECTED = {(p, s): row(p, s, **FIGURES.get((p, s), {})) for p in (M1, M2) for s in OPEN_ALI + PARTNERS_2026}
# After run 1 only: ALI03's beneficiaires only rejected; P001's participations v1 in force (3 rows, 2 quarantined)
EXPECTED_RUN_1 = {**EXPECTED, (M1, "ALI03"): row(M1, "ALI03", livres=1, versions=2, lues=1),
                  (M1, "P001"): row(M1, "P001", livres=2, retard=0, versions=2, lues=4, quarantaine=2)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Run 1 (whole inbox), then run 2 (2026-02 alone); the mart after each, and the platform's paths."""
    root = tmp_path_factory.mktemp("qualite")
    env = {**os.environ, **platform_env(root)}
    env.pop("ALI_DEMO_MODE", None)
    inbox = Inbox(root / "inbox")
    states = []
    for run, period in ((RUN_1, ""), (RUN_2, "2026-02")):
        for relative, content, stamp in run:
            inbox.put(relative, content, mtime=at(stamp))
        refresh(env, period)
        with duckdb.connect(str(root / "warehouse" / "ali.duckdb"), read_only=True) as con:
            states.append(fetch(con))
    return {"run_1": states[0], "run_2": states[1], "env": platform_env(root),
            "warehouse": root / "warehouse" / "ali.duckdb"}


def fetch(con) -> dict[tuple, dict]:
    cursor = con.execute(f"SELECT * FROM marts.{MART} WHERE periode IN ($1, $2)", [M1, M2])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert names == COLUMNS
    by_key = {(r["periode"], r["source_code"]): r for r in rows}
    assert len(by_key) == len(rows), "duplicated keys"
    return by_key


def differences(got: dict[tuple, dict], want: dict[tuple, dict]) -> list[str]:
    problems = [f"rows missing: {sorted(set(want) - set(got))[:5]}, unexpected: {sorted(set(got) - set(want))[:5]}"
                ] if set(got) != set(want) else []
    for key in sorted(set(got) & set(want)):
        for column in COLUMNS:
            a, w = got[key][column], want[key][column]
            same = (a is None) == (w is None) and (w is None or (
                abs(a - w) <= 1e-12 if column == "taux_quarantaine" else (type(a) is type(w) and a == w)))
            if not same:
                problems.append(f"{key[0]:%Y-%m} {key[1]} {column}: {a!r}, expected {w!r}")
    return problems


def test_hand_figures_are_consistent():
    assert len(PARTNERS_2026) == 82 and len(EXPECTED) == 2 * (22 + 82)
    assert EXPECTED[(M1, "ALI02")]["taux_quarantaine"] == 0.2 and EXPECTED[(M1, "P001")]["taux_quarantaine"] == 1 / 6
    assert sum(r["a_l_heure"] for r in EXPECTED.values()) == 3  # M1 ALI01, P001; M2 ALI01


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["run_1", "run_2"])
def test_every_column_of_every_row(built, stage):
    """After run 1 and after the late corrections of 2026-02 refreshed alone (2026-03 untouched)."""
    problems = differences(built[stage], EXPECTED if stage == "run_2" else EXPECTED_RUN_1)
    assert not problems, f"{len(problems)} écart(s)\n" + "\n".join(problems[:40])


@pytest.mark.slow
def test_column_types(built):
    with duckdb.connect(str(built["warehouse"]), read_only=True) as con:
        types = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                            "'marts' AND table_name = ? ORDER BY ordinal_position", [MART]).fetchall()
    assert types == [("periode", "DATE"), ("source_code", "VARCHAR"), ("source_type", "VARCHAR"),
                     ("datasets_attendus", "BIGINT"), ("datasets_livres", "BIGINT"), ("a_l_heure", "BOOLEAN"),
                     ("retard_j", "BIGINT"), ("versions_recues", "BIGINT"), ("lignes_lues", "BIGINT"),
                     ("lignes_quarantaine", "BIGINT"), ("taux_quarantaine", "DOUBLE")]


def cells(page: str, column: str) -> dict[str, tuple[str, str]]:
    """source → (data-valeur, text) of one figure of the section."""
    return {s: (v, t) for s, v, t in re.findall(
        rf'data-qualite="{column}:([^"]*)" data-valeur="([^"]*)" title="[^"]*">([^<]*)</span>', page)}


@pytest.mark.slow
def test_report_section_by_hand(built):
    """Rendered from the warehouse's marts (what the snapshot holds). Late or missing in 2026-02: ALI02
    (1 day), ALI03 (4 days), and every source missing a dataset (ALI04 among them); quarantine rates
    ALI02 1/5 then P001 1/6; on-time rate of 2026-03 over 2025-04 … 2026-03, twelve months expected
    for every source (all open, catalogue every year): ALI01 2/12, P001 1/12, ALI02 0/12."""
    with duckdb.connect(str(built["warehouse"]), read_only=True) as con:
        fevrier, mars = section(con, M1), section(con, M2)
    assert "Qualité des livraisons" in fevrier and "le 05/03/2026, fin de journée" in fevrier
    assert "Sur 104 sources attendues : <b>2</b> à l'heure, <b>2</b> en retard, <b>100</b> avec" in fevrier
    retards = cells(fevrier, "retard_j")
    assert len(retards) == 102 and retards["ALI02"] == ("1", "1") and retards["ALI03"] == ("4", "4")
    assert retards["ALI04"] == ("", "manquant") and retards["P082"] == ("", "manquant")
    assert list(retards)[:2] == ["ALI04", "ALI05"] and list(retards)[-2:] == ["ALI03", "ALI02"]  # missing first
    assert cells(fevrier, "datasets_livres")["ALI04"] == ("1", "1")
    assert cells(fevrier, "taux_quarantaine") == {"ALI02": ("0.2", "20,0\u00a0%"),
                                                  "P001": (repr(1 / 6), "16,7\u00a0%")}
    assert cells(mars, "taux_quarantaine") == {"ALI02": ("0.25", "25,0\u00a0%")}
    ponctualite = cells(mars, "ponctualite_12m")
    assert len(ponctualite) == 104 and set(cells(mars, "mois_attendus").values()) == {("12", "12")}
    assert ponctualite["ALI01"] == (repr(2 / 12), "16,7\u00a0%") and ponctualite["P001"] == (repr(1 / 12), "8,3\u00a0%")
    assert ponctualite["ALI02"] == ("0.0", "0,0\u00a0%") and list(ponctualite)[-2:] == ["P001", "ALI01"]


# ---------------------------------------------------------------------------------------------
# The completeness check with the due date
# ---------------------------------------------------------------------------------------------

MISSING = [("2026-02", "ALI04", "conseillers", "ABSENT"), ("2026-03", "P002", "actions", "REJETE"),
           ("2026-03", "P002", "participations", "ABSENT")]


def paris(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp).replace(tzinfo=PARIS)


def test_due_date_is_the_end_of_the_fifth_paris_time():
    assert echeance("2026-02") == paris("2026-03-06 00:00:00")  # UTC+1: 2026-03-05 23:00 UTC
    assert echeance("2026-03") == dt.datetime(2026, 4, 5, 22, 0, tzinfo=dt.UTC)  # UTC+2
    assert echeance("2026-12") == paris("2027-01-06 00:00:00")


def test_check_before_the_due_date_passes_saying_not_due_yet():
    result = completude(MISSING, paris("2026-03-05 23:59:59"))
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["manquantes"].value == 0 and result.metadata["pas_encore_dues"].value == 3
    assert "pas encore dû" in result.description and "2026-02 (échéance le 05/03/2026" in result.description


def test_check_after_the_due_date_warns_naming_each_source():
    winter = completude(MISSING, paris("2026-03-06 00:00:00"))  # February due, March not yet
    assert not winter.passed and winter.severity == dg.AssetCheckSeverity.WARN
    assert winter.metadata["manquantes"].value == 1 and winter.metadata["pas_encore_dues"].value == 2
    assert winter.metadata["sources_en_retard"].value == "2026-02 ALI04 (conseillers)"
    assert "2026-03 (échéance le 05/04/2026" in winter.metadata["echeances_a_venir"].value
    assert completude(MISSING, dt.datetime(2026, 4, 5, 21, 59, 59, tzinfo=dt.UTC)).metadata[
        "manquantes"].value == 1  # 23:59:59 in Paris, summer time: March not due yet
    summer = completude(MISSING, dt.datetime(2026, 4, 5, 22, 0, 0, tzinfo=dt.UTC))
    assert summer.metadata["sources_en_retard"].value == "2026-02 ALI04 (conseillers); 2026-03 P002 (actions, " \
                                                         "participations)"
    assert summer.description.startswith("2 source(s) en retard après l'échéance : 2026-02 ALI04")
    assert completude([], paris("2026-04-10 00:00:00")).passed


@pytest.mark.slow
def test_check_in_dagster_names_the_sources_that_missed_their_due_date(built, monkeypatch):
    """The check itself, run by Dagster on the built warehouse for 2026-02 … 2026-03 (both months are
    past their due date today). Missing: 2026-02: ALI04 conseillers + ALI05 … ALI22 and P002 … P082
    (18 × 2 + 81 × 2) = 199; 2026-03: ALI03 … ALI22 (20 × 2), P001 (2), P002 actions, P003 … P082
    (80 × 2) = 203."""
    from pipelines.definitions import build_defs

    for name, value in built["env"].items():
        monkeypatch.setenv(name, value)
    result = build_defs().resolve_job_def("monthly_refresh").execute_in_process(  # the check's step alone
        instance=dg.DagsterInstance.ephemeral(), tags=range_tags("2026-02", "2026-03"),
        op_selection=["marts__mart_livraisons_livraisons_attendues"])
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["manquantes"].value == 402 and evaluation.metadata["pas_encore_dues"].value == 0
    sources = evaluation.metadata["sources_en_retard"].value.split("; ")
    assert len(sources) == 100 + 102  # 2026-02: ALI04 … ALI22, P002 … P082; 2026-03: ALI03 … ALI22, P001 … P082
    assert sources[0] == "2026-02 ALI04 (conseillers)" and "2026-03 P002 (actions)" in sources
    assert "2026-03 ALI03 (beneficiaires, conseillers)" in sources and not any(" ALI01 " in s for s in sources)
    assert evaluation.description.startswith(
        "202 source(s) en retard après l'échéance : 2026-02 ALI04 (conseillers)")
    assert evaluation.description.endswith("… et 182 autre(s) (sources_en_retard)")  # 20 named


def test_reference_figures_the_expectations_rely_on():
    """Every ALI is open in 2026 and every partner has a 2026 catalogue action (hand counts of the files)."""
    assert all(r["date_ouverture"] < "2026-02-28" for r in _reference("ali.csv")) and len(_reference("ali.csv")) == 22
    assert PARTNERS_2026 == sorted(r["code_partenaire"] for r in _reference("partenaires.csv"))
