"""The evidence journal: hash chain verification detects altered, missing and truncated records."""

from __future__ import annotations

import pytest

from govlink import VirtualClock
from govlink.store import Store
from govlink.sync import JournalRecord, JournalTampered, Outbox, verify_journal


@pytest.fixture
def journaled(any_store: Store) -> Store:
    outbox = Outbox(any_store, clock=VirtualClock())
    for n in range(6):
        outbox.journal(
            [JournalRecord("send", "cases", 2, f"{n:064x}", {"keys": [f"k{n}a", f"k{n}b"]})]
        )
    return any_store


def test_an_intact_journal_verifies(journaled: Store) -> None:
    report = verify_journal(journaled, page=4)  # pages cross record boundaries
    assert report.records == 6
    assert len(report.head_hash) == 64


def test_an_altered_record_is_named(journaled: Store) -> None:
    with journaled.transaction() as conn:
        conn.execute("UPDATE sync_journal SET detail = ? WHERE n = 3", ('{"keys":["forged"]}',))
    with pytest.raises(JournalTampered) as err:
        verify_journal(journaled)
    assert err.value.record == 3
    assert "altered" in err.value.message


def test_a_deleted_record_is_named(journaled: Store) -> None:
    with journaled.transaction() as conn:
        conn.execute("DELETE FROM sync_journal WHERE n = 4")
    with pytest.raises(JournalTampered) as err:
        verify_journal(journaled)
    assert err.value.record == 4
    assert "missing" in err.value.message


def test_a_rehashed_forgery_breaks_the_next_link(journaled: Store) -> None:
    # Altering a record AND recomputing its own hash still breaks its successor's link.
    with journaled.transaction() as conn:
        conn.execute("UPDATE sync_journal SET hash = ? WHERE n = 2", ("f" * 64,))
    with pytest.raises(JournalTampered) as err:
        verify_journal(journaled)
    assert err.value.record == 2


def test_a_truncated_tail_is_detected_through_the_head(journaled: Store) -> None:
    with journaled.transaction() as conn:
        conn.execute("DELETE FROM sync_journal WHERE n >= 5")
    with pytest.raises(JournalTampered) as err:
        verify_journal(journaled)
    assert err.value.record == 5
