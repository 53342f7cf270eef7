"""What every ``govlink`` command gets: settings, the store, a console, and how to print results."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from .._clock import Clock, system_clock
from .._errors import ConfigError, StoreError
from .._settings import Settings, load_settings
from ..store import Store, open_store
from ..sync import ProvinceAdapter, load_adapter

__all__ = ["CliContext", "CommandFunc", "Register", "listen", "safe_url"]


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class CliContext:
    """Built once per invocation from the parsed global options."""

    args: argparse.Namespace
    clock: Clock = system_clock
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    _store: Store | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @cached_property
    def settings(self) -> Settings:
        return load_settings(
            store=getattr(self.args, "store", None),
            home=getattr(self.args, "home", None),
        )

    def store(self) -> Store:
        """The configured store, opened on first use and closed when the command ends.

        Raises:
            ConfigError: the store cannot be used (not a database, a file where its folder
                should be, an unreachable server): a configuration problem, exit 2.
        """
        if self._store is None:
            url = self.settings.store_url
            try:
                store = open_store(url)
            except StoreError as exc:
                raise ConfigError(f"store {safe_url(url)}: cannot be used: {exc.message}") from None
            try:
                with store.transaction(write=False) as conn:  # PostgreSQL connects lazily
                    conn.scalar("SELECT 1")
            except StoreError as exc:
                store.close()
                raise ConfigError(f"store {safe_url(url)}: cannot be used: {exc.message}") from None
            self._store = store
        return self._store

    def adapter(self, needed_for: str) -> ProvinceAdapter:
        """The province adapter: ``--province``/``--adapter`` over the settings.

        Raises:
            ConfigError: no platform URL, or the adapter is unknown or misconfigured.
        """
        settings = self.settings
        url = getattr(self.args, "province", None) or settings.province_url
        name = getattr(self.args, "adapter", None) or settings.adapter
        if not url:
            raise ConfigError(
                f"{needed_for} needs the platform: --province URL or GOVLINK_PROVINCE_URL "
                "(e.g. govlink mock-province serve)"
            )
        return load_adapter(name, base_url=url, clock=self.clock)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def note_development_default(self, what: str = "the bundled demo city (Dongying)") -> None:
        """Say on stderr that an embedded development default is in use."""
        if self.settings.is_development_default and not self.json:
            self.err.print(
                f"[dim]note: no configuration found; using {what} (development default)[/dim]"
            )

    def emit(self, data: Any, human: str | None = None) -> None:
        """Print a result: JSON with ``--json``, else the human text (or pretty JSON)."""
        if self.json or human is None:
            sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
            sys.stdout.flush()
        else:
            self.out.print(human)

    @property
    def interactive(self) -> bool:
        """Whether progress bars make sense (a terminal, not --json)."""
        return self.out.is_terminal and not self.json


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for a server command (uvicorn serves on it).

    Binding here, before the server starts, turns an address in use into one line and exit 2
    instead of the server's own log lines and exit 1.

    Raises:
        ConfigError: the address cannot be bound (in use, not local, no permission).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family = infos[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(infos[0][4])
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class CommandFunc(Protocol):
    def __call__(self, ctx: CliContext) -> int: ...


class Register(Protocol):
    def __call__(
        self,
        commands: argparse._SubParsersAction[argparse.ArgumentParser],
        common: argparse.ArgumentParser,
    ) -> None: ...
