"""What reading a delivered file produces: its header and its data records as Arrow columns.

Two readers fill it (``pipelines.inbox.read``): DuckDB's CSV reader, whose columns arrive in Arrow,
and Python's ``csv`` module or calamine (the files DuckDB cannot read exactly, and workbooks),
whose rows are transposed only for the columns asked for. Both give the same answer to every
question below; ``tests/test_reading_paths.py`` proves it on every contract form and fuzz file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from functools import cached_property

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
"""What Python's ``str.strip()`` removes (every ``c.isspace()``; a test recomputes it): a record whose
cells hold only these is blank."""
BLANK = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]*$"
"""The same set as an RE2 pattern (Arrow, DuckDB): blank in Arrow means blank in Python."""
TOTAL = re.compile(r"^\s*total", re.IGNORECASE)
"""First cell of a final ``Total`` row (ignored and counted, contract §2)."""


@dataclass(frozen=True)
class Table:
    """The records of a file after its header: blank rows and a final ``Total`` row already set aside."""

    header: list[str]
    lines: pa.Array
    """Line (CSV) or row (workbook) number of each data record, where the record starts."""
    fields: pa.Array
    """Number of cells of each data record (the header's width when it lines up)."""
    ignored_rows: list[int]
    """Blank rows between data rows and the final ``Total`` row: read, counted, not loaded."""
    encoding: str
    delimiter: str | None
    reader: str
    """``duckdb`` or ``python``: which reader produced the records (metadata, equivalence tests)."""
    _cells: pa.Table | list[list[str]] = field(repr=False)
    """Arrow columns ``c0``… (null beyond a record's cells), or the Python reader's rows."""

    @property
    def num_rows(self) -> int:
        return len(self.lines)

    @property
    def rows_read(self) -> int:
        return self.num_rows + len(self.ignored_rows)

    def column(self, index: int) -> pa.Array | pa.ChunkedArray:
        """The cells at ``index`` of every data record (null where a record is shorter)."""
        if isinstance(self._cells, pa.Table):
            cells = self._cells
            return cells.column(index) if index < cells.num_columns else pa.nulls(self.num_rows, pa.string())
        if self._aligned is not None:
            return pa.array(self._aligned[index] if self._aligned else [], pa.string())
        return pa.array([c[index] if index < len(c) else None for c in self._cells], pa.string())

    @cached_property
    def _aligned(self) -> list[tuple[str, ...]] | None:
        """Every Python row transposed in C at once, when every row lines up with the header."""
        width = len(self.header)
        rows = self._cells
        return list(zip(*rows)) if all(len(c) == width for c in rows) else None

    def overflow(self) -> pa.Array:
        """True where a record has non-blank cells beyond the header (``champs_en_trop``)."""
        width = len(self.header)
        if isinstance(self._cells, list):
            return pa.array([len(c) > width and bool("".join(c[width:]).strip()) for c in self._cells], pa.bool_())
        beyond = self._cells.columns[width:]
        if not beyond:
            return pa.array([False] * self.num_rows, pa.bool_())
        return pc.invert(pc.match_substring_regex(joined(beyond), BLANK))

    def text(self, containing: str | None = None) -> str:
        """Every cell of every data record, joined by U+001F (what the NIR search reads). ``containing``
        (RE2): only the records with a match in one of their cells, found by DuckDB, when the caller
        searches that pattern in the text (a match never spans U+001F)."""
        if isinstance(self._cells, list):
            return "\x1f".join("\x1f".join(c) for c in self._cells)
        cells = self._cells  # noqa: F841 — read by DuckDB's replacement scan
        names = ", ".join(f'"{name}"' for name in self._cells.column_names)
        where = "" if containing is None else " WHERE regexp_matches(t, $pattern)"
        rows = memory_duckdb().cursor().sql(
            f"SELECT t FROM (SELECT concat_ws(chr(31), {names}) AS t FROM cells){where}",
            params=None if containing is None else {"pattern": containing}).to_arrow_table()
        return pc.binary_join(pa.ListArray.from_arrays([0, rows.num_rows], rows.column(0).combine_chunks()),
                              "\x1f")[0].as_py() or ""

    def records(self) -> list[tuple[int, list[str]]]:
        """(number, cells) of every data record: Python objects, for tests and small files only."""
        width = max([len(self.header), *self.fields.to_pylist()])
        columns = [self.column(i).to_pylist() for i in range(width)]
        return [(n, [columns[i][r] for i in range(count)])
                for r, (n, count) in enumerate(zip(self.lines.to_pylist(), self.fields.to_pylist()))]


def joined(columns: list) -> pa.Array | pa.ChunkedArray:
    """Each record's cells end to end (null = empty), built in Arrow: blank when only whitespace.

    (Arrow's ``null_handling="skip"`` drops rows in pyarrow 26: nulls are filled instead.)"""
    return pc.binary_join_element_wise(*[pc.fill_null(c, "") for c in columns], "")


@functools.cache
def memory_duckdb() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process (opening one costs 20 ms: a month has ~190 files); each use
    takes its own cursor. It never spills to disk: the cells it reads are the originals."""
    return duckdb.connect(config={"temp_directory": ""})


def python_table(records, encoding: str, delimiter: str | None) -> Table | None:
    """The Python reader's records (number, cells): header = first non-blank record (None if there is
    none); trailing blanks dropped; a last ``Total`` row ignored."""
    header: list[str] | None = None
    body: list[tuple[int, list[str]]] = []
    for number, cells in records:
        if header is None:
            if not _is_blank(cells):
                header = cells
            continue
        body.append((number, cells))
    if header is None:
        return None
    blank = [_is_blank(cells) for _, cells in body]
    while body and blank[-1]:
        body.pop()
        blank.pop()
    ignored = [n for (n, _), b in zip(body, blank) if b]
    if body and body[-1][1] and TOTAL.match(body[-1][1][0]):
        ignored.append(body.pop()[0])
        blank.pop()
    rows = [row for row, b in zip(body, blank) if not b] if ignored else body
    return Table(header, pa.array([n for n, _ in rows], pa.int32()), pa.array([len(c) for _, c in rows], pa.int32()),
                 sorted(ignored), encoding, delimiter, "python", [c for _, c in rows])


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()  # one C-level join and strip: this runs once per row read
