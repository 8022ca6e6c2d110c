"""The command line, through main(argv), against the fake identifAI over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakeserver import API_KEY, fake, fake_server, write_video  # noqa: F401

from identifai_mcp.cli import main
from identifai_mcp.fake import FakeIdentifai


@pytest.fixture
def env(fake: FakeIdentifai, monkeypatch: pytest.MonkeyPatch) -> FakeIdentifai:
    monkeypatch.setenv("IDENTIFAI_API_KEY", API_KEY)
    monkeypatch.setenv("IDENTIFAI_BASE_URL", fake.base_url)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_file_json_prints_a_done_report_with_the_sha256(
    env: FakeIdentifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = write_video(tmp_path, "clip.mp4", "artificial")
    code, out, err = run(capsys, "classify", str(video), "--json", "--wait", "30", "--frames", "5", "--with-nsfw")
    assert code == 0, err
    report = json.loads(out)
    import hashlib

    assert report["status"] == "done"
    assert report["hash"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert report["verdict"]["classification"] == "artificial"
    assert env.calls("POST")[-1].form == {"frames": "5", "with_nsfw": "true"}
    assert err == "", "no progress noise when stderr is not a terminal"


def test_classify_url_prints_the_summary(env: FakeIdentifai, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "classify", "https://cdn.example.com/human.mp4", "--ref-id", "case-7")
    assert code == 0
    assert "human" in out and "confidence" in out
    assert env.calls("POST")[-1].form == {"file_url": "https://cdn.example.com/human.mp4", "ref_id": "case-7"}


def test_pending_is_success_and_says_what_to_do(env: FakeIdentifai, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    env.configure(polls_until_done=100)
    video = write_video(tmp_path, "slow.mp4", "human")
    code, out, _ = run(capsys, "classify", str(video), "--wait", "0")
    assert code == 0
    assert "get_result" in out or "result" in out
    code, out, _ = run(capsys, "classify", str(video), "--wait", "0", "--json")
    identifier = json.loads(out)["identifier"]
    env.finish(identifier)
    code, out, _ = run(capsys, "result", identifier, "--json", "--wait", "5")
    assert code == 0 and json.loads(out)["status"] == "done"


def test_result_results_override_credits_history(env: FakeIdentifai, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    video = write_video(tmp_path, "clip.mp4", "human")
    _, out, _ = run(capsys, "classify", str(video), "--json")
    report = json.loads(out)
    identifier, file_hash = report["identifier"], report["hash"]

    code, out, _ = run(capsys, "result", identifier, "--frames-table")
    assert code == 0 and "frame 0" in out

    code, out, _ = run(capsys, "results", identifier, "0" * 64, "--json")
    batch = json.loads(out)
    assert code == 0 and batch["missing"] == ["0" * 64] and len(batch["results"]) == 1

    code, out, _ = run(capsys, "override", "--identifier", identifier, "artificial", "--json")
    assert code == 0 and json.loads(out) == {"classification": "artificial", "type": "video", "hash": file_hash}

    code, out, _ = run(capsys, "credits", "--json")
    assert code == 0 and set(json.loads(out)) >= {"available_credits", "total_spent"}

    code, out, _ = run(capsys, "history", "--limit", "5", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["identifier"] == identifier
    code, out, _ = run(capsys, "history")
    assert identifier[:16] in out


@pytest.mark.parametrize("argv,needle", [
    (["classify", "/no/such/video.mp4"], "No such file"),
    (["classify", "ftp://example.com/v.mp4"], "not supported"),
    (["result", "../etc/passwd"], "not a valid identifAI identifier"),
    (["override", "--hash", "xyz", "human"], "SHA-256"),
    (["inspect", "https://example.com/v.mp4"], "local files"),
])
def test_errors_exit_1_with_one_line_on_stderr(env: FakeIdentifai, capsys: pytest.CaptureFixture[str],
                                               argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["classify"],
    ["classify", "x.mp4", "--frames", "7"],
    ["override", "human"],
    ["override", "--identifier", "a", "--hash", "b", "human"],
    ["history", "--limit", "0"],
    ["result", "abc", "--wait", "forever"],
    ["nonsense"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_missing_key_is_explained(fake: FakeIdentifai, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IDENTIFAI_BASE_URL", fake.base_url)
    code, _, err = run(capsys, "credits")
    assert code == 1 and "IDENTIFAI_API_KEY" in err


def test_bad_configuration_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IDENTIFAI_WAIT_SECONDS", "soon")
    code, _, err = run(capsys, "credits")
    assert code == 2 and "wait_seconds" in err


def test_unauthorized_key(env: FakeIdentifai, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IDENTIFAI_API_KEY", "wrong-key-123456")
    code, _, err = run(capsys, "credits")
    assert code == 1 and "rejected the API key" in err and "wrong-key-123456" not in err


def test_inspect_and_frames_work_offline_without_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from media import make_mp4

    monkeypatch.setenv("IDENTIFAI_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    video = make_mp4(tmp_path / "real.mp4", seconds=1, fps=10)
    code, out, err = run(capsys, "inspect", str(video), "--json")
    assert code == 0, err
    assert json.loads(out)["c2pa"]["present"] is False
    code, out, err = run(capsys, "frames", str(video), "--frames", "3", "--out", str(tmp_path / "frames"), "--json")
    assert code == 0, err
    frames = json.loads(out)["frames"]
    assert len(frames) == 3 and all(Path(f["path"]).read_bytes()[:2] == b"\xff\xd8" for f in frames)


def test_console_script_runs_as_a_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "identifai_mcp", "credits", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "credits" in proc.stdout
