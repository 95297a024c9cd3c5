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


def sync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every folder bottom-up, before ``folder`` is renamed into
    place: after a power cut the renamed snapshot is whole, never a name over empty files."""
    for root, _, names in os.walk(folder, topdown=False):
        for name in names:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        sync_folder(Path(root))


def sync_folder(folder: Path) -> None:
    """fsync a folder: a rename or a new entry inside it survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
