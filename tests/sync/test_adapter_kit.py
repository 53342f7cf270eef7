"""The adapter kit's own pieces: the decode loop, the URL check, the httpx error mapping."""

from __future__ import annotations

import asyncio

import pytest

from govlink import ConfigError
from govlink._http import httpx
from govlink.sync import adapter as kit
from govlink.sync.adapter import (
    CASE_EVENT,
    CATALOG_ITEM,
    Delivery,
    ElementAnswer,
    ElementStatus,
    Outcome,
    PlatformRefused,
    PlatformUnreachable,
    check_base_url,
    decode_elements,
    digest_version,
    kind_endpoint,
    transport_errors,
)


def _deliveries(*keys: str) -> list[Delivery]:
    return [
        Delivery("370500", CASE_EVENT, key, n, f"370500:case:{key}:{n}", "{}")
        for n, key in enumerate(keys, start=1)
    ]


def test_decode_elements_orders_fills_gaps_and_unblocks_nothing() -> None:
    deliveries = _deliveries("A", "A", "B", "C")
    results = decode_elements(
        deliveries,
        [
            (3, ElementAnswer(ElementStatus.APPLIED)),
            (0, ElementAnswer(ElementStatus.UNAVAILABLE, retry_after=5)),
            (1, ElementAnswer(ElementStatus.OUT_OF_ORDER, expected_sequence=1)),
            (9, ElementAnswer(ElementStatus.APPLIED)),  # no such element: ignored
        ],
    )
    assert [r.idempotency_key for r in results] == [d.idempotency_key for d in deliveries]
    assert [r.outcome for r in results] == [
        Outcome.RETRY,  # unavailable
        Outcome.RETRY,  # out of order behind its own lane's unacknowledged entry: not poison
        Outcome.RETRY,  # no answer at all
        Outcome.APPLIED,
    ]
    assert (results[0].retry_after, results[1].code, results[2].code) == (
        5,
        "out_of_order",
        "no_result",
    )


def test_out_of_order_alone_is_poison_with_the_expected_sequence() -> None:
    [result] = decode_elements(
        _deliveries("A"), [(0, ElementAnswer(ElementStatus.OUT_OF_ORDER, expected_sequence=4))]
    )
    assert (result.outcome, result.expected_sequence, result.field) == (
        Outcome.REJECTED,
        4,
        "sequence",
    )


def test_the_last_answer_for_an_index_counts() -> None:
    [result] = decode_elements(
        _deliveries("A"),
        [(0, ElementAnswer(ElementStatus.REJECTED)), (0, ElementAnswer(ElementStatus.DUPLICATE))],
    )
    assert result.outcome is Outcome.DUPLICATE


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://p.example/", "http://p.example"),
        (" https://p.example:8443/gw/ ", "https://p.example:8443/gw"),
    ],
)
def test_check_base_url_keeps_good_urls(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "p.example", "ftp://p.example", "http://", "http://p.example:99999", "http://a b"]
)
def test_check_base_url_refuses_the_rest(url: str) -> None:
    with pytest.raises(ConfigError, match="GOVLINK_PROVINCE_URL"):
        check_base_url(url)


@pytest.mark.parametrize(
    ("raised", "expected", "reason"),
    [
        (httpx.ConnectTimeout("slow"), PlatformUnreachable, "timeout"),
        (httpx.ConnectError("refused"), PlatformUnreachable, "transport"),
        (httpx.RemoteProtocolError("broken"), PlatformUnreachable, "transport"),
        (httpx.UnsupportedProtocol("no scheme"), PlatformRefused, "bad_url"),
        (httpx.InvalidURL("bad"), PlatformRefused, "bad_url"),
    ],
)
def test_transport_errors_map_httpx_failures(
    raised: Exception, expected: type[Exception], reason: str
) -> None:
    async def go() -> None:
        with transport_errors("cases"):
            raise raised

    with pytest.raises(expected) as caught:
        asyncio.run(go())
    assert caught.value.reason == reason  # type: ignore[attr-defined]
    assert "cases" in str(caught.value)


def test_kind_endpoint_and_digest_version() -> None:
    assert (kind_endpoint(CATALOG_ITEM), kind_endpoint(CASE_EVENT)) == ("catalog", "cases")
    with pytest.raises(ValueError, match="carries"):
        kind_endpoint("parcel")
    assert [digest_version(v) for v in (3, "12", "١٢", True, None, 2.5)] == [3, 12, 0, 0, 0, 0]


def test_the_kit_exports_what_it_lists_sorted() -> None:
    assert all(hasattr(kit, name) for name in kit.__all__)
    assert kit.__all__ == sorted(kit.__all__, key=lambda n: (not n.isupper(), n))


@pytest.mark.parametrize("rate", [0, -1.0, float("inf"), float("nan")])
def test_a_caller_refuses_a_rate_limit_that_is_not_positive(rate: float) -> None:
    from govlink.sync import PlatformCaller

    class _Quota:
        name = "quota"
        max_batch = 1
        requests_per_second = rate

    with pytest.raises(ConfigError, match="requests_per_second"):
        PlatformCaller(_Quota())  # type: ignore[arg-type]
