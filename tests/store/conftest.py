"""The store's worker tests reuse the sync tests' helpers (sample events, the real adapter)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from govlink.store import Store

_SYNC_TESTS = str(Path(__file__).resolve().parent.parent / "sync")
if _SYNC_TESTS not in sys.path:
    sys.path.insert(0, _SYNC_TESTS)


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    """A PostgreSQL store in a fresh schema of the session's test database."""
    from govlink.store._postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with PostgresStore(postgres_url) as admin, admin.transaction() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = PostgresStore(postgres_url + f"?options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
