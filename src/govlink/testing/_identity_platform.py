"""The provincial unified identity platform (省统一身份认证平台) as a face of the mock province.

domain reference §7: the platform signs a person in and hands back a short-lived one-time
**ticket**;
a service exchanges the ticket for a token and the token for user info (a CAS-like flow), with
requests signed by app id + secret + time and answers ``{retcode, msg, data}`` (``"000000"`` =
success). This face plays that platform for tests and demos:

* ``GET /login?service=URL[&app_id=ID]`` — the sign-in page: pick one of the documented test
  people (:data:`~govlink.testing.TEST_PEOPLE`); the browser is sent to ``service`` with
  ``ticket=<JWT>`` added (the CAS names). ``service`` must be on a host registered for the app.
* the ticket is a JWS (``typ: JWT``) signed with the platform's current key, ``iss`` the
  platform, ``aud`` the app's audience (the city identity provider), ``sub`` the platform's user
  id, ``acr`` the trust level ``"2"``–``"5"``, ``user_type`` ``"1"`` 个人 / ``"2"`` 法人,
  ``masked_id``, and for legal persons ``credit_code``; ``jti`` single use, ``exp`` after
  ``ticket_lifetime`` seconds. The city identity provider accepts it unchanged through
  :meth:`IdentityPlatform.provincial_mapping`.
* ``GET /jwks`` — the public keys (current, pre-published and retiring).
* ``POST /api/token`` ``{"ticket"}`` → ``{"access_token", "expires_in", "user_id"}`` and
  ``POST /api/userinfo`` ``{"access_token"}`` → the person (full identifiers: server to server).
  Both signed: ``X-App-Id``, ``X-Timestamp`` (ms), ``X-Signature`` = lower-case hex
  HMAC-SHA256 of ``app_id \\n timestamp \\n sha256hex(body)`` keyed with the app secret
  (:func:`signed_headers`).
* ``/admin/state``, ``/admin/faults`` (GET, POST ``{"spec": "..."}``), ``/admin/rotate``
  (POST ``{"prepublish": s, "retire_previous": bool}``), ``/admin/reset``.

Faults on demand (spec string, ``;``-separated, or the Python API), all on the face's clock:

=====================  =======================================================================
``jwks_outage``        ``/jwks`` answers 503; ``for=D`` ends it after D (from when it was set)
``jwks_slow:ms=N``     ``/jwks`` answers after N ms (the clock sleeps: a virtual clock advances)
``expired_tickets``    sign-in hands out tickets whose ``exp`` has already passed (beyond the
                       60 s leeway verifiers allow)
``replayed_tickets``   sign-in hands out the previous ticket again (same ``jti``)
``rotate:every=D``     the signing key rotates every D (a new key signs at once; the old one
                       stays published until its tickets have expired)
=====================  =======================================================================

Like the rest of the mock there is one implementation (:meth:`IdentityPlatform.handle`, pure,
no I/O, never sleeps) behind every face: the Starlette app (:attr:`IdentityPlatform.app`, to be
mounted at ``/identity`` of the served mock or served alone by :func:`served_identity`), a sync
``httpx.MockTransport`` (also what respx routes call) and an async ``httpx.ASGITransport``.

One cohesive concept, hence one module despite its length: the mock provincial identity platform
(its state, pages, API and faults).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jws
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._clock import Clock, system_clock
from .._errors import FieldProblem, ValidationError
from .._http import httpx
from ..identity import (
    JWKSCachePolicy,
    KeySource,
    ProvincialMapping,
    RemoteJWKS,
    VerificationKey,
)
from ._faults import parse_duration
from ._identity_people import TEST_PEOPLE, TestPeople, TestPerson

if TYPE_CHECKING:
    import respx

    from ..store import Store

__all__ = [
    "DEFAULT_CITY_AUDIENCE",
    "DEFAULT_IDENTITY_BASE_URL",
    "DEFAULT_IDENTITY_ISSUER",
    "DEMO_IDENTITY_APP_ID",
    "DEMO_IDENTITY_APP_SECRET",
    "IdentityAnswer",
    "IdentityApp",
    "IdentityFaults",
    "IdentityPlatform",
    "IdentityPlatformConfig",
    "ServedIdentity",
    "create_identity_app",
    "served_identity",
    "signed_headers",
]

#: Base URL of the in-process face (the mock province's base URL plus ``/identity``).
DEFAULT_IDENTITY_BASE_URL: Final = "http://province.test/identity"
#: The platform's ``iss`` unless configured.
DEFAULT_IDENTITY_ISSUER: Final = "http://province.test/identity"
#: The ``aud`` of the demo app's tickets: the city identity provider's default issuer, so that
#: ``govlink idp serve`` (whose provincial audience defaults to its issuer) accepts them.
DEFAULT_CITY_AUDIENCE: Final = "https://sso.dongying.example"
DEMO_IDENTITY_APP_ID: Final = "govlink-demo-city"
DEMO_IDENTITY_APP_SECRET: Final = "govlink-demo-city-secret"  # noqa: S105 - development only

SUCCESS: Final = "000000"
_JSON: Final = "application/json"
_HTML: Final = "text/html; charset=utf-8"
_NO_STORE: Final = ("cache-control", "no-store")
#: The face's JWKS and sign-in page paths (routed here, and named by both faces' URLs).
_JWKS_PATH: Final = "/jwks"
_LOGIN_PATH: Final = "/login"
# Verifiers allow 60 s of clock skew; an "expired" ticket lies well beyond it.
_EXPIRED_BY: Final = 600.0


@dataclass(frozen=True)
class IdentityApp:
    """A service registered at the platform (here: the city identity provider or a hall).

    ``audience``: the ``aud`` of its tickets. ``service_hosts``: host names its ``service``
    URLs may point at (the sign-in page never redirects anywhere else).
    """

    app_id: str
    secret: str = field(repr=False)
    audience: str
    service_hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})

    def allows(self, service: str) -> bool:
        """Whether ``service`` is an http(s) URL on one of the app's hosts."""
        try:
            parts = urlsplit(service)
            host = parts.hostname
        except ValueError:
            return False
        return (
            parts.scheme in ("http", "https") and host is not None and (host in self.service_hosts)
        )


def _demo_apps() -> dict[str, IdentityApp]:
    hosts = frozenset({"127.0.0.1", "localhost", "::1", "sso.dongying.example"})
    app = IdentityApp(DEMO_IDENTITY_APP_ID, DEMO_IDENTITY_APP_SECRET, DEFAULT_CITY_AUDIENCE, hosts)
    return {app.app_id: app}


@dataclass
class IdentityPlatformConfig:
    """How the platform behaves (everything has a development default).

    ``ticket_lifetime``: seconds a ticket is valid. ``token_lifetime``: seconds a platform
    access token (from ``/api/token``) is valid. ``timestamp_skew``: how far a signed request's
    ``X-Timestamp`` may be off. ``default_app``: the app of a sign-in without ``app_id``.
    """

    issuer: str = DEFAULT_IDENTITY_ISSUER
    ticket_lifetime: float = 120.0
    token_lifetime: float = 600.0
    timestamp_skew: float = 300.0
    jwks_max_age: int = 300
    apps: Mapping[str, IdentityApp] = field(default_factory=_demo_apps)
    default_app: str = DEMO_IDENTITY_APP_ID
    people: TestPeople = field(default_factory=lambda: TEST_PEOPLE)

    def __post_init__(self) -> None:
        if self.ticket_lifetime <= 0:
            raise ValidationError(
                "must be positive", field="identity.ticket_lifetime", rule="positive"
            )
        if self.default_app not in self.apps:
            raise ValidationError(
                f"{self.default_app!r} is not a registered app",
                field="identity.default_app",
                rule="known_app",
            )


# --- faults -----------------------------------------------------------------------------------

_FAULT_KINDS: Final = ("jwks_outage", "jwks_slow", "expired_tickets", "replayed_tickets", "rotate")
_FAULT_PARAMS: Final = {
    "jwks_outage": {"for"},
    "jwks_slow": {"ms"},
    "expired_tickets": set(),
    "replayed_tickets": set(),
    "rotate": {"every"},
}


@dataclass(frozen=True)
class IdentityFaults:
    """The identity face's faults (see the module docstring for the spec grammar).

    ``jwks_outage_for``: ``None`` means until cleared. ``jwks_latency``: seconds.
    ``rotate_every``: seconds between automatic key rotations, ``None`` for none.
    """

    jwks_outage: bool = False
    jwks_outage_for: float | None = None
    jwks_latency: float = 0.0
    expired_tickets: bool = False
    replayed_tickets: bool = False
    rotate_every: float | None = None

    @classmethod
    def parse(cls, spec: str | None) -> IdentityFaults:
        """Read a spec such as ``"jwks_outage:for=10m;replayed_tickets"``.

        Raises:
            ValidationError: ``faults[i].kind`` (rule ``known_fault``), ``faults[i].<param>``
                (rules ``known_param``, ``number``, ``duration``, ``positive``).
        """
        values: dict[str, Any] = {}
        for i, raw in enumerate(r.strip() for r in (spec or "").split(";")):
            if not raw:
                continue
            kind, _, params_text = raw.partition(":")
            kind = kind.strip()
            where = f"faults[{i}]"
            if kind not in _FAULT_KINDS:
                raise ValidationError(
                    f"unknown identity fault {kind[:40]!r} (known: {', '.join(_FAULT_KINDS)})",
                    field=f"{where}.kind",
                    rule="known_fault",
                )
            params: dict[str, str] = {}
            for pair in filter(None, (p.strip() for p in params_text.split(","))):
                name, _, value = pair.partition("=")
                if name not in _FAULT_PARAMS[kind]:
                    raise ValidationError(
                        f"{kind} takes no parameter {name[:40]!r}",
                        field=f"{where}.{name[:40]}",
                        rule="known_param",
                    )
                params[name] = value
            if kind == "jwks_outage":
                values["jwks_outage"] = True
                if "for" in params:
                    values["jwks_outage_for"] = _positive(params["for"], f"{where}.for")
            elif kind == "jwks_slow":
                try:
                    ms = float(params.get("ms", "1000"))
                except ValueError:
                    raise ValidationError(
                        "must be a number of milliseconds", field=f"{where}.ms", rule="number"
                    ) from None
                if ms < 0:
                    raise ValidationError(
                        "must not be negative", field=f"{where}.ms", rule="positive"
                    )
                values["jwks_latency"] = ms / 1000.0
            elif kind == "rotate":
                values["rotate_every"] = _positive(params.get("every", ""), f"{where}.every")
            else:
                values[kind] = True
        return cls(**values)

    def to_spec(self) -> str:
        """The spec string (``""`` when there are no faults)."""
        rules = []
        if self.jwks_outage:
            rules.append(
                "jwks_outage"
                if self.jwks_outage_for is None
                else f"jwks_outage:for={self.jwks_outage_for:g}s"
            )
        if self.jwks_latency:
            rules.append(f"jwks_slow:ms={self.jwks_latency * 1000:g}")
        if self.expired_tickets:
            rules.append("expired_tickets")
        if self.replayed_tickets:
            rules.append("replayed_tickets")
        if self.rotate_every is not None:
            rules.append(f"rotate:every={self.rotate_every:g}s")
        return ";".join(rules)


def _positive(text: str, where: str) -> float:
    seconds = parse_duration(text, field=where)
    if seconds <= 0:
        raise ValidationError("must be a positive duration", field=where, rule="positive")
    return seconds


# --- keys and tickets -------------------------------------------------------------------------


@dataclass
class _Key:
    key: ECKey = field(repr=False)
    kid: str
    signs_from: float
    retire_at: float | None = None
    verification: VerificationKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.verification = VerificationKey.from_key(self.key, self.kid, "ES256")


def _new_key(signs_from: float) -> _Key:
    key = ECKey.generate_key("P-256", auto_kid=True)
    return _Key(key, key.kid or uuid.uuid4().hex, signs_from)


@dataclass
class _Ticket:
    person: str
    app_id: str
    expires_at: float
    used: bool = False


@dataclass
class _Token:
    person: str
    app_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class IdentityJournalEntry:
    """One request the face answered (``fault``: the fault that shaped the answer, if any)."""

    at: float
    method: str
    path: str
    status: int
    retcode: str | None = None
    fault: str | None = None


@dataclass(slots=True)
class IdentityAnswer:
    """The answer to one request (``latency``: seconds the face waits before answering)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    latency: float = 0.0


class _Refused(Exception):
    def __init__(self, status: int, retcode: str, msg: str) -> None:
        super().__init__(msg)
        self.status, self.retcode, self.msg = status, retcode, msg


def signed_headers(
    app_id: str,
    secret: str,
    body: bytes,
    *,
    timestamp_ms: int | None = None,
    clock: Clock = system_clock,
) -> dict[str, str]:
    """The headers that sign a request to ``/api/token`` or ``/api/userinfo``."""
    stamp = str(timestamp_ms if timestamp_ms is not None else int(clock.time() * 1000))
    message = "\n".join((app_id, stamp, hashlib.sha256(body).hexdigest())).encode()
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "X-App-Id": app_id,
        "X-Timestamp": stamp,
        "X-Signature": signature,
        "Content-Type": _JSON,
    }


class _FixedKeys:
    """A :class:`KeySource` reading the platform's published keys directly (no HTTP)."""

    def __init__(self, platform: IdentityPlatform) -> None:
        self._platform = platform

    def lookup(self, kid: str) -> VerificationKey | None:
        return self._platform.published_keys().get(kid)

    def get_key(self, kid: str) -> VerificationKey | None:
        return self.lookup(kid)

    async def aget_key(self, kid: str) -> VerificationKey | None:
        return self.lookup(kid)


class _FaceUrls:
    """The face's JWKS and sign-in page URLs under ``base_url`` (in-process or served)."""

    base_url: str

    @property
    def jwks_url(self) -> str:
        """The JWKS URL."""
        return self.base_url + _JWKS_PATH

    @property
    def login_url(self) -> str:
        """The sign-in page URL."""
        return self.base_url + _LOGIN_PATH


class IdentityPlatform(_FaceUrls):
    """The mock provincial identity platform: people, keys, tickets, faults and its faces.

    >>> platform = IdentityPlatform(clock=VirtualClock())
    >>> ticket = platform.sign_in("wang-l4")          # what the sign-in page would hand out
    >>> mapping = platform.provincial_mapping()        # trust it at the city identity provider

    ``faults``: an :class:`IdentityFaults` or a spec string. ``base_url``: where the in-process
    faces pretend to live (the sync transport strips its path).

    Raises:
        ValidationError: a fault spec that cannot be read.
    """

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        config: IdentityPlatformConfig | None = None,
        faults: IdentityFaults | str | None = None,
        base_url: str = DEFAULT_IDENTITY_BASE_URL,
    ) -> None:
        self.clock = clock
        self.config = config or IdentityPlatformConfig()
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path.rstrip("/")
        self._lock = threading.RLock()
        #: The last requests answered (bounded, so a long-running served mock stays small).
        self.journal: deque[IdentityJournalEntry] = deque(maxlen=10_000)
        self._keys: list[_Key] = []
        self._tickets: dict[str, _Ticket] = {}
        self._tokens: dict[str, _Token] = {}
        self._nonces: dict[str, float] = {}  # signature -> when it may be forgotten
        self._last_ticket: str | None = None
        self._faults = IdentityFaults()
        self._faults_set_at = clock.time()
        self._next_rotation: float | None = None
        self.reset()
        self.set_faults(faults)
        self.app = create_identity_app(self)

    def __repr__(self) -> str:
        return f"IdentityPlatform({self.base_url!r}, faults={self._faults.to_spec()!r})"

    # --- state and control ------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The platform's ``iss``."""
        return self.config.issuer

    @property
    def people(self) -> TestPeople:
        """The accounts the sign-in page offers."""
        return self.config.people

    @property
    def faults(self) -> IdentityFaults:
        """The faults in force (see :meth:`set_faults`)."""
        return self._faults

    def set_faults(self, faults: IdentityFaults | str | None) -> IdentityFaults:
        """Replace the faults (an outage's ``for`` and the rotation period count from now).

        Raises:
            ValidationError: a spec that cannot be read.
        """
        plan = faults if isinstance(faults, IdentityFaults) else IdentityFaults.parse(faults)
        with self._lock:
            self._faults = plan
            self._faults_set_at = self.clock.time()
            every = plan.rotate_every
            self._next_rotation = None if every is None else self._faults_set_at + every
        return plan

    def reset(self) -> None:
        """Forget tickets, tokens and the journal; start again with one fresh key; no faults."""
        with self._lock:
            self.journal.clear()
            self._tickets.clear()
            self._tokens.clear()
            self._nonces.clear()
            self._last_ticket = None
            self._keys = [_new_key(self.clock.time())]
            self._faults = IdentityFaults()
            self._next_rotation = None

    def state(self) -> dict[str, Any]:
        """A summary (``GET /admin/state``): keys, tickets, faults, people (masked)."""
        with self._lock:
            self._tick()
            now = self.clock.time()
            return {
                "issuer": self.issuer,
                "signing_kid": self._signing_key(now).kid,
                "published_kids": list(self.published_keys()),
                "tickets_issued": len(self._tickets),
                "tickets_redeemed": sum(t.used for t in self._tickets.values()),
                "faults": self._faults.to_spec(),
                "people": [
                    {
                        "handle": p.handle,
                        "kind": p.kind,
                        "trust_level": p.trust_level,
                        "masked_id": p.id_number.masked,
                    }
                    for p in self.people.values()
                ],
            }

    def rotate_key(self, *, prepublish: float = 0.0, retire_previous: bool = False) -> str:
        """Rotate the signing key; returns the new ``kid``.

        The new key is published at once and signs after ``prepublish`` seconds (a careful
        rotation pre-publishes so verifiers' caches already hold it). Keys it replaces stay
        published until tickets they signed have expired, unless ``retire_previous`` withdraws
        them at once (tickets already handed out then fail with an unknown key).
        """
        with self._lock:
            return self._rotate(prepublish, retire_previous)

    def _rotate(self, prepublish: float, retire_previous: bool) -> str:
        now = self.clock.time()
        new = _new_key(now + max(0.0, prepublish))
        retire_at = now if retire_previous else new.signs_from + self.config.ticket_lifetime + 60
        for key in self._keys:
            if key.retire_at is None:
                key.retire_at = retire_at
        self._keys.append(new)
        return new.kid

    def _tick(self) -> None:
        """Carry out scheduled rotations and forget retired keys (on the clock)."""
        now = self.clock.time()
        every = self._faults.rotate_every
        while self._next_rotation is not None and every is not None and now >= self._next_rotation:
            self._rotate(0.0, False)
            self._next_rotation += every
        self._keys = [k for k in self._keys if k.retire_at is None or k.retire_at > now]
        # Forget what can no longer matter (a served mock may run for days).
        if len(self._tickets) > 1000:
            self._tickets = {j: t for j, t in self._tickets.items() if t.expires_at + 3600 > now}
        if len(self._nonces) > 1000:
            self._nonces = {n: until for n, until in self._nonces.items() if until > now}
        if len(self._tokens) > 1000:
            self._tokens = {h: t for h, t in self._tokens.items() if t.expires_at > now}

    def _signing_key(self, now: float) -> _Key:
        candidates = [k for k in self._keys if k.signs_from <= now and k.retire_at is None]
        if not candidates:  # only pre-published keys are unretired: the newest retiring signs
            candidates = [k for k in self._keys if k.signs_from <= now]
        return max(candidates, key=lambda k: k.signs_from)

    def published_keys(self) -> dict[str, VerificationKey]:
        """The keys ``/jwks`` publishes now, by ``kid``."""
        with self._lock:
            self._tick()
            return {k.kid: k.verification for k in self._keys}

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (what ``/jwks`` answers when no fault intervenes)."""
        with self._lock:
            self._tick()
            return {"keys": [_public_jwk(k.key, k.kid) for k in self._keys]}

    # --- tickets ----------------------------------------------------------------------------

    def _app(self, app_id: str | None) -> IdentityApp:
        app = self.config.apps.get(app_id or self.config.default_app)
        if app is None:
            raise ValidationError(
                f"no app {str(app_id)[:40]!r} is registered", field="app_id", rule="known_app"
            )
        return app

    def issue_ticket(
        self,
        person: str,
        *,
        app_id: str | None = None,
        lifetime: float | None = None,
        issued_at: float | None = None,
    ) -> str:
        """A ticket for ``person`` (a handle of :attr:`people`), faults not applied.

        ``issued_at`` and ``lifetime`` let a test make a ticket that is already expired or
        not yet valid.

        Raises:
            ValidationError: unknown person (``person``/``known_person``) or app
                (``app_id``/``known_app``).
        """
        who = self.people.get_person(person)
        app = self._app(app_id)
        with self._lock:
            self._tick()
            now = self.clock.time() if issued_at is None else issued_at
            key = self._signing_key(self.clock.time())
            exp = now + (self.config.ticket_lifetime if lifetime is None else lifetime)
            jti = uuid.uuid4().hex
            claims = {
                "iss": self.issuer,
                "aud": app.audience,
                "iat": int(now),
                "exp": int(exp),
                "jti": jti,
                "auth_time": int(now),
                **who.ticket_claims(),
            }
            # The province is another party: it signs with joserfc, not with govlink's own code.
            payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
            header = {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
            ticket = jws.serialize_compact(header, payload, key.key)
            self._tickets[jti] = _Ticket(who.handle, app.app_id, float(int(exp)))
            self._last_ticket = ticket
            return ticket

    def sign_in(self, person: str, *, app_id: str | None = None) -> str:
        """What the sign-in page hands out for ``person``: a fresh ticket, or what the faults
        make of it (an expired ticket, or the previous ticket replayed).

        Raises:
            ValidationError: unknown person or app (as :meth:`issue_ticket`).
        """
        faults = self._faults
        if faults.replayed_tickets and self._last_ticket is not None:
            self.people.get_person(person)
            return self._last_ticket
        if faults.expired_tickets:
            start = self.clock.time() - self.config.ticket_lifetime - _EXPIRED_BY
            return self.issue_ticket(person, app_id=app_id, issued_at=start)
        return self.issue_ticket(person, app_id=app_id)

    def redeem_ticket(self, ticket: str, app_id: str) -> TestPerson:
        """The CAS step: the person a ticket names, once (what ``/api/token`` checks).

        Raises:
            ValidationError: field ``ticket``, rule ``unknown_ticket`` / ``expired`` /
                ``replayed`` / ``other_app``.
        """
        try:
            return self._redeem(ticket, app_id)
        except _Refused as exc:
            rule = {
                "300001": "unknown_ticket",
                "300002": "expired",
                "300003": "replayed",
                "300004": "other_app",
            }[exc.retcode]
            raise ValidationError(exc.msg, field="ticket", rule=rule) from None

    def _redeem(self, ticket: str, app_id: str) -> TestPerson:
        try:
            claims = json.loads(_b64_payload(ticket))
            jti = claims["jti"]
        except (ValueError, KeyError, TypeError, IndexError):
            raise _Refused(400, "300001", "unknown ticket") from None
        with self._lock:
            record = self._tickets.get(jti) if isinstance(jti, str) else None
            # Only tickets this platform signed, with the exact text it handed out.
            key = self.published_keys().get(_b64_kid(ticket) or "")
            if record is None or key is None or not _signature_ok(ticket, key):
                raise _Refused(400, "300001", "unknown ticket")
            if record.app_id != app_id:
                raise _Refused(400, "300004", "ticket issued to another app")
            if record.used:
                raise _Refused(400, "300003", "ticket already used")
            if self.clock.time() >= record.expires_at:
                raise _Refused(400, "300002", "ticket expired")
            record.used = True
            return self.people[record.person]

    # --- trusting the platform -------------------------------------------------------------

    def key_source(self) -> KeySource:
        """A key source reading the published keys in-process (no HTTP, no faults)."""
        return _FixedKeys(self)

    def remote_jwks(
        self,
        *,
        store: Store | None = None,
        policy: JWKSCachePolicy | None = None,
        clock: Clock | None = None,
    ) -> RemoteJWKS:
        """A :class:`RemoteJWKS` of this platform reached through the in-process faces (so JWKS
        faults apply, and the cache's lifetime, cooldown and last-known-good are exercised)."""
        return RemoteJWKS(
            self.jwks_url,
            store=store,
            clock=clock or self.clock,
            policy=policy,
            client=self.client(),
            async_client=self.async_client(),
        )

    def provincial_mapping(
        self, keys: KeySource | None = None, *, audience: str | None = None
    ) -> ProvincialMapping:
        """The platform as a trusted issuer of the city identity provider
        (``create_provider_app(..., provinces=[platform.provincial_mapping(...)])``).

        ``keys``: default :meth:`remote_jwks` (through the faces). ``audience``: default the
        default app's.
        """
        aud = audience or self._app(None).audience
        # The masked name and the organisation's name are copied too (the provider's default
        # copies the identifiers only), so a hall can greet the person.
        copied = ("masked_id", "credit_code", "name_masked", "org_name")
        return ProvincialMapping(self.issuer, keys or self.remote_jwks(), aud, copy_claims=copied)

    # --- the pure request handler ------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> IdentityAnswer:
        """Answer one request; ``path`` is relative to the face (``/jwks``, ``/login``, ...)."""
        now = self.clock.time()
        try:
            answer, retcode, fault = self._route(method, path, query, headers, body)
        except _Refused as exc:
            answer = _envelope(exc.status, exc.retcode, exc.msg, None)
            retcode, fault = exc.retcode, None
        with self._lock:
            self.journal.append(
                IdentityJournalEntry(now, method, path, answer.status, retcode, fault)
            )
        return answer

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[IdentityAnswer, str | None, str | None]:
        if path == _JWKS_PATH and method == "GET":
            return self._jwks_answer()
        if path == _LOGIN_PATH and method == "GET":
            return self._login_page(query), None, None
        if path == _LOGIN_PATH and method == "POST":
            return self._login_post(query, headers, body)
        if path in ("/api/token", "/api/userinfo") and method == "POST":
            app = self._check_signature(headers, body)
            data = _json_object(body)
            if path == "/api/token":
                return self._api_token(app, data), SUCCESS, None
            return self._api_userinfo(app, data), SUCCESS, None
        if path.startswith("/admin/"):
            return self._admin(method, path, body), None, None
        return _page(404, "Not found", f"no page {method} {path[:80]}"), None, None

    def _jwks_answer(self) -> tuple[IdentityAnswer, str | None, str | None]:
        with self._lock:
            faults, since = self._faults, self.clock.time() - self._faults_set_at
        outage = faults.jwks_outage and (
            faults.jwks_outage_for is None or since < faults.jwks_outage_for
        )
        if outage:
            body = json.dumps({"error": "unavailable"}).encode()
            answer = IdentityAnswer(503, body, [("content-type", _JSON), ("retry-after", "60")])
            answer.latency = faults.jwks_latency
            return answer, None, "jwks_outage"
        body = json.dumps(self.jwks()).encode()
        headers = [
            ("content-type", "application/jwk-set+json"),
            ("cache-control", f"public, max-age={self.config.jwks_max_age}"),
        ]
        fault = "jwks_slow" if faults.jwks_latency else None
        return IdentityAnswer(200, body, headers, faults.jwks_latency), None, fault

    def _login_page(self, query: Mapping[str, str], problem: str | None = None) -> IdentityAnswer:
        service = query.get("service", "")
        app_id = query.get("app_id") or self.config.default_app
        app = self.config.apps.get(app_id)
        if app is None:
            return _page(400, "Sign-in refused", "unknown app_id")
        if not service or not app.allows(service):
            return _page(400, "Sign-in refused", "service is missing or not registered for the app")
        rows = "".join(
            f"<li><button type='submit' name='person' value='{escape(p.handle)}' "
            f"data-person='{escape(p.handle)}'>{escape(p.label)}</button> "
            f"<code>{escape(p.id_number.masked)}</code></li>"
            for p in self.people.values()
        )
        target = urlsplit(service)
        note = f"<p class='problem'>{escape(problem)}</p>" if problem else ""
        html = (
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<title>省统一身份认证平台 (mock)</title>"
            "<style>body{font-family:sans-serif;margin:2em}li{margin:.4em 0}"
            "button{font-size:1em;padding:.3em .8em}</style>"
            "<h1>省统一身份认证平台 · provincial identity platform (mock)</h1>"
            f"<p>Sign in to continue to <b>{escape(target.netloc)}</b>. Test people "
            "(invented, valid identifiers):</p>"
            f"{note}<form method='post'>"
            f"<input type='hidden' name='service' value='{escape(service)}'>"
            f"<input type='hidden' name='app_id' value='{escape(app_id)}'>"
            f"<ul>{rows}</ul></form></html>"
        )
        return IdentityAnswer(200, html.encode(), [("content-type", _HTML), _NO_STORE])

    def _login_post(
        self, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> tuple[IdentityAnswer, str | None, str | None]:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _page(400, "Sign-in refused", "the form must be urlencoded"), None, None
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _page(400, "Sign-in refused", "the form is not UTF-8"), None, None
        service = form.get("service", "")
        app = self.config.apps.get(form.get("app_id") or self.config.default_app)
        if app is None or not service or not app.allows(service):
            return _page(400, "Sign-in refused", "service is not registered"), None, None
        handle = form.get("person", "")
        if handle not in self.people:
            params = {"service": service, "app_id": app.app_id}
            return self._login_page(params, "choose one of the test people"), None, None
        faults = self._faults
        fault = (
            "replayed_tickets"
            if faults.replayed_tickets and self._last_ticket is not None
            else "expired_tickets"
            if faults.expired_tickets
            else None
        )
        ticket = self.sign_in(handle, app_id=app.app_id)
        location = f"{service}{'&' if '?' in service else '?'}{urlencode({'ticket': ticket})}"
        return IdentityAnswer(303, b"", [("location", location), _NO_STORE]), None, fault

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> IdentityApp:
        app_id = headers.get("x-app-id")
        stamp = headers.get("x-timestamp")
        signature = headers.get("x-signature")
        if not app_id or not stamp or not signature:
            raise _Refused(401, "100001", "X-App-Id, X-Timestamp and X-Signature are required")
        app = self.config.apps.get(app_id)
        if app is None:
            raise _Refused(401, "100002", "unknown app")
        try:
            millis = int(stamp)
        except ValueError:
            raise _Refused(401, "100003", "X-Timestamp is not milliseconds") from None
        if abs(millis / 1000.0 - self.clock.time()) > self.config.timestamp_skew:
            raise _Refused(401, "100003", "X-Timestamp too far from the platform's time")
        expected = signed_headers(app.app_id, app.secret, body, timestamp_ms=millis)
        # Bytes: a header may carry non-ASCII text, which compare_digest refuses as str.
        given = signature.lower().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected["X-Signature"].encode("ascii"), given):
            raise _Refused(401, "100005", "bad signature")
        with self._lock:
            # A signed request is accepted once (its signature is its nonce).
            if signature.lower() in self._nonces:
                raise _Refused(401, "100004", "request replayed")
            # Beyond the timestamp window a replay is refused for its timestamp anyway.
            self._nonces[signature.lower()] = millis / 1000.0 + self.config.timestamp_skew
        return app

    def _api_token(self, app: IdentityApp, data: Mapping[str, Any]) -> IdentityAnswer:
        ticket = data.get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise _Refused(400, "200001", "ticket is required")
        person = self._redeem(ticket, app.app_id)
        token = secrets.token_urlsafe(24)
        lifetime = self.config.token_lifetime
        with self._lock:
            self._tokens[_sha256(token)] = _Token(
                person.handle, app.app_id, self.clock.time() + lifetime
            )
        data_out = {"access_token": token, "expires_in": int(lifetime), "user_id": person.user_id}
        return _envelope(200, SUCCESS, "success", data_out)

    def _api_userinfo(self, app: IdentityApp, data: Mapping[str, Any]) -> IdentityAnswer:
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise _Refused(400, "200001", "access_token is required")
        with self._lock:
            record = self._tokens.get(_sha256(token))
        if record is None or record.app_id != app.app_id:
            raise _Refused(400, "300005", "unknown access token")
        if self.clock.time() >= record.expires_at:
            raise _Refused(400, "300005", "access token expired")
        return _envelope(200, SUCCESS, "success", self.people[record.person].user_info())

    def _admin(self, method: str, path: str, body: bytes) -> IdentityAnswer:
        def ok(data: Any) -> IdentityAnswer:
            return IdentityAnswer(
                200,
                json.dumps(data, ensure_ascii=False).encode(),
                [("content-type", _JSON), _NO_STORE],
            )

        if path == "/admin/state" and method == "GET":
            return ok(self.state())
        if path == "/admin/reset" and method == "POST":
            self.reset()
            return ok({"reset": True})
        if path == "/admin/faults" and method == "GET":
            return ok({"spec": self._faults.to_spec()})
        if path == "/admin/faults" and method == "POST":
            data = _json_object(body)
            spec = data.get("spec", "")
            if not isinstance(spec, str):
                return _problem(FieldProblem("spec", "string", "spec must be a string"))
            try:
                plan = self.set_faults(spec)
            except ValidationError as exc:
                return _problem(*exc.problems)
            return ok({"spec": plan.to_spec()})
        if path == "/admin/rotate" and method == "POST":
            data = _json_object(body)
            prepublish = data.get("prepublish", 0)
            if not isinstance(prepublish, int | float) or isinstance(prepublish, bool):
                return _problem(FieldProblem("prepublish", "number", "seconds, a number"))
            kid = self.rotate_key(
                prepublish=float(prepublish), retire_previous=bool(data.get("retire_previous"))
            )
            return ok({"kid": kid, "published_kids": list(self.published_keys())})
        return _page(404, "Not found", f"no admin endpoint {method} {path[:80]}")

    # --- in-process faces -------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer an httpx request in-process (the sync face; also what respx routes call)."""
        path = request.url.path
        if self._prefix and path.startswith(self._prefix):
            path = path[len(self._prefix) :] or "/"
        answer = self.handle(
            request.method, path, dict(request.url.params), request.headers, request.read()
        )
        if answer.latency:
            self.clock.sleep(answer.latency)
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )

    def transport(self) -> httpx.MockTransport:
        """A sync httpx transport answering from this platform."""
        return httpx.MockTransport(self.handle_request)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` wired to this platform in-process (``base_url`` preset)."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.Client(transport=self.transport(), **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` over the Starlette app (``base_url`` preset)."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.AsyncClient(transport=_PrefixedASGI(self), **kwargs)

    def route(self, router: respx.MockRouter) -> respx.Route:
        """Add a respx route forwarding every request under :attr:`base_url` here."""
        return router.route(url__startswith=self.base_url).mock(side_effect=self.handle_request)

    @contextlib.contextmanager
    def mock(self) -> Iterator[respx.MockRouter]:
        """A respx mock: any httpx client reaching :attr:`base_url` reaches the platform."""
        import respx

        with respx.mock(assert_all_called=False) as router:
            self.route(router)
            yield router


class _PrefixedASGI(httpx.AsyncBaseTransport):
    """ASGI transport to the face's app, the base URL's path stripped as a mount would."""

    def __init__(self, platform: IdentityPlatform) -> None:
        self._platform = platform
        self._inner = httpx.ASGITransport(app=platform.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        prefix = self._platform._prefix
        if prefix and request.url.path.startswith(prefix):
            url = request.url.copy_with(path=request.url.path[len(prefix) :] or "/")
            request = httpx.Request(
                request.method, url, headers=request.headers, content=await request.aread()
            )
        return await self._inner.handle_async_request(request)


def create_identity_app(platform: IdentityPlatform) -> Starlette:
    """The face as a Starlette app answering at its root (``/jwks``, ``/login``, ``/api/...``,
    ``/admin/...``): mount it (``Mount("/identity", app=...)``) or serve it alone."""
    clock = platform.clock

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        path = "/" + request.path_params.get("path", "")
        answer = platform.handle(request.method, path, request.query_params, request.headers, body)
        if answer.latency:
            await clock.asleep(answer.latency)
        headers = dict(answer.headers)
        media_type = headers.pop("content-type", None)
        return Response(
            answer.body, status_code=answer.status, headers=headers, media_type=media_type
        )

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


# --- served face ------------------------------------------------------------------------------


@dataclass
class ServedIdentity(_FaceUrls):
    """A platform served on a loopback port (from :func:`served_identity`)."""

    platform: IdentityPlatform
    base_url: str
    port: int


@contextlib.contextmanager
def served_identity(
    platform: IdentityPlatform, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ServedIdentity]:
    """Serve ``platform``'s face alone with uvicorn in a background thread (``port=0``: any
    free port). The platform should run on the system clock.

    Raises:
        ConfigError: uvicorn is not installed.
        RuntimeError: the server did not start within 10 seconds.
    """
    try:
        import uvicorn
    except ImportError:
        from .._errors import ConfigError

        raise ConfigError("serving needs uvicorn: pip install 'govlink[server]'") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(platform.app, lifespan="off", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="govlink-identity-platform", daemon=True
    )
    thread.start()
    started = threading.Event()
    for _ in range(1000):
        if server.started or not thread.is_alive():
            break
        started.wait(0.01)
    if not server.started:
        sock.close()
        raise RuntimeError("the identity platform server did not start")
    try:
        yield ServedIdentity(platform, f"http://{host}:{bound}", bound)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- helpers ----------------------------------------------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _public_jwk(key: ECKey, kid: str) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": "ES256"}


def _b64_segment(ticket: str, index: int) -> bytes:
    segment = ticket.split(".")[index]
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (ValueError, binascii.Error) as exc:
        raise ValueError("not base64url") from exc


def _b64_payload(ticket: str) -> bytes:
    return _b64_segment(ticket, 1)


def _b64_kid(ticket: str) -> str | None:
    try:
        kid = json.loads(_b64_segment(ticket, 0)).get("kid")
    except (ValueError, IndexError, AttributeError):
        return None
    return kid if isinstance(kid, str) else None


def _signature_ok(ticket: str, key: VerificationKey) -> bool:
    head, payload, _ = ticket.split(".")
    verify = key.verifiers.get("ES256")
    try:
        return verify is not None and verify(f"{head}.{payload}".encode(), _b64_segment(ticket, 2))
    except ValueError:  # a malformed signature is simply not this platform's
        return False


def _json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "200001", "body is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "200001", "body is not a JSON object")
    return data


def _envelope(status: int, retcode: str, msg: str, data: Any) -> IdentityAnswer:
    body = json.dumps({"retcode": retcode, "msg": msg, "data": data}, ensure_ascii=False)
    return IdentityAnswer(status, body.encode(), [("content-type", _JSON), _NO_STORE])


def _problem(*problems: FieldProblem) -> IdentityAnswer:
    body = {
        "error": "invalid_request",
        "problems": [{"field": p.field, "rule": p.rule, "message": p.message} for p in problems],
    }
    return IdentityAnswer(400, json.dumps(body).encode(), [("content-type", _JSON)])


def _page(status: int, title: str, text: str) -> IdentityAnswer:
    html = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p></html>"
    )
    return IdentityAnswer(status, html.encode(), [("content-type", _HTML), _NO_STORE])
