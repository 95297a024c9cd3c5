"""The Dagster code location of the ALI 93 platform (``dagster dev`` loads it via workspace.yaml).

Definitions live in ``pipelines/defs/``, one package per stage of the data's path: ``ingest``
(reference files, the inbox's deliveries into ``raw``), ``dbt`` (the dbt project's seeds, models and
tests, and the marts' completeness and freshness checks), ``publish`` (BI snapshot, monthly reports,
open data, the senders' receipts, and the privacy checks before anything is published) and ``automation`` (the job, its
schedule, the inbox sensor). What they call is plain library code beside them (``pipelines/inbox``,
``raw``, ``privacy``, ``publication``…), testable without Dagster.
"""

import dagster as dg
from dagster._core.storage.defs_state.base import set_defs_state_storage

from pipelines.defs.automation.schedules import (
    monthly_refresh,
    monthly_refresh_schedule,
    privacy_scan,
    privacy_scan_schedule,
)
from pipelines.defs.automation.sensors import inbox_sensor
from pipelines.defs.dbt.assets import dbt_models
from pipelines.defs.dbt.checks import FRESHNESS_CHECKS, freshness_sensor, livraisons_attendues
from pipelines.defs.ingest.assets import raw_deliveries, reference_data
from pipelines.defs.ingest.checks import aucun_identifiant_en_clair
from pipelines.defs.ingest.retention import archive_retention, retention_job, retention_schedule
from pipelines.defs.publish.assets import open_data, rapport_mensuel
from pipelines.defs.publish.checks import (
    aucun_identifiant_diffuse,
    aucun_identifiant_nulle_part,
    aucun_identifiant_publie,
)
from pipelines.defs.publish.receipts import accuses_de_reception
from pipelines.defs.publish.snapshot import published_marts, staged_snapshot
from pipelines.progress import progression
from pipelines.resources import resources_from_env


def build_defs() -> dg.Definitions:
    """Definitions with resources read from the current environment."""
    return dg.Definitions(
        assets=[reference_data, raw_deliveries, dbt_models, staged_snapshot, published_marts, rapport_mensuel,
                open_data, accuses_de_reception, archive_retention],
        asset_checks=[aucun_identifiant_en_clair, livraisons_attendues, *FRESHNESS_CHECKS,
                      aucun_identifiant_publie, aucun_identifiant_diffuse, aucun_identifiant_nulle_part],
        jobs=[monthly_refresh, privacy_scan, retention_job],
        schedules=[monthly_refresh_schedule, privacy_scan_schedule, retention_schedule],
        sensors=[inbox_sensor, freshness_sensor],
        resources=resources_from_env(),
        loggers={"progression": progression},  # refresh's console; other runs keep Dagster's default
    )



def job_for(name: str, instance: dg.DagsterInstance) -> dg.JobDefinition:
    """Job ``name`` of definitions loaded against ``instance`` (``python -m pipelines refresh|rebuild``).

    Loading definitions reads the definitions-state storage of "the current instance", a context variable
    Dagster sets when an instance is entered and restores when it exits. A context Dagster built with its
    own ephemeral instance (a resource's or an op's, outside a run) exits it when garbage-collected, and
    then restores whatever instance was current when it was built, possibly one disposed since: the load
    failed ("Attempted to resolve undefined DagsterInstance weakref", seen in CI). The run's own instance
    is set for the load, as entering it would (without disposing it on the way out).
    """
    with set_defs_state_storage(instance.defs_state_storage):
        return build_defs().resolve_job_def(name)

defs = build_defs()
