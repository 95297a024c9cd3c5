"""Pseudonymisation (contract §5): ``personne_id`` = hex HMAC-SHA256(key, ``organisme:matricule``).

The HMAC runs inside DuckDB, set-wise, from the two padded key blocks (RFC 2104); the key itself
never becomes a SQL literal, a table row or a log line. The warehouse keeps only a fingerprint of
the key, so that a run with another key (whose ``personne_id`` would not match history) stops.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

HMAC_SQL = "sha256(ali_cle.externe || unhex(sha256(ali_cle.interne || encode({message}))))"
"""HMAC-SHA256 of a VARCHAR expression, for queries that ``CROSS JOIN ali_cle``."""

KEY_ENV = "ALI_PSEUDONYMISATION_KEY"
DEMO_ENV = "ALI_DEMO_MODE"
DEMO_KEY_FILE_ENV = "ALI_DEMO_KEY_FILE"
DEMO_WARNING = (
    "MODE DÉMO : pseudonymisation avec une clé de démonstration locale (%s). "
    "Ne jamais traiter de données réelles dans ce mode : définir ALI_PSEUDONYMISATION_KEY."
)


class KeyError_(RuntimeError):
    """No usable key: the run must not start."""


@dataclass(frozen=True, repr=False)
class Pseudonymiser:
    """Holds the key; its repr and str never show it."""

    key: bytes
    demo: bool = False

    def __repr__(self) -> str:
        return f"Pseudonymiser(demo={self.demo})"

    def personne_id(self, organisme: str, matricule: str) -> str:
        """Reference implementation (tests, audit look-ups)."""
        return hmac.new(self.key, f"{organisme}:{matricule}".encode(), hashlib.sha256).hexdigest()

    def fingerprint(self) -> str:
        return hmac.new(self.key, b"ali93/empreinte-de-cle", hashlib.sha256).hexdigest()[:16]

    def bind(self, con: duckdb.DuckDBPyConnection) -> None:
        """Put the padded key blocks in the in-memory temp table ``ali_cle`` (as bound parameters).

        Queries then join ``ali_cle`` and use ``HMAC_SQL``; the key never appears in SQL text.
        """
        block = self.key if len(self.key) <= 64 else hashlib.sha256(self.key).digest()
        block = block.ljust(64, b"\0")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ali_cle AS SELECT ?::BLOB AS interne, ?::BLOB AS externe",
            [bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)],
        )

    def check_fingerprint(self, con: duckdb.DuckDBPyConnection) -> None:
        """Record the key's fingerprint on first use; refuse a different key afterwards."""
        row = con.execute("SELECT valeur FROM raw.parametres WHERE cle = 'empreinte_cle'").fetchall()
        if not row:
            con.execute("INSERT INTO raw.parametres VALUES ('empreinte_cle', ?)", [self.fingerprint()])
        elif row[0][0] != self.fingerprint():
            raise KeyError_(
                "la clé de pseudonymisation diffère de celle qui a produit l'entrepôt : les personne_id "
                "ne seraient plus comparables. Utiliser la clé d'origine ou repartir d'un entrepôt vide."
            )


def from_environment(environ: dict[str, str] | None = None) -> Pseudonymiser:
    """The key from ``ALI_PSEUDONYMISATION_KEY``; else, only with ``ALI_DEMO_MODE=1``, a demo key."""
    environ = os.environ if environ is None else environ
    key = environ.get(KEY_ENV, "")
    if key:
        if len(key) < 32:
            raise KeyError_(f"{KEY_ENV} trop courte : 32 caractères au moins (par ex. 64 hexadécimaux)")
        return Pseudonymiser(key.encode())
    if environ.get(DEMO_ENV, "").strip().lower() not in ("1", "true", "oui", "yes"):
        raise KeyError_(
            f"{KEY_ENV} n'est pas définie. Définir la clé secrète (jamais dans le dépôt), "
            f"ou {DEMO_ENV}=1 pour une démonstration sur données fictives."
        )
    path = Path(environ.get(DEMO_KEY_FILE_ENV) or Path(__file__).resolve().parents[2] / "data" / ".demo-key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    log.warning(DEMO_WARNING, path)
    return Pseudonymiser(path.read_text().strip().encode(), demo=True)
