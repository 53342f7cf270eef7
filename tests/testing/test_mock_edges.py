"""Edges: gateway failures in the envelope, catalog partial failures, admin misuse."""

from __future__ import annotations

import json
from typing import Any

from province_helpers import Face, event, item, make_face

from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import wire as ref
from govlink.testing import ProvinceConfig


def signed(face: Face, path: str, body: bytes) -> Any:
    headers = gw.signed_headers(
        gw.GatewayConfig(), "POST", path, body, timestamp_ms=int(face.clock.time() * 1000)
    )
    return face.http.post(path, content=body, headers=headers)


def test_gateway_request_failures_use_the_envelope(face: Face) -> None:
    malformed = signed(face, gw.CASE_STATUS_PUSH_PATH, b'{"events": []}')
    assert malformed.status_code == 400
    assert malformed.json()["code"] == gw.GatewayCode.MALFORMED_REQUEST.value
    assert malformed.json()["data"]["wtlb"]
    too_many = {"bjztlb": [gw.encode_event(event(f"C{i}")) for i in range(gw.MAX_EVENT_BATCH + 1)]}
    big = signed(face, gw.CASE_STATUS_PUSH_PATH, json.dumps(too_many).encode())
    assert (big.status_code, big.json()["code"]) == (413, gw.GatewayCode.BATCH_TOO_LARGE.value)
    face.province.set_faults("outage:retry_after=5")
    down = signed(face, gw.CASE_STATUS_PUSH_PATH, b"{}")
    assert (down.status_code, down.headers["retry-after"]) == (503, "5")
    assert gw.Envelope.model_validate_json(down.content).code == gw.GatewayCode.UNAVAILABLE.value
    face.province.set_faults("error500")
    assert signed(face, gw.CATALOG_PUSH_PATH, b"{}").json()["code"] == "500001"
    face.province.set_faults(None)
    assert signed(face, "/gw/v1/unknown", b"{}").status_code == 400
    assert face.http.get(gw.CATALOG_DIGEST_PATH).status_code == 400


def test_gateway_quota() -> None:
    for face in make_face("in-process", ProvinceConfig(rate_limit=1.0, burst=1)):
        assert signed(face, gw.CATALOG_DIGEST_PATH, b"{}").status_code == 200
        refused = signed(face, gw.CATALOG_DIGEST_PATH, b"{}")
        assert (refused.status_code, refused.json()["code"]) == (429, "429001")
        assert refused.headers["retry-after"] == "1"


def test_gateway_digest_pages() -> None:
    for face in make_face("in-process"):
        items = [gw.encode_item(item(i)) for i in range(3)]
        signed(face, gw.CATALOG_PUSH_PATH, json.dumps({"sxlb": items}).encode())
        first = signed(face, gw.CATALOG_DIGEST_PATH, b'{"mytss": 2}').json()["data"]
        assert (len(first["sxlb"]), first["zs"]) == (2, 3)
        rest = signed(
            face, gw.CATALOG_DIGEST_PATH, json.dumps({"ym": first["xyym"], "mytss": 2}).encode()
        ).json()["data"]
        assert (len(rest["sxlb"]), rest["xyym"]) == (1, None)
        bad = signed(face, gw.CATALOG_DIGEST_PATH, b'{"ym": "!!"}')
        assert bad.json()["code"] == gw.GatewayCode.MALFORMED_REQUEST.value


def test_only_the_configured_apis_are_served() -> None:
    for face in make_face("in-process", ProvinceConfig(apis=("gateway",))):
        response = face.http.post(ref.TOKEN_PATH, data={"grant_type": "client_credentials"})
        assert response.status_code == 404
        assert signed(face, gw.CATALOG_DIGEST_PATH, b"{}").status_code == 200


def test_partial_failures_on_the_catalog(face: Face) -> None:
    headers = face.authed()
    face.province.set_faults("partial:rate=1,retry_after=7")
    response = face.http.post(
        ref.CATALOG_ITEMS_BATCH_PATH, json={"items": [item(1), item(2)]}, headers=headers
    )
    body = ref.CatalogBatchResponse.model_validate_json(response.content)
    assert [(r.status.value, r.retry_after) for r in body.results] == [("unavailable", 7)] * 2
    assert body.failed == 2
    assert face.province.state()["items"] == 0


def test_admin_misuse(face: Face) -> None:
    assert face.http.get("/admin/nothing").status_code == 404
    assert face.http.get("/admin/journal", params={"since": "x"}).status_code == 400
    assert face.http.post("/admin/faults", content=b"{not json").status_code == 400
    assert face.http.post("/openapi.json").status_code == 405
    assert face.http.get("/admin/catalog").json() == {"items": []}
    assert face.http.get("/admin/faults").json()["spec"] == "none"
