"""Retention of the originals, with a fixed clock: the schedule's tick decides the day, the purge is exact.

Three months of hand-made deliveries; one original is shared by 2024-02 and 2024-03 (the same bytes
sent for both). On 1 March 2026 with 24 months kept, the first month kept is 2024-03: the originals
of 2024-01 and 2024-02 go, the shared one stays, and nothing else moves.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from conftest import BENEF_HEADER, PSEUDO, REFERENCE_DIR, benef_row

from pipelines.definitions import build_defs
from pipelines.defs.ingest.retention import retention_schedule
from pipelines.raw import journal
from pipelines.raw.load import Settings
from pipelines.raw.replay import plan, replay
from pipelines.raw.retention import first_kept, retention_months
from pipelines.reference.tables import load_reference
from pipelines.warehouse import connect

SHARED = "referent;fonction;etp;date_debut;date_fin\n"  # the same bytes for two months (rejected: columns)


@pytest.fixture
def archive(env, con, inbox, ingest, monkeypatch):
    monkeypatch.setenv("ALI_ARCHIVE_RETENTION_MONTHS", "24")
    for month, matricule in (("2024-01", "1111111"), ("2024-02", "2222222"), ("2024-03", "3333333")):
        inbox.put(f"{month}/ALI01/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row(matricule)]))
    for month in ("2024-02", "2024-03"):
        inbox.put(f"{month}/ALI02/conseillers.csv", SHARED)
    for month in ("2024-01", "2024-02", "2024-03"):
        ingest(month, f"run-{month}")
    return env["ALI_ARCHIVE_DIR"]


def tick(day: dt.datetime) -> dg.ExecuteInProcessResult:
    """The retention schedule evaluated at ``day``, and the run it requests, for real."""
    request = retention_schedule(dg.build_schedule_context(scheduled_execution_time=day))
    job = build_defs().resolve_job_def("purge_archive")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=request.run_config, instance=instance)
        assert result.success
        return result, {k: v.value for k, v in result.asset_materializations_for_node("archive__originaux")[0]
                        .metadata.items()}


def archived(con) -> dict[str, str | None]:
    return dict(con.execute("SELECT fichier, archive FROM raw.livraisons").fetchall())


def test_first_month_kept_and_the_setting():
    assert first_kept(dt.date(2026, 3, 1), 24) == "2024-03" and first_kept(dt.date(2026, 12, 31), 24) == "2024-12"
    assert first_kept(dt.date(2026, 1, 15), 1) == "2025-12"
    assert retention_months({}) == 24
    with pytest.raises(ValueError, match="ALI_ARCHIVE_RETENTION_MONTHS='0' : attendu un nombre entier de mois"):
        retention_months({"ALI_ARCHIVE_RETENTION_MONTHS": "0"})


def test_the_monthly_tick_purges_exactly_the_originals_past_retention(archive, con, inbox, tmp_path):
    before = archived(con)
    rows = con.execute("SELECT * FROM raw.beneficiaires ORDER BY ALL").fetchall()
    paris = ZoneInfo("Europe/Paris")
    result, metadata = tick(dt.datetime(2026, 3, 1, 3, 0, tzinfo=paris))
    assert (metadata["premier_mois_conserve"], metadata["originaux_purges"], metadata["mois_purges"]) == (
        "2024-03", 2, "2024-01, 2024-02")
    after = archived(con)
    purged = {f for f in before if before[f] != after[f]}
    assert purged == {"2024-01/ALI01/beneficiaires.csv", "2024-02/ALI01/beneficiaires.csv"}
    assert all(after[f] is None and not (archive / before[f]).exists() for f in purged)
    assert all((archive / after[f]).exists() for f in set(before) - purged)  # the shared original stays
    assert con.execute("SELECT * FROM raw.beneficiaires ORDER BY ALL").fetchall() == rows  # rows (and marts) stay
    assert sorted(p.relative_to(inbox.root).as_posix() for p in inbox.root.rglob("*.csv")) == [
        "2024-02/ALI02/conseillers.csv", "2024-03/ALI01/beneficiaires.csv", "2024-03/ALI02/conseillers.csv"]
    records = [e.record for e in journal.read(archive) if e.record["type"] == "purge"]
    assert sorted(r["archive"] for r in records) == sorted(before[f] for f in purged)

    assert tick(dt.datetime(2026, 3, 1, 3, 0, tzinfo=paris))[1]["originaux_purges"] == 0  # the same day again

    todo = plan(archive)  # a rebuild now leaves the purged months out, and says which
    assert todo.lost_months == ["2024-01", "2024-02"] and todo.months == ["2024-03"]
    rebuilt = connect(tmp_path / "rebuilt" / "ali.duckdb")
    load_reference(rebuilt, REFERENCE_DIR)
    replay(rebuilt, todo, Settings(inbox.root, archive), PSEUDO)
    assert rebuilt.execute("SELECT fichier FROM raw.livraisons ORDER BY ALL").fetchall() == [
        ("2024-03/ALI01/beneficiaires.csv",), ("2024-03/ALI02/conseillers.csv",)]

    _, metadata = tick(dt.datetime(2026, 4, 1, 3, 0, tzinfo=paris))  # a month later: 2024-03 and the shared one go
    assert (metadata["originaux_purges"], metadata["mois_purges"]) == (2, "2024-02, 2024-03")
    assert set(archived(con).values()) == {None}
