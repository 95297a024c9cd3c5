"""The monthly report as a partitioned asset: one self-contained HTML page per month.

The figures come from the published snapshot (``$ALI_PUBLISH_DIR/marts.duckdb``), not from the
warehouse, so the report shows exactly what BI users read. The warehouse is opened read-only, and
closed before any page is written, only for what the snapshot does not hold: quarantine by rule.

The page of month P charts ``mart_departement_mensuel`` over P − 11 … P (``TWELVE_MONTHS``, the
dependency Dagster shows). So a run that changes month M rewrites the pages of M … M + 11 that the
marts cover, whether it was started by ``refresh``, the sensor or the UI: a late file never leaves
a later report showing the hole its month had before.
"""

import os
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import warehouse as wh
from pipelines.faults import kill_point
from pipelines.months import monthly_partitions
from pipelines.publication.report import chiffres_cles, chiffres_cles_markdown, render_report
from pipelines.raw.summary import quarantine_by_rule
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.timings import Stopwatch


TWELVE_MONTHS = dg.TimeWindowPartitionMapping(start_offset=-11, end_offset=0)
"""Report P depends on the departmental mart of P − 11 … P (its 12-month charts)."""
TREND_MART = dg.AssetKey(["marts", "mart_departement_mensuel"])
OPEN_ALI_TARGET_SQL = ("SELECT valeur FROM reference.objectifs WHERE indicateur = 'ali_ouvertes' "
                       "ORDER BY annee DESC LIMIT 1")
"""The target of open ALI, as the marts read the others: that of the latest year of ``objectifs.csv``."""


def pages_to_write(changed: list[str], available: set[str]) -> list[str]:
    """Months whose page depends on a changed month (through ``TWELVE_MONTHS``) and that the marts cover."""
    subset = monthly_partitions.empty_subset().with_partition_keys(changed)
    depending = TWELVE_MONTHS.get_downstream_partitions_for_partitions(subset, monthly_partitions, monthly_partitions)
    return sorted((set(depending.get_partition_keys()) | set(changed)) & available)


def changed_months(context: dg.AssetExecutionContext) -> list[str]:
    """The run's months, and every month its dbt build rebuilt (a month left behind by a crash is
    caught up by the next build: ``mois_reconstruits`` on the departmental mart's materialization)."""
    months = set(context.partition_keys)
    for record in context.instance.all_logs(context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        if materialization.asset_key == TREND_MART and "mois_reconstruits" in materialization.metadata:
            months |= set(materialization.metadata["mois_reconstruits"].value)
    return sorted(months)


def report_path(directory: str | Path, month: str) -> Path:
    return Path(directory) / "rapports" / f"rapport_{month}.html"


def write_atomically(path: Path, text: str) -> None:
    """Write aside then rename: a reader (or a mail attachment) never gets half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    kill_point("rapport.page")


@dg.asset(
    key=["publication", "rapport_mensuel"],
    group_name="publication",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["publication", "marts"]), dg.AssetDep(TREND_MART, partition_mapping=TWELVE_MONTHS)],
    kinds={"html"},
    pool="warehouse",  # reads the warehouse: a read-only DuckDB connection conflicts with a writer
    description="Rapport mensuel HTML autonome (hors ligne) par mois : chiffres clés face aux objectifs, "
                "évolution sur 12 mois, indicateurs par ALI, complétude des livraisons et quarantaine.",
)
def rapport_mensuel(
    context: dg.AssetExecutionContext, publish: PublishResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Render the pages that depend on the run's months into ``rapports/rapport_YYYY-MM.html``.

    The run's own months are materialized as usual; a later month whose page was rewritten (its
    12-month charts include a changed month) gets its own materialization event."""
    clock = Stopwatch()
    snapshot = Path(publish.directory) / "marts.duckdb"
    with clock.stage("rapport"), duckdb.connect(str(snapshot), read_only=True) as con:
        available = {m for (m,) in con.execute(
            "SELECT DISTINCT strftime(periode, '%Y-%m') FROM marts.mart_departement_mensuel").fetchall()}
    months = pages_to_write(changed_months(context), available | set(context.partition_keys))
    with warehouse.lock(context), clock.stage("rapport"), wh.connect(warehouse.path, read_only=True) as con:
        rules = {month: quarantine_by_rule(con, [month]) for month in months}
        target = con.execute(OPEN_ALI_TARGET_SQL).fetchall()
    objectif_ali = target[0][0] if target else None
    with clock.stage("rapport"), duckdb.connect(str(snapshot), read_only=True) as con:
        for month in months:
            write_atomically(report_path(publish.directory, month), render_report(con, month, rules[month],
                                                                                 objectif_ali))
        last = max(context.partition_keys)
        headline = chiffres_cles_markdown(chiffres_cles(con, last), objectif_ali)
    later = [m for m in months if m not in context.partition_keys]
    for month in later:
        context.log_event(dg.AssetMaterialization(
            asset_key=context.asset_key, partition=month,
            description="Page réécrite : ses graphiques sur 12 mois incluent un mois modifié par ce run.",
            metadata={"rapport": dg.MetadataValue.path(str(report_path(publish.directory, month)))}))
    context.log.info(f"{len(months)} rapport(s) écrit(s) : {', '.join(months)}")
    return dg.MaterializeResult(metadata={
        "rapport": dg.MetadataValue.path(str(report_path(publish.directory, last))),
        "chiffres_cles": dg.MetadataValue.md(f"**{last}**\n\n{headline}"),
        "mois": dg.MetadataValue.int(len(months)),
        "mois_reecrits_apres_le_run": dg.MetadataValue.json(later),
        **clock.metadata(),
    })
