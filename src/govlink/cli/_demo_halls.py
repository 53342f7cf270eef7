"""The demo's two hall apps (政务服务中心): relying parties of the city identity provider.

A smaller sibling of ``examples/sso/hall.py`` (which is not installed with the package): sign-in
by authorization code + PKCE (S256) with Authlib's OAuth client, the ID token verified with
govlink's :class:`Verifier` against the provider's JWKS, the hall's API behind
:class:`HallAuthMiddleware`, and a :class:`BackchannelLogoutReceiver` ending the hall's local
sessions of an SSO session that ended anywhere. ``GET /`` answers JSON (who is signed in here),
which is what the demo's browser-like client reads (never a token).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from .._http import AsyncOAuth2Client, httpx
from ..identity import (
    BackchannelLogoutReceiver,
    HallAuthMiddleware,
    IdentityError,
    LogoutEvent,
    RemoteJWKS,
    TrustedIssuer,
    Verifier,
)

__all__ = ["DemoHall"]


@dataclass
class _Session:
    sid: str
    sub: str
    acr: str
    masked_id: str
    access_token: str = field(repr=False)
    id_token: str = field(repr=False)


@dataclass
class DemoHall:
    """One hall: its client at the provider, its sessions and the logouts it received."""

    hall_code: str
    client_id: str
    client_secret: str = field(repr=False)
    url: str
    idp_url: str
    sessions: dict[str, _Session] = field(default_factory=dict, repr=False)
    logouts: list[LogoutEvent] = field(default_factory=list, repr=False)
    _pending: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.verifier = Verifier(
            [TrustedIssuer(self.idp_url, RemoteJWKS(f"{self.idp_url}/jwks"))],
            audience=self.client_id,
        )
        self._meta: dict[str, Any] = {}

    @property
    def cookie(self) -> str:
        return f"hall{self.hall_code}"

    def access_token(self, cookie: str | None) -> str | None:
        """The access token of the session behind ``cookie`` (the demo's refusal checks tamper
        with it; the hall never hands it to the browser)."""
        with self._lock:
            session = self.sessions.get(cookie or "")
        return session.access_token if session is not None else None

    def end(self, event: LogoutEvent) -> None:
        """The back-channel logout: end this hall's sessions of the ended SSO session."""
        with self._lock:
            self.logouts.append(event)
            for cookie, session in list(self.sessions.items()):
                if session.sid == event.session_id or (
                    not event.session_id and session.sub == event.subject
                ):
                    del self.sessions[cookie]

    async def _metadata(self) -> dict[str, Any]:
        if not self._meta:
            async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
                answer = await http.get(f"{self.idp_url}/.well-known/openid-configuration")
                self._meta.update(answer.raise_for_status().json())
        return self._meta

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope="openid profile",
            redirect_uri=f"{self.url}/callback",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            timeout=30.0,
            trust_env=False,  # loopback only, whatever proxy the environment names
        )

    def app(self) -> Starlette:
        """The hall's Starlette app."""

        async def home(request: Request) -> Response:
            with self._lock:
                session = self.sessions.get(request.cookies.get(self.cookie, ""))
            if session is None:
                return JSONResponse({"hall": self.hall_code, "signed_in": False})
            return JSONResponse(
                {
                    "hall": self.hall_code,
                    "signed_in": True,
                    "sid": session.sid,
                    "acr": session.acr,
                    "masked_id": session.masked_id,
                }
            )

        async def login(request: Request) -> Response:
            state, verifier, nonce = (secrets.token_urlsafe(24) for _ in range(3))
            with self._lock:
                self._pending[state] = (verifier, nonce)
            meta = await self._metadata()
            url, _ = self._oauth().create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
            return RedirectResponse(str(url), status_code=303)

        async def callback(request: Request) -> Response:
            params = request.query_params
            with self._lock:
                pending = self._pending.pop(params.get("state", ""), None)
            if pending is None or "error" in params:
                error = params.get("error", "unknown sign-in attempt")
                return JSONResponse({"error": error}, status_code=400)
            code_verifier, nonce = pending
            meta = await self._metadata()
            async with self._oauth() as client:
                try:
                    token = await client.fetch_token(
                        meta["token_endpoint"],
                        code=params.get("code", ""),
                        code_verifier=code_verifier,
                    )
                except Exception as exc:  # Authlib raises its own OAuthError types
                    return JSONResponse({"error": f"token request: {exc}"}, status_code=400)
            try:
                id_token = await self.verifier.averify(token["id_token"], kind="id")
            except IdentityError as exc:
                return JSONResponse({"error": f"ID token refused: {exc.code}"}, status_code=400)
            if id_token.claims.get("nonce") != nonce:
                return JSONResponse({"error": "ID token nonce does not match"}, status_code=400)
            session = _Session(
                sid=id_token.session_id or "",
                sub=id_token.subject,
                acr=id_token.acr or "",
                masked_id=str(id_token.claims.get("masked_id", "")),
                access_token=token["access_token"],
                id_token=token["id_token"],
            )
            cookie = secrets.token_urlsafe(24)
            with self._lock:
                self.sessions[cookie] = session
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(self.cookie, cookie, httponly=True, samesite="lax")
            return response

        async def logout(request: Request) -> Response:
            with self._lock:
                session = self.sessions.pop(request.cookies.get(self.cookie, ""), None)
            if session is None:
                return RedirectResponse("/", status_code=303)
            meta = await self._metadata()
            query = {
                "id_token_hint": session.id_token,
                "post_logout_redirect_uri": f"{self.url}/",
                "client_id": self.client_id,
            }
            return RedirectResponse(f"{meta['end_session_endpoint']}?{urlencode(query)}", 303)

        async def me(request: Request) -> Response:
            token = request.state.token
            return JSONResponse({"hall": self.hall_code, "sub": token.subject, "acr": token.acr})

        return Starlette(
            routes=[
                Route("/", home),
                Route("/login", login),
                Route("/callback", callback),
                Route("/logout", logout, methods=["POST"]),
                Route(
                    "/backchannel-logout",
                    BackchannelLogoutReceiver(self.verifier, self.end),
                    methods=["POST"],
                ),
                Mount(
                    "/api",
                    app=HallAuthMiddleware(Starlette(routes=[Route("/me", me)]), self.verifier),
                ),
            ]
        )
