"""The SSO example without a browser (runs wherever the server extra is installed): an HTTP
client with a cookie jar follows the redirects as a browser would, for a legal person acting
through an agent, and ``run.py`` starts, prints its URLs and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from govlink._http import httpx

pytestmark = pytest.mark.server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sso"


@pytest.fixture
def demo() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from run import start_sso_demo
    finally:
        sys.path.remove(str(EXAMPLE))
    with start_sso_demo() as running:
        yield running


def status(page: httpx.Response) -> str:
    return page.text.split("data-signed-in='", 1)[1].split("'", 1)[0]


def test_sso_story_over_http(demo: Any) -> None:
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(f"{demo.city_hall_url}/login")
        assert str(page.url).startswith(f"{demo.identity_url}/login?")
        query = parse_qs(urlsplit(str(page.url)).query)
        form = {"service": query["service"][0], "app_id": query["app_id"][0], "person": "corp-l5"}
        city = browser.post(f"{demo.identity_url}/login", data=form)
        assert str(city.url) == f"{demo.city_hall_url}/"
        assert status(city) == "yes"
        assert "东营示范物流有限公司" in city.text
        assert "<b id='acr'>5</b>" in city.text
        assert "<code id='api'>200 " in city.text
        county = browser.get(f"{demo.county_hall_url}/login")  # SSO: straight back, signed in
        assert [
            str(r.url) for r in county.history if str(r.url).startswith(demo.identity_url)
        ] == []
        assert status(county) == "yes"
        signed_out = browser.post(f"{demo.city_hall_url}/logout")
        assert str(signed_out.url) == f"{demo.city_hall_url}/"
        assert status(signed_out) == "no"
        for _ in range(50):  # the back-channel logout follows the provider's answer
            county = browser.get(f"{demo.county_hall_url}/")
            if status(county) == "no":
                break
            time.sleep(0.1)
        assert status(county) == "no"
        assert "back-channel logout from the identity provider" in county.text
        # The county hall's API refuses a request without a token.
        assert browser.get(f"{demo.county_hall_url}/api/me").status_code == 401


def test_run_script_prints_urls_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "run.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        city = next(line.split()[-1] for line in lines if line.startswith("city hall"))
        with httpx.Client(timeout=10) as http:
            page = http.get(city)
        assert page.status_code == 200
        assert "data-signed-in='no'" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
