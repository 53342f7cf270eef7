"""Adapter discovery by name through the ``govlink.adapters`` entry-point group.

A third party ships a province by declaring, in its own package::

    [project.entry-points."govlink.adapters"]
    hainan = "hainan_govlink.adapter:HainanAdapter"

The core never imports a specific adapter module; it only resolves names here.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from .._errors import ConfigError
from ._adapter import ProvinceAdapter

__all__ = ["ENTRY_POINT_GROUP", "adapter_names", "load_adapter"]

ENTRY_POINT_GROUP = "govlink.adapters"


def adapter_names() -> list[str]:
    """The names of every installed adapter, sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_adapter(name: str, **config: Any) -> ProvinceAdapter:
    """Construct the adapter registered under ``name`` with keyword ``config``.

    ``config`` is passed to the adapter class (``base_url=``, ``clock=``, ``transport=``, and
    adapter-specific options such as credentials).

    Raises :class:`govlink.ConfigError` for an unknown name (listing the installed ones), for an
    entry point that cannot be imported, or for an object that is not a ``ProvinceAdapter``.
    """
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        names = ", ".join(adapter_names()) or "none installed"
        raise ConfigError(f"adapter {name!r}: unknown adapter name; available: {names}")
    try:
        factory = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"adapter {name!r}: cannot load {found[0].value}: {exc}") from exc
    try:
        adapter = factory(**config)
    except TypeError as exc:
        raise ConfigError(f"adapter {name!r}: bad configuration: {exc}") from exc
    if not isinstance(adapter, ProvinceAdapter):
        raise ConfigError(f"adapter {name!r}: {found[0].value} is not a ProvinceAdapter")
    return adapter
