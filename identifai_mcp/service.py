"""The product's use cases, shared by the MCP server and the CLI.

Each method takes plain arguments, does one thing end to end (policy checks, history, the API
client, the shared poller, the report) and returns a typed report or raises an IdentifaiError.
Nothing here knows about MCP or the terminal.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import anyio.to_thread

from identifai_mcp.errors import ApiUnreachable, FileRefused, IdentifaiError, InputError, NotFound
from identifai_mcp.files import check_video_file
from identifai_mcp.history import HistoryStore
from identifai_mcp.models import ClassifyOptions, Credits, Label, OverrideResult, VideoClassification
from identifai_mcp.redact import redact
from identifai_mcp.report import BatchReport, Report, batch_report, build_report
from identifai_mcp.settings import Settings
from identifai_mcp.urls import check_video_url

if TYPE_CHECKING:
    import httpx

    from identifai_mcp.client import IdentifaiClient
    from identifai_mcp.waiting import Poller

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
Detail = Literal["summary", "frames"]
# progress(value, total, message): absolute values that only increase.
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]

IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
HASH_RE = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_BATCH = 1000
# Per-key services kept in a shared HTTP deployment; the oldest is dropped past this.
MAX_KEYS = 256
# Progress scale: the upload takes the first part, waiting the rest, done is the total.
PROGRESS_TOTAL = 100.0
UPLOAD_SHARE = 40.0
_HASH_CHUNK = 1 << 20


def check_identifier(identifier: str) -> str:
    """A safe identifier (it becomes part of a URL path), or InputError saying what is wrong."""
    value = (identifier or "").strip()
    if not IDENTIFIER_RE.fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InputError(
            f"{shown!r} is not a valid identifAI identifier.",
            hint="Use the identifier returned when the video was submitted (64 hexadecimal characters).",
        )
    return value


def check_hash(value: str) -> str:
    text = (value or "").strip().lower()
    if not HASH_RE.fullmatch(text):
        raise InputError(
            "The hash must be the video's SHA-256: 64 hexadecimal characters.",
            hint="Pass the `hash` field of a result, or use the identifier instead.",
        )
    return text


def sha256_file(path: Path, identity: tuple[int, int] | None = None) -> str:
    """SHA-256 of the file at `path`. Raises FileRefused if it is no longer the file `identity` names."""
    # O_NONBLOCK: a FIFO swapped in since the check must not hang a worker thread for good.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(f"Refused: {path.name} cannot be read any more ({exc.strerror}).") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (identity is not None and (info.st_dev, info.st_ino) != identity):
            raise FileRefused(f"Refused: {path.name} changed after it was checked; nothing was uploaded.")
        digest = hashlib.sha256()
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def key_scope(api_key: str | None) -> str:
    """History scope of a key: a short digest, so the key itself is never stored."""
    if not api_key:
        return ""
    return hashlib.sha256(b"identifai-mcp-scope:" + api_key.encode()).hexdigest()[:24]


class _Progress:
    """Keeps reported progress monotonic across upload and wait phases."""

    def __init__(self, sink: ProgressFn | None) -> None:
        self._sink = sink
        self._last = -1.0

    async def __call__(self, value: float, message: str) -> None:
        if self._sink is None:
            return
        value = min(max(value, self._last + 0.01), PROGRESS_TOTAL)
        self._last = value
        try:
            await self._sink(round(value, 2), PROGRESS_TOTAL, message)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:  # a client that cannot take progress must not fail the call
            logger.debug("progress notification failed", exc_info=True)


class Service:
    """The use cases over one API key: its client (made on first use), poller and history scope."""

    def __init__(
        self,
        settings: Settings,
        make_client: Callable[[], IdentifaiClient],
        store: HistoryStore | None,
        api_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.frames_cache = settings.home / "cache"
        self.history: Any | None = store.scoped(key_scope(api_key or settings.key())) if store is not None else None
        self._make_client = make_client
        self._client: IdentifaiClient | None = None
        self._poller: Poller | None = None
        self._store = store
        self._per_key: dict[str, Service] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> AsyncIterator[Service]:
        """Open the history store for the lifetime of a server or a CLI command; close what was used."""
        from identifai_mcp.redact import register_secret

        if settings.key():
            register_secret(settings.key() or "")
        store = _open_history(settings)

        def make_client() -> IdentifaiClient:
            from identifai_mcp.client import IdentifaiClient

            return IdentifaiClient(settings, transport=transport)

        service = cls(settings, make_client, store)
        try:
            yield service
        finally:
            try:
                if service._client is not None:
                    await service._client.aclose()
            finally:
                if store is not None:
                    store.close()

    @property
    def client(self) -> IdentifaiClient:
        # Made on first use: the HTTP stack is not imported or set up before a tool needs it,
        # which keeps the server's cold start close to a bare MCP server's.
        if self._client is None:
            self._client = self._make_client()
        return self._client

    @property
    def poller(self) -> Poller:
        if self._poller is None:
            from identifai_mcp.waiting import Poller

            self._poller = Poller(
                self.client, interval=self.settings.poll_interval, interval_max=self.settings.poll_interval_max
            )
        return self._poller

    def for_key(self, api_key: str) -> Service:
        """The same service for another user's key: its own rate limits, poller and history scope."""
        if api_key == self.settings.key():
            return self
        from identifai_mcp.redact import register_secret

        # Every call, not only the first: the registry keeps the most recently used request keys.
        register_secret(api_key, transient=True)
        scope = key_scope(api_key)
        if scope not in self._per_key:
            if len(self._per_key) >= MAX_KEYS:
                self._per_key.pop(next(iter(self._per_key)))
            self._per_key[scope] = Service(self.settings, lambda: self.client.for_key(api_key), self._store, api_key)
        return self._per_key[scope]

    # -- classification -------------------------------------------------------------------

    async def classify_file(
        self,
        path: str,
        options: ClassifyOptions,
        *,
        wait: float,
        progress: ProgressFn | None = None,
        detail: Detail = "summary",
    ) -> Report:
        """Check, upload and wait for one local video; a done result for the same file is reused."""
        video = check_video_file(path, allowed_dirs=self.settings.allowed_dirs)
        report_progress = _Progress(progress)
        provenance = await self._provenance(video.path)

        file_hash = None
        if not options.no_cache and self.history is not None:
            await report_progress(1, "hashing the file to look for an earlier result")
            file_hash = await anyio.to_thread.run_sync(sha256_file, video.path, video.identity)
            reused = self._history_call("find_done", file_hash, options.cache_key())
            if reused is not None and reused.result:
                await report_progress(PROGRESS_TOTAL, "done (from history, nothing uploaded)")
                result = VideoClassification.model_validate(reused.result)
                return build_report(result, detail=detail, provenance=provenance, source="history", options=options)

        row = self._history_call(
            "begin", "file", str(video.path), video.name, options.model_dump(exclude_none=True),
            options.cache_key(), options.ref_id, hash=file_hash,
        )

        async def on_upload(sent: int, total: int) -> None:
            share = (sent / total) if total else 1.0
            await report_progress(2 + share * (UPLOAD_SHARE - 2), f"uploading {share:.0%} of {video.name}")

        # The checked file and no other: a path swapped since the check is refused, not uploaded.
        submission = await self._submit(row, lambda: self.client.submit_file(
            video.path, options, on_progress=on_upload, name=video.name, content_type=video.content_type,
            identity=video.identity,
        ))
        self._history_call("submitted", row, submission.identifier, submission.hash)
        await report_progress(UPLOAD_SHARE, "uploaded; queued at identifAI")
        return await self._report_after_submit(
            submission.identifier, wait=wait, progress=report_progress, detail=detail,
            provenance=provenance, options=options, hash_=submission.hash,
        )

    async def classify_url(
        self,
        url: str,
        options: ClassifyOptions,
        *,
        wait: float,
        progress: ProgressFn | None = None,
        detail: Detail = "summary",
    ) -> Report:
        """Submit a public URL for identifAI to download, and wait for the verdict."""
        checked = check_video_url(url)
        for warning in checked.warnings:
            logger.info("URL warning: %s", warning)
        report_progress = _Progress(progress)
        name = checked.url.rsplit("/", 1)[-1].split("?", 1)[0] or checked.url
        row = self._history_call(
            "begin", "url", checked.url, name, options.model_dump(exclude_none=True),
            options.cache_key(), options.ref_id,
        )
        await report_progress(1, "submitting the URL to identifAI")
        submission = await self._submit(row, lambda: self.client.submit_url(checked.url, options))
        self._history_call("submitted", row, submission.identifier, None)
        await report_progress(UPLOAD_SHARE, "submitted; identifAI is downloading the video")
        report = await self._report_after_submit(
            submission.identifier, wait=wait, progress=report_progress, detail=detail, options=options,
        )
        return _with_warnings(report, checked.warnings)

    async def get_report(
        self, identifier: str, *, wait: float = 0, detail: Detail = "summary", progress: ProgressFn | None = None
    ) -> Report:
        """The current report for one classification, waiting within `wait` seconds while pending."""
        identifier = check_identifier(identifier)
        known = self._history_call("get", identifier) is not None
        return await self._wait_and_report(
            identifier, wait=wait, progress=_Progress(progress), detail=detail, expect_exists=known
        )

    async def get_batch(self, identifiers: Sequence[str], *, detail: Detail = "summary") -> BatchReport:
        """Reports for many classifications; unknown identifiers are listed as missing."""
        if not identifiers:
            raise InputError("Give at least one identifier.")
        if len(identifiers) > MAX_BATCH:
            raise InputError(
                f"{len(identifiers)} identifiers given; at most {MAX_BATCH} per call.",
                hint="Split the list and call again for the rest.",
            )
        wanted = list(dict.fromkeys(check_identifier(i) for i in identifiers))
        results = await self.client.get_results(wanted)
        by_id = {r.identifier: r for r in results if r.identifier}
        reports = []
        for identifier in wanted:
            result = by_id.get(identifier)
            if result is not None:
                self._remember(result)
                reports.append(build_report(result, detail=detail))
        missing = [i for i in wanted if i not in by_id]
        return batch_report(reports, missing)

    async def override(
        self, classification: Label, *, identifier: str | None = None, hash: str | None = None
    ) -> OverrideResult:
        """Record the user's correction. identifAI keys overrides by the video's hash."""
        if (identifier is None) == (hash is None):
            raise InputError(
                "Give exactly one of identifier or hash.",
                hint="The identifier is what a classify call returned; the hash is the video's SHA-256.",
            )
        if classification not in ("human", "artificial"):
            raise InputError("classification must be 'human' or 'artificial'.")
        video_hash = check_hash(hash) if hash is not None else await self._hash_of(check_identifier(identifier or ""))
        result = await self.client.override(video_hash, classification)
        self._history_call("record_override", video_hash, classification)
        return result

    async def credits(self) -> Credits:
        return await self.client.get_credits()

    async def raw_result(self, identifier: str) -> dict[str, Any]:
        """The full result as last fetched: from history once done, else fetched (and stored)."""
        identifier = check_identifier(identifier)
        entry = self._history_call("get", identifier)
        if entry is not None and entry.status in ("done", "errored") and entry.result:
            return entry.result
        result = await self.client.get_result(identifier)
        self._remember(result)
        return result.model_dump(mode="json", exclude_none=False)

    def history_listing(self, **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
        if self.history is None:
            return [], None
        try:
            entries, cursor = self.history.list(**filters)
        except ValueError as exc:  # a bad filter or cursor is the caller's to fix
            raise InputError(str(exc)) from exc
        return [e.as_listing() for e in entries], cursor

    def recent_identifiers(self, prefix: str = "", limit: int = 50) -> list[str]:
        return self._history_call("recent_identifiers", prefix, limit) or []

    # -- local, offline -------------------------------------------------------------------

    async def inspect(self, path: str) -> Any:
        """C2PA and container facts of a local video: free, offline, no key."""
        from identifai_mcp.inspect import inspect_file

        video = check_video_file(path, allowed_dirs=self.settings.allowed_dirs)
        return await anyio.to_thread.run_sync(
            lambda: inspect_file(video.path, trust_anchors=self.settings.c2pa_trust_anchors)
        )

    async def extract_frames(
        self, path: str, *, count: int, method: str, out_dir: Path | None = None, scan_budget: float | None = None
    ) -> Any:
        """Evidence thumbnails, written to the frames cache (or `out_dir`); `scan_budget` caps a shot scan."""
        from identifai_mcp.frames import extract_frames

        video = check_video_file(path, allowed_dirs=self.settings.allowed_dirs)
        target = out_dir if out_dir is not None else self.frames_cache
        return await anyio.to_thread.run_sync(
            lambda: extract_frames(
                video.path, count=count, method=method, out_dir=target, scan_budget=scan_budget  # type: ignore[arg-type]
            )
        )

    def frame_file(self, file_hash: str, index: int) -> Path:
        from identifai_mcp.frames import frame_path

        return frame_path(self.frames_cache, check_hash(file_hash), index)

    # -- internals ------------------------------------------------------------------------

    async def _wait_and_report(
        self,
        identifier: str,
        *,
        wait: float,
        progress: _Progress,
        detail: Detail,
        provenance: Any = None,
        options: ClassifyOptions | None = None,
        expect_exists: bool = False,
        hash_: str | None = None,
    ) -> Report:
        start = anyio.current_time()

        async def on_update(result: VideoClassification | None, phase: str) -> None:
            spent = anyio.current_time() - start
            share = min(spent / wait, 1.0) if wait > 0 else 1.0
            value = UPLOAD_SHARE + share * (PROGRESS_TOTAL - UPLOAD_SHARE - 1)
            if phase in ("done", "errored"):
                value = PROGRESS_TOTAL
            await progress(value, _phase_message(phase, spent))

        # The budget bounds the polling; this bounds the whole wait, slow first answers and
        # retries included, so a tool call never outlives what its client will bear.
        with anyio.move_on_after(wait + self.settings.fetch_grace) as scope:
            result = await self.poller.wait(identifier, budget=wait, on_update=on_update, expect_exists=expect_exists)
        if scope.cancelled_caught:
            raise ApiUnreachable(
                f"identifAI did not answer about {identifier} within {wait + self.settings.fetch_grace:.0f} s.",
                hint="Nothing was lost: call get_result with this identifier again in a minute.",
            )
        if result is None:
            # Submitted, but identifAI does not list it yet: report it as pending, not as an error.
            result = VideoClassification(identifier=identifier, hash=hash_, status="new")
        elif result.identifier is None:
            result = result.model_copy(update={"identifier": identifier})
        if result.hash is None and hash_ is not None:
            result = result.model_copy(update={"hash": hash_})
        self._remember(result)
        return build_report(result, detail=detail, provenance=provenance, options=options,
                            wait_hint=self.settings.wait_seconds)

    async def _submit(self, row: int | None, send: Callable[[], Awaitable[_T]]) -> _T:
        """Send a submission; if it fails, its history row says why, so nothing is silently lost."""
        try:
            return await send()
        except IdentifaiError as exc:
            self._history_call("failed", row, redact(exc.describe()))
            raise
        except BaseException:
            self._history_call("failed", row, "interrupted before identifAI confirmed the submission")
            raise

    async def _report_after_submit(
        self,
        identifier: str,
        *,
        wait: float,
        progress: _Progress,
        detail: Detail,
        options: ClassifyOptions,
        provenance: Any = None,
        hash_: str | None = None,
    ) -> Report:
        """The report of a job identifAI just accepted, or, if checking on it fails, a pending one.

        The submission is paid for: a failed poll must not turn it into an error that loses its
        identifier, or the agent would submit (and pay) again.
        """
        try:
            return await self._wait_and_report(
                identifier, wait=wait, progress=progress, detail=detail, provenance=provenance,
                options=options, expect_exists=True, hash_=hash_,
            )
        except IdentifaiError as exc:
            reason = redact(exc.describe())
            logger.warning("checking %s after submitting it failed: %s", identifier, reason)
            result = VideoClassification(identifier=identifier, hash=hash_, status="new")
            report = build_report(result, detail=detail, provenance=provenance, options=options,
                                  wait_hint=self.settings.wait_seconds)
            return _with_warnings(report, [f"identifAI accepted the video, but checking its result failed: {reason}"])

    async def _hash_of(self, identifier: str) -> str:
        stored = self._history_call("hash_for", identifier)
        if stored:
            return stored
        result = await self.client.get_result(identifier)
        self._remember(result)
        if not result.hash:
            raise NotFound(
                f"identifAI has no hash for {identifier} yet.",
                hint="Wait until the classification is done, then override again.",
            )
        return result.hash

    async def _provenance(self, path: Path) -> Any:
        """Local provenance for the report; a failure here never blocks the classification."""
        try:
            return await self.inspect(str(path))
        except IdentifaiError as exc:
            logger.info("local inspection skipped: %s", exc.describe())
        except Exception as exc:
            # The traceback only at debug level: the CLI prints warnings on stderr, and only
            # --debug may show a traceback there.
            logger.warning("local inspection failed (%s); see --debug for details", type(exc).__name__)
            logger.debug("local inspection failed", exc_info=True)
        return None

    def _remember(self, result: VideoClassification) -> None:
        if not result.identifier:
            return
        verdict = result.verdict
        self._history_call(
            "save_result",
            result.identifier,
            result.model_dump(mode="json"),
            status=result.state,
            classification=(result.force_classification or (verdict.classification if verdict else None)),
            confidence=verdict.confidence if verdict else None,
            hash=result.hash,
            name=result.name,
            ref_id=result.ref_id,
        )

    def _history_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """History is a convenience: its failure is logged, never allowed to cost the verdict."""
        if self.history is None:
            return None
        try:
            return getattr(self.history, method)(*args, **kwargs)
        except Exception as exc:
            logger.warning("history %s failed: %s", method, redact(str(exc)))
            return None


def _with_warnings(report: Report, warnings: Sequence[str]) -> Report:
    if not warnings:
        return report
    notes = " ".join(f"Note: {w}" for w in warnings)
    return report.model_copy(
        update={"warnings": [*report.warnings, *warnings], "summary": f"{report.summary}\n{notes}"}
    )


def _phase_message(phase: str, spent: float) -> str:
    words = {
        "queued": "queued at identifAI",
        "analysing": "identifAI is analysing the frames",
        "done": "done",
        "errored": "identifAI reported an error",
    }
    text = words.get(phase, phase)
    return text if phase in ("done", "errored") else f"{text} ({spent:.0f} s)"


def _open_history(settings: Settings) -> HistoryStore | None:
    try:
        return HistoryStore.open(settings.home)
    except Exception as exc:
        logger.warning("history disabled: %s", redact(str(exc)))
        return None
