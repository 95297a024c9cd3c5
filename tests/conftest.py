"""Shared fixtures: a real DuckDB warehouse with the reference loaded, and a temporary inbox."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import tempfile
from pathlib import Path

import duckdb
import pytest

from pipelines.raw.load import Settings, ingest_folder
from pipelines.raw.pseudonymise import Pseudonymiser
from pipelines.reference.tables import load_reference
from pipelines.warehouse import connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by .ci/setup; never downloaded at test time
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEST_KEY = b"cle-de-test-jamais-utilisee-en-production-0123456789"
PSEUDO = Pseudonymiser(TEST_KEY)

BENEF_HEADER = (
    "matricule;organisme;nom;prenom;date_naissance;sexe;commune;date_orientation;date_premier_rdv;"
    "date_entree;date_contrat;date_sortie;motif_sortie;referent;nb_entretiens;heures_activite;freins;actions"
)


def pytest_configure(config):
    """Refresh the dbt manifest before the code location is imported (models may have changed)."""
    import subprocess
    import sys

    project = Path(__file__).resolve().parents[1] / "dbt_project"
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run([str(dbt), "parse", "--profiles-dir", ".", "--quiet"], cwd=project, check=True)


def benef_row(matricule="1234567", organisme="CAF", naissance="1980-04-03", sexe="F", commune="93001",
              orientation="2024-02-01", rdv="2024-02-10", entree="2024-03-01", contrat="", sortie="",
              motif="", referent="R1", entretiens="2", heures="", freins="", actions="",
              nom="Martin", prenom="Zoé") -> str:
    """A valid ``beneficiaires`` row for March 2024 (``;``-separated), with one value changed at will."""
    return ";".join([matricule, organisme, nom, prenom, naissance, sexe, commune, orientation, rdv, entree,
                     contrat, sortie, motif, referent, entretiens, heures, freins, actions])


def platform_env(root: Path) -> dict[str, str]:
    """Every path of the platform under ``root`` (nothing of a test lands in the project's data/).

    No quiet period: tests write their inbox files just before the run (the quiet period has its
    own tests in ``test_hostile.py``)."""
    return {
        "ALI_INBOX_QUIET_SECONDS": "0",
        "ALI_INBOX_DIR": str(root / "inbox"),
        "ALI_ARCHIVE_DIR": str(root / "archive"),
        "ALI_WAREHOUSE": str(root / "warehouse" / "ali.duckdb"),
        "ALI_PUBLISH_DIR": str(root / "published"),
        "ALI_REFERENCE_DIR": str(REFERENCE_DIR),
        "ALI_PSEUDONYMISATION_KEY": TEST_KEY.decode(),
    }


def group_alive(pgid: int) -> list[int]:
    """Live processes of a process group, read from /proc (zombies aside: this container's init
    may not reap them)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def warehouse_rows(path: Path) -> dict[str, list[tuple]]:
    """Every table and view of ``raw`` and ``marts``, row for row (a rebuild must give them back), but
    for the processing time and run of a manifest row."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                            "WHERE table_schema IN ('raw', 'marts') ORDER BY ALL").fetchall()
        return {name: con.execute(f"SELECT * {'EXCLUDE (traite_le, run_id)' if name == 'raw.livraisons' else ''} "
                                  f"FROM {name} ORDER BY ALL").fetchall() for (name,) in names}


def child_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``python -m pipelines …`` subprocess on the platform under ``root``: this
    process's, without a Dagster home, the demo mode or a kill point, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "ALI_DEMO_MODE", "ALI_KILL_AT")}
    return {**env, **platform_env(root), **extra}


def rebuild_cli(root: Path, target: Path, **changes: str):
    """``python -m pipelines rebuild`` on the platform under ``root`` into ``target`` (a subprocess)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "pipelines", "rebuild"], capture_output=True, text=True,
                          env=child_env(root, ALI_WAREHOUSE=str(target), **changes), timeout=900, cwd=PROJECT_ROOT)


def refreshed_sample(root: Path, scale: float, start: str, end: str) -> dict[str, Path]:
    """Sample deliveries of ``start``..``end`` through the real refresh (ingestion, dbt, publication…).

    Returns the platform's paths (inbox, archive, warehouse, publish dir) under ``root``."""
    import dagster as dg

    from pipelines.refresh import run_refresh
    from pipelines.sample import generate

    env = platform_env(root)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("ALI_DEMO_MODE", raising=False)
        generate(Path(env["ALI_INBOX_DIR"]), scale=scale, start=start, end=end, reference_dir=REFERENCE_DIR)
        assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    return {name: Path(value) for name, value in env.items() if name.endswith(("DIR", "HOUSE"))}


def free_port() -> int:
    """A port nobody listens on, on loopback (a webserver, a PostgreSQL server of the tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A real PostgreSQL server of this test process (``pipelines/postgres``), provisioned as in production."""

    def __init__(self, folder: Path):
        from pipelines.postgres.cluster import Cluster
        from pipelines.postgres.roles import local_access

        self.cluster = Cluster(folder, free_port())  # one server per xdist worker
        self.access = local_access(self.cluster)
        self.url, self.bi_url = self.access["ALI_PUBLISH_POSTGRES_URL"], self.access["ALI_BI_POSTGRES_URL"]

    def fresh_database(self, owner: str = "ali_dagster") -> str:
        """A new empty database owned by ``owner`` (Dagster's storage of one test, a publication of its
        own); the URL of its owner."""
        import uuid

        import psycopg

        name = f"dagster_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.cluster.superuser_dsn(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name} OWNER {owner}")
        url = {"ali_dagster": "DAGSTER_POSTGRES_URL", "ali_publication": "ALI_PUBLISH_POSTGRES_URL"}[owner]
        return self.access[url].rsplit("/", 1)[0] + f"/{name}"

    def reset(self) -> None:
        """Drop every schema the publication created (a test starts from an empty database)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as con:
            for (name,) in con.execute("SELECT nspname FROM pg_namespace WHERE nspowner = current_user::regrole "
                                       "AND nspname <> 'public'").fetchall():
                con.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(scope="session")
def postgres_server():
    """Missing PostgreSQL is a failure, not a skip: ``bash .ci/setup`` installs Debian's package. Its folder
    is in /tmp, world-traversable (the cluster's owner is ``postgres`` when the tests run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="ali93-pg-", dir="/tmp"))
    folder.chmod(0o755)
    server = Postgres(folder / "cluster")
    try:
        yield server
    finally:
        server.cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres(postgres_server, monkeypatch) -> Postgres:
    """The server with an empty publication database, and ``ALI_PUBLISH_POSTGRES_URL`` pointing at it."""
    postgres_server.reset()
    monkeypatch.setenv("ALI_PUBLISH_POSTGRES_URL", postgres_server.url)
    return postgres_server


INSTANCES = ("sqlite", "postgres")
"""The Dagster instances the automation tests run on: the local one (``data/dagster/dagster.yaml``, SQLite)
and production's (``data/dagster/dagster.postgres.yaml``, PostgreSQL)."""


def dagster_home(home: Path, kind: str, request, **changes) -> dict[str, str]:
    """A Dagster instance folder configured as the project's ``kind`` instance, with ``changes`` merged
    into its top-level sections; returns its environment (``DAGSTER_HOME``, ``DAGSTER_POSTGRES_URL``)."""
    import yaml

    source = PROJECT_ROOT / "data" / "dagster" / ("dagster.postgres.yaml" if kind == "postgres" else "dagster.yaml")
    config = yaml.safe_load(source.read_text())
    for section, value in changes.items():
        config.setdefault(section, {}).update(value)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    env = {"DAGSTER_HOME": str(home)}
    if kind == "postgres":
        env["DAGSTER_POSTGRES_URL"] = request.getfixturevalue("postgres_server").fresh_database()
    return env


SLOW_FIXTURES = {"browser", "published", "snapshot", "ingested", "command_run", "platform"}
"""Fixtures that start Chromium or run a full refresh: a test using one is in the ``slow`` tier."""


def pytest_collection_modifyitems(items):
    """Mark ``slow`` every test using a fixture of ``SLOW_FIXTURES`` (the other slow tests say so themselves)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright. Missing browser = failure, not a skip: CI must prove it."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run bash .ci/setup (installs Debian's chromium)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(autouse=True)
def no_instance_left_current():
    """Each test leaves no Dagster instance "current" behind (``pipelines.definitions.job_for`` says how one
    can be left, disposed, by the garbage collector): collected now, then cleared, not in a later test."""
    yield
    from dagster._core.storage.defs_state.base import _current_storage

    gc.collect()
    _current_storage.set(None)


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """The platform's environment pointing at ``tmp_path`` (real key, no demo mode)."""
    for name, value in platform_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALI_DEMO_MODE", raising=False)
    return {name: Path(value) for name, value in platform_env(tmp_path).items() if name.endswith(("DIR", "HOUSE"))}


class Inbox:
    """A temporary drop zone; files get explicit, increasing reception times."""

    def __init__(self, root: Path):
        self.root = root
        self.clock = 1_710_000_000

    def put(self, relative: str, content: str | bytes, *, encoding: str = "utf-8", mtime: int | None = None) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        self.clock += 60
        os.utime(path, (mtime or self.clock, mtime or self.clock))
        return path


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(tmp_path / "inbox")


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = connect(tmp_path / "warehouse" / "ali.duckdb")
    load_reference(connection, REFERENCE_DIR)
    yield connection
    connection.close()


def check_counts(con: duckdb.DuckDBPyConnection, folder: str) -> None:
    """``lignes_lues = lignes_chargees + lignes_quarantaine + lignes_ignorees`` for every valid file."""
    rows = con.execute(
        "SELECT fichier, statut, lignes_lues, lignes_chargees, lignes_quarantaine, lignes_ignorees "
        "FROM raw.livraisons WHERE periode_dossier = ?", [folder]
    ).fetchall()
    for fichier, statut, lues, chargees, quarantaine_, ignorees in rows:
        if statut == "VALIDE":
            assert lues == chargees + quarantaine_ + ignorees, fichier
        else:
            assert (lues, chargees, quarantaine_, ignorees) == (None, None, None, None), fichier


@pytest.fixture
def ingest(con, inbox, tmp_path, monkeypatch):
    """``ingest("2024-03")`` runs the real monthly ingestion of that folder, then checks the counts.

    No quiet period: some tests write files (workbooks) with the current time."""
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "0")

    def run(folder: str = "2024-03", run_id: str = "test") -> int:
        processed = ingest_folder(con, Settings(inbox.root, tmp_path / "archive"), folder, PSEUDO, run_id)
        check_counts(con, folder)
        return processed

    return run


@pytest.fixture
def load(ingest):
    """The ingestion of one month folder (default March 2024), counts checked."""
    return ingest


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def select(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def counts(con: duckdb.DuckDBPyConnection, fichier: str) -> tuple:
    m = manifest(con, fichier)
    return m["statut"], m["lignes_lues"], m["lignes_chargees"], m["lignes_quarantaine"], m["lignes_ignorees"]


def manifest(con: duckdb.DuckDBPyConnection, fichier: str) -> dict:
    cursor = con.execute("SELECT * FROM raw.livraisons WHERE fichier = ? ORDER BY recu_le DESC LIMIT 1", [fichier])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return dict(zip(names, rows[0])) if rows else {}


def quarantine(con: duckdb.DuckDBPyConnection, fichier: str) -> dict[int, list[tuple[str, str]]]:
    """ligne → [(colonne, regle)] of the quarantined rows of a file."""
    rows = con.execute(
        "SELECT ligne, [(m.colonne, m.regle) FOR m IN motifs] FROM raw.quarantaine WHERE fichier = ? ORDER BY ligne",
        [fichier],
    ).fetchall()
    return {ligne: [tuple(m.values()) if isinstance(m, dict) else tuple(m) for m in motifs] for ligne, motifs in rows}
