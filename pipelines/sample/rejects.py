"""Files the contract (§4) rejects whole, planted at fixed places of the default range.

``replace``: the only delivery of its key is unusable; ``resend``: a valid file arrived first and
a broken re-send of the same key follows (same folder, another case or extension, later mtime: the
valid delivery stays in force); ``extra``: a file beside the normal deliveries, under a wrong
period, source or dataset, with the content of ``donor`` for that month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.sample.timeline import Month

Mode = Literal["replace", "resend", "extra"]


@dataclass(frozen=True)
class Reject:
    month: Month
    """The month whose generation drops the file (the ``donor``'s month for an extra)."""
    folder: str
    """The period folder: ``str(month)`` except for the invalid-period case."""
    source: str
    dataset: str
    filename: str
    kind: str
    mode: Mode
    donor: str = ""
    dropped_column: str = ""
    blank_lines: bool = False
    """For an empty file: blank lines only, rather than 0 bytes."""

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.source}/{self.filename}"


REJECTS = (
    Reject(Month(2023, 6), "2023-06", "P023", "participations", "participations.csv", "colonne_requise_manquante",
           "replace", dropped_column="code_action"),
    Reject(Month(2023, 11), "2023-11", "ALI07", "beneficiaires", "BENEFICIAIRES.csv", "fichier_illisible", "resend"),
    Reject(Month(2024, 2), "2024-02", "P045", "actions", "actions.csv", "fichier_vide", "replace"),
    Reject(Month(2024, 5), "2024-05", "ALI05", "actions", "actions.csv", "dataset_non_autorise", "extra",
           donor="P021"),
    Reject(Month(2024, 11), "2024-11", "P099", "participations", "participations.csv", "source_inconnue", "extra",
           donor="P009"),
    Reject(Month(2024, 12), "2024-13", "ALI01", "beneficiaires", "beneficiaires.csv", "periode_invalide", "extra",
           donor="ALI01"),
    Reject(Month(2025, 3), "2025-03", "ALI13", "conseillers", "conseillers.csv", "fichier_vide", "replace",
           blank_lines=True),
    Reject(Month(2025, 6), "2025-06", "ALI23", "beneficiaires", "beneficiaires.csv", "source_inconnue", "extra",
           donor="ALI22"),
    Reject(Month(2025, 9), "2025-09", "P061", "actions", "Actions.xlsx", "fichier_illisible", "resend"),
    Reject(Month(2026, 2), "2026-02", "ALI11", "beneficiaires", "Beneficiaires.csv", "colonne_requise_manquante",
           "resend", dropped_column="referent"),
)
RESEND_DELAY_DAYS = 3


def planted(month: Month, source: str, dataset: str) -> Reject | None:
    """The replace/resend rejection planted on this key, if any."""
    key = (month, source, dataset)
    return next((j for j in REJECTS if j.mode != "extra" and (j.month, j.source, j.dataset) == key), None)


def extras(month: Month, donor: str, dataset: str) -> list[Reject]:
    return [j for j in REJECTS if j.mode == "extra" and (j.month, j.donor, j.dataset) == (month, donor, dataset)]


def unreadable(valid: bytes, xlsx: bool) -> bytes:
    """Bytes no reader accepts: a truncated workbook, or text with 0x81/0x9D (undefined in UTF-8 and cp1252)."""
    if xlsx:
        return valid[: len(valid) // 2]
    cut = valid.index(b"\n", len(valid) // 2) + 1
    return valid[:cut] + b"\x81\x9d" + valid[cut:]


def empty(reject: Reject) -> bytes:
    return b"\r\n\r\n\r\n" if reject.blank_lines else b""
