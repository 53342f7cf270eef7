"""``govlink config check``: sources, secrets as set/unset, each check, exit codes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run

from govlink import CHINA_TZ


def _holidays(path: Path) -> Path:
    """A holiday file for this year and the next (the check wants the next 12 months)."""
    this = datetime.now(CHINA_TZ).year
    years = [
        {"year": y, "source": "test notice", "holidays": [f"{y}-01-01"], "makeup_workdays": []}
        for y in (this, this + 1)
    ]
    path.write_text(json.dumps({"format": "govlink-holidays/1", "years": years}), "utf-8")
    return path


def _checks(data: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in data["checks"]}


def test_defaults_are_usable_and_say_what_is_missing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data, _ = run(capsys, "config", "check", "--json")
    assert code == 0
    assert data["usable"] is True
    assert data["settings"]["store"] == {
        "value": "sqlite:///.govlink/govlink.db",
        "source": "default",
    }
    assert data["settings"]["key_passphrase"] == {"value": "unset", "source": "default"}
    checks = _checks(data)
    assert checks["store"] == "ok"
    assert checks["adapter"] == "ok"
    assert {"key_passphrase", "province_url", "idp_client_secrets"} <= set(data["missing"])
    assert data["invalid"] == []


def test_a_configured_deployment_shows_sources_and_hides_secrets(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    holidays = _holidays(home.parent / "holidays.json")
    (home.parent / "govlink.toml").write_text(
        f'province_url = "http://127.0.0.1:8000"\nholiday_files = ["{holidays}"]\n', "utf-8"
    )
    secrets = {f"hall-{c}": f"secret-{c}" for c in (370500, 370502, 370503, 370505, 370522, 370523)}
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("GOVLINK_IDP_CLIENT_SECRETS", json.dumps(secrets))
    store = f"sqlite:///{home / 'g.db'}"
    assert run(capsys, "keys", "init", "--store", store)[0] == 0
    code, data, _ = run(capsys, "config", "check", "--json", "--store", store)
    assert code == 0, data
    assert _checks(data) == {
        "identity_issuer": "ok",
        "province_url": "ok",
        "store": "ok",
        "keys": "ok",
        "idp_client_secrets": "ok",
        "adapter": "ok",
        "holiday_data": "ok",
    }
    settings = data["settings"]
    assert settings["province_url"]["source"] == "file"
    assert settings["key_passphrase"] == {"value": "set", "source": "env"}
    assert settings["store"]["source"] == "flag"
    assert set(settings["idp_client_secrets"]["value"].values()) == {"set"}
    text = json.dumps(data)
    assert "correct horse" not in text
    assert "secret-370500" not in text
    # The human form says the same, secrets hidden too.
    code, human, _ = run(capsys, "config", "check", "--store", store)
    assert code == 0
    assert "✓ keys" in human
    assert "correct horse" not in human


@pytest.mark.parametrize(
    ("env", "invalid"),
    [
        ({"GOVLINK_PROVINCE_URL": "ftp://province"}, "province_url"),
        ({"GOVLINK_IDENTITY_ISSUER": "not a url"}, "identity_issuer"),
        ({"GOVLINK_STORE": "postgresql://postgres@127.0.0.1:9/x?connect_timeout=2"}, "store"),
        ({"GOVLINK_ADAPTER": "no-such-adapter"}, "adapter"),
        ({"GOVLINK_GATEWAY_SIGN_METHOD": "md5", "GOVLINK_ADAPTER": "gateway"}, "adapter"),
        ({"GOVLINK_IDP_CLIENT_SECRETS": '{"hall-370500": "sha256:nothex"}'}, "idp_client_secrets"),
        ({"GOVLINK_HOLIDAY_FILES": '["absent.json"]'}, "holiday_files"),
        ({"GOVLINK_PROVINCE_IDENTITY_ISSUER": "https://p.example"}, "province_identity"),
    ],
)
def test_each_invalid_setting_exits_1_naming_it(
    env: dict[str, str],
    invalid: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, data, _ = run(capsys, "config", "check", "--json")
    assert code == 1
    assert data["usable"] is False
    assert invalid in data["invalid"]


def test_wrong_passphrase_is_invalid_keys(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{home / 'g.db'}"
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "the right one")
    assert run(capsys, "keys", "init", "--store", store)[0] == 0
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "the wrong one")
    code, data, _ = run(capsys, "config", "check", "--json", "--store", store)
    assert code == 1
    assert _checks(data)["keys"] == "invalid"
    assert "the wrong one" not in json.dumps(data)


def test_a_broken_settings_file_is_reported_not_raised(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home.parent / "govlink.toml").write_text("province_url = [\n", "utf-8")
    code, data, err = run(capsys, "config", "check", "--json")
    assert code == 1
    assert data["checks"][0]["name"] == "settings"
    assert "govlink.toml" in data["checks"][0]["message"]
    assert err == ""


def test_usage_errors_exit_2(home: Path) -> None:
    from govlink.cli import main

    with pytest.raises(SystemExit) as done:
        main(["config", "check", "--no-such-flag"])
    assert done.value.code == 2
