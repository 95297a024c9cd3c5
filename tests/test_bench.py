"""The benchmark harness at a tiny scale, so that it cannot rot (it asserts no timing)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import REFERENCE_DIR

from bench.floor import run_floor, workbook_table
from bench.report import BEGIN, END
from bench.run import main
from pipelines.contract import DATASETS
from pipelines.inbox.headers import normalise_header
from pipelines.inbox.read import Unreadable, read_table
from pipelines.sample import generate

pytestmark = pytest.mark.slow  # the benchmark

STAGES = ("lecture", "validation", "pseudonymisation", "garde", "chargement", "dbt_modeles", "dbt_tests",
          "publication", "rapport", "open_data")


def test_every_scenario_runs_and_the_doc_keeps_its_hand_written_analysis(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nHow to run.\n\n{BEGIN}\nold table\n{END}\n\nAnalysis written by people.\n")
    results = main(["--scale", "0.02:2024-01:2024-05", "--repeat", "1", "--work", str(tmp_path / "w"),
                    "--doc", str(doc)])
    assert [r.scenario for r in results] == ["backfill", "mois_3", "mois_historique", "renvoi", "plancher"]
    text = doc.read_text()
    assert text.startswith("# Performance\n\nHow to run.\n\n") and text.endswith("\n\nAnalysis written by people.\n")
    assert "old table" not in text and all(f"| {r.scenario} |" in text for r in results)
    assert "full backfill" in text and "history / 3 months" in text
    for r in results:
        assert all(m.wall_s > 0 and m.cpu_s > 0 and m.peak_rss_mb > 50 for m in r.runs), r.scenario
    month = {r.scenario: r.stage_medians() for r in results}
    assert all(month["mois_3"][stage] > 0 for stage in STAGES)
    assert month["mois_3"]["lignes"] == month["mois_historique"]["lignes"] > 0  # the same new month, twice
    assert month["plancher"]["rows_read"] > 0
    # the live platform is left as the re-send scenario made it: the corrected file is in force
    warehouse = tmp_path / "w" / "echelle-0.02" / "plateforme" / "warehouse" / "ali.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        resent = con.execute("SELECT fichier, en_vigueur FROM raw.livraisons "
                             "WHERE recu_le > now()::TIMESTAMP - INTERVAL 1 HOUR").fetchall()
        assert len(resent) == 1 and resent[0][1] and resent[0][0].startswith("2024-03/ALI")
        assert con.execute("SELECT count(*) FROM raw.livraisons WHERE fichier = ? AND NOT en_vigueur",
                           [resent[0][0]]).fetchall() == [(1,)]


def test_the_floor_reads_every_file_the_refresh_reads(tmp_path):
    """Participations and workbooks included (issue 13): the floor reads as many rows as the project's
    reader finds in the files in force, its data rows plus the closing Total row the floor keeps."""
    generate(tmp_path, scale=0.02, start="2024-01", end="2024-02", reference_dir=REFERENCE_DIR)
    for month in ("2024-01", "2024-02"):  # 2024-01: a superseded workbook; 2024-02: an empty CSV in force
        in_force: dict[tuple[str, str], Path] = {}
        for path in sorted((tmp_path / month).glob("*/*")):
            key = (path.parent.name.upper(), normalise_header(path.stem))
            if key[1] in DATASETS and (key not in in_force or path.stat().st_mtime >= in_force[key].stat().st_mtime):
                in_force[key] = path
        expected = {"rows": 0, "participations": 0, "excel": 0}
        for (_, dataset), path in in_force.items():
            try:
                table = read_table(path, {normalise_header(c) for c in DATASETS[dataset].column_names})
            except Unreadable:
                continue  # rejected by the refresh; nothing for the floor either
            last = table.lines[-1].as_py() if table.num_rows else 0
            rows = table.num_rows + sum(n > last for n in table.ignored_rows)  # data rows + closing Total row
            expected["rows"] += rows
            expected["participations"] += rows if dataset == "participations" else 0
            if path.suffix.lower() == ".xlsx":
                expected["excel"] += rows
                cells = workbook_table(path, dataset).drop_columns("filename")
                assert cells.column_names == [h.lower() for h in table.header], path
                assert [[c or "" for c in row.values()] for row in cells.to_pylist()[:table.num_rows]] == \
                    [c for _, c in table.records()], path  # ISO dates, integers without .0, as the refresh reads
        floor = run_floor(tmp_path / month, f"{month}-01")
        assert floor["participations_rows"] == expected["participations"] > 0
        assert floor["excel_rows"] == expected["excel"] > 0
        assert floor["excel_files"] == sum(p.suffix.lower() == ".xlsx" for p in in_force.values()) > 0
        assert floor["rows_read"] == expected["rows"]
        assert floor["participations_mensuel_rows"] > 0 and floor["ali_rows"] > 0
