"""The third-party adapter shown in docs/adapters.md, run as written through the real dispatcher.

The code block is read from the guide itself and executed as a module, so the guide's example
cannot drift from the adapter kit: if a kit name it imports disappears or changes shape, this
test fails. The fictional platform is mocked with respx.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sync_core_support import as_entries, make_event, sample_events

from govlink import ConfigError, VirtualClock
from govlink.store import SQLiteStore
from govlink.sync import Dispatcher, Outbox, PlatformAuthError, ProvinceAdapter

GUIDE = Path(__file__).parents[2] / "docs" / "adapters.md"
BASE = "http://hainan.test"
KEY = "k3y"


@pytest.fixture(scope="module")
def example() -> Iterator[types.ModuleType]:
    text = GUIDE.read_text("utf-8")
    found = re.search(r"```python\n(# hainan_govlink/adapter\.py\n.*?)```", text, re.S)
    assert found, "docs/adapters.md lost its third-party adapter example"
    module = types.ModuleType("hainan_govlink_adapter")
    sys.modules[module.__name__] = module  # pydantic resolves annotations through it
    try:
        exec(compile(found.group(1), str(GUIDE), "exec"), module.__dict__)  # noqa: S102 - our own guide
        yield module
    finally:
        del sys.modules[module.__name__]


class HainanPlatform:
    """The fictional platform: API key, per-case sequences, idempotency keys, one 503 first."""

    def __init__(self) -> None:
        self.expected: dict[str, int] = {}
        self.applied: list[dict[str, Any]] = []
        self.keys: set[str] = set()
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.headers.get("x-api-key") != KEY:
            return httpx.Response(401, text="unknown api key")
        if self.requests == 1:
            return httpx.Response(503, headers={"Retry-After": "2"}, text="warming up")
        results = []
        for n, record in enumerate(json.loads(request.content)["records"]):
            event = record["event"]
            case, seq = event["case_number"], event["sequence"]
            expected = self.expected.get(case, 1)
            if record["key"] in self.keys:
                results.append({"n": n, "state": "seen"})
            elif seq != expected:
                results.append({"n": n, "state": "gap", "expected": expected})
            elif case == "POISON":
                results.append({"n": n, "state": "bad", "field": "status", "why": "no"})
            else:
                self.keys.add(record["key"])
                self.expected[case] = seq + 1
                self.applied.append(event)
                results.append({"n": n, "state": "ok"})
        return httpx.Response(200, json={"results": results})


def _drain(outbox: Outbox, adapter: Any, clock: VirtualClock) -> Any:
    async def go() -> Any:
        try:
            return await Dispatcher(outbox, adapter, clock=clock).run(until_empty=True)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def test_the_guides_adapter_delivers_in_order_and_parks_only_poison(
    example: types.ModuleType, sqlite_store: SQLiteStore
) -> None:
    clock = VirtualClock()
    outbox = Outbox(sqlite_store, clock=clock)
    events = sample_events(40)
    poison = [make_event("POISON", 1, "received", clock)]
    outbox.enqueue(as_entries(events + poison))
    platform = HainanPlatform()
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        router.post("/api/status").mock(side_effect=platform)
        adapter = example.HainanAdapter(base_url=BASE, clock=clock, api_key=KEY)
        assert isinstance(adapter, ProvinceAdapter)
        counters = _drain(outbox, adapter, clock)
    by_case: dict[str, list[int]] = {}
    for event in platform.applied:
        by_case.setdefault(event["case_number"], []).append(event["sequence"])
    expected: dict[str, list[int]] = {}
    for event in events:
        expected.setdefault(event["case_number"], []).append(event["sequence"])
    assert by_case == expected  # every event once, each case in order
    assert [p.key for p in outbox.parked()] == ["POISON"]
    assert counters.failed_requests >= 1  # the first 503 was retried, not fatal


def test_the_guides_adapter_stops_on_a_wrong_key_and_names_the_setting(
    example: types.ModuleType, sqlite_store: SQLiteStore
) -> None:
    clock = VirtualClock()
    outbox = Outbox(sqlite_store, clock=clock)
    events = sample_events(5)
    outbox.enqueue(as_entries(events))
    with respx.mock(base_url=BASE) as router:
        router.post("/api/status").mock(side_effect=HainanPlatform())
        adapter = example.HainanAdapter(base_url=BASE, clock=clock, api_key="wrong")
        with pytest.raises(PlatformAuthError, match="GOVLINK_HAINAN_API_KEY"):
            _drain(outbox, adapter, clock)
    assert outbox.status().pending == len(events)


def test_the_guides_adapter_reads_its_settings_and_checks_the_url(
    example: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLINK_HAINAN_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="GOVLINK_HAINAN_TIMEOUT"):
        example.HainanAdapter(base_url=BASE)
    monkeypatch.delenv("GOVLINK_HAINAN_TIMEOUT")
    with pytest.raises(ConfigError, match="GOVLINK_PROVINCE_URL"):
        example.HainanAdapter(base_url="hainan.test")
