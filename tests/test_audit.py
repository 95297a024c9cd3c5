"""The audit trail of an ALI's monthly figures, on real data through the real refresh.

A tiny sample (scale 0.02, two months) is refreshed; then ALI03 re-sends its October
``beneficiaires`` corrected (its last row removed) and, later, a re-send without the ``matricule``
column, which is rejected. One refresh of October later, the audit must name the corrected file as
the one in force (sha256 and reception time computed here from the inbox file), the sample's file as
superseded, the rejected one with its reason, and figures that match the mart and a count by hand of
the in-force file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
from conftest import PSEUDO, platform_env, refreshed_sample

from pipelines import warehouse
from pipelines.__main__ import main as cli
from pipelines.audit import FEEDS, MANIFEST, audit, format_audit, lineage_lines, lineage_problems, read_audit
from pipelines.inbox.headers import normalise_header
from pipelines.raw.load import Settings, ingest_folder
from pipelines.refresh import run_refresh

pytestmark = pytest.mark.slow  # full refreshes

ALI, MONTH = "ALI03", "2026-10"
DAY = 86_400


def received(path: Path) -> dt.datetime:
    """Reception time as the manifest records it: the file's mtime, UTC, naive."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_of(path: Path) -> list[dict[str, str]]:
    """The data rows of a delivered CSV, keyed by normalised header (read here, not by the pipeline)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], ";,\t")
    reader = csv.reader(io.StringIO(text), dialect)
    header = [normalise_header(h) for h in next(reader)]
    return [dict(zip(header, row)) for row in reader if any(cell.strip() for cell in row)]


def put(path: Path, content: bytes, mtime: int) -> Path:
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="module")
def resent(tmp_path_factory):
    """The refreshed sample, then a corrected and a rejected re-send of ALI03's October beneficiaires."""
    root = tmp_path_factory.mktemp("audit")
    paths = refreshed_sample(root, 0.02, "2026-09", MONTH)
    folder = paths["ALI_INBOX_DIR"] / MONTH / ALI
    original, = [f for f in folder.iterdir() if f.stem.lower() == "beneficiaires"]
    assert original.name == "beneficiaires.csv", "the sample changed: pick another ALI"
    lines = original.read_bytes().splitlines(keepends=True)
    assert lines[-1].strip() and b"Matricule" in lines[0]
    start = int(original.stat().st_mtime)
    corrected = put(folder / "BENEFICIAIRES.csv", b"".join(lines[:-1]), start + DAY)
    rejected = put(folder / "Beneficiaires.csv", b"".join([lines[0].replace(b"Matricule", b"Identifiant"),
                                                           *lines[1:-1]]), start + 2 * DAY)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in platform_env(root).items():
            mp.setenv(name, value)
        mp.delenv("ALI_DEMO_MODE", raising=False)
        result = run_refresh(MONTH, instance=dg.DagsterInstance.ephemeral())
        assert result.success
        return {**paths, "root": root, "original": original, "corrected": corrected, "rejected": rejected,
                "run_id": result.run_id, "audit": read_audit(MONTH, ALI)}


def test_audit_names_the_file_in_force_the_version_it_replaced_and_the_rejected_resend(resent):
    rows = [r for r in resent["audit"].livraisons if r["dataset"] == "beneficiaires"]
    assert [(r["role"], r["fichier"]) for r in rows] == [
        ("en vigueur", f"{MONTH}/{ALI}/BENEFICIAIRES.csv"),
        ("remplacée", f"{MONTH}/{ALI}/beneficiaires.csv"),
        ("rejetée", f"{MONTH}/{ALI}/Beneficiaires.csv"),
    ]
    in_force, replaced, rejected = rows
    corrected = resent["corrected"]
    assert in_force["sha256"] == sha256(corrected) and in_force["recu_le"] == received(corrected)
    assert in_force["run_id"] == resent["run_id"] != replaced["run_id"]
    assert in_force["archive"] == f"{in_force['sha256'][:2]}/{in_force['sha256']}.csv"
    assert (resent["ALI_ARCHIVE_DIR"] / in_force["archive"]).read_bytes() == corrected.read_bytes()
    data_rows = len(rows_of(corrected))
    assert data_rows == 15  # the sample's 16 rows, the last one removed
    assert [in_force[k] for k in ("lignes_lues", "lignes_chargees", "lignes_quarantaine", "lignes_ignorees")] == [
        data_rows, data_rows, 0, 0]
    assert in_force["dans_les_marts"] and not replaced["dans_les_marts"]
    assert replaced["sha256"] == sha256(resent["original"]) and replaced["recu_le"] == received(resent["original"])
    assert replaced["lignes_chargees"] == data_rows + 1
    assert rejected["sha256"] == sha256(resent["rejected"]) and rejected["recu_le"] == received(resent["rejected"])
    assert rejected["motif_rejet"] == "colonne(s) obligatoire(s) absente(s) : matricule"
    assert rejected["lignes_lues"] is None and rejected["archive"] is not None
    assert rejected["recu_le"] > in_force["recu_le"]  # received last, yet the corrected file stays in force
    conseillers = [r["role"] for r in resent["audit"].livraisons if r["dataset"] == "conseillers"]
    assert conseillers == ["en vigueur"]


def test_audit_figures_are_the_mart_row_and_match_a_count_by_hand_of_the_file_in_force(resent):
    figures = {c["colonne"]: c["valeur"] for c in resent["audit"].chiffres}
    with warehouse.connect(resent["ALI_WAREHOUSE"], read_only=True) as con:
        cursor = con.execute("SELECT * FROM marts.mart_ali_mensuel WHERE periode = ? AND code_ali = ?",
                             [dt.date(2026, 10, 1), ALI])
        mart = dict(zip([d[0] for d in cursor.description], cursor.fetchone()))
        loaded = con.execute("SELECT count(*), any_value(sha256), count(DISTINCT sha256) FROM raw.beneficiaires "
                             "WHERE periode = ? AND source_code = ?", [dt.date(2026, 10, 1), ALI]).fetchone()
    assert figures == {k: v for k, v in mart.items() if k not in ("periode", "code_ali", "nom_ali")}
    assert resent["audit"].nom_ali == mart["nom_ali"] == "ALI La Courneuve"
    by_hand = rows_of(resent["corrected"])
    persons = {(r["organisme"].strip().upper(), r["matricule"].strip().zfill(7)) for r in by_hand}
    still_in = {(r["organisme"].strip().upper(), r["matricule"].strip().zfill(7)) for r in by_hand
                if not r["datesortie"].strip()}
    assert loaded == (15, sha256(resent["corrected"]), 1)
    assert (figures["livre"], figures["file_active"], figures["accompagnes_fin_mois"]) == (True, 15, len(still_in))
    assert len(persons) == 15 and figures["sorties"] == sum(1 for r in by_hand if r["datesortie"].strip())
    jeux = {c["colonne"]: c["jeux"] for c in resent["audit"].chiffres}
    assert jeux["file_active"] == ("beneficiaires",) and jeux["etp_accompagnement"] == ("conseillers",)
    assert jeux["accompagnes_par_etp"] == ("beneficiaires", "conseillers")


def test_cli_prints_the_audit_in_french_without_any_personal_data(resent, monkeypatch, capsys):
    for name, value in platform_env(resent["root"]).items():
        monkeypatch.setenv(name, value)
    assert cli(["audit", "--periode", MONTH, "--ali", ALI.lower()]) == 0
    out = capsys.readouterr().out
    assert f"Audit de {ALI} (ALI La Courneuve) pour {MONTH}" in out
    assert f"beneficiaires — en vigueur : {MONTH}/{ALI}/BENEFICIAIRES.csv" in out
    assert f"sha256        {sha256(resent['corrected'])}" in out
    assert "motif du rejet colonne(s) obligatoire(s) absente(s) : matricule" in out
    assert re.search(r"file_active +15 +← beneficiaires\n", out)
    assert "aucun fichier de partenaire" in out and "ATTENTION" not in out
    tokens = set(re.findall(r"\w+", out))
    for row in rows_of(resent["original"]):  # every person of every version: none appears in the audit
        assert not {row["matricule"], row["matricule"].zfill(7), row["nom"], row["prenom"]} & tokens
    assert cli(["audit", "--periode", MONTH, "--ali", "ALI99"]) == 1
    assert "aucun fichier reçu" in capsys.readouterr().out


def test_audit_warns_when_the_marts_were_not_rebuilt_since_the_delivery_in_force(resent, tmp_path):
    """Ingestion without dbt (a run that failed in dbt): the mart still holds the previous file's figures."""
    copy = tmp_path / "ali.duckdb"
    shutil.copy(resent["ALI_WAREHOUSE"], copy)
    later = tmp_path / "inbox" / MONTH / ALI / "beneficiaires.csv"
    later.parent.mkdir(parents=True)
    lines = resent["corrected"].read_bytes().splitlines(keepends=True)
    put(later, b"".join(lines[:-1]), int(resent["rejected"].stat().st_mtime) + DAY)
    with warehouse.connect(copy) as con:
        assert ingest_folder(con, Settings(tmp_path / "inbox", tmp_path / "archive"), MONTH, PSEUDO, "sans-dbt") == 1
        result = audit(con, MONTH, ALI)
    rows = [(r["role"], r["fichier"], r["dans_les_marts"]) for r in result.livraisons if r["dataset"] == "beneficiaires"]
    assert rows[:2] == [("en vigueur", f"{MONTH}/{ALI}/beneficiaires.csv", False),
                        ("remplacée", f"{MONTH}/{ALI}/BENEFICIAIRES.csv", True)]
    assert {c["colonne"]: c["valeur"] for c in result.chiffres}["file_active"] == 15  # not 14: dbt did not run
    text = "\n".join(format_audit(result, tmp_path / "archive", []))
    assert "les marts n'ont pas encore été reconstruits avec ce fichier" in text


def test_declared_sources_of_each_figure_agree_with_dbt_lineage(tmp_path):
    assert lineage_problems() == []
    assert set(FEEDS) >= {"file_active", "etp_accompagnement", "accompagnes_par_etp"}
    # a mart that starts reading a partner's dataset, or gains a column: the audit says so
    manifest = json.loads(MANIFEST.read_text())
    mart = next(uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"
                and n["name"] == "mart_ali_mensuel")
    partner = next(uid for uid, s in manifest["sources"].items() if s["source_name"] == "raw"
                   and s["name"] == "participations")
    manifest["parent_map"][mart].append(partner)
    manifest["nodes"][mart]["columns"]["nouvel_indicateur"] = {"name": "nouvel_indicateur"}
    changed = tmp_path / "manifest.json"
    changed.write_text(json.dumps(manifest))
    problems = lineage_problems(changed)
    assert len(problems) == 2 and "nouvel_indicateur" in problems[0] and "participations" in problems[1]
    assert "aussi ceux des partenaires (participations)" in lineage_lines(changed)[0]
