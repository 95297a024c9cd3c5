"""The archive's journal: what was received, when, and what became of it — enough to rebuild the warehouse.

The archive keeps originals by content hash; alone, nobody could put them back in order. Beside them,
``<archive>/journal.jsonl`` is append-only, one JSON object per line:

- ``run``: a run of the ingestion begins (its months: they decide which identifiers its write guard
  knows, so a replay withholds exactly what the run withheld);
- ``fichier``: a file a run processed: path as received, période folder, source, dataset, sha256,
  reception time, size, link or not, archived copy, run, verdict (``VALIDE``/``REJETE`` and the rule);
- ``purge``: an original deleted by the retention (``pipelines.raw.retention``).

A month's records are written and fsynced BEFORE the transaction that records its files, so after any
crash the journal holds at least every file the warehouse knows (a run killed in between is replayed
as it would have committed; its next run finds the same records and skips them). Never an
identifier value: the fields are those of ``raw.livraisons``, which holds none either.

An append torn by a crash (a last line without its newline) is cut before the next append: that
run died before its transaction, so the torn record was never committed. A reader (the rebuild)
stops on it instead, naming the line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NAME = "journal.jsonl"
KINDS = {"run", "fichier", "purge"}


class JournalError(RuntimeError):
    """The journal cannot be trusted as it stands: the message names the line and what to do."""


@dataclass(frozen=True)
class Entry:
    line: int
    record: dict


def path(archive_dir: Path) -> Path:
    return Path(archive_dir) / NAME


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


def run_record(run_id: str, months: list[str], folders: list[str]) -> dict:
    return {"type": "run", "run_id": run_id, "mois": months, "dossiers": folders, "le": now()}


def file_record(prepared, run_id: str) -> dict:
    """The journal's record of a processed file (a ``pipelines.raw.prepare.Prepared``)."""
    file = prepared.file
    return {
        "type": "fichier", "fichier": file.fichier, "periode": file.periode_dossier, "source": file.source_code,
        "jeu": file.dataset, "sha256": prepared.sha256, "recu_le": file.recu_le.isoformat(),
        "taille_octets": file.taille_octets, "lien": file.lien, "archive": prepared.archive, "run_id": run_id,
        "verdict": "REJETE" if prepared.rejection else "VALIDE", "regle_rejet": prepared.rejection_rule,
        "le": now(),
    }


def purge_record(archive: str, months: list[str]) -> dict:
    return {"type": "purge", "archive": archive, "mois": months, "le": now()}


def purged(entries: list[Entry]) -> set[str]:
    """The archived originals the retention deleted."""
    return {e.record["archive"] for e in entries if e.record["type"] == "purge"}


def append(archive_dir: Path, records: Iterable[dict]) -> None:
    """Append ``records`` and fsync them (and the folder, the first time) before returning."""
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    if not lines:
        return
    Path(archive_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    target = path(archive_dir)
    created = not target.exists()
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        _cut_torn_tail(fd)
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new entry survives a power cut
        folder = os.open(archive_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _cut_torn_tail(fd: int) -> None:
    """Cut a last line without its newline (an append torn by a crash, never committed)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    block = min(size, 1 << 16)
    tail = os.pread(fd, block, size - block)
    keep = size - block + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
    os.ftruncate(fd, keep)


def read(archive_dir: Path) -> list[Entry]:
    """Every record, in order; a line that is not a whole record stops with its number."""
    target = path(archive_dir)
    if not target.exists():
        raise JournalError(f"journal absent : {target}. Sans lui, l'archive ne dit pas dans quel ordre ses originaux "
                           "ont été reçus ; vérifier ALI_ARCHIVE_DIR.")
    entries = []
    with target.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            entries.append(Entry(number, _parse(target, number, raw)))
    return entries


def _parse(target: Path, number: int, raw: bytes) -> dict:
    where = f"{target}, ligne {number}"
    if not raw.endswith(b"\n"):
        raise JournalError(f"{where} : ligne tronquée (écriture interrompue par un arrêt brutal). Son run n'a rien "
                           "validé : lancer une ingestion (qui coupe cette fin) ou retirer cette dernière ligne, "
                           "puis relancer la reconstruction.")
    try:
        record = json.loads(raw)
    except ValueError as error:
        raise JournalError(f"{where} : enregistrement illisible ({error.msg}) ; le journal est altéré, "
                           "le restaurer depuis la sauvegarde de l'archive.") from None
    if not isinstance(record, dict) or record.get("type") not in KINDS:
        raise JournalError(f"{where} : type d'enregistrement inconnu ; attendu l'un de {sorted(KINDS)}.")
    return record
