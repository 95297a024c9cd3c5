"""Receiving one uploaded file: streamed to a private staging file, counted as it arrives, never held whole.

The body is read chunk by chunk (``request.stream()``) into python-multipart's parser. The part
named ``fichier`` goes straight to a new file of the staging folder (``O_EXCL``, 0600, a random name
the server chose), hashed on the way; the other fields are a few short texts kept in memory. As soon
as the file passes ``ALI_MAX_FILE_BYTES`` nothing more is written: the rest of the body is read and
dropped (up to ``DRAIN_BYTES``, so that the client reads the 413 instead of a reset connection),
and the staging file is removed. The client's file name is returned as text, for the portal to
match against the contract's dataset names: it never becomes a path.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

FIELD_BYTES = 1024
"""A form field (month, dataset, CSRF token) is short: a longer one is refused."""
FIELDS = 8
DRAIN_BYTES = 16 * 1024 * 1024
OVERHEAD_BYTES = 64 * 1024
"""What a multipart body may add to the file: boundaries, part headers, the small fields."""


class UploadError(Exception):
    """An upload the portal refuses, with its HTTP status and a French reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Upload:
    path: Path | None
    """The staged file, None when the body held no ``fichier`` part."""
    client_name: str = ""
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove the staged file (and the folder ``Depository.named`` gave it)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            if self.path.parent.name.startswith("d-"):
                self.path.parent.rmdir()
            self.path = None


async def receive(chunks: AsyncIterator[bytes], content_type: str, staging: Path, max_bytes: int) -> Upload:
    """Parse a ``multipart/form-data`` body into an ``Upload``; ``UploadError`` (413, 400) otherwise."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(400, "corps attendu en multipart/form-data, le fichier dans le champ « fichier »")
    upload = Upload(None)
    state = _State(upload, staging, max_bytes)
    parser = MultipartParser(boundary, state.callbacks())
    drained = 0
    try:
        async for chunk in chunks:
            if state.too_large:
                drained += len(chunk)
                if drained > DRAIN_BYTES:
                    break
                continue
            parser.write(chunk)
        if not state.too_large:
            parser.finalize()
    except UploadError:
        state.close()
        upload.discard()
        raise
    except Exception as error:  # a malformed body: python-multipart's own errors
        state.close()
        upload.discard()
        raise UploadError(400, f"corps multipart illisible ({type(error).__name__})") from None
    state.close()
    if state.too_large:
        upload.discard()
        raise UploadError(413, f"fichier de plus de {max_bytes} octets (ALI_MAX_FILE_BYTES)")
    upload.sha256 = state.digest.hexdigest()
    return upload


class _State:
    """The parser's callbacks: where the current part's bytes go."""

    def __init__(self, upload: Upload, staging: Path, max_bytes: int):
        self.upload, self.staging, self.max_bytes = upload, staging, max_bytes
        self.digest = hashlib.sha256()
        self.too_large = False
        self._header_field = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._file: int | None = None
        self._value = bytearray()

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._header,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
                "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._headers, self._name, self._value = {}, None, bytearray()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header(self, data: bytes, start: int, end: int) -> None:
        key = self._header_field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _header_end(self) -> None:
        self._header_field = b""

    def _headers_done(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "fichier":
            if self.upload.path is not None:
                raise UploadError(400, "un seul fichier par dépôt")
            self.upload.client_name = params.get(b"filename", b"").decode("utf-8", "replace")
            self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.upload.path = self.staging / f".depot-{secrets.token_hex(8)}.part"
            self._file = os.open(self.upload.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        elif len(self.upload.fields) >= FIELDS:
            raise UploadError(400, "trop de champs dans le formulaire")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.too_large:
            return
        if self._file is None:
            self._value += data[start:end]
            if len(self._value) > FIELD_BYTES:
                raise UploadError(400, f"champ « {self._name} » trop long")
            return
        if self.upload.size + end - start > self.max_bytes:
            self.too_large = True
            self.close()
            return
        self.upload.size += end - start
        self.digest.update(data[start:end])
        view = memoryview(data)[start:end]
        while view:
            view = view[os.write(self._file, view):]

    def _end(self) -> None:
        if self._file is not None:
            os.fsync(self._file)
            self.close()
        elif self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None
