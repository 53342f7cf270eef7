"""The PostgreSQL store: for several workers on several machines (extra: govlink[postgres]).

Same contract as SQLite. SQL written with ``?`` placeholders is translated to psycopg's ``%s``.

Connections come from a :mod:`psycopg_pool` pool (one checkout per outermost transaction;
nested transactions on the same thread become savepoints on the same connection). Every
connection gets a ``statement_timeout`` (a stuck query fails instead of hanging a worker) and an
``idle_in_transaction_session_timeout`` (a stalled client cannot hold row locks for ever).
After a server restart, the first transaction on each stale connection fails with
:class:`govlink.StoreError`; the pool then drops every broken connection and opens new ones, so
the caller's next transaction works again (the dispatcher retries on its own).

Migrations are serialised across processes with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout

from .._errors import MigrationError, StoreError
from ._contract import ChangeListener, Connection, Cursor, Dialect, Store

__all__ = ["PostgresStore"]

log = logging.getLogger("govlink.store")

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


def _safe(url: str) -> str:
    return url.split("@")[-1]


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

    def run_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        # Pipeline mode: every statement is sent before any result is read, and the block's
        # end waits once for all of them (one round trip instead of one per statement).
        # Statements repeated on a connection are prepared by psycopg (prepare_threshold).
        try:
            with self.raw.pipeline():
                cursors = [self.raw.execute(to_psycopg(sql), tuple(p)) for sql, p in statements]
            return [c.fetchall() if c.description is not None else [] for c in cursors]
        except psycopg.errors.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {exc}") from exc

    def notify(self, channel: str) -> None:
        # Queued by the server and delivered only when this transaction commits; identical
        # notifications of one transaction are folded into one.
        self.execute("SELECT pg_notify(?, '')", (channel,))


class _NotifyListener(ChangeListener):
    """``LISTEN`` on a dedicated connection (outside the pool: it stays subscribed)."""

    def __init__(self, url: str, channel: str, connect_timeout: int) -> None:
        self._url = url
        self._channel = channel
        self._connect_timeout = connect_timeout
        self._raw: psycopg.Connection[Any] | None = None
        self._connect()

    def _connect(self) -> None:
        try:
            raw = psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)
            raw.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(self._channel)))
        except psycopg.Error as exc:
            raise StoreError(f"cannot listen on PostgreSQL at {_safe(self._url)}: {exc}") from exc
        self._raw = raw

    def wait(self, timeout: float) -> bool:
        if self._raw is None or self._raw.closed:
            # Lost with the server: reconnect. Notifications sent meanwhile are gone, so
            # report a possible change and let the caller look.
            try:
                self._connect()
            except StoreError:
                threading.Event().wait(min(timeout, 1.0))
                return False
            return True
        try:
            for _ in self._raw.notifies(timeout=max(timeout, 0.0), stop_after=1):
                return True
        except psycopg.Error:
            self._raw.close()
            return True
        return False

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class PostgresStore(Store):
    """A store in a PostgreSQL database, with a connection pool.

    ``pool_size``: most connections this process opens (a dispatcher uses two: its store
    thread and its listener, which is outside the pool). ``statement_timeout``: seconds after
    which the server cancels a statement (``StoreError``). ``connect_timeout``: seconds to wait
    for a connection (also when the pool is exhausted).

    Raises :class:`govlink.StoreError` when the server cannot be reached.
    """

    dialect: Dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = 10,
        statement_timeout: float = 30.0,
        pool_size: int = 8,
    ) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._statement_ms = max(1, int(statement_timeout * 1000))
        self._local = threading.local()
        self._closed = False
        # One direct connection first: an unreachable server (closed port, bad credentials) is
        # told at once, instead of after the pool's connect timeout of retries.
        try:
            psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_safe(url)}: {exc}") from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": connect_timeout},
            configure=self._configure,
            timeout=connect_timeout,
            name="govlink",
            open=False,
        )
        self._pool.open(wait=False)
        try:
            with self.transaction() as conn:
                # Under the migration lock: two processes creating the table at once would
                # otherwise collide in PostgreSQL's catalog (CREATE ... IF NOT EXISTS is not
                # atomic against a concurrent create).
                self._lock_migrations(conn)
                conn.execute(_BOOKKEEPING)
        except BaseException:
            self._pool.close()
            raise

    def _configure(self, raw: psycopg.Connection[Any]) -> None:
        # Set per connection, not in the URL's options (which may carry a search_path).
        raw.execute(f"SET statement_timeout = {self._statement_ms}")
        raw.execute("SET idle_in_transaction_session_timeout = 60000")

    def _getconn(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise RuntimeError("this store is closed")
        try:
            return self._pool.getconn()
        except PoolTimeout as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_safe(self.url)}: {exc}") from exc

    def _putconn(self, raw: psycopg.Connection[Any], failed: BaseException | None) -> None:
        broken = raw.closed or raw.broken
        self._pool.putconn(raw)  # a broken connection is discarded and replaced by the pool
        if broken and failed is not None:
            # The server went away (restart, failover): drop the other idle connections that
            # died with it now, instead of failing one more transaction for each.
            log.warning("postgresql connection lost; reconnecting", extra={"govlink": {}})
            self._pool.check()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        held: psycopg.Connection[Any] | None = getattr(self._local, "raw", None)
        if held is not None:
            # Nested on this thread: a savepoint on the same connection.
            with held.transaction():
                yield _PostgresConnection(held)
            return
        raw = self._getconn()
        self._local.raw = raw
        failed: BaseException | None = None
        try:
            try:
                tx = raw.transaction()
                tx.__enter__()
            except psycopg.Error as exc:
                failed = exc
                raise StoreError(f"postgresql: cannot begin a transaction: {exc}") from exc
            try:
                yield _PostgresConnection(raw)
            except BaseException as exc:
                failed = exc
                # If the rollback fails too (connection lost), the original error counts.
                with contextlib.suppress(psycopg.Error):
                    tx.__exit__(type(exc), exc, exc.__traceback__)
                raise
            try:
                tx.__exit__(None, None, None)
            except psycopg.Error as exc:
                failed = exc
                raise StoreError(f"postgresql: commit failed: {exc}") from exc
        finally:
            self._local.raw = None
            self._putconn(raw, failed)

    def listen(self, channel: str) -> ChangeListener:
        return _NotifyListener(self.url, channel, self._connect_timeout)

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
        self._closed = True
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({_safe(self.url)!r})"
