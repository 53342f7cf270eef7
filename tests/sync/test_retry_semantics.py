"""Retry semantics against the platform (virtual clock): a platform-wide Retry-After holds the
whole endpoint, and recovery after a long outage is bounded.

Issue: with ``outage:for=60s,retry_after=60`` 12 batches reached the platform inside the 60 s it
asked for (breaker probes at +2, +7, +15, +33 s); and after a long outage each failed probe
doubled the cooldown up to 120 s, so a flaky link could delay recovery by minutes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sync_core_support import as_entries, sample_events

from govlink import VirtualClock
from govlink._http import httpx
from govlink.store import SQLiteStore
from govlink.sync import (
    BreakerState,
    CircuitBreaker,
    Dispatcher,
    Outbox,
    PlatformCaller,
    RetryPolicy,
    load_adapter,
)
from govlink.sync.adapter import PlatformError, WireRequest, WireResponse
from govlink.testing import MockProvince


def _adapter(name: str, province: MockProvince) -> Any:
    return load_adapter(
        name,
        base_url=province.base_url,
        clock=province.clock,
        transport=httpx.ASGITransport(app=province.app),
    )


def _drain(outbox: Outbox, adapter: Any, clock: VirtualClock, **options: Any) -> Any:
    async def go() -> Any:
        try:
            return await Dispatcher(outbox, adapter, clock=clock, **options).run(until_empty=True)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("name", ["reference", "gateway"])
def test_a_platform_wide_retry_after_holds_the_whole_endpoint(
    sqlite_store: SQLiteStore, name: str
) -> None:
    clock = VirtualClock()
    province = MockProvince(clock=clock, faults="outage:at=0s,for=60s,retry_after=60", seed=3)
    start = clock.time()
    outbox = Outbox(sqlite_store, clock=clock)
    events = sample_events(400)
    outbox.enqueue(as_entries(events))
    # Many small batches: far more than the breaker's threshold are due when the 503 comes.
    _drain(outbox, _adapter(name, province), clock, concurrency=4, batch_size=10)
    province.journal.assert_each_event_applied_once_in_order(events)
    refused = [e for e in province.journal if e.status == 503]
    assert refused, "the outage must have been met"
    first = refused[0].time
    # Requests already on their way when the first 503 came back share its instant; after it,
    # nothing reaches the platform until the 60 s it asked for have passed.
    inside = [e for e in province.journal if first < e.time < first + 60]
    assert inside == [], [(round(e.time - start, 1), e.path, e.status) for e in inside]
    assert all(e.status != 503 for e in province.journal if e.time >= start + 60)


def test_recovery_after_a_long_outage_is_bounded(sqlite_store: SQLiteStore) -> None:
    clock = VirtualClock()
    outage = 3600.0
    # Refused connections, no Retry-After: the breaker alone paces the probes.
    province = MockProvince(clock=clock, faults="outage:at=0s,for=1h,mode=refused", seed=4)
    start = clock.time()
    outbox = Outbox(sqlite_store, clock=clock)
    events = sample_events(120)
    outbox.enqueue(as_entries(events))
    breaker = CircuitBreaker(clock, failure_threshold=3, base_cooldown=2.0)
    counters = _drain(
        outbox, _adapter("reference", province), clock, concurrency=1, breaker=lambda c: breaker
    )
    province.journal.assert_each_event_applied_once_in_order(events)
    assert counters.breaker_opened > 10
    served = [e for e in province.journal if e.status == 200 and e.time >= start + outage]
    assert served
    # The first request after the platform came back went within one capped cooldown
    # (30 s + 20% jitter), however many probes had failed before...
    bound = breaker.max_cooldown * 1.2
    assert served[0].time - (start + outage) <= bound
    # ...and the whole backlog was delivered within one more: lanes held back by the outage
    # wait no longer than the breaker's cooldown, never the 300 s of the lane backoff.
    assert served[-1].time - (start + outage) <= 2 * bound + 5


def test_the_cooldown_is_capped_and_a_hold_outlasts_it() -> None:
    clock = VirtualClock()
    breaker = CircuitBreaker(clock, failure_threshold=1, base_cooldown=2.0)
    breaker.record_failure()  # opens
    for _ in range(40):  # a long outage: every probe fails
        clock.advance(breaker.wait_time())
        assert breaker.admit() == breaker.probe_batch
        breaker.record_failure()
        assert breaker.wait_time() <= 30.0 * 1.2
    clock.advance(breaker.wait_time())
    breaker.admit()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.hold(60)
    assert breaker.admit() == 0  # held although closed
    clock.advance(59.5)
    assert breaker.admit() == 0
    clock.advance(0.5)
    assert breaker.admit() is None


class _Refuses:
    """A minimal adapter whose platform answers 503 with a Retry-After, then 200."""

    name = "fake"
    max_batch = 10
    requests_per_second = None

    def __init__(self, failures: int, retry_after: str) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.sent = 0

    async def send(self, request: WireRequest) -> WireResponse:
        self.sent += 1
        if self.sent <= self.failures:
            return WireResponse(503, {"retry-after": self.retry_after}, b"")
        return WireResponse(200, {}, b"ok")


def _decode(response: WireResponse) -> bytes:
    from govlink.sync.adapter import classify_status

    failure = classify_status(response.status, response.headers, now=0.0)
    if failure is not None:
        raise failure
    return response.content


def test_the_caller_holds_other_requests_after_a_retry_after() -> None:
    clock = VirtualClock()
    fake = _Refuses(1, "45")
    caller = PlatformCaller(fake, clock=clock, policy=RetryPolicy(inner_attempts=3))  # type: ignore[arg-type]
    request = WireRequest("POST", "/x", "cases")

    async def go() -> None:
        with pytest.raises(PlatformError) as first:
            await caller.call(request, _decode)
        assert first.value.retry_after == 45  # too long for the inner loop: outer loop's job
        with pytest.raises(PlatformError) as held:
            await caller.call(request, _decode)  # a second batch is not sent at all
        assert held.value.reason == "held"
        assert fake.sent == 1
        clock.advance(45)
        answer = await caller.call(request, _decode)
        assert answer.value == b"ok"

    asyncio.run(go())


def test_a_short_retry_after_is_waited_out_in_process() -> None:
    clock = VirtualClock()
    fake = _Refuses(1, "1")
    caller = PlatformCaller(fake, clock=clock, policy=RetryPolicy(inner_attempts=3))  # type: ignore[arg-type]
    before = clock.time()
    answer = asyncio.run(caller.call(WireRequest("POST", "/x", "cases"), _decode))
    assert (answer.value, fake.sent, caller.counters.inner_retries) == (b"ok", 2, 1)
    assert clock.time() - before >= 1.0
