"""Acceptance: for every fault kind the mock province offers, every event is applied exactly
once, in per-case order — asserted from the mock's journal, with the real dispatcher.

The kinds are enumerated from :class:`govlink.testing.FaultKind` (and outages from
:class:`govlink.testing.OutageMode`), so a kind added to the mock without a plan here fails
:func:`test_every_fault_kind_has_a_plan` instead of being skipped silently. Each run is a few
hundred events on the virtual clock (an outage of minutes passes in milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_adapter_contract_support import (
    ADAPTERS,
    AsyncSession,
    drain_with_outbox,
    faces,
    make_province,
    sample_events,
)
from test_adapter_contract_support import aio as aio  # the fixture, used by name

from govlink import VirtualClock
from govlink.store import SQLiteStore
from govlink.sync import CASE_EVENT, RetryPolicy
from govlink.sync._outbox import Outbox
from govlink.testing import FaultKind, OutageMode

#: One plan per fault kind (outages: one per mode). Rates are high so every run meets the
#: fault many times; outage windows are counted in requests (requests 4 to 11).
PLANS: dict[FaultKind, list[str]] = {
    FaultKind.OUTAGE: [
        f"outage:after=3,count=8,mode={mode.value}"
        + (",retry_after=30" if mode.value == "503" else "")
        for mode in OutageMode
    ],
    FaultKind.ERROR500: ["error500:rate=0.3"],
    FaultKind.LATENCY: ["latency:ms=1500,rate=0.5"],
    FaultKind.DRIBBLE: ["dribble:bytes_per_s=512,rate=0.5"],
    FaultKind.MALFORMED_JSON: ["malformed_json:rate=0.3"],
    FaultKind.LOST_RESPONSE: ["lost_response:rate=0.3"],
    FaultKind.RESET: ["reset:rate=0.3"],
    FaultKind.PARTIAL: ["partial:rate=0.3,retry_after=2"],
}

CASES = 60  # about 250 events


def _matrix() -> Iterator[object]:
    for kind in FaultKind:
        for spec in PLANS.get(kind, [f"<no plan for {kind.value}>"]):
            for adapter in ADAPTERS:
                yield pytest.param(kind, spec, adapter, id=f"{adapter}-{spec.split(',')[0]}")


def test_every_fault_kind_has_a_plan() -> None:
    assert set(PLANS) == set(FaultKind), "a fault kind of the mock has no plan in this matrix"
    outage_modes = {mode for mode in OutageMode for s in PLANS[FaultKind.OUTAGE] if mode.value in s}
    assert outage_modes == set(OutageMode)


def _run(
    aio: AsyncSession,
    adapter_name: str,
    spec: str,
    store: SQLiteStore,
    clock: VirtualClock,
    face: str = "inprocess",
) -> int:
    """Deliver the events under ``spec``; assert exactly once, in order; return how many
    requests the dispatcher saw fail."""
    province = make_province(clock, capture_bodies=False)
    events = sample_events(CASES)
    outbox = Outbox(store, clock=clock, lease_seconds=30)
    outbox.enqueue_events(events)
    province.set_faults(spec, seed=5)
    with faces(province, face) as base_url:
        adapter = aio.adapter(adapter_name, province, base_url=base_url, timeout=5.0)
        counters = aio.run(
            drain_with_outbox(
                outbox,
                adapter,
                CASE_EVENT,
                clock,
                batch_size=25,
                concurrency=2,
                policy=RetryPolicy(outer_max_delay=60.0),
            )
        )
    # Refused connections never reach the platform's journal; everything else is recorded.
    fired = province.journal.faults() or (face == "served" and "refused" in spec)
    assert fired, f"the plan {spec!r} never fired"
    province.journal.assert_each_event_applied_once_in_order(events)
    province.journal.assert_no_duplicate_applied()
    status = outbox.status()
    assert (status.pending, status.parked) == (0, 0)
    # The dispatcher's own count may include a lane settled twice after a lease ran out on
    # the virtual clock (harmless: settlement is conditional); the platform's log is the truth.
    assert counters.applied <= len(events) <= counters.acknowledged
    return int(counters.failed_requests)


@pytest.mark.parametrize(("kind", "spec", "adapter_name"), list(_matrix()))
def test_every_event_applied_once_in_order_under_fault(
    aio: AsyncSession,
    kind: FaultKind,
    spec: str,
    adapter_name: str,
    store: SQLiteStore,
    virtual_clock: VirtualClock,
) -> None:
    assert kind.value in spec, f"no plan for fault kind {kind.value!r}"
    _run(aio, adapter_name, spec, store, virtual_clock)


@pytest.mark.server
@pytest.mark.parametrize(
    "spec",
    [
        # Refused connections never reach the platform, so they are not counted as requests:
        # the served refusal window is timed (on the virtual clock the backoff waits pass it).
        "outage:at=0s,for=5m,mode=refused",
        "outage:after=3,count=8,mode=reset",
        "lost_response:rate=0.3",
    ],
)
@pytest.mark.parametrize("adapter_name", ADAPTERS)
def test_served_mock_connection_faults(
    aio: AsyncSession, adapter_name: str, spec: str, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    # Over real loopback TCP the connection faults are real resets and closed sockets.
    failed = _run(aio, adapter_name, spec, store, virtual_clock, face="served")
    assert failed > 0
