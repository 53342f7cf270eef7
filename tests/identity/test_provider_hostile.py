"""The identity provider under hostile and careless input (issue 9, point 1/6 style).

Requests are sent as raw ASGI messages, so header, query and body bytes are exactly what a
client could put on the wire (non-UTF-8, non-ASCII, repeated, oversized), with no HTTP client
tidying them first. Whatever arrives, the answer is a 4xx in the endpoint's error shape
(RFC 6749 §5.2 JSON, RFC 6750 challenge, or an HTML page for browsers), never a 5xx, and the
body is read with a bound.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identity_helpers import (
    HOSTILE_CLIENT,
    HOSTILE_PASSWORD,
    HOSTILE_ROBOT,
    HOSTILE_SECRET,
    HOSTILE_USER,
    ISSUER,
    hostile_provider,
)

from govlink.identity._openapi import MAX_FORM_BYTES

FORM = b"application/x-www-form-urlencoded"
REDIRECT = "https://370502.hall.example/callback"
JSON_ENDPOINTS = {"/token", "/revoke", "/introspect"}
ENDPOINTS = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/jwks"),
    ("GET", "/authorize"),
    ("POST", "/authorize"),
    ("POST", "/sign-in"),
    ("POST", "/token"),
    ("POST", "/revoke"),
    ("POST", "/introspect"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
    ("GET", "/logout"),
    ("POST", "/logout"),
]
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    received: int  # body bytes the app pulled from the client

    def json(self) -> Any:
        return json.loads(self.body)

    def location(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.headers["location"]).query)


class Raw:
    """One provider app, driven with raw ASGI messages on one event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        query: bytes = b"",
        headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
        body: bytes | Iterator[bytes] = b"",
    ) -> Answer:
        return self.loop.run_until_complete(self._send(method, path, query, list(headers), body))

    async def _send(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | Iterator[bytes],
    ) -> Answer:
        chunks = iter([body]) if isinstance(body, bytes) else body
        received = 0
        out: dict[str, Any] = {"body": b"", "headers": {}}

        async def receive() -> dict[str, Any]:
            nonlocal received
            chunk = next(chunks, None)
            if chunk is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            received += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                for k, v in message.get("headers", []):
                    # Repeated headers (Set-Cookie) are kept, one per line.
                    name, value = k.decode("latin-1").lower(), v.decode("latin-1")
                    seen = out["headers"].get(name)
                    out["headers"][name] = value if seen is None else f"{seen}\n{value}"
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"sso.dongying.example"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("sso.dongying.example", 443),
        }
        await self.app(scope, receive, send)
        return Answer(out["status"], out["headers"], out["body"], received)


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[Raw]:
    driver = Raw(hostile_provider(tmp_path))
    yield driver
    driver.close()


def basic(client_id: str, secret: str) -> tuple[bytes, bytes]:
    return (b"authorization", b"Basic " + base64.b64encode(f"{client_id}:{secret}".encode()))


GOOD_AUTH = basic(HOSTILE_CLIENT, HOSTILE_SECRET)


def assert_well_formed(path: str, answer: Answer) -> None:
    """A 2xx/3xx, or a 4xx in the endpoint's documented error shape; never a 5xx."""
    assert answer.status < 500, (answer.status, answer.body[:300])
    if answer.status < 400:
        return
    assert answer.status in (400, 401, 403, 413, 429), answer.status
    if path in JSON_ENDPOINTS or path == "/userinfo":
        body = answer.json()
        assert isinstance(body.get("error"), str), body
        if answer.status == 401:
            assert "www-authenticate" in answer.headers
    else:
        assert answer.headers["content-type"].startswith("text/html")


# -- anything at all, at every endpoint ----------------------------------------------------------

header_bytes = st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
odd_basic = st.one_of(
    header_bytes.map(lambda b: b"Basic " + b),
    st.binary(max_size=60).map(lambda b: b"Basic " + base64.b64encode(b)),
    st.tuples(st.text(max_size=20), st.text(max_size=20)).map(
        lambda t: b"Basic " + base64.b64encode(f"{t[0]}:{t[1]}".encode("utf-8", "surrogatepass"))
    ),
    header_bytes.map(lambda b: b"Bearer " + b),
    st.just(GOOD_AUTH[1]),
)
content_types = st.one_of(
    st.sampled_from(
        [
            FORM,
            FORM + b"; charset=utf-8",
            FORM + b"; charset=gbk",
            b"APPLICATION/X-WWW-FORM-URLENCODED",
            b"application/json",
            b"multipart/form-data; boundary=x",
            b"text/plain",
            b"",
        ]
    ),
    header_bytes,
)
names = st.sampled_from(
    [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "token",
        "subject_token",
        "subject_token_type",
        "audience",
        "resource",
        "requested_token_type",
        "response_type",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "acr_values",
        "ticket",
        "request",
        "csrf",
        "username",
        "password",
        "id_token_hint",
        "post_logout_redirect_uri",
        "access_token",
        "request_uri",
    ]
) | st.text(max_size=8)
values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            HOSTILE_CLIENT,
            REDIRECT,
            "code",
            "openid",
            "openid profile",
            "S256",
            "none",
            "login",
            "9" * 5000,
            "-1",
            "2 3 9",
            "http://[::1",
            "http://127.0.0.1:99999/cb",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "a.b.c",
            "e30.e30.e30",
            "\x00",
            "rt_x",
        ]
    ),
)
pairs = st.lists(st.tuples(names, values), max_size=8)


def encode(items: list[tuple[str, str]]) -> bytes:
    return urlencode(items).encode()


payload = st.one_of(pairs.map(encode), st.binary(max_size=300))


@SETTINGS
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    query=payload,
    body=payload,
    content_type=content_types,
    authorization=st.none() | odd_basic,
    cookie=st.none() | header_bytes,
    extra=st.lists(
        st.tuples(st.sampled_from([b"content-type", b"authorization", b"cookie"]), header_bytes),
        max_size=2,
    ),
)
def test_no_input_gets_a_server_error(
    raw: Raw,
    endpoint: tuple[str, str],
    query: bytes,
    body: bytes,
    content_type: bytes,
    authorization: bytes | None,
    cookie: bytes | None,
    extra: list[tuple[bytes, bytes]],
) -> None:
    method, path = endpoint
    headers = [(b"content-type", content_type), *extra]
    if authorization is not None:
        headers.append((b"authorization", authorization))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    answer = raw.send(
        method, path, query=query, headers=headers, body=body if method == "POST" else b""
    )
    assert_well_formed(path, answer)


# -- past the first refusal: a known client, its registered redirect URI, a session -----------


def authorize_query(**extra: str) -> list[tuple[str, str]]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=")
    base = {
        "client_id": HOSTILE_CLIENT,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile",
        "state": "s1",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    base.update(extra)
    return list(base.items())


def sign_in(raw: Raw) -> tuple[str, str]:
    """Sign in through the development page: (SSO cookie, authorization code)."""
    page = raw.send("GET", "/authorize", query=encode(authorize_query()))
    assert page.status == 200
    text = page.body.decode()
    request_id = re.search(r"name='request' value='([^']+)'", text)
    csrf = re.search(r"name='csrf' value='([^']+)'", text)
    assert request_id
    assert csrf
    form = encode(
        [
            ("request", request_id[1]),
            ("csrf", csrf[1]),
            ("username", HOSTILE_USER),
            ("password", HOSTILE_PASSWORD),
        ]
    )
    done = raw.send(
        "POST",
        "/sign-in",
        body=form,
        headers=[(b"content-type", FORM), (b"cookie", f"govlink_csrf={csrf[1]}".encode())],
    )
    assert done.status == 303, done.body
    cookie = re.search(r"govlink_sso=([^;]+)", done.headers["set-cookie"])
    assert cookie
    return cookie[1], done.location()["code"][0]


authorize_names = st.sampled_from(
    [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "acr_values",
        "ticket",
        "request_uri",
    ]
)
authorize_values = st.sampled_from(
    [
        "",
        "9" * 5000,
        "99999999999",
        "0",
        "-1",
        "１２",
        "2 3 9",
        "9" * 5000 + " 3",
        "none login",
        "login",
        "none",
        "http://[::1",
        "http://127.0.0.1:99999/cb",
        "http://[::1]:8/callback",
        REDIRECT + "#x",
        "\x00",
        "openid",
        "e30.e30.e30",
        "a.b.c",
        "é" * 300,
    ]
) | st.text(max_size=20)


@SETTINGS
@given(
    overrides=st.lists(st.tuples(authorize_names, authorize_values), max_size=4),
    post=st.booleans(),
)
def test_authorize_with_a_session_never_fails(
    raw: Raw, overrides: list[tuple[str, str]], post: bool
) -> None:
    cookie, _ = sign_in(raw)
    names = {n for n, _ in overrides}
    params = encode([*(p for p in authorize_query() if p[0] not in names), *overrides])
    headers = [(b"cookie", f"govlink_sso={cookie}".encode())]
    if post:
        answer = raw.send(
            "POST", "/authorize", body=params, headers=[*headers, (b"content-type", FORM)]
        )
    else:
        answer = raw.send("GET", "/authorize", query=params, headers=headers)
    assert_well_formed("/authorize", answer)


@SETTINGS
@given(overrides=pairs)
def test_token_grants_with_a_valid_client_never_fail(
    raw: Raw, overrides: list[tuple[str, str]]
) -> None:
    _, code = sign_in(raw)
    base = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", "v" * 43),
    ]
    names = {n for n, _ in overrides}
    form = encode([*(p for p in base if p[0] not in names), *overrides])
    answer = raw.send("POST", "/token", body=form, headers=[(b"content-type", FORM), GOOD_AUTH])
    assert_well_formed("/token", answer)


# -- the fixed behaviours, one regression test each ----------------------------------------------


def test_an_endless_body_is_refused_with_413_after_a_bounded_read(raw: Raw) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"a" * 16384

    for path in ("/token", "/sign-in", "/authorize", "/logout", "/userinfo"):
        answer = raw.send(
            "POST", path, headers=[(b"content-type", FORM), GOOD_AUTH], body=endless()
        )
        assert answer.status == 413, (path, answer.status)
        assert answer.received <= MAX_FORM_BYTES + 16384
        assert_well_formed(path, answer)


def test_a_declared_oversized_body_is_refused_unread(raw: Raw) -> None:
    for length in (b"70000", b"9" * 5000):
        answer = raw.send(
            "POST",
            "/token",
            headers=[(b"content-type", FORM), (b"content-length", length), GOOD_AUTH],
            body=b"grant_type=client_credentials",
        )
        assert answer.status == 413
        assert answer.received == 0
        assert answer.json()["error"] == "invalid_request"


def test_a_body_at_the_limit_is_read(raw: Raw) -> None:
    form = b"grant_type=client_credentials&pad=" + b"x" * (MAX_FORM_BYTES - 34)
    assert len(form) == MAX_FORM_BYTES
    answer = raw.send("POST", "/token", headers=[(b"content-type", FORM), GOOD_AUTH], body=form)
    assert answer.status == 200, answer.body


def test_a_huge_max_age_is_refused_not_a_crash(raw: Raw) -> None:
    cookie, _ = sign_in(raw)
    answer = raw.send(
        "GET",
        "/authorize",
        query=encode(authorize_query(max_age="9" * 5000)),
        headers=[(b"cookie", f"govlink_sso={cookie}".encode())],
    )
    assert answer.status == 303
    assert answer.location()["error"] == ["invalid_request"]
    assert "max_age" in answer.location()["error_description"][0]


@pytest.mark.parametrize("path", ["/authorize", "/logout"])
def test_a_redirect_uri_that_is_no_uri_is_refused(raw: Raw, path: str) -> None:
    name = "redirect_uri" if path == "/authorize" else "post_logout_redirect_uri"
    query = (
        encode(authorize_query(redirect_uri="http://[::1"))
        if path == "/authorize"
        else encode([("client_id", HOSTILE_CLIENT), (name, "http://[::1")])
    )
    answer = raw.send("GET", path, query=query)
    # /authorize: refused on a page (never a redirect to it); /logout: signed out, no redirect.
    assert answer.status == (400 if path == "/authorize" else 200)
    assert "location" not in answer.headers


def test_a_nul_character_is_refused_on_every_store(tmp_path: Path, any_store: Any) -> None:
    driver = Raw(hostile_provider(tmp_path, any_store))
    try:
        cookie, _ = sign_in(driver)
        for extra in ({"nonce": "n\x00"}, {"code_challenge": "\x00" * 43}, {"state\x00": "s"}):
            answer = driver.send(
                "GET",
                "/authorize",
                query=encode(authorize_query(**extra)),
                headers=[(b"cookie", f"govlink_sso={cookie}".encode())],
            )
            assert answer.status == 400, answer.body
            assert b"NUL" in answer.body
        answer = driver.send(
            "POST",
            "/token",
            headers=[(b"content-type", FORM), GOOD_AUTH],
            body=b"grant_type=client_credentials&scope=%00",
        )
        assert answer.status == 400
        assert answer.json() == {
            "error": "invalid_request",
            "error_description": "parameter 'scope' contains a NUL character",
        }
    finally:
        driver.close()


# -- one parameter at a time: every parameter × every hostile value, past the first refusal ----

HOSTILE_VALUES = [
    "",
    " ",
    "9" * 5000,
    "99999999999",
    "-1",
    "1e3",
    "１２",
    "0x10",
    "2 3 9",
    "none login",
    "http://[::1",
    "http://127.0.0.1:99999/cb",
    "http://[::1]:8/callback",
    "//evil.example",
    REDIRECT + "#frag",
    "javascript:alert(1)",
    "e30.e30.e30",
    "a.b.c",
    "e30." * 3,
    "x" * 4000,
    "é" * 300,
    "\u202e",
    "\ufffd",
    "rt_" + "x" * 40,
    "%00",
    "null",
    "[]",
    "{}",
]


def code_for(raw: Raw, cookie: str) -> str:
    answer = raw.send(
        "GET",
        "/authorize",
        query=encode(authorize_query()),
        headers=[(b"cookie", f"govlink_sso={cookie}".encode())],
    )
    assert answer.status == 303, answer.body
    return answer.location()["code"][0]


def test_every_authorize_parameter_with_every_hostile_value(raw: Raw) -> None:
    cookie, _ = sign_in(raw)
    headers = [(b"cookie", f"govlink_sso={cookie}".encode())]
    for name in [n for n, _ in authorize_query()] + [
        "prompt",
        "max_age",
        "acr_values",
        "ticket",
        "nonce",
        "request_uri",
    ]:
        for value in HOSTILE_VALUES:
            query = encode(authorize_query(**{name: value}))
            assert_well_formed(
                "/authorize", raw.send("GET", "/authorize", query=query, headers=headers)
            )
    for value in HOSTILE_VALUES:  # the cookie itself
        odd = [(b"cookie", f"govlink_sso={value}".encode())]
        assert_well_formed(
            "/authorize",
            raw.send("GET", "/authorize", query=encode(authorize_query()), headers=odd),
        )


def test_every_token_parameter_with_every_hostile_value(raw: Raw) -> None:
    cookie, code = sign_in(raw)
    tokens = raw.send(
        "POST",
        "/token",
        headers=[(b"content-type", FORM), GOOD_AUTH],
        body=encode(
            [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "v" * 43),
            ]
        ),
    ).json()
    forms = {
        "client_credentials": [("grant_type", "client_credentials"), ("scope", "openid")],
        "refresh_token": [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"]),
        ],
        "exchange": [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", tokens["access_token"]),
            ("audience", "hall-370503"),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        ],
        "authorization_code": [
            ("grant_type", "authorization_code"),
            ("code", "-"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "v" * 43),
        ],
    }
    extra = [
        "scope",
        "audience",
        "resource",
        "requested_token_type",
        "client_id",
        "client_assertion",
        "client_assertion_type",
    ]
    for grant, base in forms.items():
        for name in [n for n, _ in base] + extra:
            for value in HOSTILE_VALUES:
                form = [(n, v) for n, v in base if n != name] + [(name, value)]
                if grant == "authorization_code" and name != "code":
                    form = [(n, code_for(raw, cookie) if n == "code" else v) for n, v in form]
                auth = [] if name == "client_assertion" else [GOOD_AUTH]
                answer = raw.send(
                    "POST", "/token", body=encode(form), headers=[(b"content-type", FORM), *auth]
                )
                assert_well_formed("/token", answer)
    for path in ("/revoke", "/introspect"):
        for value in HOSTILE_VALUES:
            answer = raw.send(
                path and "POST",
                path,
                body=encode([("token", value)]),
                headers=[(b"content-type", FORM), GOOD_AUTH],
            )
            assert_well_formed(path, answer)
    for value in HOSTILE_VALUES:
        bearer = (b"authorization", b"Bearer " + value.encode("utf-8"))
        assert_well_formed("/userinfo", raw.send("GET", "/userinfo", headers=[bearer]))


def test_every_logout_parameter_with_every_hostile_value(raw: Raw) -> None:
    for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state"):
        for value in HOSTILE_VALUES:
            base = {"client_id": HOSTILE_CLIENT, "post_logout_redirect_uri": REDIRECT, name: value}
            answer = raw.send("GET", "/logout", query=encode(list(base.items())))
            assert_well_formed("/logout", answer)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/token", 405),
        ("PUT", "/authorize", 405),
        ("DELETE", "/jwks", 405),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_oauth_shape(
    raw: Raw, method: str, path: str, status: int
) -> None:
    answer = raw.send(method, path)
    assert answer.status == status
    assert answer.json()["error"] == "invalid_request"
    if status == 405:
        assert "allow" in answer.headers


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/authorize", b"state=a&state=b", b""),
        ("GET", "/authorize", b"state=a&st%61te=b", b""),
        ("POST", "/authorize", b"state=a", b"state=b"),
        ("POST", "/logout", b"state=a", b"state=b"),
        ("GET", "/logout", b"client_id=a&client_id=a", b""),
        ("POST", "/token", b"", b"grant_type=client_credentials&grant_type=client_credentials"),
        ("POST", "/introspect", b"", b"token=a&token=b"),
    ],
)
def test_a_repeated_parameter_is_refused_in_query_and_body_alike(
    raw: Raw, method: str, path: str, query: bytes, body: bytes
) -> None:
    answer = raw.send(
        method, path, query=query, body=body, headers=[(b"content-type", FORM), GOOD_AUTH]
    )
    assert answer.status == 400
    assert b"repeated" in answer.body


# -- JWT-shaped garbage wherever a token is read before (or without) its signature ------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from([HOSTILE_ROBOT, HOSTILE_CLIENT, ISSUER, ISSUER + "/token"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
claim_names = st.sampled_from(
    [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "scope",
        "client_id",
        "sid",
        "azp",
        "token_use",
        "cnf",
        "acr",
    ]
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def crafted_tokens(draw: st.DrawFn) -> str:
    claims = draw(st.dictionaries(claim_names, json_values, max_size=8))
    if draw(st.booleans()):  # often claim to be the robot, so the checks past `iss` run
        claims.update(iss=HOSTILE_ROBOT, sub=HOSTILE_ROBOT)
    header = draw(
        st.dictionaries(
            st.sampled_from(["alg", "kid", "typ", "crit", "jku"]), json_values, max_size=4
        )
    )
    payload = draw(st.sampled_from([json.dumps(claims), json.dumps(claims)[:-1], "[1]", "1e999"]))
    return ".".join(
        [
            b64(json.dumps(header).encode()),
            b64(payload.encode()),
            draw(st.sampled_from(["", "AAAA", b64(b"x" * 64)])),
        ]
    )


@pytest.mark.parametrize(
    "where",
    [
        "assertion",
        "bearer",
        "introspect",
        "revoke",
        "subject_token",
        "id_token_hint",
        "ticket",
        "refresh_token",
    ],
)
@settings(SETTINGS, max_examples=80)
@given(token=crafted_tokens())
def test_crafted_tokens_never_get_a_server_error(raw: Raw, token: str, where: str) -> None:
    form_headers = [(b"content-type", FORM)]
    if where == "assertion":
        path, answer = (
            "/token",
            raw.send(
                "POST",
                "/token",
                headers=form_headers,
                body=encode(
                    [
                        ("grant_type", "client_credentials"),
                        ("client_assertion", token),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                    ]
                ),
            ),
        )
    elif where == "bearer":
        path, answer = (
            "/userinfo",
            raw.send("GET", "/userinfo", headers=[(b"authorization", b"Bearer " + token.encode())]),
        )
    elif where in ("introspect", "revoke"):
        path = f"/{where}"
        answer = raw.send(
            "POST", path, headers=[*form_headers, GOOD_AUTH], body=encode([("token", token)])
        )
    elif where in ("subject_token", "refresh_token"):
        grant = (
            "urn:ietf:params:oauth:grant-type:token-exchange"
            if where == "subject_token"
            else "refresh_token"
        )
        path, answer = (
            "/token",
            raw.send(
                "POST",
                "/token",
                headers=[*form_headers, GOOD_AUTH],
                body=encode([("grant_type", grant), (where, token)]),
            ),
        )
    elif where == "id_token_hint":
        path, answer = (
            "/logout",
            raw.send(
                "GET",
                "/logout",
                query=encode([("id_token_hint", token), ("post_logout_redirect_uri", REDIRECT)]),
            ),
        )
    else:
        path, answer = (
            "/authorize",
            raw.send("GET", "/authorize", query=encode(authorize_query(ticket=token))),
        )
    assert_well_formed(path, answer)


@pytest.mark.parametrize("aud", [[{}], [[1]], [None, {"a": 1}], {"x": 1}, 7])
def test_an_assertion_audience_of_any_json_type_is_refused(raw: Raw, aud: Any) -> None:
    claims = {"iss": HOSTILE_ROBOT, "sub": HOSTILE_ROBOT, "aud": aud}
    token = ".".join([b64(b'{"alg":"ES256"}'), b64(json.dumps(claims).encode()), "AAAA"])
    answer = raw.send(
        "POST",
        "/token",
        headers=[(b"content-type", FORM)],
        body=encode(
            [
                ("grant_type", "client_credentials"),
                ("client_assertion", token),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ]
        ),
    )
    assert answer.status == 401
    assert answer.json()["error_description"] == "client_assertion aud is not this server"


def test_every_sign_in_field_with_every_hostile_value(raw: Raw) -> None:
    page = raw.send("GET", "/authorize", query=encode(authorize_query()))
    request_id = re.search(r"name='request' value='([^']+)'", page.body.decode())
    csrf = re.search(r"name='csrf' value='([^']+)'", page.body.decode())
    assert request_id
    assert csrf
    good = {"request": request_id[1], "csrf": csrf[1], "username": "x", "password": "y"}
    statuses = set()
    for name in good:
        for value in HOSTILE_VALUES:
            form = encode(list({**good, name: value}.items()))
            for cookie in (f"govlink_csrf={csrf[1]}", f"govlink_csrf={value}", value):
                answer = raw.send(
                    "POST",
                    "/sign-in",
                    body=form,
                    headers=[(b"content-type", FORM), (b"cookie", cookie.encode())],
                )
                assert_well_formed("/sign-in", answer)
                statuses.add(answer.status)
    # The sweep got past the CSRF check to the password check and on to the throttle.
    assert {400, 401, 403, 429} <= statuses


@pytest.mark.parametrize("challenge", ["é" * 43, "x", "a" * 44, "a" * 42 + "=", "a" * 42 + "+"])
def test_a_code_challenge_that_is_no_s256_value_is_refused(raw: Raw, challenge: str) -> None:
    cookie, _ = sign_in(raw)
    answer = raw.send(
        "GET",
        "/authorize",
        query=encode(authorize_query(code_challenge=challenge)),
        headers=[(b"cookie", f"govlink_sso={cookie}".encode())],
    )
    assert answer.status == 303
    assert answer.location()["error"] == ["invalid_request"]
    assert "code_challenge" in answer.location()["error_description"][0]


@pytest.mark.parametrize("odd", ["é", "\u202e" * 3, "ÿ"])
def test_a_non_ascii_csrf_cookie_or_field_is_refused_with_403(raw: Raw, odd: str) -> None:
    page = raw.send("GET", "/authorize", query=encode(authorize_query()))
    request_id = re.search(r"name='request' value='([^']+)'", page.body.decode())
    assert request_id
    for field, cookie in ((odd, odd), ("token", odd), (odd, "token")):
        form = encode([("request", request_id[1]), ("csrf", field), ("username", "x")])
        answer = raw.send(
            "POST",
            "/sign-in",
            body=form,
            headers=[(b"content-type", FORM), (b"cookie", f"govlink_csrf={cookie}".encode())],
        )
        assert answer.status == 403
