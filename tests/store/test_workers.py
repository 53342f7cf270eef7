"""Several workers on one store: the first journal append, failing workers, wake-ups.

The race these tests pin: two workers on a fresh PostgreSQL store both wrote evidence-journal
record 1 (the head row they lock did not exist yet), and a failing worker left a claimed batch
leased until its lease expired.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sync_core_support import as_entries, reference_adapter, sample_events

from govlink import VirtualClock
from govlink.store import WAKE_CHANNEL, Store
from govlink.sync import (
    CASE_EVENT,
    Dispatcher,
    JournalRecord,
    Outbox,
    read_archive,
    verify_journal,
)
from govlink.sync._adapter import WireRequest
from govlink.sync._journal import append_journal
from govlink.testing import MockProvince


def _record(tag: str) -> JournalRecord:
    return JournalRecord("send", "cases", 1, "0" * 64, {"keys": [tag]})


def _wait_until_blocked(url: str) -> None:
    """Until some session of this database waits on a lock (the second appender)."""
    deadline = time.monotonic() + 20
    with psycopg.connect(url.split("?")[0], autocommit=True) as watch:
        while time.monotonic() < deadline:
            row = watch.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    pytest.fail("the second appender never waited for the first")


@pytest.mark.postgres
@pytest.mark.parametrize("head", ["seeded", "absent"])
def test_two_appenders_on_a_fresh_postgresql_store_never_both_write_record_1(
    pg_store: Store, head: str
) -> None:
    any_store = pg_store
    Outbox(any_store)
    if head == "absent":
        # A store migrated before the head row was seeded: nothing to lock at first.
        with any_store.transaction() as conn:
            conn.execute("DELETE FROM sync_journal_head")
    errors: list[BaseException] = []
    numbers: list[int] = []

    def second() -> None:
        try:
            with any_store.transaction() as conn:
                numbers.extend(append_journal(conn, 2.0, [_record("b")]))
        except BaseException as exc:
            errors.append(exc)

    with any_store.transaction() as conn:
        numbers.extend(append_journal(conn, 1.0, [_record("a")]))
        other = threading.Thread(target=second)
        other.start()
        _wait_until_blocked(any_store.url)  # it must wait for this transaction, not race it
    other.join(timeout=30)
    assert errors == []
    assert numbers == [1, 2]
    assert verify_journal(any_store).records == 2


class _Exploding:
    """The real adapter, but sending raises a programming error after ``after`` requests."""

    def __init__(self, inner: Any, after: int) -> None:
        self._inner = inner
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, request: WireRequest) -> Any:
        if self._after <= 0:
            raise RuntimeError("adapter bug")
        self._after -= 1
        return await self._inner.send(request)


def test_a_failing_worker_gives_back_what_it_claimed(any_store: Store) -> None:
    clock = VirtualClock()
    outbox = Outbox(any_store, clock=clock, lease_seconds=60)
    province = MockProvince(clock=clock)
    events = sample_events(60)
    outbox.enqueue(as_entries(events))
    adapter = _Exploding(reference_adapter(province, clock), after=2)
    dispatcher = Dispatcher(outbox, adapter, clock=clock, concurrency=3, batch_size=10)
    with pytest.raises(RuntimeError, match="adapter bug"):
        asyncio.run(dispatcher.run(until_empty=True))
    # Nothing is left leased: whatever was claimed and not settled is due again now, so the
    # next worker takes it at once instead of after the 60 s lease.
    with any_store.transaction(write=False) as conn:
        leased = conn.scalar("SELECT COUNT(*) FROM sync_lane WHERE ready_at > ?", (clock.time(),))
    assert leased == 0
    assert outbox.status().pending > 0
    healthy = Dispatcher(outbox, reference_adapter(province, clock), clock=clock)
    asyncio.run(healthy.run(until_empty=True))
    province.journal.assert_each_event_applied_once_in_order(events)
    verify_journal(any_store)


@pytest.mark.postgres
def test_two_dispatchers_on_a_fresh_postgresql_store_deliver_once(pg_store: Store) -> None:
    any_store = pg_store
    clock = VirtualClock()
    outbox = Outbox(any_store, clock=clock)
    province = MockProvince(clock=clock)
    events = sample_events(150)
    outbox.enqueue(as_entries(events))
    failures: list[BaseException] = []

    def worker() -> None:
        dispatcher = Dispatcher(
            outbox, reference_adapter(province, clock), clock=clock, concurrency=2, batch_size=7
        )
        try:
            asyncio.run(dispatcher.run(until_empty=True))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    province.journal.assert_each_event_applied_once_in_order(events)
    assert outbox.status().pending == 0
    verify_journal(any_store)


def test_a_commit_by_another_connection_wakes_a_listener(any_store: Store) -> None:
    outbox = Outbox(any_store)
    listener = any_store.listen(WAKE_CHANNEL)
    try:
        assert listener.wait(0.05) is False  # nothing happened
        woke: list[bool] = []
        thread = threading.Thread(target=lambda: woke.append(listener.wait(30)))
        thread.start()
        outbox.enqueue(as_entries(sample_events(1)[:1]))
        thread.join(timeout=30)
        assert woke == [True]
    finally:
        listener.close()


@pytest.mark.postgres
def test_a_rolled_back_enqueue_wakes_no_postgresql_listener(pg_store: Store) -> None:
    any_store = pg_store
    outbox = Outbox(any_store)
    listener = any_store.listen(WAKE_CHANNEL)
    try:
        with pytest.raises(RuntimeError), any_store.transaction() as conn:
            outbox.enqueue(as_entries(sample_events(1)[:1]), conn=conn)
            raise RuntimeError("the hall's own transaction fails")
        assert listener.wait(0.2) is False
        assert outbox.claim(CASE_EVENT, 10).deliveries == ()
    finally:
        listener.close()


def test_the_worker_archives_and_purges_on_a_schedule(any_store: Store, tmp_path: Path) -> None:
    clock = VirtualClock()
    outbox = Outbox(any_store, clock=clock, retention_seconds=3600)
    province = MockProvince(clock=clock)
    events = sample_events(40)
    outbox.enqueue(as_entries(events))
    first = Dispatcher(outbox, reference_adapter(province, clock), clock=clock)
    asyncio.run(first.run(until_empty=True))
    delivered = outbox.status().acknowledged_retained
    clock.advance(7200)  # everything delivered is now older than the retention period
    archive = tmp_path / "archive"
    dispatcher = Dispatcher(
        outbox, reference_adapter(province, clock), clock=clock, retain_every=600,
        archive_dir=archive,
    )  # fmt: skip

    async def until_purged() -> None:
        task = asyncio.create_task(dispatcher.run())
        for _ in range(100_000):
            if dispatcher.counters.purged or task.done():
                break
            await asyncio.sleep(0.001)
        dispatcher.stop()
        await task

    asyncio.run(until_purged())
    assert dispatcher.counters.purged == delivered == len(events)
    assert outbox.status().acknowledged_retained == 0
    archived = [line for path in archive.iterdir() for line in read_archive(path)]
    assert sum(1 for line in archived if line["kind"] == "entry") == len(events)
    journal = [line for line in archived if line["kind"] == "journal"]
    verify_journal(any_store, archived=journal)


def test_an_idle_worker_wakes_when_another_process_commits_work(any_store: Store) -> None:
    # The poll is a minute: only the store's change signal can wake the worker in time. The
    # second event comes from a hall the worker has never seen (no hall cache to wait for).
    outbox = Outbox(any_store)
    province = MockProvince()
    events = [e for e in sample_events(60) if e["sequence"] == 1]
    first = next(e for e in events if e["hall"] == events[0]["hall"])
    other = next(e for e in events if e["hall"] != first["hall"])
    dispatcher = Dispatcher(outbox, reference_adapter(province, outbox.clock), poll_interval=60)
    applied: list[int] = []

    async def scenario() -> None:
        task = asyncio.create_task(dispatcher.run())
        for event in (first, other):
            await asyncio.sleep(0.2)  # the worker has gone idle
            before = len(province.core.applied_event_log())
            # Committed on another thread's connection, as a hall's process would.
            await asyncio.to_thread(outbox.enqueue, as_entries([event]))
            for _ in range(3000):  # up to ~30 s, far below the 60 s poll
                if len(province.core.applied_event_log()) > before:
                    break
                await asyncio.sleep(0.01)
            applied.append(len(province.core.applied_event_log()))
        dispatcher.stop()
        await task

    asyncio.run(scenario())
    assert applied == [1, 2]
