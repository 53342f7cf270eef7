"""Every refusal of the issue's list: a crafted token refused with its code, beside a control
token built the same way that passes."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from identity_helpers import ALL_ALGORITHMS, ISSUER, craft
from joserfc.jwk import OKPKey

from govlink import VirtualClock
from govlink.identity import (
    InvalidToken,
    Issuer,
    KeyRing,
    KeyState,
    TrustedIssuer,
    VerificationKey,
    Verifier,
)
from govlink.identity._jose import b64url_encode

AUD = "hall-370502"


@pytest.fixture
def es_key(ring: KeyRing) -> Any:
    return next(k for k in ring.list_keys() if k.alg == "ES256")


@pytest.fixture
def verifier(issuer: Issuer) -> Verifier:
    return issuer.verifier(AUD, cache_size=0)


def header(es_key: Any, **extra: Any) -> dict[str, Any]:
    return {"alg": "ES256", "kid": es_key.kid, "typ": "at+jwt", **extra}


def claims(clock: VirtualClock, **extra: Any) -> dict[str, Any]:
    now = int(clock.time())
    base = {
        "iss": ISSUER,
        "sub": "p-test",
        "aud": AUD,
        "iat": now,
        "exp": now + 300,
        "jti": "j-" + str(now),
        "client_id": AUD,
        "scope": "cases:read",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP: Any = object()


def refused(verifier: Verifier, token: str, code: str, **kwargs: Any) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token, **kwargs)
    assert info.value.code == code, info.value.detail
    # What the caller sees reveals nothing but "invalid token".
    assert info.value.www_authenticate() == (
        'Bearer error="invalid_token", error_description="invalid token"'
    )
    return info.value


def test_control_token_passes(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    assert verifier.verify(token).subject == "p-test"


def test_alg_none(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    refused(
        verifier,
        craft(header(es_key, alg="none"), claims(virtual_clock), None),
        "algorithm_not_allowed",
    )


@pytest.mark.parametrize("ring_algorithms", [ALL_ALGORITHMS])
def test_algorithm_not_bound_to_key(
    verifier: Verifier, ring: KeyRing, virtual_clock: VirtualClock
) -> None:
    ed = next(k for k in ring.list_keys() if k.alg == "EdDSA")
    good = craft(
        {"alg": "EdDSA", "kid": ed.kid, "typ": "at+jwt"}, claims(virtual_clock), ed.key.private_key
    )
    assert verifier.verify(good).alg == "EdDSA"
    # RFC 9864's name for the same algorithm is accepted for an Ed25519 key.
    also = craft(
        {"alg": "Ed25519", "kid": ed.kid, "typ": "at+jwt"},
        claims(virtual_clock),
        ed.key.private_key,
    )
    assert verifier.verify(also).alg == "Ed25519"
    rs = next(k for k in ring.list_keys() if k.alg == "RS256")
    # An RS256 key published for RS256 only: PS256 with it is refused.
    ps = craft(
        {"alg": "PS256", "kid": rs.kid, "typ": "at+jwt"},
        claims(virtual_clock),
        rs.key.private_key,
    )
    refused(verifier, ps, "algorithm_not_allowed")


def test_hmac_keyed_with_public_key(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    pem = es_key.key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    h = b64url_encode(b'{"alg":"HS256","kid":"%s","typ":"at+jwt"}' % es_key.kid.encode())
    p = b64url_encode(__import__("json").dumps(claims(virtual_clock)).encode())
    mac = hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
    refused(verifier, f"{h}.{p}.{b64url_encode(mac)}", "algorithm_not_allowed")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jku", "https://evil.example/jwks"),
        ("x5u", "https://evil.example/cert.pem"),
        (
            "jwk",
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ),
        ("x5c", ["MIIB"]),
    ],
)
def test_embedded_keys(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, name: str, value: Any
) -> None:
    token = craft(header(es_key, **{name: value}), claims(virtual_clock), es_key.key.private_key)
    refused(verifier, token, "embedded_key_refused")


@pytest.mark.parametrize("crit", [["exp"], "exp", [], [1]])
def test_crit(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, crit: Any) -> None:
    token = craft(header(es_key, crit=crit, exp=1), claims(virtual_clock), es_key.key.private_key)
    refused(verifier, token, "crit_not_understood")


def test_b64_false(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    with_crit = craft(
        header(es_key, b64=False, crit=["b64"]), claims(virtual_clock), es_key.key.private_key
    )
    refused(verifier, with_crit, "crit_not_understood")
    without = craft(header(es_key, b64=False), claims(virtual_clock), es_key.key.private_key)
    refused(verifier, without, "unsupported_token")


def test_nested_token(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    inner = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    outer = craft(header(es_key, cty="JWT"), f'"{inner}"', es_key.key.private_key)
    refused(verifier, outer, "unsupported_token")


def test_jwe(verifier: Verifier) -> None:
    jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"
    refused(verifier, jwe, "unsupported_token")
    enc_header = b64url_encode(b'{"alg":"ES256","enc":"A256GCM"}')
    refused(verifier, f"{enc_header}.e30.AA", "unsupported_token")


def test_duplicate_member_in_header(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    text = f'{{"alg":"ES256","kid":"{es_key.kid}","typ":"at+jwt","alg":"ES256"}}'
    refused(
        verifier,
        craft(text, claims(virtual_clock), es_key.key.private_key, "ES256"),
        "duplicate_member",
    )


def test_duplicate_member_in_claims(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    body = __import__("json").dumps(claims(virtual_clock))
    duplicated = body[:-1] + ', "sub": "p-other"}'
    refused(verifier, craft(header(es_key), duplicated, es_key.key.private_key), "duplicate_member")


def test_oversized(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    big = craft(header(es_key), claims(virtual_clock, pad="x" * 9000), es_key.key.private_key)
    refused(verifier, big, "token_too_large")


def test_non_canonical_base64url(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    h, p, s = token.split(".")
    refused(verifier, f"{h}.{p}=.{s}", "malformed_token")  # padding
    refused(verifier, f"{h}.{p}.{s[:-2]}+{s[-1]}", "malformed_token")  # '+' (base64, not url)
    refused(verifier, f"{h}.{p}.{s} ", "malformed_token")  # whitespace
    # 64 bytes -> 86 characters: the last carries 4 spare bits that must be zero.
    assert len(s) % 4 == 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = alphabet[alphabet.index(s[-1]) + 1]
    refused(verifier, f"{h}.{p}.{s[:-1]}{spare}", "malformed_token")
    refused(verifier, "a.b", "malformed_token")


def test_wrong_typ(issuer: Issuer, verifier: Verifier, person: Any) -> None:
    tokens = issuer.sign_in(person, client=AUD, acr=4).tokens
    assert tokens.id_token is not None
    verifier.verify(tokens.access_token)
    # An ID token presented as an access token.
    refused(verifier, tokens.id_token, "invalid_type")
    # ... and the other way round.
    refused(verifier, tokens.access_token, "invalid_type", kind="id")
    assert verifier.verify(tokens.id_token, kind="id").kind == "id"


def test_missing_typ(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    no_typ = {"alg": "ES256", "kid": es_key.kid}
    refused(verifier, craft(no_typ, claims(virtual_clock), es_key.key.private_key), "invalid_type")


@pytest.mark.parametrize("iss", ["https://evil.example", ISSUER + "/", _DROP, 7])
def test_issuer(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, iss: Any) -> None:
    token = craft(header(es_key), claims(virtual_clock, iss=iss), es_key.key.private_key)
    refused(verifier, token, "invalid_issuer")


@pytest.mark.parametrize(
    "aud", ["hall-370500", "hall-37050", _DROP, ["hall-370500"], [AUD, "hall-370500"]]
)
def test_audience(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, aud: Any) -> None:
    token = craft(header(es_key), claims(virtual_clock, aud=aud), es_key.key.private_key)
    refused(verifier, token, "invalid_audience")


def test_several_audiences_need_azp(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    ok = craft(
        header(es_key),
        claims(virtual_clock, aud=[AUD, "hall-370500"], azp="hall-370500"),
        es_key.key.private_key,
    )
    assert verifier.verify(ok).audience == AUD
    stray = craft(
        header(es_key),
        claims(virtual_clock, aud=[AUD, "hall-370500"], azp="hall-370523"),
        es_key.key.private_key,
    )
    refused(verifier, stray, "invalid_audience")


def test_expired(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    verifier.verify(token)
    virtual_clock.advance(300 + 59)  # within the 60 s leeway
    verifier.verify(token)
    virtual_clock.advance(2)
    refused(verifier, token, "expired")


def test_not_yet_valid(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    now = int(virtual_clock.time())
    ok = craft(header(es_key), claims(virtual_clock, nbf=now + 30), es_key.key.private_key)
    verifier.verify(ok)
    early = craft(header(es_key), claims(virtual_clock, nbf=now + 120), es_key.key.private_key)
    refused(verifier, early, "not_yet_valid")


def test_issued_in_future(verifier: Verifier, es_key: Any, virtual_clock: VirtualClock) -> None:
    now = int(virtual_clock.time())
    future = craft(
        header(es_key),
        claims(virtual_clock, iat=now + 600, exp=now + 900),
        es_key.key.private_key,
    )
    refused(verifier, future, "issued_in_future")


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": "soon"},
        {"exp": _DROP},
        {"iat": _DROP},
        {"exp": True},
        {"sub": 42},
        {"sub": _DROP},
        {"scope": ["cases:read"]},
        {"acr": 4},
        {"amr": "pwd"},
        {"aud": [AUD, 5]},
        {"nbf": "now"},
        {"jti": _DROP},
    ],
)
def test_claims_of_wrong_type(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, bad: dict[str, Any]
) -> None:
    token = craft(header(es_key), claims(virtual_clock, **bad), es_key.key.private_key)
    refused(verifier, token, "invalid_claim")


def test_other_issuers_key_claiming_this_issuer(
    issuer: Issuer, virtual_clock: VirtualClock
) -> None:
    province_key = OKPKey.generate_key("Ed25519", auto_kid=True)

    class Static:
        def __init__(self, key: VerificationKey) -> None:
            self.key = key

        def lookup(self, kid: str) -> VerificationKey | None:
            return self.key if kid == self.key.kid else None

        get_key = lookup

        async def aget_key(self, kid: str) -> VerificationKey | None:
            return self.lookup(kid)

    kid = province_key.kid or ""
    province = TrustedIssuer(
        "https://sso.shandong.example", Static(VerificationKey.from_key(province_key, kid, "EdDSA"))
    )
    verifier = Verifier([issuer.trusted(), province], audience=AUD, clock=virtual_clock)
    own = craft(
        {"alg": "EdDSA", "kid": kid, "typ": "at+jwt"},
        claims(virtual_clock, iss="https://sso.shandong.example"),
        province_key.private_key,
    )
    assert verifier.verify(own).issuer == "https://sso.shandong.example"
    forged = craft(
        {"alg": "EdDSA", "kid": kid, "typ": "at+jwt"},
        claims(virtual_clock),
        province_key.private_key,
    )
    refused(verifier, forged, "invalid_issuer")


def test_replayed_one_time_token(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    verifier.verify(token, once=True)
    refused(verifier, token, "token_replayed", once=True)
    other = craft(header(es_key), claims(virtual_clock, jti="another"), es_key.key.private_key)
    verifier.verify(other, once=True)


def test_bad_signature_and_unknown_key(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock
) -> None:
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    h, p, s = token.split(".")
    other = craft(header(es_key), claims(virtual_clock, sub="p-other"), es_key.key.private_key)
    refused(verifier, f"{h}.{other.split('.')[1]}.{s}", "invalid_signature")
    refused(verifier, f"{h}.{p}.{b64url_encode(b'x' * 63)}", "invalid_signature")
    unknown = craft(header(es_key, kid="nope"), claims(virtual_clock), es_key.key.private_key)
    refused(verifier, unknown, "unknown_key")
    no_kid = craft({"alg": "ES256", "typ": "at+jwt"}, claims(virtual_clock), es_key.key.private_key)
    refused(verifier, no_kid, "unknown_key")


def test_retired_key_is_unknown(
    issuer: Issuer, ring: KeyRing, es_key: Any, virtual_clock: VirtualClock
) -> None:
    ring.rotate("ES256")
    virtual_clock.advance(ring.policy.jwks_cache_lifetime + ring.policy.max_token_lifetime + 61)
    assert ring.get(es_key.kid).state(virtual_clock.time()) is KeyState.RETIRED
    token = craft(header(es_key), claims(virtual_clock), es_key.key.private_key)
    refused(issuer.verifier(AUD), token, "unknown_key")


@pytest.mark.parametrize(
    "body",
    [
        '{{"iss":"{iss}","sub":"p","aud":"{aud}","iat":{now},"exp":Infinity,"jti":"j"}}',
        '{{"iss":"{iss}","sub":"p","aud":"{aud}","iat":{now},"exp":NaN,"jti":"j"}}',
        '{{"iss":"{iss}","sub":"p","aud":"{aud}","iat":{now},"exp":1{zeros},"jti":"j"}}',
        '{{"iss":"{iss}","sub":"p","aud":"{aud}","iat":{now},"exp":{exp},"jti":"j","x":{deep}}}',
    ],
    ids=["infinity", "nan", "huge-exp", "deep-nesting"],
)
def test_hostile_json(
    verifier: Verifier, es_key: Any, virtual_clock: VirtualClock, body: str
) -> None:
    now = int(virtual_clock.time())
    text = body.format(
        iss=ISSUER,
        aud=AUD,
        now=now,
        exp=now + 60,
        zeros="0" * 400,
        deep="[" * 2400 + "]" * 2400,
    )
    with pytest.raises(InvalidToken) as info:
        verifier.verify(craft(header(es_key), text, es_key.key.private_key))
    assert info.value.code in {"malformed_token", "invalid_claim"}
