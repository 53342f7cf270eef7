"""``govlink idp serve``: --help, the passphrase rule, a real short serve answering discovery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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
