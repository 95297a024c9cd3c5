"""Receipts for the senders (``retours.md`` §1): after ingestion and the marts, one per (month, source).

``<ALI_PUBLISH_DIR>/accuses/<YYYY-MM>/<source>.html``, ``.csv`` and ``.json`` for every source of the reference
with files in the month (``pipelines.senders.receipts``). A receipt is rewritten only when its bytes
change, each file aside then renamed; the privacy check ``aucun_identifiant_diffuse`` scans them.
"""

from pathlib import Path

import dagster as dg

from pipelines import warehouse as wh
from pipelines.months import monthly_partitions
from pipelines.publication.files import write_if_changed
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.senders.receipt_page import page
from pipelines.senders.receipts import as_csv, as_json, receipts

RECEIPTS_KEY = dg.AssetKey(["publication", "accuses"])


@dg.asset(
    key=RECEIPTS_KEY,
    group_name="publication",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["raw", t]) for t in ("livraisons", "quarantaine", "signalements")]
    + [dg.AssetKey(["marts", m]) for m in ("mart_livraisons", "mart_qualite_sources")],
    kinds={"html", "csv", "json"},
    pool="warehouse",  # reads the warehouse: a read-only DuckDB connection conflicts with a writer
    description="Accusés de réception des structures (HTML autonome, CSV et JSON), un par mois et par source ayant "
                "déposé : fichiers reçus, rejets et quoi faire, lignes en quarantaine, signalements, délai, jeux "
                "encore attendus. Réécrits seulement s'ils changent.",
)
def accuses_de_reception(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource
) -> dg.MaterializeResult:
    directory = Path(publish.directory) / "accuses"
    rewritten = []
    with warehouse.lock(context):  # until written: the receipts of the last run to read are the last written
        with wh.connect(warehouse.path, read_only=True) as con:
            found = {month: receipts(con, month) for month in context.partition_keys}
        for month, items in found.items():
            for receipt in items:
                base = directory / month / receipt.source_code
                changed = [write_if_changed(base.with_suffix(".html"), page(receipt).encode("utf-8")),
                           write_if_changed(base.with_suffix(".csv"), as_csv(receipt)),
                           write_if_changed(base.with_suffix(".json"), as_json(receipt))]
                if any(changed):
                    rewritten.append(f"{month}/{receipt.source_code}")
    total = sum(len(items) for items in found.values())
    context.log.info(f"accusés de réception : {total}, dont {len(rewritten)} réécrit(s)")
    return dg.MaterializeResult(metadata={
        "dossier": dg.MetadataValue.path(str(directory)),
        "accuses": dg.MetadataValue.int(total),
        "reecrits": dg.MetadataValue.int(len(rewritten)),
        "reecrits_liste": dg.MetadataValue.json(rewritten[:200]),
    })
