"""Quarantine and rejection rules (contract §3–§4) on small hand-made files, through the real ingestion.

Every expected value below is written by hand. Every ingestion goes through ``load``, which also checks
``lignes_lues = lignes_chargees + lignes_quarantaine + lignes_ignorees`` for every valid file of the folder.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import BENEF_HEADER, benef_row, counts, lines, manifest, quarantine, select

from pipelines.contract import DATASETS

D = dt.date
BENEF = "2024-03/ALI01/beneficiaires.csv"
CONS = "2024-03/ALI01/conseillers.csv"
PART = "2024-03/P045/participations.csv"
ACT = "2024-03/P045/actions.csv"
# P045's catalogue (every year 2023-2026): A0045, A0057, A0069, ...; A0001 belongs to P001, A0002 to P002.

HEADERS = {
    "beneficiaires": BENEF_HEADER,
    "conseillers": "referent;fonction;etp;date_arrivee;date_depart",
    "participations": "matricule;organisme;code_action;date_entree;date_sortie;resultat_sortie;heures_realisees",
    "actions": "code_action;places_conventionnees;places_occupees;montant_consomme_eur",
}
PATHS = {"beneficiaires": BENEF, "conseillers": CONS, "participations": PART, "actions": ACT}


def cons_row(referent="R1", fonction="CIP", etp="1", arrivee="2023-01-02", depart="") -> str:
    return ";".join([referent, fonction, etp, arrivee, depart])


def part_row(matricule="1234567", organisme="CAF", action="A0057", entree="2024-03-04", sortie="", resultat="",
             heures="") -> str:
    return ";".join([matricule, organisme, action, entree, sortie, resultat, heures])


def act_row(action="A0057", conventionnees="20", occupees="15", montant="") -> str:
    return ";".join([action, conventionnees, occupees, montant])


ROWS = {"beneficiaires": benef_row, "conseillers": cons_row, "participations": part_row, "actions": act_row}
VALID_OTHER = {  # a valid row whose key differs from the default key of ROWS[dataset]()
    "beneficiaires": benef_row("7654321"),
    "conseillers": cons_row("R0"),
    "participations": part_row("7654321"),
    "actions": act_row("A0045"),
}


# --------------------------------------------------------------------------------------------- helpers






def motifs(con, fichier: str, ligne: int) -> list[dict]:
    """The full reasons (colonne, regle, message, valeur) of one quarantined row."""
    rows = select(con, "SELECT motifs FROM raw.quarantaine WHERE fichier = ? AND ligne = ?", [fichier, ligne])
    assert len(rows) == 1, rows
    return rows[0][0]


def raw_total(con) -> int:
    return sum(select(con, f"SELECT count(*) FROM raw.{t}")[0][0]
               for t in ("beneficiaires", "conseillers", "participations", "actions", "quarantaine"))


def deliver(inbox, dataset: str, *rows: str, path: str | None = None) -> str:
    path = path or PATHS[dataset]
    inbox.put(path, lines(HEADERS[dataset], *rows))
    return path


def one_bad_row(con, inbox, load, dataset: str, **overrides) -> list[tuple[str, str]]:
    """A file with one valid row (line 2) and the row under test (line 3): the reasons of line 3."""
    path = deliver(inbox, dataset, VALID_OTHER[dataset], ROWS[dataset](**overrides))
    load()
    assert counts(con, path) == ("VALIDE", 2, 1, 1, 0)
    found = quarantine(con, path)
    assert list(found) == [3]
    return found[3]


def one_good_row(con, inbox, load, dataset: str, **overrides) -> None:
    path = deliver(inbox, dataset, VALID_OTHER[dataset], ROWS[dataset](**overrides))
    load()
    assert counts(con, path) == ("VALIDE", 2, 2, 0, 0)
    assert quarantine(con, path) == {}


# ---------------------------------------------------------------------------------- column type errors


TYPE_ERRORS = [
    # obligatoire: every required column, empty
    ("beneficiaires", {"matricule": ""}, "matricule", "obligatoire"),
    ("beneficiaires", {"naissance": ""}, "date_naissance", "obligatoire"),
    ("beneficiaires", {"commune": " "}, "commune", "obligatoire"),
    ("beneficiaires", {"orientation": "", "rdv": ""}, "date_orientation", "obligatoire"),
    ("beneficiaires", {"entree": ""}, "date_entree", "obligatoire"),
    ("beneficiaires", {"referent": ""}, "referent", "obligatoire"),
    ("beneficiaires", {"entretiens": ""}, "nb_entretiens", "obligatoire"),
    ("conseillers", {"referent": ""}, "referent", "obligatoire"),
    ("conseillers", {"fonction": ""}, "fonction", "obligatoire"),
    ("conseillers", {"etp": ""}, "etp", "obligatoire"),
    ("conseillers", {"arrivee": ""}, "date_arrivee", "obligatoire"),
    ("participations", {"matricule": ""}, "matricule", "obligatoire"),
    ("participations", {"action": ""}, "code_action", "obligatoire"),
    ("participations", {"entree": ""}, "date_entree", "obligatoire"),
    ("actions", {"action": ""}, "code_action", "obligatoire"),
    ("actions", {"conventionnees": ""}, "places_conventionnees", "obligatoire"),
    ("actions", {"occupees": ""}, "places_occupees", "obligatoire"),
    # date_invalide
    ("beneficiaires", {"entree": "31/02/2024"}, "date_entree", "date_invalide"),
    ("beneficiaires", {"naissance": "1980-02-30"}, "date_naissance", "date_invalide"),
    ("beneficiaires", {"orientation": "03/13/2024", "rdv": ""}, "date_orientation", "date_invalide"),
    ("beneficiaires", {"rdv": "le 10 février"}, "date_premier_rdv", "date_invalide"),
    ("beneficiaires", {"contrat": "2024/03/05"}, "date_contrat", "date_invalide"),
    ("beneficiaires", {"sortie": "31/04/2024", "motif": "AUTRE"}, "date_sortie", "date_invalide"),
    ("conseillers", {"arrivee": "45352"}, "date_arrivee", "date_invalide"),  # a serial is a date only in Excel
    ("conseillers", {"depart": "32/03/2024"}, "date_depart", "date_invalide"),
    ("participations", {"entree": "2024-3-32"}, "date_entree", "date_invalide"),
    ("participations", {"sortie": "29/02/2023", "resultat": "AUTRE"}, "date_sortie", "date_invalide"),
    # nombre_invalide
    ("beneficiaires", {"entretiens": "deux"}, "nb_entretiens", "nombre_invalide"),
    ("beneficiaires", {"heures": "12h"}, "heures_activite", "nombre_invalide"),
    ("beneficiaires", {"heures": "1.234,5"}, "heures_activite", "nombre_invalide"),
    ("conseillers", {"etp": "1/2"}, "etp", "nombre_invalide"),
    ("participations", {"heures": "n/a"}, "heures_realisees", "nombre_invalide"),
    ("actions", {"montant": "1 234 €"}, "montant_consomme_eur", "nombre_invalide"),
    ("actions", {"occupees": "douze"}, "places_occupees", "nombre_invalide"),
    # entier_attendu
    ("beneficiaires", {"entretiens": "1,5"}, "nb_entretiens", "entier_attendu"),
    ("actions", {"conventionnees": "20.5"}, "places_conventionnees", "entier_attendu"),
    ("actions", {"occupees": "1,5"}, "places_occupees", "entier_attendu"),
    # negatif
    ("beneficiaires", {"entretiens": "-1"}, "nb_entretiens", "negatif"),
    ("beneficiaires", {"heures": "-2,5"}, "heures_activite", "negatif"),
    ("participations", {"heures": "-1"}, "heures_realisees", "negatif"),
    ("actions", {"conventionnees": "-20"}, "places_conventionnees", "negatif"),
    ("actions", {"montant": "-0,01"}, "montant_consomme_eur", "negatif"),
    # valeur_hors_liste (optional columns too)
    ("beneficiaires", {"sexe": "X"}, "sexe", "valeur_hors_liste"),
    ("beneficiaires", {"organisme": "RSA"}, "organisme", "valeur_hors_liste"),
    ("beneficiaires", {"sortie": "2024-03-15", "motif": "PROMOTION"}, "motif_sortie", "valeur_hors_liste"),
    ("conseillers", {"fonction": "DIRECTEUR"}, "fonction", "valeur_hors_liste"),
    ("participations", {"organisme": "CPAM"}, "organisme", "valeur_hors_liste"),
    ("participations", {"sortie": "2024-03-15", "resultat": "EMPLOI_DURABLE"}, "resultat_sortie",
     "valeur_hors_liste"),
    # element_hors_liste: one bad item quarantines the whole row
    ("beneficiaires", {"freins": "LOGEMENT|VOITURE|SANTE"}, "freins", "element_hors_liste"),
    ("beneficiaires", {"freins": "sante, logement | velo"}, "freins", "element_hors_liste"),
]


@pytest.mark.parametrize("dataset, overrides, colonne, regle", TYPE_ERRORS,
                         ids=[f"{d}-{c}-{r}-{'|'.join(o.values())}" for d, o, c, r in TYPE_ERRORS])
def test_column_type_error_quarantines_the_row(con, inbox, load, dataset, overrides, colonne, regle):
    assert one_bad_row(con, inbox, load, dataset, **overrides) == [(colonne, regle)]


def test_type_error_messages_and_values(con, inbox, load):
    path = deliver(inbox, "beneficiaires",
                   benef_row("1", entree=""),
                   benef_row("2", entree="31/02/2024"),
                   benef_row("3", sexe="X"),
                   benef_row("4", entretiens="1,5"),
                   benef_row("5", heures="12h"),
                   benef_row("6", freins="LOGEMENT|VOITURE"),
                   benef_row("7", entretiens="-3"))
    load()
    assert counts(con, path) == ("VALIDE", 7, 0, 7, 0)
    assert [motifs(con, path, n) for n in range(2, 9)] == [
        [{"colonne": "date_entree", "regle": "obligatoire", "message": "valeur obligatoire manquante",
          "valeur": None}],
        [{"colonne": "date_entree", "regle": "date_invalide",
          "message": "date invalide (attendu JJ/MM/AAAA ou AAAA-MM-JJ)", "valeur": "31/02/2024"}],
        [{"colonne": "sexe", "regle": "valeur_hors_liste", "message": "valeur hors liste (F, M)", "valeur": "X"}],
        [{"colonne": "nb_entretiens", "regle": "entier_attendu",
          "message": "valeur fractionnaire dans une colonne entière", "valeur": "1,5"}],
        [{"colonne": "heures_activite", "regle": "nombre_invalide", "message": "nombre attendu (15 chiffres au plus avant la virgule)", "valeur": "12h"}],
        [{"colonne": "freins", "regle": "element_hors_liste",
          "message": "élément hors liste (LOGEMENT, SANTE, GARDE_ENFANTS, MOBILITE, LANGUE, NUMERIQUE, "
                     "ADMINISTRATIF, FINANCES)", "valeur": "LOGEMENT|VOITURE"}],
        [{"colonne": "nb_entretiens", "regle": "negatif", "message": "valeur négative", "valeur": "-3"}],
    ]


def test_int_out_of_range_quarantines_the_row_and_does_not_abort_the_month(con, inbox, load):
    deliver(inbox, "beneficiaires", benef_row())
    path = deliver(inbox, "actions", act_row("A0045"), act_row("A0057", conventionnees="99999999999999999999"))
    load()
    assert counts(con, path) == ("VALIDE", 2, 1, 1, 0)
    assert [c for c, _ in quarantine(con, path)[3]] == ["places_conventionnees"]
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)


# ------------------------------------------------------------------------------------------ dataset rules


RULE_BREAKS = [
    ("beneficiaires", {"matricule": "12A4567"}, "matricule", "matricule_invalide"),
    ("beneficiaires", {"matricule": "12345678"}, "matricule", "matricule_invalide"),
    ("beneficiaires", {"matricule": "123 456"}, "matricule", "matricule_invalide"),
    ("participations", {"matricule": "ABCDEFG"}, "matricule", "matricule_invalide"),
    ("participations", {"matricule": "00000001"}, "matricule", "matricule_invalide"),
    ("beneficiaires", {"commune": "75056"}, "commune", "commune_inconnue"),
    ("beneficiaires", {"commune": "Paris"}, "commune", "commune_inconnue"),
    ("beneficiaires", {"orientation": "2024-02-10", "rdv": "2024-02-09"}, "date_premier_rdv",
     "rdv_avant_orientation"),
    ("beneficiaires", {"entree": "2024-04-01"}, "date_entree", "entree_apres_le_mois"),
    ("participations", {"entree": "01/04/2024"}, "date_entree", "entree_apres_le_mois"),
    ("beneficiaires", {"entree": "2024-02-01", "sortie": "2024-02-29", "motif": "AUTRE"}, "date_sortie",
     "sortie_hors_du_mois"),
    ("beneficiaires", {"sortie": "2024-04-01", "motif": "AUTRE"}, "date_sortie", "sortie_hors_du_mois"),
    ("participations", {"entree": "2024-02-01", "sortie": "29/02/2024", "resultat": "AUTRE"}, "date_sortie",
     "sortie_hors_du_mois"),
    ("participations", {"sortie": "2024-04-01", "resultat": "AUTRE"}, "date_sortie", "sortie_hors_du_mois"),
    ("beneficiaires", {"entree": "2024-03-10", "sortie": "2024-03-09", "motif": "AUTRE"}, "date_sortie",
     "sortie_avant_entree"),
    ("participations", {"entree": "2024-03-10", "sortie": "2024-03-09", "resultat": "AUTRE"}, "date_sortie",
     "sortie_avant_entree"),
    ("beneficiaires", {"sortie": "2024-03-15"}, "motif_sortie", "motif_manquant"),
    ("participations", {"sortie": "2024-03-15"}, "resultat_sortie", "resultat_manquant"),
    ("conseillers", {"etp": "0"}, "etp", "etp_hors_bornes"),
    ("conseillers", {"etp": "1,2"}, "etp", "etp_hors_bornes"),
    ("conseillers", {"etp": "1.01"}, "etp", "etp_hors_bornes"),
    ("conseillers", {"arrivee": "2024-03-10", "depart": "09/03/2024"}, "date_depart", "depart_avant_arrivee"),
    ("participations", {"action": "A0002"}, "code_action", "action_hors_catalogue"),  # an action of P002
    ("participations", {"action": "A9999"}, "code_action", "action_hors_catalogue"),
    ("actions", {"action": "A0001"}, "code_action", "action_hors_catalogue"),  # an action of P001
]


@pytest.mark.parametrize("dataset, overrides, colonne, regle", RULE_BREAKS,
                         ids=[f"{d}-{r}-{'|'.join(o.values())}" for d, o, c, r in RULE_BREAKS])
def test_dataset_rule_quarantines_the_row(con, inbox, load, dataset, overrides, colonne, regle):
    assert one_bad_row(con, inbox, load, dataset, **overrides) == [(colonne, regle)]


RULE_BOUNDS_OK = [
    ("beneficiaires", {"matricule": "1"}),
    ("beneficiaires", {"orientation": "2024-02-10", "rdv": "2024-02-10"}),
    ("beneficiaires", {"entree": "2024-03-31"}),
    ("beneficiaires", {"entree": "2024-03-01", "sortie": "2024-03-01", "motif": "AUTRE"}),
    ("beneficiaires", {"entree": "2023-11-20", "sortie": "31/03/2024", "motif": "ABANDON"}),
    ("beneficiaires", {"orientation": "2024-03-20", "rdv": "", "entree": "2024-03-31"}),
    ("participations", {"entree": "31/03/2024"}),
    ("participations", {"entree": "2024-03-01", "sortie": "2024-03-01", "resultat": "EMPLOI"}),
    ("participations", {"entree": "2024-01-15", "sortie": "2024-03-31", "resultat": "FIN_ACTION"}),
    ("conseillers", {"etp": "1"}),
    ("conseillers", {"etp": "0,01"}),
    ("conseillers", {"arrivee": "2024-03-10", "depart": "2024-03-10"}),
    ("participations", {"action": "A0141"}),
]


@pytest.mark.parametrize("dataset, overrides", RULE_BOUNDS_OK,
                         ids=[f"{d}-{'|'.join(o.values())}" for d, o in RULE_BOUNDS_OK])
def test_value_at_the_bound_of_a_rule_loads(con, inbox, load, dataset, overrides):
    one_good_row(con, inbox, load, dataset, **overrides)


def test_every_rule_of_the_contract_is_exercised():
    declared = {(r.column, r.code) for d in DATASETS.values() for r in d.rules}
    covered = {(c, r) for _, _, c, r in RULE_BREAKS}
    assert declared <= covered, declared - covered


def test_rule_messages_and_values(con, inbox, load):
    path = deliver(inbox, "beneficiaires",
                   benef_row("1", commune="75056"),
                   benef_row("2", sortie="2024-04-01", motif="AUTRE"),
                   benef_row("3", sortie="2024-03-15"))
    part = deliver(inbox, "participations", part_row(action="A0001"))
    load()
    assert motifs(con, path, 2) == [{"colonne": "commune", "regle": "commune_inconnue",
                                     "message": "commune inconnue ou hors Seine-Saint-Denis", "valeur": "75056"}]
    assert motifs(con, path, 3) == [{"colonne": "date_sortie", "regle": "sortie_hors_du_mois",
                                     "message": "hors du mois déclaré", "valeur": "2024-04-01"}]
    assert motifs(con, path, 4) == [{"colonne": "motif_sortie", "regle": "motif_manquant",
                                     "message": "obligatoire quand date_sortie est renseignée", "valeur": None}]
    assert motifs(con, part, 2) == [{"colonne": "code_action", "regle": "action_hors_catalogue",
                                     "message": "action absente du catalogue de l'année pour ce partenaire",
                                     "valeur": "A0001"}]


@pytest.mark.parametrize("folder, in_catalogue", [
    ("2022-12", False), ("2023-01", True), ("2024-06", True), ("2026-12", True), ("2027-01", False)])
def test_catalogue_of_the_year_of_the_month(con, inbox, load, folder, in_catalogue):
    # A0001 (P001) is in the catalogues of 2023 to 2026 only
    path = f"{folder}/P001/actions.csv"
    inbox.put(path, lines(HEADERS["actions"], act_row("A0001")))
    load(folder)
    if in_catalogue:
        assert counts(con, path) == ("VALIDE", 1, 1, 0, 0)
    else:
        assert counts(con, path) == ("VALIDE", 1, 0, 1, 0)
        assert quarantine(con, path) == {2: [("code_action", "action_hors_catalogue")]}


def test_catalogue_is_the_partners_own(con, inbox, load):
    inbox.put("2024-03/P001/participations.csv",
              lines(HEADERS["participations"], part_row(action="A0001"), part_row("2", action="A0045")))
    load()
    assert quarantine(con, "2024-03/P001/participations.csv") == {3: [("code_action", "action_hors_catalogue")]}


# -------------------------------------------------------------------------------------------- duplicates


DUPLICATES = [
    ("beneficiaires", benef_row("123", organisme=""), benef_row("0000123", organisme=" caf ", sexe="M"),
     "matricule", "matricule+organisme"),
    ("conseillers", cons_row("R1"), cons_row(" R1 ", fonction="COORDINATION", etp="0,5"), "referent", "referent"),
    ("participations", part_row("42", organisme="MSA"), part_row("0000042", organisme="msa", heures="3"),
     "matricule", "matricule+organisme+code_action"),
    ("actions", act_row("A0057"), act_row("A0057", conventionnees="30"), "code_action", "code_action"),
]


@pytest.mark.parametrize("dataset, first, again, colonne, key_label", DUPLICATES, ids=[d[0] for d in DUPLICATES])
def test_duplicate_key_first_occurrence_loads_later_ones_quarantined(con, inbox, load, dataset, first, again,
                                                                     colonne, key_label):
    path = deliver(inbox, dataset, first, VALID_OTHER[dataset], again, again)
    load()
    assert counts(con, path) == ("VALIDE", 4, 2, 2, 0)
    assert quarantine(con, path) == {4: [(colonne, "doublon")], 5: [(colonne, "doublon")]}
    message = f"doublon de la clé {key_label} (première occurrence ligne 2)"
    assert motifs(con, path, 4) == [{"colonne": colonne, "regle": "doublon", "message": message, "valeur": None}]
    assert motifs(con, path, 5) == [{"colonne": colonne, "regle": "doublon", "message": message, "valeur": None}]
    assert select(con, f"SELECT ligne FROM raw.{dataset} ORDER BY ligne") == [(2,), (3,)]


def test_same_person_in_two_actions_is_not_a_duplicate(con, inbox, load):
    path = deliver(inbox, "participations", part_row(action="A0045"), part_row(action="A0057"))
    load()
    assert counts(con, path) == ("VALIDE", 2, 2, 0, 0)


def test_duplicate_of_an_invalid_row_is_not_a_duplicate(con, inbox, load):
    path = deliver(inbox, "beneficiaires", benef_row(sexe="X"), benef_row())
    load()
    assert counts(con, path) == ("VALIDE", 2, 1, 1, 0)
    assert quarantine(con, path) == {2: [("sexe", "valeur_hors_liste")]}
    assert select(con, "SELECT ligne FROM raw.beneficiaires") == [(3,)]


def test_duplicate_of_an_invalid_conseiller_is_not_a_duplicate(con, inbox, load):
    path = deliver(inbox, "conseillers", cons_row("R1", etp="0"), cons_row("R1", etp="0,5"))
    load()
    assert quarantine(con, path) == {2: [("etp", "etp_hors_bornes")]}
    assert select(con, "SELECT ligne, etp FROM raw.conseillers") == [(3, 0.5)]


def test_invalid_repeat_keeps_its_own_reason_and_next_valid_repeat_is_a_duplicate(con, inbox, load):
    path = deliver(inbox, "beneficiaires", benef_row(), benef_row(commune="Paris"), benef_row(sexe="M"))
    load()
    assert counts(con, path) == ("VALIDE", 3, 1, 2, 0)
    assert quarantine(con, path) == {3: [("commune", "commune_inconnue")], 4: [("matricule", "doublon")]}
    assert motifs(con, path, 4)[0]["message"] == "doublon de la clé matricule+organisme (première occurrence ligne 2)"


# --------------------------------------------------------------------------------- several reasons, once


def test_a_row_breaking_several_rules_counts_once_and_lists_every_reason(con, inbox, load):
    path = deliver(inbox, "beneficiaires", benef_row("1"),
                   benef_row("12A", sexe="X", commune="Paris", entretiens="-1", freins="VOITURE",
                             sortie="2024-04-02"))
    load()
    assert counts(con, path) == ("VALIDE", 2, 1, 1, 0)
    assert sorted(quarantine(con, path)[3]) == sorted([
        ("matricule", "matricule_invalide"),
        ("sexe", "valeur_hors_liste"),
        ("commune", "commune_inconnue"),
        ("nb_entretiens", "negatif"),
        ("freins", "element_hors_liste"),
        ("date_sortie", "sortie_hors_du_mois"),
        ("motif_sortie", "motif_manquant"),
    ])


def test_etp_negative_is_negative_and_out_of_bounds(con, inbox, load):
    assert sorted(one_bad_row(con, inbox, load, "conseillers", etp="-0,5")) == [
        ("etp", "etp_hors_bornes"), ("etp", "negatif")]


# ------------------------------------------------------------------------------------------ personal data


def test_quarantine_never_holds_identifier_values(con, inbox, load):
    path = deliver(inbox, "beneficiaires",
                   benef_row("98A7654", naissance="31/02/1981", nom="Dupontel", prenom="Zébulon"),
                   benef_row("8765432", naissance="1982-07-14", nom="Lagardère", prenom="Henriette", sexe="Q"),
                   benef_row("8765432", naissance="1982-07-14", nom="Lagardère", prenom="Henriette"),
                   benef_row("8765432", naissance="1982-07-14", nom="Lagardère", prenom="Henriette"),
                   benef_row("", naissance="", nom="Personne", prenom="Sans"))
    load()
    assert counts(con, path) == ("VALIDE", 5, 1, 4, 0)
    found = {ligne: sorted(reasons) for ligne, reasons in quarantine(con, path).items()}
    assert found == {
        2: [("date_naissance", "date_invalide"), ("matricule", "matricule_invalide")],
        3: [("sexe", "valeur_hors_liste")],
        5: [("matricule", "doublon")],
        6: [("date_naissance", "obligatoire"), ("matricule", "obligatoire")],
    }
    personal = select(con, "SELECT m.colonne, m.valeur FROM (SELECT unnest(motifs) AS m FROM raw.quarantaine) "
                           "WHERE m.colonne IN ('matricule', 'nom', 'prenom', 'date_naissance')")
    assert len(personal) == 5 and all(valeur is None for _, valeur in personal)
    assert select(con, "SELECT m.valeur FROM (SELECT unnest(motifs) AS m FROM raw.quarantaine) "
                       "WHERE m.colonne = 'sexe'") == [("Q",)]  # non-identifying values are quoted
    dump = " ".join(str(r) for r in select(con, "SELECT CAST(q AS VARCHAR) FROM raw.quarantaine q"))
    for secret in ("98A7654", "8765432", "31/02/1981", "1982-07-14", "Dupontel", "Zébulon", "Lagardère",
                   "Henriette", "Personne"):
        assert secret not in dump


MISALIGNED = {
    # an unquoted `;` inside the name: every later cell moves one column right (birth date lands in `sexe`)
    "one-cell-too-many": benef_row("1", nom="Lagardère;Dupuis", prenom="Henriette", naissance="1975-11-23"),
    # the organisme cell forgotten: every later cell moves one column left (surname lands in `organisme`)
    "one-cell-missing": benef_row("2", nom="Lagardère", prenom="Henriette", naissance="1975-11-23")
    .replace(";CAF;", ";", 1),
}


@pytest.mark.parametrize("row", MISALIGNED.values(), ids=MISALIGNED.keys())
def test_misaligned_row_does_not_leak_identifiers_into_quarantine(con, inbox, load, row):
    path = deliver(inbox, "beneficiaires", benef_row("7654321"), row)
    load()
    assert counts(con, path) == ("VALIDE", 2, 1, 1, 0)
    dump = " ".join(str(r) for r in select(con, "SELECT CAST(q AS VARCHAR) FROM raw.quarantaine q"))
    for secret in ("Lagardère", "Dupuis", "Henriette", "1975-11-23"):
        assert secret not in dump


# ------------------------------------------------------------------------------ reported, not blocked


def test_extra_column_is_reported_and_the_file_loads(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER + ";Observations", benef_row() + ";RAS"))
    load()
    m = manifest(con, BENEF)
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)
    assert m["colonnes_ignorees"] == ["Observations"]


def signalements(con) -> list[tuple]:
    return select(con, "SELECT periode, source_code, dataset, regle, nb_lignes FROM raw.signalements ORDER BY ALL")


def test_referent_absent_from_conseillers_is_reported_not_blocked(con, inbox, load):
    deliver(inbox, "conseillers", cons_row("R1"))
    deliver(inbox, "beneficiaires", benef_row("1", referent="R1"), benef_row("2", referent="R9"),
            benef_row("3", referent="R8"))
    load()
    assert counts(con, BENEF) == ("VALIDE", 3, 3, 0, 0)
    assert signalements(con) == [(D(2024, 3, 1), "ALI01", "beneficiaires", "referent_inconnu", 2)]


def test_unknown_prescribed_action_is_reported_not_blocked(con, inbox, load):
    deliver(inbox, "beneficiaires", benef_row("1", actions="A0001|A9999"), benef_row("2", actions="A0045"))
    load()
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)
    assert select(con, "SELECT actions FROM raw.beneficiaires ORDER BY ligne") == [(["A0001", "A9999"],),
                                                                                   (["A0045"],)]
    assert signalements(con) == [(D(2024, 3, 1), "ALI01", "beneficiaires", "action_prescrite_inconnue", 1)]


def test_person_in_two_ali_the_same_month_is_reported_not_blocked(con, inbox, load):
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, benef_row("1234567"), benef_row("1")))
    inbox.put("2024-03/ALI02/beneficiaires.csv",
              lines(BENEF_HEADER, benef_row("1234567", commune="93066"), benef_row("1", organisme="MSA")))
    load()
    assert counts(con, "2024-03/ALI01/beneficiaires.csv") == ("VALIDE", 2, 2, 0, 0)
    assert counts(con, "2024-03/ALI02/beneficiaires.csv") == ("VALIDE", 2, 2, 0, 0)
    # 0000001 under CAF (ALI01) and under MSA (ALI02) are two persons: not reported
    assert signalements(con) == [
        (D(2024, 3, 1), "ALI01", "beneficiaires", "personne_multi_ali", 1),
        (D(2024, 3, 1), "ALI02", "beneficiaires", "personne_multi_ali", 1),
    ]


# ---------------------------------------------------------------------------------- whole-file rejections


GOOD_BENEF = lines(BENEF_HEADER, benef_row())
REJECTIONS = [
    ("unreadable-encoding", "2024-03", BENEF, GOOD_BENEF.encode().replace(b"Martin", b"Mar\x81in"),
     ["illisible", "0x81"]),
    ("unreadable-excel", "2024-03", "2024-03/ALI01/beneficiaires.xlsx", b"ceci n'est pas un classeur",
     ["illisible", "Excel"]),
    ("unreadable-extension", "2024-03", "2024-03/ALI01/beneficiaires.txt", GOOD_BENEF, ["illisible", ".txt"]),
    ("unreadable-delimiter", "2024-03", BENEF, "a|b|c\n1|2|3\n", ["illisible", "séparateur"]),
    ("unknown-source", "2024-03", "2024-03/P999/actions.csv", lines(HEADERS["actions"], act_row()),
     ["P999", "inconnu"]),
    ("dataset-not-for-an-ali", "2024-03", "2024-03/ALI01/actions.csv", lines(HEADERS["actions"], act_row()),
     ["actions", "non autorisé", "ALI"]),
    ("dataset-not-for-a-partner", "2024-03", "2024-03/P045/beneficiaires.csv", GOOD_BENEF,
     ["beneficiaires", "non autorisé", "partenaire"]),
    ("unknown-dataset", "2024-03", "2024-03/ALI01/salaries.csv", GOOD_BENEF, ["salaries", "inconnu"]),
    ("missing-required-column", "2024-03", BENEF,
     lines(BENEF_HEADER.replace("date_naissance", "age"), benef_row()), ["obligatoire", "date_naissance"]),
    ("missing-required-columns", "2024-03", CONS, "referent;fonction\nR1;CIP\n",
     ["etp", "date_arrivee"]),
    ("period-not-a-month", "2024-13", "2024-13/ALI01/beneficiaires.csv", GOOD_BENEF, ["2024-13", "AAAA-MM"]),
    ("period-not-a-date", "mars-2024", "mars-2024/ALI01/beneficiaires.csv", GOOD_BENEF, ["mars-2024", "AAAA-MM"]),
    ("empty-0-bytes", "2024-03", BENEF, b"", ["vide"]),
    ("empty-blank-lines", "2024-03", BENEF, "\n\n   \n\r\n", ["vide"]),
    ("too-shallow", "2024-03", "2024-03/beneficiaires.csv", GOOD_BENEF, ["emplacement"]),
    ("too-deep", "2024-03", "2024-03/ALI01/mars/beneficiaires.csv", GOOD_BENEF, ["emplacement"]),
]


@pytest.mark.parametrize("folder, path, content, words", [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_whole_file_rejection(con, inbox, load, folder, path, content, words):
    inbox.put(path, content)
    load(folder)
    m = manifest(con, path)
    assert (m["statut"], m["en_vigueur"]) == ("REJETE", False)
    for word in words:
        assert word in m["motif_rejet"]
    assert raw_total(con) == 0


def test_a_rejected_file_does_not_stop_the_others(con, inbox, load):
    inbox.put("2024-03/ALI01/actions.csv", lines(HEADERS["actions"], act_row()))
    deliver(inbox, "beneficiaires", benef_row())
    load()
    assert manifest(con, "2024-03/ALI01/actions.csv")["statut"] == "REJETE"
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)


@pytest.mark.parametrize("name", ["BENEFICIAIRES.CSV", "Beneficiaires.csv", "Bénéficiaires.Csv"])
def test_file_name_is_case_insensitive(con, inbox, load, name):
    inbox.put(f"2024-03/ALI01/{name}", GOOD_BENEF)
    load()
    m = manifest(con, f"2024-03/ALI01/{name}")
    assert (m["statut"], m["dataset"], m["lignes_chargees"]) == ("VALIDE", "beneficiaires", 1)
    assert select(con, "SELECT count(*) FROM raw.beneficiaires") == [(1,)]
