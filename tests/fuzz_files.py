"""Hypothesis strategies of delivered files as senders' tools, mistakes and malice make them.

Most files start as a plausible delivery (a header of contract columns in any order and spelling,
rows of mostly valid cells) and are then broken: junk cells, quotes, line breaks inside and outside
quotes, ragged rows, huge fields, blank and ``Total`` rows, five encodings and their mixtures, flipped
or truncated bytes; workbooks with random cell types, references far away or missing, broken XML,
random zips and compression bombs. Plausible first, so that many files reach validation and
quarantine instead of all dying at the first byte. Personal cells carry a marker (``ZqXj``) that no
reason may ever quote.
"""

from __future__ import annotations

import csv
import io
import zipfile

import hypothesis.strategies as st
from workbooks import PARTS, SHEET, SHEET_START, cell

from pipelines.contract import DATASETS

MARKER = "ZqXj"
VALID = {
    "matricule": "1234567", "organisme": "CAF", "nom": "Martin", "prenom": "Zoé", "date_naissance": "03/04/1980",
    "sexe": "F", "commune": "Aubervilliers", "date_orientation": "2024-02-01", "date_premier_rdv": "2024-02-10",
    "date_entree": "2024-03-01", "date_contrat": "", "date_sortie": "2024-03-20", "motif_sortie": "AUTRE",
    "referent": "R1", "nb_entretiens": "2", "heures_activite": "4,5", "freins": "LOGEMENT|SANTE", "actions": "A0001",
    "fonction": "CIP", "etp": "0,8", "date_arrivee": "2023-01-02", "date_depart": "", "code_action": "A0001",
    "resultat_sortie": "FIN_ACTION", "heures_realisees": "12", "places_conventionnees": "189",
    "places_occupees": "150", "montant_consomme_eur": "1 234,50",
}
PERSONAL = {"matricule", "nom", "prenom", "date_naissance"}
KEYS = {  # varied, so that most rows are not duplicates of each other (the partner P045's 2024 actions)
    "matricule": st.integers(1, 9_999_999).map(str), "referent": st.integers(1, 40).map(lambda n: f"R{n}"),
    "code_action": st.sampled_from(["A0045", "A0057", "A0069", "A0081", "A0093"]),
}
TRICKY = ['"', ";", ",", "\t", "\n", "\r", "\r\n", " ", "\u00a0", "\u202f", "é", "’", "\u0085", "\u0092", "\x00",
          "=", "+", "-", "@", "Total", "|", "€", "😀", "\ufeff", "'", "0", "9", "/", "ÃŠ"]
text = st.lists(st.sampled_from(TRICKY) | st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
               max_size=10).map("".join)
"""Junk text: the tricky characters above (control characters only those), or any other character."""
FIELD_LIMIT = 131_072  # Python csv's default field size limit
MAX_FILE_BYTES = 300_000
"""``ALI_MAX_FILE_BYTES`` during fuzzing: small, so that some files exceed it and none costs much."""


def rarely(n: int) -> st.SearchStrategy[bool]:
    """True once in ``n`` draws (``integers(0, n) == 0`` would be true far more often: hypothesis favours 0)."""
    return st.sampled_from([False] * (n - 1) + [True])


@st.composite
def value(draw, column: str | None) -> str:
    """One cell: mostly valid for its column, else empty, junk, a personal marker or (rarely) huge.

    Rates are per cell, and a file has 20 to 100 cells: a junk cell in 3 % of cells already breaks
    most files somewhere, which is what makes them quarantine rows rather than load cleanly."""
    mode = draw(st.sampled_from(["valide"] * 30 + ["vide", "bruit", "marque"]))
    if draw(rarely(300)):
        return "x" * draw(st.sampled_from([5_000, FIELD_LIMIT + 1]))
    if column in PERSONAL and (mode == "marque" or (mode == "valide" and column in ("nom", "prenom"))):
        return f"{MARKER}{draw(st.integers(0, 999))}"
    if mode == "vide":
        return ""
    if mode == "valide" and column in KEYS:
        return draw(KEYS[column])
    return VALID.get(column, "") if mode == "valide" and column else draw(text)


@st.composite
def spelling(draw, column: str) -> str:
    """A header cell as humans write it: ``date_entree``, ``Date d’entrée``, ``DATE-ENTREE``…"""
    words = column.split("_")
    form = draw(st.sampled_from(["brut", "majuscules", "espaces", "tirets", "titre"]))
    return {"brut": column, "majuscules": column.upper(), "espaces": " ".join(words), "tirets": "-".join(words),
            "titre": " ".join(w.capitalize() for w in words)}[form]


@st.composite
def table(draw, dataset=None) -> list[list[str]]:
    """Header then rows of one dataset: columns missing, shuffled or extra, rows ragged, blank or Total."""
    dataset = dataset or draw(st.sampled_from(list(DATASETS.values())))
    names = list(draw(st.permutations(dataset.column_names)))
    if draw(rarely(4)):  # a column or two missing (rejected when required)
        names = names[: draw(st.integers(max(1, len(names) - 2), len(names)))]
    names += [None] * draw(st.sampled_from([0, 0, 1, 2]))
    header = [draw(spelling(n)) if n else draw(text) for n in names]
    rows = [] if draw(rarely(20)) else [header]
    for _ in range(draw(st.integers(0, 6))):
        shape = draw(st.sampled_from(["ligne"] * 12 + ["vide", "courte", "longue", "total"]))
        cells = [draw(value(n)) for n in names]
        rows.append({"ligne": cells, "vide": [""] * draw(st.integers(0, 3)), "courte": cells[:-1],
                     "longue": cells + [draw(text)], "total": ["Total", "3"]}[shape])
    return [[""]] * draw(st.integers(0, 2)) + rows


@st.composite
def csv_bytes(draw, dataset=None) -> bytes:
    kind = draw(st.sampled_from(["structure"] * 8 + ["octets", "vide"]))
    if kind == "octets":
        return draw(st.binary(max_size=600))
    if kind == "vide":
        return draw(st.sampled_from([b"", b"\n\n", b";;;\r\n", b"\xef\xbb\xbf", b"\xff\xfe"]))
    rows = draw(table(dataset))
    delimiter = draw(st.sampled_from([";", ";", ",", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from(["minimal", "minimal", "minimal", "toutes", "aucune"]))
    if quoting == "aucune":  # as a hand-made export: no quotes at all, broken by cells holding delimiters
        content = "".join(delimiter.join(r) + newline for r in rows)
    else:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator=newline,
                   quoting=csv.QUOTE_ALL if quoting == "toutes" else csv.QUOTE_MINIMAL).writerows(rows)
        content = out.getvalue()
    data = mutate(draw, encode(draw, content))
    return data + b"\n" * (MAX_FILE_BYTES + 1) if draw(rarely(40)) else data  # oversize


def encode(draw, content: str) -> bytes:
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "cp1252", "cp1252", "utf-16", "utf-16-le",
                                                     "latin-1", "mixte"]))
    if encoding == "mixte":  # two tools appended to one file
        cut = draw(st.integers(0, len(content)))
        return content[:cut].encode("utf-8") + content[cut:].encode("cp1252", errors="replace")
    return content.encode(encoding, errors="replace")


def mutate(draw, data: bytes) -> bytes:
    """Zero to three flipped, inserted or dropped bytes, or a cut: what transfers and editors do."""
    for _ in range(draw(st.sampled_from([0] * 9 + [1, 2, 3]))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["octet", "insertion", "coupure"]))
        if kind == "octet" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif kind == "insertion":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        else:
            data = data[:at]
    return data


@st.composite
def sheet_cell(draw, ref: str | None, text_value: str) -> str:
    """The cell as text (mostly), or typed as calamine reads them, rarely with a value of the wrong type."""
    kind = draw(st.sampled_from(["texte"] * 20 + ["nombre", "partage", "booleen", "erreur", "date", "formule"]))
    if kind == "texte":
        return cell(ref, text_value.replace("\x00", ""))
    sound = {"nombre": ["191492", "12.5", "45352", "1e308"], "partage": ["0"], "booleen": ["1", "0"],
             "erreur": ["#DIV/0!", "#N/A"], "date": ["2024-03-01T00:00:00"], "formule": ["12"]}[kind]
    broken = ["inf", "NaN", "abc", "", "99999", "-1", "2", "vrai", "?", "2024-13-45"]
    raw = draw(st.sampled_from(sound * 40 + broken))
    types = {"nombre": "n", "partage": "s", "booleen": "b", "erreur": "e", "date": "d", "formule": "str"}
    reference = f' r="{ref}"' if ref else ""
    formula = "<f>1+1</f>" if kind == "formule" else ""
    return f'<c{reference} t="{types[kind]}">{formula}<v>{raw}</v></c>'


@st.composite
def xlsx_bytes(draw, dataset=None) -> bytes:
    kind = draw(st.sampled_from(["classeur"] * 12 + ["octets", "zip", "tronque", "bombe"]))
    if kind == "octets":
        return draw(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06" + bytes(18)])) + draw(st.binary(max_size=300))
    if kind == "zip":
        members = draw(st.dictionaries(st.sampled_from([*PARTS, SHEET, "xl/sharedStrings.xml", "a", "xl/x.bin"]),
                                       st.binary(max_size=200), max_size=6))
        return zipped(members)
    rows = draw(table(dataset))
    far = draw(st.sampled_from([None] * 16 + ["XFD1048576", "A1048576", "ZZ9000", "C3"]))
    body = ""
    for i, cells in enumerate(rows, start=1):
        with_refs = draw(st.sampled_from([True] * 9 + [False]))
        refs = [f"{chr(65 + j % 26) * (1 + j // 26)}{i}" if with_refs else None for j in range(len(cells))]
        body += f'<row r="{i}">' if with_refs else "<row>"
        body += "".join(draw(sheet_cell(r, v)) for r, v in zip(refs, cells)) + "</row>"
    if far:
        body += f'<row r="{far.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}">{cell(far, "loin")}</row>'
    sheet = SHEET_START + f"<sheetData>{body}</sheetData></worksheet>".encode()
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>a</t></si></sst>'
    members = {**PARTS, SHEET: sheet, "xl/sharedStrings.xml": strings}
    if kind == "bombe":  # 3 Mo of zeros: over 1 Mo and compressed more than 100 times
        members["xl/media/image1.bin"] = bytes(3 << 20)
    data = zipped(members)
    if kind == "tronque":
        data = data[: draw(st.integers(0, len(data)))]
    return mutate(draw, data) if draw(rarely(10)) else data


def zipped(members: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
