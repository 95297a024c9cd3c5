"""Statistical secrecy of the open-data export, checked cell by cell on hand-made marts.

Each case builds the four published marts by hand (the département row is the sum of the ALI rows,
as in the real mart), runs ``suppress`` and compares every maskable cell with the expected output
written below (``S`` = secret). Then ``verify`` must catch deliberately broken outputs, including a
bug in ``suppress`` itself. The integration test runs the project's own pipeline on sample deliveries
and exports its marts, directly and through the Dagster asset with its blocking check.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import frictionless
import pandas as pd
import pytest
from conftest import refreshed_sample

from pipelines.defs.publish.assets import open_data
from pipelines.publication import open_data as od
from pipelines.publication import secrecy
from pipelines.publication.secrecy import TABLES, Group, determined, suppress, verify
from pipelines.resources import PublishResource, WarehouseResource

S = "S"
M = pd.Timestamp("2024-03-01")
ALI_COLS = ["file_active", "accompagnes_fin_mois", "entrees", "sorties", "sorties_positives",
            "taux_sorties_positives", "accompagnes_par_etp"]
DEPT_COLS = ["file_active", "accompagnes_fin_mois", "entrees", "sorties", "sorties_positives", "places_occupees"]


def ali(code, fa, entrees=20, sorties=20, positives=12, periode=M):
    afm = fa - sorties
    return {"periode": periode, "code_ali": code, "nom_ali": f"ALI {code}", "livre": True, "file_active": fa,
            "accompagnes_fin_mois": afm, "entrees": entrees, "sorties": sorties, "sorties_positives": positives,
            "taux_sorties_positives": positives / sorties if sorties else None, "etp_accompagnement": 10.0,
            "accompagnes_par_etp": afm / 10, "entretiens_par_personne": 1.5}


def action(code, conv, occ, participants=50, prescriptions=30, periode=M):
    return {"periode": periode, "code_action": code, "code_partenaire": "P001", "thematique": "EMPLOI",
            "livre": True, "places_conventionnees": conv, "places_occupees": occ,
            "taux_occupation": occ / conv if conv else None, "participants": participants,
            "prescriptions": prescriptions, "montant_consomme_eur": 1000.0}


def commune(code, fa, population=40_000, periode=M):
    return {"periode": periode, "code_insee": code, "commune": f"Commune {code}", "ept": "Est Ensemble",
            "population_municipale": population, "file_active": fa,
            "accompagnes_pour_1000_hab": 1000 * fa / population}


def departement(periode, rows, acts):
    """The département row of a month: sums of its ALI rows (no person in two ALI), places of its actions."""
    def total(key):
        return sum(r[key] for r in rows)
    offered = [a for a in acts if a["places_conventionnees"] > 0]
    occupied, places = sum(a["places_occupees"] for a in offered), sum(a["places_conventionnees"] for a in offered)
    sorties, positives, afm = total("sorties"), total("sorties_positives"), total("accompagnes_fin_mois")
    return {"periode": periode, "ali_ouvertes": len(rows), "ali_ayant_livre": len(rows),
            "file_active": total("file_active"), "accompagnes_fin_mois": afm, "entrees": total("entrees"),
            "sorties": sorties, "sorties_positives": positives,
            "taux_sorties_positives": positives / sorties if sorties else None,
            "etp_accompagnement": 10.0 * len(rows), "accompagnes_par_etp": afm / (10.0 * len(rows)),
            "places_conventionnees": sum(a["places_conventionnees"] for a in acts), "places_occupees": occupied,
            "taux_occupation": occupied / places, "objectif_places": 12600.0, "objectif_conseillers": 340.0}


def cohorte(code, entrants, s6, p6, s12, p12, contrats, periode=M):
    def rate(n):
        return n / entrants if entrants else None
    return {"cohorte": periode, "code_ali": code, "nom_ali": f"ALI {code}", "entrants": entrants, "mature_6m": True,
            "mature_12m": True, "sortis_6m": s6, "sortis_positifs_6m": p6, "taux_sorties_positives_6m": rate(p6),
            "sortis_12m": s12, "sortis_positifs_12m": p12, "taux_sorties_positives_12m": rate(p12),
            "contrats_60j": contrats, "taux_contrat_60j": rate(contrats)}


def frein(code, name, personnes, orientees, en_action, periode=M):
    return {"periode": periode, "code_ali": code, "nom_ali": f"ALI {code}", "frein": name, "personnes": personnes,
            "personnes_orientees": orientees, "taux_orientation": orientees / personnes if personnes else None,
            "personnes_en_action": en_action, "taux_en_action": en_action / personnes if personnes else None}


def marts(alis, actions=None, communes=None, cohortes=(), freins=()) -> dict[str, pd.DataFrame]:
    """The published marts, typed as ``read_marts`` gives them; one département row per month."""
    months = sorted({a["periode"] for a in alis})
    actions = actions or [action(code, conv, occ, periode=p) for p in months for code, conv, occ in
                          (("A1", 100, 80), ("A2", 60, 50))]
    communes = communes or [commune(code, share, periode=p) for p in months for code, share in zip(
        ("93001", "93008"), halves(sum(a["file_active"] for a in alis if a["periode"] == p)))]
    depts = [departement(p, [a for a in alis if a["periode"] == p], [a for a in actions if a["periode"] == p])
             for p in months]
    rows = {"ali_mensuel": alis, "departement_mensuel": depts, "actions_mensuel": actions,
            "territoire_mensuel": communes, "parcours_cohortes": list(cohortes), "freins_mensuel": list(freins)}
    return {t: pd.DataFrame(rows[t], columns=list(spec.columns)).astype({c: "Int64" for c in spec.counts})
            for t, spec in TABLES.items()}


def halves(n):
    return n // 2, n - n // 2


def shown(result, table: str, columns: list[str]) -> list[list]:
    """Each row's cells as published: S for a secret, None for a NULL, rounded rates."""
    v, s = result.values[table], result.secret[table]
    def cell(i, c):
        if s[c].iat[i]:
            return S
        x = v[c].iat[i]
        return None if pd.isna(x) else (round(float(x), 4) if c in TABLES[table].rates else int(x))
    return [[cell(i, c) for c in columns] for i in range(len(v))]


def three_ali(entrees):
    return marts([ali("ALI01", 500, entrees[0]), ali("ALI02", 600, entrees[1]), ali("ALI03", 700, entrees[2])])


def test_primary_alone_would_let_the_cell_be_recomputed_from_the_total():
    # entrees 3 + 40 + 57 = 100 published for the département: hiding only ALI01's 3 would give it back
    # as 100 − 40 − 57; the smallest non-zero other cell of the row, ALI02's 40, is hidden too.
    result = suppress(three_ali([3, 40, 57]))
    assert shown(result, "ali_mensuel", ["entrees"]) == [[S], [S], [57]]
    assert shown(result, "departement_mensuel", ["entrees"]) == [[100]]
    assert (result.primary, result.secondary, result.rates) == (1, 1, 0)
    assert shown(result, "ali_mensuel", ["file_active", "accompagnes_fin_mois", "sorties", "sorties_positives"]) == [
        [500, 480, 20, 12], [600, 580, 20, 12], [700, 680, 20, 12]]
    assert verify(result.values, result.secret) == []


def test_two_small_cells_need_no_secondary_suppression():
    result = suppress(three_ali([3, 4, 93]))  # 3 + 4 = 7 is known, neither cell is
    assert shown(result, "ali_mensuel", ["entrees"]) == [[S], [S], [93]]
    assert (result.primary, result.secondary) == (2, 0)


def test_zero_is_published_and_never_chosen_as_secondary():
    result = suppress(three_ali([0, 5, 95]))  # 0 stays; the secondary is 95, the smallest NON-ZERO cell
    assert shown(result, "ali_mensuel", ["entrees"]) == [[0], [S], [S]]
    assert (result.primary, result.secondary) == (1, 1)
    assert shown(suppress(three_ali([0, 0, 0])), "ali_mensuel", ["entrees"]) == [[0], [0], [0]]


def test_secret_cells_that_could_only_all_be_one_get_a_third_one():
    # 100 − 98 = 2 over two secret cells, each ≥ 1 (0 is never secret): both would be 1
    result = suppress(three_ali([1, 1, 98]))
    assert shown(result, "ali_mensuel", ["entrees"]) == [[S], [S], [S]]
    assert shown(result, "departement_mensuel", ["entrees"]) == [[100]]
    assert (result.primary, result.secondary) == (2, 1)


def test_two_dimensions_ali_by_stock_and_exits_with_rates_following_their_counts():
    # Per ALI row file_active = accompagnes_fin_mois + sorties; per column the ALI sum to the département.
    result = suppress(marts([ali("ALI01", 500, sorties=7, positives=3), ali("ALI02", 600, sorties=30, positives=15),
                             ali("ALI03", 700, sorties=40, positives=20)]))
    # ALI01: sorties 7 and positives 3 primary. Column sorties: ALI02's 30 (smallest other);
    # column positives: ALI02's 15. Rows ALI01 and ALI02: one secret among (fin de mois, sorties)
    # with file_active published → accompagnes_fin_mois hidden in both; that column then holds 2.
    assert shown(result, "ali_mensuel", ALI_COLS) == [
        [500, S, 20, S, S, S, S],
        [600, S, 20, S, S, S, S],
        [700, 660, 20, 40, 20, 0.5, 66.0]]
    assert shown(result, "departement_mensuel", DEPT_COLS) == [[1800, 1723, 60, 77, 38, 130]]
    assert (result.primary, result.secondary, result.rates) == (2, 4, 4)
    assert verify(result.values, result.secret) == []


def test_occupancy_rate_masked_with_its_count_and_actions_without_places_outside_the_total():
    # Département places_occupees = 7 + 80 + 50 (A4 has 0 places: not in the total, its rate is NULL).
    result = suppress(marts([ali("ALI01", 500), ali("ALI02", 600)], actions=[
        action("A1", 20, 7, participants=9, prescriptions=0), action("A2", 100, 80),
        action("A3", 60, 50, prescriptions=12), action("A4", 0, 3)]))
    cols = ["places_occupees", "taux_occupation", "participants", "prescriptions"]
    assert shown(result, "actions_mensuel", cols) == [
        [S, S, S, 0],
        [80, 0.8, 50, 30],
        [S, S, 50, 12],  # 50 < 80: the secondary
        [S, None, 50, 30]]  # primary; a NULL rate stays NULL, it is not a secret
    assert shown(result, "departement_mensuel", ["places_occupees"]) == [[137]]
    assert (result.primary, result.secondary, result.rates) == (3, 1, 2)


def test_communes_sum_to_the_departement_and_the_rate_per_1000_follows():
    result = suppress(marts([ali("ALI01", 908), ali("ALI02", 1000)], communes=[
        commune("93001", 8, 20_000), commune("93008", 900, 50_000), commune("93010", 1000, 50_000)]))
    assert shown(result, "territoire_mensuel", ["file_active", "accompagnes_pour_1000_hab"]) == [
        [S, S], [S, S], [1000, 20.0]]
    assert (result.primary, result.secondary, result.rates) == (1, 1, 2)


def test_month_to_month_link_of_the_ali_is_protected_too():
    # accompagnes_fin_mois(M) + entrees(M+1) ≈ file_active(M+1): without it, ALI01's hidden 7 exits of
    # March would come back (up to a small gap) as file_active(M) − file_active(M+1) + entrees(M+1).
    april = pd.Timestamp("2024-04-01")
    result = suppress(marts([
        ali("ALI01", 500, sorties=7, positives=0), ali("ALI02", 600, sorties=30, positives=0),
        ali("ALI03", 700, sorties=40, positives=0),
        ali("ALI01", 520, entrees=27, periode=april), ali("ALI02", 610, entrees=40, periode=april),
        ali("ALI03", 690, entrees=30, periode=april)]))
    # March: sorties ALI01 primary → ALI02's 30 (column); rows → both accompagnes_fin_mois (493, 570);
    # month to month → April entrees of ALI01 (27) and ALI02 (40), whose column then holds two secrets.
    assert shown(result, "ali_mensuel", ALI_COLS) == [
        [500, S, 20, S, 0, S, S],
        [600, S, 20, S, 0, S, S],
        [700, 660, 20, 40, 0, 0.0, 66.0],
        [520, 500, S, 20, 12, 0.6, 50.0],
        [610, 590, S, 20, 12, 0.6, 59.0],
        [690, 670, 30, 20, 12, 0.6, 67.0]]
    assert (result.primary, result.secondary, result.rates) == (1, 5, 4)
    assert verify(result.values, result.secret) == []


COHORT_COLS = ["entrants", "sortis_6m", "sortis_positifs_6m", "taux_sorties_positives_6m", "sortis_12m",
               "sortis_positifs_12m", "taux_sorties_positives_12m", "contrats_60j", "taux_contrat_60j"]


def test_nested_counts_of_a_cohort_never_publish_a_small_difference():
    # ALI01: 25 entrants, 20 out within 6 months (25 − 20 = 5 still in: sortis_6m hidden), 12 of them
    # positive (25 − 12 = 13 and the 20 hidden: published); all 25 out within 12 months, 18 positive
    # (25 − 18 = 7: hidden; then 18 − 12 = 6 no longer shows); 3 contracts: primary. Rates follow.
    # ALI02: 40 entrants, 10 and 0 out (primary 10, 0 published), 30 and 28 out at 12 months (40 − 30 =
    # 10 → 30 hidden; 40 − 28 = 12 and 30 − 28 hidden: 28 published), 40 contracts (40 − 40 = 0).
    result = suppress(marts([ali("ALI01", 500)], cohortes=[
        cohorte("ALI01", 25, 20, 12, 25, 18, 3), cohorte("ALI02", 40, 10, 0, 30, 28, 40)]))
    assert shown(result, "parcours_cohortes", COHORT_COLS) == [
        [25, S, 12, 0.48, 25, S, S, S, S],
        [40, S, 0, 0.0, S, 28, 0.7, 40, 1.0]]
    assert (result.primary, result.secondary) == (2, 3)
    assert verify(result.values, result.secret) == []
    values, secret = broken(result, "parcours_cohortes", 0, "sortis_6m", 20)  # 25 − 20, 20 − 12, 25 − 20 show
    cell = "parcours_cohortes (2024-03-01, ALI01)"
    assert verify(values, secret) == [
        f"{cell} sortis_6m : entrants − sortis_6m publié entre 1 et 10",
        f"{cell} sortis_positifs_6m : sortis_6m − sortis_positifs_6m publié entre 1 et 10",
        f"{cell} sortis_6m : sortis_12m − sortis_6m publié entre 1 et 10"]


def test_barriers_hide_a_small_difference_between_persons_and_those_answered():
    result = suppress(marts([ali("ALI01", 500)], freins=[
        frein("ALI01", "LANGUE", 30, 25, 0), frein("ALI01", "SANTE", 8, 0, 0), frein("ALI01", "LOGEMENT", 0, 0, 0)]))
    assert shown(result, "freins_mensuel", ["personnes", "personnes_orientees", "taux_orientation",
                                            "personnes_en_action", "taux_en_action"]) == [
        [30, S, S, 0, 0.0],  # 30 − 25 = 5 not answered: the 25 hidden
        [S, 0, S, 0, S],  # 8 persons: primary; the 0 stay, the rates over a secret do not
        [0, 0, None, 0, None]]
    assert verify(result.values, result.secret) == []


def broken(result, table, row, column, value):
    """A copy of a suppression result with one cell published as ``value``."""
    values = {t: v.copy() for t, v in result.values.items()}
    secret = {t: s.copy() for t, s in result.secret.items()}
    values[table][column] = values[table][column].astype("Float64")
    values[table].loc[row, column] = value
    secret[table].loc[row, column] = False
    return values, secret


def test_verify_catches_deliberately_broken_outputs():
    ok = suppress(three_ali([3, 40, 57]))
    problems = verify(*broken(ok, "ali_mensuel", 1, "entrees", 40))  # the secondary published again
    assert problems == ["ali_mensuel (2024-03-01, ALI01) entrees : secret recalculable depuis les totaux publiés"]

    problems = verify(*broken(ok, "ali_mensuel", 0, "entrees", 3))  # the primary published: 3 shows
    assert "ali_mensuel (2024-03-01, ALI01) entrees : compte de 1 à 10 publié" in problems

    actions = suppress(marts([ali("ALI01", 500), ali("ALI02", 600)],
                             actions=[action("A1", 20, 7), action("A2", 100, 80), action("A3", 60, 50)]))
    assert verify(actions.values, actions.secret) == []
    problems = verify(*broken(actions, "actions_mensuel", 0, "taux_occupation", 0.35))  # 0.35 × 20 = 7
    assert problems == [
        "actions_mensuel (2024-03-01, A1) taux_occupation : publié alors que places_occupees est secret"]

    values, secret = broken(actions, "actions_mensuel", 0, "places_occupees", 7)  # a count of 7 published
    assert "actions_mensuel (2024-03-01, A1) places_occupees : compte de 1 à 10 publié" in verify(values, secret)

    ones = suppress(three_ali([1, 1, 98]))
    problems = verify(*broken(ones, "ali_mensuel", 2, "entrees", 98))
    assert problems == ["ali_mensuel (2024-03-01, ALI01) entrees : les cellules secrètes du groupe valent toutes 1"]


def test_verify_catches_a_bug_in_suppress(monkeypatch):
    monkeypatch.setattr(secrecy, "_unsafe", lambda *args: False)  # secondary suppression silently off
    result = suppress(three_ali([3, 40, 57]))
    assert verify(result.values, result.secret) == [
        "ali_mensuel (2024-03-01, ALI01) entrees : secret recalculable depuis les totaux publiés"]


def test_determined_sees_what_a_per_group_count_misses():
    # A 4×4 table with row and column totals: two 2×2 blocks of secrets joined by one secret (r2, c3).
    # Every row and column holds ≥ 2 secrets, yet (r2, c3) = Σ columns c3,c4 − Σ rows r3,r4.
    secret = {(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (3, 4), (4, 3), (4, 4), (2, 3)}
    cell = lambda r, c: ("t", r, f"c{c}")
    groups = [Group(tuple(cell(r, c) for c in range(1, 5)), (("t", r, "total"),)) for r in range(1, 5)]
    groups += [Group(tuple(cell(r, c) for r in range(1, 5)), (("t", 0, f"c{c}"),)) for c in range(1, 5)]
    is_secret = lambda c: (c[1], int(c[2][1:])) in secret if c[2] != "total" and c[1] else False
    assert all(sum(map(is_secret, g.left)) != 1 for g in groups)
    assert determined(groups, is_secret) == [cell(2, 3)]
    assert determined(groups, lambda c: is_secret(c) and c != cell(2, 3)) == []


# --- integration: the project's own pipeline on sample deliveries --------------------------------

@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> dict[str, Path]:
    """Sample deliveries (2024-01..03, scale 0.05) through the real refresh, which publishes the marts."""
    return refreshed_sample(tmp_path_factory.mktemp("open_data"), 0.05, "2024-01", "2024-03")


def test_export_of_the_pipeline_marts_passes_verify(platform, tmp_path):
    with duckdb.connect(str(platform["ALI_WAREHOUSE"]), read_only=True) as con:
        done = od.export(con, tmp_path / "open_data")
        rows = {t: con.execute(f"SELECT count(*) FROM marts.{s.source}").fetchone()[0] for t, s in TABLES.items()}
    assert done.problems == [] and done.directory == tmp_path / "open_data"
    assert od.check_directory(tmp_path / "open_data") == []
    assert done.rows == rows
    assert done.suppression.primary > 0
    ali = pd.read_csv(tmp_path / "open_data" / "ali_mensuel.csv", dtype=str, keep_default_na=False)
    text = "".join((tmp_path / "open_data" / f"{t}.csv").read_text(encoding="utf-8") for t in TABLES)
    assert ",s," in text or ",s\n" in text
    assert not text.startswith("\ufeff") and list(ali.columns) == list(TABLES["ali_mensuel"].columns)
    not_delivered = ali[ali["livre"] == "false"]
    assert (not_delivered[["file_active", "entrees"]] == "").all().all()  # NULL is empty, never "s"


def test_the_export_is_a_valid_data_package_and_frictionless_finds_a_planted_fault(platform, tmp_path):
    with duckdb.connect(str(platform["ALI_WAREHOUSE"]), read_only=True) as con:
        od.export(con, tmp_path / "open_data")
    served = (tmp_path / "open_data").resolve()
    report = frictionless.validate(str(served / "datapackage.json"))
    assert report.valid, report.flatten(["name", "rowNumber", "fieldName", "type", "note"])[:5]
    assert [task.stats["rows"] for task in report.tasks] == [len(od.read_published(served)[0][t]) for t in TABLES]
    package = json.loads((served / "datapackage.json").read_text(encoding="utf-8"))
    assert sorted(r["path"] for r in package["resources"]) == sorted(p.name for p in served.glob("*.csv"))
    assert package["licenses"][0]["name"] == "etalab-2.0"
    ali = next(r for r in package["resources"] if r["name"] == "ali_mensuel")
    assert ali["schema"]["primaryKey"] == ["periode", "code_ali"] and ali["schema"]["missingValues"] == ["", "s"]
    types = {f["name"]: f["type"] for f in ali["schema"]["fields"]}
    assert (types["periode"], types["livre"], types["entrees"], types["taux_sorties_positives"], types["nom_ali"]) \
        == ("date", "boolean", "integer", "number", "string")

    copy = tmp_path / "copie"
    shutil.copytree(served, copy)
    rows = list(csv.reader((copy / "departement_mensuel.csv").read_text(encoding="utf-8").splitlines()))
    rows[2][rows[0].index("ali_ouvertes")] = "trois"  # row 3 of the file (the header is row 1)
    with (copy / "departement_mensuel.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    report = frictionless.validate(str(copy / "datapackage.json"))
    assert [tuple(e) for e in report.flatten(["rowNumber", "fieldName", "type"])] == [(3, "ali_ouvertes", "type-error")]


def unprotected(tables):
    """A broken ``suppress``: says nothing is secret and publishes every mart value as it is."""
    done = suppress(tables)
    return dataclasses.replace(done, secret={t: s & False for t, s in done.secret.items()},
                               values={t: tables[t][list(TABLES[t].columns)] for t in TABLES})


def test_a_failing_export_is_deleted_and_the_previous_one_stays(platform, tmp_path, monkeypatch):
    with duckdb.connect(str(platform["ALI_WAREHOUSE"]), read_only=True) as con:
        od.export(con, tmp_path / "open_data")
        before = os.readlink(tmp_path / "open_data")
        monkeypatch.setattr(od, "suppress", unprotected)
        done = od.export(con, tmp_path / "open_data")
    assert done.directory is None and any("compte de 1 à 10 publié" in p for p in done.problems)
    assert os.readlink(tmp_path / "open_data") == before
    assert [p.name for p in (tmp_path / ".open_data").iterdir()] == [Path(before).name]


def test_dagster_asset_and_blocking_check(platform, monkeypatch):
    publish = PublishResource(directory=str(platform["ALI_PUBLISH_DIR"]))
    resources = {"publish": publish, "warehouse": WarehouseResource(path=str(platform["ALI_WAREHOUSE"]))}
    served = platform["ALI_PUBLISH_DIR"] / "open_data"
    for _ in range(2):  # twice: the second export replaces the first, which is kept for readers still on it
        result = dg.materialize([open_data], instance=dg.DagsterInstance.ephemeral(), resources=resources)
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert check.check_name == "secret_statistique" and check.passed
    assert check.metadata["secret_primaire"].value > 0
    assert served.is_symlink() and od.check_directory(served) == []
    assert len(list((platform["ALI_PUBLISH_DIR"] / ".open_data").iterdir())) == 2

    before = os.readlink(served)
    monkeypatch.setattr(od, "suppress", unprotected)
    result = dg.materialize([open_data], instance=dg.DagsterInstance.ephemeral(), resources=resources,
                            raise_on_error=False)
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["violations"].value > 0
    assert result.get_asset_materialization_events() == []
    assert os.readlink(served) == before
