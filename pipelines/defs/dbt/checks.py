"""Checks of the marts beyond dbt's tests: are they complete, are they on time (both warnings).

- ``livraisons_attendues`` on ``mart_livraisons``: the mart holds every expected key; the check makes
  the missing ones visible in the UI: which expected sources have not delivered (ABSENT) or only
  sent rejected files (REJETE). With the due date (retours.md: the 5th of M + 1, end of day,
  Europe/Paris): once it has passed, the missing datasets of M are a warning naming each source;
  before it, they are not due yet and the check passes, saying so (count and due date in its
  metadata), so a run of the 1st–5th does not warn about files still on their way.
- ``freshness_check`` on each mart: the previous month's partition is built by the end of the 10th
  (Europe/Paris), the day the schedule runs it. ``build_time_partition_freshness_checks`` is marked
  superseded by ``FreshnessPolicy``, but that policy is evaluated per asset (any partition's
  materialization makes it fresh: a backfill of 2023 would hide a missing last month), while this
  check asks for the latest complete month's partition, which is the promise to management.
"""

import datetime as dt
import warnings
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines import warehouse as wh
from pipelines.contract import ECHEANCE_JOUR
from pipelines.months import due_date, monthly_partitions, months_of
from pipelines.publication.snapshot import MARTS
from pipelines.resources import WarehouseResource

MISSING_SQL = """
SELECT strftime(periode, '%Y-%m') AS mois, source_code, dataset, statut
FROM marts.mart_livraisons
WHERE attendu AND statut <> 'LIVRE' AND list_contains($mois, strftime(periode, '%Y-%m'))
ORDER BY ALL
"""


PARIS = ZoneInfo(monthly_partitions.timezone)
SHOWN = 20
"""Sources named in the check's description; its metadata ``sources_en_retard`` names them all."""


def echeance(month: str) -> dt.datetime:
    """The end of the due day of ``month``'s delivery (``YYYY-MM``): midnight after the 5th of M + 1, Paris."""
    return dt.datetime.combine(due_date(month) + dt.timedelta(days=1), dt.time(), PARIS)


def completude(missing: list[tuple[str, str, str, str]], now: dt.datetime) -> dg.AssetCheckResult:
    """The check's verdict at ``now`` on ``missing`` rows (mois, source, jeu, statut): a warning naming
    each source whose month is past its due date; the months not due yet pass, and say so."""
    due = [row for row in missing if now >= echeance(row[0])]
    waiting = [row for row in missing if now < echeance(row[0])]
    par_source: dict[tuple[str, str], list[str]] = {}
    for mois, source, jeu, _ in due:
        par_source.setdefault((mois, source), []).append(jeu)
    noms = [f"{m} {s} ({', '.join(j)})" for (m, s), j in par_source.items()]
    sources = "; ".join(noms)
    pas_dues = sorted({m for m, *_ in waiting})
    en_attente = ", ".join(f"{m} (échéance le {due_date(m):%d/%m/%Y} fin de journée)" for m in pas_dues)
    if due:
        autres = f" … et {len(noms) - SHOWN} autre(s) (sources_en_retard)" if len(noms) > SHOWN else ""
        description = f"{len(noms)} source(s) en retard après l'échéance : {'; '.join(noms[:SHOWN])}{autres}"
    elif waiting:
        description = f"{len(waiting)} jeu(x) attendu(s) pas encore dû(s) : {en_attente}"
    else:
        description = "Toutes les livraisons attendues sont arrivées."
    table = "| mois | source | jeu | statut | échéance |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {m} | {s} | {d} | {st} | {'dépassée' if now >= echeance(m) else 'pas encore due'} |"
        for m, s, d, st in missing[:200])
    return dg.AssetCheckResult(
        passed=not due, severity=dg.AssetCheckSeverity.WARN, description=description,
        metadata={"manquantes": len(due), "sources_en_retard": sources or "aucune",
                  "pas_encore_dues": len(waiting), "echeances_a_venir": en_attente or "aucune",
                  "detail": dg.MetadataValue.md(table)},
    )


@dg.asset_check(
    asset=["marts", "mart_livraisons"], name="livraisons_attendues", pool="warehouse",
    description="Sources attendues qui n'ont pas livré (ABSENT) ou dont tous les fichiers sont rejetés (REJETE), "
                f"une fois passée l'échéance (le {ECHEANCE_JOUR} du mois suivant, fin de journée, heure de Paris) ; "
                "avant, "
                "elles ne sont pas encore dues.",
)
def livraisons_attendues(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    months = months_of(context)
    if not months:
        return dg.AssetCheckResult(passed=True, metadata={"mois": "aucun mois dans ce run"})
    with warehouse.lock(context), wh.connect(warehouse.path, read_only=True) as con:
        missing = con.execute(MISSING_SQL, {"mois": months}).fetchall()
    return completude(missing, dt.datetime.now(PARIS))


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
