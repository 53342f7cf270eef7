"""``govlink idp serve --dev`` alone signs a person in, in a real browser (issue 11, point 2):
headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright opens the provider's
``/authorize``, lands on the mock province's sign-in page that ``--dev`` mounts at
``/province-identity``, picks a test person and comes back to the hall's redirect URI with a
code, which the test redeems for tokens at the person's trust level.

The hall is no server here: Playwright answers its callback URL itself. A screenshot of each
step is saved under ``$GOVLINK_ARTIFACTS_DIR/screenshots/idp-dev/`` (default
``.artifacts/screenshots/idp-dev/``). Skips without Playwright or Chromium and says so; with
``CI=true`` it fails instead (the same rules as test_sso_browser.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from browser_support import screenshots_dir

from govlink._http import httpx
from govlink.testing import TEST_PEOPLE

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.server]

HALL = "hall-370502"
CALLBACK = "http://127.0.0.1:9/callback"  # the dev halls accept any loopback port


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def idp(page: Page, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """``govlink idp serve --dev`` and nothing else (no province configured): its URL and the
    lines it printed on stderr."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    argv = ["idp", "serve", "--dev", "--port", str(port), "--home", str(tmp_path / "home")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "govlink", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "\n".join(lines)
            try:
                httpx.get(f"{url}/jwks", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "idp serve --dev did not answer"
                time.sleep(0.1)
        yield url, lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_idp_serve_dev_signs_in_through_the_mock_province(
    idp: tuple[str, list[str]], page: Page
) -> None:
    url, lines = idp
    shots = screenshots_dir("idp-dev")
    arrived: list[str] = []

    def hall_callback(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            body="<!doctype html><meta charset='utf-8'><h1 id='hall'>hall 370502 callback</h1>",
        )

    page.route(f"{CALLBACK}**", hall_callback)
    verifier = secrets.token_urlsafe(40)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": HALL,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "browser-1",
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }

    # 1. The provider sends the browser to the mock province's sign-in page.
    page.goto(f"{url}/authorize?{urlencode(query)}")
    page.wait_for_url(f"{url}/province-identity/login?**")
    assert page.locator("button[name=person]").count() == len(TEST_PEOPLE)
    page.screenshot(path=shots / "01-province-sign-in-page.png", full_page=True)

    # 2. Pick 王五 (trust level 4): back at the provider with a ticket, then at the hall.
    page.click("button[value=wang-l4]")
    page.wait_for_url(f"{CALLBACK}?**")
    assert page.inner_text("#hall") == "hall 370502 callback"
    page.screenshot(path=shots / "02-back-at-the-hall-with-a-code.png", full_page=True)
    assert len(arrived) == 1
    answer = {k: v[0] for k, v in parse_qs(urlsplit(arrived[0]).query).items()}
    assert answer["state"] == "browser-1"
    assert answer["iss"] == url

    secret = next(line.split()[1] for line in lines if line.split()[:1] == [HALL])
    tokens = httpx.post(
        f"{url}/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(HALL, secret),
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    assert _claims(tokens.json()["access_token"])["acr"] == "4"
    assert _claims(tokens.json()["id_token"])["acr"] == "4"
