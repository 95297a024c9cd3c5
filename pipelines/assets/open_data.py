"""Open data: the published marts restricted to what may leave the Département, under statistical secrecy.

Reads the published snapshot (``$ALI_PUBLISH_DIR/marts.duckdb``, read-only), never the warehouse, so
it needs no slot of the ``warehouse`` pool and exports exactly what BI users see. Unpartitioned: the
export is one whole snapshot (every month), like the files a portal harvests.

The blocking check ``secret_statistique`` re-reads the written CSV files and verifies them with
``secrecy.verify`` (independent of the suppression code) before they are made current: a failing
export is deleted, the previous open data stays in place, the check fails and so does the run. After
the switch the files are read once more through the stable path, so the check speaks of what is served.
"""

from pathlib import Path

import dagster as dg
import duckdb

from pipelines.publication.open_data import check_directory, export
from pipelines.publication.secrecy import TABLES
from pipelines.resources import PublishResource
from pipelines.timings import Stopwatch

KEY = ["publication", "open_data"]
CHECK = "secret_statistique"


def _problems_markdown(problems: list[str]) -> str:
    shown = "\n".join(f"- {p}" for p in problems[:50])
    return shown + (f"\n- … et {len(problems) - 50} autres" if len(problems) > 50 else "")


@dg.asset(
    key=KEY,
    group_name="publication",
    deps=[dg.AssetKey(["publication", "marts"])],
    kinds={"csv"},
    check_specs=[dg.AssetCheckSpec(
        CHECK, asset=KEY, blocking=True,
        description="Relit les CSV publiés : aucun compte de 1 à 10 publié, aucune cellule secrète recalculable "
                    "depuis les totaux publiés, aucun taux publié sur un compte secret.",
    )],
    description="Export open data (CSV UTF-8, « , », « s » = secret statistique) des marts par ALI, commune, "
                "action et département, avec secret primaire (1 à 10) et secondaire ; mart_livraisons exclu.",
)
def open_data(context: dg.AssetExecutionContext, publish: PublishResource):
    """Mask, write aside, verify, switch ``$ALI_PUBLISH_DIR/open_data`` to the new files."""
    directory = Path(publish.directory)
    clock = Stopwatch()
    with clock.stage("open_data"), duckdb.connect(str(directory / "marts.duckdb"), read_only=True) as con:
        done = export(con, directory / "open_data")
    counts = {"secret_primaire": done.suppression.primary, "secret_secondaire": done.suppression.secondary,
              "taux_masques": done.suppression.rates}
    if done.problems:
        yield dg.AssetCheckResult(check_name=CHECK, passed=False, metadata={
            **counts, "violations": len(done.problems),
            "detail": dg.MetadataValue.md(_problems_markdown(done.problems)),
        })
        raise dg.Failure(description=f"export open data refusé ({len(done.problems)} violation(s) du secret "
                                     f"statistique) : l'export précédent reste en place")
    served = check_directory(done.directory)
    yield dg.MaterializeResult(metadata={
        "dossier": dg.MetadataValue.path(str(done.directory)),
        "fichiers": dg.MetadataValue.md("\n".join(f"- `{t}.csv` ({done.rows[t]} lignes)" for t in TABLES)),
        **counts, **clock.metadata(),
    })
    yield dg.AssetCheckResult(check_name=CHECK, passed=not served, metadata={
        **counts, "violations": len(served), "detail": dg.MetadataValue.md(_problems_markdown(served) or "aucune"),
    })
