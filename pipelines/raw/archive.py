"""Archive of original files by content hash: the only place that keeps clear identifiers.

Files are written owner-only, under a temporary name then renamed, so the archive never holds a
partial copy; archiving the same content twice is a no-op.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def archive(source: Path, sha256: str, archive_dir: Path) -> Path:
    """Copy ``source`` to ``<archive_dir>/<sha[:2]>/<sha><ext>`` unless already there."""
    target = archive_dir / sha256[:2] / f"{sha256}{source.suffix.lower()}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive_dir.chmod(0o700)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    partial.chmod(0o400)
    os.replace(partial, target)
    return target
