"""``python -m pipelines postgres start|stop|status``: the local PostgreSQL server of the platform."""

from __future__ import annotations

from pipelines.postgres.cluster import Cluster
from pipelines.postgres.roles import local_access


def main(action: str) -> int:
    cluster = Cluster.from_env()
    if action == "stop":
        cluster.stop()
        print(f"PostgreSQL arrêté ({cluster.folder})")
        return 0
    if action == "status":
        running = cluster.running()
        print(f"PostgreSQL {'en marche' if running else 'arrêté'} : {cluster.folder}, 127.0.0.1:{cluster.port}")
        return 0 if running else 1
    access = local_access(cluster)
    print(f"PostgreSQL en marche : {cluster.folder}, 127.0.0.1:{cluster.port}")
    print(f"variables ({', '.join(access)}) dans {cluster.folder / 'acces.env'} (mots de passe : ne pas afficher) ;")
    print(f"pour les charger : set -a; . {cluster.folder / 'acces.env'}; set +a")
    return 0
