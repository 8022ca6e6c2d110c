"""The MCP adapter: tools, resources and prompts over `Service`. Thin on purpose."""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.types import (
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field

from identifai_mcp import __version__
from identifai_mcp.errors import ConfigError, IdentifaiError, InputError, MissingApiKey, NotFound
from identifai_mcp.frames import FramesReport
from identifai_mcp.models import ClassifyOptions, Credits, OverrideResult
from identifai_mcp.prompts import PromptText, load_prompts
from identifai_mcp.provenance import ProvenanceReport
from identifai_mcp.redact import redact
from identifai_mcp.report import BatchReport, Report, summary_markdown
from identifai_mcp.report.text import number
from identifai_mcp.service import ProgressFn, Service
from identifai_mcp.settings import Settings
from identifai_mcp.tool_args import (
    ClassifyWait,
    Detail,
    EnsureFace,
    Frames,
    Identifier,
    KeyFrames,
    KeyFramesMethod,
    NoCache,
    Path_,
    PreventC2pa,
    RefId,
    ResultWait,
    Url,
    WithAudio,
    WithMorphing,
    WithNsfw,
    WithTampering,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
identifai-mcp checks whether a video is real or AI-generated / manipulated, using the identifAI \
service (paid, per video) and free local checks.

Workflow:
- Local file: call inspect_video_file first (free, offline: C2PA Content Credentials and \
metadata), then classify_video_file. Public URL: classify_video_url (a direct media link works \
best; social-network pages are re-encoded by the platform).
- The classify tools wait up to wait_seconds for the verdict. If the result has status "pending", \
the job is still running at identifAI: call get_result with the returned identifier (and \
wait_seconds) later. Pending is not a failure, and the submission is kept: never submit the same \
video again just because it is pending.
- Several identifiers: get_results_batch. Credits: get_credits. A verdict the user knows is \
wrong: override (it applies to every upload of the same file).
- extract_frames gives thumbnails of the frames a verdict rests on, as resource links.

Reporting:
- Never state a verdict without a completed result (status "done"). Quote the `summary`: it \
states the verdict, its confidence and heuristic, frame agreement and provenance faithfully.
- Say how sure identifAI is as the percentage it gives; when heuristics or frames disagree, say \
the result is inconclusive rather than picking a side. Automated detection can be wrong.
- No C2PA credentials proves nothing; credentials that declare AI generation are a strong but \
separate signal, and by default they force identifAI's verdict to artificial.
"""

# Seconds a color/flow shot scan may take in a tool call: leaves room under a client's ~60 s limit.
FRAME_SCAN_BUDGET = 30.0

OPEN_WORLD_READ = ToolAnnotations(read_only_hint=True, open_world_hint=True)
SUBMIT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
LOCAL_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)

HISTORY_TEMPLATE = "identifai://history{?status,classification,ref_id,since,until,cursor,limit}"

# Header carrying a per-user key when the server is shared over HTTP.
KEY_HEADERS = ("x-identifai-api-key", "x-api-key")


@dataclass
class AppState:
    service: Service
    settings: Settings
    # True when serving HTTP beyond loopback: per-request keys, per-key history, no local files.
    shared: bool = False

    def service_for(self, ctx: Context[Any] | None) -> Service:
        """The caller's service: per-request key in shared HTTP mode, else the configured one."""
        headers = getattr(ctx, "headers", None) if ctx is not None else None
        key = None
        if headers:
            key = next((headers.get(h) for h in KEY_HEADERS if headers.get(h)), None)
        if key:
            return self.service.for_key(key)
        if self.shared and not self.settings.key():
            raise MissingApiKey(
                "No identifAI API key came with this request.",
                hint="Send your key in the X-Identifai-Api-Key header of each request to this shared server.",
            )
        return self.service

    def check_local_files(self) -> None:
        if self.local_files_allowed():
            return
        raise ConfigError(
            "Local files are off on this shared HTTP server.",
            hint="Use classify_video_url, or ask the operator to set IDENTIFAI_MCP_ALLOW_LOCAL_FILES=true.",
        )

    def local_files_allowed(self) -> bool:
        if self.settings.allow_local_files is not None:
            return self.settings.allow_local_files
        return not self.shared


def _state(ctx: Context[Any]) -> AppState:
    return ctx.request_context.lifespan_context


@contextmanager
def _as_tool_error() -> Iterator[None]:
    """The one place a failure becomes text the agent reads; tracebacks stay in the log."""
    try:
        yield
    except IdentifaiError as exc:
        raise ToolError(redact(exc.describe())) from exc
    except ToolError:
        raise
    except Exception as exc:
        logger.exception("unexpected failure")
        raise ToolError(
            f"Internal error ({type(exc).__name__}); nothing was lost. The server log has details."
        ) from exc


def _result(model: BaseModel, text: str, extra: list[Any] | None = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text), *(extra or [])],
        structured_content=model.model_dump(mode="json"),
    )


def _progress(ctx: Context[Any]) -> ProgressFn:
    async def send(value: float, total: float | None, message: str) -> None:
        await ctx.report_progress(value, total=total, message=message)

    return send


def _options(arguments: dict[str, Any]) -> ClassifyOptions:
    """The classification options among a tool's arguments (they carry the API's own names)."""
    return ClassifyOptions(**{name: arguments[name] for name in ClassifyOptions.model_fields})


def build_server(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    shared: bool = False,
) -> MCPServer[AppState]:
    """The identifai-mcp server. `transport` is the network seam for tests."""

    @asynccontextmanager
    async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with Service.open(settings, transport=transport) as service:
            state = AppState(service=service, settings=settings, shared=shared)
            # Completion and resources/list handlers get no Context; they read the state here.
            server._app_state = state  # type: ignore[attr-defined]
            yield state

    mcp = _Server(
        "identifai-mcp",
        title="identifAI video authenticity",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://docs.identifai.net",
        lifespan=lifespan,
    )

    # -- tools that talk to identifAI -----------------------------------------------------

    @mcp.tool(title="Classify a local video file", annotations=SUBMIT)
    async def classify_video_file(
        path: Path_,
        ctx: Context[AppState],
        frames: Frames = None,
        key_frames: KeyFrames = None,
        key_frames_method: KeyFramesMethod = None,
        with_morphing: WithMorphing = None,
        with_tampering: WithTampering = None,
        with_audio: WithAudio = None,
        with_nsfw: WithNsfw = None,
        ensure_face_per_frame: EnsureFace = None,
        prevent_c2pa_forces: PreventC2pa = None,
        no_cache: NoCache = None,
        ref_id: RefId = None,
        wait_seconds: ClassifyWait = None,
    ) -> Annotated[CallToolResult, Report]:
        """Upload a local video to identifAI and wait for its verdict (real or AI-generated).

        Spends identifAI credits, unless the same file was already analysed with the same options
        (then the stored result is returned without uploading). Returns status 'pending' with an
        identifier when the wait budget runs out: then call get_result with it.
        """
        state = _state(ctx)
        with _as_tool_error():
            state.check_local_files()
            options = _options(locals())
            report = await state.service_for(ctx).classify_file(
                path, options, wait=_wait(wait_seconds, settings), progress=_progress(ctx)
            )
        return _result(report, report.summary)

    @mcp.tool(title="Classify a video from a URL", annotations=SUBMIT)
    async def classify_video_url(
        url: Url,
        ctx: Context[AppState],
        frames: Frames = None,
        key_frames: KeyFrames = None,
        key_frames_method: KeyFramesMethod = None,
        with_morphing: WithMorphing = None,
        with_tampering: WithTampering = None,
        with_audio: WithAudio = None,
        with_nsfw: WithNsfw = None,
        ensure_face_per_frame: EnsureFace = None,
        prevent_c2pa_forces: PreventC2pa = None,
        no_cache: NoCache = None,
        ref_id: RefId = None,
        wait_seconds: ClassifyWait = None,
    ) -> Annotated[CallToolResult, Report]:
        """Have identifAI download a public http(s) video URL and classify it (real or AI-generated).

        Spends identifAI credits. Returns status 'pending' with an identifier when the wait budget
        runs out: then call get_result with it.
        """
        state = _state(ctx)
        with _as_tool_error():
            options = _options(locals())
            report = await state.service_for(ctx).classify_url(
                url, options, wait=_wait(wait_seconds, settings), progress=_progress(ctx)
            )
        return _result(report, report.summary)

    @mcp.tool(title="Get a classification result", annotations=OPEN_WORLD_READ)
    async def get_result(
        identifier: Identifier,
        ctx: Context[AppState],
        wait_seconds: ResultWait = 0,
        detail: Detail = "summary",
    ) -> Annotated[CallToolResult, Report]:
        """The current report for one classification; waits up to wait_seconds while it is pending.

        Free (no credits). Use it to come back to a classification that returned 'pending'.
        """
        with _as_tool_error():
            report = await _state(ctx).service_for(ctx).get_report(
                identifier, wait=wait_seconds, detail=detail, progress=_progress(ctx)
            )
        return _result(report, report.summary)

    @mcp.tool(title="Get many classification results", annotations=OPEN_WORLD_READ)
    async def get_results_batch(
        identifiers: Annotated[list[Identifier], Field(min_length=1, max_length=1000, description=(
            "1 to 1000 identifiers; they are fetched in calls of at most 100."))],
        ctx: Context[AppState],
        detail: Detail = "summary",
    ) -> Annotated[CallToolResult, BatchReport]:
        """Reports for many classifications at once, with totals; unknown identifiers are listed as missing.

        Free (no credits). Does not wait: call it again later for those still pending.
        """
        with _as_tool_error():
            batch = await _state(ctx).service_for(ctx).get_batch(identifiers, detail=detail)
        return _result(batch, batch.summary)

    @mcp.tool(title="Correct a verdict (override)", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True))
    async def override(
        classification: Annotated[Literal["human", "artificial"], Field(description=(
            "What the video really is, according to the user."))],
        ctx: Context[AppState],
        identifier: Annotated[str | None, Field(max_length=128, description=(
            "The classification's identifier. Give this or hash, not both."))] = None,
        hash: Annotated[str | None, Field(max_length=64, description=(
            "The video's SHA-256 (the `hash` of a result). Give this or identifier, not both."))] = None,
    ) -> Annotated[CallToolResult, OverrideResult]:
        """Record the user's correction of a verdict. It applies to every upload of the same file.

        Only call this when the user explicitly says the verdict is wrong and confirms.
        identifAI accepts one report per video.
        """
        with _as_tool_error():
            result = await _state(ctx).service_for(ctx).override(classification, identifier=identifier, hash=hash)
        text = f"Override recorded: identifAI now treats video {result.hash} as {result.classification}."
        return _result(result, text)

    @mcp.tool(title="Get identifAI credits", annotations=OPEN_WORLD_READ)
    async def get_credits(ctx: Context[AppState]) -> Annotated[CallToolResult, Credits]:
        """Available and spent identifAI credits. Free; useful before a large or 30-frame job."""
        with _as_tool_error():
            credits = await _state(ctx).service_for(ctx).credits()
        text = f"identifAI credits: {number(credits.available_credits)} available, {number(credits.total_spent)} spent."
        return _result(credits, text)

    # -- local, offline tools --------------------------------------------------------------

    @mcp.tool(title="Inspect a video's provenance (free, offline)", annotations=LOCAL_READ)
    async def inspect_video_file(path: Path_, ctx: Context[AppState]) -> Annotated[CallToolResult, ProvenanceReport]:
        """Read a local video's C2PA Content Credentials and container metadata. Free, offline, no key.

        Not a detection verdict: it says what the file declares about its origin, and whether that
        declaration is intact. Missing credentials prove nothing.
        """
        state = _state(ctx)
        with _as_tool_error():
            state.check_local_files()
            report = await state.service.inspect(path)
        return _result(report, report.summary)

    @mcp.tool(title="Extract evidence frames (free, offline)", annotations=LOCAL_READ)
    async def extract_frames(
        path: Path_,
        ctx: Context[AppState],
        frames: Annotated[int, Field(ge=1, le=60, description="How many frames at most.")] = 10,
        method: Annotated[Literal["time", "iframes", "color", "flow"], Field(description=(
            "time: equally spaced; iframes: codec key frames (both fast); color: per shot the frame "
            "nearest the shot's average colour; flow: per shot the stillest frame (these two decode "
            "the video, about 1.5 ms per frame; past 30 s of scanning they use the part scanned "
            "and say so)."))] = "time",
    ) -> Annotated[CallToolResult, FramesReport]:
        """Extract small JPEG thumbnails of a local video's frames, with timestamps, as resource links.

        Read them with resources/read (identifai://frames/{hash}/{index}) to look at what a
        verdict rests on. Free and offline.
        """
        state = _state(ctx)
        with _as_tool_error():
            state.check_local_files()
            report = await state.service.extract_frames(
                path, count=frames, method=method, scan_budget=FRAME_SCAN_BUDGET
            )
        links = [
            ResourceLink(
                type="resource_link",
                uri=f"identifai://frames/{report.hash}/{f.index}",
                name=f"frame-{f.index}.jpg",
                title=f"Frame {f.index} at {f.timestamp_seconds:.2f} s",
                mime_type="image/jpeg",
                size=f.bytes,
            )
            for f in report.frames
        ]
        return _result(report, report.summary, links)

    # -- resources -------------------------------------------------------------------------

    @mcp.resource(HISTORY_TEMPLATE, name="history", title="Past classifications", mime_type="application/json")
    def history(
        ctx: Context,
        status: str | None = None,
        classification: str | None = None,
        ref_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: str | None = None,
    ) -> str:
        """Past submissions, newest first. Query: status, classification, ref_id, since, until, cursor, limit."""
        with _as_resource_error("history"):
            rows, next_cursor = _state(ctx).service_for(ctx).history_listing(
                limit=_limit(limit), cursor=cursor or None, status=status or None,
                classification=classification or None, ref_id=ref_id or None,
                since=since or None, until=until or None,
            )
        return json.dumps({"items": rows, "next_cursor": next_cursor}, ensure_ascii=False)

    @mcp.resource("identifai://videos/{identifier}", name="video-result", title="Full identifAI result",
                  mime_type="application/json")
    async def video_result(identifier: str, ctx: Context) -> str:
        """The full identifAI result as last fetched (fetched and stored when not yet known)."""
        with _as_resource_error(identifier):
            raw = await _state(ctx).service_for(ctx).raw_result(identifier)
        return json.dumps(raw, ensure_ascii=False)

    @mcp.resource("identifai://videos/{identifier}/summary", name="video-summary",
                  title="Explanation of a result", mime_type="text/markdown")
    async def video_summary(identifier: str, ctx: Context) -> str:
        """The explanation of a result, with its heuristics and per-model figures."""
        with _as_resource_error(identifier):
            report = await _state(ctx).service_for(ctx).get_report(identifier, detail="summary")
        return summary_markdown(report)

    @mcp.resource("identifai://frames/{hash}/{index}", name="evidence-frame", title="Evidence frame",
                  mime_type="image/jpeg")
    def frame(hash: str, index: str, ctx: Context) -> bytes:
        """A JPEG thumbnail extracted locally by extract_frames."""
        with _as_resource_error(f"{hash}/{index}"):
            if not index.isdigit():
                raise NotFound(f"No frame {index!r}.")
            path = _state(ctx).service.frame_file(hash, int(index))
            if not path.is_file():
                raise NotFound(f"No extracted frame {index} for video {hash}.", hint="Run extract_frames first.")
            return path.read_bytes()

    async def complete(ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        argument = params.argument
        values: list[str] = []
        if argument.name == "classification":
            values = [v for v in ("human", "artificial") if v.startswith(argument.value)]
        elif argument.name == "identifier":
            # The caller's own identifiers: in shared HTTP mode the key decides whose may be offered.
            caller = Context(request_context=ctx, mcp_server=mcp)
            try:
                values = ctx.lifespan_context.service_for(caller).recent_identifiers(argument.value, 100)[:100]
            except MissingApiKey:  # a shared server's caller without a key has no history
                values = []
        return CompleteResult(completion=Completion(values=values, total=len(values), has_more=len(values) >= 100))

    # On the low-level server rather than with @mcp.completion(), which hands the handler no request
    # context (and so no caller's key).
    mcp._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)

    # -- prompts ---------------------------------------------------------------------------

    for text in load_prompts():
        mcp.add_prompt(_prompt(text))

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "name": "identifai-mcp", "version": __version__})

    return mcp


class _Server(MCPServer[AppState]):
    """MCPServer whose resources/list also shows the most recent results from the history."""

    _app_state: AppState | None = None

    def tool(self, *args: Any, description: str | None = None, **kwargs: Any) -> Any:
        """As MCPServer.tool, with the docstring's indentation removed from the description."""
        register = super().tool

        def decorator(fn: Any) -> Any:
            text = description if description is not None else inspect.cleandoc(fn.__doc__ or "")
            return register(*args, description=text, **kwargs)(fn)

        return decorator

    def state(self) -> AppState:
        if self._app_state is None:
            raise ResourceError("The server is still starting.")
        return self._app_state

    async def _handle_list_resources(self, ctx: Any, params: Any) -> Any:
        result = await super()._handle_list_resources(ctx, params)
        from mcp.types import Resource

        state: AppState = ctx.lifespan_context
        result.resources.append(Resource(
            uri="identifai://history", name="history", title="Past classifications",
            description="Past submissions, newest first. Filter with ?status=&classification=&ref_id=&since=&until=&cursor=&limit=",
            mime_type="application/json",
        ))
        try:
            # The caller's own history: in shared HTTP mode each key sees only its submissions.
            caller = Context(request_context=ctx, mcp_server=self)
            rows, _ = state.service_for(caller).history_listing(limit=50)
        except MissingApiKey:  # a shared server's caller without a key has no history
            rows = []
        except Exception:
            logger.warning("could not list recent results", exc_info=True)
            rows = []
        for row in rows:
            if not row.get("identifier"):
                continue
            label = row.get("classification") or row.get("status")
            result.resources.append(Resource(
                uri=f"identifai://videos/{row['identifier']}",
                name=f"{row.get('name') or row['identifier']}",
                title=f"{row.get('name') or row['identifier'][:12]} — {label}",
                description=f"Submitted {row.get('submitted_at')}; status {row.get('status')}.",
                mime_type="application/json",
            ))
        return result


def _prompt(text: PromptText) -> Prompt:
    def render(**values: str) -> str:
        return text.render(values)

    return Prompt(
        name=text.name,
        title=text.title,
        description=text.description,
        arguments=[PromptArgument(name=a, description=d, required=True) for a, d in text.arguments.items()],
        fn=render,
    )


@contextmanager
def _as_resource_error(what: str) -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(redact(exc.describe())) from exc
    except IdentifaiError as exc:
        raise ResourceError(redact(exc.describe())) from exc


def _limit(value: str | None) -> int:
    if not value:
        return 50
    if not value.isdigit() or not 1 <= int(value) <= 500:
        raise InputError(f"limit must be a whole number from 1 to 500, not {value[:20]!r}.")
    return int(value)


def _wait(value: float | None, settings: Settings) -> float:
    return settings.wait_seconds if value is None else value


