"""Consistency of a month's ingestion: the blocking check between the raw layer and the marts.

If a file of the month is not in the manifest, if a file's counts do not add up, or if a key has
two deliveries in force, the marts must not be rebuilt on top of it. A file deliberately left for a
later run (still being written: see ``pipelines.inbox.discover``) is not a problem: it is not listed
while it is recent, and the run passes the ones it deferred for having changed under it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import duckdb

from pipelines.inbox.discover import list_files

CHECKS_SQL = """
SELECT 'lignes_incoherentes', fichier FROM raw.livraisons
WHERE periode_dossier IN (SELECT unnest($mois)) AND statut = 'VALIDE'
  AND lignes_lues IS DISTINCT FROM lignes_chargees + lignes_quarantaine + lignes_ignorees
UNION ALL
SELECT 'plusieurs_en_vigueur', periode_dossier || '/' || source_code || '/' || dataset FROM raw.livraisons
WHERE periode_dossier IN (SELECT unnest($mois)) AND en_vigueur GROUP BY ALL HAVING count(*) > 1
"""


def ingestion_problems(con: duckdb.DuckDBPyConnection, inbox: Path, months: list[str],
                       deferred: Collection[str] = ()) -> list[str]:
    """Every inconsistency of the ingestion of ``months`` (empty list = consistent)."""
    latest = dict(
        con.execute(
            "SELECT fichier, max(recu_le) FROM raw.livraisons WHERE periode_dossier IN (SELECT unnest($mois)) "
            "GROUP BY fichier", {"mois": months},
        ).fetchall()
    )
    problems = [
        f"non_traite : {file.fichier}"
        for month in months
        for file in list_files(inbox, month)
        if (file.fichier not in latest or latest[file.fichier] < file.recu_le) and file.fichier not in deferred
    ]
    problems += [f"{rule} : {what}" for rule, what in con.execute(CHECKS_SQL, {"mois": months}).fetchall()]
    return problems
