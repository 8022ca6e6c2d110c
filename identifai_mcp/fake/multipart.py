"""An incremental multipart/form-data parser that never holds a file part in memory.

Text fields are kept (up to FIELD_MAX bytes each); file parts go to a `FileSink` chunk by chunk,
which hashes them and keeps only the first HEAD_MAX bytes for sniffing. bytes.find does the
scanning, so a 1 GiB upload costs a few hundred C-level searches, not a Python loop per byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

FIELD_MAX = 64 * 1024
HEAD_MAX = 64 * 1024


class MultipartError(ValueError):
    """The body is not the multipart/form-data its Content-Type announced."""


@dataclass
class FileSink:
    """One uploaded file as the fake sees it: its size, SHA-256 and first bytes."""

    name: str
    filename: str
    content_type: str
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if len(self.head) < HEAD_MAX:
            self.head += data[: HEAD_MAX - len(self.head)]
        self._hash.update(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def boundary_of(content_type: str) -> bytes | None:
    """The boundary parameter of a multipart/form-data Content-Type, or None."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"').encode("latin-1")
    return None


def _disposition(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in value.split(";")[1:]:
        key, _, raw = item.strip().partition("=")
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace("%22", '"').replace("\\\\", "\\")
        out[key.strip().lower()] = raw
    return out


class MultipartParser:
    """Feed it body chunks with `feed`, then call `close`; read `fields` and `files`."""

    def __init__(self, boundary: bytes) -> None:
        # The CRLF before the first delimiter is optional; prepending one makes every delimiter alike.
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"  # preamble -> after_delimiter -> headers -> data -> ... -> done
        self._part: FileSink | bytearray | None = None
        self._part_name = ""
        self.fields: dict[str, str] = {}
        self.files: dict[str, FileSink] = {}

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def close(self) -> None:
        if self._state != "done":
            raise MultipartError("the multipart body ended before its closing delimiter")

    def _step(self) -> bool:
        """Advance as far as the buffer allows; False when more input is needed."""
        buf = self._buffer
        if self._state in ("preamble", "data"):
            at = buf.find(self._delimiter)
            if at < 0:
                keep = len(self._delimiter) - 1
                if len(buf) > keep:
                    self._emit(memoryview(buf)[: len(buf) - keep])
                    del buf[: len(buf) - keep]
                return False
            self._emit(memoryview(buf)[:at])
            del buf[: at + len(self._delimiter)]
            self._end_part()
            self._state = "after_delimiter"
            return True
        if self._state == "after_delimiter":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                self._state = "done"
                return False
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            del buf[: end + 2]  # transport padding after the delimiter is allowed
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > FIELD_MAX:
                    raise MultipartError("part headers too long")
                return False
            self._start_part(bytes(buf[:end]))
            del buf[: end + 4]
            self._state = "data"
            return True
        return False  # done: ignore the epilogue

    def _start_part(self, raw: bytes) -> None:
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        params = _disposition(headers.get("content-disposition", ""))
        self._part_name = params.get("name", "")
        if "filename" in params:
            sink = FileSink(self._part_name, params["filename"], headers.get("content-type", ""))
            self._part = sink
        else:
            self._part = bytearray()

    def _emit(self, data: memoryview) -> None:
        if isinstance(self._part, FileSink):
            self._part.write(data)
        elif isinstance(self._part, bytearray) and len(self._part) < FIELD_MAX:
            self._part += data[: FIELD_MAX - len(self._part)]

    def _end_part(self) -> None:
        part, self._part = self._part, None
        if isinstance(part, FileSink):
            self.files[part.name] = part  # as PHP does, the last of two same-named parts wins
        elif isinstance(part, bytearray) and self._part_name:
            self.fields[self._part_name] = part.decode("utf-8", "replace")
