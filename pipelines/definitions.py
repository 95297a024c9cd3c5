"""The Dagster code location of the ALI 93 platform (``dagster dev`` loads it via workspace.yaml)."""

import dagster as dg

from pipelines.assets.completeness import livraisons_attendues
from pipelines.assets.ingestion import raw_deliveries
from pipelines.assets.marts import dbt_models
from pipelines.assets.open_data import open_data
from pipelines.assets.privacy import PRIVACY_CHECKS
from pipelines.assets.publication import published_marts
from pipelines.assets.reference import reference_data
from pipelines.assets.report import rapport_mensuel
from pipelines.automation import inbox_sensor, schedule_for
from pipelines.progress import progression
from pipelines.resources import resources_from_env

ASSETS = [reference_data, raw_deliveries, dbt_models, published_marts, rapport_mensuel, open_data]

monthly_refresh = dg.define_asset_job(
    "monthly_refresh",
    selection=dg.AssetSelection.assets(*ASSETS),
    description="Référentiel, ingestion des livraisons, modèles dbt (marts et tests), publication pour la BI, "
                "rapport mensuel et export open data du ou des mois choisis.",
)


def build_defs() -> dg.Definitions:
    """Definitions with resources read from the current environment."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[livraisons_attendues, *PRIVACY_CHECKS],
        jobs=[monthly_refresh],
        schedules=[schedule_for(monthly_refresh)],
        sensors=[inbox_sensor],
        resources=resources_from_env(),
        loggers={"progression": progression},  # refresh's console; other runs keep Dagster's default
    )


defs = build_defs()
