"""The identity provider's deployment file: halls and their clients, the token-exchange policy.

``govlink idp serve`` reads it from the file named by ``idp_clients_file`` in ``govlink.toml``
(or ``GOVLINK_IDP_CLIENTS_FILE``), TOML or JSON by its suffix, and validates every field at
start: a problem is a :class:`govlink.ConfigError` naming the field and the rule, e.g.
``halls[2].redirect_uris[0]: https_or_loopback``. The format is in docs/identity.md::

    [[halls]]
    client_id = "hall-370502"
    hall_code = "370502"
    name = "东营区政务服务中心"
    redirect_uris = ["https://370502.hall.example/callback"]
    post_logout_redirect_uris = ["https://370502.hall.example/"]
    backchannel_logout_uri = "https://370502.hall.example/backchannel-logout"
    grant_types = ["authorization_code", "refresh_token"]
    scopes = ["openid", "profile", "cases:read"]
    token_endpoint_auth_method = "client_secret_basic"

    [[exchange]]
    subject_issuer = "city"          # or "province", or an issuer URL
    clients = ["hall-370502"]
    audiences = ["hall-370503"]
    min_acr = 3
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from .._errors import ConfigError
from ..domain import RegionRegistry, default_regions
from ._errors import KeyRingError
from ._exchange import ExchangePolicy, ExchangeRule
from ._jose import VerificationKey
from ._registry import ALL_GRANTS, AUTH_METHODS, DEFAULT_SCOPES, HallClient, HallRegistry

__all__ = [
    "ProviderConfig",
    "dev_halls",
    "is_loopback_uri",
    "load_provider_config",
]

_MAX_FILE_BYTES = 1024 * 1024


def is_loopback_uri(uri: str) -> bool:
    """Whether ``uri`` is ``http://`` on a loopback address (127.0.0.1, [::1], localhost);
    ``False`` for a string that is not a URI at all (e.g. ``http://[::1``)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _check_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.fragment:
        raise ValueError("no_fragment: a redirect URI may not carry a fragment")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if is_loopback_uri(uri):
        return uri
    raise ValueError("https_or_loopback: an absolute https:// URI (http:// on loopback only)")


_Uri = Annotated[str, AfterValidator(_check_uri)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _HallEntry(_Strict):
    client_id: str = Field(min_length=1, max_length=128)
    hall_code: str = Field(pattern=r"^[0-9]{6}([0-9]{6})?$")
    name: str | None = None
    audience: str | None = Field(default=None, min_length=1)
    scopes: list[str] = Field(default_factory=lambda: sorted(DEFAULT_SCOPES))
    grant_types: list[str] = Field(
        default_factory=lambda: ["authorization_code", "refresh_token"], min_length=1
    )
    redirect_uris: list[_Uri] = Field(default_factory=list)
    post_logout_redirect_uris: list[_Uri] = Field(default_factory=list)
    backchannel_logout_uri: _Uri | None = None
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name
    jwks: dict[str, Any] | None = None

    @field_validator("grant_types")
    @classmethod
    def _grants(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ALL_GRANTS)
        if unknown:
            raise ValueError(f"known_grant: {unknown[0]!r} is not one of {sorted(ALL_GRANTS)}")
        return value

    @field_validator("token_endpoint_auth_method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value not in AUTH_METHODS:
            raise ValueError(f"known_method: one of {list(AUTH_METHODS)}")
        return value

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        keys = value.get("keys")
        if not isinstance(keys, list) or not keys:
            raise ValueError("jwks: a JWKS {keys: [...]} with at least one public key")
        for key in keys:
            if not isinstance(key, dict):
                raise ValueError("jwks: each key is a JWK object")
            try:
                VerificationKey.from_jwk(key)
            except KeyRingError as exc:
                raise ValueError(f"public_key: {exc.message}") from None
        return value


class _ExchangeEntry(_Strict):
    subject_issuer: str = Field(min_length=1)
    clients: list[str] | None = None
    audiences: list[str] | None = None
    scopes: list[str] | None = None
    min_acr: int = Field(default=2, ge=2, le=5)
    delegate: bool = False


class _DevUser(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8)
    id_number: str = Field(min_length=18, max_length=18)
    name: str | None = None
    acr: Literal["2", "3", "4", "5"] = "3"


class _SignIn(_Strict):
    authenticator: Literal["provincial_ticket", "dev_password"] = "provincial_ticket"
    users: list[_DevUser] = Field(default_factory=list)
    max_failures: int = Field(default=5, ge=1, le=1000)
    failure_window: float = Field(default=900.0, gt=0, le=86400)


class _File(_Strict):
    halls: list[_HallEntry] = Field(min_length=1)
    exchange: list[_ExchangeEntry] = Field(default_factory=list)
    sign_in: _SignIn = Field(default_factory=_SignIn)


@dataclass(frozen=True)
class DevUser:
    """A development sign-in account (the built-in page): never for production."""

    username: str
    password: str
    id_number: str
    name: str | None
    acr: str

    def __repr__(self) -> str:
        return f"DevUser({self.username!r}, acr={self.acr})"


@dataclass(frozen=True)
class ProviderConfig:
    """What the deployment file configures: the halls, the exchange rules (``subject_issuer``
    still symbolic: ``city``/``province`` resolved by :meth:`exchange_policy`), sign-in."""

    halls: HallRegistry
    exchange_rules: tuple[ExchangeRule, ...]
    authenticator: str = "provincial_ticket"
    dev_users: tuple[DevUser, ...] = ()
    max_failures: int = 5
    failure_window: float = 900.0

    def exchange_policy(self, city_issuer: str, province_issuers: Iterable[str]) -> ExchangePolicy:
        """The policy with ``city`` → ``city_issuer`` and ``province`` → each provincial
        issuer (a rule naming ``province`` applies to all of them)."""
        provinces = list(province_issuers)
        rules: list[ExchangeRule] = []
        for rule in self.exchange_rules:
            if rule.subject_issuer == "city":
                rules.append(_with_issuer(rule, city_issuer))
            elif rule.subject_issuer == "province":
                rules.extend(_with_issuer(rule, p) for p in provinces)
            else:
                rules.append(rule)
        return ExchangePolicy(tuple(rules))


def _with_issuer(rule: ExchangeRule, issuer: str) -> ExchangeRule:
    return ExchangeRule(
        issuer,
        clients=rule.clients,
        audiences=rule.audiences,
        scopes=rule.scopes,
        min_acr=rule.min_acr,
        delegate=rule.delegate,
    )


def _where(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "file"


def _problem(path: Path, exc: PydanticValidationError) -> ConfigError:
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    rule, sep, detail = message.partition(": ")
    if not sep or " " in rule:
        rule, detail = str(first["type"]), message
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(
        f"identity provider file {path}: {_where(first['loc'])}: {rule}: {detail}{more}"
    )


def _read(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"identity provider file {path}: cannot read ({exc.strerror})") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise ConfigError(f"identity provider file {path}: file: size: at most 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"identity provider file {path}: file: encoding: must be UTF-8") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ConfigError(
            f"identity provider file {path}: file: syntax: not valid {kind} ({exc})"
        ) from None


def load_provider_config(
    path: str | Path, *, regions: RegionRegistry | None = None
) -> ProviderConfig:
    """Read and validate the identity provider's deployment file (TOML, or JSON by suffix).

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 TOML/JSON, or a field breaks a rule
            (the message names the field path and the rule).
    """
    where = Path(path)
    data = _read(where)
    try:
        parsed = _File.model_validate(data)
    except PydanticValidationError as exc:
        raise _problem(where, exc) from None
    registry = regions or default_regions()
    clients = []
    seen: set[str] = set()
    for i, entry in enumerate(parsed.halls):
        at = f"identity provider file {where}: halls[{i}]"
        if entry.client_id in seen:
            raise ConfigError(f"{at}.client_id: unique: {entry.client_id!r} appears twice")
        seen.add(entry.client_id)
        method = entry.token_endpoint_auth_method
        if method == "private_key_jwt" and entry.jwks is None:
            raise ConfigError(f"{at}.jwks: required: private_key_jwt needs the client's keys")
        if "authorization_code" in entry.grant_types and not entry.redirect_uris:
            raise ConfigError(f"{at}.redirect_uris: required: the code flow needs one")
        name = entry.name or (
            registry.get(entry.hall_code).name if entry.hall_code in registry else entry.client_id
        )
        clients.append(
            HallClient(
                client_id=entry.client_id,
                hall_code=entry.hall_code,
                name=name,
                audience=entry.audience or entry.client_id,
                scopes=frozenset(entry.scopes),
                grant_types=frozenset(entry.grant_types),
                redirect_uris=tuple(entry.redirect_uris),
                backchannel_logout_uri=entry.backchannel_logout_uri,
                post_logout_redirect_uris=tuple(entry.post_logout_redirect_uris),
                auth_method=entry.token_endpoint_auth_method,
                jwks=entry.jwks,
            )
        )
    known = {c.client_id for c in clients} | {c.audience for c in clients}
    rules = []
    for i, rule in enumerate(parsed.exchange):
        at = f"identity provider file {where}: exchange[{i}]"
        for name, values in (("clients", rule.clients), ("audiences", rule.audiences)):
            for value in values or ():
                if value not in known:
                    raise ConfigError(f"{at}.{name}: known_hall: {value!r} is no configured hall")
        rules.append(
            ExchangeRule(
                rule.subject_issuer,
                clients=None if rule.clients is None else frozenset(rule.clients),
                audiences=None if rule.audiences is None else frozenset(rule.audiences),
                scopes=None if rule.scopes is None else frozenset(rule.scopes),
                min_acr=rule.min_acr,
                delegate=rule.delegate,
            )
        )
    sign_in = parsed.sign_in
    users = tuple(
        DevUser(u.username, u.password, u.id_number, u.name, u.acr) for u in sign_in.users
    )
    if sign_in.authenticator == "dev_password" and not users:
        raise ConfigError(
            f"identity provider file {where}: sign_in.users: required: the development sign-in "
            "page needs at least one user"
        )
    return ProviderConfig(
        HallRegistry(clients, regions=registry),
        tuple(rules),
        authenticator=sign_in.authenticator,
        dev_users=users,
        max_failures=sign_in.max_failures,
        failure_window=sign_in.failure_window,
    )


def dev_halls(city_code: str, *, regions: RegionRegistry | None = None) -> HallRegistry:
    """The city's halls for ``idp serve --dev``: loopback redirect URIs (any port, RFC 8252
    §7.3: ``http://127.0.0.1/callback``, ``http://localhost/callback``), every grant,
    no back-channel logout URI (no hall is running to receive it)."""
    registry = regions or default_regions()
    clients = []
    for hall in HallRegistry.for_city(city_code, regions=registry):
        uris = ("http://127.0.0.1/callback", "http://localhost/callback")
        clients.append(
            HallClient(
                client_id=hall.client_id,
                hall_code=hall.hall_code,
                name=hall.name,
                audience=hall.audience,
                scopes=hall.scopes,
                grant_types=ALL_GRANTS,
                redirect_uris=uris,
                post_logout_redirect_uris=("http://127.0.0.1/", "http://localhost/"),
            )
        )
    return HallRegistry(clients, regions=registry)
