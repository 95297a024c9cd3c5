"""The verdict of a blocking privacy check (contract §5): no identifier of the inbox in clear where the run wrote.

The three checks (``aucun_identifiant_en_clair`` after ingestion, ``aucun_identifiant_publie`` and
``aucun_identifiant_diffuse`` after publication) are declared with the stage they guard, in
``pipelines/defs/ingest/checks.py`` and ``pipelines/defs/publish/checks.py``; this module is what
they share. Each re-reads the run's identifiers from the archive, scans what the run has produced
so far and a sample of the rest (``pipelines.privacy.scope``) and fails when one value is found,
which stops what depends on it (``STOPPED``). The full scan (every month's identifiers, every row,
every file) is ``aucun_identifiant_nulle_part``, run weekly by its own job. They open the warehouse
read-only, in pool ``warehouse`` and under its lock (a reader conflicts with a writer). Their
metadata holds counts and places only, never a value.
"""

from datetime import datetime
from pathlib import Path

import dagster as dg

from pipelines import warehouse as wh
from pipelines.months import months_of
from pipelines.privacy.scan import scan_places
from pipelines.privacy.scope import Scope
from pipelines.resources import InboxResource, PseudonymisationResource, PublishResource, WarehouseResource


def run_scope(context: dg.AssetCheckExecutionContext) -> Scope:
    """What the run wrote: its months, and the events and files since the run started or, when one of
    these checks has passed in the run already, since that check started (it read what came before:
    every check reads the run's log, the two of the publication stage its files)."""
    instance, run_id = context.instance, context.run.run_id
    record = instance.get_run_record_by_id(run_id)
    started = record.start_time if record and record.start_time else record.create_timestamp.timestamp()
    passed = {e.step_key: e.asset_check_evaluation.check_name
              for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
              if e.asset_check_evaluation.check_name in STOPPED and e.asset_check_evaluation.passed}
    events_since = files_since = started
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START):
        if entry.step_key in passed:
            events_since = max(events_since, entry.timestamp)
            if passed[entry.step_key] in READ_PUBLICATION:
                files_since = max(files_since, entry.timestamp)
    return Scope.of_run(months_of(context), files_since, run_id, events_since)


def privacy_verdict(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, inbox: InboxResource,
                    pseudonymisation: PseudonymisationResource, *, scan_warehouse: bool,
                    publish_dir: Path | None, everything: bool = False,
                    postgres_url: str | None = None) -> dg.AssetCheckResult:
    """The check's result: passed, or the places found (table, column, file, row: never a value).

    ``everything``: every month's identifiers against every row and file (the full scan), else the
    run's own against what it wrote and a sample."""
    with warehouse.lock(context):  # read-only, but DuckDB refuses a reader while another process writes
        months = all_months(warehouse.path) if everything else months_of(context)
        scope = None if everything else run_scope(context)
        scan = scan_places(
            warehouse.path, Path(inbox.archive_dir), months, context.run.run_id,
            key=pseudonymisation.load().key, scan_warehouse=scan_warehouse, publish_dir=publish_dir,
            instance=context.instance, scope=scope, postgres_url=postgres_url,
        )
    where = sorted({f.lieu for f in scan.findings})
    metadata = {**scan.metadata(), "portee": describe(scope, months)}
    return dg.AssetCheckResult(
        passed=scan.passed, metadata={**metadata, "detail": dg.MetadataValue.md(metadata["detail"]),
                                      "lieux": dg.MetadataValue.json(metadata["lieux"]),
                                      "que_faire": dg.MetadataValue.md(metadata["que_faire"] or "rien")},
        description=None if scan.passed else f"{len(scan.findings)} texte(s) contenant un identifiant en clair "
                                              f"({', '.join(where)}) : voir « detail » (lieux, jamais les valeurs).",
    )


def describe(scope: Scope | None, months: list[str]) -> str:
    """What the check read, in French, for the UI."""
    if scope is None:
        return f"complète : {len(months)} mois d'identifiants, toutes les lignes, tous les fichiers publiés"

    def at(t: float) -> str:
        return datetime.fromtimestamp(t).astimezone().strftime("%H:%M:%S")

    return (f"mois du run ({', '.join(scope.months) or 'aucun'}) et lignes sans mois ; fichiers publiés depuis "
            f"{at(scope.since)} et événements depuis {at(scope.events_since or scope.since)} ; échantillon du reste : "
            f"{scope.sample_rows} lignes par table, {scope.sample_files} fichiers")


def all_months(warehouse_path: str) -> list[str]:
    """Every month folder the manifest knows (the full scan's identifiers)."""
    with wh.connect(warehouse_path, read_only=True) as con:
        return [m for (m,) in con.execute("SELECT DISTINCT periode_dossier FROM raw.livraisons "
                                          "WHERE periode_dossier IS NOT NULL ORDER BY 1").fetchall()]


def privacy_check(*, asset: list[str], name: str, description: str, scan_warehouse: bool, scan_publication: bool,
                  after: tuple[dg.AssetKey, ...] = (), everything: bool = False) -> dg.AssetChecksDefinition:
    """A privacy check on ``asset`` that scans the warehouse and/or the publication directory: blocking,
    on what the run wrote; or, ``everything``, the full scan (not blocking: it runs on its own)."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=not everything, pool="warehouse",
                    additional_deps=list(after))
    def check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, inbox: InboxResource,
              pseudonymisation: PseudonymisationResource, publish: PublishResource):
        return privacy_verdict(context, warehouse, inbox, pseudonymisation, scan_warehouse=scan_warehouse,
                               publish_dir=Path(publish.directory) if scan_publication else None,
                               everything=everything, postgres_url=publish.postgres_url() if scan_publication else None)

    return check


READ_PUBLICATION = ("aucun_identifiant_publie", "aucun_identifiant_diffuse")
STOPPED = {
    "aucun_identifiant_en_clair": "ni dbt ni la publication n'ont tourné : l'instantané BI, les rapports et l'open "
                                  "data sont ceux du run précédent.",
    "aucun_identifiant_publie": "rien de ce run n'a été basculé : la BI (fichiers et PostgreSQL) lit toujours la "
                                "publication précédente ; ni rapport ni open data n'ont été écrits. L'instantané "
                                "préparé (snapshots/*.attente, schéma en_attente_*) sera purgé à la prochaine "
                                "publication.",
    "aucun_identifiant_diffuse": "les rapports et l'open data de ce run sont écrits : les retirer avant tout.",
}
"""What a failing check has stopped, and what was already published before it ran."""
