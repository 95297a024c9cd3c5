"""The publication stage's blocking privacy checks: nothing published holds an identifier of the run's deliveries.

- ``aucun_identifiant_publie`` on ``publication/instantane``: the warehouse with the dbt layers built,
  every file of the publication directory (the staged snapshot included) and the PostgreSQL schemas.
  It runs BEFORE the switch (write, audit, publish): fails → nothing of the run becomes readable, no
  report, no open data.
- ``aucun_identifiant_diffuse`` on ``publication/open_data``, once the monthly reports and the
  senders' receipts are written too: the publication directory and the whole event log of the run.
  Fails → the run fails.

Both read what the run wrote and a sample of the rest (``pipelines/privacy/scope.py``).
``aucun_identifiant_nulle_part`` reads everything: every month's identifiers against every row of the
warehouse and every published file, weekly, in its own job (``controle_confidentialite``); it does
not block (no run depends on it), it fails loudly.
"""

import dagster as dg

from pipelines.defs.publish.receipts import RECEIPTS_KEY
from pipelines.privacy.verdict import privacy_check

aucun_identifiant_publie = privacy_check(
    asset=["publication", "instantane"], name="aucun_identifiant_publie", scan_warehouse=True, scan_publication=True,
    description="Avant la bascule : aucune valeur d'identifiant des livraisons du run ni la clé dans l'entrepôt "
                "(modèles dbt compris), l'instantané préparé et les fichiers publiés (DuckDB, Parquet, CSV, rapports, "
                "open data), le schéma PostgreSQL en attente, le journal ou les métadonnées du run ; sinon rien "
                "n'est basculé, ni rapport ni open data.",
)

aucun_identifiant_diffuse = privacy_check(
    asset=["publication", "open_data"], name="aucun_identifiant_diffuse", scan_warehouse=False, scan_publication=True,
    after=(dg.AssetKey(["publication", "rapport_mensuel"]), RECEIPTS_KEY),
    description="Après les rapports mensuels, les accusés de réception et l'open data : aucune valeur "
                "d'identifiant des livraisons du run ni la clé dans les fichiers publiés ni dans tout le journal "
                "du run.",
)

aucun_identifiant_nulle_part = privacy_check(
    asset=["raw", "livraisons"], name="aucun_identifiant_nulle_part", scan_warehouse=True, scan_publication=True,
    everything=True,
    description="Contrôle complet, chaque semaine (job controle_confidentialite) : les identifiants de toutes les "
                "livraisons archivées contre chaque ligne de l'entrepôt et chaque fichier publié. Les contrôles "
                "bloquants d'un run ne lisent que ce que le run a écrit et un échantillon du reste.",
)
