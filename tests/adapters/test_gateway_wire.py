"""The gateway convention's pure functions: signing, replay guard, field tables, SM4."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from govlink import ConfigError, ValidationError
from govlink.adapters.gateway import wire

NOW = 1_772_413_200.0  # 2026-03-02 09:00 China time
PATH = wire.CASE_STATUS_PUSH_PATH


def _apps(config: wire.GatewayConfig) -> dict[str, wire.GatewayConfig]:
    return {config.app_id: config}


@pytest.mark.parametrize("method", list(wire.SignMethod))
def test_signed_request_verifies(method: wire.SignMethod) -> None:
    config = wire.GatewayConfig(sign_method=method)
    body = b'{"bjztlb": []}'
    headers = wire.signed_headers(
        config, "post", PATH, body, timestamp_ms=int(NOW * 1000), nonce="n" * 16
    )
    assert headers[wire.HEADER_SIGN_METHOD] == method.value
    got = wire.verify_signature(_apps(config), "POST", PATH, headers, body, now=NOW)
    assert got is config


def test_canonical_string_is_the_documented_one() -> None:
    body = b"{}"
    canonical = wire.canonical_string(
        "post", "/p", "1700000000000", "abc", "app", body, wire.SignMethod.HMAC_SHA256
    )
    assert canonical == "\n".join(
        ("POST", "/p", "1700000000000", "abc", "app", hashlib.sha256(body).hexdigest())
    )
    expected = hmac.new(b"secret", canonical.encode(), hashlib.sha256).hexdigest()
    assert wire.sign("secret", canonical, wire.SignMethod.HMAC_SHA256) == expected


def test_sm3_signature_differs_from_sha256() -> None:
    canonical = "x"
    sm3 = wire.sign("k", canonical, wire.SignMethod.HMAC_SM3)
    assert len(sm3) == 64
    assert sm3 != wire.sign("k", canonical, wire.SignMethod.HMAC_SHA256)
    # the published SM3 digest of "abc" (GB/T 32905-2016 example 1)
    assert wire.body_digest(b"abc", wire.SignMethod.HMAC_SM3) == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, b: h.pop(wire.HEADER_NONCE), "missing_header"),
        (lambda h, b: h.__setitem__(wire.HEADER_APP_ID, "stranger"), "unknown_app"),
        (
            lambda h, b: h.__setitem__(wire.HEADER_TIMESTAMP, str(int(NOW - 301) * 1000)),
            "timestamp_skew",
        ),
        (lambda h, b: h.__setitem__(wire.HEADER_SIGNATURE, "0" * 64), "bad_signature"),
        (lambda h, b: h.__setitem__(wire.HEADER_SIGN_METHOD, "HMAC-SM3"), "sign_method"),
        (lambda h, b: h.__setitem__(wire.HEADER_NONCE, "short"), "missing_header"),
    ],
)
def test_bad_signing_headers_are_refused(mutate: object, reason: str) -> None:
    config = wire.GatewayConfig()
    body = b"{}"
    headers = wire.signed_headers(config, "POST", PATH, body, timestamp_ms=int(NOW * 1000))
    mutate(headers, body)  # type: ignore[operator]
    with pytest.raises(wire.SignatureRejected) as info:
        wire.verify_signature(_apps(config), "POST", PATH, headers, body, now=NOW)
    assert info.value.reason == reason
    assert wire.http_status_for(info.value.gateway_code) == 401


def test_tampered_body_and_path_are_refused() -> None:
    config = wire.GatewayConfig()
    headers = wire.signed_headers(config, "POST", PATH, b"{}", timestamp_ms=int(NOW * 1000))
    with pytest.raises(wire.SignatureRejected, match="bad signature"):
        wire.verify_signature(_apps(config), "POST", PATH, headers, b"{ }", now=NOW)
    with pytest.raises(wire.SignatureRejected, match="bad signature"):
        wire.verify_signature(_apps(config), "POST", "/other", headers, b"{}", now=NOW)


def test_replayed_nonce_is_refused_within_the_window_only() -> None:
    config = wire.GatewayConfig()
    nonces = wire.NonceCache(window_seconds=300)
    headers = wire.signed_headers(config, "POST", PATH, b"", timestamp_ms=int(NOW * 1000))
    wire.verify_signature(_apps(config), "POST", PATH, headers, b"", now=NOW, nonces=nonces)
    with pytest.raises(wire.SignatureRejected) as info:
        wire.verify_signature(_apps(config), "POST", PATH, headers, b"", now=NOW, nonces=nonces)
    assert info.value.gateway_code is wire.GatewayCode.NONCE_REPLAYED
    # long after the window the old entry is forgotten (the timestamp check refuses it anyway)
    assert nonces.remember("other", "x" * 16, NOW + 10_000)
    assert len(nonces) == 1


def test_event_fields_round_trip_with_pinyin_names_and_wire_times() -> None:
    canonical = {
        "case_number": "C1",
        "sequence": 2,
        "status": "accepted",
        "time": "2026-03-02T01:00:00+00:00",
        "handler": "张三",
        "opinion": "同意",
        "hall": "370502",
        "idempotency_key": "k1",
        "extra_field": "kept",
    }
    encoded = wire.encode_event(canonical)
    assert encoded["bjbh"] == "C1"
    assert encoded["blzt"] == 3  # 已受理
    assert encoded["blsj"] == "2026-03-02 09:00:00"
    assert encoded["blr"] == "张三"
    assert encoded["blyj"] == "同意"
    assert encoded["xzqhdm"] == "370502"
    assert encoded["extra_field"] == "kept"
    decoded = wire.decode_event(encoded)
    assert decoded["time"] == "2026-03-02T09:00:00+08:00"
    assert {k: v for k, v in decoded.items() if k != "time"} == {
        k: v for k, v in canonical.items() if k != "time"
    }


def test_item_nested_fields_use_their_parent_table() -> None:
    canonical = {
        "implementation_code": "X" * 31,
        "name": "食品经营许可",
        "item_type": "licensing",
        "department": {"credit_code": "11370500MB2856743W", "name": "市场监管局"},
        "materials": [{"name": "申请书", "required": True}],
    }
    encoded = wire.encode_item(canonical)
    assert encoded["sxmc"] == "食品经营许可"
    assert encoded["sxlx"] == "01"
    assert encoded["ssjg"] == {"tyshxydm": "11370500MB2856743W", "jgmc": "市场监管局"}
    assert encoded["sqcl"] == [{"clmc": "申请书", "sfbx": True}]
    assert wire.decode_item(encoded) == canonical


@pytest.mark.parametrize("mode", ["GCM", "CBC"])
def test_sm4_encrypts_personal_fields(mode: str) -> None:
    config = wire.GatewayConfig(
        sm4_key="00112233445566778899aabbccddeeff",
        sm4_mode=mode,  # type: ignore[arg-type]
        encrypted_event_fields=("handler", "applicant.name"),
    )
    canonical = {"case_number": "C1", "handler": "李四", "applicant": {"name": "王五"}}
    encoded = wire.encode_event(canonical, config)
    assert encoded["blr"] != "李四"
    assert encoded["applicant"]["name"] != "王五"
    assert canonical["handler"] == "李四"  # the input is not modified
    assert wire.decode_event(encoded, config) == canonical


def test_sm4_wrong_key_names_the_field() -> None:
    good = wire.GatewayConfig(sm4_key="00" * 16)
    bad = wire.GatewayConfig(sm4_key="11" * 16)
    encoded = wire.encode_event({"handler": "李四"}, good)
    with pytest.raises(ValidationError) as info:
        wire.decode_event(encoded, bad)
    assert (info.value.field, info.value.rule) == ("handler", "sm4_decrypt")


def test_bad_sm4_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        wire.GatewayConfig(sm4_key="abc")


def test_secrets_stay_out_of_repr() -> None:
    config = wire.GatewayConfig(app_secret="s3cr3t", sm4_key="ab" * 16)
    assert "s3cr3t" not in repr(config)
    assert "ab" * 16 not in repr(config)


def test_envelope_and_results_parse() -> None:
    body = wire.envelope({"jg": [{"xh": 0, "cljg": "out_of_order", "qwxh": 3}], "sbs": 1})
    env = wire.Envelope.model_validate(body)
    assert env.code == wire.DEFAULT_SUCCESS_CODE
    data = wire.BatchResultData.model_validate(env.data)
    assert data.jg[0].cljg is wire.ResultStatus.OUT_OF_ORDER
    assert data.jg[0].qwxh == 3


def test_status_codes_follow_the_configured_table() -> None:
    from govlink.domain import CaseStatus, StatusCodeTable

    config = wire.GatewayConfig(status_codes=StatusCodeTable({CaseStatus.APPROVED: 90}))
    encoded = wire.encode_event({"status": "approved"}, config)
    assert encoded["blzt"] == 90
    assert wire.decode_event(encoded, config)["status"] == "approved"
    with pytest.raises(ValidationError) as info:
        wire.decode_event({"blzt": 99})
    assert (info.value.field, info.value.rule) == ("status", "unknown_status_code")
    with pytest.raises(ValidationError) as info:
        wire.decode_event({"blzt": "3"})
    assert info.value.rule == "status_code"
