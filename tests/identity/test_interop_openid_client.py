"""Interop (issue 10 acceptance): the Node `openid-client` 6.9 library against two
`govlink idp serve` processes on one PostgreSQL store, requests alternating between them:
discovery, code + PKCE through the built-in sign-in page (ID token, RFC 9207 ``iss`` checked by
openid-client), refresh with rotation, userinfo, introspection, token exchange,
client_credentials, SSO, revocation seen across processes, end-session.

Needs Node and ``npm ci`` in ``tests/identity/interop_node``; skips with that hint otherwise
(CI installs both)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from identity_helpers import IDP_SECRETS

pytestmark = [pytest.mark.server, pytest.mark.postgres]

NODE_DIR = Path(__file__).parent / "interop_node"


def test_openid_client_against_two_processes(idp_servers: tuple[str, str, str]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed: the openid-client interop test needs it")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        pytest.skip(f"openid-client not installed: run `npm ci` in {NODE_DIR}")
    issuer, a, b = idp_servers
    config = {
        "issuer": issuer,
        "a": a,
        "b": b,
        "clients": IDP_SECRETS,
        "user": "zhangsan",
        "password": "correct horse battery",
        "redirect": "http://127.0.0.1:9/callback",
        "post_logout": "http://127.0.0.1/signed-out",
    }
    run = subprocess.run(
        [node, "interop.mjs", json.dumps(config)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["id_token"] == {"iss": issuer, "aud": "hall-370502", "acr": "3"}
    assert seen["rotated"] is True
    assert seen["userinfo_sub"] is True
    assert seen["introspection"] is True
    assert seen["exchanged"] is True
    assert seen["client_credentials"] is True
    assert seen["sso_acr"] == "3"
    assert seen["revoked_seen_at_b"] is True
    assert seen["end_session_redirect"] == "http://127.0.0.1/signed-out"
    assert seen["after_logout"] == "login_required"
