"""Writing a published file: aside, synced, renamed, and only when its bytes change.

A reader (a BI user, a mail attachment, the senders' receipts page) never gets half a file, a power
cut never leaves an empty one, and a file that did not change keeps its date (what the senders and
the privacy scan see as new is what is new).
"""

import os
from pathlib import Path


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` atomically when its bytes differ; True if written."""
    if path.exists() and path.read_bytes() == content:
        return False
    write_atomically(path, content)
    return True


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` aside (``.<name>.tmp``), sync it, rename it over ``path``.

    The aside name is fixed, so a crash leaves one leftover that the next write replaces; the
    steps that publish hold the platform's lock (``WarehouseResource.lock``), so no two writers
    ever share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
