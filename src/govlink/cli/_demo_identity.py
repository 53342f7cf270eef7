"""Demo step ``identity``: the identity story over HTTP, as a browser and two halls live it.

On free loopback ports (uvicorn, background threads, stopped at the end whatever happens):

* the **city identity provider**, built from the library as ``govlink idp serve --dev`` builds
  it, with the mock provincial identity platform (省统一身份认证平台) mounted beside it
  (:func:`govlink.cli._idp.in_process_province`) as the place people sign in;
* two **hall apps** (city hall 370500, county hall 370502; :mod:`govlink.cli._demo_halls`),
  registered clients with back-channel logout receivers.

Then an HTTP client that keeps cookies and follows redirects as a browser would runs the checks:
``sign_in`` (authorization code + PKCE through the province's sign-in page, a test person
picked), ``sso`` (the county hall signs the person in without the sign-in page),
``provincial_exchange`` (a provincial one-time ticket exchanged for a city token, RFC 8693,
accepted by the county hall's API), three refusals (``refuse_misaddressed``,
``refuse_forged``, ``refuse_alg_none``) and ``single_logout`` (sign out at the city hall; both
halls' back-channel receivers end the session).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jws
from joserfc.jwk import ECKey

from .._clock import system_clock
from .._http import httpx
from .._settings import load_settings
from ..identity import (
    TOKEN_TYPE_JWT,
    ClientSecrets,
    ExchangePolicy,
    ExchangeRule,
    HallClient,
    HallRegistry,
    InvalidToken,
    TokenExchange,
    Verifier,
    create_provider_app,
    open_city_identity,
)
from ..store import open_store
from ._demo import Demo
from ._demo_halls import DemoHall
from ._demo_servers import loopback_socket, serve_app, socket_url
from ._idp import MOCK_IDENTITY_PATH, in_process_province

__all__ = ["step"]

CITY_HALL, COUNTY_HALL = "370500", "370502"
#: Generous: a busy 2-core machine may be slow, never this slow.
TIMEOUT = 30.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
#: The test person the demo signs in as (a natural person at trust level 4).
PERSON = "wang-l4"

_HIDDEN = re.compile(r"<input type='hidden' name='(\w+)' value='([^']*)'>")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(_unb64url(token.split(".")[1]))
    return claims


def _header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(_unb64url(token.split(".")[0]))
    return header


def _refusal(verifier: Verifier, token: str) -> str | None:
    try:
        verifier.verify(token)
    except InvalidToken as exc:
        return exc.code
    return None


def _hall_client(code: str, url: str) -> HallClient:
    from ..domain import default_regions

    return HallClient(
        client_id=f"hall-{code}",
        hall_code=code,
        name=default_regions().get(code).name,
        audience=f"hall-{code}",
        redirect_uris=(f"{url}/callback",),
        backchannel_logout_uri=f"{url}/backchannel-logout",
        post_logout_redirect_uris=(f"{url}/",),
    )


class _Story:
    """The checks, in order; ``phase`` names the one running (for a failure's name)."""

    def __init__(self, demo: Demo, browser: httpx.Client, idp_url: str, secrets: dict[str, str]):
        self.demo = demo
        self.browser = browser
        self.idp_url = idp_url
        self.secrets = secrets
        self.phase = "servers"
        self.summary: dict[str, Any] = {}

    def sign_in(self, city: DemoHall) -> dict[str, Any] | None:
        self.phase = "sign_in"
        page = self.browser.get(f"{city.url}/login")
        if page.status_code != 200 or not page.url.path.endswith(f"{MOCK_IDENTITY_PATH}/login"):
            self.demo.fail("sign_in", f"no provincial sign-in page: {page.status_code} {page.url}")
            return None
        form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
        self.login_url, self.form = str(page.url), form
        done = self.browser.post(self.login_url, data={**form, "person": PERSON})
        state = done.json() if done.headers.get("content-type") == "application/json" else {}
        if done.status_code != 200 or not state.get("signed_in"):
            self.demo.fail("sign_in", f"the city hall did not sign in: {done.status_code} {state}")
            return None
        self.demo.ok(
            "sign_in",
            f"signed in at 东营市 (370500) through the province's sign-in page as {PERSON}: "
            f"authorization code + PKCE, acr {state['acr']}, {state['masked_id']} "
            f"({len(done.history)} redirects)",
        )
        self.summary["sign_in"] = {"acr": state["acr"], "redirects": len(done.history)}
        return state

    def sso(self, county: DemoHall, city_state: dict[str, Any]) -> dict[str, Any] | None:
        self.phase = "sso"
        done = self.browser.get(f"{county.url}/login")
        asked = [str(r.url) for r in done.history if MOCK_IDENTITY_PATH in r.url.path]
        state = done.json() if done.status_code == 200 else {}
        if not state.get("signed_in") or asked or state.get("sid") != city_state["sid"]:
            self.demo.fail(
                "sso",
                f"county hall: {done.status_code}, signed in {state.get('signed_in')}, "
                f"sign-in page shown {len(asked)} times",
            )
            return None
        self.demo.ok(
            "sso",
            f"东营区 (370502) signed the person in without a new sign-in: same SSO session "
            f"(sid {state['sid'][:8]}…), {len(done.history)} redirects, no sign-in page",
        )
        self.summary["sso"] = True
        return state

    def provincial_exchange(self, county: DemoHall) -> None:
        self.phase = "provincial_exchange"
        # A fresh one-time ticket from the province's sign-in page, not followed to the
        # provider: the ticket in the redirect is the provincial token a hall may hold.
        answer = self.browser.post(
            self.login_url, data={**self.form, "person": PERSON}, follow_redirects=False
        )
        ticket = parse_qs(urlsplit(answer.headers.get("location", "")).query).get("ticket")
        if not ticket:
            self.demo.fail(
                "provincial_exchange", f"no ticket from the province ({answer.status_code})"
            )
            return
        exchanged = self.browser.post(
            f"{self.idp_url}/token",
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": ticket[0],
                "subject_token_type": TOKEN_TYPE_JWT,
                "audience": county.client_id,
            },
            auth=(f"hall-{CITY_HALL}", self.secrets[f"hall-{CITY_HALL}"]),
        )
        if exchanged.status_code != 200:
            self.demo.fail(
                "provincial_exchange",
                f"token exchange refused: {exchanged.status_code} {exchanged.text[:200]}",
            )
            return
        token = exchanged.json()["access_token"]
        claims = _claims(token)
        api = self.browser.get(f"{county.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        if api.status_code != 200:
            self.demo.fail(
                "provincial_exchange", f"county hall API refused the city token: {api.status_code}"
            )
            return
        self.demo.ok(
            "provincial_exchange",
            f"provincial ticket (iss {_claims(ticket[0])['iss']}) exchanged for a city token "
            f"(RFC 8693, iss {claims['iss']}, aud {claims['aud']}, acr {claims['acr']}); the "
            "county hall's API accepts it",
        )
        self.summary["provincial_exchange"] = {"aud": claims["aud"], "acr": claims["acr"]}

    def refusals(self, city: DemoHall, county: DemoHall) -> None:
        self.phase = "refuse_misaddressed"
        city_token = city.access_token(self.browser.cookies.get(city.cookie))
        county_token = county.access_token(self.browser.cookies.get(county.cookie))
        if city_token is None or county_token is None:
            self.demo.fail("refuse_misaddressed", "the halls hold no session to take tokens from")
            return
        # The attacker's own tools: joserfc signs with a key the city never published.
        forged = jws.serialize_compact(
            _header(county_token),
            json.dumps(_claims(county_token)).encode(),
            ECKey.generate_key("P-256"),
        )
        none_header = _b64url(b'{"alg":"none","typ":"at+jwt"}')
        unsigned = f"{none_header}.{county_token.split('.')[1]}."
        cases = {
            "refuse_misaddressed": (
                "city token at the county hall",
                city_token,
                "invalid_audience",
            ),
            "refuse_forged": ("token signed with another key", forged, "invalid_signature"),
            "refuse_alg_none": ("alg none", unsigned, "algorithm_not_allowed"),
        }
        refusals: dict[str, str | None] = {}
        for check, (what, token, expected) in cases.items():
            self.phase = check
            api = self.browser.get(
                f"{county.url}/api/me", headers={"Authorization": f"Bearer {token}"}
            )
            got = _refusal(county.verifier, token)  # the hall's verifier: the precise code
            refusals[what] = got
            self.demo.check(
                check,
                api.status_code == 401 and got == expected,
                f"refused: {what} (county hall API {api.status_code}) \\[{got}]"
                if got == expected
                else f"{what}: expected 401 {expected}, got {api.status_code} {got or 'accepted'}",
            )
        self.summary["refusals"] = refusals

    def single_logout(self, city: DemoHall, county: DemoHall) -> None:
        self.phase = "single_logout"
        self.browser.post(f"{city.url}/logout")
        deadline = time.monotonic() + TIMEOUT
        while not (city.logouts and county.logouts) and time.monotonic() < deadline:
            time.sleep(0.05)  # the provider delivers the notices while the browser is sent back
        after = {
            hall.hall_code: self.browser.get(f"{hall.url}/").json().get("signed_in")
            for hall in (city, county)
        }
        received = {city.hall_code: len(city.logouts), county.hall_code: len(county.logouts)}
        self.summary["logout"] = {"backchannel_received": received, "signed_in_after": after}
        self.demo.check(
            "single_logout",
            all(received.values()) and not any(after.values()),
            "single logout: signed out at the city hall; both halls' back-channel receivers "
            f"ended the session (notices received {received}); neither hall shows the person"
            if all(received.values()) and not any(after.values())
            else f"after single logout: notices received {received}, signed in {after}",
        )


def step(demo: Demo) -> None:
    """Run the identity part of the demo story (see the module docstring)."""
    demo.section("Unified identity (统一身份认证): one sign-in for every hall, over HTTP")
    settings = load_settings(home=str(demo.home)).model_copy(
        update={"key_passphrase": None, "city": CITY_HALL}
    )
    socks = [loopback_socket() for _ in range(3)]
    idp_url, city_url, county_url = (socket_url(s) for s in socks)
    story: _Story | None = None
    with contextlib.ExitStack() as stack:
        for sock in socks:
            stack.callback(sock.close)
        try:
            store = stack.enter_context(
                contextlib.closing(open_store(f"sqlite:///{demo.home / 'identity.db'}"))
            )
            halls = HallRegistry(
                [_hall_client(CITY_HALL, city_url), _hall_client(COUNTY_HALL, county_url)]
            )
            city = open_city_identity(
                settings,
                store,
                clock=system_clock,  # real HTTP, real time: tickets and tokens expire for real
                dev=True,
                create_dev_passphrase=True,
                halls=halls,
                issuer=idp_url,
            )
            if not city.keys.list_keys():
                city.keys.init(["ES256", "RS256"])  # RS256 for ID tokens, as `idp serve --dev`
            host, port = socks[0].getsockname()[:2]
            province = in_process_province(system_clock, idp_url, host, port)
            client_secrets, plain = ClientSecrets.generate(c.client_id for c in halls)
            policy = ExchangePolicy(
                (ExchangeRule(idp_url), ExchangeRule(province.mapping.issuer, min_acr=3))
            )
            provider = create_provider_app(
                city,
                client_secrets=client_secrets,
                exchange=TokenExchange(city.issuer, policy, provinces=[province.mapping]),
                secure_cookies=False,  # plain http on loopback
                province_sign_in=province.sign_in,
            )
            provider.mount(MOCK_IDENTITY_PATH, province.app)
            city_hall, county_hall = (
                DemoHall(code, f"hall-{code}", plain[f"hall-{code}"], url, idp_url)
                for code, url in ((CITY_HALL, city_url), (COUNTY_HALL, county_url))
            )
            apps = (provider, city_hall.app(), county_hall.app())
            for app, sock, name in zip(
                apps, socks, ("idp", "city-hall", "county-hall"), strict=True
            ):
                stack.enter_context(serve_app(app, sock, f"govlink-demo-{name}"))
            demo.info(
                f"city identity provider {idp_url} (mock provincial sign-in at "
                f"{MOCK_IDENTITY_PATH}), city hall {city_url}, county hall {county_url}"
            )
            # trust_env=False: loopback only, whatever proxy the environment names.
            browser = stack.enter_context(
                httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False)
            )
            story = _Story(demo, browser, idp_url, plain)
            city_state = story.sign_in(city_hall)
            county_state = story.sso(county_hall, city_state) if city_state else None
            if city_state:
                story.provincial_exchange(county_hall)
            if city_state and county_state:
                story.refusals(city_hall, county_hall)
                story.single_logout(city_hall, county_hall)
        except Exception as exc:
            # Whatever breaks (a server, a redirect, a refused request), the demo names the
            # check that was running and exits 1: never a traceback.
            phase = story.phase if story else "servers"
            demo.fail(phase, f"{type(exc).__name__}: {exc}")
    demo.summary["identity"] = story.summary if story else {}
