"""Benchmark local inspection and frame extraction on a 10-second and a 10-minute 720p video.

    .venv/bin/python bench/inspect_local.py [--out docs/benchmarks-inspect.md] [--cache DIR]

The clip is three solid-colour shots with a moving block and a band of noise, encoded at a
phone-like 2.5 Mbit/s so the files have realistic sizes (c2pa validation hashes the whole file).
The 10-minute file is that clip remuxed 60 times (no re-encoding). Both are cached under --cache
(default: a folder in the system temp dir), so only the first run pays for making them.
"""

import os
import sys

# Run from a checkout without installing.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import c2pa  # noqa: E402

from identifai_mcp.frames import METHODS, extract_frames  # noqa: E402
from identifai_mcp.inspect import inspect_file  # noqa: E402
from tests.media import BLUE, GREEN, RED, issue_signer, make_ca, make_signed_mp4  # noqa: E402

ROOT = Path(_HERE).parent
SIZE = (1280, 720)
FPS = 25
BIT_RATE = 2_500_000
CLIP_SECONDS = 10
REPEATS = 60  # 10 s x 60 = 10 min
COUNT = 10
SHOTS = ((RED, 2.5), (GREEN, 4.0), (BLUE, 3.5))  # colour, seconds
NOISE_ROWS = 120  # a band of fresh noise every frame keeps the bit rate up
BLOCK = 160  # a white square that moves during the first half of each shot


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-inspect.md")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "identifai-mcp-bench")
    parser.add_argument("--repeat", type=int, default=5, help="runs of inspect_file per file (median kept)")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    files = _make_files(args.cache)
    rows_inspect = []
    for label, path in files.items():
        inspect_file(path)  # first call pays the lazy imports; measured separately below
        seconds = _median(lambda p=path: inspect_file(p), args.repeat)
        report = inspect_file(path)
        rows_inspect.append((label, path.stat().st_size, seconds, report.c2pa.present))
        print(f"inspect {label}: {seconds * 1000:.1f} ms", file=sys.stderr)

    rows_frames = []
    out_dir = args.cache / "frames-out"
    for label in ("10 s", "10 min"):
        path = files[label]
        for method in METHODS:
            start = time.perf_counter()
            report = extract_frames(path, count=COUNT, method=method, out_dir=out_dir)
            seconds = time.perf_counter() - start
            source_frames = round((report.duration_seconds or 0) * FPS)
            rows_frames.append((label, method, len(report.frames), seconds, report.shots, source_frames))
            print(f"frames {label} {method}: {len(report.frames)} in {seconds:.2f} s", file=sys.stderr)
    shutil.rmtree(out_dir, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_markdown(rows_inspect, rows_frames, _cold_import_ms()))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _make_files(cache: Path) -> dict[str, Path]:
    clip, long = cache / "clip-10s.mp4", cache / "clip-10min.mp4"
    if not clip.exists():
        start = time.perf_counter()
        _make_clip(clip)
        print(f"made {clip} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if not long.exists():
        _repeat(clip, long, REPEATS)
    identity = issue_signer(make_ca())
    signed_clip, signed_long = cache / "clip-10s-signed.mp4", cache / "clip-10min-signed.mp4"
    make_signed_mp4(clip, signed_clip, identity=identity)
    make_signed_mp4(long, signed_long, identity=identity)
    return {"10 s": clip, "10 min": long, "10 s, signed": signed_clip, "10 min, signed": signed_long}


def _make_clip(path: Path) -> None:
    width, height = SIZE
    with av.open(str(path) + ".part", "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = BIT_RATE
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "scenecut=0"}
        stream.codec_context.gop_size = FPS * 2
        index = 0
        for colour, seconds in SHOTS:
            background = bytearray(bytes(colour) * (width * height))
            frames = round(seconds * FPS)
            for n in range(frames):
                picture = bytearray(background)
                x = min(n, frames // 2) * 12 % (width - BLOCK)
                for row in range(200, 200 + BLOCK):
                    picture[(row * width + x) * 3 : (row * width + x + BLOCK) * 3] = b"\xff" * (BLOCK * 3)
                band = (height - NOISE_ROWS) * width * 3
                picture[band:] = os.urandom(NOISE_ROWS * width * 3)
                frame = av.VideoFrame(width, height, "rgb24")
                frame.planes[0].update(bytes(picture))
                frame = frame.reformat(format="yuv420p")
                frame.pts = index
                index += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    os.replace(str(path) + ".part", path)


def _repeat(src: Path, dst: Path, times: int) -> None:
    """Concatenate a clip with itself by remuxing packets; every copy starts on a key frame."""
    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        packets = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in source.demux(stream) if p.size]
        span = max(pts for _, pts, _, _ in packets) + int(1 / (stream.average_rate * stream.time_base))
        with av.open(str(dst) + ".part", "w", format="mp4") as out:
            target = out.add_stream_from_template(stream)
            for n in range(times):
                for data, pts, dts, key in packets:
                    packet = av.Packet(data)
                    packet.stream, packet.time_base = target, stream.time_base
                    packet.pts, packet.dts, packet.is_keyframe = pts + n * span, dts + n * span, key
                    out.mux(packet)
    os.replace(str(dst) + ".part", dst)


def _median(run: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _cold_import_ms() -> dict[str, float]:
    import subprocess

    result = {}
    for module in ("av", "c2pa"):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result[module] = float(out.stdout) * 1000
    return result


def _markdown(rows_inspect: list, rows_frames: list, imports: dict[str, float]) -> str:
    lines = [
        "# Benchmarks: local inspection and frame extraction",
        "",
        "Made by `.venv/bin/python bench/inspect_local.py`. Synthetic 1280x720 H.264 at 25 fps and 2.5 Mbit/s",
        "(libx264 ultrafast, key frame every 2 s, three solid-colour shots with a moving square and a band",
        "of noise); the 10-minute file is the 10-second clip remuxed 60 times. Signed copies carry a C2PA",
        "manifest (ES256, throwaway test CA).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), c2pa-python {c2pa.__version__} "
        f"(c2pa-rs {c2pa.sdk_version()}).",
        "",
        "## inspect_file",
        "",
        "Median of several runs after the first (which also pays the lazy imports: "
        + ", ".join(f"`import {m}` {ms:.0f} ms" for m, ms in imports.items())
        + "). Nothing is decoded: the cost is the container header plus, for signed files, c2pa",
        "hashing the whole file to validate it.",
        "",
        "| file | size | C2PA | inspect_file |",
        "| --- | ---: | --- | ---: |",
    ]
    for label, size, seconds, present in rows_inspect:
        lines.append(f"| {label} | {size / 1e6:.1f} MB | {'yes' if present else 'no'} | {seconds * 1000:.1f} ms |")
    lines += [
        "",
        f"## extract_frames (count={COUNT}, max_side=320)",
        "",
        "`time` and `iframes` seek to each chosen moment and decode only from the key frame before it;",
        "`color` and `flow` decode every frame once to find shots, then seek to each shot's chosen frame.",
        "Total includes hashing the file (SHA-256) and writing the JPEGs.",
        "",
        "| file | method | frames | shots | total | per frame out | per source frame |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, method, frames, seconds, shots, source_frames in rows_frames:
        per = f"{seconds / frames * 1000:.0f} ms" if frames else "-"
        per_source = f"{seconds / source_frames * 1000:.2f} ms" if shots is not None and source_frames else "-"
        shots_text = shots if shots is not None else "-"
        lines.append(f"| {label} | {method} | {frames} | {shots_text} | {seconds:.2f} s | {per} | {per_source} |")
    lines += [
        "",
        "`color` and `flow` cost grows with the video's length (every frame is decoded once); `time` and",
        "`iframes` cost depends on the number of frames asked for and the key-frame interval only.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
