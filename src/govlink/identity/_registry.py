"""The registry of halls and their OAuth clients (data, not code).

Every hall (政务服务中心) of the city is one client of the city identity provider: a client id,
the audience its APIs accept, the scopes it may receive, the grants it may use, its redirect
URIs and its back-channel logout URI. The bundled demo city is Dongying's six halls, one client
per hall (``hall-370500`` … ``hall-370523``); a real deployment loads its own JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._errors import ValidationError
from ..domain import RegionRegistry, default_regions
from ._errors import UnknownHall

__all__ = ["ALL_GRANTS", "AUTH_METHODS", "DEFAULT_SCOPES", "HallClient", "HallRegistry"]

#: Scopes a demo hall client may receive.
DEFAULT_SCOPES: Final = frozenset({"openid", "profile", "cases:read", "cases:write", "items:read"})
_GRANTS: Final = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)
#: Every grant a client may be registered for (``client_credentials`` only when asked for).
ALL_GRANTS: Final = _GRANTS | {"client_credentials"}
#: Client authentication methods at the token, revocation and introspection endpoints.
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")


@dataclass(frozen=True, slots=True)
class HallClient:
    """One hall's client at the identity provider.

    ``audience`` is the value the hall's APIs accept in ``aud`` (by default the client id).
    """

    client_id: str
    hall_code: str
    name: str
    audience: str
    scopes: frozenset[str] = DEFAULT_SCOPES
    grant_types: frozenset[str] = _GRANTS
    redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Where ``/logout`` may send the browser back (default: the redirect URIs).
    post_logout_redirect_uris: tuple[str, ...] = ()
    #: How the client authenticates (``client_secret_basic``, ``client_secret_post`` — both
    #: accepted for either — or ``private_key_jwt`` with ``jwks``).
    auth_method: str = "client_secret_basic"
    #: Public keys for ``private_key_jwt`` (RFC 7523), a JWKS ``{"keys": [...]}``.
    jwks: Mapping[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the client."""
        return {
            "client_id": self.client_id,
            "hall_code": self.hall_code,
            "name": self.name,
            "audience": self.audience,
            "scopes": sorted(self.scopes),
            "grant_types": sorted(self.grant_types),
            "redirect_uris": list(self.redirect_uris),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.auth_method,
        }


class HallRegistry:
    """The halls' clients, found by client id, audience or the hall's region code."""

    def __init__(
        self, clients: Iterable[HallClient], *, regions: RegionRegistry | None = None
    ) -> None:
        self._by_id: dict[str, HallClient] = {}
        self._by_code: dict[str, HallClient] = {}
        self._by_audience: dict[str, HallClient] = {}
        self._regions = regions or default_regions()
        for client in clients:
            if client.client_id in self._by_id:
                raise ValidationError(
                    f"client id {client.client_id!r} appears twice",
                    field="clients.client_id",
                    rule="unique",
                )
            self._by_id[client.client_id] = client
            self._by_code.setdefault(client.hall_code, client)
            self._by_audience[client.audience] = client

    @classmethod
    def for_city(
        cls,
        city_code: str = "370500",
        *,
        regions: RegionRegistry | None = None,
        base_url: str = "https://{code}.hall.example",
    ) -> HallRegistry:
        """One client per hall of the city (``hall-<code>``), from the region registry.

        Raises:
            ValidationError: ``city_code`` is not a city of the region registry.
        """
        registry = regions or default_regions()
        clients = []
        for region in registry.halls(city_code):
            url = base_url.format(code=region.code)
            clients.append(
                HallClient(
                    client_id=f"hall-{region.code}",
                    hall_code=region.code,
                    name=region.name,
                    audience=f"hall-{region.code}",
                    redirect_uris=(f"{url}/callback",),
                    backchannel_logout_uri=f"{url}/backchannel-logout",
                )
            )
        return cls(clients, regions=registry)

    @classmethod
    def demo_city(cls) -> HallRegistry:
        """The bundled demo city: Dongying's six halls (a development default)."""
        return cls.for_city("370500")

    @classmethod
    def from_file(cls, path: str | Path) -> HallRegistry:
        """Load ``{"clients": [{client_id, hall_code, name, audience?, scopes?, ...}]}``.

        Raises:
            ValidationError: a client entry with a missing or badly typed field.
        """
        data = json.loads(Path(path).read_text("utf-8"))
        clients = []
        for i, entry in enumerate(data.get("clients", [])):
            where = f"clients[{i}]"
            try:
                clients.append(
                    HallClient(
                        client_id=str(entry["client_id"]),
                        hall_code=str(entry["hall_code"]),
                        name=str(entry.get("name", entry["client_id"])),
                        audience=str(entry.get("audience", entry["client_id"])),
                        scopes=frozenset(entry.get("scopes", DEFAULT_SCOPES)),
                        grant_types=frozenset(entry.get("grant_types", _GRANTS)),
                        redirect_uris=tuple(entry.get("redirect_uris", ())),
                        backchannel_logout_uri=entry.get("backchannel_logout_uri"),
                    )
                )
            except (KeyError, TypeError) as exc:
                raise ValidationError(
                    f"missing or bad field {exc}", field=where, rule="client"
                ) from None
        return cls(clients)

    def __iter__(self) -> Iterator[HallClient]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def resolve(self, value: str) -> HallClient:
        """The client for a client id, an audience, or a hall's 6/12-digit region code
        (aliases followed: 370521 → 370505).

        Raises:
            UnknownHall: nothing matches.
        """
        client = self._by_id.get(value) or self._by_audience.get(value)
        if client is not None:
            return client
        if value.isascii() and value.isdigit():
            try:
                code = self._regions.canonical(value)
            except ValidationError:
                code = value
            client = self._by_code.get(code)
            if client is not None:
                return client
        known = ", ".join(sorted(self._by_code))
        raise UnknownHall(
            f"audience {value[:64]!r} is neither a hall region code nor a client id "
            f"(halls: {known})"
        )

    def __repr__(self) -> str:
        return f"HallRegistry({len(self._by_id)} clients)"
