"""Completeness of the month's deliveries, as a (non-blocking) check on ``mart_livraisons``.

The mart holds every expected key; this check makes the missing ones visible in the UI: which
expected sources have not delivered (ABSENT) or only sent rejected files (REJETE).
"""

import dagster as dg

from pipelines import warehouse as wh
from pipelines.months import months_of
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
