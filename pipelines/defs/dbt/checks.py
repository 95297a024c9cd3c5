"""Checks of the marts beyond dbt's tests: are they complete, are they on time (both warnings).

- ``livraisons_attendues`` on ``mart_livraisons``: the mart holds every expected key; the check makes
  the missing ones visible in the UI: which expected sources have not delivered (ABSENT) or only
  sent rejected files (REJETE).
- ``freshness_check`` on each mart: the previous month's partition is built by the end of the 10th
  (Europe/Paris), the day the schedule runs it. ``build_time_partition_freshness_checks`` is marked
  superseded by ``FreshnessPolicy``, but that policy is evaluated per asset (any partition's
  materialization makes it fresh: a backfill of 2023 would hide a missing last month), while this
  check asks for the latest complete month's partition, which is the promise to management.
"""

import warnings

import dagster as dg

from pipelines import warehouse as wh
from pipelines.months import monthly_partitions, months_of
from pipelines.publication.snapshot import MARTS
from pipelines.resources import WarehouseResource

MISSING_SQL = """
SELECT strftime(periode, '%Y-%m') AS mois, source_code, dataset, statut
FROM marts.mart_livraisons
WHERE attendu AND statut <> 'LIVRE' AND list_contains($mois, strftime(periode, '%Y-%m'))
ORDER BY ALL
"""


@dg.asset_check(
    asset=["marts", "mart_livraisons"], name="livraisons_attendues", pool="warehouse",
    description="Sources attendues qui n'ont pas livré (ABSENT) ou dont tous les fichiers sont rejetés (REJETE).",
)
def livraisons_attendues(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    months = months_of(context)
    if not months:
        return dg.AssetCheckResult(passed=True, metadata={"mois": "aucun mois dans ce run"})
    with warehouse.lock(context), wh.connect(warehouse.path, read_only=True) as con:
        missing = con.execute(MISSING_SQL, {"mois": months}).fetchall()
    table = "| mois | source | jeu | statut |\n|---|---|---|---|\n" + "\n".join(
        f"| {m} | {s} | {d} | {st} |" for m, s, d, st in missing[:200])
    return dg.AssetCheckResult(
        passed=not missing, severity=dg.AssetCheckSeverity.WARN,
        metadata={"manquantes": len(missing), "detail": dg.MetadataValue.md(table)},
    )


MONTH_BUILT_BY = "0 0 11 * *"
"""Deadline of a month's marts: the end of the 10th of the next month (the schedule runs at 06:00)."""

with warnings.catch_warnings():  # superseded, not deprecated: see the module's docstring for why it stays
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    FRESHNESS_CHECKS = dg.build_time_partition_freshness_checks(
        assets=[dg.AssetKey(["marts", mart]) for mart in MARTS], deadline_cron=MONTH_BUILT_BY,
        timezone=monthly_partitions.timezone,
    )
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=FRESHNESS_CHECKS, name="marts_a_jour", default_status=dg.DefaultSensorStatus.RUNNING,
    )
