"""Evidence frames: small JPEG thumbnails of chosen moments of a local video, with timestamps.

The four methods follow identifAI's frame strategies:

- ``time``: equally spaced moments (the middle of `count` equal slices of the video).
- ``iframes``: the encoder's key frames, evenly thinned to `count`.
- ``color``: per shot, the frame whose colour histogram is nearest the shot's average (what
  FFmpeg's ``thumbnail`` filter does per batch).
- ``flow``: per shot, the stillest frame: the lowest mean absolute difference from the frame
  before it, on small downscaled pictures. A cheap stand-in for optical-flow magnitude, which
  would need OpenCV.

Shots are cut where consecutive downscaled frames differ a lot (like PySceneDetect's
ContentDetector). `color` and `flow` decode the whole video once, keeping only running
statistics and a bounded list of candidates per shot; then every method seeks to its chosen
moments and encodes those frames alone with FFmpeg's MJPEG encoder (no Pillow, no numpy).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from identifai_mcp.errors import InputError
from identifai_mcp.inspect import load_av, open_video, video_stream

__all__ = ["ExtractedFrame", "FramesReport", "Method", "extract_frames", "file_hash", "frame_path"]

Method = Literal["time", "iframes", "color", "flow"]
METHODS: tuple[Method, ...] = ("time", "iframes", "color", "flow")
MAX_FRAMES = 100
ANALYSIS_WIDTH = 32  # pixels; shot detection and colour stats work on pictures this wide
CUT_THRESHOLD = 30.0  # mean absolute RGB difference (0-255) between consecutive frames
MIN_SHOT_SECONDS = 0.5  # a cut closer than this to the previous one is ignored (flashes)
HISTOGRAM_BINS = 16  # per channel
MAX_CANDIDATES = 64  # per shot, for `color`; thinned by halves as a shot grows
SEEK_AHEAD_SECONDS = 2.0  # beyond this, seeking beats decoding forward


class ExtractedFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="Position in this extraction; the N of identifai://frames/{hash}/N.")
    timestamp_seconds: float = Field(description="Presentation time from the start of the video.")
    path: str
    width: int
    height: int
    bytes: int
    shot: int | None = Field(default=None, description="Shot number (from 0) for the color and flow methods.")


class FramesReport(BaseModel):
    """structuredContent of extract_frames."""

    model_config = ConfigDict(extra="forbid")

    hash: str = Field(description="SHA-256 of the video file.")
    method: Method
    requested: int
    frames: list[ExtractedFrame] = Field(default_factory=list)
    duration_seconds: float | None = None
    shots: int | None = Field(default=None, description="Shots found (color and flow methods).")
    scanned_seconds: float | None = Field(default=None, description=(
        "color and flow: how far into the video the shot scan got; less than duration_seconds when "
        "its time budget ran out, and then only that part was searched for shots."))
    summary: str = ""


def frame_path(cache_root: Path, hash: str, index: int) -> Path:
    """Where frame `index` of the video with SHA-256 `hash` lives: <root>/frames/<hash>/<index>.jpg."""
    if len(hash) != 64 or any(c not in "0123456789abcdef" for c in hash) or index < 0:
        raise InputError(f"Not a frame reference: {hash}/{index}.")
    return Path(cache_root) / "frames" / hash / f"{index}.jpg"


def file_hash(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def extract_frames(
    path: Path,
    *,
    count: int = 10,
    method: Method = "time",
    out_dir: Path,
    max_side: int = 320,
    quality: int = 75,
    scan_budget: float | None = None,
) -> FramesReport:
    """Write up to `count` evidence frames of `path` as JPEGs under `out_dir` (see `frame_path`).

    `color` and `flow` give at most one frame per shot, so they may return fewer than `count`;
    when there are more shots than `count`, the longest shots are kept. They decode the whole
    video, so `scan_budget` (seconds) can cap that scan; the report says how far it got. A new
    extraction of the same video replaces the previous one's files.

    Raises:
        InputError: bad arguments, or no frame could be decoded.
        NotAVideo: FFmpeg finds no video stream.
        FeatureUnavailable: PyAV failed to load.
    """
    _check_arguments(count, method, max_side, quality)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a readable file.")
    try:
        digest = file_hash(path)
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    with open_video(path) as container, _media_errors(path.name, Path(out_dir)):
        stream = video_stream(container, path.name)
        stream.thread_type = "AUTO"
        clip = _Clip.of(container, stream)
        shots: list[_Shot] | None = None
        scanned: float | None = None
        shot_of: dict[int, int] = {}  # chosen pts -> shot number
        if method == "time":
            targets = _time_targets(clip, count)
        elif method == "iframes":
            targets = _keyframe_targets(container, stream, count)
        else:
            shots, scanned = _shots(container, stream, clip, method, scan_budget)
            targets = _shot_targets(shots, count)
            shot_of = {s.choice: n for n, s in enumerate(shots) if s.choice is not None}
        grabbed = _grab(container, stream, clip, targets, keyframes_only=method == "iframes")
        if not grabbed:
            raise InputError(f"No frame could be decoded from {path.name}.")
        frames = _write(grabbed, clip, Path(out_dir), digest, max_side=max_side, quality=quality)
    for frame, (target, _) in zip(frames, grabbed, strict=True):
        frame.shot = shot_of.get(target)
    report = FramesReport(
        hash=digest,
        method=method,
        requested=count,
        frames=frames,
        duration_seconds=round(clip.duration, 3) if clip.duration else None,
        shots=len(shots) if shots is not None else None,
        scanned_seconds=round(scanned, 3) if scanned is not None else None,
    )
    report.summary = _explain(report)
    return report


@contextmanager
def _media_errors(name: str, out_dir: Path) -> Iterator[None]:
    av = load_av()
    try:
        yield
    except av.FFmpegError as exc:
        raise InputError(f"FFmpeg failed while reading frames from {name} ({exc.strerror or exc}).") from exc
    except OSError as exc:
        raise InputError(f"Cannot write frames under {out_dir}: {exc.strerror or exc}.") from exc


def _check_arguments(count: int, method: str, max_side: int, quality: int) -> None:
    if method not in METHODS:
        raise InputError(f"Unknown frame method {method!r}: use one of {', '.join(METHODS)}.")
    if not 1 <= count <= MAX_FRAMES:
        raise InputError(f"frames must be between 1 and {MAX_FRAMES}, not {count}.")
    if not 16 <= max_side <= 4096:
        raise InputError(f"max_side must be between 16 and 4096 pixels, not {max_side}.")
    if not 1 <= quality <= 100:
        raise InputError(f"quality must be between 1 and 100, not {quality}.")


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clip:
    """The video stream's clock: pts <-> seconds from the start."""

    time_base: Fraction
    start: int  # pts of the first frame
    duration: float  # seconds; 0 when unknown
    frame_seconds: float
    pixel_aspect: float  # sample aspect ratio: 1 for square pixels

    @classmethod
    def of(cls, container: Any, stream: Any) -> _Clip:
        time_base = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        duration = float(stream.duration * time_base) if stream.duration else 0.0
        if not duration and container.duration:
            duration = container.duration / 1_000_000
        rate = stream.average_rate or stream.guessed_rate
        aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        return cls(time_base, start, duration, 1 / float(rate) if rate else 1 / 30, float(aspect or 1) or 1.0)

    def seconds(self, pts: int) -> float:
        return max(float((pts - self.start) * self.time_base), 0.0)

    def pts(self, seconds: float) -> int:
        return self.start + int(seconds / self.time_base)


def _time_targets(clip: _Clip, count: int) -> list[int]:
    if not clip.duration:
        return [clip.start]
    count = min(count, max(1, round(clip.duration / clip.frame_seconds)))
    return [clip.pts(clip.duration * (i + 0.5) / count) for i in range(count)]


def _keyframe_targets(container: Any, stream: Any, count: int) -> list[int]:
    # Key frames come from the packets' key flag: finding them needs no decoding at all.
    keyframes = [p.pts for p in _packets(container, stream) if p.is_keyframe and p.pts is not None]
    keyframes = sorted(set(keyframes))
    container.seek(0, stream=stream, backward=True)
    if len(keyframes) <= count:
        return keyframes
    if count == 1:
        return [keyframes[len(keyframes) // 2]]
    return [keyframes[round(i * (len(keyframes) - 1) / (count - 1))] for i in range(count)]


# --- shots -----------------------------------------------------------------------------------


@dataclass
class _Shot:
    """Running statistics of one shot; memory stays bounded however long it is."""

    first_pts: int
    last_pts: int = 0
    frames: int = 0
    histogram_sum: list[int] = field(default_factory=lambda: [0] * (3 * HISTOGRAM_BINS))
    candidates: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (pts, histogram)
    stride: int = 1
    stillest: tuple[float, int] | None = None  # (difference from the previous frame, pts)
    choice: int | None = None  # pts of the chosen frame

    def add(self, pts: int, histogram: tuple[int, ...], difference: float | None, method: str) -> None:
        self.last_pts = pts
        if method == "color":
            self.histogram_sum = list(map(operator.add, self.histogram_sum, histogram))
            if self.frames % self.stride == 0:
                self.candidates.append((pts, histogram))
                if len(self.candidates) > MAX_CANDIDATES:
                    self.candidates = self.candidates[::2]
                    self.stride *= 2
        elif difference is not None and (self.stillest is None or difference < self.stillest[0]):
            self.stillest = (difference, pts)
        self.frames += 1

    def close(self, method: str) -> None:
        if method == "color" and self.candidates:
            mean = [total / self.frames for total in self.histogram_sum]
            self.choice = min(
                self.candidates, key=lambda c: sum((h - m) ** 2 for h, m in zip(c[1], mean, strict=True))
            )[0]
        else:
            self.choice = self.stillest[1] if self.stillest else self.first_pts
        self.candidates = []


def _shots(
    container: Any, stream: Any, clip: _Clip, method: str, budget: float | None
) -> tuple[list[_Shot], float]:
    """Decode every frame once (or until `budget` seconds pass), cut shots, pick each shot's frame.

    Returns the shots and the timestamp the scan reached.
    """
    deadline = None if budget is None else time.monotonic() + budget
    reached = 0.0
    shots: list[_Shot] = []
    previous: bytes | None = None
    # One reformatter keeps its scaling context between frames: 60 times faster than frame.reformat.
    scaler = load_av().video.reformatter.VideoReformatter()
    min_gap = max(int(MIN_SHOT_SECONDS / clip.time_base), 1)
    for frame in _decoded(container, stream):
        if frame.pts is None:
            continue
        if deadline is not None and shots and time.monotonic() > deadline:
            break
        reached = clip.seconds(frame.pts)
        pixels = _small_rgb(scaler, frame)
        difference = _mean_abs_difference(pixels, previous) if previous is not None else None
        previous = pixels
        cut = difference is not None and difference >= CUT_THRESHOLD and frame.pts - shots[-1].first_pts >= min_gap
        if not shots or cut:
            if shots:
                shots[-1].close(method)
            shots.append(_Shot(first_pts=frame.pts))
            difference = None  # the difference across a cut says nothing about stillness
        histogram = _histogram(pixels) if method == "color" else ()
        shots[-1].add(frame.pts, histogram, difference, method)
    if shots:
        shots[-1].close(method)
    container.seek(0, stream=stream, backward=True)
    return shots, reached


def _shot_targets(shots: list[_Shot], count: int) -> list[int]:
    kept = sorted(shots, key=lambda s: s.last_pts - s.first_pts, reverse=True)[:count]
    return sorted(s.choice for s in kept if s.choice is not None)


def _small_rgb(scaler: Any, frame: Any) -> bytes:
    height = max(2, round(ANALYSIS_WIDTH * frame.height / max(frame.width, 1)))
    small = scaler.reformat(frame, width=ANALYSIS_WIDTH, height=height, format="rgb24", interpolation="AREA")
    plane, row = small.planes[0], ANALYSIS_WIDTH * 3
    data = bytes(plane)
    if plane.line_size == row:
        return data
    return b"".join(data[y * plane.line_size : y * plane.line_size + row] for y in range(height))


def _mean_abs_difference(a: bytes, b: bytes) -> float:
    return sum(map(abs, map(operator.sub, a, b))) / max(len(a), 1)


_QUANTIZE = bytes(v * HISTOGRAM_BINS // 256 for v in range(256))


def _histogram(pixels: bytes) -> tuple[int, ...]:
    counts: list[int] = []
    for channel in range(3):
        quantized = pixels[channel::3].translate(_QUANTIZE)
        counts.extend(quantized.count(level) for level in range(HISTOGRAM_BINS))
    return tuple(counts)


# --- decoding --------------------------------------------------------------------------------


def _decoded(container: Any, stream: Any) -> Iterator[Any]:
    """Frames of `stream` from the current position; a decoding error ends the walk quietly."""
    av = load_av()
    try:
        yield from container.decode(stream)
    except av.FFmpegError:
        return


def _packets(container: Any, stream: Any) -> Iterator[Any]:
    av = load_av()
    try:
        yield from container.demux(stream)
    except av.FFmpegError:
        return


def _grab(
    container: Any, stream: Any, clip: _Clip, targets: list[int], *, keyframes_only: bool
) -> list[tuple[int, Any]]:
    """(target, decoded frame at or just after it) for each target pts, seeking only when it pays."""
    stream.codec_context.skip_frame = "NONKEY" if keyframes_only else "DEFAULT"
    tolerance = int(clip.frame_seconds / 2 / clip.time_base)
    seek_ahead = int(SEEK_AHEAD_SECONDS / clip.time_base)
    grabbed: list[tuple[int, Any]] = []
    frames: Iterator[Any] | None = None
    position: int | None = None
    for target in sorted(set(targets)):
        if frames is None or position is None or target < position or target - position > seek_ahead:
            frames = _seek_before(container, stream, clip, target, tolerance)
        last = None
        for frame in frames:
            if frame.pts is None:
                continue
            position, last = frame.pts, frame
            if frame.pts >= target - tolerance:
                break
        if last is not None and (not grabbed or last.pts != grabbed[-1][1].pts):
            grabbed.append((target, last))
    return grabbed


def _seek_before(container: Any, stream: Any, clip: _Clip, target: int, tolerance: int) -> Iterator[Any]:
    """Decoded frames from a key frame at or before `target`.

    Some demuxers (MPEG-TS) land on the key frame after the requested time; step back until the
    first frame is not past the target.
    """
    back = 0
    while True:
        position = max(target - back, clip.start)
        container.seek(position, stream=stream, backward=True)
        frames = (f for f in _decoded(container, stream) if f.pts is not None)
        first = next(frames, None)
        if first is None or first.pts <= target + tolerance or position == clip.start:
            return itertools.chain([first] if first is not None else [], frames)
        back = max(back * 2, int(1 / clip.time_base))


# --- output ----------------------------------------------------------------------------------


def _write(
    grabbed: list[tuple[int, Any]], clip: _Clip, out_dir: Path, digest: str, *, max_side: int, quality: int
) -> list[ExtractedFrame]:
    folder = frame_path(out_dir, digest, 0).parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    scaler = load_av().video.reformatter.VideoReformatter()
    for index, (_, frame) in enumerate(grabbed):
        data, width, height = _jpeg(scaler, frame, clip.pixel_aspect, max_side=max_side, quality=quality)
        target = frame_path(out_dir, digest, index)
        partial = target.with_name(f".{index}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, target)  # readers never see half a JPEG
        written.append(
            ExtractedFrame(
                index=index,
                timestamp_seconds=round(clip.seconds(frame.pts), 3),
                path=str(target),
                width=width,
                height=height,
                bytes=len(data),
            )
        )
    for stale in folder.glob("*.jpg"):  # left by an earlier, longer extraction
        if stale.stem.isdigit() and int(stale.stem) >= len(grabbed):
            stale.unlink(missing_ok=True)
    return written


def _jpeg(scaler: Any, frame: Any, pixel_aspect: float, *, max_side: int, quality: int) -> tuple[bytes, int, int]:
    """One frame as a baseline JPEG no larger than max_side, upright and with square pixels."""
    av = load_av()
    rotation = round(getattr(frame, "rotation", 0) or 0) % 360
    display_width = frame.width * pixel_aspect
    scale = min(1.0, max_side / max(display_width, frame.height))
    width = max(2, round(display_width * scale / 2) * 2)
    height = max(2, round(frame.height * scale / 2) * 2)
    small = scaler.reformat(frame, width=width, height=height, format="yuvj420p", interpolation="AREA")
    small = _upright(small, rotation)
    small.pts = None
    width, height = small.width, small.height
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # MJPEG quantiser 2 (best) .. 31 (worst); qmin = qmax pins it, there is no per-frame setting here.
    encoder.qmin = encoder.qmax = round(2 + (100 - quality) * 29 / 99)
    packets = encoder.encode(small) + encoder.encode(None)
    return b"".join(bytes(p) for p in packets), width, height


def _upright(frame: Any, rotation: int) -> Any:
    """Apply the display-matrix rotation phones record, as players do."""
    if rotation not in (90, 180, 270):
        return frame
    av = load_av()
    # frame.rotation is counter-clockwise; FFmpeg's own autorotate uses the same filters.
    chain: dict[int, list[tuple[str, str | None]]] = {
        90: [("transpose", "cclock")],
        180: [("hflip", None), ("vflip", None)],
        270: [("transpose", "clock")],
    }
    graph = av.filter.Graph()
    nodes = [
        graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name, time_base=Fraction(1, 25))
    ]
    nodes += [graph.add(name, args) for name, args in chain[rotation]]
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    frame.pts = 0
    graph.push(frame)
    return graph.pull()


def _explain(report: FramesReport) -> str:
    n = len(report.frames)
    if not n:
        return "No frames were extracted."
    span = f"{report.frames[0].timestamp_seconds:.1f} s to {report.frames[-1].timestamp_seconds:.1f} s"
    how = {
        "time": "equally spaced",
        "iframes": "at key frames",
        "color": f"one per shot, nearest each shot's average colour ({report.shots} shots found)",
        "flow": f"one per shot, the stillest moment of each ({report.shots} shots found)",
    }[report.method]
    text = f"Extracted {n} of {report.requested} requested frames {how}, {span}, as JPEG thumbnails."
    if n < report.requested and report.method in ("time", "iframes"):
        text += " The video has fewer distinct frames or key frames than requested."
    duration, scanned = report.duration_seconds, report.scanned_seconds
    if duration and scanned is not None and scanned < duration - 1:
        text += (f" The shot scan stopped at its time budget, so only the first {scanned:.0f} s of"
                 f" {duration:.0f} s were searched; use time or iframes for long videos.")
    return text + " They are evidence to look at, not a detection verdict."
