"""The store's worker tests reuse the sync tests' helpers (sample events, the real adapter),
which pytest's ``pythonpath`` setting makes importable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from govlink.store import Store


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
