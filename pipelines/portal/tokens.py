"""The senders' tokens: one per source, shown once, stored only as a slow salted hash.

A token reads ``<SOURCE>.<43 random characters>``: the source code in clear tells the portal which
hash to check (one scrypt per request, not one per source), the random part is the secret (256
bits from ``secrets``). The store, ``<ALI_PORTAIL_DIR>/jetons.json`` (0600), keeps for each source
the salt, the scrypt parameters, the derived key and the creation time; a new token for a source
replaces its entry, so the previous token stops working at the next request (the file is re-read
when it changes). A token that names no known source still costs one scrypt: the answer's timing
does not tell which sources exist. The comparison is ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""~50 ms and 16 MiB per check here: cheap for one request, costly for a guessing attack on a stolen store."""
_DUMMY_SALT = bytes(16)


@dataclass(frozen=True)
class Identity:
    source: str
    cree_le: str
    """The token's creation time: a page session opened with an older token of the source is closed."""


def _derive(secret: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          maxmem=64 * 1024 * 1024, dklen=32)


class TokenStore:
    """``jetons.json`` in the portal's folder, re-read whenever its modification time changes."""

    def __init__(self, folder: Path):
        self.path = folder / "jetons.json"
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._entries: dict[str, dict] = {}

    def entries(self) -> dict[str, dict]:
        with self._lock:
            try:
                status = os.stat(self.path)
            except FileNotFoundError:
                self._seen, self._entries = None, {}
                return {}
            if (status.st_mtime_ns, status.st_size) != self._seen:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
                self._seen = (status.st_mtime_ns, status.st_size)
            return self._entries

    def issue(self, source: str, now: dt.datetime | None = None) -> str:
        """Create or replace ``source``'s token; the token itself is returned, never stored."""
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        entry = {"sel": salt.hex(), **SCRYPT, "empreinte": _derive(secret, salt, SCRYPT).hex(),
                 "cree_le": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="microseconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            current = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
            current[source] = entry
            partial = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(current, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self.path)
        return f"{source}.{secret}"

    def check(self, token: str) -> Identity | None:
        """The source ``token`` opens, or None (unknown source, wrong or malformed secret)."""
        source, _, secret = token.strip().rpartition(".")
        entry = self.entries().get(source)
        params = entry if entry else SCRYPT
        salt = bytes.fromhex(entry["sel"]) if entry else _DUMMY_SALT
        derived = _derive(secret, salt, params)
        expected = bytes.fromhex(entry["empreinte"]) if entry else secrets.token_bytes(32)
        if hmac.compare_digest(derived, expected) and entry and secret:
            return Identity(source, entry["cree_le"])
        return None

    def current(self, identity: Identity) -> bool:
        """True while ``identity``'s token is still its source's token (not rotated since)."""
        entry = self.entries().get(identity.source)
        return bool(entry) and entry["cree_le"] == identity.cree_le
