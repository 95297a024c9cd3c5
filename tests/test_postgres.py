"""PostgreSQL for BI servers, on a real server (``pipelines/postgres``, ``publication/postgres.py``).

A refresh publishes every mart to PostgreSQL: the rows equal the DuckDB snapshot's, value and type;
each mart has its grain key and its definitions as comments; the BI role reads ``marts`` and nothing
else. A reader looping while two refreshes publish sees only complete publications; a copy killed
halfway leaves the previous schema readable; a planted identifier blocks the switch of every format.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest
import yaml
from conftest import PROJECT_ROOT, REFERENCE_DIR, child_env, group_alive, platform_env

from pipelines.crash_points import POINTS
from pipelines.inbox.headers import map_header
from pipelines.inbox.read import read_table
from pipelines.months import range_tags
from pipelines.postgres.ddl import create_table, grains, pg_type
from pipelines.postgres.roles import local_access
from pipelines.publication import postgres as pg_publication
from pipelines.publication.figures import marts
from pipelines.publication.snapshot import MARTS, stage, switch
from pipelines.sample import generate

POSTGRES_POINTS = ("postgres.copie", "postgres.bascule")
"""Kill points attacked here (the crash chain of test_crash.py runs without PostgreSQL)."""
PG_TYPES = {"text": "text", "integer": "integer", "bigint": "bigint", "double precision": "double precision",
            "boolean": "boolean", "date": "date", "timestamp": "timestamp without time zone"}


def test_each_mart_has_its_grain_types_and_a_comment_per_column():
    assert grains()["mart_ali_mensuel"] == (("periode", "code_ali"), True)
    assert grains()["mart_livraisons"] == (("periode", "source_code", "dataset"), False)  # a misplaced file
    assert all(columns for columns, _ in grains().values()) and set(grains()) == set(MARTS)
    assert (pg_type("DOUBLE"), pg_type("decimal(12,2)"), pg_type("date")) == ("double precision", "numeric(12,2)",
                                                                              "date")
    for mart in MARTS:
        statements = create_table("s", mart)
        assert len(statements) == 2 + len(marts()[mart].columns)
    assert "UNIQUE NULLS NOT DISTINCT (periode, source_code, dataset)" in create_table("s", "mart_livraisons")[0]


def test_the_local_server_is_owned_by_an_unprivileged_user_and_listens_on_loopback(postgres):
    data = postgres.cluster.data
    assert data.stat().st_uid != 0 and oct(data.stat().st_mode)[-3:] == "700"
    assert oct(postgres.cluster.socket.stat().st_mode)[-3:] == "700"
    with psycopg.connect(postgres.url) as con:
        assert con.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert con.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
    with pytest.raises(psycopg.OperationalError):  # a password is required on TCP
        psycopg.connect(postgres.bi_url.replace(postgres.bi_url.split(":")[2].split("@")[0], "faux"))


def test_the_local_access_is_drawn_once_and_kept_owner_only(postgres):
    assert local_access(postgres.cluster) == postgres.access  # same passwords: the roles keep working
    access = postgres.cluster.folder / "acces.env"
    assert oct(access.stat().st_mode)[-3:] == "600" and "ALI_PUBLISH_POSTGRES_URL=" in access.read_text()
    assert postgres.access["DAGSTER_POSTGRES_URL"].startswith("postgresql+psycopg2://ali_dagster:")


def test_the_production_instance_is_the_local_one_with_its_storage_in_postgres():
    local = yaml.safe_load((PROJECT_ROOT / "data" / "dagster" / "dagster.yaml").read_text())
    production = yaml.safe_load((PROJECT_ROOT / "data" / "dagster" / "dagster.postgres.yaml").read_text())
    assert production.pop("storage") == {"postgres": {"postgres_url": {"env": "DAGSTER_POSTGRES_URL"}}}
    assert production == local


def refresh_process(root: Path, url: str, kill_at: str | None = None) -> int:
    """``python -m pipelines refresh`` in its own session, as test_crash.py runs it; -9 = killed."""
    env = child_env(root, ALI_PUBLISH_POSTGRES_URL=url, **({"ALI_KILL_AT": kill_at} if kill_at else {}))
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "refresh"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = process.wait(timeout=600)
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


@pytest.fixture(scope="module")
def platform(postgres_server, tmp_path_factory):
    """Two sample months refreshed and published to PostgreSQL; the environment stays set for the module."""
    root = tmp_path_factory.mktemp("postgres")
    postgres_server.reset()
    generate(root / "sample", scale=0.02, start="2024-01", end="2024-03", reference_dir=REFERENCE_DIR)
    for month in ("2024-01", "2024-02"):
        shutil.copytree(root / "sample" / month, root / "inbox" / month)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in platform_env(root).items():
            mp.setenv(name, value)
        mp.delenv("ALI_DEMO_MODE", raising=False)
        mp.setenv("ALI_PUBLISH_POSTGRES_URL", postgres_server.url)
        assert refresh_process(root, postgres_server.url) == 0
        yield {"root": root, "server": postgres_server}


def pg_rows(url: str, table: str) -> list[tuple]:
    with psycopg.connect(url) as con:
        return ordered(con.execute(f"SELECT * FROM {table}").fetchall())


def duck_rows(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return ordered(con.execute(f"SELECT * FROM {table}").fetchall())


def ordered(rows: list[tuple]) -> list[tuple]:
    """Rows with each value's Python type beside it (an integer is not a float), in one order."""
    typed = [tuple((type(v).__name__, v) for v in row) for row in rows]
    return sorted(typed, key=lambda row: [(v is None, "" if v is None else v) for _, v in row])


def publication_row(url: str) -> tuple:
    with psycopg.connect(url) as con:
        return con.execute("SELECT run_id, published_at FROM marts.publication").fetchone()


def test_the_refresh_summary_says_where_bi_servers_read_never_the_password(platform):
    from pipelines.refresh import published_paths

    server = platform["server"]
    line = published_paths(platform["root"] / "published", "2024-02")[-1]
    assert line.split() == ["PostgreSQL", "(BI)", "schéma", "marts,", f"127.0.0.1:{server.cluster.port}/ali"]
    assert server.url.split(":")[2].split("@")[0] not in line


def test_every_mart_equals_the_duckdb_snapshot_value_for_value(platform):
    server, published = platform["server"], platform["root"] / "published" / "marts.duckdb"
    for table in (*MARTS, "publication"):
        assert pg_rows(server.bi_url, f"marts.{table}") == duck_rows(published, f"main.{table}"), table
    assert len(pg_rows(server.bi_url, "marts.mart_ali_mensuel")) > 20
    with psycopg.connect(server.bi_url) as con:
        for mart in MARTS:
            types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_schema = 'marts' AND table_name = %s", [mart]).fetchall())
            assert types == {c: PG_TYPES[pg_type(d.type)] for c, d in marts()[mart].columns.items()}, mart


def test_each_mart_has_its_key_and_its_definitions_as_comments(platform):
    with psycopg.connect(platform["server"].bi_url) as con:
        for mart in MARTS:
            columns, not_null = grains()[mart]
            kind, key = con.execute(
                "SELECT c.contype, array_agg(a.attname ORDER BY array_position(c.conkey, a.attnum)) "
                "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
                "WHERE c.conrelid = %s::regclass GROUP BY c.contype", [f"marts.{mart}"]).fetchone()
            assert (kind, tuple(key)) == ("p" if not_null else "u", columns), mart
            assert con.execute("SELECT obj_description(%s::regclass)", [f"marts.{mart}"]).fetchone()[0] == \
                marts()[mart].description
            for position, (name, d) in enumerate(marts()[mart].columns.items(), start=1):
                comment = con.execute("SELECT col_description(%s::regclass, %s)", [f"marts.{mart}", position])
                assert comment.fetchone()[0] == f"{d.libelle} — {d.description}", (mart, name)


def test_the_bi_role_reads_marts_and_nothing_else(platform):
    server = platform["server"]
    with psycopg.connect(server.url, autocommit=True) as owner:
        owner.execute("CREATE SCHEMA IF NOT EXISTS raw")
        owner.execute("CREATE TABLE IF NOT EXISTS raw.beneficiaires AS SELECT 'x' AS personne_id")
        owner.execute("CREATE SCHEMA IF NOT EXISTS en_attente_20990101000000000000_test")
        owner.execute("CREATE TABLE IF NOT EXISTS en_attente_20990101000000000000_test.t AS SELECT 1 AS n")
    refused = ["SELECT * FROM raw.beneficiaires", "SELECT * FROM en_attente_20990101000000000000_test.t",
               "INSERT INTO marts.mart_departement_mensuel (periode) VALUES ('2030-01-01')",
               "DELETE FROM marts.mart_ali_mensuel", "CREATE TABLE marts.x (n int)", "CREATE TABLE public.x (n int)",
               "CREATE TEMP TABLE x (n int)", "CREATE SCHEMA y", "DROP TABLE marts.mart_ali_mensuel"]
    with psycopg.connect(server.bi_url, autocommit=True) as bi:
        assert bi.execute("SELECT count(*) FROM marts.mart_ali_mensuel").fetchone()[0] > 0
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(statement)
    with psycopg.connect(server.url, autocommit=True) as owner:
        owner.execute("DROP SCHEMA raw CASCADE")
        owner.execute("DROP SCHEMA en_attente_20990101000000000000_test CASCADE")


READER = """
import os, sys, json, psycopg
url, stop, out, marts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
query = "SELECT p.run_id, " + ", ".join(f"p.lignes_{m} = (SELECT count(*) FROM marts.{m})" for m in marts) + \\
    " FROM marts.publication p"
seen, reads, incomplete, errors = set(), 0, 0, []
with psycopg.connect(url, autocommit=True) as con:
    while not os.path.exists(stop):
        try:
            row = con.execute(query).fetchone()
        except Exception as error:
            errors.append(repr(error))
            continue
        reads += 1
        seen.add(row[0])
        incomplete += not all(row[1:])
json.dump({"reads": reads, "runs": sorted(seen), "incomplete": incomplete, "errors": errors[:5]}, open(out, "w"))
"""


def test_a_reader_sees_only_complete_publications_while_two_refreshes_publish(platform, tmp_path):
    root, server = platform["root"], platform["server"]
    first = publication_row(server.bi_url)[0]
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, server.bi_url, str(stop), str(out), ",".join(MARTS)])
    try:
        shutil.copytree(root / "sample" / "2024-03", root / "inbox" / "2024-03")
        assert refresh_process(root, server.url) == 0
        second = publication_row(server.bi_url)[0]
        resent = min((root / "inbox" / "2024-03").glob("ALI*/beneficiaires.csv"))
        resent.write_bytes(resent.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[0] + b"\n")  # a corrected re-send
        assert refresh_process(root, server.url) == 0
        third = publication_row(server.bi_url)[0]
    finally:
        stop.touch()
        reader.wait(timeout=60)
    seen = json.loads(out.read_text())
    assert len({first, second, third}) == 3
    assert seen["errors"] == [] and seen["incomplete"] == 0 and seen["reads"] > 100
    assert set(seen["runs"]) <= {first, second, third} and {first, third} <= set(seen["runs"])


def schemas(url: str) -> set[str]:
    with psycopg.connect(url) as con:
        return {n for (n,) in con.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                                          "AND nspname NOT IN ('information_schema', 'public')").fetchall()}


@pytest.mark.parametrize("point", POSTGRES_POINTS)
def test_a_publication_killed_in_postgres_leaves_the_previous_marts_readable(platform, point):
    root, server = platform["root"], platform["server"]
    before = publication_row(server.bi_url)
    marts_before = {m: pg_rows(server.bi_url, f"marts.{m}") for m in MARTS}
    resent = min((root / "inbox" / "2024-02").glob("ALI*/beneficiaires.csv"))
    resent.write_bytes(resent.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[0] + b"\n")
    assert refresh_process(root, server.url, kill_at=f"{point}#3" if point == "postgres.copie" else point) == \
        -signal.SIGKILL
    assert publication_row(server.bi_url) == before  # the previous marts, complete, still readable
    assert {m: pg_rows(server.bi_url, f"marts.{m}") for m in MARTS} == marts_before
    assert any(s.startswith("en_attente_") for s in schemas(server.url))  # the killed copy, unreadable by BI
    assert refresh_process(root, server.url) == 0
    after = publication_row(server.bi_url)
    assert after[1] > before[1]
    assert {s for s in schemas(server.url) if not s.startswith("remplace_")} == {"marts"}


def test_of_two_runs_the_one_that_staged_last_stays_published(platform, tmp_path):
    """Steps of two runs may interleave (the lock is taken per step): A stages, B stages, then the switches
    come in either order; B (the later read of the warehouse) ends published, in files and PostgreSQL."""
    server, warehouse = platform["server"], platform["root"] / "warehouse" / "ali.duckdb"
    for order in ("ab", "ba"):
        url, directory = server.fresh_database("ali_publication"), tmp_path / order
        staged = {run: stage(warehouse, directory, f"run-{run}", url) for run in "ab"}
        switched = {run: switch(directory, staged[run], url) for run in order}
        assert switched == {"a": order == "ab", "b": True}
        assert (directory / "current").resolve() == staged["b"].snapshot
        with psycopg.connect(url) as con:
            assert con.execute("SELECT run_id FROM marts.publication").fetchone() == ("run-b",)
        assert not any(p.name.endswith(".attente") for p in (directory / "snapshots").iterdir())
        assert {s for s in schemas(url) if not s.startswith("remplace_")} == {"marts"}


def test_a_copy_that_fails_drops_its_schema_and_leaves_the_marts_untouched(platform, tmp_path):
    server = platform["server"]
    before = {m: pg_rows(server.bi_url, f"marts.{m}") for m in (*MARTS, "publication")}
    broken = tmp_path / "marts.duckdb"  # a snapshot whose last mart has lost a column
    shutil.copy((platform["root"] / "published" / "marts.duckdb").resolve(), broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(f"ALTER TABLE main.{MARTS[-1]} DROP COLUMN {list(marts()[MARTS[-1]].columns)[-1]}")
    schema = pg_publication.staged_schema("20990101T000000000000-echec")
    with pytest.raises(Exception):
        pg_publication.stage(server.url, broken, schema, MARTS)
    assert schema not in schemas(server.url)
    assert {m: pg_rows(server.bi_url, f"marts.{m}") for m in (*MARTS, "publication")} == before


def test_every_postgres_kill_point_is_attacked():
    assert {p for p in POINTS if p.startswith("postgres.")} == set(POSTGRES_POINTS)


def test_a_planted_identifier_blocks_the_switch_of_every_format(platform):
    from pipelines.definitions import build_defs

    root, server = platform["root"], platform["server"]
    published = root / "published"
    files = {p: p.read_bytes() for p in (published / "current").resolve().rglob("*") if p.is_file()}
    marts_before = {m: pg_rows(server.bi_url, f"marts.{m}") for m in (*MARTS, "publication")}
    delivered = read_table(min((root / "inbox" / "2024-02").glob("ALI*/beneficiaires.csv")), {"matricule"})
    position = map_header(delivered.header, ("matricule",))[0]["matricule"]
    matricule = next(m for m in delivered.column(position).to_pylist() if m and m.strip().isdigit()).strip()
    with duckdb.connect(str(root / "warehouse" / "ali.duckdb")) as con:  # a model that leaks a matricule
        con.execute("UPDATE marts.mart_ali_mensuel SET nom_ali = ? WHERE periode = '2024-02-01'", [matricule])
    instance = dg.DagsterInstance.ephemeral()
    result = build_defs().resolve_job_def("monthly_refresh").execute_in_process(  # the publication's steps alone
        instance=instance, tags=range_tags("2024-02", "2024-02"), raise_on_error=False,
        op_selection=["publication__instantane", "publication__instantane_aucun_identifiant_publie",
                      "publication__marts"])
    check = next(e.asset_check_evaluation for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))
    places = {(f["lieu"], f["objet"].split(":")[0].split("/")[0]) for f in check.metadata["lieux"].value}
    assert not check.passed
    assert {("entrepot", "marts.mart_ali_mensuel"), ("publication", "snapshots"), ("publication", "postgres")} <= places
    assert matricule not in json.dumps({k: str(v.value) for k, v in check.metadata.items()})
    assert "publication__marts" not in {e.step_key for e in result.all_events if e.is_step_success}
    assert {p: p.read_bytes() for p in (published / "current").resolve().rglob("*") if p.is_file()} == files
    assert {m: pg_rows(server.bi_url, f"marts.{m}") for m in (*MARTS, "publication")} == marts_before
