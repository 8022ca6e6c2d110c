"""Hostile and nonsensical input, through every MCP tool and the CLI: one clear error each, and
the server (or the next command) still works.

The matrix is a table: a case names the front end, its arguments and the words its error must
contain. Files the cases point at are made once per module (`Files`); `{name}` in an argument is
replaced by that file's path.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fakeserver import API_KEY, fake, fake_server, make_settings, write_video  # noqa: F401
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ResourceTemplateReference

from identifai_mcp.cli import main
from identifai_mcp.errors import IdentifaiError
from identifai_mcp.fake import FakeIdentifai
from identifai_mcp.models import ClassifyOptions
from identifai_mcp.redact import redact
from identifai_mcp.server import build_server
from identifai_mcp.service import Service
from identifai_mcp.transport import http_app

pytestmark = pytest.mark.anyio

PEM = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"
HEX64 = "a" * 64


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Files:
    """The files the cases point at: real ones, special ones and tricky links."""

    root: Path
    videos: Path  # the only allowed folder of the fenced server

    def path(self, name: str) -> str:
        return str(self.root / name)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("security")
    videos = root / "videos"
    videos.mkdir()
    write_video(videos, "inside.mp4", "human")
    (root / "id_rsa.mp4").write_bytes(PEM)  # a key under a video's name
    (root / "notes.txt").write_text("meeting notes\n")
    (root / "photo.mp4").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (root / "empty.mp4").write_bytes(b"")
    (root / "folder.mp4").mkdir()
    os.mkfifo(root / "pipe.mp4")
    (root / "loop.mp4").symlink_to(root / "loop.mp4")
    (root / "dangling.mp4").symlink_to(root / "nowhere.mp4")
    (root / ".ssh").mkdir()
    (root / ".ssh" / "id_ed25519").write_bytes(PEM)
    (root / "key-link.mp4").symlink_to(root / ".ssh" / "id_ed25519")
    (root / ".hidden.mp4").write_bytes(b"\x00" * 8)
    (videos / "escape.mp4").symlink_to(root / "id_rsa.mp4")
    (root / "videos-evil").mkdir()
    write_video(root / "videos-evil", "clip.mp4", "human")
    return Files(root, videos)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-home")


@pytest.fixture(scope="module")
async def open_client(fake_server: FakeIdentifai, home: Path) -> AsyncIterator[Client]:
    settings = make_settings(fake_server, home=home / "open", wait_seconds=1, read_timeout=1.0)
    async with Client(build_server(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def fenced_client(fake_server: FakeIdentifai, home: Path, files: Files) -> AsyncIterator[Client]:
    settings = make_settings(fake_server, home=home / "fenced", wait_seconds=1, allowed_dirs=(files.videos,))
    async with Client(build_server(settings)) as client:
        yield client


async def call(client: Client, name: str, args: dict[str, Any]) -> Any:
    with anyio.fail_after(10):  # a FIFO or a slow path must never hang a call
        return await client.call_tool(name, args)


def fill(value: Any, files: Files) -> Any:
    """`{name}` in a string argument is the path of that test file."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and len(value) > 2:
        return files.path(value[1:-1])
    if isinstance(value, list):
        return [fill(v, files) for v in value]
    return value


# -- the MCP matrix ---------------------------------------------------------------------------------

CF = "classify_video_file"
CU = "classify_video_url"

MCP_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # classify_video_file: types, ranges and sizes (checked by the tool's schema)
    ("path-wrong-type", CF, {"path": 123}, "path\n  Input should be a valid string"),
    ("path-list", CF, {"path": ["a.mp4"]}, "path\n  Input should be a valid string"),
    ("path-missing", CF, {}, "path\n  Field required"),
    ("path-empty", CF, {"path": ""}, "String should have at least 1 character"),
    ("path-huge", CF, {"path": "x" * 5000}, "String should have at most 4096 characters"),
    ("path-lone-surrogate", CF, {"path": "\ud800.mp4"}, "unable to parse raw data as a unicode string"),
    ("frames-7", CF, {"path": "{inside}", "frames": 7}, "frames\n  Input should be 5, 10 or 30"),
    ("frames-string", CF, {"path": "{inside}", "frames": "ten"}, "frames\n  Input should be 5, 10 or 30"),
    ("frames-bool", CF, {"path": "{inside}", "frames": True}, "frames\n  Input should be 5, 10 or 30"),
    ("key-frames-maybe", CF, {"path": "{inside}", "key_frames": "maybe"}, "Input should be a valid boolean"),
    ("key-frames-method", CF, {"path": "{inside}", "key_frames_method": "fast"},
     "Input should be 'iframes', 'color' or 'flow'"),
    ("with-audio-number", CF, {"path": "{inside}", "with_audio": 2}, "Input should be a valid boolean"),
    ("wait-negative", CF, {"path": "{inside}", "wait_seconds": -1}, "Input should be greater than or equal to 0"),
    ("wait-too-long", CF, {"path": "{inside}", "wait_seconds": 601}, "Input should be less than or equal to 600"),
    ("wait-words", CF, {"path": "{inside}", "wait_seconds": "soon"}, "Input should be a valid number"),
    ("ref-id-too-long", CF, {"path": "{inside}", "ref_id": "r" * 256}, "String should have at most 255 characters"),
    # classify_video_file: path tricks (files.py)
    ("nul-in-path", CF, {"path": "clip\x00.mp4"}, "Refused: the file path contains a NUL character"),
    ("missing-file", CF, {"path": "/no/such/dir/clip.mp4"}, "No such file: /no/such/dir/clip.mp4"),
    ("ssh-key-by-tilde", CF, {"path": "~/.ssh/id_rsa"}, "hidden folders (such as ~/.ssh or ~/.aws) often hold credentials"),
    ("hidden-folder", CF, {"path": "{.ssh/id_ed25519}"}, "is inside the hidden folder"),
    ("symlink-into-hidden-folder", CF, {"path": "{key-link.mp4}"}, "is inside the hidden folder"),
    ("hidden-file", CF, {"path": "{.hidden.mp4}"}, "is a hidden file (its name starts with '.')"),
    ("key-named-like-a-video", CF, {"path": "{id_rsa.mp4}"}, "Not a video: "),
    ("text-file", CF, {"path": "{notes.txt}"}, "looks like text"),
    ("png-named-mp4", CF, {"path": "{photo.mp4}"}, "looks like a PNG image"),
    ("empty-file", CF, {"path": "{empty.mp4}"}, "is empty (0 bytes)"),
    ("directory", CF, {"path": "{folder.mp4}"}, "is a directory, not a video file"),
    ("fifo", CF, {"path": "{pipe.mp4}"}, "is a named pipe (FIFO), not a video file"),
    ("char-device", CF, {"path": "/dev/zero"}, "/dev/zero is a character device, not a video file"),
    ("symlink-loop", CF, {"path": "{loop.mp4}"}, "is a symbolic link loop"),
    ("dangling-symlink", CF, {"path": "{dangling.mp4}"}, "(a symbolic link whose target does not exist)"),
    ("dotdot-to-a-key", CF, {"path": "{videos/../id_rsa.mp4}"}, "Not a video: "),
    ("long-path", CF, {"path": "/" + "a" * 4000 + ".mp4"}, "cannot be opened (File name too long)"),
    ("bidi-in-name", CF, {"path": "/no/such/clip\u202emp4.exe"}, "clip\\u202emp4.exe"),
    # classify_video_url (urls.py)
    ("javascript-url", CU, {"url": "javascript:alert(1)"}, "javascript: URLs are not supported"),
    ("file-url", CU, {"url": "file:///etc/passwd"}, "file: URLs are not supported"),
    ("data-url", CU, {"url": "data:video/mp4;base64,AAAA"}, "data: URLs are not supported"),
    ("credentials-in-url", CU, {"url": "https://user:pw@example.com/v.mp4"}, "contains a user name or password"),
    ("space-in-url", CU, {"url": "https://exa mple.com/v.mp4"}, "contains a space or an invisible or control character"),
    ("rtl-override-in-url", CU, {"url": "https://example.com/\u202e4pm.exe"}, "invisible or control character (character 21)"),
    ("zero-width-in-host", CU, {"url": "https://exa\u200bmple.com/v.mp4"}, "invisible or control character"),
    ("url-huge", CU, {"url": "https://example.com/" + "a" * 3000}, "String should have at most 2048 characters"),
    ("local-path-as-url", CU, {"url": "/etc/passwd"}, "this looks like a local file path, not a URL"),
    ("windows-path-as-url", CU, {"url": "C:\\Users\\me\\clip.mp4"}, "this looks like a local file path, not a URL"),
    ("no-scheme", CU, {"url": "example.com/v.mp4"}, "the URL has no scheme"),
    ("bad-port", CU, {"url": "https://example.com:99999/v.mp4"}, "the port must be a number up to 65535"),
    ("unbalanced-brackets", CU, {"url": "https://[::1/v.mp4"}, "unbalanced [ ] around the host"),
    ("bad-host", CU, {"url": "https://-bad-.example/v.mp4"}, "the URL's host is not a valid domain name"),
    ("url-lone-surrogate", CU, {"url": "https://example.com/\ud800.mp4"}, "unable to parse raw data as a unicode string"),
    ("url-frames-out-of-range", CU, {"url": "https://example.com/v.mp4", "frames": 0}, "Input should be 5, 10 or 30"),
    # get_result
    ("identifier-empty", "get_result", {"identifier": ""}, "String should have at least 1 character"),
    ("identifier-traversal", "get_result", {"identifier": "../../etc/passwd"},
     "'../../etc/passwd' is not a valid identifAI identifier"),
    ("identifier-query", "get_result", {"identifier": "abc?identifiers[]=x"}, "is not a valid identifAI identifier"),
    ("identifier-slash", "get_result", {"identifier": "abc/override"}, "is not a valid identifAI identifier"),
    ("identifier-unicode", "get_result", {"identifier": "ａｂｃ１２３"}, "is not a valid identifAI identifier"),
    ("identifier-huge", "get_result", {"identifier": "a" * 200}, "String should have at most 128 characters"),
    ("identifier-number", "get_result", {"identifier": 42}, "identifier\n  Input should be a valid string"),
    ("identifier-null", "get_result", {"identifier": None}, "identifier\n  Input should be a valid string"),
    ("identifier-unknown", "get_result", {"identifier": HEX64}, "identifAI has no classification"),
    ("detail-unknown", "get_result", {"identifier": HEX64, "detail": "all"}, "Input should be 'summary' or 'frames'"),
    ("result-wait-too-long", "get_result", {"identifier": HEX64, "wait_seconds": 1e9}, "less than or equal to 600"),
    # get_results_batch
    ("batch-empty", "get_results_batch", {"identifiers": []}, "List should have at least 1 item"),
    ("batch-1001", "get_results_batch", {"identifiers": [HEX64] * 1001}, "List should have at most 1000 items"),
    ("batch-string", "get_results_batch", {"identifiers": HEX64}, "Input should be a valid list"),
    ("batch-one-bad", "get_results_batch", {"identifiers": [HEX64, "../x"]}, "'../x' is not a valid identifAI identifier"),
    ("batch-item-type", "get_results_batch", {"identifiers": [HEX64, 7]}, "identifiers.1\n  Input should be a valid string"),
    # override
    ("override-neither", "override", {"classification": "human"}, "Give exactly one of identifier or hash."),
    ("override-both", "override", {"classification": "human", "identifier": HEX64, "hash": HEX64},
     "Give exactly one of identifier or hash."),
    ("override-label", "override", {"classification": "fake", "hash": HEX64}, "Input should be 'human' or 'artificial'"),
    ("override-short-hash", "override", {"classification": "human", "hash": "xyz"},
     "The hash must be the video's SHA-256: 64 hexadecimal characters."),
    ("override-non-hex-hash", "override", {"classification": "human", "hash": "g" * 64},
     "The hash must be the video's SHA-256: 64 hexadecimal characters."),
    ("override-long-hash", "override", {"classification": "human", "hash": "a" * 65}, "String should have at most 64 characters"),
    ("override-bad-identifier", "override", {"classification": "artificial", "identifier": "../etc"},
     "is not a valid identifAI identifier"),
    # local tools
    ("inspect-key", "inspect_video_file", {"path": "{id_rsa.mp4}"}, "Not a video: "),
    ("inspect-fifo", "inspect_video_file", {"path": "{pipe.mp4}"}, "is a named pipe (FIFO)"),
    ("frames-zero", "extract_frames", {"path": "{inside}", "frames": 0}, "Input should be greater than or equal to 1"),
    ("frames-too-many", "extract_frames", {"path": "{inside}", "frames": 61}, "Input should be less than or equal to 60"),
    ("frames-method", "extract_frames", {"path": "{inside}", "method": "random"},
     "Input should be 'time', 'iframes', 'color' or 'flow'"),
    ("frames-hidden", "extract_frames", {"path": "{.ssh/id_ed25519}"}, "is inside the hidden folder"),
    ("no-such-tool", "delete_everything", {}, "Unknown tool: delete_everything"),
]

FENCED_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # With IDENTIFAI_ALLOWED_DIRS, a path outside is refused alike whether it exists or not.
    ("outside-missing", CF, {"path": "/no/such/dir/clip.mp4"}, "is outside the allowed folders"),
    ("outside-existing-key", CF, {"path": "{id_rsa.mp4}"}, "is outside the allowed folders"),
    ("outside-directory", CF, {"path": "/etc"}, "/etc is outside the allowed folders"),
    ("outside-device", CF, {"path": "/dev/zero"}, "/dev/zero is outside the allowed folders"),
    ("symlink-escape", CF, {"path": "{videos/escape.mp4}"}, "(which resolves to"),
    ("dotdot-escape", CF, {"path": "{videos/../id_rsa.mp4}"}, "is outside the allowed folders"),
    ("prefix-sibling", CF, {"path": "{videos-evil/clip.mp4}"}, "is outside the allowed folders"),
    ("inside-missing", CF, {"path": "{videos/missing.mp4}"}, "No such file"),
    ("inspect-outside", "inspect_video_file", {"path": "/no/such/dir/clip.mp4"}, "is outside the allowed folders"),
    ("frames-outside", "extract_frames", {"path": "{notes.txt}"}, "is outside the allowed folders"),
]


def _args(args: dict[str, Any], files: Files) -> dict[str, Any]:
    out = {k: fill(v, files) for k, v in args.items()}
    if out.get("path") == str(files.root / "inside"):
        out["path"] = str(files.videos / "inside.mp4")
    return out


async def _assert_case(client: Client, files: Files, tool: str, args: dict[str, Any], needle: str) -> None:
    result = await call(client, tool, _args(args, files))
    text = result.content[0].text
    assert result.is_error, text
    assert needle in text, text
    assert "Traceback" not in text and 'File "' not in text and "Internal error" not in text
    assert len(text) < 6000
    alive = await call(client, "get_credits", {})
    assert not alive.is_error, alive.content[0].text


@pytest.mark.parametrize(("tool", "args", "needle"), [pytest.param(*c[1:], id=c[0]) for c in MCP_CASES])
async def test_mcp_bad_input_gets_its_clear_error_and_the_server_lives(
    open_client: Client, fake: FakeIdentifai, files: Files, tool: str, args: dict[str, Any], needle: str
) -> None:
    await _assert_case(open_client, files, tool, args, needle)
    assert not fake.calls("POST"), "nothing is uploaded for a refused input"


@pytest.mark.parametrize(("tool", "args", "needle"), [pytest.param(*c[1:], id=c[0]) for c in FENCED_CASES])
async def test_mcp_paths_outside_the_allowed_folders_are_refused_before_anything_else(
    fenced_client: Client, fake: FakeIdentifai, files: Files, tool: str, args: dict[str, Any], needle: str
) -> None:
    await _assert_case(fenced_client, files, tool, args, needle)
    assert not fake.calls("POST")


async def test_outside_the_allowed_folders_a_refusal_does_not_tell_whether_the_file_exists(
    fenced_client: Client, files: Files, fake: FakeIdentifai
) -> None:
    texts = []
    for path in (files.root / "id_rsa.mp4", files.root / "id_rsa-missing.mp4", files.root / "folder.mp4"):
        result = await call(fenced_client, CF, {"path": str(path)})
        texts.append(result.content[0].text.replace(str(path), "<path>"))
    assert texts[0] == texts[1] == texts[2]


async def test_a_file_in_the_allowed_folder_is_still_accepted(fenced_client: Client, files: Files, fake: FakeIdentifai) -> None:
    result = await call(fenced_client, CF, {"path": str(files.videos / "inside.mp4"), "no_cache": True})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["status"] == "done"


async def test_odd_but_legal_options_are_sent_as_given(open_client: Client, files: Files, fake: FakeIdentifai) -> None:
    ref = "case\u202e#1\x00 ✓ " + "界" * 40
    result = await call(open_client, CU, {"url": "https://cdn.example.com/human.mp4", "ref_id": ref, "wait_seconds": 0})
    assert not result.is_error, result.content[0].text
    assert fake.calls("POST")[0].form["ref_id"] == ref


# -- the CLI matrix ---------------------------------------------------------------------------------


@pytest.fixture
def cli(fake: FakeIdentifai, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDENTIFAI_API_KEY", API_KEY)
    monkeypatch.setenv("IDENTIFAI_BASE_URL", fake.base_url)
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore", "uvicorn.access")}
    filters = {h: list(h.filters) for h in [*root.handlers, logging.lastResort] if h is not None}
    factory = logging.getLogRecordFactory()  # main() installs redaction on the root logger
    yield
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    for handler, saved in filters.items():
        handler.filters[:] = saved
    logging.setLogRecordFactory(factory)


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


CLI_CASES: list[tuple[str, list[str], int, str]] = [
    ("classify-missing", ["classify", "/no/such/clip.mp4"], 1, "No such file: /no/such/clip.mp4"),
    ("classify-empty", ["classify", ""], 1, "Refused: the file path is empty."),
    ("classify-undecodable-name", ["classify", "/no/such/\udcff.mp4"], 1, "No such file: /no/such/\\udcff.mp4"),
    ("classify-undecodable-url", ["classify", "https://example.com/\udcff.mp4"], 1, "invisible or control character"),
    ("classify-key", ["classify", "{id_rsa.mp4}"], 1, "Not a video: "),
    ("classify-ssh", ["classify", "~/.ssh/id_rsa"], 1, "often hold credentials"),
    ("classify-fifo", ["classify", "{pipe.mp4}"], 1, "is a named pipe (FIFO)"),
    ("classify-outside-allowed", ["classify", "/no/such/clip.mp4", "--allowed-dir", "{videos}"], 1,
     "is outside the allowed folders"),
    ("classify-frames-7", ["classify", "{inside}", "--frames", "7"], 2, "argument --frames: invalid choice: 7"),
    ("classify-wait-negative", ["classify", "{inside}", "--wait", "-1"], 2, "must be between 0 and 3600 seconds"),
    ("classify-wait-nan", ["classify", "{inside}", "--wait", "nan"], 2, "must be between 0 and 3600 seconds"),
    ("classify-wait-words", ["classify", "{inside}", "--wait", "soon"], 2, "not a number of seconds: 'soon'"),
    ("classify-method", ["classify", "{inside}", "--key-frames-method", "fast"], 2, "invalid choice: 'fast'"),
    ("classify-ref-id-too-long", ["classify", "{inside}", "--ref-id", "r" * 300], 2,
     "argument --ref-id: at most 255 characters, not 300"),
    ("classify-ftp", ["classify", "ftp://example.com/a.mp4"], 1, "ftp: URLs are not supported"),
    ("classify-credentials", ["classify", "https://u:p@example.com/a.mp4"], 1, "contains a user name or password"),
    ("classify-bad-base-url", ["classify", "{inside}", "--base-url", "ftp://example.com"], 2,
     "invalid configuration: base_url"),
    ("result-traversal", ["result", "../etc"], 1, "'../etc' is not a valid identifAI identifier"),
    ("result-unknown", ["result", HEX64], 1, "identifAI has no classification"),
    ("results-1001", ["results", *[HEX64] * 1001], 1, "1001 identifiers given; at most 1000 per call."),
    ("results-one-bad", ["results", HEX64, "a/b"], 1, "'a/b' is not a valid identifAI identifier"),
    ("override-neither", ["override", "human"], 2, "one of the arguments --identifier --hash is required"),
    ("override-both", ["override", "--identifier", HEX64, "--hash", HEX64, "human"], 2,
     "argument --hash: not allowed with argument --identifier"),
    ("override-label", ["override", "--hash", HEX64, "robot"], 2, "invalid choice: 'robot'"),
    ("override-short-hash", ["override", "--hash", "zz", "human"], 1, "64 hexadecimal characters"),
    ("history-limit-zero", ["history", "--limit", "0"], 2, "must be a whole number of at least 1, not '0'"),
    ("history-status", ["history", "--status", "lost"], 2, "invalid choice: 'lost'"),
    ("frames-zero", ["frames", "{inside}", "--frames", "0"], 2, "must be a whole number of at least 1"),
    ("frames-url", ["frames", "https://example.com/a.mp4"], 1, "frames works on local files only."),
    ("inspect-url", ["inspect", "https://example.com/a.mp4"], 1, "inspect works on local files only."),
    ("unknown-command", ["exfiltrate"], 2, "invalid choice: 'exfiltrate'"),
]


@pytest.mark.parametrize(("argv", "code", "needle"), [pytest.param(*c[1:], id=c[0]) for c in CLI_CASES])
def test_cli_bad_input_gets_its_clear_error_and_the_next_command_works(
    cli: None, fake: FakeIdentifai, files: Files, capsys: pytest.CaptureFixture[str],
    argv: list[str], code: int, needle: str,
) -> None:
    argv = [str(files.videos / "inside.mp4") if a == "{inside}" else fill(a, files) for a in argv]
    assert run_cli(argv) == code
    out, err = capsys.readouterr()
    assert needle in err, err
    assert out == "" and "Traceback" not in err and "internal error" not in err
    if code == 1:
        assert err.startswith("identifai-mcp: ") and err.count("\n") == 1, "one line, then the exit"
    assert not fake.calls("POST")
    assert run_cli(["credits"]) == 0


def test_cli_without_a_key_says_how_to_set_one(cli: None, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDENTIFAI_API_KEY")
    assert run_cli(["credits"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("identifai-mcp: No identifAI API key is configured. Set IDENTIFAI_API_KEY")


def test_case_counts() -> None:
    assert len(MCP_CASES) + len(FENCED_CASES) + len(CLI_CASES) >= 40
    assert len({c[0] for c in MCP_CASES + FENCED_CASES}) == len(MCP_CASES) + len(FENCED_CASES)


# -- shared HTTP mode: a key per request, a history per key, no local files ------------------------

ALICE, BOB = "key-alice-0123456789", "key-bob-9876543210"


@pytest.fixture
async def shared_app(fake: FakeIdentifai, tmp_path: Path) -> AsyncIterator[Any]:
    fake.reset(api_key=(ALICE, BOB), rate_limits=None, polls_until_done=0)
    settings = make_settings(fake, home=tmp_path / "shared-home", api_key=None)
    app = http_app(settings, host="0.0.0.0")  # beyond loopback: shared mode
    async with app.router.lifespan_context(app):
        yield app


def http_client(app: Any, key: str | None) -> Client:
    headers = {"X-Identifai-Api-Key": key} if key else {}
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000", headers=headers)
    return Client(streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http))


async def test_shared_mode_keeps_each_key_s_history_to_itself(shared_app: Any, fake: FakeIdentifai) -> None:
    identifiers = {}
    for key in (ALICE, BOB):
        async with http_client(shared_app, key) as client:
            result = await call(client, CU, {"url": f"https://cdn.example.com/{key[4:9]}/human.mp4", "wait_seconds": 1})
            assert not result.is_error, result.content[0].text
            identifiers[key] = result.structured_content["identifier"]
    for key, other in ((ALICE, BOB), (BOB, ALICE)):
        async with http_client(shared_app, key) as client:
            items = json.loads((await client.read_resource("identifai://history")).contents[0].text)["items"]
            assert [i["identifier"] for i in items] == [identifiers[key]]
            listed = {str(r.uri) for r in (await client.list_resources()).resources}
            assert f"identifai://videos/{identifiers[key]}" in listed
            assert f"identifai://videos/{identifiers[other]}" not in listed
            template = ResourceTemplateReference(type="ref/resource", uri="identifai://videos/{identifier}")
            offered = await client.complete(template, argument={"name": "identifier", "value": ""})
            assert offered.completion.values == [identifiers[key]]
            stolen = await call(client, "get_result", {"identifier": identifiers[other]})
            assert stolen.is_error and "identifAI has no classification" in stolen.content[0].text
            with pytest.raises(Exception, match="no classification"):
                await client.read_resource(f"identifai://videos/{identifiers[other]}")


async def test_shared_mode_turns_local_file_tools_off(shared_app: Any, files: Files) -> None:
    async with http_client(shared_app, ALICE) as client:
        for tool, args in ((CF, {"path": str(files.videos / "inside.mp4")}),
                           ("inspect_video_file", {"path": str(files.videos / "inside.mp4")}),
                           ("extract_frames", {"path": str(files.videos / "inside.mp4")})):
            result = await call(client, tool, args)
            assert result.is_error
            assert "Local files are off on this shared HTTP server" in result.content[0].text


async def test_shared_mode_without_a_key_says_how_to_send_one(shared_app: Any) -> None:
    async with http_client(shared_app, None) as client:
        result = await call(client, "get_credits", {})
        assert result.is_error and "No identifAI API key came with this request" in result.content[0].text
        assert "X-Identifai-Api-Key" in result.content[0].text


async def test_a_flood_of_new_request_keys_neither_slows_nor_unmasks(fake: FakeIdentifai, tmp_path: Path) -> None:
    """In shared mode anyone can send a new key with every request; each is registered for redaction."""
    settings = make_settings(fake, home=tmp_path / "flood", api_key="sk-OPERATOR-" + secrets.token_hex(8))
    async with Service.open(settings) as service:
        started = anyio.current_time()
        keys = [f"sk-flood-{secrets.token_hex(12)}" for _ in range(1500)]  # past the 1,024 kept
        for key in keys:
            service.for_key(key)
        assert anyio.current_time() - started < 6  # was minutes when each key grew one shared regex
        latest, operator = keys[-1], settings.key() or ""
        assert redact(f"{latest} {operator} {keys[-500]}").count("[REDACTED]") == 3
        # The most recent keys in use are still hidden after the flood; a key reused is refreshed.
        service.for_key(keys[0])
        assert keys[0] not in redact(f"echo {keys[0]}")


# -- the checked file is the uploaded file ----------------------------------------------------------


async def test_a_file_swapped_for_a_secret_after_its_check_is_not_uploaded(fake: FakeIdentifai, tmp_path: Path) -> None:
    video = write_video(tmp_path, "clip.mp4", "human")
    secret = tmp_path / "private.key"
    secret.write_bytes(PEM)

    async def swap(value: float, total: float | None, message: str) -> None:
        if not video.is_symlink():  # between the check and the upload, the path now names the key
            video.unlink()
            video.symlink_to(secret)

    settings = make_settings(fake, home=tmp_path / "home")
    async with Service.open(settings) as service:
        with pytest.raises(IdentifaiError, match="changed after it was checked; nothing was uploaded"):
            await service.classify_file(str(video), ClassifyOptions(), wait=0, progress=swap)
    assert not fake.calls("POST")


async def test_a_fifo_swapped_in_after_the_check_does_not_hang_the_server(fake: FakeIdentifai, tmp_path: Path) -> None:
    video = write_video(tmp_path, "clip.mp4", "human")

    async def swap(value: float, total: float | None, message: str) -> None:
        if not video.is_fifo():
            video.unlink()
            os.mkfifo(video)

    async with Service.open(make_settings(fake, home=tmp_path / "home")) as service:
        with anyio.fail_after(5), pytest.raises(IdentifaiError, match="changed after it was checked"):
            await service.classify_file(str(video), ClassifyOptions(), wait=0, progress=swap)
    assert not fake.calls("POST")


async def test_the_upload_carries_the_sniffed_type_and_the_name_the_caller_used(
    fake: FakeIdentifai, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = write_video(store, "3f2a9c.webm", "human")  # MP4 bytes under a WebM name
    link = tmp_path / "holiday.mov"
    link.symlink_to(target)
    async with Service.open(make_settings(fake, home=tmp_path / "home")) as service:
        await service.classify_file(str(link), ClassifyOptions(), wait=0)
    sent = fake.calls("POST")[0].file
    assert (sent.content_type, sent.filename) == ("video/mp4", "holiday.mov")
