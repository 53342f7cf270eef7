"""Single sign-on in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``) driven by
Playwright through the example of ``examples/sso`` — the mock province with its identity
platform, the city identity provider and two hall apps, all on loopback.

Sign in once at the city hall through the province's sign-in page, open the county hall without
signing in again, sign out at the county hall, and see both halls show the person signed out
(each received the provider's back-channel logout). A screenshot of every step is saved under
``$GOVLINK_ARTIFACTS_DIR/screenshots/sso/`` (default ``.artifacts/screenshots/sso/`` in the
repository).

Needs ``playwright`` (the ``dev`` extra) and Chromium at ``$GOVLINK_CHROMIUM`` (default
``/usr/bin/chromium``; ``apt-get install chromium``). Without them the test skips and says so;
with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import REPO, screenshots_dir

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def demo(page: Page) -> Iterator[Any]:
    sys.path.insert(0, str(REPO / "examples" / "sso"))
    try:
        from run import start_sso_demo
    finally:
        sys.path.remove(str(REPO / "examples" / "sso"))
    with start_sso_demo() as running:
        yield running


def signed_in(page: Page) -> str | None:
    return page.get_attribute("#status", "data-signed-in")


def wait_for_backchannel_logout(page: Page, url: str) -> None:
    """Reload ``url`` until its counter shows one back-channel logout (at most ~5 s): the
    provider delivers it just after answering the browser."""
    for _ in range(50):
        page.goto(url)
        if page.inner_text("#backchannel") == "1":
            return
        page.wait_for_timeout(100)
    pytest.fail(f"{url} never received the back-channel logout")


def test_sign_in_once_sso_and_single_logout(demo: Any, page: Page) -> None:
    shots = screenshots_dir("sso")
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))

    # 1. The city hall: nobody signed in.
    page.goto(f"{demo.city_hall_url}/")
    assert signed_in(page) == "no"
    page.screenshot(path=shots / "01-city-hall-not-signed-in.png", full_page=True)

    # 2. Sign in: the province's sign-in page lists the test people.
    page.click("#sign-in")
    page.wait_for_url(f"{demo.identity_url}/login?**")
    assert page.locator("button[name=person]").count() == len(demo.platform.people)
    page.screenshot(path=shots / "02-province-sign-in-page.png", full_page=True)

    # 3. Pick 王五 (trust level 4): back at the city hall, signed in at acr 4.
    page.click("button[value=wang-l4]")
    page.wait_for_url(f"{demo.city_hall_url}/")
    assert signed_in(page) == "yes"
    assert page.inner_text("#acr") == "4"
    assert page.inner_text("#who") == "王*"
    assert page.inner_text("#api").startswith("200 ")  # the hall's API accepted the token
    page.screenshot(path=shots / "03-city-hall-signed-in.png", full_page=True)

    # 4. The county hall: one click, no second sign-in (the province's page is not shown).
    page.goto(f"{demo.county_hall_url}/")
    assert signed_in(page) == "no"
    before = len(visited)
    page.click("#sign-in")
    page.wait_for_url(f"{demo.county_hall_url}/")
    assert signed_in(page) == "yes"
    assert page.inner_text("#acr") == "4"
    assert not [url for url in visited[before:] if url.startswith(demo.identity_url)]
    page.screenshot(path=shots / "04-county-hall-signed-in-by-sso.png", full_page=True)

    # 5. Sign out at the county hall: the provider ends the SSO session.
    page.click("#sign-out")
    page.wait_for_url(f"{demo.county_hall_url}/")
    assert signed_in(page) == "no"
    page.screenshot(path=shots / "05-county-hall-signed-out.png", full_page=True)

    # 6. Both halls received the back-channel logout; the city hall shows the person signed out.
    for url in (demo.county_hall_url, demo.city_hall_url):
        wait_for_backchannel_logout(page, f"{url}/")
    assert signed_in(page) == "no"
    assert "back-channel logout" in page.inner_text("#ended")
    page.screenshot(path=shots / "06-city-hall-signed-out-by-back-channel.png", full_page=True)
