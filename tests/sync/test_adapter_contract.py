"""The adapter contract: one suite that both bundled province adapters pass.

Each test runs for ``reference`` and ``gateway``; the exchange tests also run against the mock
served on a loopback port (marked ``server``). What the sync core relies on: authentication
(token or signature) that the platform accepts and that refuses the wrong credentials, canonical
payloads that survive the round trip to the wire and back, and per-element answers read into
the protocol's :class:`~govlink.sync.adapter.ItemResult`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_adapter_contract_support import (
    ADAPTERS,
    SM4_KEY,
    AsyncSession,
    event_delivery,
    exchange,
    faces,
    item_delivery,
    make_province,
    sample_events,
    sample_items,
)
from test_adapter_contract_support import aio as aio  # the fixture, used by name

from govlink import ValidationError, VirtualClock
from govlink.adapters.gateway import GatewayAdapter
from govlink.adapters.gateway import wire as gw
from govlink.adapters.reference import ReferenceAdapter
from govlink.adapters.reference import wire as ref
from govlink.domain import DEFAULT_STATUS_CODES, CaseStatus
from govlink.sync import (
    CASE_EVENT,
    CATALOG_ITEM,
    PlatformAuthError,
    PlatformError,
    PlatformRefused,
    PlatformUnreachable,
    ProvinceAdapter,
    fetch_catalog_digest,
)
from govlink.sync.adapter import (
    CatalogDigestSource,
    Delivery,
    Outcome,
    WireResponse,
    batch_limit,
)

FACES = ["inprocess", pytest.param("served", marks=pytest.mark.server)]


@pytest.fixture(params=ADAPTERS)
def adapter_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- shape ------------------------------------------------------------------------------------


def test_adapter_is_found_by_name_and_speaks_the_protocols(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    adapter = aio.adapter(adapter_name, make_province(virtual_clock))
    assert isinstance(adapter, ProvinceAdapter)
    assert isinstance(adapter, CatalogDigestSource)
    assert adapter.name == adapter_name
    assert batch_limit(adapter, CATALOG_ITEM) == 100
    assert batch_limit(adapter, CASE_EVENT) == 500
    assert adapter.endpoint(CATALOG_ITEM) == "catalog"
    assert adapter.endpoint(CASE_EVENT) == "cases"
    with pytest.raises(ValueError, match="not 'other'"):
        adapter.endpoint("other")


def test_secrets_stay_out_of_repr(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    options: dict[str, Any] = (
        {"client_secret": "s3cr3t-value"}
        if adapter_name == "reference"
        else {"app_secret": "s3cr3t-value", "sm4_key": SM4_KEY}
    )
    adapter = aio.adapter(adapter_name, make_province(virtual_clock), **options)
    assert "s3cr3t" not in repr(adapter)
    assert SM4_KEY not in repr(adapter)


# --- exchanges: applied, duplicate, rejected, out of order, illegal, unavailable ---------------


@pytest.mark.parametrize("face", FACES)
def test_events_applied_then_duplicate(
    aio: AsyncSession, adapter_name: str, face: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    events = sample_events()[:12]
    deliveries = [event_delivery(e) for e in events]
    with faces(province, face) as base_url:
        adapter = aio.adapter(adapter_name, province, base_url=base_url)
        first = aio.run(exchange(adapter, CASE_EVENT, deliveries))
        again = aio.run(exchange(adapter, CASE_EVENT, deliveries))
    assert [r.idempotency_key for r in first] == [d.idempotency_key for d in deliveries]
    assert {r.outcome for r in first} == {Outcome.APPLIED}
    assert {r.outcome for r in again} == {Outcome.DUPLICATE}
    province.journal.assert_each_event_applied_once_in_order(events)


@pytest.mark.parametrize("face", FACES)
def test_items_applied_then_duplicate_and_digest_pages(
    aio: AsyncSession, adapter_name: str, face: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    items = sample_items()[:7]
    deliveries = [item_delivery(i) for i in items]
    with faces(province, face) as base_url:
        adapter = aio.adapter(adapter_name, province, base_url=base_url, page_size=3)
        first = aio.run(exchange(adapter, CATALOG_ITEM, deliveries))
        again = aio.run(exchange(adapter, CATALOG_ITEM, deliveries))
        digest = aio.run(fetch_catalog_digest(adapter, clock=virtual_clock))
    assert {r.outcome for r in first} == {Outcome.APPLIED}
    assert {r.outcome for r in again} == {Outcome.DUPLICATE}
    province.journal.assert_catalog_equals(items)
    assert {code: e.content_hash for code, e in digest.items()} == {
        i.implementation_code: i.content_hash() for i in items
    }
    assert {e.version for e in digest.values()} == {i.version for i in items}
    digest_requests = [e for e in province.journal if "digest" in e.path]
    assert len(digest_requests) == 3  # 7 items in pages of 3


def test_rejected_item_names_field_and_rule(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    good = sample_items()[0]
    data = good.wire_dict()
    # promised 30 working days against a legal limit of 20 breaks the audit rule
    data["legal_limit"] = {"amount": 20, "unit": "working_days"}
    data["promised_limit"] = {"amount": 30, "unit": "working_days"}
    data["case_kind"] = "promised"
    bad = Delivery(
        good.region_code,
        CATALOG_ITEM,
        good.implementation_code,
        1,
        "bad-item-1",
        json.dumps(data, ensure_ascii=False),
    )
    other = item_delivery(sample_items()[1])
    adapter = aio.adapter(adapter_name, province)
    rejected, applied = aio.run(exchange(adapter, CATALOG_ITEM, [bad, other]))
    assert rejected.outcome is Outcome.REJECTED
    assert (rejected.field, rejected.code) == ("promised_limit", "promised_le_legal")
    assert "promised_limit" in rejected.message
    assert applied.outcome is Outcome.APPLIED  # one bad element never fails the batch


def test_out_of_order_reports_expected_sequence(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    events = [e for e in sample_events() if e.case_number == sample_events()[0].case_number]
    assert len(events) >= 3
    adapter = aio.adapter(adapter_name, province)
    aio.run(exchange(adapter, CASE_EVENT, [event_delivery(events[0])]))
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(events[2])]))
    assert result.outcome is Outcome.REJECTED
    assert (result.code, result.field, result.expected_sequence) == ("out_of_order", "sequence", 2)


def test_illegal_transition_is_rejected(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    first = sample_events()[0]
    approved_first = first.model_copy(update={"status": CaseStatus.APPROVED})
    adapter = aio.adapter(adapter_name, province)
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(approved_first)]))
    assert result.outcome is Outcome.REJECTED
    assert result.code == "illegal_transition"
    assert province.core.applied_event_log() == []


def test_partial_failure_is_a_per_element_retry(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    province.set_faults("partial:rate=1,retry_after=7")
    adapter = aio.adapter(adapter_name, province)
    results = aio.run(
        exchange(adapter, CASE_EVENT, [event_delivery(e) for e in sample_events()[:3]])
    )
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert {r.retry_after for r in results} == {7}
    assert {r.code for r in results} == {"unavailable"}


@pytest.mark.parametrize(
    ("status", "wire_status", "expected", "expected_seq"),
    [
        ("applied", "applied", Outcome.APPLIED, None),
        ("duplicate", "duplicate", Outcome.DUPLICATE, None),
        ("unavailable then consequence", "out_of_order", Outcome.RETRY, 1),
    ],
)
def test_decode_reads_a_crafted_answer(
    aio: AsyncSession,
    adapter_name: str,
    virtual_clock: VirtualClock,
    status: str,
    wire_status: str,
    expected: Outcome,
    expected_seq: int | None,
) -> None:
    # Two events of one case in one batch: the first is unavailable, so an out_of_order answer
    # for the second is a consequence (retry), not poison; the other statuses read as such.
    adapter = aio.adapter(adapter_name, make_province(virtual_clock))
    case = [e for e in sample_events() if e.case_number == sample_events()[0].case_number]
    deliveries = [event_delivery(case[0]), event_delivery(case[1])]
    first_status = "unavailable" if wire_status == "out_of_order" else wire_status
    answers = [(0, first_status, None), (1, wire_status, expected_seq)]
    response = _crafted(adapter_name, answers)
    results = adapter.decode(CASE_EVENT, deliveries, response)
    assert results[1].outcome is expected
    assert results[1].expected_sequence == expected_seq
    if wire_status == "out_of_order":
        assert results[0].outcome is Outcome.RETRY
        # the same answer without the blocked predecessor is poison
        alone = adapter.decode(
            CASE_EVENT, deliveries[1:], _crafted(adapter_name, [(0, wire_status, 1)])
        )
        assert alone[0].outcome is Outcome.REJECTED


def test_missing_result_is_retried_not_acknowledged(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    adapter = aio.adapter(adapter_name, make_province(virtual_clock))
    deliveries = [event_delivery(e) for e in sample_events()[:2]]
    results = adapter.decode(CASE_EVENT, deliveries, _crafted(adapter_name, [(0, "applied", None)]))
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.RETRY]
    assert results[1].code == "no_result"


def _crafted(adapter_name: str, answers: list[tuple[int, str, int | None]]) -> WireResponse:
    if adapter_name == "reference":
        body: dict[str, Any] = {
            "results": [
                {"index": i, "status": s, **({"expected_sequence": q} if q else {})}
                for i, s, q in answers
            ]
        }
    else:
        body = gw.envelope(
            {"jg": [{"xh": i, "cljg": s, **({"qwxh": q} if q else {})} for i, s, q in answers]}
        )
    return WireResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


# --- whole-request failures ------------------------------------------------------------------


def test_outage_503_is_retryable_with_retry_after(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province)
    aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))  # token first
    province.set_faults("outage:mode=503,retry_after=30")
    with pytest.raises(PlatformError) as caught:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[1])]))
    assert caught.value.retryable
    assert (caught.value.status, caught.value.retry_after) == (503, 30)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("lost_response", "transport"),
        ("reset", "transport"),
        ("outage:mode=refused", "transport"),
        ("malformed_json", "malformed_response"),
    ],
)
def test_broken_answers_are_unreachable_and_retryable(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock, spec: str, reason: str
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province)
    aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))  # token first
    province.set_faults(spec)
    with pytest.raises(PlatformUnreachable) as caught:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[1])]))
    assert caught.value.retryable
    assert caught.value.reason == reason


def test_malformed_request_is_poison(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province)
    request = adapter.encode(CASE_EVENT, [event_delivery(sample_events()[0])])
    broken = type(request)(
        request.method, request.path, request.endpoint, b"{not json", request.headers
    )
    response = aio.run(adapter.send(broken))
    with pytest.raises(PlatformError) as caught:
        adapter.decode(CASE_EVENT, [event_delivery(sample_events()[0])], response)
    assert not caught.value.retryable
    assert caught.value.status == 400


def test_unmappable_payload_is_a_validation_error(
    aio: AsyncSession, adapter_name: str, virtual_clock: VirtualClock
) -> None:
    adapter = aio.adapter(adapter_name, make_province(virtual_clock))
    broken = Delivery("370500", CASE_EVENT, "c", 1, "k", "[1, 2]")
    with pytest.raises(ValidationError) as caught:
        adapter.encode(CASE_EVENT, [broken])
    assert (caught.value.field, caught.value.rule) == ("payload", "json_object")


# --- authentication: reference (OAuth2 client credentials) ------------------------------------


def test_reference_fetches_one_token_and_reuses_it(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    assert isinstance(adapter, ReferenceAdapter)
    for event in sample_events()[:3]:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(event)]))
    paths = [e.path for e in province.journal]
    assert paths.count(ref.TOKEN_PATH) == 1
    assert adapter.tokens_fetched == 1


def test_reference_refreshes_an_expired_token_once(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    assert isinstance(adapter, ReferenceAdapter)
    aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    virtual_clock.advance(ref.DEFAULT_TOKEN_LIFETIME + 1)  # expired on the platform's clock
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[1])]))
    assert result.outcome is Outcome.APPLIED
    statuses = [(e.path, e.status) for e in province.journal]
    assert statuses[-3:] == [
        (ref.CASE_EVENTS_BATCH_PATH, 401),
        (ref.TOKEN_PATH, 200),
        (ref.CASE_EVENTS_BATCH_PATH, 200),
    ]
    assert adapter.tokens_fetched == 2


def test_reference_wrong_secret_is_refused(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province, client_secret="wrong")
    with pytest.raises(PlatformAuthError) as caught:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    # Retrying cannot cure it: the run stops (exit 2) saying what to fix; nothing is parked.
    assert isinstance(caught.value, PlatformRefused)
    assert "GOVLINK_REFERENCE_CLIENT_SECRET" in caught.value.message
    assert "wrong" not in caught.value.message
    assert province.core.applied_event_log() == []


def test_reference_token_endpoint_outage_is_retryable(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    province.set_faults("outage:mode=503,retry_after=5")
    adapter = aio.adapter("reference", province)
    with pytest.raises(PlatformError) as caught:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    assert caught.value.retryable
    assert caught.value.status == 503


def test_reference_events_carry_the_outbox_key(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    adapter = aio.adapter("reference", make_province(virtual_clock))
    event = sample_events()[0]
    delivery = Delivery(
        event.hall, CASE_EVENT, event.case_number, 1, "my-key", event.model_dump_json()
    )
    body = json.loads(adapter.encode(CASE_EVENT, [delivery]).content)
    (element,) = body["events"]
    assert element.pop("idempotency_key") == "my-key"
    assert element == json.loads(event.model_dump_json())


# --- authentication: gateway (signed requests) ------------------------------------------------


@pytest.mark.parametrize("method", list(gw.SignMethod))
def test_gateway_signature_is_verified_by_the_platform(
    aio: AsyncSession, virtual_clock: VirtualClock, method: gw.SignMethod
) -> None:
    province = make_province(virtual_clock, sign_method=method)
    adapter = aio.adapter("gateway", province, sign_method=method.value)
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    assert result.outcome is Outcome.APPLIED
    mismatched = aio.adapter(
        "gateway",
        province,
        sign_method=next(m for m in gw.SignMethod if m is not method).value,
    )
    with pytest.raises(PlatformAuthError):
        aio.run(exchange(mismatched, CASE_EVENT, [event_delivery(sample_events()[1])]))


def test_gateway_wrong_secret_is_refused_after_one_fresh_attempt(
    aio: AsyncSession,
    virtual_clock: VirtualClock,
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("gateway", province, app_secret="not-the-secret")
    with pytest.raises(PlatformAuthError) as caught:
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    assert "not-the-secret" not in caught.value.message
    assert [e.status for e in province.journal] == [401, 401]
    assert province.core.applied_event_log() == []


def test_gateway_replayed_nonce_is_refused(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("gateway", province, nonce_factory=lambda: "replayed-nonce-0001")
    (first,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    assert first.outcome is Outcome.APPLIED
    response = aio.run(
        adapter.send(adapter.encode(CASE_EVENT, [event_delivery(sample_events()[1])]))
    )
    assert response.status == 401
    assert json.loads(response.content)["code"] == gw.GatewayCode.NONCE_REPLAYED.value
    with pytest.raises(PlatformError) as caught:
        adapter.decode(CASE_EVENT, [event_delivery(sample_events()[1])], response)
    assert caught.value.reason == "unauthorized"


def test_gateway_fresh_nonce_cures_a_replay(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    province = make_province(virtual_clock)
    nonces = iter(["same-nonce-000001", "same-nonce-000001", "fresh-nonce-00002"])
    adapter = aio.adapter("gateway", province, nonce_factory=lambda: next(nonces))
    aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[1])]))
    assert result.outcome is Outcome.APPLIED  # refused once, re-signed, applied
    assert [e.status for e in province.journal] == [200, 401, 200]


@pytest.mark.parametrize(("skew", "accepted"), [(299, True), (301, False), (-301, False)])
def test_gateway_clock_skew(
    aio: AsyncSession, virtual_clock: VirtualClock, skew: float, accepted: bool
) -> None:
    province = make_province(virtual_clock)
    skewed = VirtualClock(virtual_clock.now())
    if skew > 0:
        skewed.advance(skew)
    else:
        virtual_clock.advance(-skew)  # the platform runs ahead instead
    adapter = aio.adapter("gateway", province, clock=skewed)
    response = aio.run(
        adapter.send(adapter.encode(CASE_EVENT, [event_delivery(sample_events()[0])]))
    )
    if accepted:
        assert response.status == 200
    else:
        assert response.status == 401
        assert json.loads(response.content)["code"] == gw.GatewayCode.TIMESTAMP_SKEW.value


def test_gateway_signs_every_attempt_afresh(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    adapter = aio.adapter("gateway", make_province(virtual_clock))
    assert isinstance(adapter, GatewayAdapter)
    request = adapter.encode(CASE_EVENT, [event_delivery(sample_events()[0])])
    one, two = adapter.signed_headers(request), adapter.signed_headers(request)
    assert one[gw.HEADER_NONCE] != two[gw.HEADER_NONCE]
    assert one[gw.HEADER_SIGNATURE] != two[gw.HEADER_SIGNATURE]


# --- mapping: gateway pinyin, numeric status codes, SM4 ---------------------------------------


@pytest.mark.parametrize("sm4", [None, SM4_KEY])
def test_gateway_event_mapping_round_trips(
    aio: AsyncSession, virtual_clock: VirtualClock, sm4: str | None
) -> None:
    province = make_province(virtual_clock, sm4_key=sm4)
    adapter = aio.adapter("gateway", province, sm4_key=sm4)
    assert isinstance(adapter, GatewayAdapter)
    events = [e for e in sample_events() if e.handler][:5]
    deliveries = [event_delivery(e) for e in events]
    body = json.loads(adapter.encode(CASE_EVENT, deliveries).content)
    for event, element in zip(events, body["bjztlb"], strict=True):
        assert element["bjbh"] == event.case_number
        assert element["blzt"] == DEFAULT_STATUS_CODES[event.status]  # domain reference §5 code
        assert element["wybs"] == event.idempotency_key
        assert "case_number" not in element
        if sm4:
            assert element["blr"] != event.handler  # personal data encrypted on the wire
        else:
            assert element["blr"] == event.handler
        back = gw.decode_event(element, adapter.config)
        assert back.pop("idempotency_key") == event.idempotency_key
        assert {k: v for k, v in back.items() if v is not None} == {
            k: v for k, v in json.loads(event.model_dump_json()).items() if v is not None
        }
    results = aio.run(exchange(adapter, CASE_EVENT, deliveries))
    assert {r.outcome for r in results} == {Outcome.APPLIED}  # the platform decrypted them


def test_gateway_sm4_with_the_wrong_key_is_refused_per_element(
    aio: AsyncSession,
    virtual_clock: VirtualClock,
) -> None:
    province = make_province(virtual_clock, sm4_key=SM4_KEY)
    adapter = aio.adapter("gateway", province, sm4_key="f" * 32)
    event = next(e for e in sample_events() if e.handler)
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(event)]))
    assert result.outcome is Outcome.REJECTED
    assert (result.field, result.code) == ("handler", "sm4_decrypt")


def test_gateway_item_mapping_round_trips(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    adapter = aio.adapter("gateway", make_province(virtual_clock))
    items = sample_items()[:5]
    body = json.loads(adapter.encode(CATALOG_ITEM, [item_delivery(i) for i in items]).content)
    for item, element in zip(items, body["sxlb"], strict=True):
        assert element["ssbm"] == item.implementation_code
        assert element["sxlx"] == item.item_type.code  # two-digit item type code
        assert element["sxzt"] == item.state.value
        assert gw.decode_item(element) == item.wire_dict()


def test_gateway_renumbered_status_codes(aio: AsyncSession, virtual_clock: VirtualClock) -> None:
    adapter = aio.adapter("gateway", make_province(virtual_clock), status_codes={"approved": 90})
    assert isinstance(adapter, GatewayAdapter)
    approved = next(e for e in sample_events() if e.status is CaseStatus.APPROVED)
    body = json.loads(adapter.encode(CASE_EVENT, [event_delivery(approved)]).content)
    assert body["bjztlb"][0]["blzt"] == 90


def test_gateway_failure_code_in_a_200_envelope_is_classified(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    adapter = aio.adapter("gateway", make_province(virtual_clock))
    deliveries = [event_delivery(sample_events()[0])]
    busy = gw.envelope(code=gw.GatewayCode.UNAVAILABLE.value, msg="维护中")
    with pytest.raises(PlatformError) as caught:
        adapter.decode(CASE_EVENT, deliveries, WireResponse(200, {}, json.dumps(busy).encode()))
    assert (caught.value.status, caught.value.retryable) == (503, True)
    unknown = gw.envelope(code="999999", msg="未知错误")
    with pytest.raises(PlatformError) as caught:
        adapter.decode(CASE_EVENT, deliveries, WireResponse(200, {}, json.dumps(unknown).encode()))
    assert not caught.value.retryable


def test_gateway_bad_configuration_is_a_config_error(
    aio: AsyncSession, virtual_clock: VirtualClock
) -> None:
    from govlink import ConfigError

    province = make_province(virtual_clock)
    with pytest.raises(ConfigError, match="sign_method"):
        aio.adapter("gateway", province, sign_method="MD5")
    with pytest.raises(ConfigError, match="sm4"):
        aio.adapter("gateway", province, sm4_key="short")
    with pytest.raises(ConfigError, match="status_codes"):
        aio.adapter("gateway", province, status_codes={"approved": 3})


# --- settings from the environment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter_name", "variable"),
    [("reference", "GOVLINK_REFERENCE_CLIENT_SECRET"), ("gateway", "GOVLINK_GATEWAY_APP_SECRET")],
)
def test_credentials_come_from_the_environment(
    aio: AsyncSession,
    virtual_clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
    adapter_name: str,
    variable: str,
) -> None:
    province = make_province(virtual_clock)
    monkeypatch.setenv(variable, "from-the-environment")
    adapter = aio.adapter(adapter_name, province)
    assert "from-the-environment" not in repr(adapter)
    with pytest.raises(PlatformAuthError):
        aio.run(exchange(adapter, CASE_EVENT, [event_delivery(sample_events()[0])]))
    explicit = aio.adapter(adapter_name, province, **{variable.split("_", 2)[2].lower(): None})
    assert explicit.name == adapter_name  # None means "from settings", never an error


def test_gateway_settings_select_sm3_and_sm4(
    aio: AsyncSession, virtual_clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    province = make_province(virtual_clock, sign_method=gw.SignMethod.HMAC_SM3, sm4_key=SM4_KEY)
    monkeypatch.setenv("GOVLINK_GATEWAY_SIGN_METHOD", "HMAC-SM3")
    monkeypatch.setenv("GOVLINK_GATEWAY_SM4_KEY", SM4_KEY)
    adapter = aio.adapter("gateway", province)
    assert isinstance(adapter, GatewayAdapter)
    assert SM4_KEY not in repr(adapter)
    event = next(e for e in sample_events() if e.handler)
    (result,) = aio.run(exchange(adapter, CASE_EVENT, [event_delivery(event)]))
    assert result.outcome is Outcome.APPLIED


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GOVLINK_GATEWAY_SM4_MODE", "ECB"), ("GOVLINK_REFERENCE_TIMEOUT", "soon")],
)
def test_unreadable_settings_are_config_errors(
    aio: AsyncSession,
    virtual_clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    from govlink import ConfigError

    monkeypatch.setenv(variable, value)
    name = variable.split("_")[1].lower()
    with pytest.raises(ConfigError, match=variable):
        aio.adapter(name, make_province(virtual_clock))


def test_dispatcher_refreshes_an_expired_token_once(
    aio: AsyncSession, virtual_clock: VirtualClock, tmp_path: Any
) -> None:
    from test_adapter_contract_support import drain_with_outbox

    from govlink.store import SQLiteStore
    from govlink.sync import Outbox

    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    store = SQLiteStore(tmp_path / "govlink.db")
    try:
        outbox = Outbox(store, clock=virtual_clock)
        events = sample_events()
        first = [e for e in events if e.sequence == 1]
        outbox.enqueue_events(first)
        aio.run(drain_with_outbox(outbox, adapter, CASE_EVENT, virtual_clock))
        virtual_clock.advance(ref.DEFAULT_TOKEN_LIFETIME + 1)
        outbox.enqueue_events([e for e in events if e.sequence > 1])
        counters = aio.run(drain_with_outbox(outbox, adapter, CASE_EVENT, virtual_clock))
    finally:
        store.close()
    assert counters.token_refreshes == 1
    assert [e.path for e in province.journal].count(ref.TOKEN_PATH) == 2
    province.journal.assert_each_event_applied_once_in_order(events)
