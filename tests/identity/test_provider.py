"""The identity provider over HTTP: discovery, JWKS, the code flow with PKCE and a provincial
ticket, SSO across halls, refresh, exchange, revocation, introspection, single logout — and the
RFC error of every refused request."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER, StaticKeys, craft
from joserfc.jwk import OKPKey

from govlink import ValidationError, VirtualClock
from govlink._http import httpx
from govlink.identity import (
    GRANT_TYPE,
    TOKEN_TYPE_JWT,
    CityIdentity,
    ClientSecrets,
    ExchangePolicy,
    ExchangeRule,
    HallRegistry,
    InvalidToken,
    Issuer,
    KeyRing,
    LogoutNotice,
    ProvincialMapping,
    TokenExchange,
    VerificationKey,
    create_provider_app,
)
from govlink.identity._jose import b64url_encode

pytestmark = pytest.mark.anyio

PROVINCE = "https://sso.shandong.example"
CITY_AT_PROVINCE = "city-370500"
HALL_A, HALL_B = "hall-370502", "hall-370503"


def redirect_uri(client_id: str) -> str:
    return f"https://{client_id.removeprefix('hall-')}.hall.example/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


@pytest.fixture
def secrets_plain(halls: HallRegistry) -> dict[str, str]:
    return {c.client_id: secrets.token_urlsafe(16) for c in halls}


class Delivered:
    def __init__(self) -> None:
        self.notices: list[LogoutNotice] = []

    async def __call__(self, notices: list[LogoutNotice]) -> None:
        self.notices.extend(notices)


@pytest.fixture
def delivered() -> Delivered:
    return Delivered()


@pytest.fixture
async def http(
    ring: KeyRing,
    halls: HallRegistry,
    issuer: Issuer,
    province_key: OKPKey,
    secrets_plain: dict[str, str],
    delivered: Delivered,
) -> AsyncIterator[httpx.AsyncClient]:
    mapping = ProvincialMapping(
        PROVINCE,
        StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
        audience=CITY_AT_PROVINCE,
        acr_claim="loa",
        acr_map={"L2": "2", "L3": "3", "L4": "4"},
    )
    policy = ExchangePolicy(
        (
            ExchangeRule(ISSUER, clients=frozenset({HALL_A}), audiences=frozenset({HALL_B})),
            ExchangeRule(PROVINCE, min_acr=3),
        )
    )
    exchange = TokenExchange(issuer, policy, provinces=[mapping])
    app = create_provider_app(
        CityIdentity(ring, halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config(secrets_plain),
        exchange=exchange,
        logout_delivery=delivered,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


def province_ticket(key: OKPKey, clock: VirtualClock, **extra: Any) -> str:
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


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    return verifier, b64url_encode(hashlib.sha256(verifier.encode()).digest())


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def authorize(
    http: httpx.AsyncClient, client_id: str, challenge: str | None, **params: str
) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri(client_id),
        "scope": "openid cases:read",
        "state": "st-1",
        "nonce": "nonce-1",
        "code_challenge_method": "S256",
        **params,
    }
    if challenge is not None:
        query["code_challenge"] = challenge
    return await http.get("/authorize", params=query)


def redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token(
    http: httpx.AsyncClient, client_id: str, secret: str, **form: str
) -> httpx.Response:
    return await http.post("/token", data=form, headers=basic(client_id, secret))


async def sign_in(
    http: httpx.AsyncClient,
    province_key: OKPKey,
    clock: VirtualClock,
    secrets_plain: dict[str, str],
    client_id: str = HALL_A,
    *,
    ticket: bool = True,
) -> dict[str, Any]:
    verifier, challenge = pkce()
    extra = {"ticket": province_ticket(province_key, clock)} if ticket else {}
    params = redirected(await authorize(http, client_id, challenge, **extra))
    assert params["state"] == "st-1"
    response = await token(
        http,
        client_id,
        secrets_plain[client_id],
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=redirect_uri(client_id),
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_discovery_and_jwks(http: httpx.AsyncClient, ring: KeyRing) -> None:
    config = (await http.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == ISSUER
    assert config["token_endpoint"] == f"{ISSUER}/token"
    assert config["jwks_uri"] == f"{ISSUER}/jwks"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert set(config["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert GRANT_TYPE in config["grant_types_supported"]
    assert "client_credentials" in config["grant_types_supported"]
    assert config["authorization_response_iss_parameter_supported"] is True  # RFC 9207
    assert config["request_uri_parameter_supported"] is False
    assert config["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    # RFC 8414: the same metadata at the OAuth location.
    assert (await http.get("/.well-known/oauth-authorization-server")).json() == config
    assert config["acr_values_supported"] == ["2", "3", "4", "5"]
    assert set(config["id_token_signing_alg_values_supported"]) == {"ES256", "EdDSA"}
    jwks = await http.get("/jwks")
    assert jwks.json() == ring.jwks()
    assert f"max-age={int(ring.policy.jwks_cache_lifetime)}" in jwks.headers["cache-control"]
    assert all("d" not in key for key in jwks.json()["keys"])


async def test_code_flow_with_provincial_ticket_and_sso(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    body = await sign_in(http, province_key, virtual_clock, secrets_plain)
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"]
    access = issuer.verifier(HALL_A).verify(body["access_token"])
    assert access.acr == "4"
    assert access.claims["amr"] == ["fed"]
    assert access.claims["masked_id"] == "3705**********123X"
    id_token = issuer.verifier(HALL_A).verify(body["id_token"], kind="id")
    assert id_token.claims["nonce"] == "nonce-1"
    cookie = http.cookies.get("govlink_sso")
    assert cookie
    assert access.session_id
    assert cookie != access.session_id
    # SSO: the second hall needs no ticket, the same session serves it.
    other = await sign_in(http, province_key, virtual_clock, secrets_plain, HALL_B, ticket=False)
    verified_b = issuer.verifier(HALL_B).verify(other["access_token"])
    assert verified_b.session_id == access.session_id
    assert verified_b.subject == access.subject


async def test_session_cookie_flags(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    _, challenge = pkce()
    response = await authorize(
        http, HALL_A, challenge, ticket=province_ticket(province_key, virtual_clock)
    )
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags
    assert "secure" in flags
    assert "samesite=lax" in flags


async def test_without_ticket_or_session_login_required(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    params = redirected(await authorize(http, HALL_A, challenge))
    assert params["error"] == "login_required"
    assert params["state"] == "st-1"
    params = redirected(await authorize(http, HALL_A, challenge, prompt="none"))
    assert params["error"] == "login_required"


async def test_bad_redirect_uri_is_a_page_not_a_redirect(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    _, challenge = pkce()
    ticket = province_ticket(province_key, virtual_clock)
    for client_id in (HALL_A, "hall-nope"):
        response = await authorize(
            http, client_id, challenge, ticket=ticket, redirect_uri="https://evil.example/cb"
        )
        assert response.status_code == 400
        assert "location" not in response.headers


async def test_missing_pkce_and_plain_method_refused(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    ticket = province_ticket(province_key, virtual_clock)
    params = redirected(await authorize(http, HALL_A, None, ticket=ticket))
    assert params["error"] == "invalid_request"
    _, challenge = pkce()
    params = redirected(
        await authorize(http, HALL_A, challenge, ticket=ticket, code_challenge_method="plain")
    )
    assert params["error"] == "invalid_request"


async def code_for(
    http: httpx.AsyncClient, province_key: OKPKey, clock: VirtualClock
) -> tuple[str, str]:
    verifier, challenge = pkce()
    ticket = province_ticket(province_key, clock)
    return redirected(await authorize(http, HALL_A, challenge, ticket=ticket))["code"], verifier


async def test_code_grant_refusals(
    http: httpx.AsyncClient,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    code, verifier = await code_for(http, province_key, virtual_clock)
    good = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(HALL_A),
        "code_verifier": verifier,
    }
    secret = secrets_plain[HALL_A]
    # Bad client secret: 401 invalid_client with a challenge.
    response = await token(http, HALL_A, "wrong", **good)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["cache-control"] == "no-store"
    # Another hall's secret for this client.
    response = await token(http, HALL_A, secrets_plain[HALL_B], **good)
    assert response.status_code == 401
    # PKCE mismatch, missing verifier, wrong redirect_uri, another client.
    response = await token(http, HALL_A, secret, **{**good, "code_verifier": "x" * 43})
    assert response.json()["error"] == "invalid_grant"
    response = await token(http, HALL_A, secret, **{**good, "code_verifier": ""})
    assert response.json()["error"] == "invalid_request"
    response = await token(http, HALL_A, secret, **{**good, "redirect_uri": "https://x/cb"})
    assert response.json()["error"] == "invalid_grant"
    response = await token(http, HALL_B, secrets_plain[HALL_B], **good)
    assert response.json()["error"] == "invalid_grant"
    # Grant type checks.
    response = await token(http, HALL_A, secret, grant_type="password")
    assert response.json()["error"] == "unsupported_grant_type"
    response = await token(http, HALL_A, secret)
    assert response.json()["error"] == "invalid_request"
    # client_secret_post works too; the code is still good after the refusals above.
    response = await http.post(
        "/token", data={**good, "client_id": HALL_A, "client_secret": secret}
    )
    assert response.status_code == 200, response.text


async def test_code_reuse_revokes_what_it_issued(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    code, verifier = await code_for(http, province_key, virtual_clock)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(HALL_A),
        "code_verifier": verifier,
    }
    first = await token(http, HALL_A, secrets_plain[HALL_A], **form)
    assert first.status_code == 200
    issuer.verifier(HALL_A).verify(first.json()["access_token"])
    again = await token(http, HALL_A, secrets_plain[HALL_A], **form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    with pytest.raises(InvalidToken):
        issuer.verifier(HALL_A, cache_size=0).verify(first.json()["access_token"])
    assert issuer.refresh_family_revoked(first.json()["refresh_token"])


async def test_expired_code(
    http: httpx.AsyncClient,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    code, verifier = await code_for(http, province_key, virtual_clock)
    virtual_clock.advance(61)
    response = await token(
        http,
        HALL_A,
        secrets_plain[HALL_A],
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri(HALL_A),
        code_verifier=verifier,
    )
    assert response.json()["error"] == "invalid_grant"


async def test_ticket_replay_refused(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    ticket = province_ticket(province_key, virtual_clock)
    _, challenge = pkce()
    assert "code" in redirected(await authorize(http, HALL_A, challenge, ticket=ticket))
    http.cookies.clear()
    params = redirected(await authorize(http, HALL_A, challenge, ticket=ticket))
    assert params["error"] == "access_denied"
    # A ticket of an untrusted issuer, and one with an unmapped trust level.
    forged = province_ticket(province_key, virtual_clock, iss="https://evil.example")
    assert redirected(await authorize(http, HALL_A, challenge, ticket=forged))["error"] == (
        "access_denied"
    )
    low = province_ticket(province_key, virtual_clock, loa="L9")
    assert redirected(await authorize(http, HALL_A, challenge, ticket=low))["error"] == (
        "access_denied"
    )


async def test_expired_ticket_refused(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    ticket = province_ticket(province_key, virtual_clock)
    virtual_clock.advance(120 + 61)  # past exp and the verifier's leeway
    params = redirected(await authorize(http, HALL_A, pkce()[1], ticket=ticket))
    assert params["error"] == "access_denied"
    assert "code" not in params


async def test_refresh_rotation_and_reuse(
    http: httpx.AsyncClient,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    body = await sign_in(http, province_key, virtual_clock, secrets_plain)
    secret = secrets_plain[HALL_A]
    first = body["refresh_token"]
    rotated = await token(http, HALL_A, secret, grant_type="refresh_token", refresh_token=first)
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first
    virtual_clock.advance(30)
    reused = await token(http, HALL_A, secret, grant_type="refresh_token", refresh_token=first)
    assert reused.json()["error"] == "invalid_grant"
    successor = rotated.json()["refresh_token"]
    after = await token(http, HALL_A, secret, grant_type="refresh_token", refresh_token=successor)
    assert after.json()["error"] == "invalid_grant"


async def test_token_exchange_through_the_endpoint(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    body = await sign_in(http, province_key, virtual_clock, secrets_plain)
    form = {
        "grant_type": GRANT_TYPE,
        "subject_token": body["access_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": HALL_B,
    }
    response = await token(http, HALL_A, secrets_plain[HALL_A], **form)
    assert response.status_code == 200, response.text
    assert response.json()["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    issuer.verifier(HALL_B).verify(response.json()["access_token"])
    # Not allowed by the policy: the exchange's own RFC error.
    refused = await token(http, HALL_B, secrets_plain[HALL_B], **{**form, "audience": HALL_A})
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"
    # A provincial token exchanged at the endpoint, then refused at /authorize (one replay guard).
    ticket = province_ticket(province_key, virtual_clock)
    provincial = await token(
        http,
        HALL_A,
        secrets_plain[HALL_A],
        grant_type=GRANT_TYPE,
        subject_token=ticket,
        subject_token_type=TOKEN_TYPE_JWT,
        audience=HALL_A,
    )
    assert provincial.status_code == 200, provincial.text
    http.cookies.clear()
    _, challenge = pkce()
    params = redirected(await authorize(http, HALL_A, challenge, ticket=ticket))
    assert params["error"] == "access_denied"


async def test_revoke_and_introspect(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    body = await sign_in(http, province_key, virtual_clock, secrets_plain)
    auth = basic(HALL_A, secrets_plain[HALL_A])
    active = await http.post("/introspect", data={"token": body["access_token"]}, headers=auth)
    assert active.json()["active"] is True
    assert active.json()["client_id"] == HALL_A
    unauth = await http.post("/introspect", data={"token": body["access_token"]})
    assert unauth.status_code == 401
    assert unauth.json()["error"] == "invalid_client"
    # Another hall may not revoke this hall's token.
    other = basic(HALL_B, secrets_plain[HALL_B])
    refused = await http.post("/revoke", data={"token": body["access_token"]}, headers=other)
    assert refused.status_code == 400
    revoked = await http.post("/revoke", data={"token": body["access_token"]}, headers=auth)
    assert revoked.status_code == 200
    inactive = await http.post("/introspect", data={"token": body["access_token"]}, headers=auth)
    assert inactive.json() == {"active": False}
    with pytest.raises(InvalidToken):
        issuer.verifier(HALL_A, cache_size=0).verify(body["access_token"])
    garbage = await http.post("/revoke", data={"token": "not-a-token"}, headers=auth)
    assert garbage.status_code == 200
    await http.post("/revoke", data={"token": body["refresh_token"]}, headers=auth)
    assert issuer.refresh_family_revoked(body["refresh_token"])


async def test_logout_ends_the_session_at_both_halls(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
    delivered: Delivered,
) -> None:
    a = await sign_in(http, province_key, virtual_clock, secrets_plain)
    b = await sign_in(http, province_key, virtual_clock, secrets_plain, HALL_B, ticket=False)
    response = await http.get(
        "/logout",
        params={"client_id": HALL_A, "post_logout_redirect_uri": redirect_uri(HALL_A)},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(redirect_uri(HALL_A))
    for hall, body in ((HALL_A, a), (HALL_B, b)):
        with pytest.raises(InvalidToken):
            issuer.verifier(hall, cache_size=0).verify(body["access_token"])
    assert {n.client.client_id for n in delivered.notices} >= {HALL_A, HALL_B}
    claims = json.loads(
        base64.urlsafe_b64decode(delivered.notices[0].logout_token.split(".")[1] + "==")
    )
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    # No session any more: SSO needs a new sign-in.
    _, challenge = pkce()
    params = redirected(await authorize(http, HALL_B, challenge))
    assert params["error"] == "login_required"
    # An unregistered post-logout URI is never followed.
    page = await http.get(
        "/logout", params={"client_id": HALL_A, "post_logout_redirect_uri": "https://evil.example"}
    )
    assert page.status_code == 200
    assert "location" not in page.headers


def test_client_secrets_config() -> None:
    hashed = "sha256:" + hashlib.sha256(b"s3cret").hexdigest()
    configured = ClientSecrets.from_config({HALL_A: hashed, HALL_B: "plain"})
    assert configured.check(HALL_A, "s3cret")
    assert configured.check(HALL_B, "plain")
    assert not configured.check(HALL_A, "plain")
    assert not configured.check("hall-unknown", "s3cret")
    assert "s3cret" not in repr(configured)
    for bad in ("sha256:abc", ""):
        with pytest.raises(ValidationError) as info:
            ClientSecrets.from_config({HALL_A: bad})
        assert info.value.field == f"idp_client_secrets.{HALL_A}"


async def test_malformed_token_requests(
    http: httpx.AsyncClient, secrets_plain: dict[str, str]
) -> None:
    auth = basic(HALL_A, secrets_plain[HALL_A])
    repeated = await http.post(
        "/token",
        content=b"grant_type=refresh_token&refresh_token=a&refresh_token=b",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    as_json = await http.post("/token", json={"grant_type": "refresh_token"}, headers=auth)
    assert as_json.json()["error"] == "invalid_request"
    both = await http.post(
        "/token",
        data={"grant_type": "refresh_token", "client_secret": secrets_plain[HALL_A]},
        headers=auth,
    )
    assert both.json()["error"] == "invalid_request"
    unknown = await http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "glrt_nope"}, headers=auth
    )
    assert unknown.json()["error"] == "invalid_grant"


async def test_logout_with_id_token_hint(
    http: httpx.AsyncClient,
    issuer: Issuer,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    body = await sign_in(http, province_key, virtual_clock, secrets_plain)
    response = await http.post(
        "/logout",
        data={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": redirect_uri(HALL_A),
            "state": "bye",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{redirect_uri(HALL_A)}?state=bye"
    assert "govlink_sso" not in http.cookies
    with pytest.raises(InvalidToken):
        issuer.verifier(HALL_A, cache_size=0).verify(body["access_token"])
