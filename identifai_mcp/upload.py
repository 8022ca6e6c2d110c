"""Streaming a video to identifAI: a multipart body read from disk in constant memory and hashed
(SHA-256) in the same pass, in a reader thread that stays a few chunks ahead of the socket.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import mimetypes
import os
import queue
import re
import secrets
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import anyio
import httpx

from identifai_mcp.errors import FileRefused, InputError

# on_progress(bytes sent, total bytes); may be sync or async.
Progress = Callable[[int, int], Awaitable[None] | None]

UPLOAD_CHUNK = 1 << 20
READ_AHEAD = 4  # chunks read and hashed ahead of the one being sent: absorbs scheduling jitter
_VIDEO_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/x-m4v", ".mov": "video/quicktime", ".qt": "video/quicktime",
    ".mkv": "video/x-matroska", ".webm": "video/webm", ".avi": "video/x-msvideo",
    ".wmv": "video/x-ms-wmv", ".flv": "video/x-flv", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
    ".ts": "video/mp2t", ".mts": "video/mp2t", ".m2ts": "video/mp2t", ".3gp": "video/3gpp",
    ".3g2": "video/3gpp2", ".ogv": "video/ogg", ".ogg": "video/ogg",
}  # fmt: skip
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
_FORM_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


class Upload:
    """The multipart body of one upload: the file read once per attempt, hashed as it is sent."""

    def __init__(
        self,
        file: IO[bytes],
        name: str,
        content_type: str,
        fields: dict[str, str],
        on_progress: Progress | None,
        timeout: httpx.Timeout,
    ) -> None:
        self._file, self._on_progress, self._timeout = file, on_progress, timeout
        self.size = os.fstat(file.fileno()).st_size
        boundary = secrets.token_hex(16)
        head, _ = multipart(fields.items(), boundary=boundary, close=False)
        self._head = (
            head
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="video"; {_form_param("filename", name)}\r\n'
                f"Content-Type: {content_type if content_type.startswith('video/') else 'video/mp4'}\r\n\r\n"
            ).encode()
        )
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._content_type = f"multipart/form-data; boundary={boundary}"
        self._reader: _ReadAhead | None = None
        self._sent = 0

    def request(self) -> dict[str, Any]:
        """A fresh body for one attempt: from byte 0, with a new hash."""
        self.close()
        self._file.seek(0)
        self._sent = 0
        length = len(self._head) + self.size + len(self._tail)
        return {
            "content": self._body(),
            "headers": {"Content-Type": self._content_type, "Content-Length": str(length)},
            "timeout": self._timeout,
        }

    async def _body(self) -> AsyncIterator[bytes]:
        yield self._head
        self._reader = reader = _ReadAhead(self._file, self.size)
        while self._sent < self.size:
            try:
                chunk = await reader.next()
            except OSError as exc:
                raise InputError(f"Reading the file failed during the upload: {exc.strerror or exc}.") from exc
            if not chunk:
                raise InputError("The file got shorter while it was being uploaded.")
            yield chunk
            self._sent += len(chunk)
            await self._progress()
        if self.size == 0:
            await self._progress()
        yield self._tail

    def close(self) -> None:
        """Stop the reader of an earlier attempt before anything else touches the file."""
        if self._reader is not None:
            self._reader.close()

    async def _progress(self) -> None:
        if self._on_progress is not None:
            outcome = self._on_progress(self._sent, self.size)
            if inspect.isawaitable(outcome):
                await outcome

    async def finish(self) -> str:
        """The SHA-256 of the file; reads what the server did not ask for (it never should)."""
        self.close()
        if self._reader is None or self._sent < self.size:
            self._file.seek(0)
            return (await anyio.to_thread.run_sync(_sha256, self._file)).hexdigest()
        return self._reader.hash.hexdigest()


class _ReadAhead:
    """Reads and hashes the file in a thread of its own, READ_AHEAD chunks ahead of the network.

    Reading and hashing then overlap with sending instead of taking turns with it; hashlib and
    file reads release the GIL. Memory stays at a few chunks whatever the file size.
    """

    def __init__(self, file: IO[bytes], size: int) -> None:
        self.hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(file, size), name="identifai-upload", daemon=True)
        self._thread.start()

    def _run(self, file: IO[bytes], size: int) -> None:
        try:
            while size > 0 and not self._stop.is_set():
                data = file.read(min(UPLOAD_CHUNK, size))
                self.hash.update(data)
                self._put(data)
                if not data:
                    return
                size -= len(data)
        except BaseException as exc:  # handed to the event loop, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _get(self) -> bytes | BaseException | None:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive():
                    with contextlib.suppress(queue.Empty):
                        return self._queue.get_nowait()  # put just before the thread ended
                    return None

    async def next(self) -> bytes | None:
        try:
            item = self._queue.get_nowait()  # usually ready: no thread hop
        except queue.Empty:
            item = await anyio.to_thread.run_sync(self._get)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # unblock a reader waiting for room, so the join is quick
                self._queue.get_nowait()
        self._thread.join()


def _sha256(file: IO[bytes]) -> hashlib._Hash:
    digest = hashlib.sha256()
    while data := file.read(UPLOAD_CHUNK):
        digest.update(data)
    return digest


def open_regular(path: Path, identity: tuple[int, int] | None) -> IO[bytes]:
    # O_NONBLOCK: opening a FIFO must fail fast, not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    info = os.fstat(fd)
    refusal = None
    if not stat.S_ISREG(info.st_mode):
        refusal = f"{path.name} is not a regular file; nothing was uploaded."
    elif identity is not None and (info.st_dev, info.st_ino) != tuple(identity):
        refusal = f"{path.name} changed after it was checked; nothing was uploaded."
    if refusal:
        os.close(fd)
        raise FileRefused(refusal)
    return os.fdopen(fd, "rb")


def video_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    guessed = _VIDEO_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or ""
    return guessed if guessed.startswith("video/") else "video/mp4"


def _form_param(key: str, value: str) -> str:
    return f'{key}="{_FORM_ESCAPE_RE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)}"'


def multipart(fields: Any, *, boundary: str | None = None, close: bool = True) -> tuple[bytes, str]:
    """Text fields as multipart/form-data (what the docs' curl -F sends), and its Content-Type."""
    boundary = boundary or secrets.token_hex(16)
    parts = [
        f"--{boundary}\r\nContent-Disposition: form-data; {_form_param('name', name)}\r\n\r\n".encode()
        + str(value).encode()
        + b"\r\n"
        for name, value in fields
    ]
    if close:
        parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


