"""The words and the sample rows of the published Table Schemas (``pipelines.senders.table_schema``).

The contract declares what the platform checks; a Table Schema also wants what a person reads first,
a title per dataset and per column, and an ``example``. They are written here once, by column name
(a column keeps its meaning in every dataset), so the schemas stay generated from the contract and a
new column without a title fails the render. The valid example of each dataset is a handful of
canonical rows that both frictionless and the platform's verifier accept for ``SOURCES``' source and
month (a partner with catalogue actions that year): ``tests/test_table_schema.py`` checks both.
"""

from __future__ import annotations

SOURCES = {"ALI": ("ALI01", "2026-10"), "PARTENAIRE": ("P045", "2026-10")}
"""The source and month each example is valid for, by source type (what ``verifier`` is given)."""

DATASET_TITLES = {
    "beneficiaires": "Personnes accompagnées par une ALI dans le mois",
    "conseillers": "Équipe d'accompagnement d'une ALI dans le mois",
    "participations": "Participations aux actions d'un partenaire dans le mois",
    "actions": "Actions d'un partenaire en fin de mois",
}

TITLES = {
    "matricule": "Numéro d'allocataire",
    "organisme": "Organisme payeur",
    "nom": "Nom",
    "prenom": "Prénom",
    "date_naissance": "Date de naissance",
    "sexe": "Sexe",
    "commune": "Commune de résidence",
    "date_orientation": "Date d'orientation",
    "date_premier_rdv": "Date du premier rendez-vous",
    "date_entree": "Date d'entrée",
    "date_contrat": "Date du contrat d'engagement",
    "date_sortie": "Date de sortie",
    "motif_sortie": "Motif de sortie",
    "referent": "Référent",
    "nb_entretiens": "Nombre d'entretiens",
    "heures_activite": "Heures d'activité",
    "freins": "Freins périphériques",
    "actions": "Actions prescrites",
    "fonction": "Fonction",
    "etp": "Équivalent temps plein",
    "date_arrivee": "Date d'arrivée",
    "date_depart": "Date de départ",
    "code_action": "Code de l'action",
    "resultat_sortie": "Résultat de sortie",
    "heures_realisees": "Heures réalisées",
    "places_conventionnees": "Places conventionnées",
    "places_occupees": "Places occupées",
    "montant_consomme_eur": "Montant consommé (euros)",
}

EXAMPLES: dict[str, list[dict[str, str]]] = {
    "beneficiaires": [
        {"matricule": "0012345", "organisme": "CAF", "nom": "Martin", "prenom": "Zoé", "date_naissance": "1985-04-03",
         "sexe": "F", "commune": "93001", "date_orientation": "2026-09-02", "date_premier_rdv": "2026-09-15",
         "date_entree": "2026-09-20", "date_contrat": "2026-09-30", "referent": "R01", "nb_entretiens": "2",
         "heures_activite": "12,5", "freins": "LOGEMENT|MOBILITE", "actions": "A0045|A0057"},
        {"matricule": "7654321", "organisme": "MSA", "nom": "Diallo", "prenom": "Moussa",
         "date_naissance": "1979-11-21", "sexe": "M", "commune": "93066", "date_orientation": "2026-10-01",
         "date_premier_rdv": "2026-10-06", "date_entree": "2026-10-08", "referent": "R02", "nb_entretiens": "1"},
        {"matricule": "334455", "organisme": "CAF", "nom": "Nguyen", "prenom": "Linh", "date_naissance": "1992-06-30",
         "sexe": "F", "commune": "93008", "date_orientation": "2026-03-10", "date_premier_rdv": "2026-03-24",
         "date_entree": "2026-04-01", "date_contrat": "2026-04-15", "date_sortie": "2026-10-27",
         "motif_sortie": "EMPLOI_DURABLE", "referent": "R01", "nb_entretiens": "3", "heures_activite": "20",
         "freins": "NUMERIQUE"},
    ],
    "conseillers": [
        {"referent": "R01", "fonction": "CIP", "etp": "1", "date_arrivee": "2024-01-08"},
        {"referent": "R02", "fonction": "TRAVAILLEUR_SOCIAL", "etp": "0,8", "date_arrivee": "2025-09-01"},
        {"referent": "R03", "fonction": "COORDINATION", "etp": "0,5", "date_arrivee": "2023-03-01",
         "date_depart": "2026-10-16"},
    ],
    "participations": [
        {"matricule": "0012345", "organisme": "CAF", "code_action": "A0045", "date_entree": "2026-09-21",
         "heures_realisees": "14,5"},
        {"matricule": "7654321", "organisme": "MSA", "code_action": "A0057", "date_entree": "2026-10-12",
         "date_sortie": "2026-10-30", "resultat_sortie": "EMPLOI", "heures_realisees": "20"},
        {"matricule": "0012345", "organisme": "CAF", "code_action": "A0057", "date_entree": "2026-10-05",
         "heures_realisees": "6"},
    ],
    "actions": [
        {"code_action": "A0045", "places_conventionnees": "12", "places_occupees": "9",
         "montant_consomme_eur": "3250,50"},
        {"code_action": "A0057", "places_conventionnees": "8", "places_occupees": "8"},
        {"code_action": "A0069", "places_conventionnees": "15", "places_occupees": "11",
         "montant_consomme_eur": "4100"},
    ],
}
"""Canonical rows by dataset, as ``{column: text}``; a column left out is an empty cell."""
