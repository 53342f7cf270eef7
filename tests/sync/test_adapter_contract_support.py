"""Shared helpers for the adapter contract, catalog sync and fault matrix tests (no tests here).

Builds either bundled adapter against a mock province, in-process (httpx's ASGI transport over
the mock's Starlette app) or served on a loopback port, and makes small, valid sample data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import pytest

from govlink import VirtualClock
from govlink._http import httpx
from govlink.adapters.gateway import wire as gw
from govlink.domain import CaseStatusEvent, Item, parse_case_event
from govlink.samples import load_sample_catalog
from govlink.samples._cases import generate_cases, iter_events
from govlink.sync import (
    CASE_EVENT,
    CATALOG_ITEM,
    PlatformCaller,
    ProvinceAdapter,
    RetryPolicy,
    load_adapter,
)
from govlink.sync.adapter import (
    Delivery,
    ItemResult,
)
from govlink.testing import MockProvince, ProvinceConfig, served_mock

ADAPTERS = ("reference", "gateway")
SM4_KEY = "0123456789abcdeffedcba9876543210"

_T = TypeVar("_T")


class AsyncSession:
    """One event loop for a whole test, and the adapters made in it (closed at the end).

    Adapters keep pooled connections bound to their loop, so a test runs all its coroutines on
    one loop (``aio.run(...)``) and makes adapters with ``aio.adapter(...)``.
    """

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.adapters: list[ProvinceAdapter] = []

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self.runner.run(coro)

    def adapter(
        self, name: str, province: MockProvince, *, base_url: str | None = None, **options: Any
    ) -> ProvinceAdapter:
        made = adapter_for(name, province, base_url=base_url, **options)
        self.adapters.append(made)
        return made

    def close(self) -> None:
        for made in self.adapters:
            self.runner.run(made.aclose())
        self.runner.close()


@pytest.fixture
def aio() -> Iterator[AsyncSession]:
    """An :class:`AsyncSession` for the test (import this fixture into the test module)."""
    session = AsyncSession()
    try:
        yield session
    finally:
        session.close()


def province_config(
    *,
    sign_method: gw.SignMethod = gw.SignMethod.HMAC_SHA256,
    sm4_key: str | None = None,
    capture_bodies: bool = True,
    rate_limit: float | None = None,
) -> ProvinceConfig:
    """A mock configuration whose demo gateway app uses ``sign_method`` and ``sm4_key``."""
    app = gw.GatewayConfig(sign_method=sign_method, sm4_key=sm4_key)
    return ProvinceConfig(
        gateway_apps={gw.DEMO_APP_ID: app}, capture_bodies=capture_bodies, rate_limit=rate_limit
    )


def make_province(clock: VirtualClock, **config: Any) -> MockProvince:
    return MockProvince(clock=clock, config=province_config(**config))


def adapter_for(
    name: str, province: MockProvince, *, base_url: str | None = None, **options: Any
) -> ProvinceAdapter:
    """The named adapter (found by entry point, as the core finds it) talking to ``province``.

    Without ``base_url`` the adapter reaches the mock in-process through the ASGI transport.
    """
    options.setdefault("clock", province.clock)
    if base_url is None:
        options["transport"] = httpx.ASGITransport(app=province.app)
        base_url = province.base_url
    return load_adapter(name, base_url=base_url, **options)


@contextmanager
def faces(province: MockProvince, face: str) -> Iterator[str | None]:
    """``None`` (in-process) or the served mock's base URL for the duration of the block."""
    if face == "inprocess":
        yield None
        return
    with served_mock(province) as served:
        yield served.base_url


@cache
def sample_items() -> tuple[Item, ...]:
    return load_sample_catalog().items


@cache
def sample_events(cases: int = 30, seed: int = 11) -> tuple[CaseStatusEvent, ...]:
    """Valid case status events of ``cases`` sample cases, each case's in sequence order."""
    found = generate_cases(sample_items(), cases=cases, seed=seed)
    return tuple(parse_case_event(e) for e in iter_events(found))


def event_delivery(event: CaseStatusEvent, attempt: int = 0) -> Delivery:
    return Delivery(
        event.hall,
        CASE_EVENT,
        event.case_number,
        event.sequence,
        event.idempotency_key,
        event.model_dump_json(),
        attempt,
    )


def item_delivery(item: Item, sequence: int = 1) -> Delivery:
    return Delivery(
        item.region_code,
        CATALOG_ITEM,
        item.implementation_code,
        sequence,
        f"{item.region_code}:catalog:{item.implementation_code}:{sequence}",
        item.canonical_json().decode("utf-8"),
    )


async def exchange(
    adapter: ProvinceAdapter, kind: str, deliveries: Sequence[Delivery]
) -> list[ItemResult]:
    """One batch the way the sync core drives an adapter, through the core's own driver with no
    in-process retry: encode, send, decode, and on a 401 refresh the credentials once and send
    again (refused again: a PlatformAuthError)."""
    request = adapter.encode(kind, deliveries)
    caller = PlatformCaller(
        adapter, clock=getattr(adapter, "clock", None), policy=RetryPolicy(inner_attempts=1)
    )
    answer = await caller.call(request, lambda response: adapter.decode(kind, deliveries, response))
    return list(answer.value)


async def drain_with_outbox(
    outbox: Any, adapter: ProvinceAdapter, kind: str, clock: VirtualClock, **options: Any
) -> Any:
    """Run the real dispatcher over ``kind`` until nothing is due or scheduled (parked lanes
    do not count); returns its counters."""
    from govlink.sync._dispatcher import Dispatcher

    options.setdefault("concurrency", 1)
    dispatcher = Dispatcher(outbox, adapter, clock=clock, kinds=(kind,), **options)
    return await dispatcher.run(until_empty=True)
