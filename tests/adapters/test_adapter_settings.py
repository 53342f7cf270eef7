"""Adapter options come from the environment over govlink.toml's [adapters.<name>] table."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlink import ConfigError, load_settings
from govlink.adapters.gateway.adapter import GatewaySettings
from govlink.adapters.reference.adapter import ReferenceSettings
from govlink.sync.adapter import load_adapter_settings


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for var in (
        "GOVLINK_CONFIG",
        "GOVLINK_REFERENCE_CLIENT_ID",
        "GOVLINK_REFERENCE_TIMEOUT",
        "GOVLINK_GATEWAY_APP_ID",
        "GOVLINK_GATEWAY_SIGN_METHOD",
    ):
        monkeypatch.delenv(var, raising=False)


def test_toml_tables_configure_each_adapter(tmp_path: Path) -> None:
    (tmp_path / "govlink.toml").write_text(
        'province_url = "https://province.example"\n'
        '[adapters.reference]\nclient_id = "dongying"\ntimeout = 5\n'
        '[adapters.gateway]\napp_id = "dy-gw"\nsign_method = "HMAC-SM3"\n'
    )
    reference = load_adapter_settings(ReferenceSettings)
    gateway = load_adapter_settings(GatewaySettings)
    assert (reference.client_id, reference.timeout) == ("dongying", 5.0)
    assert gateway.app_id == "dy-gw"
    assert gateway.sign_method == "HMAC-SM3"
    # The main settings accept the tables (they forbid unknown keys otherwise).
    assert load_settings().adapters["reference"]["client_id"] == "dongying"


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "govlink.toml").write_text('[adapters.reference]\nclient_id = "file"\n')
    monkeypatch.setenv("GOVLINK_REFERENCE_CLIENT_ID", "env")
    assert load_adapter_settings(ReferenceSettings).client_id == "env"


def test_defaults_without_a_file() -> None:
    assert load_adapter_settings(ReferenceSettings).client_id == "govlink-demo"


def test_a_bad_value_in_the_file_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "govlink.toml").write_text('[adapters.reference]\ntimeout = "soon"\n')
    with pytest.raises(
        ConfigError,
        match=r"GOVLINK_REFERENCE_TIMEOUT \(or timeout in "
        r"\[adapters.reference\] of govlink.toml\)",
    ):
        load_adapter_settings(ReferenceSettings)
