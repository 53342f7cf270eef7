"""Demo step "sync": case status through the outbox to the mock province, under faults.

Uses the mock province of an earlier step (``demo.state.province``: a ``MockProvince`` or a
served one) or starts one in-process on the demo's virtual clock. Enqueues the sample cases'
status events (``demo.state.events`` or the bundled sample: about a day and a half of a
city's volume) into an outbox in the demo's home, injects faults (500s, lost responses, an
outage), runs the dispatcher until the outbox is empty, then proves from the mock's journal
that every event was applied exactly once and in per-case order, and verifies the evidence
journal's hash chain.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .._errors import GovlinkError
from .._http import httpx
from ..samples import load_sample_cases
from ..store import SQLiteStore
from ..sync import (
    CASE_EVENT,
    CircuitBreaker,
    Dispatcher,
    NewEntry,
    Outbox,
    RetryPolicy,
    load_adapter,
    verify_journal,
)
from ._demo import Demo

if TYPE_CHECKING:
    from ..testing import MockProvince

__all__ = ["step"]

#: 10% HTTP 500s, 10% "applied but the response was lost", and an outage of 6 requests.
DEMO_FAULTS = "error500:rate=0.1;lost_response:rate=0.1;outage:after=4,count=6,retry_after=1"


def _province(demo: Demo) -> tuple[MockProvince, str, httpx.ASGITransport | None]:
    """(MockProvince, base URL, httpx transport or None) for the demo's platform."""
    from ..testing import MockProvince, ServedProvince

    shared = demo.state.province
    if shared is None:
        shared = MockProvince(clock=demo.clock)
        demo.state.province = shared
    if isinstance(shared, ServedProvince):  # served on a loopback port: real HTTP
        return shared.province, str(shared.base_url), None
    return shared, str(shared.base_url), httpx.ASGITransport(app=shared.app)


def step(demo: Demo) -> None:
    """Deliver the sample case events through faults; check exactly-once, in-order."""
    demo.section("Case status sync (办件状态同步): outbox → provincial platform, with faults")
    events = demo.state.events
    if events is None:
        try:
            _, events = load_sample_cases()
        except GovlinkError as exc:
            demo.fail("load", f"bundled sample cases do not load: {exc.message}")
            return
    province, base_url, transport = _province(demo)
    clock = province.clock
    province.set_faults(DEMO_FAULTS, seed=7)
    store = SQLiteStore(demo.home / "sync-demo.db")
    try:
        outbox = Outbox(store, clock=clock)
        result = outbox.enqueue(
            NewEntry(e.hall, CASE_EVENT, e.case_number, e.sequence, e.model_dump_json(),
                     e.idempotency_key)
            for e in events
        )  # fmt: skip
        demo.ok(
            "enqueue",
            f"{result.accepted} status events of {len({e.case_number for e in events})} cases "
            f"enqueued in {demo.home.name}/sync-demo.db",
        )
        demo.info(f"faults injected by the mock: {DEMO_FAULTS}")
        adapter = load_adapter("reference", base_url=base_url, clock=clock, transport=transport)
        dispatcher = Dispatcher(
            outbox,
            adapter,
            clock=clock,
            policy=RetryPolicy(outer_base_delay=0.2, outer_max_delay=2.0),
            breaker=lambda c: CircuitBreaker(c, base_cooldown=0.5, max_cooldown=2.0),
        )

        async def run() -> Any:
            try:
                return await dispatcher.run(until_empty=True)
            finally:
                await adapter.aclose()

        counters = asyncio.run(run())
        faults = province.journal.faults()
        per_request = counters.sent / max(1, counters.requests)
        demo.ok(
            "deliver",
            f"delivered in {counters.requests} requests (~{per_request:.0f} events each, at most"
            " one per case, per-case order kept); faults met: "
            + ", ".join(f"{k} ×{n}" for k, n in sorted(faults.items()) if k),
        )
        demo.info(
            f"{counters.failed_requests} failed requests retried ({counters.inner_retries} "
            f"in-process, the rest by the persisted schedule); {counters.duplicates} resent "
            "events recognised as duplicates (their first response was lost)"
        )
        try:
            province.journal.assert_each_event_applied_once_in_order(events)
            province.journal.assert_no_duplicate_applied()
        except AssertionError as exc:
            demo.fail("exactly_once", f"the platform's journal disagrees: {exc}")
            return
        demo.ok(
            "exactly_once",
            f"mock journal: each of the {len(events)} events applied exactly once, "
            "in per-case order",
        )
        report = verify_journal(store)
        status = outbox.status()
        demo.ok(
            "evidence_journal",
            f"evidence journal: {report.records} hash-chained records verify "
            f"(head {report.head_hash[:16]}…); outbox: {status.pending} pending, "
            f"{status.parked} parked",
        )
        demo.summary["sync"] = {
            "events": len(events),
            "requests": counters.requests,
            "failed_requests": counters.failed_requests,
            "duplicates": counters.duplicates,
            "journal_records": report.records,
            "exactly_once_in_order": True,
        }
    finally:
        province.set_faults(None)
        store.close()
