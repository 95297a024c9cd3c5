"""The monthly refresh job and its schedule; the weekly full privacy scan.

The job is every asset of the data's path (reference → raw → dbt → publication) with their checks,
for the months chosen; the freshness checks are not in it (they speak of the run's outcome, and are
evaluated by their own sensor), nor the retention's purge (its own monthly job,
``defs/ingest/retention.py``). The schedule processes the previous month on the 10th at 06:00
(Europe/Paris), when deliveries due by the 5th are in. The full privacy scan (``aucun_identifiant_nulle_part``:
everything, where each run's checks read what the run wrote) runs on Sundays at 04:00, alone in its job.

The refresh runs its steps one after the other in the run's own process (``in_process_executor``):
they would anyway (each needs the previous one, and those that touch the warehouse share one slot
of the ``warehouse`` pool), a process per step cost ≈ 3 s each to import the code location, and the
privacy checks reuse the identifiers the ingestion read (``pipelines/privacy/kept.py``).
"""

import dagster as dg

from pipelines.defs.dbt.checks import FRESHNESS_CHECKS
from pipelines.defs.ingest.retention import archive_retention
from pipelines.defs.publish.checks import aucun_identifiant_nulle_part

monthly_refresh = dg.define_asset_job(
    "monthly_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*FRESHNESS_CHECKS, aucun_identifiant_nulle_part)
    - dg.AssetSelection.assets(archive_retention),
    description="Référentiel, ingestion des livraisons, modèles dbt (marts et tests), publication pour la BI, "
                "rapport mensuel et export open data du ou des mois choisis.",
    executor_def=dg.in_process_executor,
)

monthly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    monthly_refresh, name="monthly_refresh_schedule", day_of_month=10, hour_of_day=6,
    description="Le 10 à 6 h (Europe/Paris) : le mois précédent, dont les livraisons sont dues le 5.",
)

privacy_scan = dg.define_asset_job(
    "controle_confidentialite",
    selection=dg.AssetSelection.checks(aucun_identifiant_nulle_part),
    description="Contrôle complet de confidentialité : les identifiants de toutes les livraisons archivées contre "
                "tout l'entrepôt et tous les fichiers publiés.",
)

privacy_scan_schedule = dg.ScheduleDefinition(
    name="controle_confidentialite_hebdomadaire", job=privacy_scan, cron_schedule="0 4 * * 0",
    execution_timezone="Europe/Paris", description="Le dimanche à 4 h (Europe/Paris) : le contrôle complet.",
)
