"""The mock province's contract: every semantic rule, on the in-process and the served face."""

from __future__ import annotations

import json
from typing import Any

import pytest
from province_helpers import HALL, Face, event, item, make_face

from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import wire as ref
from govlink.testing import ProvinceConfig


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = ref.CaseEventsBatchResponse.model_validate_json(response.content)
    return [r.model_dump(exclude_none=True, mode="json") for r in body.results]


# --- token endpoint ---------------------------------------------------------------------------


def test_token_by_basic_and_by_form(face: Face) -> None:
    basic = face.http.post(
        ref.TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": "events"},
        auth=(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET),
    )
    token = ref.TokenResponse.model_validate_json(basic.content)
    assert (token.token_type, token.expires_in, token.scope) == ("Bearer", 3600, "events")
    form = face.http.post(
        ref.TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": ref.DEMO_CLIENT_ID,
            "client_secret": ref.DEMO_CLIENT_SECRET,
        },
    )
    assert form.status_code == 200
    assert form.json()["access_token"] != token.access_token
    assert form.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("govlink-demo", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", "x"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, ("govlink-demo", "govlink-demo-secret"), 400,
         "unsupported_grant_type"),
    ],
)  # fmt: skip
def test_token_refusals(
    face: Face, data: dict[str, str], auth: tuple[str, str] | None, status: int, error: str
) -> None:
    if auth is None:
        response = face.http.post(ref.TOKEN_PATH, data=data)
    else:
        response = face.http.post(ref.TOKEN_PATH, data=data, auth=auth)
    assert response.status_code == status
    assert ref.OAuthError.model_validate_json(response.content).error == error


def test_missing_unknown_and_expired_tokens_are_401(face: Face) -> None:
    missing = face.push_events([event()], {})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    unknown = face.push_events([event()], {"authorization": "Bearer nope"})
    assert unknown.status_code == 401
    headers = face.authed()
    assert face.push_events([event()], headers).status_code == 200
    face.clock.advance(3600)  # the token's lifetime, on the mock's clock
    expired = face.push_events([event("C2")], headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    assert face.province.journal.entries[-1].status == 401


# --- case events ------------------------------------------------------------------------------


def test_events_applied_in_order_within_a_batch(face: Face) -> None:
    headers = face.authed()
    got = results(face.push_events([event("C1", s) for s in (1, 2, 3, 4)], headers))
    assert [r["status"] for r in got] == ["applied"] * 4
    assert got[0]["idempotency_key"] == f"{HALL}:case:C1:1"
    case = face.http.get(ref.case_path("C1"), headers=headers)
    assert ref.CaseState.model_validate_json(case.content).model_dump() == {
        "case_number": "C1",
        "status": 11,  # 办结（通过）
        "last_sequence": 4,
        "events_applied": 4,
    }
    face.province.journal.assert_each_event_applied_once_in_order(
        [event("C1", s) for s in (1, 2, 3, 4)]
    )


def test_bad_field_is_refused_per_element_without_failing_the_batch(face: Face) -> None:
    headers = face.authed()
    bad_time = event("C2", 1, time="2026-03-02T09:00:00")  # no zone
    bad_hall = event("C3", 1, hall="370501")  # 市辖区 hosts no hall
    got = results(face.push_events([event("C1", 1), bad_time, bad_hall, event("C4", 1)], headers))
    assert [r["status"] for r in got] == ["applied", "rejected", "rejected", "applied"]
    assert (got[1]["problems"][0]["field"], got[1]["problems"][0]["rule"]) == (
        "time",
        "timezone_aware",
    )
    assert (got[2]["problems"][0]["field"], got[2]["problems"][0]["rule"]) == ("hall", "not_a_hall")
    assert face.province.journal.entries[-1].outcomes == "ARRA"


def test_special_procedure_rule_comes_from_the_domain(face: Face) -> None:
    headers = face.authed()
    face.push_events([event("C1", 1), event("C1", 2)], headers)
    got = results(face.push_events([event("C1", 3, "special_procedure_start")], headers))
    assert got[0]["status"] == "rejected"
    assert got[0]["problems"][0] == {
        "field": "special_procedure",
        "rule": "special_procedure_required",
        "message": got[0]["problems"][0]["message"],
    }


def test_duplicates_by_idempotency_key_for_as_long_as_the_mock_runs(face: Face) -> None:
    headers = face.authed()
    results(face.push_events([event("C1", 1), event("C1", 2)], headers))
    face.clock.advance(86_400 * 30)
    headers = face.authed()
    got = results(face.push_events([event("C1", 1), event("C1", 2), event("C1", 3)], headers))
    assert [r["status"] for r in got] == ["duplicate", "duplicate", "applied"]
    face.province.journal.assert_no_duplicate_applied()


def test_explicit_idempotency_key_and_its_reuse(face: Face) -> None:
    headers = face.authed()
    got = results(
        face.push_events(
            [
                event("C1", 1, idempotency_key="outbox-1"),
                event("C1", 1, idempotency_key="outbox-1"),
                event("C2", 1, idempotency_key="outbox-1"),
                event("C3", 1, idempotency_key=""),
            ],
            headers,
        )
    )
    assert [r["status"] for r in got] == ["applied", "duplicate", "rejected", "rejected"]
    assert got[2]["problems"][0]["rule"] == "idempotency_key_reused"
    assert got[3]["problems"][0]["field"] == "idempotency_key"


def test_gaps_and_repeats_answer_the_expected_sequence(face: Face) -> None:
    headers = face.authed()
    got = results(face.push_events([event("C1", 1), event("C1", 3), event("C2", 2)], headers))
    assert [(r["status"], r.get("expected_sequence")) for r in got] == [
        ("applied", None),
        ("out_of_order", 2),
        ("out_of_order", 1),
    ]
    assert got[1]["problems"][0]["rule"] == "sequence_gap"
    conflicting = event("C1", 1, status="received", handler="李四", idempotency_key="other")
    repeat = results(face.push_events([conflicting], headers))[0]
    assert (repeat["status"], repeat["expected_sequence"]) == ("out_of_order", 2)
    assert repeat["problems"][0]["rule"] == "sequence_repeat"


def test_illegal_transitions_are_refused_with_the_current_status(face: Face) -> None:
    headers = face.authed()
    got = results(
        face.push_events(
            [event("C1", 1), event("C1", 2, "processing"), event("C2", 1, "accepted")], headers
        )
    )
    assert [(r["status"], r.get("current_status")) for r in got] == [
        ("applied", None),
        ("illegal_transition", 1),
        ("illegal_transition", None),
    ]
    assert got[1]["problems"][0]["rule"] == "processing_before_acceptance"
    assert got[2]["problems"][0]["rule"] == "before_receipt"


def test_batch_size_limit_is_413(face: Face) -> None:
    headers = face.authed()
    too_many = [event(f"C{i}", 1) for i in range(ref.MAX_EVENT_BATCH + 1)]
    response = face.push_events(too_many, headers)
    assert response.status_code == 413
    error = ref.ErrorResponse.model_validate_json(response.content).error
    assert (error.code, error.limit) == (ref.ErrorCode.BATCH_TOO_LARGE, ref.MAX_EVENT_BATCH)
    assert face.province.state()["events_applied"] == 0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"events": []}', b'{"events": {}}', b'{"events": [], "x": 1}', b"[]"],
)
def test_malformed_envelopes_are_400(face: Face, body: bytes) -> None:
    response = face.http.post(
        ref.CASE_EVENTS_BATCH_PATH,
        content=body,
        headers={**face.authed(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert response.json()["error"]["problems"]


def test_quota_gives_429_with_retry_after_on_the_clock() -> None:
    for face in make_face("in-process", ProvinceConfig(rate_limit=2.0, burst=2)):
        headers = face.authed()
        statuses = [face.push_events([event(f"C{i}", 1)], headers).status_code for i in range(3)]
        assert statuses == [200, 200, 429]
        refused = face.push_events([event("C9", 1)], headers)
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["retry_after"] == 1
        face.clock.advance(1)
        assert face.push_events([event("C9", 1)], headers).status_code == 200


@pytest.mark.server
def test_quota_on_the_served_face() -> None:
    for face in make_face("served", ProvinceConfig(rate_limit=1.0, burst=1)):
        headers = face.authed()
        assert face.push_events([event("C1", 1)], headers).status_code == 200
        refused = face.push_events([event("C2", 1)], headers)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")


# --- catalog ----------------------------------------------------------------------------------


def push_items(face: Face, items: list[dict[str, Any]], headers: dict[str, str]) -> list[Any]:
    response = face.http.post(ref.CATALOG_ITEMS_BATCH_PATH, json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return ref.CatalogBatchResponse.model_validate_json(response.content).results


def test_catalog_upsert_results_per_item(face: Face) -> None:
    headers = face.authed()
    inconsistent = item(3, on_site_visits=1, visits_reason="核验原件")  # depth Ⅳ needs 0 visits
    first = push_items(face, [item(1), item(2), inconsistent, {"name": 5}], headers)
    assert [r.status.value for r in first] == ["applied", "applied", "rejected", "rejected"]
    assert first[0].revision == 1
    assert "depth4_no_visits" in {p.rule for p in first[2].problems}
    again = push_items(face, [item(1), item(2, name="食品经营许可（变更）", version=2)], headers)
    assert [(r.status.value, r.revision) for r in again] == [("duplicate", 1), ("applied", 2)]
    stale = push_items(face, [item(2, name="旧名称", version=1)], headers)[0]
    assert (stale.status.value, stale.problems[0].rule) == ("rejected", "stale_version")
    face.province.journal.assert_catalog_equals(
        [item(1), item(2, name="食品经营许可（变更）", version=2)]
    )


def test_catalog_batch_limit(face: Face) -> None:
    response = face.http.post(
        ref.CATALOG_ITEMS_BATCH_PATH,
        json={"items": [item(i) for i in range(ref.MAX_CATALOG_BATCH + 1)]},
        headers=face.authed(),
    )
    assert response.status_code == 413


def test_digest_and_listing_paginate(face: Face) -> None:
    headers = face.authed()
    for start in range(0, 25, 10):
        push_items(face, [item(i) for i in range(start, min(start + 10, 25))], headers)
    seen: list[str] = []
    token: str | None = None
    while True:
        params = {"page_size": "10", **({"page_token": token} if token else {})}
        page = ref.CatalogDigestPage.model_validate_json(
            face.http.get(ref.CATALOG_DIGEST_PATH, params=params, headers=headers).content
        )
        assert page.total == 25
        seen += [e.implementation_code for e in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == sorted(item(i)["implementation_code"] for i in range(25))
    listing = ref.CatalogItemsPage.model_validate_json(
        face.http.get(ref.CATALOG_ITEMS_PATH, params={"page_size": "3"}, headers=headers).content
    )
    assert [i["implementation_code"] for i in listing.items] == seen[:3]
    bad = face.http.get(ref.CATALOG_DIGEST_PATH, params={"page_size": "0"}, headers=headers)
    assert bad.status_code == 400


# --- other endpoints --------------------------------------------------------------------------


def test_unknown_paths_methods_and_cases(face: Face) -> None:
    headers = face.authed()
    assert face.http.get("/v1/nothing", headers=headers).status_code == 404
    assert face.http.get("/elsewhere").status_code == 404
    assert face.http.get(ref.case_path("NOPE"), headers=headers).status_code == 404
    assert face.http.get(ref.CASE_EVENTS_BATCH_PATH, headers=headers).status_code == 405


def test_openapi_is_served(face: Face) -> None:
    document = face.http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert ref.CASE_EVENTS_BATCH_PATH in document["paths"]


def test_admin_endpoints(face: Face) -> None:
    headers = face.authed()
    results(face.push_events([event("C1", 1)], headers))
    state = face.http.get("/admin/state").json()
    assert (state["cases"], state["events_applied"]) == (1, 1)
    journal = face.http.get("/admin/journal", params={"since": "2"}).json()
    assert [e["outcomes"] for e in journal["entries"]] == ["A"]
    plan = face.http.post("/admin/faults", json={"spec": "error500:rate=1", "seed": 3}).json()
    assert (plan["spec"], plan["seed"]) == ("error500", 3)
    assert face.push_events([event("C1", 2)], headers).status_code == 500
    bad = face.http.post("/admin/faults", json={"rules": [{"kind": "meteor"}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["problems"][0]["field"] == "faults[0].kind"
    face.http.post("/admin/faults", json={"rules": []})
    assert face.http.post("/admin/reset").json() == {"reset": True}
    state = face.http.get("/admin/state").json()
    assert (state["cases"], state["events_applied"], state["journal_entries"]) == (0, 0, 0)
    assert face.push_events([event("C1", 1)], headers).status_code == 200  # token survives


# --- gateway ----------------------------------------------------------------------------------


def gateway_post(face: Face, path: str, payload: dict[str, Any], **sign: Any) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    config = sign.pop("config", gw.GatewayConfig())
    headers = gw.signed_headers(
        config, "POST", path, body, timestamp_ms=int(face.clock.time() * 1000), **sign
    )
    return face.http.post(
        path, content=body, headers={**headers, "content-type": "application/json"}
    )


def test_gateway_case_status_push(face: Face) -> None:
    wire_events = [
        gw.encode_event(e) for e in (event("G1", 1), event("G1", 3), event("G2", 1, hall="x"))
    ]
    response = gateway_post(face, gw.CASE_STATUS_PUSH_PATH, {"bjztlb": wire_events})
    assert response.status_code == 200
    envelope = gw.Envelope.model_validate_json(response.content)
    assert envelope.code == gw.DEFAULT_SUCCESS_CODE
    data = gw.BatchResultData.model_validate(envelope.data)
    assert [r.cljg.value for r in data.jg] == ["applied", "out_of_order", "rejected"]
    assert data.jg[1].qwxh == 2
    assert data.jg[2].wtlb[0].zd == "hall"
    assert data.sbs == 2


def test_gateway_catalog_push_and_digest(face: Face) -> None:
    pushed = gateway_post(face, gw.CATALOG_PUSH_PATH, {"sxlb": [gw.encode_item(item(1))]})
    data = gw.BatchResultData.model_validate(gw.Envelope.model_validate_json(pushed.content).data)
    assert data.jg[0].cljg.value == "applied"
    digest = gateway_post(face, gw.CATALOG_DIGEST_PATH, {"mytss": 10})
    records = gw.DigestData.model_validate(gw.Envelope.model_validate_json(digest.content).data)
    assert [r.ssbm for r in records.sxlb] == [item(1)["implementation_code"]]


def test_gateway_refuses_bad_signatures_replays_and_skew(face: Face) -> None:
    payload = {"bjztlb": [gw.encode_event(event("G1", 1))]}
    wrong = gateway_post(
        face, gw.CASE_STATUS_PUSH_PATH, payload, config=gw.GatewayConfig(app_secret="x")
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == gw.GatewayCode.BAD_SIGNATURE.value
    first = gateway_post(face, gw.CASE_STATUS_PUSH_PATH, payload, nonce="n" * 16)
    assert first.status_code == 200
    replay = gateway_post(face, gw.CASE_STATUS_PUSH_PATH, payload, nonce="n" * 16)
    assert replay.json()["code"] == gw.GatewayCode.NONCE_REPLAYED.value
    body = json.dumps(payload).encode()
    old = gw.signed_headers(
        gw.GatewayConfig(), "POST", gw.CASE_STATUS_PUSH_PATH, body,
        timestamp_ms=int((face.clock.time() - 600) * 1000),
    )  # fmt: skip
    skewed = face.http.post(gw.CASE_STATUS_PUSH_PATH, content=body, headers=old)
    assert skewed.json()["code"] == gw.GatewayCode.TIMESTAMP_SKEW.value


def test_gateway_sm4_encrypted_handler() -> None:
    key = "0123456789abcdef0123456789abcdef"
    app = gw.GatewayConfig(sm4_key=key, sign_method=gw.SignMethod.HMAC_SM3)
    for face in make_face("in-process", ProvinceConfig(gateway_apps={app.app_id: app})):
        payload = {"bjztlb": [gw.encode_event(event("S1", 1), app)]}
        assert payload["bjztlb"][0]["blr"] != "张三"
        ok = gateway_post(face, gw.CASE_STATUS_PUSH_PATH, payload, config=app)
        assert gw.BatchResultData.model_validate(ok.json()["data"]).jg[0].cljg.value == "applied"
        plain = {"bjztlb": [gw.encode_event(event("S2", 1))]}
        refused = gateway_post(face, gw.CASE_STATUS_PUSH_PATH, plain, config=app)
        result = gw.BatchResultData.model_validate(refused.json()["data"]).jg[0]
        assert (result.cljg.value, result.wtlb[0].zd, result.wtlb[0].gz) == (
            "rejected",
            "handler",
            "sm4_decrypt",
        )
