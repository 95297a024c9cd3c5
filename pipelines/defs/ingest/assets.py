"""Ingestion stage: the reference files, then each month's deliveries of the inbox, into the warehouse.

- ``reference_data``: the CSV files of ``ALI_REFERENCE_DIR`` as ``reference.*`` tables, replaced in
  one transaction (an invalid file fails the run and the tables in force stay).
- ``raw_deliveries``: one multi-asset per month partition: every file of ``<inbox>/<YYYY-MM>/``
  into the ``raw`` schema: the four datasets, the deliveries manifest and the quarantine written
  together, in one transaction per month (``pipelines.raw.load``).
"""

from pathlib import Path

import dagster as dg

from pipelines.contract import DATASETS
from pipelines.inbox.discover import other_folders
from pipelines.months import monthly_partitions
from pipelines.privacy.guard import Guard
from pipelines.raw import journal
from pipelines.raw.checks import ingestion_problems
from pipelines.raw.load import ingest_folder
from pipelines.raw.summary import dataset_figures, month_summary, quarantine_by_rule, reported_by_rule
from pipelines.reference.tables import TABLES, load_reference
from pipelines.resources import InboxResource, PseudonymisationResource, ReferenceResource, WarehouseResource
from pipelines.timings import Stopwatch

REFERENCE_DESCRIPTIONS = {
    "communes": "Les 39 communes de Seine-Saint-Denis (code INSEE, nom, population municipale, EPT).",
    "communes_anciennes": "Communes fusionnées et leur commune d'accueil (93059 Pierrefitte → 93066 Saint-Denis).",
    "ali": "Les 22 Agences Locales d'Insertion : code, nom, porteur, communes desservies, date d'ouverture.",
    "partenaires": "Les structures partenaires : code, nom, thématique, territoire.",
    "actions": "Catalogue des actions par année : partenaire, thématique, places conventionnées, budget.",
    "freins_thematiques": "Thématiques d'actions qui répondent à chaque frein des bénéficiaires (un couple par ligne).",
    "objectifs": "Objectifs du Département (conseillers, places, budget, ALI ouvertes).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["reference", t.name], description=REFERENCE_DESCRIPTIONS[t.name], group_name="reference",
                     kinds={"duckdb", "csv"})
        for t in TABLES
    ],
    pool="warehouse",
)
def reference_data(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, reference_files: ReferenceResource
):
    """Validate every reference file, then replace the ``reference`` schema in one transaction.

    An invalid file fails the run with every problem listed; the tables in force stay unchanged.
    """
    with warehouse.lock(context), warehouse.connect() as con:
        counts = load_reference(con, Path(reference_files.directory))
    for table in TABLES:
        yield dg.MaterializeResult(
            asset_key=["reference", table.name],
            metadata={"lignes": dg.MetadataValue.int(counts[table.name]), "fichier": table.file},
        )


RAW_DESCRIPTIONS = {
    **{name: f"Lignes valides et pseudonymisées des livraisons « {name} » en vigueur ({d.description})."
       for name, d in DATASETS.items()},
    "livraisons": "Manifeste : chaque fichier reçu, son empreinte SHA-256, son statut, ses comptes de lignes, "
                  "son motif de rejet et la version en vigueur.",
    "quarantaine": "Lignes écartées avec leurs motifs (fichier, ligne, colonne, règle) ; jamais d'identifiant.",
    "signalements": "Anomalies signalées sans blocage, par mois et ALI : référent inconnu, action prescrite "
                    "inconnue, personne accompagnée par deux ALI.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", name], description=text, group_name="raw", kinds={"duckdb"},
                     deps=[spec.key for spec in reference_data.specs])
        for name, text in RAW_DESCRIPTIONS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "ingestion_coherente", asset=["raw", "livraisons"], blocking=True,
            description="Chaque fichier du mois est au manifeste, ses comptes de lignes s'additionnent et une "
                        "seule livraison est en vigueur par clé ; sinon les marts ne sont pas reconstruits.",
        )
    ],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse",
)
def raw_deliveries(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inbox: InboxResource,
    pseudonymisation: PseudonymisationResource,
):
    """Archive, read, validate, quarantine, pseudonymise and load each month of the run.

    Files already processed (same path and content) are skipped, so a re-run changes nothing.
    Folders of the inbox that are not a month are rejected file by file in every run that sees them.
    Files still being written are left for a later run (logged, not recorded, not a failed check).
    """
    months = list(context.partition_keys)
    pseudo = pseudonymisation.load()
    if pseudo.demo:
        context.log.warning("MODE DÉMO : clé de pseudonymisation de démonstration ; jamais de données réelles.")
    settings = inbox.settings
    clock = Stopwatch()
    deferred: list[tuple[str, str]] = []
    with warehouse.lock(context), warehouse.connect() as con:
        pseudo.check_fingerprint(con)
        folders = [*months, *other_folders(settings.inbox)]
        journal.append(settings.archive, [journal.run_record(context.run.run_id, months, folders)])
        with clock.stage("garde"):
            guard = Guard(con, settings.archive, months, context.run.run_id)
        for folder in folders:
            processed = ingest_folder(con, settings, folder, pseudo, context.run.run_id, clock, deferred, guard)
            if processed:
                context.log.info(f"{folder} : {processed} fichier(s) traité(s)")
        for fichier, why in deferred:
            context.log.warning(f"{fichier} laissé pour un prochain run : {why}")
        summary = month_summary(con, months)
        figures = dataset_figures(con, months)
        rules = quarantine_by_rule(con, months)
        reported = reported_by_rule(con, months)
        problems = ingestion_problems(con, settings.inbox, months, {fichier for fichier, _ in deferred})
    for name in DATASETS:
        loaded, quarantined, rejected = figures.get(name, (0, 0, 0))
        yield dg.MaterializeResult(
            asset_key=["raw", name],
            metadata={"lignes_chargees": loaded, "lignes_quarantaine": quarantined, "fichiers_rejetes": rejected},
        )
    totals = {k: sum(r[k] for r in summary) for k in ("fichiers_recus", "fichiers_valides", "fichiers_rejetes")}
    yield dg.MaterializeResult(asset_key=["raw", "livraisons"],
                               metadata={**totals, "fichiers_en_attente": len(deferred), **clock.metadata()})
    yield dg.AssetCheckResult(
        check_name="ingestion_coherente", asset_key=["raw", "livraisons"], passed=not problems,
        metadata={"problemes": len(problems), "exemples": "\n".join(problems[:20])},
    )
    yield dg.MaterializeResult(asset_key=["raw", "signalements"], metadata=reported)
    yield dg.MaterializeResult(
        asset_key=["raw", "quarantaine"],
        metadata={
            "lignes_quarantaine": sum(r["lignes_quarantaine"] for r in summary),
            "motifs": dg.MetadataValue.md(
                "| règle | lignes |\n|---|---|\n" + "\n".join(f"| {r} | {n} |" for r, n in rules)
            ),
        },
    )
