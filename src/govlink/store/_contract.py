"""The store contract: one small interface that SQLite and PostgreSQL both implement.

Components (identity, sync, ...) own their tables. Each declares a :class:`Schema`: its name and
an ordered tuple of :class:`Migration`. ``Store.migrate(schema)`` applies what is missing, in one
write transaction per migration, serialised across threads and processes, and refuses a store
whose schema is newer than the running code.

SQL is written once with ``?`` placeholders; a backend translates them for its driver (so a
literal ``?`` must not appear inside SQL string literals; pass it as a parameter). Where the two
dialects differ, a migration gives the PostgreSQL text separately, and code may branch on
``Connection.dialect``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .._errors import MigrationError

__all__ = [
    "WAKE_CHANNEL",
    "ChangeListener",
    "Connection",
    "Cursor",
    "Dialect",
    "Migration",
    "Schema",
    "Store",
]

Dialect = Literal["sqlite", "postgresql"]

#: The channel the outbox notifies when work arrives (PostgreSQL ``NOTIFY govlink_outbox``).
WAKE_CHANNEL = "govlink_outbox"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. ``postgresql`` is only needed where its SQL differs from ``sqlite``."""

    version: int
    name: str
    sqlite: str
    postgresql: str | None = None

    def sql_for(self, dialect: Dialect) -> str:
        if dialect == "postgresql" and self.postgresql is not None:
            return self.postgresql
        return self.sqlite


@dataclass(frozen=True, slots=True)
class Schema:
    """A component's tables: its name and its migrations, versions 1, 2, 3, ... in order."""

    component: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"schema {self.component!r}: versions must be 1..n in order")

    @property
    def version(self) -> int:
        return len(self.migrations)


class Cursor(Protocol):
    """What a query returns: DB-API rows as tuples."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(abc.ABC):
    """A connection inside a transaction. SQL uses ``?`` placeholders in both dialects."""

    dialect: Dialect

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    def notify(self, channel: str) -> None:  # noqa: B027 - optional hook
        """Signal listeners of ``channel`` when this transaction commits.

        PostgreSQL sends ``NOTIFY`` (delivered on commit, dropped on rollback). SQLite needs
        nothing: its listeners watch the database file's change counter, which every commit
        moves.
        """

    def run_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """Run ``statements`` in order; return each one's rows (``[]`` for a statement that
        returns none).

        Each statement still sees what the earlier ones did (and, under PostgreSQL's read
        committed, takes its own snapshot after them). PostgreSQL sends them all in one round
        trip (psycopg's pipeline mode); SQLite, in-process, runs them one by one. A failing
        statement raises as :meth:`execute` would, and the ones after it do not run.
        """
        results: list[list[Any]] = []
        for sql, params in statements:
            cur = self.execute(sql, params)
            results.append(cur.fetchall() if cur.description is not None else [])
        return results

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return its first row, or ``None``."""
        return self.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a query and return all its rows."""
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return the first column of its first row, or ``None``."""
        row = self.fetchone(sql, params)
        return None if row is None else row[0]


class ChangeListener(abc.ABC):
    """Wakes a waiting thread when another connection commits a change (see
    :meth:`Store.listen`). Blocking; meant for a dedicated thread. A listener may wake without
    a relevant change (callers re-check the data); it never sleeps through one for longer than
    the ``timeout`` it was given."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; ``True`` when a change may have been committed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the listener's connection."""


class Store(abc.ABC):
    """A durable store. Thread-safe: each thread gets its own connection.

    Raises :class:`govlink.StoreError` when the backend cannot be reached or written, and
    :class:`govlink.MigrationError` when a schema cannot be brought up to date.
    """

    url: str
    dialect: Dialect

    @abc.abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Connection]:
        """A transaction: committed when the block ends, rolled back when it raises.

        ``write=True`` takes the write lock up front (SQLite ``BEGIN IMMEDIATE``), so a
        read-then-write never fails half-way on a lock upgrade. Nested use on the same thread
        becomes a savepoint.
        """

    @abc.abstractmethod
    def listen(self, channel: str) -> ChangeListener:
        """A listener that wakes when ``channel`` is notified (PostgreSQL ``LISTEN``) or, on
        SQLite, when any other connection commits to the file.

        Raises :class:`govlink.StoreError` when the listening connection cannot be opened.
        """

    def migrate(self, *schemas: Schema) -> dict[str, int]:
        """Apply every missing migration of ``schemas``; return each component's version.

        Each migration runs in its own write transaction, serialised across processes, so a
        failed migration leaves the store at the previous version.

        Raises:
            MigrationError: a migration failed, or the store is newer than this govlink.
        """
        result: dict[str, int] = {}
        for schema in schemas:
            for migration in schema.migrations:
                with self.transaction() as conn:
                    self._lock_migrations(conn)
                    current = int(
                        conn.scalar(
                            "SELECT version FROM govlink_schema WHERE component = ?",
                            (schema.component,),
                        )
                        or 0
                    )
                    if current > schema.version:
                        raise MigrationError(
                            f"store schema {schema.component!r} is at version {current}, newer "
                            f"than this govlink ({schema.version}); upgrade govlink"
                        )
                    if migration.version <= current:
                        continue
                    try:
                        self._run_script(conn, migration.sql_for(self.dialect))
                    except MigrationError as exc:
                        raise MigrationError(
                            f"migration {schema.component} {migration.version} "
                            f"({migration.name}) failed: {exc.message}"
                        ) from exc.__cause__
                    conn.execute(
                        "INSERT INTO govlink_schema (component, version) VALUES (?, ?) "
                        "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                        (schema.component, migration.version),
                    )
            result[schema.component] = schema.version
        return result

    def schema_versions(self) -> dict[str, int]:
        """The version of every component recorded in this store."""
        with self.transaction(write=False) as conn:
            return dict(conn.fetchall("SELECT component, version FROM govlink_schema"))

    def _lock_migrations(self, conn: Connection) -> None:  # noqa: B027 - optional hook
        """Serialise migrations across processes (SQLite's write lock already does)."""

    @abc.abstractmethod
    def _run_script(self, conn: Connection, script: str) -> None:
        """Run a migration's SQL, raising :class:`MigrationError` (with the cause) on failure."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
