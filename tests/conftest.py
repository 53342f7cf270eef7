"""Shared fixtures: stores on every backend the contract covers.

PostgreSQL tests run when ``GOVLINK_TEST_POSTGRES_URL`` is set, and always in CI (``CI=true``),
where an unreachable server fails the run instead of skipping. Each test session works in a
database of its own, created and dropped here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from govlink.store import SQLiteStore, Store

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get("GOVLINK_TEST_POSTGRES_URL") or (
    "postgresql://postgres@127.0.0.1:5432/postgres" if CI else None
)
PG_HOW = (
    "PostgreSQL tests skipped: set GOVLINK_TEST_POSTGRES_URL=postgresql://user@host:5432/db "
    "(a role that may CREATE DATABASE) to run them"
)


@pytest.fixture(autouse=True)
def _no_govlink_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without ``GOVLINK_*`` variables: the developer's shell (a store, a
    passphrase, GOVLINK_DEBUG) never leaks into a result. PG_URL above was read at import."""
    for name in list(os.environ):
        if name.startswith("GOVLINK_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    if PG_URL is None:
        pytest.skip(PG_HOW)
    import psycopg

    name = f"govlink_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is unreachable: {exc}")
        pytest.skip(f"{PG_HOW} (unreachable: {exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on each backend: the same contract tests run on SQLite and PostgreSQL."""
    store: Store
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "govlink.db")
    else:
        from govlink.store._postgres import PostgresStore

        url = request.getfixturevalue("postgres_url")
        store = PostgresStore(url)
        with store.transaction() as conn:
            schema = f"t_{uuid.uuid4().hex[:10]}"
            conn.execute(f"CREATE SCHEMA {schema}")
        store.close()
        store = PostgresStore(url + f"?options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "govlink.db")
    try:
        yield store
    finally:
        store.close()
