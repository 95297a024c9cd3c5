"""``python -m pipelines rebuild``: a new warehouse from the archive and its journal alone.

For a lost or corrupted warehouse, and for the key's rotation (the same rebuild under a new
``ALI_PSEUDONYMISATION_KEY``, docs/operations.md). ``ALI_WAREHOUSE`` must name a file that does not
exist: a rebuild never overwrites a warehouse. The inbox is not read (it may be gone).

1. the journal is read and every original it needs checked (``pipelines.raw.replay.plan``): a
   missing or altered original, a torn or altered line stops here, before anything is written;
2. aside (``.<name>.reconstruction.duckdb`` beside the target), the reference files are loaded and
   every run's deliveries replayed through the ingestion code, in the order they were received;
3. the dbt models are built through the monthly job over all the months rebuilt (nothing is published:
   a rebuild aside must not replace what BI reads until the data team switches);
4. the aside file is renamed to ``ALI_WAREHOUSE``, which never exists half-built.

The target's lock is held throughout: a run started meanwhile waits instead of creating an empty warehouse.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import dagster as dg

from pipelines import warehouse
from pipelines.months import monthly_partitions, partition_range, range_tags
from pipelines.raw.journal import JournalError
from pipelines.raw.load import Settings
from pipelines.raw.pseudonymise import from_environment
from pipelines.raw.replay import RebuildError, plan, replay
from pipelines.reference.tables import load_reference
from pipelines.resources import env_path
from pipelines.timings import Stopwatch
from pipelines.warehouse_lock import warehouse_lock


def aside(target: Path) -> Path:
    return target.with_name(f".{target.stem}.reconstruction{target.suffix}")


def rebuild(target: Path, archive_dir: Path, reference_dir: Path, inbox: Path) -> tuple[int, list[str], list[str]]:
    """Rebuild ``target``; returns (files replayed, months rebuilt, months the retention made unrebuildable)."""
    if target.exists():
        raise RebuildError(f"{target} existe : une reconstruction n'écrase jamais un entrepôt. Nommer un nouveau "
                           "fichier dans ALI_WAREHOUSE (reconstruction à côté), ou déplacer l'ancien.")
    todo = plan(archive_dir)
    work = aside(target)
    with warehouse_lock(target, holder="reconstruction"):
        for leftover in (work, work.with_name(work.name + ".wal")):  # of an interrupted rebuild
            leftover.unlink(missing_ok=True)
        pseudo = from_environment()
        with warehouse.connect(work) as con:
            load_reference(con, reference_dir)
            pseudo.check_fingerprint(con)
            files = replay(con, todo, Settings(inbox=inbox, archive=archive_dir), pseudo, Stopwatch())
        result = build_marts(work, todo.months)
        if not result.success:
            failed = ", ".join(e.step_key for e in result.get_step_failure_events()) or "un contrôle bloquant"
            raise RebuildError(f"la construction des marts a échoué ({failed}, run {result.run_id}) ; "
                               f"l'entrepôt reconstruit est resté à part : {work}")
        if target.exists():
            raise RebuildError(f"{target} est apparu pendant la reconstruction ; le résultat est resté à part : {work}")
        os.rename(work, target)
    return files, todo.months, todo.lost_months


def build_marts(path: Path, months: list[str]) -> dg.ExecuteInProcessResult:
    """The dbt assets of the monthly job over ``months``, on the warehouse at ``path``."""
    from pipelines.definitions import job_for
    from pipelines.defs.dbt.assets import dbt_models, environment

    span = partition_range(months, monthly_partitions.get_partition_keys())
    if span is None:
        raise RebuildError("aucun mois à reconstruire dans le journal de l'archive")
    with environment({"ALI_WAREHOUSE": str(path)}):  # the resources and dbt's profile read it
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        job = job_for("monthly_refresh", instance)
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            return job.execute_in_process(instance=instance, tags=range_tags(*span), raise_on_error=False,
                                          asset_selection=list(dbt_models.keys),
                                          run_config={"loggers": {"progression": {}}})


def main() -> int:
    target = Path(env_path("ALI_WAREHOUSE"))
    started = time.monotonic()
    try:
        files, months, lost = rebuild(target, Path(env_path("ALI_ARCHIVE_DIR")), Path(env_path("ALI_REFERENCE_DIR")),
                                      Path(env_path("ALI_INBOX_DIR")))
    except (RebuildError, JournalError) as error:
        print(f"RECONSTRUCTION IMPOSSIBLE : {error}")
        return 1
    print(f"reconstruction réussie en {time.monotonic() - started:.1f} s : {files} fichier(s) rejoué(s), "
          f"{len(months)} mois ({months[0]} → {months[-1]}) — entrepôt : {target}")
    if lost:
        print(f"mois NON reconstruits (originaux purgés par la durée de conservation) : {', '.join(lost)} ; "
              "leurs marts ne subsistent que dans l'ancien entrepôt.")
    return 0
