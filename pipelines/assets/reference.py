"""Reference data assets: the CSV files of ``ALI_REFERENCE_DIR`` as ``reference.*`` tables."""

from pathlib import Path

import dagster as dg

from pipelines.reference.load import TABLES, load_reference
from pipelines.resources import ReferenceResource, WarehouseResource

DESCRIPTIONS = {
    "communes": "Les 39 communes de Seine-Saint-Denis (code INSEE, nom, population municipale, EPT).",
    "communes_anciennes": "Communes fusionnées et leur commune d'accueil (93059 Pierrefitte → 93066 Saint-Denis).",
    "ali": "Les 22 Agences Locales d'Insertion : code, nom, porteur, communes desservies, date d'ouverture.",
    "partenaires": "Les structures partenaires : code, nom, thématique, territoire.",
    "actions": "Catalogue des actions par année : partenaire, thématique, places conventionnées, budget.",
    "objectifs": "Objectifs du Département (conseillers, places, budget, ALI ouvertes).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["reference", t.name], description=DESCRIPTIONS[t.name], group_name="reference",
                     kinds={"duckdb", "csv"})
        for t in TABLES
    ],
    pool="warehouse",
)
def reference_data(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, reference_files: ReferenceResource
):
    """Validate every reference file, then replace the ``reference`` schema in one transaction.

    An invalid file fails the run with every problem listed; the tables in force stay unchanged.
    """
    with warehouse.lock(context), warehouse.connect() as con:
        counts = load_reference(con, Path(reference_files.directory))
    for table in TABLES:
        yield dg.MaterializeResult(
            asset_key=["reference", table.name],
            metadata={"lignes": dg.MetadataValue.int(counts[table.name]), "fichier": table.file},
        )
