"""The open-data export as a Frictionless Data Package: ``datapackage.json`` beside its CSV files.

Why: a portal or a harvester reads the package for each column's type, title and definition instead
of guessing them, and anyone can check the files with frictionless or Validata. Nothing in it is
worded here: the tables' and columns' definitions are the marts' dbt YAML, read through
``figures.marts()``; the types are those of the columns as written (``open_data._text``); the keys are
``secrecy.TABLES``'. ``open_data.export`` writes it in the new version's directory before verifying and
swapping it, so the description and the files it describes are published together or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipelines.publication.figures import marts
from pipelines.publication.secrecy import TABLES

FILE = "datapackage.json"
SECRET = "s"
PUBLISHER = "Département de la Seine-Saint-Denis"
LICENSE = {"name": "etalab-2.0", "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
           "title": "Licence Ouverte / Open Licence version 2.0"}
DESCRIPTION = (
    "Indicateurs mensuels de l'accompagnement vers l'insertion en Seine-Saint-Denis, calculés par le "
    f"{PUBLISHER} à partir des livraisons des Agences Locales d'Insertion (ALI) et des structures partenaires. "
    f"« {SECRET} » signale une cellule couverte par le secret statistique : un compte de 1 à 10 personnes, ou "
    "une valeur qui permettrait de le recalculer (un taux calculé sur un compte masqué, par exemple). Une "
    "cellule vide est une valeur que les indicateurs n'ont pas (par exemple, une ALI qui n'a pas livré le "
    "mois). Fichiers CSV en UTF-8 sans BOM, séparateur « , », point décimal, dates AAAA-MM-JJ, booléens "
    "true/false ; un texte qu'un tableur prendrait pour une formule est précédé de « ' »."
)


def field_type(column: pd.Series) -> str:
    """The Table Schema type of a column as ``open_data`` writes it (``true``/``false``, ISO dates…)."""
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "date"
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    return "number" if pd.api.types.is_float_dtype(column) else "string"


def descriptor(values: dict[str, pd.DataFrame]) -> dict:
    """The package of the export whose tables (``secrecy.TABLES``' columns) are ``values``."""
    defined = marts()
    resources = []
    for table, spec in TABLES.items():
        mart = defined[spec.source]
        fields = [{"name": c, "title": mart.columns[c].libelle, "description": mart.columns[c].description,
                   "type": field_type(values[table][c])} for c in spec.columns]
        resources.append({
            "name": table, "path": f"{table}.csv", "title": mart.description.split(" — ")[0],
            "description": mart.description, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "dialect": {"delimiter": ","},
            "schema": {"fields": fields, "missingValues": ["", SECRET], "primaryKey": list(spec.key)},
        })
    return {
        "name": "ali93-insertion-indicateurs",
        "title": "Accompagnement vers l'insertion en Seine-Saint-Denis : indicateurs mensuels",
        "description": DESCRIPTION,
        "licenses": [LICENSE],
        "contributors": [{"title": PUBLISHER, "role": "publisher"}],
        "keywords": ["insertion", "accompagnement", "Seine-Saint-Denis", "secret statistique"],
        "resources": resources,
    }


def write(values: dict[str, pd.DataFrame], directory: Path) -> Path:
    """``datapackage.json`` of the tables ``values`` in the export ``directory``."""
    path = directory / FILE
    path.write_text(json.dumps(descriptor(values), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
