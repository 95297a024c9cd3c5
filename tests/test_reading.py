"""Form tolerance (contract §2): small hand-made files through the real ingestion, plus the reader's units.

Every expected value below is written by hand. Every ingestion goes through ``load``, which also checks
``lignes_lues = lignes_chargees + lignes_quarantaine + lignes_ignorees`` for every valid file of the folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io

import openpyxl
import pytest
from conftest import BENEF_HEADER, TEST_KEY, benef_row, counts, lines, manifest, quarantine, select

from pipelines.inbox.headers import normalise_header
from pipelines.inbox.read import Unreadable, decode, detect_delimiter

D = dt.date
BENEF = "2024-03/ALI01/beneficiaires.csv"
CONS = "2024-03/ALI01/conseillers.csv"
CONS_HEADER = "referent;fonction;etp;date_arrivee;date_depart"
PART = "2024-03/P001/participations.csv"
PART_HEADER = "matricule;organisme;code_action;date_entree;date_sortie;resultat_sortie;heures_realisees"
ACT = "2024-03/P001/actions.csv"
ACT_HEADER = "code_action;places_conventionnees;places_occupees;montant_consomme_eur"
CONTRACT_COLUMNS = {"referent", "fonction", "etp", "datearrivee", "datedepart"}


# --------------------------------------------------------------------------------------------- helpers


def pid(organisme: str, matricule: str) -> str:
    """The expected personne_id, computed independently of the pipeline (stdlib HMAC, contract §5)."""
    return hmac.new(TEST_KEY, f"{organisme}:{matricule}".encode(), hashlib.sha256).hexdigest()



def csv_text(rows: list[list[str]], delimiter: str = ";", newline: str = "\n") -> str:
    """Rows written the way a spreadsheet export writes them (quotes only where needed)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


def fields(**overrides) -> list[str]:
    """``benef_row`` as a list of cells (for files written with another delimiter or with quotes)."""
    return benef_row(**overrides).split(";")





def rejected(con, fichier: str) -> str:
    m = manifest(con, fichier)
    assert m["statut"] == "REJETE"
    for table in ("beneficiaires", "conseillers", "participations", "actions", "quarantaine"):
        assert select(con, f"SELECT count(*) FROM raw.{table}") == [(0,)], table
    return m["motif_rejet"]


# -------------------------------------------------------------------------------------------- encoding


def test_utf8_without_bom_loads_accented_values(con, inbox, load):
    inbox.put("2024-03/ALI04/beneficiaires.csv",
              lines(BENEF_HEADER, benef_row(commune="Épinay-sur-Seine", nom="Bérénice", prenom="Zoé")))
    load()
    m = manifest(con, "2024-03/ALI04/beneficiaires.csv")
    assert (m["statut"], m["encodage"], m["lignes_chargees"]) == ("VALIDE", "utf-8", 1)
    assert select(con, "SELECT code_insee FROM raw.beneficiaires") == [("93031",)]


def test_utf8_with_bom_loads_and_first_column_is_recognised(con, inbox, load):
    inbox.put(BENEF, b"\xef\xbb\xbf" + lines(BENEF_HEADER, benef_row(prenom="Zoé")).encode("utf-8"))
    load()
    m = manifest(con, BENEF)
    assert (m["statut"], m["encodage"], m["lignes_chargees"], m["colonnes_ignorees"]) == ("VALIDE", "utf-8-sig", 1, [])
    assert select(con, "SELECT personne_id FROM raw.beneficiaires") == [(pid("CAF", "1234567"),)]


def test_windows_1252_file_with_curly_apostrophe_header_loads(con, inbox, load):
    header = BENEF_HEADER.replace("date_entree", "Date d’entrée").replace("prenom", "Prénom")
    row = benef_row(nom="Bérénice", prenom="Hélène", commune="L’Île-Saint-Denis", entree="2024-03-05")
    text = lines(header, row)
    data = text.encode("cp1252")
    assert b"\x92" in data and b"\xe9" in data  # a real Windows-1252 file: ’ = 0x92, é = 0xE9
    inbox.put("2024-03/ALI04/beneficiaires.csv", data)
    load()
    m = manifest(con, "2024-03/ALI04/beneficiaires.csv")
    assert (m["statut"], m["encodage"], m["lignes_chargees"], m["colonnes_ignorees"]) == ("VALIDE", "cp1252", 1, [])
    assert select(con, "SELECT date_entree, code_insee FROM raw.beneficiaires") == [(D(2024, 3, 5), "93039")]


def test_bytes_invalid_in_utf8_and_in_windows_1252_reject_the_file_naming_the_byte(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(nom="Martin")).encode("utf-8").replace(b"Martin", b"Mar\x81in"))
    load()
    reason = rejected(con, BENEF)
    assert "0x81" in reason and "UTF-8" in reason and "Windows-1252" in reason


@pytest.mark.parametrize("control", ["\u0085", "\u0092"])
def test_utf8_file_with_a_c1_control_character_is_rejected(con, inbox, load, control):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(nom=f"Martin{control}")).encode("utf-8"))
    load()
    reason = rejected(con, BENEF)
    assert f"U+{ord(control):04X}" in reason and "encodage" in reason


def test_decode_utf8_without_bom():
    assert decode("Zoé;Hélène".encode("utf-8")) == ("Zoé;Hélène", "utf-8")


def test_decode_utf8_with_bom_strips_the_bom():
    assert decode(b"\xef\xbb\xbfmatricule;nom") == ("matricule;nom", "utf-8-sig")


def test_decode_windows_1252_where_latin1_would_corrupt():
    data = b"Date d\x92entr\xe9e;\x80"
    assert "\x92" in data.decode("latin-1")  # what a latin-1 guess would silently produce
    assert decode(data) == ("Date d’entrée;€", "cp1252")


def test_decode_byte_invalid_in_both_encodings():
    with pytest.raises(Unreadable, match=r"octet 0x81 à la position 3 invalide en UTF-8 comme en Windows-1252"):
        decode(b"abc\x81def")


@pytest.mark.parametrize("data", ["ab\u0085".encode(), "ab\u0092".encode(), b"\xef\xbb\xbfab\xc2\x85"])
def test_decode_c1_control_characters_are_an_error(data):
    with pytest.raises(Unreadable, match=r"caractère de contrôle U\+00(85|92) à la position 2"):
        decode(data)


@pytest.mark.parametrize("data", [b"\xff\xfem\x00a\x00", b"a;b\x00c"])
def test_decode_utf16_and_nul_bytes_are_refused(data):
    with pytest.raises(Unreadable):
        decode(data)


# ------------------------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("delimiter, recorded", [(";", ";"), (",", ","), ("\t", "TAB")])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_delimiters(con, inbox, load, delimiter, recorded, newline):
    inbox.put(CONS, csv_text([
        ["referent", "fonction", "etp", "date_arrivee", "date_depart"],
        ["R1", "CIP", "0.5", "2023-01-02", ""],
        ["R2", "COORDINATION", "1", "2024-03-04", "2024-03-20"],
    ], delimiter, newline))
    load()
    m = manifest(con, CONS)
    assert (m["statut"], m["separateur"], m["lignes_lues"], m["lignes_chargees"]) == ("VALIDE", recorded, 2, 2)
    assert select(con, "SELECT ligne, referent, fonction, etp, date_arrivee, date_depart FROM raw.conseillers "
                       "ORDER BY ligne") == [
        (2, "R1", "CIP", 0.5, D(2023, 1, 2), None),
        (3, "R2", "COORDINATION", 1.0, D(2024, 3, 4), D(2024, 3, 20)),
    ]


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_detect_delimiter(delimiter):
    assert detect_delimiter(delimiter.join(["referent", "fonction", "etp"]) + "\nR1", CONTRACT_COLUMNS) == delimiter


def test_detect_delimiter_skips_blank_lines_and_ignores_delimiters_inside_quotes():
    text = '\n  \n"referent";"Fonction, poste";"etp"\nR1;CIP;1\n'
    assert detect_delimiter(text, CONTRACT_COLUMNS) == ";"


def test_detect_delimiter_without_any_contract_column_is_unreadable():
    with pytest.raises(Unreadable, match="séparateur indéterminé"):
        detect_delimiter("nom;prénom;âge\nMartin;Zoé;40\n", CONTRACT_COLUMNS)


def test_detect_delimiter_of_a_blank_text_is_unreadable():
    with pytest.raises(Unreadable, match="fichier vide"):
        detect_delimiter("\n   \n", CONTRACT_COLUMNS)


def test_detect_delimiter_skips_delimiter_only_rows_before_the_header():
    assert detect_delimiter(";;;;\nreferent;fonction;etp\n", CONTRACT_COLUMNS) == ";"


# ------------------------------------------------------------------------------------------ quoted fields


def test_quoted_delimiters_and_newlines_keep_real_line_numbers(con, inbox, load):
    header = BENEF_HEADER.split(";")
    first = fields(nom="Martin\nDupont", prenom="Zoé, Anne", freins="LOGEMENT, SANTE", actions="A0001,A0045")
    text = csv_text([header, first, fields(matricule="2", sexe="X"), fields(matricule="3")], ",")
    assert text.count("\n") == 5  # 4 records on 5 physical lines: the first data record spans lines 2-3
    inbox.put(BENEF, text)
    load()
    assert counts(con, BENEF) == ("VALIDE", 3, 2, 1, 0)
    assert quarantine(con, BENEF) == {4: [("sexe", "valeur_hors_liste")]}
    assert select(con, "SELECT ligne, freins, actions FROM raw.beneficiaires ORDER BY ligne") == [
        (2, ["LOGEMENT", "SANTE"], ["A0001", "A0045"]),
        (5, None, None),
    ]


def test_quoted_newline_in_a_crlf_file_keeps_real_line_numbers(con, inbox, load):
    header = BENEF_HEADER.split(";")
    records = [header, fields(matricule="1", prenom="Zoé\r\nAnne"), fields(matricule="2", sexe="X")]
    text = csv_text(records, ";", "\r\n")
    inbox.put(BENEF, text)
    load()
    assert counts(con, BENEF) == ("VALIDE", 2, 1, 1, 0)
    assert quarantine(con, BENEF) == {4: [("sexe", "valeur_hors_liste")]}
    assert select(con, "SELECT ligne FROM raw.beneficiaires") == [(2,)]


def test_unterminated_quote_does_not_silently_swallow_the_following_rows(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1"), benef_row("2", nom='"Martin'), benef_row("3"),
                           benef_row("4")))
    load()
    # today: VALIDE, lignes_lues = 2 for 4 data lines, rows 4-5 vanish inside the `nom` cell of row 3
    reason = rejected(con, BENEF)
    assert "illisible" in reason and "CSV mal formé" in reason


def test_quoted_decimal_comma_in_a_comma_separated_file(con, inbox, load):
    inbox.put(CONS, 'referent,fonction,etp,date_arrivee\nR1,CIP,"0,8",2023-01-02\n')
    load()
    assert select(con, "SELECT etp FROM raw.conseillers") == [(0.8,)]


# ---------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize("name", ["date_entree", "Date d'entrée", "Date d’entrée", "DATE_ENTREE", "date-entree",
                                  "  Date D’Entrée  ", "DATE D'ENTREE"])
def test_normalise_header_date_entree(name):
    assert normalise_header(name) == "dateentree"


@pytest.mark.parametrize("name, expected", [
    ("Nb d'entretiens", "nbentretiens"),
    ("Prénom", "prenom"),
    ("Référent", "referent"),
    ("\ufeffmatricule", "matricule"),
    ("l’organisme", "organisme"),
    ("Heures d’activité", "heuresactivite"),
    ("montant_consommé_EUR", "montantconsommeeur"),
])
def test_normalise_header_other_names(name, expected):
    assert normalise_header(name) == expected


@pytest.mark.parametrize("spelling", ["Date d'entrée", "Date d’entrée", "DATE_ENTREE", "date-entree"])
def test_header_spellings_are_recognised_in_a_delivered_file(con, inbox, load, spelling):
    inbox.put(BENEF, lines(BENEF_HEADER.replace("date_entree", spelling), benef_row(entree="2024-03-07")))
    load()
    m = manifest(con, BENEF)
    assert (m["statut"], m["lignes_chargees"], m["colonnes_ignorees"]) == ("VALIDE", 1, [])
    assert select(con, "SELECT date_entree FROM raw.beneficiaires") == [(D(2024, 3, 7),)]


def test_human_written_header(con, inbox, load):
    header = ("Matricule;Organisme;Nom;Prénom;Date naissance;Sexe;Commune;Date d’orientation;Date premier RDV;"
              "Date d'entrée;Date contrat;Date sortie;Motif sortie;Référent;Nb d'entretiens;Heures d’activité;"
              "Freins;Actions")
    inbox.put(BENEF, lines(header, benef_row(heures="4,5", freins="SANTE")))
    load()
    m = manifest(con, BENEF)
    assert (m["statut"], m["lignes_chargees"], m["colonnes_ignorees"]) == ("VALIDE", 1, [])
    assert select(con, "SELECT referent, nb_entretiens, heures_activite, freins, date_premier_rdv "
                       "FROM raw.beneficiaires") == [("R1", 2, 4.5, ["SANTE"], D(2024, 2, 10))]


def test_column_order_is_free(con, inbox, load):
    inbox.put(CONS, lines("date_depart;date_arrivee;etp;fonction;referent", "2024-03-15;2022-05-02;0,6;CIP;R7"))
    load()
    assert select(con, "SELECT referent, fonction, etp, date_arrivee, date_depart FROM raw.conseillers") == [
        ("R7", "CIP", 0.6, D(2022, 5, 2), D(2024, 3, 15))]


def test_extra_columns_are_ignored_and_reported(con, inbox, load):
    header = "Commentaire;" + BENEF_HEADER + ";Téléphone;sexe"
    inbox.put(BENEF, lines(header, "à rappeler;" + benef_row(sexe="M") + ";0601020304;F"))
    load()
    m = manifest(con, BENEF)
    assert (m["statut"], m["lignes_chargees"], m["lignes_quarantaine"]) == ("VALIDE", 1, 0)
    assert m["colonnes_ignorees"] == ["Commentaire", "Téléphone", "sexe"]
    assert select(con, "SELECT sexe FROM raw.beneficiaires") == [("M",)]  # the first `sexe` column wins


def test_missing_optional_columns_are_not_an_error(con, inbox, load):
    inbox.put(BENEF, lines("matricule;date_naissance;commune;date_orientation;date_entree;referent;nb_entretiens",
                           "42;1990-01-15;93001;2024-02-01;2024-03-01;R1;0"))
    inbox.put(CONS, lines("referent;fonction;etp;date_arrivee", "R1;CIP;1;2023-01-02"))
    load()
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)
    assert select(con, "SELECT personne_id, organisme, sexe, date_premier_rdv, date_sortie, motif_sortie, "
                       "heures_activite, freins, actions FROM raw.beneficiaires") == [
        (pid("CAF", "0000042"), "CAF", None, None, None, None, None, None, None)]
    assert select(con, "SELECT referent, date_depart FROM raw.conseillers") == [("R1", None)]


def test_missing_required_column_rejects_the_file_naming_it(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER.replace(";referent", ""), benef_row().replace(";R1", "")))
    load()
    reason = rejected(con, BENEF)
    assert "obligatoire" in reason and "referent" in reason


# ------------------------------------------------------------------------------------------------ dates


def test_dates_iso_and_day_first(con, inbox, load):
    row = benef_row(naissance="13/12/1979", orientation="15/02/2024", rdv="2024-02-20", entree="01/03/2024",
                    contrat="03/04/2024")
    inbox.put(BENEF, lines(BENEF_HEADER, row))
    load()
    assert select(con, "SELECT annee_naissance, date_orientation, date_premier_rdv, date_entree, date_contrat "
                       "FROM raw.beneficiaires") == [(1979, D(2024, 2, 15), D(2024, 2, 20), D(2024, 3, 1),
                                                      D(2024, 4, 3))]


def test_03_04_2024_is_the_3rd_of_april_never_march_4th(con, inbox, load):
    # read month-first, 03/04/2024 would be 4 March and a valid entry date for March
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(entree="03/04/2024"), benef_row("2", entree="04/03/2024")))
    load()
    assert quarantine(con, BENEF) == {2: [("date_entree", "entree_apres_le_mois")]}
    assert select(con, "SELECT date_entree FROM raw.beneficiaires") == [(D(2024, 3, 4),)]


def test_month_first_date_is_invalid(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(contrat="03/13/2024")))
    load()
    assert quarantine(con, BENEF) == {2: [("date_contrat", "date_invalide")]}


# ---------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("montant", ["1 234,50", "1\u00a0234,50", "1\u202f234,50", "1 234.50", "1234,5", "1234.5",
                                     " 1234,50 "])
def test_decimal_comma_point_and_thousands_separators(con, inbox, load, montant):
    inbox.put(ACT, lines(ACT_HEADER, f"A0001;120;95;{montant}"))
    load()
    assert counts(con, ACT) == ("VALIDE", 1, 1, 0, 0)
    assert select(con, "SELECT montant_consomme_eur FROM raw.actions") == [(1234.5,)]


def test_int_columns_accept_thousands_separators(con, inbox, load):
    inbox.put(ACT, lines(ACT_HEADER, "A0001;1 200;1\u00a0050;0"))
    load()
    assert select(con, "SELECT places_conventionnees, places_occupees, montant_consomme_eur FROM raw.actions") == [
        (1200, 1050, 0.0)]


def test_decimal_comma_in_beneficiaires_and_conseillers(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(heures="12,5")))
    inbox.put(CONS, lines(CONS_HEADER, "R1;CIP;0,8;2023-01-02;"))
    load()
    assert select(con, "SELECT heures_activite FROM raw.beneficiaires") == [(12.5,)]
    assert select(con, "SELECT etp FROM raw.conseillers") == [(0.8,)]


def test_int_column_rejects_a_fractional_value(con, inbox, load):
    inbox.put(ACT, lines(ACT_HEADER, "A0001;1,5;1;"))
    load()
    assert counts(con, ACT) == ("VALIDE", 1, 0, 1, 0)
    assert quarantine(con, ACT) == {2: [("places_conventionnees", "entier_attendu")]}


# ------------------------------------------------------------------------------------- identifiers, keys


def test_matricule_is_padded_to_seven_digits(con, inbox, load):
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, benef_row("123")))
    inbox.put("2024-03/ALI02/beneficiaires.csv", lines(BENEF_HEADER, benef_row("0000123", commune="93066")))
    load()
    assert select(con, "SELECT source_code, personne_id FROM raw.beneficiaires ORDER BY source_code") == [
        ("ALI01", pid("CAF", "0000123")), ("ALI02", pid("CAF", "0000123"))]


def test_padded_and_unpadded_matricule_in_one_file_are_a_duplicate(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("123"), benef_row("0000123")))
    load()
    assert counts(con, BENEF) == ("VALIDE", 2, 1, 1, 0)
    assert quarantine(con, BENEF) == {3: [("matricule", "doublon")]}


def test_empty_organisme_is_caf(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1234567", organisme=""), benef_row("1234567", organisme="caf")))
    load()
    assert select(con, "SELECT ligne, organisme, personne_id FROM raw.beneficiaires") == [
        (2, "CAF", pid("CAF", "1234567"))]
    assert quarantine(con, BENEF) == {3: [("matricule", "doublon")]}


def test_same_matricule_under_caf_and_msa_is_two_persons(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1234567", organisme="CAF"), benef_row("1234567", organisme="MSA")))
    load()
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)
    assert select(con, "SELECT organisme, personne_id FROM raw.beneficiaires ORDER BY ligne") == [
        ("CAF", pid("CAF", "1234567")), ("MSA", pid("MSA", "1234567"))]
    assert pid("CAF", "1234567") != pid("MSA", "1234567")


# ------------------------------------------------------------------------------------------ enums, lists


def test_enums_are_case_insensitive_and_trimmed(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(sexe=" m ", organisme=" msa ", sortie="2024-03-20",
                                                   motif=" emploi_durable ")))
    inbox.put(CONS, lines(CONS_HEADER, "R1;cip;1;2023-01-02;", "R2; Travailleur_Social ;1;2023-01-02;"))
    inbox.put(PART, lines(PART_HEADER, "1234567;Msa;A0001;2024-03-01;2024-03-29;fin_action;"))
    load()
    assert select(con, "SELECT sexe, organisme, motif_sortie FROM raw.beneficiaires") == [
        ("M", "MSA", "EMPLOI_DURABLE")]
    assert select(con, "SELECT fonction FROM raw.conseillers ORDER BY ligne") == [("CIP",), ("TRAVAILLEUR_SOCIAL",)]
    assert select(con, "SELECT organisme, resultat_sortie FROM raw.participations") == [("MSA", "FIN_ACTION")]


@pytest.mark.parametrize("freins, expected", [
    ("LOGEMENT|SANTE", ["LOGEMENT", "SANTE"]),
    ("logement,sante", ["LOGEMENT", "SANTE"]),
    (" Logement | sante , MOBILITE ", ["LOGEMENT", "SANTE", "MOBILITE"]),
    ("numerique", ["NUMERIQUE"]),
])
def test_list_items_separated_by_pipe_or_comma_case_insensitive_trimmed(con, inbox, load, freins, expected):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(freins=freins, actions="a0001 | A0045,A0057")))
    load()
    assert select(con, "SELECT freins, actions FROM raw.beneficiaires") == [(expected, ["A0001", "A0045", "A0057"])]


# --------------------------------------------------------------------------------------------- communes


@pytest.mark.parametrize("commune, code", [
    ("93001", "93001"),
    ("Aubervilliers", "93001"),
    ("AUBERVILLIERS", "93001"),
    ("Le Blanc-Mesnil", "93007"),
    ("le blanc mesnil", "93007"),
    ("Blanc-Mesnil", "93007"),
    ("93059", "93066"),
    ("Pierrefitte-sur-Seine", "93066"),
    ("pierrefitte sur seine", "93066"),
    ("Saint-Denis", "93066"),
    ("L’Île-Saint-Denis", "93039"),
    ("ile saint denis", "93039"),
    ("Épinay-sur-Seine", "93031"),
])
def test_commune_by_insee_code_or_name(con, inbox, load, commune, code):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row(commune=commune)))
    load()
    assert select(con, "SELECT code_insee FROM raw.beneficiaires") == [(code,)]


# ------------------------------------------------------------------------------------- blank, Total rows


def test_blank_rows_before_between_and_after(con, inbox, load):
    text = "\n".join([
        "", "",                       # 1-2: before the header, not counted
        BENEF_HEADER,                 # 3
        benef_row("1"),               # 4
        "",                           # 5: between data rows, counted and ignored
        benef_row("2"),               # 6
        ";;;;",                       # 7: a blank row as spreadsheets export it
        benef_row("3"),               # 8
        "", "   ", ";;",              # 9-11: after the last row, not counted
    ]) + "\n"
    inbox.put(BENEF, text)
    load()
    assert counts(con, BENEF) == ("VALIDE", 5, 3, 0, 2)
    assert select(con, "SELECT ligne FROM raw.beneficiaires ORDER BY ligne") == [(4,), (6,), (8,)]


def test_delimiter_only_blank_rows_before_the_header(con, inbox, load):
    inbox.put(BENEF, lines(";;;;;", ";;;;;", BENEF_HEADER, benef_row()))
    load()
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)
    assert select(con, "SELECT ligne FROM raw.beneficiaires") == [(4,)]


@pytest.mark.parametrize("total", ["Total;2", "TOTAL;;;;", " total général;2", "Total:"])
def test_final_total_row_is_ignored_and_counted(con, inbox, load, total):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1"), benef_row("2"), total, "", ""))
    load()
    assert counts(con, BENEF) == ("VALIDE", 3, 2, 0, 1)
    assert quarantine(con, BENEF) == {}


def test_total_row_that_is_not_the_last_row_is_data(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1"), "Total;1", benef_row("2")))
    load()
    assert counts(con, BENEF) == ("VALIDE", 3, 2, 1, 0)
    assert list(quarantine(con, BENEF)) == [3]


# ------------------------------------------------------------------------------------------------ Excel


def test_excel_workbook(con, inbox, load):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Bénéficiaires"
    header = ["Matricule", "Organisme", "Date naissance", "Sexe", "Commune", "Date d’orientation",
              "Date d’entrée", "Référent", "Nb entretiens", "Heures activité"]
    rows = {
        # rows 1-2 blank (not counted)
        3: header,
        4: [191492, None, dt.datetime(1990, 5, 17), "M", 93001, dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 4),
            "R1", 3, 12.5],
        5: ["0000042", "MSA", "03/04/1985", "f", "Aubervilliers", "15/02/2024", "03/03/2024", "R2", 0, "7,5"],
        # row 6 blank (counted, ignored)
        7: [7, "CAF", dt.date(2001, 1, 31), "F", "93001", "2024-02-01", 45352, "R1", 1, 0.25],
        8: [8, "CAF", dt.date(2001, 1, 31), "X", "93001", "2024-02-01", "2024-03-01", "R1", 1, None],
        9: ["Total", None, None, None, None, None, None, None, 5, None],
    }
    for number, cells in rows.items():
        for column, value in enumerate(cells, start=1):
            ws.cell(row=number, column=column, value=value)
    other = wb.create_sheet("Notes")
    other.append(["n'importe quoi", "matricule"])
    other.append(["xx", "yy"])
    path = inbox.root / "2024-03" / "ALI01" / "beneficiaires.xlsx"
    path.parent.mkdir(parents=True)
    wb.save(path)
    load()
    fichier = "2024-03/ALI01/beneficiaires.xlsx"
    m = manifest(con, fichier)
    assert (m["statut"], m["encodage"], m["separateur"]) == ("VALIDE", "xlsx", None)
    assert counts(con, fichier) == ("VALIDE", 6, 3, 1, 2)
    assert quarantine(con, fichier) == {8: [("sexe", "valeur_hors_liste")]}
    assert select(con, "SELECT ligne, personne_id, organisme, annee_naissance, tranche_age, sexe, code_insee, "
                       "date_orientation, date_entree, referent, nb_entretiens, heures_activite "
                       "FROM raw.beneficiaires ORDER BY ligne") == [
        (4, pid("CAF", "0191492"), "CAF", 1990, "25_34", "M", "93001", D(2024, 2, 1), D(2024, 3, 4), "R1", 3, 12.5),
        (5, pid("MSA", "0000042"), "MSA", 1985, "35_44", "F", "93001", D(2024, 2, 15), D(2024, 3, 3), "R2", 0, 7.5),
        (7, pid("CAF", "0000007"), "CAF", 2001, "MOINS_25", "F", "93001", D(2024, 2, 1), D(2024, 3, 1), "R1", 1,
         0.25),
    ]


def test_mixed_utf8_and_windows_1252_is_rejected_not_read_as_mojibake():
    with pytest.raises(Unreadable, match="encodage mixte"):
        decode("Zoé".encode("utf-8") + " Hélène".encode("cp1252"))


@pytest.mark.parametrize("text", ["DÉPENSÉ\u00a0: ÉTÉ", "CHÂTEAU SÃO «\u00a0x\u00a0» l’été çà"])
def test_windows_1252_french_text_is_not_mistaken_for_mixed_encodings(text):
    assert decode(text.encode("cp1252")) == (text, "cp1252")


def test_no_break_spaces_and_accents_around_enum_values_are_tolerated(con, inbox, load):
    inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1", sexe="M\u00a0", freins="santé | Mobilité",
                                                    organisme="\tmsa ")))
    load()
    assert counts(con, BENEF) == ("VALIDE", 1, 1, 0, 0)
    assert select(con, "SELECT sexe, organisme, freins FROM raw.beneficiaires") == [
        ("M", "MSA", ["SANTE", "MOBILITE"])]


def test_action_codes_compare_case_insensitively(con, inbox, load):
    inbox.put("2024-03/P001/actions.csv", "code_action;places_conventionnees;places_occupees\na0001;189;150\n")
    load()
    assert select(con, "SELECT code_action, places_occupees FROM raw.actions") == [("A0001", 150)]
