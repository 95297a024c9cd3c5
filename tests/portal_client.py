"""A real deposit portal for the tests: ``python -m pipelines portail`` in a subprocess, spoken to over HTTP.

The client is ``http.client`` (no test client, no mock): bodies are built here byte for byte, so a
hostile file name, a NUL byte or a stream without end reaches the server exactly as a script would
send it.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import PROJECT_ROOT, child_env, free_port


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def multipart(fields: dict[str, str], filename: str | bytes | None, content: bytes) -> tuple[str, bytes]:
    """(content type, body) of a form with ``fields`` and, unless ``filename`` is None, the file ``fichier``."""
    boundary = secrets.token_hex(12)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    if filename is not None:
        name = filename if isinstance(filename, bytes) else filename.encode()
        parts.append(f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="fichier"; filename="'
                     + name + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content + b"\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


class Portal:
    """The server process and its folders under ``root``."""

    def __init__(self, root: Path, **env: str):
        self.root, self.port = root, free_port()
        self.env = child_env(root, ALI_PORTAIL_DIR=str(root / "portail"), **env)
        self.inbox = Path(self.env["ALI_INBOX_DIR"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines", "portail", "--port", str(self.port)], env=self.env, cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/sante").status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("le portail n'a pas démarré : " + self.process.stdout.read().decode()[-3000:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> str:
        os.killpg(self.process.pid, signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        return output.decode("utf-8", "replace")

    def token(self, source: str) -> str:
        """``python -m pipelines portail jeton SOURCE``: the token is the output's last line."""
        done = subprocess.run([sys.executable, "-m", "pipelines", "portail", "jeton", source], env=self.env,
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True)
        return done.stdout.strip().splitlines()[-1]

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def deposit(self, token: str | None, periode: str, filename: str | bytes | None, content: bytes,
                jeu: str | None = None, headers: dict | None = None) -> Answer:
        content_type, body = multipart({}, filename, content)
        query = f"periode={periode}" + (f"&jeu={jeu}" if jeu else "")
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request("POST", f"/api/depot?{query}", body,
                            {"Content-Type": content_type, **auth, **(headers or {})})

    def stream(self, token: str, periode: str, filename: str, total: int, chunk: int = 1 << 16) -> Answer:
        """A chunked upload of ``total`` bytes (no Content-Length: the server learns the size as it reads)."""
        content_type, body = multipart({}, filename, b"\x00")
        head, tail = body.split(b"\x00")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

        def chunks():
            yield head
            for start in range(0, total, chunk):
                yield b"a;b\n" * (min(chunk, total - start) // 4)
            yield tail

        try:
            connection.request("POST", f"/api/depot?periode={periode}", body=chunks(), encode_chunked=True,
                               headers={"Content-Type": content_type, "Authorization": f"Bearer {token}",
                                        "Transfer-Encoding": "chunked"})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def inbox_files(self) -> dict[str, bytes]:
        """Every file under the inbox, dot-files and the staging folder included: relative path → bytes."""
        if not self.inbox.exists():
            return {}
        return {str(p.relative_to(self.inbox)): p.read_bytes() for p in sorted(self.inbox.rglob("*")) if p.is_file()}

    def attempts(self) -> list[dict]:
        log = self.root / "portail" / "depots.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
