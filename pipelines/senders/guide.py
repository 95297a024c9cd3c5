"""``docs/senders.md``: the guide for an ALI's or a partner's coordinator, in French.

Its lists of datasets, columns, accepted values, rules and fixes are generated from the contract
declaration (``pipelines.contract``), like ``docs/contract.md``, by ``python -m pipelines.contract_render``;
a test fails when the file is stale. The prose around them is here.
"""

from __future__ import annotations

from pipelines.contract import (
    CHECKS,
    DATASETS,
    DATASETS_BY_SOURCE_TYPE,
    ECHEANCE_JOUR,
    REJECTIONS,
    REPORTED,
    Column,
)
from pipelines.inbox.limits import DEFAULTS, octets
from pipelines.senders.guide_portal import PORTAL
from pipelines.senders.schema_examples import SOURCES
from pipelines.senders.table_schema import SCHEMA_DIR

TYPES = {
    "text": "texte",
    "date": "date JJ/MM/AAAA ou AAAA-MM-JJ",
    "int": "nombre entier",
    "decimal": "nombre (virgule ou point)",
    "enum": "une valeur de la liste",
    "list": "liste, éléments séparés par « | » ou « , »",
}

INTRO = f"""# Guide des structures : livrer les fichiers mensuels

*Généré depuis la déclaration du contrat (`pipelines/contract.py`) par `python -m pipelines.contract_render` :
ne pas modifier à la main.*

Chaque mois, chaque Agence Locale d'Insertion (ALI) et chaque structure partenaire envoie au Département un
export de son activité du mois. Ce guide dit où déposer les fichiers, ce qu'ils contiennent, comment les
vérifier avant l'envoi et comment lire l'accusé de réception.

## Quand et où déposer

- Les fichiers du mois M sont attendus **au plus tard le {ECHEANCE_JOUR} du mois M + 1, à minuit (heure de Paris)**.
  Un fichier reçu après est en retard ; il est tout de même traité et compté.
- Chaque fichier se dépose sur le **portail de dépôt** (page ou API, ci-dessous), qui donne aussitôt le
  verdict et range le fichier sous `<AAAA-MM>/<code de la structure>/<jeu>.csv` (ou `.xlsx`), par exemple
  `2026-10/ALI07/beneficiaires.csv`. Le code est celui que le Département vous a donné.
- Une ALI envoie **{" et ".join(DATASETS_BY_SOURCE_TYPE["ALI"])}** ; un partenaire envoie
  **{" et ".join(DATASETS_BY_SOURCE_TYPE["PARTENAIRE"])}**.

## Formes acceptées

- **CSV** : colonnes séparées par point-virgule (conseillé), virgule ou tabulation ; encodage UTF-8 (avec ou
  sans BOM) ou Windows-1252 (« CSV » d'Excel) ; une cellule qui contient le séparateur est entre guillemets.
- **Excel** (`.xlsx`) : la première feuille est lue ; pas de mot de passe.
- La première ligne non vide est l'en-tête : les noms des colonnes ci-dessous, dans n'importe quel ordre
  (majuscules, accents et espaces indifférents). Une colonne en plus est ignorée et signalée.
- Les lignes vides et une dernière ligne « Total » sont ignorées.
- Dates : `JJ/MM/AAAA` (05/03/2026) ou `AAAA-MM-JJ` (2026-03-05) ; nombres avec virgule ou point décimal,
  espaces de milliers permis.
- Taille maximale d'un fichier : {octets(DEFAULTS["ALI_MAX_FILE_BYTES"])}.
- Les colonnes d'identification (matricule, nom, prénom, date de naissance) sont lues pour être remplacées
  par un pseudonyme : elles ne sont jamais conservées, ni citées dans un accusé de réception.
"""

SCHEMA_CHECK = """Le schéma décrit la forme canonique : CSV séparé par « ; », encodé en UTF-8, dates AAAA-MM-JJ,
virgule décimale, valeurs des listes écrites comme dans le contrat. Un fichier peut être contrôlé avec
Validata (https://validata.fr) ou avec frictionless, lancé dans le dossier qui contient le fichier et le
schéma (frictionless refuse les chemins absolus) :

```
frictionless validate --schema schema.json --dialect '{"delimiter": ";"}' beneficiaires.csv
```

Le verdict de la plateforme (`verifier`, ci-dessous) fait foi : elle accepte plus de formes que le schéma
(autres séparateurs, dates JJ/MM/AAAA, point décimal, majuscules et accents indifférents) et vérifie des
règles qu'un schéma ne sait pas dire (catalogue des actions de l'année, dates au regard du mois livré,
commune de Seine-Saint-Denis, motif obligatoire quand il y a une sortie).
"""

VERIFY = """## Vérifier un fichier avant de l'envoyer

```
python -m pipelines verifier beneficiaires.csv --source ALI07 --periode 2026-10
```

La commande lit et valide le fichier avec le même code et les mêmes règles que la plateforme, et donne
le verdict que donnera le traitement : fichier rejeté (avec le motif et quoi faire) ou lignes en
quarantaine (numéro de ligne de votre fichier, colonne, règle, message), puis comment corriger chaque
règle. Elle n'a besoin d'aucune clé, ne dépose rien et n'écrit rien ; elle ne recopie aucune valeur du
fichier. Le nom du fichier doit être celui du dépôt (`beneficiaires.csv`…).

- Code de sortie : **0** rien ne serait rejeté ni mis en quarantaine, **1** sinon, **2** erreur
  d'utilisation (fichier introuvable, mois mal écrit).
- `--json` donne le même verdict en un document JSON : `statut` (`VALIDE` ou `REJETE`), `motif_rejet`,
  `regle_rejet`, `lignes_lues`, `lignes_chargees`, `lignes_quarantaine`, `lignes_ignorees` (vides pour un
  fichier rejeté, comme dans le suivi des livraisons), `quarantaine` (une entrée `ligne`, `colonne`,
  `regle`, `message` par motif de chaque ligne écartée), `colonnes_ignorees` (positions dans l'en-tête).
- Le référent inconnu se voit seulement avec le fichier conseillers du mois : il figure dans l'accusé de
  réception, pas dans ce verdict.

## Lire l'accusé de réception

Après chaque traitement, chaque structure qui a déposé un fichier pour le mois reçoit un accusé de
réception (page HTML et CSV pour Excel, `accuses/<AAAA-MM>/<code>.html` et `.csv`). Il contient :

1. **le bilan** : livraison complète et à l'heure, en retard de N jours, ou incomplète ;
2. **les fichiers reçus** : nom, heure de réception (Paris), début de l'empreinte SHA-256, version
   (« en vigueur », « remplacé par une version plus récente », « rejeté ») et nombres de lignes ; pour un
   fichier rejeté, le motif et quoi faire ;
3. **les lignes en quarantaine** des versions en vigueur : ligne de votre fichier, colonne, règle, message
   et valeur lue (jamais pour une colonne d'identification), puis comment corriger chaque règle ;
4. **ce qui est signalé sans blocage** (référent inconnu, action prescrite inconnue, colonnes ignorées) ;
5. **les jeux encore attendus** pour le mois.

L'accusé n'est réécrit que s'il change ; il ne montre que les fichiers de votre structure.

## Renvoyer un fichier

- Déposer le fichier corrigé au même endroit, sous le même nom : la dernière version **valide** reçue
  remplace la précédente ; ses lignes remplacent toutes celles de la version précédente (rien ne compte
  deux fois).
- Un renvoi **rejeté** laisse en vigueur la version valide précédente.
- Le même fichier déposé deux fois n'est traité qu'une fois.
- La ponctualité se juge sur la première version valide de chaque jeu : corriger après l'échéance une
  livraison arrivée à l'heure ne la met pas en retard.
"""


def row(*cells: str) -> str:
    """A Markdown table row; a ``|`` inside a cell is escaped."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _values(column: Column) -> str:
    if column.values:
        text = ", ".join(column.values)
        return text + (f" ; vide = {column.default}" if column.default else "")
    return ""


def _columns() -> list[str]:
    lines = ["## Les colonnes", ""]
    for dataset in DATASETS.values():
        sender = "ALI" if dataset.source_type == "ALI" else "partenaire"
        lines += [f"### `{dataset.name}` ({sender}) — {dataset.description}", "",
                  f"Une ligne par clé **{dataset.key_label}** dans le fichier.", "",
                  "| colonne | obligatoire | forme | valeurs | description |", "|---|---|---|---|---|"]
        lines += [row(f"`{c.name}`", "oui" if c.required else "", TYPES[c.type], _values(c), c.description)
                  for c in dataset.columns]
        lines.append("")
    return lines


def _rules() -> list[str]:
    lines = ["## Les règles et comment corriger", "",
             "### Une ligne est mise en quarantaine (le reste du fichier est chargé)", "",
             "| règle | colonne | ce qui est vérifié | quoi faire |", "|---|---|---|---|"]
    lines += [row(f"`{code}`", "toute colonne concernée", c.message, c.fix) for code, c in CHECKS.items()]
    seen = set()
    for dataset in DATASETS.values():
        for rule in dataset.rules:
            if rule.code not in seen:
                seen.add(rule.code)
                lines.append(row(f"`{rule.code}`", rule.column, rule.message, rule.fix))
    lines += ["", "### Le fichier entier est rejeté (la version précédente reste en vigueur)", "",
              "| motif | quoi faire |", "|---|---|"]
    lines += [row(f"`{code}`", fix) for code, fix in REJECTIONS.items()]
    lines += ["", "### Signalé sans blocage (les lignes sont chargées)", "",
              "| signalement | ce qui est vu | quoi faire |", "|---|---|---|"]
    lines += [row(f"`{code}`", r.message, r.fix) for code, r in REPORTED.items()]
    return [*lines, ""]


def _schemas() -> list[str]:
    """Where each dataset's Table Schema, templates and valid example are (``pipelines.senders.table_schema``)."""
    folder = SCHEMA_DIR.relative_to(SCHEMA_DIR.parents[1]).as_posix()
    lines = ["## Schémas et modèles", "",
             f"Pour chaque jeu, le dossier `{folder}/<jeu>/` contient, générés depuis le contrat :", "",
             "- `schema.json` : le jeu au format Table Schema (conventions de schema.data.gouv.fr) : colonnes, "
             "types, listes de valeurs, colonnes obligatoires, clé ;",
             "- `modele.csv` et `modele.xlsx` : l'en-tête seul, à remplir ;",
             "- `exemple-valide.csv` : quelques lignes fictives, acceptées par la plateforme pour la source et le mois "
             "indiqués ci-dessous.", "", "| jeu | dossier | exemple valide pour |", "|---|---|---|"]
    lines += [row(f"`{name}`", f"`{folder}/{name}/`", " ".join(SOURCES[d.source_type]))
              for name, d in DATASETS.items()]
    return [*lines, "", SCHEMA_CHECK]


def render() -> str:
    return "\n".join([INTRO, PORTAL, *_columns(), *_rules(), *_schemas(), VERIFY])
