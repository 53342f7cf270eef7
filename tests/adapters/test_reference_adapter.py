"""The reference adapter's pure parts: the result mapping table, encoding, answers it refuses."""

from __future__ import annotations

import json

import pytest

from govlink.adapters.reference import ReferenceAdapter
from govlink.adapters.reference import wire as ref
from govlink.sync import (
    CASE_EVENT,
    CATALOG_ITEM,
    PlatformError,
    PlatformUnreachable,
)
from govlink.sync.adapter import (
    Delivery,
    ElementAnswer,
    Outcome,
    WireResponse,
    element_result,
)

DELIVERY = Delivery("370500", CASE_EVENT, "C1", 2, "370500:case:C1:2", '{"sequence": 2}')


def _adapter() -> ReferenceAdapter:
    return ReferenceAdapter(base_url="http://province.test/")


@pytest.mark.parametrize(
    ("status", "blocked", "outcome", "code"),
    [
        (ref.ResultStatus.APPLIED, False, Outcome.APPLIED, None),
        (ref.ResultStatus.DUPLICATE, False, Outcome.DUPLICATE, "duplicate"),
        (ref.ResultStatus.REJECTED, False, Outcome.REJECTED, "promised_le_legal"),
        (ref.ResultStatus.ILLEGAL_TRANSITION, False, Outcome.REJECTED, "illegal_transition"),
        (ref.ResultStatus.OUT_OF_ORDER, False, Outcome.REJECTED, "out_of_order"),
        (ref.ResultStatus.OUT_OF_ORDER, True, Outcome.RETRY, "out_of_order"),
        (ref.ResultStatus.UNAVAILABLE, False, Outcome.RETRY, "unavailable"),
    ],
)
def test_every_wire_status_maps_to_an_outcome(
    status: ref.ResultStatus, blocked: bool, outcome: Outcome, code: str | None
) -> None:
    problems = [("promised_limit", "promised_le_legal", "too long")]
    result = element_result(
        DELIVERY,
        ElementAnswer(status, problems, expected_sequence=1, retry_after=3),
        lane_blocked=blocked,
    )
    assert (result.outcome, result.code) == (outcome, code)
    assert result.idempotency_key == DELIVERY.idempotency_key


def test_every_wire_status_is_covered() -> None:
    for status in ref.ResultStatus:
        assert (
            element_result(DELIVERY, ElementAnswer(status)).outcome.acknowledged
            is status.acknowledged
        )


def test_platform_messages_are_masked() -> None:
    problems = [("handler", "format", "370502199001011234 is not a name")]
    result = element_result(DELIVERY, ElementAnswer(ref.ResultStatus.REJECTED, problems))
    assert "370502199001011234" not in result.message


def test_encode_splices_the_key_into_an_empty_object() -> None:
    empty = Delivery("370500", CASE_EVENT, "C1", 1, 'k"1', "{ }")
    body = json.loads(_adapter().encode(CASE_EVENT, [empty]).content)
    assert body == {"events": [{"idempotency_key": 'k"1'}]}


def test_encode_refuses_empty_batches_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _adapter().encode(CASE_EVENT, [])
    with pytest.raises(ValueError, match="not 'x'"):
        _adapter().encode("x", [DELIVERY])


def test_catalog_payload_must_be_an_object() -> None:
    broken = Delivery("370500", CATALOG_ITEM, "X", 1, "k", "[]")
    from govlink import ValidationError

    with pytest.raises(ValidationError):
        _adapter().encode(CATALOG_ITEM, [broken])


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (413, {"error": {"code": "batch_too_large", "message": "too many", "limit": 500}}, False),
        (429, {"error": {"code": "rate_limited", "message": "slow down", "retry_after": 2}}, True),
        (500, b"<html>oops</html>", True),
    ],
)
def test_request_failures_are_classified(status: int, body: object, retryable: bool) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"retry-after": "2"} if status == 429 else {}
    with pytest.raises(PlatformError) as caught:
        _adapter().decode(CASE_EVENT, [DELIVERY], WireResponse(status, headers, content))
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    if status == 429:
        assert caught.value.retry_after == 2


@pytest.mark.parametrize("content", [b"", b"{}", b'{"results": "no"}', b"[1]"])
def test_unreadable_2xx_answers_are_unreachable(content: bytes) -> None:
    with pytest.raises(PlatformUnreachable) as caught:
        _adapter().decode(CASE_EVENT, [DELIVERY], WireResponse(200, {}, content))
    assert caught.value.reason == "malformed_response"
    with pytest.raises(PlatformUnreachable):
        _adapter().decode_digest_page(WireResponse(200, {}, content))


def test_digest_request_pages() -> None:
    adapter = ReferenceAdapter(base_url="http://p", page_size=50)
    assert adapter.encode_digest_request().path == f"{ref.CATALOG_DIGEST_PATH}?page_size=50"
    second = adapter.encode_digest_request("abc")
    assert second.path.endswith("page_token=abc")
    page = adapter.decode_digest_page(
        WireResponse(
            200,
            {},
            json.dumps(
                {
                    "items": [
                        {
                            "implementation_code": "A",
                            "content_hash": "h",
                            "version": "3",
                            "revision": 1,
                        },
                        {
                            "implementation_code": "B",
                            "content_hash": "g",
                            "version": None,
                            "revision": 2,
                        },
                    ],
                    "next_page_token": None,
                    "total": 2,
                }
            ).encode(),
        )
    )
    assert [(e.implementation_code, e.version) for e in page.entries] == [("A", 3), ("B", 0)]
    assert page.next_page_token is None


@pytest.mark.parametrize(
    ("token_answer", "error"),
    [
        (b'{"error": "invalid_client"}', PlatformError),
        (b'{"token_type": "Bearer", "expires_in": 60}', PlatformUnreachable),
        (b"not json", PlatformUnreachable),
    ],
)
def test_unusable_token_answers_are_platform_errors(
    token_answer: bytes, error: type[Exception]
) -> None:
    import asyncio

    from govlink._http import httpx
    from govlink.sync import PlatformAuthError

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == ref.TOKEN_PATH:
            return httpx.Response(200, content=token_answer)
        return httpx.Response(200, json={"results": []})

    adapter = ReferenceAdapter(base_url="http://p", transport=httpx.MockTransport(answer))
    request = adapter.encode(CASE_EVENT, [DELIVERY])

    async def go() -> None:
        try:
            await adapter.send(request)
        finally:
            await adapter.aclose()

    with pytest.raises(error) as caught:
        asyncio.run(go())
    if error is PlatformError:
        # Refused credentials end a run (exit 2) with what to fix, never a silent loop.
        assert isinstance(caught.value, PlatformAuthError)
        assert caught.value.fix is not None
        assert "GOVLINK_REFERENCE_CLIENT_SECRET" in caught.value.fix
