"""The monthly reporting contract (``shared/spec/contract.md`` §3), declared once.

Validation, pseudonymisation, the warehouse schema, the generated docs and dbt seeds
(``pipelines.contract_render``) and the tests all read these declarations: a column, type, rule or
closed list, and what the indicators read of a list's values, is changed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "date", "int", "decimal", "enum", "list"]
SourceType = Literal["ALI", "PARTENAIRE"]

MOTIFS_SORTIE = (
    "EMPLOI_DURABLE",
    "EMPLOI_TEMPORAIRE",
    "FORMATION_QUALIFIANTE",
    "CREATION_ENTREPRISE",
    "FIN_DE_DROITS",
    "DEMENAGEMENT",
    "REORIENTATION",
    "ABANDON",
    "AUTRE",
)
MOTIFS_SORTIE_POSITIFS = ("EMPLOI_DURABLE", "EMPLOI_TEMPORAIRE", "FORMATION_QUALIFIANTE", "CREATION_ENTREPRISE")
"""A positive exit (indicators.md, ``sorties_positives``)."""
FREINS = (
    "LOGEMENT",
    "SANTE",
    "GARDE_ENFANTS",
    "MOBILITE",
    "LANGUE",
    "NUMERIQUE",
    "ADMINISTRATIF",
    "FINANCES",
)
FONCTIONS = ("CIP", "TRAVAILLEUR_SOCIAL", "CHARGE_RELATIONS_ENTREPRISES", "COORDINATION")
FONCTIONS_ACCOMPAGNEMENT = ("CIP", "TRAVAILLEUR_SOCIAL")
"""The advisers whose ETP count as accompaniment (indicators.md, ``etp_accompagnement``)."""
RESULTATS_SORTIE = ("EMPLOI", "FORMATION", "CREATION_ENTREPRISE", "FIN_ACTION", "ABANDON", "AUTRE")
RESULTATS_SORTIE_POSITIFS = ("EMPLOI", "FORMATION", "CREATION_ENTREPRISE")
"""A positive end of participation (indicators.md, ``mart_actions_mensuel.sorties_positives``)."""
ORGANISMES = ("CAF", "MSA")
ECHEANCE_JOUR = 5
"""The delivery of month M is due on this day of M + 1, end of day, Europe/Paris (retours.md): read by
``pipelines.months.due_date`` and, through the generated macro ``echeance_jour()``, by dbt."""


@dataclass(frozen=True)
class Column:
    """One column of a dataset as the senders deliver it."""

    name: str
    type: ColumnType
    required: bool = False
    values: tuple[str, ...] = ()
    """Closed list of an ``enum`` column, or of the items of a ``list`` column."""
    personal: bool = False
    """A direct identifier: read, used, never stored, never quoted in a reason or a log."""
    description: str = ""
    parse: str = ""
    """DuckDB expression over ``<name>__txt`` replacing the type's parsing (NULL = invalid)."""
    default: str | None = None
    """The value of an empty cell of an ``enum`` column."""


@dataclass(frozen=True)
class Rule:
    """A rule beyond the column's type, as a DuckDB condition that is true when the row breaks it.

    The condition sees the row as ``r``: every column parsed to its type under its own name, the
    trimmed text as ``<column>__txt``, ``debut``/``fin`` (first and last day of the month),
    ``annee`` and ``source_code``. NULL counts as not broken (emptiness is the ``required`` rule).
    ``fix`` is the sentence a sender reads to correct the row (receipts, ``verifier``, docs/senders.md).
    """

    column: str
    code: str
    message: str
    broken_when: str
    fix: str


@dataclass(frozen=True)
class Explained:
    """A rule outside ``Dataset.rules``: what the sender is told (``message``) and how to fix it (``fix``)."""

    message: str
    fix: str


CHECKS: dict[str, Explained] = {
    "obligatoire": Explained(
        "valeur obligatoire manquante", "Remplir la cellule : cette colonne est obligatoire à chaque ligne."),
    "date_invalide": Explained(
        "date invalide (attendu JJ/MM/AAAA ou AAAA-MM-JJ)",
        "Écrire une date qui existe, au format JJ/MM/AAAA (05/03/2026) ou AAAA-MM-JJ (2026-03-05)."),
    "nombre_invalide": Explained(
        "nombre attendu (15 chiffres au plus avant la virgule)",
        "Écrire un nombre seul, sans unité ni texte (12 ou 3,5)."),
    "entier_attendu": Explained(
        "valeur fractionnaire dans une colonne entière", "Écrire un nombre entier, sans décimales."),
    "negatif": Explained("valeur négative", "Écrire une valeur positive ou nulle."),
    "valeur_hors_liste": Explained(
        "valeur hors liste",
        "Écrire exactement une des valeurs de la liste donnée dans le message (majuscules et accents indifférents)."),
    "element_hors_liste": Explained(
        "élément hors liste",
        "Ne mettre que des valeurs de la liste donnée dans le message, séparées par « | » ou « , »."),
    "doublon": Explained(
        "doublon de la clé",
        "Ne garder qu'une ligne par clé : fusionner les deux lignes ou corriger l'identifiant de l'une d'elles."),
    "champs_en_trop": Explained(
        "la ligne a plus de champs que l'en-tête",
        "Entourer de guillemets une cellule qui contient le séparateur, ou retirer les cellules en trop."),
}
"""The rules every column's type and presence imply, and the file's key (``pipelines.raw.validate``)."""

REJECTIONS: dict[str, str] = {
    "lien_symbolique": "Déposer le fichier lui-même, pas un lien ou un raccourci.",
    "fichier_trop_volumineux": "Vérifier que le fichier ne contient que le mois livré et les colonnes du contrat ; "
                               "si sa taille est normale, prévenir l'équipe données.",
    "dossier_invalide": "Déposer le fichier dans le dossier du mois livré, nommé AAAA-MM (par exemple 2026-10).",
    "emplacement_invalide": "Déposer le fichier directement dans le dossier de sa structure, lui-même dans le "
                            "dossier du mois (AAAA-MM), sans sous-dossier.",
    "source_inconnue": "Nommer le dossier du code de votre structure donné par le Département (par exemple ALI07).",
    "jeu_inconnu": "Nommer le fichier d'après son jeu de données : beneficiaires ou conseillers pour une ALI, "
                   "participations ou actions pour un partenaire (.csv ou .xlsx).",
    "jeu_non_autorise": "Une ALI envoie beneficiaires et conseillers, un partenaire participations et actions : "
                        "renommer le fichier ou le déposer sous le bon code source.",
    "extension": "Enregistrer le fichier en CSV (.csv) ou en classeur Excel (.xlsx).",
    "encodage": "Enregistrer le fichier en « CSV UTF-8 » (Excel : Enregistrer sous, CSV UTF-8) et le déposer tel quel.",
    "pas_du_texte": "Déposer l'export CSV lui-même ou un classeur .xlsx, pas un autre fichier renommé en .csv.",
    "fichier_vide": "Exporter à nouveau le fichier : l'en-tête puis une ligne par enregistrement du mois.",
    "separateur": "Séparer les colonnes par des points-virgules et garder en première ligne les noms de colonnes "
                  "du contrat.",
    "csv_mal_forme": "Refermer chaque guillemet ouvert et doubler un guillemet écrit dans une cellule (\"\"), "
                     "ou exporter à nouveau depuis le tableur.",
    "classeur_refuse": "Enregistrer à nouveau le classeur au format .xlsx depuis Excel ou LibreOffice, sans mot de "
                       "passe, ou l'exporter en CSV.",
    "classeur_illisible": "Ouvrir le classeur dans Excel ou LibreOffice, l'enregistrer à nouveau en .xlsx, ou "
                          "l'exporter en CSV.",
    "colonnes_absentes": "Ajouter en première ligne les colonnes obligatoires citées (noms du contrat ; majuscules, "
                         "accents et espaces indifférents).",
}
"""Why a whole file is refused (contract §4), by code, with what the sender does about it. The reason
itself, with its details, is written where the file is read (``pipelines.inbox``, ``pipelines.raw.prepare``)."""

REPORTED: dict[str, Explained] = {
    "referent_inconnu": Explained(
        "referent absent du fichier conseillers du mois",
        "Vérifier l'identifiant du référent, ou ajouter ce conseiller au fichier conseillers du mois."),
    "action_prescrite_inconnue": Explained(
        "action prescrite absente du catalogue de l'année",
        "Vérifier le code de l'action prescrite dans le catalogue de l'année (actions.csv du Département)."),
    "personne_multi_ali": Explained(
        "personne accompagnée aussi par une autre ALI ce mois",
        "Vérifier avec l'autre ALI laquelle accompagne la personne et retirer la ligne de l'autre livraison."),
    "colonnes_ignorees": Explained(
        "colonnes hors contrat ignorées",
        "Rien à corriger pour la livraison ; retirer ces colonnes de l'export évite de transmettre des données "
        "inutiles."),
}
"""Anomalies reported without blocking (contract §4): the row loads, the sender is told."""


@dataclass(frozen=True)
class Dataset:
    """One dataset of the contract: who sends it, its columns and its key within one file."""

    name: str
    source_type: SourceType
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str = ""
    key_label: str = ""
    rules: tuple[Rule, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_MATRICULE = Column(
    "matricule", "text", True, personal=True,
    description="numéro d'allocataire CAF ou MSA, chiffres seulement, 1 à 7 chiffres (complété à 7 par des zéros)",
    parse=r"CASE WHEN regexp_full_match(matricule__txt, '\d{1,7}') THEN lpad(matricule__txt, 7, '0') END",
)
_MATRICULE_RULE = Rule(
    "matricule", "matricule_invalide", "1 à 7 chiffres attendus",
    r"NOT regexp_full_match(matricule__txt, '\d{1,7}')",
    "Écrire le numéro d'allocataire CAF ou MSA seul : de 1 à 7 chiffres, sans lettre, espace ni tiret.",
)
_ENTREE_RULE = Rule(
    "date_entree", "entree_apres_le_mois", "postérieure au dernier jour du mois", "date_entree > fin",
    "Ne déclarer que les entrées survenues au plus tard le dernier jour du mois livré ; les suivantes vont dans "
    "la livraison du mois suivant.",
)
_SORTIE_RULES = (
    Rule(
        "date_sortie", "sortie_hors_du_mois", "hors du mois déclaré", "date_sortie NOT BETWEEN debut AND fin",
        "Ne remplir date_sortie que pour une sortie survenue pendant le mois livré ; une sortie d'un autre mois "
        "se déclare dans la livraison de ce mois-là.",
    ),
    Rule(
        "date_sortie", "sortie_avant_entree", "antérieure à date_entree", "date_sortie < date_entree",
        "Vérifier les deux dates : la sortie ne peut pas précéder l'entrée.",
    ),
)
_CATALOGUE_RULE = Rule(
    "code_action", "action_hors_catalogue", "action absente du catalogue de l'année pour ce partenaire",
    "code_action NOT IN (SELECT c.code_action FROM reference.actions c "
    "WHERE c.code_partenaire = r.source_code AND c.annee = r.annee)",
    "Utiliser un code d'action de votre structure inscrit au catalogue de l'année du mois ; une action nouvelle "
    "doit d'abord être inscrite au catalogue par le Département.",
)
_CODE = "upper(code_action__txt)"
_ORGANISME = Column("organisme", "enum", values=ORGANISMES, default="CAF", description="CAF ou MSA ; vide = CAF")

BENEFICIAIRES = Dataset(
    "beneficiaires",
    "ALI",
    (
        _MATRICULE,
        _ORGANISME,
        Column("nom", "text", personal=True, description="identifiant direct : lu, jamais stocké"),
        Column("prenom", "text", personal=True, description="identifiant direct : lu, jamais stocké"),
        Column(
            "date_naissance", "date", True, personal=True,
            description="jamais stockée ; seules l'année de naissance et la tranche d'âge sortent de l'ingestion",
        ),
        Column("sexe", "enum", values=("F", "M")),
        Column(
            "commune", "text", True,
            description="code INSEE ou nom d'une commune de Seine-Saint-Denis ; 93059 (Pierrefitte) = 93066",
            parse="(SELECT k.code_insee FROM reference.communes_cles k WHERE k.cle = ali_cle_commune(commune__txt))",
        ),
        Column("date_orientation", "date", True, description="décision d'orientation du Département vers l'ALI"),
        Column("date_premier_rdv", "date", description="premier rendez-vous ; ≥ date_orientation"),
        Column("date_entree", "date", True, description="début de l'accompagnement ; ≤ dernier jour du mois"),
        Column("date_contrat", "date", description="signature du contrat d'engagement (CER)"),
        Column("date_sortie", "date", description="fin de l'accompagnement ; dans le mois ; ≥ date_entree"),
        Column("motif_sortie", "enum", values=MOTIFS_SORTIE, description="obligatoire si date_sortie"),
        Column("referent", "text", True, description="identifiant du conseiller (voir conseillers)"),
        Column("nb_entretiens", "int", True, description="entretiens tenus dans le mois (0 permis)"),
        Column("heures_activite", "decimal", description="heures d'activité dans le mois"),
        Column("freins", "list", values=FREINS, description="freins périphériques à l'emploi"),
        Column("actions", "list", description="codes d'actions (actions.csv) prescrites dans le mois"),
    ),
    key=("organisme", "matricule"),
    key_label="matricule+organisme",
    rules=(
        _MATRICULE_RULE,
        Rule(
            "commune", "commune_inconnue", "commune inconnue ou hors Seine-Saint-Denis",
            "commune__txt IS NOT NULL AND commune IS NULL",
            "Écrire le code INSEE (ex. 93066) ou le nom d'une commune de Seine-Saint-Denis (ex. Saint-Denis).",
        ),
        Rule(
            "date_premier_rdv", "rdv_avant_orientation", "antérieure à date_orientation",
            "date_premier_rdv < date_orientation",
            "Vérifier les deux dates : le premier rendez-vous ne peut pas précéder la décision d'orientation.",
        ),
        _ENTREE_RULE,
        *_SORTIE_RULES,
        Rule(
            "motif_sortie", "motif_manquant", "obligatoire quand date_sortie est renseignée",
            "date_sortie__txt IS NOT NULL AND motif_sortie__txt IS NULL",
            "Indiquer le motif de sortie (une valeur de la liste du contrat) de chaque personne sortie dans le mois.",
        ),
    ),
    description="une ligne par personne accompagnée à un moment du mois",
)

CONSEILLERS = Dataset(
    "conseillers",
    "ALI",
    (
        Column("referent", "text", True, description="identifiant du conseiller, unique dans le fichier"),
        Column("fonction", "enum", True, values=FONCTIONS),
        Column("etp", "decimal", True, description="équivalent temps plein, 0 < etp ≤ 1"),
        Column("date_arrivee", "date", True),
        Column("date_depart", "date", description="≥ date_arrivee"),
    ),
    key=("referent",),
    key_label="referent",
    rules=(
        Rule(
            "etp", "etp_hors_bornes", "doit être > 0 et ≤ 1", "etp <= 0 OR etp > 1",
            "Écrire l'équivalent temps plein entre 0 (exclu) et 1, par exemple 0,5 pour un mi-temps.",
        ),
        Rule(
            "date_depart", "depart_avant_arrivee", "antérieure à date_arrivee", "date_depart < date_arrivee",
            "Vérifier les deux dates : le départ ne peut pas précéder l'arrivée.",
        ),
    ),
    description="une ligne par membre de l'équipe présent à un moment du mois",
)

PARTICIPATIONS = Dataset(
    "participations",
    "PARTENAIRE",
    (
        _MATRICULE,
        _ORGANISME,
        Column("code_action", "text", True, description="une action de ce partenaire au catalogue de l'année",
               parse=_CODE),
        Column("date_entree", "date", True, description="≤ dernier jour du mois"),
        Column("date_sortie", "date", description="dans le mois ; ≥ date_entree"),
        Column("resultat_sortie", "enum", values=RESULTATS_SORTIE, description="obligatoire si date_sortie"),
        Column("heures_realisees", "decimal", description="heures suivies dans le mois"),
    ),
    key=("code_action", "organisme", "matricule"),
    key_label="matricule+organisme+code_action",
    rules=(
        _MATRICULE_RULE,
        _CATALOGUE_RULE,
        _ENTREE_RULE,
        *_SORTIE_RULES,
        Rule(
            "resultat_sortie", "resultat_manquant", "obligatoire quand date_sortie est renseignée",
            "date_sortie__txt IS NOT NULL AND resultat_sortie__txt IS NULL",
            "Indiquer le résultat de sortie (une valeur de la liste du contrat) de chaque participation terminée "
            "dans le mois.",
        ),
    ),
    description="une ligne par personne et par action, à un moment du mois",
)

ACTIONS = Dataset(
    "actions",
    "PARTENAIRE",
    (
        Column("code_action", "text", True, description="une action de ce partenaire ; unique dans le fichier",
               parse=_CODE),
        Column("places_conventionnees", "int", True, description="places financées"),
        Column("places_occupees", "int", True, description="places occupées le dernier jour du mois"),
        Column("montant_consomme_eur", "decimal", description="dépensé dans le mois"),
    ),
    key=("code_action",),
    key_label="code_action",
    rules=(_CATALOGUE_RULE,),
    description="une ligne par action du partenaire, état en fin de mois",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (BENEFICIAIRES, CONSEILLERS, PARTICIPATIONS, ACTIONS)}
DATASETS_BY_SOURCE_TYPE: dict[SourceType, tuple[str, ...]] = {
    t: tuple(d.name for d in DATASETS.values() if d.source_type == t) for t in ("ALI", "PARTENAIRE")
}
"""What each type of source sends (and is expected to send each month)."""

SEEDS: dict[str, tuple[tuple[str, ...], list[tuple]]] = {
    "contrat_motifs_sortie": (("motif_sortie", "est_positif"),
                              [(m, m in MOTIFS_SORTIE_POSITIFS) for m in MOTIFS_SORTIE]),
    "contrat_resultats_sortie": (("resultat_sortie", "est_positif"),
                                 [(r, r in RESULTATS_SORTIE_POSITIFS) for r in RESULTATS_SORTIE]),
    "contrat_fonctions": (("fonction", "est_accompagnement"), [(f, f in FONCTIONS_ACCOMPAGNEMENT) for f in FONCTIONS]),
    "contrat_freins": (("frein",), [(f,) for f in FREINS]),
    "contrat_jeux_par_source": (("source_type", "dataset"),
                                [(t, d) for t, names in DATASETS_BY_SOURCE_TYPE.items() for d in names]),
}
"""The closed lists the marts read, as dbt seeds (``dbt_project/seeds/``): name → (header, rows)."""


FIXES: dict[str, str] = {
    **{r.code: r.fix for d in DATASETS.values() for r in d.rules},
    **{code: c.fix for code, c in CHECKS.items()},
    **REJECTIONS,
    **{code: r.fix for code, r in REPORTED.items()},
}
"""Every code a sender may read in a receipt or from ``verifier``, and the sentence telling how to fix it."""
