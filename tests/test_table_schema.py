"""The contract as Table Schema: valid for frictionless, and telling the same faults as the platform.

Each ``docs/schemas/<jeu>/`` file is generated (``pipelines.senders.table_schema``; the staleness test
of ``tests/test_reference.py`` covers them). Here: the schemas are valid Table Schemas, the valid
examples pass both frictionless and the platform's verifier, and on planted faults frictionless and
the verifier name the same rows and columns. What the platform accepts beyond the canonical form is
pinned too, so the difference stays the documented one.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import frictionless
import pytest
from conftest import REFERENCE_DIR
from frictionless import Dialect, Resource, Schema, formats
from python_calamine import CalamineWorkbook

from pipelines.contract import DATASETS
from pipelines.senders import table_schema
from pipelines.senders.schema_examples import EXAMPLES, SOURCES
from pipelines.senders.verify import Verifier

FAULTS = {  # (column, text) planted one per row; the platform's rule and frictionless' error in comments
    "beneficiaires": [
        ("date_naissance", "1980-02-30"),  # date_invalide / type-error
        ("sexe", "X"),  # valeur_hors_liste / enum
        ("date_entree", ""),  # obligatoire / required
        ("matricule", "12A4567"),  # matricule_invalide / pattern
        ("freins", "LOGEMENT|VOITURE"),  # element_hors_liste / pattern
        ("nb_entretiens", "-1"),  # negatif / minimum
    ],
    "conseillers": [("fonction", "STAGIAIRE"), ("etp", "1,5"), ("date_arrivee", "2026-13-01")],
    "participations": [("matricule", "1234-56"), ("organisme", "CNAF"), ("code_action", ""),
                       ("date_entree", "31/02/2026")],
    "actions": [("places_conventionnees", "douze"), ("places_occupees", "-3"), ("places_occupees", "2,5")],
}
ACCEPTED = {  # beyond the canonical form: the platform loads these rows, frictionless reports the cell
    "conseillers": [("date_arrivee", "08/01/2024"), ("etp", "0.8"), ("fonction", "cip")],
}


@pytest.fixture(scope="module")
def verifier():
    verifier = Verifier(REFERENCE_DIR)
    yield verifier
    verifier.close()


def catalogue(partner: str, year: str) -> list[str]:
    with (REFERENCE_DIR / "actions.csv").open(encoding="utf-8") as f:
        return [r["code_action"] for r in csv.DictReader(f) if r["code_partenaire"] == partner and r["annee"] == year]


def variant(name: str, i: int) -> dict[str, str]:
    """The first valid example row under a key of its own (``i``)."""
    row = dict(EXAMPLES[name][0])
    source, month = SOURCES[DATASETS[name].source_type]
    if "matricule" in row:
        row["matricule"] = str(1000000 + i)
    elif name == "conseillers":
        row["referent"] = f"R{10 + i}"
    else:  # a code of the partner's catalogue, or the platform would add action_hors_catalogue
        row["code_action"] = catalogue(source, month[:4])[i]
    return row


def both(name: str, text: str, folder: Path, verifier: Verifier):
    """frictionless' errors [(row, field, type)] and the verifier's verdict on ``text`` as ``<name>.csv``."""
    folder.mkdir()
    (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    schema = json.loads(table_schema.path(name, "schema.json").read_text(encoding="utf-8"))  # a path would be
    # kept by the schema and refused by the resource as "not safe" (absolute)
    resource = Resource(f"{name}.csv", basepath=str(folder), schema=Schema.from_descriptor(schema),
                        dialect=Dialect(controls=[formats.CsvControl(delimiter=";")]))
    report = frictionless.validate(resource)
    errors = [tuple(e) for e in report.flatten(["rowNumber", "fieldName", "type"])]
    return errors, verifier.check(folder / f"{name}.csv", *SOURCES[DATASETS[name].source_type])


@pytest.mark.parametrize("name", DATASETS)
def test_each_schema_is_a_valid_table_schema_of_the_contract(name):
    path = table_schema.path(name, "schema.json")
    schema = Schema.from_descriptor(str(path))
    report = frictionless.validate(str(path))
    assert report.valid, report.flatten(["type", "note"])
    dataset = DATASETS[name]
    assert schema.field_names == list(dataset.column_names) and schema.primary_key == list(dataset.key)
    assert [f.constraints.get("required", False) for f in schema.fields] == [c.required for c in dataset.columns]
    if "matricule" in schema.field_names:
        assert schema.get_field("matricule").constraints["pattern"] == r"^\d{1,7}$"


@pytest.mark.parametrize("name", DATASETS)
def test_the_valid_example_passes_frictionless_and_the_platform(name, verifier, tmp_path):
    shutil.copy(table_schema.path(name, "exemple-valide.csv"), tmp_path / "exemple.csv")
    errors, verdict = both(name, (tmp_path / "exemple.csv").read_text(encoding="utf-8"), tmp_path / name, verifier)
    assert errors == []
    assert verdict.statut == "VALIDE" and verdict.lignes_quarantaine == 0
    assert verdict.lignes_chargees == len(EXAMPLES[name]) > 0


@pytest.mark.parametrize("name", DATASETS)
def test_planted_faults_are_the_same_rows_and_columns_for_frictionless_and_the_platform(name, verifier, tmp_path):
    rows = [variant(name, 0)]
    for i, (column, text) in enumerate(FAULTS[name], start=1):
        rows.append({**variant(name, i), column: text})
    rows.append(variant(name, 0))  # the first row's key again
    text = table_schema.csv_text(DATASETS[name], rows)
    errors, verdict = both(name, text, tmp_path / name, verifier)
    planted = {(i + 2, column) for i, (column, _) in enumerate(FAULTS[name], start=1)}  # header = row 1
    assert {(row, field) for row, field, kind in errors if kind != "primary-key"} == planted
    assert {(q["ligne"], q["colonne"]) for q in verdict.quarantaine if q["regle"] != "doublon"} == planted
    # A duplicate key is a row error for frictionless (no field) and the key's last column for the
    # platform (``doublon`` on ``dataset.key[-1]``): the row is what both say.
    duplicate = len(rows) + 1
    assert [row for row, _, kind in errors if kind == "primary-key"] == [duplicate]
    assert [(q["ligne"], q["colonne"]) for q in verdict.quarantaine if q["regle"] == "doublon"] == [
        (duplicate, DATASETS[name].key[-1])]


def test_the_platform_accepts_more_than_the_canonical_form(verifier, tmp_path):
    name = "conseillers"
    rows = [{**variant(name, i), column: text} for i, (column, text) in enumerate(ACCEPTED[name])]
    errors, verdict = both(name, table_schema.csv_text(DATASETS[name], rows), tmp_path / name, verifier)
    assert {(row, field) for row, field, _ in errors} == {(i + 2, c) for i, (c, _) in enumerate(ACCEPTED[name])}
    assert verdict.clean and verdict.lignes_chargees == len(rows)


@pytest.mark.parametrize("name", DATASETS)
def test_templates_hold_exactly_the_contract_header(name):
    columns = list(DATASETS[name].column_names)
    assert table_schema.path(name, "modele.csv").read_text(encoding="utf-8") == ";".join(columns) + "\n"
    workbook = CalamineWorkbook.from_path(str(table_schema.path(name, "modele.xlsx")))
    assert workbook.get_sheet_by_index(0).to_python() == [columns]
    assert table_schema.xlsx_bytes(DATASETS[name]) == table_schema.xlsx_bytes(DATASETS[name])  # byte-stable
