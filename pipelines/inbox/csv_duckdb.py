"""DuckDB's CSV reader, for the files it reads exactly as the contract's reader does (most of them).

The contract's reader is Python's ``csv`` module (``pipelines.inbox.read``): its answer, its line
numbers and its reasons are the reference. DuckDB reads a file ten times faster, in C++, straight
into Arrow, but gives no line numbers, skips empty lines and reads some malformed quoting
differently. So the layout of the file's records (where each starts, how many cells it has) is
first computed from its bytes with numpy, a few vectorised passes over quotes, delimiters and line
breaks; the file goes to DuckDB only when that layout is unambiguous:

- quotes only around whole cells, doubled inside (RFC 4180): ``x"y`` or ``"x" ;`` are read by
  Python one way and by DuckDB another;
- one kind of line ending between records (line breaks inside quoted cells may be any);
- no record longer than Python's field limit (which rejects the file, with a reason).

DuckDB's answer is then checked against the layout: as many records, as many cells in each. Any
disagreement or DuckDB error returns None, and the caller reads the file with Python, which gives
the contract's answer and, for a malformed file, its reason. DuckDB's messages are never kept:
they quote the offending line, which may hold a name.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.inbox.table import BLANK, TOTAL, Table, joined, memory_duckdb

QUOTE, LF, CR = 0x22, 0x0A, 0x0D
_GLOB = re.compile(r"[*?\[{]")
"""DuckDB reads a path as a glob pattern: such a path is read from memory instead."""
FIELD_LIMIT = 131_072
"""The longest cell a CSV may hold (Python's default ``csv.field_size_limit``). It is process-wide, and a
library can raise it on import (frictionless sets 2**31 - 1): ``pipelines.inbox.read`` sets it again
before each read, so what is rejected never depends on what else the process imported."""
LONGEST_RECORD = FIELD_LIMIT
"""A record over Python's field limit (bytes ≥ characters) may hold a cell Python refuses: Python decides."""


@dataclass(frozen=True)
class Layout:
    lines: np.ndarray
    """Line where each non-empty record starts (DuckDB returns these records, in this order)."""
    fields: np.ndarray
    """Cells of each non-empty record."""
    empty_lines: np.ndarray
    """Lines holding an empty record: Python reads them as ``[]``, DuckDB skips them."""
    quoted_breaks: bool
    """Line breaks inside quoted cells (DuckDB's parallel reader cannot split such a file)."""


def layout(data: bytes, delimiter: str) -> Layout | None:
    """The records of UTF-8 ``data`` as Python's ``csv`` reads them, or None when ambiguous."""
    a = np.frombuffer(data, np.uint8)
    n = a.size
    quotes = np.flatnonzero(a == QUOTE)
    if quotes.size % 2:
        return None  # a quote left open: Python says where
    if quotes.size:  # an even-numbered quote opens a cell (or is the second of a pair), an odd one closes it
        before = np.where(quotes > 0, a[np.maximum(quotes - 1, 0)], LF)
        after = np.where(quotes < n - 1, a[np.minimum(quotes + 1, n - 1)], LF)
        if not (_bound(before[0::2], delimiter).all() and _bound(after[1::2], delimiter).all()):
            return None
    lf = np.flatnonzero(a == LF)
    cr = np.flatnonzero(a == CR)
    breaks = np.union1d(lf, cr[a[np.minimum(cr + 1, n - 1)] != LF])  # last byte of each line break
    ends = breaks[np.searchsorted(quotes, breaks) % 2 == 0]  # those between records
    crlf = (a[ends] == LF) & (a[np.maximum(ends - 1, 0)] == CR) & (ends > 0)
    kinds = np.where(crlf, 2, np.where(a[ends] == CR, 1, 0))
    if kinds.size and (kinds != kinds[0]).any():
        return None  # DuckDB reads one kind of line ending per file
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends - crlf, [n]])
    if starts[-1] == n:  # the file ends with a line break: no record after it
        starts, stops = starts[:-1], stops[:-1]
    if starts.size and (stops - starts).max() > LONGEST_RECORD:
        return None
    delimiters = np.flatnonzero(a == ord(delimiter))
    delimiters = delimiters[np.searchsorted(quotes, delimiters) % 2 == 0]
    lines = np.searchsorted(breaks, starts) + 1
    empty = starts == stops
    fields = np.searchsorted(delimiters, stops) - np.searchsorted(delimiters, starts) + 1
    return Layout(lines[~empty], fields[~empty], lines[empty], breaks.size != ends.size)


def _bound(byte: np.ndarray, delimiter: str) -> np.ndarray:
    """Bytes a quote may follow (opening) or precede (closing): delimiter, line break, quote."""
    return (byte == ord(delimiter)) | (byte == LF) | (byte == CR) | (byte == QUOTE)


def read_csv(path: Path, data: bytes, text: str, encoding: str, delimiter: str) -> Table | None:
    """The file read by DuckDB and checked against its layout, or None (read it with Python)."""
    utf8 = data if encoding == "utf-8" else data[3:] if encoding == "utf-8-sig" else text.encode()
    shape = layout(utf8, delimiter)
    if shape is None or not shape.lines.size:
        return None
    width = int(shape.fields.max())
    con = memory_duckdb().cursor()
    direct = encoding.startswith("utf-8") and not _GLOB.search(str(path))
    try:  # a UTF-8 file is read where it is; a Windows-1252 one from memory (no clear copy on disk)
        cells = con.read_csv(
            str(path) if direct else io.BytesIO(utf8), sep=delimiter, quotechar='"',
            escapechar='"', header=False, auto_detect=False, columns={f"c{i}": "VARCHAR" for i in range(width)},
            null_padding=True, strict_mode=True, na_values="\x00", parallel=not shape.quoted_breaks,
        ).to_arrow_table()
    except duckdb.Error:
        return None  # its message quotes the line: dropped
    finally:
        con.close()
    counted = sum(pc.is_valid(column).to_numpy(zero_copy_only=False).astype(np.int32) for column in cells.columns)
    if cells.num_rows != shape.lines.size or not np.array_equal(counted, shape.fields):
        return None
    return _table(cells, shape, encoding, delimiter)


def _blank(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.match_substring_regex(texts, BLANK)


def _table(cells: pa.Table, shape: Layout, encoding: str, delimiter: str) -> Table | None:
    """Header = first non-blank record; blanks after it until the last non-blank record ignored; a
    final ``Total`` row ignored (as ``pipelines.inbox.table.python_table`` does with Python rows)."""
    blank = _blank(cells.column(0)).to_numpy(zero_copy_only=False)  # a first cell with content: not blank
    if blank.any():
        candidates = np.flatnonzero(blank)
        blank[candidates] = _blank(joined(cells.take(candidates).columns)).to_numpy(zero_copy_only=False)
    content = np.flatnonzero(~blank)
    if not content.size:
        return None  # Python says the file is empty
    head, last = content[0], content[-1]
    header = [cells.column(i)[head].as_py() for i in range(int(shape.fields[head]))]
    ignored = [*shape.lines[head + 1:last][blank[head + 1:last]].tolist(),
               *shape.empty_lines[(shape.empty_lines > shape.lines[head]) & (shape.empty_lines < shape.lines[last])]
               .tolist()]
    keep = ~blank
    keep[:head + 1] = False
    if last > head and TOTAL.match(cells.column(0)[last].as_py()):
        ignored.append(int(shape.lines[last]))
        keep[last] = False
    rows = np.flatnonzero(keep)
    contiguous = rows.size and rows[-1] - rows[0] + 1 == rows.size  # the usual file: no copy
    return Table(header, pa.array(shape.lines[rows], pa.int32()), pa.array(shape.fields[rows], pa.int32()),
                 sorted(ignored), encoding, delimiter, "duckdb",
                 cells.slice(rows[0], rows.size) if contiguous else cells.take(rows))
