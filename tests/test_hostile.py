"""Hostile and broken deliveries, each a real file through the real reader or the real ingestion.

Every case ends the way contract §4 allows — loaded, quarantined row by row, or rejected with a
French reason recorded in the manifest — or, for a file still being written, waits for a later run
without being recorded. Expected reasons are written by hand. Memory is measured in a subprocess
capped at 2 Gio of address space: without its guard, the reader would fail there (calamine aborts
on a failed allocation) instead of passing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from conftest import BENEF_HEADER, PSEUDO, benef_row, counts, lines, manifest, select
from workbooks import bomb_sheet, cell, rows_xml, sheet_xml, write_workbook

from pipelines.inbox.discover import list_files
from pipelines.inbox.read import Unreadable, read_table
from pipelines.inbox.workbook import Rejected, check_workbook
from pipelines.raw.checks import ingestion_problems
from pipelines.raw.load import Settings, ingest_folder

ROOT = Path(__file__).resolve().parents[1]
BENEF = "2024-03/ALI01/beneficiaires.csv"
GOOD = lines(BENEF_HEADER, benef_row("1"), benef_row("2"))
LINK = "lien symbolique « {} » refusé : un lien n'est jamais suivi, déposer le fichier lui-même"
PROBE = """
import json, resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from pipelines.inbox.discover import list_files
from pipelines.inbox.read import Unreadable, read_table
from pipelines.raw.prepare import Prepared, prepare
path = Path(sys.argv[1])
before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
if path.is_dir():  # an inbox: its 2024-03 file through the whole per-file path
    done = prepare(Prepared(list_files(path, "2024-03")[0], "0" * 64, None), {"ALI01": "ALI"})
    outcome = done.rejection or f"prêt : {done.cells.num_rows} lignes"
else:
    try:
        outcome = f"lu : {read_table(path, set()).num_rows} lignes"
    except Unreadable as error:
        outcome = str(error)
print(json.dumps({"motif": outcome, "secondes": time.perf_counter() - started,
                  "pic_mo": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""


def probe(path: Path) -> dict:
    """``read_table(path)`` (or ``prepare`` of an inbox's file) in a fresh process capped at 2 Gio: its
    outcome, time and peak memory above the imports."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def refused(path: Path) -> str:
    with pytest.raises(Unreadable) as error:
        read_table(path, set())
    return str(error.value)


def rejected(con, fichier: str) -> str:
    m = manifest(con, fichier)
    assert (m["statut"], m["en_vigueur"], m["lignes_lues"]) == ("REJETE", False, None)
    return m["motif_rejet"]


# ------------------------------------------------------------------------------------------ workbooks


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A workbook of 1 Mo whose sheet is 200 Mo of cells: 20 cells × 655 360 rows without references."""
    return write_workbook(tmp_path_factory.mktemp("bombe") / "beneficiaires.xlsx", bomb_sheet(200))


def test_a_zip_bomb_is_refused_from_the_zip_directory_in_bounded_memory(bomb):
    member = zipfile.ZipFile(bomb).getinfo("xl/worksheets/sheet1.xml")
    assert bomb.stat().st_size < 2_000_000 and member.file_size > 200_000_000
    reason = f"classeur Excel refusé : bombe de décompression : « xl/worksheets/sheet1.xml » passe de " \
             f"{member.compress_size:,} octets à {member.file_size:,} octets (plus de 100 fois)".replace(",", " ")
    measured = probe(bomb)  # first in a capped subprocess: without the guard this one fails, not the runner
    assert measured["motif"] == reason and measured["pic_mo"] < 64
    assert refused(bomb) == reason


def test_declared_sizes_over_the_limit_are_refused_before_any_ratio(bomb, monkeypatch):
    monkeypatch.setenv("ALI_MAX_XLSX_UNCOMPRESSED_BYTES", "50_000_000")
    total = sum(m.file_size for m in zipfile.ZipFile(bomb).infolist())
    assert refused(bomb) == (f"classeur Excel refusé : classeur trop volumineux une fois décompressé : {total:,} "
                             "octets déclarés pour une limite de 50 000 000 octets (ALI_MAX_XLSX_UNCOMPRESSED_BYTES)"
                             ).replace(",", " ")


def test_one_cell_far_from_a1_is_refused_before_calamine_allocates_the_sheet(tmp_path):
    # 1,5 Ko; calamine would allocate 1 048 576 × 16 384 cells of 32 bytes (550 Go) and abort the process
    body = f'<row r="1">{cell("A1", "matricule")}</row><row r="1048576">{cell("XFD1048576", "x")}</row>'
    path = write_workbook(tmp_path / "beneficiaires.xlsx", sheet_xml(body))
    reason = ("classeur Excel refusé : feuille trop étendue : « xl/worksheets/sheet1.xml » couvre 1 048 576 lignes "
              "× 16 384 colonnes, au-delà de 20 000 000 cellules (ALI_MAX_XLSX_CELLS)")
    assert path.stat().st_size < 2000
    measured = probe(path)
    assert measured["motif"] == reason and measured["pic_mo"] < 64
    assert refused(path) == reason


@pytest.mark.parametrize("far_cell", [
    '<c r="A1" r="ZZ90000" t="inlineStr"><is><t>x</t></is></c>',  # calamine takes the last of two `r`
    '<c t="inlineStr" s="0" r="ZZ90000"><is><t>x</t></is></c>',  # `r` not first
    '<c\nr\n=\n"ZZ90000" t="inlineStr"><is><t>x</t></is></c>',  # spaces around `=`
    '<x:c r="ZZ90000" t="inlineStr" xmlns:x="urn:x"><x:is><x:t>x</x:t></x:is></x:c>',  # a prefix
], ids=["deux-r", "r-pas-en-premier", "espaces", "prefixe"])
def test_far_references_in_every_spelling_xml_allows_are_seen(tmp_path, far_cell):
    path = write_workbook(tmp_path / "beneficiaires.xlsx", sheet_xml(f'<row r="1">{far_cell}</row>'))
    with pytest.raises(Rejected, match="au-delà de 20 000 000 cellules"):  # the guard alone: never calamine here
        check_workbook(path)  # ZZ90000: 90 000 × 702 = 63 180 000 cells


def test_cells_without_references_are_counted_where_calamine_places_them(tmp_path):
    # row 1048576, then 100 cells without `r`: columns A..CV, as calamine places them
    body = f'<row r="1">{cell("A1", "a")}</row><row r="1048576">{cell(None, "x") * 100}</row>'
    path = write_workbook(tmp_path / "beneficiaires.xlsx", sheet_xml(body))
    # bound: 1 048 576 + 2 row tags = 1 048 578 rows; 1 (A1) + 100 cells in the widest row = 101 columns
    with pytest.raises(Rejected) as error:
        check_workbook(path)
    assert str(error.value).endswith("couvre 1 048 578 lignes × 101 colonnes, au-delà de 20 000 000 cellules "
                                     "(ALI_MAX_XLSX_CELLS)")


def test_a_huge_declared_dimension_alone_is_harmless_and_the_sheet_is_read(tmp_path):
    # <dimension> is a hint neither calamine nor the guard trusts: the cells decide
    path = write_workbook(tmp_path / "conseillers.xlsx",
                          sheet_xml(rows_xml([["referent", "fonction"], ["R1", "CIP"]]), "A1:XFD1048576"))
    table = read_table(path, set())
    assert (table.header, table.records()) == (["referent", "fonction"], [(2, ["R1", "CIP"])])
    assert probe(path)["pic_mo"] < 64


def forged_size(path: Path) -> Path:
    """The sheet's declared size rewritten to 1000 bytes in its local header and its directory entry."""
    data, archive = bytearray(path.read_bytes()), zipfile.ZipFile(path)
    entry = archive.start_dir
    for member in archive.infolist():  # in directory order
        if member.filename == "xl/worksheets/sheet1.xml":
            data[member.header_offset + 22:member.header_offset + 26] = (1000).to_bytes(4, "little")
            data[entry + 24:entry + 28] = (1000).to_bytes(4, "little")
        entry += 46 + len(member.filename.encode()) + len(member.extra) + len(member.comment)
    path.write_bytes(bytes(data))
    return path


def broken_workbooks(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = write_workbook(tmp / "good.xlsx", sheet_xml(rows_xml([["referent"], *[[f"R{i}"] for i in range(2000)]])))
    data = good.read_bytes()
    sheet = zipfile.ZipFile(good).getinfo("xl/worksheets/sheet1.xml")
    start = sheet.header_offset + 30 + len(sheet.filename)
    corrupt = data[:start + 100] + bytes(b ^ 0x55 for b in data[start + 100:start + 200]) + data[start + 200:]
    many = tmp / "many.xlsx"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(10_001):
            archive.writestr(f"x/{i}", b"")
    # directory: 10 001 entries of 46 bytes + names x/0..x/10000 (10×3 + 90×4 + 900×5 + 9000×6 + 7 = 58 897)
    corrupted = "archive zip corrompue (contenu ou répertoire incohérent)"
    cases = {
        "pas un zip": (b"matricule;nom\n1;Martin\n", "ce n'est pas un classeur .xlsx (archive zip attendue)"),
        "zip tronqué": (data[: len(data) // 2], "ce n'est pas un classeur .xlsx (archive zip attendue)"),
        "contenu corrompu": (corrupt, corrupted),
        "taille falsifiée": (forged_size(tmp / "good.xlsx").read_bytes(), corrupted),
        "répertoire démesuré": (many.read_bytes(), ("archive zip démesurée : 10001 éléments, répertoire de "
                                                    "518 943 octets (au plus 10000 éléments et 4 194 304 octets)")),
    }
    paths = {}
    for name, (content, reason) in cases.items():
        path = tmp / name.replace(" ", "_") / "beneficiaires.xlsx"
        path.parent.mkdir()
        path.write_bytes(content)
        paths[name] = (path, f"classeur Excel refusé : {reason}")
    return paths


def test_broken_zips_are_refused_each_with_its_reason(tmp_path):
    for name, (path, reason) in broken_workbooks(tmp_path).items():
        assert refused(path) == reason, name


def test_hostile_workbooks_through_ingestion_are_rejected_and_the_rest_of_the_month_loads(con, inbox, ingest):
    body = f'<row r="1">{cell("A1", "matricule")}</row><row r="1048576">{cell("XFD1048576", "x")}</row>'
    write_workbook(inbox.root / "2024-03" / "ALI02" / "beneficiaires.xlsx", sheet_xml(body))
    inbox.put("2024-03/ALI03/beneficiaires.xlsx", b"PK\x03\x04 pas vraiment un zip")
    inbox.put(BENEF, GOOD)
    assert ingest() == 3
    assert rejected(con, "2024-03/ALI02/beneficiaires.xlsx").startswith(
        "fichier illisible : classeur Excel refusé : feuille trop étendue")
    assert rejected(con, "2024-03/ALI03/beneficiaires.xlsx") == (
        "fichier illisible : classeur Excel refusé : ce n'est pas un classeur .xlsx (archive zip attendue)")
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)


def test_a_wide_header_over_many_short_rows_costs_memory_in_proportion_to_the_file(inbox):
    # 409 Ko: 30 004 header cells over 30 000 rows of 2 cells. Transposing every header column would
    # build 30 004 × 30 000 cells (7 Go): only the contract's 5 columns are transposed.
    inbox.put("2024-03/ALI01/conseillers.csv", lines(
        "referent;fonction;etp;date_arrivee;" + ";".join(f"c{i}" for i in range(30_000)), *["R1;CIP"] * 30_000))
    measured = probe(inbox.root)
    assert measured["motif"] == "prêt : 30000 lignes" and measured["pic_mo"] < 256


# ------------------------------------------------------------------------------------------- oversize


def test_an_oversized_file_is_refused_by_its_size_without_being_read(tmp_path):
    path = tmp_path / "beneficiaires.csv"
    with path.open("wb") as handle:  # sparse: 200 Mo + 1 byte of zeros costs no disk
        handle.truncate(200_000_001)
    reason = "fichier trop volumineux : 200 000 001 octets pour une limite de 200 000 000 octets (ALI_MAX_FILE_BYTES)"
    assert refused(path) == reason
    measured = probe(path)
    assert measured["motif"] == reason and measured["pic_mo"] < 16  # read whole, it would be 200 Mo at least


def test_oversized_deliveries_are_rejected_unarchived_and_recorded_once(con, inbox, ingest, monkeypatch, tmp_path):
    monkeypatch.setenv("ALI_MAX_FILE_BYTES", "1000")
    big = lines(BENEF_HEADER, *[benef_row(str(i)) for i in range(1, 20)])
    inbox.put(BENEF, big)
    write_workbook(inbox.root / "2024-03" / "ALI02" / "beneficiaires.xlsx",
                   sheet_xml(rows_xml([["matricule"], *[[str(i)] for i in range(200)]])))
    inbox.put("2024-03/ALI03/beneficiaires.csv", GOOD)  # 359 bytes: under the limit
    assert ingest() == 3
    size = len(big.encode())
    xlsx = (inbox.root / "2024-03" / "ALI02" / "beneficiaires.xlsx").stat().st_size
    assert rejected(con, BENEF) == f"fichier trop volumineux : {size:,} octets pour une limite de 1 000 octets " \
                                   f"(ALI_MAX_FILE_BYTES)".replace(",", " ")
    assert rejected(con, "2024-03/ALI02/beneficiaires.xlsx") == (
        f"fichier trop volumineux : {xlsx:,} octets pour une limite de 1 000 octets (ALI_MAX_FILE_BYTES)"
    ).replace(",", " ")
    assert counts(con, "2024-03/ALI03/beneficiaires.csv") == ("VALIDE", 2, 2, 0, 0)
    assert select(con, "SELECT fichier FROM raw.livraisons WHERE archive IS NULL ORDER BY 1") == [
        (BENEF,), ("2024-03/ALI02/beneficiaires.xlsx",)]
    assert len([p for p in (tmp_path / "archive").rglob("*") if p.is_file() and p.name != "journal.jsonl"]) == 1
    assert ingest() == 0  # recorded once, like any rejection


# ---------------------------------------------------------------------------------------------- paths


@pytest.fixture
def outside(tmp_path) -> Path:
    """A valid delivery OUTSIDE the inbox, holding a matricule that must never reach the warehouse."""
    path = tmp_path / "ailleurs" / "2024-03" / "ALI09" / "beneficiaires.csv"
    path.parent.mkdir(parents=True)
    path.write_text(lines(BENEF_HEADER, benef_row("7654321")))
    return path


def nothing_read_from(con, tmp_path) -> None:
    assert select(con, "SELECT count(*) FROM raw.beneficiaires WHERE personne_id = ?",
                  [PSEUDO.personne_id("CAF", "7654321")]) == [(0,)]
    archived = [p.read_bytes() for p in (tmp_path / "archive").rglob("*") if p.is_file()]  # the journal too
    assert not any(b"7654321" in data for data in archived)


def test_a_link_to_a_file_outside_the_inbox_is_rejected_and_never_followed(con, inbox, ingest, outside, tmp_path):
    link = inbox.root / "2024-03" / "ALI01" / "beneficiaires.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    assert ingest() == 1
    assert rejected(con, BENEF) == LINK.format("beneficiaires.csv")
    assert manifest(con, BENEF)["archive"] is None
    assert manifest(con, BENEF)["taille_octets"] == len(str(outside))  # the link's own size, from lstat
    nothing_read_from(con, tmp_path)
    assert ingest() == 0


def test_a_link_to_another_delivery_of_the_inbox_is_rejected_and_the_target_loads_once(con, inbox, ingest):
    inbox.put(BENEF, GOOD)
    link = inbox.root / "2024-03" / "ALI02" / "beneficiaires.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to("../ALI01/beneficiaires.csv")
    assert ingest() == 2
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)
    assert rejected(con, "2024-03/ALI02/beneficiaires.csv") == LINK.format("beneficiaires.csv")
    assert select(con, "SELECT source_code, count(*) FROM raw.beneficiaires GROUP BY ALL") == [("ALI01", 2)]


def test_links_to_folders_are_rejected_and_never_entered(con, inbox, ingest, outside, tmp_path):
    (inbox.root / "2024-03").mkdir(parents=True)
    (inbox.root / "2024-03" / "ALI09").symlink_to(outside.parent)  # a source folder
    (inbox.root / "2024-04").symlink_to(outside.parents[1])  # a month folder
    (inbox.root / "notes").symlink_to(outside)  # a top-level entry
    for folder in ("2024-03", "2024-04", "notes"):
        assert ingest(folder) == 1
    assert rejected(con, "2024-03/ALI09") == LINK.format("ALI09")
    assert rejected(con, "2024-04") == LINK.format("2024-04")
    assert rejected(con, "notes") == LINK.format("notes")
    assert select(con, "SELECT count(*) FROM raw.livraisons") == [(3,)]
    nothing_read_from(con, tmp_path)


def test_a_folder_argument_never_leaves_the_inbox(con, inbox, ingest, outside):
    inbox.root.mkdir(parents=True)
    escape = os.path.relpath(outside.parents[1], inbox.root)  # ../ailleurs
    for folder in (escape, "..", "2024-03/../../ailleurs", str(outside.parents[1]), ""):
        with pytest.raises(ValueError, match="refusé : un dossier de la boîte de dépôt est un nom simple"):
            list_files(inbox.root, folder)
        with pytest.raises(ValueError):
            ingest(folder)
    assert select(con, "SELECT count(*) FROM raw.livraisons") == [(0,)]


def test_the_refresh_command_refuses_a_period_that_is_a_path(capsys):
    from pipelines.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["refresh", "--period", "../2024-03"])
    assert exit_.value.code == 2
    assert "mois attendu au format AAAA-MM : '../2024-03'" in capsys.readouterr().err


def test_dots_in_file_names_are_names_not_paths(con, inbox, ingest):
    inbox.put("2024-03/ALI01/..beneficiaires.csv", GOOD)  # a dot-file: an upload in progress, waits
    inbox.put("2024-03/ALI01/beneficiaires..csv", GOOD)
    assert ingest() == 1
    assert rejected(con, "2024-03/ALI01/beneficiaires..csv") == (
        "jeu de données « beneficiaires. » inconnu (attendu beneficiaires ou conseillers)")


def test_folders_that_are_not_what_their_place_says_get_specific_reasons(con, inbox, ingest):
    inbox.put("2024-13/ALI01/beneficiaires.csv", GOOD)
    inbox.put("mars 2024/ALI01/beneficiaires.csv", GOOD)
    inbox.put("2024-03/ALI 99/beneficiaires.csv", GOOD)
    inbox.put("2024-03/beneficiaires.csv", GOOD)
    inbox.put("2024-03/ALI01/sous-dossier/beneficiaires.csv", GOOD)
    for folder in ("2024-13", "mars 2024", "2024-03"):
        ingest(folder)
    layout = "(<AAAA-MM>/<code_source>/<jeu>.<csv|xlsx>)"
    assert select(con, "SELECT fichier, motif_rejet FROM raw.livraisons ORDER BY fichier") == [
        ("2024-03/ALI 99/beneficiaires.csv",
         "code source « ALI 99 » inconnu (ni ALI ni partenaire du référentiel)"),
        ("2024-03/ALI01/sous-dossier/beneficiaires.csv", f"emplacement invalide : attendu {layout[1:-1]}"),
        ("2024-03/beneficiaires.csv", f"emplacement invalide : attendu {layout[1:-1]}"),
        ("2024-13/ALI01/beneficiaires.csv", f"dossier de période « 2024-13 » invalide : attendu AAAA-MM {layout}"),
        ("mars 2024/ALI01/beneficiaires.csv",
         f"dossier de période « mars 2024 » invalide : attendu AAAA-MM {layout}"),
    ]


# ------------------------------------------------------------------------------ files still being written


def settle(path: Path, seconds_ago: int = 7200) -> None:
    """The file as it will be once the quiet period has passed: last modified ``seconds_ago``."""
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_a_recent_file_waits_for_the_quiet_period_unrecorded_and_is_not_a_problem(con, inbox, ingest, monkeypatch):
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "300")
    path = inbox.put(BENEF, GOOD, mtime=int(time.time()) - 10)
    settings, deferred = Settings(inbox.root, inbox.root.parent / "archive"), []
    assert ingest_folder(con, settings, "2024-03", PSEUDO, "test", deferred=deferred) == 0
    assert deferred == [(BENEF, "modifié il y a moins de 300 s (ALI_INBOX_QUIET_SECONDS) : en cours")]
    assert select(con, "SELECT count(*) FROM raw.livraisons") == [(0,)]
    assert ingestion_problems(con, inbox.root, ["2024-03"]) == []
    settle(path)
    assert ingest() == 1
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)


def test_a_file_changing_while_hashed_is_left_for_a_later_run(con, inbox, monkeypatch):
    from pipelines.raw import receive

    path = inbox.put(BENEF, lines(BENEF_HEADER, benef_row("1")))  # received in 2024: long settled
    hashed = receive.stable_sha256

    def sender_still_writing(file):  # the sender's next row lands between listing and hashing
        with path.open("a") as handle:
            handle.write(benef_row("2") + "\n")
        return hashed(file)

    monkeypatch.setattr(receive, "stable_sha256", sender_still_writing)
    settings, deferred = Settings(inbox.root, inbox.root.parent / "archive"), []
    assert ingest_folder(con, settings, "2024-03", PSEUDO, "test", deferred=deferred) == 0
    assert deferred == [(BENEF, "modifié, remplacé ou supprimé pendant sa lecture : dépôt en cours")]
    assert select(con, "SELECT count(*) FROM raw.livraisons") == [(0,)]
    assert not (inbox.root.parent / "archive").exists()
    # the check of this run is told what it deferred; the file is recent anyway
    assert ingestion_problems(con, inbox.root, ["2024-03"], {BENEF}) == []
    monkeypatch.undo()
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "0")
    settle(path)
    assert ingest_folder(con, settings, "2024-03", PSEUDO, "test") == 1
    assert counts(con, BENEF) == ("VALIDE", 2, 2, 0, 0)  # both rows: the whole file, once written


def test_a_file_changing_while_archived_leaves_no_copy_under_a_name_its_bytes_do_not_have(con, inbox, monkeypatch):
    from pipelines.raw import receive

    path = inbox.put(BENEF, GOOD)
    archived = receive.archive

    def sender_rewrites(source, sha, directory):
        path.write_text(lines(BENEF_HEADER, benef_row("9")))
        return archived(source, sha, directory)

    monkeypatch.setattr(receive, "archive", sender_rewrites)
    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "0")
    settings, deferred = Settings(inbox.root, inbox.root.parent / "archive"), []
    assert ingest_folder(con, settings, "2024-03", PSEUDO, "test", deferred=deferred) == 0
    assert [f for f, _ in deferred] == [BENEF]
    assert [p for p in (inbox.root.parent / "archive").rglob("*") if p.is_file()] == []  # no partial copy left


def test_the_ingestion_asset_logs_what_it_deferred_and_its_check_passes(env, monkeypatch):
    from pipelines.defs.ingest.assets import raw_deliveries, reference_data
    from pipelines.resources import resources_from_env

    monkeypatch.setenv("ALI_INBOX_QUIET_SECONDS", "300")
    folder = env["ALI_INBOX_DIR"] / "2024-03" / "ALI01"
    folder.mkdir(parents=True)
    (folder / "beneficiaires.csv").write_text(GOOD)
    settle(folder / "beneficiaires.csv")
    (folder / "conseillers.csv").write_text("referent;fonction;etp;date_arrivee\nR1;CIP;1;2023-01-01\n")  # just now
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([reference_data, raw_deliveries], partition_key="2024-03", instance=instance,
                            resources=resources_from_env())
    assert result.success
    checks = [e.asset_check_evaluation for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert [(c.check_name, c.passed) for c in checks] == [("ingestion_coherente", True)]
    messages = [e.message for e in instance.all_logs(result.run_id) if e.level == 30]  # WARNING
    assert "2024-03/ALI01/conseillers.csv laissé pour un prochain run : modifié il y a moins de 300 s " \
           "(ALI_INBOX_QUIET_SECONDS) : en cours" in messages
    with duckdb.connect(str(env["ALI_WAREHOUSE"]), read_only=True) as con:
        assert con.execute("SELECT fichier FROM raw.livraisons").fetchall() == [("2024-03/ALI01/beneficiaires.csv",)]


# ------------------------------------------------------------------------------------------ CSV injection

PAYLOADS = {  # delivered text → published cell (hand-written)
    "=1+1": "'=1+1", "+33 1 48 00 00 00": "'+33 1 48 00 00 00", "-2+3": "'-2+3", "@SUM(A1:A9)": "'@SUM(A1:A9)",
    '=HYPERLINK("http://x.example";"clic")': '\'=HYPERLINK("http://x.example";"clic")',
    "  =1+1": "'  =1+1", " @SUM(A1)": "' @SUM(A1)", "\t=1+1": "'\t=1+1", "\t+1": "'\t+1",
    "\tALI01": "'\tALI01", "\rALI01": "'\rALI01",
    "ALI01": "ALI01", "a=b": "a=b", "Saint-Denis": "Saint-Denis", "1 + 1": "1 + 1",
}
FORMULA = re.compile(r"^\s*[=+\-@]|^[\t\r]")


def csv_cells(path: Path, delimiter: str) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")  # not read_text: a quoted \r must stay a \r
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_the_bi_csv_writer_neutralises_every_formula_payload(tmp_path):
    from pipelines.publication.snapshot import MARTS, publish

    warehouse = tmp_path / "entrepot.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        for mart in MARTS:
            con.execute(f"CREATE TABLE marts.{mart} (periode DATE, texte VARCHAR)")
            con.executemany(f"INSERT INTO marts.{mart} VALUES ('2024-03-01', ?)", [[p] for p in PAYLOADS])
    publish(warehouse, tmp_path / "publie", "run-injection")
    for mart in MARTS:
        cells = csv_cells(tmp_path / "publie" / "csv" / f"{mart}.csv", ";")
        assert cells == [["periode", "texte"], *[["01/03/2024", shown] for shown in PAYLOADS.values()]], mart


def test_the_open_data_writer_neutralises_every_formula_payload(tmp_path):
    """Without a value holding a carriage return: pandas does not quote a bare ``\r`` when lines end
    with ``\n``, so such a value would split its row (open-data text comes from the reference only)."""
    from pipelines.publication.open_data import write_csv

    payloads = {text: shown for text, shown in PAYLOADS.items() if "\r" not in text}
    values = pd.DataFrame({"commune": list(payloads), "file_active": pd.array([12] * len(payloads), "Int64")})
    write_csv(values, pd.DataFrame({"file_active": [False] * len(payloads)}), tmp_path / "territoire.csv")
    assert csv_cells(tmp_path / "territoire.csv", ",") == [
        ["commune", "file_active"], *[[shown, "12"] for shown in payloads.values()]]


@pytest.mark.slow
def test_sender_controlled_text_reaching_published_csv_files_is_neutralised(env):
    """Cells of the inbox never reach a published CSV as text (referent stays in raw, codes are checked
    against the reference); folder and file names do, through ``mart_livraisons``."""
    from pipelines.refresh import run_refresh

    inbox = env["ALI_INBOX_DIR"]
    month = inbox / "2024-03"
    (month / "ALI01").mkdir(parents=True)
    (month / "ALI01" / "beneficiaires.csv").write_text(lines(BENEF_HEADER, benef_row("1", referent="=1+1")))
    (month / "ALI01" / "conseillers.csv").write_text("referent;fonction;etp;date_arrivee\n=1+1;CIP;1;2023-01-01\n"
                                                     "@SUM(A1);CIP;1;2023-01-01\n")
    (month / "ALI01" / "+cmd.csv").write_text(GOOD)
    (month / "\t=1+1").mkdir()
    (month / "\t=1+1" / "beneficiaires.csv").write_text(GOOD)
    (month / " @X").mkdir()
    (month / " @X" / "conseillers.csv").write_text(GOOD)
    assert run_refresh("2024-03", instance=dg.DagsterInstance.ephemeral()).success
    published = env["ALI_PUBLISH_DIR"]
    livraisons = csv_cells(published / "csv" / "mart_livraisons.csv", ";")
    keys = {(row[1], row[3]) for row in livraisons[1:]}  # source_code, dataset
    assert {("'=1+1", "beneficiaires"), ("'@X", "conseillers"), ("ALI01", "'+cmd")} <= keys
    files = [*(published / "csv").glob("*.csv"), *(published / "open_data").glob("*.csv"),
             *(published / "accuses").rglob("*.csv")]
    assert len(files) == 8 + 6 + 1  # the marts, open data, ALI01's receipt (the other codes are unknown)
    for path in files:
        for row in csv_cells(path, "," if path.parent.name == "open_data" else ";"):
            assert not [c for c in row if FORMULA.match(c)], path.name
