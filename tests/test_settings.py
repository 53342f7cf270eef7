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


def test_missing_config_file_named_by_the_environment_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOVLINK_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"GOVLINK_CONFIG names .*absent\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'home = "unterminated\n', "not TOML"),
        ('city = "东营"\n'.encode("gbk"), "line 1: not UTF-8"),
        (b"\xef\xbb\xbfcity = 1\n", "city"),  # BOM accepted; then a type error names the field
    ],
)
def test_settings_file_errors_name_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "govlink.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings()
    assert "\n" not in info.value.message or "TOML" in info.value.message


@pytest.mark.parametrize("name", ["GOVLINK_HOLIDAY_FILES", "GOVLINK_IDP_CLIENT_SECRETS"])
def test_json_environment_variables_that_are_not_json(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "{not json")
    with pytest.raises(ConfigError, match=f"env {name}\\): not valid JSON"):
        load_settings()


def test_a_bad_value_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVLINK_ALLOW_WEEKEND_FALLBACK", "perhaps")
    with pytest.raises(ConfigError, match="GOVLINK_ALLOW_WEEKEND_FALLBACK"):
        load_settings()


def test_setting_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from govlink._settings import setting_sources

    (tmp_path / "govlink.toml").write_text('province_url = "http://p.test"\n')
    monkeypatch.setenv("GOVLINK_CITY", "370500")
    settings = load_settings(store="sqlite:///flag.db")
    sources = setting_sources(settings, ["store"])
    assert (sources["store"], sources["city"], sources["province_url"]) == ("flag", "env", "file")
    assert sources["home"] == "default"
