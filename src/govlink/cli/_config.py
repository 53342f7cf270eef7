"""``govlink config check [--json]``: every setting, where it came from, and whether it works.

Loads the settings from the environment and ``govlink.toml`` (or the file ``GOVLINK_CONFIG``
names) and checks each part a deployment needs:

* URLs (``identity_issuer``, ``province_url``, the provincial identity platform's);
* the store is reachable (``SELECT 1``);
* the signing keys open with the passphrase (``KeyDecryptionFailed`` otherwise);
* client secrets are present for every hall client, and well formed;
* the adapter is installed and its options (``GOVLINK_<ADAPTER>_*`` / ``[adapters.<name>]``)
  are valid;
* holiday data covers every year of the next 12 months (``docs/calendar.md``).

Each check is ``ok``, ``missing`` (not set, needed by some command: listed, not fatal) or
``invalid`` (set, but wrong). Secrets are shown only as set/unset. Exit 0 when nothing is
invalid, 1 when something is, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr
from rich.markup import escape

from .._clock import CHINA_TZ
from .._errors import ConfigError, GovlinkError
from .._settings import Settings, config_path, setting_sources
from ..domain import WorkingCalendar
from ..store import Store
from ._args import Subcommands, add_group
from ._context import CliContext, safe_url
from ._input import read_holiday_files

__all__ = ["Check", "register"]

Status = Literal["ok", "missing", "invalid"]


@dataclass(frozen=True, slots=True)
class Check:
    """One check of ``config check``: what, its status and a line for people."""

    name: str
    status: Status
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "message": self.message}


def _url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) URL, or None."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return f"{value!r} is not an http(s) URL"
    if not parts.hostname:
        return f"{value!r} has no host"
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        return f"{value!r} has an invalid port"
    return None


def _shown(settings: Settings, name: str) -> object:
    value = getattr(settings, name)
    if isinstance(value, SecretStr):
        return "set"
    if name == "key_passphrase":
        return "unset"
    if name == "idp_client_secrets":
        return dict.fromkeys(value, "set") if value else "unset"
    if name == "store":
        return safe_url(settings.store_url)  # the effective URL, the default included
    if isinstance(value, tuple):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return value
    return None if value is None else str(value)


def _urls(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    for name in (
        "identity_issuer",
        "province_url",
        "province_identity_issuer",
        "province_identity_jwks_url",
    ):
        value = getattr(settings, name)
        if value is None:
            if name == "province_url":
                checks.append(
                    Check(name, "missing", "not set: sync run needs it (GOVLINK_PROVINCE_URL)")
                )
            continue
        problem = _url_problem(value)
        checks.append(Check(name, "invalid" if problem else "ok", problem or value))
    if (settings.province_identity_issuer is None) != (settings.province_identity_jwks_url is None):
        checks.append(
            Check(
                "province_identity",
                "invalid",
                "province_identity_issuer and province_identity_jwks_url go together",
            )
        )
    return checks


def _store(ctx: CliContext, settings: Settings) -> tuple[Check, Store | None]:
    try:
        store = ctx.store()
    except ConfigError as exc:
        return Check("store", "invalid", exc.message), None
    return Check("store", "ok", f"reachable ({store.dialect}) at {safe_url(settings.store_url)}"), (
        store
    )


def _keys(ctx: CliContext, settings: Settings, store: Store | None) -> list[Check]:
    from ..identity import open_city_identity

    checks: list[Check] = []
    if settings.key_passphrase is None:
        checks.append(
            Check(
                "key_passphrase",
                "missing",
                "not set: keys and idp serve need GOVLINK_KEY_PASSPHRASE (or a --dev store)",
            )
        )
        return checks
    if store is None:
        return [Check("keys", "missing", "not checked: the store is not usable")]
    try:
        city = open_city_identity(settings, store, clock=ctx.clock)
    except GovlinkError as exc:
        return [Check("keys", "invalid", f"{exc.message} [{exc.code}]")]
    if not city.keys.initialised:
        return [Check("keys", "missing", "no signing keys yet: run govlink keys init")]
    count = len(city.keys.list_keys())
    checks.append(Check("keys", "ok", f"{count} key(s) open with the passphrase"))
    return checks


def _client_secrets(settings: Settings) -> Check:
    from ..identity import ClientSecrets, HallRegistry

    try:
        clients = [c.client_id for c in HallRegistry.for_city(settings.city)]
    except GovlinkError as exc:
        return Check("city", "invalid", exc.message)
    configured = {k: v.get_secret_value() for k, v in settings.idp_client_secrets.items()}
    if not configured:
        return Check(
            "idp_client_secrets", "missing", "not set: idp serve needs GOVLINK_IDP_CLIENT_SECRETS"
        )
    try:
        ClientSecrets.from_config(configured)
    except GovlinkError as exc:
        return Check("idp_client_secrets", "invalid", exc.message)
    absent = [c for c in clients if c not in configured]
    if absent:
        return Check(
            "idp_client_secrets", "missing", f"no secret for {len(absent)}: {', '.join(absent)}"
        )
    return Check("idp_client_secrets", "ok", f"a secret for each of {len(clients)} hall clients")


def _adapter(ctx: CliContext, settings: Settings) -> Check:
    from ..sync import load_adapter

    url = settings.province_url or "http://province.invalid"  # options are checked regardless
    try:
        adapter = load_adapter(settings.adapter, base_url=url, clock=ctx.clock)
    except GovlinkError as exc:
        return Check("adapter", "invalid", exc.message)
    asyncio.run(adapter.aclose())
    return Check("adapter", "ok", f"{settings.adapter}: installed, options valid")


def _holidays(ctx: CliContext, settings: Settings) -> Check:
    try:
        years = read_holiday_files(settings.holiday_files)
    except GovlinkError as exc:
        return Check("holiday_files", "invalid", exc.message)
    calendar = WorkingCalendar(years, allow_weekend_fallback=settings.allow_weekend_fallback)
    today = ctx.clock.now().astimezone(CHINA_TZ).date()
    wanted = range(today.year, (today + timedelta(days=365)).year + 1)
    lacking = [year for year in wanted if not calendar.has_data(year)]
    if not lacking:
        return Check("holiday_data", "ok", f"holiday data for {wanted[0]}-{wanted[-1]}")
    fallback = " (weekend fallback on: deadlines count weekends only)" * (
        settings.allow_weekend_fallback
    )
    return Check(
        "holiday_data",
        "missing",
        f"no holiday data for {', '.join(map(str, lacking))}{fallback}: add an operator "
        "holiday file (GOVLINK_HOLIDAY_FILES; docs/calendar.md)",
    )


def run_check(ctx: CliContext) -> int:
    """Load, validate and print the settings (see the module docstring)."""
    flags = [name for name in ("store", "home") if getattr(ctx.args, name, None) is not None]
    try:
        settings = ctx.settings
        sources = setting_sources(settings, flags)
    except ConfigError as exc:
        check = Check("settings", "invalid", exc.message)
        ctx.emit(
            {"usable": False, "checks": [check.to_dict()], "settings": {}},
            escape(f"✗ settings: {exc.message}"),
        )
        return 1
    checks = [*_urls(settings)]
    store_check, store = _store(ctx, settings)
    checks.append(store_check)
    checks.extend(_keys(ctx, settings, store))
    checks.append(_client_secrets(settings))
    checks.append(_adapter(ctx, settings))
    checks.append(_holidays(ctx, settings))
    usable = not any(c.status == "invalid" for c in checks)
    path = config_path()
    shown = {
        name: {"value": _shown(settings, name), "source": source}
        for name, source in sources.items()
    }
    data: dict[str, Any] = {
        "usable": usable,
        "config_file": {"path": str(path), "found": path.is_file()},
        "settings": shown,
        "checks": [c.to_dict() for c in checks],
        "missing": [c.name for c in checks if c.status == "missing"],
        "invalid": [c.name for c in checks if c.status == "invalid"],
    }
    marks = {"ok": "✓", "missing": "-", "invalid": "✗"}
    lines = [f"settings file: {path} ({'found' if path.is_file() else 'absent'})"]
    width = max(len(name) for name in shown)
    lines += [
        f"  {name:<{width}}  {entry['value']}  [{entry['source']}]" for name, entry in shown.items()
    ]
    lines.append("checks:")
    lines += [f"  {marks[c.status]} {c.name}: {c.message}" for c in checks]
    lines.append("usable" if usable else "NOT usable: fix the ✗ lines")
    ctx.emit(data, escape("\n".join(lines)))
    return 0 if usable else 1


def register(
    commands: Subcommands[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``govlink config check``."""
    actions = add_group(
        commands,
        common,
        "config",
        help="check the configuration: every setting, its source, what is missing",
    )
    check = actions.add_parser(
        "check",
        parents=[common],
        help="validate every setting (URLs, store, keys, secrets, adapter, holidays)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The check reports a broken settings file itself (exit 1), so main must not stop at it.
    check.set_defaults(func=run_check, loads_settings=False)
