"""The verified-token cache, async verification, replay guards, the caller-facing error."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from govlink import VirtualClock
from govlink.identity import (
    InvalidAudience,
    InvalidToken,
    InvalidTokenType,
    Issuer,
    MemoryReplayGuard,
    PersonSubject,
    StoreReplayGuard,
    TokenExpired,
    TokenRevoked,
    Verifier,
)
from govlink.store import Store

AUD = "hall-370502"


def test_cache_hit_is_the_same_result(issuer: Issuer, person: PersonSubject) -> None:
    verifier = issuer.verifier(AUD)
    token = issuer.sign_in(person, client=AUD, acr=3).tokens.access_token
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    with pytest.raises(TypeError):
        first.claims["sub"] = "x"  # type: ignore[index]  # read-only on purpose


def test_cache_never_outlives_exp(
    issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    verifier = issuer.verifier(AUD)
    token = issuer.sign_in(person, client=AUD, acr=3).tokens.access_token
    verifier.verify(token)
    virtual_clock.advance(issuer.policy.access_ttl)  # exp reached: the cache stops serving
    # Within the leeway a full verification still passes...
    verifier.verify(token)
    virtual_clock.advance(61)
    with pytest.raises(TokenExpired):
        verifier.verify(token)


def test_cache_never_outlives_a_revocation(issuer: Issuer, person: PersonSubject) -> None:
    verifier = issuer.verifier(AUD)
    tokens = issuer.sign_in(person, client=AUD, acr=3).tokens
    verifier.verify(tokens.access_token)
    issuer.revoke_token(tokens.access_token)
    with pytest.raises(TokenRevoked):
        verifier.verify(tokens.access_token)


def test_cache_checks_kind_and_audience(issuer: Issuer, person: PersonSubject) -> None:
    verifier = issuer.verifier(AUD)
    token = issuer.sign_in(person, client=AUD, acr=3).tokens.access_token
    verifier.verify(token)
    with pytest.raises(InvalidTokenType):
        verifier.verify(token, kind="id")
    with pytest.raises(InvalidAudience):
        verifier.verify(token, audience="hall-370500")


def test_cache_is_bounded(issuer: Issuer, person: PersonSubject) -> None:
    verifier = issuer.verifier(AUD, cache_size=3)
    sid = issuer.sign_in(person, client=AUD, acr=3).session.sid
    tokens = [issuer.tokens_for(sid, AUD, refresh=False).access_token for _ in range(10)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._cache) == 3
    assert set(verifier._cache) == set(tokens[-3:])


def test_async_verify(issuer: Issuer, person: PersonSubject) -> None:
    verifier = issuer.verifier(AUD)
    token = issuer.sign_in(person, client=AUD, acr=3).tokens.access_token

    async def both() -> None:
        result = await verifier.averify(token)
        assert result.subject == verifier.verify(token).subject
        with pytest.raises(InvalidToken):
            await verifier.averify(token + "x")

    asyncio.run(both())


def test_store_replay_guard(any_store: Store, virtual_clock: VirtualClock) -> None:
    guard = StoreReplayGuard(any_store, virtual_clock)
    assert guard.first_use("iss", "j1", virtual_clock.time() + 60)
    assert not guard.first_use("iss", "j1", virtual_clock.time() + 60)
    assert guard.first_use("other", "j1", virtual_clock.time() + 60)


def test_memory_replay_guard_full_refuses(virtual_clock: VirtualClock) -> None:
    guard = MemoryReplayGuard(virtual_clock, max_entries=2)
    now = virtual_clock.time()
    assert guard.first_use("i", "a", now + 10)
    assert guard.first_use("i", "b", now + 10)
    assert not guard.first_use("i", "c", now + 10)  # cannot prove freshness: refuse
    virtual_clock.advance(11)
    assert guard.first_use("i", "c", now + 30)  # expired entries were forgotten


def test_what_the_caller_sees() -> None:
    error = TokenRevoked("session 123 logged out")
    assert error.code == "token_revoked"
    header = error.www_authenticate(realm="hall-370502")
    assert "session" not in header
    assert "revoked" not in header
    assert header.endswith('error="invalid_token", error_description="invalid token"')
    assert error.to_dict()["detail"] == "session 123 logged out"


def test_verifier_configuration_errors(issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Verifier([])
    with pytest.raises(ValueError, match="twice"):
        Verifier([issuer.trusted(), issuer.trusted()])
    with pytest.raises(TypeError):
        Verifier([issuer.trusted()]).verify("a.b.c")


def test_claim_mapping_per_issuer(issuer: Issuer, person: PersonSubject) -> None:
    def to_city(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**claims, "acr": {"3": "L3", "4": "L4"}.get(str(claims.get("acr")), "none")}

    trusted = replace(issuer.trusted(), claim_mapping=to_city)
    verifier = Verifier([trusted], audience=AUD, clock=issuer.clock)
    token = issuer.sign_in(person, client=AUD, acr=4).tokens.access_token
    verified = verifier.verify(token)
    assert verified.claims["acr"] == "L4"
    assert issuer.verifier(AUD).verify(token).claims["acr"] == "4"
