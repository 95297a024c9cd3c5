"""Writing a published file: aside, synced, renamed, and only when its bytes change.

A reader (a BI user, a mail attachment, the senders' receipts page) never gets half a file, a power
cut never leaves an empty one, and a file that did not change keeps its date (what the senders and
the privacy scan see as new is what is new).
"""

import os
from pathlib import Path


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` atomically (aside, synced, renamed) when its bytes differ; True if written."""
    if path.exists() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return True
