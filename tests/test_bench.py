"""The benchmark harness at a tiny scale, so that it cannot rot (it asserts no timing)."""

from __future__ import annotations

import duckdb
import pytest

from bench.report import BEGIN, END
from bench.run import main

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
