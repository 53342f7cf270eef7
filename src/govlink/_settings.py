"""Settings: ``GOVLINK_*`` environment variables over ``govlink.toml`` over embedded defaults.

With no configuration at all every command runs on the bundled demo city (Dongying's six halls)
and says so: :attr:`Settings.is_development_default` tells whether anything was configured.
Secrets are :class:`pydantic.SecretStr` and never printed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ._errors import ConfigError

__all__ = ["AdapterSettings", "Settings", "config_path", "load_settings"]

#: Where settings are read from when ``GOVLINK_CONFIG`` does not name a file.
DEFAULT_CONFIG_FILE = "govlink.toml"


def config_path() -> Path:
    """The settings file: ``GOVLINK_CONFIG`` or ``govlink.toml`` in the working directory."""
    return Path(os.environ.get("GOVLINK_CONFIG", DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """govlink's settings. Every field is settable as ``GOVLINK_<FIELD>`` or in ``govlink.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="GOVLINK_",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(
        default=Path(".govlink"), description="Working directory for state (keys, default store)."
    )
    store: str | None = Field(
        default=None,
        description="Store URL: sqlite:///path or postgresql://...; default sqlite in home.",
    )
    key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase that encrypts private signing keys at rest."
    )
    identity_issuer: str = Field(
        default="https://sso.dongying.example",
        description="Issuer identifier (iss) of the city identity provider.",
    )
    idp_client_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Halls' client secrets at the identity provider: client id -> secret or "
        "'sha256:<hex>' (env GOVLINK_IDP_CLIENT_SECRETS as JSON; see docs/identity.md).",
    )
    idp_clients_file: Path | None = Field(
        default=None,
        description="The identity provider's deployment file (TOML or JSON): halls, their "
        "clients, the token-exchange policy, sign-in (see docs/identity.md).",
    )
    province_identity_issuer: str | None = Field(
        default=None,
        description="Issuer (iss) of the provincial identity platform whose one-time tickets "
        "sign people in at `govlink idp serve` (with province_identity_jwks_url).",
    )
    province_identity_jwks_url: str | None = Field(
        default=None, description="JWKS URL of the provincial identity platform."
    )
    province_identity_audience: str | None = Field(
        default=None,
        description="What the provincial platform puts in aud for this city "
        "(default: identity_issuer).",
    )
    province_url: str | None = Field(
        default=None, description="Base URL of the provincial platform (or the mock province)."
    )
    adapter: str = Field(default="reference", description="Province adapter name.")
    city: str = Field(default="370500", description="GB/T 2260 code of the city running govlink.")
    allow_weekend_fallback: bool = Field(
        default=False,
        description="Treat weekends as the only rest days for years without holiday data "
        "(logs a warning; off by default).",
    )
    holiday_files: tuple[Path, ...] = Field(
        default=(), description="Operator-supplied holiday data files (see docs/calendar.md)."
    )

    adapters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-adapter options, as [adapters.<name>] tables (read by each adapter's "
        "own settings; see docs/adapters.md).",
    )

    config_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_path()),
        )

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to a SQLite file in ``home``."""
        if self.store:
            return self.store
        return f"sqlite:///{self.home / 'govlink.db'}"

    @property
    def is_development_default(self) -> bool:
        """True when nothing was configured: the bundled demo city and development defaults."""
        configured = self.model_fields_set - {"config_file"}
        return not configured


def load_settings(**overrides: Any) -> Settings:
    """Read settings, raising :class:`ConfigError` (naming the field) when they are invalid."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"setting {where!r}: {first['msg']}") from None


class _AdapterTable(PydanticBaseSettingsSource):
    """The ``[adapters.<name>]`` table of the settings file, for one adapter's settings."""

    def __init__(self, settings_cls: type[BaseSettings], table: str) -> None:
        super().__init__(settings_cls)
        self._table = table

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ returns the whole table at once

    def __call__(self) -> dict[str, Any]:
        path = config_path()
        if not path.is_file():
            return {}
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        table = data.get("adapters", {}).get(self._table, {})
        return dict(table) if isinstance(table, dict) else {}


class AdapterSettings(BaseSettings):
    """Base of a province adapter's own settings.

    A subclass sets ``env_prefix`` (e.g. ``GOVLINK_REFERENCE_``) and :attr:`adapter_table`
    (e.g. ``"reference"``); its fields then come from the environment over the
    ``[adapters.<adapter_table>]`` table of ``govlink.toml`` over the field defaults. Keep
    secrets in the environment (or a secrets manager), not in the file.
    """

    adapter_table: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _AdapterTable(settings_cls, cls.adapter_table))
