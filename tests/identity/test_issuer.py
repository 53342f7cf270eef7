"""The issuer on every store backend: SSO, single logout, refresh rotation, revocation,
introspection."""

from __future__ import annotations

import json

import pytest
from identity_helpers import ISSUER

from govlink import ValidationError, VirtualClock
from govlink.identity import (
    HallRegistry,
    Issuer,
    KeyRing,
    LegalPersonSubject,
    PassphraseProtector,
    PersonSubject,
    RefreshTokenError,
    SessionEnded,
    StaffSubject,
    TokenPolicy,
    TokenRevoked,
    TokenSet,
    TrustedIssuer,
    Verifier,
)
from govlink.identity._jose import b64url_decode
from govlink.store import Store

CITY, COUNTY = "hall-370500", "hall-370502"


@pytest.fixture
def city_issuer(any_store: Store, virtual_clock: VirtualClock) -> Issuer:
    ring = KeyRing(any_store, PassphraseProtector("pw"), clock=virtual_clock)
    ring.init(["ES256"])
    return Issuer(
        issuer=ISSUER,
        keys=ring,
        halls=HallRegistry.demo_city(),
        store=any_store,
        clock=virtual_clock,
        policy=TokenPolicy(refresh_grace=10),
    )


def claims_of(token: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def test_sso_across_two_halls_and_single_logout(city_issuer: Issuer, person: PersonSubject) -> None:
    sign_in = city_issuer.sign_in(person, client="370500", acr=4, amr=["face"])
    at_city = sign_in.tokens.access_token
    # Single sign-on: the county hall gets its token from the same session, no new sign-in.
    at_county = city_issuer.tokens_for(sign_in.session.sid, "370502").access_token
    city_verifier, county_verifier = city_issuer.verifier("370500"), city_issuer.verifier(COUNTY)
    city_claims = city_verifier.verify(at_city).claims
    county_claims = county_verifier.verify(at_county).claims
    assert city_claims["sub"] == county_claims["sub"]
    assert city_claims["sid"] == county_claims["sid"] == sign_in.session.sid
    assert county_claims["acr"] == "4"
    assert county_claims["amr"] == ["face"]
    assert city_claims["masked_id"] == "1101**********002X"
    assert "11010519491231002X" not in at_city + at_county
    assert city_issuer.session_clients(sign_in.session.sid) == [CITY, COUNTY]

    notices = city_issuer.logout(sign_in.session.sid)
    assert [n.client.client_id for n in notices] == [CITY, COUNTY]
    logout_verifier = Verifier(
        [
            TrustedIssuer(
                ISSUER,
                city_issuer.trusted().keys,
                token_types={"logout": frozenset({"logout+jwt"})},
            )
        ],
        clock=city_issuer.clock,
    )
    for notice in notices:
        logout = logout_verifier.verify(
            notice.logout_token, audience=notice.client.client_id, kind="logout"
        )
        assert logout.claims["sid"] == sign_in.session.sid
        assert "http://schemas.openid.net/event/backchannel-logout" in logout.claims["events"]
    # Both halls refuse, even though both tokens sit in their verified-token caches.
    for verifier, token in ((city_verifier, at_city), (county_verifier, at_county)):
        with pytest.raises(TokenRevoked):
            verifier.verify(token)
    with pytest.raises(SessionEnded):
        city_issuer.tokens_for(sign_in.session.sid, "370503")


def test_revocation_reaches_another_process(
    city_issuer: Issuer, any_store: Store, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    tokens = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    other = Issuer(
        issuer=ISSUER,
        keys=city_issuer.keys,
        halls=city_issuer.halls,
        store=any_store,
        clock=virtual_clock,
    )
    verifier = other.verifier(COUNTY)
    verifier.verify(tokens.access_token)
    city_issuer.logout(tokens.session_id)
    virtual_clock.advance(other.revocations.poll_interval)
    with pytest.raises(TokenRevoked):
        verifier.verify(tokens.access_token)


def test_refresh_rotation_and_family_revocation(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    first = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens.refresh_token
    assert first is not None
    second = city_issuer.refresh(first, COUNTY)
    assert second.refresh_token not in (None, first)
    city_issuer.verifier(COUNTY).verify(second.access_token)
    # Reused within the grace (a lost response): answered once more.
    virtual_clock.advance(5)
    replay = city_issuer.refresh(first, COUNTY)
    assert replay.refresh_token is not None
    # ... and the successor it had got before is spent.
    virtual_clock.advance(30)
    with pytest.raises(RefreshTokenError) as reused:
        city_issuer.refresh(first, COUNTY)
    assert reused.value.error == "invalid_grant"
    assert city_issuer.refresh_family_revoked(first)
    # The whole family is revoked: the newest token no longer works either.
    with pytest.raises(RefreshTokenError, match="revoked"):
        city_issuer.refresh(replay.refresh_token, COUNTY)


def test_refresh_refusals(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    tokens = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    assert tokens.refresh_token is not None
    with pytest.raises(RefreshTokenError, match="another client"):
        city_issuer.refresh(tokens.refresh_token, CITY)
    with pytest.raises(RefreshTokenError, match="unknown"):
        city_issuer.refresh("glrt_nope", COUNTY)
    city_issuer.logout(tokens.session_id)
    with pytest.raises(RefreshTokenError):
        city_issuer.refresh(tokens.refresh_token, COUNTY)


def test_revocation_by_token_session_subject(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    verifier = city_issuer.verifier(COUNTY)
    a = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    b = city_issuer.tokens_for(a.session_id, COUNTY)
    assert city_issuer.revoke_token(a.access_token)
    with pytest.raises(TokenRevoked):
        verifier.verify(a.access_token)
    verifier.verify(b.access_token)  # only that token
    assert not city_issuer.revoke_token("not a token")

    c = city_issuer.sign_in(person, client=COUNTY, acr=3)
    city_issuer.revoke_session(c.session.sid)
    with pytest.raises(TokenRevoked):
        verifier.verify(c.tokens.access_token)

    d = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    assert city_issuer.revoke_subject(city_issuer.subject_id(person)) >= 1
    with pytest.raises(TokenRevoked):
        verifier.verify(d.access_token)
    assert list(city_issuer.sessions_of(city_issuer.subject_id(person))) == []
    virtual_clock.advance(1)
    # A new sign-in after the revocation works again.
    fresh = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    verifier.verify(fresh.access_token)


def test_introspection(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    tokens = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens
    assert tokens.refresh_token is not None
    info = city_issuer.introspect(tokens.access_token)
    assert info["active"] is True
    assert info["aud"] == COUNTY
    assert info["sid"] == tokens.session_id
    refresh = city_issuer.introspect(tokens.refresh_token)
    assert refresh["active"] is True
    assert refresh["client_id"] == COUNTY
    assert city_issuer.introspect("garbage") == {"active": False}
    assert city_issuer.introspect("glrt_unknown") == {"active": False}
    city_issuer.revoke_token(tokens.refresh_token)
    assert city_issuer.introspect(tokens.refresh_token) == {"active": False}
    virtual_clock.advance(3600)
    assert city_issuer.introspect(tokens.access_token) == {"active": False}


def test_subjects_and_claims(
    city_issuer: Issuer, person: PersonSubject, legal_person: LegalPersonSubject
) -> None:
    legal = city_issuer.sign_in(legal_person, client=COUNTY, acr=4).tokens.access_token
    claims = claims_of(legal)
    assert claims["subject_type"] == "legal"
    assert claims["credit_code"] == str(legal_person.credit_code)
    assert claims["agent"] == {"masked_id": "1101**********002X"}
    staff = StaffSubject("S-001", department="市场监管局", hall="370502", roles=("reviewer",))
    staff_claims = claims_of(city_issuer.sign_in(staff, client=COUNTY, acr=5).tokens.access_token)
    assert staff_claims["roles"] == ["reviewer"]
    assert staff_claims["subject_type"] == "staff"
    # sub is stable across sign-ins and differs between subjects.
    again = claims_of(city_issuer.sign_in(person, client=COUNTY, acr=3).tokens.access_token)
    once = claims_of(city_issuer.sign_in(person, client=COUNTY, acr=3).tokens.access_token)
    assert again["sub"] == once["sub"] != claims["sub"]
    with pytest.raises(ValidationError) as info:
        city_issuer.sign_in(person, client=COUNTY, acr=7)
    assert info.value.field == "acr"
    assert "1101" in repr(person)
    assert "11010519491231002X" not in repr(person)


def test_pairwise_subjects(
    sqlite_store: Store, virtual_clock: VirtualClock, person: PersonSubject
) -> None:
    ring = KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock)
    ring.init(["EdDSA"])
    issuer = Issuer(
        issuer=ISSUER,
        keys=ring,
        halls=HallRegistry.demo_city(),
        store=sqlite_store,
        clock=virtual_clock,
        policy=TokenPolicy(pairwise=True),
    )
    sign_in = issuer.sign_in(person, client=CITY, acr=3)
    county = issuer.tokens_for(sign_in.session.sid, COUNTY)
    assert claims_of(sign_in.tokens.access_token)["sub"] != claims_of(county.access_token)["sub"]
    issuer.revoke_subject(issuer.subject_id(person))
    with pytest.raises(TokenRevoked):
        issuer.verifier(COUNTY).verify(county.access_token)


def test_scope_narrowing_and_id_token(city_issuer: Issuer, person: PersonSubject) -> None:
    tokens = city_issuer.sign_in(
        person, client=COUNTY, acr=3, scope="openid cases:read admin", nonce="n-1"
    ).tokens
    assert tokens.scope == "cases:read openid"
    assert tokens.id_token is not None
    id_claims = city_issuer.verifier(COUNTY).verify(tokens.id_token, kind="id").claims
    assert id_claims["nonce"] == "n-1"
    assert id_claims["azp"] == COUNTY
    no_openid = city_issuer.sign_in(person, client=COUNTY, acr=3, scope="cases:read").tokens
    assert no_openid.id_token is None
    assert set(tokens.to_dict()) >= {"access_token", "token_type", "expires_in", "id_token"}


def test_concurrent_refresh_has_one_winner(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    """Four uses of one refresh token at the same moment (the client and thieves): the first
    is answered, one replay within the grace is answered once more (a lost response), and the
    next one is theft: refused, and the whole family is revoked (issue 9.9)."""
    import threading

    first = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens.refresh_token
    assert first is not None
    results: list[object] = []
    barrier = threading.Barrier(4)

    def use() -> None:
        barrier.wait()
        try:
            results.append(city_issuer.refresh(first, COUNTY))
        except RefreshTokenError as exc:
            results.append(exc)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    issued = [r for r in results if isinstance(r, TokenSet)]
    assert len(issued) == 2
    assert sum(isinstance(r, RefreshTokenError) for r in results) == 2
    assert city_issuer.refresh_family_revoked(first)
    for tokens in issued:
        assert isinstance(tokens.refresh_token, str)
        assert not city_issuer.introspect(tokens.refresh_token)["active"]


def test_grace_answers_a_reused_refresh_token_once(
    city_issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    first = city_issuer.sign_in(person, client=COUNTY, acr=3).tokens.refresh_token
    assert first is not None
    city_issuer.refresh(first, COUNTY)
    virtual_clock.advance(2)
    again = city_issuer.refresh(first, COUNTY)  # lost response: answered once more
    assert again.refresh_token is not None
    assert city_issuer.introspect(again.refresh_token)["active"]
    virtual_clock.advance(2)
    with pytest.raises(RefreshTokenError, match="reused"):
        city_issuer.refresh(first, COUNTY)  # still inside the grace, but a second replay
    assert city_issuer.refresh_family_revoked(first)


def test_every_revocation_moves_the_epoch(any_store: Store, virtual_clock: VirtualClock) -> None:
    import threading

    from govlink.identity import RevocationRegistry

    registries = [RevocationRegistry(any_store, clock=virtual_clock) for _ in range(4)]
    start = registries[0].epoch

    def revoke(index: int) -> None:
        for n in range(5):
            registries[index].revoke("jti", f"{index}-{n}", expires_at=virtual_clock.time() + 60)

    threads = [threading.Thread(target=revoke, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    virtual_clock.advance(registries[0].poll_interval)
    watcher = RevocationRegistry(any_store, clock=virtual_clock)
    assert watcher.epoch == start + 20
    assert all(watcher.is_revoked({"jti": f"{i}-{n}"}) for i in range(4) for n in range(5))


def test_reprs_hold_no_credentials_or_personal_data(
    city_issuer: Issuer, person: PersonSubject
) -> None:
    sign_in = city_issuer.sign_in(person, client=COUNTY, acr=3, scope="openid cases:read")
    text = repr(sign_in)
    tokens = sign_in.tokens
    assert tokens.id_token is not None
    assert tokens.refresh_token is not None
    for secret in (tokens.access_token, tokens.id_token, tokens.refresh_token):
        assert secret not in text
    assert "11010519491231002X" not in text
    assert "pw" not in repr(city_issuer.keys.protector)
