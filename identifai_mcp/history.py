"""Local history of submissions: one SQLite file, `history.sqlite3`, under the home directory.

A row is written before an upload starts, so a crash leaves a row in 'submitting' rather than
nothing, and is then updated as the identifier, the hash and results arrive. Results fetched for
identifiers submitted elsewhere get a row too (kind 'unknown'). Rows belong to a scope: a digest of
the API key in multi-user HTTP mode, '' otherwise. Everything is read and written through a
`ScopedHistory`, so one user never sees another's rows; `HistoryStore` is itself the view of ''.

Stored: what `identifai://history` lists, the submit options and the latest result JSON. Never the
API key (callers pass a digest as the scope) and never file contents.

Every method raises `HistoryError` (a `ConfigError`) when the database fails. History is a
convenience: callers log that error and carry on, because the verdict is what the user paid for.
A `ValueError` means the call itself was wrong (an unknown status, a bad cursor).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from identifai_mcp.errors import ConfigError

logger = logging.getLogger(__name__)

DB_FILENAME = "history.sqlite3"
# Long enough to outwait another process's write (each is one short transaction), short
# enough that a stuck lock costs a tool call a few seconds, not the client's whole budget.
BUSY_TIMEOUT_SECONDS = 5.0
MAX_LIST_LIMIT = 1000
MAX_ERROR_CHARS = 2000

KINDS = ("file", "url")
STATUSES = ("submitting", "pending", "done", "errored", "failed")
RESULT_STATUSES = ("pending", "done", "errored")
CLASSIFICATIONS = ("human", "artificial")

# Append-only: MIGRATIONS[n] takes the schema from version n to n + 1 (PRAGMA user_version).
# Never edit a shipped entry; add one. No CHECK constraints: SQLite cannot alter them later.
# AUTOINCREMENT: ids are never reused, so a list cursor never skips to a newer row.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE submissions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL,
            source TEXT, name TEXT, ref_id TEXT, options TEXT, options_key TEXT, identifier TEXT, hash TEXT,
            status TEXT NOT NULL, error TEXT, classification TEXT, confidence REAL, result_json TEXT,
            submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL
        )""",
        # SQLite treats NULLs as distinct, so rows still waiting for an identifier never clash.
        "CREATE UNIQUE INDEX submissions_identifier ON submissions (scope, identifier)",
    ),
    (
        "ALTER TABLE submissions ADD COLUMN override_classification TEXT",
        "ALTER TABLE submissions ADD COLUMN overridden_at TEXT",
        "CREATE INDEX submissions_newest ON submissions (scope, id)",
        "CREATE INDEX submissions_hash ON submissions (scope, hash)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "id, scope, kind, source, name, ref_id, options, options_key, identifier, hash, status, error, "
    "classification, confidence, result_json, submitted_at, updated_at, override_classification, overridden_at"
)
_CURSOR_PREFIX = "h1:"


class HistoryError(ConfigError):
    """The history database could not be opened, read or written."""

    hint = (
        "The history is only a local convenience; classifications still work without it. "
        "Check the disk and the permissions of IDENTIFAI_MCP_HOME, or point it at another directory."
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of the history, with `options` and `result` parsed back from JSON."""

    id: int
    scope: str
    kind: str  # 'file', 'url', or 'unknown' for results of identifiers submitted elsewhere
    source: str | None
    name: str | None
    ref_id: str | None
    options: dict[str, Any] | None
    options_key: str | None
    identifier: str | None
    hash: str | None
    status: str
    error: str | None
    classification: str | None
    confidence: float | None
    result: dict[str, Any] | None
    submitted_at: str
    updated_at: str
    override_classification: str | None
    overridden_at: str | None

    def as_listing(self) -> dict[str, Any]:
        """The fields of one `identifai://history` item, plus `override` when there is one."""
        item: dict[str, Any] = {
            "identifier": self.identifier,
            "hash": self.hash,
            "source": self.source,
            "name": self.name,
            "ref_id": self.ref_id,
            "submitted_at": self.submitted_at,
            "status": self.status,
            "classification": self.classification,
            "confidence": self.confidence,
        }
        if self.override_classification:
            item["override"] = {"classification": self.override_classification, "overridden_at": self.overridden_at}
        return item


class ScopedHistory:
    """The rows of one scope. Thread-safe; share the store's instance or make one per request."""

    def __init__(self, db: _Database, scope: str) -> None:
        self._db = db
        self.scope = scope

    def begin(
        self,
        kind: str,
        source: str,
        name: str | None,
        options: dict[str, Any],
        options_key: str,
        ref_id: str | None = None,
        *,
        hash: str | None = None,
    ) -> int:
        """Record a submission about to start (status 'submitting') and return its row id."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        now = _now()
        with self._db.write() as db:
            cursor = db.execute(
                "INSERT INTO submissions (scope, kind, source, name, ref_id, options, options_key, hash, status,"
                " submitted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?)",
                (self.scope, kind, source, name, ref_id, _dumps(options), options_key, hash, now, now),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def submitted(self, row_id: int, identifier: str, hash: str | None = None) -> None:
        """identifAI accepted submission `row_id` as `identifier`: status becomes 'pending'."""
        with self._db.write() as db:
            row = db.execute("SELECT 1 FROM submissions WHERE id = ? AND scope = ?", (row_id, self.scope))
            _require(row.fetchone() is not None, row_id)
            _absorb_duplicate(db, self.scope, row_id, identifier)
            db.execute(
                "UPDATE submissions SET identifier = ?, hash = COALESCE(?, hash), error = NULL, updated_at = ?,"
                " status = CASE WHEN status IN ('done', 'errored') THEN status ELSE 'pending' END WHERE id = ?",
                (identifier, hash, _now(), row_id),
            )

    def failed(self, row_id: int, error: str) -> None:
        """The submission itself failed; `error` is the text the user read, already redacted."""
        with self._db.write() as db:
            updated = db.execute(
                "UPDATE submissions SET status = 'failed', error = ?, updated_at = ? WHERE id = ? AND scope = ?",
                (error[:MAX_ERROR_CHARS], _now(), row_id, self.scope),
            )
            _require(updated.rowcount > 0, row_id)

    def save_result(
        self,
        identifier: str,
        result: dict[str, Any],
        *,
        status: str,
        classification: str | None,
        confidence: float | None,
        hash: str | None = None,
        name: str | None = None,
        ref_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """Store the latest result of `identifier`, adding a row if it was submitted elsewhere."""
        if status not in RESULT_STATUSES:
            raise ValueError(f"status must be one of {RESULT_STATUSES}, not {status!r}")
        now, result_json = _now(), _dumps(result)
        with self._db.write() as db:
            changed = db.execute(
                "UPDATE submissions SET status = ?, classification = ?, confidence = ?, result_json = ?,"
                " hash = COALESCE(?, hash), name = COALESCE(?, name), ref_id = COALESCE(?, ref_id),"
                " source = COALESCE(?, source), error = NULL, updated_at = ? WHERE scope = ? AND identifier = ?",
                (status, classification, confidence, result_json, hash, name, ref_id, source, now,
                 self.scope, identifier),
            ).rowcount
            if not changed:
                db.execute(
                    "INSERT INTO submissions (scope, kind, source, name, ref_id, identifier, hash, status,"
                    " classification, confidence, result_json, submitted_at, updated_at)"
                    " VALUES (?, 'unknown', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.scope, source, name, ref_id, identifier, hash, status, classification, confidence,
                     result_json, now, now),
                )

    def get(self, identifier: str) -> HistoryEntry | None:
        """The row of `identifier`, or None when this scope has never seen it."""
        rows = self._db.read(f"SELECT {_COLUMNS} FROM submissions WHERE scope = ? AND identifier = ?",
                             (self.scope, identifier))
        return _entry(rows[0]) if rows else None

    def find_done(self, hash: str, options_key: str) -> HistoryEntry | None:
        """The newest finished classification of this file with these options, to avoid paying twice."""
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM submissions WHERE scope = ? AND hash = ? AND options_key = ?"
            " AND status = 'done' ORDER BY id DESC LIMIT 1",
            (self.scope, hash, options_key),
        )
        return _entry(rows[0]) if rows else None

    def hash_for(self, identifier: str) -> str | None:
        """The video hash known for `identifier`, or None."""
        rows = self._db.read("SELECT hash FROM submissions WHERE scope = ? AND identifier = ?",
                             (self.scope, identifier))
        return rows[0]["hash"] if rows else None

    def record_override(self, hash: str, classification: str) -> int:
        """Mark every row of this video as overridden; returns how many rows were marked."""
        if classification not in CLASSIFICATIONS:
            raise ValueError(f"classification must be one of {CLASSIFICATIONS}, not {classification!r}")
        now = _now()
        with self._db.write() as db:
            return db.execute(
                "UPDATE submissions SET override_classification = ?, overridden_at = ?, updated_at = ?"
                " WHERE scope = ? AND hash = ?",
                (classification, now, now, self.scope, hash),
            ).rowcount

    def recent_identifiers(self, prefix: str = "", limit: int = 50) -> builtins.list[str]:
        """Identifiers starting with `prefix`, newest submission first."""
        rows = self._db.read(
            "SELECT identifier FROM submissions WHERE scope = ? AND identifier IS NOT NULL"
            " AND substr(identifier, 1, ?) = ? ORDER BY id DESC LIMIT ?",
            (self.scope, len(prefix), prefix, max(0, limit)),
        )
        return [row["identifier"] for row in rows]

    def list(
        self,
        limit: int = 50,
        cursor: str | None = None,
        status: str | None = None,
        classification: str | None = None,
        ref_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> tuple[builtins.list[HistoryEntry], str | None]:
        """One page of rows, newest first, and the cursor of the next page (None on the last).

        Filters combine. `classification` is identifAI's, not an override. `since` is inclusive
        and `until` exclusive, on `submitted_at`; a time without a zone is taken as UTC.
        Raises ValueError for a cursor this method did not return, or a bad filter value.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        where, params = _filters(self.scope, cursor, status, classification, ref_id, since, until)
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM submissions WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit + 1),
        )
        entries = [_entry(row) for row in rows[:limit]]
        return entries, (_encode_cursor(entries[-1].id) if len(rows) > limit else None)

class HistoryStore(ScopedHistory):
    """The history database of this process, and the view of scope ''. One per process."""

    @classmethod
    def open(cls, home: Path) -> Self:
        """Open (creating or migrating) `home`/history.sqlite3. Raises HistoryError."""
        return cls(_Database.open(Path(home) / DB_FILENAME), "")

    @property
    def path(self) -> Path:
        return self._db.path

    def scoped(self, scope: str) -> ScopedHistory:
        """The view of one scope; pass a digest of the API key, never the key itself."""
        return ScopedHistory(self._db, scope)

    def close(self) -> None:
        """Close the database; later calls raise HistoryError. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Database:
    """One connection shared by all threads, one short transaction at a time.

    A lock around a single connection costs microseconds per call, where a connection per
    thread would leak one per worker of anyio's thread pool. Other processes (a CLI next to the
    server) are kept apart by SQLite's own locking and the busy timeout.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> _Database:
        try:
            # An existing home keeps its permissions: it may be a directory the user chose.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 before SQLite would create it 0644: the history names files and URLs.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise HistoryError(f"Cannot open or create the history database {path}: {exc.strerror or exc}.") from exc
        try:
            connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _open_error(path, exc) from exc
        try:
            _configure(connection)
            _migrate(connection, path)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise _open_error(path, exc) from exc
            raise
        return cls(path, connection)

    def read(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        with self._errors():
            return self._connection.execute(sql, params).fetchall()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on exit; nothing of it is kept if the block raises."""
        with self._errors(), _transaction(self._connection):
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Hold the lock; the one place a sqlite3 error becomes a HistoryError."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                # SQLite's messages name the failure ("database is locked"), never row contents.
                raise HistoryError(f"The history database {self.path} failed: {exc}.") from exc


def _configure(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    # WAL: readers never block the writer, and a killed process leaves every committed
    # transaction intact (the log is replayed on the next open).
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":  # e.g. some network file systems; rollback journaling still works
        logger.warning("History database is in %s journal mode, not WAL.", mode)
    # NORMAL with WAL loses no committed transaction when the process dies, only possibly the
    # last ones on a power cut or OS crash, and it saves an fsync per write. FULL is not worth
    # that here: the history is a local convenience, and the verdict was already returned.
    db.execute("PRAGMA synchronous = NORMAL")


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply missing migrations, each in one transaction with its version number."""
    while True:
        with _transaction(db):
            # Read inside the write lock: another process may be migrating the same file.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"The history database {path} was written by a newer identifai-mcp "
                    f"(schema version {version}; this version knows up to {SCHEMA_VERSION}).",
                    hint="Upgrade identifai-mcp, or set IDENTIFAI_MCP_HOME to another directory "
                    "to keep a separate history for this version.",
                )
            if version == SCHEMA_VERSION:
                return
            for statement in MIGRATIONS[version]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")
            logger.info("History database %s migrated to schema version %d.", path, version + 1)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front (waiting out the busy timeout). A deferred
    # transaction that reads first can fail at once under WAL when it later tries to write.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite already rolled back after some errors (full disk, I/O)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _open_error(path: Path, exc: sqlite3.Error) -> HistoryError:
    if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return HistoryError(
            f"The history database {path} is damaged or not an SQLite database ({exc}).",
            hint=f"Move {path} aside (identifai-mcp then starts a new, empty history) "
            "or set IDENTIFAI_MCP_HOME to another directory.",
        )
    return HistoryError(f"Cannot open the history database {path}: {exc}.")


def _require(found: bool, row_id: int) -> None:
    # Called inside the transaction, so that raising keeps nothing of it.
    if not found:
        raise HistoryError(f"The history has no row {row_id} in this scope.")


def _absorb_duplicate(db: sqlite3.Connection, scope: str, row_id: int, identifier: str) -> None:
    """Fold another row already holding `identifier` (its result was saved first) into `row_id`."""
    other = db.execute(
        "SELECT id, hash, status, classification, confidence, result_json, override_classification, overridden_at"
        " FROM submissions WHERE scope = ? AND identifier = ? AND id != ?",
        (scope, identifier, row_id),
    ).fetchone()
    if other is None:
        return
    db.execute("DELETE FROM submissions WHERE id = ?", (other["id"],))
    if other["result_json"] is not None:
        db.execute(
            "UPDATE submissions SET status = ?, classification = ?, confidence = ?, result_json = ?,"
            " hash = COALESCE(hash, ?), override_classification = ?, overridden_at = ? WHERE id = ?",
            (other["status"], other["classification"], other["confidence"], other["result_json"],
             other["hash"], other["override_classification"], other["overridden_at"], row_id),
        )


def _filters(
    scope: str,
    cursor: str | None,
    status: str | None,
    classification: str | None,
    ref_id: str | None,
    since: datetime | str | None,
    until: datetime | str | None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = ["scope = ?"]
    params: list[Any] = [scope]
    if cursor is not None:
        where.append("id < ?")
        params.append(_decode_cursor(cursor))
    for column, value in (("status", status), ("classification", classification), ("ref_id", ref_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("submitted_at >= ?")
        params.append(_timestamp(since))
    if until is not None:
        where.append("submitted_at < ?")
        params.append(_timestamp(until))
    return where, params


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith(_CURSOR_PREFIX) and (row_id := int(text.removeprefix(_CURSOR_PREFIX))) > 0:
            return row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValueError(
        f"Invalid history cursor {cursor[:40]!r}: pass the next_cursor of the previous page unchanged, "
        "or omit it to start from the newest entry."
    )


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"Not an ISO-8601 date or time: {value[:40]!r}") from None
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _format(moment)


def _now() -> str:
    return _format(datetime.now(UTC))


def _format(moment: datetime) -> str:
    # Fixed width and always UTC, so comparing the text in SQL compares the times.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _dumps(value: dict[str, Any]) -> str:
    # default=str: a stray datetime in a result must not cost the caller its history row.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _entry(row: sqlite3.Row) -> HistoryEntry:
    values = dict(row)
    result_json, options = values.pop("result_json"), values.pop("options")
    return HistoryEntry(
        **values,
        options=json.loads(options) if options is not None else None,
        result=json.loads(result_json) if result_json is not None else None,
    )
