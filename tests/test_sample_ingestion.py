"""The generated sample through the real Dagster refresh: no clear identifier anywhere, sane shares."""

from __future__ import annotations

import dagster as dg
import pytest
from conftest import REFERENCE_DIR, platform_env

from pipelines import warehouse
from pipelines.contract import DATASETS
from pipelines.inbox.discover import month_folders
from pipelines.inbox.headers import map_header, normalise_header
from pipelines.inbox.read import DUCKDB_FROM_BYTES, Unreadable, read_table
from pipelines.refresh import run_refresh
from pipelines.sample import generate

pytestmark = pytest.mark.slow  # a full refresh of the sample

IDENTIFIERS = ("matricule", "nom", "prenom", "date_naissance")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A small sample (3 months) refreshed once through Dagster into a real warehouse."""
    root = tmp_path_factory.mktemp("sample")
    summary = generate(root / "inbox", scale=0.05, start="2024-01", end="2024-03", reference_dir=REFERENCE_DIR)
    env = {**platform_env(root), "ALI_WAREHOUSE": str(root / "ali.duckdb")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        instance = dg.DagsterInstance.ephemeral()
        result = run_refresh(instance=instance)
    assert result.success
    return root, summary, instance, result


def sample_identifiers(inbox) -> set[str]:
    """Every identifier value of the sample files, as delivered and as normalised."""
    values: set[str] = set()
    for path in inbox.rglob("*"):
        if not path.is_file():
            continue
        dataset = DATASETS.get(normalise_header(path.stem))
        if dataset is None:
            continue
        try:
            table = read_table(path, {normalise_header(c) for c in dataset.column_names})
        except Unreadable:
            continue
        positions, _ = map_header(table.header, dataset.column_names)
        for name in IDENTIFIERS:
            if name in positions:
                for _, cells in table.records():
                    value = cells[positions[name]].strip() if positions[name] < len(cells) else ""
                    if len(value) >= 3:
                        values.add(value)
                        if name == "matricule" and value.isdigit():
                            values.add(value.zfill(7))
                        if name == "date_naissance" and "/" in value:
                            d, m, y = value.split("/")
                            values.add(f"{y}-{m.zfill(2)}-{d.zfill(2)}")
    return values


def test_no_clear_identifier_in_any_table_column_or_metadata(loaded):
    root, _, instance, result = loaded
    identifiers = sample_identifiers(root / "inbox")
    assert len(identifiers) > 500
    con = warehouse.connect(root / "ali.duckdb", read_only=True)
    con.execute("CREATE TEMP TABLE ids AS SELECT unnest(?::VARCHAR[]) AS v", [sorted(identifiers)])
    columns = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('raw', 'reference') AND table_catalog = current_database()"
    ).fetchall()
    assert len(columns) > 60
    leaks = []
    for schema, table, column in columns:
        found = con.execute(
            f'SELECT count(*) FROM (SELECT DISTINCT "{column}"::VARCHAR AS v FROM {schema}.{table}) t '
            f"WHERE v IN (SELECT v FROM ids) OR EXISTS (SELECT 1 FROM ids WHERE length(ids.v) >= 5 "
            f"AND NOT regexp_full_match(ids.v, '\\d+') AND contains(t.v, ids.v))"
        ).fetchall()[0][0]
        if found:
            leaks.append(f"{schema}.{table}.{column}: {found}")
    assert leaks == []
    metadata = [
        str(e.asset_materialization.metadata)
        for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    assert metadata and not [v for v in identifiers if any(v in m for m in metadata) and not v.isdigit()]


def test_sample_loads_every_month_with_a_plausible_quarantine_share(loaded):
    root, summary, _, _ = loaded
    con = warehouse.connect(root / "ali.duckdb", read_only=True)
    months = con.execute("SELECT DISTINCT periode_dossier FROM raw.beneficiaires JOIN raw.livraisons "
                         "USING (sha256) ORDER BY 1").fetchall()
    assert [m[0] for m in months] == month_folders(root / "inbox") == ["2024-01", "2024-02", "2024-03"]
    read, quarantined = con.execute(
        "SELECT sum(lignes_lues - lignes_ignorees), sum(lignes_quarantaine) FROM raw.livraisons WHERE statut = 'VALIDE'"
    ).fetchall()[0]
    assert 0.005 <= quarantined / read <= 0.04
    # every invalid row the generator made is quarantined, and nothing else is
    assert quarantined == sum(summary.invalid_rows.values())
    assert read == summary.rows
    bad_counts = con.execute(
        "SELECT count(*) FROM raw.livraisons WHERE statut = 'VALIDE' "
        "AND lignes_lues <> lignes_chargees + lignes_quarantaine + lignes_ignorees"
    ).fetchall()[0][0]
    assert bad_counts == 0


def test_sample_builds_every_mart_with_its_checks_and_a_dbt_catalogue(loaded, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root, _, instance, result = loaded
    checks = [e.asset_check_evaluation for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    failed = [c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert len(checks) >= 75 and failed == []
    con = warehouse.connect(root / "ali.duckdb", read_only=True)
    counts = dict(con.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall())
    assert sorted(counts) == ["mart_actions_mensuel", "mart_ali_mensuel", "mart_departement_mensuel",
                              "mart_freins_mensuel", "mart_livraisons", "mart_parcours_cohortes",
                              "mart_qualite_sources", "mart_territoire_mensuel"]
    con.close()
    copy = tmp_path / "ali.duckdb"
    shutil.copy(root / "ali.duckdb", copy)
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "docs", "generate", "--profiles-dir", ".",
         "--target-path", str(tmp_path / "target")], cwd=project, capture_output=True, text=True,
        env={**__import__("os").environ, "ALI_WAREHOUSE": str(copy)}, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    catalog = (tmp_path / "target" / "catalog.json").read_text()
    assert "mart_departement_mensuel" in catalog and "taux_occupation" in catalog


def test_the_big_sample_csv_files_are_read_by_duckdb(loaded):
    """Every CSV of the sample has an unambiguous layout: DuckDB reads those of ``DUCKDB_FROM_BYTES`` or
    more, Python the others and the workbooks (which no DuckDB extension can read here). Counted in
    ``raw/livraisons``' metadata. One CSV is empty: unreadable."""
    root, _, instance, result = loaded
    materializations = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ingestion = [r.event_log_entry.asset_materialization.metadata for r in materializations.records
                 if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey(["raw", "livraisons"])]
    csv = [p.stat().st_size for p in (root / "inbox").rglob("*.csv")]
    big = sum(size >= DUCKDB_FROM_BYTES for size in csv)
    xlsx = len(list((root / "inbox").rglob("*.xlsx")))
    # one materialization per month, each with the run's metadata
    read = {reader: ingestion[0][f"fichiers_lus_{reader}"].value for reader in ("duckdb", "python")}
    assert read == {"duckdb": big, "python": len(csv) - 1 - big + xlsx}
