"""Durable state behind one contract: SQLite by default, PostgreSQL for many workers.

>>> from govlink.store import open_store
>>> store = open_store("sqlite:///.govlink/govlink.db")   # doctest: +SKIP

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``postgresql://user@host:5432/dbname``.
"""

from __future__ import annotations

from pathlib import Path

from .._errors import ConfigError
from ._contract import (
    WAKE_CHANNEL,
    ChangeListener,
    Connection,
    Cursor,
    Dialect,
    Migration,
    Schema,
    Store,
)
from ._sqlite import SQLiteStore

__all__ = [
    "WAKE_CHANNEL",
    "ChangeListener",
    "Connection",
    "Cursor",
    "Dialect",
    "Migration",
    "SQLiteStore",
    "Schema",
    "Store",
    "open_store",
]


def open_store(url: str) -> Store:
    """Open the store a URL names. Raises :class:`govlink.ConfigError` for an unusable URL."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise ConfigError(
                f"store URL {url!r}: name a file (sqlite:///path.db); an in-memory SQLite "
                "database cannot be shared between the threads and processes govlink uses"
            )
        return SQLiteStore(Path(path))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from ._postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                f"store URL {url!r}: the PostgreSQL store needs psycopg "
                "(pip install 'govlink[postgres]')"
            ) from exc
        return PostgresStore(url)
    raise ConfigError(f"store URL {url!r}: expected sqlite:///path or postgresql://host/dbname")
