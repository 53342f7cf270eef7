"""Shared pieces for the mock province tests: payload factories and the faces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from govlink import VirtualClock
from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.domain import credit_code_check_character, organisation_code_check_character
from govlink.testing import MockProvince, ProvinceConfig, served_mock

HALL = "370502"


def _credit_code(body: str = "MA3C4D5E") -> str:
    first = "11370500" + body + organisation_code_check_character(body)
    return first + credit_code_check_character(first)


DEPT = _credit_code()

STORY = ["received", "accepted", "processing", "approved"]


def event(
    case: str = "C1", sequence: int = 1, status: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A valid case status event (status defaults to the story's step for ``sequence``)."""
    data: dict[str, Any] = {
        "case_number": case,
        "sequence": sequence,
        "status": status or STORY[(sequence - 1) % len(STORY)],
        "time": f"2026-03-02T09:{sequence % 60:02d}:00+08:00",
        "hall": HALL,
        "handler": "张三",
    }
    data.update(extra)
    return data


def case_events(case: str, count: int = 4) -> list[dict[str, Any]]:
    return [event(case, s) for s in range(1, count + 1)]


def item(number: int = 1, **changes: Any) -> dict[str, Any]:
    """A consistent catalog item; ``number`` varies its implementation code."""
    data: dict[str, Any] = {
        "catalog_code": "370500001000",
        "implementation_code": f"{DEPT}4370500{number:06d}",
        "name": "食品经营许可",
        "item_type": "licensing",
        "department": {"credit_code": DEPT, "name": "东营市市场监督管理局"},
        "region_code": "370500",
        "exercise_levels": ["city"],
        "legal_limit": {"amount": 20, "unit": "working_days"},
        "promised_limit": {"amount": 5, "unit": "working_days"},
        "case_kind": "promised",
        "on_site_visits": 0,
        "handling_forms": ["online", "window"],
        "online_depth": 4,
        "unified_login": True,
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "version": 1,
    }
    data.update(changes)
    return data


@dataclass
class Face:
    """One way of reaching the mock: ``http`` is a plain httpx.Client with ``base_url`` set."""

    name: str
    province: MockProvince
    http: httpx.Client
    clock: VirtualClock

    def token(self) -> str:
        response = self.http.post(
            ref.TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET),
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def authed(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token()}"}

    def push_events(self, events: list[dict[str, Any]], headers: dict[str, str]) -> httpx.Response:
        return self.http.post(ref.CASE_EVENTS_BATCH_PATH, json={"events": events}, headers=headers)


def make_face(name: str, config: ProvinceConfig | None = None) -> Iterator[Face]:
    clock = VirtualClock()
    province = MockProvince(clock=clock, config=config)
    if name == "in-process":
        with province.client() as http:
            yield Face(name, province, http, clock)
    else:
        with served_mock(province) as served, served.client(timeout=10) as http:
            yield Face(name, province, http, clock)
