"""A hall's back-channel logout receiver (OIDC Back-Channel Logout 1.0), for ASGI and WSGI.

When a person signs out at any hall, the city identity provider POSTs a ``logout_token`` to every
hall that holds tokens of that SSO session. :class:`BackchannelLogoutReceiver` is the endpoint a
hall mounts for it — a plain ASGI app (Starlette ``Route``, FastAPI ``app.mount``) and a plain
WSGI app (Flask, Django) — that needs nothing outside govlink's own dependencies: the
``application/x-www-form-urlencoded`` body is parsed here (Starlette's ``request.form()`` would
need python-multipart).

Checks (BCL 1.0 §2.6), each a refusal with HTTP 400 and ``{"error": "invalid_request"}``:
``typ`` ``logout+jwt``; signature, ``iss``, ``aud`` (this hall), ``iat``, ``exp`` by the
:class:`~govlink.identity.Verifier`; an ``events`` object holding the back-channel logout event
with an object value; no ``nonce``; ``sid`` or ``sub`` (govlink's verifier always requires
``sub``); ``jti`` single use (the verifier's replay guard: give the verifier a
:class:`~govlink.identity.StoreReplayGuard` when the hall runs several processes). Then the
hall's ``end_session`` callback ends its local session(s) and the receiver answers 200 with
``Cache-Control: no-store`` (§2.8). A key source that cannot be reached answers 503 so the
provider retries; a callback that raises answers 500 (make it idempotent and quick).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from ._errors import InvalidClaim, InvalidToken, JWKSUnavailable
from ._verifier import VerifiedToken, Verifier

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "BackchannelLogoutReceiver",
    "LogoutEvent",
    "averify_logout_token",
    "verify_logout_token",
]

#: The event a back-channel logout token carries (OIDC Back-Channel Logout 1.0 §2.4).
BACKCHANNEL_LOGOUT_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"

log = logging.getLogger("govlink.identity.logout")

_FORM: Final = "application/x-www-form-urlencoded"
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class LogoutEvent:
    """A verified back-channel logout: end the local sessions of ``session_id`` (the provider's
    ``sid``, as in the hall's ID token), or of ``subject`` when no ``sid`` is given."""

    issuer: str
    subject: str
    session_id: str | None
    audience: str
    claims: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"LogoutEvent(iss={self.issuer!r}, sid={self.session_id!r})"


#: The hall's callback: end the local session(s) of the event (sync, or async under ASGI).
EndSession = Callable[[LogoutEvent], "Awaitable[None] | None"]


def _event(verified: VerifiedToken) -> LogoutEvent:
    claims = verified.claims
    events = claims.get("events")
    if not isinstance(events, Mapping) or not isinstance(
        events.get(BACKCHANNEL_LOGOUT_EVENT), Mapping
    ):
        raise InvalidClaim("events", "must hold the back-channel logout event")
    if "nonce" in claims:
        raise InvalidClaim("nonce", "must be absent from a logout token")
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise InvalidClaim("sid", "must be a non-empty string")
    return LogoutEvent(verified.issuer, verified.subject, sid, verified.audience, claims)


def verify_logout_token(
    verifier: Verifier, logout_token: str, *, audience: str | None = None
) -> LogoutEvent:
    """Verify a back-channel logout token (BCL 1.0 §2.6) and use up its ``jti``.

    Raises:
        InvalidToken: refused (a subclass naming the check: bad signature, ``typ`` not
            ``logout+jwt``, ``token_replayed``, ``invalid_claim`` for ``events``/``nonce``/
            ``sid``, ...).
        JWKSUnavailable: the issuer's keys cannot be had.
    """
    return _event(verifier.verify(logout_token, audience=audience, kind="logout", once=True))


async def averify_logout_token(
    verifier: Verifier, logout_token: str, *, audience: str | None = None
) -> LogoutEvent:
    """Async :func:`verify_logout_token` (a remote JWKS is fetched without blocking).

    Raises:
        InvalidToken: refused.
        JWKSUnavailable: the issuer's keys cannot be had.
    """
    verified = await verifier.averify(logout_token, audience=audience, kind="logout", once=True)
    return _event(verified)


class _BadRequest(Exception):
    def __init__(self, status: int, description: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = list(headers)


def _logout_token(method: str, content_type: str, body: bytes, limit: int) -> str:
    """The ``logout_token`` parameter of a back-channel logout request (BCL 1.0 §2.5)."""
    if method != "POST":
        raise _BadRequest(405, "use POST", [("allow", "POST")])
    if content_type.split(";")[0].strip().lower() != _FORM:
        raise _BadRequest(400, f"the body must be {_FORM}")
    if len(body) > limit:
        raise _BadRequest(400, "request body too large")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest(400, "the body is not a form") from None
    tokens = [value for name, value in pairs if name == "logout_token"]
    if len(tokens) != 1 or not tokens[0]:
        raise _BadRequest(400, "exactly one logout_token is required")
    return tokens[0]


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class BackchannelLogoutReceiver:
    """The back-channel logout endpoint of a hall: an ASGI app and (:meth:`wsgi`) a WSGI app.

    ``verifier``: trusts the city identity provider (a :class:`RemoteJWKS` or its key ring).
    ``end_session``: ends the hall's local session(s) for a :class:`LogoutEvent` (under WSGI
    it must be synchronous). ``audience``: the hall's client id (default: the verifier's
    audience). ``max_body``: bytes accepted.

    >>> receiver = BackchannelLogoutReceiver(verifier, sessions.end, audience="hall-370502")
    >>> app = Starlette(routes=[Route("/backchannel-logout", receiver, methods=["POST"])])
    """

    def __init__(
        self,
        verifier: Verifier,
        end_session: EndSession,
        *,
        audience: str | None = None,
        max_body: int = 16 * 1024,
    ) -> None:
        self.verifier = verifier
        self.end_session = end_session
        self.audience = audience
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"BackchannelLogoutReceiver(audience={self.audience or self.verifier.audience!r})"

    # -- Python API ------------------------------------------------------------------------------

    def receive(self, logout_token: str) -> LogoutEvent:
        """Verify ``logout_token`` and end the session (synchronous ``end_session`` only).

        Raises:
            InvalidToken: the token is refused (nothing is ended).
            JWKSUnavailable: the provider's keys cannot be had (nothing is ended).
            TypeError: ``end_session`` returned an awaitable.
        """
        event = verify_logout_token(self.verifier, logout_token, audience=self.audience)
        result = self.end_session(event)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("end_session must be synchronous here (use areceive or ASGI)")
        return event

    async def areceive(self, logout_token: str) -> LogoutEvent:
        """Async :meth:`receive` (``end_session`` may be sync or async).

        Raises:
            InvalidToken: the token is refused (nothing is ended).
            JWKSUnavailable: the provider's keys cannot be had (nothing is ended).
        """
        event = await averify_logout_token(self.verifier, logout_token, audience=self.audience)
        result = self.end_session(event)
        if inspect.isawaitable(result):
            await result
        return event

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        content_type = ""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1")
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > self.max_body:
                break  # refused below without reading the rest
        try:
            token = _logout_token(scope.get("method", ""), content_type, bytes(body), self.max_body)
            await self.areceive(token)
        except Exception as exc:  # each outcome becomes its own HTTP answer
            status, payload, headers = self._failure(exc)
            await _asgi_answer(send, status, payload, headers)
            return
        await _asgi_answer(send, 200, b"", [])

    # -- WSGI --------------------------------------------------------------------------------

    def wsgi(
        self, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """The receiver as a WSGI app (``end_session`` synchronous)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        try:
            if length < 0 or length > self.max_body:
                raise _BadRequest(400, "missing, bad or too large Content-Length")
            body = environ["wsgi.input"].read(length) if length else b""
            method, content_type = (
                environ.get("REQUEST_METHOD", ""),
                environ.get("CONTENT_TYPE", ""),
            )
            self.receive(_logout_token(method, content_type, body, self.max_body))
            status, payload, headers = 200, b"", list[tuple[str, str]]()
        except Exception as exc:  # each outcome becomes its own HTTP answer
            status, payload, headers = self._failure(exc)
        start_response(f"{status} {_REASONS[status]}", _headers(payload, headers))
        return [payload]

    # -- shared ------------------------------------------------------------------------------

    def _failure(self, exc: Exception) -> tuple[int, bytes, list[tuple[str, str]]]:
        if isinstance(exc, _BadRequest):
            return exc.status, _error("invalid_request", exc.description), exc.headers
        if isinstance(exc, InvalidToken):
            log.info("back-channel logout refused: %s", exc.code)
            return 400, _error("invalid_request", exc.public_description), []
        if isinstance(exc, JWKSUnavailable):
            log.warning("back-channel logout not verifiable now: %s", exc.message)
            return 503, _error("temporarily_unavailable", "try again later"), [("retry-after", "5")]
        # The hall's own callback failed: the provider should know the logout did not happen.
        log.error("back-channel logout: ending the local session failed: %s", type(exc).__name__)
        return 500, _error("server_error", "the session could not be ended"), []


def _error(error: str, description: str) -> bytes:
    import json

    return json.dumps({"error": error, "error_description": description}).encode()


def _headers(payload: bytes, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = [("cache-control", "no-store"), ("content-length", str(len(payload)))]
    if payload:
        headers.append(("content-type", "application/json"))
    return headers + extra


async def _asgi_answer(
    send: Callable[[Message], Awaitable[None]],
    status: int,
    payload: bytes,
    extra: list[tuple[str, str]],
) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in _headers(payload, extra)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
