"""Hostile and careless requests: a 4xx in the API's own envelope, never a 5xx or a hang.

Bounded work is checked by what it costs (memory traced while the request is answered, and a
client timeout), never by a stopwatch.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tracemalloc
from typing import Any

import pytest
from province_helpers import Face, event, make_face

from govlink import VirtualClock
from govlink._http import httpx
from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import wire as ref
from govlink.testing import MockProvince, ProvinceConfig, served_mock

TINY_BATCH = b'{"events":[' + b",".join([b"{}"] * 7_000_000) + b"]}"  # 21 MB, 7 M elements


def signed_headers(face: Face, path: str, body: bytes) -> dict[str, str]:
    return gw.signed_headers(
        gw.GatewayConfig(), "POST", path, body, timestamp_ms=int(face.clock.time() * 1000)
    )


# --- odd header bytes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (gw.HEADER_TIMESTAMP, "²".encode()),  # a digit to str.isdigit, not to int()
        (gw.HEADER_SIGNATURE, "签名".encode()),
        (gw.HEADER_NONCE, b"\xff" * 20),
        (gw.HEADER_APP_ID, b"\xe9t\xe9"),
    ],
)
def test_odd_signing_header_bytes_are_a_401_in_the_gateway_envelope(
    face: Face, header: str, value: bytes
) -> None:
    body = b'{"mytss": 10}'
    headers: dict[str, Any] = signed_headers(face, gw.CATALOG_DIGEST_PATH, body)
    headers[header] = value
    response = face.http.post(gw.CATALOG_DIGEST_PATH, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == gw.GatewayCode.MISSING_AUTH.value


@pytest.mark.parametrize(
    "authorization",
    [
        b"Basic \xff\xfe\xfd",  # the header itself is not ASCII
        b"Basic " + base64.b64encode(b"\xff\xfe:secret"),  # credentials that are not UTF-8
        b"Basic " + base64.b64encode(ref.DEMO_CLIENT_ID.encode() + ":秘密".encode()),
    ],
)
def test_odd_basic_credentials_are_invalid_client(face: Face, authorization: bytes) -> None:
    response = face.http.post(
        ref.TOKEN_PATH,
        content=b"grant_type=client_credentials",
        headers={
            b"authorization": authorization,
            b"content-type": b"application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 401
    assert ref.OAuthError.model_validate_json(response.content).error == "invalid_client"


@pytest.mark.parametrize(
    "body", [b"\xff\xfe{}", b"[" * 60_000, b"12345", b'"spec"', b"1" * 5000, b"{", b" " * 70_000]
)
def test_admin_faults_refuse_what_is_not_a_plan(face: Face, body: bytes) -> None:
    response = face.http.post("/admin/faults", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert face.province.faults.to_spec() == "none"


# --- the framework's refusals in the JSON envelope ----------------------------------------------
# (Methods the HTTP parser itself knows: uvicorn with httptools refuses an unknown token such
# as "BREW" before any application sees it.)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PURGE", "/v1/cases/events:batch", 405),
        ("TRACE", "/openapi.json", 405),
        ("PROPFIND", "/", 404),
        ("GET", "/%ff%fe", 404),
        ("DELETE", "/admin/state", 404),
        ("OPTIONS", "/openapi/nothing.json", 405),
        ("GET", "/openapi/nothing.json", 404),
    ],
)
def test_unknown_methods_and_paths_answer_json(
    face: Face, method: str, path: str, status: int
) -> None:
    response = face.http.request(method, path, headers=face.authed())
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] in (
        "not_found",
        "method_not_allowed",
        "malformed_request",
    )


def test_gateway_unknown_method_answers_in_its_envelope(face: Face) -> None:
    response = face.http.request("PURGE", gw.CASE_STATUS_PUSH_PATH)
    assert response.status_code == 400
    assert response.json()["code"] == gw.GatewayCode.MALFORMED_REQUEST.value


# --- limits before validation -------------------------------------------------------------------


def _traced_peak(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("path", "member", "limit"),
    [
        (ref.CASE_EVENTS_BATCH_PATH, "events", ref.MAX_EVENT_BATCH),
        (ref.CATALOG_ITEMS_BATCH_PATH, "items", ref.MAX_CATALOG_BATCH),
    ],
)
def test_element_limit_is_enforced_before_validating(path: str, member: str, limit: int) -> None:
    province = MockProvince(clock=VirtualClock(), config=ProvinceConfig(rate_limit=None))
    headers = {"authorization": f"Bearer {province.issue_token()}"}
    # 2 M tiny elements in 6 MB: under the byte limit, so the element limit must catch it.
    body = f'{{"{member}": ['.encode() + b",".join([b"{}"] * 2_000_000) + b"]}"
    response, peak = _traced_peak(lambda: province.core.handle("POST", path, {}, headers, body))
    assert response.status == 413
    error = json.loads(response.body)["error"]
    assert (error["code"], error["limit"]) == ("batch_too_large", limit)
    # Decoding it whole took over 1 GB; read element by element it costs about the body.
    assert peak < 4 * len(body), peak


def test_gateway_element_limit_is_enforced_before_validating() -> None:
    for face in make_face("in-process", ProvinceConfig(rate_limit=None)):
        body = b'{"bjztlb": [' + b",".join([b"[]"] * 2_000_000) + b"]}"
        headers = signed_headers(face, gw.CASE_STATUS_PUSH_PATH, body)
        response, peak = _traced_peak(
            lambda: face.http.post(gw.CASE_STATUS_PUSH_PATH, content=body, headers=headers)  # noqa: B023
        )
        assert (response.status_code, response.json()["code"]) == (413, "200002")
        assert response.json()["data"] == {"limit": gw.MAX_EVENT_BATCH}
        assert peak < 4 * len(body), peak


def test_oversized_body_is_refused_unread(face: Face) -> None:
    headers = face.authed()
    response, peak = _traced_peak(
        lambda: face.http.post(ref.CASE_EVENTS_BATCH_PATH, content=TINY_BATCH, headers=headers)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert "bytes" in response.json()["error"]["message"]
    assert face.province.journal.entries[-1].status == 413
    if face.name == "in-process":
        # Refused by its length: nothing is decoded. (Served, the client's own copies
        # dominate this process; the served test below measures the server alone.)
        assert peak < len(TINY_BATCH) // 2, peak


def test_the_body_limit_is_configurable() -> None:
    config = ProvinceConfig(max_body_bytes=400, rate_limit=None)
    for face in make_face("in-process", config):
        headers = face.authed()
        assert face.push_events([event()], headers).status_code == 200
        big = face.push_events([event(opinion="同意" * 50)], headers)
        assert big.status_code == 413
        assert face.http.post("/admin/faults", content=b" " * 401).status_code == 413
        signed = signed_headers(face, gw.CATALOG_DIGEST_PATH, b" " * 401)
        refused = face.http.post(gw.CATALOG_DIGEST_PATH, content=b" " * 401, headers=signed)
        assert (refused.status_code, refused.json()["code"]) == (413, "200002")


def test_requests_without_a_batch_have_a_small_body_limit(face: Face) -> None:
    # 64 KiB of tiny values would cost megabytes to parse; none of these needs more.
    form = b"grant_type=client_credentials&" + b"a&" * 40_000
    token = face.http.post(ref.TOKEN_PATH, content=form, auth=(ref.DEMO_CLIENT_ID, "x"))
    assert (token.status_code, token.json()["error"]) == (400, "invalid_request")
    body = b'{"ym": [' + b",".join([b"[]"] * 30_000) + b"]}"
    digest = face.http.post(
        gw.CATALOG_DIGEST_PATH,
        content=body,
        headers=signed_headers(face, gw.CATALOG_DIGEST_PATH, body),
    )
    assert (digest.status_code, digest.json()["code"]) == (400, "200001")


def test_deeply_nested_and_huge_numbers_are_malformed(face: Face) -> None:
    headers = {**face.authed(), "content-type": "application/json"}
    for body in (
        b'{"events": [' + b"[" * 100_000 + b"]}",
        b'{"events": [{"sequence": ' + b"9" * 5000 + b"}]}",
        b'{"events": [NaN]}',
        b'{"events": [1]} trailing',
    ):
        response = face.http.post(ref.CASE_EVENTS_BATCH_PATH, content=body, headers=headers)
        assert response.status_code in (200, 400), body[:40]
        if response.status_code == 200:  # a readable envelope: the element is refused alone
            assert response.json()["results"][0]["status"] == "rejected"
        else:
            assert response.json()["error"]["problems"]


# --- the served mock --------------------------------------------------------------------------


@pytest.mark.server
def test_refused_outage_spares_admin_endpoints() -> None:
    province = MockProvince(clock=VirtualClock(), faults="outage:mode=refused")
    with served_mock(province) as served:
        for _ in range(3):  # new connections each time: the refusal point
            with served.client(timeout=10) as http:
                assert http.get("/admin/state").json()["requests"] == 0
                assert http.get("/openapi.json").status_code == 200
        with served.client(timeout=10) as http, pytest.raises(httpx.TransportError):
            http.get(ref.CATALOG_DIGEST_PATH)
        with served.client(timeout=10) as http:
            assert http.get("/admin/state").json()["requests"] == 1
    assert len(province.journal) == 0


def test_refused_outage_spares_admin_endpoints_in_process(face: Face) -> None:
    face.province.set_faults("outage:mode=refused")
    assert face.http.get("/admin/state").status_code == 200
    assert face.http.post("/admin/faults", json={"rules": []}).status_code == 200
    assert face.province.state()["requests"] == 0


def _serve_in_subprocess() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-c", "from govlink.cli import run; run()"]
    command += ["mock-province", "serve", "--port", "0", "--json", "--no-rate-limit"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert process.stdout is not None
    text = ""
    while True:
        line = process.stdout.readline()
        assert line, "the server ended before printing where it listens"
        text += line
        try:
            return process, json.loads(text)
        except json.JSONDecodeError:
            continue


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.server
def test_served_mock_refuses_a_huge_batch_in_bounded_memory_and_stops_on_sigterm() -> None:
    process, served = _serve_in_subprocess()
    try:
        base = served["base_url"]
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(100):  # the socket listens at once; uvicorn may need a moment
                try:
                    http.get("/admin/state")
                    break
                except httpx.TransportError:
                    pass
            before = _peak_rss_kib(process.pid)
            token = http.post(
                ref.TOKEN_PATH,
                data={"grant_type": "client_credentials"},
                auth=(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET),
            ).json()["access_token"]
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            for body in (TINY_BATCH, TINY_BATCH[: 6 * 1024 * 1024 - 2] + b"]}"):
                response = http.post(ref.CASE_EVENTS_BATCH_PATH, content=body, headers=headers)
                assert response.status_code == 413
            # the connection survives the refusals (the unread rest was discarded)
            assert http.get("/admin/state").json()["requests"] == 3
        grown_mib = (_peak_rss_kib(process.pid) - before) / 1024
        assert grown_mib < 64, f"the mock grew by {grown_mib:.0f} MiB"
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
        process.stderr.close()
    assert code == 0, stderr
    assert "Traceback" not in stderr
