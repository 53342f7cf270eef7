"""Sign-in at the provincial platform (issue 11, point 2), in-process: a person who is not signed
in at ``/authorize`` is sent to the mock province's sign-in page and comes back with a one-time
ticket, which opens the SSO session at the person's trust level; ``prompt=none`` and step-up
still answer with errors; beside the development password page, the province is a link."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
    DevPasswordAuthenticator,
    DevUser,
    HallRegistry,
    Issuer,
    KeyRing,
    create_provider_app,
)
from govlink.identity._jose import b64url_encode
from govlink.testing import IdentityPlatform

pytestmark = pytest.mark.anyio

HALL = "hall-370502"
CALLBACK = "https://370502.hall.example/callback"
SECRETS = {c.client_id: f"secret-{c.client_id}" for c in HallRegistry.demo_city()}
USERS = (DevUser("zhangsan", "correct horse 3", "11010519491231002X", "张三", "3"),)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def platform(virtual_clock: VirtualClock) -> IdentityPlatform:
    # The demo app's tickets are addressed to ISSUER, and it may send people back there.
    return IdentityPlatform(clock=virtual_clock)


def provider(
    ring: KeyRing,
    halls: HallRegistry,
    issuer: Issuer,
    platform: IdentityPlatform,
    *,
    sign_in: bool = True,
    authenticator: Any = None,
) -> Any:
    return create_provider_app(
        CityIdentity(ring, halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config(SECRETS),
        provinces=[platform.provincial_mapping(platform.key_source(), audience=ISSUER)],
        province_sign_in=f"{platform.login_url}?app_id=govlink-demo-city" if sign_in else None,
        authenticator=authenticator,
    )


class Browser:
    """Follows redirects between the provider and the mock province, both in-process; stops
    at a hall's callback (not served here)."""

    def __init__(self, idp: httpx.AsyncClient, province: httpx.AsyncClient) -> None:
        self.idp, self.province = idp, province
        self.visited: list[str] = []

    async def go(self, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        for _ in range(10):
            self.visited.append(url)
            client = self.province if url.startswith("http://province.test/") else self.idp
            response = await (client.post(url, data=data) if data else client.get(url))
            data = None
            location = response.headers.get("location")
            if response.status_code != 303 or location is None:
                return response
            if not location.startswith((ISSUER, "http://province.test/")):
                return response  # a hall's callback
            url = location
        raise AssertionError("redirect loop")


@pytest.fixture
async def browser(
    ring: KeyRing, halls: HallRegistry, issuer: Issuer, platform: IdentityPlatform
) -> AsyncIterator[Browser]:
    app = provider(ring, halls, issuer, platform)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as idp,
        platform.async_client() as province,
    ):
        yield Browser(idp, province)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    return verifier, b64url_encode(hashlib.sha256(verifier.encode()).digest())


def authorize_url(challenge: str, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": HALL,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return str(httpx.URL(f"{ISSUER}/authorize", params=query))


async def pick(browser: Browser, page: httpx.Response, person: str) -> httpx.Response:
    """Choose ``person`` on the province's sign-in page (what the button posts)."""
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r"name='(service|app_id)' value='([^']*)'", page.text))
    form = {name: html.unescape(value) for name, value in hidden.items()}
    return await browser.go(str(page.url), {**form, "person": person})


def callback(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK)
    return parse_qs(urlsplit(location).query)


async def test_not_signed_in_goes_to_the_province_and_back_with_a_ticket(
    browser: Browser, platform: IdentityPlatform
) -> None:
    verifier, challenge = pkce()
    page = await browser.go(authorize_url(challenge))
    # The province's sign-in page, asked to send the browser back to this very request.
    assert str(page.url).startswith(f"{platform.login_url}?")
    service = parse_qs(urlsplit(str(page.url)).query)["service"][0]
    assert service.startswith(f"{ISSUER}/authorize?")
    assert parse_qs(urlsplit(service).query)["code_challenge"] == [challenge]
    assert "wang-l4" in page.text

    done = await pick(browser, page, "wang-l4")
    back = [url for url in browser.visited if "ticket=" in url]
    assert len(back) == 1
    assert back[0].startswith(f"{ISSUER}/authorize?")
    query = callback(done)
    assert query["state"] == ["st"]
    assert query["iss"] == [ISSUER]

    tokens = await browser.idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(HALL, SECRETS[HALL]),
    )
    assert tokens.status_code == 200, tokens.text
    info = await browser.idp.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert info.json()["masked_id"] == platform.people["wang-l4"].id_number.masked
    introspected = await browser.idp.post(
        "/introspect", data={"token": tokens.json()["access_token"]}, auth=(HALL, SECRETS[HALL])
    )
    assert introspected.json()["acr"] == "4"

    # The SSO session: the next hall request gets a code without a visit to the province.
    before = len(browser.visited)
    again = await browser.go(
        authorize_url(
            pkce()[1], client_id="hall-370503", redirect_uri="https://370503.hall.example/callback"
        )
    )
    assert again.status_code == 303
    assert "code=" in again.headers["location"]
    assert not [url for url in browser.visited[before:] if url.startswith(platform.base_url)]


async def test_the_ticket_in_the_return_url_works_once(browser: Browser) -> None:
    _, challenge = pkce()
    page = await browser.go(authorize_url(challenge))
    callback(await pick(browser, page, "li-l3"))
    back = next(url for url in browser.visited if "ticket=" in url)
    browser.idp.cookies.clear()  # another browser replaying the captured URL
    replayed = await browser.go(back)
    assert callback(replayed)["error"] == ["access_denied"]


async def test_prompt_none_and_step_up_still_answer_with_errors(browser: Browser) -> None:
    _, challenge = pkce()
    refused = await browser.go(authorize_url(challenge, prompt="none"))
    assert callback(refused)["error"] == ["login_required"]
    # acr_values=5, and the person picked reaches level 4 only: an error, never a lower acr.
    page = await browser.go(authorize_url(challenge, acr_values="5"))
    assert callback(await pick(browser, page, "wang-l4"))["error"] == [
        "unmet_authentication_requirements"
    ]


async def test_without_a_province_sign_in_page_it_is_login_required(
    ring: KeyRing, halls: HallRegistry, issuer: Issuer, platform: IdentityPlatform
) -> None:
    app = provider(ring, halls, issuer, platform, sign_in=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as idp:
        answer = await idp.get(authorize_url(pkce()[1]))
    assert callback(answer)["error"] == ["login_required"]


async def test_the_password_page_links_to_the_province(
    ring: KeyRing, halls: HallRegistry, issuer: Issuer, platform: IdentityPlatform
) -> None:
    app = provider(ring, halls, issuer, platform, authenticator=DevPasswordAuthenticator(USERS))
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as idp,
        platform.async_client() as province,
    ):
        browser = Browser(idp, province)
        _, challenge = pkce()
        page = await browser.go(authorize_url(challenge))
        assert page.status_code == 200
        assert "name='password'" in page.text  # the development page itself
        link = re.search(r"<a id='province-sign-in' href='([^']+)'", page.text)
        assert link is not None, page.text
        href = html.unescape(link.group(1))
        assert href.startswith(f"{platform.login_url}?")
        province_page = await browser.go(href)
        assert callback(await pick(browser, province_page, "zhao-l5"))["code"]
