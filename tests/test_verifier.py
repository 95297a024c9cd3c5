"""The pre-flight check (``retours.md`` §2): the verdict ingestion gives, before the file is sent.

The main test ingests months of the README's sample (planted faults included, at a small scale so CI
stays fast) with the real ingestion, then asks the verifier about every file and compares with what
``raw.livraisons`` and ``raw.quarantaine`` recorded. In CI, three months (``MONTHS``); every month of
the range at the README's scale is the longer run documented in docs/ingestion.md:
``ALI_VERIFIER_MONTHS=all ALI_VERIFIER_SCALE=1 .venv/bin/python -m pytest tests/test_verifier.py -k sample``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import BENEF_HEADER, PSEUDO, REFERENCE_DIR, benef_row, lines

from pipelines.contract import CHECKS, DATASETS, FIXES, REJECTIONS, REPORTED
from pipelines.inbox.discover import month_folders, other_folders
from pipelines.privacy.guard import MASQUE, MESSAGE_MASQUE
from pipelines.raw.load import Settings, ingest_folder
from pipelines.raw.validate import validation_sql
from pipelines.reference.tables import load_reference
from pipelines.sample import generate
from pipelines.senders.verify import Verifier
from pipelines.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
COUNTS = ("statut", "motif_rejet", "regle_rejet", "lignes_lues", "lignes_chargees", "lignes_quarantaine",
          "lignes_ignorees")


MONTHS = ("2023-11", "2024-05", "2026-02")
"""In CI: three months holding a re-sent unreadable file, a dataset not allowed for its source and a re-send
missing a required column (``pipelines.sample.rejects``), besides each month's quarantined rows."""


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample's default range, generated whole; the months compared ingested by the real ingestion."""
    root = tmp_path_factory.mktemp("verifier")
    scale = float(os.environ.get("ALI_VERIFIER_SCALE", "0.05"))
    generate(root / "inbox", scale=scale, start="2023-02", end="2026-10", reference_dir=REFERENCE_DIR)
    con = connect(root / "ali.duckdb")
    load_reference(con, REFERENCE_DIR)
    every = os.environ.get("ALI_VERIFIER_MONTHS") == "all"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALI_INBOX_QUIET_SECONDS", "0")
        settings = Settings(root / "inbox", root / "archive")
        for folder in month_folders(settings.inbox) + other_folders(settings.inbox) if every else MONTHS:
            ingest_folder(con, settings, folder, PSEUDO, "verifier")
    yield root, con
    con.close()


def recorded_reasons(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[tuple]]:
    """(fichier, sha256) → [(ligne, colonne, regle, message)] as raw.quarantaine holds them."""
    reasons: dict[tuple[str, str], list[tuple]] = {}
    for fichier, sha, ligne, motifs in con.execute(
            "SELECT fichier, sha256, ligne, motifs FROM raw.quarantaine ORDER BY fichier, sha256, ligne").fetchall():
        reasons.setdefault((fichier, sha), []).extend(
            (ligne, m["colonne"], m["regle"], m["message"].removesuffix(MASQUE)) for m in motifs)
    return reasons


def test_the_verifier_gives_every_sample_file_the_verdict_ingestion_recorded(sample, tmp_path):
    root, con = sample
    cursor = con.execute("SELECT * FROM raw.livraisons WHERE periode IS NOT NULL "
                         "AND len(string_split(fichier, '/')) = 3 ORDER BY fichier, recu_le")
    names = [d[0] for d in cursor.description]
    manifest = [dict(zip(names, row)) for row in cursor.fetchall()]
    files = []
    for row in manifest:  # each version as it was received: its archived bytes under its inbox name
        path = tmp_path / str(len(files)) / Path(row["fichier"]).name
        path.parent.mkdir()
        if row["archive"]:
            shutil.copy2(root / "archive" / row["archive"], path)
        else:  # a link, an oversize file: refused before it is archived
            os.symlink(os.readlink(root / "inbox" / row["fichier"]), path)
        files.append((path, row["fichier"].split("/")[1], row["periode_dossier"]))
    verifier = Verifier(REFERENCE_DIR)
    verdicts = verifier.check_many(files)
    verifier.close()
    reasons = recorded_reasons(con)
    every = os.environ.get("ALI_VERIFIER_MONTHS") == "all"
    assert len({row["periode_dossier"] for row in manifest}) == (45 if every else len(MONTHS))
    for row, verdict in zip(manifest, verdicts):
        assert verdict.fichier == row["fichier"]
        assert {k: getattr(verdict, k) for k in COUNTS} == {k: row[k] for k in COUNTS}, row["fichier"]
        expected = reasons.get((row["fichier"], row["sha256"]), [])
        found = [(q["ligne"], q["colonne"], q["regle"], q["message"]) for q in verdict.quarantaine]
        assert [r[:3] for r in found] == [r[:3] for r in expected], row["fichier"]
        assert [f[3] for f, e in zip(found, expected) if e[3] != MESSAGE_MASQUE] == \
            [e[3] for e in expected if e[3] != MESSAGE_MASQUE], row["fichier"]
    rejected = {v.regle_rejet for v in verdicts if v.statut == "REJETE"}
    rules = {q["regle"] for v in verdicts for q in v.quarantaine}
    # the sample's planted faults: whole-file rejections of several kinds, quarantine of every family
    assert {"encodage", "colonnes_absentes", "jeu_non_autorise"} <= rejected
    if every:
        assert {"fichier_vide", "source_inconnue", "classeur_refuse"} <= rejected
    assert {"doublon", "matricule_invalide", "commune_inconnue", "date_invalide", "valeur_hors_liste"} <= rules
    assert sum(len(v.quarantaine) for v in verdicts) == sum(len(r) for r in reasons.values())


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", "verifier", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_command_needs_no_key_writes_nothing_prints_no_identifier_and_exits_0_1_or_2(tmp_path):
    files = tmp_path / "fichiers"
    files.mkdir()
    good = benef_row()
    bad = benef_row(matricule="98765", sexe="X", naissance="31/02/1980", nom="Dupont", prenom="Marie")
    (files / "beneficiaires.csv").write_text(lines(BENEF_HEADER, good), encoding="utf-8")
    (files / "Beneficiaires.csv").write_text(lines(BENEF_HEADER + ";commentaire", good + ";RAS", bad + ";x"),
                                             encoding="utf-8")
    (files / "conseillers.csv").write_text("referent|fonction\nR1|CIP\n", encoding="utf-8")
    work = tmp_path / "vide"
    work.mkdir()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "ALI_REFERENCE_DIR": str(REFERENCE_DIR),
           "ALI_WAREHOUSE": str(tmp_path / "absent" / "ali.duckdb"), "HOME": str(work)}

    clean = run_cli(str(files / "beneficiaires.csv"), "--source", "ali01", "--periode", "2024-03", cwd=work, env=env)
    assert clean.returncode == 0, clean.stderr
    assert "Verdict : VALIDE, aucune ligne en quarantaine" in clean.stdout

    quarantined = run_cli(str(files / "Beneficiaires.csv"), "--source", "ALI01", "--periode", "2024-03", "--json",
                          cwd=work, env=env)
    assert quarantined.returncode == 1, quarantined.stderr
    verdict = json.loads(quarantined.stdout)
    assert {k: verdict[k] for k in ("statut", "motif_rejet", "lignes_lues", "lignes_chargees", "lignes_quarantaine",
                                    "lignes_ignorees")} == {
        "statut": "VALIDE", "motif_rejet": None, "lignes_lues": 2, "lignes_chargees": 1, "lignes_quarantaine": 1,
        "lignes_ignorees": 0}
    assert verdict["quarantaine"] == [
        {"ligne": 3, "colonne": "date_naissance", "regle": "date_invalide",
         "message": CHECKS["date_invalide"].message},
        {"ligne": 3, "colonne": "sexe", "regle": "valeur_hors_liste", "message": "valeur hors liste (F, M)"},
    ]
    assert verdict["colonnes_ignorees"] == [19]
    text = run_cli(str(files / "Beneficiaires.csv"), "--source", "ALI01", "--periode", "2024-03", cwd=work, env=env)
    assert "3 · sexe · valeur_hors_liste · valeur hors liste (F, M)" in text.stdout
    assert FIXES["valeur_hors_liste"] in text.stdout and FIXES["date_invalide"] in text.stdout
    for identifier in ("98765", "0098765", "31/02/1980", "1234567", "Dupont", "Marie", "Martin", "Zoé"):
        assert identifier not in quarantined.stdout + text.stdout + text.stderr

    rejected = run_cli(str(files / "conseillers.csv"), "--source", "ALI01", "--periode", "2024-03", cwd=work, env=env)
    assert rejected.returncode == 1
    assert "Verdict : REJETÉ" in rejected.stdout and FIXES["separateur"] in rejected.stdout

    for usage in (["absent.csv", "--source", "ALI01", "--periode", "2024-03"],
                  [str(files / "beneficiaires.csv"), "--source", "ALI01", "--periode", "2024-13"],
                  [str(files / "beneficiaires.csv"), "--periode", "2024-03"]):
        assert run_cli(*usage, cwd=work, env=env).returncode == 2
    assert list(work.iterdir()) == [] and not (tmp_path / "absent").exists()
    assert sorted(p.name for p in files.iterdir()) == ["Beneficiaires.csv", "beneficiaires.csv", "conseillers.csv"]


def test_every_rule_rejection_and_reported_anomaly_tells_the_sender_how_to_fix_it():
    emitted = {code for d in DATASETS.values() for code in re.findall(r"'regle': '(\w+)'", validation_sql(d))}
    assert emitted == {r.code for d in DATASETS.values() for r in d.rules} | set(CHECKS)
    codes = emitted | set(REJECTIONS) | set(REPORTED)
    assert set(FIXES) == codes
    for code in codes:
        assert re.fullmatch(r"[A-ZÉÈÀ].{20,220}\.", FIXES[code]), code
    for dataset in DATASETS.values():  # one code, one sentence: a code shared by two datasets is one rule
        for rule in dataset.rules:
            assert FIXES[rule.code] == rule.fix
    raised = set(re.findall(r'Unreadable\(\s*"(\w+)"', (ROOT / "pipelines/inbox/read.py").read_text()))
    raised |= set(re.findall(r'(?:\(|return )"(\w+)",', (ROOT / "pipelines/raw/prepare.py").read_text()))
    assert raised == set(REJECTIONS)
