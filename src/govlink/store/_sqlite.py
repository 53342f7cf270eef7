"""The SQLite store: the embedded default (stdlib ``sqlite3``, WAL, one connection per thread).

Writers serialise on SQLite's single write lock (``BEGIN IMMEDIATE`` with a busy timeout), so
several threads and processes may share one file safely; readers never block writers in WAL mode.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._errors import MigrationError, StoreError
from ._contract import ChangeListener, Connection, Cursor, Dialect, Store

__all__ = ["SQLiteStore"]

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS govlink_schema (
    component  TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (``executescript`` would commit early)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                statements.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;"):
        statements.append(current.strip().rstrip(";"))
    return statements


class _SQLiteConnection(Connection):
    dialect: Dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            return self.raw.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc


class _DataVersionListener(ChangeListener):
    """Watches ``PRAGMA data_version``: it changes when another connection commits to the file
    (any process). Reading it touches no page, only the shared-memory WAL index, so checking
    it every few milliseconds costs microseconds (SQLite has no notification channel)."""

    def __init__(self, path: Path, interval: float) -> None:
        self._interval = interval
        try:
            self._raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._version = self._read()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot watch SQLite store at {path}: {exc}") from exc

    def _read(self) -> int:
        return int(self._raw.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                version = self._read()
            except sqlite3.Error:
                return True  # cannot tell: let the caller look
            if version != self._version:
                self._version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._interval, left))

    def close(self) -> None:
        self._raw.close()


class SQLiteStore(Store):
    """A store in one SQLite file. ``path`` is created (with its folder) when missing."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            raw = self._raw()
            raw.execute(_BOOKKEEPING)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store at {self.path}: {exc}") from exc

    def _raw(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("this store is closed")
        raw: sqlite3.Connection | None = getattr(self._local, "raw", None)
        if raw is None:
            raw = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are explicit: BEGIN / COMMIT below
                check_same_thread=False,  # only for close() from another thread
            )
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA foreign_keys=ON")
            self._local.raw = raw
            self._local.depth = 0
            with self._lock:
                self._all.append(raw)
        return raw

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        raw = self._raw()
        depth: int = self._local.depth
        name = f"govlink_sp{depth}"
        try:
            if depth == 0:
                raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            else:
                raw.execute(f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: cannot begin a transaction: {exc}") from exc
        self._local.depth = depth + 1
        try:
            yield _SQLiteConnection(raw)
        except BaseException:
            self._local.depth = depth
            if depth == 0:
                raw.execute("ROLLBACK")
            else:
                raw.execute(f"ROLLBACK TO {name}")
                raw.execute(f"RELEASE {name}")
            raise
        self._local.depth = depth
        try:
            raw.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
        except sqlite3.Error as exc:
            if depth == 0 and raw.in_transaction:
                raw.execute("ROLLBACK")
            raise StoreError(f"sqlite: commit failed: {exc}") from exc

    def listen(self, channel: str, *, interval: float = 0.005) -> ChangeListener:
        """Wake on any commit by another connection, checked every ``interval`` seconds
        (``channel`` is not needed: SQLite has one change counter per file)."""
        return _DataVersionListener(self.path, interval)

    def _run_script(self, conn: Connection, script: str) -> None:
        if not isinstance(conn, _SQLiteConnection):
            raise TypeError("a migration runs on this store's own connection")
        try:
            for statement in split_statements(script):
                conn.raw.execute(statement)
        except sqlite3.Error as exc:
            raise MigrationError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
            self._closed = True
        for raw in conns:
            raw.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
