"""The OpenAPI documents of both APIs: committed, served, and fuzzed with schemathesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from govlink import VirtualClock
from govlink.adapters.gateway import wire as gw
from govlink.testing import (
    MockProvince,
    ProvinceConfig,
    openapi_documents,
    render_gateway_openapi,
    render_reference_openapi,
)

COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi-reference.json"


def test_committed_document_matches_the_wire_models() -> None:
    # Regenerate with: govlink mock-province openapi > schemas/openapi-reference.json
    assert COMMITTED.read_text(encoding="utf-8") == render_reference_openapi()


# A quota-free province: schemathesis sends hundreds of requests without a clock moving.
PROVINCE = MockProvince(config=ProvinceConfig(rate_limit=None))
TOKEN = PROVINCE.issue_token()
schema = schemathesis.openapi.from_asgi("/openapi.json", PROVINCE.app)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_schemathesis_finds_no_server_error(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(
        headers={"authorization": f"Bearer {TOKEN}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


# --- the gateway API --------------------------------------------------------------------------

GATEWAY_COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi-gateway.json"


def test_committed_gateway_document_matches_the_wire_models() -> None:
    # Regenerate with: govlink schemas export (or govlink mock-province openapi --api gateway)
    assert GATEWAY_COMMITTED.read_text(encoding="utf-8") == render_gateway_openapi()
    assert openapi_documents() == {
        "reference": render_reference_openapi(),
        "gateway": render_gateway_openapi(),
    }


def test_each_face_serves_its_document() -> None:
    with MockProvince().client() as http:
        gateway = http.get("/openapi/gateway.json").json()
        assert gw.CASE_STATUS_PUSH_PATH in gateway["paths"]
        assert http.get("/openapi/reference.json").json() == http.get("/openapi.json").json()


def _signing(app: Any, clock: VirtualClock) -> Any:
    """The app behind a client that signs every request as the demo app (test-only)."""
    names = {h.lower().encode() for h in (gw.HEADER_TIMESTAMP, gw.HEADER_NONCE,
             gw.HEADER_SIGNATURE, gw.HEADER_SIGN_METHOD, gw.HEADER_APP_ID)}  # fmt: skip

    async def signed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/gw/"):
            await app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = gw.signed_headers(
            gw.GatewayConfig(), scope["method"], scope["path"], body,
            timestamp_ms=int(clock.time() * 1000),
        )  # fmt: skip
        raw = [(k, v) for k, v in scope["headers"] if k.lower() not in names]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app({**scope, "headers": raw}, replay, send)

    return signed


GATEWAY_CLOCK = VirtualClock()
GATEWAY_PROVINCE = MockProvince(clock=GATEWAY_CLOCK, config=ProvinceConfig(rate_limit=None))
gateway_schema = schemathesis.openapi.from_asgi(
    "/openapi/gateway.json", _signing(GATEWAY_PROVINCE.app, GATEWAY_CLOCK)
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@gateway_schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_schemathesis_finds_no_server_error_at_the_gateway(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
