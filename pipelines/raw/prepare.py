"""From one inbox file to either a rejection reason or an Arrow table of text cells to validate.

Every whole-file rejection of contract §4 is decided here, with a reason meant for the sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import DATASETS, DATASETS_BY_SOURCE_TYPE, REJECTIONS, Dataset
from pipelines.inbox.discover import InboxFile
from pipelines.inbox.headers import map_header, normalise_header
from pipelines.inbox.limits import too_large
from pipelines.inbox.read import Table, Unreadable, read_table

LAYOUT = "<AAAA-MM>/<code_source>/<jeu>.<csv|xlsx>"


@dataclass
class Prepared:
    """A received file after reading: ``rejection`` is set, or ``cells`` holds its data rows."""

    file: InboxFile
    sha256: str
    archive: str | None
    """Path of the archived original, relative to the archive; None when not archived (link, oversize)."""
    dataset: Dataset | None = None
    rejection: str | None = None
    rejection_rule: str | None = None
    """Code of the rejection (``pipelines.contract.REJECTIONS``): what the sender does about it."""
    table: Table | None = None
    cells: pa.Table | None = None
    extra_columns: list[str] = field(default_factory=list)
    file_id: int = -1
    """Position in the month's validation batch of its dataset."""
    copy: Path | None = None
    """The archived copy, which is what is read: the bytes behind ``sha256``, whatever the sender does next."""
    unreadable: bool = False
    """Read and found unreadable (the write guard does not try again)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file.periode_dossier, self.file.source_code or "", self.file.dataset or "")


Refusal = tuple[str, str]
"""(rule, reason): the code of ``pipelines.contract.REJECTIONS`` and the reason with its details."""


def refused_unread(file: InboxFile) -> Refusal | None:
    """Rejections decided before a byte is read: these files are neither read nor archived (an oversize
    file is only hashed, in blocks of 1 Mio, for its manifest row; a link is never opened)."""
    if file.lien:
        return "lien_symbolique", (f"lien symbolique « {file.path.name} » refusé : un lien n'est jamais suivi, "
                                   "déposer le fichier lui-même")
    oversize = too_large(file.taille_octets)
    return ("fichier_trop_volumineux", oversize) if oversize else None


def source_dataset(file: InboxFile, sources: dict[str, str]) -> tuple[Dataset | None, Refusal | None]:
    """The dataset a file delivers, or why its place in the inbox is not acceptable."""
    if file.periode is None:
        return None, ("dossier_invalide",
                      f"dossier de période « {file.periode_dossier} » invalide : attendu AAAA-MM ({LAYOUT})")
    if not file.depth_ok:
        return None, ("emplacement_invalide", f"emplacement invalide : attendu {LAYOUT}")
    source_type = sources.get(file.source_code or "")
    if source_type is None:
        return None, ("source_inconnue",
                      f"code source « {file.source_code} » inconnu (ni ALI ni partenaire du référentiel)")
    allowed = DATASETS_BY_SOURCE_TYPE[source_type]  # type: ignore[index]
    if file.dataset not in DATASETS:
        return None, ("jeu_inconnu", f"jeu de données « {file.path.stem} » inconnu (attendu {' ou '.join(allowed)})")
    if file.dataset not in allowed:
        kind = "une ALI" if source_type == "ALI" else "un partenaire"
        return None, ("jeu_non_autorise",
                      f"jeu « {file.dataset} » non autorisé pour {kind} (attendu {' ou '.join(allowed)})")
    return DATASETS[file.dataset], None


def _refuse(prepared: Prepared, refusal: Refusal) -> Prepared:
    if refusal[0] not in REJECTIONS:  # a new reason cannot ship without what the sender should do about it
        raise KeyError(f"motif de rejet « {refusal[0]} » non déclaré dans pipelines.contract.REJECTIONS")
    prepared.rejection_rule, prepared.rejection = refusal
    return prepared


def prepare(prepared: Prepared, sources: dict[str, str]) -> Prepared:
    """Fill ``dataset`` and ``cells``, or ``rejection`` and ``rejection_rule``."""
    if prepared.rejection:
        return prepared
    refusal = refused_unread(prepared.file)
    if refusal:
        return _refuse(prepared, refusal)
    dataset, refusal = source_dataset(prepared.file, sources)
    prepared.dataset = dataset
    if dataset is None:
        return _refuse(prepared, refusal)
    expected = {normalise_header(c) for c in dataset.column_names}
    try:
        table = read_table(prepared.copy or prepared.file.path, expected)
    except Unreadable as error:
        prepared.unreadable = True
        return _refuse(prepared, (error.rule, f"fichier illisible : {error}"))
    prepared.table = table  # rejected or not, its identifiers are known to the write guard
    positions, extra = map_header(table.header, dataset.column_names)
    missing = [c.name for c in dataset.columns if c.required and c.name not in positions]
    if missing:
        return _refuse(prepared, ("colonnes_absentes", f"colonne(s) obligatoire(s) absente(s) : {', '.join(missing)}"))
    prepared.extra_columns = extra
    prepared.cells = _cells(table, dataset, positions)
    return prepared


def _cells(table: Table, dataset: Dataset, positions: dict[str, int]) -> pa.Table:
    """One text column per contract column (absent optional columns empty), plus row numbers."""
    columns = {
        "ligne": table.lines,
        "champs_en_trop": table.overflow(),
        # values are quoted in quarantine reasons only when the row lines up exactly with the header
        "aligne": pc.equal(table.fields, len(table.header)),
    }
    for column in dataset.columns:
        index = positions.get(column.name)
        columns[column.name] = pa.nulls(table.num_rows, pa.string()) if index is None else table.column(index)
    return pa.table(columns)
