"""check_video_file: one test per attack or case, on real files in tmp_path."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identifai_mcp.errors import FileRefused, InputError, NotAVideo
from identifai_mcp.files import MAX_PATH_CHARS, VideoFile, check_video_file

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


# --- minimal container headers ------------------------------------------------------------------


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\0\0\0\0" + b"".join(compatible))


def moov(*handlers: bytes) -> bytes:
    hdlr = [box(b"hdlr", b"\0" * 8 + handler + b"\0" * 13) for handler in handlers]
    return box(b"moov", b"".join(box(b"trak", box(b"mdia", h)) for h in hdlr))


def ebml(doctype: bytes) -> bytes:
    header = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    segment = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header)]) + header + segment


def ogg(*first_packets: bytes) -> bytes:
    pages = b"".join(b"OggS\x00\x02" + b"\0" * 20 + bytes([1, len(p)]) + p for p in first_packets)
    return pages + b"OggS\x00\x00" + b"\0" * 20 + b"\x01\x04data"


TS_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184
ASF_GUID = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"
MP4 = ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + box(b"mdat", b"\0" * 64)
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
PEM_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n".encode()
OPENSSH_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
OPENSSH_KEY = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{OPENSSH_BODY}\n-----END OPENSSH PRIVATE KEY-----\n".encode()


def write(path: Path, data: bytes = MP4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def refusal(path: str | os.PathLike[str], error: type[InputError] = FileRefused, **kwargs: object) -> str:
    with pytest.raises(error) as caught:
        check_video_file(path, **kwargs)  # type: ignore[arg-type]
    return caught.value.describe()


# --- containers ---------------------------------------------------------------------------------

VIDEOS = [
    ("mp4-isom", MP4, "mp4", "video/mp4"),
    ("mp4-mp42", ftyp(b"mp42", b"mp42", b"isom") + moov(b"vide", b"soun"), "mp4", "video/mp4"),
    ("m4v", ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42", b"isom"), "mp4", "video/mp4"),
    ("dash", ftyp(b"dash", b"iso6", b"mp41"), "mp4", "video/mp4"),
    ("mov-qt-brand", ftyp(b"qt  ", b"qt  ") + box(b"wide") + box(b"mdat", b"\0" * 32), "mp4", "video/quicktime"),
    ("3gp", ftyp(b"3gp5", b"3gp5", b"isom"), "mp4", "video/3gpp"),
    ("3g2", ftyp(b"3g2a", b"3g2a"), "mp4", "video/3gpp2"),
    (
        "mp4-large-ftyp-box-size",
        (1).to_bytes(4, "big") + b"mdat" + (24).to_bytes(8, "big") + b"\0" * 8,
        "mp4",
        "video/quicktime",
    ),
    ("quicktime-without-ftyp-wide-mdat", box(b"wide") + box(b"mdat", b"\0" * 64), "mp4", "video/quicktime"),
    ("quicktime-without-ftyp-moov-first", moov(b"vide") + box(b"mdat", b"\0" * 16), "mp4", "video/quicktime"),
    ("webm", ebml(b"webm"), "matroska", "video/webm"),
    ("matroska", ebml(b"matroska"), "matroska", "video/x-matroska"),
    ("avi", b"RIFF\x00\x10\x00\x00AVI LIST\x04\x00\x00\x00hdrl", "avi", "video/x-msvideo"),
    ("mpeg-ts", TS_PACKET * 4, "mpeg-ts", "video/mp2t"),
    ("m2ts", (b"\0\0\0\0" + TS_PACKET) * 4, "mpeg-ts", "video/mp2t"),
    ("mpeg-ps", b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01\x01\x89\xc3\xf8" + b"\0" * 32, "mpeg-ps", "video/mpeg"),
    ("mpeg-elementary", b"\x00\x00\x01\xb3\x16\x00\xf0\x15\xff\xff\xe0\x18" + b"\0" * 32, "mpeg-video", "video/mpeg"),
    ("flv", b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00", "flv", "video/x-flv"),
    ("asf-wmv", ASF_GUID + b"\x00" * 32, "asf", "video/x-ms-asf"),
    ("ogg-theora-vorbis", ogg(b"\x80theora\x03\x02\x01", b"\x01vorbis\x00\x00"), "ogg", "video/ogg"),
    ("ogg-vp8", ogg(b"OVP80\x01\x01\x00"), "ogg", "video/ogg"),
    ("ogg-skeleton-then-theora", ogg(b"fishead\x00\x03\x00", b"\x80theora\x03\x02\x01"), "ogg", "video/ogg"),
]


@pytest.mark.parametrize(("data", "container", "content_type"), [v[1:] for v in VIDEOS], ids=[v[0] for v in VIDEOS])
def test_each_container_signature_is_accepted_with_its_content_type(
    tmp_path: Path, data: bytes, container: str, content_type: str
) -> None:
    video = check_video_file(write(tmp_path / "clip.bin", data))
    assert (video.container, video.content_type) == (container, content_type)


NOT_VIDEOS = [
    ("m4a-audio-brand", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "MPEG-4 audio"),
    ("mp4-with-only-an-audio-track", ftyp(b"mp42", b"mp42", b"isom") + moov(b"soun"), "no video track (audio only)"),
    ("ogg-vorbis", ogg(b"\x01vorbis\x00\x00\x00\x00"), "Ogg audio"),
    ("ogg-opus", ogg(b"OpusHead\x01\x02"), "Ogg audio"),
    ("wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "a WAV audio file"),
    ("mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00", "an MP3 audio file"),
    ("heic-image", ftyp(b"heic", b"mif1", b"heic"), "a HEIF/HEIC image"),
    ("avif-image", ftyp(b"avif", b"avif", b"mif1"), "an AVIF image"),
    ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "a JPEG image"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    ("zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "a ZIP archive"),
    ("pem-private-key", PEM_KEY, "a PEM private key"),
    ("openssh-private-key", OPENSSH_KEY, "a PEM private key"),
    (
        "service-account-json-with-a-key",
        b'{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE"}',
        "text containing a private key",
    ),
    ("elf", b"\x7fELF\x02\x01\x01\x00" + b"\0" * 8, "an ELF executable"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
    ("sqlite", b"SQLite format 3\x00\x10\x00\x01\x01", "an SQLite database"),
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "a gzip archive"),
    ("shell-script", b"#!/bin/sh\necho hi\n", "a script"),
    ("text", b"just some notes\nabout a video\n", "looks like text"),
    ("text-that-mentions-a-box-name", b"I'm free to talk about moov and mdat\n", "looks like text"),
    ("text-with-ftyp-at-offset-4", b"abcdftypisom but really prose\n", "looks like text"),
    ("ebml-that-is-not-matroska", ebml(b"other"), "neither Matroska nor WebM"),
    ("too-few-transport-stream-packets", TS_PACKET * 2, "not in a recognised video format"),
    ("unknown-binary", b"\x00\x01\x02\x03\xfe\xfd" * 20, "not in a recognised video format"),
]


@pytest.mark.parametrize(("data", "description"), [v[1:] for v in NOT_VIDEOS], ids=[v[0] for v in NOT_VIDEOS])
def test_non_video_content_is_refused_with_what_it_looks_like(tmp_path: Path, data: bytes, description: str) -> None:
    message = refusal(write(tmp_path / "clip.mp4", data), NotAVideo)
    assert description in message
    assert "Only video files can be submitted" in message


def test_mp4_whose_moov_does_not_fit_in_the_sniffed_bytes_is_judged_by_its_brand(tmp_path: Path) -> None:
    header = ftyp(b"mp42", b"isom") + (1 << 20).to_bytes(4, "big") + b"moov" + b"\0" * 100
    assert check_video_file(write(tmp_path / "clip.mp4", header)).content_type == "video/mp4"


def test_extension_is_ignored_a_video_named_txt_is_accepted(tmp_path: Path) -> None:
    assert check_video_file(write(tmp_path / "notes.txt", MP4)).container == "mp4"


# --- exfiltration attempts ----------------------------------------------------------------------


def test_ssh_key_is_refused_as_not_a_video(tmp_path: Path) -> None:
    message = refusal(write(tmp_path / "id_rsa.mp4", OPENSSH_KEY), NotAVideo)
    assert "looks like a PEM private key" in message
    assert OPENSSH_BODY not in message and "OPENSSH" not in message


def test_ssh_key_in_home_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / ".ssh" / "id_rsa", OPENSSH_KEY)
    message = refusal("~/.ssh/id_rsa")
    assert f"inside the hidden folder {tmp_path / '.ssh'}" in message
    assert OPENSSH_BODY not in message


def test_no_message_quotes_file_content(tmp_path: Path) -> None:
    message = refusal(write(tmp_path / "clip.mp4", PEM_KEY), NotAVideo)
    assert PEM_BODY[:8] not in message and "BEGIN" not in message


def test_symlink_escape_from_allowed_dir_is_refused(tmp_path: Path) -> None:
    secret = write(tmp_path / "outside" / "clip.mp4")
    link = tmp_path / "videos" / "clip.mp4"
    link.parent.mkdir()
    link.symlink_to(secret)
    message = refusal(link, allowed_dirs=[tmp_path / "videos"])
    assert f"(which resolves to {secret})" in message
    assert f"outside the allowed folders (IDENTIFAI_ALLOWED_DIRS={tmp_path / 'videos'})" in message


def test_symlinked_folder_escape_from_allowed_dir_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "clip.mp4")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "more").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert "outside the allowed folders" in refusal(
        tmp_path / "videos" / "more" / "clip.mp4", allowed_dirs=[tmp_path / "videos"]
    )


def test_dotdot_escape_from_allowed_dir_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "clip.mp4")
    (tmp_path / "videos").mkdir()
    assert "outside the allowed folders" in refusal(
        tmp_path / "videos" / ".." / "outside" / "clip.mp4", allowed_dirs=[tmp_path / "videos"]
    )


def test_prefix_sibling_dir_is_not_allowed(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    evil = write(tmp_path / "videos-evil" / "clip.mp4")
    assert "outside the allowed folders" in refusal(evil, allowed_dirs=[tmp_path / "videos"])


def test_refusal_lists_every_allowed_folder(tmp_path: Path) -> None:
    allowed = [tmp_path / "a", tmp_path / "b"]
    message = refusal(write(tmp_path / "c" / "clip.mp4"), allowed_dirs=allowed)
    assert f"IDENTIFAI_ALLOWED_DIRS={allowed[0]}{os.pathsep}{allowed[1]})" in message
    assert "add its folder to IDENTIFAI_ALLOWED_DIRS" in message


def test_file_in_any_allowed_dir_is_accepted(tmp_path: Path) -> None:
    video = write(tmp_path / "b" / "deep" / "clip.mp4")
    assert check_video_file(video, allowed_dirs=[tmp_path / "a", tmp_path / "b"]).path == video


def test_symlink_inside_allowed_dir_is_accepted_under_its_own_name(tmp_path: Path) -> None:
    target = write(tmp_path / "videos" / "store" / "3f2a9c.bin")
    link = tmp_path / "videos" / "holiday.mp4"
    link.symlink_to(target)
    video = check_video_file(link, allowed_dirs=[tmp_path / "videos"])
    assert (video.path, video.name) == (target, "holiday.mp4")


def test_allowed_dir_given_through_a_symlink_still_matches(tmp_path: Path) -> None:
    video = write(tmp_path / "real" / "clip.mp4")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert check_video_file(video, allowed_dirs=[tmp_path / "alias"]).path == video


def test_hidden_dir_refused_unless_allowed(tmp_path: Path) -> None:
    video = write(tmp_path / ".cache" / "videos" / "clip.mp4")
    assert f"inside the hidden folder {tmp_path / '.cache'}" in refusal(video)
    # Allowing a parent of the hidden folder does not allow the hidden folder.
    assert "hidden folder" in refusal(video, allowed_dirs=[tmp_path])
    # Naming the hidden folder, or a folder inside it, does.
    assert check_video_file(video, allowed_dirs=[tmp_path / ".cache"]).path == video
    assert check_video_file(video, allowed_dirs=[tmp_path / ".cache" / "videos"]).path == video


def test_hidden_folder_below_an_allowed_hidden_folder_is_refused(tmp_path: Path) -> None:
    video = write(tmp_path / ".cache" / ".secrets" / "clip.mp4")
    assert f"inside the hidden folder {tmp_path / '.cache' / '.secrets'}" in refusal(
        video, allowed_dirs=[tmp_path / ".cache"]
    )


def test_git_folder_is_refused(tmp_path: Path) -> None:
    assert "hidden folder" in refusal(write(tmp_path / "repo" / ".git" / "objects" / "ab" / "clip.mp4"))


def test_hidden_file_name_is_refused_even_in_an_allowed_dir(tmp_path: Path) -> None:
    video = write(tmp_path / "videos" / ".clip.mp4")
    message = refusal(video, allowed_dirs=[tmp_path / "videos"])
    assert "is a hidden file" in message and "Rename" in message


def test_symlink_into_a_hidden_dir_is_refused(tmp_path: Path) -> None:
    target = write(tmp_path / ".aws" / "clip.mp4")
    (tmp_path / "clip.mp4").symlink_to(target)
    assert "hidden folder" in refusal(tmp_path / "clip.mp4")


def test_symlink_with_a_hidden_name_to_a_normal_file_is_accepted(tmp_path: Path) -> None:
    target = write(tmp_path / "clip.mp4")
    (tmp_path / ".link.mp4").symlink_to(target)
    assert check_video_file(tmp_path / ".link.mp4").path == target


@posix_only
def test_proc_self_environ_is_refused_without_showing_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("no procfs")
    monkeypatch.setenv("IDENTIFAI_TEST_SECRET", "s3cr3t-environment-value")
    assert "s3cr3t" not in refusal("/proc/self/environ")


# --- file types ---------------------------------------------------------------------------------


@posix_only
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def check() -> None:
        try:
            check_video_file(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "check_video_file blocked on a FIFO"
    assert isinstance(outcome[0], FileRefused) and "is a named pipe (FIFO)" in str(outcome[0])


@posix_only
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_dev_null_and_dev_zero_are_refused_as_devices(device: str) -> None:
    assert f"Refused: {device} is a character device, not a video file." in refusal(device)


def test_directory_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path)
    assert "is a directory" in message and "Pass the path of one video file inside it" in message


@posix_only
def test_socket_is_refused(tmp_path: Path) -> None:
    folder = tempfile.mkdtemp(dir="/tmp")  # AF_UNIX paths are short; tmp_path may be too long
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(f"{folder}/s")
            assert "is a socket" in refusal(f"{folder}/s")
    finally:
        shutil.rmtree(folder)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    assert "is empty (0 bytes)" in refusal(write(tmp_path / "clip.mp4", b""))


def _as_nobody(check: Callable[[], object]) -> str:
    """Run `check` in a forked child that dropped root to "nobody"; returns how it ended."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                check()
                outcome = "accepted"
            except InputError as exc:
                outcome = f"{type(exc).__name__}: {exc.describe()}"
            os.write(write_end, outcome.encode())
        except BaseException as exc:  # noqa: BLE001
            os.write(write_end, f"could not drop privileges: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@posix_only
def test_permission_denied(tmp_path: Path) -> None:
    # Root reads any file whatever its mode, so as root the check runs in a child that dropped to
    # "nobody". That child needs a folder it may enter: pytest's tmp_path parents are private.
    folder = Path(tempfile.mkdtemp(prefix="identifai-perm-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        video = write(folder / "clip.mp4")
        video.chmod(0o000)
        if os.geteuid() != 0:
            assert "cannot be read (permission denied)" in refusal(video)
            return
        outcome = _as_nobody(lambda: check_video_file(video))
        if outcome.startswith("could not drop privileges"):
            pytest.skip(outcome)
        assert outcome.startswith("FileRefused: ") and "cannot be read (permission denied)" in outcome
    finally:
        shutil.rmtree(folder)


@posix_only
def test_unsearchable_folder_is_permission_denied(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="identifai-perm-", dir="/tmp"))
    try:
        video = write(folder / "clip.mp4")  # mkdtemp makes the folder 0700: "nobody" may not enter it
        if os.geteuid() != 0:
            pytest.skip("needs root to drop to another user")
        outcome = _as_nobody(lambda: check_video_file(video))
        if outcome.startswith("could not drop privileges"):
            pytest.skip(outcome)
        assert "cannot be read (permission denied)" in outcome
    finally:
        shutil.rmtree(folder)


# --- path strings -------------------------------------------------------------------------------


def test_relative_path_resolves_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write(tmp_path / "sub" / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    assert check_video_file("sub/clip.mp4").path == video
    assert check_video_file("./sub/../sub/clip.mp4").path == video


def test_missing_relative_path_names_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = refusal("nope.mp4")
    assert message.startswith(f"No such file: {tmp_path / 'nope.mp4'} (relative paths are resolved from {tmp_path})")


def test_missing_absolute_path_is_no_such_file(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nope.mp4")
    assert message.startswith(f"No such file: {tmp_path / 'nope.mp4'}.") and "relative" not in message


def test_path_through_a_file_is_no_such_file(tmp_path: Path) -> None:
    assert refusal(write(tmp_path / "clip.mp4") / "inner.mp4").startswith("No such file")


def test_trailing_whitespace_is_pointed_out_when_the_file_is_missing(tmp_path: Path) -> None:
    write(tmp_path / "clip.mp4")
    assert "ends with whitespace" in refusal(f"{tmp_path / 'clip.mp4'} ")


def test_leading_whitespace_before_an_absolute_path_is_pointed_out(tmp_path: Path) -> None:
    write(tmp_path / "clip.mp4")
    assert "starts or ends with whitespace" in refusal(f" {tmp_path / 'clip.mp4'}")


def test_tilde_expands_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    video = write(tmp_path / "Videos" / "clip.mp4")
    assert check_video_file("~/Videos/clip.mp4").path == video


def test_dangling_symlink_is_no_such_file(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").symlink_to(tmp_path / "gone.mp4")
    assert "a symbolic link whose target does not exist" in refusal(tmp_path / "clip.mp4")


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    assert "is a symbolic link loop" in refusal(tmp_path / "a.mp4")


@pytest.mark.parametrize("path", ["", "   ", "\t\n"])
def test_empty_or_blank_path_is_refused(path: str) -> None:
    assert refusal(path).startswith("Refused: the file path is empty.")


def test_nul_byte_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "clip.mp4")
    assert "NUL character" in refusal(f"{tmp_path / 'clip.mp4'}\0.txt")


def test_very_long_path_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = str(tmp_path / ("a" * (MAX_PATH_CHARS + 1)))
    message = refusal(path)
    assert f"is {len(path)} characters long; the limit is {MAX_PATH_CHARS}" in message
    assert "a" * 100 not in message


def test_over_long_file_name_is_refused(tmp_path: Path) -> None:
    assert "File name too long" in refusal(tmp_path / ("a" * 300 + ".mp4"))


@pytest.mark.parametrize(
    "name",
    ["סרטון.mp4", "فيديو قصير.mp4", "🎬 clip 🎥.mp4", "cafe\u0301.mp4", "Ω≈ç√.mp4", "clip\u202e4pm.mov"],
    ids=["hebrew-rtl", "arabic-rtl-with-space", "emoji", "combining-mark", "symbols", "rtl-override"],
)
def test_unicode_file_names_are_accepted(tmp_path: Path, name: str) -> None:
    video = check_video_file(write(tmp_path / name))
    assert (video.name, video.path) == (name, tmp_path / name)


def test_bidi_override_is_shown_escaped_in_messages(tmp_path: Path) -> None:
    message = refusal(write(tmp_path / "clip\u202e4pm.mp4", b"plain text\n"), NotAVideo)
    assert "clip\\u202e4pm.mp4" in message and "\u202e" not in message


def test_pathlike_is_accepted_and_the_result_describes_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "clip.mp4")
    assert check_video_file(path) == VideoFile(
        path=path, name="clip.mp4", size=len(MP4), container="mp4", content_type="video/mp4"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=2048))
def test_any_content_is_either_a_video_or_not_a_video(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "clip.bin", data)
    try:
        video = check_video_file(path)
    except NotAVideo as exc:
        assert str(exc).startswith("Not a video: ")
    else:
        assert video.content_type.startswith("video/") and video.size == len(data)
