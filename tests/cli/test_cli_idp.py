"""``govlink idp serve``: --help, the passphrase rule, a real short serve answering discovery."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govlink._http import httpx
from govlink.cli import main


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["idp", "serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out
    assert "--dev" in out


def test_refuses_without_passphrase(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["idp", "serve", "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 2
    assert "GOVLINK_KEY_PASSPHRASE" in err
    assert "Traceback" not in err


def test_dev_refuses_a_public_host(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["idp", "serve", "--dev", "--host", "0.0.0.0", "--home", str(home)])  # noqa: S104 - the refused case
    assert code == 2
    assert "loopback" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.server
def test_serve_answers_discovery(home: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govlink",
            "idp",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=1
                )
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            body = response.json()
            break
        assert body is not None, "the server did not answer discovery"
        # --dev: the issuer is the URL actually served (openid-client insists on it).
        assert body["issuer"] == f"http://127.0.0.1:{port}"
        assert body["code_challenge_methods_supported"] == ["S256"]
        jwks = httpx.get(f"http://127.0.0.1:{port}/jwks", timeout=5).json()
        assert jwks["keys"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "DEVELOPMENT client secrets" in err
    assert "hall-370502" in err


def test_bad_client_secret_setting_is_a_config_error(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("GOVLINK_IDP_CLIENT_SECRETS", '{"hall-370502": "sha256:nothex"}')
    monkeypatch.setenv("GOVLINK_HOME", str(home))
    monkeypatch.setenv("GOVLINK_IDP_CLIENTS_FILE", str(_clients_file(home)))
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    code = main(["idp", "serve"])
    err = capsys.readouterr().err
    assert code == 2
    assert "idp_client_secrets.hall-370502" in err


CLIENTS = """
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["https://370502.hall.example/callback"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[exchange]]
subject_issuer = "city"
clients = ["hall-370502"]
"""


def _clients_file(home: Path, text: str = CLIENTS, name: str = "idp.toml") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    path.write_text(text, "utf-8")
    return path


def test_serve_without_halls_is_a_config_error(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("GOVLINK_HOME", str(home))
    assert main(["idp", "serve"]) == 2
    err = capsys.readouterr().err
    assert "GOVLINK_IDP_CLIENTS_FILE" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "name", "where"),
    [
        (
            CLIENTS.replace("https://370502", "http://370502"),
            "idp.toml",
            "halls[0].redirect_uris[0]: https_or_loopback",
        ),
        (
            CLIENTS.replace('"client_credentials"', '"implicit"'),
            "idp.toml",
            "halls[0].grant_types: known_grant",
        ),
        (
            CLIENTS.replace('hall_code = "370502"', "hall_code = 370502"),
            "idp.toml",
            "halls[0].hall_code",
        ),
        (
            CLIENTS.replace('clients = ["hall-370502"]', 'clients = ["hall-999"]'),
            "idp.toml",
            "exchange[0].clients: known_hall",
        ),
        (CLIENTS + "\nunknown = 1\n", "idp.toml", "unknown"),
        ("[[halls]", "idp.toml", "file: syntax"),
        ('{"halls": [' * 5000, "idp.json", "file: syntax"),
        ("", "idp.toml", "halls: missing"),
    ],
)
def test_a_bad_clients_file_names_the_field_and_the_rule(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    name: str,
    where: str,
) -> None:
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("GOVLINK_HOME", str(home))
    monkeypatch.setenv("GOVLINK_IDP_CLIENTS_FILE", str(_clients_file(home, text, name)))
    assert main(["idp", "serve"]) == 2
    err = capsys.readouterr().err
    assert where in err
    assert "Traceback" not in err


def test_a_non_utf8_clients_file_is_a_config_error(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _clients_file(home)
    path.write_bytes(CLIENTS.replace("370502", "东营").encode("gbk"))
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("GOVLINK_HOME", str(home))
    monkeypatch.setenv("GOVLINK_IDP_CLIENTS_FILE", str(path))
    assert main(["idp", "serve"]) == 2
    assert "must be UTF-8" in capsys.readouterr().err


def test_a_busy_port_is_one_clear_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["idp", "serve", "--dev", "--port", str(port), "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["idp", "serve", "--dev", "--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err
    assert "Traceback" not in err


# -- idp serve --dev signs people in at the mock province (issue 11, point 2) -----------------

HALL = "hall-370502"
CALLBACK = "http://127.0.0.1:9/callback"  # dev halls register http://127.0.0.1/callback: any port


@contextlib.contextmanager
def _idp_dev(home: Path, *extra: str) -> Iterator[tuple[str, list[str]]]:
    """``govlink idp serve --dev`` in a subprocess on a free loopback port; yields its URL and
    the stderr lines read so far (kept up to date by a reader thread)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    argv = ["idp", "serve", "--dev", "--port", str(port), "--home", str(home), *extra]
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
        while not any("serving on" in line for line in lines):
            assert proc.poll() is None, "\n".join(lines)
            assert time.monotonic() < deadline, "idp serve --dev did not start"
            time.sleep(0.05)
        while True:
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


def _secret(lines: list[str], client_id: str) -> str:
    """The development secret ``idp serve --dev`` printed for ``client_id``."""
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] == client_id:
            return parts[1]
    raise AssertionError(f"no development secret printed for {client_id}")


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _browser(calls: list[httpx.URL]) -> httpx.Client:
    """An HTTP client following redirects like a browser; the hall's callback is answered by a
    stand-in that records the URL (code, state, iss)."""

    def hall(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        return httpx.Response(200, text="hall callback")

    return httpx.Client(
        follow_redirects=True, timeout=10, mounts={"http://127.0.0.1:9": httpx.MockTransport(hall)}
    )


def _sign_in_at_the_province(
    url: str, lines: list[str], face: str, person: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """authorize → the face's sign-in page → pick ``person`` → back with a ticket → code →
    tokens; returns the access token's and the ID token's claims."""
    verifier = secrets.token_urlsafe(40)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": HALL,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    calls: list[httpx.URL] = []
    with _browser(calls) as browser:
        page = browser.get(f"{url}/authorize", params=query)
        assert page.status_code == 200, page.text
        assert str(page.url).startswith(f"{face}/login?"), page.url
        assert "省统一身份认证平台" in page.text
        hidden = dict(re.findall(r"name='(service|app_id)' value='([^']*)'", page.text))
        form = {name: html.unescape(value) for name, value in hidden.items()}
        done = browser.post(str(page.url), data={**form, "person": person})
        assert done.status_code == 200, done.text
        # Back at the provider with the ticket, then at the hall with the code.
        back = [str(r.url) for r in done.history if "ticket=" in str(r.url)]
        assert [u.split("?")[0] for u in back] == [f"{url}/authorize"]
        assert len(calls) == 1
        answer = dict(calls[0].params.items())
        assert answer["state"] == "st-1"
        assert answer["iss"] == url
        # SSO: the next request of the browser gets a code without the province's page.
        again = browser.get(f"{url}/authorize", params={**query, "state": "st-2"})
        assert [str(r.url).split("?")[0] for r in again.history] == [f"{url}/authorize"]
        assert calls[-1].params["state"] == "st-2"
    tokens = httpx.post(
        f"{url}/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(HALL, _secret(lines, HALL)),
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    return _claims(tokens.json()["access_token"]), _claims(tokens.json()["id_token"])


@pytest.mark.server
def test_dev_signs_in_through_the_mock_province_in_process(home: Path) -> None:
    from govlink.testing import TEST_PEOPLE

    with _idp_dev(home) as (url, lines):
        face = f"{url}/province-identity"
        said = [line for line in lines if "mock" in line]
        assert len(said) == 1, lines
        assert f"sign-in page {face}/login" in said[0]
        assert "development default" in said[0]
        access, id_token = _sign_in_at_the_province(url, lines, face, "wang-l4")
        # The face's JWKS over HTTP from the URL served, like any remote JWKS.
        assert httpx.get(f"{face}/jwks", timeout=5).json()["keys"]
    assert access["acr"] == id_token["acr"] == "4"
    assert access["amr"] == ["fed"]
    assert id_token["nonce"] == "n-1"
    assert access["masked_id"] == TEST_PEOPLE["wang-l4"].id_number.masked
    assert str(TEST_PEOPLE["wang-l4"].id_number) not in json.dumps(access)


@pytest.mark.server
def test_dev_signs_in_through_a_served_mock_face(home: Path) -> None:
    from govlink.testing import IdentityPlatform, served_identity

    with (
        served_identity(IdentityPlatform()) as served,
        _idp_dev(home, "--province-identity", served.base_url) as (url, lines),
    ):
        assert any(f"sign-in page {served.base_url}/login" in line for line in lines), lines
        assert not any("development default" in line for line in lines)
        access, _ = _sign_in_at_the_province(url, lines, served.base_url, "corp-l5")
        assert served.platform.state()["tickets_issued"] == 1
    assert access["acr"] == "5"
    assert access["subject_type"] == "legal"
    assert access["credit_code"] == served.platform.people["corp-l5"].credit_code


@pytest.mark.server
def test_dev_signs_in_through_the_served_mock_province(home: Path) -> None:
    """``mock-province serve`` mounts the identity face at ``/identity``: point --dev at it."""
    from govlink.testing import BUILTIN_FACES, MockProvince, identity_face, served_mock

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    faces = [BUILTIN_FACES["reference"], identity_face(base)]
    province = MockProvince(faces=faces)
    face_url = f"{base}/identity"
    with (
        served_mock(province, port=port),
        _idp_dev(home, "--province-identity", face_url) as (url, lines),
    ):
        assert any(f"sign-in page {face_url}/login" in line for line in lines), lines
        access, _ = _sign_in_at_the_province(url, lines, face_url, "wang-l4")
        platform = province.core.faces[-1].handler  # type: ignore[attr-defined]
        assert platform.state()["tickets_issued"] == 1
    assert access["acr"] == "4"


def test_province_identity_needs_dev(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["idp", "serve", "--province-identity", "http://127.0.0.1:9/identity", "--home", str(home)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--province-identity: development_only" in err
    assert "Traceback" not in err


@pytest.mark.server
def test_province_identity_must_answer(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nothing = f"http://127.0.0.1:{_free_port()}/identity"
    code = main(
        [
            "idp",
            "serve",
            "--dev",
            "--port",
            str(_free_port()),
            "--home",
            str(home),
            "--province-identity",
            nothing,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"--province-identity: mock_face: no mock identity face answers at {nothing}" in err
    assert "Traceback" not in err


def test_province_identity_must_be_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["idp", "serve", "--dev", "--province-identity", "province.example"])
    assert exit_info.value.code == 2
    assert "--province-identity: url" in capsys.readouterr().err


DEV_PASSWORD_FILE = """
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["http://127.0.0.1/callback"]
grant_types = ["authorization_code", "refresh_token"]

[sign_in]
authenticator = "dev_password"
[[sign_in.users]]
username = "zhangsan"
password = "correct horse battery"
id_number = "11010519491231002X"
name = "张三"
acr = "3"
"""


@pytest.mark.server
def test_dev_password_page_offers_the_mock_province_too(home: Path, tmp_path: Path) -> None:
    clients = tmp_path / "idp.toml"
    clients.write_text(DEV_PASSWORD_FILE, "utf-8")
    (tmp_path / "govlink.toml").write_text(f"idp_clients_file = {str(clients)!r}\n", "utf-8")
    with _idp_dev(home) as (url, _), httpx.Client(timeout=10) as browser:
        query = {
            "response_type": "code",
            "client_id": HALL,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
        page = browser.get(f"{url}/authorize", params=query)
        assert page.status_code == 200, page.text
        assert "name='password'" in page.text  # the development password page stays
        link = re.search(r"<a id='province-sign-in' href='([^']+)'", page.text)
        assert link is not None, page.text
        assert html.unescape(link.group(1)).startswith(f"{url}/province-identity/login?")
        province = browser.get(html.unescape(link.group(1)))
        assert province.status_code == 200
        assert "wang-l4" in province.text
