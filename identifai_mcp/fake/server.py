"""FakeIdentifai: the documented identifAI routes, statuses and bodies as an ASGI app."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
import secrets
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from identifai_mcp.fake import results, wire
from identifai_mcp.fake.multipart import FileSink, MultipartError, MultipartParser, boundary_of
from identifai_mcp.fake.state import FAULTS, Account, FakeConfig, FakeRequest, Fault, Job, outcome_from, url_hash

logger = logging.getLogger("identifai_mcp.fake")

_SINGLE = re.compile(r"^/api/classification_video/([^/]+)$")
_OVERRIDE = re.compile(r"^/api/classification_video/([^/]+)/override$")


class FakeIdentifai:
    """A faithful in-process identifAI. Call it as an ASGI app; inspect and steer it from tests."""

    def __init__(self, **config: Any) -> None:
        self._lock = threading.RLock()
        self.base_url = ""
        self.reset(**config)

    # -- steering, from tests ------------------------------------------------------------------

    def reset(self, **config: Any) -> None:
        """Forget every job, request, fault and outcome; start again from `config`."""
        with self._lock:
            self.config = FakeConfig(**config)
            self._jobs: dict[str, Job] = {}
            self._cache: dict[tuple[Any, ...], Job] = {}
            self._accounts: dict[str, Account] = {}
            self._overrides: dict[tuple[str, str], str] = {}
            self._outcomes: dict[str, results.Outcome] = {}
            self._faults: list[Fault] = []
            self._windows: dict[tuple[str, str], list[deque[float]]] = {}
            self._requests: list[FakeRequest] = []
            self.throttled = 0
            self._generation = getattr(self, "_generation", 0) + 1

    def configure(self, **changes: Any) -> None:
        """Change knobs, keeping jobs and history."""
        with self._lock:
            self.config = dataclasses.replace(self.config, **changes)

    def inject(
        self,
        fault: str,
        *,
        times: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
        retry_after: float | str | None = None,
        delay: float = 1.0,
        after: bool = False,
    ) -> None:
        """Make the next `times` matching requests fail with `fault` (one of FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
        with self._lock:
            self._faults.append(Fault(fault, times, path_prefix, method and method.upper(), retry_after, delay, after))

    def set_outcome(
        self,
        target: str,
        classification: str | None = None,
        *,
        errored: str | None = None,
        c2pa: bool = False,
        nsfw: bool | None = None,
    ) -> None:
        """Decide the result for a file hash (64 hex) or a submitted URL, before it is submitted."""
        key = target.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", target) else url_hash(target)
        with self._lock:
            self._outcomes[key] = results.Outcome(classification, errored, c2pa, nsfw)

    def finish(self, identifier: str | None = None) -> None:
        """Let one job (or all) answer done/errored from the next poll on."""
        with self._lock:
            for job in self._jobs.values():
                if identifier in (None, job.facts.identifier):
                    job.finished = True

    def set_credits(self, credits: float, key: str | None = None) -> None:
        with self._lock:
            self._account(key or self.config.keys[0]).credits = credits

    def account(self, key: str | None = None) -> tuple[float, float]:
        """(available, spent) credits of a key."""
        with self._lock:
            acc = self._account(key or self.config.keys[0])
            return acc.credits, acc.spent

    @property
    def requests(self) -> list[FakeRequest]:
        with self._lock:
            return list(self._requests)

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[FakeRequest]:
        return [r for r in self.requests if (method is None or r.method == method) and r.path.startswith(path_prefix)]

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def peak(self, kind: str, period: float) -> int:
        """Most rate-limited requests of `kind` (GET or POST) one key made within `period` seconds."""
        by_key: dict[str, list[float]] = {}
        for r in self.requests:
            if r.counted and (r.method == "GET") == (kind.upper() == "GET"):
                by_key.setdefault(r.headers.get("x-api-key", ""), []).append(r.at)
        best = 0
        for times in by_key.values():
            times.sort()
            start = 0
            for end, t in enumerate(times):
                while t - times[start] >= period:
                    start += 1
                best = max(best, end - start + 1)
        return best

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        record = FakeRequest(
            scope["method"],
            scope["path"],
            list(request.query_params.multi_items()),
            dict(request.headers),
            time.monotonic(),
            self._generation,
        )
        fault = self._take_fault(record)
        try:
            if fault is not None and not (fault.after or fault.kind in ("slow", "truncated", "cut")):
                async for _ in request.stream():  # the whole request arrives before anything answers
                    pass
                record.fault = fault.kind
                await self._fail(fault, None, scope, receive, send, record)
                return
            response = await self._route(request, record)
        except ClientDisconnect:
            record.status = 499  # nginx's word for "the client went away before the answer"
            self._log(record)
            return
        record.status = response.status_code
        if fault is not None:
            record.fault = fault.kind
            await self._fail(fault, response, scope, receive, send, record)
        else:
            self._log(record)  # before answering: a test may look as soon as it has the answer
            await response(scope, receive, send)

    def _log(self, record: FakeRequest) -> None:
        with self._lock:
            if record.generation == self._generation:  # not a straggler from before reset()
                self._requests.append(record)
        logger.info(
            "%s %s -> %s%s", record.method, record.path, record.status, f" [{record.fault}]" if record.fault else ""
        )

    def _take_fault(self, record: FakeRequest) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.times > 0
                    and (fault.method is None or fault.method == record.method)
                    and record.path.startswith(fault.path_prefix or "")
                ):
                    fault.times -= 1
                    return fault
        return None

    async def _fail(
        self, fault: Fault, response: Response | None, scope: Any, receive: Any, send: Any, record: FakeRequest
    ) -> None:
        kind = fault.kind
        if kind == "reset":
            self._log(record)
            await wire.abort(send)
            return
        if kind in ("slow", "truncated", "cut") and response is not None:
            self._log(record)
            body = bytes(response.body)
            if kind == "slow":
                await asyncio.sleep(fault.delay)
                await response(scope, receive, send)
                return
            if kind == "truncated":
                cut = Response(body[: len(body) // 2], response.status_code, media_type=response.media_type)
                await cut(scope, receive, send)
                return
            start = {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
            await send(start)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            await wire.abort(send)
            return
        if kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            failure = wire.error(429, "Too Many Attempts.", "message", headers)
        elif kind == "html-200":
            failure = Response(wire.HTML_PAGE.format(title="Maintenance"), 200, media_type="text/html")
        elif kind == "html-502":
            failure = Response(wire.HTML_PAGE.format(title="502 Bad Gateway"), 502, media_type="text/html")
        else:
            words = {"500": "Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}[kind]
            failure = wire.error(int(kind), words, "message")
        record.status = failure.status_code
        self._log(record)
        await failure(scope, receive, send)

    # -- routes --------------------------------------------------------------------------------

    async def _route(self, request: Request, record: FakeRequest) -> Response:
        method, path = record.method, record.path
        single, override = _SINGLE.match(path), _OVERRIDE.match(path)
        routes = {
            "/api/classification_video": "POST",
            "/api/video_fromurl": "POST",
            "/api/classifications_video": "GET",
            "/api/user/credits": "GET",
        }
        allowed = routes.get(path) or ("GET" if single else "POST" if override else None)
        if allowed is None or allowed != method:
            async for _ in request.stream():
                pass
            if allowed is None:
                return wire.error(404, f"The route {path.lstrip('/')} could not be found.", "message")
            return wire.error(405, f"The {method} method is not supported for route {path.lstrip('/')}.", "message")
        # Laravel authenticates and throttles on arrival; PHP has read the whole body by then.
        key = record.headers.get("x-api-key", "")
        refusal = self._authorise(key) or self._throttle(key, method, record)
        if path == "/api/classification_video":
            return await self._submit_file(request, record, key, refusal)
        if path == "/api/video_fromurl":
            return await self._submit_url(request, record, key, refusal)
        if override:
            return await self._override(request, record, key, override.group(1), refusal)
        if refusal is not None:
            return refusal
        if single:
            return self._get_one(key, single.group(1))
        if path == "/api/classifications_video":
            return self._get_many(key, record.query)
        credits, spent = self.account(key)
        return JSONResponse({"available_credits": wire.num(credits), "total_spent": wire.num(spent)})

    def _authorise(self, key: str) -> Response | None:
        if key and key == self.config.forbidden_key:
            return wire.error(403, "Forbidden")
        if not key or key not in self.config.keys:
            return wire.error(401, "Unauthorized")
        return None

    def _throttle(self, key: str, method: str, record: FakeRequest) -> Response | None:
        limits = self.config.rate_limits
        kind = "GET" if method == "GET" else "POST"
        if not limits or kind not in limits:
            return None
        now = record.at
        with self._lock:
            windows = self._windows.setdefault((key, kind), [deque() for _ in limits[kind]])
            wait = 0.0
            for (limit, period), sent in zip(limits[kind], windows, strict=True):
                while sent and sent[0] <= now - period:
                    sent.popleft()
                if len(sent) >= limit:
                    wait = max(wait, sent[0] + period - now)
            if wait > 0:
                self.throttled += 1
                headers = {"X-RateLimit-Remaining": "0"}
                if self.config.retry_after_header:
                    headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return wire.error(429, "Too Many Attempts.", "message", headers)
            for sent in windows:
                sent.append(now)
            record.counted = True
        return None

    async def _read_form(self, request: Request, record: FakeRequest) -> tuple[dict[str, str], dict[str, FileSink]]:
        boundary = boundary_of(request.headers.get("content-type", ""))
        parser = MultipartParser(boundary) if boundary else None
        async for chunk in request.stream():
            if parser is not None and chunk:
                try:
                    parser.feed(chunk)
                except MultipartError:
                    parser = None  # PHP would see no fields at all
        try:
            if parser is None:
                return {}, {}
            parser.close()
        except MultipartError:
            return {}, {}
        record.form, record.file = dict(parser.fields), parser.files.get("video")
        return parser.fields, parser.files

    async def _submit_file(self, request: Request, record: FakeRequest, key: str, refusal: Response | None) -> Response:
        form, files = await self._read_form(request, record)
        if refusal is not None:
            return refusal
        options, errors = wire.validate_options(form)
        video = files.get("video")
        if video is None:
            errors = {"video": ["The video field is required."], **errors}
        if errors:
            return wire.fields(400, errors)
        assert video is not None
        if video.size > self.config.max_video_bytes:
            return wire.error(
                400,
                f"The uploaded file exceeds the maximum allowed size of {wire.size_text(self.config.max_video_bytes)}.",
            )
        if not video.content_type.lower().startswith("video/") or wire.not_video(bytes(video.head)):
            return wire.error(400, wire.UNSUPPORTED)
        markers = f"{video.filename} {bytes(video.head).decode('latin-1')}"
        return self._create(
            request, record, key, video.sha256, video.filename or "video.mp4", form, options, markers, "file"
        )

    async def _submit_url(self, request: Request, record: FakeRequest, key: str, refusal: Response | None) -> Response:
        form, _ = await self._read_form(request, record)
        if refusal is not None:
            return refusal
        options, errors = wire.validate_options(form)
        url = form.get("file_url", "").strip()
        if not url:
            errors = {"file_url": ["The file url field is required."], **errors}
        elif not wire.is_url(url):
            errors = {"file_url": ["The file url field must be a valid URL."], **errors}
        if errors:
            return wire.fields(400, errors)
        name = urlsplit(url).path.rsplit("/", 1)[-1] or "video.mp4"
        return self._create(request, record, key, url_hash(url), name, form, options, url, "url")

    def _create(
        self,
        request: Request,
        record: FakeRequest,
        key: str,
        digest: str,
        name: str,
        form: dict[str, str],
        options: dict[str, Any],
        markers: str,
        source: str,
    ) -> Response:
        cost = wire.COSTS[options["frames"]] + (1 if options.get("with_audio") else 0)
        cache_key = (key, digest, tuple((k, options.get(k)) for k in wire.ANALYSIS_OPTIONS))
        with self._lock:
            job = None if options.get("no_cache") else self._cache.get(cache_key)
            if job is None or (job.facts.outcome.errored and self._status(job) != "new"):
                account = self._account(key)
                if account.credits < cost:
                    return wire.error(400, wire.NO_CREDITS)
                account.credits -= cost
                account.spent += cost
                identifier = digest if self.config.shape == "old" else secrets.token_hex(32)
                outcome = self._outcomes.get(digest) or outcome_from(markers.lower(), source)
                facts = results.JobFacts(identifier, digest, name, form.get("ref_id") or None, options, outcome)
                job = Job(facts, key, time.monotonic(), source)
                self._jobs[identifier] = job
                self._cache[cache_key] = job
            record.identifier = job.facts.identifier
        if wire.wants_json(request.headers.get("accept", "")):
            return JSONResponse({"identifier": job.facts.identifier})
        return PlainTextResponse(job.facts.identifier)

    def _status(self, job: Job) -> str:
        """new, done or errored, as of the polls counted so far."""
        cfg = self.config
        seen = job.polls - cfg.hidden_polls
        ready = (
            job.finished
            or seen > cfg.polls_until_done
            or (cfg.seconds_until_done is not None and time.monotonic() - job.created >= cfg.seconds_until_done)
        )
        if not ready:
            return "new"
        return "errored" if job.facts.outcome.errored else "done"

    def _poll(self, key: str, identifier: str) -> dict[str, Any] | None:
        """Count one poll of a job and render it; None while the service does not know it."""
        with self._lock:
            job = self._jobs.get(identifier)
            if job is None or job.key != key:
                return None
            job.polls += 1
            if job.polls <= self.config.hidden_polls:
                return None
            status = self._status(job)
            if status == "new":
                body = results.pending(job.facts)
            elif status == "errored":
                body = results.errored(job.facts, job.facts.outcome.errored or "")
            else:
                job.result = job.result or results.done(job.facts, self.config.heuristic)
                body = job.result
            return results.shaped(body, self.config.shape, self._overrides.get((key, job.facts.hash)))

    def _get_one(self, key: str, identifier: str) -> Response:
        body = self._poll(key, identifier)
        if body is not None:
            return JSONResponse(body)
        if self.config.unknown == "pending":
            facts = results.JobFacts(identifier, "", "", None, {}, results.Outcome())
            return JSONResponse(
                results.shaped({**results.pending(facts), "hash": None, "name": None}, self.config.shape, None)
            )
        return wire.error(404, "Classification not found.")

    def _get_many(self, key: str, query: list[tuple[str, str]]) -> Response:
        wanted = [v for k, v in query if k == "identifiers[]" or re.fullmatch(r"identifiers\[\d+\]", k)]
        if not wanted and any(k == "identifiers" for k, _ in query):
            return wire.fields(400, {"identifiers": ["The identifiers field must be an array."]})
        if not wanted:
            return wire.fields(400, {"identifiers": ["The identifiers field is required."]})
        if len(wanted) > 100:
            return wire.fields(400, {"identifiers": ["The identifiers field must not have more than 100 items."]})
        with self._lock:
            # Like a whereIn query: stored order, each job once, unknown identifiers simply absent.
            ids = set(wanted)
            found = [job.facts.identifier for job in self._jobs.values() if job.facts.identifier in ids]
            bodies = [self._poll(key, identifier) for identifier in found]
        return JSONResponse([body for body in bodies if body is not None])

    async def _override(
        self, request: Request, record: FakeRequest, key: str, digest: str, refusal: Response | None
    ) -> Response:
        raw = await request.body()
        if refusal is not None:
            return refusal
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        record.json = data
        choice = data.get("classification") if isinstance(data, dict) else None
        if choice in (None, ""):
            return wire.fields(400, {"classification": ["The classification field is required."]})
        if choice not in ("human", "artificial"):
            return wire.fields(400, {"classification": ["The selected classification is invalid."]})
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.key == key and j.facts.hash == digest]
            if not jobs:
                return wire.error(400, "You haven't got any request for this content.")
            if (key, digest) in self._overrides:
                return wire.error(400, "You have already submitted a report for this content.")
            statuses = {self._status(j) for j in jobs}
            if "done" not in statuses:
                if "new" in statuses:
                    return wire.error(400, "This video was not classified yet.")
                return wire.error(400, "No completed request for this video exists.")
            self._overrides[(key, digest)] = choice
        return JSONResponse({"classification": choice, "type": "video", "hash": digest}, status_code=201)

    def _account(self, key: str) -> Account:
        return self._accounts.setdefault(key, Account(self.config.credits))
