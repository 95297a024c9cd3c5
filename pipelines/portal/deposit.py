"""A deposit: the verifier's verdict on the staged file, then its atomic placement in the inbox, then its log line.

The server alone decides the name and the place: ``<inbox>/<YYYY-MM>/<source>/<dataset>.<csv|xlsx>``,
the month checked against the monthly partitions, the source from the token, the dataset from the
form's ``jeu`` or from the client's file name matched against the contract's names (as the inbox
does: case and accents ignored). A client name holding a path, a NUL or a control character is
refused before anything is read. The verdict is the ``verifier``'s (``pipelines.senders.verify``:
the same code and rules as ingestion); a file it rejects is not deposited. Any other is moved from
the staging folder to a dot-file beside its final name, then renamed onto it: the inbox sensor,
which skips dot-files, sees the whole file or nothing. Every attempt is one line of
``<ALI_PORTAIL_DIR>/depots.jsonl``: source, month, dataset, sha256, verdict; never a cell's value.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.contract import DATASETS, DATASETS_BY_SOURCE_TYPE
from pipelines.inbox.headers import normalise_header
from pipelines.months import FIRST_MONTH, parse_month
from pipelines.senders.verify import Verdict, Verifier

SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}")
UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
PARIS = ZoneInfo("Europe/Paris")


class Refused(Exception):
    """A deposit refused before any verdict, with its HTTP status (403, 422) and a French reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_month(periode: str, today: dt.date | None = None) -> str:
    """``periode`` if it is a month the platform processes: from the first partition to the current month."""
    month = parse_month(periode or "")
    current = (today or dt.datetime.now(PARIS).date()).replace(day=1)
    if month is None or not parse_month(FIRST_MONTH) <= month <= current:
        raise Refused(422, f"mois invalide : attendu AAAA-MM, de {FIRST_MONTH} au mois en cours")
    return periode


def file_name(client_name: str, jeu: str | None) -> tuple[str, str]:
    """(dataset, name given to the verifier) from the form's ``jeu`` or the client's file name."""
    if not client_name or UNSAFE.search(client_name) or client_name.startswith(".") or len(client_name) > 255:
        raise Refused(422, "nom de fichier refusé : un nom simple est attendu, sans chemin ni caractère de contrôle")
    stem, dot, suffix = client_name.rpartition(".")
    extension = f".{suffix.lower()}" if dot and SUFFIX.fullmatch(f".{suffix}") else ""
    wanted = normalise_header(jeu if jeu else (stem if dot else client_name))
    dataset = next((d for d in DATASETS if normalise_header(d) == wanted), None)
    if dataset is None:
        raise Refused(422, "jeu de données inconnu : " + ", ".join(DATASETS) + " (.csv ou .xlsx)")
    return dataset, f"{dataset}{extension}"


@dataclass
class Attempt:
    """One line of the attempt log."""

    horodatage: str
    canal: str
    source: str | None
    periode: str | None = None
    jeu: str | None = None
    sha256: str | None = None
    taille_octets: int | None = None
    http: int = 200
    statut: str | None = None
    regle_rejet: str | None = None
    lignes_quarantaine: int | None = None
    depose: bool = False
    motif: str | None = None


class Depository:
    """The portal's side of the inbox: one verifier, the staging folder, the attempt log."""

    def __init__(self, inbox: Path, reference: Path, folder: Path):
        self.inbox, self.reference, self.folder = inbox, reference, folder
        self.staging = inbox / ".portail"
        self.log = folder / "depots.jsonl"
        self._verifier: Verifier | None = None
        self._signature: tuple = ()
        self._verify_lock = threading.Lock()
        self._log_lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._clear_staging()

    def _clear_staging(self) -> None:
        """At start nothing is in flight: what the staging folder holds is left by a stopped server."""
        if self.staging.is_dir():
            shutil.rmtree(self.staging)

    def sources(self) -> dict[str, str]:
        with self._verify_lock:
            return dict(self._current().sources)

    def source_name(self, source: str) -> str:
        with self._verify_lock:
            rows = self._current().con.execute(
                "SELECT nom FROM reference.ali WHERE code_ali = $1 UNION ALL "
                "SELECT nom FROM reference.partenaires WHERE code_partenaire = $1", [source]).fetchall()
        return rows[0][0] if rows else source

    def allowed(self, source: str) -> tuple[str, ...]:
        return DATASETS_BY_SOURCE_TYPE[self.sources()[source]]

    def _current(self) -> Verifier:
        """The verifier, reloaded when a reference file changed (no restart after a catalogue update)."""
        signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(self.reference.iterdir()))
        if self._verifier is None or signature != self._signature:
            if self._verifier is not None:
                self._verifier.close()
            self._verifier, self._signature = Verifier(self.reference), signature
        return self._verifier

    def verdict(self, staged: Path, source: str, periode: str, name: str) -> Verdict:
        """The verifier's verdict (one at a time: it validates in one in-memory DuckDB)."""
        with self._verify_lock:
            return self._current().check(staged, source, periode, name)

    def named(self, staged: Path, name: str) -> Path:
        """The staged file under the name the server chose (the reader goes by the extension), in its own folder."""
        folder = self.staging / f"d-{secrets.token_hex(8)}"
        folder.mkdir(mode=0o700)
        os.replace(staged, folder / name)
        return folder / name

    def place(self, staged: Path, source: str, periode: str, name: str) -> Path:
        """Move the staged file to ``<inbox>/<periode>/<source>/<name>`` through a dot-file beside it."""
        folder = self.inbox / periode / source
        folder.mkdir(parents=True, exist_ok=True)
        hidden = folder / f".{name}.{secrets.token_hex(6)}.depot"
        os.replace(staged, hidden)
        final = folder / name
        os.replace(hidden, final)
        staged.parent.rmdir()
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the rename survives a power cut
        finally:
            os.close(fd)
        return final

    def record(self, attempt: Attempt) -> None:
        line = json.dumps(attempt.__dict__, ensure_ascii=False, sort_keys=True) + "\n"
        with self._log_lock:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def history(self, source: str, limit: int = 200) -> list[dict]:
        """``source``'s own attempts that reached a verdict, newest first."""
        if not self.log.exists():
            return []
        with self._log_lock:
            lines = self.log.read_text(encoding="utf-8").splitlines()
        mine = [a for a in map(json.loads, lines) if a.get("source") == source and a.get("statut")]
        return mine[::-1][:limit]


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
