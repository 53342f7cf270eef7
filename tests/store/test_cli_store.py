"""``govlink store migrate`` (from two processes at once) and ``govlink outbox archive/purge``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sync_core_support import as_entries, sample_events

from govlink import VirtualClock
from govlink.cli import main
from govlink.store import SQLiteStore, open_store
from govlink.sync import CASE_EVENT, JournalRecord, Outbox


def _govlink(*args: str, home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "govlink", *args, "--json"],
        env={**os.environ, "GOVLINK_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """An empty database of its own (migrations run from scratch)."""
    name = f"govlink_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate_at_once(url: str, home: Path) -> None:
    from govlink.identity import IDENTITY_SCHEMA

    expected = {"identity": IDENTITY_SCHEMA.version, "sync": 2, "catalog_sync": 1}
    procs = [_govlink("store", "migrate", "--store", url, home=home) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        assert json.loads(out)["versions"] == expected
    with open_store(url) as store:
        assert store.schema_versions() == expected


@pytest.mark.postgres
def test_migrate_from_two_processes_at_once_on_postgresql(
    fresh_database: str, tmp_path: Path
) -> None:
    _migrate_at_once(fresh_database, tmp_path)


def test_migrate_from_two_processes_at_once_on_sqlite(tmp_path: Path) -> None:
    _migrate_at_once(f"sqlite:///{tmp_path / 'govlink.db'}", tmp_path)


def test_archive_then_check_then_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "govlink.db"
    url = f"sqlite:///{db}"
    clock = VirtualClock()  # months before the system clock the command runs on
    with SQLiteStore(db) as store:
        outbox = Outbox(store, clock=clock)
        events = sample_events(20)
        outbox.enqueue(as_entries(events))
        claim = outbox.claim(CASE_EVENT, 500)
        record = JournalRecord("ack", "cases", len(claim.deliveries), "0" * 64, {})
        outbox.settle(claim.deliveries, journal=[record, record])
        pending = outbox.status().pending
    archive = tmp_path / "archive"
    assert main(["outbox", "archive", "--store", url, "--to", str(archive), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["entries_purged"] == len(claim.deliveries)
    assert report["journal_records_purged"] == 1  # the newest record stays with the head
    assert Path(report["archive"]).parent == archive
    assert main(["outbox", "archive", "--store", url, "--check", str(archive), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 2
    # Without the archive the purged part cannot be proven: the check says which is missing.
    for path in archive.iterdir():
        path.unlink()
    assert main(["outbox", "archive", "--store", url, "--check", str(archive)]) == 1
    assert "record 1" in capsys.readouterr().err
    assert main(["outbox", "purge", "--store", url, "--older-than", "1d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries_purged"] == 0  # nothing left to purge
    with SQLiteStore(db) as store:
        assert Outbox(store).status().pending == pending
    with pytest.raises(SystemExit) as usage:
        main(["outbox", "purge", "--store", url, "--older-than", "soon"])
    assert usage.value.code == 2
    assert "--older-than 'soon'" in capsys.readouterr().err


@pytest.mark.postgres
def test_stores_opened_and_migrated_at_the_same_instant(fresh_database: str) -> None:
    # Threads released together: the bookkeeping table and every migration are created once.
    from govlink.identity import IDENTITY_SCHEMA
    from govlink.store._postgres import PostgresStore
    from govlink.sync import SYNC_SCHEMA

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            with PostgresStore(fresh_database) as store:
                store.migrate(IDENTITY_SCHEMA, SYNC_SCHEMA)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with PostgresStore(fresh_database) as store:
        assert store.schema_versions() == {"identity": IDENTITY_SCHEMA.version, "sync": 2}
