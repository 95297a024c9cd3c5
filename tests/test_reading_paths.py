"""DuckDB's CSV reader and Python's ``csv`` module give the same answer on every file (issue 13).

``read_table`` reads a CSV file's records with DuckDB when the file's layout is unambiguous
(``pipelines.inbox.csv_duckdb``) and with Python otherwise; Python is the contract's reference. For
every file compared here both give the same header, records (line numbers and cells), ignored rows,
encoding, delimiter, extra cells and text, or the same rejection (rule and reason): every file of a
generated sample (every form of the contract and the senders' usual faults), the fuzz corpus
(``fuzz_files.py``), and hand-written files that pin which reader takes which shape.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import REFERENCE_DIR
from fuzz_files import csv_bytes
from hypothesis import HealthCheck, given, settings

from pipelines.contract import DATASETS
from pipelines.inbox.headers import normalise_header
from pipelines.inbox.read import DUCKDB_FROM_BYTES, Unreadable, read_table
from pipelines.inbox.table import WHITESPACE
from pipelines.privacy.identifiers import NIR_RE2, nir_forms
from pipelines.sample import generate

EVERY_COLUMN = {normalise_header(c.name) for d in DATASETS.values() for c in d.columns}
FUZZED: Counter[str] = Counter()
"""Which reader took each fuzz file."""
HEADER = "referent;fonction;etp;date_arrivee"


def outcome(path: Path, reader: str) -> tuple:
    dataset = DATASETS.get(path.stem.lower())
    expected = {normalise_header(c) for c in dataset.column_names} if dataset else EVERY_COLUMN
    try:
        table = read_table(path, expected, reader=reader)
    except Unreadable as error:
        return ("rejet", error.rule, str(error)), "rejet"
    return (table.header, table.records(), table.ignored_rows, table.encoding, table.delimiter,
            table.overflow().to_pylist(), table.text()), table.reader


def same_answer(path: Path) -> str:
    """Both readers' answers on ``path`` are equal; returns the reader DuckDB's path used (whatever
    the file's size: ``read_table`` leaves files under ``DUCKDB_FROM_BYTES`` to Python)."""
    answer, reader = outcome(path, "duckdb")
    reference, _ = outcome(path, "python")
    assert answer == reference
    return reader


def test_blank_means_what_python_strips():
    assert WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def test_every_file_of_a_generated_sample_reads_the_same(tmp_path):
    generate(tmp_path, scale=0.02, start="2024-01", end="2024-03", reference_dir=REFERENCE_DIR)
    readers = Counter(same_answer(path) for path in sorted(tmp_path.rglob("*.csv")))
    assert sum(readers.values()) > 500 and readers["duckdb"] >= 0.95 * sum(readers.values()), readers


CASES = {  # name: (bytes, reader expected)
    "lf": (f"{HEADER}\nR1;CIP;1;2024-01-02\nR2;CIP;0,5;2024-01-03\n".encode(), "duckdb"),
    "crlf_without_final_break": (f"{HEADER}\r\nR1;CIP;1;2024-01-02\r\nR2;CIP;1;".encode(), "duckdb"),
    "lone_cr": (f"{HEADER}\rR1;CIP;1;2024-01-02\rR2;CIP;1;2024-01-03\r".encode(), "duckdb"),
    "bom": (f"\ufeff{HEADER}\nR1;Conseillère;1;2024-01-02\n".encode(), "duckdb"),
    "windows_1252": (f"{HEADER}\nR1;Conseillère d’insertion;1;2024-01-02\n".encode("cp1252"), "duckdb"),
    "comma_quoted_decimals": (b'referent,fonction,etp,date_arrivee\nR1,CIP,"0,5",2024-01-02\n', "duckdb"),
    "doubled_quotes_and_delimiters": (f'{HEADER}\nR1;"dit ""Jo""; CIP";"";2024-01-02\n'.encode(), "duckdb"),
    "quoted_line_breaks": (f'{HEADER}\r\nR1;"CIP\nsenior";1;2024-01-02\r\nR2;"a\r\nb";1;x\r\nR3;C;1;x\r\n'
                           .encode(), "duckdb"),
    "blank_rows_total_and_trailing_blanks": (f"\n;;;\n{HEADER}\nR1;CIP;1;x\n\n ; ;\t;\nR2;CIP;1;x\n"
                                             f"Total;2;;\n\n;;\n".encode(), "duckdb"),
    "ragged_rows": (f"{HEADER}\nR1;CIP\nR2;CIP;1;x;en trop;\nR3;CIP;1;x; \u00a0\nR4\n".encode(), "duckdb"),
    "only_a_header": (f"{HEADER}\n\n".encode(), "duckdb"),
    "unicode_blank_cells": (f"{HEADER}\nR1;CIP;1;x\n\u2028;\u3000;\x1c;\nR2;CIP;1;x\n".encode(), "duckdb"),
    "quote_inside_a_cell": (f'{HEADER}\nR1;C"I"P;1;x\n'.encode(), "python"),
    "spaces_around_quotes": (f'{HEADER}\nR1; "CIP" ;1;x\n'.encode(), "python"),
    "mixed_line_endings": (f"{HEADER}\r\nR1;CIP;1;x\nR2;CIP;1;x\r\n".encode(), "python"),
    "unterminated_quote": (f'{HEADER}\nR1;"CIP;1;x\nR2;CIP;1;x\n'.encode(), "rejet"),
    "text_after_a_closing_quote": (f'{HEADER}\nR1;"CIP"x;1;x\n'.encode(), "rejet"),
    "record_over_the_field_limit": (f"{HEADER}\nR1;{'x' * 140_000};1;x\n".encode(), "rejet"),
    "long_cell_under_the_limit": (f"{HEADER}\nR1;{'x' * 120_000};1;x\n".encode(), "duckdb"),
    "record_over_the_limit_in_short_cells": (f"{HEADER}\nR1;{'x' * 70_000};{'y' * 70_000};x\n".encode(), "python"),
}


@pytest.mark.parametrize("name", CASES)
def test_each_shape_reads_the_same_with_the_reader_expected(tmp_path, name):
    content, expected = CASES[name]
    path = tmp_path / "conseillers.csv"
    path.write_bytes(content)
    assert same_answer(path) == expected


def test_a_library_raising_pythons_csv_field_limit_changes_nothing_of_what_is_rejected(tmp_path):
    """frictionless (the tests' Table Schema checks) raises the process-wide limit when imported."""
    import csv

    path = tmp_path / "conseillers.csv"
    path.write_bytes(CASES["record_over_the_field_limit"][0])
    before = csv.field_size_limit(2**31 - 1)
    try:
        assert same_answer(path) == "rejet"
    finally:
        csv.field_size_limit(before)


def test_duckdb_numbers_records_as_python_does(tmp_path):
    path = tmp_path / "conseillers.csv"
    path.write_bytes(CASES["blank_rows_total_and_trailing_blanks"][0])
    table = read_table(path, EVERY_COLUMN, reader="duckdb")
    assert table.reader == "duckdb"
    assert table.records() == [(4, ["R1", "CIP", "1", "x"]), (7, ["R2", "CIP", "1", "x"])]
    assert table.ignored_rows == [5, 6, 8]
    path.write_bytes(CASES["quoted_line_breaks"][0])
    assert [n for n, _ in read_table(path, EVERY_COLUMN, reader="duckdb").records()] == [2, 4, 6]


def test_auto_leaves_small_files_to_python(tmp_path):
    path = tmp_path / "conseillers.csv"
    path.write_bytes(CASES["lf"][0])
    assert read_table(path, EVERY_COLUMN).reader == "python"
    path.write_bytes(f"{HEADER}\n".encode() + b"R1;CIP;1;2024-01-02\n" * (DUCKDB_FROM_BYTES // 20 + 1))
    assert read_table(path, EVERY_COLUMN).reader == "duckdb"


@settings(max_examples=300, deadline=timedelta(seconds=5), derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.function_scoped_fixture])
@given(content=csv_bytes())
def test_every_fuzz_file_reads_the_same(tmp_path, content):
    path = tmp_path / "fichier.csv"
    path.write_bytes(content)
    FUZZED[same_answer(path)] += 1


def test_the_fuzz_corpus_took_both_readers():
    """Run after the fuzzing above (same module, same worker): both paths were compared, not one (the
    hand-written cases above pin the shapes that go to Python; the draw varies with the process)."""
    assert FUZZED["duckdb"] >= 50 and FUZZED["python"] >= 1 and FUZZED["rejet"] >= 50, FUZZED


def test_the_nir_search_reads_only_the_records_holding_one_and_finds_them_all(tmp_path):
    """``text(containing=NIR_RE2)`` (DuckDB's RE2 picks the records) gives the NIR search the same forms
    as the whole text: spaced, 13 and 15 digits, Unicode digits (Python's ``\\d``), in any column."""
    path = tmp_path / "conseillers.csv"
    path.write_text(f"{HEADER}\nR1;CIP;1;2024-01-02\nR2;1 85 03 75 123 456 78;1;x\nR3;CIP;2850375123456;x\n"
                    "R4;CIP;1;١٢٣٤٥٦٧٨٩٠١٢٣\nR5;12 345;2024-01-02;3\n", encoding="utf-8")
    table = read_table(path, EVERY_COLUMN, reader="duckdb")
    reference = read_table(path, EVERY_COLUMN, reader="python")
    found = nir_forms(table.text(containing=NIR_RE2))
    assert table.reader == "duckdb" and found == nir_forms(reference.text()) == {
        "185037512345678", "2850375123456", "١٢٣٤٥٦٧٨٩٠١٢٣"}
