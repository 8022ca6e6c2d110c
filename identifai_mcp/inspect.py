"""Local, offline inspection of a video file: C2PA Content Credentials and container facts.

Free, no key, no network: c2pa-python reads and validates the credentials (remote manifests and
OCSP are never fetched); PyAV reads the container's header, streams and tags without decoding the
video (FFmpeg's probe reads a few packets at most, whatever the length). Both libraries load on
first use, so the server's cold start does not pay for them.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from identifai_mcp.errors import FeatureUnavailable, InputError, NotAVideo
from identifai_mcp.provenance import (
    AiDeclaration,
    C2PAAction,
    C2PAIngredient,
    C2PAReport,
    ContainerInfo,
    ProvenanceReport,
    Signer,
    StreamInfo,
    ValidationIssue,
)

__all__ = [
    "explain",
    "inspect_file",
    "load_av",
    "load_c2pa",
    "open_video",
    "read_c2pa",
    "read_container",
    "video_stream",
]

# Demuxers PyAV may use. Anything else (HLS/DASH playlists, concat lists, image sequences, ...)
# is refused before FFmpeg acts on it: a playlist would make FFmpeg open other files or URLs.
VIDEO_DEMUXERS = "mov,matroska,avi,mpegts,mpeg,flv,asf,ogg,mxf,ivf,h264,hevc,m4v,mpegvideo,nut,rm"
NO_TRUST_ANCHORS = "no IDENTIFAI_C2PA_TRUST_ANCHORS configured"
ANCHORS_PROBLEM = "The C2PA trust anchors file"
NOT_A_VERDICT = "This is not a detection verdict: identifAI's classification is a separate, paid check."
SUMMARY_LIMIT = 700
IPTC_AI = {  # last segment of an IPTC digitalSourceType URI -> what it declares
    "trainedAlgorithmicMedia": "generated",
    "compositeWithTrainedAlgorithmicMedia": "composite",
}
# Tag names (lower case; a trailing "." is a prefix) that say something about where a file came from.
ORIGIN_KEYS = (
    "encoder", "encoded_by", "encoding_tool", "writing_application", "software", "make", "model",
    "handler_name", "vendor_id", "major_brand", "generator", "creator", "tool", "author", "artist",
    "copyright", "com.apple.quicktime.", "com.android.", "location",
)  # fmt: skip
# Values that name a camera maker, an editing tool or a video generator, wherever they appear.
ORIGIN_NAMES = (
    "lavf", "lavc", "ffmpeg", "google", "veo", "openai", "sora", "runway", "pika", "kling", "luma",
    "midjourney", "stability", "synthesia", "heygen", "hailuo", "minimax", "invideo", "capcut",
    "adobe", "premiere", "davinci", "final cut", "imovie", "apple", "iphone", "samsung", "android",
    "pixel", "gopro", "dji", "sony", "canon", "nikon", "panasonic", "fujifilm", "insta360",
    "huawei", "xiaomi", "tiktok", "instagram", "whatsapp", "telegram", "youtube",
)  # fmt: skip


def inspect_file(path: Path, *, trust_anchors: Path | None = None) -> ProvenanceReport:
    """C2PA Content Credentials and container facts of a local video, with a short explanation.

    "No credentials" and "credentials that do not validate" are normal outcomes in the report;
    c2pa problems land in `c2pa.error` and `errors`, never as exceptions.

    Raises:
        InputError: the path is missing or not a regular file.
        NotAVideo: FFmpeg finds no video stream in it.
        FeatureUnavailable: PyAV or c2pa-python failed to load.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if not path.is_file():
        raise InputError(f"{path} is not a regular file.")
    report = ProvenanceReport(path=str(path), name=path.name, size_bytes=size)
    report.container = read_container(path)
    report.container.size_bytes = size
    report.c2pa = read_c2pa(path, trust_anchors=trust_anchors, errors=report.errors)
    report.summary = explain(report)
    return report


# --- lazy native libraries -----------------------------------------------------------------


def load_av() -> ModuleType:
    """PyAV, imported on first use.

    Raises:
        FeatureUnavailable: it is missing or its FFmpeg libraries fail to load.
    """
    try:
        import av
    except Exception as exc:  # ImportError, or OSError from a broken shared library
        raise FeatureUnavailable(
            f"Local video reading is unavailable: the av package (PyAV) failed to import: {exc}",
            hint="Reinstall identifai-mcp (pip install --force-reinstall identifai-mcp, or "
            "uvx --reinstall identifai-mcp); av is one of its dependencies.",
        ) from exc
    return av


def load_c2pa() -> ModuleType:
    """c2pa-python, imported on first use.

    Raises:
        FeatureUnavailable: it is missing or its native library fails to load.
    """
    try:
        import c2pa
    except Exception as exc:
        raise FeatureUnavailable(
            f"C2PA checking is unavailable: the c2pa-python package failed to import: {exc}",
            hint="Reinstall identifai-mcp (pip install --force-reinstall identifai-mcp, or "
            "uvx --reinstall identifai-mcp); c2pa-python is one of its dependencies.",
        ) from exc
    return c2pa


@contextmanager
def open_video(path: Path) -> Iterator[Any]:
    """Open a local file with PyAV, refusing playlists and anything that is not a media container.

    Raises:
        NotAVideo: FFmpeg cannot read it as one of VIDEO_DEMUXERS.
        FeatureUnavailable: PyAV failed to load.
    """
    av = load_av()
    try:
        container = av.open(
            f"file:{Path(path).resolve()}",
            container_options={"format_whitelist": VIDEO_DEMUXERS, "protocol_whitelist": "file"},
            metadata_errors="replace",
        )
    except (av.FFmpegError, UnicodeError) as exc:
        raise NotAVideo(f"{Path(path).name} is not a video FFmpeg can read ({_av_reason(exc)}).") from exc
    try:
        yield container
    finally:
        container.close()


@contextmanager
def _ffmpeg_errors(av: ModuleType, name: str) -> Iterator[None]:
    try:
        yield
    except av.FFmpegError as exc:
        raise NotAVideo(f"FFmpeg could not read {name} ({_av_reason(exc)}).") from exc


def video_stream(container: Any, name: str) -> Any:
    """The first real video stream (cover art does not count).

    Raises:
        NotAVideo: there is none.
    """
    for stream in container.streams.video:
        if not _is_cover_art(stream):
            return stream
    kinds = sorted({s.type for s in container.streams}) or ["no streams"]
    raise NotAVideo(f"{name} has no video stream (found: {', '.join(kinds)}).")


# --- container -------------------------------------------------------------------------------


def read_container(path: Path) -> ContainerInfo:
    """Format, streams and tags from the container header; no frame is decoded.

    Raises:
        NotAVideo: not a readable video container.
    """
    av = load_av()
    with open_video(path) as container, _ffmpeg_errors(av, path.name):
        video_stream(container, path.name)
        info = ContainerInfo(
            format=container.format.name,
            format_long=container.format.long_name,
            duration_seconds=_seconds(container.duration, 1e-6),
            bit_rate=container.bit_rate or None,
            tags=_tags(container.metadata),
            streams=[_stream_info(s) for s in container.streams],
        )
    info.encoder = _first_tag(info, "encoder")
    info.handler = next((s.tags["handler_name"] for s in info.streams if "handler_name" in s.tags), None)
    info.creation_time = _first_tag(info, "creation_time", "com.apple.quicktime.creationdate", "date")
    info.origin_hints = _origin_hints(info)
    if info.format and "mp4" in info.format:
        info.fragmented = _is_fragmented(path)
    return info


def _stream_info(stream: Any) -> StreamInfo:
    cc = getattr(stream, "codec_context", None)
    info = StreamInfo(
        index=stream.index,
        type=stream.type,
        codec=getattr(cc, "name", None),
        duration_seconds=_seconds(stream.duration, stream.time_base),
        tags=_tags(stream.metadata),
    )
    info.bit_rate = getattr(cc, "bit_rate", None) or None
    if stream.type == "video" and cc is not None:
        info.width, info.height = cc.width or None, cc.height or None
        rate = stream.average_rate or stream.guessed_rate
        info.frame_rate = round(float(rate), 3) if rate else None
    elif stream.type == "audio" and cc is not None:
        info.sample_rate = cc.sample_rate or None
        layout = getattr(cc, "layout", None)
        info.channels = getattr(layout, "nb_channels", None) or getattr(cc, "channels", None) or None
    if _is_cover_art(stream):
        info.tags.setdefault("disposition", "attached_pic")
    return info


def _is_cover_art(stream: Any) -> bool:
    try:
        return bool(stream.disposition & type(stream.disposition).attached_pic)
    except Exception:
        return False


def _first_tag(info: ContainerInfo, *keys: str) -> str | None:
    for tags in [info.tags, *(s.tags for s in info.streams)]:
        lowered = {k.lower(): v for k, v in tags.items()}
        for key in keys:
            if lowered.get(key):
                return lowered[key]
    return None


def _origin_hints(info: ContainerInfo) -> list[str]:
    hints: list[str] = []
    sources = [("", info.tags), *((f"stream {s.index} ", s.tags) for s in info.streams)]
    for prefix, tags in sources:
        for key, value in tags.items():
            lowered_key, lowered_value = key.lower(), value.lower()
            by_key = any(lowered_key.startswith(k) if k.endswith(".") else lowered_key == k for k in ORIGIN_KEYS)
            by_value = any(name in lowered_value for name in ORIGIN_NAMES)
            hint = f"{prefix}{key}={value}"
            if (by_key or by_value) and hint not in hints:
                hints.append(hint)
    return hints


def _is_fragmented(path: Path) -> bool | None:
    """Whether an MP4 keeps its samples in moof fragments (live, DASH, HLS-fMP4 layout)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            end, position = f.tell(), 0
            while position + 8 <= end:
                f.seek(position)
                size, kind = struct.unpack(">I4s", f.read(8))
                if kind == b"moof":
                    return True
                if size == 1:
                    size = struct.unpack(">Q", f.read(8))[0]
                elif size == 0:
                    break
                if size < 8:
                    return None
                position += size
    except OSError:
        return None
    return False


# --- C2PA ------------------------------------------------------------------------------------


def read_c2pa(path: Path, *, trust_anchors: Path | None = None, errors: list[str] | None = None) -> C2PAReport:
    """What the file's C2PA Content Credentials say, and whether they validate.

    Never raises for the file's content: a c2pa failure becomes `readable=False` and `error`.
    `errors` (when given) collects problems worth showing next to the report, in plain words.

    Raises:
        FeatureUnavailable: c2pa-python failed to load.
    """
    c2pa = load_c2pa()
    errors = errors if errors is not None else []
    report = C2PAReport()
    anchors = _read_anchors(trust_anchors, errors)
    context = _context(c2pa, anchors, errors)
    if context is None:
        anchors, context = None, _context(c2pa, None, errors)
    try:
        with context, path.open("rb") as stream:
            reader = c2pa.Reader.try_create(stream, context=context)
            if reader is None:
                return report
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError.NotSupported:
        report.readable = False
        report.error = f"C2PA credentials cannot be read from this file type ({_suffix(path)})."
    except (c2pa.C2paError, OSError, ValueError) as exc:
        report.readable = False
        reason = _c2pa_reason(exc)
        if isinstance(exc, c2pa.C2paError.RemoteManifest) or reason.startswith("Remote"):
            url = reason.rsplit(" ", 1)[-1] if "://" in reason else "elsewhere"
            report.error = f"The file points to credentials stored at {url}; this offline check does not fetch them."
        else:
            report.error = f"The C2PA data could not be read: {reason}."
    else:
        _fill(report, store, anchors_given=anchors is not None)
    if report.error:
        errors.append(report.error)
    return report


def _context(c2pa: ModuleType, anchors: str | None, errors: list[str]) -> Any:
    # Offline by design: no remote manifests, no OCSP. Without anchors, trust is not evaluated
    # at all (otherwise every signature would fail as "untrusted" against an empty list).
    config: dict[str, Any] = {
        "verify": {"verify_trust": anchors is not None, "remote_manifest_fetch": False, "ocsp_fetch": False}
    }
    if anchors is not None:
        config["trust"] = {"trust_anchors": anchors}
    try:
        return c2pa.Context.from_dict(config)
    except c2pa.C2paError as exc:
        if anchors is None:
            raise FeatureUnavailable(f"c2pa-python could not be configured: {_c2pa_reason(exc)}.") from exc
        errors.append(f"{ANCHORS_PROBLEM} was refused by c2pa ({_c2pa_reason(exc)}); trust was not checked.")
        return None


def _read_anchors(trust_anchors: Path | None, errors: list[str]) -> str | None:
    if trust_anchors is None:
        return None
    try:
        text = Path(trust_anchors).read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        errors.append(f"{ANCHORS_PROBLEM} {trust_anchors} could not be read ({reason}); trust was not checked.")
        return None
    if "-----BEGIN CERTIFICATE-----" not in text:
        errors.append(f"{ANCHORS_PROBLEM} {trust_anchors} holds no PEM certificate; trust was not checked.")
        return None
    return text


def _fill(report: C2PAReport, store: dict[str, Any], *, anchors_given: bool) -> None:
    manifests = store.get("manifests") or {}
    manifest = manifests.get(store.get("active_manifest") or "") or {}
    report.present = True
    report.claim_generator = _claim_generator(manifest)
    report.title = manifest.get("title")
    signature = manifest.get("signature_info") or {}
    if signature:
        report.signer = Signer(issuer=signature.get("issuer"), common_name=signature.get("common_name"))
    report.signed_at = signature.get("time")
    report.actions = _actions(manifest)
    report.ai_declaration = _declaration(report.actions)
    report.ingredients = [
        C2PAIngredient(
            title=i.get("title"),
            format=i.get("format"),
            relationship=i.get("relationship"),
            ai_declaration=_declaration(_actions(manifests.get(i.get("active_manifest") or "") or {})),
        )
        for i in manifest.get("ingredients") or []
    ]
    report.validation_state = store.get("validation_state")
    failures, codes = _validation(store)
    report.trust = (
        "trusted" if "signingCredential.trusted" in codes else "untrusted" if anchors_given else "not_checked"
    )
    # Trust has its own field; the failure list is about integrity and the certificate itself.
    report.validation_failures = [f for f in failures if f.code != "signingCredential.untrusted"]


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, dict):
        info = [info]
    names = [
        " ".join(str(part) for part in (entry.get("name"), entry.get("version")) if part)
        for entry in info or []
        if isinstance(entry, dict) and entry.get("name")
    ]
    return ", ".join(names) or manifest.get("claim_generator")


def _actions(manifest: dict[str, Any]) -> list[C2PAAction]:
    actions = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or None
            source_type = action.get("digitalSourceType") or (action.get("parameters") or {}).get("digitalSourceType")
            actions.append(
                C2PAAction(
                    action=action.get("action"),
                    digital_source_type=source_type,
                    software_agent=agent,
                    when=action.get("when"),
                )
            )
    return actions


def _declaration(actions: list[C2PAAction]) -> AiDeclaration | None:
    declared = {IPTC_AI.get((a.digital_source_type or "").rstrip("/").rsplit("/", 1)[-1]) for a in actions}
    return "generated" if "generated" in declared else "composite" if "composite" in declared else None


def _validation(store: dict[str, Any]) -> tuple[list[ValidationIssue], set[str]]:
    """Failures of the active manifest and its ingredients, and every code seen."""
    results = store.get("validation_results")
    if not isinstance(results, dict):  # older c2pa-rs: a flat validation_status list
        statuses = store.get("validation_status") or []
        return [_issue(s) for s in statuses], {s.get("code", "") for s in statuses}
    groups = [results.get("activeManifest") or {}]
    groups += [(d.get("validationDeltas") or {}) for d in results.get("ingredientDeltas") or []]
    failures = [_issue(s) for g in groups for s in g.get("failure") or []]
    codes = {s.get("code", "") for g in groups for kind in ("success", "failure") for s in g.get(kind) or []}
    return failures, codes


def _issue(status: dict[str, Any]) -> ValidationIssue:
    return ValidationIssue(code=status.get("code"), explanation=status.get("explanation"), url=status.get("url"))


# --- the explanation -------------------------------------------------------------------------


def explain(report: ProvenanceReport) -> str:
    """A few careful sentences: what the credentials declare, what they cannot prove, the container."""
    c2pa = _explain_c2pa(report.c2pa, report.errors)
    room = SUMMARY_LIMIT - len(c2pa) - len(NOT_A_VERDICT) - 2
    return " ".join(p for p in (c2pa, _clip(_explain_container(report.container), room), NOT_A_VERDICT) if p)


def _explain_c2pa(c2pa: C2PAReport, errors: list[str]) -> str:
    if not c2pa.readable:
        return f"C2PA Content Credentials could not be checked: {c2pa.error}"
    if not c2pa.present:
        return (
            "No C2PA Content Credentials were found. That proves nothing either way: re-encoding, screen "
            "recording and most social platforms strip them."
        )
    signer = c2pa.signer or Signer()
    who = _clip(signer.common_name or "an unnamed signer", 60)
    if signer.issuer and signer.issuer != signer.common_name:
        who += f" ({_clip(signer.issuer, 40)})"
    text = f"The file carries C2PA Content Credentials signed by {who}"
    text += f" on {c2pa.signed_at[:10]}" if c2pa.signed_at else ""
    text += f", created with {_clip(c2pa.claim_generator, 60)}." if c2pa.claim_generator else "."
    if c2pa.ai_declaration == "generated":
        text += " They declare it was generated by AI (trainedAlgorithmicMedia)."
    elif c2pa.ai_declaration == "composite":
        text += " They declare it combines AI-generated material (compositeWithTrainedAlgorithmicMedia)."
    else:
        text += " They make no AI-generation declaration."
        declared = [i for i in c2pa.ingredients if i.ai_declaration]
        if declared:
            text += f" An ingredient ({declared[0].title or 'untitled'}) declares AI generation."
    if c2pa.validation_failures:
        first = c2pa.validation_failures[0]
        if "mismatch" in (first.code or ""):
            text += f" They do not validate: the content changed after signing ({first.code})."
        else:
            text += f" They do not validate: {_clip(first.explanation or first.code or 'unknown failure', 120)}."
    else:
        text += " They validate: the file is unchanged since it was signed."
    if c2pa.trust == "trusted":
        text += " Trust: the signer chains to a configured trust anchor."
    elif c2pa.trust == "untrusted":
        text += " Trust: the signer does not chain to any configured trust anchor."
    else:
        problem = any(e.startswith(ANCHORS_PROBLEM) for e in errors)
        reason = "the trust anchors file could not be used" if problem else NO_TRUST_ANCHORS
        text += f" Trust: not checked ({reason})."
    return text + " Credentials state what the signer declared; they do not prove how the video was made."


def _explain_container(info: ContainerInfo | None) -> str:
    if info is None:
        return ""
    video = next((s for s in info.streams if s.type == "video" and s.width), None)
    facts = [_format_label(info)]
    if info.fragmented:
        facts.append("fragmented MP4")
    if info.duration_seconds is not None:
        facts.append(f"{info.duration_seconds:.1f} s")
    if video:
        rate = f" at {video.frame_rate:g} fps" if video.frame_rate else ""
        facts.append(f"{video.codec} {video.width}x{video.height}{rate}")
    if not any(s.type == "audio" for s in info.streams):
        facts.append("no audio")
    text = "Container: " + ", ".join(facts)
    tags = [
        f"encoder {info.encoder}" if info.encoder else "",
        f"created {info.creation_time}" if info.creation_time else "",
    ]
    makers = [h for h in info.origin_hints if any(k in h.lower() for k in ("make=", "model=", "software="))]
    tags += makers[:2]
    tags = [t for t in tags if t]
    return text + ("; tags: " + "; ".join(tags) if tags else "") + "."


def _format_label(info: ContainerInfo) -> str:
    if info.format and info.format.startswith("mov,"):
        brand = info.tags.get("major_brand", "").strip()
        return "QuickTime MOV" if brand == "qt" else "3GP" if brand.startswith("3g") else f"MP4 ({brand or 'no brand'})"
    return info.format_long or info.format or "unknown container"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rsplit(" ", 1)[0].rstrip(",;:") + "…" if limit > 20 else ""


# --- small helpers ---------------------------------------------------------------------------


def _tags(metadata: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(metadata or {}).items()}


def _seconds(value: Any, unit: Any) -> float | None:
    if value is None or unit is None or value <= 0:
        return None
    return round(float(value * unit), 3)


def _suffix(path: Path) -> str:
    return path.suffix.lstrip(".").upper() or "no file extension"


def _av_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _c2pa_reason(exc: Exception) -> str:
    return (getattr(exc, "message", None) or str(exc) or type(exc).__name__).strip().rstrip(".")
