"""The ingestion stage's blocking privacy check: no identifier of the run's deliveries in the warehouse.

``aucun_identifiant_en_clair`` on ``raw/livraisons`` runs after ingestion and scans every schema of
the warehouse (quarantine included), the run's event log, metadata and compute logs
(``pipelines.privacy.scan``). It fails → no dbt, no publication.
"""

from pipelines.privacy.verdict import privacy_check

aucun_identifiant_en_clair = privacy_check(
    asset=["raw", "livraisons"], name="aucun_identifiant_en_clair", scan_warehouse=True, scan_publication=False,
    description="Aucune valeur de matricule, nom, prénom, date de naissance ou NIR des livraisons du run (relues "
                "dans l'archive) ni la clé dans l'entrepôt, la quarantaine, le journal, les métadonnées ou les sorties "
                "du run ; sinon ni dbt ni publication.",
)
