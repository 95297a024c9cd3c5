"""The write guard: a text about a delivery that coincides with a delivered identifier is withheld.

Hand-made deliveries, the real ingestion, then the real privacy scan over what it wrote. Ordinary
faults of real exports: the same impossible date typed as one person's birth date and as another
row's entry date (in one file, or in files of another source and month, in either order), a
placeholder 01/01/1900 used in both columns, a real birth date typed in another row's first
appointment. Each time the row is quarantined with its rule and row number, its value is withheld
(the message says why) and the scan finds nothing; a value that is no identifier stays quoted.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from conftest import BENEF_HEADER, PSEUDO, TEST_KEY, benef_row, lines, select

from pipelines.privacy.guard import EN_TETE_MASQUE, MASQUE, Guard
from pipelines.privacy.scan import scan_places
from pipelines.raw.load import Settings, ingest_folder
from pipelines.refresh import run_refresh
from pipelines.warehouse import connect

PART_HEADER = "matricule;organisme;code_action;date_entree;date_sortie;resultat_sortie;heures_realisees"
INVALIDE = "date invalide (attendu JJ/MM/AAAA ou AAAA-MM-JJ)"
AVANT = "antérieure à date_orientation"


def motifs(con, fichier: str) -> dict[int, list[tuple]]:
    """ligne → [(colonne, regle, message, valeur)] of a file's quarantine records."""
    rows = select(con, "SELECT ligne, motifs FROM raw.quarantaine WHERE fichier = ? ORDER BY ligne", [fichier])
    return {ligne: [(m["colonne"], m["regle"], m["message"], m["valeur"]) for m in found] for ligne, found in rows}


def scan(tmp_path: Path, con, months: list[str]):
    """The blocking checks' scan over the warehouse (closed first: the scan attaches it read-only)."""
    con.close()
    return scan_places(tmp_path / "warehouse" / "ali.duckdb", tmp_path / "archive", months, "test", key=TEST_KEY)


def test_coincidences_within_one_file_are_withheld_and_the_scan_finds_nothing(con, inbox, ingest, tmp_path):
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(
        BENEF_HEADER,
        benef_row("1111111", naissance="31/02/2025"),  # 2: an impossible birth date (a form all the same)
        benef_row("2222222", entree="31/02/2025"),  # 3: the same text as an entry date
        benef_row("3333333", naissance="01/01/1900"),  # 4: a placeholder birth date, valid: loads
        benef_row("4444444", rdv="01/01/1900"),  # 5: the placeholder as first appointment (before orientation)
        benef_row("5555555", rdv="03/04/1980"),  # 6: everyone's real birth date (1980-04-03), typed as a date
        benef_row("6666666", rdv="15/01/2024"),  # 7: before orientation too, but nobody's birth date
    ))
    ingest("2024-03")
    assert motifs(con, "2024-03/ALI01/beneficiaires.csv") == {
        2: [("date_naissance", "date_invalide", INVALIDE, None)],  # an identifier column: never quoted
        3: [("date_entree", "date_invalide", INVALIDE + MASQUE, None)],
        5: [("date_premier_rdv", "rdv_avant_orientation", AVANT + MASQUE, None)],
        6: [("date_premier_rdv", "rdv_avant_orientation", AVANT + MASQUE, None)],
        7: [("date_premier_rdv", "rdv_avant_orientation", AVANT, "15/01/2024")],
    }
    assert select(con, "SELECT count(*) FROM raw.beneficiaires") == [(1,)]  # row 4
    found = scan(tmp_path, con, ["2024-03"])
    assert found.findings == [] and found.counts["identifiants_date_naissance"] >= 3


def test_a_birth_date_of_a_later_month_withholds_a_value_already_stored(con, inbox, ingest, tmp_path):
    """March's partner file quotes 15/13/2024; April's ALI file then delivers it as a birth date."""
    part = "2024-03/P045/participations.csv"
    inbox.put(part, lines(PART_HEADER, "1234567;CAF;A0057;15/13/2024;;;", "7654321;CAF;A0057;32/01/2024;;;"))
    ingest("2024-03")
    assert motifs(con, part) == {2: [("date_entree", "date_invalide", INVALIDE, "15/13/2024")],
                                 3: [("date_entree", "date_invalide", INVALIDE, "32/01/2024")]}
    inbox.put("2024-04/ALI02/beneficiaires.csv", lines(BENEF_HEADER, benef_row("2345678", naissance="15/13/2024")))
    ingest("2024-04")
    assert motifs(con, part) == {2: [("date_entree", "date_invalide", INVALIDE + MASQUE, None)],
                                 3: [("date_entree", "date_invalide", INVALIDE, "32/01/2024")]}
    assert scan(tmp_path, con, ["2024-04"]).findings == []


def test_a_run_of_a_month_delivered_earlier_withholds_what_a_later_run_wrote(con, inbox, tmp_path, monkeypatch):
    """April (the birth date) is ingested first; March's late file quotes it (no form of March: kept);
    the next run over April, with nothing new, re-applies the guard before its scan."""
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "0")
    settings = Settings(inbox.root, tmp_path / "archive")
    inbox.put("2024-04/ALI02/beneficiaires.csv", lines(BENEF_HEADER, benef_row("2345678", naissance="15/13/2024")))
    assert ingest_folder(con, settings, "2024-04", PSEUDO, "run1") == 1
    part = "2024-03/P045/participations.csv"
    inbox.put(part, lines(PART_HEADER, "1234567;CAF;A0057;15/13/2024;;;"))
    assert ingest_folder(con, settings, "2024-03", PSEUDO, "run2") == 1
    assert motifs(con, part)[2][0][3] == "15/13/2024"  # March's own deliveries hold no such identifier
    guard = Guard(con, settings.archive, ["2024-04"], "run3")  # what the ingestion asset does first
    assert ingest_folder(con, settings, "2024-04", PSEUDO, "run3", guard=guard) == 0
    assert motifs(con, part) == {2: [("date_entree", "date_invalide", INVALIDE + MASQUE, None)]}
    con.close()
    found = scan_places(tmp_path / "warehouse" / "ali.duckdb", settings.archive, ["2024-04"], "run3", key=TEST_KEY)
    assert found.findings == []


def test_one_run_over_two_months_guards_the_first_with_the_forms_of_the_second(con, inbox, tmp_path, monkeypatch):
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "0")
    settings = Settings(inbox.root, tmp_path / "archive")
    part = "2024-03/P045/participations.csv"
    inbox.put(part, lines(PART_HEADER, "1234567;CAF;A0057;01/01/1900;01/01/1900;FIN_ACTION;"))
    inbox.put("2024-04/ALI02/beneficiaires.csv", lines(BENEF_HEADER, benef_row("2345678", naissance="01/01/1900")))
    guard = Guard(con, settings.archive, ["2024-03", "2024-04"], "run")
    for month in ("2024-03", "2024-04"):
        assert ingest_folder(con, settings, month, PSEUDO, "run", guard=guard) == 1
    # 01/01/1900 as an exit date is outside March; the entry date is valid and before it: one reason
    assert motifs(con, part) == {2: [("date_sortie", "sortie_hors_du_mois", "hors du mois déclaré" + MASQUE, None)]}
    assert scan(tmp_path, con, ["2024-03", "2024-04"]).findings == []


def test_an_ignored_header_that_is_a_name_is_withheld(con, inbox, ingest, tmp_path):
    """A column headed with a person's name (a pasted row): reported as ignored, never named."""
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(
        BENEF_HEADER + ";Lebœuf;commentaire", benef_row(nom="Lebœuf", prenom="Zoé") + ";;"))
    ingest("2024-03")
    assert select(con, "SELECT colonnes_ignorees FROM raw.livraisons") == [([EN_TETE_MASQUE, "commentaire"],)]
    assert scan(tmp_path, con, ["2024-03"]).findings == []


@pytest.mark.parametrize("value", ["1 80 04 93 066 123 45", "1800493066123"])
def test_any_nir_shaped_number_is_withheld(con, inbox, ingest, value):
    """The scan looks for NIRs in every cell of the originals; the guard withholds every 13- or 15-digit number."""
    inbox.put("2024-03/ALI01/beneficiaires.csv",
              lines(BENEF_HEADER, benef_row(sexe=value), benef_row("7654321", sexe="H")))
    ingest("2024-03")
    assert motifs(con, "2024-03/ALI01/beneficiaires.csv") == {
        2: [("sexe", "valeur_hors_liste", "valeur hors liste (F, M)" + MASQUE, None)],
        3: [("sexe", "valeur_hors_liste", "valeur hors liste (F, M)", "H")],
    }


@pytest.mark.slow
def test_the_refresh_succeeds_when_deliveries_share_an_impossible_date(env, inbox):
    """The case that stopped the platform: 31/02/2025 typed as a birth date by an ALI in March and as an
    entry date by a partner in April. One real refresh of both months: every privacy check passes."""
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, benef_row(),
                                                              benef_row("2222222", naissance="31/02/2025")))
    inbox.put("2024-04/P045/participations.csv", lines(PART_HEADER, "1234567;CAF;A0057;31/02/2025;;;"))
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh(instance=instance)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("aucun_identifiant_en_clair", "aucun_identifiant_publie", "aucun_identifiant_diffuse"):
        assert checks[name].passed and checks[name].metadata["trouvailles"].value == 0, name
    with connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        assert motifs(con, "2024-04/P045/participations.csv") == {
            2: [("date_entree", "date_invalide", INVALIDE + MASQUE, None)]}
