"""A hall's web app: the Starlette middleware and the framework-neutral helper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from identity_helpers import ISSUER
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    HallAuthMiddleware,
    InvalidAudience,
    InvalidTokenType,
    Issuer,
    MalformedToken,
    MissingToken,
    PersonSubject,
    RevocationRegistry,
    TokenReplayed,
    TokenRevoked,
    TrustedIssuer,
    VerificationKey,
    Verifier,
    authenticate,
    bearer_token,
    receive_backchannel_logout,
)
from govlink.store import SQLiteStore

AUD = "hall-370502"


def with_client(
    app: Starlette, scenario: Callable[[httpx.AsyncClient], Coroutine[Any, Any, None]]
) -> None:
    """Run ``scenario`` against the app in process (httpx's ASGI transport)."""

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
            await scenario(client)

    asyncio.run(run())


def app_for(issuer: Issuer, scopes: frozenset[str] = frozenset()) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        token = request.state.token
        return JSONResponse({"sub": token.subject, "acr": token.acr})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/whoami", whoami), Route("/health", health)])
    app.add_middleware(
        HallAuthMiddleware,
        verifier=issuer.verifier(AUD),
        exempt={"/health"},
        scopes=scopes,
    )
    return app


def test_middleware(
    issuer: Issuer, person: PersonSubject, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = issuer.sign_in(person, client=AUD, acr=4).tokens
    other = issuer.sign_in(person, client="hall-370500", acr=4).tokens

    async def scenario(client: httpx.AsyncClient) -> None:
        ok = await client.get("/whoami", headers={"Authorization": f"Bearer {tokens.access_token}"})
        assert ok.status_code == 200
        assert ok.json()["acr"] == "4"
        assert (await client.get("/health")).status_code == 200
        missing = await client.get("/whoami")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="govlink"'
        with caplog.at_level(logging.INFO, logger="govlink.identity.hall"):
            wrong = await client.get(
                "/whoami", headers={"Authorization": f"Bearer {other.access_token}"}
            )
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "invalid_token", "error_description": "invalid token"}
        assert "invalid_audience" not in wrong.text
        assert "invalid_audience" in caplog.text  # ... but the operator sees the code
        assert other.access_token not in caplog.text

    with_client(app_for(issuer), scenario)

    with_client(app_for(issuer), scenario)


def test_middleware_scopes(issuer: Issuer, person: PersonSubject) -> None:
    narrow = issuer.sign_in(person, client=AUD, acr=4, scope="items:read").tokens

    async def scenario(client: httpx.AsyncClient) -> None:
        answer = await client.get(
            "/whoami", headers={"Authorization": f"Bearer {narrow.access_token}"}
        )
        assert answer.status_code == 403
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]

    with_client(app_for(issuer, scopes=frozenset({"cases:write"})), scenario)


def test_framework_neutral_helper(issuer: Issuer, person: PersonSubject) -> None:
    token = issuer.sign_in(person, client=AUD, acr=3).tokens.access_token
    verifier = issuer.verifier(AUD)
    assert authenticate(verifier, f"Bearer {token}").acr == "3"
    assert authenticate(verifier, f"bearer  {token} ").acr == "3"
    with pytest.raises(PermissionError):
        authenticate(verifier, f"Bearer {token}", scopes={"admin"})
    with pytest.raises(InvalidAudience):
        authenticate(verifier, f"Bearer {token}", audience="hall-370500")
    with pytest.raises(MissingToken):
        bearer_token(None)
    for bad in ("Basic abc", "Bearer", "Bearer a b"):
        with pytest.raises(MalformedToken):
            bearer_token(bad)


def test_backchannel_logout_at_a_remote_hall(
    issuer: Issuer, person: PersonSubject, tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """A hall with its own store and the IdP's public keys only: the logout token it
    receives ends the session there too."""
    hall_store = SQLiteStore(tmp_path / "hall.db")
    try:
        jwks = issuer.keys.jwks()
        keys = {k["kid"]: VerificationKey.from_jwk(k) for k in jwks["keys"]}

        class PublishedKeys:
            def lookup(self, kid: str) -> VerificationKey | None:
                return keys.get(kid)

            get_key = lookup

            async def aget_key(self, kid: str) -> VerificationKey | None:
                return keys.get(kid)

        hall_revocations = RevocationRegistry(hall_store, clock=virtual_clock)
        verifier = Verifier(
            [TrustedIssuer(ISSUER, PublishedKeys(), revocation=hall_revocations)],
            audience=AUD,
            clock=virtual_clock,
        )
        sign_in = issuer.sign_in(person, client=AUD, acr=4)
        verifier.verify(sign_in.tokens.access_token)
        (notice,) = issuer.logout(sign_in.session.sid)
        assert receive_backchannel_logout(verifier, notice.logout_token, hall_revocations) == (
            sign_in.session.sid
        )
        with pytest.raises(TokenRevoked):
            verifier.verify(sign_in.tokens.access_token)
        with pytest.raises(TokenReplayed):  # a logout token is one-time
            receive_backchannel_logout(verifier, notice.logout_token, hall_revocations)
        # An access token is not a logout token.
        other = issuer.sign_in(person, client=AUD, acr=4).tokens.access_token
        with pytest.raises(InvalidTokenType):
            receive_backchannel_logout(verifier, other, hall_revocations)
    finally:
        hall_store.close()
