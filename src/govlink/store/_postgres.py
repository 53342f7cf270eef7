"""The PostgreSQL store: for several workers on several machines (extra: govlink[postgres]).

Same contract as SQLite. SQL written with ``?`` placeholders is translated to psycopg's ``%s``.
Migrations are serialised across processes with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from .._errors import MigrationError, StoreError
from ._contract import Connection, Cursor, Dialect, Store

__all__ = ["PostgresStore"]

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS govlink_schema (
    component  TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_MIGRATION_LOCK = 0x676F766C  # "govl": one advisory lock for all govlink migrations


@functools.lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders to ``%s`` (and literal ``%`` escaped)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresConnection(Connection):
    dialect: Dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            return self.raw.execute(to_psycopg(sql), tuple(params))
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {exc}") from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self.raw.cursor() as cur:
                cur.executemany(to_psycopg(sql), [tuple(r) for r in rows])
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {exc}") from exc


class PostgresStore(Store):
    """A store in a PostgreSQL database. One connection per thread."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        with self.transaction() as conn:
            conn.execute(_BOOKKEEPING)

    def _raw(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise RuntimeError("this store is closed")
        raw: psycopg.Connection[Any] | None = getattr(self._local, "raw", None)
        if raw is None or raw.closed:
            try:
                raw = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=self._connect_timeout
                )
            except psycopg.Error as exc:
                safe = self.url.split("@")[-1]
                raise StoreError(f"cannot connect to PostgreSQL at {safe}: {exc}") from exc
            self._local.raw = raw
            with self._lock:
                self._all.append(raw)
        return raw

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        raw = self._raw()
        try:
            tx = raw.transaction()
            tx.__enter__()
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: cannot begin a transaction: {exc}") from exc
        try:
            yield _PostgresConnection(raw)
        except BaseException as exc:
            tx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        try:
            tx.__exit__(None, None, None)
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: commit failed: {exc}") from exc

    def _lock_migrations(self, conn: Connection) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def _run_script(self, conn: Connection, script: str) -> None:
        if not isinstance(conn, _PostgresConnection):
            raise TypeError("a migration runs on this store's own connection")
        try:
            # Sent as bytes: psycopg runs a multi-statement script without parameters as is.
            conn.raw.execute(script.encode())
        except psycopg.Error as exc:
            raise MigrationError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
            self._closed = True
        for raw in conns:
            raw.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url.split('@')[-1]!r})"
