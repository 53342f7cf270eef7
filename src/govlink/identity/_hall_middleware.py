"""What a hall's web application needs: the bearer token from a request, and a middleware.

Framework-neutral: :func:`bearer_token` and :func:`authenticate` work with any framework
(Django, Flask: see ``docs/identity.md``). :class:`HallAuthMiddleware` is a plain ASGI
middleware for Starlette and FastAPI: it verifies every request's token (asynchronously, so a
remote JWKS fetch never blocks the event loop), puts the :class:`VerifiedToken` in
``request.state.token``, and answers 401/403/503 itself — revealing nothing but
"invalid token" (RFC 6750 §3), while the precise code goes to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from ._errors import InvalidToken, JWKSUnavailable, MalformedToken, MissingToken
from ._logout_receiver import BACKCHANNEL_LOGOUT_EVENT, verify_logout_token
from ._revocation import RevocationRegistry
from ._verifier import VerifiedToken, Verifier

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "HallAuthMiddleware",
    "authenticate",
    "bearer_token",
    "receive_backchannel_logout",
]

log = logging.getLogger("govlink.identity.hall")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1).

    Raises:
        MissingToken: no header, or an empty one.
        MalformedToken: another scheme, or not exactly ``Bearer`` + one token.
    """
    if not authorization or not authorization.strip():
        raise MissingToken("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token.strip():
        raise MalformedToken("Authorization is not 'Bearer <token>'")
    return token.strip()


def authenticate(
    verifier: Verifier,
    authorization: str | None,
    *,
    audience: str | None = None,
    scopes: Collection[str] = (),
) -> VerifiedToken:
    """Verify a request's ``Authorization`` header (sync: Django, Flask, WSGI).

    Raises:
        InvalidToken: the token is missing or refused (``code`` says why; log it, answer 401
            with ``error.www_authenticate()``).
        PermissionError: the token lacks one of ``scopes`` (answer 403 insufficient_scope).
        JWKSUnavailable: the issuer's keys cannot be had (answer 503).
    """
    verified = verifier.verify(bearer_token(authorization), audience=audience)
    missing = set(scopes) - verified.scopes
    if missing:
        raise PermissionError(f"insufficient scope: needs {' '.join(sorted(missing))}")
    return verified


def receive_backchannel_logout(
    verifier: Verifier,
    logout_token: str,
    revocations: RevocationRegistry,
    *,
    audience: str | None = None,
    session_lifetime: float = 8 * 3600.0,
) -> str:
    """Single logout at a hall that verifies with a remote JWKS: validate the identity
    provider's back-channel logout token (OIDC Back-Channel Logout 1.0 §2.6) and record the
    session (or subject) in the hall's own :class:`RevocationRegistry` — pass that registry as
    the trusted issuer's ``revocation`` and every token of the session is refused from then on.
    (To end the hall's own sessions instead, mount a :class:`BackchannelLogoutReceiver`.)

    Returns the revoked session id (or ``sub:<subject>`` when the token names no session).

    Raises:
        InvalidToken: the logout token is refused (bad signature, wrong ``typ``, replayed, no
            logout event, a ``nonce`` present, neither ``sid`` nor ``sub``).
    """
    event = verify_logout_token(verifier, logout_token, audience=audience)
    horizon = float(event.claims["exp"]) + session_lifetime
    if event.session_id is not None:
        revocations.revoke("sid", event.session_id, expires_at=horizon)
        return event.session_id
    revocations.revoke("sub", event.subject, expires_at=horizon)
    return f"sub:{event.subject}"


class HallAuthMiddleware:
    """ASGI middleware verifying the bearer token of every HTTP request.

    ``exempt``: paths served without a token (health checks). ``scopes``: scopes every request
    needs. The verified token is in ``scope["state"]["token"]`` (``request.state.token``).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        audience: str | None = None,
        realm: str = "govlink",
        exempt: Collection[str] = (),
        scopes: Collection[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.audience = audience
        self.realm = realm
        self.exempt = frozenset(exempt)
        self.scopes = frozenset(scopes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        try:
            verified = await self.verifier.averify(
                bearer_token(authorization), audience=self.audience
            )
        except InvalidToken as exc:
            # The precise code is for operators; the caller learns only "invalid token".
            log.info("token refused: %s (%s %s)", exc.code, scope.get("method"), scope.get("path"))
            body = (
                {"error": "invalid_request"}
                if isinstance(exc, MissingToken)
                else {"error": "invalid_token", "error_description": exc.public_description}
            )
            await _answer(send, 401, body, exc.www_authenticate(self.realm))
            return
        except JWKSUnavailable as exc:
            log.warning("token not verifiable: %s", exc.message)
            await _answer(send, 503, {"error": "temporarily_unavailable"}, None)
            return
        missing = self.scopes - verified.scopes
        if missing:
            challenge = (
                f'Bearer realm="{self.realm}", error="insufficient_scope", '
                f'scope="{" ".join(sorted(self.scopes))}"'
            )
            await _answer(send, 403, {"error": "insufficient_scope"}, challenge)
            return
        scope.setdefault("state", {})["token"] = verified
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: dict[str, str], challenge: str | None) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if challenge:
        headers.append((b"www-authenticate", challenge.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
