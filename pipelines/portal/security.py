"""What keeps the portal's doors shut: back-off on failed tokens, page sessions with CSRF, security headers.

- **Back-off**: a client address that presented ``ALI_PORTAIL_ESSAIS`` (10) wrong tokens within 15
  minutes gets 429 with ``Retry-After`` until the oldest of them is 15 minutes old; a right token
  clears its count. Behind the reverse proxy the address is the one nginx forwards (uvicorn trusts
  ``X-Forwarded-For`` from 127.0.0.1 only).
- **Sessions**: the pages sign in with the token once; the server keeps the session (random id in
  an ``HttpOnly``, ``SameSite=Strict`` cookie, ``Secure`` behind TLS), renews the id at sign-in, ends
  it after ``SESSION_SECONDS`` idle or as soon as the source's token is rotated.
- **CSRF**: every form carries the session's random token, compared in constant time.
- **Headers**: a CSP that allows nothing but the portal's own stylesheet (no script at all, no
  request leaving the page), no framing, no referrer, no caching of a page that shows a verdict.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from pipelines.portal.tokens import Identity

WINDOW_SECONDS = 15 * 60
ATTEMPTS = 10
"""Wrong tokens a client address may present within ``WINDOW_SECONDS`` (``ALI_PORTAIL_ESSAIS``)."""
SESSION_SECONDS = 2 * 3600
COOKIE = "portail_session"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class Backoff:
    """Failed token checks per client address, in a sliding window."""

    def __init__(self, attempts: int | None = None):
        self.attempts = attempts or int(os.environ.get("ALI_PORTAIL_ESSAIS") or ATTEMPTS)
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str, now: float | None = None) -> int:
        """Seconds ``client`` must wait before its next try (0: it may try)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._failures.get(client)
            while failures and now - failures[0] >= WINDOW_SECONDS:
                failures.popleft()
            if not failures or len(failures) < self.attempts:
                return 0
            return int(WINDOW_SECONDS - (now - failures[-self.attempts])) + 1

    def failed(self, client: str, now: float | None = None) -> None:
        with self._lock:
            self._failures.setdefault(client, deque()).append(time.monotonic() if now is None else now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    identity: Identity | None = None
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Server-side sessions, in memory: a restart signs everybody out, nothing to steal on disk."""

    def __init__(self):
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> Session | None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, s in self._sessions.items() if now - s.seen > SESSION_SECONDS]:
                del self._sessions[key]
            session = self._sessions.get(sid or "")
            if session is not None:
                session.seen = now
            return session

    def open(self, identity: Identity | None = None) -> tuple[str, Session]:
        """A new session (a new id: never the one the browser had before signing in)."""
        sid, session = secrets.token_urlsafe(32), Session(identity=identity)
        with self._lock:
            self._sessions[sid] = session
        return sid, session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two texts (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class SecurityHeaders:
    """ASGI middleware adding ``HEADERS`` and the CSP to every response (a route may set a stricter CSP)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)
