"""A PostgreSQL server owned by an unprivileged user, in a folder of its own.

It is the project's local stand-in for the production server (the tests, the demo) and the shape of a
real deployment (docs/operations.md). ``initdb`` refuses to run as root: run as root (this machine, a
CI container), the cluster belongs to the ``postgres`` user Debian's package creates
(``ALI_PG_OS_USER``) and every server command runs as that user through ``runuser``; run as anyone
else, it belongs to that user.

It listens on a Unix socket in ``<folder>/socket`` (a folder only its owner can enter, so ``trust``
there admits only that user and root) and on ``127.0.0.1:<port>`` with passwords (scram-sha-256),
never on another interface. Layout: ``<folder>/data`` (PGDATA), ``<folder>/socket``,
``<folder>/postgres.log``. The folder's parents must be traversable by the owner (not a 0700
``/tmp/pytest-of-root``).
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipelines.resources import PROJECT_ROOT

SUPERUSER = "postgres"
SETTINGS = """
# pipelines/postgres/cluster.py: loopback and a private socket only
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket}'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
"""


def pg_bin() -> Path:
    """``ALI_PG_BIN``, else the newest server of Debian's ``postgresql`` package."""
    if os.environ.get("ALI_PG_BIN"):
        return Path(os.environ["ALI_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL introuvable : installer le paquet Debian « postgresql » (bash .ci/setup le "
                           "fait) ou donner son dossier bin dans ALI_PG_BIN")
    return found[-1].parent


@dataclass(frozen=True)
class Cluster:
    folder: Path
    port: int = 5433

    @classmethod
    def from_env(cls) -> Cluster:
        folder = os.environ.get("ALI_PG_DIR") or PROJECT_ROOT / "data" / "postgres"
        return cls(Path(folder).resolve(), int(os.environ.get("ALI_PG_PORT", "5433")))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def socket(self) -> Path:
        return self.folder / "socket"

    @property
    def owner(self) -> str:
        return os.environ.get("ALI_PG_OS_USER", "postgres") if os.geteuid() == 0 else getpass.getuser()

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(pg_bin() / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, cwd="/")

    def init(self) -> None:
        """Create the cluster once (a no-op when it exists)."""
        if (self.data / "PG_VERSION").exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        for path, mode in ((self.data, 0o700), (self.socket, 0o700)):
            path.mkdir(exist_ok=True)
            path.chmod(mode)
            shutil.chown(path, self.owner, self.owner) if os.geteuid() == 0 else None
        done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8", "--no-locale",
                         "--auth-local=trust", "--auth-host=scram-sha-256")
        if done.returncode:
            raise RuntimeError(f"initdb a échoué dans {self.data} :\n{done.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:  # the owner's file: root appends
            conf.write(SETTINGS.format(port=self.port, socket=self.socket))

    def running(self) -> bool:
        return self.data.exists() and self._run("pg_ctl", "status", "-D", str(self.data)).returncode == 0

    def start(self) -> None:
        """Initialise if needed, then start and wait until it accepts connections."""
        self.init()
        if self.running():
            return
        log = self.folder / "postgres.log"
        log.touch()
        shutil.chown(log, self.owner, self.owner) if os.geteuid() == 0 else None
        done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(log), "-w", "-t", "60")
        if done.returncode:
            raise RuntimeError(f"PostgreSQL n'a pas démarré (port {self.port}) : voir {log}\n{done.stderr}")

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        """Through the private socket: the cluster's owner (or root) only."""
        return f"host={self.socket} port={self.port} dbname={dbname} user={SUPERUSER}"
