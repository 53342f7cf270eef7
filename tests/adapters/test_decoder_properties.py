"""Property tests: the adapters' wire decoders, the gateway's wire decoding and signature check,
and ``parse_retry_after`` only ever return results or raise govlink's own errors.

Whatever a platform (or a client of the mock) sends — any status, any header text, any bytes,
JSON of any shape — must end in a result or a typed :class:`govlink.GovlinkError`, never in a
``ValueError``/``TypeError``/``KeyError`` that would end ``govlink sync run`` with a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from govlink import GovlinkError
from govlink.adapters.gateway import GatewayAdapter
from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import ReferenceAdapter
from govlink.sync.adapter import (
    CASE_EVENT,
    CATALOG_ITEM,
    DEFAULT_RETRY_AFTER_CAP,
    CatalogDigestPage,
    Delivery,
    ItemResult,
    WireResponse,
    parse_retry_after,
)

SM4_KEY = "0123456789abcdeffedcba9876543210"
STATUSES = [s.value for s in gw.ResultStatus]
PROFILE = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
header_text = st.text(max_size=40) | st.sampled_from(
    [
        "²",
        "٣",
        "120",
        "-5",
        "9" * 400,
        "Wed, 21 Oct 2026 07:28:00 GMT",
        "Mon, 1 Jan 99999 0:0:0 GMT",
    ]
)


def _deliveries(kind: str, n: int) -> list[Delivery]:
    return [
        Delivery("370500", kind, f"K{i % 3}", i + 1, f"370500:{kind}:K{i % 3}:{i + 1}", "{}")
        for i in range(n)
    ]


def _answer(statuses: Any, optional: dict[str, Any]) -> Any:
    return st.fixed_dictionaries(
        {"index": st.integers(-2, 8), "status": statuses}, optional=optional
    )


problems = st.lists(
    st.fixed_dictionaries(
        {"field": st.text(max_size=8), "rule": st.text(max_size=8), "message": st.text(max_size=30)}
    ),
    max_size=2,
)
reference_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "results": st.lists(
                _answer(
                    st.sampled_from([*STATUSES, "weird"]) | st.integers(),
                    {
                        "expected_sequence": st.none() | st.integers(),
                        "current_status": st.none() | st.integers() | st.text(max_size=3),
                        "retry_after": st.none() | st.integers() | st.floats(allow_nan=False),
                        "problems": problems | json_values,
                    },
                ),
                max_size=8,
            )
        },
        optional={"failed": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "error": st.fixed_dictionaries(
                {"code": st.text(max_size=20), "message": st.text(max_size=20)}
            )
        }
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "items": st.lists(
                st.fixed_dictionaries(
                    {
                        "implementation_code": st.text(max_size=10),
                        "content_hash": st.text(max_size=10),
                        "revision": st.integers(),
                    },
                    optional={"version": json_values},
                ),
                max_size=4,
            ),
            "total": st.integers(),
        },
        optional={"next_page_token": st.none() | st.text(max_size=10)},
    ).map(lambda v: json.dumps(v).encode()),
)
gateway_data = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "jg": st.lists(
                st.fixed_dictionaries(
                    {"xh": st.integers(-2, 8), "cljg": st.sampled_from([*STATUSES, "x"])},
                    optional={
                        "qwxh": st.none() | st.integers(),
                        "dqzt": st.none() | st.integers(),
                        "ddms": st.none() | st.integers() | st.floats(allow_nan=False),
                        "wtlb": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "zd": st.text(max_size=5),
                                    "gz": st.text(max_size=5),
                                    "sm": st.text(max_size=20),
                                }
                            ),
                            max_size=2,
                        ),
                    },
                ),
                max_size=8,
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "sxlb": st.lists(
                st.fixed_dictionaries(
                    {
                        "ssbm": st.text(max_size=8),
                        "nrhx": st.text(max_size=8),
                        "xdh": st.integers(),
                    },
                    optional={"bbh": json_values},
                ),
                max_size=3,
            ),
            "zs": st.integers(),
        },
        optional={"xyym": st.none() | st.text(max_size=5)},
    ),
)
gateway_bodies = st.one_of(
    st.binary(max_size=200),
    st.fixed_dictionaries(
        {
            "code": st.sampled_from(
                [gw.DEFAULT_SUCCESS_CODE, *(c.value for c in gw.GatewayCode), "x"]
            ),
            "msg": st.text(max_size=20),
            "data": gateway_data,
        }
    ).map(lambda v: json.dumps(v).encode()),
)
responses = st.builds(
    WireResponse,
    st.sampled_from([200, 200, 200, 201, 400, 401, 403, 404, 413, 429, 500, 503])
    | st.integers(100, 599),
    st.dictionaries(
        st.sampled_from(["retry-after", "content-type", "x-other"]), header_text, max_size=2
    ),
    st.just(b""),
)


@pytest.fixture(scope="module")
def adapters() -> Iterator[dict[str, Any]]:
    made = {
        "reference": ReferenceAdapter(base_url="http://province.test"),
        "gateway": GatewayAdapter(base_url="http://province.test"),
    }
    yield made
    for adapter in made.values():
        asyncio.run(adapter.aclose())


def _only_results_or_govlink_errors(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except GovlinkError:
        return None


@PROFILE
@given(
    kind=st.sampled_from([CASE_EVENT, CATALOG_ITEM]),
    n=st.integers(1, 6),
    response=responses,
    reference_body=reference_bodies,
    gateway_body=gateway_bodies,
)
def test_batch_decoders_return_one_result_per_delivery_or_raise_govlink_errors(
    adapters: dict[str, Any],
    kind: str,
    n: int,
    response: WireResponse,
    reference_body: bytes,
    gateway_body: bytes,
) -> None:
    deliveries = _deliveries(kind, n)
    for name, body in (("reference", reference_body), ("gateway", gateway_body)):
        answer = WireResponse(response.status, response.headers, body)
        results = _only_results_or_govlink_errors(
            lambda a=adapters[name], r=answer: a.decode(kind, deliveries, r)
        )
        if results is not None:
            assert [r.idempotency_key for r in results] == [d.idempotency_key for d in deliveries]
            assert all(isinstance(r, ItemResult) for r in results)


@PROFILE
@given(response=responses, reference_body=reference_bodies, gateway_body=gateway_bodies)
def test_digest_decoders_return_a_page_or_raise_govlink_errors(
    adapters: dict[str, Any], response: WireResponse, reference_body: bytes, gateway_body: bytes
) -> None:
    for name, body in (("reference", reference_body), ("gateway", gateway_body)):
        answer = WireResponse(response.status, response.headers, body)
        page = _only_results_or_govlink_errors(
            lambda a=adapters[name], r=answer: a.decode_digest_page(r)
        )
        assert page is None or isinstance(page, CatalogDigestPage)


@pytest.mark.parametrize("name", ["reference", "gateway"])
def test_deeply_nested_answers_are_unreadable_not_a_crash(
    adapters: dict[str, Any], name: str
) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(GovlinkError):
        adapters[name].decode(CASE_EVENT, _deliveries(CASE_EVENT, 1), WireResponse(200, {}, body))


@settings(max_examples=300, deadline=None)
@given(value=st.none() | header_text | st.text(), now=st.floats(-1e12, 1e12), cap=st.floats(0, 1e6))
def test_parse_retry_after_never_raises(value: str | None, now: float, cap: float) -> None:
    seconds = parse_retry_after(value, now=now, cap=cap)
    assert seconds is None or 0.0 <= seconds <= cap


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("²", None),
        ("٣", None),
        ("9" * 5000, DEFAULT_RETRY_AFTER_CAP),
        ("Mon, 1 Jan 99999 00:00:00 GMT", None),
        ("Wed, 21 Oct 2026 07:28:00", None),  # no zone: not an HTTP-date
        (" 120 ", 120.0),
    ],
)
def test_parse_retry_after_odd_values(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, now=0.0) == expected


@PROFILE
@given(
    data=st.dictionaries(
        st.text(max_size=6) | st.sampled_from(list(gw.EVENT_FIELDS.values())),
        json_values,
        max_size=8,
    ),
    encrypted=st.booleans(),
)
def test_gateway_wire_decoders_return_dicts_or_raise_govlink_errors(
    data: dict[str, Any], encrypted: bool
) -> None:
    config = gw.GatewayConfig(sm4_key=SM4_KEY if encrypted else None)
    for decode in (lambda: gw.decode_event(data, config), lambda: gw.decode_item(data)):
        result = _only_results_or_govlink_errors(decode)
        assert result is None or isinstance(result, dict)


_SIGNING = [
    gw.HEADER_APP_ID,
    gw.HEADER_TIMESTAMP,
    gw.HEADER_NONCE,
    gw.HEADER_SIGNATURE,
    gw.HEADER_SIGN_METHOD,
]


odd_header_text = st.text(max_size=70) | st.sampled_from(
    ["²", "１２３", "1" * 17, "é" * 64, "\udcff", "ＡＢ" * 32, ""]
)


@PROFILE
@given(
    header=st.sampled_from(_SIGNING),
    value=odd_header_text,
    also=st.dictionaries(st.sampled_from(_SIGNING), odd_header_text, max_size=2),
    path=st.text(max_size=20),
)
@example(header=gw.HEADER_TIMESTAMP, value="²", also={}, path="/p")
@example(header=gw.HEADER_SIGNATURE, value="é" * 64, also={}, path="/p")
def test_the_signature_check_only_accepts_or_refuses(
    header: str, value: str, also: dict[str, str], path: str
) -> None:
    config = gw.GatewayConfig()
    headers = gw.signed_headers(config, "POST", path, b"{}", timestamp_ms=1_000_000)
    headers.update({header: value, **also})
    try:
        accepted = gw.verify_signature(
            {config.app_id: config}, "POST", path, headers, b"{}", now=1000.0
        )
    except gw.SignatureRejected:
        return
    assert accepted is config
