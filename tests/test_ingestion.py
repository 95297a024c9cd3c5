"""Re-sends, idempotence and atomicity of the monthly load (contract §1, §4), on a real warehouse."""

from __future__ import annotations

import duckdb
import pytest
from conftest import BENEF_HEADER, PSEUDO, benef_row, manifest, select

KEY = "2024-03/ALI01/beneficiaires.csv"


def in_force(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT fichier, statut FROM raw.livraisons WHERE en_vigueur ORDER BY fichier"
    ).fetchall()


def benef_count(con) -> int:
    return con.execute("SELECT count(*) FROM raw.beneficiaires").fetchall()[0][0]


def snapshot(con) -> list:
    """Everything the warehouse says about deliveries, except processing timestamps and run ids."""
    return [
        con.execute("SELECT * FROM raw.beneficiaires ORDER BY ALL").fetchall(),
        con.execute("SELECT * FROM raw.quarantaine ORDER BY ALL").fetchall(),
        con.execute("SELECT * EXCLUDE (traite_le, run_id) FROM raw.livraisons ORDER BY ALL").fetchall(),
        con.execute("SELECT * FROM raw.signalements ORDER BY ALL").fetchall(),
    ]


def test_resend_replaces_the_earlier_delivery(con, inbox, ingest):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1"), benef_row("2"), benef_row("3")]))
    ingest("2024-03")
    assert benef_count(con) == 3
    inbox.put("2024-03/ALI01/BENEFICIAIRES.csv", "\n".join([BENEF_HEADER, benef_row("1"), benef_row("4")]))
    ingest("2024-03")
    assert benef_count(con) == 2
    ids = {r[0] for r in con.execute("SELECT personne_id FROM raw.beneficiaires").fetchall()}
    assert ids == {PSEUDO.personne_id("CAF", "0000001"), PSEUDO.personne_id("CAF", "0000004")}
    assert in_force(con) == [("2024-03/ALI01/BENEFICIAIRES.csv", "VALIDE")]
    assert manifest(con, KEY)["en_vigueur"] is False
    assert con.execute("SELECT count(*) FROM raw.livraisons").fetchall()[0][0] == 2


def test_resend_overwriting_the_same_path_replaces_it(con, inbox, ingest):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1"), benef_row("2")]))
    ingest("2024-03")
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("7")]))
    ingest("2024-03")
    assert benef_count(con) == 1
    versions = con.execute("SELECT count(DISTINCT sha256), count(*) FILTER (en_vigueur) FROM raw.livraisons")
    assert versions.fetchall()[0] == (2, 1)


def test_same_file_twice_changes_nothing(con, inbox, ingest):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1"), benef_row("1"), benef_row("2", sexe="X")]))
    inbox.put("2024-03/ALI01/conseillers.csv", "referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n")
    assert ingest("2024-03") == 2
    before = snapshot(con)
    assert ingest("2024-03") == 0
    assert snapshot(con) == before
    # the same content copied again later is received again, and still changes nothing
    inbox.put(KEY, (inbox.root / KEY).read_bytes())
    assert ingest("2024-03") == 1
    assert snapshot(con)[:2] == before[:2]
    assert benef_count(con) == 1


def test_rejected_resend_keeps_the_previous_delivery_in_force(con, inbox, ingest):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1"), benef_row("2")]))
    ingest("2024-03")
    inbox.put("2024-03/ALI01/Beneficiaires.csv", "matricule;organisme\n1;CAF\n")
    ingest("2024-03")
    assert benef_count(con) == 2
    assert in_force(con) == [(KEY, "VALIDE")]
    rejected = manifest(con, "2024-03/ALI01/Beneficiaires.csv")
    assert rejected["statut"] == "REJETE" and rejected["en_vigueur"] is False
    assert "date_naissance" in rejected["motif_rejet"] and "commune" in rejected["motif_rejet"]


def test_an_older_version_received_again_takes_force_again(con, inbox, ingest):
    v1 = "\n".join([BENEF_HEADER, benef_row("1")])
    inbox.put(KEY, v1)
    ingest("2024-03")
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1"), benef_row("2")]))
    ingest("2024-03")
    assert benef_count(con) == 2
    inbox.put(KEY, v1)
    ingest("2024-03")
    assert benef_count(con) == 1
    (v2_first, v2_last), (v1_first, v1_last) = select(
        con, "SELECT premier_recu_le, recu_le FROM raw.livraisons WHERE fichier = ? ORDER BY recu_le", [KEY])
    # v1 received again: one manifest row, its first reception kept (punctuality counts from it)
    assert v1_first < v2_first == v2_last < v1_last


def test_two_versions_in_one_run_only_the_last_received_counts(con, inbox, ingest):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1")]))
    inbox.put("2024-03/ALI01/beneficiaires.xlsx", b"not a zip at all")
    inbox.put("2024-03/ALI01/BENEFICIAIRES.CSV", "\n".join([BENEF_HEADER, benef_row("5"), benef_row("6")]))
    ingest("2024-03")
    assert benef_count(con) == 2
    assert in_force(con) == [("2024-03/ALI01/BENEFICIAIRES.CSV", "VALIDE")]
    assert "Excel" in manifest(con, "2024-03/ALI01/beneficiaires.xlsx")["motif_rejet"]


def test_counts_add_up_for_every_file(con, inbox, ingest):
    inbox.put(KEY, "\n".join([
        "", BENEF_HEADER, benef_row("1"), "", benef_row("1"), benef_row("2", commune="Paris"), ";;;",
        benef_row("3"), "Total;3", "", "",
    ]))
    ingest("2024-03")
    row = manifest(con, KEY)
    assert (row["lignes_lues"], row["lignes_chargees"], row["lignes_quarantaine"], row["lignes_ignorees"]) == (
        7, 2, 2, 3)
    totals = con.execute(
        "SELECT count(*) FROM raw.livraisons WHERE statut = 'VALIDE' "
        "AND lignes_lues <> lignes_chargees + lignes_quarantaine + lignes_ignorees"
    ).fetchall()[0][0]
    assert totals == 0


def test_a_failure_during_the_load_leaves_the_warehouse_unchanged(con, inbox, ingest, monkeypatch):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1")]))
    ingest("2024-03")
    before = snapshot(con)
    inbox.put("2024-03/ALI01/BENEFICIAIRES.csv", "\n".join([BENEF_HEADER, benef_row("8"), benef_row("9")]))
    inbox.put("2024-03/ALI01/conseillers.csv", "referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n")

    import pipelines.raw.load as load

    monkeypatch.setattr(load, "REPORTED_SQL", "SELECT error('panne simulée')")
    with pytest.raises(duckdb.Error):
        ingest("2024-03")
    assert snapshot(con) == before
    monkeypatch.undo()
    ingest("2024-03")
    assert benef_count(con) == 2


def test_archive_keeps_every_version_owner_only(con, inbox, ingest, tmp_path):
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1")]))
    ingest("2024-03")
    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("2")]))
    ingest("2024-03")
    archived = sorted(p for p in (tmp_path / "archive").rglob("*.csv"))
    assert len(archived) == 2
    assert {oct(p.stat().st_mode & 0o777) for p in archived} == {"0o400"}
    recorded = {r[0] for r in con.execute("SELECT archive FROM raw.livraisons").fetchall()}
    assert recorded == {str(p.relative_to(tmp_path / "archive")) for p in archived}


def test_consistency_check_finds_unprocessed_files_bad_counts_and_double_force(con, inbox, ingest):
    from pipelines.raw.checks import ingestion_problems

    inbox.put(KEY, "\n".join([BENEF_HEADER, benef_row("1")]))
    ingest("2024-03")
    assert ingestion_problems(con, inbox.root, ["2024-03"]) == []
    inbox.put("2024-03/ALI02/beneficiaires.csv", "\n".join([BENEF_HEADER, benef_row("2")]))
    con.execute("UPDATE raw.livraisons SET lignes_lues = 5")
    con.execute("INSERT INTO raw.livraisons SELECT * REPLACE ('autre.csv' AS fichier) FROM raw.livraisons")
    assert sorted(ingestion_problems(con, inbox.root, ["2024-03"])) == [
        "lignes_incoherentes : 2024-03/ALI01/beneficiaires.csv",
        "lignes_incoherentes : autre.csv",
        "non_traite : 2024-03/ALI02/beneficiaires.csv",
        "plusieurs_en_vigueur : 2024-03/ALI01/beneficiaires",
    ]


def test_a_header_only_file_is_a_valid_delivery_of_zero_rows(con, inbox, ingest):
    inbox.put(KEY, BENEF_HEADER + "\n")
    ingest("2024-03")
    row = manifest(con, KEY)
    assert (row["statut"], row["en_vigueur"], row["lignes_lues"], row["lignes_chargees"],
            row["lignes_quarantaine"], row["lignes_ignorees"]) == ("VALIDE", True, 0, 0, 0, 0)


def test_the_collector_is_paused_while_reading_and_restored_even_on_error():
    import gc

    from pipelines.raw.load import collector_paused

    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        1 / 0
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
