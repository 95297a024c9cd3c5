"""Archive of original files by content hash: the only place that keeps clear identifiers.

Files are written owner-only, under a temporary name then renamed, so the archive never holds a
partial copy; archiving the same content twice is a no-op. The copy is hashed as it is written: a
file that changed since it was hashed (a sender still writing it) is not archived under a name its
bytes do not have, and ingestion reads the archived copy, so what is loaded is what is archived.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipelines.crash_points import kill_point
from pipelines.inbox.discover import open_regular


def archive(source: Path, sha256: str, archive_dir: Path) -> Path | None:
    """Copy ``source`` to ``<archive_dir>/<sha[:2]>/<sha><ext>`` unless already there.

    None (nothing archived) when the bytes copied do not hash to ``sha256``: the file changed.
    """
    target = archive_dir / sha256[:2] / f"{sha256}{source.suffix.lower()}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive_dir.chmod(0o700)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    if not _copy(source, partial, sha256):
        partial.unlink(missing_ok=True)
        return None
    kill_point("ingestion.archive_partielle")
    partial.chmod(0o400)
    os.replace(partial, target)
    kill_point("ingestion.archive")
    return target


def _copy(source: Path, partial: Path, sha256: str) -> bool:
    """Copy in blocks of 1 Mio, never following a link; True if the bytes copied hash to ``sha256``."""
    try:
        reader = open_regular(source)
    except OSError:  # removed, or replaced by a link or a pipe, since it was hashed
        return False
    digest = hashlib.sha256()
    with reader, partial.open("wb") as writer:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
            writer.write(block)
    return digest.hexdigest() == sha256
