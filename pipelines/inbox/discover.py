"""The inbox layout (contract §1): ``<inbox>/<YYYY-MM>/<source_code>/<dataset>.<csv|xlsx>``.

Discovery only describes what is there; whether a file is acceptable is decided by ingestion,
which records a reason for every file it refuses. Three things are decided here, because they are
about the drop zone, not about a delivery:

- nothing outside the inbox is ever read: a folder argument is one plain name, and symbolic links
  are listed as links, never followed (a link could expose any file of the server, or another
  sender's delivery); ingestion rejects them;
- a file still being written waits for a later run: dot-files by convention, any file modified
  less than ``ALI_INBOX_QUIET_SECONDS`` ago, and a file that changes while it is hashed;
- special files (pipes, sockets, devices) are not deliveries and are not listed (a pipe would
  block the reader forever).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.inbox.headers import normalise_header
from pipelines.inbox.limits import limit
from pipelines.months import parse_month

_BLOCK = 1 << 20


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
    lien: bool = False
    """A symbolic link (to a file or a folder, inside the inbox or not): never followed, rejected."""
    identite: tuple[int, int, int, int] = (0, 0, 0, 0)
    """(device, inode, size, mtime in ns) when listed: what is read must still be this file."""

    @property
    def periode(self) -> dt.date | None:
        return parse_month(self.periode_dossier)


@dataclass(frozen=True)
class Scan:
    ready: list[InboxFile]
    """Settled files, oldest reception first."""
    waiting: list[tuple[InboxFile, float]]
    """Files modified within the quiet period, with their age in seconds: left for a later run."""


def month_folders(inbox: Path) -> list[str]:
    """Period folders of the inbox that are months, sorted (a link named as a month too: it is rejected)."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if (p.is_dir() or p.is_symlink()) and parse_month(p.name))


def other_folders(inbox: Path) -> list[str]:
    """Top-level entries that are not month folders (each file below them is rejected)."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".") and not parse_month(p.name))


def list_files(inbox: Path, folder: str) -> list[InboxFile]:
    """Every visible, settled file under ``<inbox>/<folder>``, oldest reception first."""
    return scan(inbox, folder).ready


def scan(inbox: Path, folder: str, now: float | None = None) -> Scan:
    """The files under ``<inbox>/<folder>``, split into settled ones and ones modified too recently.

    A modification time further than the quiet period in the future is not an upload in progress
    (a sender's clock, a restored file): such a file is settled, or it would wait forever.
    """
    quiet = limit("ALI_INBOX_QUIET_SECONDS")
    now = time.time() if now is None else now
    ready, waiting = [], []
    for path, status in _entries(inside(inbox, folder)):
        file = inbox_file(path, path.relative_to(inbox).parts, status)
        age = now - status.st_mtime
        if abs(age) < quiet:
            waiting.append((file, age))
        else:
            ready.append(file)
    return Scan(sorted(ready, key=lambda f: (f.recu_le, f.fichier)), waiting)


def inbox_file(path: Path, parts: tuple[str, ...], status: os.stat_result) -> InboxFile:
    """The file at ``path``, placed in the inbox as ``parts`` (``<YYYY-MM>/<source>/<name>`` when well placed)."""
    return placed(path, "/".join(parts), dt.datetime.fromtimestamp(status.st_mtime, dt.UTC).replace(tzinfo=None),
                  status.st_size, lien=stat.S_ISLNK(status.st_mode), identite=identity(status))


def placed(path: Path, fichier: str, recu_le: dt.datetime, taille_octets: int, *, lien: bool = False,
           identite: tuple[int, int, int, int] = (0, 0, 0, 0)) -> InboxFile:
    """The file received as ``fichier`` (relative to the inbox): also how a rebuild re-creates it from its
    journal record (``pipelines.raw.replay``), so both place it by the same rules."""
    parts = fichier.split("/")
    return InboxFile(
        path=path,
        fichier=fichier,
        periode_dossier=parts[0],
        source_code=parts[1].strip().upper() if len(parts) >= 3 else None,
        dataset=normalise_header(Path(parts[-1]).stem) if len(parts) == 3 else None,
        depth_ok=len(parts) == 3,
        recu_le=recu_le,
        taille_octets=taille_octets,
        lien=lien,
        identite=identite,
    )


def inside(inbox: Path, folder: str) -> Path:
    """``<inbox>/<folder>`` for a plain folder name; ``..``, ``a/b`` or an absolute path are refused."""
    if folder in ("", ".", "..") or Path(folder).name != folder:
        raise ValueError(f"dossier « {folder} » refusé : un dossier de la boîte de dépôt est un nom simple, "
                         "sans « / » ni « .. »")
    return inbox / folder


def _entries(root: Path):
    """(path, lstat) of the regular files and symbolic links at or below ``root``; links are not entered.

    Iterative, so a hostile depth of folders cannot exhaust the stack; dot-entries are skipped; an
    entry removed while listed is simply not there.
    """
    try:
        status = os.lstat(root)
    except OSError:
        return
    if not stat.S_ISDIR(status.st_mode):
        if stat.S_ISREG(status.st_mode) or stat.S_ISLNK(status.st_mode):
            yield root, status
        return
    pending = [root]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                found = [(Path(e.path), e.stat(follow_symlinks=False)) for e in entries if not e.name.startswith(".")]
        except OSError:
            continue
        for path, status in found:
            if stat.S_ISDIR(status.st_mode):
                pending.append(path)
            elif stat.S_ISREG(status.st_mode) or stat.S_ISLNK(status.st_mode):
                yield path, status


def identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading, refusing a symbolic link (``O_NOFOLLOW``) and anything else.

    ``O_NONBLOCK``: a pipe swapped in after listing fails the check instead of blocking the run.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"« {path.name} » n'est pas un fichier ordinaire")
    return os.fdopen(fd, "rb")


def sha256_of(path: Path) -> str:
    with open_regular(path) as handle:
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def stable_sha256(file: InboxFile) -> str | None:
    """The SHA-256 of ``file`` if it is still the file listed and did not change while hashed, else None.

    None means: being written, replaced or removed since it was listed — leave it for a later run.
    A link's fingerprint is the hash of the name it points to: it identifies the link in the
    manifest without opening what it points to.
    """
    try:
        if file.lien:
            return hashlib.sha256(b"lien symbolique vers " + os.fsencode(os.readlink(file.path))).hexdigest()
        with open_regular(file.path) as handle:
            if identity(os.fstat(handle.fileno())) != file.identite:
                return None
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
            if identity(os.fstat(handle.fileno())) != file.identite:
                return None
        return digest.hexdigest()
    except OSError:
        return None
