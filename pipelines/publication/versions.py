"""Versioned folders behind one symlink: how every publication is switched atomically.

A new version is written aside (``<stamp>.partial``), renamed to ``<stamp>``, then the link readers
use is repointed with one ``rename``: a reader sees the previous version or the new one, never a
mix. The publication of the marts and the open-data export both use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.crash_points import kill_point


def swap_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` (relative to the link's folder) with one atomic rename."""
    new = link.with_name(f".{link.name}.new")
    new.unlink(missing_ok=True)
    new.symlink_to(target.relative_to(link.parent))
    kill_point("versions.lien_temporaire")
    os.replace(new, link)


PENDING = ".attente"
"""Suffix of a version written and waiting for its checks before its switch (``snapshot.stage``)."""


def prune(folder: Path, keep: Path, count: int) -> None:
    """Keep the ``count`` newest versions (a reader may still be on one); drop the older ones and
    leftovers, whose names carry a dot (``.partial`` of a crashed run, a folder moved aside, a version
    that waited and was never switched). A version waiting that is newer than ``keep`` is another
    run's, still to be checked and switched: kept."""
    versions = sorted((p for p in folder.iterdir() if "." not in p.name), reverse=True)
    leftovers = [p for p in folder.iterdir() if "." in p.name
                 and not (p.name.endswith(PENDING) and p.name > keep.name)]
    for old in [*versions[count:], *leftovers]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
            kill_point("versions.purge")
