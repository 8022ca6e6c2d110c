"""IdentifaiClient: the identifAI REST API over httpx. Knows HTTP and identifAI, nothing of MCP.

Every public method returns a model or raises an `IdentifaiError`; what identifAI's answers
mean (statuses, transport failures, unreadable bodies) is decided in `identifai_mcp.responses`
and nowhere else. GETs are retried; a POST is retried only when it provably never reached
identifAI (see `_post`).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import anyio
import httpx
from pydantic import BaseModel, ConfigDict

from identifai_mcp import __version__
from identifai_mcp.errors import (
    ApiError,
    ApiUnreachable,
    ConfigError,
    InputError,
    MalformedResponse,
    MissingApiKey,
    NotFound,
    RateLimited,
    ServerError,
    UploadInterrupted,
)
from identifai_mcp.models import ClassifyOptions, Credits, OverrideResult, Submission, VideoClassification
from identifai_mcp.ratelimit import RateLimiter
from identifai_mcp.responses import (
    parse_result,
    parse_results,
    parse_submission,
    parser,
    status_error,
    unreachable,
)
from identifai_mcp.settings import Settings
from identifai_mcp.upload import Progress, Upload, multipart, open_regular, video_type

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # identifiers[] per batch GET (R-VALL: "Maximum array length: 100")
BACKOFF_BASE = 0.25  # retry n sleeps uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**n)): full jitter
BACKOFF_MAX = 8.0
RATE_LIMIT_MIN_PAUSE = 0.5  # after a 429 that names no Retry-After
RETRY_AFTER_MAX = 60.0  # a longer Retry-After is handed to the caller, not slept through
# identifAI answers an upload only after storing the whole file, which can outlast read_timeout.
UPLOAD_READ_TIMEOUT = 120.0
LIMITER_CACHE_SIZE = 256

T = TypeVar("T")

_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
# Limiters are cached under a salted digest, so no string derived plainly from a key is kept.
_KEY_SALT = secrets.token_bytes(16)


class FileSubmission(BaseModel):
    """An accepted upload: the job's identifier and the facts about the bytes that were sent."""

    model_config = ConfigDict(frozen=True)

    identifier: str
    hash: str  # SHA-256 hex of the file, computed while uploading it
    size: int
    name: str


class _Shared:
    """What every client made by `for_key` shares with its parent: the pool and the limiters."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            base_url=settings.base_url,
            # Without Accept: application/json the submit endpoints answer text/plain.
            headers={"Accept": "application/json", "User-Agent": f"identifai-mcp/{__version__}"},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=None),
            transport=transport,
        )
        self._limiters: OrderedDict[str, RateLimiter] = OrderedDict()

    def limiter(self, key: str | None) -> RateLimiter:
        digest = hashlib.blake2b((key or "").encode(), key=_KEY_SALT, digest_size=16).hexdigest()
        limiter = self._limiters.pop(digest, None) or RateLimiter.from_settings(self.settings.rate_limits)
        self._limiters[digest] = limiter
        while len(self._limiters) > LIMITER_CACHE_SIZE:
            self._limiters.popitem(last=False)
        return limiter


class IdentifaiClient:
    """Async client for the identifAI REST API. One per process (or per key), used as `async with`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        self._bind(_Shared(settings, transport), settings.key() if api_key is None else api_key, owner=True)

    def _bind(self, shared: _Shared, api_key: str | None, *, owner: bool) -> None:
        self._shared, self._settings, self._owner = shared, shared.settings, owner
        self._api_key = (api_key or "").strip() or None
        self._limiter = shared.limiter(self._api_key)

    def for_key(self, api_key: str) -> IdentifaiClient:
        """A client for another key (HTTP mode): same connection pool, that key's own rate limits."""
        clone = object.__new__(IdentifaiClient)
        clone._bind(self._shared, api_key, owner=False)
        return clone

    async def __aenter__(self) -> IdentifaiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; a client made by `for_key` leaves it to its parent."""
        if self._owner:
            await self._shared.http.aclose()

    # -- endpoints -----------------------------------------------------------------------------

    async def submit_file(
        self,
        path: Path,
        options: ClassifyOptions,
        *,
        on_progress: Progress | None = None,
        name: str | None = None,
        content_type: str | None = None,
        identity: tuple[int, int] | None = None,
    ) -> FileSubmission:
        """Stream a local video to POST /api/classification_video, hashing it on the way.

        `name` and `content_type` go in the part header (default: the basename, and a video/* type
        guessed from it). `identity`, the (st_dev, st_ino) of the file a caller checked, makes the
        upload refuse whatever else may have taken its place at `path` since.

        Raises: InputError (FileRefused) if the file cannot be read or is not the one checked,
        UploadInterrupted if the connection failed once the upload had started, ApiError for an
        error status.
        """
        path = Path(path)
        file = open_regular(path, identity)
        name = name or path.name
        with file:
            kind = content_type or video_type(name)
            upload = Upload(file, name, kind, options.form(), on_progress, self._upload_timeout())
            try:
                submission = await self._post(
                    "/api/classification_video", parse_submission, upload.request, interrupted=UploadInterrupted
                )
                digest = await upload.finish()
            finally:
                upload.close()
        return FileSubmission(identifier=submission.identifier, hash=digest, size=upload.size, name=name)

    async def submit_url(self, url: str, options: ClassifyOptions) -> Submission:
        """Ask identifAI to download and classify a video (POST /api/video_fromurl, field file_url)."""
        body, content_type = multipart([("file_url", url), *options.form().items()])

        def request() -> dict[str, Any]:
            return {"content": body, "headers": {"Content-Type": content_type}}

        return await self._post("/api/video_fromurl", parse_submission, request, interrupted=UploadInterrupted)

    async def get_result(self, identifier: str) -> VideoClassification:
        """The classification as it stands now (pending, done or errored). Raises NotFound."""
        identifier = _check_identifier(identifier)
        try:
            return await self._get(f"/api/classification_video/{quote(identifier, safe='')}", parse_result)
        except NotFound as exc:
            raise NotFound(f"identifAI has no classification {identifier!r}: {exc.message}", status=404) from exc

    async def get_results(self, identifiers: Sequence[str]) -> list[VideoClassification]:
        """Many classifications, BATCH_SIZE per call, calls run concurrently; unknown ones are absent."""
        if isinstance(identifiers, str):
            identifiers = [identifiers]  # one identifier, not its characters
        unique = list(dict.fromkeys(_check_identifier(i) for i in identifiers))
        chunks = [unique[i : i + BATCH_SIZE] for i in range(0, len(unique), BATCH_SIZE)]
        found: list[list[VideoClassification]] = [[] for _ in chunks]
        failures: list[Exception] = []

        async def fetch(index: int, chunk: list[str]) -> None:
            # Laravel reads identifiers[]=a&identifiers[]=b; the brackets are sent as they are.
            query = "&".join(f"identifiers[]={quote(i, safe='')}" for i in chunk)
            try:
                found[index] = await self._get(f"/api/classifications_video?{query}", parse_results)
            except Exception as exc:
                failures.append(exc)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for index, chunk in enumerate(chunks):
                tg.start_soon(fetch, index, chunk)
        if failures:
            raise failures[0]
        return [result for chunk in found for result in chunk]

    async def override(self, hash: str, classification: Literal["human", "artificial"]) -> OverrideResult:
        """Record the correct label for every upload of this file. Takes the hash, not the identifier."""
        hash = _check_identifier(hash)

        def request() -> dict[str, Any]:
            return {"json": {"classification": classification}}

        path = f"/api/classification_video/{quote(hash, safe='')}/override"
        return await self._post(path, parser(OverrideResult), request, interrupted=ApiUnreachable)

    async def get_credits(self) -> Credits:
        """Available and spent credits of this key's account."""
        return await self._get("/api/user/credits", parser(Credits))

    # -- transport -----------------------------------------------------------------------------

    def _upload_timeout(self) -> httpx.Timeout:
        # A write that stalls is a dead connection; the answer comes only after the file is stored.
        read = max(self._settings.read_timeout, UPLOAD_READ_TIMEOUT)
        return httpx.Timeout(read, connect=self._settings.connect_timeout, write=self._settings.read_timeout, pool=None)

    def _key(self) -> str:
        if not self._api_key:
            raise MissingApiKey()
        if not _HEADER_SAFE.fullmatch(self._api_key):
            # httpx would echo the whole value in its error; say what is wrong without it.
            raise ConfigError(
                "The identifAI API key contains characters that cannot be sent in an HTTP header.",
                hint="Copy the key again from the identifAI dashboard, without spaces or line breaks.",
            )
        return self._api_key

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Api-Key": self._key(), **kwargs.pop("headers", {})}
        slot = await self._limiter.acquire(method)

        async def trace(event: str, info: object) -> None:
            # identifAI counts a request when it arrives, not when we were allowed to send it.
            if event.endswith("send_request_headers.complete"):
                slot.sent()

        started = time.perf_counter()
        log_path = path.partition("?")[0]
        try:
            response = await self._shared.http.request(
                method, path, headers=headers, extensions={"trace": trace}, **kwargs
            )
        except httpx.HTTPError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s failed after %.0f ms: %s", method, log_path, elapsed, type(exc).__name__)
            raise
        finally:
            slot.done()
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %d in %.0f ms", method, log_path, response.status_code, elapsed)
        return response

    async def _get(self, path: str, parse: Callable[[httpx.Response], T]) -> T:
        """GET with retries: 429 (after Retry-After), 5xx, transport errors and unreadable bodies."""
        retries = self._settings.max_retries
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await self._send("GET", path)
            except httpx.TransportError as exc:
                if last:
                    raise unreachable(exc) from exc
                await anyio.sleep(_backoff(attempt))
                continue
            if response.is_success:
                try:
                    return parse(response)
                except MalformedResponse:
                    if last:
                        raise
                    await anyio.sleep(_backoff(attempt))
                    continue
            error = status_error(response)
            if last or not isinstance(error, (RateLimited, ServerError)):
                raise error
            await self._pause(error, "GET", attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def _post(
        self,
        path: str,
        parse: Callable[[httpx.Response], T],
        request: Callable[[], dict[str, Any]],
        *,
        interrupted: type[ApiUnreachable],
    ) -> T:
        """POST, retried only while identifAI provably never saw it.

        A lost answer after a complete upload would be charged twice, so once bytes may have left
        only a 429 (refused before processing) is retried. `request()` builds a fresh body each time.
        """
        retries = self._settings.max_retries
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await self._send("POST", path, **request())
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise unreachable(exc) from exc
                await anyio.sleep(_backoff(attempt))
                continue
            except httpx.TransportError as exc:
                raise interrupted(
                    f"The connection to identifAI failed during the request ({type(exc).__name__}); "
                    "it may or may not have been received."
                ) from exc
            if response.is_success:
                return parse(response)
            error = status_error(response)
            if last or not isinstance(error, RateLimited):
                raise error
            await self._pause(error, "POST", attempt)
        raise AssertionError("unreachable")

    async def _pause(self, error: ApiError, kind: str, attempt: int) -> None:
        if isinstance(error, RateLimited):
            wait = error.retry_after
            if wait is not None and wait > RETRY_AFTER_MAX:
                raise error
            # The key as a whole is throttled: hold back every caller of this limiter, not just us.
            self._limiter.defer(kind, wait if wait is not None else max(RATE_LIMIT_MIN_PAUSE, _backoff(attempt)))
        else:
            await anyio.sleep(_backoff(attempt))


def _check_identifier(value: str) -> str:
    value = str(value).strip()
    if not value or value in {".", ".."} or len(value) > 256:
        raise InputError(f"{value!r} is not an identifAI identifier or hash.")
    return value


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))
