"""How the mock province behaves: credentials, limits, the quota, the faces served."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..adapters.gateway import wire as gw
from ..adapters.reference import wire as ref

__all__ = ["DEFAULT_CLIENT_ID", "ProvinceConfig"]

#: The development client every default province knows (the reference adapter's demo client).
DEFAULT_CLIENT_ID = ref.DEMO_CLIENT_ID


@dataclass
class ProvinceConfig:
    """How the mock province behaves (everything has a development default).

    ``rate_limit`` is requests per second per client (token bucket of ``burst``, on the
    mock's clock); ``None`` turns the quota off.
    """

    clients: Mapping[str, str] = field(
        default_factory=lambda: {ref.DEMO_CLIENT_ID: ref.DEMO_CLIENT_SECRET}
    )
    gateway_apps: Mapping[str, gw.GatewayConfig] = field(
        default_factory=lambda: {gw.DEMO_APP_ID: gw.GatewayConfig()}
    )
    token_lifetime: int = ref.DEFAULT_TOKEN_LIFETIME
    max_event_batch: int = ref.MAX_EVENT_BATCH
    max_catalog_batch: int = ref.MAX_CATALOG_BATCH
    #: The largest request body read (bytes); a longer one is refused with 413 unread. The
    #: default holds the largest legal batch (500 events with 2,000-character opinions, JSON
    #: escaped) with room to spare.
    max_body_bytes: int = 8 * 1024 * 1024
    rate_limit: float | None = 200.0
    burst: int = 400
    #: Keep raw request bodies in the journal (off by default: big runs stay small).
    capture_bodies: bool = False
    #: Apply the catalog consistency rules (domain reference §4) to pushed items.
    check_items: bool = True
    #: The faces served, by name (keys of :data:`BUILTIN_FACES`): ``"reference"``
    #: (``/oauth/token``, ``/v1/...``) and ``"gateway"`` (``/gw/...``); a request to a path
    #: no served face owns is 404.
    apis: tuple[str, ...] = ("reference", "gateway")

    def __repr__(self) -> str:  # secrets stay out of reprs
        return (
            f"ProvinceConfig(clients={sorted(self.clients)}, "
            f"gateway_apps={sorted(self.gateway_apps)}, rate_limit={self.rate_limit}, "
            f"max_event_batch={self.max_event_batch})"
        )
