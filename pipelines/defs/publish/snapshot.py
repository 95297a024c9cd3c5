"""The BI snapshot, written, audited, then published (Dagster's write-audit-publish pattern).

- ``publication/instantane``: every mart written aside, complete and synced (DuckDB file, Parquet,
  French CSV, and the PostgreSQL schema ``en_attente_<id>`` when ``ALI_PUBLISH_POSTGRES_URL`` is
  set); downstream of every mart, so a run whose dbt build or tests failed never publishes. Its
  blocking check ``aucun_identifiant_publie`` (``checks.py``) reads it before anyone can.
- ``publication/marts``: the switch, only once that check has passed: PostgreSQL's ``marts`` in
  one transaction, then the files by one atomic rename (``pipelines/publication/snapshot.py``).

Both hold the platform's lock for the whole step; of two runs, the one that staged last stays
published, whatever the order of their switches.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from pipelines.publication.snapshot import MARTS, Publication
from pipelines.publication.snapshot import stage as stage_snapshot
from pipelines.publication.snapshot import switch as switch_snapshot
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.timings import Stopwatch

SNAPSHOT_KEY = dg.AssetKey(["publication", "instantane"])


@dg.asset(
    key=SNAPSHOT_KEY,
    deps=[dg.AssetKey(["marts", m]) for m in MARTS],
    group_name="publication",
    kinds={"duckdb", "parquet", "csv", "postgres"},
    pool="warehouse",
    description="Instantané des marts écrit à part (marts.duckdb, Parquet, CSV à la française et, si configuré, "
                "schéma PostgreSQL en attente), complet et synchronisé sur disque, que personne ne lit encore : "
                "le contrôle bloquant aucun_identifiant_publie le lit avant toute bascule.",
)
def staged_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource):
    clock = Stopwatch()
    with warehouse.lock(context), clock.stage("publication"):
        done = stage_snapshot(warehouse.path, Path(publish.directory), context.run.run_id, publish.postgres_url())
    return dg.MaterializeResult(metadata={
        "instantane": done.snapshot.name,
        "schema_postgres": done.postgres_schema or "",
        "publie_le": done.published_at.isoformat(),
        **{f"lignes_{m}": n for m, n in done.rows.items()},
        **clock.metadata(),
    })


def staged_in_run(context: dg.AssetExecutionContext, directory: Path) -> Publication:
    """The snapshot this run staged (``publication/instantane``'s materialization in the run)."""
    records = context.instance.all_logs(context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    found = [r.asset_materialization.metadata for r in records if r.asset_materialization.asset_key == SNAPSHOT_KEY]
    if not found:
        raise dg.Failure(description="aucun instantané préparé dans ce run : matérialiser publication/instantane "
                                     "(et son contrôle aucun_identifiant_publie) avant publication/marts")
    meta = found[-1]
    return Publication(directory / "snapshots" / meta["instantane"].value,
                       dt.datetime.fromisoformat(meta["publie_le"].value),
                       {m: meta[f"lignes_{m}"].value for m in MARTS}, meta["schema_postgres"].value or None)


@dg.asset(
    key=["publication", "marts"],
    deps=[SNAPSHOT_KEY],
    group_name="publication",
    kinds={"duckdb", "parquet", "csv", "postgres"},
    pool="warehouse",
    description="Instantané publié des marts pour les outils BI (marts.duckdb en lecture seule, Parquet, CSV "
                "à la française, schéma PostgreSQL marts), basculé d'un seul renommage atomique une fois le "
                "contrôle de confidentialité passé ; l'entrepôt n'est jamais ouvert par la BI.",
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource):
    directory = Path(publish.directory)
    clock = Stopwatch()
    with warehouse.lock(context), clock.stage("bascule"):
        done = staged_in_run(context, directory)
        switched = switch_snapshot(directory, done, publish.postgres_url())
    if not switched:
        context.log.warning(f"instantané {done.snapshot.name} non basculé : un instantané plus récent est déjà publié")
    return dg.MaterializeResult(metadata={
        "fichier_duckdb": dg.MetadataValue.path(str(directory / "marts.duckdb")),
        "parquet": dg.MetadataValue.path(str(directory / "parquet")),
        "csv": dg.MetadataValue.path(str(directory / "csv")),
        "postgres": f"schéma marts ({done.postgres_schema} basculé)" if done.postgres_schema else "non configuré",
        "instantane": done.snapshot.name,
        "bascule": switched,
        "publie_le": done.published_at.isoformat(),
        **{f"lignes_{m}": n for m, n in done.rows.items()},
        **clock.metadata(),
    })
