"""The monthly report as a partitioned asset: one self-contained HTML page per month of the run.

The figures come from the published snapshot (``$ALI_PUBLISH_DIR/marts.duckdb``), not from the
warehouse, so the report shows exactly what BI users read. The warehouse is opened read-only, and
closed before any page is written, only for what the snapshot does not hold: quarantine by rule.
"""

import os
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import warehouse as wh
from pipelines.faults import kill_point
from pipelines.partitions import monthly_partitions
from pipelines.publication.report import chiffres_cles, chiffres_cles_markdown, render_report
from pipelines.raw.summary import quarantine_by_rule
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.timings import Stopwatch


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
    deps=[dg.AssetKey(["publication", "marts"])],
    kinds={"html"},
    pool="warehouse",  # reads the warehouse: a read-only DuckDB connection conflicts with a writer
    description="Rapport mensuel HTML autonome (hors ligne) par mois : chiffres clés face aux objectifs, "
                "évolution sur 12 mois, indicateurs par ALI, complétude des livraisons et quarantaine.",
)
def rapport_mensuel(
    context: dg.AssetExecutionContext, publish: PublishResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Render each month of the run from the published marts into ``rapports/rapport_YYYY-MM.html``."""
    months = sorted(context.partition_keys)
    clock = Stopwatch()
    with warehouse.lock(context), clock.stage("rapport"), wh.connect(warehouse.path, read_only=True) as con:
        rules = {month: quarantine_by_rule(con, [month]) for month in months}
    with clock.stage("rapport"), duckdb.connect(str(Path(publish.directory) / "marts.duckdb"), read_only=True) as con:
        for month in months:
            write_atomically(report_path(publish.directory, month), render_report(con, month, rules[month]))
        headline = chiffres_cles_markdown(chiffres_cles(con, months[-1]))
    last = report_path(publish.directory, months[-1])
    context.log.info(f"{len(months)} rapport(s) écrit(s), dernier : {last}")
    return dg.MaterializeResult(metadata={
        "rapport": dg.MetadataValue.path(str(last)),
        "chiffres_cles": dg.MetadataValue.md(f"**{months[-1]}**\n\n{headline}"),
        "mois": dg.MetadataValue.int(len(months)),
        **clock.metadata(),
    })
