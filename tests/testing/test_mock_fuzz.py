"""Property-based: whatever arrives — random bytes, random JSON, random headers, signed or not —
the mock province answers with a status below 500, in JSON.

Run against the pure core (no HTTP), so hypothesis can try hundreds of requests per test.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govlink import VirtualClock
from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import wire as ref
from govlink.testing import MockProvince, ProvinceConfig

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLOCK = VirtualClock()
PROVINCE = MockProvince(clock=CLOCK, config=ProvinceConfig(rate_limit=None))
TOKEN = PROVINCE.issue_token()

PATHS = [
    ref.TOKEN_PATH,
    ref.CASE_EVENTS_BATCH_PATH,
    ref.CATALOG_ITEMS_BATCH_PATH,
    ref.CATALOG_DIGEST_PATH,
    ref.CATALOG_ITEMS_PATH,
    "/v1/cases/C1",
    gw.CASE_STATUS_PUSH_PATH,
    gw.CATALOG_PUSH_PATH,
    gw.CATALOG_DIGEST_PATH,
    "/admin/faults",
    "/admin/journal",
    "/openapi.json",
    "/",
]
EVENT_KEYS = ["idempotency_key", "case_number", "sequence", "status", "time", "hall", "handler",
              "opinion", "special_procedure"]  # fmt: skip
WIRE_EVENT_KEYS = list(gw.EVENT_FIELDS.values())
WIRE_ITEM_KEYS = list(gw.ITEM_FIELDS.values())

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON values whose objects mostly use ``keys`` (so parsers get past the first check)."""
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=6)
        ),
        max_leaves=20,
    )


def envelope(member: str, keys: list[str]) -> st.SearchStrategy[bytes]:
    elements = st.lists(json_values(keys), max_size=5)
    return st.builds(lambda e: json.dumps({member: e}).encode(), elements)


bodies = st.one_of(
    st.binary(max_size=200),
    json_values(EVENT_KEYS).map(lambda v: json.dumps(v).encode()),
    envelope("events", EVENT_KEYS),
    envelope("items", WIRE_ITEM_KEYS),
    envelope("bjztlb", WIRE_EVENT_KEYS),
    envelope("sxlb", WIRE_ITEM_KEYS),
    st.text(max_size=100).map(lambda t: t.encode("utf-8")),
)
header_values = st.text(max_size=40) | st.sampled_from(["Bearer " + TOKEN, "Basic !!", "²"])
headers = st.dictionaries(
    st.sampled_from(
        ["authorization", "x-app-id", "x-timestamp", "x-nonce", "x-signature", "x-sign-method"]
    ),
    header_values,
)
queries = st.dictionaries(st.sampled_from(["page_size", "page_token", "since", "limit"]),
                          st.text(max_size=12))  # fmt: skip


def check(response: Any) -> None:
    assert 0 < response.status < 500, (response.status, response.body[:300])
    json.loads(response.body)


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "BREW"]),
    path=st.sampled_from(PATHS) | st.text(max_size=20).map(lambda t: "/" + t),
    query=queries,
    request_headers=headers,
    body=bodies,
)
def test_any_request_gets_a_json_answer_below_500(
    method: str, path: str, query: dict[str, str], request_headers: dict[str, str], body: bytes
) -> None:
    check(PROVINCE.core.handle(method, path, query, request_headers, body))
    PROVINCE.set_faults(None)  # a random /admin/faults body may have installed a plan


@SETTINGS
@given(body=bodies, path=st.sampled_from(PATHS[:6]))
def test_authenticated_reference_bodies(body: bytes, path: str) -> None:
    method = "GET" if path in (ref.CATALOG_DIGEST_PATH, ref.CATALOG_ITEMS_PATH) else "POST"
    check(PROVINCE.core.handle(method, path, {}, {"authorization": f"Bearer {TOKEN}"}, body))


@SETTINGS
@given(
    body=bodies | envelope("bjztlb", WIRE_EVENT_KEYS) | envelope("sxlb", WIRE_ITEM_KEYS),
    path=st.sampled_from([gw.CASE_STATUS_PUSH_PATH, gw.CATALOG_PUSH_PATH, gw.CATALOG_DIGEST_PATH]),
)
def test_signed_gateway_bodies(body: bytes, path: str) -> None:
    signed = gw.signed_headers(
        gw.GatewayConfig(), "POST", path, body, timestamp_ms=int(CLOCK.time() * 1000)
    )
    lowered = {name.lower(): value for name, value in signed.items()}
    check(PROVINCE.core.handle("POST", path, {}, lowered, body))


@SETTINGS
@given(form=st.binary(max_size=120) | st.dictionaries(st.text(max_size=12),
                                                       st.text(max_size=12)).map(
    lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()),
       authorization=st.text(max_size=60) | st.binary(max_size=40).map(
           lambda b: "Basic " + b.decode("latin-1")))  # fmt: skip
def test_token_endpoint_forms_and_credentials(form: bytes, authorization: str) -> None:
    response = PROVINCE.core.handle(
        "POST", ref.TOKEN_PATH, {}, {"authorization": authorization}, form
    )
    check(response)
    assert response.status in (200, 400, 401)
