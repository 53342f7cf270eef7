"""Who may call the mock province, and how often: OAuth2 client credentials and the quota.

:class:`Access` runs the token endpoint (RFC 6749 §4.4, client id and secret by HTTP Basic or
form fields) and checks bearer tokens; :class:`Quota` is the per-client token bucket. Both run
on the province's clock, so token lifetimes and the quota follow a virtual clock in tests.
Errors at the token endpoint are RFC 6749 §5.2 bodies; what a refused bearer token or quota
looks like on the wire is the front end's business.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, unquote

from .._clock import Clock
from ._faults import retry_after_seconds
from ._messages import SMALL_BODY_BYTES, CoreResponse, json_response

__all__ = ["Access", "AccessDenied", "Quota", "TokenGrant"]

#: Tokens kept before expired ones are swept (bounded memory under a token storm).
_SWEEP_AT: Final = 10_000
_NO_STORE: Final = ("cache-control", "no-store")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """The token endpoint's answer and the client it names (``"-"``: none named)."""

    response: CoreResponse
    client: str


class AccessDenied(Exception):
    """A request without a usable bearer token; ``reason`` is the human sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _oauth_error(status: int, error: str, description: str) -> CoreResponse:
    response = json_response(status, {"error": error, "error_description": description}, _NO_STORE)
    if status == 401:
        response.headers.append(("www-authenticate", 'Basic realm="govlink-mock"'))
    return response


class Access:
    """Client credentials and the bearer tokens issued for them.

    ``clients`` maps client id → secret; tokens live ``token_lifetime`` seconds on ``clock``.
    """

    def __init__(self, clients: Mapping[str, str], token_lifetime: int, clock: Clock) -> None:
        self.clients = clients
        self.token_lifetime = token_lifetime
        self.clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue_token(self, client_id: str) -> str:
        """A bearer token for ``client_id`` without a request.

        Raises:
            KeyError: ``client_id`` is not a configured client.
        """
        if client_id not in self.clients:
            raise KeyError(client_id)
        return self._new_token(client_id)

    def _new_token(self, client: str) -> str:
        now = self.clock.time()
        if len(self._tokens) > _SWEEP_AT:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (client, now + self.token_lifetime)
        return token

    def token_endpoint(self, headers: Mapping[str, str], body: bytes) -> TokenGrant:
        """Answer ``POST`` to the token endpoint (form ``grant_type=client_credentials``)."""
        if len(body) > SMALL_BODY_BYTES:
            message = f"the form is over {SMALL_BODY_BYTES} bytes"
            return TokenGrant(_oauth_error(400, "invalid_request", message), "-")
        try:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        except (UnicodeDecodeError, ValueError):
            return TokenGrant(_oauth_error(400, "invalid_request", "body must be a form"), "-")
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        authorization = headers.get("authorization") or ""
        if authorization[:6].lower() == "basic ":
            try:
                # Header values reach us as latin-1 text (HTTP/1.1); undo that to get the
                # bytes back before reading the Basic credentials, which must be UTF-8.
                raw = authorization[6:].strip().encode("latin-1")
                decoded = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeError):
                return TokenGrant(_oauth_error(401, "invalid_client", "bad Basic credentials"), "-")
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote(raw_id), unquote(raw_secret)
        who = client_id or "-"
        if form.get("grant_type") != "client_credentials":
            return TokenGrant(
                _oauth_error(
                    400, "unsupported_grant_type", "grant_type must be client_credentials"
                ),
                who,
            )
        known = self.clients.get(client_id or "")
        if known is None or secret is None or not _same(known, secret):
            return TokenGrant(
                _oauth_error(401, "invalid_client", "unknown client or wrong secret"), who
            )
        payload: dict[str, object] = {
            "access_token": self._new_token(who),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }
        if form.get("scope"):
            payload["scope"] = form["scope"]
        return TokenGrant(json_response(200, payload, _NO_STORE), who)

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The client a request's bearer token was issued to.

        Raises:
            AccessDenied: no bearer token, an unknown one, or an expired one.
        """
        authorization = headers.get("authorization") or ""
        scheme, _, token = authorization.partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise AccessDenied(
                "missing bearer token" if not authorization else "unknown bearer token"
            )
        if found[1] <= self.clock.time():
            raise AccessDenied("the access token has expired")
        return found[0]


def _same(known: str, given: str) -> bool:
    # compare_digest refuses non-ASCII str; compare the UTF-8 bytes in constant time instead.
    return secrets.compare_digest(known.encode("utf-8"), given.encode("utf-8"))


class Quota:
    """Requests per second per client: a token bucket of ``burst`` on ``clock``.

    ``rate`` ``None`` turns the quota off.
    """

    def __init__(self, rate: float | None, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> int | None:
        """Spend one request of ``client``'s quota; ``None`` when allowed, else the seconds
        to wait (for ``Retry-After``)."""
        rate = self.rate
        if rate is None:
            return None
        now = self.clock.time()
        burst = float(self.burst)
        tokens, last = self._buckets.get(client, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return None
        self._buckets[client] = (tokens, now)
        return retry_after_seconds((1.0 - tokens) / rate)

    def describe(self) -> str:
        """The quota in words, for a refusal's message."""
        return f"over the quota of {self.rate:g} requests/s"
