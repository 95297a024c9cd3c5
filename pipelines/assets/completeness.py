"""Completeness of the month's deliveries, as a (non-blocking) check on ``mart_livraisons``.

The mart holds every expected key; this check makes the missing ones visible in the UI: which
expected sources have not delivered (ABSENT) or only sent rejected files (REJETE).
"""

import dagster as dg

from pipelines import warehouse as wh
from pipelines.resources import WarehouseResource

MISSING_SQL = """
SELECT strftime(periode, '%Y-%m') AS mois, source_code, dataset, statut
FROM marts.mart_livraisons
WHERE attendu AND statut <> 'LIVRE' AND strftime(periode, '%Y-%m') BETWEEN $debut AND $fin
ORDER BY ALL
"""


def run_months(tags: dict[str, str]) -> tuple[str, str] | None:
    """First and last month of a run, from Dagster's partition tags."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return (start, end) if start and end else None


@dg.asset_check(
    asset=["marts", "mart_livraisons"], name="livraisons_attendues", pool="warehouse",
    description="Sources attendues qui n'ont pas livré (ABSENT) ou dont tous les fichiers sont rejetés (REJETE).",
)
def livraisons_attendues(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    months = run_months(dict(context.run.tags))
    if months is None:
        return dg.AssetCheckResult(passed=True, metadata={"mois": "aucun mois dans ce run"})
    with warehouse.lock(context), wh.connect(warehouse.path, read_only=True) as con:
        missing = con.execute(MISSING_SQL, {"debut": months[0], "fin": months[1]}).fetchall()
    table = "| mois | source | jeu | statut |\n|---|---|---|---|\n" + "\n".join(
        f"| {m} | {s} | {d} | {st} |" for m, s, d, st in missing[:200])
    return dg.AssetCheckResult(
        passed=not missing, severity=dg.AssetCheckSeverity.WARN,
        metadata={"manquantes": len(missing), "detail": dg.MetadataValue.md(table)},
    )
