"""Named kill points: where the crash campaign (tests/test_crash.py) kills a refresh with SIGKILL.

Crash safety is a promise only if it is attacked: a refresh started with
``ALI_KILL_AT=<point>[#<n>]`` kills its whole process group (itself and a running dbt) with
``SIGKILL`` the n-th time it reaches ``<point>`` — no ``finally``, no rollback, no flush, as a power
cut of the process or the kernel's out-of-memory killer would. Without the variable a point costs
one dictionary lookup. The points sit where a crash would hurt most: between writing and switching,
inside open transactions, between files and between months (``POINTS`` lists them).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

POINTS = {
    "reference.avant_commit": "référentiel validé, transaction ouverte, tables remplacées mais non validées",
    "ingestion.archive_partielle": "copie d'un original dans l'archive écrite à moitié (nom temporaire)",
    "ingestion.archive": "un original archivé, rien d'autre",
    "ingestion.lecture": "fichier lu, le mois pas encore validé",
    "ingestion.validation": "mois validé (tables temporaires)",
    "ingestion.pseudonymisation": "mois pseudonymisé (tables temporaires)",
    "ingestion.ecriture": "au milieu de la transaction du mois : manifeste écrit, anciennes lignes supprimées, "
                          "nouvelles pas encore insérées",
    "ingestion.journal": "mois lu, validé, pseudonymisé et inscrit au journal de l'archive ; transaction pas encore "
                         "ouverte",
    "ingestion.avant_commit": "transaction du mois ouverte : manifeste, quarantaine et lignes brutes écrits",
    "ingestion.apres_commit": "mois validé en base, mois suivants pas encore traités",
    "dbt.evenement": "pendant le dbt build (dbt tué avec le run) : modèles et tests à moitié faits",
    "dbt.fin": "dbt build terminé, état d'analyse pas encore conservé",
    "publication.fichier_duckdb": "instantané : fichier DuckDB écrit, Parquet et CSV pas encore",
    "publication.parquet": "instantané : un Parquet écrit",
    "publication.csv": "instantané : un CSV écrit",
    "postgres.copie": "instantané : un mart copié dans le schéma PostgreSQL en attente, les suivants pas encore",
    "postgres.bascule": "transaction de bascule PostgreSQL ouverte : marts renommé à côté, nouveau schéma pas "
                        "encore validé",
    "publication.avant_bascule": "instantané contrôlé, renommé et basculé dans PostgreSQL, lien « current » pas "
                                 "encore basculé",
    "versions.lien_temporaire": "nouveau lien créé à côté, pas encore renommé sur l'ancien",
    "publication.apres_bascule": "lien basculé, anciens instantanés pas encore purgés",
    "versions.purge": "purge des anciennes versions en cours",
    "rapport.page": "une page du rapport mensuel écrite, les suivantes pas encore",
    "open_data.fichiers": "export open data écrit à côté, pas encore vérifié",
    "open_data.avant_bascule": "export vérifié et renommé, lien pas encore basculé",
}

_reached: Counter[str] = Counter()


def kill_point(name: str) -> None:
    """Kill the process group here if ``ALI_KILL_AT`` names this point (and this occurrence)."""
    target = os.environ.get("ALI_KILL_AT")
    if not target:
        return
    point, _, nth = target.partition("#")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(nth or 1):
        # the group only when this process leads it (a refresh started in its own session), so a
        # stray variable can never take a test runner or a shell down with it
        os.killpg(os.getpgrp(), signal.SIGKILL) if os.getpgrp() == os.getpid() else os.kill(os.getpid(), signal.SIGKILL)
