"""The store contract, run on every backend."""

from __future__ import annotations

import threading

import pytest

from govlink import MigrationError, StoreError
from govlink.store import Migration, Schema, Store

NOTES = Schema(
    "notes",
    (
        Migration(1, "create", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"),
        Migration(
            2,
            "add tag",
            "ALTER TABLE notes ADD COLUMN tag TEXT; CREATE INDEX notes_tag ON notes (tag);",
        ),
    ),
)


def test_migrate_is_idempotent_and_versioned(any_store: Store) -> None:
    assert any_store.migrate(NOTES) == {"notes": 2}
    assert any_store.migrate(NOTES) == {"notes": 2}
    assert any_store.schema_versions()["notes"] == 2


def test_store_newer_than_code_is_refused(any_store: Store) -> None:
    any_store.migrate(NOTES)
    older = Schema("notes", NOTES.migrations[:1])
    with pytest.raises(MigrationError, match="newer than this govlink"):
        any_store.migrate(older)


def test_failed_migration_leaves_the_previous_version(any_store: Store) -> None:
    broken = Schema(
        "broken",
        (
            Migration(1, "ok", "CREATE TABLE b1 (x INTEGER);"),
            Migration(2, "bad", "CREATE TABLE b2 (x INTEGER); NOT SQL;"),
        ),
    )
    with pytest.raises(MigrationError, match="broken 2"):
        any_store.migrate(broken)
    assert any_store.schema_versions()["broken"] == 1


def test_commit_rollback_and_savepoints(any_store: Store) -> None:
    any_store.migrate(NOTES)
    with any_store.transaction() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (1, "kept"))
    with pytest.raises(RuntimeError), any_store.transaction() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "lost"))
        raise RuntimeError("boom")
    with any_store.transaction() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (3, "outer"))
        with pytest.raises(RuntimeError), any_store.transaction() as inner:
            inner.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (4, "inner"))
            raise RuntimeError("inner fails")
    with any_store.transaction(write=False) as conn:
        assert [r[0] for r in conn.fetchall("SELECT id FROM notes ORDER BY id")] == [1, 3]
        assert conn.scalar("SELECT body FROM notes WHERE id = ?", (3,)) == "outer"


def test_sql_errors_are_store_errors(any_store: Store) -> None:
    with pytest.raises(StoreError), any_store.transaction() as conn:
        conn.execute("SELECT * FROM no_such_table")


def test_concurrent_writers_from_threads_lose_nothing(any_store: Store) -> None:
    any_store.migrate(NOTES)

    def writer(base: int) -> None:
        for i in range(50):
            with any_store.transaction() as conn:
                n = conn.scalar("SELECT count(*) FROM notes")
                conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (base + i, str(n)))

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with any_store.transaction(write=False) as conn:
        assert conn.scalar("SELECT count(*) FROM notes") == 200
