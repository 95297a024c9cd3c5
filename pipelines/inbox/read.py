"""Tolerant reading of one delivered file (contract §2) into numbered rows of text cells.

Reading never guesses silently: an encoding or a delimiter that cannot be established raises
``Unreadable`` with a reason meant for the sender, and the file is rejected whole. Cells stay text
here; typing and rules are applied set-wise in DuckDB (``pipelines.raw.validate``).

A CSV file is decoded and its delimiter found here, then its records are read by DuckDB when it
reads them exactly as Python's ``csv`` module does (``pipelines.inbox.csv_duckdb``), else by the
``csv`` module, whose answer and reasons are the contract's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from python_calamine import CalamineWorkbook

from pipelines.contract import REJECTIONS
from pipelines.inbox import csv_duckdb
from pipelines.inbox.headers import normalise_header
from pipelines.inbox.limits import too_large
from pipelines.inbox.table import Table, python_table
from pipelines.inbox.workbook import Rejected, check_workbook

DUCKDB_FROM_BYTES = 256 * 1024
"""Smaller files are read faster by Python's ``csv`` module than DuckDB starts a scan (3-5 ms a file:
a département's month is ~200 files of ~20 KB, where DuckDB made the 45-month backfill twice slower)."""
DELIMITERS = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}
_C1_CONTROLS = re.compile("[\u0080-\u009f]")
_LINE = re.compile("[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*")
"""A line as ``str.splitlines()`` cuts them, found lazily (the header is near the top of a big file)."""
_CONTENT = re.compile(r'[^\s;,"]')
"""A line with anything but spaces, delimiters and quotes (a ``;;;`` line is blank)."""
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_ASCII = bytes(range(0x80))
_UTF8_SEQUENCE = re.compile(rb"\xc3[\x80-\xbf]|\xe2\x80[\x80-\xbf]|\xc2[\xa0-\xbf]")
"""UTF-8 of é è à ç ê ô É…, ’ “ ” … and NBSP « » °: read as Windows-1252 they would be mojibake
(« Ã© », « â€™ »), which French text never holds; in a file that is not valid UTF-8 they reveal
mixed encodings."""


class Unreadable(Exception):
    """The file cannot be read with certainty; the message is the rejection reason, ``rule`` its code
    (``pipelines.contract.REJECTIONS``: what the sender does about it)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        if rule not in REJECTIONS:
            raise KeyError(f"motif de rejet « {rule} » non déclaré dans pipelines.contract.REJECTIONS")
        self.rule = rule


def read_table(path: Path, expected_columns: set[str], *, reader: str = "auto") -> Table:
    """Read a ``.csv`` or ``.xlsx`` delivery; ``expected_columns`` (normalised) picks the delimiter.

    ``reader="auto"`` reads a CSV file of ``DUCKDB_FROM_BYTES`` or more with DuckDB when DuckDB reads it
    exactly, else with Python; ``"duckdb"`` the same whatever the size; ``"python"`` always with Python
    (the reference the other is compared with).

    The size is checked before a byte is read (``ALI_MAX_FILE_BYTES``), a workbook's zip before
    calamine opens it (``pipelines.inbox.workbook``).
    """
    oversize = too_large(path.stat().st_size)
    if oversize:
        raise Unreadable("fichier_trop_volumineux", oversize)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _python_table(_excel_records(path), "xlsx", None)
    if suffix == ".csv":
        data = path.read_bytes()
        text, encoding = decode(data)
        delimiter = detect_delimiter(text, expected_columns)
        by_duckdb = reader == "duckdb" or (reader == "auto" and len(data) >= DUCKDB_FROM_BYTES)
        fast = csv_duckdb.read_csv(path, data, text, encoding, delimiter) if by_duckdb else None
        return fast or _python_table(_csv_records(text, delimiter), encoding, delimiter)
    raise Unreadable("extension", f"extension « {path.suffix} » non prise en charge (attendu .csv ou .xlsx)")


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) or Windows-1252, else ``Unreadable``; never latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("encodage", "encodage UTF-16 non accepté (attendu UTF-8 ou Windows-1252)")
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = _strict(data[3:], "utf-8"), "utf-8-sig"
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as error:
            text, encoding = _strict(data, "cp1252"), "cp1252"
            mixed = _UTF8_SEQUENCE.search(data) if _UTF8_SEQUENCE.search(_high(data)) else None
            if mixed:
                raise Unreadable(
                    "encodage",
                    f"encodage mixte : UTF-8 à la position {mixed.start()} mais octet 0x{data[error.start]:02X} "
                    f"invalide en UTF-8 à la position {error.start} (attendu un seul encodage)"
                ) from None
    # Windows-1252 decodes no byte to a C1 control; in UTF-8 they are \xc2\x80-\xc2\x9f
    control = _C1_CONTROLS.search(text) if encoding != "cp1252" and _C1_UTF8.search(_high(data)) else None
    if control:
        raise Unreadable(
            "encodage",
            f"caractère de contrôle U+{ord(control.group()):04X} à la position {control.start()} : "
            "encodage mal identifié (attendu UTF-8 ou Windows-1252)"
        )
    if "\x00" in text:
        raise Unreadable("pas_du_texte", "octet nul dans le fichier : ce n'est pas un fichier texte CSV")
    return text, encoding


def _high(data: bytes) -> bytes:
    """The non-ASCII bytes of ``data``, in order: a multi-byte sequence absent from them is absent from
    ``data`` (searching a few kilobytes instead of megabytes; a match is then searched in ``data``)."""
    return data.translate(None, _ASCII)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise Unreadable(
            "encodage",
            f"octet 0x{data[error.start]:02X} à la position {error.start} invalide en UTF-8 "
            "comme en Windows-1252 : encodage non reconnu"
        ) from None


def detect_delimiter(text: str, expected_columns: set[str]) -> str:
    """The delimiter whose split of the header names the most contract columns, if unambiguous."""
    header_line = next((m.group() for m in _LINE.finditer(text) if _CONTENT.search(m.group())), None)
    if header_line is None:
        raise Unreadable("fichier_vide", "fichier vide : aucune ligne non vide")
    scores, errors = {}, []
    csv.field_size_limit(csv_duckdb.FIELD_LIMIT)
    for d in DELIMITERS:
        try:  # a wide header split by the wrong delimiter is one huge field: that delimiter is out, not the file
            scores[d] = len({normalise_header(c) for c in next(csv.reader([header_line], delimiter=d))}
                            & expected_columns)
        except csv.Error as error:
            errors.append(error)
    if not scores:
        raise Unreadable("csv_mal_forme", f"en-tête mal formé : {_csv_error(errors[0])}")
    best = max(scores.values())
    winners = [d for d, score in scores.items() if score == best]
    if best == 0 or len(winners) > 1:
        raise Unreadable(
            "separateur",
            "séparateur indéterminé : ni le point-virgule, ni la virgule, ni la tabulation ne font "
            "apparaître sans ambiguïté les colonnes du contrat dans l'en-tête"
        )
    return winners[0]


def _csv_records(text: str, delimiter: str):
    csv.field_size_limit(csv_duckdb.FIELD_LIMIT)  # the contract's limit, whatever another library set
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as error:
        raise Unreadable("csv_mal_forme",
                         f"CSV mal formé vers la ligne {reader.line_num} : {_csv_error(error)}") from None


_CSV_ERRORS = (
    (re.compile(r"field larger than field limit \((\d+)\)"),
     lambda m: f"un champ dépasse {int(m[1]):,} caractères".replace(",", " ")),
    (re.compile(r"unexpected end of data"), lambda m: "guillemet ouvert jamais refermé avant la fin du fichier"),
    (re.compile(r"'.*' expected after '\"'", re.DOTALL),
     lambda m: "caractère inattendu après un guillemet fermant (attendu le séparateur ou une fin de ligne)"),
)


def _csv_error(error: csv.Error) -> str:
    """The ``csv`` module's English message, in French for the sender (never a cell's value)."""
    for pattern, french in _CSV_ERRORS:
        match = pattern.search(str(error))
        if match:
            return french(match)
    return "structure CSV invalide"


_EXCEL_ERRORS = (  # calamine's messages may quote a cell: only their kind is kept
    ("Cell string index not found", "une cellule renvoie à une chaîne partagée qui n'existe pas"),
    ("Unrecognized boolean cell value", "une cellule booléenne n'est ni vraie ni fausse"),
    ("Unsupported cell error value", "une cellule d'erreur porte une valeur inconnue"),
    ("Parse float error", "une cellule numérique ne contient pas un nombre"),
    ("File not found", "une partie obligatoire du classeur manque"),
    ("Unexpected end of", "XML d'une feuille tronqué"),
)


def _excel_error(error: BaseException) -> str:
    message = str(error)
    french = next((text for key, text in _EXCEL_ERRORS if key in message), None)
    return f"{french} ({type(error).__name__})" if french else f"structure invalide ({type(error).__name__})"


def _excel_records(path: Path):
    try:
        check_workbook(path)
    except Rejected as error:
        raise Unreadable("classeur_refuse", f"classeur Excel refusé : {error}") from None
    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 — calamine raises private types; a Rust panic is a BaseException
        raise Unreadable("classeur_illisible", f"classeur Excel illisible : {_excel_error(error)}") from None
    for number, cells in enumerate(rows, start=1):
        yield number, [value if value.__class__ is str else excel_cell(value) for value in cells]  # str: as is


def excel_cell(value: object) -> str:
    """Excel cells as the text a CSV export would hold: integers without ``.0``, dates in ISO."""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _python_table(records, encoding: str, delimiter: str | None) -> Table:
    table = python_table(records, encoding, delimiter)
    if table is None:
        raise Unreadable("fichier_vide", "fichier vide : aucune ligne non vide")
    return table
