"""An example hall web app (政务服务中心) signing people in with the city identity provider.

What a hall developer writes, and nothing more:

* **sign-in** — authorization code + PKCE (S256) with Authlib's httpx OAuth client against the
  provider's discovery document; the ID token verified with govlink's :class:`Verifier`
  (the provider's JWKS, audience = this hall's client id, the nonce checked). When the provider
  answers ``login_required`` (no SSO session yet, and it does not send the browser to the
  province itself) the hall sends the browser to the provincial identity platform's sign-in
  page with the provider's authorize URL as ``service``: the platform's one-time ticket comes
  back to the provider, which opens the city SSO session;
* **its API** — ``/api/me`` behind :class:`HallAuthMiddleware` (bearer access tokens only);
* **single logout** — ``/logout`` ends the local session and sends the browser to the
  provider's end-session endpoint; ``/backchannel-logout`` is govlink's
  :class:`BackchannelLogoutReceiver`, which ends this hall's local sessions of a session that
  ended anywhere;
* **the page** ``/`` — who is signed in, at what trust level (``acr``), what the hall's API says
  about the token, and how many back-channel logouts the hall has received.

Sessions are kept in memory (one process): enough for an example, not for production.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from govlink._http import AsyncOAuth2Client, httpx
from govlink.identity import (
    ACR_LEVELS,
    BackchannelLogoutReceiver,
    HallAuthMiddleware,
    IdentityError,
    LogoutEvent,
    RemoteJWKS,
    TrustedIssuer,
    Verifier,
)


@dataclass(frozen=True)
class HallConfig:
    """One hall: its client at the provider and where things are.

    ``idp_url``: the provider's issuer (its discovery document is below it).
    ``province_login_url``: the provincial platform's sign-in page. ``peers``: other halls
    (title → URL) linked from the page.
    """

    hall_code: str
    title: str
    client_id: str
    client_secret: str = field(repr=False)
    public_url: str
    idp_url: str
    province_login_url: str
    province_app_id: str | None = None
    peers: Mapping[str, str] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/callback"


@dataclass
class _Session:
    sid: str
    sub: str
    acr: str
    claims: Mapping[str, Any]
    access_token: str
    id_token: str


@dataclass
class _Pending:
    code_verifier: str
    nonce: str
    asked_province: bool = False


class _Sessions:
    """The hall's local sessions by browser cookie (in memory)."""

    def __init__(self) -> None:
        self._by_cookie: dict[str, _Session] = {}
        self._ended: dict[str, str] = {}  # cookie -> why it ended
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self.backchannel_logouts = 0

    def start(self, session: _Session) -> str:
        cookie = secrets.token_urlsafe(24)
        with self._lock:
            self._by_cookie[cookie] = session
        return cookie

    def get(self, cookie: str | None) -> _Session | None:
        with self._lock:
            return self._by_cookie.get(cookie or "")

    def why_ended(self, cookie: str | None) -> str | None:
        with self._lock:
            return self._ended.get(cookie or "")

    def end_here(self, cookie: str | None) -> _Session | None:
        with self._lock:
            session = self._by_cookie.pop(cookie or "", None)
            if session is not None and cookie:
                self._ended[cookie] = "you signed out here"
            return session

    def end(self, event: LogoutEvent) -> None:
        """The back-channel logout callback: end every local session of the ended SSO
        session (or of the subject, when the provider names no session)."""
        with self._lock:
            self.backchannel_logouts += 1
            for cookie, session in list(self._by_cookie.items()):
                if (event.session_id and session.sid == event.session_id) or (
                    not event.session_id and session.sub == event.subject
                ):
                    del self._by_cookie[cookie]
                    self._ended[cookie] = "back-channel logout from the identity provider"

    def remember(self, state: str, pending: _Pending) -> None:
        with self._lock:
            self._pending[state] = pending

    def pending(self, state: str) -> _Pending | None:
        with self._lock:
            return self._pending.get(state)

    def done(self, state: str) -> None:
        with self._lock:
            self._pending.pop(state, None)


def create_hall_app(config: HallConfig, *, verifier: Verifier | None = None) -> Starlette:
    """The hall's Starlette app. ``verifier``: default, the provider's remote JWKS."""
    verifier = verifier or Verifier(
        [TrustedIssuer(config.idp_url, RemoteJWKS(f"{config.idp_url}/jwks"))],
        audience=config.client_id,
    )
    sessions = _Sessions()
    session_cookie = f"hall{config.hall_code}_session"
    login_cookie = f"hall{config.hall_code}_login"
    discovery: dict[str, Any] = {}

    async def metadata() -> dict[str, Any]:
        if not discovery:
            async with httpx.AsyncClient(timeout=5.0) as http:
                url = f"{config.idp_url}/.well-known/openid-configuration"
                response = await http.get(url)
                response.raise_for_status()
                discovery.update(response.json())
        return discovery

    def oauth_client() -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            scope="openid profile",
            redirect_uri=config.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        )

    async def authorize_url(state: str, pending: _Pending) -> str:
        meta = await metadata()
        url, _ = oauth_client().create_authorization_url(
            meta["authorization_endpoint"],
            state=state,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )
        return str(url)

    # -- the hall's API, behind the middleware ---------------------------------------------------

    async def me(request: Request) -> Response:
        token = request.state.token
        claims = token.claims
        from starlette.responses import JSONResponse

        return JSONResponse(
            {
                "hall": config.hall_code,
                "sub": token.subject,
                "acr": token.acr,
                "sid": token.session_id,
                "subject_type": claims.get("subject_type"),
                "masked_id": claims.get("masked_id"),
                "credit_code": claims.get("credit_code"),
                "scope": sorted(token.scopes),
            }
        )

    api = HallAuthMiddleware(Starlette(routes=[Route("/me", me)]), verifier)

    # -- pages ------------------------------------------------------------------------------

    async def home(request: Request) -> Response:
        cookie = request.cookies.get(session_cookie)
        session = sessions.get(cookie)
        peers = " · ".join(
            f"<a href='{escape(url)}/'>{escape(title)}</a>" for title, url in config.peers.items()
        )
        if session is None:
            why = sessions.why_ended(cookie)
            body = (
                "<p id='status' data-signed-in='no'>Not signed in."
                + (f" <span id='ended'>Signed out: {escape(why)}.</span>" if why else "")
                + "</p><form method='get' action='/login'>"
                "<button id='sign-in' type='submit'>Sign in (统一身份认证)</button></form>"
            )
        else:
            api_answer = await call_own_api(session.access_token)
            label = ACR_LEVELS.get(session.acr, "?")
            who = session.claims.get("org_name") or session.claims.get("name_masked") or ""
            body = (
                f"<p id='status' data-signed-in='yes'>Signed in: <b id='who'>{escape(str(who))}</b>"
                f" ({escape(str(session.claims.get('subject_type', '')))})</p>"
                f"<p>Trust level (acr): <b id='acr'>{escape(session.acr)}</b> — "
                f"{escape(label)}</p>"
                f"<p>ID: <code>{escape(str(session.claims.get('masked_id', '')))}</code>"
                + (
                    f" · credit code <code>{escape(str(session.claims['credit_code']))}</code>"
                    if session.claims.get("credit_code")
                    else ""
                )
                + f"</p><p>SSO session: <code>{escape(session.sid[:12])}…</code></p>"
                f"<p>This hall's API (<code>/api/me</code>, HallAuthMiddleware) says: "
                f"<code id='api'>{escape(api_answer)}</code></p>"
                "<form method='post' action='/logout'>"
                "<button id='sign-out' type='submit'>Sign out of every hall</button></form>"
            )
        html = (
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            f"<title>{escape(config.title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:46em}"
            "code{background:#eee;padding:0 .2em}footer{margin-top:2em;color:#555}</style>"
            f"<h1>{escape(config.title)} <small>({escape(config.hall_code)})</small></h1>"
            f"{body}<footer>Other halls: {peers or '—'}<br>"
            f"Back-channel logouts received: <span id='backchannel'>"
            f"{sessions.backchannel_logouts}</span></footer></html>"
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def call_own_api(access_token: str) -> str:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url=config.public_url) as http:
            response = await http.get("/me", headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            return f"{response.status_code} {response.text}"
        data = response.json()
        return f"200 sub={data['sub'][:10]}… acr={data['acr']} scope={' '.join(data['scope'])}"

    async def login(request: Request) -> Response:
        state = secrets.token_urlsafe(16)
        pending = _Pending(secrets.token_urlsafe(48), secrets.token_urlsafe(16))
        sessions.remember(state, pending)
        response = RedirectResponse(await authorize_url(state, pending), status_code=303)
        response.set_cookie(login_cookie, state, httponly=True, samesite="lax", max_age=600)
        return response

    async def callback(request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        pending = sessions.pending(state)
        if pending is None or request.cookies.get(login_cookie) != state:
            return _page(config, 400, "Sign-in failed", "unknown or foreign sign-in attempt")
        error = params.get("error")
        if error == "login_required" and not pending.asked_province:
            # No SSO session at the provider yet: the person signs in at the province, whose
            # ticket takes the browser back to the provider's /authorize.
            pending.asked_province = True
            service = await authorize_url(state, pending)
            query = {"service": service}
            if config.province_app_id:
                query["app_id"] = config.province_app_id
            return RedirectResponse(f"{config.province_login_url}?{urlencode(query)}", 303)
        if error:
            sessions.done(state)
            text = f"{error}: {params.get('error_description', '')}"
            return _page(config, 400, "Sign-in failed", text)
        meta = await metadata()
        async with oauth_client() as client:
            try:
                token = await client.fetch_token(
                    meta["token_endpoint"],
                    code=params.get("code", ""),
                    code_verifier=pending.code_verifier,
                )
            except Exception as exc:  # Authlib raises its own OAuthError types
                sessions.done(state)
                return _page(config, 400, "Sign-in failed", f"token request: {exc}")
        sessions.done(state)
        try:
            id_token = await verifier.averify(token["id_token"], kind="id")
        except IdentityError as exc:
            return _page(config, 400, "Sign-in failed", f"ID token refused: {exc.code}")
        if id_token.claims.get("nonce") != pending.nonce:
            return _page(config, 400, "Sign-in failed", "ID token nonce does not match")
        session = _Session(
            sid=id_token.session_id or "",
            sub=id_token.subject,
            acr=id_token.acr or "",
            claims=dict(id_token.claims),
            access_token=token["access_token"],
            id_token=token["id_token"],
        )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(session_cookie, sessions.start(session), httponly=True, samesite="lax")
        response.delete_cookie(login_cookie)
        return response

    async def logout(request: Request) -> Response:
        session = sessions.end_here(request.cookies.get(session_cookie))
        if session is None:
            return RedirectResponse("/", status_code=303)
        meta = await metadata()
        query = {
            "id_token_hint": session.id_token,
            "post_logout_redirect_uri": f"{config.public_url}/",
            "client_id": config.client_id,
        }
        return RedirectResponse(f"{meta['end_session_endpoint']}?{urlencode(query)}", 303)

    receiver = BackchannelLogoutReceiver(verifier, sessions.end)
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout, methods=["GET", "POST"]),
            Route("/backchannel-logout", receiver, methods=["POST"]),
            Mount("/api", app=api),
        ]
    )
    app.state.sessions = sessions
    app.state.started = time.time()
    return app


def _page(config: HallConfig, status: int, title: str, text: str) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><h1>{escape(config.title)}: {escape(title)}</h1>"
        f"<p id='error'>{escape(text)}</p><p><a href='/'>Back</a></p></html>"
    )
    return HTMLResponse(html, status_code=status)
