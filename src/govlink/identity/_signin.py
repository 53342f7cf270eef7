"""Sign-in at the identity provider: how a person proves who they are (认证方式).

Each deployment decides: the provincial platform's one-time ticket (the default), a password
with a second factor, a counter check by hall staff, a certificate... An
:class:`Authenticator` turns what the browser brought — the ``/authorize`` query (a ticket) or a
posted sign-in form — into an :class:`Authentication`: who, at which trust level (``acr``), by
which methods (``amr``). The provider then opens the SSO session, refuses a level below what the
hall asked for (``acr_values``), and issues the code.

Two ship with govlink:

* :class:`ProvincialTicketAuthenticator` — the default: ``/authorize?...&ticket=<JWT>``, the
  provincial platform's one-time token, verified against its keys; its ``jti`` is remembered
  in the store, so a ticket is one-time across every provider process and restarts.
* :class:`DevPasswordAuthenticator` — a built-in sign-in page over a development user list
  (never production): CSRF token bound to a browser cookie, failed attempts throttled per
  account and per address in the store (so the limit holds across processes), one generic
  answer whether the account exists or not.

To add one, implement :class:`Authenticator` (``form_fields`` for an interactive page, or
``from_request`` for something the browser brings in the query) and pass it to
:func:`~govlink.identity.create_provider_app` as ``authenticator=``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from .._clock import Clock
from ..domain import ResidentId
from ..store import Store
from ._errors import ExchangeError, IdentityError, InvalidToken
from ._exchange import ProvincialMapping, TokenExchange
from ._jose import b64url_decode, loads_strict
from ._subjects import ACR_LEVELS, PersonSubject

__all__ = [
    "Authentication",
    "Authenticator",
    "DevPasswordAuthenticator",
    "ProvincialTicketAuthenticator",
    "SignInFailed",
    "SignInThrottle",
]

#: The namespace of development users' subject identifiers.
DEV_ISSUER: Final = "urn:govlink:dev-sign-in"


class SignInFailed(Exception):
    """The person could not be authenticated. ``reason`` is for the log only; the browser is
    always told the same generic thing (no account enumeration)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Authentication:
    """A completed authentication: who (``subject`` in ``issuer``'s namespace, or a
    :class:`PersonSubject`), the subject claims for tokens (masked), ``acr`` 2–5 and ``amr``.
    ``account`` names the account for throttling (never logged in clear)."""

    acr: str
    amr: tuple[str, ...]
    claims: Mapping[str, Any] = field(repr=False)
    subject: str = field(default="", repr=False)
    issuer: str = ""
    person: PersonSubject | None = field(default=None, repr=False)


@runtime_checkable
class Authenticator(Protocol):
    """How a person proves who they are at ``/authorize``.

    ``form_fields``: the input fields of the built-in sign-in page (``[(name, label, type)]``),
    or ``()`` for a non-interactive authenticator. ``from_request``: an authentication the
    ``/authorize`` query itself carries (a ticket), or ``None``. ``from_form``: check a posted
    sign-in form. Both raise :class:`SignInFailed`.
    """

    name: str

    @property
    def form_fields(self) -> Sequence[tuple[str, str, str]]: ...

    def from_request(self, params: Mapping[str, str]) -> Authentication | None: ...

    def from_form(self, form: Mapping[str, str]) -> Authentication: ...

    def account_of(self, form: Mapping[str, str]) -> str | None:
        """The account a form tries (for per-account throttling), or ``None``."""
        ...


class ProvincialTicketAuthenticator:
    """The provincial platform's one-time ticket in the ``ticket`` parameter (the default)."""

    name = "provincial_ticket"
    form_fields: Sequence[tuple[str, str, str]] = ()

    def __init__(self, exchange: TokenExchange) -> None:
        self.exchange = exchange

    def from_request(self, params: Mapping[str, str]) -> Authentication | None:
        """The authentication a ``ticket`` parameter proves, ``None`` without one.

        Raises:
            SignInFailed: untrusted issuer, bad or replayed ticket, unmapped trust level.
        """
        ticket = params.get("ticket")
        if not ticket:
            return None
        province = self._province_of(ticket)
        if province is None:
            raise SignInFailed("sign-in ticket of an untrusted issuer")
        # The exchange's own verifier: one replay guard (in the store) for tickets, whichever
        # endpoint or process sees them first.
        try:
            verified = self.exchange._verifier.verify(
                ticket, audience=province.audience, kind="access"
            )
        except (InvalidToken, IdentityError) as exc:
            raise SignInFailed(f"sign-in ticket refused ({exc.code})") from None
        acr = province.map_acr(verified.claims)
        if acr is None or acr not in ACR_LEVELS:
            raise SignInFailed("provincial trust level cannot be mapped")
        try:
            claims = province.map_subject(verified.claims)
        except ExchangeError as exc:
            raise SignInFailed(exc.description) from None
        return Authentication(
            acr=acr, amr=("fed",), claims=claims, subject=verified.subject, issuer=province.issuer
        )

    def from_form(self, form: Mapping[str, str]) -> Authentication:
        """Not interactive. Raises :class:`SignInFailed` always."""
        raise SignInFailed("the provincial ticket authenticator has no sign-in form")

    def account_of(self, form: Mapping[str, str]) -> str | None:
        """No form, no account."""
        return None

    def _province_of(self, ticket: str) -> ProvincialMapping | None:
        parts = ticket.split(".")
        try:
            claims = loads_strict(b64url_decode(parts[1])) if len(parts) == 3 else None
        except IdentityError:
            return None
        iss = claims.get("iss") if isinstance(claims, dict) else None
        return self.exchange.provinces.get(iss) if isinstance(iss, str) else None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "replace")).digest()


@dataclass(frozen=True)
class _User:
    password_digest: bytes = field(repr=False)
    person: PersonSubject = field(repr=False)
    acr: str = "3"


class DevPasswordAuthenticator:
    """The built-in development sign-in page: user name and password from a development user
    list (``[[sign_in.users]]`` in the provider file). Never for production: passwords are
    configuration, there is no second factor — its ``acr`` is whatever the list says."""

    name = "dev_password"
    form_fields: Sequence[tuple[str, str, str]] = (
        ("username", "用户名 User name", "text"),
        ("password", "密码 Password", "password"),
    )

    def __init__(self, users: Iterable[Any]) -> None:
        """``users``: objects with ``username``, ``password``, ``id_number``, ``name``, ``acr``
        (:class:`~govlink.identity.DevUser`).

        Raises:
            govlink.IdentifierError: an ``id_number`` that is not a valid resident ID.
        """
        self._users: dict[str, _User] = {}
        for user in users:
            person = PersonSubject(ResidentId(user.id_number), name=user.name)
            self._users[user.username] = _User(_digest(user.password), person, str(user.acr))
        self._dummy = _digest("govlink: no such user")

    def from_request(self, params: Mapping[str, str]) -> Authentication | None:
        """Nothing in the query signs in here."""
        return None

    def account_of(self, form: Mapping[str, str]) -> str | None:
        """The user name tried."""
        return form.get("username") or None

    def from_form(self, form: Mapping[str, str]) -> Authentication:
        """Check user name and password (same work whether the user exists or not).

        Raises:
            SignInFailed: unknown user or wrong password (one reason for both).
        """
        user = self._users.get(form.get("username", ""))
        expected = user.password_digest if user is not None else self._dummy
        matches = hmac.compare_digest(_digest(form.get("password", "")), expected)
        if user is None or not matches:
            raise SignInFailed("unknown user or wrong password")
        return Authentication(
            acr=user.acr, amr=("pwd",), claims=user.person.claims(), person=user.person
        )

    def __repr__(self) -> str:
        return f"DevPasswordAuthenticator({len(self._users)} users)"


class SignInThrottle:
    """Failed sign-ins counted in the store per key (an account, an address), so the limit
    holds across every provider process: at most ``max_failures`` within ``window`` seconds;
    then every attempt on that key is refused until the oldest failure leaves the window."""

    def __init__(
        self, store: Store, clock: Clock, *, max_failures: int = 5, window: float = 900.0
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_failures = max_failures
        self.window = window

    def blocked(self, keys: Iterable[str]) -> bool:
        """Whether any key reached the limit within the window."""
        since = self.clock.time() - self.window
        with self.store.transaction(write=False) as conn:
            for key in keys:
                count = conn.scalar(
                    "SELECT COUNT(*) FROM identity_signin_failures WHERE key = ? AND at > ?",
                    (key, since),
                )
                if int(count or 0) >= self.max_failures:
                    return True
        return False

    def failed(self, keys: Iterable[str]) -> None:
        """Record one failure for each key (and forget failures older than the window)."""
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM identity_signin_failures WHERE at < ?", (now - self.window,))
            conn.executemany(
                "INSERT INTO identity_signin_failures (key, at) VALUES (?, ?)",
                [(key, now) for key in keys],
            )
