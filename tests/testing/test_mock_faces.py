"""The in-process faces (sync transport, ASGI, respx) and the pytest fixtures."""

from __future__ import annotations

import asyncio

import pytest
import respx
from province_helpers import event

from govlink import VirtualClock
from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.testing import DEFAULT_BASE_URL, MockProvince, ServedProvince


def test_respx_router_fixture_routes_any_client(
    mock_province: MockProvince, mock_province_router: respx.MockRouter
) -> None:
    with httpx.Client(base_url=DEFAULT_BASE_URL) as http:  # a plain client: respx intercepts it
        token = http.post(
            ref.TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET),
        ).json()["access_token"]
        response = http.post(
            ref.CASE_EVENTS_BATCH_PATH,
            json={"events": [event()]},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.json()["results"][0]["status"] == "applied"
    assert mock_province_router.calls.call_count == 2
    assert mock_province.state()["events_applied"] == 1


def test_respx_route_raises_transport_errors_for_async_clients(
    mock_province: MockProvince, mock_province_router: respx.MockRouter
) -> None:
    mock_province.set_faults("reset")

    async def call() -> None:
        async with httpx.AsyncClient(base_url=DEFAULT_BASE_URL) as http:
            await http.get(ref.CATALOG_DIGEST_PATH)

    with pytest.raises(httpx.ReadError):
        asyncio.run(call())


def test_asgi_face_shares_the_state(mock_province: MockProvince) -> None:
    token = mock_province.issue_token()

    async def call() -> list[str]:
        async with mock_province.async_client() as http:
            headers = {"authorization": f"Bearer {token}"}
            first = await http.post(
                ref.CASE_EVENTS_BATCH_PATH, json={"events": [event()]}, headers=headers
            )
            return [first.json()["results"][0]["status"]]

    assert asyncio.run(call()) == ["applied"]
    with mock_province.client() as http:
        again = http.post(
            ref.CASE_EVENTS_BATCH_PATH,
            json={"events": [event()]},
            headers={"authorization": f"Bearer {token}"},
        )
    assert again.json()["results"][0]["status"] == "duplicate"


def test_virtual_clock_fixture_drives_the_province(
    virtual_clock: VirtualClock, mock_province: MockProvince
) -> None:
    assert mock_province.clock is virtual_clock
    assert mock_province.state()["clock"] == virtual_clock.now().isoformat()


@pytest.mark.server
def test_served_fixture(served_province: ServedProvince) -> None:
    with served_province.client() as http:
        assert http.get("/admin/state").json()["events_applied"] == 0
    assert served_province.base_url.startswith("http://127.0.0.1:")


def test_repr_hides_secrets() -> None:
    province = MockProvince()
    assert ref.DEMO_CLIENT_SECRET not in repr(province.config)
    assert "faults='none'" in repr(province)


def test_respx_dribble_and_latency_for_async_clients(
    mock_province: MockProvince, mock_province_router: respx.MockRouter
) -> None:
    token = mock_province.issue_token()
    mock_province.set_faults("dribble:bytes_per_s=1000;latency:ms=500")
    before = mock_province.clock.time()

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(base_url=DEFAULT_BASE_URL) as http:
            return await http.post(
                ref.CASE_EVENTS_BATCH_PATH,
                json={"events": [event()]},
                headers={"authorization": f"Bearer {token}"},
            )

    response = asyncio.run(call())
    assert response.json()["results"][0]["status"] == "applied"
    waited = mock_province.clock.time() - before
    assert waited == pytest.approx(0.5 + len(response.content) / 1000)
