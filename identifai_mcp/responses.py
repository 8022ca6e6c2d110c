"""identifAI's answers, read: bodies parsed into models, statuses and failures into IdentifaiErrors.

The one place where HTTP becomes the error hierarchy (`status_error`, `unreachable`) and where a
body that is not what the docs promise becomes a MalformedResponse. The client calls these and
nothing else decides what an answer means.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from identifai_mcp.errors import (
    ApiError,
    ApiUnreachable,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NoCredits,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from identifai_mcp.models import Submission, VideoClassification
from identifai_mcp.redact import REDACTED

ERROR_TEXT_MAX = 240

_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    # The docs give 400 for validation errors; Laravel's own default is 422.
    422: BadRequest,
    429: RateLimited,
}
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{8,128}")
_RESULTS = TypeAdapter(list[VideoClassification])


def unreachable(exc: httpx.TransportError) -> ApiUnreachable:
    # Only the exception's type: httpx errors carry the request, and with it the key header.
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return ApiUnreachable(f"The connection to identifAI {what} ({type(exc).__name__}).")


# -- responses -----------------------------------------------------------------------------------


def scrub(text: str, response: httpx.Response) -> str:
    """The text with the request's API key masked, should identifAI (or a proxy) ever echo it."""
    try:
        key = response.request.headers.get("x-api-key")
    except RuntimeError:  # a response built without its request
        return text
    return text.replace(key, REDACTED) if key else text


def describe(response: httpx.Response) -> str:
    """A short description of a body we cannot use, never the body itself."""
    text = scrub(response.text.strip(), response)
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not text:
        return f"identifAI answered HTTP {response.status_code} with an empty body"
    if kind == "text/html" or text[:1] == "<":
        return f"identifAI answered HTTP {response.status_code} with an HTML page"
    if len(text) <= 120 and "\n" not in text and not text.startswith(("{", "[")):
        return f"identifAI answered HTTP {response.status_code}: {text}"
    return f"identifAI answered HTTP {response.status_code} with an unreadable {len(response.content)}-byte body"


def parse_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:  # also UnicodeDecodeError
        raise MalformedResponse(f"{describe(response)} instead of JSON.") from exc


def parse_results(response: httpx.Response) -> list[VideoClassification]:
    data = parse_json(response)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]  # a Laravel resource collection, should the API ever wrap it
    if not isinstance(data, list):
        raise MalformedResponse(f"identifAI sent a {type(data).__name__} where a list of classifications was expected.")
    return _validated(_RESULTS.validate_python, data, "classifications")


def parser(model: type[BaseModel], what: str = "an answer") -> Callable[[httpx.Response], Any]:
    """A parser of one JSON object into `model`; anything else is a MalformedResponse."""

    def parse(response: httpx.Response) -> Any:
        data = parse_json(response)
        if not isinstance(data, dict):
            raise MalformedResponse(f"identifAI sent a {type(data).__name__} where {what} was expected.")
        return _validated(model.model_validate, data, what)

    return parse


def _validated(validate: Callable[[Any], Any], data: Any, what: str) -> Any:
    """`validate(data)`, with pydantic's ValidationError turned into a MalformedResponse."""
    try:
        return validate(data)
    except ValidationError as exc:
        raise MalformedResponse(
            f"identifAI sent {what} this version cannot read ({exc.error_count()} problems)."
        ) from exc


parse_result = parser(VideoClassification, "a classification")


def parse_submission(response: httpx.Response) -> Submission:
    """`{"identifier": "..."}`, or the bare identifier that a non-JSON Accept header gets."""
    text = response.text.strip()
    value: Any = text
    if text[:1] in ("{", '"', "["):
        try:
            value = json.loads(text)
        except ValueError:
            value = text
    if isinstance(value, dict):
        value = value.get("identifier")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = str(value).strip().strip("\"'").strip()
        if _IDENTIFIER.fullmatch(value):
            return Submission(identifier=value)
    raise MalformedResponse(f"{describe(response)}, which holds no identifier.")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP-date), else from X-RateLimit-Reset."""
    value = response.headers.get("Retry-After", "").strip()
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        return max(0.0, seconds) if math.isfinite(seconds) else None
    reset = response.headers.get("X-RateLimit-Reset", "").strip()
    try:
        epoch = float(reset)
    except ValueError:
        return None
    return max(0.0, epoch - time.time()) if math.isfinite(epoch) and epoch > 1e9 else None


def error_text(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """identifAI's own words: `error`, the field messages, or `message`; else a short description."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return describe(response), {}
    if not isinstance(data, dict):
        return describe(response), {}
    fields_source = data["errors"] if isinstance(data.get("errors"), dict) else data
    field_errors = {
        str(name): [str(m) for m in messages]
        for name, messages in fields_source.items()
        if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
    }
    for candidate in (data.get("error"), " ".join(m for ms in field_errors.values() for m in ms), data.get("message")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip(), field_errors
    return f"identifAI answered HTTP {response.status_code} {response.reason_phrase}".strip(), field_errors


def status_error(response: httpx.Response) -> ApiError:
    """The one translation of an error status into an ApiError subclass."""
    status = response.status_code
    message, field_errors = error_text(response)
    message = scrub(message, response)
    field_errors = {name: [scrub(m, response) for m in messages] for name, messages in field_errors.items()}
    if len(message) > ERROR_TEXT_MAX:
        message = message[: ERROR_TEXT_MAX - 1].rstrip() + "…"
    cls = _STATUS_ERRORS.get(status, ServerError if status >= 500 else ApiError)
    if status in (400, 422) and "credit" in message.lower():
        cls = NoCredits  # the docs give no code of its own, only a 400 and this wording
    if issubclass(cls, BadRequest):
        return cls(message, status=status, field_errors=field_errors)
    if cls is RateLimited:
        return RateLimited(message, status=status, retry_after=retry_after(response))
    return cls(message, status=status)
