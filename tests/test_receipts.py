"""Receipts (``retours.md`` §1): each sender learns, after each run, what the platform made of its files.

One hand-made month (March 2024, due on 5 April, Paris) through the real refresh, three times:
1. ALI01 sends beneficiaires on 2 April and a conseillers file in the wrong format on 3 April
   (rejected); ALI02 sends both files on 4 April.
2. ALI01 re-sends beneficiaires on 6 April (quarantined rows of four rules, an unknown referent, an
   extra column) and a valid conseillers on 8 April at 11:00 Paris: late by 3 days.
3. Nothing changes: every receipt stays byte for byte. 4. ALI01 re-sends beneficiaires: its receipt
   is rewritten, ALI02's is left as it was.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import os
import shutil

import dagster as dg
import pytest
from conftest import BENEF_HEADER, Inbox, benef_row, lines, platform_env
from test_report import offline_only

from pipelines.contract import FIXES
from pipelines.refresh import run_refresh

pytestmark = pytest.mark.slow  # four full refreshes

CONSEILLERS = lines("referent;fonction;etp;date_arrivee;date_depart", "R1;CIP;1;01/01/2023;", "R2;CIP;0,5;01/01/2023;")


def utc(day: int, hour: int) -> int:
    return calendar.timegm((2024, 4, day, hour, 0, 0))


def with_comment(*rows: str) -> str:
    return lines(BENEF_HEADER + ";commentaire", *(row + ";ok" for row in rows))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs 1–4 once for the module: the receipts after run 2 (copied aside), and every receipt file's
    bytes and modification time after runs 2, 3 and 4."""
    root = tmp_path_factory.mktemp("accuses")
    folder = root / "published" / "accuses" / "2024-03"
    inbox = Inbox(root / "inbox")
    instance = dg.DagsterInstance.ephemeral()
    states = []

    def refresh():
        assert run_refresh("2024-03", instance=instance).success
        states.append({p.name: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in sorted(folder.iterdir())})

    with pytest.MonkeyPatch.context() as patch:
        for name, value in platform_env(root).items():
            patch.setenv(name, value)
        patch.delenv("ALI_DEMO_MODE", raising=False)
        inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, benef_row("1111111"),
                                                           benef_row("2222222")), mtime=utc(2, 10))
        inbox.put("2024-03/ALI01/conseillers.csv", "referent|fonction|etp\nR1|CIP|1\n", mtime=utc(3, 10))
        inbox.put("2024-03/ALI02/beneficiaires.csv", lines(BENEF_HEADER, benef_row("7777777")), mtime=utc(4, 10))
        inbox.put("2024-03/ALI02/conseillers.csv", CONSEILLERS, mtime=utc(4, 10))
        refresh()
        inbox.put("2024-03/ALI01/beneficiaires.csv", with_comment(
            benef_row("1111111"),
            benef_row("2222222", sexe="X"),
            benef_row("3333333", entree="2024-13-01"),
            benef_row("4444444", commune="Paris"),
            benef_row("1111111"),
            benef_row("5555555", referent="R9"),
        ), mtime=utc(6, 10))
        inbox.put("2024-03/ALI01/conseillers.csv", CONSEILLERS, mtime=utc(8, 9))
        refresh()
        shutil.copytree(folder, root / "apres_run_2")
        refresh()
        inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, benef_row("1111111")), mtime=utc(9, 10))
        refresh()
    return root / "apres_run_2", states[1:]


def read_csv(path) -> list[dict]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))


def test_a_receipt_tells_the_sender_each_file_s_fate_what_to_fix_and_whether_it_was_late(runs, browser):
    folder, _ = runs
    assert sorted(p.name for p in folder.iterdir()) == [f"ALI0{i}.{s}" for i in (1, 2) for s in ("csv", "html", "json")]
    errors, requests = [], []
    page = browser.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: offline_only(route, requests))
    page.goto((folder / "ALI01.html").as_uri(), wait_until="load")

    def items(selector: str, *keys: str) -> list[list[str]]:
        fields = ", ".join(f"e.dataset.{k}" for k in keys)
        return page.eval_on_selector_all(selector, f"els => els.map(e => [{fields}])")

    assert page.title() == "Accusé de réception ALI01 2024-03"
    assert "ALI Aubervilliers" in page.text_content("h1")
    assert "5 avril 2024" in page.text_content("body")
    assert items("[data-bilan]", "aLHeure", "retardJ") == [["False", "3"]]
    assert "en retard de 3 jour(s)" in page.text_content("[data-bilan]")
    assert items("[data-fichier][data-statut]", "fichier", "statut", "version") == [
        ["2024-03/ALI01/beneficiaires.csv", "VALIDE", "remplacé par une version plus récente"],
        ["2024-03/ALI01/conseillers.csv", "REJETE", "rejeté"],
        ["2024-03/ALI01/beneficiaires.csv", "VALIDE", "en vigueur"],
        ["2024-03/ALI01/conseillers.csv", "VALIDE", "en vigueur"],
    ]
    cells = page.eval_on_selector_all("[data-fichier][data-statut]",
                                      "els => els.map(e => [...e.cells].map(c => c.textContent))")
    assert [c[1] for c in cells] == ["02/04/2024 12:00", "03/04/2024 12:00", "06/04/2024 12:00", "08/04/2024 11:00"]
    assert [c[4:] for c in cells] == [["2", "2", "0", "0"], ["", "", "", ""], ["6", "2", "4", "0"],
                                      ["2", "2", "0", "0"]]
    assert items("[data-rejet]", "regle") == [["separateur"]]
    assert FIXES["separateur"] in page.text_content("[data-rejet]")
    assert items("[data-ligne]", "ligne", "colonne", "regle") == [
        ["3", "sexe", "valeur_hors_liste"], ["4", "date_entree", "date_invalide"],
        ["5", "commune", "commune_inconnue"], ["6", "matricule", "doublon"]]
    doublon = page.eval_on_selector("[data-ligne='6']", "e => [...e.cells].map(c => c.textContent)")
    assert doublon == ["6", "matricule", "doublon", "doublon de la clé matricule+organisme (première occurrence "
                       "ligne 2)", ""]
    assert page.eval_on_selector("[data-ligne='5']", "e => e.cells[4].textContent") == "Paris"
    assert [r for [r] in items("[data-correction]", "correction")] == [
        "commune_inconnue", "date_invalide", "doublon", "valeur_hors_liste"]
    for rule in ("commune_inconnue", "date_invalide", "doublon", "valeur_hors_liste", "referent_inconnu"):
        assert FIXES[rule] in page.text_content("body")
    assert items("[data-signalement]", "signalement", "nb") == [["referent_inconnu", "1"],
                                                                ["colonnes_ignorees", None]]
    assert "commentaire" in page.text_content("[data-signalement='colonnes_ignorees']")
    assert page.query_selector("[data-manquants-aucun]") is not None
    assert errors == [] and requests == []
    for identifier in ("1111111", "2222222", "5555555", "Martin", "Zoé", "03/04/1980", "1980-04-03"):
        assert identifier not in page.content()

    rows = read_csv(folder / "ALI01.csv")
    assert [r["rubrique"] for r in rows] == ["delai", "fichier", "fichier", "fichier", "signalement", "fichier",
                                             "quarantaine", "quarantaine", "quarantaine", "quarantaine", "signalement"]
    assert rows[0]["message"] == "Livraison complète, en retard de 3 jour(s) sur l'échéance."
    assert [(r["ligne"], r["colonne"], r["regle"], r["valeur"]) for r in rows if r["rubrique"] == "quarantaine"] == [
        ("3", "sexe", "valeur_hors_liste", "X"), ("4", "date_entree", "date_invalide", "2024-13-01"),
        ("5", "commune", "commune_inconnue", "Paris"), ("6", "matricule", "doublon", "")]
    assert rows[2]["regle"] == "separateur" and rows[2]["que_faire"] == FIXES["separateur"]
    assert rows[4]["regle"] == "colonnes_ignorees" and rows[4]["message"] == "commentaire"
    assert (rows[-1]["regle"], rows[-1]["nb_lignes"]) == ("referent_inconnu", "1")

    document = json.loads((folder / "ALI01.json").read_text())  # the portal's GET /api/accuses
    assert (document["source_code"], document["mois"], document["bilan"]) == ("ALI01", "2024-03", rows[0]["message"])
    assert [(q["ligne"], q["colonne"], q["regle"], q["valeur"], q["que_faire"]) for q in document["quarantaine"]] == \
        [(int(r["ligne"]), r["colonne"], r["regle"], r["valeur"] or None, r["que_faire"])
         for r in rows if r["rubrique"] == "quarantaine"]
    assert [f["statut"] for f in document["fichiers"]] == ["VALIDE", "REJETE", "VALIDE", "VALIDE"]

    ali02 = read_csv(folder / "ALI02.csv")
    assert ali02[0]["message"] == "Livraison complète et à l'heure."
    assert [(r["jeu"], r["version"]) for r in ali02[1:]] == [("beneficiaires", "en vigueur"),
                                                             ("conseillers", "en vigueur")]


def test_a_run_that_changes_nothing_leaves_receipts_and_one_source_s_resend_rewrites_its_own_only(runs):
    folder, (second, third, fourth) = runs
    assert third == second  # bytes and modification times
    assert {name for name in second if fourth[name] != second[name]} == {"ALI01.csv", "ALI01.html", "ALI01.json"}
    assert fourth["ALI01.html"][0].count('data-version="remplacé par'.encode()) == 2  # beneficiaires v1, v2
