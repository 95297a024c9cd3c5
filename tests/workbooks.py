"""Minimal ``.xlsx`` files written part by part, so a test controls every byte calamine will see.

openpyxl cannot write a hostile workbook (a cell at XFD1048576 with nothing before it, a forged
size, a sheet of 200 Mo): these helpers write the four parts calamine needs around any sheet XML.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
}
SHEET = "xl/worksheets/sheet1.xml"
SHEET_START = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main">')


def cell(ref: str | None, text: str) -> str:
    """An inline-string cell (``ref`` None: no ``r`` attribute, placed after the previous one)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    reference = f' r="{ref}"' if ref else ""
    return f'<c{reference} t="inlineStr"><is><t>{escaped}</t></is></c>'


def rows_xml(rows: list[list[str]]) -> str:
    """``<row>`` elements with explicit references, A1 at the top left, as Excel writes them."""
    return "".join(
        f'<row r="{i}">' + "".join(cell(f"{_letters(j)}{i}", v) for j, v in enumerate(cells, start=1)) + "</row>"
        for i, cells in enumerate(rows, start=1)
    )


def sheet_xml(body: str, dimension: str = "A1") -> bytes:
    return SHEET_START + f'<dimension ref="{dimension}"/><sheetData>{body}</sheetData></worksheet>'.encode()


def bomb_sheet(mebibytes: int) -> list[bytes]:
    """A sheet of ``mebibytes`` Mio of cells (20 cells a row, no references), as blocks: it zips about
    1 000 times smaller, so a zip bomb for ``write_workbook``."""
    row = b"<row>" + b"<c><v>1</v></c>" * 20 + b"</row>"
    block = row * ((1 << 20) // len(row))
    return [sheet_xml("")[:-len(b"</sheetData></worksheet>")], *[block] * mebibytes, b"</sheetData></worksheet>"]


def write_workbook(path: Path, sheet: bytes | Iterable[bytes], *, compression: int = zipfile.ZIP_DEFLATED,
                   extra: dict[str, bytes] | None = None) -> Path:
    """The four fixed parts, the sheet (bytes, or blocks streamed into the zip) and ``extra`` members."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open(SHEET, "w") as out:
            for block in [sheet] if isinstance(sheet, bytes) else sheet:
                out.write(block)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
