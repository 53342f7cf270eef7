"""The gateway adapter's pure parts: envelope classification, signing headers, configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from govlink import VirtualClock
from govlink.adapters.gateway import GatewayAdapter
from govlink.adapters.gateway import wire as gw
from govlink.sync import (
    CASE_EVENT,
    PlatformError,
    PlatformUnreachable,
)
from govlink.sync.adapter import (
    Delivery,
    Outcome,
    WireResponse,
)

DELIVERY = Delivery("370500", CASE_EVENT, "C1", 1, "370500:case:C1:1", '{"status": "received"}')


def _adapter(**options: Any) -> GatewayAdapter:
    return GatewayAdapter(base_url="http://province.test", clock=VirtualClock(), **options)


def _response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> WireResponse:
    return WireResponse(status, headers or {}, json.dumps(body, ensure_ascii=False).encode())


@pytest.mark.parametrize("code", list(gw.GatewayCode))
def test_every_failure_code_is_classified_like_its_http_status(code: gw.GatewayCode) -> None:
    status = gw.http_status_for(code)
    with pytest.raises(PlatformError) as caught:
        _adapter().decode(CASE_EVENT, [DELIVERY], _response(gw.envelope(code=code.value, msg="x")))
    assert caught.value.status == status
    assert caught.value.retryable is (status in (401, 429) or status >= 500)


def test_a_custom_success_code() -> None:
    adapter = _adapter(success_code="0")
    data = {"jg": [{"xh": 0, "cljg": "applied"}], "sbs": 0}
    (result,) = adapter.decode(CASE_EVENT, [DELIVERY], _response(gw.envelope(data, code="0")))
    assert result.outcome is Outcome.APPLIED
    with pytest.raises(PlatformError):
        adapter.decode(CASE_EVENT, [DELIVERY], _response(gw.envelope(data)))  # "000000" ≠ "0"


def test_retry_after_of_a_429_envelope_is_honoured() -> None:
    body = gw.envelope(code=gw.GatewayCode.RATE_LIMITED.value, msg="限流")
    with pytest.raises(PlatformError) as caught:
        _adapter().decode(CASE_EVENT, [DELIVERY], _response(body, 429, {"retry-after": "9"}))
    assert caught.value.retry_after == 9


@pytest.mark.parametrize("content", [b"", b"[]", b'{"code": "000000", "msg": "ok", "data": 5}'])
def test_unreadable_answers_are_unreachable(content: bytes) -> None:
    with pytest.raises(PlatformUnreachable):
        _adapter().decode(CASE_EVENT, [DELIVERY], WireResponse(200, {}, content))


def test_signing_headers_use_the_clock_and_path_without_query() -> None:
    clock = VirtualClock()
    adapter = GatewayAdapter(base_url="http://p", clock=clock, nonce_factory=lambda: "n" * 16)
    request = adapter.encode_digest_request()
    headers = adapter.signed_headers(request)
    assert headers[gw.HEADER_TIMESTAMP] == str(int(clock.time() * 1000))
    assert headers[gw.HEADER_SIGN_METHOD] == "HMAC-SHA256"
    apps = {gw.DEMO_APP_ID: gw.GatewayConfig()}
    config = gw.verify_signature(
        apps, "POST", gw.CATALOG_DIGEST_PATH, headers, request.content, now=clock.time()
    )
    assert config.app_id == gw.DEMO_APP_ID


def test_unknown_status_cannot_be_encoded() -> None:
    from govlink import ValidationError

    broken = Delivery("370500", CASE_EVENT, "C1", 1, "k", '{"status": "teleported"}')
    with pytest.raises(ValidationError) as caught:
        _adapter().encode(CASE_EVENT, [broken])
    assert (caught.value.field, caught.value.rule) == ("status", "unknown_status")
