"""The dbt project as Dagster assets: each model and seed an asset, each dbt test an asset check.

One ``@dbt_assets`` for the monthly partitions; a run passes its months to dbt as environment,
read by the macros at execution only (``--vars`` would make dbt re-parse the whole project), set
for the dbt process alone and restored as soon as it has started. The manifest is prepared at
set-up (``.ci/setup``) or by ``dagster dev`` (``prepare_if_dev``, with the venv's dbt), never parsed
when this module is imported otherwise. Groups come from the dbt project (``meta.dagster.group``).

Each build writes to one fixed folder beside its warehouse (``build_target``), where dbt keeps its
partial parse from one run to the next; dbt's events are streamed to Dagster as models finish, the
marts' last, once dbt has exited and released the warehouse, with their row counts.
"""

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject, dbt_assets

from pipelines import warehouse as wh
from pipelines.crash_points import kill_point
from pipelines.months import monthly_partitions
from pipelines.publication.parcours import chiffre_cle
from pipelines.resources import PROJECT_ROOT, WarehouseResource
from pipelines.timings import as_metadata, dbt_timings

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
"""The venv's dbt, whether the venv is activated or not (README commands call .venv/bin/... directly)."""
PARTIAL_PARSE = "partial_parse.msgpack"
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]
"""A run builds the models and runs the data tests; the unit tests (fixed inputs, they prove the SQL, not
the data) run in CI and before each commit (``tests/test_dbt_unit.py``), as dbt advises for production."""


class VenvPreparer(DagsterDbtProjectPreparer):
    """``dbt parse`` with the venv's dbt (``dagster dev`` may run without the venv on PATH), the new
    manifest swapped in by a rename: under ``dagster dev`` every process that loads the code location
    (webserver, daemon, each step's subprocess) prepares, and one of them must never read a manifest
    another is writing (a truncated JSON failed a run)."""

    def prepare(self, project: DbtProject) -> None:
        target = Path(project.project_dir) / project.target_path  # target_path is relative to the project
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as scratch:
            if (target / PARTIAL_PARSE).exists():  # keeps the parse incremental
                shutil.copy(target / PARTIAL_PARSE, Path(scratch) / PARTIAL_PARSE)
            DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
                ["parse", "--quiet"], target_path=Path(scratch)).wait()
            for name in (PARTIAL_PARSE, "manifest.json"):  # the manifest last: readers only ever see a whole one
                os.replace(Path(scratch) / name, target / name)


dbt_project = DbtProject(project_dir=PROJECT_ROOT / "dbt_project", profiles_dir=PROJECT_ROOT / "dbt_project")
VenvPreparer().prepare_if_dev(dbt_project)  # what dbt_project.prepare_if_dev() does, with the venv's dbt


def dbt_months_env(partition_keys: Sequence[str]) -> dict[str, str]:
    """The months of a run for dbt: first days of the first and last month (``YYYY-MM-01``)."""
    keys = sorted(partition_keys)
    return {"ALI_MIN_PERIODE": f"{keys[0]}-01", "ALI_MAX_PERIODE": f"{keys[-1]}-01"}


def build_target(warehouse_path: str | Path) -> Path:
    """The fixed target folder of the builds of one warehouse (artifacts, logs, partial parse)."""
    return Path(warehouse_path).resolve().parent / "dbt"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` (which dagster-dbt copies when it starts dbt), then restored."""
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


def is_mart_event(event) -> bool:
    """An output, check or observation of a mart: held back until dbt has exited (row counts need the
    warehouse, and a check must follow the materialization it speaks of)."""
    if isinstance(event, dg.Output):
        return event.metadata["unique_id"].text.startswith("model.ali93.mart_")
    key = getattr(event, "asset_key", None)
    return key is not None and key.path[-1].startswith("mart_")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """``dbt build`` of the run's months: seeds, staging, intermediate and marts with their tests."""
    with warehouse.lock(context):  # dbt's own process opens the file: the pool alone does not cover it
        behind = sorted(set(stale_months(warehouse.path)) - set(context.partition_keys))
        if behind:
            context.log.warning(f"mois en retard sur leurs livraisons (run interrompu ?), reconstruits aussi : "
                                f"{', '.join(behind)}")
        months = dbt_months_env([*context.partition_keys, *behind])
        with environment({**months, "ALI_WAREHOUSE": warehouse.path}):  # dbt's profile reads ALI_WAREHOUSE
            invocation = dbt.cli(BUILD_ARGS, context=context, target_path=build_target(warehouse.path))
        marts = []
        for event in invocation.stream():
            kill_point("dbt.evenement")
            if is_mart_event(event):
                marts.append(event)
            else:
                yield event
        kill_point("dbt.fin")
        rebuilt = [k for k in monthly_partitions.get_partition_keys()
                   if months["ALI_MIN_PERIODE"][:7] <= k <= months["ALI_MAX_PERIODE"][:7]]
        timings = as_metadata(dbt_timings(invocation.get_artifact("run_results.json")))
        yield from with_mart_row_counts(marts, warehouse.path, months, month_columns(invocation.manifest),
                                        {**timings, "mois_reconstruits": dg.MetadataValue.json(rebuilt)})


def month_columns(manifest: dict) -> dict[str, str]:
    """Each mart's month column (its ``unique_key``: periode, or cohorte for the cohorts)."""
    return {uid: node["config"].get("unique_key") or "periode" for uid, node in manifest["nodes"].items()
            if uid.startswith("model.ali93.mart_")}


def with_mart_row_counts(events: list, path: str, months: dict[str, str], month_column: dict[str, str],
                         extra: dict | None = None):
    """Add each mart's row count (all months, and the run's months), its headline figure and ``extra`` to
    its materialization.

    Counted with our own short-lived read-only connection once dbt has exited: dagster-dbt's
    ``fetch_row_counts`` queries while dbt runs, and DuckDB lets no other process open a file it writes.
    """
    marts = {e.metadata["unique_id"].text for e in events if isinstance(e, dg.Output)
             and e.metadata.get("unique_id") and e.metadata["unique_id"].text.startswith("model.ali93.mart_")}
    counts = {}
    if marts:
        with wh.connect(path, read_only=True) as con:
            for unique_id in marts:
                table = unique_id.rsplit(".", 1)[1]
                column = month_column[unique_id]
                counts[unique_id] = (*con.execute(
                    f"SELECT count(*), count(*) FILTER ({column} BETWEEN ?::DATE AND ?::DATE) FROM marts.{table}",
                    [months["ALI_MIN_PERIODE"], months["ALI_MAX_PERIODE"]],
                ).fetchall()[0], chiffre_cle(con, table))
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        if unique_id is not None and unique_id.text in counts:
            total, in_run, headline = counts[unique_id.text]
            event = event.with_metadata({**event.metadata, "dagster/row_count": total, "lignes_mois_du_run": in_run,
                                         **headline, **(extra or {})})
        yield event
