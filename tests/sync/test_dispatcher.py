"""The dispatcher against the in-process mock province, with the real reference adapter."""

from __future__ import annotations

import asyncio
import heapq
import json
from datetime import timedelta
from typing import Any

import pytest
from sync_core_support import as_entries, make_event, reference_adapter, sample_events

from govlink import ConfigError, VirtualClock
from govlink.store import SQLiteStore, Store
from govlink.sync import (
    CASE_EVENT,
    CircuitBreaker,
    Dispatcher,
    NewEntry,
    Outbox,
    RetryBudget,
    adapter_names,
    load_adapter,
    verify_journal,
)
from govlink.sync.adapter import (
    WireRequest,
)
from govlink.testing import MockProvince


async def _drain(dispatcher: Dispatcher) -> Any:
    try:
        return await dispatcher.run(until_empty=True)
    finally:
        await dispatcher.adapter.aclose()


def run(outbox: Outbox, province: MockProvince, clock: VirtualClock, **options: Any) -> Any:
    dispatcher = Dispatcher(outbox, reference_adapter(province, clock), clock=clock, **options)
    return asyncio.run(_drain(dispatcher))


def test_many_cases_per_request_each_case_in_order(outbox: Outbox, clock: VirtualClock) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(300)
    outbox.enqueue(as_entries(events))
    counters = run(outbox, province, clock)
    province.journal.assert_each_event_applied_once_in_order(events)
    assert counters.acknowledged == len(events)
    batches = [e for e in province.journal if e.path.endswith("events:batch")]
    # Batching across cases: far fewer requests than events (FIFO still holds per case).
    assert len(batches) < len(events) / 20
    assert outbox.status().pending == 0


@pytest.mark.parametrize(
    "faults",
    [
        "error500:rate=0.15",
        "lost_response:rate=0.15",
        "malformed_json:rate=0.15",
        "reset:rate=0.15",
        "partial:rate=0.1,retry_after=2",
        "outage:at=0s,for=2m,retry_after=30",
        "outage:at=0s,for=2m,mode=refused",
        "latency:ms=200;dribble:rate=0.2,bytes_per_s=100000",
    ],
)
def test_faults_end_with_each_event_applied_once_in_order(
    outbox: Outbox, clock: VirtualClock, faults: str
) -> None:
    province = MockProvince(clock=clock, faults=faults, seed=5)
    events = sample_events(150)
    outbox.enqueue(as_entries(events))
    run(outbox, province, clock)
    province.journal.assert_each_event_applied_once_in_order(events)
    province.journal.assert_no_duplicate_applied()
    verify_journal(outbox.store)


def test_poison_parks_only_its_case_then_repair_and_skip(
    outbox: Outbox, clock: VirtualClock
) -> None:
    province = MockProvince(clock=clock)
    good = sample_events(60)
    repair_case = [
        make_event("REPAIR1", 1, "received", clock),
        make_event("REPAIR1", 2, "approved", clock),  # before acceptance: illegal
        make_event("REPAIR1", 3, "approved", clock),
    ]
    skip_case = [
        make_event("SKIP1", 1, "received", clock),
        make_event("SKIP1", 2, "accepted", clock),
        make_event("SKIP1", 3, "approved", clock),
        make_event("SKIP1", 4, "processing", clock),  # after a terminal status: illegal
    ]
    outbox.enqueue(as_entries(good + repair_case + skip_case))
    counters = run(outbox, province, clock)
    assert counters.parked == 2
    parked = {p.key: p for p in outbox.parked()}
    assert set(parked) == {"REPAIR1", "SKIP1"}
    assert (parked["REPAIR1"].sequence, parked["REPAIR1"].pending) == (2, 2)
    assert "illegal_transition" in parked["REPAIR1"].error
    # Every other case flowed: the good ones completely, the poisoned ones up to the poison.
    province.journal.assert_each_event_applied_once_in_order(good + repair_case[:1] + skip_case[:3])

    fixed = make_event("REPAIR1", 2, "accepted", clock)
    outbox.retry("REPAIR1", payload_json=json.dumps(fixed), note="status corrected")
    outbox.skip("SKIP1", reason="processing reported after conclusion by mistake")
    run(outbox, province, clock)
    province.journal.assert_each_event_applied_once_in_order(
        [*good, repair_case[0], fixed, repair_case[2], *skip_case[:3]]
    )
    assert outbox.parked() == []
    with outbox.store.transaction(write=False) as conn:
        actions = [r[0] for r in conn.fetchall("SELECT action FROM sync_journal ORDER BY n")]
        skip_detail = conn.scalar("SELECT detail FROM sync_journal WHERE action = 'skip'")
    assert "repair" in actions
    assert "processing reported after conclusion" in skip_detail
    verify_journal(outbox.store)


def test_an_expired_token_is_refreshed_once(outbox: Outbox, clock: VirtualClock) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(40)
    outbox.enqueue(as_entries(events[:50]))
    adapter = reference_adapter(province, clock)

    async def both() -> Any:
        first = Dispatcher(outbox, adapter, clock=clock)
        await first.run(until_empty=True)
        clock.advance(2 * 3600)  # the token expired on the platform's clock
        outbox.enqueue(as_entries(events[50:]))
        second = Dispatcher(outbox, adapter, clock=clock)
        counters = await second.run(until_empty=True)
        await adapter.aclose()
        return counters

    counters = asyncio.run(both())
    assert counters.token_refreshes == 1
    province.journal.assert_each_event_applied_once_in_order(events)


def test_stop_finishes_in_flight_work_and_leaves_no_lease(
    outbox: Outbox, clock: VirtualClock
) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(300)
    outbox.enqueue(as_entries(events))
    dispatcher = Dispatcher(outbox, reference_adapter(province, clock), clock=clock)
    dispatcher.on_progress = lambda n: dispatcher.stop()
    counters = asyncio.run(_drain(dispatcher))
    status = outbox.status()
    assert 0 < counters.acknowledged < len(events)
    assert status.leased == 0
    assert status.pending == len(events) - counters.acknowledged
    # What was applied is exactly what was acknowledged: nothing in limbo.
    applied = province.core.applied_event_log()
    assert len(applied) == counters.acknowledged


class TimelineClock(VirtualClock):
    """A virtual clock with scheduled actions: whoever moves time past one runs it first.

    The halls' enqueueing is scheduled on it, so it interleaves with the dispatcher's own
    sleeps exactly as it would in real time, only thousands of times faster.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plan: list[tuple[float, int, Any]] = []

    def at(self, when: float, action: Any) -> None:
        heapq.heappush(self._plan, (when, len(self._plan), action))

    def advance(self, delta: float | timedelta) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        target = self.time() + seconds
        while self._plan and self._plan[0][0] <= target:
            when, _, action = heapq.heappop(self._plan)
            super().advance(max(0.0, when - self.time()))
            action()
        super().advance(max(0.0, target - self.time()))


def test_four_hour_outage_drains_after_recovery_within_the_budget(
    sqlite_store: SQLiteStore, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = TimelineClock()
    outbox = Outbox(sqlite_store, clock=clock)
    outage = 4 * 3600.0
    province = MockProvince(clock=clock, faults="outage:at=0s,for=4h,retry_after=120", seed=1)
    events = sample_events(240)
    start = clock.time()
    # The halls keep enqueueing through the outage: a slice of the day every 15 minutes.
    slices = 16
    per = -(-len(events) // slices)
    outbox.enqueue(as_entries(events[:per]))
    for i in range(1, slices):
        part = events[i * per : (i + 1) * per]
        clock.at(start + i * outage / slices, lambda part=part: outbox.enqueue(as_entries(part)))
    budgets: list[RetryBudget] = []

    def budget(c: Any) -> RetryBudget:
        budgets.append(RetryBudget(c, ratio=0.1, floor_per_second=0.01, capacity=10))
        return budgets[-1]

    dispatcher = Dispatcher(
        outbox,
        reference_adapter(province, clock),
        clock=clock,
        concurrency=1,
        budget=budget,
        breaker=lambda c: CircuitBreaker(c, failure_threshold=3, base_cooldown=5, max_cooldown=120),
    )
    counters = asyncio.run(_drain(dispatcher))
    # Every platform request counts (during the outage the first is the token request).
    during = [e for e in province.journal if e.time < start + outage]
    after = [e for e in province.journal if e.time >= start + outage]
    province.journal.assert_each_event_applied_once_in_order(events)
    requests_bound = 0.1 * counters.requests + 0.01 * outage + 10
    report = (
        f"4h outage on the virtual clock: {len(during)} requests during the outage "
        f"({len(during) / 4:.1f}/hour: breaker probes), {len(after)} after recovery drained "
        f"{len(events)} events; inner retries {counters.inner_retries} "
        f"(budget refused {counters.budget_refused}); budget bound {requests_bound:.0f}"
    )
    with capsys.disabled():
        print("\n" + report)
    assert during, "the dispatcher must keep probing during the outage"
    # Slow probes, not a storm: about one per capped cooldown (120 s, +20% jitter).
    assert len(during) <= outage / 120 + 20
    assert counters.inner_retries <= requests_bound
    assert outbox.status().pending == 0


def test_unknown_adapter_names_the_available_ones() -> None:
    assert {"reference", "gateway"} <= set(adapter_names())
    with pytest.raises(ConfigError) as err:
        load_adapter("atlantis", base_url="http://x")
    assert "reference" in err.value.message
    assert "gateway" in err.value.message


def test_a_batch_kind_is_homogeneous(outbox: Outbox, clock: VirtualClock) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(20)
    outbox.enqueue(as_entries(events))
    dispatcher = Dispatcher(outbox, reference_adapter(province, clock), clock=clock)
    assert dispatcher.kinds == (CASE_EVENT,)
    asyncio.run(_drain(dispatcher))
    province.journal.assert_each_event_applied_once_in_order(events)


class _BreaksOnOneCase:
    """The reference adapter, except that a batch carrying case POISON gets a body the
    platform refuses as a whole (HTTP 400): the dispatcher must isolate the culprit."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = inner.name
        self.max_batch = inner.max_batch
        self.requests_per_second = inner.requests_per_second

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def endpoint(self, kind: str) -> str:
        return str(self._inner.endpoint(kind))

    def encode(self, kind: str, deliveries: Any) -> Any:
        request = self._inner.encode(kind, deliveries)
        if any(d.key == "POISON" for d in deliveries):
            return WireRequest(request.method, request.path, request.endpoint, b"{broken")
        return request

    def decode(self, kind: str, deliveries: Any, response: Any) -> Any:
        return self._inner.decode(kind, deliveries, response)

    async def send(self, request: Any) -> Any:
        return await self._inner.send(request)

    async def refresh_credentials(self) -> None:
        await self._inner.refresh_credentials()

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_a_whole_request_refused_is_halved_until_only_the_culprit_is_parked(
    outbox: Outbox, clock: VirtualClock
) -> None:
    province = MockProvince(clock=clock)
    good = sample_events(80)
    poison = [make_event("POISON", 1, "received", clock)]
    outbox.enqueue(as_entries(good + poison))
    adapter = _BreaksOnOneCase(reference_adapter(province, clock))
    counters = asyncio.run(_drain(Dispatcher(outbox, adapter, clock=clock)))
    assert counters.parked == 1
    assert [p.key for p in outbox.parked()] == ["POISON"]
    assert "HTTP 400" in outbox.parked()[0].error
    province.journal.assert_each_event_applied_once_in_order(good)
    verify_journal(outbox.store)


def test_an_unencodable_payload_parks_only_its_case(outbox: Outbox, clock: VirtualClock) -> None:
    province = MockProvince(clock=clock)
    good = sample_events(30)
    outbox.enqueue(as_entries(good))
    outbox.enqueue([NewEntry("370500", CASE_EVENT, "ARRAY1", 1, "[1, 2]")])
    counters = run(outbox, province, clock)
    assert counters.parked == 1
    parked = outbox.parked()
    assert [p.key for p in parked] == ["ARRAY1"]
    assert "json_object" in parked[0].error
    province.journal.assert_each_event_applied_once_in_order(good)


def test_delivery_on_every_store_backend(any_store: Store, clock: VirtualClock) -> None:
    outbox = Outbox(any_store, clock=clock)
    province = MockProvince(clock=clock, faults="error500:rate=0.1;lost_response:rate=0.1", seed=2)
    events = sample_events(120)
    outbox.enqueue(as_entries(events))
    run(outbox, province, clock, concurrency=3)
    province.journal.assert_each_event_applied_once_in_order(events)
    assert outbox.status().pending == 0
    verify_journal(any_store)
