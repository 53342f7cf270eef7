"""Outbox semantics on every store backend (SQLite and PostgreSQL): the same contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govlink import ValidationError, VirtualClock
from govlink.store import Store
from govlink.sync import (
    CASE_EVENT,
    FairShare,
    JournalRecord,
    JournalTampered,
    NewEntry,
    NotParked,
    Outbox,
    read_archive,
    verify_journal,
)
from govlink.sync._outbox import LaneFailure


def entry(case: str, seq: int, hall: str = "370500", **extra: object) -> NewEntry:
    payload = {"case_number": case, "sequence": seq, "hall": hall, **extra}
    return NewEntry(hall, CASE_EVENT, case, seq, json.dumps(payload))


@pytest.fixture
def outbox(any_store: Store, clock: VirtualClock) -> Outbox:
    return Outbox(any_store, clock=clock, lease_seconds=30)


def test_enqueue_is_idempotent_and_keys_are_deterministic(outbox: Outbox) -> None:
    first = outbox.enqueue([entry("C1", 1), entry("C1", 2), entry("C2", 1)])
    assert (first.accepted, first.duplicates) == (3, 0)
    again = outbox.enqueue([entry("C1", 1), entry("C1", 2), entry("C1", 3)])
    assert (again.accepted, again.duplicates) == (1, 2)
    claim = outbox.claim(CASE_EVENT, 10)
    keys = sorted(d.idempotency_key for d in claim.deliveries)
    assert keys == ["370500:case:C1:1", "370500:case:C2:1"]


def test_claim_takes_only_each_lanes_head_and_ack_advances_it(outbox: Outbox) -> None:
    outbox.enqueue([entry("C1", s) for s in (1, 2, 3)] + [entry("C2", 1)])
    claim = outbox.claim(CASE_EVENT, 100)
    assert sorted((d.key, d.sequence) for d in claim.deliveries) == [("C1", 1), ("C2", 1)]
    # Leased lanes are not claimed twice, so C1's second event waits for the first's ack.
    assert outbox.claim(CASE_EVENT, 100).deliveries == ()
    outbox.settle(claim.deliveries)
    nxt = outbox.claim(CASE_EVENT, 100)
    assert [(d.key, d.sequence) for d in nxt.deliveries] == [("C1", 2)]


def test_lease_expiry_hands_a_crashed_workers_lanes_to_the_next(
    outbox: Outbox, clock: VirtualClock
) -> None:
    outbox.enqueue([entry("C1", 1)])
    first = outbox.claim(CASE_EVENT, 10)
    assert len(first.deliveries) == 1
    clock.advance(29)
    assert outbox.claim(CASE_EVENT, 10).deliveries == ()
    clock.advance(2)
    again = outbox.claim(CASE_EVENT, 10)
    assert [d.idempotency_key for d in again.deliveries] == ["370500:case:C1:1"]
    # The first worker's late acknowledgement and the second's are both harmless.
    outbox.settle(first.deliveries)
    outbox.settle(again.deliveries)
    assert outbox.status().pending == 0


def test_release_makes_lanes_due_at_once(outbox: Outbox) -> None:
    outbox.enqueue([entry("C1", 1)])
    claim = outbox.claim(CASE_EVENT, 10)
    outbox.release(claim)
    assert len(outbox.claim(CASE_EVENT, 10).deliveries) == 1


def test_reschedule_persists_attempts_and_error(outbox: Outbox, clock: VirtualClock) -> None:
    outbox.enqueue([entry("C1", 1)])
    d = outbox.claim(CASE_EVENT, 10).deliveries[0]
    outbox.settle((), [LaneFailure(d, "http_503: down", clock.time() + 100)])
    status = outbox.status()
    assert (status.retrying, status.pending) == (1, 1)
    assert outbox.claim(CASE_EVENT, 10).deliveries == ()
    clock.advance(101)
    again = outbox.claim(CASE_EVENT, 10).deliveries
    assert [x.attempt for x in again] == [1]


def test_poison_parks_only_its_own_case(outbox: Outbox) -> None:
    outbox.enqueue([entry("BAD", 1), entry("BAD", 2), entry("OK", 1), entry("OK", 2)])
    claim = outbox.claim(CASE_EVENT, 10)
    bad = next(d for d in claim.deliveries if d.key == "BAD")
    ok = next(d for d in claim.deliveries if d.key == "OK")
    outbox.settle([ok], [LaneFailure(bad, "status: illegal_transition: refused")])
    parked = outbox.parked()
    assert [(p.key, p.sequence, p.pending) for p in parked] == [("BAD", 1, 2)]
    assert "illegal_transition" in parked[0].error
    assert [(d.key, d.sequence) for d in outbox.claim(CASE_EVENT, 10).deliveries] == [("OK", 2)]


def test_repair_replaces_the_payload_and_releases_the_case(outbox: Outbox) -> None:
    outbox.enqueue([entry("BAD", 1, status="approved")])
    d = outbox.claim(CASE_EVENT, 10).deliveries[0]
    outbox.settle((), [LaneFailure(d, "refused")])
    fixed = json.dumps({"case_number": "BAD", "sequence": 1, "status": "received"})
    key = outbox.retry("BAD", payload_json=fixed, note="status corrected")
    assert key == "370500:case:BAD:1"
    again = outbox.claim(CASE_EVENT, 10).deliveries
    assert [json.loads(x.payload_json)["status"] for x in again] == ["received"]
    assert outbox.entries("BAD")[0]["state"] == "pending"
    with pytest.raises(NotParked):
        outbox.retry("BAD")


def test_skip_needs_a_reason_keeps_the_entry_and_resumes_the_case(outbox: Outbox) -> None:
    outbox.enqueue([entry("BAD", 1), entry("BAD", 2)])
    d = outbox.claim(CASE_EVENT, 10).deliveries[0]
    outbox.settle((), [LaneFailure(d, "refused")])
    with pytest.raises(ValidationError) as err:
        outbox.skip("BAD", reason="  ")
    assert err.value.rule == "required"
    outbox.skip("BAD", reason="duplicate paper record, entered by hand at the province")
    assert [(x.key, x.sequence) for x in outbox.claim(CASE_EVENT, 10).deliveries] == [("BAD", 2)]
    states = [e["state"] for e in outbox.entries("BAD")]
    assert states == ["skipped", "pending"]
    with pytest.raises(NotParked):
        outbox.skip("BAD", reason="again")


def test_operator_actions_are_journaled_and_the_chain_verifies(
    outbox: Outbox, any_store: Store
) -> None:
    outbox.enqueue([entry("BAD", 1)])
    d = outbox.claim(CASE_EVENT, 10).deliveries[0]
    outbox.settle((), [LaneFailure(d, "refused")])
    outbox.skip("BAD", reason="operator 张三 phone 13812345678 decided")
    report = verify_journal(any_store)
    assert report.records == 1
    with any_store.transaction(write=False) as conn:
        action, detail = conn.fetchone("SELECT action, detail FROM sync_journal")
    assert action == "skip"
    assert "13812345678" not in detail
    assert "138****5678" in detail


def test_enqueue_inside_the_halls_own_transaction_commits_or_rolls_back_with_it(
    outbox: Outbox, any_store: Store
) -> None:
    with any_store.transaction() as conn:
        conn.execute("CREATE TABLE hall_case (case_number TEXT PRIMARY KEY, status TEXT)")
    with pytest.raises(RuntimeError), any_store.transaction() as conn:
        conn.execute("INSERT INTO hall_case VALUES (?, ?)", ("C1", "received"))
        outbox.enqueue([entry("C1", 1)], conn=conn)
        raise RuntimeError("the hall's own write failed")
    assert outbox.status().pending == 0
    with any_store.transaction() as conn:
        conn.execute("INSERT INTO hall_case VALUES (?, ?)", ("C1", "received"))
        outbox.enqueue([entry("C1", 1)], conn=conn)
    assert outbox.status().pending == 1


def test_entries_below_the_delivered_head_are_refused_not_lost(outbox: Outbox) -> None:
    outbox.enqueue([entry("C1", 1), entry("C1", 2)])
    for _ in range(2):
        outbox.settle(outbox.claim(CASE_EVENT, 10).deliveries)
    outbox.purge()  # retention not reached: nothing purged
    again = outbox.enqueue([entry("C1", 1), entry("C1", 3)])
    assert (again.accepted, again.duplicates) == (1, 1)
    bad = outbox.enqueue([entry("C1", 0)])
    assert bad.stale == 1
    assert bad.problems[0].rule == "out_of_range"


def test_a_case_waits_for_its_missing_head(outbox: Outbox) -> None:
    outbox.enqueue([entry("C1", 2)])
    assert outbox.claim(CASE_EVENT, 10).deliveries == ()
    outbox.enqueue([entry("C1", 1)])
    assert [d.sequence for d in outbox.claim(CASE_EVENT, 10).deliveries] == [1]


def test_purge_keeps_acknowledged_entries_for_the_retention_period(
    any_store: Store, clock: VirtualClock
) -> None:
    outbox = Outbox(any_store, clock=clock, retention_seconds=3600)
    outbox.enqueue([entry("C1", 1), entry("C1", 2)])
    outbox.settle(outbox.claim(CASE_EVENT, 10).deliveries)
    clock.advance(1800)
    assert outbox.purge() == 0
    clock.advance(1801)
    assert outbox.purge() == 1
    assert [e["sequence"] for e in outbox.entries("C1")] == [2]
    assert outbox.status().acknowledged_retained == 0


def _deliver(outbox: Outbox, rounds: int) -> None:
    for _ in range(rounds):
        claim = outbox.claim(CASE_EVENT, 10)
        keys = [d.idempotency_key for d in claim.deliveries]
        record = JournalRecord("ack", "cases", len(keys), "0" * 64, {"keys": keys})
        outbox.settle(claim.deliveries, journal=[record])


def test_retention_archives_then_purges_and_the_chain_still_verifies(
    any_store: Store, clock: VirtualClock, tmp_path: Path
) -> None:
    outbox = Outbox(any_store, clock=clock, retention_seconds=3600)
    outbox.enqueue([entry("C1", s) for s in (1, 2, 3)] + [entry("C2", 1)])
    _deliver(outbox, 2)  # C1:1, C2:1, then C1:2 acknowledged; C1:3 still pending
    clock.advance(7200)
    _deliver(outbox, 1)  # C1:3 acknowledged now: young, kept (its lane's last ack is recent)
    outbox.enqueue([entry("C2", 2)])  # pending: never purged
    report = outbox.retain(tmp_path / "archive")
    assert (report.entries, report.journal) == (1, 2)  # C2:1; C1's lane is too recent
    assert report.archive is not None
    lines = list(read_archive(report.archive))
    assert [line["kind"] for line in lines] == ["archive", "journal", "journal", "entry", "end"]
    assert lines[3]["idempotency_key"] == "370500:case:C2:1"
    assert lines[3]["payload"]["case_number"] == "C2"
    assert lines[-1]["entries"] == 1
    journal = [line for line in lines if line["kind"] == "journal"]
    # The store alone verifies from its anchor; with the archive, from record 1.
    verify_journal(any_store)
    assert verify_journal(any_store, archived=journal).records == 3
    forged = [dict(journal[0], detail='{"keys":["forged"]}'), journal[1]]
    with pytest.raises(JournalTampered) as err:
        verify_journal(any_store, archived=forged)
    assert err.value.record == 1
    with pytest.raises(JournalTampered):
        verify_journal(any_store, archived=journal[1:])  # an archive's record is missing
    # Later: C1's whole lane goes; nothing is archived twice; pending entries stay.
    clock.advance(7200)
    again = outbox.retain(tmp_path / "archive")
    assert again.entries == 3
    assert again.archive is not None
    seqs = [(x["lane"], x["sequence"]) for x in read_archive(again.archive) if x["kind"] == "entry"]
    assert seqs == [("370500:case:C1", 1), ("370500:case:C1", 2), ("370500:case:C1", 3)]
    assert outbox.status().pending == 1
    assert [e["sequence"] for e in outbox.entries("C2")] == [2]
    assert outbox.retain(tmp_path / "archive").archive is None  # nothing left: no file
    _deliver(outbox, 1)
    everything = [
        x
        for path in sorted((tmp_path / "archive").iterdir())
        for x in read_archive(path)
        if x["kind"] == "journal"
    ]
    assert verify_journal(any_store, archived=everything).records == 4


def test_fair_share_drains_every_hall_while_one_has_a_backlog(outbox: Outbox) -> None:
    big = [entry(f"A{i}", 1, hall="370500") for i in range(300)]
    small = [entry(f"B{i}", 1, hall="370502") for i in range(20)]
    outbox.enqueue(big + small)
    claim = outbox.claim(CASE_EVENT, 40, fair=FairShare())
    halls = [d.hall for d in claim.deliveries]
    assert halls.count("370502") == 20
    assert halls.count("370500") == 20
    # Unused share goes to the hall with work left.
    claim2 = outbox.claim(CASE_EVENT, 40, fair=FairShare())
    assert [d.hall for d in claim2.deliveries].count("370500") == 40


def test_hall_weights_shape_the_share(outbox: Outbox) -> None:
    outbox.enqueue([entry(f"A{i}", 1, hall="370500") for i in range(100)])
    outbox.enqueue([entry(f"B{i}", 1, hall="370502") for i in range(100)])
    outbox.set_hall_weight("370502", 3)
    weights = outbox.hall_weights()
    claim = outbox.claim(CASE_EVENT, 40, fair=FairShare(weights))
    assert [d.hall for d in claim.deliveries].count("370502") == 30
    with pytest.raises(ValidationError):
        outbox.set_hall_weight("370502", 0)


def test_status_counts_pending_parked_and_lag(outbox: Outbox, clock: VirtualClock) -> None:
    outbox.enqueue([entry("C1", 1), entry("C1", 2), entry("C2", 1, hall="370502")])
    clock.advance(10)
    status = outbox.status()
    assert status.pending == 3
    assert status.by_hall == {"370500": 2, "370502": 1}
    assert status.oldest_pending_age == pytest.approx(10)
    assert status.to_dict()["parked_cases"] == 0
