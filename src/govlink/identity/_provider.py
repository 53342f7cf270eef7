"""The city identity provider over HTTP (ASGI, OAuth 2.0 / OIDC): a thin layer over the core.

Every token decision is the core's (:class:`Issuer`, :class:`TokenExchange`); this module only
speaks the protocols: OIDC Discovery and RFC 8414 metadata, the JWKS, ``/authorize`` (sign-in
through an :class:`~govlink.identity.Authenticator` — the provincial one-time ticket by default,
or the development sign-in page at ``/sign-in`` —, SSO session cookie, step-up), ``/token``
(authorization code + PKCE S256, refresh, RFC 8693 exchange, client credentials; client secrets
or ``private_key_jwt``), ``/userinfo``, RFC 7009 ``/revoke``, RFC 7662 ``/introspect`` and
``/logout`` (back-channel notices delivered from the store).

All its state is in the store (authorization codes, the opaque SSO cookie → session map, used
one-time ``jti``s, sessions, tokens, revocations): any request may reach any provider process on
the same store, and a restart signs nobody out. Codes and cookies are kept only as SHA-256
hashes, so reading the store does not yield a usable code or cookie.

One cohesive concept, hence one module despite its length: the OIDC provider's HTTP face (every
endpoint of one protocol).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .._errors import ValidationError
from ..metrics import IdentityRecorder
from ..store import Connection
from ._city import CityIdentity
from ._config import is_loopback_uri
from ._errors import IdentityError, InvalidToken, OAuthError, SessionEnded, UnknownHall
from ._exchange import (
    GRANT_TYPE,
    TOKEN_TYPE_ACCESS,
    ExchangePolicy,
    ProvincialMapping,
    TokenExchange,
)
from ._issuer import LogoutNotice, TokenSet
from ._jose import VerificationKey, b64url_decode, b64url_encode, loads_strict
from ._logout import LogoutOutbox
from ._openapi import MAX_FORM_BYTES, identity_openapi
from ._registry import HallClient
from ._signin import (
    Authentication,
    Authenticator,
    ProvincialTicketAuthenticator,
    SignInFailed,
    SignInThrottle,
)
from ._subjects import ACR_LEVELS
from ._verifier import StoreReplayGuard, TrustedIssuer, Verifier

__all__ = ["ClientSecrets", "create_provider_app"]

_log = logging.getLogger("govlink.identity.provider")

#: The session cookie's name (its value is an opaque random id, never the token ``sid``).
SESSION_COOKIE: Final = "govlink_sso"
#: The sign-in page's CSRF cookie (same value as the form's hidden field).
CSRF_COOKIE: Final = "govlink_csrf"
# The sign-in page runs no script and may only post to this provider.
_CSP: Final = "default-src 'none'; form-action 'self'; frame-ancestors 'none'"
_HASH_PREFIX: Final = "sha256:"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_GRANTS_SUPPORTED: Final = (
    "authorization_code",
    "refresh_token",
    GRANT_TYPE,
    "client_credentials",
)
_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "private_key_jwt")
_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_ALGS: Final = ("ES256", "EdDSA", "RS256", "PS256")
_S256_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ClientSecrets:
    """The halls' client secrets, kept only as SHA-256 hashes and compared in constant time.

    Secrets are high-entropy random strings (see :meth:`generate`), so a plain SHA-256 hash is
    enough to keep them useless if the configuration leaks.
    """

    hashes: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, entries: Mapping[str, str]) -> ClientSecrets:
        """From ``client_id → secret`` or ``client_id → "sha256:<hex>"`` (what settings hold).

        Raises:
            ValidationError: an empty secret or a ``sha256:`` value that is not 64 hex digits
                (field ``idp_client_secrets.<client id>``).
        """
        hashes = {}
        for client_id, value in entries.items():
            where = f"idp_client_secrets.{client_id[:64]}"
            if value.startswith(_HASH_PREFIX):
                digest = value[len(_HASH_PREFIX) :].lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise ValidationError(
                        "a sha256: client secret must be 64 hex digits", field=where, rule="sha256"
                    )
                hashes[client_id] = digest
            elif not value:
                raise ValidationError(
                    "a client secret may not be empty", field=where, rule="required"
                )
            else:
                hashes[client_id] = _sha256(value)
        return cls(hashes)

    @classmethod
    def generate(cls, client_ids: Iterable[str]) -> tuple[ClientSecrets, dict[str, str]]:
        """Fresh random secrets for ``client_ids`` (development): the hashes and the plain
        secrets, which are shown once and kept nowhere."""
        plain = {client_id: secrets.token_urlsafe(32) for client_id in client_ids}
        return cls.from_config(plain), plain

    def check(self, client_id: str, secret: str) -> bool:
        """Whether ``secret`` is ``client_id``'s secret (constant-time comparison)."""
        expected = self.hashes.get(client_id)
        # Compare against a dummy for unknown clients so timing does not tell them apart.
        candidate = _sha256(secret)
        if expected is None:
            hmac.compare_digest(candidate, "0" * 64)
            return False
        return hmac.compare_digest(candidate, expected)

    def __repr__(self) -> str:
        return f"ClientSecrets({len(self.hashes)} clients)"


@dataclass(frozen=True)
class _SignInPage:
    request_id: str = field(repr=False)
    csrf: str = field(repr=False)


@dataclass(frozen=True)
class _ProvinceSignIn:
    """Send the browser to the provincial platform's sign-in page (it comes back with a
    ticket)."""

    location: str


class _ClientAuthFailed(OAuthError):
    """``invalid_client`` (401 with a ``WWW-Authenticate`` challenge)."""

    code = "invalid_client"


class _BodyTooLarge(OAuthError):
    """A request body over :data:`MAX_FORM_BYTES` (413; RFC error ``invalid_request``)."""

    code = "body_too_large"

    def __init__(self) -> None:
        super().__init__("invalid_request", f"request body larger than {MAX_FORM_BYTES} bytes")


def _refuse_nul(params: Mapping[str, str]) -> None:
    """No OAuth parameter holds a NUL character, and PostgreSQL text cannot store one (a
    ``nonce`` or ``code_challenge`` with NUL would fail at the store, as a 500).

    Raises:
        OAuthError: ``invalid_request`` naming the parameter.
    """
    for name, value in params.items():
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "\\0")[:40]
            raise OAuthError("invalid_request", f"parameter {shown!r} contains a NUL character")


def _status_of(exc: OAuthError) -> int:
    """The HTTP status of a refused request: 413 for an oversized body, else 400."""
    return 413 if isinstance(exc, _BodyTooLarge) else 400


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, read chunk by chunk and refused as soon as it passes ``limit``
    bytes, so that a huge (or endless) upload never sits in memory whole.

    Raises:
        _BodyTooLarge: a declared ``Content-Length`` or the bytes received exceed ``limit``.
    """
    declared = request.headers.get("content-length", "")
    # Length-checked before int(): a 5,000-digit header must not reach the int() limit.
    if declared.isascii() and declared.isdigit() and (len(declared) > 12 or int(declared) > limit):
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _BadAuthorizeRequest(Exception):
    """An /authorize error shown as a 400 page: the redirect URI is not (yet) trustworthy."""


class _RedirectError(Exception):
    """An /authorize error sent back to the (validated) redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


LogoutDelivery = Callable[[list[LogoutNotice]], Awaitable[None]]


class _Provider:
    #: Told about token requests and JWKS answers (``create_provider_app(metrics=...)``);
    #: the default records nothing.
    metrics: IdentityRecorder = IdentityRecorder()

    def __init__(
        self,
        city: CityIdentity,
        client_secrets: ClientSecrets,
        exchange: TokenExchange,
        *,
        code_ttl: float,
        secure_cookies: bool,
        logout_delivery: LogoutDelivery | None,
        authenticator: Authenticator | None = None,
        max_failures: int = 5,
        failure_window: float = 900.0,
        province_sign_in: str | None = None,
    ) -> None:
        self.city = city
        self.province_sign_in = province_sign_in
        self.issuer = city.issuer
        self.clock = city.issuer.clock
        self.secrets = client_secrets
        self.exchange = exchange
        self.code_ttl = code_ttl
        self.secure_cookies = secure_cookies
        self.logout_delivery = logout_delivery
        self.base = city.issuer.issuer.rstrip("/")
        self.store = city.issuer.store
        # Without a delivery function of the caller's, notices go through the store.
        self.outbox = (
            LogoutOutbox(self.store, clock=self.clock) if logout_delivery is None else None
        )
        self._assertion_verifiers: dict[str, Verifier] = {}
        ticket = ProvincialTicketAuthenticator(exchange)
        self.authenticator: Authenticator = authenticator or ticket
        # A provincial ticket is always accepted when a province is configured, whatever the
        # interactive authenticator (a hall may send people signed in at the province).
        self.authenticators: list[Authenticator] = [self.authenticator]
        if not isinstance(self.authenticator, ProvincialTicketAuthenticator):
            self.authenticators.append(ticket)
        self.throttle = SignInThrottle(
            self.store, self.clock, max_failures=max_failures, window=failure_window
        )

    # -- discovery ------------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        # One document for OIDC Discovery and RFC 8414 (/.well-known/oauth-authorization-server).
        base = self.base
        algs = sorted({k.alg for k in self.city.keys.list_keys()})
        body = {
            "issuer": self.issuer.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "revocation_endpoint": f"{base}/revoke",
            "introspection_endpoint": f"{base}/introspect",
            "end_session_endpoint": f"{base}/logout",
            "userinfo_endpoint": f"{base}/userinfo",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(_GRANTS_SUPPORTED),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "introspection_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(_ASSERTION_ALGS),
            "id_token_signing_alg_values_supported": algs,
            "userinfo_signing_alg_values_supported": ["none"],
            "authorization_response_iss_parameter_supported": True,  # RFC 9207
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_parameter_supported": False,
            "prompt_values_supported": ["none", "login"],
            "subject_types_supported": ["pairwise" if self.issuer.policy.pairwise else "public"],
            "scopes_supported": sorted({s for hall in self.issuer.halls for s in hall.scopes}),
            "acr_values_supported": list(ACR_LEVELS),
            "claims_supported": ["sub", "iss", "aud", "acr", "amr", "auth_time", "sid", "nonce"],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
        return JSONResponse(body, headers={"Cache-Control": "max-age=300"})

    async def jwks(self, request: Request) -> Response:
        # Verifiers may cache the JWKS for up to the rollover policy's cache lifetime: a new
        # key is published that long before it signs, so this max-age never hides a key in use.
        self.metrics.jwks_served()
        max_age = int(self.city.keys.policy.jwks_cache_lifetime)
        return JSONResponse(
            self.city.keys.jwks(),
            headers={"Cache-Control": f"public, max-age={max_age}"},
            media_type="application/jwk-set+json",
        )

    # -- client authentication ------------------------------------------------------------------

    def _authenticate(self, request: Request, form: Mapping[str, str]) -> HallClient:
        header = request.headers.get("authorization", "")
        basic: tuple[str, str] | None = None
        if header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                user, _, password = decoded.partition(":")
            except ValueError:
                raise _ClientAuthFailed("invalid_client", "malformed Basic credentials") from None
            # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            basic = (unquote_plus(user), unquote_plus(password))
        posted = form.get("client_secret")
        assertion = form.get("client_assertion")
        methods = sum(x is not None for x in (basic, posted, assertion))
        if methods > 1:
            raise OAuthError("invalid_request", "use one client authentication method only")
        if assertion is not None:
            return self._assertion_client(request, form, assertion)
        if basic is not None:
            client_id, secret = basic
        elif posted is not None:
            client_id, secret = form.get("client_id", ""), posted
        else:
            raise _ClientAuthFailed("invalid_client", "client authentication required")
        if not self.secrets.check(client_id, secret):
            raise _ClientAuthFailed("invalid_client", "client authentication failed")
        client = next((c for c in self.issuer.halls if c.client_id == client_id), None)
        if client is None or client.auth_method == "private_key_jwt":
            raise _ClientAuthFailed("invalid_client", "client authentication failed")
        return client

    def _assertion_client(
        self, request: Request, form: Mapping[str, str], assertion: str
    ) -> HallClient:
        """RFC 7523 §2.2 ``private_key_jwt``: a JWT signed with a key from the client's
        configured JWKS, ``iss`` = ``sub`` = the client id, ``aud`` this issuer or its token
        endpoint, ``exp`` and ``iat``, and a ``jti`` used once (remembered in the store)."""
        if form.get("client_assertion_type") != _ASSERTION_TYPE:
            raise _ClientAuthFailed("invalid_client", "unsupported client_assertion_type")
        claimed = self._peek(assertion)
        client_id = claimed.get("iss") if isinstance(claimed.get("iss"), str) else None
        client = next((c for c in self.issuer.halls if c.client_id == client_id), None)
        if client is None or client.auth_method != "private_key_jwt" or client.jwks is None:
            raise _ClientAuthFailed("invalid_client", "client authentication failed")
        if form.get("client_id") not in (None, client.client_id) or claimed.get("sub") != (
            client.client_id
        ):
            raise _ClientAuthFailed("invalid_client", "client_assertion sub must be the client")
        audiences = {self.issuer.issuer, f"{self.base}/token", f"{self.base}{request.url.path}"}
        aud = claimed.get("aud")
        named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        # Unverified claims: an audience list may hold anything JSON does (a dict, a list),
        # and only a string can name this server.
        target = next((a for a in named if isinstance(a, str) and a in audiences), None)
        if target is None:
            raise _ClientAuthFailed("invalid_client", "client_assertion aud is not this server")
        try:
            self._assertion_verifier(client).verify(assertion, audience=target, kind="access")
        except (InvalidToken, IdentityError) as exc:
            _log.info("client assertion of %s refused: %s", client.client_id, exc.code)
            raise _ClientAuthFailed("invalid_client", "client authentication failed") from None
        return client

    def _assertion_verifier(self, client: HallClient) -> Verifier:
        verifier = self._assertion_verifiers.get(client.client_id)
        if verifier is None:
            keys = _ClientKeys(client.jwks or {})
            trusted = TrustedIssuer(
                client.client_id,
                keys,
                token_types={"access": frozenset({"", "jwt"})},
                one_time=True,
            )
            verifier = Verifier(
                [trusted],
                clock=self.clock,
                cache_size=0,
                replay_guard=StoreReplayGuard(self.store, self.clock),
            )
            self._assertion_verifiers[client.client_id] = verifier
        return verifier

    @staticmethod
    def _peek(token: str) -> dict[str, Any]:
        parts = token.split(".")
        try:
            claims = loads_strict(b64url_decode(parts[1])) if len(parts) == 3 else None
        except IdentityError:
            return {}
        return claims if isinstance(claims, dict) else {}

    @staticmethod
    def _oauth_error(exc: OAuthError) -> Response:
        if isinstance(exc, _ClientAuthFailed):
            headers = {**_NO_STORE, "WWW-Authenticate": 'Basic realm="govlink"'}
            return JSONResponse(exc.to_oauth(), status_code=401, headers=headers)
        return JSONResponse(exc.to_oauth(), status_code=_status_of(exc), headers=_NO_STORE)

    async def _form(self, request: Request) -> dict[str, str]:
        # RFC 6749 §3.2: form-urlencoded only, and no parameter more than once.
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "body must be application/x-www-form-urlencoded")
        body = await _bounded_body(request, MAX_FORM_BYTES)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise OAuthError("invalid_request", "body is not UTF-8") from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:
                raise OAuthError("invalid_request", f"parameter {name[:40]!r} repeated")
            form[name] = value
        _refuse_nul(form)
        return form

    async def _params(self, request: Request) -> dict[str, str]:
        # OAuth 2.0 §3.1: no parameter more than once — in the query as in a POST body.
        params: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if name in params:
                raise OAuthError("invalid_request", f"parameter {name[:40]!r} repeated")
            params[name] = value
        _refuse_nul(params)
        if request.method == "POST":
            for name, value in (await self._form(request)).items():
                if name in params:
                    raise OAuthError("invalid_request", f"parameter {name[:40]!r} repeated")
                params[name] = value
        return params

    # -- /token ---------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        started = time.perf_counter()
        form: Mapping[str, str] = {}
        try:
            form = await self._form(request)
            client = self._authenticate(request, form)
            if form.get("grant_type") == "client_credentials" and not self.city.keys.needs_reload():
                # No store I/O on this path (one signature): a thread hop would cost more
                # than the grant itself.
                tokens = self._token_grant(client, form)
            else:
                tokens = await run_in_threadpool(self._token_grant, client, form)
        except OAuthError as exc:
            self.metrics.token_request(
                form.get("grant_type"), exc.error, time.perf_counter() - started
            )
            return self._oauth_error(exc)
        except Exception:
            # Answered 500 by the server: counted, so the error-rate alert sees it.
            self.metrics.token_request(
                form.get("grant_type"), "server_error", time.perf_counter() - started
            )
            raise
        self.metrics.token_request(form.get("grant_type"), None, time.perf_counter() - started)
        body = tokens.to_dict()
        if form.get("grant_type") == GRANT_TYPE:
            body["issued_token_type"] = tokens.issued_token_type
        return JSONResponse(body, headers=_NO_STORE)

    def _token_grant(self, client: HallClient, form: Mapping[str, str]) -> TokenSet:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant not in _GRANTS_SUPPORTED:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        if grant not in client.grant_types:
            raise OAuthError("unauthorized_client", "client may not use this grant type")
        if grant == "authorization_code":
            return self._code_grant(client, form)
        if grant == "client_credentials":
            try:
                return self.issuer.client_tokens(
                    client.client_id,
                    audience=form.get("audience") or form.get("resource"),
                    scope=form.get("scope"),
                )
            except UnknownHall:
                raise OAuthError("invalid_target", "audience is not a hall of this city") from None
            except ValidationError as exc:
                raise OAuthError("invalid_scope", exc.message) from None
        if grant == "refresh_token":
            refresh_token = form.get("refresh_token")
            if not refresh_token:
                raise OAuthError("invalid_request", "refresh_token is required")
            return self.issuer.refresh(refresh_token, client.client_id)
        return self.exchange.exchange(
            client=client.client_id,
            subject_token=form.get("subject_token", ""),
            subject_token_type=form.get("subject_token_type", TOKEN_TYPE_ACCESS),
            audience=form.get("audience") or form.get("resource"),
            scope=form.get("scope"),
            requested_token_type=form.get("requested_token_type"),
        )

    def _code_grant(self, client: HallClient, form: Mapping[str, str]) -> TokenSet:
        code_value = form.get("code")
        if not code_value:
            raise OAuthError("invalid_request", "code is required")
        verifier = form.get("code_verifier")
        now = self.clock.time()
        code_hash = _sha256(code_value)
        failure: OAuthError | None = None
        tokens: TokenSet | None = None
        with self.store.transaction() as conn:
            # Take the code's row lock first (a no-op update; SQLite's write transaction already
            # serialises): two processes redeeming one code are decided one after the other.
            conn.execute(
                "UPDATE identity_auth_codes SET used_at = used_at WHERE code_hash = ?",
                (code_hash,),
            )
            row = conn.fetchone(
                "SELECT client_id, redirect_uri, challenge, scope, nonce, sid, expires_at, "
                "used_at, issued FROM identity_auth_codes WHERE code_hash = ?",
                (code_hash,),
            )
            if row is None or row[0] != client.client_id:
                raise OAuthError("invalid_grant", "unknown authorization code")
            _, redirect_uri, challenge, scope, nonce, sid, expires_at, used_at, issued = row
            if used_at is not None:
                # RFC 6749 §4.1.2: a code used twice revokes what it issued (committed below).
                if issued:
                    self.issuer.revoke_issued(conn, json.loads(issued))
                _log.info("authorization code replayed by %s: its tokens revoked", client.client_id)
                failure = OAuthError("invalid_grant", "authorization code already used")
            elif now >= float(expires_at):
                raise OAuthError("invalid_grant", "authorization code expired")
            elif form.get("redirect_uri") != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match")
            elif not verifier:
                raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
            else:
                digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
                # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
                if not hmac.compare_digest(b64url_encode(digest).encode(), challenge.encode()):
                    raise OAuthError("invalid_grant", "code_verifier does not match (PKCE)")
                conn.execute(
                    "UPDATE identity_auth_codes SET used_at = ? WHERE code_hash = ?",
                    (now, code_hash),
                )
                try:
                    # Issued inside the code's transaction (a savepoint): a concurrent replay
                    # waits for the row lock and then finds what to revoke.
                    tokens = self.issuer.tokens_for(
                        sid, client.client_id, scope=scope, nonce=nonce, refresh=True
                    )
                except SessionEnded:
                    failure = OAuthError("invalid_grant", "the session has ended")
                else:
                    conn.execute(
                        "UPDATE identity_auth_codes SET issued = ? WHERE code_hash = ?",
                        (json.dumps(self.issuer.issued_record(tokens)), code_hash),
                    )
        # Raised after the commit, so that a replay's revocations and a spent code stick.
        if failure is not None or tokens is None:
            raise failure or OAuthError("invalid_grant", "authorization code refused")
        return tokens

    def _expire_codes(self, conn: Connection, now: float) -> None:
        # Used codes are kept a while past expiry so that a late replay is still recognised.
        conn.execute(
            "DELETE FROM identity_auth_codes WHERE expires_at < ?", (now - self.code_ttl - 600.0,)
        )

    # -- /authorize -----------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        try:
            params = await self._params(request)
            client, redirect_uri = self._validate_client(params)
        except OAuthError as exc:
            return _page("Sign-in request refused", exc.description, status=_status_of(exc))
        except _BadAuthorizeRequest as exc:
            return _page("Sign-in request refused", str(exc), status=400)
        try:
            outcome = await run_in_threadpool(self._authorize, client, redirect_uri, params, cookie)
        except _RedirectError as exc:
            return self._error_redirect(redirect_uri, params, exc)
        if isinstance(outcome, _SignInPage):
            return self._sign_in_page(outcome.request_id, outcome.csrf, None, params=params)
        if isinstance(outcome, _ProvinceSignIn):
            return RedirectResponse(outcome.location, status_code=303, headers=_NO_STORE)
        location, new_cookie = outcome
        return self._code_redirect(location, new_cookie)

    def _error_redirect(
        self, redirect_uri: str, params: Mapping[str, str], exc: _RedirectError
    ) -> Response:
        query = {"error": exc.error, "error_description": exc.description}
        if params.get("state") is not None:
            query["state"] = params["state"]
        query["iss"] = self.issuer.issuer  # RFC 9207
        return RedirectResponse(
            _with_query(redirect_uri, query), status_code=303, headers=_NO_STORE
        )

    def _code_redirect(self, location: str, new_cookie: str | None) -> Response:
        response = RedirectResponse(location, status_code=303, headers=_NO_STORE)
        if new_cookie is not None:
            response.set_cookie(
                SESSION_COOKIE,
                new_cookie,
                max_age=int(self.issuer.policy.session_ttl),
                httponly=True,
                secure=self.secure_cookies,
                samesite="lax",
                path="/",
            )
        return response

    def _validate_client(self, params: Mapping[str, str]) -> tuple[HallClient, str]:
        client_id = params.get("client_id", "")
        client = next((c for c in self.issuer.halls if c.client_id == client_id), None)
        if client is None:
            raise _BadAuthorizeRequest("unknown client_id")
        # OIDC Core §3.1.2.1: redirect_uri is required and must match a registered one exactly.
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None or not redirect_allowed(redirect_uri, client.redirect_uris):
            raise _BadAuthorizeRequest("redirect_uri is not registered for this client")
        return client, redirect_uri

    @staticmethod
    def _required_acr(params: Mapping[str, str]) -> int | None:
        """The lowest level ``acr_values`` accepts (any listed level or higher satisfies it)."""
        values = params.get("acr_values")
        if values is None:
            return None
        levels = [int(v) for v in values.split() if v in ACR_LEVELS]
        if not levels:
            raise _RedirectError(
                "unmet_authentication_requirements", "acr_values names no trust level 2-5"
            )
        return min(levels)

    def _authorize(
        self, client: HallClient, redirect_uri: str, params: Mapping[str, str], cookie: str | None
    ) -> tuple[str, str | None] | _SignInPage | _ProvinceSignIn:
        if params.get("response_type") != "code":
            raise _RedirectError("unsupported_response_type", "only response_type=code")
        if "authorization_code" not in client.grant_types:
            raise _RedirectError("unauthorized_client", "client may not use the code flow")
        if "request" in params or "request_uri" in params:
            raise _RedirectError(
                "request_uri_not_supported" if "request_uri" in params else "request_not_supported",
                "request objects are not supported",
            )
        scope = params.get("scope", "")
        if "openid" not in scope.split():
            raise _RedirectError("invalid_scope", "scope must include openid")
        if not params.get("code_challenge"):
            raise _RedirectError("invalid_request", "code_challenge is required (PKCE S256)")
        if params.get("code_challenge_method") != "S256":
            raise _RedirectError("invalid_request", "code_challenge_method must be S256")
        if not _S256_CHALLENGE.fullmatch(params["code_challenge"]):
            # RFC 7636 §4.2: BASE64URL(SHA-256(verifier)), always 43 characters.
            raise _RedirectError(
                "invalid_request", "code_challenge must be 43 base64url characters (S256)"
            )
        required = self._required_acr(params)
        max_age = params.get("max_age")
        # At most 10 digits (over 300 years): a longer number is no age, and int() of
        # thousands of digits raises instead of answering.
        if max_age is not None and not (
            max_age.isascii() and max_age.isdigit() and len(max_age) <= 10
        ):
            raise _RedirectError(
                "invalid_request", "max_age must be a non-negative integer of at most 10 digits"
            )
        prompt = set(params.get("prompt", "").split())
        if "none" in prompt and len(prompt) > 1:
            raise _RedirectError("invalid_request", "prompt=none cannot be combined")
        sid, too_weak = None, False
        if "login" not in prompt:  # prompt=login forces a new authentication
            sid = self._session_of(cookie)
        if sid is not None:
            session = self.issuer.session(sid)
            if max_age is not None and self.clock.time() - session.auth_time > int(max_age):
                sid = None  # authenticated too long ago for this hall
            elif required is not None and int(session.acr) < required:
                sid, too_weak = None, True  # step-up: a stronger authentication is needed
        try:
            authentication = self._from_request(params)
        except SignInFailed as exc:
            _log.info("sign-in at /authorize refused: %s", exc.reason)
            raise _RedirectError("access_denied", "sign-in refused") from None
        new_cookie: str | None = None
        if authentication is not None:
            if "none" in prompt:
                raise _RedirectError("invalid_request", "prompt=none with a sign-in ticket")
            self._check_acr(authentication, required)
            sid = self._open_session(authentication, client)
            new_cookie = self._new_cookie(sid, cookie)
        elif sid is None:
            if "none" not in prompt and self.authenticator.form_fields:
                return self._pending_sign_in(params)
            if "none" not in prompt and self.province_sign_in is not None:
                # CAS-like: the province signs the person in and sends the browser back to
                # this very request with a one-time ticket.
                return _ProvinceSignIn(self._province_sign_in_url(self.province_sign_in, params))
            if too_weak:
                raise _RedirectError(
                    "unmet_authentication_requirements",
                    "the session's trust level is below acr_values; sign in again at a "
                    "higher level",
                )
            raise _RedirectError("login_required", "sign in first")
        return self._issue_code(client, redirect_uri, params, sid), new_cookie

    def _province_sign_in_url(self, page: str, params: Mapping[str, str]) -> str:
        """The province's sign-in ``page``, ``service`` = this /authorize request (a GET)."""
        service = _with_query(f"{self.base}/authorize", dict(params))
        return _with_query(page, {"service": service})

    def _from_request(self, params: Mapping[str, str]) -> Authentication | None:
        for authenticator in self.authenticators:
            authentication = authenticator.from_request(params)
            if authentication is not None:
                return authentication
        return None

    @staticmethod
    def _check_acr(authentication: Authentication, required: int | None) -> None:
        # Never a lower acr in the token than the hall asked for: refuse instead.
        if required is not None and int(authentication.acr) < required:
            raise _RedirectError(
                "unmet_authentication_requirements",
                f"this sign-in reaches trust level {authentication.acr}, below acr_values",
            )

    def _open_session(self, authentication: Authentication, client: HallClient) -> str:
        # The session is opened at this hall; the hall's tokens come from the code grant.
        if authentication.person is not None:
            sign_in = self.issuer.sign_in(
                authentication.person,
                client=client.client_id,
                acr=authentication.acr,
                amr=authentication.amr,
                scope="",
                refresh=False,
            )
        else:
            sub = self.issuer.federated_subject_id(authentication.issuer, authentication.subject)
            sign_in = self.issuer.open_session(
                sub,
                authentication.claims,
                client=client.client_id,
                acr=authentication.acr,
                amr=list(authentication.amr),
                scope="",
                refresh=False,
            )
        return sign_in.session.sid

    def _issue_code(
        self, client: HallClient, redirect_uri: str, params: Mapping[str, str], sid: str
    ) -> str:
        code_value = secrets.token_urlsafe(32)
        now = self.clock.time()
        with self.store.transaction() as conn:
            self._expire_codes(conn, now)
            conn.execute(
                "INSERT INTO identity_auth_codes (code_hash, client_id, redirect_uri, challenge, "
                "scope, nonce, sid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _sha256(code_value),
                    client.client_id,
                    redirect_uri,
                    params["code_challenge"],
                    params.get("scope", ""),
                    params.get("nonce"),
                    sid,
                    now + self.code_ttl,
                ),
            )
        query = {"code": code_value, "iss": self.issuer.issuer}  # iss: RFC 9207
        if params.get("state") is not None:
            query["state"] = params["state"]
        return _with_query(redirect_uri, query)

    # -- the built-in sign-in page ----------------------------------------------------------

    def _pending_sign_in(self, params: Mapping[str, str]) -> _SignInPage:
        """Park the authorization request in the store (any process may receive the post)
        and bind a CSRF token to it and to a browser cookie."""
        request_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM identity_signin_requests WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO identity_signin_requests (request_hash, params, csrf_hash, "
                "expires_at) VALUES (?, ?, ?, ?)",
                (_sha256(request_id), json.dumps(dict(params)), _sha256(csrf), now + 600.0),
            )
        return _SignInPage(request_id, csrf)

    def _sign_in_page(
        self,
        request_id: str,
        csrf: str,
        message: str | None,
        *,
        status: int = 200,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        from html import escape

        fields = "".join(
            f"<p><label>{escape(label)} <input name='{escape(name)}' type='{escape(kind)}' "
            f"required></label></p>"
            for name, label, kind in self.authenticator.form_fields
        )
        note = f"<p role='alert'>{escape(message)}</p>" if message else ""
        # Both ways in: this page's form, or the provincial platform (when one is configured).
        province = ""
        if self.province_sign_in is not None and params is not None:
            href = escape(self._province_sign_in_url(self.province_sign_in, params))
            province = (
                f"<p>或 or <a id='province-sign-in' href='{href}'>在省统一身份认证平台登录 "
                "Sign in at the provincial identity platform</a></p>"
            )
        body = (
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<title>登录 Sign in</title><h1>登录 Sign in</h1>"
            "<p><strong>DEVELOPMENT sign-in page</strong></p>"
            f"{note}<form method='post' action='{self.base}/sign-in'>"
            f"<input type='hidden' name='request' value='{escape(request_id)}'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
            f"{fields}<p><button type='submit'>登录 Sign in</button></p></form>{province}</html>"
        )
        headers = {**_NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": _CSP}
        response = HTMLResponse(body, status_code=status, headers=headers)
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            max_age=600,
            httponly=True,
            secure=self.secure_cookies,
            samesite="strict",
            path="/",
        )
        return response

    async def sign_in(self, request: Request) -> Response:
        try:
            form = await self._form(request)
        except OAuthError as exc:
            return _page("Sign-in refused", exc.description, status=_status_of(exc))
        address = request.client.host if request.client else "-"
        return await run_in_threadpool(
            self._sign_in,
            form,
            request.cookies.get(CSRF_COOKIE),
            request.cookies.get(SESSION_COOKIE),
            address,
        )

    def _sign_in(
        self, form: Mapping[str, str], csrf_cookie: str | None, cookie: str | None, address: str
    ) -> Response:
        request_id, csrf = form.get("request", ""), form.get("csrf", "")
        now = self.clock.time()
        with self.store.transaction(write=False) as conn:
            row = conn.fetchone(
                "SELECT params, csrf_hash FROM identity_signin_requests "
                "WHERE request_hash = ? AND expires_at > ?",
                (_sha256(request_id), now),
            )
        if row is None:
            return _page("Sign-in refused", "this sign-in page expired: start again", status=400)
        params, csrf_hash = json.loads(row[0]), row[1]
        # The token must be in the form, in this browser's cookie, and the one issued with this
        # page: a cross-site post carries no cookie of ours (SameSite=Strict) and cannot read it.
        if not (
            csrf
            and csrf_cookie
            # Bytes: a cookie or field may hold non-ASCII text, which compare_digest refuses.
            and hmac.compare_digest(csrf.encode(), csrf_cookie.encode())
            and hmac.compare_digest(_sha256(csrf), csrf_hash)
        ):
            _log.info("sign-in post refused: CSRF token missing or wrong")
            return _page(
                "Sign-in refused", "the sign-in form was not sent from this page", status=403
            )
        account = self.authenticator.account_of(form)
        keys = [f"addr:{_sha256(address)}"]
        if account is not None:
            keys.append(f"account:{_sha256(account)}")
        if self.throttle.blocked(keys):
            _log.warning("sign-in throttled after repeated failures")
            return self._sign_in_page(
                request_id,
                csrf,
                "Too many failed sign-ins: try again later. 登录失败次数过多，请稍后再试。",
                status=429,
                params=params,
            )
        try:
            authentication = self.authenticator.from_form(form)
        except SignInFailed as exc:
            self.throttle.failed(keys)
            _log.info("sign-in failed: %s", exc.reason)
            return self._sign_in_page(
                request_id, csrf, "Sign-in failed. 用户名或密码错误。", status=401, params=params
            )
        with self.store.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM identity_signin_requests WHERE request_hash = ?",
                (_sha256(request_id),),
            ).rowcount
        if gone != 1:  # the same page posted twice at once: the other post won
            return _page("Sign-in refused", "this sign-in page was already used", status=400)
        try:
            client, redirect_uri = self._validate_client(params)
        except _BadAuthorizeRequest as exc:  # the halls changed since the page was shown
            return _page("Sign-in refused", str(exc), status=400)
        try:
            self._check_acr(authentication, self._required_acr(params))
        except _RedirectError as exc:
            return self._error_redirect(redirect_uri, params, exc)
        sid = self._open_session(authentication, client)
        new_cookie = self._new_cookie(sid, cookie)
        location = self._issue_code(client, redirect_uri, params, sid)
        response = self._code_redirect(location, new_cookie)
        response.delete_cookie(
            CSRF_COOKIE, path="/", httponly=True, secure=self.secure_cookies, samesite="strict"
        )
        return response

    def _new_cookie(self, sid: str, old_cookie: str | None) -> str:
        """A fresh SSO cookie for ``sid`` (the old one, if any, is forgotten)."""
        value = secrets.token_urlsafe(32)
        now = self.clock.time()
        expires = now + self.issuer.policy.session_ttl
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM identity_sso_cookies WHERE expires_at < ?", (now,))
            if old_cookie:
                conn.execute(
                    "DELETE FROM identity_sso_cookies WHERE cookie_hash = ?", (_sha256(old_cookie),)
                )
            conn.execute(
                "INSERT INTO identity_sso_cookies (cookie_hash, sid, expires_at) VALUES (?, ?, ?)",
                (_sha256(value), sid, expires),
            )
        return value

    def _forget_cookie(self, cookie: str | None, sid: str | None = None) -> None:
        with self.store.transaction() as conn:
            if cookie:
                conn.execute(
                    "DELETE FROM identity_sso_cookies WHERE cookie_hash = ?", (_sha256(cookie),)
                )
            if sid is not None:
                conn.execute("DELETE FROM identity_sso_cookies WHERE sid = ?", (sid,))

    def _session_of(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        with self.store.transaction(write=False) as conn:
            sid = conn.scalar(
                "SELECT sid FROM identity_sso_cookies WHERE cookie_hash = ?", (_sha256(cookie),)
            )
        if sid is None:
            return None
        try:
            active = self.issuer.session(sid).active(self.clock.time())
        except SessionEnded:
            active = False
        if not active:
            self._forget_cookie(cookie)  # forget cookies of ended sessions
            return None
        return str(sid)

    # -- /revoke, /introspect -------------------------------------------------------------------

    async def _token_request(self, request: Request) -> tuple[HallClient, str]:
        """The authenticated client and the ``token`` of a revocation or introspection."""
        form = await self._form(request)
        client = self._authenticate(request, form)
        token = form.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is required")
        return client, token

    async def revoke(self, request: Request) -> Response:
        try:
            client, token = await self._token_request(request)
            await run_in_threadpool(self._revoke, client, token)
        except OAuthError as exc:
            return self._oauth_error(exc)
        return Response(status_code=200, headers=_NO_STORE)

    def _revoke(self, client: HallClient, token: str) -> None:
        info = self.issuer.introspect(token)
        if not info.get("active"):
            return  # RFC 7009 §2.2: invalid tokens are not an error
        owner = info.get("client_id")
        if owner != client.client_id:
            raise OAuthError("unauthorized_client", "the token was not issued to this client")
        self.issuer.revoke_token(token)

    async def introspect(self, request: Request) -> Response:
        try:
            client, token = await self._token_request(request)
        except OAuthError as exc:
            return self._oauth_error(exc)
        info = await run_in_threadpool(self.issuer.introspect, token)
        # A hall learns only about tokens meant for it (issue 9.9): an access token whose
        # audience includes the hall, or a refresh token issued to it. Anything else is
        # answered like an invalid token, so a hall cannot read another hall's claims.
        body = info if info.get("active") and _addressed_to(info, client) else {"active": False}
        return JSONResponse(body, headers=_NO_STORE)

    # -- /userinfo ------------------------------------------------------------------------------

    async def userinfo(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token and request.method == "POST":
            try:
                token = (await self._form(request)).get("access_token", "")
            except _BodyTooLarge as exc:
                return self._oauth_error(exc)
            except OAuthError:
                token = ""
        verified = await run_in_threadpool(self.issuer._verify_any, token) if token else None
        scopes = set(str(verified.claims.get("scope", "")).split()) if verified else set()
        if verified is None or "openid" not in scopes:
            # RFC 6750 §3.1: no token 401 (bare challenge), a bad one 401 invalid_token, a good
            # one without openid (e.g. client_credentials: nobody to describe) 403.
            error, status = "invalid_request", 401
            if token:
                error, status = ("insufficient_scope", 403) if verified else ("invalid_token", 401)
            challenge = f'Bearer error="{error}"' if token else "Bearer"
            return JSONResponse(
                {"error": error},
                status_code=status,
                headers={**_NO_STORE, "WWW-Authenticate": challenge},
            )
        return JSONResponse(userinfo_claims(verified.claims, scopes), headers=_NO_STORE)

    # -- /logout --------------------------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        try:
            params = await self._params(request)
        except OAuthError as exc:
            return _page("Sign-out request refused", exc.description, status=_status_of(exc))
        cookie = request.cookies.get(SESSION_COOKIE)
        redirect = self._post_logout_redirect(params)
        notices: list[LogoutNotice] = []
        sid = await run_in_threadpool(self._session_of, cookie)
        if cookie or sid is not None:
            await run_in_threadpool(self._forget_cookie, cookie, sid)
        if sid is not None:
            try:
                notices = await run_in_threadpool(self.issuer.logout, sid)
            except SessionEnded:
                notices = []
        task: BackgroundTask | None = None
        if notices and self.outbox is not None:
            # Recorded before answering, so a crash right after still delivers them.
            await run_in_threadpool(self.outbox.enqueue, notices)
            task = BackgroundTask(self.outbox.deliver_due)
        elif notices and self.logout_delivery is not None:
            task = BackgroundTask(self.logout_delivery, notices)
        response: Response
        if redirect is not None:
            response = RedirectResponse(redirect, status_code=303, background=task)
        else:
            response = _page("Signed out", "You are signed out of every hall.", background=task)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, secure=self.secure_cookies, samesite="lax"
        )
        response.headers.update(_NO_STORE)
        return response

    def _post_logout_redirect(self, params: Mapping[str, str]) -> str | None:
        uri = params.get("post_logout_redirect_uri")
        if not uri:
            return None
        client_id = params.get("client_id") or self._hint_audience(params.get("id_token_hint"))
        client = next((c for c in self.issuer.halls if c.client_id == client_id), None)
        if client is None or not redirect_allowed(uri, _logout_uris(client)):
            return None  # only registered URIs: never an open redirect
        state = params.get("state")
        return _with_query(uri, {"state": state}) if state is not None else uri

    def _hint_audience(self, hint: str | None) -> str | None:
        # The hint only says which hall's registered URIs to accept; the redirect still goes
        # to a registered URI only, so an unverified (possibly expired) hint is safe here.
        if not hint:
            return None
        try:
            aud = self.issuer.claimed_audience(hint)
        except (IdentityError, ValueError):
            return None
        return aud if aud != "-" else None


async def _framework_error(request: Request, exc: Exception) -> Response:
    # An unknown path or a method an endpoint does not take: the RFC 6749 §5.2 JSON shape
    # every other refusal of this server has, not the framework's plain text.
    status = getattr(exc, "status_code", 404)
    headers = dict(getattr(exc, "headers", None) or {})  # 405 keeps its Allow header
    description = "no such endpoint" if status == 404 else "method not allowed here"
    return JSONResponse(
        {"error": "invalid_request", "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **headers},
    )


async def _openapi_document(request: Request) -> Response:
    # The protocol only (no hall, key or secret): nothing the discovery document hides.
    return JSONResponse(identity_openapi(), headers={"Cache-Control": "max-age=300"})


def redirect_allowed(uri: str, registered: Iterable[str]) -> bool:
    """Exact match with a registered URI — except that a registered ``http://`` loopback URI
    accepts any port (RFC 8252 §7.3: a native or development client binds a free port)."""
    if uri in registered:
        return True
    if not is_loopback_uri(uri):
        return False
    parts = urlsplit(uri)
    without_port = parts._replace(netloc=parts.hostname or "")
    if parts.hostname and ":" in parts.hostname:  # IPv6 literal
        without_port = parts._replace(netloc=f"[{parts.hostname}]")
    return urlunsplit(without_port) in registered


async def _deliver_forever(outbox: LogoutOutbox) -> None:
    while True:
        try:
            await outbox.deliver_due()
        except Exception:
            _log.exception("back-channel logout delivery round failed")
        await asyncio.sleep(1.0)


def _addressed_to(info: Mapping[str, Any], client: HallClient) -> bool:
    aud = info.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if info.get("token_type") == "refresh_token":
        return info.get("client_id") == client.client_id
    return client.audience in audiences or client.client_id in audiences


#: Claims released at /userinfo by scope. Identifiers are masked as in the tokens: the
#: provider never holds an unmasked ID number, so no scope can release one.
USERINFO_SCOPES: Final[Mapping[str, tuple[str, ...]]] = {
    "openid": ("sub", "subject_type"),
    "profile": ("name_masked", "masked_id", "credit_code", "org_name", "agent", "home_hall"),
}


def userinfo_claims(claims: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, Any]:
    """The claims of an access token that its scopes release at /userinfo."""
    names = [n for scope in scopes for n in USERINFO_SCOPES.get(scope, ())]
    return {n: claims[n] for n in names if n in claims}


class _ClientKeys:
    """A client's configured public keys (its JWKS), for ``private_key_jwt``."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys = {}
        for entry in jwks.get("keys", ()):
            key = VerificationKey.from_jwk(entry)
            self.keys[key.kid] = key

    def lookup(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)

    get_key = lookup

    async def aget_key(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)


def _logout_uris(client: HallClient) -> tuple[str, ...]:
    if client.post_logout_redirect_uris:
        return client.post_logout_redirect_uris
    extra = client.extra.get("post_logout_redirect_uris")
    if isinstance(extra, (list, tuple)):
        return tuple(str(u) for u in extra)
    return client.redirect_uris


def _with_query(uri: str, query: Mapping[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(query)}"


def _page(title: str, text: str, *, status: int = 200, background: Any = None) -> HTMLResponse:
    from html import escape

    body = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p></html>"
    )
    return HTMLResponse(body, status_code=status, headers=dict(_NO_STORE), background=background)


def create_provider_app(
    city: CityIdentity,
    *,
    client_secrets: ClientSecrets,
    exchange: TokenExchange | None = None,
    provinces: Iterable[ProvincialMapping] = (),
    code_ttl: float = 60.0,
    secure_cookies: bool = True,
    logout_delivery: LogoutDelivery | None = None,
    authenticator: Authenticator | None = None,
    max_failures: int = 5,
    failure_window: float = 900.0,
    province_sign_in: str | None = None,
    metrics: IdentityRecorder | None = None,
) -> Starlette:
    """The city identity provider as an ASGI app.

    ``client_secrets``: the halls' secrets (``client_secret_basic``/``client_secret_post``).
    ``exchange``: the RFC 8693 grant with its policy and provincial mappings; without one, an
    exchange that refuses every request but still knows ``provinces`` (whose one-time tokens
    are the sign-in tickets of ``/authorize``). ``code_ttl``: authorization code lifetime
    (seconds). ``secure_cookies=False`` only for ``http://127.0.0.1`` development.
    ``logout_delivery``: sends the back-channel logout notices; by default they are recorded
    in the store and delivered with retries (:class:`~govlink.identity.LogoutOutbox`), by the
    request that logs out and by a loop in every provider process (each second).
    ``authenticator``: how people sign in (default: the provincial ticket; see
    :mod:`govlink.identity._signin` and docs/identity.md); an interactive one is served as a
    sign-in page posting to ``/sign-in``, its failures throttled to ``max_failures`` per
    account and per address within ``failure_window`` seconds. ``province_sign_in``: the
    provincial platform's sign-in page (CAS ``login`` URL, with any fixed query such as its
    ``app_id``): a person who is not signed in is sent there with ``service=<this /authorize
    request>`` and comes back with a one-time ``ticket`` (without it: ``login_required``); an
    interactive authenticator's page then also links to it. ``metrics``: told about every
    token request (grant, outcome, latency) and JWKS answer, e.g. a
    :class:`govlink.metrics.IdentityMetrics` (default: records nothing).

    Errors reach clients as RFC 6749 §5.2 JSON (``/token``, ``/revoke``, ``/introspect``) or
    as ``error`` redirects / 400 pages (``/authorize``); nothing is raised to the caller.
    """
    if exchange is None:
        exchange = TokenExchange(city.issuer, ExchangePolicy(()), provinces=provinces)
    provider = _Provider(
        city,
        client_secrets,
        exchange,
        code_ttl=code_ttl,
        secure_cookies=secure_cookies,
        logout_delivery=logout_delivery,
        authenticator=authenticator,
        max_failures=max_failures,
        failure_window=failure_window,
        province_sign_in=province_sign_in,
    )
    if metrics is not None:
        provider.metrics = metrics
    routes = [
        Route("/.well-known/openid-configuration", provider.discovery, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", provider.discovery, methods=["GET"]),
        Route("/jwks", provider.jwks, methods=["GET"]),
        Route("/userinfo", provider.userinfo, methods=["GET", "POST"]),
        Route("/authorize", provider.authorize, methods=["GET", "POST"]),
        Route("/sign-in", provider.sign_in, methods=["POST"]),
        Route("/token", provider.token, methods=["POST"]),
        Route("/revoke", provider.revoke, methods=["POST"]),
        Route("/introspect", provider.introspect, methods=["POST"]),
        Route("/logout", provider.logout, methods=["GET", "POST"]),
        Route("/openapi.json", _openapi_document, methods=["GET"]),
    ]
    if city.issuer.id_token_alg is None and any(k.alg == "RS256" for k in city.keys.list_keys()):
        # OIDC clients expect RS256 ID tokens unless they registered otherwise.
        city.issuer.id_token_alg = "RS256"  # noqa: S105 - an algorithm name
    revocations = city.issuer.revocations

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # On PostgreSQL, a listening connection brings revocations made by other provider
        # processes at once (LISTEN/NOTIFY); on SQLite the registry's 1 s poll is the bound.
        started = revocations.start_listening()
        retries = (
            asyncio.create_task(_deliver_forever(provider.outbox))
            if provider.outbox is not None
            else None
        )
        try:
            yield
        finally:
            if retries is not None:
                retries.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retries
            if started:
                await run_in_threadpool(revocations.stop_listening)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _framework_error, 405: _framework_error},
    )
    app.state.provider = provider
    return app
