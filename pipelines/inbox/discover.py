"""The inbox layout (contract §1): ``<inbox>/<YYYY-MM>/<source_code>/<dataset>.<csv|xlsx>``.

Discovery only describes what is there; whether a file is acceptable is decided by ingestion,
which records a reason for every file it refuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.inbox.headers import normalise_header

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class InboxFile:
    path: Path
    fichier: str
    """Path relative to the inbox, with ``/``: how every report names the file."""
    periode_dossier: str
    source_code: str | None
    dataset: str | None
    """File name without extension, normalised like a header (case-, accent- and ``_``-insensitive)."""
    depth_ok: bool
    recu_le: dt.datetime
    taille_octets: int

    @property
    def periode(self) -> dt.date | None:
        return parse_month(self.periode_dossier)


def parse_month(folder: str) -> dt.date | None:
    match = _MONTH.match(folder)
    return dt.date(int(match[1]), int(match[2]), 1) if match else None


def month_folders(inbox: Path) -> list[str]:
    """Period folders of the inbox that are months, sorted."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if p.is_dir() and parse_month(p.name))


def other_folders(inbox: Path) -> list[str]:
    """Top-level entries that are not month folders (each file below them is rejected)."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".") and not parse_month(p.name))


def list_files(inbox: Path, folder: str) -> list[InboxFile]:
    """Every visible file under ``<inbox>/<folder>``, oldest reception first.

    Dot-files are uploads in progress by convention and are left for a later run.
    """
    root = inbox / folder
    if root.is_file():
        paths = [root]
    else:
        paths = [p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts[-3:])]
    files = []
    for path in paths:
        parts = path.relative_to(inbox).parts
        stat = path.stat()
        files.append(
            InboxFile(
                path=path,
                fichier="/".join(parts),
                periode_dossier=folder,
                source_code=parts[1].strip().upper() if len(parts) >= 3 else None,
                dataset=normalise_header(path.stem) if len(parts) == 3 else None,
                depth_ok=len(parts) == 3,
                recu_le=dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc).replace(tzinfo=None),
                taille_octets=stat.st_size,
            )
        )
    return sorted(files, key=lambda f: (f.recu_le, f.fichier))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
