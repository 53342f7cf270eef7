"""RFC 8693 token exchange: allowed within a session and from the provincial platform; every
other request refused with the RFC's error."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from identity_helpers import ISSUER, StaticKeys, craft
from joserfc.jwk import OKPKey

from govlink import VirtualClock
from govlink.identity import (
    TOKEN_TYPE_JWT,
    ExchangeError,
    ExchangePolicy,
    ExchangeRule,
    Issuer,
    PersonSubject,
    ProvincialMapping,
    TokenExchange,
    VerificationKey,
)
from govlink.identity._jose import b64url_decode

PROVINCE = "https://sso.shandong.example"
CITY_AT_PROVINCE = "city-370500"


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


@pytest.fixture
def exchange(issuer: Issuer, province_key: OKPKey) -> TokenExchange:
    policy = ExchangePolicy(
        (
            ExchangeRule(
                ISSUER,
                clients=frozenset({"hall-370502"}),
                audiences=frozenset({"hall-370503", "hall-370500"}),
                scopes=frozenset({"cases:read", "items:read"}),
                delegate=True,
            ),
            ExchangeRule(PROVINCE, min_acr=3),
        )
    )
    mapping = ProvincialMapping(
        PROVINCE,
        StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
        audience=CITY_AT_PROVINCE,
        acr_claim="loa",
        acr_map={"L2": "2", "L3": "3", "L4": "4"},
    )
    return TokenExchange(issuer, policy, provinces=[mapping])


def claims_of(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def county_token(issuer: Issuer, person: PersonSubject, **kwargs: Any) -> str:
    return issuer.sign_in(person, client="hall-370502", acr=4, **kwargs).tokens.access_token


def test_hall_token_for_another_hall(
    issuer: Issuer, exchange: TokenExchange, person: PersonSubject
) -> None:
    subject = county_token(issuer, person)
    tokens = exchange.exchange(
        client="370502", subject_token=subject, audience="370503", scope="cases:read"
    )
    verified = issuer.verifier("370503").verify(tokens.access_token)
    assert verified.scopes == {"cases:read"}
    assert verified.claims["act"] == {"sub": "hall-370502"}
    assert verified.claims["sid"] == claims_of(subject)["sid"]
    assert verified.claims["acr"] == "4"
    # Without a scope: the intersection of the subject token, the target and the rule.
    default = exchange.exchange(client="370502", subject_token=subject, audience="370503")
    assert default.scope == "cases:read items:read"
    assert tokens.issued_token_type == "urn:ietf:params:oauth:token-type:access_token"


def test_act_claims_nest(issuer: Issuer, exchange: TokenExchange, person: PersonSubject) -> None:
    sid = issuer.sign_in(person, client="hall-370502", acr=4).session.sid
    acted = issuer.tokens_for(sid, "hall-370502", act={"sub": "hall-370500"}).access_token
    tokens = exchange.exchange(client="370502", subject_token=acted, audience="370503")
    assert claims_of(tokens.access_token)["act"] == {
        "sub": "hall-370502",
        "act": {"sub": "hall-370500"},
    }


@pytest.mark.parametrize(
    ("request_args", "error"),
    [
        ({"client": "370505", "audience": "370503"}, "unauthorized_client"),
        ({"client": "nobody", "audience": "370503"}, "unauthorized_client"),
        ({"client": "370502", "audience": "370522"}, "invalid_target"),
        ({"client": "370502", "audience": "999999"}, "invalid_target"),
        ({"client": "370502", "audience": "370503", "scope": "cases:write"}, "invalid_scope"),
        (
            {"client": "370502", "audience": "370503", "subject_token_type": "saml"},
            "invalid_request",
        ),
        (
            {
                "client": "370502",
                "audience": "370503",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
            "invalid_request",
        ),
        ({"client": "370502", "audience": ""}, "invalid_request"),
    ],
)
def test_refused_requests(
    issuer: Issuer,
    exchange: TokenExchange,
    person: PersonSubject,
    request_args: dict[str, Any],
    error: str,
) -> None:
    subject = county_token(issuer, person)
    with pytest.raises(ExchangeError) as info:
        exchange.exchange(subject_token=subject, **request_args)
    assert info.value.error == error
    assert info.value.to_oauth()["error"] == error


def test_refused_subject_tokens(
    issuer: Issuer, exchange: TokenExchange, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    # A token addressed to another hall cannot be presented by 370502.
    city = issuer.sign_in(person, client="hall-370500", acr=4).tokens.access_token
    with pytest.raises(ExchangeError, match="invalid_audience") as info:
        exchange.exchange(client="370502", subject_token=city, audience="370503")
    assert info.value.error == "invalid_grant"
    ended = issuer.sign_in(person, client="hall-370502", acr=4)
    issuer.logout(ended.session.sid)
    with pytest.raises(ExchangeError) as info:
        exchange.exchange(
            client="370502", subject_token=ended.tokens.access_token, audience="370503"
        )
    assert info.value.error == "invalid_grant"
    old = county_token(issuer, person)
    virtual_clock.advance(3600)
    with pytest.raises(ExchangeError, match="expired"):
        exchange.exchange(client="370502", subject_token=old, audience="370503")


def province_token(key: OKPKey, clock: VirtualClock, **extra: Any) -> str:
    now = int(clock.time())
    claims = {
        "iss": PROVINCE,
        "sub": "sd-0001",
        "aud": CITY_AT_PROVINCE,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "loa": "L4",
        "user_type": "1",
        "masked_id": "3705**********123X",
        **extra,
    }
    return craft({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, claims, key.private_key)


def test_provincial_token_for_a_city_token(
    issuer: Issuer, exchange: TokenExchange, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    ticket = province_token(province_key, virtual_clock)
    tokens = exchange.exchange(
        client="370502",
        subject_token=ticket,
        subject_token_type=TOKEN_TYPE_JWT,
        audience="370502",
    )
    verified = issuer.verifier("370502").verify(tokens.access_token)
    assert verified.issuer == ISSUER
    assert verified.acr == "4"
    assert verified.claims["idp"] == PROVINCE
    assert verified.claims["subject_type"] == "person"
    assert verified.claims["masked_id"] == "3705**********123X"
    assert verified.claims["amr"] == ["fed"]
    # The provincial user now has a city SSO session: other halls without a new sign-in.
    other = issuer.tokens_for(verified.claims["sid"], "370523")
    assert claims_of(other.access_token)["sub"] == verified.subject
    # The same person again gets the same city sub.
    again = exchange.exchange(
        client="370502",
        subject_token=province_token(province_key, virtual_clock),
        subject_token_type=TOKEN_TYPE_JWT,
        audience="370502",
    )
    assert claims_of(again.access_token)["sub"] == verified.subject
    # A provincial ticket is one-time.
    with pytest.raises(ExchangeError, match="token_replayed") as info:
        exchange.exchange(client="370502", subject_token=ticket, audience="370502")
    assert info.value.error == "invalid_grant"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"loa": "L1"}, "cannot be mapped"),
        ({"loa": "L2"}, "too low"),
        ({"aud": "city-370600"}, "invalid_audience"),
        ({"user_type": "9"}, "subject type"),
    ],
)
def test_provincial_refusals(
    exchange: TokenExchange,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    extra: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(ExchangeError, match=match) as info:
        exchange.exchange(
            client="370502",
            subject_token=province_token(province_key, virtual_clock, **extra),
            audience="370502",
        )
    assert info.value.error == "invalid_grant"


def test_city_key_cannot_sign_provincial_claims(
    issuer: Issuer, exchange: TokenExchange, virtual_clock: VirtualClock
) -> None:
    es = issuer.keys.signing_key("ES256")
    now = int(virtual_clock.time())
    forged = craft(
        {"alg": "ES256", "kid": es.kid, "typ": "JWT"},
        {
            "iss": PROVINCE,
            "sub": "x",
            "aud": CITY_AT_PROVINCE,
            "iat": now,
            "exp": now + 60,
            "jti": "j",
            "loa": "L4",
        },
        es.key.private_key,
    )
    with pytest.raises(ExchangeError, match="invalid_issuer"):
        exchange.exchange(client="370502", subject_token=forged, audience="370502")


def test_copied_claims_never_override_registered_ones(
    issuer: Issuer, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    mapping = ProvincialMapping(
        PROVINCE,
        StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
        audience=CITY_AT_PROVINCE,
        acr_claim="loa",
        acr_map={"L4": "4"},
        copy_claims=("masked_id", "iss", "aud", "sub"),  # a careless configuration
    )
    exchange = TokenExchange(issuer, ExchangePolicy((ExchangeRule(PROVINCE),)), provinces=[mapping])
    tokens = exchange.exchange(
        client="370502",
        subject_token=province_token(province_key, virtual_clock),
        audience="370502",
    )
    claims = issuer.verifier("370502").verify(tokens.access_token).claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "hall-370502"
    assert claims["sub"] != "sd-0001"
