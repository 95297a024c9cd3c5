"""Publication for BI tools: the marts as a read-only DuckDB file, Parquet and CSV (one snapshot).

Downstream of every mart, so a run whose dbt build or tests failed never publishes.
"""

from pathlib import Path

import dagster as dg

from pipelines.publication.publish import MARTS
from pipelines.publication.publish import publish as publish_snapshot
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.timings import Stopwatch


@dg.asset(
    key=["publication", "marts"],
    deps=[dg.AssetKey(["marts", m]) for m in MARTS],
    group_name="publication",
    kinds={"duckdb", "parquet", "csv"},
    pool="warehouse",
    description="Instantané publié des marts pour les outils BI (marts.duckdb en lecture seule, Parquet, CSV "
                "à la française), basculé d'un seul renommage atomique ; l'entrepôt n'est jamais ouvert par la BI.",
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, publish: PublishResource):
    directory = Path(publish.directory)
    clock = Stopwatch()
    with warehouse.lock(context), clock.stage("publication"):
        done = publish_snapshot(warehouse.path, directory, context.run.run_id)
    return dg.MaterializeResult(metadata={
        "fichier_duckdb": dg.MetadataValue.path(str(directory / "marts.duckdb")),
        "parquet": dg.MetadataValue.path(str(directory / "parquet")),
        "csv": dg.MetadataValue.path(str(directory / "csv")),
        "instantane": done.snapshot.name,
        "publie_le": done.published_at.isoformat(),
        **{f"lignes_{m}": n for m, n in done.rows.items()},
        **clock.metadata(),
    })

