"""The fake's HTTP surface: Laravel-style validation, error bodies, content sniffing."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

COSTS = {5: 1, 10: 2, 30: 6}  # credits per submission by frames; with_audio adds 1
BOOLEAN_OPTIONS = (
    "key_frames", "with_tampering", "with_morphing", "with_audio", "no_cache",
    "prevent_c2pa_forces", "with_nsfw", "ensure_face_per_frame",
)  # fmt: skip
# Options that change the analysis, and so the cache key and the seeded result.
ANALYSIS_OPTIONS = ("frames", "key_frames", "key_frames_method", "with_tampering", "with_morphing", "with_audio",
                    "prevent_c2pa_forces", "with_nsfw", "ensure_face_per_frame")  # fmt: skip
NO_CREDITS = "The user has no enough credits to perform the operation."
UNSUPPORTED = "The uploaded file format is not supported."
_NOT_VIDEO_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\x7fELF", b"II*\x00", b"MM\x00*")
HTML_PAGE = "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><hr>nginx</body></html>"


def error(status: int, message: str, key: str = "error", headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({key: message}, status_code=status, headers=headers)


def fields(status: int, errors: dict[str, list[str]]) -> Response:
    return JSONResponse(errors, status_code=status)


def _words(name: str) -> str:
    return name.replace("_", " ")


def wants_json(accept: str) -> bool:
    """Laravel's wantsJson(): the most preferred Accept type is JSON. */* is not."""
    ranked = []
    for index, item in enumerate(accept.split(",")):
        kind, *params = (p.strip() for p in item.split(";"))
        q = next((float(p[2:]) for p in params if p.startswith("q=") and p[2:].replace(".", "", 1).isdigit()), 1.0)
        ranked.append((-q, index, kind.lower()))
    return bool(ranked) and any(s in min(ranked)[2] for s in ("/json", "+json"))


def not_video(head: bytes) -> bool:
    stripped = head.lstrip()
    return (
        not head
        or head.startswith(_NOT_VIDEO_MAGIC)
        or stripped[:1] in (b"<", b"{", b"[")
        or (head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"))
    )


def validate_options(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Laravel-style validation of the submit options: normalised values and field errors."""
    options: dict[str, Any] = {"frames": 10}
    errors: dict[str, list[str]] = {}
    if "frames" in form:
        if form["frames"].strip() in ("5", "10", "30"):
            options["frames"] = int(form["frames"])
        else:
            errors["frames"] = ["The selected frames is invalid."]
    for name in BOOLEAN_OPTIONS:
        if name in form:
            value = form[name].strip().lower()
            if value in ("true", "1", "false", "0"):
                options[name] = value in ("true", "1")
            else:
                errors[name] = [f"The {_words(name)} field must be true or false."]
    if "key_frames_method" in form:
        method = form["key_frames_method"].strip()
        # The docs spell it both ways ("iframes" now, "iframe" before); both are taken.
        if method in ("iframes", "iframe", "flow", "color"):
            options["key_frames_method"] = "iframes" if method == "iframe" else method
        else:
            errors["key_frames_method"] = ["The selected key frames method is invalid."]
    if len(form.get("ref_id", "")) > 255:
        errors["ref_id"] = ["The ref id field must not be greater than 255 characters."]
    if form.get("webhook_url") and not is_url(form["webhook_url"]):
        errors["webhook_url"] = ["The webhook url field must be a valid URL."]
    return options, errors


def is_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def size_text(n: int) -> str:
    return f"{n // 1024**3}GB" if n >= 1024**3 and n % 1024**3 == 0 else f"{n // 1024**2}MB"


async def abort(send: Any) -> None:
    """Drop the TCP connection without an answer (uvicorn keeps the transport on its send's owner)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("the reset fault needs uvicorn's h11 or httptools protocol")
    transport.abort()
    # Let connection_lost run, so uvicorn knows not to answer 500 on a closed socket.
    for _ in range(3):
        await asyncio.sleep(0)
