"""The mock province's identity face: its people, tickets, CAS-like calls and admin endpoint, and
its faults seen from the city identity provider (JWKS outage, slow JWKS, key rotation, replayed
and expired tickets)."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from govlink import Clock, ValidationError, VirtualClock, system_clock
from govlink._http import httpx
from govlink.domain import CreditCode, ResidentId
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
    HallRegistry,
    Issuer,
    JWKSCachePolicy,
    KeyRing,
    PassphraseProtector,
    ProvincialMapping,
    RemoteJWKS,
    RolloverPolicy,
    create_provider_app,
)
from govlink.identity._jose import b64url_decode, b64url_encode
from govlink.store import Store
from govlink.testing import (
    TEST_PEOPLE,
    IdentityFaults,
    IdentityPlatform,
    IdentityPlatformConfig,
    served_identity,
    signed_headers,
)
from govlink.testing._identity_platform import (
    DEFAULT_CITY_AUDIENCE,
    DEMO_IDENTITY_APP_ID,
    DEMO_IDENTITY_APP_SECRET,
)

CITY = DEFAULT_CITY_AUDIENCE  # the city identity provider's issuer (and the tickets' aud)
HALL = "hall-370500"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def platform(virtual_clock: VirtualClock) -> IdentityPlatform:
    return IdentityPlatform(clock=virtual_clock)


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))  # type: ignore[no-any-return]


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[0]))  # type: ignore[no-any-return]


def ticket_from(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]


# --- the people -------------------------------------------------------------------------------


def test_people_have_valid_identifiers_at_every_trust_level() -> None:
    assert {p.trust_level for p in TEST_PEOPLE.values()} == {2, 3, 4, 5}
    assert {p.kind for p in TEST_PEOPLE.values()} == {"person", "legal"}
    for person in TEST_PEOPLE.values():
        assert ResidentId.is_valid(str.__str__(person.id_number))
        assert person.id_number.masked in repr(person)
        assert str.__str__(person.id_number) not in repr(person)
        if person.kind == "legal":
            assert person.credit_code is not None
            assert CreditCode.is_valid(str.__str__(person.credit_code))
            assert person.org_name
        claims = person.ticket_claims()
        assert str.__str__(person.id_number) not in json.dumps(claims, ensure_ascii=False)
    with pytest.raises(ValidationError) as caught:
        TEST_PEOPLE.get_person("nobody")
    assert (caught.value.problems[0].field, caught.value.problems[0].rule) == (
        "person",
        "known_person",
    )


# --- sign-in page and tickets -----------------------------------------------------------------


def test_sign_in_page_lists_people_and_hands_back_a_ticket(
    platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    service = "http://127.0.0.1:8600/authorize?client_id=x&state=s"
    with platform.client() as http:
        page = http.get("/login", params={"service": service})
        assert page.status_code == 200
        for person in TEST_PEOPLE.values():
            assert f"value='{person.handle}'" in page.text
            assert person.id_number.masked in page.text
            assert str.__str__(person.id_number) not in page.text
        response = http.post("/login", data={"service": service, "person": "corp-l5"})
    location = response.headers["location"]
    assert location.startswith(service + "&ticket=")
    ticket = ticket_from(response)
    header, claims = header_of(ticket), claims_of(ticket)
    assert header["typ"] == "JWT"
    assert header["alg"] == "ES256"
    assert header["kid"] in platform.published_keys()
    now = int(virtual_clock.time())
    assert claims["iss"] == platform.issuer
    assert claims["aud"] == CITY
    assert claims["sub"] == "sd20000002"
    assert claims["acr"] == "5"
    assert claims["user_type"] == "2"
    assert claims["credit_code"] == str.__str__(TEST_PEOPLE["corp-l5"].credit_code)
    assert claims["exp"] - claims["iat"] == 120
    assert claims["iat"] == now
    assert len(claims["jti"]) == 32


def test_sign_in_refuses_unregistered_services_and_unknown_people(
    platform: IdentityPlatform,
) -> None:
    with platform.client() as http:
        assert http.get("/login").status_code == 400
        evil = http.get("/login", params={"service": "https://evil.example/cb"})
        assert evil.status_code == 400
        assert "not registered" in evil.text
        posted = http.post("/login", data={"service": "https://evil.example/", "person": "li-l3"})
        assert posted.status_code == 400
        assert "location" not in posted.headers
        unknown = http.post("/login", data={"service": "http://127.0.0.1/", "person": "nobody"})
        assert unknown.status_code == 200
        assert "choose one of the test people" in unknown.text
        assert (
            http.get("/login", params={"service": "http://127.0.0.1/", "app_id": "x"}).status_code
            == 400
        )
    assert platform.state()["tickets_issued"] == 0


def test_ticket_lifetime_is_configurable(virtual_clock: VirtualClock) -> None:
    platform = IdentityPlatform(
        clock=virtual_clock, config=IdentityPlatformConfig(ticket_lifetime=30)
    )
    claims = claims_of(platform.sign_in("li-l3"))
    assert claims["exp"] - claims["iat"] == 30
    with pytest.raises(ValidationError, match="positive"):
        IdentityPlatformConfig(ticket_lifetime=0)


# --- the CAS-like calls -----------------------------------------------------------------------


def call(
    http: httpx.Client, path: str, data: dict[str, Any], clock: VirtualClock, **kw: Any
) -> httpx.Response:
    body = json.dumps(data).encode()
    headers = signed_headers(
        DEMO_IDENTITY_APP_ID, DEMO_IDENTITY_APP_SECRET, body, clock=clock, **kw
    )
    return http.post(path, content=body, headers=headers)


def test_ticket_to_token_to_user_info(
    platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    ticket = platform.sign_in("wang-l4")
    with platform.client() as http:
        token = call(http, "/api/token", {"ticket": ticket}, virtual_clock)
        assert token.status_code == 200
        body = token.json()
        assert (body["retcode"], body["msg"]) == ("000000", "success")
        assert body["data"]["user_id"] == "sd10000003"
        info = call(
            http,
            "/api/userinfo",
            {"access_token": body["data"]["access_token"]},
            virtual_clock,
            timestamp_ms=int(virtual_clock.time() * 1000) + 1,
        )
        assert info.json()["retcode"] == "000000"
        data = info.json()["data"]
        assert data["id_number"] == str.__str__(TEST_PEOPLE["wang-l4"].id_number)
        assert data["trust_level"] == 4
        # The ticket is single use.
        again = call(
            http,
            "/api/token",
            {"ticket": ticket},
            virtual_clock,
            timestamp_ms=int(virtual_clock.time() * 1000) + 2,
        )
        assert (again.status_code, again.json()["retcode"]) == (400, "300003")


def test_signed_requests_and_ticket_refusals(
    platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    ticket = platform.sign_in("li-l3")
    body = json.dumps({"ticket": ticket}).encode()
    good = signed_headers(DEMO_IDENTITY_APP_ID, DEMO_IDENTITY_APP_SECRET, body, clock=virtual_clock)
    with platform.client() as http:

        def retcode(headers: dict[str, str], content: bytes = body) -> tuple[int, str]:
            response = http.post("/api/token", content=content, headers=headers)
            return response.status_code, response.json()["retcode"]

        assert retcode({}) == (401, "100001")
        assert retcode({**good, "X-App-Id": "someone"}) == (401, "100002")
        stale = signed_headers(
            DEMO_IDENTITY_APP_ID,
            DEMO_IDENTITY_APP_SECRET,
            body,
            timestamp_ms=int(virtual_clock.time() * 1000) - 600_000,
        )
        assert retcode(stale) == (401, "100003")
        assert retcode({**good, "X-Signature": "0" * 64}) == (401, "100005")
        assert retcode(good, body + b" ") == (401, "100005")  # the body is signed
        assert retcode(good) == (200, "000000")
        assert retcode(good) == (401, "100004")  # the same signed request twice
        stamp = int(virtual_clock.time() * 1000)
        forged = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
        assert (
            call(
                http, "/api/token", {"ticket": forged}, virtual_clock, timestamp_ms=stamp + 1
            ).json()["retcode"]
            == "300001"
        )
        assert (
            call(http, "/api/token", {"ticket": "x"}, virtual_clock, timestamp_ms=stamp + 2).json()[
                "retcode"
            ]
            == "300001"
        )
        late = platform.sign_in("li-l3")
        virtual_clock.advance(121)
        assert call(http, "/api/token", {"ticket": late}, virtual_clock).json()["retcode"] == (
            "300002"
        )
        assert (
            call(
                http,
                "/api/userinfo",
                {"access_token": "nope"},
                virtual_clock,
                timestamp_ms=int(virtual_clock.time() * 1000) + 1,
            ).json()["retcode"]
            == "300005"
        )
    with pytest.raises(ValidationError) as caught:
        platform.redeem_ticket(platform.sign_in("li-l3"), "another-app")
    assert caught.value.problems[0].rule == "other_app"


# --- faults: spec, admin endpoint -------------------------------------------------------------


def test_fault_spec_round_trip_and_errors() -> None:
    spec = (
        "jwks_outage:for=600s;jwks_slow:ms=250;expired_tickets;replayed_tickets;rotate:every=3600s"
    )
    faults = IdentityFaults.parse(spec)
    assert faults.jwks_outage_for == 600
    assert faults.jwks_latency == 0.25
    assert faults.rotate_every == 3600
    assert IdentityFaults.parse(faults.to_spec()) == faults
    assert IdentityFaults.parse("") == IdentityFaults()
    for bad, where, rule in [
        ("jwks_down", "faults[0].kind", "known_fault"),
        ("expired_tickets;jwks_slow:ms=x", "faults[1].ms", "number"),
        ("jwks_outage:at=1s", "faults[0].at", "known_param"),
        ("rotate", "faults[0].every", "duration"),
        ("rotate:every=0", "faults[0].every", "positive"),
    ]:
        with pytest.raises(ValidationError) as caught:
            IdentityFaults.parse(bad)
        assert (caught.value.problems[0].field, caught.value.problems[0].rule) == (where, rule)


def test_admin_endpoint(platform: IdentityPlatform) -> None:
    with platform.client() as http:
        first = http.get("/admin/state").json()["signing_kid"]
        set_ = http.post("/admin/faults", json={"spec": "jwks_outage;replayed_tickets"})
        assert set_.json() == {"spec": "jwks_outage;replayed_tickets"}
        assert http.get("/jwks").status_code == 503
        bad = http.post("/admin/faults", json={"spec": "nonsense"})
        assert bad.status_code == 400
        assert bad.json()["problems"][0]["rule"] == "known_fault"
        assert http.get("/admin/faults").json() == {"spec": "jwks_outage;replayed_tickets"}
        rotated = http.post("/admin/rotate", json={}).json()
        assert rotated["kid"] != first
        assert set(rotated["published_kids"]) == {first, rotated["kid"]}
        assert http.post("/admin/rotate", json={"prepublish": "soon"}).status_code == 400
        assert http.post("/admin/reset").json() == {"reset": True}
        state = http.get("/admin/state").json()
        assert state["faults"] == ""
        assert len(state["published_kids"]) == 1
        assert http.get("/jwks").status_code == 200
        assert http.get("/admin/nothing").status_code == 404


# --- faults seen from the city identity provider ----------------------------------------------


class City:
    """The city identity provider trusting ``platform`` through its JWKS (as `idp serve` does)."""

    def __init__(
        self,
        platform: IdentityPlatform,
        store: Store,
        clock: Clock,
        policy: JWKSCachePolicy | None = None,
        jwks: RemoteJWKS | None = None,
        mapping: ProvincialMapping | None = None,
    ) -> None:
        ring = KeyRing(
            store,
            PassphraseProtector("test"),
            clock=clock,
            policy=RolloverPolicy(max_token_lifetime=600),
        )
        ring.init(["ES256"])
        halls = HallRegistry.demo_city()
        issuer = Issuer(issuer=CITY, keys=ring, halls=halls, store=store, clock=clock)
        self.platform = platform
        self.jwks = jwks or platform.remote_jwks(store=store, policy=policy)
        secrets_, _ = ClientSecrets.generate(c.client_id for c in halls)
        self.app = create_provider_app(
            CityIdentity(ring, halls, issuer, development=True),
            client_secrets=secrets_,
            provinces=[mapping or platform.provincial_mapping(self.jwks)],
        )
        self.hall = halls.resolve(HALL)

    def service(self) -> str:
        verifier = secrets.token_urlsafe(32)
        challenge = b64url_encode(hashlib.sha256(verifier.encode()).digest())
        query = {"response_type": "code", "client_id": HALL, "scope": "openid",
                 "redirect_uri": self.hall.redirect_uris[0], "state": "st",
                 "code_challenge": challenge, "code_challenge_method": "S256"}  # fmt: skip
        return f"{CITY}/authorize?{urlencode(query)}"

    async def sign_in(self, person: str = "wang-l4") -> dict[str, list[str]]:
        """The browser's path: the platform's page, the ticket, back to /authorize."""
        with self.platform.client() as province:
            response = province.post("/login", data={"service": self.service(), "person": person})
        return await self.authorize(response.headers["location"])

    async def authorize(self, url: str) -> dict[str, list[str]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)) as http:
            response = await http.get(url)
        assert response.status_code == 303, response.text
        return parse_qs(urlsplit(response.headers["location"]).query)

    async def with_ticket(self, ticket: str) -> dict[str, list[str]]:
        return await self.authorize(f"{self.service()}&{urlencode({'ticket': ticket})}")


@pytest.fixture
def city(platform: IdentityPlatform, sqlite_store: Store, virtual_clock: VirtualClock) -> City:
    return City(platform, sqlite_store, virtual_clock)


def jwks_answers(platform: IdentityPlatform) -> list[int]:
    return [e.status for e in platform.journal if e.path == "/jwks"]


@pytest.mark.anyio
async def test_the_provider_accepts_tickets_unchanged(city: City) -> None:
    for person in TEST_PEOPLE:
        params = await city.sign_in(person)
        assert "code" in params, params
    assert jwks_answers(city.platform) == [200]  # one fetch, then the cache


@pytest.mark.anyio
async def test_what_idp_serve_configures_accepts_them_too(
    platform: IdentityPlatform, sqlite_store: Store, virtual_clock: VirtualClock
) -> None:
    """`govlink idp serve` trusts the platform its settings name, with the default mapping."""
    from govlink import Settings
    from govlink.cli._idp import provincial_sign_in

    settings = Settings(
        province_identity_issuer=platform.issuer,
        province_identity_jwks_url=platform.jwks_url,
    )
    (mapping,) = provincial_sign_in(settings, sqlite_store, virtual_clock)
    assert mapping.audience == CITY  # the settings' default: the city issuer
    with platform.mock():  # its RemoteJWKS makes its own httpx clients: respx routes them
        city = City(platform, sqlite_store, virtual_clock, mapping=mapping)
        for person in TEST_PEOPLE:
            assert "code" in await city.sign_in(person)


@pytest.mark.anyio
async def test_jwks_outage_last_known_good_keeps_verifying(
    city: City, platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    assert "code" in await city.sign_in()
    platform.set_faults("jwks_outage")
    virtual_clock.advance(3600)  # the cached JWKS is stale: the provider must ask again
    assert "code" in await city.sign_in("zhao-l5")
    assert jwks_answers(platform) == [200, 503]
    assert [e.fault for e in platform.journal if e.path == "/jwks"] == [None, "jwks_outage"]
    # Past the last-known-good bound (24 h by default) nothing can be verified.
    virtual_clock.advance(24 * 3600)
    assert (await city.sign_in())["error"] == ["access_denied"]
    # The outage ends (a window): the provider recovers by itself.
    platform.set_faults("jwks_outage:for=1h")
    virtual_clock.advance(3601)
    assert "code" in await city.sign_in()


@pytest.mark.anyio
async def test_replayed_and_expired_tickets_are_refused(
    city: City, platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    assert "code" in await city.sign_in()
    platform.set_faults("replayed_tickets")
    assert (await city.sign_in())["error"] == ["access_denied"]
    platform.set_faults("expired_tickets")
    assert (await city.sign_in())["error"] == ["access_denied"]
    platform.set_faults(None)
    # A ticket kept too long (lifetime 120 s + the verifier's 60 s leeway).
    late = platform.sign_in("li-l3")
    virtual_clock.advance(181)
    assert (await city.with_ticket(late))["error"] == ["access_denied"]
    # A ticket used twice, at the provider itself.
    ticket = platform.sign_in("li-l3")
    assert "code" in await city.with_ticket(ticket)
    assert (await city.with_ticket(ticket))["error"] == ["access_denied"]


@pytest.mark.anyio
async def test_key_rotation_is_followed(
    city: City, platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    assert "code" in await city.sign_in()
    old_ticket = platform.sign_in("li-l3")
    new_kid = platform.rotate_key()
    assert header_of(platform.sign_in("li-l3"))["kid"] == new_kid
    # The new kid is unknown to the provider's cache: it refetches (after its cooldown).
    virtual_clock.advance(31)
    assert "code" in await city.sign_in()
    assert jwks_answers(platform) == [200, 200]
    # The old key stays published until its tickets expired: the old ticket still works.
    assert "code" in await city.with_ticket(old_ticket)
    # A pre-published key is already in the provider's cache when it starts signing.
    virtual_clock.advance(301)
    assert "code" in await city.sign_in()  # cache refreshed: holds only new_kid
    platform.rotate_key(prepublish=600)
    virtual_clock.advance(301)
    assert "code" in await city.sign_in()  # still signed by new_kid; JWKS refetched
    virtual_clock.advance(299)  # the provider's copy is 299 s old: still fresh
    fetches = len(jwks_answers(platform))
    assert "code" in await city.sign_in()  # the pre-published key signs now
    assert len(jwks_answers(platform)) == fetches  # known already: no extra fetch
    # Withdrawn at once: tickets it signed fail as of an unknown key.
    withdrawn = platform.sign_in("li-l3")
    platform.rotate_key(retire_previous=True)
    virtual_clock.advance(301)
    assert "code" in await city.sign_in()
    assert (await city.with_ticket(withdrawn))["error"] == ["access_denied"]


@pytest.mark.anyio
async def test_scheduled_rotation_mid_run(
    city: City, platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    platform.set_faults("rotate:every=10m")
    kids = set()
    for _ in range(4):
        kids.add(header_of(platform.sign_in("li-l3"))["kid"])
        assert "code" in await city.sign_in()
        virtual_clock.advance(601)
    assert len(kids) == 4


@pytest.mark.anyio
async def test_slow_jwks_in_process_waits_on_the_clock(
    city: City, platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    platform.set_faults("jwks_slow:ms=2500")
    before = virtual_clock.time()
    assert "code" in await city.sign_in()
    assert virtual_clock.time() - before >= 2.5
    assert [e.fault for e in platform.journal if e.path == "/jwks"] == ["jwks_slow"]


@pytest.mark.server
@pytest.mark.anyio
async def test_slow_served_jwks_times_out_to_last_known_good(sqlite_store: Store) -> None:
    platform = IdentityPlatform(clock=system_clock)
    with served_identity(platform) as served:
        # Every verification asks for the keys (lifetime 0), each request may take 0.2 s.
        policy = JWKSCachePolicy(lifetime=0, cooldown=0, timeout=0.2)
        jwks = RemoteJWKS(served.jwks_url, store=sqlite_store, policy=policy)
        city = City(platform, sqlite_store, system_clock, jwks=jwks)
        ticket = platform.sign_in("wang-l4")
        assert "code" in await city.with_ticket(ticket)
        platform.set_faults("jwks_slow:ms=700")
        assert "code" in await city.with_ticket(platform.sign_in("wang-l4"))
        assert jwks.fetch_count == 2
        assert "timeout" in (jwks._last_error or "").lower()  # served from last-known-good


@pytest.mark.anyio
async def test_every_in_process_face_answers_alike(platform: IdentityPlatform) -> None:
    with platform.mock(), httpx.Client() as http:  # respx: any client reaching the base URL
        assert http.get(platform.jwks_url).json() == platform.jwks()
        assert http.get(f"{platform.login_url}?service=http://127.0.0.1/").status_code == 200
    async with platform.async_client() as http:  # the Starlette app (path prefix stripped)
        assert (await http.get("/jwks")).json() == platform.jwks()
        posted = await http.post("/login", data={"service": "http://127.0.0.1/", "person": "li-l3"})
        assert claims_of(ticket_from(posted))["sub"] == "sd10000002"
        platform.set_faults("jwks_outage")
        assert (await http.get("/jwks")).status_code == 503


def test_a_long_run_forgets_what_no_longer_matters(
    platform: IdentityPlatform, virtual_clock: VirtualClock
) -> None:
    for _ in range(1001):
        platform.issue_ticket("li-l3")
    assert platform.state()["tickets_issued"] == 1001
    virtual_clock.advance(120 + 3601)
    platform.issue_ticket("li-l3")
    assert platform.state()["tickets_issued"] == 1


def test_a_non_ascii_signature_is_refused_not_a_crash() -> None:
    from govlink.testing import IdentityPlatform

    platform = IdentityPlatform()
    answer = platform.handle(
        "POST",
        "/api/token",
        {},
        {
            "x-app-id": "govlink-demo-city",
            "x-timestamp": str(int(platform.clock.time() * 1000)),  # reach the signature check
            "x-signature": "ü" * 64,
        },
        b"{}",
    )
    assert answer.status == 401
    assert b"100005" in answer.body  # bad signature, not a crash
