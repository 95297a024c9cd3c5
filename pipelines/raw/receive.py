"""Which files of a period folder a run takes: new or received again, settled, archived as hashed.

A file is taken whole or not at all. One still being written — modified within the quiet period
(``ALI_INBOX_QUIET_SECONDS``), or changed, replaced or removed between its listing, its hash and its
archived copy — is left for a later run: it is not recorded (it is neither valid nor rejected yet),
the run logs it, and the ingestion check does not count it as missing. What is read afterwards is
the archived copy, so the rows loaded are those of the bytes named by ``sha256``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from pipelines.inbox.discover import scan, stable_sha256
from pipelines.inbox.limits import limit
from pipelines.raw.archive import archive
from pipelines.raw.prepare import Prepared, refused_unread

CHANGED = "modifié, remplacé ou supprimé pendant sa lecture : dépôt en cours"


def processed(con: duckdb.DuckDBPyConnection, folder: str) -> dict[tuple[str, str], dt.datetime]:
    """(fichier, sha256) → reception time of the versions of ``folder`` the manifest holds."""
    return {(f, s): r for f, s, r in con.execute(
        "SELECT fichier, sha256, recu_le FROM raw.livraisons WHERE periode_dossier = ?", [folder]).fetchall()}


def is_new(seen: dict[tuple[str, str], dt.datetime], fichier: str, sha256: str, recu_le: dt.datetime) -> bool:
    """Not processed yet, or received again since (same name and bytes, a later reception)."""
    received = seen.get((fichier, sha256))
    return received is None or received < recu_le


def received_files(con: duckdb.DuckDBPyConnection, inbox: Path, archive_dir: Path, folder: str,
                   deferred: list[tuple[str, str]]) -> list[Prepared]:
    """Files new to the manifest, or received again since (a re-sent earlier version), archived.

    Appends to ``deferred`` the (fichier, reason) of the files left for a later run. Links and
    oversize files are taken (to be rejected) without being archived.
    """
    seen = processed(con, folder)
    found = scan(inbox, folder)
    recent = f"modifié il y a moins de {limit('ALI_INBOX_QUIET_SECONDS')} s (ALI_INBOX_QUIET_SECONDS) : en cours"
    deferred += [(f.fichier, recent) for f, _ in found.waiting]
    todo = []
    for file in found.ready:
        sha = stable_sha256(file)
        if sha is None:
            deferred.append((file.fichier, CHANGED))
            continue
        if not is_new(seen, file.fichier, sha, file.recu_le):
            continue
        if refused_unread(file):
            todo.append(Prepared(file, sha, None))  # rejected by prepare; nothing read or archived
            continue
        kept = archive(file.path, sha, archive_dir)
        if kept is None:
            deferred.append((file.fichier, CHANGED))
        else:
            todo.append(Prepared(file, sha, str(kept.relative_to(archive_dir)), copy=kept))
    return todo
