"""Several provider processes on one store (issue 10, point 1): two apps, each with its own
store connection on one SQLite file or PostgreSQL database, requests alternating between them,
and a "restart" (a new app on the same store). Any request may go to any process; a restart
signs nobody out; a one-time ticket is one-time everywhere; a revocation is seen everywhere."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER, StaticKeys, craft
from joserfc.jwk import OKPKey

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
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
from govlink.identity._jose import b64url_encode
from govlink.store import SQLiteStore, Store

pytestmark = pytest.mark.anyio

PROVINCE = "https://sso.shandong.example"
CITY_AT_PROVINCE = "city-370500"
HALL_A, HALL_B = "hall-370502", "hall-370503"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def redirect_uri(client_id: str) -> str:
    return f"https://{client_id.removeprefix('hall-')}.hall.example/callback"


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


@pytest.fixture
def secrets_plain() -> dict[str, str]:
    return {c.client_id: secrets.token_urlsafe(16) for c in HallRegistry.demo_city()}


@pytest.fixture
def open_connection(any_store: Store) -> Iterator[Callable[[], Store]]:
    """Another store connection (as another process would open) on the same database."""
    opened: list[Store] = []

    def connect() -> Store:
        store: Store
        if isinstance(any_store, SQLiteStore):
            store = SQLiteStore(any_store.path)
        else:
            from govlink.store._postgres import PostgresStore

            store = PostgresStore(any_store.url)
        opened.append(store)
        return store

    yield connect
    for store in opened:
        store.close()


Provider = Callable[[], "httpx.AsyncClient"]


@pytest.fixture
async def processes(
    open_connection: Callable[[], Store],
    virtual_clock: VirtualClock,
    province_key: OKPKey,
    secrets_plain: dict[str, str],
) -> AsyncIterator[Callable[[], Any]]:
    """A factory of provider "processes": each call starts one more on its own connection."""
    async with AsyncExitStack() as stack:

        async def start() -> httpx.AsyncClient:
            store = open_connection()
            ring = KeyRing(
                store,
                PassphraseProtector("test passphrase"),
                clock=virtual_clock,
                policy=RolloverPolicy(max_token_lifetime=600),
            )
            if not ring.list_keys():
                ring.init(["ES256"])
            halls = HallRegistry.demo_city()
            issuer = Issuer(issuer=ISSUER, keys=ring, halls=halls, store=store, clock=virtual_clock)
            mapping = ProvincialMapping(
                PROVINCE,
                StaticKeys(VerificationKey.from_key(province_key, province_key.kid or "", "EdDSA")),
                audience=CITY_AT_PROVINCE,
                acr_claim="loa",
                acr_map={"L2": "2", "L3": "3", "L4": "4"},
            )
            policy = ExchangePolicy((ExchangeRule(PROVINCE, min_acr=3),))
            app = create_provider_app(
                CityIdentity(ring, halls, issuer, development=False),
                client_secrets=ClientSecrets.from_config(secrets_plain),
                exchange=TokenExchange(issuer, policy, provinces=[mapping]),
            )
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)
            return await stack.enter_async_context(client)

        yield start


def ticket(key: OKPKey, clock: VirtualClock) -> str:
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
    }
    return craft({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, claims, key.private_key)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    return verifier, b64url_encode(hashlib.sha256(verifier.encode()).digest())


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def authorize(
    http: httpx.AsyncClient, client_id: str, challenge: str, cookie: str | None = None, **extra: str
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
    headers = {"Cookie": f"govlink_sso={cookie}"} if cookie else {}
    return await http.get("/authorize", params=query, headers=headers)


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def redeem(
    http: httpx.AsyncClient, client_id: str, secret: str, code: str, verifier: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(client_id),
        "code_verifier": verifier,
    }
    return await http.post("/token", data=form, headers=basic(client_id, secret))


async def test_requests_alternate_between_two_processes(
    processes: Callable[[], Any],
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    one: httpx.AsyncClient = await processes()
    two: httpx.AsyncClient = await processes()
    verifier, challenge = pkce()
    signed_in = await authorize(one, HALL_A, challenge, ticket=ticket(province_key, virtual_clock))
    cookie = signed_in.cookies["govlink_sso"]
    code = query_of(signed_in)["code"]
    # The code issued by one process is redeemed at the other.
    tokens = await redeem(two, HALL_A, secrets_plain[HALL_A], code, verifier)
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    # The cookie set by one process signs in at the other hall through the other process.
    verifier_b, challenge_b = pkce()
    sso = await authorize(two, HALL_B, challenge_b, cookie=cookie, prompt="none")
    code_b = query_of(sso)["code"]
    assert (await redeem(one, HALL_B, secrets_plain[HALL_B], code_b, verifier_b)).status_code == 200
    # Refresh at the other process, then introspection of the access token at either one.
    refreshed = await two.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
        headers=basic(HALL_A, secrets_plain[HALL_A]),
    )
    assert refreshed.status_code == 200, refreshed.text
    auth = basic(HALL_A, secrets_plain[HALL_A])
    assert (await one.post("/introspect", data={"token": access}, headers=auth)).json()["active"]
    # Logout at one process: the other no longer knows the cookie, and within the documented
    # bound (1 s on SQLite; at once with PostgreSQL's LISTEN) refuses the session's tokens.
    await one.get("/logout", headers={"Cookie": f"govlink_sso={cookie}"})
    again = await authorize(two, HALL_B, pkce()[1], cookie=cookie, prompt="none")
    assert query_of(again)["error"] == "login_required"
    virtual_clock.advance(1.0)
    assert not (await two.post("/introspect", data={"token": access}, headers=auth)).json()[
        "active"
    ]


async def test_a_ticket_is_one_time_across_processes_and_restarts(
    processes: Callable[[], Any], province_key: OKPKey, virtual_clock: VirtualClock
) -> None:
    one: httpx.AsyncClient = await processes()
    two: httpx.AsyncClient = await processes()
    used = ticket(province_key, virtual_clock)
    assert "code" in query_of(await authorize(one, HALL_A, pkce()[1], ticket=used))
    replayed = query_of(await authorize(two, HALL_A, pkce()[1], ticket=used))
    assert replayed["error"] == "access_denied"
    restarted: httpx.AsyncClient = await processes()
    after = query_of(await authorize(restarted, HALL_A, pkce()[1], ticket=used))
    assert after["error"] == "access_denied"


async def test_a_restart_signs_nobody_out(
    processes: Callable[[], Any],
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    before: httpx.AsyncClient = await processes()
    verifier, challenge = pkce()
    signed_in = await authorize(
        before, HALL_A, challenge, ticket=ticket(province_key, virtual_clock)
    )
    cookie = signed_in.cookies["govlink_sso"]
    code = query_of(signed_in)["code"]
    after: httpx.AsyncClient = await processes()
    # The code outlives the process that issued it, and so does the SSO cookie.
    assert (await redeem(after, HALL_A, secrets_plain[HALL_A], code, verifier)).status_code == 200
    sso = await authorize(after, HALL_B, pkce()[1], cookie=cookie, prompt="none")
    assert "code" in query_of(sso)


async def test_a_code_replayed_at_the_other_process_revokes_its_tokens(
    processes: Callable[[], Any],
    province_key: OKPKey,
    virtual_clock: VirtualClock,
    secrets_plain: dict[str, str],
) -> None:
    one: httpx.AsyncClient = await processes()
    two: httpx.AsyncClient = await processes()
    verifier, challenge = pkce()
    code = query_of(
        await authorize(one, HALL_A, challenge, ticket=ticket(province_key, virtual_clock))
    )["code"]
    first = await redeem(one, HALL_A, secrets_plain[HALL_A], code, verifier)
    assert first.status_code == 200
    replay = await redeem(two, HALL_A, secrets_plain[HALL_A], code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    auth = basic(HALL_A, secrets_plain[HALL_A])
    virtual_clock.advance(1.0)
    for name in ("access_token", "refresh_token"):
        info = await one.post("/introspect", data={"token": first.json()[name]}, headers=auth)
        assert info.json() == {"active": False}, name


@pytest.mark.postgres
def test_postgresql_revocations_arrive_by_notify_without_polling(
    postgres_url: str, virtual_clock: VirtualClock
) -> None:
    """With LISTEN/NOTIFY the listening registry sees a revocation made through another
    connection with no clock movement at all (its poll alone would wait the backstop, 30 s)."""
    import threading

    from govlink.identity import RevocationRegistry
    from govlink.store._postgres import PostgresStore

    writer_store, reader_store = PostgresStore(postgres_url), PostgresStore(postgres_url)
    try:
        writer = RevocationRegistry(writer_store, clock=virtual_clock)
        reader = RevocationRegistry(reader_store, clock=virtual_clock)
        assert reader.start_listening()
        listening = threading.Event()
        for _ in range(100):  # the listener connects in its own thread
            if reader.listening:
                listening.set()
                break
            threading.Event().wait(0.05)
        assert listening.is_set()
        reader.epoch  # noqa: B018 - absorb the reload the new listener asks for
        sid = uuid.uuid4().hex
        writer.revoke("sid", sid, expires_at=virtual_clock.time() + 60)
        assert reader.notified.wait(10.0)
        reader.epoch  # noqa: B018 - the next verification reloads
        assert reader.is_revoked({"sid": sid})
        reader.stop_listening()
        assert not reader.listening
    finally:
        writer_store.close()
        reader_store.close()


@pytest.mark.postgres
async def test_the_provider_listens_while_it_runs(
    postgres_url: str, virtual_clock: VirtualClock, secrets_plain: dict[str, str]
) -> None:
    """The app's lifespan opens the listening connection and closes it at shutdown."""
    import anyio

    from govlink.store._postgres import PostgresStore

    store = PostgresStore(postgres_url)
    try:
        ring = KeyRing(store, PassphraseProtector("test passphrase"), clock=virtual_clock)
        if not ring.list_keys():
            ring.init(["ES256"])
        halls = HallRegistry.demo_city()
        issuer = Issuer(issuer=ISSUER, keys=ring, halls=halls, store=store, clock=virtual_clock)
        app = create_provider_app(
            CityIdentity(ring, halls, issuer, development=False),
            client_secrets=ClientSecrets.from_config(secrets_plain),
        )
        async with app.router.lifespan_context(app):  # what uvicorn runs at start and stop
            for _ in range(100):  # the listener connects in its own thread
                if issuer.revocations.listening:
                    break
                await anyio.sleep(0.05)
            assert issuer.revocations.listening
        assert not issuer.revocations.listening
    finally:
        store.close()
