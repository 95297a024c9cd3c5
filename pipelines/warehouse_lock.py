"""One writer at a time on the warehouse, whoever starts it: the equivalent of the Dagster pool.

The pool ``warehouse`` (limit 1) serialises the steps of runs launched through one Dagster
instance. Runs of ``python -m pipelines refresh`` without ``DAGSTER_HOME`` have an ephemeral
instance each, and dbt opens the file itself: neither sees the pool. So every run also holds an
advisory lock on ``<warehouse>.lock`` while its resource is in use — exclusive for runs, shared for
read-only readers (the refresh summary) — and a second run WAITS for the first (up to
``ALI_WAREHOUSE_LOCK_TIMEOUT`` seconds, default 3600) instead of failing on DuckDB's file lock in
the middle of its work. When the wait is over it fails with a message naming the holder. The
kernel drops the lock when its process dies, even by SIGKILL: a crash never leaves it stuck.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_held: dict[str, int] = {}
"""Locks this process holds (path → depth): nested users in one process share it."""


class WarehouseBusy(RuntimeError):
    """Another run kept the warehouse longer than the allowed wait."""


def lock_path(warehouse: Path | str) -> Path:
    return Path(warehouse).with_suffix(".lock")


@contextmanager
def warehouse_lock(warehouse: Path | str, *, holder: str = "", shared: bool = False,
                   timeout: float | None = None) -> Iterator[None]:
    """Hold the warehouse's lock for the block, waiting up to ``timeout`` seconds for it."""
    path = lock_path(warehouse)
    key = os.path.abspath(path)
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    if timeout is None:
        timeout = float(os.environ.get("ALI_WAREHOUSE_LOCK_TIMEOUT", "3600"))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, path, shared, timeout)
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, {holder or 'sans run'}, depuis {_now()}\n".encode(), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, path: Path, shared: bool, timeout: float) -> None:
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "inconnu"
                raise WarehouseBusy(
                    f"entrepôt occupé par un autre run ({holder}) : attente de {timeout:.0f} s dépassée "
                    f"(ALI_WAREHOUSE_LOCK_TIMEOUT) ; rien n'a été écrit par ce run, relancez-le quand "
                    f"l'autre sera terminé (verrou : {path})"
                ) from None
            time.sleep(0.2)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
