"""Enqueue paths: one case per call (PostgreSQL: one pipelined round trip) and many cases per
call (the general path) count and wake alike on both backends; the single-case path keeps the
lane lock that orders it against an acknowledgement in flight."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from govlink import StoreError, VirtualClock
from govlink.store import Store
from govlink.sync import CASE_EVENT, NewEntry, Outbox


def entry(case: str, seq: int, hall: str = "370500", idem: str | None = None) -> NewEntry:
    payload = {"case_number": case, "sequence": seq, "hall": hall}
    return NewEntry(hall, CASE_EVENT, case, seq, json.dumps(payload), idem)


def deliver_head(outbox: Outbox) -> None:
    claim = outbox.claim(CASE_EVENT, 10)
    assert claim.deliveries
    outbox.settle(claim.deliveries)


@pytest.mark.parametrize("other_case", [False, True], ids=["one-case", "with-another-case"])
def test_one_case_and_many_cases_count_duplicates_stale_and_wake_alike(
    any_store: Store, other_case: bool
) -> None:
    clock = VirtualClock()
    outbox = Outbox(any_store, clock=clock, retention_seconds=10)
    outbox.enqueue([entry("C1", 1)])
    deliver_head(outbox)
    clock.advance(20)
    assert outbox.purge() == 1  # C1:1 archived away: below the head and gone
    outbox.enqueue([entry("C1", 2)])
    deliver_head(outbox)  # C1:2 acknowledged and still kept; the head is now 3, idle

    batch = [
        entry("C1", 1),  # purged: stale
        entry("C1", 2),  # kept: a duplicate
        entry("C1", 3, idem="hall-key-3"),
        entry("C1", 3),  # twice in one call: a duplicate
        entry("C1", 0),  # out of range: stale
        entry("C1", 4),
    ]
    if other_case:
        batch.append(entry("C9", 1, hall="370600"))
    result = outbox.enqueue(batch)

    assert (result.accepted, result.duplicates, result.stale) == (2 + other_case, 2, 2)
    assert sorted(p.rule for p in result.problems) == ["already_delivered", "out_of_range"]
    claim = outbox.claim(CASE_EVENT, 10)  # the idle lane woke with its head
    got = sorted((d.key, d.sequence, d.idempotency_key) for d in claim.deliveries)
    expected = [("C1", 3, "hall-key-3")] + ([("C9", 1, "370600:case:C9:1")] if other_case else [])
    assert got == expected
    assert ("370600" in outbox.hall_weights()) is other_case


def test_a_new_case_through_the_hall_transaction_rolls_back_with_it(any_store: Store) -> None:
    outbox = Outbox(any_store)
    with pytest.raises(RuntimeError), any_store.transaction() as conn:
        assert outbox.enqueue([entry("C1", 1), entry("C1", 2)], conn=conn).accepted == 2
        raise RuntimeError("the hall's own write failed")
    assert outbox.status().pending == 0
    assert outbox.claim(CASE_EVENT, 10).deliveries == ()
    with any_store.transaction() as conn:
        assert outbox.enqueue([entry("C1", 1), entry("C1", 2)], conn=conn).accepted == 2
    assert [d.sequence for d in outbox.claim(CASE_EVENT, 10).deliveries] == [1]


def test_run_all_returns_each_statements_rows_and_stops_at_a_failure(any_store: Store) -> None:
    with any_store.transaction() as conn:
        conn.execute("CREATE TABLE t_run_all (x INTEGER PRIMARY KEY, y TEXT)")
        rows = conn.run_all(
            [
                ("INSERT INTO t_run_all (x, y) VALUES (?, ?)", (1, "a")),
                ("INSERT INTO t_run_all (x, y) VALUES (?, ?) RETURNING x", (2, "b")),
                ("SELECT x, y FROM t_run_all ORDER BY x", ()),
            ]
        )
    assert [[tuple(r) for r in part] for part in rows] == [[], [(2,)], [(1, "a"), (2, "b")]]
    with pytest.raises(StoreError), any_store.transaction() as conn:
        conn.run_all(
            [
                ("UPDATE t_run_all SET y = ? WHERE x = ?", ("changed", 1)),
                ("SELECT no_such_column FROM t_run_all", ()),
            ]
        )
    with any_store.transaction() as conn:
        assert conn.scalar("SELECT y FROM t_run_all WHERE x = 1") == "a"


def _wait_until_blocked(store: Store) -> None:
    """Until another session of this database waits on a row lock (bounded)."""
    deadline = time.monotonic() + 20
    with psycopg.connect(store.url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second transaction never waited for the lane lock")


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["acknowledge", "enqueue"])
def test_an_enqueue_racing_an_acknowledgement_is_never_stranded(
    pg_store: Store, first: str
) -> None:
    """Whichever of the two holds the lane first, the next event ends up due."""
    outbox = Outbox(pg_store)
    outbox.enqueue([entry("C1", 1)])
    delivered = outbox.claim(CASE_EVENT, 10).deliveries
    assert [d.sequence for d in delivered] == [1]

    def acknowledge() -> None:
        outbox.settle(delivered)

    def enqueue() -> None:
        assert outbox.enqueue([entry("C1", 2)]).accepted == 1

    steps: dict[str, Callable[[], None]] = {"acknowledge": acknowledge, "enqueue": enqueue}
    second = steps["enqueue" if first == "acknowledge" else "acknowledge"]
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            second()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    worker = threading.Thread(target=run_second)
    with pg_store.transaction():
        steps[first]()  # inside this open transaction: the lane stays locked
        worker.start()
        _wait_until_blocked(pg_store)
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors == []
    assert [d.sequence for d in outbox.claim(CASE_EVENT, 10).deliveries] == [2]
