"""The inbox sensor: late and corrected files refresh their month without anyone acting.

The sensor requests, per tick, one run for each month that has new or changed files,
so late deliveries and corrected re-sends update their month's marts without anyone acting, and a
burst of 100 files dropped at once makes one run, not 100. A file still being written (modified
within ``ALI_INBOX_QUIET_SECONDS``, or changing while hashed) is left out of the cursor, so the first
tick that finds it settled sees it as new and requests its run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.inbox.discover import list_files, month_folders, stable_sha256
from pipelines.months import monthly_partitions
from pipelines.resources import env_path


def _manifest(warehouse: Path) -> dict[str, tuple[str, float]]:
    """fichier → (sha256, reception time) of what the warehouse already holds; {} if none yet."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT fichier, sha256, epoch(max(recu_le)) FROM raw.livraisons GROUP BY ALL"
        ).fetchall()
    return {f: (s, t) for f, s, t in rows}


def inbox_changes(inbox: Path, cursor: dict[str, list], known: dict[str, tuple[str, float]] | None):
    """(run requests, new cursor): one request per month with a file whose content or reception time changed.

    Only month folders that are partitions are watched: a file elsewhere belongs to no month, so no
    run is requested for it; the next run of any month records it as rejected (contract §1).

    ``cursor`` maps each file to [mtime, size, sha256]; a file is hashed only when its mtime or size
    moved. Without a cursor, ``known`` (the warehouse's manifest) says what is already ingested.
    """
    partitions = set(monthly_partitions.get_partition_keys())
    changed, new_cursor = defaultdict(list), {}
    for folder in [f for f in month_folders(inbox) if f in partitions]:
        for file in list_files(inbox, folder):
            mtime, size = file.recu_le.replace(tzinfo=dt.UTC).timestamp(), file.taille_octets
            previous = cursor.get(file.fichier)
            if previous and previous[:2] == [mtime, size]:
                new_cursor[file.fichier] = previous
                continue
            sha = stable_sha256(file)
            if sha is None:
                continue
            new_cursor[file.fichier] = [mtime, size, sha]
            if previous and previous[2] == sha:
                continue
            if not previous and known is not None and known.get(file.fichier, ("", 0.0))[0] == sha \
                    and known[file.fichier][1] >= mtime - 1e-3:
                continue
            changed[folder].append(f"{sha}:{mtime}:{file.fichier}")
    return [run_request(partition, files) for partition, files in sorted(changed.items())], new_cursor


def run_request(partition: str, files: list[str]) -> dg.RunRequest:
    """Run key = the month and the hash of its changed files' ``sha256:mtime:path``: the same change is
    never run twice, a new one always is, even an old version sent back (it takes force again)."""
    digest = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()
    names = sorted(f.split(":", 2)[2] for f in files)
    return dg.RunRequest(run_key=f"{partition}:{digest}", partition_key=partition, tags={
        "ali/fichiers": str(len(names)),
        "ali/premier_fichier": names[0],  # tag values are short: the run's log lists every file it ingests
    })


@dg.sensor(
    job_name="monthly_refresh", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Une exécution par mois ayant des fichiers nouveaux ou modifiés dans la boîte de dépôt.",
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    """Cursor = every inbox file's [mtime, size, sha256]; without one, the warehouse's manifest."""
    cursor = json.loads(context.cursor) if context.cursor else None
    known = None
    if cursor is None:
        try:
            known = _manifest(Path(env_path("ALI_WAREHOUSE")))
        except duckdb.IOException:
            return dg.SkipReason("entrepôt occupé par une exécution : état initial relevé au prochain passage")
    requests, new_cursor = inbox_changes(Path(env_path("ALI_INBOX_DIR")), cursor or {}, known)
    context.update_cursor(json.dumps(new_cursor, sort_keys=True))
    return requests or dg.SkipReason("aucun fichier nouveau ou modifié")
