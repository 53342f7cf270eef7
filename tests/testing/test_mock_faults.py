"""Fault plans: the grammar, every fault kind on every face, scheduling, determinism."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from province_helpers import Face, case_events, event, make_face

from govlink import ValidationError, VirtualClock
from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.testing import FaultPlan, FaultRule, MockProvince, parse_duration

# --- grammar ----------------------------------------------------------------------------------


def test_spec_round_trips_and_reads_durations() -> None:
    spec = (
        "outage:at=10s,for=4h,retry_after=60;error500:rate=0.05;latency:ms=50;"
        "lost_response:rate=0.01;reset:every=100;malformed_json:rate=0.01;partial:rate=0.05;"
        "dribble:bytes_per_s=512;outage:after=5,count=3,mode=refused,path=/v1/cases"
    )
    plan = FaultPlan.parse(spec, seed=7)
    assert plan.rules[0].at == 10
    assert plan.rules[0].for_ == 4 * 3600
    assert plan.rules[-1].mode.value == "refused"
    assert FaultPlan.parse(plan.to_spec(), seed=7).rules == plan.rules
    assert FaultPlan.from_json(plan.to_json()).rules == plan.rules
    assert FaultPlan.from_json([{"kind": "error500"}]).rules == (FaultRule(kind="error500"),)
    assert not FaultPlan.parse("none")
    assert not FaultPlan.parse("")
    assert [parse_duration(x) for x in ("500ms", "2m", "1d", "3")] == [0.5, 120, 86400, 3]


@pytest.mark.parametrize(
    ("spec", "field", "rule"),
    [
        ("meteor", "faults[0].kind", "enum"),
        ("error500:rate=2", "faults[0].rate", "less_than_equal"),
        ("outage:at=soon", "faults[0].at", "duration"),
        ("latency:speed=3", "faults[0].speed", "unknown_parameter"),
        ("latency;reset:every=0", "faults[1].every", "greater_than"),
    ],
)
def test_bad_specs_name_the_rule_and_parameter(spec: str, field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as info:
        FaultPlan.parse(spec)
    assert (info.value.field, info.value.rule) == (field, rule)


# --- each fault kind --------------------------------------------------------------------------


def test_outage_503_with_and_without_retry_after(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("outage:for=1h,retry_after=60")
    down = face.push_events([event()], headers)
    assert (down.status_code, down.headers["retry-after"]) == (503, "60")
    assert down.json()["error"]["code"] == "unavailable"
    face.province.set_faults("outage")
    assert "retry-after" not in face.push_events([event()], headers).headers
    face.province.set_faults(None)
    assert face.push_events([event()], headers).status_code == 200


def test_outage_window_on_the_virtual_clock(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("outage:at=10s,for=4h")
    assert face.push_events([event("C1", 1)], headers).status_code == 200
    face.clock.advance(10)
    assert face.push_events([event("C1", 2)], headers).status_code == 503
    face.clock.advance(4 * 3600 - 1)
    assert face.push_events([event("C1", 2)], headers).status_code == 503
    face.clock.advance(1)
    headers = face.authed()  # the old token expired during the outage
    assert face.push_events([event("C1", 2)], headers).status_code == 200
    assert face.province.journal.faults() == {"outage:503": 2}


def test_faults_by_request_count_and_path(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("error500:after=1,count=2,path=/v1/cases")
    statuses = [face.push_events([event(f"C{i}", 1)], headers).status_code for i in range(4)]
    assert statuses == [200, 500, 500, 200]
    face.province.set_faults("error500:path=/v1/cases")
    assert face.http.get(ref.CATALOG_DIGEST_PATH, headers=headers).status_code == 200


def test_reset_every_nth_request(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("reset:every=2")
    outcomes: list[int | str] = []
    for i in range(4):
        try:
            outcomes.append(face.push_events([event(f"C{i}", 1)], headers).status_code)
        except httpx.TransportError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == 200
    assert outcomes[2] == 200
    assert all(isinstance(o, str) for o in (outcomes[1], outcomes[3]))
    assert face.province.state()["events_applied"] == 2  # a reset request is not applied


def test_connection_refused(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("outage:mode=refused")
    with pytest.raises(httpx.TransportError) as info:
        face.push_events([event()], headers)
    if face.name == "in-process":
        assert isinstance(info.value, httpx.ConnectError)
    face.province.set_faults(None)
    assert face.push_events([event()], headers).status_code == 200


def test_lost_response_is_applied_then_dropped(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("lost_response")
    with pytest.raises(httpx.TransportError):
        face.push_events(case_events("C1", 2), headers)
    assert face.province.state()["events_applied"] == 2
    entry = face.province.journal.entries[-1]
    assert (entry.status, entry.fault, entry.outcomes) == (0, "lost_response", "AA")
    face.province.set_faults(None)
    retry = face.push_events(case_events("C1", 2), headers).json()["results"]
    assert [r["status"] for r in retry] == ["duplicate", "duplicate"]


def test_malformed_json_is_applied(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("malformed_json")
    response = face.push_events([event()], headers)
    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"."):
        response.json()
    assert face.province.state()["events_applied"] == 1


def test_error500_at_a_rate_is_seeded(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("error500:rate=0.5", seed=11)
    statuses = [face.push_events([event(f"C{i}", 1)], headers).status_code for i in range(40)]
    assert 8 < statuses.count(500) < 32
    assert face.province.state()["events_applied"] == statuses.count(200)


def test_partial_batch_failures_are_retryable_per_element(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("partial:rate=0.5,retry_after=3", seed=5)
    got = face.push_events([event(f"C{i}", 1) for i in range(40)], headers).json()["results"]
    unavailable = [r for r in got if r["status"] == "unavailable"]
    assert 5 < len(unavailable) < 35
    assert all(r["retry_after"] == 3 for r in unavailable)
    assert face.province.state()["events_applied"] == 40 - len(unavailable)
    assert face.province.journal.entries[-1].fault == "partial"
    face.province.set_faults(None)
    again = face.push_events([event(f"C{i}", 1) for i in range(40)], headers).json()["results"]
    assert {r["status"] for r in again} == {"applied", "duplicate"}


def test_latency_passes_on_the_mock_clock(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("latency:ms=1500")
    before = face.clock.time()
    assert face.push_events([event()], headers).status_code == 200
    assert face.clock.time() - before == pytest.approx(1.5)


def test_dribbled_body_arrives_whole(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("dribble:bytes_per_s=2000")
    before = face.clock.time()
    response = face.push_events(case_events("C1", 4), headers)
    assert [r["status"] for r in response.json()["results"]] == ["applied"] * 4
    assert face.clock.time() - before == pytest.approx(len(response.content) / 2000)


@pytest.mark.server
def test_served_dribble_and_latency_really_wait_on_a_system_clock() -> None:
    from govlink import system_clock
    from govlink.testing import served_mock

    province = MockProvince(clock=system_clock, faults="dribble:bytes_per_s=10000;latency:ms=200")
    token = province.issue_token()
    with served_mock(province) as served, served.client() as http:
        started = system_clock.monotonic()
        response = http.post(
            ref.CASE_EVENTS_BATCH_PATH,
            json={"events": [event(f"C{i}", 1) for i in range(40)]},
            headers={"authorization": f"Bearer {token}"},
        )
        elapsed = system_clock.monotonic() - started
    assert len(response.json()["results"]) == 40
    assert elapsed >= 0.2 + len(response.content) / 10000 * 0.8


def test_async_face_breaks_connections_like_the_sync_one(virtual_clock: VirtualClock) -> None:
    province = MockProvince(clock=virtual_clock, faults="lost_response")
    token = province.issue_token()

    async def scenario() -> list[Any]:
        async with province.async_client() as http:
            headers = {"authorization": f"Bearer {token}"}
            try:
                await http.post(
                    ref.CASE_EVENTS_BATCH_PATH, json={"events": [event()]}, headers=headers
                )
            except httpx.RemoteProtocolError as exc:
                lost: Any = exc
            province.set_faults("latency:ms=250")
            ok = await http.post(
                ref.CASE_EVENTS_BATCH_PATH, json={"events": [event()]}, headers=headers
            )
            return [lost, ok.json()["results"][0]["status"]]

    before = virtual_clock.time()
    lost, status = asyncio.run(scenario())
    assert isinstance(lost, httpx.RemoteProtocolError)
    assert status == "duplicate"
    assert virtual_clock.time() - before == pytest.approx(0.25)


# --- determinism ------------------------------------------------------------------------------


def _run(face: Face) -> list[tuple[Any, ...]]:
    headers = face.authed()
    face.province.set_faults(
        "error500:rate=0.2;partial:rate=0.2;lost_response:rate=0.1;latency:ms=100,rate=0.3;"
        "reset:rate=0.05;outage:after=20,count=3,retry_after=1",
        seed=42,
    )
    for case in range(30):
        for attempt in range(3):
            try:
                response = face.push_events(case_events(f"D{case}", 2), headers)
            except httpx.TransportError:
                continue
            if response.status_code == 200 and all(
                r["status"] in ("applied", "duplicate") for r in response.json()["results"]
            ):
                break
            face.clock.advance(attempt + 1)
    return face.province.journal.keys()


@pytest.mark.parametrize("name", ["in-process", pytest.param("served", marks=pytest.mark.server)])
def test_same_plan_seed_and_client_give_the_same_journal(name: str) -> None:
    runs = []
    for _ in range(2):
        for face in make_face(name):
            runs.append(_run(face))
    assert runs[0] == runs[1]
    faults = {key[5] for key in runs[0] if key[5]}
    assert {"error500", "lost_response", "outage:503"} <= faults | {"outage:503"}
    assert len(runs[0]) > 40


def test_a_different_seed_gives_a_different_journal() -> None:
    journals = []
    for seed in (1, 2):
        for face in make_face("in-process"):
            headers = face.authed()
            face.province.set_faults("error500:rate=0.5", seed=seed)
            for i in range(20):
                face.push_events([event(f"C{i}", 1)], headers)
            journals.append(face.province.journal.keys())
    assert journals[0] != journals[1]


def test_outage_mode_reset(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("outage:count=1,mode=reset")
    with pytest.raises(httpx.TransportError):
        face.push_events([event()], headers)
    assert face.province.journal.entries[-1].fault == "outage:reset"
    assert face.push_events([event()], headers).status_code == 200


@pytest.mark.server
def test_served_refusal_closes_new_connections_before_any_request() -> None:
    from govlink.testing import served_mock

    province = MockProvince(clock=VirtualClock(), faults="outage:mode=refused")
    with served_mock(province) as served, served.client() as http:
        with pytest.raises(httpx.TransportError):
            http.get("/v1/cases/C1")
        assert len(province.journal) == 0  # refused at accept time: the core never saw it
        province.set_faults(None)
        assert http.get("/v1/cases/C1").status_code == 401


@pytest.mark.server
def test_served_refusal_window_by_count_closes_after_count_attempts() -> None:
    from govlink.testing import served_mock

    province = MockProvince(clock=VirtualClock(), faults="outage:after=0,count=2,mode=refused")
    with served_mock(province) as served:
        for _ in range(2):
            with served.client() as http, pytest.raises(httpx.TransportError):
                http.get("/v1/cases/C1")
        with served.client() as http:
            assert http.get("/v1/cases/C1").status_code == 401
        assert len(province.journal) == 1  # refused attempts take request numbers, not entries
        assert province.journal.entries[0].index == 3
