"""Interop (issue 10 acceptance): independent OIDC clients — Authlib (Python) and the Node
``openid-client`` library — against two ``govlink idp serve`` processes on one PostgreSQL store.

A small round-robin HTTP balancer in the test sends each request to process A or B in turn, so
the issuer is one URL (the balancer's) and every multi-step flow crosses processes: the sign-in
page shown by one is posted to the other, a code issued by one is redeemed at the other, a
refresh token rotated at one is replayed at the other. The provincial identity platform the
provider trusts is the mock's identity face (``IdentityPlatform`` served on loopback by
``served_identity``): its JWKS over HTTP, its one-time tickets from ``issue_ticket``.

Flows, for each client: discovery, code + PKCE through the built-in sign-in page (CSRF token,
cookies, redirects), the ID token, refresh with rotation (the old refresh token refused once its
successor was used, and the family revoked), userinfo, introspection, token exchange hall → hall
and provincial ticket → city token (the ticket refused the second time), client_credentials,
revocation seen by both processes, end-session (RP-initiated logout) ending the SSO session.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.base_client import OAuthError
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from govlink._http import OAuth2Client, httpx
from govlink.testing import IdentityApp, IdentityPlatform, IdentityPlatformConfig, served_identity

pytestmark = [pytest.mark.server, pytest.mark.postgres]

NODE_DIR = Path(__file__).parent / "node"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSPHRASE = "interop passphrase for two processes"
SECRETS = {"hall-370502": "secret-a-0123456789", "hall-370503": "secret-b-0123456789"}
PASSWORD = "correct horse battery"
REDIRECT = "http://127.0.0.1:9/callback"  # registered without a port: any port (RFC 8252)
SIGNED_OUT = "http://127.0.0.1:9/signed-out"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
PROVIDER_FILE = f"""
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["http://127.0.0.1/callback"]
post_logout_redirect_uris = ["http://127.0.0.1/signed-out"]
grant_types = ["authorization_code", "refresh_token", "client_credentials", "{EXCHANGE}"]

[[halls]]
client_id = "hall-370503"
hall_code = "370503"
redirect_uris = ["http://127.0.0.1/callback"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[exchange]]
subject_issuer = "city"
clients = ["hall-370502"]
audiences = ["hall-370503"]

[[exchange]]
subject_issuer = "province"
clients = ["hall-370502"]
min_acr = 3

[sign_in]
authenticator = "dev_password"
[[sign_in.users]]
username = "zhangsan"
password = "{PASSWORD}"
id_number = "11010519491231002X"
name = "张三"
acr = "3"
[[sign_in.users]]
username = "lisi"
password = "{PASSWORD}"
id_number = "370502198001010017"
name = "李四"
acr = "3"
"""


# -- loopback servers in this process: the balancer and the provincial platform ----------------


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _serve(app: Any, sock: socket.socket) -> Iterator[str]:
    """Serve ``app`` on ``sock`` with uvicorn in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ready = threading.Event()
    while not server.started and thread.is_alive():
        ready.wait(0.01)
    assert server.started, "a loopback test server did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)


@dataclass
class Balancer:
    """Round-robin, per request: request n goes to backend n mod 2, whatever the connection
    (a client's keep-alive connection would otherwise pin it to one process)."""

    backends: tuple[str, ...]
    log: list[tuple[str, str, int]] = field(default_factory=list)
    _turn: Iterator[int] = field(default_factory=itertools.count)

    async def forward(self, request: Request) -> Response:
        index = next(self._turn) % len(self.backends)
        self.log.append((request.method, request.url.path, index))
        url = self.backends[index] + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP] + [
            ("accept-encoding", "identity")
        ]
        async with httpx.AsyncClient(timeout=20) as upstream:
            answer = await upstream.request(
                request.method, url, headers=headers, content=await request.body()
            )
        response = Response(answer.content, status_code=answer.status_code)
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ] + [(b"content-length", str(len(answer.content)).encode())]
        return response

    def app(self) -> Starlette:
        methods = ["GET", "POST"]
        return Starlette(routes=[Route("/{path:path}", self.forward, methods=methods)])

    def served_by(self, method: str, path: str, since: int = 0) -> set[int]:
        """Which backends answered ``method path`` in the log from entry ``since`` on."""
        return {i for m, p, i in self.log[since:] if m == method and p == path}


#: The provider's app id at the provincial platform (its tickets are addressed to the issuer).
CITY_APP = "dongying-city-idp"
#: A trust level 4 person (实人认证, face check) of the mock's documented test people.
PROVINCE_PERSON = "wang-l4"


@dataclass
class Deployment:
    issuer: str  # the balancer: the one URL clients know
    balancer: Balancer
    province: IdentityPlatform  # the mock's identity face, served on loopback


def _wait_ready(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"govlink idp serve exited {proc.returncode}: {proc.communicate()[1]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/jwks", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail("govlink idp serve did not answer within 60 s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def deployment(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two ``govlink idp serve`` processes on one PostgreSQL schema behind the balancer."""
    import psycopg

    home = tmp_path_factory.mktemp("idp-two-processes")
    schema = f"idp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    ports = _free_port(), _free_port()
    backends = tuple(f"http://127.0.0.1:{port}" for port in ports)
    balancer = Balancer(backends)
    (home / "idp.toml").write_text(PROVIDER_FILE, "utf-8")
    procs: list[subprocess.Popen[str]] = []
    with contextlib.ExitStack() as stack:
        issuer = stack.enter_context(_serve(balancer.app(), _bound_socket()))
        app = IdentityApp(CITY_APP, secrets.token_urlsafe(16), audience=issuer)
        province = IdentityPlatform(
            config=IdentityPlatformConfig(apps={CITY_APP: app}, default_app=CITY_APP)
        )
        served = stack.enter_context(served_identity(province))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
        env.update(
            GOVLINK_HOME=str(home),
            GOVLINK_STORE=f"{postgres_url}?options=-csearch_path%3D{schema}",
            GOVLINK_KEY_PASSPHRASE=PASSPHRASE,
            GOVLINK_IDENTITY_ISSUER=issuer,
            GOVLINK_IDP_CLIENTS_FILE=str(home / "idp.toml"),
            GOVLINK_IDP_CLIENT_SECRETS=json.dumps(SECRETS),
            GOVLINK_PROVINCE_IDENTITY_ISSUER=province.issuer,
            GOVLINK_PROVINCE_IDENTITY_JWKS_URL=served.jwks_url,
        )
        keys = [sys.executable, "-m", "govlink", "keys", "init", "--alg", "ES256", "--alg", "RS256"]
        subprocess.run(keys, env=env, check=True, capture_output=True, timeout=60)
        try:
            for port in ports:
                serve = ["idp", "serve", "--dev", "--port", str(port)]
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "govlink", *serve],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for url, proc in zip(backends, procs, strict=True):
                _wait_ready(url, proc)
            yield Deployment(issuer, balancer, province)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


# -- Authlib ---------------------------------------------------------------------------------


def _sign_in(browser: httpx.Client, authorize_url: str, username: str) -> str:
    """What a person does in a browser: open the sign-in page, post its form (with the CSRF
    token the page carries); returns where the provider redirects to."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    action = re.search(r"<form method='post' action='([^']+)'", page.text)
    assert action is not None, page.text
    hidden = dict(re.findall(r"name='(request|csrf)' value='([^']+)'", page.text))
    done = browser.post(
        action.group(1), data={**hidden, "username": username, "password": PASSWORD}
    )
    assert done.status_code == 303, done.text
    return done.headers["location"]


def _claims(token: str) -> dict[str, Any]:
    """Claims of a token the provider issued (signature not checked: it came over the back
    channel; the ID token is verified properly below)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_authlib_against_two_processes(deployment: Deployment) -> None:
    issuer, balancer = deployment.issuer, deployment.balancer
    start = len(balancer.log)
    meta = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert meta["issuer"] == issuer
    token_url, introspect_url = meta["token_endpoint"], meta["introspection_endpoint"]

    def hall_client(client_id: str, **options: Any) -> Any:
        return OAuth2Client(client_id, SECRETS[client_id], timeout=10, **options)

    hall = hall_client(
        "hall-370502",
        redirect_uri=REDIRECT,
        scope="openid profile cases:read",
        code_challenge_method="S256",
    )
    with hall, httpx.Client(timeout=10) as browser:
        # Code + PKCE through the built-in sign-in page.
        verifier, nonce = uuid.uuid4().hex * 2, uuid.uuid4().hex
        url, state = hall.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        location = _sign_in(browser, url, "zhangsan")
        assert parse_qs(urlsplit(location).query)["iss"] == [issuer]  # RFC 9207
        token = hall.fetch_token(
            token_url, authorization_response=location, code_verifier=verifier, state=state
        )
        # The ID token, verified with another library (joserfc) against the published JWKS.
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"]).json())
        id_token = joserfc_jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        joserfc_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": "hall-370502"},
            nonce={"essential": True, "value": nonce},
        ).validate(id_token.claims)
        subject = id_token.claims["sub"]
        assert id_token.claims["acr"] == "3"

        # Refresh with rotation.
        first_refresh = token["refresh_token"]
        rotated = hall.refresh_token(token_url, refresh_token=first_refresh)
        assert rotated["refresh_token"] != first_refresh
        assert rotated["access_token"] != token["access_token"]

        # Userinfo (claims by scope, masked) with the rotated access token.
        info = hall.get(meta["userinfo_endpoint"]).json()
        assert info["sub"] == subject
        assert info["masked_id"] == "1101**********002X"
        assert "11010519491231002X" not in json.dumps(info)

        # Introspection.
        active = hall.introspect_token(introspect_url, token=rotated["access_token"]).json()
        assert active["active"] is True
        assert active["sub"] == subject

        # Token exchange hall -> hall: the same session, for hall-370503.
        exchange = {"grant_type": EXCHANGE, "audience": "hall-370503"}
        to_hall = hall.post(
            token_url,
            data={
                **exchange,
                "subject_token": rotated["access_token"],
                "subject_token_type": ACCESS_TOKEN_TYPE,
            },
            auth=("hall-370502", SECRETS["hall-370502"]),
        )
        assert to_hall.status_code == 200, to_hall.text
        hall_b_token = to_hall.json()["access_token"]
        assert to_hall.json()["issued_token_type"] == ACCESS_TOKEN_TYPE
        # Only the access token asked for: an ID token addressed to hall-370503 handed to
        # hall-370502 would let it pose as that hall's sign-in (openid-client refuses it).
        assert set(to_hall.json()) >= {"access_token", "token_type", "issued_token_type"}
        assert "id_token" not in to_hall.json()
        assert "refresh_token" not in to_hall.json()
        hall_b_claims = _claims(hall_b_token)
        assert hall_b_claims["aud"] == "hall-370503"
        assert hall_b_claims["sid"] == _claims(rotated["access_token"])["sid"]
        assert hall_b_claims["acr"] == "3"

        # Provincial ticket -> city token; the same ticket again (at the other process).
        ticket = deployment.province.issue_ticket(PROVINCE_PERSON)
        from_province = {**exchange, "subject_token": ticket, "subject_token_type": JWT_TOKEN_TYPE}
        city = hall.post(
            token_url, data=from_province, auth=("hall-370502", SECRETS["hall-370502"])
        )
        assert city.status_code == 200, city.text
        assert "id_token" not in city.json()
        city_claims = _claims(city.json()["access_token"])
        assert city_claims["iss"] == issuer
        assert city_claims["aud"] == "hall-370503"
        assert city_claims["acr"] == "4"
        replayed = hall.post(
            token_url, data=from_province, auth=("hall-370502", SECRETS["hall-370502"])
        )
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_grant"

        # client_credentials: no person.
        with hall_client("hall-370503", scope="cases:read") as machine:
            machine_token = machine.fetch_token(token_url, grant_type="client_credentials")
        machine_claims = _claims(machine_token["access_token"])
        assert machine_claims["subject_type"] == "client"
        assert machine_claims["sub"] == "hall-370503"
        assert "refresh_token" not in machine_token

        # Revocation at one process is seen by both (each answers in turn).
        assert hall.revoke_token(
            meta["revocation_endpoint"], token=token["access_token"]
        ).is_success
        inactive_in_a_row, deadline = 0, time.monotonic() + 10
        while inactive_in_a_row < 2:
            answer = hall.introspect_token(introspect_url, token=token["access_token"]).json()
            inactive_in_a_row = 0 if answer["active"] else inactive_in_a_row + 1
            assert time.monotonic() < deadline, "revocation not seen by both processes"

        # The old refresh token once its successor was used: refused, and the family revoked.
        third = hall.refresh_token(token_url, refresh_token=rotated["refresh_token"])
        with pytest.raises(OAuthError, match="invalid_grant"):
            hall.refresh_token(token_url, refresh_token=first_refresh)
        with pytest.raises(OAuthError, match="invalid_grant"):
            hall.refresh_token(token_url, refresh_token=third["refresh_token"])

        # End-session (RP-initiated logout): the SSO session ends at every process.
        ended = browser.get(
            meta["end_session_endpoint"],
            params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": SIGNED_OUT},
        )
        assert ended.status_code == 303, ended.text
        assert ended.headers["location"] == SIGNED_OUT
        for _ in range(2):  # once at each process
            again, _ = hall.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, prompt="none"
            )
            refused = parse_qs(urlsplit(browser.get(again).headers["location"]).query)
            assert refused["error"] == ["login_required"]
        assert not hall.introspect_token(introspect_url, token=third["access_token"]).json()[
            "active"
        ]

    # The flows really crossed processes.
    assert balancer.served_by("POST", "/token", start) == {0, 1}
    assert balancer.served_by("POST", "/introspect", start) == {0, 1}
    assert balancer.served_by("GET", "/authorize", start) == {0, 1}


# -- openid-client (Node) ----------------------------------------------------------------------

NODE_HOW = (
    "the openid-client interop test needs Node.js >= 20 and npm on PATH "
    "(Debian: apt-get install nodejs npm); it runs `npm ci` in tests/identity/node itself"
)


@pytest.fixture(scope="module")
def node() -> str:
    """The ``node`` executable, with tests/identity/node's packages installed (``npm ci``
    from the lock file when node_modules is missing). Skips without Node/npm, fails under CI."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if CI:
            pytest.fail(f"CI=true but Node.js/npm is missing: {NODE_HOW}")
        pytest.skip(NODE_HOW)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < 20:
        found = f"found Node.js {version.stdout.strip()}"
        if CI:
            pytest.fail(f"CI=true but {found}: {NODE_HOW}")
        pytest.skip(f"{NODE_HOW} ({found})")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert install.returncode == 0, f"npm ci failed:\n{install.stdout}\n{install.stderr}"
    return node


def test_openid_client_against_two_processes(node: str, deployment: Deployment) -> None:
    issuer, balancer = deployment.issuer, deployment.balancer
    start = len(balancer.log)
    given = {
        "issuer": issuer,
        "secrets": SECRETS,
        "username": "lisi",
        "password": PASSWORD,
        "redirect_uri": REDIRECT,
        "post_logout_redirect_uri": SIGNED_OUT,
        "ticket": deployment.province.issue_ticket(PROVINCE_PERSON),
    }
    run = subprocess.run(
        [node, "interop.mjs"],
        cwd=NODE_DIR,
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)

    assert out["discovered_issuer"] == issuer
    assert out["callback_iss"] == issuer  # RFC 9207, also checked by openid-client
    id_token = out["id_token"]  # verified by openid-client (signature, iss, aud, nonce)
    assert id_token["iss"] == issuer
    assert id_token["aud"] == "hall-370502"
    assert id_token["acr"] == "3"
    assert out["refresh_rotated"] is True
    assert out["refresh_access_changed"] is True
    assert out["userinfo"]["sub"] == id_token["sub"]
    assert out["userinfo"]["masked_id"] == "3705**********0017"
    assert "370502198001010017" not in run.stdout
    assert out["introspection"]["active"] is True
    assert out["introspection"]["sub"] == id_token["sub"]
    exchanged = out["exchanged"]
    assert exchanged["aud"] == "hall-370503"
    assert exchanged["sid"] == out["subject_sid"]
    assert exchanged["issued"] == ACCESS_TOKEN_TYPE
    province = out["province_exchanged"]
    assert (province["iss"], province["aud"], province["acr"]) == (issuer, "hall-370503", "4")
    assert out["province_replay"] == "invalid_grant"
    machine = out["client_credentials"]
    assert (machine["sub"], machine["subject_type"]) == ("hall-370503", "client")
    assert machine["refresh"] is None
    assert out["revocation_seen_by_both"] is True
    assert out["old_refresh"] == "invalid_grant"
    assert out["family_after_reuse"] == "invalid_grant"
    assert out["end_session"] == {"status": 303, "location": SIGNED_OUT}
    assert out["after_logout"] == ["login_required", "login_required"]
    assert out["access_after_logout"] is False

    assert balancer.served_by("POST", "/token", start) == {0, 1}
    assert balancer.served_by("POST", "/introspect", start) == {0, 1}
    assert balancer.served_by("GET", "/authorize", start) == {0, 1}
