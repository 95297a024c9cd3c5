"""``python -m pipelines refresh``: run the monthly job through Dagster and print what it did.

All months present in the inbox go in ONE Dagster run over a partition range (the assets have a
single-run backfill policy), so the run shows in the UI when ``DAGSTER_HOME`` is set.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from pipelines import warehouse
from pipelines.inbox.discover import month_folders, other_folders
from pipelines.months import monthly_partitions, partition_range, range_tags
from pipelines.publication.figures import affiche, definition
from pipelines.publication.parcours import lignes_resume
from pipelines.raw.summary import format_summary, month_summary, quarantine_by_rule
from pipelines.resources import env_path
from pipelines.warehouse_lock import warehouse_lock


def run_refresh(period: str | None = None, *, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """Execute ``monthly_refresh`` over ``period`` or over every month folder of the inbox."""
    from pipelines.definitions import job_for

    inbox = Path(env_path("ALI_INBOX_DIR"))
    months = [period] if period else month_folders(inbox)
    available = monthly_partitions.get_partition_keys()
    outside = sorted(set(months) - set(available))
    if outside:
        print(f"mois hors des partitions ({available[0]} → {available[-1]}), ignorés : {', '.join(outside)}")
    span = partition_range(months, available)
    if span is None:
        raise SystemExit(f"aucun mois à traiter dans {inbox}")
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = job_for("monthly_refresh", instance)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # dbt's log: in its dbt.log
        return job.execute_in_process(
            instance=instance,
            tags=range_tags(*span),
            run_config={"loggers": {"progression": {}}},
            raise_on_error=False,
        )


HEADLINE = ("ali_ouvertes", "ali_ayant_livre", "file_active", "personnes_multi_ali", "accompagnes_fin_mois",
            "etp_accompagnement", "objectif_conseillers", "places_conventionnees", "objectif_places",
            "places_occupees", "taux_occupation", "taux_sorties_positives")


def headline(con, month: str) -> list[str]:
    """The month's headline figures (mart_departement_mensuel), with the marts' labels and formats."""
    row = con.execute(f"SELECT {', '.join(HEADLINE)} FROM marts.mart_departement_mensuel "
                      "WHERE strftime(periode, '%Y-%m') = ?", [month]).fetchall()
    if not row:
        return [f"pas de ligne pour {month} dans marts.mart_departement_mensuel"]
    shown = [(definition("mart_departement_mensuel", c), v) for c, v in zip(HEADLINE, row[0])]
    return [f"Chiffres clés de {month} :", *(f"  {d.libelle:<30} {affiche(d.format, v)}" for d, v in shown)]


def published_paths(directory: Path, month: str) -> list[str]:
    """Where BI tools, Excel users and management find this run's results."""
    lines = ["Publication :"]
    for label, path in (("DuckDB (BI, lecture seule)", directory / "marts.duckdb"), ("Parquet", directory / "parquet"),
                        ("CSV (Excel)", directory / "csv"),
                        ("rapport du mois", directory / "rapports" / f"rapport_{month}.html"),
                        ("données ouvertes", directory / "open_data"),
                        ("accusés de réception", directory / "accuses")):
        if path.exists():
            lines.append(f"  {label:<28} {path}")
    url = os.environ.get("ALI_PUBLISH_POSTGRES_URL")
    if url:  # where, never the password
        where = urlsplit(url)
        lines.append(f"  {'PostgreSQL (BI)':<28} schéma marts, {where.hostname}:{where.port or 5432}{where.path}")
    return lines


def privacy_stop(evaluations, run_id: str, period: str | None) -> list[str]:
    """In French, for the data team: which privacy check stopped the run, where it found identifiers
    (place, object, column, cells, the sender's file and row: never a value), what is published, what to do."""
    from pipelines.privacy.verdict import STOPPED

    failed = [e for e in evaluations if not e.passed and e.check_name in STOPPED]
    if not failed:
        return []
    lines = []
    for evaluation in failed:
        metadata = {k: v.value for k, v in evaluation.metadata.items()}
        places = metadata.get("lieux") or []
        found = metadata.get("trouvailles", len(places))
        lines += [f"ARRÊT : le contrôle « {evaluation.check_name} » a trouvé {found} "
                  f"texte(s) contenant un identifiant en clair (run {run_id}).",
                  f"Publication : {STOPPED[evaluation.check_name]}", "Où (jamais la valeur) :"]
        lines += [f"  {p['lieu']} · {p['objet']} · colonne {p['colonne']} · {p['cellules']} cellule(s) · {p['nature']}"
                  + (f" · {p['origine']}" if p.get("origine") else f" · ligne {p['ligne']}") for p in places[:10]]
        if len(places) > 10:
            lines.append(f"  … et {len(places) - 10} autre(s) : métadonnée « detail » du contrôle dans l'interface")
        lines += ["Que faire :", *(f"  {line}" for line in str(metadata.get("que_faire", "")).splitlines())]
    lines.append("Ensuite : python -m pipelines refresh" + (f" --period {period}" if period else "")
                 + " (le contrôle se refait à chaque run).")
    return lines


def main(period: str | None) -> int:
    started = time.monotonic()
    result = run_refresh(period)
    elapsed = time.monotonic() - started
    path = env_path("ALI_WAREHOUSE")
    stop = [] if result.success else privacy_stop(result.get_asset_check_evaluations(), result.run_id, period)
    if stop:
        print("\n" + "\n".join(stop))
        return 1
    if not result.success:
        for event in result.get_step_failure_events():
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            print(f"{event.step_key} : {error.message.strip()}")
        print(f"ÉCHEC du run {result.run_id} ({elapsed:.1f} s). Chaque étape est atomique : celles qui ont réussi "
              "sont appliquées, celle qui a échoué n'a rien laissé à moitié ; relancer la même commande reprend "
              "le travail (docs/reliability.md).")
        return 1
    inbox = Path(env_path("ALI_INBOX_DIR"))
    months = [period] if period else month_folders(inbox)
    with warehouse_lock(path, shared=True), warehouse.connect(path, read_only=True) as con:
        rows = month_summary(con, [*months, *other_folders(inbox)])
        rules = quarantine_by_rule(con, months)
        figures = headline(con, max(months))
        parcours = lignes_resume(con, max(months))
    print(format_summary(rows))
    print("\nquarantaine par règle (motifs, une ligne peut en avoir plusieurs) :")
    for rule, count in rules:
        print(f"  {rule:<28} {count}")
    print("\n" + "\n".join(figures))
    print("\n" + "\n".join(parcours))
    print("\n" + "\n".join(published_paths(Path(env_path("ALI_PUBLISH_DIR")), max(months))))
    print(f"\nrun {result.run_id} réussi en {elapsed:.1f} s — entrepôt : {path}")
    return 0
