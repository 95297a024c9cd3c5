"""The contract as Table Schema (schema.data.gouv.fr's conventions), with templates and a valid example.

Why: a sender's own tools (Validata, ``frictionless``, a spreadsheet started from the template) should
check a file against the same declaration the platform validates with, so every file here is generated
from ``pipelines.contract`` by ``python -m pipelines.contract_render`` (a test fails when one is stale):

    docs/schemas/<jeu>/schema.json          the Table Schema
    docs/schemas/<jeu>/modele.csv           the header, ``;``-separated, UTF-8
    docs/schemas/<jeu>/modele.xlsx          the header in the first sheet (the same bytes at every render)
    docs/schemas/<jeu>/exemple-valide.csv   canonical rows valid for frictionless and for ``verifier``

A Table Schema describes one canonical form: ``;``, UTF-8, ISO dates, decimal comma, closed-list values
as written in the contract. The platform accepts more (``pipelines.senders.guide``) and checks rules
across files and months (the catalogue, the month delivered) that a schema cannot say: each field's
description names them, and the platform's verdict (``verifier``) is the reference.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from pipelines.contract import DATASETS, Column, Dataset, Rule
from pipelines.publication.datapackage import PUBLISHER
from pipelines.senders.schema_examples import DATASET_TITLES, EXAMPLES, SOURCES, TITLES

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
FILES = ("schema.json", "modele.csv", "modele.xlsx", "exemple-valide.csv")
VERSION = "1.0.0"
"""The schemas' version (semantic versioning): raise it with any change of the contract's columns."""
DIALECT = {"delimiter": ";", "encoding": "utf-8", "header": True}
"""The canonical CSV form, which a Table Schema cannot carry: stated in ``csvDialect`` and the description."""
DECIMAL = ","
ITEMS = "|"
TYPES = {"text": "string", "date": "date", "int": "integer", "decimal": "number", "enum": "string", "list": "string"}
FORMS = {
    "text": "",
    "date": "Date au format AAAA-MM-JJ (2026-10-05) ; la plateforme accepte aussi JJ/MM/AAAA (05/10/2026).",
    "int": "Nombre entier positif ou nul, sans espace ni unité ; la plateforme accepte aussi les espaces de "
           "milliers.",
    "decimal": "Nombre positif ou nul avec la virgule décimale (3,5), sans espace ni unité ; la plateforme "
               "accepte aussi le point décimal et les espaces de milliers.",
    "enum": "Une valeur de la liste, écrite comme dans le contrat ; la plateforme ignore majuscules et accents.",
    "list": f"Éléments séparés par « {ITEMS} » ; la plateforme accepte aussi « , » et ignore majuscules et "
            "accents.",
}
_PATTERN = re.compile(r"NOT regexp_full_match\((\w+)__txt, '([^']+)'\)")
"""A rule that is a regular expression on the cell's text: the field's ``pattern``."""
_BOUNDS = re.compile(r"(\w+) <= (\d+) OR \1 > (\d+)")
"""A rule ``x <= low OR x > high``: ``maximum`` high; the exclusive ``> low`` only in the description
(frictionless 5 refuses ``exclusiveMinimum``, a Data Package v2 constraint)."""
_WORKBOOK_DATE = datetime(2026, 1, 1)
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def path(dataset: str, name: str) -> Path:
    """Where the generated file ``name`` (one of ``FILES``) of ``dataset`` is, for the deposit portal."""
    if dataset not in DATASETS or name not in FILES:
        raise KeyError(f"{dataset}/{name}")
    return SCHEMA_DIR / dataset / name


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _constraints(column: Column, rules: list[Rule]) -> tuple[dict, list[str]]:
    """The field's constraints, and what they leave to the platform (sentences for the description)."""
    constraints: dict = {"required": True} if column.required else {}
    if column.type == "enum":
        constraints["enum"] = list(column.values)
    if column.type == "list" and column.values:
        item = "(" + "|".join(map(re.escape, column.values)) + ")"
        constraints["pattern"] = f"^{item}(\\{ITEMS}{item})*$"
    if column.type in ("int", "decimal"):
        constraints["minimum"] = 0  # the ``negatif`` check of every number (pipelines.raw.validate)
    left = []
    for rule in rules:
        pattern, bounds = _PATTERN.fullmatch(rule.broken_when), _BOUNDS.fullmatch(rule.broken_when)
        if pattern and pattern[1] == column.name:
            constraints["pattern"] = f"^{pattern[2]}$"
        elif bounds and bounds[1] == column.name:
            constraints["maximum"] = int(bounds[3])
            left.append(f"Strictement supérieur à {bounds[2]} : la plateforme refuse {bounds[2]}, que ce schéma "
                        "laisse passer.")
        else:
            left.append(rule.fix)
    return constraints, left


def field(dataset: Dataset, column: Column) -> dict:
    """One column as a Table Schema field."""
    rules = [r for r in dataset.rules if r.column == column.name]
    constraints, left = _constraints(column, rules)
    parts = [_sentence(column.description)] if column.description else []
    parts.append(FORMS[column.type])
    if column.default and f"vide = {column.default}" not in column.description:
        parts.append(f"Vide = {column.default}.")
    if left:
        parts.append("Vérifié par la plateforme seulement : " + " ".join(left))
    out = {"name": column.name, "title": TITLES[column.name], "description": " ".join(p for p in parts if p),
           "type": TYPES[column.type], "format": "default"}
    # frictionless 5.21 reads ``example`` without the field's ``decimalChar``: a decimal's example has no comma
    example = next((row[column.name] for row in EXAMPLES[dataset.name]
                    if row.get(column.name) and DECIMAL not in row[column.name]), None)
    if example is not None:
        out["example"] = example
    if column.type == "decimal":
        out["decimalChar"] = DECIMAL
    if constraints:
        out["constraints"] = constraints
    return out


def schema(dataset: Dataset) -> dict:
    """The Table Schema of ``dataset``, with schema.data.gouv.fr's metadata."""
    source, month = SOURCES[dataset.source_type]
    sender = "d'une Agence Locale d'Insertion (ALI)" if dataset.source_type == "ALI" else "d'une structure partenaire"
    description = (
        f"Livraison mensuelle « {dataset.name} » {sender} au {PUBLISHER} : {dataset.description}. "
        f"Une ligne par clé {dataset.key_label}. Fichier déposé sous <AAAA-MM>/<code de la structure>/"
        f"{dataset.name}.csv (ou .xlsx). Forme canonique (csvDialect) : CSV séparé par « ; », encodé en UTF-8, "
        "en-tête en première ligne, dates AAAA-MM-JJ, virgule décimale. La plateforme accepte d'autres formes "
        "et vérifie aussi des règles entre fichiers et avec le mois livré (catalogue des actions, dates du "
        "mois) : son verdict (python -m pipelines verifier) fait foi. L'exemple valide l'est pour la source "
        f"{source} et le mois {month}."
    )
    return {
        "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
        "name": f"ali93-{dataset.name}",
        "title": DATASET_TITLES[dataset.name],
        "description": description,
        "countryCode": "FR",
        "keywords": ["insertion", "accompagnement", "Seine-Saint-Denis", dataset.source_type.lower(), dataset.name],
        "version": VERSION,
        "contributors": [{"title": PUBLISHER, "role": "author"}],
        "csvDialect": DIALECT,
        "resources": [{"title": "Fichier valide (CSV)", "path": "exemple-valide.csv"},
                      {"title": "Modèle (CSV)", "path": "modele.csv"},
                      {"title": "Modèle (Excel)", "path": "modele.xlsx"}],
        "missingValues": [""],
        "primaryKey": list(dataset.key),
        "fields": [field(dataset, c) for c in dataset.columns],
    }


def csv_text(dataset: Dataset, rows: list[dict[str, str]]) -> str:
    """The header and ``rows`` in the canonical form (a column missing from a row is an empty cell)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=DIALECT["delimiter"], lineterminator="\n")
    writer.writerow(dataset.column_names)
    writer.writerows([row.get(c, "") for c in dataset.column_names] for row in rows)
    return out.getvalue()


def xlsx_bytes(dataset: Dataset) -> bytes:
    """The header in the first sheet, the same bytes at every render: openpyxl stamps the save time in
    ``docProps/core.xml`` (unless ``ExcelWriter`` is used directly) and in every zip entry."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = dataset.name
    sheet.append(list(dataset.column_names))
    workbook.properties.created = workbook.properties.modified = _WORKBOOK_DATE
    workbook.properties.creator = PUBLISHER
    raw, out = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def outputs() -> dict[Path, str | bytes]:
    """Every generated file of every dataset and its expected content (``pipelines.contract_render``)."""
    files: dict[Path, str | bytes] = {}
    for name, dataset in DATASETS.items():
        files[path(name, "schema.json")] = json.dumps(schema(dataset), ensure_ascii=False, indent=2) + "\n"
        files[path(name, "modele.csv")] = csv_text(dataset, [])
        files[path(name, "modele.xlsx")] = xlsx_bytes(dataset)
        files[path(name, "exemple-valide.csv")] = csv_text(dataset, EXAMPLES[name])
    return files
