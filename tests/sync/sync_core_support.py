"""Helpers for the sync core tests (no tests here): sample events, outboxes, the real adapter."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import timedelta
from functools import cache
from typing import Any

from govlink import Clock, VirtualClock
from govlink._http import httpx
from govlink.samples import generate_cases, iter_events, load_sample_catalog
from govlink.store import Store
from govlink.sync import CASE_EVENT, NewEntry, Outbox, ProvinceAdapter, load_adapter
from govlink.testing import MockProvince


@cache
def _sample(cases: int, seed: int) -> tuple[dict[str, Any], ...]:
    catalog = load_sample_catalog()
    generated = itertools.islice(generate_cases(catalog.items, cases=cases, seed=seed), cases)
    return tuple(iter_events(list(generated), order="time"))


def sample_events(cases: int = 200, seed: int = 11) -> list[dict[str, Any]]:
    """Valid case status events (JSON dicts) of ``cases`` generated cases, in time order."""
    return [dict(e) for e in _sample(cases, seed)]


def as_entries(events: Iterable[dict[str, Any]]) -> list[NewEntry]:
    return [
        NewEntry(
            e["hall"],
            CASE_EVENT,
            e["case_number"],
            e["sequence"],
            json.dumps(e, ensure_ascii=False, separators=(",", ":")),
        )
        for e in events
    ]


def make_event(
    case: str, sequence: int, status: str, clock: Clock, hall: str = "370500", **extra: Any
) -> dict[str, Any]:
    when = clock.now() + timedelta(minutes=sequence)
    return {
        "case_number": case,
        "sequence": sequence,
        "status": status,
        "time": when.isoformat(),
        "hall": hall,
        **extra,
    }


def reference_adapter(province: MockProvince, clock: Clock) -> ProvinceAdapter:
    """The real reference adapter, reaching ``province`` in-process (ASGI transport)."""
    return load_adapter(
        "reference",
        base_url=province.base_url,
        clock=clock,
        transport=httpx.ASGITransport(app=province.app),
    )


def new_outbox(store: Store, clock: VirtualClock | None = None, **options: Any) -> Outbox:
    return Outbox(store, clock=clock or VirtualClock(), **options)
