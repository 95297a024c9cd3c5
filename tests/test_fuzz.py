"""Property-based fuzzing (hypothesis) of the readers and of the real ingestion with hostile files.

Property (contract §4): every file ends loaded, quarantined row by row, or rejected with a French
reason — never another exception, never a hang (a deadline per file), memory bounded by the limits
of ``pipelines.inbox.limits`` (lowered here so that some files exceed them) — and for every loaded
file rows read = loaded + quarantined + ignored. Strategies: ``fuzz_files.py``.

CI runs a small derandomised campaign (the same files every run: no flaky test), about 400 files.
The full campaign draws new files each time and writes its figures (docs/reliability.md):

    ALI_FUZZ_FILES=10000 ALI_FUZZ_REPORT=/tmp/fuzz.json .venv/bin/python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
from conftest import PSEUDO, REFERENCE_DIR, check_counts
from fuzz_files import MARKER, MAX_FILE_BYTES, PERSONAL, csv_bytes, rarely, xlsx_bytes
from hypothesis import HealthCheck, event, given, settings

from pipelines.contract import DATASETS
from pipelines.inbox.discover import scan
from pipelines.inbox.headers import normalise_header
from pipelines.inbox.read import Unreadable, read_table
from pipelines.raw.checks import ingestion_problems
from pipelines.raw.load import Settings, ingest_folder
from pipelines.raw.prepare import Prepared, prepare
from pipelines.reference.tables import load_reference
from pipelines.warehouse import connect

FILES = int(os.environ.get("ALI_FUZZ_FILES") or 0)
SHARES = {"csv": 0.3, "xlsx": 0.2, "prepare": 0.3, "ingestion": 0.2}
PER_INGESTION = 2.5  # files per ingestion example: 1 to 6 distinct (source, dataset, extension), 2.5 on average
EXPECTED = {normalise_header(c) for d in DATASETS.values() for c in d.column_names}
SOURCES = {**{f"ALI{i:02d}": "ALI" for i in range(1, 23)}, **{f"P{i:03d}": "PARTENAIRE" for i in range(1, 83)}}
READ_REASONS = re.compile(
    r"^(extension « |encodage UTF-16 non accepté|encodage mixte : |caractère de contrôle U\+|octet nul |octet 0x"
    r"|fichier vide : |séparateur indéterminé : |en-tête mal formé : |CSV mal formé vers la ligne \d+ : "
    r"|classeur Excel (refusé|illisible) : |fichier trop volumineux : )")
FILE_REASONS = re.compile(
    r"^(fichier illisible : |colonne\(s\) obligatoire\(s\) absente\(s\) : |dossier de période « |emplacement invalide"
    r"|code source « |jeu de données « |jeu « |lien symbolique « |fichier trop volumineux : )")
OUTCOMES: Counter[str] = Counter()
LIMITS = {"ALI_MAX_FILE_BYTES": str(MAX_FILE_BYTES), "ALI_MAX_XLSX_CELLS": "200000",
          "ALI_MAX_XLSX_UNCOMPRESSED_BYTES": "20000000", "ALI_INBOX_QUIET_SECONDS": "0"}


def fuzz(kind: str, deadline_seconds: int):
    """Examples from ``ALI_FUZZ_FILES`` (default: about 400 files in all). Derandomised unless a campaign
    is asked for. Health checks: big files are the point (too_slow, data_too_large, large_base_example),
    and the per-test ``tmp_path`` is shared by the examples on purpose (each writes its own files)."""
    files = (FILES or 400) * SHARES[kind]
    return settings(
        max_examples=max(1, round(files / PER_INGESTION if kind == "ingestion" else files)),
        deadline=timedelta(seconds=deadline_seconds), derandomize=not FILES, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module", autouse=True)
def campaign():
    """Fuzzing limits for the module; the campaign's figures in ``$ALI_FUZZ_REPORT`` at the end."""
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS.items():
            patch.setenv(name, value)
        yield
    if os.environ.get("ALI_FUZZ_REPORT"):
        Path(os.environ["ALI_FUZZ_REPORT"]).write_text(json.dumps({
            "fichiers": sum(n for k, n in OUTCOMES.items() if k.startswith("fichier ")),
            "secondes": round(time.monotonic() - started, 1),
            "rss_max_mo": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "resultats": dict(sorted(OUTCOMES.items())),
        }, ensure_ascii=False, indent=1))


def count(kind: str, outcome: str, reason: str = "") -> None:
    OUTCOMES[f"fichier {kind} : {outcome}"] += 1
    event(outcome)
    if reason:  # the kind of reason, without file names, positions or sizes
        words = reason.removeprefix("fichier illisible : ").split(" : ")
        kind_of = " : ".join(words[:2] if words[0].startswith("classeur Excel") else words[:1])
        kind_of = re.split(r" «| [(]| à la position| vers la ligne| [0-9]", kind_of)[0]
        kind_of = re.sub(r"U\+[0-9A-F]{4}", "U+…", kind_of)
        OUTCOMES[f"motif : {kind_of.strip()}"] += 1


def read_outcome(path: Path) -> str:
    """Read ``path``; check the table's invariants or the reason's form. Returns « lu » or the reason."""
    try:
        table = read_table(path, EXPECTED)
    except Unreadable as error:
        assert READ_REASONS.match(str(error)) and MARKER not in str(error), str(error)
        return str(error)
    records = table.records()
    numbers = [n for n, _ in records]
    assert numbers == sorted(set(numbers)) and table.ignored_rows == sorted(set(table.ignored_rows))
    assert not set(numbers) & set(table.ignored_rows) and all(n >= 2 for n in numbers + table.ignored_rows)
    assert all("".join(cells).strip() and all(isinstance(c, str) for c in cells) for _, cells in records)
    assert table.encoding in {"utf-8", "utf-8-sig", "cp1252", "xlsx"}
    return "lu"


@fuzz("csv", 5)
@given(content=csv_bytes())
def test_reading_any_csv_ends_in_a_table_or_a_french_reason(tmp_path, content):
    path = tmp_path / "fichier.csv"
    path.write_bytes(content)
    outcome = read_outcome(path)
    count("csv", "lu") if outcome == "lu" else count("csv", "rejeté", outcome)


@fuzz("xlsx", 5)
@given(content=xlsx_bytes())
def test_reading_any_workbook_ends_in_a_table_or_a_french_reason(tmp_path, content):
    path = tmp_path / "fichier.xlsx"
    path.write_bytes(content)
    outcome = read_outcome(path)
    count("xlsx", "lu") if outcome == "lu" else count("xlsx", "rejeté", outcome)


NAME = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..") and not s.startswith("."))
SENT = [("ALI01", "beneficiaires"), ("ali02", "Bénéficiaires"), (" ALI03 ", "CONSEILLERS"),
        ("P045", "participations"), ("p045", "Actions")]
"""Places as the contract wants them, in the spellings senders use (most files are sent to the right place)."""
PLACE = st.tuples(
    st.sampled_from(["2024-03"] * 12 + ["2024-13", "mars-2024", None]).flatmap(lambda p: st.just(p) if p else NAME),
    st.sampled_from(SENT * 3 + [("P001", "beneficiaires"), ("P999", "actions"), ("ALI01", "salaries"), None])
    .flatmap(lambda s: st.just(s) if s else st.tuples(NAME, NAME)),
    st.sampled_from([".csv"] * 6 + [".xlsx"] * 3 + [".CSV", ".Xlsx", ".txt", ""]),
    st.sampled_from([3] * 12 + [2, 4]),
)


@fuzz("prepare", 5)
@given(data=st.data())
def test_every_received_file_is_prepared_or_rejected_with_a_french_reason(tmp_path, data):
    period, (source, stem), suffix, depth = data.draw(PLACE)
    dataset = DATASETS.get(normalise_header(stem))
    content = data.draw(xlsx_bytes(dataset) if suffix.lower() == ".xlsx" else csv_bytes(dataset))
    linked = data.draw(rarely(10))
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        inbox = Path(work) / "inbox"
        path = inbox.joinpath(*[period, source, "sous-dossier"][: depth - 1], stem + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        target = Path(work) / "hors_boite" if linked else path
        target.write_bytes(content)
        if linked:
            path.symlink_to(target)
        files = scan(inbox, period).ready
        assert [f.path for f in files] == [path]
        prepared = prepare(Prepared(files[0], "0" * 64, None), SOURCES)
    if prepared.rejection:
        assert FILE_REASONS.match(prepared.rejection) and MARKER not in prepared.rejection, prepared.rejection
        assert not linked or prepared.rejection.startswith("lien symbolique")
        count("prepare", "rejeté", prepared.rejection)
    else:
        assert not linked and prepared.cells.num_rows == prepared.table.num_rows
        assert prepared.cells.column_names == ["ligne", "champs_en_trop", "aligne", *prepared.dataset.column_names]
        count("prepare", "prêt à valider")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A warehouse with the reference loaded, copied for each example (examples stay independent)."""
    path = tmp_path_factory.mktemp("modele") / "ali.duckdb"
    with connect(path) as con:
        load_reference(con, REFERENCE_DIR)
    return path


DELIVERY = st.tuples(
    st.sampled_from([("ALI01", "beneficiaires"), ("ALI01", "BENEFICIAIRES"), ("ALI02", "beneficiaires"),
                     ("ALI01", "conseillers"), ("P045", "participations"), ("P045", "actions"), ("P001", "actions")]
                    * 3 + [("P999", "actions"), ("ALI01", "actions"), ("ALI02", "autre")]),
    st.sampled_from([".csv", ".csv", ".xlsx"]),
)


@pytest.mark.slow
@fuzz("ingestion", 60)
@given(data=st.data())
def test_the_ingestion_accounts_for_every_file_in_a_real_warehouse(template, tmp_path, data):
    deliveries = data.draw(st.lists(DELIVERY, min_size=1, max_size=6, unique=True))
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        root = Path(work)
        shutil.copy(template, root / "ali.duckdb")
        written = []
        for i, ((source, stem), suffix) in enumerate(deliveries):
            path = root / "inbox" / "2024-03" / source / (stem + suffix)
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset = DATASETS.get(normalise_header(stem))
            path.write_bytes(data.draw(xlsx_bytes(dataset) if suffix == ".xlsx" else csv_bytes(dataset)))
            os.utime(path, (1_710_000_000 + 60 * i, 1_710_000_000 + 60 * i))  # distinct reception times
            written.append(f"2024-03/{source}/{stem}{suffix}")
        with connect(root / "ali.duckdb") as con:
            settings_, deferred = Settings(root / "inbox", root / "archive"), []
            assert ingest_folder(con, settings_, "2024-03", PSEUDO, "fuzz", deferred=deferred) == len(written)
            assert deferred == []
            check_counts(con, "2024-03")  # rows read = loaded + quarantined + ignored, for every valid file
            accounted(con, written)
            assert ingestion_problems(con, root / "inbox", ["2024-03"]) == []
            assert ingest_folder(con, settings_, "2024-03", PSEUDO, "fuzz") == 0  # a re-run changes nothing


def accounted(con, written: list[str]) -> None:
    """One manifest row per file; rejections with a French reason; quarantine and raw rows as counted."""
    rows = con.execute(
        "SELECT fichier, statut, motif_rejet, dataset, sha256, en_vigueur, lignes_chargees, lignes_quarantaine, "
        "lignes_ignorees, array_to_string(colonnes_ignorees, '|') FROM raw.livraisons").fetchall()
    assert sorted(r[0] for r in rows) == sorted(written)
    for fichier, statut, motif, dataset, sha, in_force, loaded, quarantined, ignored, extra in rows:
        assert MARKER not in (motif or "") + (extra or ""), fichier
        if statut == "REJETE":
            assert FILE_REASONS.match(motif), motif
            count("ingestion", "rejeté", motif)
            continue
        assert con.execute("SELECT count(*) FROM raw.quarantaine WHERE fichier = ? AND sha256 = ?",
                           [fichier, sha]).fetchall() == [(quarantined,)]
        if in_force:
            assert con.execute(f"SELECT count(*) FROM raw.{dataset} WHERE sha256 = ?", [sha]).fetchall() == [(loaded,)]
        count("ingestion", "chargé" if quarantined == 0 else "chargé, lignes en quarantaine")
        OUTCOMES["lignes chargées"] += loaded
        OUTCOMES["lignes en quarantaine"] += quarantined
        OUTCOMES["lignes ignorées"] += ignored
    personal = ", ".join(f"'{c}'" for c in PERSONAL)
    assert con.execute(f"SELECT count(*) FROM (SELECT unnest(motifs) AS m FROM raw.quarantaine) "
                       f"WHERE m.colonne IN ({personal}) AND m.valeur IS NOT NULL").fetchall() == [(0,)]
    assert con.execute(f"SELECT count(*) FROM (SELECT unnest(motifs) AS m FROM raw.quarantaine) "
                       f"WHERE contains(m.message, '{MARKER}')").fetchall() == [(0,)]
