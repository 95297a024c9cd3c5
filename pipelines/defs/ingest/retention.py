"""The retention of originals as a Dagster asset, run by its own monthly schedule (never by the refresh).

``archive/originaux``: the archived originals kept (``pipelines.raw.retention``). Its run's day comes
from the schedule (``aujourdhui``, the tick's date): a purge is decided by the calendar, so a test or a
late re-run of a tick gives the same result as the tick itself.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.raw.retention import DEFAULT_MONTHS, ENV, purge, retention_months
from pipelines.resources import InboxResource, WarehouseResource

PARIS = ZoneInfo("Europe/Paris")


class RetentionConfig(dg.Config):
    aujourdhui: str = ""
    """Day of the purge (``YYYY-MM-DD``); empty: today in Europe/Paris."""


@dg.asset(
    key=["archive", "originaux"], group_name="raw", kinds={"duckdb"}, pool="warehouse",
    description=f"Originaux archivés (identifiants en clair) conservés {ENV} mois pleins après leur mois "
                f"({DEFAULT_MONTHS} par défaut), puis purgés : l'entrepôt et le journal l'enregistrent, les marts "
                "restent.",
)
def archive_retention(context: dg.AssetExecutionContext, config: RetentionConfig, warehouse: WarehouseResource,
                      inbox: InboxResource) -> dg.MaterializeResult:
    """Purge the originals older than the retention, and the inbox's copies of those versions."""
    today = dt.date.fromisoformat(config.aujourdhui) if config.aujourdhui else dt.datetime.now(PARIS).date()
    months = retention_months()
    with warehouse.lock(context), warehouse.connect() as con:
        done = purge(con, inbox.settings, today, months)
    if done.originals:
        context.log.info(f"{len(done.originals)} original(aux) purgé(s) : mois {', '.join(done.months)}")
    return dg.MaterializeResult(metadata={
        "jour": today.isoformat(), "conservation_mois": months, "premier_mois_conserve": done.first_kept,
        "originaux_purges": len(done.originals), "mois_purges": ", ".join(done.months) or "aucun",
        "copies_boite_de_depot_supprimees": done.inbox_files,
    })


retention_job = dg.define_asset_job(
    "purge_archive", selection=[archive_retention.key],
    description="Purge des originaux archivés plus anciens que la durée de conservation "
                "(ALI_ARCHIVE_RETENTION_MONTHS).",
)


@dg.schedule(job=retention_job, name="purge_archive_schedule", cron_schedule="0 3 1 * *",
             execution_timezone="Europe/Paris",
             description="Le 1er du mois à 3 h (Europe/Paris) : la purge des originaux hors durée de conservation.")
def retention_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.astimezone(PARIS).date().isoformat()
    return dg.RunRequest(run_key=day, run_config={"ops": {"archive__originaux": {"config": {"aujourdhui": day}}}})
