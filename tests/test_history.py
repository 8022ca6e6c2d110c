from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from identifai_mcp.errors import ConfigError
from identifai_mcp.history import (
    DB_FILENAME,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    ScopedHistory,
)

LISTING_FIELDS = {
    "identifier", "hash", "source", "name", "ref_id", "submitted_at", "status", "classification", "confidence",
}
REPO = Path(__file__).resolve().parent.parent

# Schema version 1 written out by hand, with one row: the migration test must start from the
# shape that files on disk have, not from whatever the first migration says today.
V1_SCHEMA = """
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL,
    source TEXT, name TEXT, ref_id TEXT, options TEXT, options_key TEXT, identifier TEXT, hash TEXT,
    status TEXT NOT NULL, error TEXT, classification TEXT, confidence REAL, result_json TEXT,
    submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX submissions_identifier ON submissions (scope, identifier);
INSERT INTO submissions (kind, source, name, options, options_key, identifier, hash, status,
                         classification, confidence, result_json, submitted_at, updated_at)
VALUES ('file', '/v/old.mp4', 'old.mp4', '{"frames":5}', 'frames=5', 'old-id', 'old-hash', 'done',
        'human', 0.75, '{"identifier":"old-id"}', '2025-01-02T03:04:05.000000Z', '2025-01-02T03:04:05.000000Z');
PRAGMA user_version = 1;
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "home") as opened:
        yield opened


def _classified(
    history: ScopedHistory,
    identifier: str,
    *,
    hash: str | None = None,
    status: str = "done",
    classification: str | None = "human",
    options_key: str = "frames=5",
    ref_id: str | None = None,
) -> int:
    row = history.begin("file", f"/videos/{identifier}.mp4", f"{identifier}.mp4", {"frames": 5}, options_key, ref_id)
    history.submitted(row, identifier, hash)
    history.save_result(identifier, {"identifier": identifier}, status=status, classification=classification,
                        confidence=0.9 if classification else None)
    return row


@contextmanager
def _raw(home: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, autocommitting, that bypasses HistoryStore entirely."""
    with closing(sqlite3.connect(home / DB_FILENAME, isolation_level=None)) as db:
        yield db


# -- opening -------------------------------------------------------------------------------


def test_open_creates_a_private_home_and_database_in_wal_mode(tmp_path: Path) -> None:
    home = tmp_path / "a" / "b"
    with HistoryStore.open(home) as history:
        assert history.path == home / DB_FILENAME
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / DB_FILENAME).stat().st_mode) == 0o600
    with _raw(home) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_rows_survive_closing_and_reopening(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path) as history:
        _classified(history, "id-1", hash="h")
    with HistoryStore.open(tmp_path) as history:
        entry = history.get("id-1")
    assert entry is not None and entry.hash == "h" and entry.result == {"identifier": "id-1"}


def test_v1_database_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    with _raw(tmp_path) as db:
        db.executescript(V1_SCHEMA)
    with HistoryStore.open(tmp_path) as history:
        entry = history.get("old-id")
        assert entry is not None
        assert (entry.status, entry.classification, entry.override_classification) == ("done", "human", None)
        assert history.record_override("old-hash", "artificial") == 1
        assert history.find_done("old-hash", "frames=5") is not None
    with _raw(tmp_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {row[1] for row in db.execute("PRAGMA index_list(submissions)")}
    assert {"submissions_newest", "submissions_hash"} <= indexes


def test_a_failed_migration_leaves_neither_its_changes_nor_its_version(tmp_path: Path) -> None:
    # A v1 file someone already gave an `overridden_at` column: migration 2 fails half-way.
    with _raw(tmp_path) as db:
        db.executescript(V1_SCHEMA + "ALTER TABLE submissions ADD COLUMN overridden_at TEXT;")
    with pytest.raises(HistoryError):
        HistoryStore.open(tmp_path)
    with _raw(tmp_path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "override_classification" not in columns


def test_database_from_a_newer_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with _raw(tmp_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError) as raised:
        HistoryStore.open(tmp_path)
    assert "newer" in str(raised.value) and str(tmp_path / DB_FILENAME) in str(raised.value)
    assert "Upgrade identifai-mcp" in raised.value.hint


def test_corrupt_file_is_a_config_error_naming_the_path_not_the_contents(tmp_path: Path) -> None:
    (tmp_path / DB_FILENAME).write_bytes(b"PRIVATE NOTES " * 1000)
    with pytest.raises(ConfigError) as raised:
        HistoryStore.open(tmp_path)
    text = raised.value.describe()
    assert str(tmp_path / DB_FILENAME) in text and "Move" in text
    assert "PRIVATE" not in text


def test_home_that_is_a_file_is_a_history_error(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("")
    with pytest.raises(HistoryError, match="Cannot open or create the history database"):
        HistoryStore.open(tmp_path / "home")


def test_a_closed_store_raises_history_error(tmp_path: Path) -> None:
    history = HistoryStore.open(tmp_path)
    history.close()
    history.close()
    with pytest.raises(HistoryError):
        history.get("x")


# -- the life of a submission --------------------------------------------------------------


def test_begin_records_a_submitting_row_before_any_identifier(store: HistoryStore) -> None:
    row = store.begin("url", "https://example.com/v.mp4", "v.mp4", {"frames": 10, "ref_id": "r"}, "frames=10", "r")
    [entry], _ = store.list()
    assert (entry.id, entry.status, entry.identifier, entry.kind) == (row, "submitting", None, "url")
    assert (entry.options, entry.options_key, entry.ref_id) == ({"frames": 10, "ref_id": "r"}, "frames=10", "r")
    assert entry.submitted_at == entry.updated_at and entry.submitted_at.endswith("Z")


def test_submitted_stores_identifier_and_hash_and_marks_pending(store: HistoryStore) -> None:
    row = store.begin("file", "/v/a.mp4", "a.mp4", {}, "")
    store.submitted(row, "id-a", "hash-a")
    entry = store.get("id-a")
    assert entry is not None and (entry.id, entry.status, entry.hash) == (row, "pending", "hash-a")
    assert store.hash_for("id-a") == "hash-a"
    assert store.hash_for("nope") is None


def test_failed_keeps_the_error_the_user_read(store: HistoryStore) -> None:
    row = store.begin("file", "/v/a.mp4", "a.mp4", {}, "")
    store.failed(row, "identifAI rejected the API key.")
    [entry], _ = store.list(status="failed")
    assert (entry.id, entry.error, entry.identifier) == (row, "identifAI rejected the API key.", None)


def test_updating_a_row_that_does_not_exist_is_a_history_error_that_changes_nothing(store: HistoryStore) -> None:
    store.save_result("id", {"kept": True}, status="done", classification="human", confidence=0.9)
    with pytest.raises(HistoryError, match="no row 42"):
        store.submitted(42, "id", None)
    with pytest.raises(HistoryError, match="no row 42"):
        store.failed(42, "boom")
    entry = store.get("id")
    assert entry is not None and entry.result == {"kept": True}


def test_save_result_updates_the_row_without_erasing_what_is_known(store: HistoryStore) -> None:
    row = store.begin("file", "/v/a.mp4", "a.mp4", {}, "", "ref-1")
    store.submitted(row, "id-a", None)
    store.save_result("id-a", {"status": "new"}, status="pending", classification=None, confidence=None)
    store.save_result("id-a", {"status": "done", "n": 1}, status="done", classification="artificial",
                      confidence=0.97, hash="h")
    entry = store.get("id-a")
    assert entry is not None
    assert (entry.id, entry.status, entry.classification, entry.confidence) == (row, "done", "artificial", 0.97)
    assert (entry.hash, entry.name, entry.source, entry.ref_id) == ("h", "a.mp4", "/v/a.mp4", "ref-1")
    assert entry.result == {"status": "done", "n": 1}
    assert entry.updated_at > entry.submitted_at


def test_save_result_for_an_identifier_submitted_elsewhere_adds_a_row(store: HistoryStore) -> None:
    store.save_result("elsewhere", {"x": [1, 2]}, status="errored", classification=None, confidence=None,
                      name="n.mp4", ref_id="r")
    entry = store.get("elsewhere")
    assert entry is not None
    assert (entry.kind, entry.source, entry.options, entry.options_key) == ("unknown", None, None, None)
    assert (entry.status, entry.name, entry.ref_id, entry.result) == ("errored", "n.mp4", "r", {"x": [1, 2]})


def test_save_result_rejects_a_status_that_is_not_a_result_status(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="status"):
        store.save_result("x", {}, status="failed", classification=None, confidence=None)


def test_a_result_saved_before_submitted_is_folded_into_the_submission_row(store: HistoryStore) -> None:
    row = store.begin("file", "/v/a.mp4", "a.mp4", {}, "k")
    store.save_result("id-a", {"done": True}, status="done", classification="human", confidence=0.8, hash="h")
    store.submitted(row, "id-a", None)
    entries, _ = store.list()
    assert [(e.id, e.status, e.hash, e.source, e.result) for e in entries] == [
        (row, "done", "h", "/v/a.mp4", {"done": True})
    ]


def test_find_done_returns_the_newest_done_row_for_that_hash_and_options(store: HistoryStore) -> None:
    _classified(store, "old", hash="h")
    newest = _classified(store, "new", hash="h")
    found = store.find_done("h", "frames=5")
    assert found is not None and found.id == newest


@pytest.mark.parametrize("decoy", ["other options_key", "other scope", "pending", "errored", "failed"])
def test_find_done_ignores(store: HistoryStore, decoy: str) -> None:
    if decoy == "other options_key":
        _classified(store, "id", hash="h", options_key="frames=30")
    elif decoy == "other scope":
        _classified(store.scoped("someone-else"), "id", hash="h")
    elif decoy == "failed":
        store.failed(store.begin("file", "/v.mp4", "v.mp4", {}, "frames=5", hash="h"), "boom")
    else:
        _classified(store, "id", hash="h", status=decoy, classification=None)
    assert store.find_done("h", "frames=5") is None


def test_override_marks_every_row_of_that_video_in_the_scope_only(store: HistoryStore) -> None:
    other = store.scoped("other")
    _classified(store, "a1", hash="h")
    _classified(store, "a2", hash="h")
    _classified(store, "b", hash="h2")
    _classified(other, "a1", hash="h")
    assert store.record_override("h", "artificial") == 2
    assert [store.get(i).override_classification for i in ("a1", "a2", "b")] == ["artificial", "artificial", None]
    assert other.get("a1").override_classification is None
    with pytest.raises(ValueError):
        store.record_override("h", "fake")


def test_as_listing_has_the_history_resource_fields_and_override_only_when_set(store: HistoryStore) -> None:
    _classified(store, "a", hash="h", ref_id="r")
    listing = store.get("a").as_listing()
    assert set(listing) == LISTING_FIELDS
    assert (listing["identifier"], listing["hash"], listing["ref_id"], listing["confidence"]) == ("a", "h", "r", 0.9)
    store.record_override("h", "artificial")
    listing = store.get("a").as_listing()
    assert set(listing) == LISTING_FIELDS | {"override"}
    assert listing["override"]["classification"] == "artificial"


# -- listing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "sizes"), [(50, [50, 50, 20]), (40, [40, 40, 40])])
def test_list_pages_through_120_rows_newest_first(store: HistoryStore, limit: int, sizes: list[int]) -> None:
    rows = [store.begin("url", f"https://x/{i}", None, {}, "") for i in range(120)]
    seen, cursor, page_sizes = [], None, []
    while True:
        page, cursor = store.list(limit=limit, cursor=cursor)
        page_sizes.append(len(page))
        seen += [entry.id for entry in page]
        if cursor is None:
            break
    assert page_sizes == sizes
    assert seen == rows[::-1]


def test_list_filters_combine_and_page(store: HistoryStore) -> None:
    for i in range(30):
        _classified(store, f"id-{i}", status="done" if i % 2 else "pending",
                    classification=("human" if i % 3 else "artificial") if i % 2 else None,
                    ref_id="batch" if i < 20 else None)
    expected = [f"id-{i}" for i in range(29, -1, -1) if i % 2 and i % 3 and i < 20]
    seen, cursor = [], None
    while True:
        page, cursor = store.list(limit=2, cursor=cursor, status="done", classification="human", ref_id="batch")
        seen += [entry.identifier for entry in page]
        if cursor is None:
            break
    assert seen == expected


def test_list_since_is_inclusive_and_until_exclusive_in_any_time_zone(store: HistoryStore) -> None:
    for i in range(6):
        _classified(store, f"id-{i}")
    entries, _ = store.list()
    since, until = entries[4].submitted_at, entries[1].submitted_at
    expected = [e.id for e in entries if since <= e.submitted_at < until]
    plus_two = timezone(timedelta(hours=2))
    assert expected and [e.id for e in store.list(since=since, until=until)[0]] == expected
    as_datetimes = {"since": datetime.fromisoformat(since), "until": datetime.fromisoformat(until)}
    assert [e.id for e in store.list(**as_datetimes)[0]] == expected
    shifted = {k: v.astimezone(plus_two).isoformat() for k, v in as_datetimes.items()}
    assert [e.id for e in store.list(**shifted)[0]] == expected
    naive = {k: v.replace(tzinfo=None) for k, v in as_datetimes.items()}
    assert [e.id for e in store.list(**naive)[0]] == expected
    assert store.list(since="2999-01-01")[0] == []


@pytest.mark.parametrize("cursor", ["", "garbage!", "aDE6LTM", "eHg6MTA", "aDE6YWJj", "\u00e9"])
def test_list_rejects_a_cursor_it_did_not_hand_out(store: HistoryStore, cursor: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid history cursor.*next_cursor"):
        store.list(cursor=cursor)


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 1001}, {"status": "new"}, {"since": "yesterday"}])
def test_list_rejects_bad_arguments(store: HistoryStore, bad: dict) -> None:
    with pytest.raises(ValueError):
        store.list(**bad)


def test_recent_identifiers_are_newest_first_by_prefix(store: HistoryStore) -> None:
    for identifier in ("abc-1", "xyz-1", "abc-2", "abc-3"):
        _classified(store, identifier)
    store.begin("url", "https://x/pending", None, {}, "")
    assert store.recent_identifiers() == ["abc-3", "abc-2", "xyz-1", "abc-1"]
    assert store.recent_identifiers("abc", limit=2) == ["abc-3", "abc-2"]
    assert store.recent_identifiers("abc-%") == []


def test_scopes_never_see_each_others_rows(store: HistoryStore) -> None:
    alice, bob = store.scoped("alice-digest"), store.scoped("bob-digest")
    _classified(alice, "shared-id", hash="ha")
    _classified(bob, "shared-id", hash="hb")
    _classified(alice, "alice-only", hash="ha")
    assert alice.get("shared-id").hash == "ha" and bob.get("shared-id").hash == "hb"
    assert bob.get("alice-only") is None and store.get("shared-id") is None
    assert bob.hash_for("alice-only") is None
    assert [e.identifier for e in bob.list()[0]] == ["shared-id"]
    assert bob.recent_identifiers() == ["shared-id"]
    assert store.list() == ([], None)
    assert bob.find_done("ha", "frames=5") is None
    assert bob.record_override("ha", "human") == 0
    with pytest.raises(HistoryError):
        bob.failed(alice.get("alice-only").id, "not yours")


# -- concurrency and crashes ---------------------------------------------------------------


def _write_concurrently(histories: list[ScopedHistory], writes: int) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(histories))

    def writer(n: int, history: ScopedHistory) -> None:
        try:
            start.wait()
            for i in range(writes):
                row = history.begin("file", f"/v/{n}-{i}.mp4", None, {}, "k")
                history.submitted(row, f"t{n}-{i}", f"h{n}-{i}")
        except BaseException as exc:  # collected: an exception in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n, h)) for n, h in enumerate(histories)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_ten_threads_share_one_store(store: HistoryStore) -> None:
    assert _write_concurrently([store] * 10, writes=20) == []
    entries, _ = store.list(limit=1000)
    assert len(entries) == 200 and all(e.status == "pending" for e in entries)
    assert len({e.identifier for e in entries}) == 200


def test_ten_connections_open_and_write_one_file_at_once(tmp_path: Path) -> None:
    # Separate stores stand in for separate processes: they meet SQLite's locks, not ours,
    # and all ten race to create and migrate the same new file.
    stores: list[HistoryStore] = []
    opened = threading.Barrier(10)

    def open_one() -> None:
        opened.wait()
        stores.append(HistoryStore.open(tmp_path))

    openers = [threading.Thread(target=open_one) for _ in range(10)]
    for thread in openers:
        thread.start()
    for thread in openers:
        thread.join(timeout=30)
    try:
        assert len(stores) == 10
        assert _write_concurrently(stores, writes=20) == []
        assert len(stores[0].list(limit=1000)[0]) == 200
    finally:
        for opened_store in stores:
            opened_store.close()


def test_sigkill_mid_write_leaves_every_committed_row_readable(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("history_crash_writer.py")), str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    safety = threading.Timer(20, writer.kill)  # a stuck writer fails the test instead of hanging it
    safety.start()
    reported: list[int] = []
    try:
        for line in writer.stdout:
            reported.append(int(line))
            if len(reported) == 40:
                break
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        safety.cancel()
    assert writer.returncode == -signal.SIGKILL, writer.stderr.read()
    # Read through the same file object: lines it has buffered already are committed rows too.
    reported += [int(line) for line in writer.stdout.read().splitlines(keepends=True) if line.endswith("\n")]
    writer.stdout.close()
    writer.stderr.close()

    with _raw(tmp_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with HistoryStore.open(tmp_path) as history:
        for row in reported:
            entry = history.get(f"crash-{row}")
            assert entry is not None and entry.id == row and entry.status == "done"
            assert entry.result is not None and len(entry.result["results"]["images"]) == 8
