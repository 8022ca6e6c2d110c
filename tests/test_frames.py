from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from identifai_mcp.errors import InputError, NotAVideo
from identifai_mcp.frames import FramesReport, extract_frames, frame_path
from tests.media import (
    BLUE,
    GREEN,
    RED,
    SHOTS,
    SHOTS_FPS,
    SHOTS_SECONDS,
    WHITE,
    Media,
    Shot,
    make_mp4,
    set_rotation,
    shot_bounds,
)

BOUNDS = shot_bounds(SHOTS, seconds=SHOTS_SECONDS, fps=SHOTS_FPS)  # [(0, 1.5), (1.5, 4.5), (4.5, 6)]
BLOCK_STOPS = BOUNDS[1][0] + SHOTS[1].moving_seconds  # 3.0 s: the green shot is still from here


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media.for_session(tmp_path_factory)


def _times(report: FramesReport) -> list[float]:
    return [f.timestamp_seconds for f in report.frames]


def _shot_at(seconds: float) -> int:
    return next(n for n, (start, end) in enumerate(BOUNDS) if start <= seconds < end)


def _mean_rgb(jpeg: Path) -> tuple[float, float, float]:
    import av

    with av.open(str(jpeg)) as container:
        frame = next(container.decode(video=0)).reformat(width=8, height=8, format="rgb24")
    data = (
        bytes(frame.planes[0])[: 8 * 8 * 3]
        if frame.planes[0].line_size == 24
        else b"".join(
            bytes(frame.planes[0])[y * frame.planes[0].line_size : y * frame.planes[0].line_size + 24] for y in range(8)
        )
    )
    return tuple(sum(data[c::3]) / 64 for c in range(3))  # type: ignore[return-value]


def test_time_method_gives_count_equally_spaced_jpegs_in_the_cache_layout(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=10, method="time", out_dir=tmp_path)

    assert report.hash == hashlib.sha256(media.shots.read_bytes()).hexdigest()
    assert (report.method, report.requested, report.shots) == ("time", 10, None)
    assert [f.index for f in report.frames] == list(range(10))
    assert _times(report) == pytest.approx([0.3 + 0.6 * i for i in range(10)], abs=0.051)
    for frame in report.frames:
        path = Path(frame.path)
        assert path == frame_path(tmp_path, report.hash, frame.index)
        data = path.read_bytes()
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
        assert (frame.width, frame.height, frame.bytes) == (64, 48, len(data))
        assert frame.shot is None
    assert "Extracted 10 of 10" in report.summary


def test_thumbnails_keep_the_picture_colours(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=3, method="time", out_dir=tmp_path)
    red, green, blue = (_mean_rgb(Path(f.path)) for f in report.frames)

    assert red[0] > 150 and red[1] < 80 and red[2] < 80
    assert green[1] > 120 and green[0] < 150
    assert blue[2] > 150 and blue[0] < 80


def test_iframes_returns_the_keyframes_placed_by_the_gop(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=10, method="iframes", out_dir=tmp_path)

    assert _times(report) == pytest.approx([0.0, 1.5, 3.0, 4.5])
    assert "fewer distinct frames or key frames" in report.summary


def test_iframes_thins_keyframes_evenly_to_count(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=2, method="iframes", out_dir=tmp_path)
    assert _times(report) == pytest.approx([0.0, 4.5])


def test_color_picks_one_frame_inside_each_shot(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=10, method="color", out_dir=tmp_path)

    assert report.shots == 3
    assert [f.shot for f in report.frames] == [0, 1, 2]
    assert [_shot_at(t) for t in _times(report)] == [0, 1, 2]
    assert _times(report) == sorted(_times(report))


def test_flow_picks_the_still_part_of_a_shot_with_motion(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=10, method="flow", out_dir=tmp_path)

    assert report.shots == 3
    assert [f.shot for f in report.frames] == [0, 1, 2]
    assert [_shot_at(t) for t in _times(report)] == [0, 1, 2]
    green = report.frames[1].timestamp_seconds
    assert BLOCK_STOPS <= green < BOUNDS[1][1]


def test_color_skips_the_untypical_start_of_a_shot(tmp_path: Path) -> None:
    # The square appears after 0.3 s: too small a change to cut, so the average shot has it.
    shots = [Shot(GREEN, seconds=0.3), Shot(GREEN, seconds=1.7, block=WHITE, block_size=16, block_step=0)]
    video = make_mp4(tmp_path / "late-square.mp4", seconds=2, shots=shots)
    report = extract_frames(video, count=5, method="color", out_dir=tmp_path)

    assert report.shots == 1
    assert report.frames[0].timestamp_seconds >= 0.3


def test_shot_methods_keep_the_longest_shots_when_count_is_smaller(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.shots, count=1, method="color", out_dir=tmp_path)
    assert [f.shot for f in report.frames] == [1]  # the 3-second green shot


def test_a_single_shot_video_gives_one_frame_for_color(tmp_path: Path) -> None:
    video = make_mp4(tmp_path / "one.mp4", seconds=2, shots=[Shot(BLUE, block=WHITE)])
    report = extract_frames(video, count=5, method="color", out_dir=tmp_path)
    assert report.shots == 1 and len(report.frames) == 1


def test_count_is_capped_by_the_number_of_frames(tmp_path: Path) -> None:
    video = make_mp4(tmp_path / "short.mp4", seconds=0.5, fps=10)
    report = extract_frames(video, count=30, method="time", out_dir=tmp_path)

    assert len(report.frames) == 5
    assert len(set(_times(report))) == 5


def test_a_shorter_extraction_replaces_the_previous_files(media: Media, tmp_path: Path) -> None:
    extract_frames(media.shots, count=6, method="time", out_dir=tmp_path)
    report = extract_frames(media.shots, count=2, method="time", out_dir=tmp_path)

    folder = frame_path(tmp_path, report.hash, 0).parent
    assert sorted(p.name for p in folder.iterdir()) == ["0.jpg", "1.jpg"]


def test_max_side_bounds_the_thumbnail(tmp_path: Path) -> None:
    video = make_mp4(tmp_path / "wide.mp4", seconds=0.3, size=(160, 90))
    report = extract_frames(video, count=1, out_dir=tmp_path, max_side=64)
    assert (report.frames[0].width, report.frames[0].height) == (64, 36)


def test_rotated_phone_video_gives_upright_thumbnails(tmp_path: Path) -> None:
    video = make_mp4(
        tmp_path / "portrait.mp4", seconds=0.3, size=(64, 48), shots=[Shot(RED, block=WHITE, block_step=0)]
    )
    set_rotation(video, 90)
    frame = extract_frames(video, count=1, out_dir=tmp_path).frames[0]
    assert (frame.width, frame.height) == (48, 64)


@pytest.mark.parametrize(("container_format", "suffix"), [("mpegts", "ts"), ("matroska", "mkv")])
def test_other_containers_give_the_same_moments(tmp_path: Path, container_format: str, suffix: str) -> None:
    # MPEG-TS starts its clock at 1.4 s and seeks land after the requested time: both are handled.
    video = make_mp4(
        tmp_path / f"shots.{suffix}",
        seconds=SHOTS_SECONDS,
        fps=SHOTS_FPS,
        shots=SHOTS,
        gop=15,
        container_format=container_format,
    )
    timed = extract_frames(video, count=4, method="time", out_dir=tmp_path)
    still = extract_frames(video, count=4, method="flow", out_dir=tmp_path)

    assert _times(timed) == pytest.approx([0.7, 2.2, 3.7, 5.2], abs=0.051)
    assert [_shot_at(t) for t in _times(still)] == [0, 1, 2]


def test_fragmented_mp4_frames_can_be_extracted(media: Media, tmp_path: Path) -> None:
    report = extract_frames(media.fragmented, count=4, method="time", out_dir=tmp_path)
    assert len(report.frames) == 4
    assert _times(report) == sorted(_times(report))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "between 1 and 100"),
        ({"count": 101}, "between 1 and 100"),
        ({"method": "scenes"}, "Unknown frame method"),
        ({"max_side": 8}, "max_side"),
        ({"quality": 0}, "quality"),
    ],
)
def test_bad_arguments_are_input_errors(media: Media, tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        extract_frames(media.shots, out_dir=tmp_path, **kwargs)


def test_not_a_video_is_a_clear_error(media: Media, tmp_path: Path) -> None:
    with pytest.raises(NotAVideo):
        extract_frames(media.not_a_video, out_dir=tmp_path)


@pytest.mark.parametrize(("digest", "index"), [("../../etc", 0), ("a" * 63, 0), ("a" * 64, -1), ("A" * 64, 0)])
def test_frame_path_refuses_anything_but_a_sha256_and_an_index(tmp_path: Path, digest: str, index: int) -> None:
    with pytest.raises(InputError):
        frame_path(tmp_path, digest, index)


def test_frame_path_layout(tmp_path: Path) -> None:
    assert frame_path(tmp_path, "ab" * 32, 3) == tmp_path / "frames" / ("ab" * 32) / "3.jpg"


def test_shot_scan_stops_at_its_budget_and_says_so(tmp_path: Path) -> None:
    from tests.media import make_mp4

    video = make_mp4(tmp_path / "long.mp4", seconds=4, fps=25)
    report = extract_frames(video, count=3, method="flow", out_dir=tmp_path / "out", scan_budget=0.0)
    assert report.frames, "the part scanned still yields a frame"
    assert report.scanned_seconds is not None and report.scanned_seconds < 1.0
    assert "time budget" in report.summary
    full = extract_frames(video, count=3, method="flow", out_dir=tmp_path / "out2")
    assert full.scanned_seconds is not None and full.scanned_seconds > 3.5
    assert "time budget" not in full.summary
