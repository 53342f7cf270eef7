"""Sign-in at the identity provider (issue 10, point 2): the built-in development page (CSRF,
throttling per account and per address across processes, no account enumeration), step-up
with ``acr_values`` (a session at the level asked for, or ``unmet_authentication_requirements``,
never a lower acr), ``max_age`` and ``prompt=login``, and the acr across SSO and exchange."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER, StaticKeys, craft
from joserfc.jwk import OKPKey

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    GRANT_TYPE,
    CityIdentity,
    ClientSecrets,
    DevPasswordAuthenticator,
    DevUser,
    ExchangePolicy,
    ExchangeRule,
    HallRegistry,
    Issuer,
    KeyRing,
    PassphraseProtector,
    ProvincialMapping,
    RolloverPolicy,
    TokenExchange,
    VerificationKey,
    create_provider_app,
)
from govlink.identity._jose import b64url_decode, b64url_encode, loads_strict
from govlink.store import SQLiteStore

pytestmark = pytest.mark.anyio

PROVINCE = "https://sso.shandong.example"
CITY_AT_PROVINCE = "city-370500"
HALL_A, HALL_B = "hall-370502", "hall-370503"
USERS = (
    DevUser("zhangsan", "correct horse 3", "11010519491231002X", "张三", "3"),
    DevUser("lisi", "correct horse 4", "11010519491231002X", "李四", "4"),
)
SECRETS = {c.client_id: f"secret-{c.client_id}" for c in HallRegistry.demo_city()}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


def redirect_uri(client_id: str) -> str:
    return f"https://{client_id.removeprefix('hall-')}.hall.example/callback"


def build_app(issuer: Issuer, ring: KeyRing, halls: HallRegistry, province_key: OKPKey) -> Any:
    mapping = ProvincialMapping(
        PROVINCE,
        StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
        audience=CITY_AT_PROVINCE,
        acr_claim="loa",
        acr_map={"L2": "2", "L3": "3", "L4": "4"},
    )
    policy = ExchangePolicy((ExchangeRule(ISSUER),))
    return create_provider_app(
        CityIdentity(ring, halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config(SECRETS),
        exchange=TokenExchange(issuer, policy, provinces=[mapping]),
        authenticator=DevPasswordAuthenticator(USERS),
        max_failures=3,
        failure_window=600,
    )


@pytest.fixture
async def http(
    issuer: Issuer, ring: KeyRing, halls: HallRegistry, province_key: OKPKey
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(issuer, ring, halls, province_key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        yield c


@pytest.fixture
def other_process(
    sqlite_store: SQLiteStore, virtual_clock: VirtualClock, halls: HallRegistry, ring: KeyRing
) -> Iterator[Issuer]:
    """An issuer on a second connection to the same store (another provider process)."""
    store = SQLiteStore(sqlite_store.path)
    keys = KeyRing(
        store,
        PassphraseProtector("test passphrase"),
        clock=virtual_clock,
        policy=RolloverPolicy(max_token_lifetime=600),
    )
    yield Issuer(issuer=ISSUER, keys=keys, halls=halls, store=store, clock=virtual_clock)
    store.close()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    return verifier, b64url_encode(hashlib.sha256(verifier.encode()).digest())


async def authorize(
    http: httpx.AsyncClient, challenge: str, client_id: str = HALL_A, **extra: str
) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri(client_id),
        "scope": "openid cases:read",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return await http.get("/authorize", params=query)


def form_of(page: httpx.Response) -> dict[str, str]:
    assert page.status_code in (200, 401, 429), page.text
    return dict(re.findall(r"name='(request|csrf)' value='([^']+)'", page.text))


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def post_sign_in(
    http: httpx.AsyncClient, page: httpx.Response, username: str, password: str, **over: str
) -> httpx.Response:
    form = {**form_of(page), "username": username, "password": password, **over}
    return await http.post("/sign-in", data=form)


async def redeem(http: httpx.AsyncClient, code: str, verifier: str, client_id: str = HALL_A) -> Any:
    raw = base64.b64encode(f"{client_id}:{SECRETS[client_id]}".encode()).decode()
    response = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(client_id),
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {raw}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def claims(token: str) -> dict[str, Any]:
    value: dict[str, Any] = loads_strict(b64url_decode(token.split(".")[1]))
    return value


async def sign_in(
    http: httpx.AsyncClient,
    username: str = "zhangsan",
    password: str = "correct horse 3",  # noqa: S107 - a development test user
    **q: str,
) -> dict[str, Any]:
    verifier, challenge = pkce()
    page = await authorize(http, challenge, **q)
    done = await post_sign_in(http, page, username, password)
    tokens: dict[str, Any] = await redeem(http, query_of(done)["code"], verifier)
    return tokens


async def test_the_page_signs_in_with_csrf_and_sets_the_sso_cookie(
    http: httpx.AsyncClient,
) -> None:
    verifier, challenge = pkce()
    page = await authorize(http, challenge)
    assert page.status_code == 200
    assert "csrf" in form_of(page)
    assert "form-action 'self'" in page.headers["content-security-policy"]
    done = await post_sign_in(http, page, "zhangsan", "correct horse 3")
    params = query_of(done)
    assert params["iss"] == ISSUER  # RFC 9207
    assert "govlink_sso" in done.cookies
    tokens = await redeem(http, params["code"], verifier)
    id_claims = claims(tokens["id_token"])
    assert (id_claims["acr"], id_claims["amr"]) == ("3", ["pwd"])
    # The page is one-time: posting it again is refused.
    again = await post_sign_in(http, page, "zhangsan", "correct horse 3")
    assert again.status_code == 400


async def test_a_post_without_its_csrf_token_is_refused(http: httpx.AsyncClient) -> None:
    page = await authorize(http, pkce()[1])
    missing = await post_sign_in(http, page, "zhangsan", "correct horse 3", csrf="")
    assert missing.status_code == 403
    http.cookies.delete("govlink_csrf")
    no_cookie = await post_sign_in(http, page, "zhangsan", "correct horse 3")
    assert no_cookie.status_code == 403


async def test_unknown_user_and_wrong_password_look_the_same(http: httpx.AsyncClient) -> None:
    page = await authorize(http, pkce()[1])
    wrong = await post_sign_in(http, page, "zhangsan", "wrong password")
    unknown = await post_sign_in(http, page, "nobody", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    strip = re.compile(r"value='[^']+'")
    assert strip.sub("", wrong.text) == strip.sub("", unknown.text)


async def test_failed_sign_ins_are_throttled_per_account_across_processes(
    http: httpx.AsyncClient,
    other_process: Issuer,
    ring: KeyRing,
    halls: HallRegistry,
    province_key: OKPKey,
    virtual_clock: VirtualClock,
) -> None:
    app = build_app(other_process, other_process.keys, halls, province_key)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as other:
        for _ in range(3):  # the limit is 3 failures, spread over both processes
            page = await authorize(http, pkce()[1])
            assert (await post_sign_in(http, page, "zhangsan", "nope")).status_code == 401
        # From another address and another process, the right password is refused too.
        page = await authorize(other, pkce()[1])
        blocked = await post_sign_in(other, page, "zhangsan", "correct horse 3")
        assert blocked.status_code == 429
        # Another account from that address is not affected.
        assert (await post_sign_in(other, page, "lisi", "correct horse 4")).status_code == 303
    virtual_clock.advance(601)  # the failures leave the window
    assert "access_token" in await sign_in(http)


async def test_failed_sign_ins_are_throttled_per_address(http: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):  # three different (unknown) accounts from one address
        page = await authorize(http, pkce()[1])
        assert (await post_sign_in(http, page, name, "nope")).status_code == 401
    page = await authorize(http, pkce()[1])
    assert (await post_sign_in(http, page, "zhangsan", "correct horse 3")).status_code == 429


async def test_acr_values_above_the_user_is_unmet_never_a_lower_acr(
    http: httpx.AsyncClient,
) -> None:
    page = await authorize(http, pkce()[1], acr_values="4")
    refused = query_of(await post_sign_in(http, page, "zhangsan", "correct horse 3"))
    assert refused["error"] == "unmet_authentication_requirements"
    assert "code" not in refused
    tokens = await sign_in(http, "lisi", "correct horse 4", acr_values="4")
    assert claims(tokens["access_token"])["acr"] == "4"


async def test_step_up_asks_for_a_new_sign_in(http: httpx.AsyncClient) -> None:
    await sign_in(http)  # a session at level 3
    # SSO at level 3 is fine without acr_values ...
    assert "code" in query_of(await authorize(http, pkce()[1], client_id=HALL_B))
    # ... but acr_values=4 cannot be met silently,
    silent = query_of(
        await authorize(http, pkce()[1], client_id=HALL_B, acr_values="4", prompt="none")
    )
    assert silent["error"] == "unmet_authentication_requirements"
    # and interactively it shows the page again; a level-4 user then gets acr 4.
    verifier, challenge = pkce()
    page = await authorize(http, challenge, client_id=HALL_B, acr_values="4")
    assert page.status_code == 200
    done = query_of(await post_sign_in(http, page, "lisi", "correct horse 4"))
    tokens = await redeem(http, done["code"], verifier, client_id=HALL_B)
    assert claims(tokens["id_token"])["acr"] == "4"


async def test_max_age_and_prompt_login_force_a_new_sign_in(
    http: httpx.AsyncClient, virtual_clock: VirtualClock
) -> None:
    await sign_in(http)
    assert "code" in query_of(await authorize(http, pkce()[1], max_age="60"))
    virtual_clock.advance(61)
    assert (await authorize(http, pkce()[1], max_age="60")).status_code == 200  # the page
    assert "code" in query_of(await authorize(http, pkce()[1]))  # without max_age: SSO
    assert (await authorize(http, pkce()[1], prompt="login")).status_code == 200
    bad = query_of(await authorize(http, pkce()[1], max_age="-1"))
    assert bad["error"] == "invalid_request"


def ticket(key: OKPKey, clock: VirtualClock, loa: str) -> str:
    now = int(clock.time())
    body = {
        "iss": PROVINCE,
        "sub": "sd-0001",
        "aud": CITY_AT_PROVINCE,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "loa": loa,
        "user_type": "1",
    }
    return craft({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, body, key.private_key)


async def test_acr_survives_sso_and_exchange(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    """A level-4 provincial sign-in stays level 4 at another hall and through exchange
    (keycloak#25335 loses it after a brokered login)."""
    verifier, challenge = pkce()
    first = await authorize(
        http, challenge, acr_values="4", ticket=ticket(province_key, virtual_clock, "L4")
    )
    tokens = await redeem(http, query_of(first)["code"], verifier)
    assert claims(tokens["id_token"])["acr"] == "4"
    verifier_b, challenge_b = pkce()
    sso = await authorize(http, challenge_b, client_id=HALL_B, acr_values="4", prompt="none")
    at_b = await redeem(http, query_of(sso)["code"], verifier_b, client_id=HALL_B)
    assert claims(at_b["access_token"])["acr"] == "4"
    raw = base64.b64encode(f"{HALL_A}:{SECRETS[HALL_A]}".encode()).decode()
    exchanged = await http.post(
        "/token",
        data={
            "grant_type": GRANT_TYPE,
            "subject_token": tokens["access_token"],
            "audience": HALL_B,
        },
        headers={"Authorization": f"Basic {raw}"},
    )
    assert exchanged.status_code == 200, exchanged.text
    assert claims(exchanged.json()["access_token"])["acr"] == "4"
    # Only the requested access token: an ID token would be addressed to hall B, not to A.
    assert "id_token" not in exchanged.json()


async def test_a_ticket_below_acr_values_is_unmet(
    http: httpx.AsyncClient, province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    low = ticket(province_key, virtual_clock, "L3")
    refused = query_of(await authorize(http, pkce()[1], acr_values="4", ticket=low))
    assert refused["error"] == "unmet_authentication_requirements"
    nonsense = query_of(await authorize(http, pkce()[1], acr_values="gold"))
    assert nonsense["error"] == "unmet_authentication_requirements"
