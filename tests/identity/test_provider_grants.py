"""The grants and endpoints a hall expects (issue 10, point 4) and issue 9.9's fixes:
client_credentials, userinfo, private_key_jwt (and each refused assertion), RS256 ID tokens,
introspection limited to the caller's tokens, repeated /authorize query parameters."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER, StaticKeys, craft
from joserfc.jwk import ECKey, OKPKey

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
    ExchangePolicy,
    HallClient,
    HallRegistry,
    Issuer,
    KeyRing,
    ProvincialMapping,
    TokenExchange,
    VerificationKey,
    create_provider_app,
)
from govlink.identity._jose import b64url_decode, b64url_encode, loads_strict
from govlink.store import Store

pytestmark = pytest.mark.anyio

PROVINCE = "https://sso.shandong.example"
HALL_A, HALL_B, ROBOT = "hall-370502", "hall-370503", "robot-370502"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def robot_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


@pytest.fixture
def grant_halls(robot_key: ECKey) -> HallRegistry:
    demo = list(HallRegistry.demo_city())
    robot = HallClient(
        client_id=ROBOT,
        hall_code="370502",
        name="robot",
        audience=ROBOT,
        scopes=frozenset({"cases:read", "cases:write"}),
        grant_types=frozenset({"client_credentials"}),
        auth_method="private_key_jwt",
        jwks={"keys": [robot_key.as_dict(private=False)]},
    )
    with_cc = [
        HallClient(
            client_id=c.client_id,
            hall_code=c.hall_code,
            name=c.name,
            audience=c.audience,
            scopes=c.scopes,
            grant_types=c.grant_types | {"client_credentials"},
            redirect_uris=c.redirect_uris,
        )
        for c in demo
    ]
    return HallRegistry([*with_cc, robot])


SECRETS = {c.client_id: f"secret-{c.client_id}" for c in HallRegistry.demo_city()}


@pytest.fixture
async def http(
    ring: KeyRing,
    grant_halls: HallRegistry,
    sqlite_store: Store,
    virtual_clock: VirtualClock,
    province_key: OKPKey,
) -> AsyncIterator[httpx.AsyncClient]:
    issuer = Issuer(
        issuer=ISSUER, keys=ring, halls=grant_halls, store=sqlite_store, clock=virtual_clock
    )
    mapping = ProvincialMapping(
        PROVINCE,
        StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
        audience="city-370500",
        acr_claim="loa",
        acr_map={"L3": "3", "L4": "4"},
    )
    app = create_provider_app(
        CityIdentity(ring, grant_halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config(SECRETS),
        exchange=TokenExchange(issuer, ExchangePolicy(()), provinces=[mapping]),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        yield c


def basic(client_id: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{SECRETS[client_id]}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def claims(token: str) -> dict[str, Any]:
    value: dict[str, Any] = loads_strict(b64url_decode(token.split(".")[1]))
    return value


def header(token: str) -> dict[str, Any]:
    value: dict[str, Any] = loads_strict(b64url_decode(token.split(".")[0]))
    return value


def assertion(key: Any, clock: VirtualClock, **over: Any) -> str:
    now = int(clock.time())
    body = {
        "iss": ROBOT,
        "sub": ROBOT,
        "aud": f"{ISSUER}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **over,
    }
    return craft({"alg": "ES256", "kid": key.kid}, body, key.private_key)


async def robot_token(http: httpx.AsyncClient, signed: str, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION,
        "client_assertion": signed,
        **form,
    }
    return await http.post("/token", data=data)


async def test_client_credentials_say_there_is_no_person(
    http: httpx.AsyncClient, ring: KeyRing, grant_halls: HallRegistry, sqlite_store: Store
) -> None:
    response = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "audience": HALL_B, "scope": "cases:read"},
        headers=basic(HALL_A),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    assert "id_token" not in body
    token = claims(body["access_token"])
    assert (token["sub"], token["subject_type"], token["aud"]) == (HALL_A, "client", HALL_B)
    assert token["scope"] == "cases:read"
    assert "sid" not in token
    assert "acr" not in token
    # openid/profile cannot be granted: there is nobody to describe.
    refused = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "openid profile"},
        headers=basic(HALL_A),
    )
    assert refused.json()["error"] == "invalid_scope"
    # A hall not registered for the grant is refused.
    other = await http.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic("hall-370505")
    )
    assert other.status_code == 200  # every demo hall here has it ...
    unknown = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "audience": "hall-999999"},
        headers=basic(HALL_A),
    )
    assert unknown.json()["error"] == "invalid_target"


async def test_private_key_jwt_authenticates_and_each_bad_assertion_is_refused(
    http: httpx.AsyncClient, robot_key: ECKey, virtual_clock: VirtualClock
) -> None:
    good = assertion(robot_key, virtual_clock)
    ok = await robot_token(http, good, audience=HALL_A)
    assert ok.status_code == 200, ok.text
    assert claims(ok.json()["access_token"])["sub"] == ROBOT
    # The issuer identifier is an accepted audience too (RFC 7523 §3).
    assert (
        await robot_token(http, assertion(robot_key, virtual_clock, aud=ISSUER))
    ).status_code == 200
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    forged = craft(
        {"alg": "ES256", "kid": robot_key.kid},
        claims(assertion(robot_key, virtual_clock)),
        stranger.private_key,
    )
    refused = {
        "reused jti": good,
        "wrong key": forged,
        "wrong audience": assertion(robot_key, virtual_clock, aud="https://elsewhere.example"),
        "expired": assertion(robot_key, virtual_clock, exp=int(virtual_clock.time()) - 300),
        "sub not the client": assertion(robot_key, virtual_clock, sub=HALL_A),
    }
    for why, signed in refused.items():
        response = await robot_token(http, signed)
        assert response.status_code == 401, why
        assert response.json()["error"] == "invalid_client", why
    # A secret client cannot authenticate with an assertion, nor the key client with a secret.
    wrong_type = await robot_token(
        http, assertion(robot_key, virtual_clock), client_assertion_type="x"
    )
    assert wrong_type.status_code == 401
    as_robot = {"Authorization": "Basic " + base64.b64encode(b"robot-370502:x").decode()}
    as_secret = await http.post(
        "/token", data={"grant_type": "client_credentials"}, headers=as_robot
    )
    assert as_secret.status_code == 401


async def test_userinfo_releases_claims_by_scope_masked(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    verifier = secrets.token_urlsafe(40)
    challenge = b64url_encode(hashlib.sha256(verifier.encode()).digest())
    now = int(virtual_clock.time())
    ticket = craft(
        {"alg": "EdDSA", "kid": province_key.kid, "typ": "JWT"},
        {
            "iss": PROVINCE,
            "sub": "sd-1",
            "aud": "city-370500",
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
            "loa": "L3",
            "masked_id": "3705**********123X",
        },
        province_key.private_key,
    )
    tokens: dict[str, dict[str, Any]] = {}
    for scope in ("openid", "openid profile"):
        response = await http.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": HALL_A,
                "redirect_uri": "https://370502.hall.example/callback",
                "scope": scope,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "ticket": ticket if not tokens else "",
            },
        )
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        got = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "https://370502.hall.example/callback",
                "code_verifier": verifier,
            },
            headers=basic(HALL_A),
        )
        tokens[scope] = got.json()
    narrow = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['openid']['access_token']}"}
    )
    assert set(narrow.json()) == {"sub", "subject_type"}
    wide = await http.get(
        "/userinfo",
        headers={"Authorization": f"Bearer {tokens['openid profile']['access_token']}"},
    )
    assert wide.json()["masked_id"] == "3705**********123X"
    assert wide.json()["sub"] == narrow.json()["sub"]
    bad = await http.get("/userinfo", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert (await http.get("/userinfo")).status_code == 401
    machine = await http.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(HALL_A)
    )
    no_person = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {machine.json()['access_token']}"}
    )
    assert no_person.status_code == 403
    assert 'error="insufficient_scope"' in no_person.headers["www-authenticate"]


async def test_introspection_is_limited_to_the_callers_tokens(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "audience": HALL_B},
        headers=basic(HALL_A),
    )
    token = response.json()["access_token"]
    # The audience (hall B) may introspect it; a third hall learns nothing.
    mine = await http.post("/introspect", data={"token": token}, headers=basic(HALL_B))
    assert mine.json()["active"] is True
    other = await http.post("/introspect", data={"token": token}, headers=basic("hall-370505"))
    assert other.json() == {"active": False}


async def test_repeated_authorize_query_parameters_are_refused(http: httpx.AsyncClient) -> None:
    query = (
        "response_type=code&client_id=hall-370502"
        "&redirect_uri=https%3A%2F%2F370502.hall.example%2Fcallback"
        "&scope=openid&state=a&state=b&code_challenge=x&code_challenge_method=S256"
    )
    response = await http.get(f"/authorize?{query}")
    assert response.status_code == 400
    assert "repeated" in response.text


@pytest.mark.parametrize("ring_algorithms", [("ES256", "RS256")])
async def test_id_tokens_are_rs256_when_the_ring_has_rsa(
    http: httpx.AsyncClient, ring: KeyRing, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    config = (await http.get("/.well-known/openid-configuration")).json()
    assert "RS256" in config["id_token_signing_alg_values_supported"]
    verifier = secrets.token_urlsafe(40)
    challenge = b64url_encode(hashlib.sha256(verifier.encode()).digest())
    now = int(virtual_clock.time())
    ticket = craft(
        {"alg": "EdDSA", "kid": province_key.kid, "typ": "JWT"},
        {
            "iss": PROVINCE,
            "sub": "sd-2",
            "aud": "city-370500",
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
            "loa": "L3",
        },
        province_key.private_key,
    )
    response = await http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": HALL_A,
            "redirect_uri": "https://370502.hall.example/callback",
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "ticket": ticket,
        },
    )
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    tokens = (
        await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "https://370502.hall.example/callback",
                "code_verifier": verifier,
            },
            headers=basic(HALL_A),
        )
    ).json()
    assert header(tokens["id_token"])["alg"] == "RS256"
    assert header(tokens["access_token"])["alg"] == "ES256"  # the ring's preferred algorithm
