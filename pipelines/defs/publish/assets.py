"""Publication stage: what leaves the warehouse, each asset downstream of the marts it reads.

- ``publication/instantane`` and ``publication/marts`` (``snapshot.py``): the BI snapshot, written
  aside, checked, switched.
- ``rapport_mensuel``: one HTML page per month (plotly.js once beside them), read from the published snapshot
  (what BI users read); the warehouse is opened read-only, and closed before any page is written,
  only for the quarantine by rule. Page P charts ``mart_departement_mensuel`` over P − 11 … P
  and gives each source's on-time rate from ``mart_qualite_sources`` over the same months
  (``TWELVE_MONTHS``, the dependencies Dagster shows), so a run that changes month M rewrites the
  pages of M … M + 11 that the marts cover, whether started by ``refresh``, the sensor or the UI.
- ``open_data``: the published marts restricted to what may leave the Département, under
  statistical secrecy; unpartitioned (one whole snapshot, like the files a portal harvests). Its
  blocking check ``secret_statistique`` re-reads the written CSV files with ``secrecy.verify``
  (independent of the suppression code) before they are made current, and once more after.

Every step that writes the publication folder holds the platform's lock (``WarehouseResource.lock``)
from its first read to its last rename, as the pool ``warehouse`` already has it wait: two runs at
once never share an aside file, and the last to read is the last to write.
"""

from pathlib import Path

import dagster as dg
import duckdb
from plotly.offline import get_plotlyjs

from pipelines import warehouse as wh
from pipelines.crash_points import kill_point
from pipelines.months import monthly_partitions
from pipelines.publication.files import write_atomically, write_if_changed
from pipelines.publication.open_data import check_directory, export
from pipelines.publication.report import PLOTLY_FILE, chiffres_cles, chiffres_cles_markdown, render_report
from pipelines.publication.report_parcours import FENETRE_COHORTES
from pipelines.publication.secrecy import TABLES
from pipelines.raw.summary import quarantine_by_rule
from pipelines.resources import PublishResource, WarehouseResource
from pipelines.timings import Stopwatch

TWELVE_MONTHS = dg.TimeWindowPartitionMapping(start_offset=-11, end_offset=0)
"""Report P depends on the departmental mart of P − 11 … P (its 12-month charts)."""
COHORTS_SHOWN = dg.TimeWindowPartitionMapping(start_offset=-FENETRE_COHORTES[0], end_offset=-FENETRE_COHORTES[1])
"""Report P depends on the cohorts P − 17 … P − 6 (its Parcours section)."""
COHORTS_MART = dg.AssetKey(["marts", "mart_parcours_cohortes"])
COHORTS_REBUILT = 12
"""A refresh of month X rebuilds the cohorts X − 12 … X (dbt: mart_parcours_cohortes' window)."""
TREND_MART = dg.AssetKey(["marts", "mart_departement_mensuel"])
QUALITY_MART = dg.AssetKey(["marts", "mart_qualite_sources"])
"""Report P also reads the sources' delivery quality of P − 11 … P (their on-time rate over 12 months)."""
OPEN_ALI_TARGET_SQL = ("SELECT valeur FROM reference.objectifs WHERE indicateur = 'ali_ouvertes' "
                       "ORDER BY annee DESC LIMIT 1")
"""The target of open ALI, as the marts read the others: that of the latest year of ``objectifs.csv``."""


def pages_to_write(changed: list[str], available: set[str]) -> list[str]:
    """Months whose page depends on a changed month and that the marts cover: through ``TWELVE_MONTHS``,
    and through ``COHORTS_SHOWN`` for the cohorts the changed months rebuilt."""
    def downstream(mapping: dg.TimeWindowPartitionMapping, months: list[str]) -> set[str]:
        subset = monthly_partitions.empty_subset().with_partition_keys(months)
        return set(mapping.get_downstream_partitions_for_partitions(
            subset, monthly_partitions, monthly_partitions).get_partition_keys())
    keys = monthly_partitions.get_partition_keys()
    cohorts = {keys[j] for m in changed for j in range(max(0, keys.index(m) - COHORTS_REBUILT), keys.index(m) + 1)}
    return sorted((downstream(TWELVE_MONTHS, changed) | downstream(COHORTS_SHOWN, sorted(cohorts)) | set(changed))
                  & available)


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


def write_page(path: Path, text: str) -> None:
    """Written aside then renamed: a reader (or a mail attachment) never gets half a page."""
    write_atomically(path, text.encode("utf-8"))
    kill_point("rapport.page")


@dg.asset(
    key=["publication", "rapport_mensuel"],
    group_name="publication",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["publication", "marts"]), dg.AssetDep(TREND_MART, partition_mapping=TWELVE_MONTHS),
          dg.AssetDep(COHORTS_MART, partition_mapping=COHORTS_SHOWN),
          dg.AssetDep(QUALITY_MART, partition_mapping=TWELVE_MONTHS)],
    kinds={"html"},
    pool="warehouse",  # reads the warehouse: a read-only DuckDB connection conflicts with a writer
    description="Rapport mensuel HTML autonome (hors ligne) par mois : chiffres clés face aux objectifs, "
                "évolution sur 12 mois, indicateurs par ALI, parcours (cohortes, freins, prescriptions), "
                "complétude des livraisons, quarantaine et qualité des livraisons par source (retards, taux "
                "de quarantaine, ponctualité sur 12 mois).",
)
def rapport_mensuel(
    context: dg.AssetExecutionContext, publish: PublishResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Render the pages that depend on the run's months into ``rapports/rapport_YYYY-MM.html``.

    The run's own months are materialized as usual; another month whose page was rewritten (its
    12-month charts or its cohorts include a changed month) gets its own materialization event."""
    clock = Stopwatch()
    snapshot = Path(publish.directory) / "marts.duckdb"
    last = max(context.partition_keys)
    # the lock until written: the last snapshot read is the last written
    with warehouse.lock(context), clock.stage("rapport"), duckdb.connect(str(snapshot), read_only=True) as con:
        available = {m for (m,) in con.execute(
            "SELECT DISTINCT strftime(periode, '%Y-%m') FROM marts.mart_departement_mensuel").fetchall()}
        months = pages_to_write(changed_months(context), available | set(context.partition_keys))
        with wh.connect(warehouse.path, read_only=True) as source:
            rules = {month: quarantine_by_rule(source, [month]) for month in months}
            target = source.execute(OPEN_ALI_TARGET_SQL).fetchall()
        objectif_ali = target[0][0] if target else None
        write_if_changed(report_path(publish.directory, last).with_name(PLOTLY_FILE), get_plotlyjs().encode("utf-8"))
        for month in months:
            write_page(report_path(publish.directory, month), render_report(con, month, rules[month], objectif_ali))
        headline = chiffres_cles_markdown(chiffres_cles(con, last), objectif_ali)
    later = [m for m in months if m not in context.partition_keys]
    for month in later:
        context.log_event(dg.AssetMaterialization(
            asset_key=context.asset_key, partition=month,
            description="Page réécrite : ses graphiques sur 12 mois ou ses cohortes incluent un mois modifié "
                        "par ce run.",
            metadata={"rapport": dg.MetadataValue.path(str(report_path(publish.directory, month)))}))
    context.log.info(f"{len(months)} rapport(s) écrit(s) : {', '.join(months)}")
    return dg.MaterializeResult(metadata={
        "rapport": dg.MetadataValue.path(str(report_path(publish.directory, last))),
        "chiffres_cles": dg.MetadataValue.md(f"**{last}**\n\n{headline}"),
        "mois": dg.MetadataValue.int(len(months)),
        "mois_reecrits_apres_le_run": dg.MetadataValue.json(later),
        **clock.metadata(),
    })


OPEN_DATA_KEY = ["publication", "open_data"]
SECRECY_CHECK = "secret_statistique"


def _problems_markdown(problems: list[str]) -> str:
    shown = "\n".join(f"- {p}" for p in problems[:50])
    return shown + (f"\n- … et {len(problems) - 50} autres" if len(problems) > 50 else "")


@dg.asset(
    key=OPEN_DATA_KEY,
    group_name="publication",
    deps=[dg.AssetKey(["publication", "marts"])],
    kinds={"csv"},
    pool="warehouse",  # it publishes: one writer at a time, for the publication folder as for the warehouse
    check_specs=[dg.AssetCheckSpec(
        SECRECY_CHECK, asset=OPEN_DATA_KEY, blocking=True,
        description="Relit les CSV publiés : aucun compte de 1 à 10 publié, aucune cellule secrète recalculable "
                    "depuis les totaux publiés, aucun taux publié sur un compte secret.",
    )],
    description="Export open data (CSV UTF-8, « , », « s » = secret statistique) des marts par ALI, commune, "
                "action et département, avec secret primaire (1 à 10) et secondaire ; mart_livraisons et "
                "mart_qualite_sources exclus.",
)
def open_data(context: dg.AssetExecutionContext, publish: PublishResource, warehouse: WarehouseResource):
    """Mask, write aside, verify, switch ``$ALI_PUBLISH_DIR/open_data`` to the new files."""
    directory = Path(publish.directory)
    clock = Stopwatch()
    with warehouse.lock(context), clock.stage("open_data"), \
            duckdb.connect(str(directory / "marts.duckdb"), read_only=True) as con:
        done = export(con, directory / "open_data")
    counts = {"secret_primaire": done.suppression.primary, "secret_secondaire": done.suppression.secondary,
              "taux_masques": done.suppression.rates}
    if done.problems:
        yield dg.AssetCheckResult(check_name=SECRECY_CHECK, passed=False, metadata={
            **counts, "violations": len(done.problems),
            "detail": dg.MetadataValue.md(_problems_markdown(done.problems)),
        })
        raise dg.Failure(description=f"export open data refusé ({len(done.problems)} violation(s) du secret "
                                     f"statistique) : l'export précédent reste en place")
    served = check_directory(done.directory)
    yield dg.MaterializeResult(metadata={
        "dossier": dg.MetadataValue.path(str(done.directory)),
        "fichiers": dg.MetadataValue.md("\n".join(f"- `{t}.csv` ({done.rows[t]} lignes)" for t in TABLES)),
        **counts, **clock.metadata(),
    })
    yield dg.AssetCheckResult(check_name=SECRECY_CHECK, passed=not served, metadata={
        **counts, "violations": len(served), "detail": dg.MetadataValue.md(_problems_markdown(served) or "aucune"),
    })
