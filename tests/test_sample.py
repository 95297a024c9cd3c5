"""The sample deliveries generator: deterministic, laid out per contract §1, varied per §2, counted right."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest

from pipelines.contract import DATASETS, DATASETS_BY_SOURCE_TYPE
from pipelines.inbox.headers import normalise_header
from pipelines.sample import generate
from pipelines.sample.forms import FRENCH_LABELS, HEADER_STYLES, header_label
from pipelines.sample.population import NOMS, PRENOMS_F, PRENOMS_M
from pipelines.sample.rejects import REJECTS

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
SHORT = {"scale": 0.05, "start": "2024-01", "end": "2024-03", "reference_dir": REFERENCE_DIR}
LAYOUT = re.compile(
    r"(?P<period>\d{4}-(0[1-9]|1[0-2]))/(?P<source>ALI(0[1-9]|1\d|2[0-2])|P0(0[1-9]|[1-7]\d|8[0-2]))"
    r"/(?P<dataset>[a-z]+)\.(csv|xlsx)"
)


def files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def data_rows(path: Path) -> int:
    """Data records after the header, without blank rows and a closing Total row (contract §2)."""
    if path.suffix == ".xlsx":
        table = [["" if c is None else str(c) for c in row] for row in openpyxl.load_workbook(path).active.values]
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        first = next(line for line in text.splitlines() if line.strip())
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=max(";,\t", key=first.count)))
    rows = [row for row in table if any(cell.strip() for cell in row)][1:]
    return len(rows) - bool(rows and rows[-1][0].startswith("Total"))


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    root = tmp_path_factory.mktemp("short")
    return root, generate(root, **SHORT)


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """A longer range, to measure shares and meet planted rejections (2024 has four)."""
    root = tmp_path_factory.mktemp("year")
    return root, generate(root, scale=0.03, start="2024-01", end="2024-12", reference_dir=REFERENCE_DIR)


def test_same_arguments_give_same_paths_bytes_and_mtimes(short, tmp_path):
    root, summary = short
    again = generate(tmp_path, **SHORT)
    first, second = files(root), files(tmp_path)
    assert list(first) == list(second)
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name
        assert first[name].stat().st_mtime_ns == second[name].stat().st_mtime_ns, name
    assert again == summary


def test_a_month_does_not_depend_on_the_range_asked_for(short, tmp_path):
    root, _ = short
    generate(tmp_path, **{**SHORT, "start": "2024-02", "end": "2024-02"})
    alone = files(tmp_path)
    within = {name: path for name, path in files(root).items() if name.startswith("2024-02/")}
    shared = set(alone) & set(within)
    assert len(shared) > 0.9 * len(within)
    assert all(alone[name].read_bytes() == within[name].read_bytes() for name in shared)


def test_every_path_follows_the_layout_except_the_planted_rejections(year):
    root, summary = year
    rejected = dict(summary.rejected)
    for name in files(root):
        match = LAYOUT.fullmatch(name.lower().replace("/ali", "/ALI").replace("/p0", "/P0"))
        kind = "ALI" if match and match["source"].startswith("ALI") else "PARTENAIRE"
        if match is None or match["dataset"] not in DATASETS_BY_SOURCE_TYPE[kind]:
            assert name in rejected, name
    assert {"2024-05/ALI05/actions.csv", "2024-11/P099/participations.csv", "2024-13/ALI01/beneficiaires.csv"} <= set(
        rejected
    )
    assert set(rejected) <= set(files(root))


def test_summary_counts_match_the_files_on_disk(year):
    root, summary = year
    on_disk = files(root)
    assert summary.files == len(on_disk)
    assert summary.size == sum(p.stat().st_size for p in on_disk.values())
    rejected = dict(summary.rejected)
    assert summary.rows == sum(data_rows(p) for name, p in on_disk.items() if name not in rejected)
    assert sum(summary.rejected_files.values()) == len(rejected) == 4
    assert summary.months == 12 and summary.late_files > 0 and summary.resends > 0 and summary.absent > 0


def test_invalid_rows_are_one_to_three_percent_of_varied_kinds(year):
    _, summary = year
    assert 0.01 <= summary.invalid_share <= 0.03
    assert len(summary.invalid_rows) >= 12
    assert summary.reported["personne_dans_deux_ali"] > 0


def test_resends_and_rejected_resends_follow_a_valid_older_file(year):
    root, summary = year
    resent = [*summary.resent, *(j.path for j in REJECTS if j.mode == "resend" and j.path in dict(summary.rejected))]
    assert summary.resent
    for name in resent:
        path = root / name
        siblings = [p for p in path.parent.iterdir() if p != path and p.stem.lower() == path.stem.lower()]
        assert siblings and all(p.stat().st_mtime < path.stat().st_mtime for p in siblings), name
        assert all(p.read_bytes() != path.read_bytes() for p in siblings), name


def test_the_forms_of_contract_section_2_are_all_present(short):
    root, _ = short
    contents = {name: p.read_bytes() for name, p in files(root).items()}
    csvs = {name: data for name, data in contents.items() if name.endswith(".csv") and data.strip()}
    assert any(data.startswith(b"\xef\xbb\xbf") for data in csvs.values())
    cp1252 = [data for data in csvs.values() if b"\x92" in data]
    assert cp1252 and all(data.decode("cp1252") for data in cp1252)
    with pytest.raises(UnicodeDecodeError):
        cp1252[0].decode("utf-8")
    assert any(b"\t" in data.split(b"\n", 1)[0] for data in csvs.values())
    assert any(b"\xe2\x80\xaf" in data for data in csvs.values())  # narrow no-break space in a montant
    assert any(re.search(rb'"[^"]*\n[^"]*"', data) for data in csvs.values())  # quoted newline
    workbooks = [p for name, p in files(root).items() if name.endswith(".xlsx")]
    assert {p.stem.lower() for p in workbooks} == {"beneficiaires", "conseillers", "actions"}
    for path in workbooks:
        rows = list(openpyxl.load_workbook(path).active.values)
        assert rows[0] == (None,) * len(rows[0]) and rows[-1][0] == "Total"


def test_header_spellings_normalise_to_the_contract_names():
    names = {c for d in DATASETS.values() for c in d.column_names}
    assert names <= set(FRENCH_LABELS)
    for name in names:
        for style in HEADER_STYLES:
            assert normalise_header(header_label(name, style)) == normalise_header(name), (name, style)
    for extra in ("commentaire", "observations"):
        assert normalise_header(FRENCH_LABELS[extra]) not in {normalise_header(n) for n in names}


def test_names_can_be_written_in_windows_1252():
    for name in (*NOMS, *PRENOMS_F, *PRENOMS_M):
        name.encode("cp1252")
