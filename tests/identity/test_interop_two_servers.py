"""Interop (issue 10 acceptance): Authlib's OAuth 2.0 client against two `govlink idp serve`
processes on one PostgreSQL store, requests alternating between them as a load balancer would
send them: code + PKCE through the built-in sign-in page, refresh with rotation,
client_credentials, token exchange, userinfo, introspection, revocation, end-session."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import IDP_SECRETS as SECRETS

from govlink._http import OAuth2Client, httpx

pytestmark = [pytest.mark.server, pytest.mark.postgres]

REDIRECT = "http://127.0.0.1:9/callback"  # loopback: any port (RFC 8252)
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def _client(client_id: str, **options: Any) -> Any:
    return OAuth2Client(client_id, SECRETS[client_id], timeout=10, **options)


def _sign_in(browser: httpx.Client, login_url: str, post_to: str) -> str:
    """Show the sign-in page at one process, post it to the other; returns the redirect."""
    page = browser.get(login_url)
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r"name='(request|csrf)' value='([^']+)'", page.text))
    done = browser.post(
        f"{post_to}/sign-in",
        data={**hidden, "username": "zhangsan", "password": "correct horse battery"},
    )
    assert done.status_code == 303, done.text
    return done.headers["location"]


def test_authlib_against_two_processes_on_postgresql(
    idp_servers: tuple[str, str, str],
) -> None:
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import KeySet

    issuer, a, b = idp_servers
    hall = _client(
        "hall-370502",
        redirect_uri=REDIRECT,
        scope="openid profile cases:read",
        code_challenge_method="S256",
    )
    with hall, httpx.Client(timeout=10) as browser:
        # Code + PKCE: authorize at A, sign in at B, redeem at A.
        verifier = uuid.uuid4().hex + uuid.uuid4().hex
        url, state = hall.create_authorization_url(f"{a}/authorize", code_verifier=verifier)
        location = _sign_in(browser, url, b)
        query = parse_qs(urlsplit(location).query)
        assert query["iss"] == [issuer]  # RFC 9207
        token = hall.fetch_token(
            f"{a}/token", authorization_response=location, code_verifier=verifier, state=state
        )
        # The ID token, checked with another library (joserfc) against the published JWKS.
        keys = KeySet.import_key_set(httpx.get(f"{b}/jwks").json())
        decoded = joserfc_jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        joserfc_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": "hall-370502"},
        ).validate(decoded.claims)
        id_claims = decoded.claims
        assert id_claims["acr"] == "3"
        # Refresh with rotation, at B.
        first_refresh = token["refresh_token"]
        rotated = hall.refresh_token(f"{b}/token", refresh_token=first_refresh)
        assert rotated["refresh_token"] != first_refresh
        # Userinfo at A, introspection at B.
        info = hall.get(f"{a}/userinfo").json()
        assert info["sub"] == id_claims["sub"]
        assert info["masked_id"].startswith("1101")
        active = hall.introspect_token(f"{b}/introspect", token=rotated["access_token"]).json()
        assert active["active"] is True
        # Token exchange hall A -> hall B, at B.
        exchanged = hall.post(
            f"{b}/token",
            data={
                "grant_type": EXCHANGE,
                "subject_token": rotated["access_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "audience": "hall-370503",
            },
            auth=("hall-370502", SECRETS["hall-370502"]),
        )
        assert exchanged.status_code == 200, exchanged.text
        # SSO: hall B at A with the browser's cookie, no sign-in.
        other = _client(
            "hall-370503", redirect_uri=REDIRECT, scope="openid", code_challenge_method="S256"
        )
        with other:
            verifier_b = uuid.uuid4().hex + uuid.uuid4().hex
            url_b, _ = other.create_authorization_url(
                f"{a}/authorize", code_verifier=verifier_b, prompt="none"
            )
            sso = browser.get(url_b)
            assert sso.status_code == 303
            token_b = other.fetch_token(
                f"{b}/token",
                authorization_response=sso.headers["location"],
                code_verifier=verifier_b,
            )
            assert "access_token" in token_b
            # client_credentials, at A.
            machine = other.fetch_token(
                f"{a}/token", grant_type="client_credentials", scope="cases:read"
            )
            assert machine["token_type"].lower() == "bearer"
        # Revocation at A is seen at B (LISTEN/NOTIFY; the bound is 1 s).
        assert hall.revoke_token(f"{a}/revoke", token=rotated["access_token"]).status_code == 200
        deadline = time.monotonic() + 10
        while hall.introspect_token(f"{b}/introspect", token=rotated["access_token"]).json()[
            "active"
        ]:
            assert time.monotonic() < deadline, "revocation not seen by the other process"
            time.sleep(0.1)
        # End-session at B; the session is gone at A.
        ended = browser.get(
            f"{b}/logout",
            params={
                "client_id": "hall-370502",
                "post_logout_redirect_uri": "http://127.0.0.1/signed-out",
            },
        )
        assert ended.status_code == 303
        assert ended.headers["location"] == "http://127.0.0.1/signed-out"
        again, _ = hall.create_authorization_url(
            f"{a}/authorize", code_verifier=verifier, prompt="none"
        )
        refused = parse_qs(urlsplit(browser.get(again).headers["location"]).query)
        assert refused["error"] == ["login_required"]
