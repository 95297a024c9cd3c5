"""The dbt project as Dagster assets: each model an asset, each dbt test an asset check.

One ``@dbt_assets`` for the monthly partitions; a run passes its months to dbt (environment read at
execution, see ``dbt_months_env``) so the incremental marts rebuild only those months. The manifest is prepared at set-up (``.ci/setup``)
or by ``dagster dev`` (``prepare_if_dev``), never parsed when this module is imported.
"""

import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines import warehouse as wh
from pipelines.faults import kill_point
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


def dbt_months_env(partition_keys: Sequence[str]) -> dict[str, str]:
    """The months of a run for dbt: first days of the first and last month (``YYYY-MM-01``).

    Passed as environment (read by the macros at execution only), not as ``--vars``: changing vars
    makes dbt re-parse the whole project, env read at execution keeps partial parsing valid.
    """
    keys = sorted(partition_keys)
    return {"ALI_MIN_PERIODE": f"{keys[0]}-01", "ALI_MAX_PERIODE": f"{keys[-1]}-01"}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` (which dagster-dbt copies when it starts dbt), then removed."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_parse_state(invocation_target: Path, project_target: Path) -> bool:
    """Make this invocation's ``partial_parse.msgpack`` the one the next invocation starts from.

    dagster-dbt seeds each invocation's own target folder with ``target/partial_parse.msgpack``,
    the one ``dbt parse`` wrote at set-up, whose profile (warehouse path) differs from the run's: dbt
    would re-parse everything each time. Promoted atomically; dbt still re-parses changed files.
    """
    state = invocation_target / "partial_parse.msgpack"
    if not state.exists():
        return False
    partial = project_target / f"partial_parse.msgpack.{os.getpid()}.tmp"  # runs of other platforms share target/
    shutil.copyfile(state, partial)
    os.replace(partial, project_target / "partial_parse.msgpack")
    return True


KEPT_INVOCATIONS = 10
STALE_MONTHS_SQL = """
WITH manifest AS (
    SELECT periode, source_code, dataset, count(DISTINCT sha256) AS versions,
           max(CASE WHEN en_vigueur THEN sha256 END) AS en_vigueur
    FROM raw.livraisons GROUP BY ALL),
built AS (
    SELECT periode, source_code, dataset, versions_recues AS versions,
           CASE WHEN statut = 'LIVRE' THEN sha256 END AS en_vigueur
    FROM marts.mart_livraisons)
SELECT DISTINCT strftime(b.periode, '%Y-%m') FROM built b LEFT JOIN manifest m USING (periode, source_code, dataset)
WHERE coalesce(m.versions, 0) <> b.versions OR m.en_vigueur IS DISTINCT FROM b.en_vigueur
ORDER BY 1
"""


def stale_months(path: str) -> list[str]:
    """Months whose deliveries changed since the marts were built (``YYYY-MM``).

    A run killed after its ingestion committed and before dbt finished leaves such a month; the next
    run may be for another month (the sensor's, the schedule's), so every build catches them up:
    the manifest's versions and deliveries in force, key by key, against ``mart_livraisons``.
    """
    if not Path(path).exists():
        return []
    with wh.connect(path, read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts' "
                           "AND table_name = 'mart_livraisons'").fetchall()[0][0]:
            return []  # first build: every month is built anyway
        return [month for (month,) in con.execute(STALE_MONTHS_SQL).fetchall()]


def prune_invocations(target: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest invocation folders dagster-dbt leaves in ``target/``.

    Each build gets its own ``target/<asset>-<id>/`` (manifest, run results, compiled SQL: ≈ 7 MB)
    and nothing removes them: 365 runs had piled up 2.4 GB. The newest stay for debugging a run.
    """
    folders = sorted((p for p in target.glob("dbt_models-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    old = folders[:-keep] if keep else folders
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return [p.name for p in old]


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
    with warehouse.lock(context):  # dbt's own process opens the file: the pool alone does not cover it
        behind = sorted(set(stale_months(warehouse.path)) - set(context.partition_keys))
        if behind:
            context.log.warning(f"mois en retard sur leurs livraisons (run interrompu ?), reconstruits aussi : "
                                f"{', '.join(behind)}")
        months = dbt_months_env([*context.partition_keys, *behind])
        with environment(months):  # only for this dbt process: a later plain `dbt build` must see no months
            invocation = dbt.cli(["build"], context=context)
        events = []
        for event in invocation.stream():
            events.append(event)
            kill_point("dbt.evenement")
        kill_point("dbt.fin")
        keep_parse_state(dbt_project.project_dir / invocation.target_path, dbt_project.project_dir / "target")
        prune_invocations(dbt_project.project_dir / "target", keep=KEPT_INVOCATIONS)
        timings = as_metadata(dbt_timings(invocation.get_artifact("run_results.json")))
        rebuilt = [k for k in monthly_partitions.get_partition_keys()
                   if months["ALI_MIN_PERIODE"][:7] <= k <= months["ALI_MAX_PERIODE"][:7]]
        yield from with_mart_row_counts(events, warehouse.path, months,
                                        {**timings, "mois_reconstruits": dg.MetadataValue.json(rebuilt)})


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
                    f"SELECT count(*), count(*) FILTER (periode BETWEEN ?::DATE AND ?::DATE) FROM marts.{table}",
                    [months["ALI_MIN_PERIODE"], months["ALI_MAX_PERIODE"]],
                ).fetchall()[0]
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        if unique_id is not None and unique_id.text in counts:
            total, in_run = counts[unique_id.text]
            event = event.with_metadata({**event.metadata, "dagster/row_count": total, "lignes_mois_du_run": in_run,
                                         **(extra or {})})
        yield event
