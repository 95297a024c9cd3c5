"""The dbt project as Dagster assets: each model an asset, each dbt test an asset check.

One ``@dbt_assets`` for the monthly partitions; a run passes its months to dbt as vars so the
incremental marts rebuild only those months. The manifest is prepared at set-up (``.ci/setup``)
or by ``dagster dev`` (``prepare_if_dev``), never parsed when this module is imported.
"""

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines import warehouse as wh
from pipelines.partitions import monthly_partitions
from pipelines.resources import PROJECT_ROOT, WarehouseResource
from pipelines.timings import as_metadata, dbt_timings

dbt_project = DbtProject(project_dir=PROJECT_ROOT / "dbt_project", profiles_dir=PROJECT_ROOT / "dbt_project")
# Under `dagster dev`, prepare_if_dev runs `dbt parse` by name: make the venv's dbt reachable even
# when the venv is not activated (README commands call .venv/bin/dagster directly).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
dbt_project.prepare_if_dev()


class LayerTranslator(DagsterDbtTranslator):
    """Groups models by their folder (staging, intermediate, marts) so the graph reads as the layers."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


def dbt_vars(partition_keys: Sequence[str]) -> dict[str, str]:
    """The months of a run as dbt vars: first days of the first and last month (``YYYY-MM-01``)."""
    keys = sorted(partition_keys)
    return {"min_periode": f"{keys[0]}-01", "max_periode": f"{keys[-1]}-01"}


def dbt_build_args(partition_keys: Sequence[str]) -> list[str]:
    return ["build", "--vars", json.dumps(dbt_vars(partition_keys))]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse",
    dagster_dbt_translator=LayerTranslator(),
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """``dbt build`` of the run's months: staging, intermediate and marts with their tests."""
    # dbt reads the warehouse path from its profile (env ALI_WAREHOUSE): the same file as the resource.
    os.environ["ALI_WAREHOUSE"] = warehouse.path
    invocation = dbt.cli(dbt_build_args(context.partition_keys), context=context)
    events = list(invocation.stream())
    timings = as_metadata(dbt_timings(invocation.get_artifact("run_results.json")))
    yield from with_mart_row_counts(events, warehouse.path, dbt_vars(context.partition_keys), timings)


def with_mart_row_counts(events: list, path: str, months: dict[str, str], extra: dict | None = None):
    """Add each mart's row count (all months, and the run's months) and ``extra`` to its materialization.

    Counted with our own short-lived read-only connection once dbt has exited (dagster-dbt's
    ``fetch_row_counts`` would keep an adapter connection open in this process).
    """
    marts = {e.metadata["unique_id"].text for e in events if isinstance(e, dg.Output)
             and e.metadata.get("unique_id") and e.metadata["unique_id"].text.startswith("model.ali93.mart_")}
    counts = {}
    if marts:
        with wh.connect(path, read_only=True) as con:
            for unique_id in marts:
                table = unique_id.rsplit(".", 1)[1]
                counts[unique_id] = con.execute(
                    f"SELECT count(*), count(*) FILTER (periode BETWEEN $min_periode::DATE AND $max_periode::DATE) "
                    f"FROM marts.{table}", months,
                ).fetchall()[0]
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        if unique_id is not None and unique_id.text in counts:
            total, in_run = counts[unique_id.text]
            event = event.with_metadata({**event.metadata, "dagster/row_count": total, "lignes_mois_du_run": in_run,
                                         **(extra or {})})
        yield event
