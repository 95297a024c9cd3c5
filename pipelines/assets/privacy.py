"""Blocking privacy checks (contract §5): no identifier of the inbox in clear where the run wrote.

Each check re-reads the run's identifiers from the archive (``pipelines.privacy``), scans what the
run has produced so far, and fails when one value is found, which stops what depends on it:

- ``aucun_identifiant_en_clair`` on ``raw/livraisons``, after ingestion: the warehouse (every schema,
  the quarantine), the run's event log and metadata, its compute logs. Fails → no dbt, no publication.
- ``aucun_identifiant_publie`` on ``publication/marts``: the same, with the dbt layers now built, and
  every file of the publication directory. Fails → no report, no open data.
- ``aucun_identifiant_diffuse`` on ``publication/open_data``, once the monthly reports are written
  too: the publication directory and the whole event log of the run. Fails → the run fails.

They open the warehouse read-only, in pool ``warehouse`` and under its lock (a reader conflicts with a
writer). Their metadata holds counts and places only, never a value.
"""

from pathlib import Path

import dagster as dg

from pipelines.months import months_of
from pipelines.privacy.scan import scan_places
from pipelines.resources import InboxResource, PseudonymisationResource, PublishResource, WarehouseResource


def _result(context, warehouse, inbox, pseudonymisation, *, scan_warehouse: bool, publish_dir: Path | None):
    with warehouse.lock(context):  # read-only, but DuckDB refuses a reader while another process writes
        scan = scan_places(
            warehouse.path, Path(inbox.archive_dir), months_of(context), context.run.run_id,
            key=pseudonymisation.load().key, scan_warehouse=scan_warehouse, publish_dir=publish_dir,
            instance=context.instance,
        )
    where = sorted({f.lieu for f in scan.findings})
    metadata = scan.metadata()
    return dg.AssetCheckResult(
        passed=scan.passed, metadata={**metadata, "detail": dg.MetadataValue.md(metadata["detail"]),
                                      "lieux": dg.MetadataValue.json(metadata["lieux"]),
                                      "que_faire": dg.MetadataValue.md(metadata["que_faire"] or "rien")},
        description=None if scan.passed else f"{len(scan.findings)} texte(s) contenant un identifiant en clair "
                                              f"({', '.join(where)}) : voir « detail » (lieux, jamais les valeurs).",
    )


@dg.asset_check(
    asset=["raw", "livraisons"], name="aucun_identifiant_en_clair", blocking=True, pool="warehouse",
    description="Aucune valeur de matricule, nom, prénom, date de naissance ou NIR des livraisons du run (relues "
                "dans l'archive) ni la clé dans l'entrepôt, la quarantaine, le journal, les métadonnées ou les sorties "
                "du run ; sinon ni dbt ni publication.",
)
def aucun_identifiant_en_clair(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                               inbox: InboxResource, pseudonymisation: PseudonymisationResource):
    return _result(context, warehouse, inbox, pseudonymisation, scan_warehouse=True, publish_dir=None)


@dg.asset_check(
    asset=["publication", "marts"], name="aucun_identifiant_publie", blocking=True, pool="warehouse",
    description="Aucune valeur d'identifiant des livraisons du run ni la clé dans l'entrepôt (modèles dbt compris), "
                "les fichiers publiés (DuckDB, Parquet, CSV, rapports, open data), le journal ou les métadonnées "
                "du run ; sinon ni rapport ni open data.",
)
def aucun_identifiant_publie(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                             inbox: InboxResource, pseudonymisation: PseudonymisationResource,
                             publish: PublishResource):
    return _result(context, warehouse, inbox, pseudonymisation, scan_warehouse=True,
                   publish_dir=Path(publish.directory))


@dg.asset_check(
    asset=["publication", "open_data"], name="aucun_identifiant_diffuse", blocking=True, pool="warehouse",
    additional_deps=[dg.AssetKey(["publication", "rapport_mensuel"])],
    description="Après les rapports mensuels et l'open data : aucune valeur d'identifiant des livraisons du run ni "
                "la clé dans les fichiers publiés ni dans tout le journal du run.",
)
def aucun_identifiant_diffuse(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                              inbox: InboxResource, pseudonymisation: PseudonymisationResource,
                              publish: PublishResource):
    return _result(context, warehouse, inbox, pseudonymisation, scan_warehouse=False,
                   publish_dir=Path(publish.directory))


PRIVACY_CHECKS = [aucun_identifiant_en_clair, aucun_identifiant_publie, aucun_identifiant_diffuse]
STOPPED = {
    "aucun_identifiant_en_clair": "ni dbt ni la publication n'ont tourné : l'instantané BI, les rapports et l'open "
                                  "data sont ceux du run précédent.",
    "aucun_identifiant_publie": "ni rapport ni open data n'ont été écrits ; l'instantané BI de ce run est déjà en "
                                "place (ce contrôle suit sa bascule) : le remplacer par le précédent avant tout.",
    "aucun_identifiant_diffuse": "les rapports et l'open data de ce run sont écrits : les retirer avant tout.",
}
"""What a failing check has stopped, and what was already published before it ran."""
