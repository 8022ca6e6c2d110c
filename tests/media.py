"""Test material made on the fly: tiny videos, signed and tampered copies, a throwaway C2PA CA.

Nothing binary is committed. Everything here needs PyAV; the signing helpers also need c2pa-python
and cryptography. Test modules share one copy of everything per session through `Media`:

    @pytest.fixture(scope="session")
    def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
        return Media.for_session(tmp_path_factory)
"""

from __future__ import annotations

import datetime
import functools
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import pytest

RGB = tuple[int, int, int]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
RED, GREEN, BLUE, WHITE, BLACK = (200, 30, 30), (30, 180, 60), (40, 60, 200), (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True)
class Shot:
    """One shot of a synthetic video: a solid background, optionally with a square block.

    The block moves right by `block_step` pixels a frame for the first `moving_seconds` of the shot,
    then stays still. `seconds=None` takes an equal share of what the other shots leave.
    """

    colour: RGB
    seconds: float | None = None
    block: RGB | None = None
    block_size: int = 12
    block_step: int = 3
    moving_seconds: float = 0.0


def make_mp4(
    path: Path,
    seconds: float = 2,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    shots: Sequence[Shot | RGB] = (RED,),
    gop: int | None = None,
    metadata: Mapping[str, str] | None = None,
    *,
    fragmented: bool = False,
    codec: str | None = None,
    container_format: str = "mp4",
) -> Path:
    """Encode a tiny H.264 video (MPEG-4 Part 2 if no H.264 encoder exists) and return its path.

    `shots` are played one after another (a plain colour is a still shot); `gop` places a key
    frame every `gop` frames exactly, with no scene-cut key frames; without it the encoder decides.
    Metadata keys with a dot (com.apple.quicktime.make) are written as mdta tags.
    `container_format` is an FFmpeg muxer name (mp4, matroska, mpegts, ...).
    """
    import av

    path = Path(path)
    width, height = size
    plan = _shot_plan([s if isinstance(s, Shot) else Shot(s) for s in shots], round(seconds * fps), fps)
    movflags = ["frag_keyframe", "empty_moov"] if fragmented else []
    if metadata and any("." in key for key in metadata):
        movflags.append("use_metadata_tags")
    options = {"movflags": "+".join(movflags)} if movflags and container_format == "mp4" else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        stream = container.add_stream(codec or _video_encoder(), rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if stream.codec_context.name in ("libx264", "h264"):
            x264 = "scenecut=0:keyint_min=1" if gop else ""
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": x264}
        if gop:
            stream.codec_context.gop_size = gop
        container.metadata.update(dict(metadata or {}))
        for index, picture in enumerate(_pictures(plan, width, height, fps)):
            frame = av.VideoFrame(width, height, "rgb24")
            frame.planes[0].update(picture)
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_fragmented_mp4(path: Path, **kwargs: Any) -> Path:
    """A fragmented MP4 (movflags frag_keyframe+empty_moov), as live and DASH tools write."""
    return make_mp4(path, fragmented=True, **kwargs)


def make_not_a_video(path: Path) -> Path:
    """A text file that merely ends in .mp4."""
    path = Path(path)
    path.write_text("This is a shopping list, not a video.\n" * 20)
    return path


def shot_bounds(shots: Sequence[Shot | RGB], *, seconds: float, fps: int) -> list[tuple[float, float]]:
    """(start, end) seconds of each shot as `make_mp4` lays them out."""
    plan = _shot_plan([s if isinstance(s, Shot) else Shot(s) for s in shots], round(seconds * fps), fps)
    bounds, start = [], 0
    for _, frames in plan:
        bounds.append((start / fps, (start + frames) / fps))
        start += frames
    return bounds


def _video_encoder() -> str:
    import av

    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        return name
    raise RuntimeError("this FFmpeg build has no H.264 or MPEG-4 encoder")


def _shot_plan(shots: list[Shot], total_frames: int, fps: int) -> list[tuple[Shot, int]]:
    fixed = sum(round(s.seconds * fps) for s in shots if s.seconds is not None)
    flexible = [s for s in shots if s.seconds is None]
    share, extra = divmod(max(total_frames - fixed, 0), max(len(flexible), 1))
    plan = []
    for shot in shots:
        if shot.seconds is not None:
            plan.append((shot, round(shot.seconds * fps)))
        else:
            plan.append((shot, share + (1 if extra > 0 else 0)))
            extra -= 1
    return plan


def _pictures(plan: list[tuple[Shot, int]], width: int, height: int, fps: int):
    """rgb24 pictures, one per frame."""
    for shot, frames in plan:
        background = bytes(shot.colour) * (width * height)
        moving = round(shot.moving_seconds * fps) if shot.moving_seconds > 0 else frames
        for n in range(frames):
            yield background if shot.block is None else _with_block(background, shot, min(n, moving), width, height)


def _with_block(background: bytes, shot: Shot, steps: int, width: int, height: int) -> bytes:
    picture = bytearray(background)
    side = min(shot.block_size, width, height)
    x = (steps * shot.block_step) % max(width - side, 1)
    y = (height - side) // 2
    row = bytes(shot.block) * side
    for line in range(y, y + side):
        start = (line * width + x) * 3
        picture[start : start + len(row)] = row
    return bytes(picture)


# --- C2PA ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCA:
    """A throwaway ES256 root CA; `pem` is what a trust-anchor file holds."""

    __test__ = False  # not a test class, despite the name

    name: str
    pem: bytes
    key: Any  # cryptography EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # leaf first, then the CA
    key_pem: bytes
    common_name: str
    organization: str


def make_ca(name: str = "identifai-mcp Test Root CA") -> TestCA:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA Org")]
    )
    cert = (
        _cert_builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return TestCA(name=name, pem=cert.public_bytes(serialization.Encoding.PEM), key=key)


def issue_signer(
    ca: TestCA, *, common_name: str = "Test Video Generator", organization: str = "Example AI Studio"
) -> SigningIdentity:
    """A leaf certificate, chained to `ca`, that c2pa-rs accepts for signing claims.

    What c2pa-rs 0.91 (c2pa-python 0.38) insists on, tried one by one: a leaf signed by a separate
    CA (a self-signed leaf is refused), BasicConstraints CA=false, a KeyUsage with
    digitalSignature, an AuthorityKeyIdentifier, and the emailProtection EKU (timeStamping also
    passes). No EKU, serverAuth or anyExtendedKeyUsage are refused at signing ("the certificate is
    invalid"); documentSigning and the C2PA claim-signing OID fail "missing required EKU" against
    its default EKU list. A SubjectKeyIdentifier is optional.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = x509.load_pem_x509_certificate(ca.pem)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    leaf = (
        _cert_builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return SigningIdentity(
        chain_pem=leaf.public_bytes(serialization.Encoding.PEM) + ca.pem,
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        common_name=common_name,
        organization=organization,
    )


def make_signed_mp4(
    src: Path,
    dst: Path,
    *,
    identity: SigningIdentity | None = None,
    generator: str = "Example Video Model",
    generator_version: str = "2.1",
    title: str = "generated.mp4",
    digital_source_type: str | None = TRAINED_ALGORITHMIC_MEDIA,
    ingredients: Sequence[Mapping[str, str]] = (),
    remote_url: str | None = None,
) -> Path:
    """Sign `src` into `dst` with c2pa.Builder, declaring a c2pa.created action.

    With `remote_url`, the manifest is not embedded: the file only points to that URL.
    """
    import c2pa

    identity = identity or issue_signer(make_ca())
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "softwareAgent": {"name": generator, "version": generator_version},
    }
    if digital_source_type:
        action["digitalSourceType"] = digital_source_type
    manifest = {
        "claim_generator_info": [{"name": generator, "version": generator_version}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        for ingredient in ingredients:
            with open(src, "rb") as source:
                builder.add_ingredient(dict(ingredient), "video/mp4", source)
        builder.sign_file(str(src), str(dst), signer)
    return Path(dst)


def tamper(path: Path) -> Path:
    """Flip bytes in the middle of the mdat box in place: the picture changes after signing."""
    path = Path(path)
    with path.open("r+b") as f:
        for box_type, start, size, header in _top_level_boxes(f):
            if box_type == b"mdat" and size > header + 16:
                middle = start + header + (size - header) // 2
                f.seek(middle)
                original = f.read(16)
                f.seek(middle)
                f.write(bytes(b ^ 0xFF for b in original))
                return path
    raise ValueError(f"{path} has no mdat box to tamper with")


def set_rotation(path: Path, degrees: int) -> Path:
    """Rewrite the video track's tkhd matrix in place, as a phone records portrait video.

    `degrees` is clockwise display rotation (90: shown turned a quarter clockwise, ffprobe says
    "rotation of -90.00 degrees"). Do it before signing: tkhd is covered by the C2PA hash.
    """
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees % 360]
    matrix = struct.pack(">9i", cos << 16, sin << 16, 0, -sin << 16, cos << 16, 0, 0, 0, 1 << 30)
    path = Path(path)
    with path.open("r+b") as f:
        for box_type, start, size, header in _top_level_boxes(f):
            if box_type == b"moov":
                tkhd = _find_box(f, start + header, start + size, [b"trak", b"tkhd"])
                if tkhd is not None:
                    f.seek(tkhd + 8)
                    version = f.read(1)[0]
                    # version/flags, then times, track id, reserved and duration, then 16 fixed bytes
                    f.seek(tkhd + 12 + (20 if version == 0 else 32) + 16)
                    f.write(matrix)
                    return path
    raise ValueError(f"{path} has no video track header")


def _find_box(f, start: int, end: int, route: list[bytes]) -> int | None:
    position = start
    while position + 8 <= end:
        f.seek(position)
        size, box_type = struct.unpack(">I4s", f.read(8))
        if size < 8:
            return None
        if box_type == route[0]:
            return position if len(route) == 1 else _find_box(f, position + 8, position + size, route[1:])
        position += size
    return None


def _top_level_boxes(f):
    f.seek(0, 2)
    end = f.tell()
    position = 0
    while position + 8 <= end:
        f.seek(position)
        size, box_type = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - position
        if size < header:
            return
        yield box_type, position, size, header
        position += size


def _cert_builder(subject, issuer, public_key):
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )


def _key_usage(*, cert_sign: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- one shared set per session -------------------------------------------------------------

# Three shots of different lengths; the green one has a block that moves for 1 s, then stops.
SHOTS_FPS = 10
SHOTS_SECONDS = 6.0
SHOTS: tuple[Shot, ...] = (
    Shot(RED, seconds=1.5),
    Shot(GREEN, seconds=3.0, block=WHITE, block_size=12, block_step=4, moving_seconds=1.5),
    Shot(BLUE, seconds=1.5),
)
SHOTS_GOP = 15  # keyframes at 0, 1.5, 3.0, 4.5 s
METADATA = {
    "title": "Beach walk",
    "comment": "made by tests/media.py",
    "creation_time": "2024-05-06T07:08:09.000000Z",
}


class Media:
    """Lazily made, session-cached test files. Get it with `Media.for_session(tmp_path_factory)`."""

    _sessions: ClassVar[dict[Path, Media]] = {}

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_session(cls, tmp_path_factory: pytest.TempPathFactory) -> Media:
        base = tmp_path_factory.getbasetemp()
        if base not in cls._sessions:
            cls._sessions[base] = cls(tmp_path_factory.mktemp("media"))
        return cls._sessions[base]

    @functools.cached_property
    def plain(self) -> Path:
        return make_mp4(self.root / "plain.mp4", metadata=METADATA)

    @functools.cached_property
    def ca(self) -> TestCA:
        return make_ca()

    @functools.cached_property
    def ca_pem_file(self) -> Path:
        path = self.root / "test-ca.pem"
        path.write_bytes(self.ca.pem)
        return path

    @functools.cached_property
    def other_ca_pem_file(self) -> Path:
        path = self.root / "other-ca.pem"
        path.write_bytes(make_ca("Some Other Root CA").pem)
        return path

    @functools.cached_property
    def identity(self) -> SigningIdentity:
        return issue_signer(self.ca)

    @functools.cached_property
    def signed(self) -> Path:
        return make_signed_mp4(self.plain, self.root / "signed.mp4", identity=self.identity)

    @functools.cached_property
    def tampered(self) -> Path:
        path = self.root / "tampered.mp4"
        shutil.copyfile(self.signed, path)
        return tamper(path)

    @functools.cached_property
    def fragmented(self) -> Path:
        return make_fragmented_mp4(self.root / "fragmented.mp4", metadata=METADATA)

    @functools.cached_property
    def not_a_video(self) -> Path:
        return make_not_a_video(self.root / "notes.mp4")

    @functools.cached_property
    def shots(self) -> Path:
        return make_mp4(
            self.root / "shots.mp4", seconds=SHOTS_SECONDS, fps=SHOTS_FPS, size=(64, 48), shots=SHOTS, gop=SHOTS_GOP
        )
