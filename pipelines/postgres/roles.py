"""The databases and roles of a deployment, and the access file of the local cluster.

- ``ali_publication`` owns database ``ali``: each publication creates a schema there, fills it and
  swaps it with ``marts`` (``pipelines/publication/postgres.py``).
- ``ali_bi`` may connect to ``ali`` and read ``marts``, nothing else: no other schema, no write, no
  CREATE, no temporary table (``REVOKE ALL … FROM PUBLIC``). Each swap grants it the new ``marts``.
- ``ali_dagster`` owns database ``dagster``: Dagster's runs, event logs and schedules.

A production server gets the same statements from its DBA (``PROVISION_SQL``, docs/operations.md),
with passwords from the secret store. The local cluster draws random ones once and keeps them in
``<cluster>/acces.env`` (owner-only), the environment to source before a run.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.postgres.cluster import Cluster

ROLES = ("ali_publication", "ali_bi", "ali_dagster")
DATABASES = {"ali": "ali_publication", "dagster": "ali_dagster"}
PROVISION_SQL = {
    "ali": ["REVOKE ALL ON DATABASE ali FROM PUBLIC", "GRANT CONNECT ON DATABASE ali TO ali_bi",
            "REVOKE ALL ON SCHEMA public FROM PUBLIC"],
    "dagster": ["REVOKE ALL ON DATABASE dagster FROM PUBLIC"],
}


def provision(superuser_dsn: str, passwords: dict[str, str]) -> None:
    """Create (or update the passwords of) the roles, the two databases and their privileges."""
    with psycopg.connect(superuser_dsn, autocommit=True) as con:
        for role in ROLES:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            con.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(passwords[role])))
        for database, owner in DATABASES.items():
            if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
                con.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database),
                                                                          sql.Identifier(owner)))
    for database, statements in PROVISION_SQL.items():
        with psycopg.connect(superuser_dsn.replace("dbname=postgres", f"dbname={database}"), autocommit=True) as con:
            for statement in statements:
                con.execute(statement)


def url(cluster: Cluster, role: str, password: str, database: str) -> str:
    return f"postgresql://{role}:{password}@127.0.0.1:{cluster.port}/{database}"


def local_access(cluster: Cluster) -> dict[str, str]:
    """Start the local cluster, provision it, and return (and keep in ``acces.env``) the platform's
    variables: ``ALI_PUBLISH_POSTGRES_URL``, ``ALI_BI_POSTGRES_URL``, ``DAGSTER_POSTGRES_URL``."""
    cluster.start()
    path = cluster.folder / "acces.env"
    passwords = _read(path) if path.exists() else {role: secrets.token_urlsafe(24) for role in ROLES}
    provision(cluster.superuser_dsn(), passwords)
    access = {
        "ALI_PUBLISH_POSTGRES_URL": url(cluster, "ali_publication", passwords["ali_publication"], "ali"),
        "ALI_BI_POSTGRES_URL": url(cluster, "ali_bi", passwords["ali_bi"], "ali"),
        # the driver named: SQLAlchemy 2.1 takes psycopg 3 for a bare postgresql://, whose server-side
        # parameters break dagster-postgres 0.29's "NOTIFY run_events, %(notify_id)s" (the sensor's ticks fail)
        "DAGSTER_POSTGRES_URL": url(cluster, "ali_dagster", passwords["ali_dagster"], "dagster").replace(
            "postgresql://", "postgresql+psycopg2://"),
    }
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text("".join(f"{name}={value}\n" for name, value in access.items()))
    return access


def _read(path: Path) -> dict[str, str]:
    """The passwords back from the URLs of ``acces.env``."""
    found = {}
    for line in path.read_text().splitlines():
        value = line.partition("=")[2]
        role, _, rest = value.partition("://")[2].partition(":")
        found[role] = rest.rpartition("@")[0]
    return found
