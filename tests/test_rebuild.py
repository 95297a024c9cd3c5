"""The archive's journal and the rebuild: the raw layer comes back row for row from the archive alone.

Here the ingestion of a few hand-made deliveries (no dbt): a rejected file, quarantined rows, a link
rejected before it is archived, a corrected re-send, the same bytes received again, a file outside any
month. The marts' side, the CLI and the key's rotation on the sample: ``test_rebuild_sample.py``.
"""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import BENEF_HEADER, PSEUDO, REFERENCE_DIR, benef_row

from pipelines.raw import journal
from pipelines.raw.load import Settings
from pipelines.raw.pseudonymise import Pseudonymiser
from pipelines.raw.replay import RebuildError, plan, replay
from pipelines.rebuild import rebuild
from pipelines.reference.tables import load_reference
from pipelines.warehouse import connect

RAW = ("beneficiaires", "conseillers", "participations", "actions", "quarantaine", "signalements", "parametres")


def raw_tables(con) -> dict[str, list[tuple]]:
    tables = {name: con.execute(f"SELECT * FROM raw.{name} ORDER BY ALL").fetchall() for name in RAW}
    tables["livraisons"] = con.execute("SELECT * EXCLUDE (traite_le) FROM raw.livraisons ORDER BY ALL").fetchall()
    return tables


@pytest.fixture
def history(con, inbox, ingest, tmp_path):
    """Three runs over 2024-03 and a folder outside any month; returns the archive folder."""
    inbox.put("2024-03/ALI01/beneficiaires.csv",
              "\n".join([BENEF_HEADER, benef_row("1111111"), benef_row("2222222", naissance="31/02/1980")]))
    inbox.put("2024-03/ALI02/conseillers.csv", "referent;fonction\nR1;CIP\n")  # required columns missing
    (inbox.root / "2024-03" / "ALI03").mkdir(parents=True)
    os.symlink("/etc/hostname", inbox.root / "2024-03" / "ALI03" / "beneficiaires.csv")  # never archived
    assert ingest("2024-03", "run-1") == 3
    inbox.put("2024-03/ALI01/beneficiaires.csv",  # corrected: the birth date fixed, a third person
              "\n".join([BENEF_HEADER, benef_row("1111111"), benef_row("2222222"), benef_row("3333333")]))
    inbox.put("divers/ALI01/beneficiaires.csv", BENEF_HEADER)
    assert ingest("2024-03", "run-2") == 1
    assert ingest("divers", "run-2") == 1
    again = inbox.root / "2024-03" / "ALI02" / "conseillers.csv"
    os.utime(again, (inbox.clock + 600, inbox.clock + 600))  # the same bytes received again
    assert ingest("2024-03", "run-3") == 1
    return tmp_path / "archive"


def rebuilt(archive, tmp_path, pseudo=PSEUDO):
    con = connect(tmp_path / "rebuilt" / "ali.duckdb")
    load_reference(con, REFERENCE_DIR)
    replay(con, plan(archive), Settings(tmp_path / "inbox-gone", archive), pseudo)
    return con


def test_the_journal_lists_every_file_received_and_no_identifier(history, con):
    records = [e.record for e in journal.read(history)]
    files = [r for r in records if r["type"] == "fichier"]
    assert [(r["fichier"], r["verdict"], r["run_id"]) for r in files] == [
        ("2024-03/ALI01/beneficiaires.csv", "VALIDE", "run-1"),
        ("2024-03/ALI02/conseillers.csv", "REJETE", "run-1"),
        ("2024-03/ALI03/beneficiaires.csv", "REJETE", "run-1"),
        ("2024-03/ALI01/beneficiaires.csv", "VALIDE", "run-2"),
        ("divers/ALI01/beneficiaires.csv", "REJETE", "run-2"),
        ("2024-03/ALI02/conseillers.csv", "REJETE", "run-3"),
    ]
    link = files[2]
    assert (link["lien"], link["archive"], link["regle_rejet"]) == (True, None, "lien_symbolique")
    assert {(r["fichier"], r["sha256"]) for r in files} == set(
        con.execute("SELECT fichier, sha256 FROM raw.livraisons").fetchall())
    text = journal.path(history).read_text()
    assert not any(value in text for value in ("1111111", "2222222", "Martin", "Zoé", "1980-04-03", "31/02/1980"))
    assert oct(journal.path(history).stat().st_mode & 0o777) == "0o600"


def test_a_replay_gives_back_the_raw_layer_row_for_row(history, con, tmp_path):
    rebuilt_con = rebuilt(history, tmp_path)
    assert raw_tables(rebuilt_con) == raw_tables(con)  # run ids included: a replay keeps the runs' own
    in_force = "SELECT fichier, sha256 FROM raw.livraisons WHERE en_vigueur ORDER BY ALL"
    assert len(rebuilt_con.execute(in_force).fetchall()) == 1  # the corrected beneficiaires of ALI01
    assert rebuilt_con.execute("SELECT count(*) FROM raw.beneficiaires").fetchone()[0] == 3


def test_under_a_new_key_every_personne_id_changes_and_nothing_else(history, con, tmp_path):
    new_key = Pseudonymiser(b"une-autre-cle-de-test-jamais-utilisee-en-production-42")
    rebuilt_con = rebuilt(history, tmp_path, new_key)
    old, new = raw_tables(con), raw_tables(rebuilt_con)
    ids = "SELECT personne_id FROM raw.beneficiaires ORDER BY ALL"
    assert len(set(con.execute(ids).fetchall()) & set(rebuilt_con.execute(ids).fetchall())) == 0
    without_ids = "SELECT * EXCLUDE (personne_id) FROM raw.beneficiaires ORDER BY ALL"
    assert con.execute(without_ids).fetchall() == rebuilt_con.execute(without_ids).fetchall()
    assert {k: v for k, v in old.items() if k not in ("beneficiaires", "parametres")} == {
        k: v for k, v in new.items() if k not in ("beneficiaires", "parametres")}


def test_an_altered_or_missing_original_stops_the_rebuild_naming_it(history, tmp_path):
    original = history / next(r["archive"] for r in (e.record for e in journal.read(history))
                              if r["type"] == "fichier" and r["archive"])
    saved = original.read_bytes()
    original.chmod(0o600)
    original.write_bytes(bytes([saved[0] ^ 1]) + saved[1:])  # one byte changed
    with pytest.raises(RebuildError, match=r"original altéré .*« 2024-03/ALI01/beneficiaires.csv ».*ligne 1 du"):
        plan(history)
    original.unlink()
    with pytest.raises(RebuildError, match=r"original manquant .*« 2024-03/ALI01/beneficiaires.csv ».*ligne 1"):
        plan(history)


def test_a_torn_journal_line_stops_the_rebuild_and_the_next_append_cuts_it(history):
    lines = journal.path(history).read_bytes().count(b"\n")
    with journal.path(history).open("ab") as handle:
        handle.write(b'{"type": "fichier", "fichier": "2024-03/AL')  # a crash in the middle of an append
    with pytest.raises(journal.JournalError, match=f"ligne {lines + 1} : ligne tronquée"):
        plan(history)
    journal.append(history, [journal.run_record("run-4", ["2024-03"], ["2024-03"])])
    assert [e.line for e in journal.read(history)][-1] == lines + 1  # the torn line cut, the new one whole


def test_an_altered_journal_line_stops_the_rebuild(history):
    text = journal.path(history).read_text().splitlines(keepends=True)
    text[1] = "{pas du json}\n"
    journal.path(history).write_text("".join(text))
    with pytest.raises(journal.JournalError, match="ligne 2 : enregistrement illisible"):
        plan(history)


def test_a_rebuild_never_overwrites_a_warehouse(history, tmp_path):
    target = tmp_path / "warehouse" / "ali.duckdb"  # the fixture's, in use
    before = target.stat().st_mtime_ns
    with pytest.raises(RebuildError, match="existe : une reconstruction n'écrase jamais un entrepôt"):
        rebuild(target, history, REFERENCE_DIR, tmp_path / "inbox")
    assert target.stat().st_mtime_ns == before
    shutil.rmtree(history)
    with pytest.raises(journal.JournalError, match="journal absent"):
        rebuild(tmp_path / "ailleurs" / "ali.duckdb", history, REFERENCE_DIR, tmp_path / "inbox")
