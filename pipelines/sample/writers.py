"""Bytes of a delivery file, CSV or Excel, reproducible to the byte; and its reception time.

openpyxl stamps the save time in ``docProps/core.xml`` and in the zip entries: the workbook is
written with fixed properties and the zip rewritten with a fixed entry date, so two runs give the
same bytes.
"""

from __future__ import annotations

import csv
import io
import os
import random
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from pipelines.sample.cells import Layout, Row
from pipelines.sample.forms import Form

ZIP_DATE = (2020, 1, 1, 0, 0, 0)
WORKBOOK_DATE = datetime(2020, 1, 1)
BLANK_LINE_RATE = 0.01


def render(layout: Layout, rows: list[Row], form: Form, r: random.Random) -> bytes:
    """The file of ``rows`` in ``form``: blank lines and a Total row where the source adds them."""
    lines: list[list[object] | None] = []
    for index, row in enumerate(rows):
        if form.blank_lines and index and r.random() < BLANK_LINE_RATE:
            lines.append(None)
        lines.append(layout.cells(row))
    if form.total_row and rows:
        lines.append(layout.total(rows))
    if form.xlsx:
        return xlsx_bytes(layout.header, lines, blank_before=r.randint(1, 2))
    return csv_bytes(layout.header, lines, form)


def csv_bytes(header: list[str], lines: list[list[object] | None], form: Form) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=form.delimiter, lineterminator="\r\n" if form.crlf else "\n")
    writer.writerow(header)
    writer.writerows([] if line is None else line for line in lines)
    return buffer.getvalue().encode(form.encoding)


def xlsx_bytes(header: list[str], lines: list[list[object] | None], blank_before: int = 0) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Export")
    for _ in range(blank_before):
        sheet.append([])
    sheet.append(header)
    for line in lines:
        sheet.append([] if line is None else line)
    workbook.properties.created = workbook.properties.modified = WORKBOOK_DATE
    workbook.properties.creator = "export"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def write(path: Path, data: bytes, received: int) -> None:
    """Drop ``data`` at ``path`` as if received at epoch second ``received`` (its mtime)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (received, received))
