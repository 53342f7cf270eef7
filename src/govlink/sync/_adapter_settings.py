"""Settings for adapters: reading an :class:`~govlink.AdapterSettings` subclass with errors that
name the variable, and reading a secret that may be given as text or ``SecretStr``."""

from __future__ import annotations

from typing import TypeVar

from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings

from .._errors import ConfigError

__all__ = ["load_adapter_settings", "secret_value"]

_S = TypeVar("_S", bound=BaseSettings)


def load_adapter_settings(cls: type[_S]) -> _S:
    """Read an adapter's settings (environment over ``[adapters.<name>]`` of ``govlink.toml``).

    Raises:
        ConfigError: a variable or table entry that does not parse, naming it.
    """
    try:
        return cls()
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        prefix = str(cls.model_config.get("env_prefix", ""))
        table = getattr(cls, "adapter_table", "")
        in_file = f" (or {where} in [adapters.{table}] of govlink.toml)" if table else ""
        raise ConfigError(f"setting {prefix}{where.upper()}{in_file}: {first['msg']}") from None


def secret_value(value: str | SecretStr | None) -> str | None:
    """The text of a secret given as text or :class:`pydantic.SecretStr` (``None`` stays)."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value
