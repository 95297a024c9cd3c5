"""The monthly refresh job and its schedule.

The job is every asset of the data's path (reference → raw → dbt → publication) with their checks,
for the months chosen; the freshness checks are not in it (they speak of the run's outcome, and are
evaluated by their own sensor). The schedule processes the previous month on the 10th at 06:00
(Europe/Paris), when deliveries due by the 5th are in.
"""

import dagster as dg

from pipelines.defs.dbt.checks import FRESHNESS_CHECKS

monthly_refresh = dg.define_asset_job(
    "monthly_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Référentiel, ingestion des livraisons, modèles dbt (marts et tests), publication pour la BI, "
                "rapport mensuel et export open data du ou des mois choisis.",
)

monthly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    monthly_refresh, name="monthly_refresh_schedule", day_of_month=10, hour_of_day=6,
    description="Le 10 à 6 h (Europe/Paris) : le mois précédent, dont les livraisons sont dues le 5.",
)
