"""Assembling the city identity provider from settings (what the CLI and the demo use)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .._clock import Clock, system_clock
from .._errors import ConfigError
from .._settings import Settings
from ..store import Store
from ._issuer import Issuer, TokenPolicy
from ._keys import KeyRing, PassphraseProtector, RolloverPolicy
from ._registry import HallRegistry

__all__ = ["DEV_PASSPHRASE_FILE", "CityIdentity", "key_protector", "open_city_identity"]

#: File in ``home`` holding the generated passphrase of a development key store.
DEV_PASSPHRASE_FILE: Final = "DEVELOPMENT-ONLY-key-passphrase"  # noqa: S105 - a file name


def key_protector(
    settings: Settings, *, dev: bool = False, create: bool = False
) -> tuple[PassphraseProtector, bool]:
    """The protector for private keys and whether it is a development one.

    The passphrase comes from ``GOVLINK_KEY_PASSPHRASE`` / ``key_passphrase`` in the settings.
    Without one, a development store's generated passphrase (``home/DEVELOPMENT-ONLY-…``) is
    used, and it is only created when ``dev`` and ``create`` are both true.

    Raises:
        ConfigError: no passphrase configured and no development store.
    """
    if settings.key_passphrase is not None:
        return PassphraseProtector(settings.key_passphrase.get_secret_value()), False
    path = Path(settings.home) / DEV_PASSPHRASE_FILE
    if path.exists():
        return PassphraseProtector(path.read_text("utf-8").strip()), True
    if dev and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        return PassphraseProtector(path.read_text("utf-8").strip()), True
    raise ConfigError(
        "no key passphrase: set GOVLINK_KEY_PASSPHRASE (or key_passphrase in govlink.toml); "
        "for a development store only, run `govlink keys init --dev`"
    )


@dataclass
class CityIdentity:
    """The city identity provider's parts, wired together."""

    keys: KeyRing
    halls: HallRegistry
    issuer: Issuer
    development: bool


def open_city_identity(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = system_clock,
    dev: bool = False,
    create_dev_passphrase: bool = False,
    token_policy: TokenPolicy | None = None,
    halls: HallRegistry | None = None,
    issuer: str | None = None,
) -> CityIdentity:
    """Open the key ring, the hall registry and the issuer.

    ``halls``: the halls' clients (default: those of ``idp_clients_file`` when set, else one
    per hall of the city the settings name).
    ``issuer``: the issuer identifier (default: ``identity_issuer`` of the settings).

    Raises:
        ConfigError: no key passphrase (see :func:`key_protector`), or a bad provider file.
        KeyDecryptionFailed: the passphrase does not open the stored keys.
    """
    protector, development = key_protector(settings, dev=dev, create=create_dev_passphrase)
    policy = token_policy or TokenPolicy()
    ring = KeyRing(
        store,
        protector,
        clock=clock,
        policy=RolloverPolicy(max_token_lifetime=policy.max_token_lifetime),
    )
    if halls is not None:
        registry = halls
    elif settings.idp_clients_file is not None:
        # The same halls as `idp serve`, so `token issue --audience` knows them too.
        from ._config import load_provider_config

        registry = load_provider_config(settings.idp_clients_file).halls
    else:
        registry = HallRegistry.for_city(settings.city)
    core = Issuer(
        issuer=issuer or settings.identity_issuer,
        keys=ring,
        halls=registry,
        store=store,
        clock=clock,
        policy=policy,
    )
    return CityIdentity(ring, registry, core, development)
