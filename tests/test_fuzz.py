"""Random schema-shaped JSON through everything that reads identifAI's answers.

The wire models may refuse a body (pydantic's ValidationError from `model_validate`); past them,
building the report and its explanation must never fail. Through the client, and through the MCP
tools, nothing but the project's own errors may come out: a body the client cannot use is a
MalformedResponse, never a crash.

The shapes follow the API's documented objects, and any field may instead hold any JSON value
(NaN and infinities included, which Python's JSON parser accepts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import ValidationError

from identifai_mcp.client import IdentifaiClient
from identifai_mcp.errors import IdentifaiError
from identifai_mcp.models import ClassifyOptions, VideoClassification
from identifai_mcp.report import Report, batch_report, build_report, explain, summary_markdown
from identifai_mcp.server import build_server
from identifai_mcp.settings import RateLimits, Settings

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
UNLIMITED = RateLimits(get_per_second=1e6, get_per_minute=1e8, post_per_second=1e6, post_per_minute=1e8)
HEX64 = "ab" * 32

# -- strategies -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def shapes(noisy: bool) -> st.SearchStrategy[dict[str, Any]]:
    """identifAI's video object. `noisy`: any field may hold any JSON value instead."""

    def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        # Any subset of the fields; a noisy field is mostly well-typed, sometimes anything at all.
        wrap = (lambda good: st.one_of(good, good, good, good, anything)) if noisy else (lambda good: good)
        return st.fixed_dictionaries({}, optional={name: wrap(good) for name, good in fields.items()})

    label_score = obj(label=labels, score=units)
    model_result = obj(model=texts, unknown=st.booleans(), elapsed_time=units, classification=few(label_score),
                       classification_details=anything)
    verdict = obj(heuristic=texts, confidence=units, classification=labels, count=counts, models=few(texts),
                  unknown=st.booleans())
    action = obj(action=texts, digitalSourceType=st.sampled_from([
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia", "digitalCapture", ""]) | texts)
    manifest = obj(
        claim_generator=texts, claim_generator_info=few(obj(name=texts, version=texts)),
        signature_info=obj(issuer=texts, common_name=texts),
        assertions=few(obj(label=st.sampled_from(["c2pa.actions", "c2pa.actions.v2", "stds.exif"]) | texts,
                           data=obj(actions=few(action)))),
    )
    c2pa = obj(
        manifests=st.dictionaries(texts, manifest, max_size=2), active_manifest=texts, validation_state=texts,
        validation_status=few(obj(code=texts, explanation=texts)),
        validation_results=obj(activeManifest=obj(failure=few(obj(code=texts)), success=few(obj(code=texts)))),
    )
    detection = obj(box=anything, results=few(model_result), verdict=verdict)
    header = {"hash": texts, "identifier": texts, "api_version": texts, "status": statuses, "errors": anything,
              "name": texts, "ref_id": texts, "result_url": texts, "verdict": verdict, "verdicts": few(verdict, 4),
              "force_classification": labels}
    frame = obj(**header, is_nsfw=st.booleans(), c2pa=c2pa, has_heatmap=st.booleans(), results=few(model_result, 4),
                details=few(obj(detections=few(detection, 2)), 2)) | few(model_result)  # old API: a bare list
    clip = obj(index=counts, start=units, end=units, results=few(model_result), verdict=verdict)
    audio = obj(**header, results=few(model_result), details=obj(clips=few(clip)), chunk_details=few(clip))
    return obj(
        **header, is_nsfw=st.booleans(), c2pa=c2pa,
        results=obj(images=few(frame, 5), audios=few(audio, 2)) | few(frame, 4),  # or a bare list of frames
        unexpected_field=anything,
    )


def few(strategy: st.SearchStrategy[Any], n: int = 3) -> st.SearchStrategy[list[Any]]:
    return st.lists(strategy, max_size=n)


texts = st.text(max_size=16)
labels = st.sampled_from(["artificial", "human", "Human", "ARTIFICIAL", "", "morphed", "unknown"]) | texts
units = st.sampled_from([0.0, 0.5, 1.0]) | st.floats(allow_nan=True, allow_infinity=True)
counts = st.integers(min_value=-5, max_value=2**40)
statuses = st.sampled_from(["new", "done", "done", "errored", "processing", "completed", "DONE", ""]) | texts
videos = st.one_of(shapes(noisy=False), shapes(noisy=False), shapes(noisy=True))
options = st.builds(
    ClassifyOptions, frames=st.sampled_from([None, 5, 10, 30]), prevent_c2pa_forces=st.sampled_from([None, True, False]),
    with_audio=st.sampled_from([None, True]), with_nsfw=st.sampled_from([None, True]), ref_id=st.none() | texts,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# Response bodies: a classification, anything at all, a batch, and what broken servers send.
bodies = st.one_of(
    videos.map(dumps), videos.map(dumps), few(videos, 3).map(dumps), anything.map(dumps),
    videos.map(lambda v: dumps(v)[: max(1, len(dumps(v)) // 2)]),  # truncated
    st.binary(max_size=64), texts.map(str.encode),
    st.just(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"), st.just(b""),
    st.sampled_from([b"NaN", b"[NaN]", b'{"identifier": 12}', b'"' + b"a" * 40 + b'"', b"\xff\xfe\x00"]),
)
content_types = st.sampled_from(["application/json", "text/html", "text/plain", ""])


# -- the report and its explanation ----------------------------------------------------------------


@FUZZ
@given(videos, st.sampled_from(["summary", "frames"]), st.none() | options,
       st.floats(allow_nan=True, allow_infinity=True))
def test_report_and_explanation_of_anything_the_wire_model_accepts(
    video: dict[str, Any], detail: str, opts: ClassifyOptions | None, wait_hint: float
) -> None:
    try:
        result = VideoClassification.model_validate(video)
    except ValidationError:
        return  # the one refusal allowed here; the client turns it into MalformedResponse
    report = build_report(result, detail=detail, options=opts, wait_hint=wait_hint)  # type: ignore[arg-type]
    assert report.summary == explain(report) and report.summary.strip()
    assert summary_markdown(report).startswith("# ")
    structured = json.loads(report.model_dump_json())
    json.dumps(structured, allow_nan=False)  # strict JSON: no NaN or infinity reaches a client
    REPORT_SCHEMA.validate(structured)
    assert batch_report([report], [HEX64]).summary


REPORT_SCHEMA = jsonschema.Draft202012Validator(Report.model_json_schema(mode="serialization"))


# -- the client's parsing, over HTTP ---------------------------------------------------------------


def client_for(body: bytes, content_type: str, status: int = 200) -> IdentifaiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return httpx.Response(status, content=body, headers=headers)

    settings = Settings(api_key="fuzz-key-0123456789", base_url="http://identifai.invalid", max_retries=0,
                        rate_limits=UNLIMITED, home=Path("/nonexistent"))
    return IdentifaiClient(settings, transport=httpx.MockTransport(handler))


CLIENT_CALLS: dict[str, Callable[[IdentifaiClient], Any]] = {
    "get_result": lambda api: api.get_result(HEX64),
    "get_results": lambda api: api.get_results([HEX64, "cd" * 32]),
    "get_credits": lambda api: api.get_credits(),
    "submit_url": lambda api: api.submit_url("https://cdn.example.com/a.mp4", ClassifyOptions()),
    "override": lambda api: api.override(HEX64, "human"),
}


@FUZZ
@given(bodies, content_types, st.sampled_from([200, 200, 200, 201, 400, 404, 422, 429, 500, 503]),
       st.sampled_from(sorted(CLIENT_CALLS)))
def test_the_client_turns_any_body_into_a_model_or_one_of_its_own_errors(
    body: bytes, content_type: str, status: int, call: str
) -> None:
    async def run() -> None:
        async with client_for(body, content_type, status) as api:
            try:
                parsed = await CLIENT_CALLS[call](api)
            except IdentifaiError as exc:
                assert exc.describe().strip()
                assert len(exc.message) <= 600, "an error quotes no whole body"
                return
        for result in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(result, VideoClassification):
                assert build_report(result).summary

    anyio.run(run)


# -- the MCP tools, end to end ---------------------------------------------------------------------


class Upstream:
    """What the mock identifAI answers next; the fuzz sets it before each call."""

    body, content_type = b"{}", "application/json"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.body, headers={"content-type": self.content_type})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Client, Upstream, dict[str, Any]]]:
    """One server for the whole fuzz, driven from the test thread through a portal."""
    upstream = Upstream()
    settings = Settings(api_key="fuzz-key-0123456789", base_url="http://identifai.invalid", max_retries=0,
                        rate_limits=UNLIMITED, home=tmp_path_factory.mktemp("fuzz-home"), poll_interval=0)
    server = build_server(settings, transport=httpx.MockTransport(upstream))
    with anyio.from_thread.start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(server)) as client:
        tools = {t.name: jsonschema.Draft202012Validator(t.output_schema) for t in portal.call(client.list_tools).tools
                 if t.output_schema}
        yield portal, client, upstream, tools


# Each is how the client (or the service) says "identifAI sent something unusable".
OWN_ERRORS = ("instead of JSON", "cannot read", "where a classification was expected",
              "where a list of classifications was expected", "has no classification")


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(bodies, content_types, st.sampled_from(["get_result", "get_results_batch"]))
def test_mcp_tools_answer_any_upstream_body_with_a_report_or_a_clear_error(
    served: tuple[Any, Client, Upstream, dict[str, Any]], body: bytes, content_type: str, tool: str
) -> None:
    portal, client, upstream, tools = served
    upstream.body, upstream.content_type = body, content_type
    args = {"identifier": HEX64} if tool == "get_result" else {"identifiers": [HEX64, "cd" * 32]}

    async def go() -> Any:
        with anyio.fail_after(10):
            return await client.call_tool(tool, args)

    result = portal.call(go)
    text = result.content[0].text
    assert "Internal error" not in text and "Traceback" not in text
    if result.is_error:
        assert any(words in text for words in OWN_ERRORS), text
    else:
        tools[tool].validate(result.structured_content)
