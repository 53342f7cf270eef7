"""Settings: ``GOVLINK_*`` environment variables over ``govlink.toml`` over embedded defaults.

With no configuration at all every command runs on the bundled demo city (Dongying's six halls)
and says so: :attr:`Settings.is_development_default` tells whether anything was configured.
Secrets are :class:`pydantic.SecretStr` and never printed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from ._errors import ConfigError

__all__ = [
    "AdapterSettings",
    "Settings",
    "config_path",
    "load_settings",
    "read_config_file",
    "setting_sources",
]

#: Where settings are read from when ``GOVLINK_CONFIG`` does not name a file.
DEFAULT_CONFIG_FILE = "govlink.toml"


def config_path() -> Path:
    """The settings file: ``GOVLINK_CONFIG`` or ``govlink.toml`` in the working directory."""
    return Path(os.environ.get("GOVLINK_CONFIG", DEFAULT_CONFIG_FILE))


def read_config_file() -> dict[str, Any]:
    """The settings file's tables (``{}`` when ``govlink.toml`` is absent).

    Raises:
        ConfigError: the file ``GOVLINK_CONFIG`` names does not exist; the file cannot be
            read, is not UTF-8, or is not TOML (the message names the file and the line).
    """
    path = config_path()
    named = "GOVLINK_CONFIG" in os.environ
    if not path.exists():
        if named:
            raise ConfigError(f"GOVLINK_CONFIG names {str(path)!r}, which does not exist")
        return {}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"settings file {str(path)!r}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"settings file {str(path)!r} line {line}: not UTF-8 (byte "
            f"0x{raw[exc.start]:02x}); TOML files are UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {str(path)!r}: not TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"settings file {str(path)!r}: nested too deeply") from None


def _env_name(field: str) -> str:
    return f"GOVLINK_{field.upper()}"


def setting_sources(settings: Settings, flags: Iterable[str] = ()) -> dict[str, str]:
    """Where each setting came from: ``flag``, ``env``, ``file`` or ``default``.

    ``flags`` are the fields given on the command line (``--store``, ``--home``).

    Raises:
        ConfigError: the settings file cannot be read (see :func:`read_config_file`).
    """
    file_data = read_config_file()
    environ = {name.upper() for name in os.environ}
    given = set(flags)
    sources: dict[str, str] = {}
    for name in Settings.model_fields:
        if name == "config_file":
            continue
        if name in given:
            sources[name] = "flag"
        elif _env_name(name) in environ:
            sources[name] = "env"
        elif name in file_data:
            sources[name] = "file"
        else:
            sources[name] = "default"
    return sources


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
        # The file is read by read_config_file, so a missing, non-UTF-8 or malformed file is
        # one ConfigError naming it (pydantic-settings' own TOML source lets those out raw).
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, init_kwargs=read_config_file()),
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
    """Read settings, raising :class:`ConfigError` (naming the field) when they are invalid.

    Raises:
        ConfigError: a setting breaks its type (named with where it came from), an
            environment variable that holds JSON is not JSON, or the settings file is
            missing (when ``GOVLINK_CONFIG`` names it), unreadable or malformed.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        field = str(first["loc"][0]) if first["loc"] else ""
        origin = f" (env {_env_name(field)})" if _env_name(field) in os.environ else ""
        raise ConfigError(f"setting {where!r}{origin}: {first['msg']}") from None
    except SettingsError as exc:
        # pydantic-settings says 'error parsing value for field "x" from source "..."'.
        found = re.search(r'field "([^"]+)"', str(exc))
        field = found.group(1) if found else "settings"
        raise ConfigError(
            f"setting {field!r} (env {_env_name(field)}): not valid JSON; e.g. "
            + (
                '\'{"370500": "secret"}\''
                if field == "idp_client_secrets"
                else "'[\"holidays-2027.toml\"]'"
            )
        ) from None


class _AdapterTable(PydanticBaseSettingsSource):
    """The ``[adapters.<name>]`` table of the settings file, for one adapter's settings."""

    def __init__(self, settings_cls: type[BaseSettings], table: str) -> None:
        super().__init__(settings_cls)
        self._table = table

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ returns the whole table at once

    def __call__(self) -> dict[str, Any]:
        adapters = read_config_file().get("adapters", {})
        table = adapters.get(self._table, {}) if isinstance(adapters, dict) else {}
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
