"""An ``.xlsx`` is checked before calamine opens it, so that a hostile workbook costs bounded memory and time.

calamine (Rust) builds the first sheet as one dense rectangle from A1 to its bottom-right cell. A
workbook of 1,5 Ko holding one cell at ``XFD1048576`` asks it for 550 Go, and a failed Rust
allocation aborts the whole process — the Dagster run with it — which no ``except`` can catch. A zip
bomb (a sheet of hundreds of Mo compressed into a few hundred Ko) costs time and memory the same way.
calamine itself refuses a member larger than its declared size, so the declared sizes can be trusted
as upper bounds. Reading only the zip's directory, then streaming each member in blocks of 1 Mio:

- a zip whose directory is small (``MAX_ENTRIES``, ``MAX_DIRECTORY_BYTES``) — else no ``ZipInfo`` is built;
- declared sizes summing to at most ``ALI_MAX_XLSX_UNCOMPRESSED_BYTES``, and no member of over 1 Mio
  expanding more than ``MAX_RATIO`` times (real sheets expand about 8 times);
- in every member, the cell and row references (``r="XFD1048576"``, and cells without ``r`` counted as
  calamine places them) bound a rectangle of at most ``ALI_MAX_XLSX_CELLS`` cells. Every member is
  scanned, not only the first sheet's, because which part is the first sheet is itself read from
  the (hostile) workbook.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from pathlib import Path

from pipelines.inbox.limits import limit, octets

MAX_RATIO = 100
MAX_ENTRIES = 10_000
MAX_DIRECTORY_BYTES = 4 << 20
MAX_TAG_BYTES = 1 << 20
_BLOCK = 1 << 20
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record
_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]*)0*([0-9]*)["']""")
"""Any ``r`` attribute anywhere: a superset of the references calamine reads (which takes the LAST of two
``r`` in one tag), so their maximum is an upper bound."""
_TAG = re.compile(rb"""<(?:[^\s<>/:="']+:)?(row|c)(?=[\s/>])""")
_TAG_WITH_R = re.compile(rb"""<(?:[^\s<>/:="']+:)?(?:row|c)\s(?:[^<>]*?\s)?r\s*=\s*["']""")
"""A ``row`` or ``c`` tag with an attribute named exactly ``r`` (``x:r`` is not one for calamine)."""


class Rejected(Exception):
    """The workbook may not be opened; the message is the reason (without the « illisible » prefix)."""


def check_workbook(path: Path) -> None:
    """Raise ``Rejected`` unless ``path`` is a zip that calamine may open within the limits."""
    with path.open("rb") as handle:
        _check_directory(handle)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
                _check_sizes(members)
                cells = limit("ALI_MAX_XLSX_CELLS")
                for member in members:
                    rows, columns = _extent(archive, member)
                    if rows * columns > cells:
                        raise Rejected(
                            f"feuille trop étendue : « {_name(member)} » couvre {_n(rows)} lignes × {_n(columns)} "
                            f"colonnes, au-delà de {_n(cells)} cellules (ALI_MAX_XLSX_CELLS)")
        except Rejected:
            raise
        except RuntimeError:  # what zipfile raises for an encrypted member
            raise Rejected("classeur protégé par un mot de passe (à déposer sans chiffrement)") from None
        except NotImplementedError:
            raise Rejected("méthode de compression non prise en charge (attendu deflate)") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, struct.error):
            raise Rejected("archive zip corrompue (contenu ou répertoire incohérent)") from None


def _check_directory(handle) -> None:
    """The end-of-directory record says how many entries and bytes the directory holds: read only it."""
    size = handle.seek(0, 2)
    handle.seek(max(0, size - _END.size - 0xFFFF))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        raise Rejected("ce n'est pas un classeur .xlsx (archive zip attendue)")
    _, _, _, _, entries, directory_bytes, _, _ = _END.unpack_from(tail, at)
    locator = tail[max(0, at - _LOCATOR.size):at]
    if len(locator) == _LOCATOR.size and locator.startswith(b"PK\x06\x07"):  # zip64: its own counts rule
        handle.seek(_LOCATOR.unpack(locator)[2])
        record = handle.read(_END64.size)
        if len(record) < _END64.size or not record.startswith(b"PK\x06\x06"):
            raise Rejected("archive zip corrompue (fin de répertoire zip64 introuvable)")
        _, _, _, _, _, _, _, entries, directory_bytes, _ = _END64.unpack(record)
    if entries >= min(0xFFFF, MAX_ENTRIES) or directory_bytes > MAX_DIRECTORY_BYTES:
        raise Rejected(f"archive zip démesurée : {entries} éléments, répertoire de {octets(directory_bytes)} "
                       f"(au plus {MAX_ENTRIES} éléments et {octets(MAX_DIRECTORY_BYTES)})")


def _check_sizes(members: list[zipfile.ZipInfo]) -> None:
    cap = limit("ALI_MAX_XLSX_UNCOMPRESSED_BYTES")
    total = sum(m.file_size for m in members)
    if total > cap:
        raise Rejected(f"classeur trop volumineux une fois décompressé : {octets(total)} déclarés pour une limite "
                       f"de {octets(cap)} (ALI_MAX_XLSX_UNCOMPRESSED_BYTES)")
    for m in members:
        if m.file_size > _BLOCK and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise Rejected(f"bombe de décompression : « {_name(m)} » passe de {octets(m.compress_size)} à "
                           f"{octets(m.file_size)} (plus de {MAX_RATIO} fois)")


def _extent(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    """An upper bound of the (rows, columns) calamine would give the cells of ``member``, read in blocks.

    Blocks are cut after their last ``>``: neither a tag name nor an ``r`` attribute contains one, so
    no reference is split. When every ``row`` and ``c`` tag has an ``r``, the bound is the largest
    reference; otherwise a second pass counts cells row by row (calamine places a cell without ``r``
    right after the previous one of its row, and a row without ``r`` after the previous row).
    Excel's own form (``<c r="A1"``) is counted with ``bytes.count``: the guard costs 0,25 s on a
    national-size sheet of 15 Mo, where calamine takes 0,2 s.
    """
    rows = columns = tags = with_r = 0
    for text in _texts(archive, member):
        here = len(_TAG.findall(text))
        plain = text.count(b'<c r="') + text.count(b'<row r="')
        tags += here
        with_r += plain if plain == here else len(_TAG_WITH_R.findall(text))
        found = _REF.findall(text)
        if found:
            letters, digits = zip(*found)
            rows = max(rows, 10**12 if max(map(len, digits)) > 12 else max(map(int, filter(None, digits)), default=0))
            columns = max([columns, *map(_column, set(letters))])
    if tags == with_r:
        return rows, columns
    widest = row_tags = in_row = 0
    for text in _texts(archive, member):
        for match in _TAG.finditer(text):
            if match[1] == b"row":
                row_tags += 1
                widest, in_row = max(widest, in_row), 0
            else:
                in_row += 1
    return rows + row_tags, columns + max(widest, in_row)


def _texts(archive: zipfile.ZipFile, member: zipfile.ZipInfo):
    carry = b""
    with archive.open(member) as stream:
        for block in iter(lambda: stream.read(_BLOCK), b""):
            data = carry + block
            cut = data.rfind(b">") + 1
            if cut == 0 and len(data) > MAX_TAG_BYTES:
                raise Rejected(f"« {_name(member)} » : plus de {octets(MAX_TAG_BYTES)} sans fin de balise XML")
            carry = data[cut:]
            if cut:
                yield data[:cut]
    if carry:
        yield carry


def _column(letters: bytes) -> int:
    if len(letters) > 8:
        return 10**12
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _n(count: int) -> str:
    return f"{count:,}".replace(",", " ")


def _name(member: zipfile.ZipInfo) -> str:
    return member.filename if len(member.filename) <= 80 else member.filename[:77] + "…"
