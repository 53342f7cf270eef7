from __future__ import annotations

from pathlib import Path

import pytest

from govlink import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no govlink.toml around (GOVLINK_* is cleared by conftest)


def test_embedded_defaults_are_labelled_development() -> None:
    settings = load_settings()
    assert settings.is_development_default
    assert settings.store_url == "sqlite:///.govlink/govlink.db"


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "govlink.toml").write_text('home = "state"\nprovince_url = "http://p.test"\n')
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "correct horse")
    settings = load_settings()
    assert not settings.is_development_default
    assert settings.store_url == "sqlite:///state/govlink.db"
    assert settings.province_url == "http://p.test"
    assert settings.key_passphrase is not None
    assert "correct horse" not in repr(settings)
    assert settings.key_passphrase.get_secret_value() == "correct horse"


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVLINK_STORE", "sqlite:///env.db")
    assert load_settings(store="sqlite:///flag.db").store_url == "sqlite:///flag.db"


def test_unknown_setting_in_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "govlink.toml").write_text('stor = "typo"\n')
    with pytest.raises(ConfigError, match="stor"):
        load_settings()
