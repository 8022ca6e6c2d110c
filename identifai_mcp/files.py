"""Local video files: the checks between a path an agent asks for and an upload.

A server that uploads any path it is given is an exfiltration channel: a prompt-injected agent
could ask it to "classify" ~/.ssh/id_rsa. So a path is resolved (symlinks included) before it is
judged; it must name a regular file, inside the allowed folders and outside hidden ones; and its
first bytes must start a video container, whatever its extension says. At most SNIFF_BYTES are
read, and no error message quotes file content.

Hidden names: a folder or file whose name starts with "." is refused, because that is where
credentials live (~/.ssh, ~/.aws, .git, .env). A hidden folder is accepted only when it is part of
an allowed folder's own path (IDENTIFAI_ALLOWED_DIRS names it, or a folder inside it). A hidden
*file* name can never be part of an allowed folder's path, so the only way to submit one is to
rename it; that also keeps macOS "._clip.mp4" resource forks out.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FileRefused, NotAVideo

SNIFF_BYTES = 64 * 1024
MAX_PATH_CHARS = 4096

_UNREADABLE_HINT = (
    "Make the file readable by the user running identifai-mcp, or copy it to a folder that user can read."
)
_ALLOWED_HINT = (
    "Move or copy the video into one of those folders, or add its folder to IDENTIFAI_ALLOWED_DIRS "
    "and restart the server."
)
# Bidirectional overrides in a file name can make an error message read backwards; show them escaped.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class VideoFile:
    """A local file that passed every check, ready to upload as `content_type`."""

    path: Path  # absolute, symlinks resolved
    name: str  # the file name the caller used (a symlink's own name), for the upload
    size: int
    # "mp4" (any ISO base media file: MP4, MOV, 3GP, M4V), "matroska" (MKV and WebM), "avi",
    # "mpeg-ts", "mpeg-ps", "mpeg-video", "flv", "asf", "ogg"
    container: str
    content_type: str  # a video/* MIME type
    # (st_dev, st_ino) of the file that passed: the upload must read this file and no other.
    identity: tuple[int, int] | None = field(default=None, compare=False)


def check_video_file(path: str | os.PathLike[str], *, allowed_dirs: Sequence[Path] = ()) -> VideoFile:
    """Check that `path` is a readable video file the server may upload.

    Raises:
        FileRefused: the path is malformed, missing, not a regular file, outside `allowed_dirs`,
            hidden, empty or unreadable.
        NotAVideo: the content does not start a known video container.
    """
    raw = _path_text(path)
    # The place is judged before the file is looked at, on the path resolved as far as it exists:
    # outside the allowed folders or under a hidden name, a path gets the same refusal whether it
    # exists or not, so refusals never tell an agent what lies where it may not look.
    given = _absolute(raw)
    loose = Path(os.path.realpath(given))
    _check_place(loose, _shown(given, loose), allowed_dirs)

    given, resolved = _resolve(raw)
    shown = _shown(given, resolved)
    try:
        st = os.stat(resolved)
    except OSError as exc:
        raise FileRefused(f"Refused: {shown} cannot be read ({exc.strerror}).", hint=_UNREADABLE_HINT) from None
    _check_place(resolved, shown, allowed_dirs)  # again: a symlink may have changed since
    if not stat.S_ISREG(st.st_mode):
        kind, hint = _kind(st.st_mode)
        raise FileRefused(f"Refused: {shown} is {kind}, not a video file.", hint=hint)
    if st.st_size == 0:
        raise FileRefused(
            f"Refused: {shown} is empty (0 bytes).", hint="Check that the video was completely downloaded or exported."
        )

    head = _read_head(resolved, st, shown)
    sniffed = _sniff(head, st.st_size)
    if isinstance(sniffed, str):
        looks = f"looks like {sniffed}" if sniffed else "is not in a recognised video format"
        raise NotAVideo(f"Not a video: {shown} {looks}.")
    name = given.name if given.name not in ("", "..") else resolved.name
    return VideoFile(
        path=resolved, name=name, size=st.st_size, container=sniffed[0], content_type=sniffed[1],
        identity=(st.st_dev, st.st_ino),
    )


def _path_text(path: str | os.PathLike[str]) -> str:
    raw = os.fsdecode(os.fspath(path))
    if not raw.strip():
        raise FileRefused("Refused: the file path is empty.", hint="Pass the path of a local video file.")
    if "\0" in raw:
        raise FileRefused(
            "Refused: the file path contains a NUL character, which no file name can contain.",
            hint="Pass the path exactly as the file system shows it.",
        )
    if len(raw) > MAX_PATH_CHARS:
        raise FileRefused(
            f"Refused: the file path is {len(raw)} characters long; the limit is {MAX_PATH_CHARS}.",
            hint="Move the video to a folder with a shorter path.",
        )
    return raw


def _absolute(raw: str) -> Path:
    """The path as given, `~` expanded, made absolute from the working directory."""
    return Path(os.getcwd(), os.path.expanduser(raw))


def _shown(given: Path, resolved: Path) -> str:
    if resolved == Path(os.path.normpath(given)):
        return _show(given)
    return f"{_show(given)} (which resolves to {_show(resolved)})"


def _resolve(raw: str) -> tuple[Path, Path]:
    """(the absolute path as given, `~` expanded; the same path with every symlink resolved)."""
    expanded = os.path.expanduser(raw)
    cwd = os.getcwd()
    given = Path(cwd, expanded)
    try:
        return given, given.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        message = f"No such file: {_show(given)}"
        if os.path.islink(given):
            message += " (a symbolic link whose target does not exist)"
        elif not os.path.isabs(expanded):
            message += f" (relative paths are resolved from {_show(Path(cwd))})"
        hint = "Check the path, or pass an absolute one."
        if raw != raw.strip():
            hint += " Note that the path starts or ends with whitespace."
        raise FileRefused(message, hint=hint) from None
    except PermissionError:
        raise FileRefused(
            f"Refused: {_show(given)} cannot be read (permission denied).", hint=_UNREADABLE_HINT
        ) from None
    except (RuntimeError, OSError) as exc:  # before Python 3.13, a symlink loop is a RuntimeError
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            raise FileRefused(
                f"Refused: {_show(given)} is a symbolic link loop.", hint="Pass the video's own path."
            ) from None
        raise FileRefused(
            f"Refused: {_show(given)} cannot be opened ({exc.strerror}).", hint="Check the path."
        ) from None


def _kind(mode: int) -> tuple[str, str]:
    """What a non-regular file is, and what to do instead."""
    if stat.S_ISDIR(mode):
        return "a directory", "Pass the path of one video file inside it."
    stream = "Only regular files can be submitted; save the video to a file first."
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)", stream
    if stat.S_ISCHR(mode):
        return "a character device", stream
    if stat.S_ISBLK(mode):
        return "a block device", stream
    if stat.S_ISSOCK(mode):
        return "a socket", stream
    return "not a regular file", stream


def _check_place(resolved: Path, shown: str, allowed_dirs: Sequence[Path]) -> None:
    """Refuse a file outside the allowed folders, or under a hidden name they do not cover."""
    roots = [Path(os.path.realpath(os.path.expanduser(os.fspath(d)))) for d in allowed_dirs]
    inside = [root for root in roots if resolved.is_relative_to(root)]
    if roots and not inside:
        listed = os.pathsep.join(os.fspath(d) for d in allowed_dirs)
        raise FileRefused(
            f"Refused: {shown} is outside the allowed folders (IDENTIFAI_ALLOWED_DIRS={listed}).", hint=_ALLOWED_HINT
        )
    # Hidden names within an allowed folder's own path were chosen by the user; below it they were not.
    base = max(inside, key=lambda root: len(root.parts)) if inside else Path(resolved.anchor)
    parts = resolved.relative_to(base).parts
    for depth, part in enumerate(parts[:-1], start=1):
        if part.startswith("."):
            folder = base.joinpath(*parts[:depth])
            raise FileRefused(
                f"Refused: {shown} is inside the hidden folder {_show(folder)}; hidden folders "
                "(such as ~/.ssh or ~/.aws) often hold credentials.",
                hint="Move or copy the video to a normal folder, or, if that hidden folder really holds videos, "
                "add it to IDENTIFAI_ALLOWED_DIRS and restart the server.",
            )
    if parts and parts[-1].startswith("."):
        raise FileRefused(
            f"Refused: {shown} is a hidden file (its name starts with '.'); "
            "hidden files often hold settings or credentials.",
            hint="Rename the video (or a copy of it) so that its name does not start with '.'.",
        )


def _read_head(resolved: Path, st: os.stat_result, shown: str) -> bytes:
    """The first SNIFF_BYTES of the file, after checking it is still the file that was checked."""
    # O_NONBLOCK: a FIFO swapped in after the stat must not block the server; O_NOFOLLOW: nor a symlink.
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    changed = FileRefused(
        f"Refused: {shown} changed while it was being checked.", hint="Try again once nothing is writing to it."
    )
    try:
        fd = os.open(resolved, flags)
    except PermissionError:
        raise FileRefused(f"Refused: {shown} cannot be read (permission denied).", hint=_UNREADABLE_HINT) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise changed from None
        raise FileRefused(f"Refused: {shown} cannot be opened ({exc.strerror}).", hint="Check the file.") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise changed
        chunks: list[bytes] = []
        remaining = SNIFF_BYTES
        while remaining > 0 and (chunk := os.read(fd, remaining)):
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise FileRefused(f"Refused: {shown} cannot be read ({exc.strerror}).", hint=_UNREADABLE_HINT) from None
    finally:
        os.close(fd)
    if not chunks:
        raise changed
    return b"".join(chunks)


def _show(path: Path) -> str:
    return "".join(f"\\u{ord(c):04x}" if c in _BIDI_CONTROLS or not c.isprintable() else c for c in os.fspath(path))


# --- content sniffing: pure functions over the first bytes --------------------------------------

_QUICKTIME_TOP_BOXES = frozenset({b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"PICT", b"uuid"})
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_IMAGE_BRANDS = {
    **dict.fromkeys([b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"], "a HEIF/HEIC image"),
    **dict.fromkeys([b"avif", b"avis"], "an AVIF image"),
    **dict.fromkeys([b"jp2 ", b"jpx ", b"jpm "], "a JPEG 2000 image"),
    b"crx ": "a Canon raw photo (CR3)",
}
_ASF_HEADER = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"
_OGG_VIDEO = (b"\x80theora", b"OVP80", b"\x80daala", b"BBCD\x00")
_OGG_AUDIO = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")
_PEM_LABELS = (
    (b"PRIVATE KEY", "a PEM private key"),
    (b"CERTIFICATE", "a PEM certificate"),
    (b"PUBLIC KEY", "a PEM public key"),
)
_RIFF_KINDS = {b"WAVE": "a WAV audio file", b"WEBP": "a WebP image"}
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a file built on ZIP, such as .docx, .jar or .apk)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"(\xb5/\xfd", "a Zstandard archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an ELF executable or library"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O executable or Java class file"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x03\xd9\xa2\x9a", "a KeePass database"),
    (b"\xfe\xed\xfe\xed", "a Java keystore"),
    (b"ID3", "an MP3 audio file"),
    (b"\xff\xfb", "an MP3 audio file"),
    (b"\xff\xf3", "an MP3 audio file"),
    (b"\xff\xf1", "an AAC audio file"),
    (b"\xff\xf9", "an AAC audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"MThd", "a MIDI file"),
)


def _sniff(head: bytes, file_size: int) -> tuple[str, str] | str:
    """(container, content_type) if `head` starts a video container, else what it looks like ("" if unknown)."""
    if head[4:8] == b"ftyp" and _is_ftyp(head):
        return _sniff_iso_media(head)
    if _is_old_quicktime(head, file_size):
        return _check_tracks(head, ("mp4", "video/quicktime"))
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _sniff_ebml(head)
    if head.startswith(b"RIFF"):
        if head[8:12] == b"AVI ":
            return ("avi", "video/x-msvideo")
        return _RIFF_KINDS.get(head[8:12], "a RIFF file that is not AVI")
    if _is_transport_stream(head, 188, 0) or _is_transport_stream(head, 192, 4):  # 192: M2TS, with timecodes
        return ("mpeg-ts", "video/mp2t")
    if head.startswith(b"\x00\x00\x01\xba"):
        return ("mpeg-ps", "video/mpeg")
    if head.startswith(b"\x00\x00\x01\xb3"):
        return ("mpeg-video", "video/mpeg")
    if head.startswith(b"FLV\x01"):
        return ("flv", "video/x-flv")
    if head.startswith(_ASF_HEADER):
        return ("asf", "video/x-ms-asf")
    if head.startswith(b"OggS"):
        return _sniff_ogg(head)
    return _describe(head)


def _box_size(head: bytes, offset: int) -> int:
    """Size of the ISO-BMFF box at `offset`: 0 for "to the end of the file", -1 when malformed."""
    size = int.from_bytes(head[offset : offset + 4], "big")
    if size == 1:  # a 64-bit size follows the type
        size = int.from_bytes(head[offset + 8 : offset + 16], "big")
        return size if size >= 16 else -1
    return size if size == 0 or size >= 8 else -1


def _is_ftyp(head: bytes) -> bool:
    # Major brand, minor version, then whole compatible brands: text that happens to hold
    # "ftyp" at offset 4 has a "size" in the hundreds of megabytes.
    size = int.from_bytes(head[:4], "big")
    return 16 <= size <= 4096 and size % 4 == 0


def _is_old_quicktime(head: bytes, file_size: int) -> bool:
    """QuickTime from before ftyp existed: a chain of known top-level atoms that fits in the file."""
    offset, media = 0, False
    while offset + 8 <= len(head):
        size, kind = _box_size(head, offset), head[offset + 4 : offset + 8]
        if size < 0 or kind not in _QUICKTIME_TOP_BOXES or offset + size > file_size:
            return False
        media |= kind in (b"moov", b"mdat")
        if size == 0:
            break
        offset += size
    return media


def _sniff_iso_media(head: bytes) -> tuple[str, str] | str:
    major = head[8:12]
    if major in _AUDIO_BRANDS:
        return "an MPEG-4 audio file (M4A, M4B or M4P), with no video track"
    if major in _IMAGE_BRANDS:
        return _IMAGE_BRANDS[major]
    if major == b"qt  ":
        content_type = "video/quicktime"
    elif major.startswith(b"3g2"):
        content_type = "video/3gpp2"
    elif major.startswith(b"3g"):
        content_type = "video/3gpp"
    else:  # isom, iso2-9, mp41, mp42, avc1, M4V, dash, mmp4, f4v and camera-specific brands
        content_type = "video/mp4"
    return _check_tracks(head, ("mp4", content_type))


def _check_tracks(head: bytes, video: tuple[str, str]) -> tuple[str, str] | str:
    """`video`, unless a moov box that fits in `head` declares no video track.

    moov often sits at the end of the file; then the brands are all there is to go on.
    """
    offset = 0
    while offset + 8 <= len(head):
        size = _box_size(head, offset)
        if size < 0:
            break
        end = len(head) + 1 if size == 0 else offset + size
        if head[offset + 4 : offset + 8] == b"moov":
            moov = head[offset + 8 : end]
            # hdlr: type, version+flags (4), pre_defined or QuickTime component type (4), handler type (4).
            handlers = {moov[i + 12 : i + 16] for i in _find_all(moov, b"hdlr")}
            if b"vide" in handlers or end > len(head):
                return video
            return "an MP4/QuickTime file with no video track" + (" (audio only)" if b"soun" in handlers else "")
        offset = end
    return video


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, i = [], data.find(needle)
    while i >= 0:
        found.append(i)
        i = data.find(needle, i + 1)
    return found


def _vint(data: bytes, pos: int, *, marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at `pos`: (value, next position); IDs keep their length marker."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        return None
    value = data[pos] if marker else data[pos] & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = value << 8 | byte
    return value, pos + length


def _sniff_ebml(head: bytes) -> tuple[str, str] | str:
    doctype = b"matroska"  # Matroska's default when the header omits DocType
    header = _vint(head, 4, marker=False)
    if header:
        size, pos = header
        end = min(pos + size, len(head))
        while pos < end:
            element, length = _vint(head, pos, marker=True), None
            if element:
                length = _vint(head, element[1], marker=False)
            if not element or not length:
                break
            size, pos = length
            if element[0] == 0x4282:  # DocType
                doctype = head[pos : pos + size].rstrip(b"\0")
            pos += size
    if doctype == b"webm":
        return ("matroska", "video/webm")
    if doctype == b"matroska":
        return ("matroska", "video/x-matroska")
    return "an EBML file that is neither Matroska nor WebM"


def _is_transport_stream(head: bytes, stride: int, offset: int) -> bool:
    packets = min((len(head) - offset) // stride, 8)
    return packets >= 3 and all(head[offset + i * stride] == 0x47 for i in range(packets))


def _sniff_ogg(head: bytes) -> tuple[str, str] | str:
    """Ogg is video when one of its streams is: every stream announces its codec on a first (BOS) page."""
    codecs: list[bytes] = []
    pos = 0
    while head[pos : pos + 4] == b"OggS" and pos + 27 <= len(head) and head[pos + 5] & 0x02:
        segments = head[pos + 26]
        body = pos + 27 + segments
        codecs.append(head[body : body + 8])
        pos = body + sum(head[pos + 27 : body])
    if any(codec.startswith(_OGG_VIDEO) for codec in codecs):
        return ("ogg", "video/ogg")
    if any(codec.startswith(_OGG_AUDIO) for codec in codecs):
        return "an Ogg audio file (Vorbis, Opus, FLAC or Speex), with no video stream"
    return "an Ogg file with no recognised video stream"


def _describe(head: bytes) -> str:
    """What a non-video file looks like, in a few words; never any of its content."""
    if _is_text(head):  # first, so that prose starting "MZ" or "BZh" is not called a program or an archive
        return _describe_text(head)
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            return description
    return ""


def _describe_text(head: bytes) -> str:
    start = head.lstrip()
    if start.startswith(b"-----BEGIN "):
        label = start.split(b"\n", 1)[0]
        if b"PGP" in label:
            return "a PGP private key" if b"PRIVATE" in label else "an ASCII-armoured PGP block"
        for word, description in _PEM_LABELS:
            if word in label:
                return description
        return "a PEM-encoded file"
    if b"PRIVATE KEY-----" in head:
        return "text containing a private key"
    if head.startswith(b"PuTTY-User-Key-File"):
        return "a PuTTY private key"
    if head.startswith(b"%PDF-"):
        return "a PDF document"
    if head.startswith(b"#!"):
        return "a script"
    if start[:14].lower().startswith((b"<?xml", b"<svg", b"<!doctype html", b"<html")):
        return "an XML or HTML document"
    return "text"


def _is_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 byte-order marks
        return True
    if b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
        text = head[: exc.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\n\r\f\v" for c in text)
