"""SQLite specifics: URL parsing, WAL, and safe concurrent writers from several processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from govlink import ConfigError
from govlink.store import Migration, Schema, SQLiteStore, open_store

COUNTER = Schema("counter", (Migration(1, "create", "CREATE TABLE hits (n INTEGER NOT NULL);"),))


def test_open_store_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a/b.db")
    assert isinstance(store, SQLiteStore)
    assert (tmp_path / "a" / "b.db").exists()
    store.close()
    for bad in ("sqlite:///", "sqlite:///:memory:", "mysql://x/y", "govlink.db"):
        with pytest.raises(ConfigError, match="store URL"):
            open_store(bad)


def test_wal_mode_is_on(sqlite_store: SQLiteStore) -> None:
    with sqlite_store.transaction(write=False) as conn:
        assert conn.scalar("PRAGMA journal_mode") == "wal"


def _hammer(path: str, count: int) -> None:
    store = SQLiteStore(path)
    store.migrate(COUNTER)
    for _ in range(count):
        with store.transaction() as conn:
            conn.execute("INSERT INTO hits (n) VALUES (?)", (1,))
    store.close()


def test_several_processes_write_one_file_safely(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(path, 100)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = SQLiteStore(path)
    with store.transaction(write=False) as conn:
        assert conn.scalar("SELECT count(*) FROM hits") == 300
    assert store.schema_versions() == {"counter": 1}
    store.close()


def test_closed_store_is_a_programming_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    store.close()
    with pytest.raises(RuntimeError, match="closed"), store.transaction():
        pass
