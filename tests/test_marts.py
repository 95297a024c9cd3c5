"""The indicator marts (shared/spec/indicators.md) against figures computed BY HAND.

Independent of the dbt SQL: a small inbox is delivered through the real Dagster refresh, then
every column of every row of the five marts is compared with numbers written below, each derived
from the spec's wording (the arithmetic is commented next to the non-obvious ones).

The story (months M1 = 2024-03, S..E = 03-01..03-31, E−60 = 01-31; M2 = 2024-04, E−60 = 03-01):

run 1 (deliveries of early April / early May)
  2024-03  ALI01  beneficiaires v1 (3 rows, later replaced) + conseillers (1 row quarantined)
           ALI02  beneficiaires (Pierrefitte as 93059 and as its name; 1 row quarantined), no conseillers
           ALI03  beneficiaires whose 2 rows are quarantined (valid delivery: livre, counts 0, ratios NULL)
                  + conseillers with only a COORDINATION member (etp 0, not NULL)
           ALI15  conseillers without the `etp` column → REJETE; no beneficiaires
           ALI23  (unknown source code) beneficiaires → REJETE, attendu false, source_type NULL
           P057   actions (places differ from the catalogue; 1 row quarantined) + participations
                  (rows for A0144 only → A0148 has 0 participants; 2 rows quarantined)
           P079   actions only (A0188, 0 places) → participants NULL, taux_occupation NULL
           ALI20, ALI22 not open yet (open 2024-04-02): no row anywhere for 2024-03
  2024-04  ALI01  beneficiaires only (etp NULL); ALI02 conseillers only (livre false, etp 2.0)
           ALI22  beneficiaires + conseillers (first month open)
           P057   actions listing only A0144 + participations; P079 participations + a rejected actions file
run 2 (late corrections, mid May)
  2024-03  ALI01  beneficiaires v2 replaces v1 (versions_recues 2)
           ALI02  beneficiaires re-sent without `date_entree` → rejected, v1 stays in force
           P057   actions re-sent byte-identical (versions_recues stays 1, recu_le moves, premier_recu_le stays)
           ALI15  conseillers rejected again, another content (versions_recues 2, the last one's reason)

Persons (matricule/organisme): one person (1000005 CAF) is in ALI01 and ALI02 in March, another
(1000006 CAF) in ALI01 and ALI22 in April; 1000006 MSA is a different person from 1000006 CAF.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import BENEF_HEADER, REFERENCE_DIR, Inbox, benef_row, lines, platform_env

from pipelines import warehouse

PROJECT = Path(__file__).resolve().parents[1]
M1, M2 = dt.date(2024, 3, 1), dt.date(2024, 4, 1)

# ---------------------------------------------------------------------------------------------
# Spec columns (indicators.md), in the spec's order
# ---------------------------------------------------------------------------------------------

COLUMNS = {
    "mart_ali_mensuel": [
        "periode", "code_ali", "nom_ali", "livre", "file_active", "accompagnes_fin_mois", "entrees", "sorties",
        "sorties_positives", "taux_sorties_positives", "etp_accompagnement", "accompagnes_par_etp",
        "delai_moyen_orientation_rdv_j", "part_rdv_sous_30j", "taux_contractualisation", "entretiens_par_personne",
        "activite_renseignee", "part_activite_15h",  # v2 (parcours.md), at the end
    ],
    "mart_departement_mensuel": [
        "periode", "ali_ouvertes", "ali_ayant_livre", "file_active", "accompagnes_fin_mois", "personnes_multi_ali",
        "entrees", "sorties", "sorties_positives", "taux_sorties_positives", "etp_accompagnement",
        "accompagnes_par_etp", "places_conventionnees", "places_occupees", "taux_occupation", "objectif_places",
        "objectif_conseillers",
    ],
    "mart_actions_mensuel": [
        "periode", "code_action", "code_partenaire", "thematique", "livre", "places_conventionnees",
        "places_occupees", "taux_occupation", "participants", "entrees", "sorties", "sorties_positives",
        "prescriptions", "montant_consomme_eur",
        "prescrits", "prescrits_entres_3m", "taux_concretisation_3m",  # v2 (parcours.md), at the end
    ],
    "mart_territoire_mensuel": [
        "periode", "code_insee", "commune", "ept", "population_municipale", "file_active",
        "accompagnes_pour_1000_hab",
    ],
    "mart_livraisons": [
        "periode", "source_code", "source_type", "dataset", "attendu", "statut", "fichier", "recu_le", "sha256",
        "lignes_lues", "lignes_chargees", "lignes_quarantaine", "lignes_ignorees", "motif_rejet", "versions_recues",
    ],
    "mart_parcours_cohortes": [
        "cohorte", "code_ali", "nom_ali", "entrants", "mature_6m", "mature_12m", "sortis_6m", "sortis_positifs_6m",
        "taux_sorties_positives_6m", "sortis_12m", "sortis_positifs_12m", "taux_sorties_positives_12m",
        "contrats_60j", "taux_contrat_60j", "delai_moyen_contrat_j",
    ],
    "mart_freins_mensuel": [
        "periode", "code_ali", "nom_ali", "frein", "personnes", "personnes_orientees", "taux_orientation",
        "personnes_en_action", "taux_en_action",
    ],
    "mart_qualite_sources": [  # retours.md §3
        "periode", "source_code", "source_type", "datasets_attendus", "datasets_livres", "a_l_heure", "retard_j",
        "versions_recues", "lignes_lues", "lignes_quarantaine", "taux_quarantaine",
    ],
}
MONTH = {"mart_parcours_cohortes": "cohorte"}
"""The month column of a mart when it is not periode."""
KEYS = {
    "mart_ali_mensuel": ("periode", "code_ali"),
    "mart_departement_mensuel": ("periode",),
    "mart_actions_mensuel": ("periode", "code_action"),
    "mart_territoire_mensuel": ("periode", "code_insee"),
    "mart_livraisons": ("periode", "source_code", "dataset"),
    "mart_parcours_cohortes": ("cohorte", "code_ali"),
    "mart_freins_mensuel": ("periode", "code_ali", "frein"),
    "mart_qualite_sources": ("periode", "source_code"),
}
# "Rates are DOUBLE"; ratios and means are compared as floats too.
RATES = {
    "taux_sorties_positives", "accompagnes_par_etp", "delai_moyen_orientation_rdv_j", "part_rdv_sous_30j",
    "taux_contractualisation", "entretiens_par_personne", "taux_occupation", "accompagnes_pour_1000_hab",
    "part_activite_15h", "taux_concretisation_3m", "taux_sorties_positives_6m", "taux_sorties_positives_12m",
    "taux_contrat_60j", "delai_moyen_contrat_j", "taux_orientation", "taux_en_action", "taux_quarantaine",
}
BOOLEANS = {"livre", "attendu", "mature_6m", "mature_12m", "a_l_heure"}
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT"}
COUNTS = {
    "file_active", "accompagnes_fin_mois", "entrees", "sorties", "sorties_positives", "ali_ouvertes",
    "ali_ayant_livre", "personnes_multi_ali", "places_conventionnees", "places_occupees", "participants",
    "prescriptions", "population_municipale", "lignes_lues", "lignes_chargees", "lignes_quarantaine",
    "lignes_ignorees", "versions_recues", "activite_renseignee", "prescrits", "prescrits_entres_3m", "entrants",
    "sortis_6m", "sortis_positifs_6m", "sortis_12m", "sortis_positifs_12m", "contrats_60j", "personnes",
    "personnes_orientees", "personnes_en_action", "datasets_attendus", "datasets_livres", "retard_j",
}

# ---------------------------------------------------------------------------------------------
# The inbox
# ---------------------------------------------------------------------------------------------

CONSEILLERS_HEADER = "referent;fonction;etp;date_arrivee;date_depart"
PARTICIPATIONS_HEADER = "matricule;organisme;code_action;date_entree;date_sortie;resultat_sortie;heures_realisees"
ACTIONS_HEADER = "code_action;places_conventionnees;places_occupees;montant_consomme_eur"


def at(stamp: str) -> int:
    """File modification time (UTC) → what the manifest records as ``recu_le``."""
    return int(dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp())


def ts(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def b(matricule, orient, rdv, entree, *, org="CAF", commune="93001", contrat="", sortie="", motif="", ent="1",
      actions="", sexe="F", referent="R1"):
    return benef_row(matricule, org, sexe=sexe, commune=commune, orientation=orient, rdv=rdv, entree=entree,
                     contrat=contrat, sortie=sortie, motif=motif, referent=referent, entretiens=ent, actions=actions)


TOTAL_ROW = "Total;;;;;;;;;;;;;;12;;;"

# 2024-03 ALI01, first version (replaced by v2 in run 2: none of it may count)
ALI01_M1_V1 = lines(
    BENEF_HEADER,
    b("1000001", "2023-11-02", "2023-11-20", "2024-01-31", commune="93007", ent="9", actions="A0148"),
    b("1000091", "2024-03-01", "2024-03-02", "2024-03-02", commune="93007", ent="9", actions="A0188"),
    b("1000092", "2024-03-01", "2024-03-03", "2024-03-03", commune="93007", ent="9", sortie="2024-03-30",
      motif="EMPLOI_DURABLE"),
)
# 2024-03 ALI01, corrected version (in force). Letters are the persons of the hand computations.
ALI01_M1_V2 = lines(
    BENEF_HEADER,
    # A: entree = E−60 (in the contract base), contrat ≤ E; the same action twice in one row
    b("1000001", "2023-11-02", "2023-11-20", "2024-01-31", contrat="2024-02-10", ent="2", actions="A0144|A0144"),
    # B: entree = E−59 (not in the base)
    b("1000002", "2023-12-01", "2023-12-15", "2024-02-01", contrat="2024-02-05", ent="1"),
    # C: commune by name; in the base but contrat after E; action code in lower case
    b("1000003", "2023-10-01", "2023-10-20", "2023-11-15", commune="Aubervilliers", contrat="2024-04-03", ent="0",
      actions="a0148"),
    # D: old entree but a sortie (excluded from the base); positive sortie
    b("1000004", "2023-09-01", "2023-09-10", "2023-10-01", contrat="2023-10-05", sortie="2024-03-20",
      motif="EMPLOI_DURABLE", ent="1"),
    # E: rdv in the month (delay 02-28 → 03-04 = 5 d), entree in the month, leaves for ALI02 (REORIENTATION)
    b("1000005", "2024-02-28", "2024-03-04", "2024-03-04", sortie="2024-03-25", motif="REORIENTATION", ent="2"),
    # H: quarantined (sexe X): must count nowhere
    b("1000007", "2024-03-01", "2024-03-05", "2024-03-05", sexe="X", sortie="2024-03-06", motif="EMPLOI_DURABLE",
      ent="5", actions="A0144"),
    # F (MSA): rdv 03-01, delay 01-15 → 03-01 = 16 + 29 + 1 = 46 d; two actions, comma-separated
    b("1000006", "2024-01-15", "2024-03-01", "2024-03-01", org="MSA", ent="4", actions="A0144,A0148"),
    # G (CAF, another person than F): rdv = E, delay exactly 30 d; entree = E
    b("1000006", "2024-03-01", "2024-03-31", "2024-03-31", ent="1"),
    # I: duplicate key of A → quarantined (doublon), must count nowhere
    b("1000001", "2024-03-01", "2024-03-02", "2024-03-02", commune="93007", sortie="2024-03-03",
      motif="EMPLOI_TEMPORAIRE", ent="7", actions="A0148"),
    # J: rdv before the month; sortie ABANDON (not positive)
    b("1000008", "2024-01-05", "2024-02-01", "2024-02-01", sortie="2024-03-15", motif="ABANDON", ent="1"),
    # K: sortie on E, FORMATION_QUALIFIANTE (positive)
    b("1000009", "2024-02-01", "2024-02-20", "2024-02-26", sortie="2024-03-31", motif="FORMATION_QUALIFIANTE",
      ent="2"),
    # L: no rdv, entree in the month
    b("1000010", "2024-03-20", "", "2024-03-28", ent="0"),
    TOTAL_ROW,
)
ALI01_M1_CONSEILLERS = lines(
    CONSEILLERS_HEADER,
    "R1;CIP;1;2023-03-01;",
    "R2;TRAVAILLEUR_SOCIAL;0,5;2023-05-01;2024-03-31",  # leaves on E: counts
    "R3;CIP;0.8;2023-03-01;2024-03-15",  # left before E: does not count
    "R4;COORDINATION;1;2023-03-01;",  # not an accompaniment function
    "R5;CHARGE_RELATIONS_ENTREPRISES;0,6;2023-06-01;",  # idem
    "R6;CIP;1,5;2024-01-01;",  # etp > 1: quarantined
    "R7;cip;0,25;2024-03-20;",
)
ALI02_M1 = lines(
    BENEF_HEADER,
    # a: E again (multi-ALI), same commune; delay 03-20 → 03-26 = 6 d; prescribed P079's action
    b("1000005", "2024-03-20", "2024-03-26", "2024-03-26", ent="1", actions="A0188"),
    # b: Pierrefitte's old code; in the base, no contrat
    b("2000001", "2023-12-01", "2023-12-10", "2024-01-10", commune="93059", ent="2"),
    # c: Pierrefitte's name; delay 02-15 → 03-15 = 14 + 15 = 29 d; positive sortie
    b("2000002", "2024-02-15", "2024-03-15", "2024-03-15", commune="Pierrefitte-sur-Seine", sortie="2024-03-29",
      motif="CREATION_ENTREPRISE", ent="3"),
    # g: entree after E → quarantined, must count nowhere (not even in 93066)
    b("2000006", "2024-03-01", "2024-03-02", "2024-04-15", commune="93066", ent="1", actions="A0144"),
    # d: name without accent/hyphen; in the base, contrat ≤ E; unknown prescribed action (reported, loads)
    b("2000003", "2023-05-01", "2023-05-15", "2023-06-01", commune="saint denis", contrat="2023-07-01", ent="1",
      actions="A9999"),
    # e: positive sortie (EMPLOI_TEMPORAIRE)
    b("2000004", "2024-01-20", "2024-02-05", "2024-02-10", commune="93066", sortie="2024-03-10",
      motif="EMPLOI_TEMPORAIRE", ent="1"),
    # f: sortie FIN_DE_DROITS (not positive)
    b("2000005", "2023-08-01", "2023-08-10", "2023-09-01", commune="93066", sortie="2024-03-12",
      motif="FIN_DE_DROITS", ent="0"),
    # h: in the base, contrat = E (counts)
    b("2000007", "2023-10-01", "2023-10-05", "2023-10-05", commune="93066", contrat="2024-03-31", ent="2"),
)
# Re-send of run 2 without the required date_entree column → rejected
ALI02_M1_REJECTED = lines(
    "matricule;organisme;date_naissance;commune;date_orientation;referent;nb_entretiens",
    "2000001;CAF;1980-04-03;93066;2023-12-01;R1;9",
    "2999999;CAF;1980-04-03;93066;2024-03-01;R1;9",
)
ALI15_M1_CONSEILLERS_REJECTED = lines("referent;fonction;date_arrivee", "X1;CIP;2024-01-02")
ALI15_M1_CONSEILLERS_REJECTED_AGAIN = lines("referent;date_arrivee", "X1;2024-01-02")  # run 2, rejected again
# 2024-03 ALI03: a valid delivery whose rows are all quarantined, and a team without CIP/TS
ALI03_M1 = lines(
    BENEF_HEADER,
    b("5000001", "2024-03-01", "2024-03-02", "2024-03-02", commune="Paris", ent="1"),  # commune_inconnue
    b("5000002", "2024-03-01", "2024-03-02", "2024-03-02", sortie="2024-03-20", ent="1"),  # motif_manquant
)
ALI03_M1_CONSEILLERS = lines(CONSEILLERS_HEADER, "K1;COORDINATION;1;2023-03-15;")
ALI23_M1 = lines(BENEF_HEADER, b("4000001", "2024-03-01", "2024-03-02", "2024-03-02", ent="3", actions="A0144"))

P057_M1_ACTIONS = lines(
    ACTIONS_HEADER,
    "A0144;150;90;1 234,50",  # catalogue 2024: 120 places
    "a0148;180;117;",  # catalogue 2024: 195 places; no amount
    "A0188;10;5;100",  # P079's action: quarantined, must not override P079's delivery
)
P057_M1_PARTICIPATIONS = lines(
    PARTICIPATIONS_HEADER,
    "1000001;CAF;A0144;2024-02-01;;;10",
    "1000002;CAF;A0144;2024-03-05;;;",
    "1000003;;a0144;2024-03-10;2024-03-28;EMPLOI;",
    "1000006;CAF;A0188;2024-03-01;;;",  # not P057's action: quarantined
    "1000004;CAF;A0144;2024-01-10;2024-03-15;ABANDON;",
    "1000005;CAF;A0144;2024-03-01;2024-03-20;FORMATION;",
    "1000002;CAF;A0144;2024-03-06;;;",  # duplicate person in the action: quarantined
    "1000002;MSA;A0144;2024-03-31;;;",
)
P079_M1_ACTIONS = lines(ACTIONS_HEADER, "A0188;0;3;500")

ALI01_M2 = lines(
    BENEF_HEADER,
    b("1000001", "2023-11-02", "2023-11-20", "2024-01-31", contrat="2024-02-10", ent="1"),  # A': base, contrat ok
    b("1000003", "2023-10-01", "2023-10-20", "2023-11-15", contrat="2024-05-02", ent="0"),  # C': base, contrat > E
    b("1000006", "2024-01-15", "2024-03-01", "2024-03-01", org="MSA", contrat="2024-04-30", ent="2"),  # F': = E−60
    # G': leaves ALI01 for ALI22 (DEMENAGEMENT)
    b("1000006", "2024-03-01", "2024-03-31", "2024-03-31", sortie="2024-04-10", motif="DEMENAGEMENT", ent="1"),
    b("1000010", "2024-03-20", "2024-04-02", "2024-03-28", ent="3", actions="A0148"),  # L': delay 11 + 2 = 13 d
    # M: Le Blanc-Mesnil by name; delay 03-02 → 04-01 = 29 + 1 = 30 d; positive sortie on E; two actions
    b("1000011", "2024-03-02", "2024-04-01", "2024-04-01", commune="le blanc mesnil", sortie="2024-04-30",
      motif="EMPLOI_DURABLE", ent="2", actions="A0144|A0188"),
    # X: date_sortie before the month → quarantined
    b("1000014", "2024-03-01", "2024-04-03", "2024-03-05", sortie="2024-03-31", motif="AUTRE", ent="2",
      actions="A0144"),
    b("1000012", "2024-02-01", "2024-04-15", "2024-04-15", ent="1"),  # N: delay 28 + 31 + 15 = 74 d
    b("1000013", "2024-02-01", "2024-02-20", "2024-03-02", contrat="2024-03-05", ent="1"),  # P: entree = E−59
    b("1000015", "2023-12-01", "2023-12-15", "2024-01-05", contrat="2024-01-10", sortie="2024-04-20", motif="AUTRE",
      ent="1"),  # Q
)
ALI02_M2_CONSEILLERS = lines(
    CONSEILLERS_HEADER,
    "S1;CIP;1;2023-03-01;",
    "S2;CIP;0,6;2023-09-01;",
    "S3;TRAVAILLEUR_SOCIAL;0,4;2023-03-01;2024-04-30",
)
ALI22_M2 = lines(
    BENEF_HEADER,
    b("1000006", "2024-04-08", "2024-04-11", "2024-04-11", referent="C1", ent="1"),  # G'': delay 3 d
    b("3000001", "2024-04-02", "2024-04-09", "2024-04-09", commune="93050", referent="C1", ent="2",
      actions="A0144"),  # delay 7 d
    b("3000002", "2024-03-25", "2024-04-03", "2024-04-03", commune="Neuilly-Plaisance", referent="C2",
      sortie="2024-04-29", motif="ABANDON", ent="1"),  # delay 6 + 3 = 9 d
)
ALI22_M2_CONSEILLERS = lines(
    CONSEILLERS_HEADER,
    "C1;CIP;1;2024-04-02;",
    "C2;TRAVAILLEUR_SOCIAL;0,8;2024-04-02;2024-05-31",
    "C3;CIP;0,5;2024-04-02;2024-04-29",  # leaves before E
)
P057_M2_ACTIONS = lines(ACTIONS_HEADER, "A0144;140;98;2000")  # A0148 not listed
P057_M2_PARTICIPATIONS = lines(
    PARTICIPATIONS_HEADER,
    "1000001;CAF;A0144;2024-02-01;;;",
    "1000002;CAF;A0144;2024-03-05;2024-04-12;CREATION_ENTREPRISE;",
    "1000002;MSA;A0144;2024-03-31;2024-04-30;FIN_ACTION;",
    "1000001;CAF;A0148;2024-04-02;;;",
    "1000010;CAF;a0148;2024-04-20;;;",
    "3000001;CAF;A0148;2024-04-01;2024-04-25;EMPLOI;",
)
P079_M2_ACTIONS_REJECTED = lines("code_action;places_conventionnees", "A0188;0")
P079_M2_PARTICIPATIONS = lines(
    PARTICIPATIONS_HEADER,
    "2000001;CAF;A0188;2024-04-05;;;",
    "2000002;CAF;A0188;2024-03-01;2024-04-10;AUTRE;",
)

# (relative path, content, reception time)
RUN_1 = [
    ("2024-03/ALI01/beneficiaires.csv", ALI01_M1_V1, "2024-04-05 09:00:00"),
    ("2024-03/ALI01/conseillers.csv", ALI01_M1_CONSEILLERS, "2024-04-05 09:05:00"),
    ("2024-03/ALI02/beneficiaires.csv", ALI02_M1, "2024-04-05 10:00:00"),
    ("2024-03/ALI03/beneficiaires.csv", ALI03_M1, "2024-04-05 10:30:00"),
    ("2024-03/ALI03/conseillers.csv", ALI03_M1_CONSEILLERS, "2024-04-05 10:35:00"),
    ("2024-03/ALI15/conseillers.csv", ALI15_M1_CONSEILLERS_REJECTED, "2024-04-05 11:00:00"),
    ("2024-03/ALI23/beneficiaires.csv", ALI23_M1, "2024-04-05 12:00:00"),
    ("2024-03/P057/actions.csv", P057_M1_ACTIONS, "2024-04-06 08:00:00"),
    ("2024-03/P057/participations.csv", P057_M1_PARTICIPATIONS, "2024-04-06 08:30:00"),
    ("2024-03/P079/actions.csv", P079_M1_ACTIONS, "2024-04-06 09:00:00"),
    ("2024-04/ALI01/beneficiaires.csv", ALI01_M2, "2024-05-06 09:00:00"),
    ("2024-04/ALI02/conseillers.csv", ALI02_M2_CONSEILLERS, "2024-05-06 09:30:00"),
    ("2024-04/ALI22/beneficiaires.csv", ALI22_M2, "2024-05-06 10:00:00"),
    ("2024-04/ALI22/conseillers.csv", ALI22_M2_CONSEILLERS, "2024-05-06 10:05:00"),
    ("2024-04/P057/actions.csv", P057_M2_ACTIONS, "2024-05-07 08:00:00"),
    ("2024-04/P057/participations.csv", P057_M2_PARTICIPATIONS, "2024-05-07 08:30:00"),
    ("2024-04/P079/participations.csv", P079_M2_PARTICIPATIONS, "2024-05-07 09:00:00"),
    ("2024-04/P079/actions.csv", P079_M2_ACTIONS_REJECTED, "2024-05-07 09:10:00"),
]
RUN_2 = [
    ("2024-03/ALI01/beneficiaires.csv", ALI01_M1_V2, "2024-05-10 14:00:00"),
    ("2024-03/ALI02/beneficiaires.csv", ALI02_M1_REJECTED, "2024-05-10 15:00:00"),
    ("2024-03/P057/actions.csv", P057_M1_ACTIONS, "2024-05-10 16:00:00"),  # byte-identical re-send
    ("2024-03/ALI15/conseillers.csv", ALI15_M1_CONSEILLERS_REJECTED_AGAIN, "2024-05-10 17:00:00"),
]


def sha(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Reference data, passed through by the marts (names, populations, catalogue places)
# ---------------------------------------------------------------------------------------------


def _reference(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


ALI_NAMES = {r["code_ali"]: r["nom"] for r in _reference("ali.csv")}
COMMUNES = {r["code_insee"]: r for r in _reference("communes_93.csv")}
CATALOGUE_2024 = {r["code_action"]: r for r in _reference("actions.csv") if r["annee"] == "2024"}
PARTNERS = [r["code_partenaire"] for r in _reference("partenaires.csv")]

# Written by hand from ali.csv: date_ouverture ≤ 2024-03-31 excludes ALI20 and ALI22 (2024-04-02).
OPEN_M1 = [f"ALI{n:02d}" for n in range(1, 23) if n not in (20, 22)]
OPEN_M2 = [f"ALI{n:02d}" for n in range(1, 23)]
OPEN = {M1: OPEN_M1, M2: OPEN_M2}


def test_reference_figures_the_expectations_rely_on():
    """Hand counts from the reference files (grep/wc), so a reference change shows here first."""
    assert len(OPEN_M1) == 20 and len(OPEN_M2) == 22
    assert len(CATALOGUE_2024) == 191
    assert sum(int(r["places_conventionnees"]) for r in CATALOGUE_2024.values()) == 10_900
    assert len({r["code_partenaire"] for r in CATALOGUE_2024.values()}) == 82 == len(PARTNERS)
    assert {k: (r["code_partenaire"], r["places_conventionnees"]) for k, r in CATALOGUE_2024.items()
            if r["code_partenaire"] in ("P057", "P079")} == {
        "A0144": ("P057", "120"), "A0148": ("P057", "195"), "A0188": ("P079", "0")}
    assert len(COMMUNES) == 39 and "93059" not in COMMUNES


# ---------------------------------------------------------------------------------------------
# Running the refresh once for the module
# ---------------------------------------------------------------------------------------------


REFRESH = """
import sys
import dagster as dg
from pipelines.refresh import run_refresh
result = run_refresh(sys.argv[1] or None, instance=dg.DagsterInstance.ephemeral())
for event in result.get_step_failure_events():
    print("STEP FAILURE", event.step_key, event.step_failure_data.error.message[:2000])
print("SUCCESS" if result.success else "FAILURE")
"""


def refresh(env: dict[str, str], period: str = "") -> None:
    """``run_refresh`` of the whole inbox (or of ``period``), in its own process as Dagster launches runs.

    (A process per run also keeps a DuckDB handle that a run might leave open in its process from
    blocking the next run or the read-only connection of the checks.)
    """
    done = subprocess.run([sys.executable, "-c", REFRESH, period], check=False, cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = done.stdout.strip().splitlines()
    assert done.returncode == 0 and out and out[-1] == "SUCCESS", (
        f"refresh failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("marts")
    paths = {name: Path(value) for name, value in platform_env(root).items()}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in paths.items():
            mp.setenv(name, str(value))
        mp.delenv("ALI_DEMO_MODE", raising=False)
        inbox = Inbox(paths["ALI_INBOX_DIR"])
        for run in (RUN_1, RUN_2):
            for relative, content, stamp in run:
                inbox.put(relative, content, mtime=at(stamp))
            refresh(dict(os.environ))
    con = warehouse.connect(paths["ALI_WAREHOUSE"], read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def wh(built):
    """Read-only connection to the refreshed warehouse."""
    return built


def fetch(con, mart: str) -> dict[tuple, dict]:
    """Rows of ``marts.<mart>`` for the fixture's two months, by key (duplicated keys fail).

    The marts also hold the other months of their calendar (the spec does not say which months a
    mart covers); nobody delivered for them here, so only 2024-03 and 2024-04 are compared.
    """
    cursor = con.execute(f"SELECT * FROM marts.{mart} WHERE {MONTH.get(mart, 'periode')} IN ($1, $2)", [M1, M2])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    by_key = {tuple(r[k] for k in KEYS[mart]): r for r in rows}
    assert len(by_key) == len(rows), f"{mart}: duplicated keys"
    return by_key


def same(column: str, actual, expected) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return type(actual) is bool and actual == expected
    if isinstance(expected, dt.datetime):
        return type(actual) is dt.datetime and actual == expected
    if isinstance(expected, dt.date):
        return type(actual) is dt.date and actual == expected
    if isinstance(expected, int):
        return type(actual) is int and actual == expected
    if isinstance(expected, float):
        allowed = (float,) if column in RATES else (float, int, Decimal)
        return (isinstance(actual, allowed) and not isinstance(actual, bool)
                and math.isclose(float(actual), expected, rel_tol=1e-9, abs_tol=1e-12))
    return actual == expected


def check(rows: dict[tuple, dict], expected: dict[tuple, dict], mart: str) -> int:
    """Every column of every expected row; all differences reported at once. Returns cells checked."""
    problems, checked = [], 0
    missing = [k for k in expected if k not in rows]
    if missing:
        problems.append(f"missing rows: {missing[:10]}{' …' if len(missing) > 10 else ''}")
    for key, want in expected.items():
        got = rows.get(key)
        if got is None:
            continue
        assert set(want) == set(COLUMNS[mart]), f"test bug: expected row {key} lacks spec columns"
        for column in COLUMNS[mart]:
            checked += 1
            if column not in got:
                problems.append(f"{key} column {column} absent")
            elif not same(column, got[column], want[column]):
                problems.append(f"{key} {column}: expected {want[column]!r}, got {got[column]!r}")
    assert not problems, f"{mart}: {len(problems)} difference(s)\n" + "\n".join(problems[:60])
    return checked


# ---------------------------------------------------------------------------------------------
# Expected rows, computed by hand
# ---------------------------------------------------------------------------------------------


def ali_row(periode, code, livre=False, file_active=None, fin_mois=None, entrees=None, sorties=None,
            positives=None, taux_sp=None, etp=None, par_etp=None, delai=None, part30=None, contrat=None,
            entretiens=None):
    return {
        "periode": periode, "code_ali": code, "nom_ali": ALI_NAMES[code], "livre": livre,
        "file_active": file_active, "accompagnes_fin_mois": fin_mois, "entrees": entrees, "sorties": sorties,
        "sorties_positives": positives, "taux_sorties_positives": taux_sp, "etp_accompagnement": etp,
        "accompagnes_par_etp": par_etp, "delai_moyen_orientation_rdv_j": delai, "part_rdv_sous_30j": part30,
        "taux_contractualisation": contrat, "entretiens_par_personne": entretiens,
        # no row of the fixture gives heures_activite: 0 persons with an activity, share NULL
        "activite_renseignee": 0 if livre else None, "part_activite_15h": None,
    }


EXPECTED_ALI = {
    # ALI01 March (v2 only): persons A B C D E F G J K L = 10 (H, I quarantined; F MSA ≠ G CAF)
    (M1, "ALI01"): ali_row(
        M1, "ALI01", True, file_active=10,
        fin_mois=6,  # without date_sortie: A B C F G L
        entrees=4,  # date_entree in [03-01, 03-31]: E 03-04, F 03-01, G 03-31, L 03-28
        sorties=4,  # D E J K
        positives=2, taux_sp=0.5,  # D EMPLOI_DURABLE, K FORMATION_QUALIFIANTE
        etp=1.75,  # R1 1 + R2 0.5 (leaves on E) + R7 0.25; R3 left 03-15, R4/R5 other functions, R6 quarantined
        par_etp=6 / 1.75,
        delai=27.0, part30=2 / 3,  # rdv in March: E 5, F 46, G 30 → 81 / 3; ≤ 30: E, G
        contrat=0.5,  # base (no sortie, entree ≤ 01-31): A, C; contrat ≤ E: A
        entretiens=1.4,  # 2+1+0+1+2+4+1+1+2+0 = 14 over 10 persons
    ),
    # ALI02 March (v1 stays in force): a b c d e f h = 7 (g quarantined)
    (M1, "ALI02"): ali_row(
        M1, "ALI02", True, file_active=7,
        fin_mois=4,  # a b d h
        entrees=2,  # a 03-26, c 03-15
        sorties=3, positives=2, taux_sp=2 / 3,  # c CREATION_ENTREPRISE, e EMPLOI_TEMPORAIRE; f FIN_DE_DROITS
        etp=None, par_etp=None,  # no conseillers delivery
        delai=17.5, part30=1.0,  # a 6, c 29
        contrat=2 / 3,  # base b d h; contrat ≤ E: d, h (= E)
        entretiens=10 / 7,  # 1+2+3+1+1+0+2
    ),
    # valid delivery, every row quarantined: livre, counts 0, every ratio over 0 or over nobody NULL;
    # valid conseillers delivery without CIP/TS: etp 0 (NULL is only for "no valid delivery")
    (M1, "ALI03"): ali_row(M1, "ALI03", True, file_active=0, fin_mois=0, entrees=0, sorties=0, positives=0,
                           etp=0.0),
    (M1, "ALI15"): ali_row(M1, "ALI15"),  # open, its conseillers files were rejected: etp NULL
    # ALI01 April: A' C' F' G' L' M N P Q = 9 (X quarantined); no conseillers delivery
    (M2, "ALI01"): ali_row(
        M2, "ALI01", True, file_active=9,
        fin_mois=6,  # A' C' F' L' N P
        entrees=2,  # M 04-01, N 04-15
        sorties=3, positives=1, taux_sp=1 / 3,  # G' DEMENAGEMENT, M EMPLOI_DURABLE, Q AUTRE
        etp=None, par_etp=None,
        delai=39.0, part30=2 / 3,  # L' 13, M 30, N 74 → 117 / 3
        contrat=2 / 3,  # base (entree ≤ 03-01): A' C' F'; P (03-02) out; contrat ≤ 04-30: A', F'
        entretiens=12 / 9,  # 1+0+2+1+3+2+1+1+1
    ),
    # ALI02 April: conseillers only
    (M2, "ALI02"): ali_row(M2, "ALI02", False, etp=2.0),  # S1 1 + S2 0.6 + S3 0.4 (leaves on E)
    # ALI22 April, its first month
    (M2, "ALI22"): ali_row(
        M2, "ALI22", True, file_active=3, fin_mois=2, entrees=3, sorties=1, positives=0,
        taux_sp=0.0,  # 0/1 is 0.0
        etp=1.8,  # C1 1 + C2 0.8; C3 left 04-29
        par_etp=2 / 1.8,
        delai=19 / 3, part30=1.0,  # 3, 7, 9
        contrat=None,  # nobody entered ≤ 03-01: empty base
        entretiens=4 / 3,
    ),
}
for _periode in (M1, M2):
    for _code in OPEN[_periode]:
        EXPECTED_ALI.setdefault((_periode, _code), ali_row(_periode, _code))


EXPECTED_DEPARTEMENT = {
    (M1,): {
        "periode": M1, "ali_ouvertes": 20, "ali_ayant_livre": 3,  # ALI01, ALI02, ALI03 (all rows quarantined)
        "file_active": 16,  # 10 + 7 − 1 (1000005 CAF in both)
        "accompagnes_fin_mois": 10,  # ALI01 6 + ALI02 4 (1000005 has a sortie in ALI01 only)
        "personnes_multi_ali": 1,
        "entrees": 6, "sorties": 7, "sorties_positives": 4, "taux_sorties_positives": 4 / 7,
        "etp_accompagnement": 1.75,  # ALI01 1.75 + ALI03 0.0 (ALI02 NULL)
        "accompagnes_par_etp": 10 / 1.75,
        # catalogue 10 900 − A0144 120 + 150 − A0148 195 + 180 (A0188 0 → 0)
        "places_conventionnees": 10_915,
        "places_occupees": 207,  # 90 + 117; A0188 (0 places, 3 occupied) excluded
        "taux_occupation": 207 / 330,  # over 150 + 180
        "objectif_places": 12_600.0, "objectif_conseillers": 340.0,  # objectifs.csv, annee 2026
    },
    (M2,): {
        "periode": M2, "ali_ouvertes": 22, "ali_ayant_livre": 2,  # ALI01, ALI22
        "file_active": 11,  # 9 + 3 − 1 (1000006 CAF in both)
        "accompagnes_fin_mois": 8,  # ALI01 6 + ALI22 2 (1000006 CAF has no sortie in ALI22)
        "personnes_multi_ali": 1,
        "entrees": 5, "sorties": 4, "sorties_positives": 1, "taux_sorties_positives": 0.25,
        "etp_accompagnement": 3.8,  # ALI02 2.0 + ALI22 1.8 (ALI01 NULL)
        "accompagnes_par_etp": 8 / 3.8,
        "places_conventionnees": 10_920,  # 10 900 − 120 + 140 (A0148 not delivered: catalogue 195)
        "places_occupees": 98, "taux_occupation": 0.7,  # 98 / 140
        "objectif_places": 12_600.0, "objectif_conseillers": 340.0,
    },
}


def action_row(periode, code, livre=False, places=None, occupees=None, taux=None, participants=None,
               entrees=None, sorties=None, positives=None, prescriptions=0, montant=None, prescrits=None):
    ref = CATALOGUE_2024[code]
    return {
        "periode": periode, "code_action": code, "code_partenaire": ref["code_partenaire"],
        "thematique": ref["thematique"], "livre": livre,
        "places_conventionnees": int(ref["places_conventionnees"]) if places is None else places,
        "places_occupees": occupees, "taux_occupation": taux, "participants": participants, "entrees": entrees,
        "sorties": sorties, "sorties_positives": positives, "prescriptions": prescriptions,
        "montant_consomme_eur": montant,
        # distinct persons; prescrits_entres_3m needs M + 2 ≤ L = 2024-04: NULL for March and April
        "prescrits": prescriptions if prescrits is None else prescrits, "prescrits_entres_3m": None,
        "taux_concretisation_3m": None,
    }


EXPECTED_ACTIONS = {
    # participants: 1000001C 1000002C 1000003C 1000004C 1000005C 1000002M (2 rows quarantined)
    # entrees: 03-05, 03-10, 03-01, 03-31; sorties EMPLOI, ABANDON, FORMATION → 2 positive
    # prescriptions: ALI01 A (A0144 twice in one row → 1) and F; H (quarantined) and ALI02 g do not count
    (M1, "A0144"): action_row(M1, "A0144", True, 150, 90, 0.6, 6, 4, 3, 2, 2, 1234.5),
    # participations delivered without a row for A0148 → 0; prescriptions: ALI01 C (a0148) and F
    (M1, "A0148"): action_row(M1, "A0148", True, 180, 117, 0.65, 0, 0, 0, 0, 2, None),
    # 0 places → taux NULL; P079 sent no participations → NULL; prescription: ALI02 a
    (M1, "A0188"): action_row(M1, "A0188", True, 0, 3, None, None, None, None, None, 1, 500.0),
    # April: 1000001C, 1000002C (CREATION_ENTREPRISE), 1000002M (FIN_ACTION); none entered in April;
    # prescriptions: ALI01 M and ALI22 3000001 (X quarantined)
    (M2, "A0144"): action_row(M2, "A0144", True, 140, 98, 0.7, 3, 0, 2, 1, 2, 2000.0),
    # P057 delivered an actions file (livre) without A0148 → catalogue places, NULL occupancy and amount
    (M2, "A0148"): action_row(M2, "A0148", True, None, None, None, 3, 3, 1, 1, 1, None),
    # participations only (AUTRE is not positive); prescription: ALI01 M
    (M2, "A0188"): action_row(M2, "A0188", False, None, None, None, 2, 1, 1, 0, 1, None),
}
for _periode in (M1, M2):
    for _code in CATALOGUE_2024:
        EXPECTED_ACTIONS.setdefault((_periode, _code), action_row(_periode, _code))


def cohorte_row(cohorte, code, entrants=None, delai=None):
    """L = 2024-04 (last month with a valid beneficiaires delivery): March and April have neither 6
    nor 12 months of hindsight, nor the 2 months of the 60-day contract rate; only entrants and the
    mean delay (no maturity condition) are observed, when the ALI delivered the cohort's month."""
    return {
        "cohorte": cohorte, "code_ali": code, "nom_ali": ALI_NAMES[code], "entrants": entrants,
        "mature_6m": False, "mature_12m": False, "sortis_6m": None, "sortis_positifs_6m": None,
        "taux_sorties_positives_6m": None, "sortis_12m": None, "sortis_positifs_12m": None,
        "taux_sorties_positives_12m": None, "contrats_60j": None, "taux_contrat_60j": None,
        "delai_moyen_contrat_j": delai,
    }


EXPECTED_COHORTES = {
    # passages entering in March: E 03-04, F (MSA) 03-01, G (CAF) 03-31, L 03-28, and P (1000013, entree
    # 03-02) known only from April's delivery; X is quarantined. Contracts: F's passage gets 04-30 from
    # April (F', 60 days), P 03-05 (3 days) → (60 + 3) / 2
    (M1, "ALI01"): cohorte_row(M1, "ALI01", 5, 31.5),
    (M1, "ALI02"): cohorte_row(M1, "ALI02", 2),  # a 03-26, c 03-15 (g quarantined); no contract
    (M1, "ALI03"): cohorte_row(M1, "ALI03", 0),  # delivered, every row quarantined
    (M2, "ALI01"): cohorte_row(M2, "ALI01", 2),  # M 04-01, N 04-15
    (M2, "ALI22"): cohorte_row(M2, "ALI22", 3),  # G'' 04-11, 3000001 04-09, 3000002 04-03
}
for _periode in (M1, M2):
    for _code in OPEN[_periode]:
        EXPECTED_COHORTES.setdefault((_periode, _code), cohorte_row(_periode, _code))

FREINS = ("LOGEMENT", "SANTE", "GARDE_ENFANTS", "MOBILITE", "LANGUE", "NUMERIQUE", "ADMINISTRATIF", "FINANCES")
LIVRE = {(M1, "ALI01"), (M1, "ALI02"), (M1, "ALI03"), (M2, "ALI01"), (M2, "ALI22")}
# no row of the fixture lists a frein: 0 persons (rates NULL) where the ALI delivered, NULL elsewhere
EXPECTED_FREINS = {
    (periode, code, frein): {
        "periode": periode, "code_ali": code, "nom_ali": ALI_NAMES[code], "frein": frein,
        "personnes": 0 if (periode, code) in LIVRE else None, "personnes_orientees": 0 if (periode, code) in LIVRE
        else None, "taux_orientation": None, "personnes_en_action": 0 if (periode, code) in LIVRE else None,
        "taux_en_action": None,
    }
    for periode in (M1, M2) for code in OPEN[periode] for frein in FREINS
}


def territoire_row(periode, code, file_active=0):
    ref = COMMUNES[code]
    population = int(ref["population_municipale"])
    return {
        "periode": periode, "code_insee": code, "commune": ref["nom"], "ept": ref["ept"],
        "population_municipale": population, "file_active": file_active,
        "accompagnes_pour_1000_hab": 1000 * file_active / population,
    }


EXPECTED_TERRITOIRE = {
    # ALI01's 10 persons (C by name) + ALI02 a (the same 1000005 CAF)
    (M1, "93001"): {"periode": M1, "code_insee": "93001", "commune": "Aubervilliers", "ept": "Plaine Commune",
                    "population_municipale": 86_375, "file_active": 10,
                    "accompagnes_pour_1000_hab": 10_000 / 86_375},  # 0.11577…
    # ALI02 b (93059), c (Pierrefitte-sur-Seine), d (saint denis), e, f, h; g quarantined
    (M1, "93066"): {"periode": M1, "code_insee": "93066", "commune": "Saint-Denis", "ept": "Plaine Commune",
                    "population_municipale": 141_441, "file_active": 6,
                    "accompagnes_pour_1000_hab": 6_000 / 141_441},  # 0.04242…
    # only ALI01 v1 (replaced) and the quarantined duplicate I lived here
    (M1, "93007"): {"periode": M1, "code_insee": "93007", "commune": "Le Blanc-Mesnil",
                    "ept": "Paris Terres d'Envol", "population_municipale": 56_783, "file_active": 0,
                    "accompagnes_pour_1000_hab": 0.0},
    # A' C' F' G' L' N P Q (+ ALI22's G'', the same person)
    (M2, "93001"): {"periode": M2, "code_insee": "93001", "commune": "Aubervilliers", "ept": "Plaine Commune",
                    "population_municipale": 86_375, "file_active": 8,
                    "accompagnes_pour_1000_hab": 8_000 / 86_375},
    (M2, "93007"): {"periode": M2, "code_insee": "93007", "commune": "Le Blanc-Mesnil",
                    "ept": "Paris Terres d'Envol", "population_municipale": 56_783, "file_active": 1,
                    "accompagnes_pour_1000_hab": 1_000 / 56_783},  # M ("le blanc mesnil")
    (M2, "93050"): {"periode": M2, "code_insee": "93050", "commune": "Neuilly-sur-Marne",
                    "ept": "Grand Paris Grand Est", "population_municipale": 34_993, "file_active": 1,
                    "accompagnes_pour_1000_hab": 1_000 / 34_993},
    (M2, "93049"): {"periode": M2, "code_insee": "93049", "commune": "Neuilly-Plaisance",
                    "ept": "Grand Paris Grand Est", "population_municipale": 21_150, "file_active": 1,
                    "accompagnes_pour_1000_hab": 1_000 / 21_150},
    # ALI02 delivered no beneficiaires in April
    (M2, "93066"): {"periode": M2, "code_insee": "93066", "commune": "Saint-Denis", "ept": "Plaine Commune",
                    "population_municipale": 141_441, "file_active": 0, "accompagnes_pour_1000_hab": 0.0},
}
for _periode in (M1, M2):
    for _code in COMMUNES:
        EXPECTED_TERRITOIRE.setdefault((_periode, _code), territoire_row(_periode, _code))

REJECT_MISSING = "colonne(s) obligatoire(s) absente(s) : {}"


def livraison(periode, source, dataset, *, attendu=True, source_type=None, statut="ABSENT", fichier=None,
              content=None, recu=None, counts=(None, None, None, None), motif=None, versions=0):
    if source_type is None and attendu:
        source_type = "ALI" if source.startswith("ALI") else "PARTENAIRE"
    lues, chargees, quarantaine, ignorees = counts
    return {
        "periode": periode, "source_code": source, "source_type": source_type, "dataset": dataset,
        "attendu": attendu, "statut": statut, "fichier": fichier, "recu_le": None if recu is None else ts(recu),
        "sha256": None if content is None else sha(content), "lignes_lues": lues, "lignes_chargees": chargees,
        "lignes_quarantaine": quarantaine, "lignes_ignorees": ignorees, "motif_rejet": motif,
        "versions_recues": versions,
    }


def delivered(periode, source, dataset, content, recu, counts, versions=1, motif=None):
    folder = periode.strftime("%Y-%m")
    return livraison(periode, source, dataset, statut="LIVRE", fichier=f"{folder}/{source}/{dataset}.csv",
                     content=content, recu=recu, counts=counts, motif=motif, versions=versions)


EXPECTED_LIVRAISONS = {
    # v2 in force: 12 data rows + the Total row read; 10 loaded, H and I quarantined, Total ignored
    (M1, "ALI01", "beneficiaires"): delivered(M1, "ALI01", "beneficiaires", ALI01_M1_V2, "2024-05-10 14:00:00",
                                              (13, 10, 2, 1), versions=2),
    (M1, "ALI01", "conseillers"): delivered(M1, "ALI01", "conseillers", ALI01_M1_CONSEILLERS, "2024-04-05 09:05:00",
                                            (7, 6, 1, 0)),
    # the rejected re-send leaves v1 in force; its reason is shown
    (M1, "ALI02", "beneficiaires"): delivered(M1, "ALI02", "beneficiaires", ALI02_M1, "2024-04-05 10:00:00",
                                              (8, 7, 1, 0), versions=2, motif=REJECT_MISSING.format("date_entree")),
    (M1, "ALI03", "beneficiaires"): delivered(M1, "ALI03", "beneficiaires", ALI03_M1, "2024-04-05 10:30:00",
                                              (2, 0, 2, 0)),
    (M1, "ALI03", "conseillers"): delivered(M1, "ALI03", "conseillers", ALI03_M1_CONSEILLERS, "2024-04-05 10:35:00",
                                            (1, 1, 0, 0)),
    # only rejected files: the last one's file, time, hash and reason; two distinct versions
    (M1, "ALI15", "conseillers"): livraison(
        M1, "ALI15", "conseillers", statut="REJETE", fichier="2024-03/ALI15/conseillers.csv",
        content=ALI15_M1_CONSEILLERS_REJECTED_AGAIN, recu="2024-05-10 17:00:00",
        motif=REJECT_MISSING.format("fonction, etp"), versions=2),
    (M1, "ALI23", "beneficiaires"): livraison(
        M1, "ALI23", "beneficiaires", attendu=False, statut="REJETE", fichier="2024-03/ALI23/beneficiaires.csv",
        content=ALI23_M1, recu="2024-04-05 12:00:00",
        motif="code source « ALI23 » inconnu (ni ALI ni partenaire du référentiel)", versions=1),
    # identical re-send: still one version, received again at 16:00
    (M1, "P057", "actions"): delivered(M1, "P057", "actions", P057_M1_ACTIONS, "2024-05-10 16:00:00", (3, 2, 1, 0)),
    (M1, "P057", "participations"): delivered(M1, "P057", "participations", P057_M1_PARTICIPATIONS,
                                              "2024-04-06 08:30:00", (8, 6, 2, 0)),
    (M1, "P079", "actions"): delivered(M1, "P079", "actions", P079_M1_ACTIONS, "2024-04-06 09:00:00", (1, 1, 0, 0)),
    (M2, "ALI01", "beneficiaires"): delivered(M2, "ALI01", "beneficiaires", ALI01_M2, "2024-05-06 09:00:00",
                                              (10, 9, 1, 0)),
    (M2, "ALI02", "conseillers"): delivered(M2, "ALI02", "conseillers", ALI02_M2_CONSEILLERS, "2024-05-06 09:30:00",
                                            (3, 3, 0, 0)),
    (M2, "ALI22", "beneficiaires"): delivered(M2, "ALI22", "beneficiaires", ALI22_M2, "2024-05-06 10:00:00",
                                              (3, 3, 0, 0)),
    (M2, "ALI22", "conseillers"): delivered(M2, "ALI22", "conseillers", ALI22_M2_CONSEILLERS, "2024-05-06 10:05:00",
                                            (3, 3, 0, 0)),
    (M2, "P057", "actions"): delivered(M2, "P057", "actions", P057_M2_ACTIONS, "2024-05-07 08:00:00", (1, 1, 0, 0)),
    (M2, "P057", "participations"): delivered(M2, "P057", "participations", P057_M2_PARTICIPATIONS,
                                              "2024-05-07 08:30:00", (6, 6, 0, 0)),
    (M2, "P079", "participations"): delivered(M2, "P079", "participations", P079_M2_PARTICIPATIONS,
                                              "2024-05-07 09:00:00", (2, 2, 0, 0)),
    (M2, "P079", "actions"): livraison(
        M2, "P079", "actions", statut="REJETE", fichier="2024-04/P079/actions.csv", content=P079_M2_ACTIONS_REJECTED,
        recu="2024-05-07 09:10:00", motif=REJECT_MISSING.format("places_occupees"), versions=1),
}
for _periode in (M1, M2):
    for _code in OPEN[_periode]:
        for _dataset in ("beneficiaires", "conseillers"):
            EXPECTED_LIVRAISONS.setdefault((_periode, _code, _dataset), livraison(_periode, _code, _dataset))
    for _code in PARTNERS:
        for _dataset in ("participations", "actions"):
            EXPECTED_LIVRAISONS.setdefault((_periode, _code, _dataset), livraison(_periode, _code, _dataset))



def qualite_row(periode, source, livres=0, retard=None, versions=0, lues=0, quarantaine=0):
    """A source expected in the month: 2 datasets; on time ⇔ retard_j = 0; taux NULL without a line read."""
    return {
        "periode": periode, "source_code": source, "source_type": "ALI" if source.startswith("ALI") else "PARTENAIRE",
        "datasets_attendus": 2, "datasets_livres": livres, "a_l_heure": retard == 0, "retard_j": retard,
        "versions_recues": versions, "lignes_lues": lues, "lignes_quarantaine": quarantaine,
        "taux_quarantaine": quarantaine / lues if lues else None,
    }


# Due dates (retours.md): 2024-03 → 2024-04-05, 2024-04 → 2024-05-05, end of day in Paris (UTC+2 then):
# a reception time (UTC) of the 5th before 22:00 is on time. The date of a dataset is that of its first
# valid version; P057's byte-identical re-send of its March actions on 05-10 moves recu_le, not
# premier_recu_le: the actions still count from 04-06.
EXPECTED_QUALITE = {
    # v1 on 04-05 09:00 (first valid: v2's re-send does not count), conseillers 09:05; versions v1, v2,
    # conseillers; lines of v2 (13, 2 quarantined) + conseillers (7, 1) → 3 / 20
    (M1, "ALI01"): qualite_row(M1, "ALI01", 2, 0, 3, 20, 3),
    (M1, "ALI02"): qualite_row(M1, "ALI02", 1, None, 2, 8, 1),  # no conseillers; v1 + the rejected re-send
    (M1, "ALI03"): qualite_row(M1, "ALI03", 2, 0, 2, 3, 2),  # both on 04-05; 2 + 1 lines, 2 + 0 quarantined
    (M1, "ALI15"): qualite_row(M1, "ALI15", 0, None, 2),  # two rejected conseillers files, nothing in force
    # actions 04-06 08:00 UTC (the re-send of 05-10 does not count), participations 04-06 08:30 UTC = 10:30
    # Paris → 1 day; lines 3 + 8, quarantined 1 + 2
    (M1, "P057"): qualite_row(M1, "P057", 2, 1, 2, 11, 3),
    (M1, "P079"): qualite_row(M1, "P079", 1, None, 1, 1, 0),  # actions only (04-06): participations missing
    (M2, "ALI01"): qualite_row(M2, "ALI01", 1, None, 1, 10, 1),  # beneficiaires only (05-06)
    (M2, "ALI02"): qualite_row(M2, "ALI02", 1, None, 1, 3, 0),  # conseillers only
    (M2, "ALI22"): qualite_row(M2, "ALI22", 2, 1, 2, 6, 0),  # both on 05-06: 1 day
    (M2, "P057"): qualite_row(M2, "P057", 2, 2, 2, 7, 0),  # both on 05-07: 2 days; 1 + 6 lines
    (M2, "P079"): qualite_row(M2, "P079", 1, None, 2, 2, 0),  # participations + the rejected actions file
}
for _periode in (M1, M2):
    for _code in OPEN[_periode] + PARTNERS:
        EXPECTED_QUALITE.setdefault((_periode, _code), qualite_row(_periode, _code))

EXPECTED = {
    "mart_ali_mensuel": EXPECTED_ALI,
    "mart_departement_mensuel": EXPECTED_DEPARTEMENT,
    "mart_actions_mensuel": EXPECTED_ACTIONS,
    "mart_territoire_mensuel": EXPECTED_TERRITOIRE,
    "mart_livraisons": EXPECTED_LIVRAISONS,
    "mart_parcours_cohortes": EXPECTED_COHORTES,
    "mart_freins_mensuel": EXPECTED_FREINS,
    "mart_qualite_sources": EXPECTED_QUALITE,
}
# The rows the fixture is about (one test each); every other expected row is checked in bulk.
FOCUS = {
    "mart_ali_mensuel": [(M1, "ALI01"), (M1, "ALI02"), (M1, "ALI03"), (M1, "ALI15"),
                         (M2, "ALI01"), (M2, "ALI02"), (M2, "ALI22")],
    "mart_departement_mensuel": [(M1,), (M2,)],
    "mart_actions_mensuel": [(M1, "A0144"), (M1, "A0148"), (M1, "A0188"), (M2, "A0144"), (M2, "A0148"),
                             (M2, "A0188")],
    "mart_territoire_mensuel": [(M1, "93001"), (M1, "93066"), (M1, "93007"), (M2, "93001"), (M2, "93007"),
                                (M2, "93050"), (M2, "93049"), (M2, "93066")],
    "mart_livraisons": [k for k in EXPECTED_LIVRAISONS if EXPECTED_LIVRAISONS[k]["statut"] != "ABSENT"]
    + [(M1, "ALI02", "conseillers"), (M1, "ALI15", "beneficiaires"), (M1, "P079", "participations"),
       (M2, "ALI01", "conseillers"), (M2, "ALI02", "beneficiaires"), (M2, "ALI20", "beneficiaires")],
    "mart_parcours_cohortes": [(M1, "ALI01"), (M1, "ALI02"), (M1, "ALI03"), (M2, "ALI01"), (M2, "ALI22")],
    "mart_freins_mensuel": [],
    "mart_qualite_sources": [k for k in EXPECTED_QUALITE if EXPECTED_QUALITE[k]["versions_recues"]],
}

# Disagreements between these hand figures and the models, decided from the spec (see the reasons).
XFAIL: dict[tuple, str] = {}


def _id(key: tuple) -> str:
    return "-".join(k.strftime("%Y-%m") if isinstance(k, dt.date) else str(k) for k in key)


def _cases():
    for mart, keys in FOCUS.items():
        for key in keys:
            reason = XFAIL.get((mart, key))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(mart, key, id=f"{mart}[{_id(key)}]", marks=marks)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_hand_figures_are_consistent():
    """Cross-checks of the hand computations themselves (no warehouse involved)."""
    # département places: whole 2024 catalogue with the delivered overrides
    for periode, overrides in ((M1, {"A0144": 150, "A0148": 180, "A0188": 0}), (M2, {"A0144": 140})):
        total = sum(overrides.get(c, int(r["places_conventionnees"])) for c, r in CATALOGUE_2024.items())
        assert total == EXPECTED_DEPARTEMENT[(periode,)]["places_conventionnees"]
        assert total == sum(EXPECTED_ACTIONS[(periode, c)]["places_conventionnees"] for c in CATALOGUE_2024)
    for periode in (M1, M2):
        dep = EXPECTED_DEPARTEMENT[(periode,)]
        alis = [r for (p, _), r in EXPECTED_ALI.items() if p == periode]
        for column in ("entrees", "sorties", "sorties_positives"):  # "sums of the ALI rows"
            assert dep[column] == sum(r[column] or 0 for r in alis)
        assert dep["etp_accompagnement"] == pytest.approx(sum(r["etp_accompagnement"] or 0 for r in alis))
        assert dep["ali_ayant_livre"] == sum(r["livre"] for r in alis)
        # the communes are consistent per person here, so the territory sums to the département
        assert sum(r["file_active"] for (p, _), r in EXPECTED_TERRITOIRE.items() if p == periode) == dep["file_active"]
        # distinct persons: sum of ALI file_active minus the multi-ALI person counted twice
        assert sum(r["file_active"] or 0 for r in alis) - dep["personnes_multi_ali"] == dep["file_active"]
    assert len(EXPECTED_ALI) == 20 + 22
    assert len(EXPECTED_ACTIONS) == 2 * 191
    assert len(EXPECTED_TERRITOIRE) == 2 * 39
    # livraisons: 20 ALI × 2 + 82 partners × 2 = 204 expected + ALI23 received = 205; April 22 × 2 + 164 = 208
    assert sum(1 for k in EXPECTED_LIVRAISONS if k[0] == M1) == 205
    assert sum(1 for k in EXPECTED_LIVRAISONS if k[0] == M2) == 208
    # delivery quality: one row per expected source, 20 + 82 and 22 + 82
    assert [sum(1 for k in EXPECTED_QUALITE if k[0] == p) for p in (M1, M2)] == [102, 104]
    for (periode, source), row in EXPECTED_QUALITE.items():  # the rows agree with mart_livraisons' by hand
        keys = [r for k, r in EXPECTED_LIVRAISONS.items() if k[:2] == (periode, source)]
        assert row["datasets_livres"] == sum(r["statut"] == "LIVRE" for r in keys if r["attendu"])
        assert row["lignes_lues"] == sum(r["lignes_lues"] or 0 for r in keys if r["statut"] == "LIVRE")
        assert row["lignes_quarantaine"] == sum(r["lignes_quarantaine"] or 0 for r in keys if r["statut"] == "LIVRE")


@pytest.mark.parametrize("mart", list(COLUMNS))
def test_columns_are_the_spec_contract(wh, mart):
    names = [r[0] for r in wh.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ? "
        "ORDER BY ordinal_position", [mart]).fetchall()]
    assert sorted(names) == sorted(COLUMNS[mart]), f"{mart}: {names}"


@pytest.mark.parametrize("mart", list(COLUMNS))
def test_column_types(wh, mart):
    types = dict(wh.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'marts' "
        "AND table_name = ?", [mart]).fetchall())
    problems = []
    for column, kind in types.items():
        if column in ("periode", "cohorte") and kind != "DATE":
            problems.append(f"{column} is {kind}, the spec says DATE")
        if column in RATES and kind != "DOUBLE":
            problems.append(f"{column} is {kind}, rates are DOUBLE")
        if column in BOOLEANS and kind != "BOOLEAN":
            problems.append(f"{column} is {kind}, expected BOOLEAN")
        if column in COUNTS and kind not in INTEGER_TYPES:
            problems.append(f"{column} is {kind}, expected an integer type")
        if column == "recu_le" and not kind.startswith("TIMESTAMP"):
            problems.append(f"recu_le is {kind}, expected TIMESTAMP")
    assert not problems, problems


@pytest.mark.parametrize("mart", list(COLUMNS))
def test_row_keys_are_exactly_the_expected_rows(wh, mart):
    """All open ALI, the whole catalogue, the 39 communes, every expected or received delivery key; nothing else."""
    rows = fetch(wh, mart)
    expected = set(EXPECTED[mart])
    assert not set(rows) - expected, f"unexpected rows: {sorted(set(rows) - expected, key=str)[:10]}"
    assert not expected - set(rows), f"missing rows: {sorted(expected - set(rows), key=str)[:10]}"


def test_row_counts(wh):
    per_month = {
        mart: dict(wh.execute(f"SELECT {MONTH.get(mart, 'periode')}, count(*) FROM marts.{mart} "
                              f"WHERE {MONTH.get(mart, 'periode')} IN ($1, $2) GROUP BY 1", [M1, M2]).fetchall())
        for mart in COLUMNS
    }
    assert per_month == {
        "mart_ali_mensuel": {M1: 20, M2: 22},
        "mart_departement_mensuel": {M1: 1, M2: 1},
        "mart_actions_mensuel": {M1: 191, M2: 191},
        "mart_territoire_mensuel": {M1: 39, M2: 39},
        "mart_livraisons": {M1: 205, M2: 208},
        "mart_parcours_cohortes": {M1: 20, M2: 22},
        "mart_freins_mensuel": {M1: 20 * 8, M2: 22 * 8},
        "mart_qualite_sources": {M1: 20 + 82, M2: 22 + 82},
    }


def test_not_yet_open_ali_has_no_row_before_opening(wh):
    rows = fetch(wh, "mart_ali_mensuel")
    assert (M1, "ALI22") not in rows and (M1, "ALI20") not in rows
    assert (M2, "ALI22") in rows and rows[(M2, "ALI22")]["livre"] is True
    livraisons = fetch(wh, "mart_livraisons")
    assert not [k for k in livraisons if k[0] == M1 and k[1] in ("ALI20", "ALI22")]


@pytest.mark.parametrize(("mart", "key"), list(_cases()))
def test_fixture_row(wh, mart, key):
    check(fetch(wh, mart), {key: EXPECTED[mart][key]}, mart)


@pytest.mark.parametrize("mart", list(COLUMNS))
def test_every_other_row(wh, mart):
    """Rows nobody delivered for: defaults of the spec (livre false and NULLs, catalogue places, 0, ABSENT)."""
    focus = set(FOCUS[mart])
    check(fetch(wh, mart), {k: v for k, v in EXPECTED[mart].items() if k not in focus}, mart)


def test_totals_over_all_rows(wh):
    """Totals by hand, whatever the row-level layout."""
    assert wh.execute(
        "SELECT periode, sum(places_conventionnees), count(*) FILTER (livre), sum(prescriptions) "
        "FROM marts.mart_actions_mensuel WHERE periode IN ($1, $2) GROUP BY 1 ORDER BY 1", [M1, M2]).fetchall() == [
        (M1, 10_915, 3, 5),  # prescriptions 2 + 2 + 1
        (M2, 10_920, 2, 4),  # 2 + 1 + 1
    ]
    assert wh.execute(
        "SELECT periode, sum(file_active), count(*) FILTER (file_active > 0) FROM marts.mart_territoire_mensuel "
        "WHERE periode IN ($1, $2) GROUP BY 1 ORDER BY 1", [M1, M2]).fetchall() == [(M1, 16, 2), (M2, 11, 4)]
    assert wh.execute(
        "SELECT periode, statut, count(*) FROM marts.mart_livraisons WHERE periode IN ($1, $2) "
        "GROUP BY ALL ORDER BY ALL",
        [M1, M2]).fetchall() == [
        (M1, "ABSENT", 195), (M1, "LIVRE", 8), (M1, "REJETE", 2),  # 205 − 8 − 2
        (M2, "ABSENT", 200), (M2, "LIVRE", 7), (M2, "REJETE", 1),  # 208 − 7 − 1
    ]
    assert wh.execute(
        "SELECT periode, count(*) FILTER (attendu), count(*) FILTER (source_type IS NULL), sum(versions_recues) "
        "FROM marts.mart_livraisons WHERE periode IN ($1, $2) GROUP BY 1 ORDER BY 1", [M1, M2]).fetchall() == [
        (M1, 204, 1, 13),  # versions ALI01 2 + 1, ALI02 2, ALI03 1 + 1, ALI15 2, ALI23 1, P057 1 + 1, P079 1
        (M2, 208, 0, 8),  # 7 LIVRE + P079's rejected actions
    ]


@pytest.mark.slow
def test_month_without_any_delivery_gets_its_rows_after_a_single_month_run(tmp_path):
    """2024-03 delivered and built; nothing at all for 2024-04; then the run of 2024-05 alone."""
    env = {**os.environ, **platform_env(tmp_path)}
    env.pop("ALI_DEMO_MODE", None)
    inbox = Inbox(tmp_path / "inbox")
    inbox.put("2024-03/ALI01/beneficiaires.csv", lines(BENEF_HEADER, b("1", "2024-02-01", "2024-02-10", "2024-03-01")))
    refresh(env)
    inbox.put("2024-05/ALI01/beneficiaires.csv", lines(BENEF_HEADER, b("1", "2024-02-01", "2024-02-10", "2024-05-02")))
    try:
        refresh(env, "2024-05")
        failure = None
    except AssertionError as error:
        failure = str(error)[:300]
    with warehouse.connect(tmp_path / "warehouse" / "ali.duckdb", read_only=True) as con:
        april = {mart: con.execute(f"SELECT count(*) FROM marts.{mart} WHERE {MONTH.get(mart, 'periode')} "
                                   "= DATE '2024-04-01'").fetchone()[0] for mart in COLUMNS}
    # April: 22 ALI open on 2024-04-30; 191 catalogue actions; 39 communes; 22 × 2 + 82 × 2 = 208 keys
    assert april == {"mart_ali_mensuel": 22, "mart_departement_mensuel": 1, "mart_actions_mensuel": 191,
                     "mart_territoire_mensuel": 39, "mart_livraisons": 208, "mart_parcours_cohortes": 22,
                     "mart_freins_mensuel": 22 * 8, "mart_qualite_sources": 22 + 82}
    assert failure is None, failure
