"""The hall's back-channel logout receiver (OIDC Back-Channel Logout 1.0) under ASGI and WSGI:
a real logout token of the issuer ends the hall's local session once; every rule of §2.6 and
every malformed request is refused with nothing ended."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterable
from typing import Any

import pytest
from identity_helpers import ISSUER
from starlette.applications import Starlette
from starlette.routing import Route

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    BACKCHANNEL_LOGOUT_EVENT,
    BackchannelLogoutReceiver,
    InvalidToken,
    Issuer,
    JWKSUnavailable,
    KeyRing,
    LocalKeySource,
    LogoutEvent,
    PersonSubject,
    TrustedIssuer,
    Verifier,
    verify_logout_token,
)

AUD = "hall-370502"


class Sessions:
    """A hall's local sessions by the provider's ``sid`` (what the callback ends)."""

    def __init__(self, *sids: str) -> None:
        self.active = set(sids)
        self.events: list[LogoutEvent] = []

    def end(self, event: LogoutEvent) -> None:
        self.events.append(event)
        self.active.discard(event.session_id or "")


def post(app: Any, body: bytes | str, content_type: str = "application/x-www-form-urlencoded",
         method: str = "POST") -> httpx.Response:  # fmt: skip
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hall.test") as http:
            return await http.request(
                method, "/backchannel-logout", content=body, headers={"content-type": content_type}
            )

    return asyncio.run(main())


def form(token: str) -> str:
    return f"logout_token={token}"


@pytest.fixture
def verifier(ring: KeyRing, virtual_clock: VirtualClock) -> Verifier:
    # What a hall runs: the provider's public keys, no access to its session revocations
    # (those would refuse the logout token of the session it ends).
    return Verifier(
        [TrustedIssuer(ISSUER, LocalKeySource(ring))], audience=AUD, clock=virtual_clock
    )


def logout_token(issuer: Issuer, person: PersonSubject) -> tuple[str, str]:
    sign_in = issuer.sign_in(person, client=AUD, acr=4)
    (notice,) = issuer.logout(sign_in.session.sid)
    return notice.logout_token, sign_in.session.sid


def starlette_app(receiver: BackchannelLogoutReceiver) -> Starlette:
    return Starlette(routes=[Route("/backchannel-logout", receiver, methods=["POST", "GET"])])


def test_asgi_receiver_ends_the_session_once(
    issuer: Issuer, person: PersonSubject, verifier: Verifier
) -> None:
    token, sid = logout_token(issuer, person)
    sessions = Sessions(sid, "other")
    app = starlette_app(BackchannelLogoutReceiver(verifier, sessions.end))
    response = post(app, form(token))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert sessions.active == {"other"}
    (event,) = sessions.events
    assert (event.issuer, event.session_id, event.audience) == (ISSUER, sid, AUD)
    assert sid not in repr(event) or "LogoutEvent" in repr(event)
    # jti single use: the same token again is refused and ends nothing more.
    again = post(app, form(token))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"
    assert len(sessions.events) == 1


def test_async_callback_under_asgi(
    issuer: Issuer, person: PersonSubject, verifier: Verifier
) -> None:
    token, sid = logout_token(issuer, person)
    ended: list[str | None] = []

    async def end(event: LogoutEvent) -> None:
        await asyncio.sleep(0)
        ended.append(event.session_id)

    assert (
        post(starlette_app(BackchannelLogoutReceiver(verifier, end)), form(token)).status_code
        == 200
    )
    assert ended == [sid]


def crafted(ring: KeyRing, clock: VirtualClock, typ: str = "logout+jwt", **changes: Any) -> str:
    now = int(clock.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": "p-someone", "aud": AUD, "iat": now, "exp": now + 120,
        "jti": uuid.uuid4().hex, "sid": "sid-1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }  # fmt: skip
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return ring.sign(claims, typ)


@pytest.mark.parametrize(
    ("typ", "changes", "code"),
    [
        ("logout+jwt", {}, None),  # the control: this one passes
        ("at+jwt", {}, "invalid_type"),
        ("JWT", {}, "invalid_type"),
        ("logout+jwt", {"events": None}, "invalid_claim"),
        ("logout+jwt", {"events": {BACKCHANNEL_LOGOUT_EVENT: "yes"}}, "invalid_claim"),
        ("logout+jwt", {"events": {"http://example.com/other": {}}}, "invalid_claim"),
        ("logout+jwt", {"events": [BACKCHANNEL_LOGOUT_EVENT]}, "invalid_claim"),
        ("logout+jwt", {"nonce": "n-1"}, "invalid_claim"),
        ("logout+jwt", {"sid": ""}, "invalid_claim"),
        ("logout+jwt", {"jti": None}, "invalid_claim"),
        ("logout+jwt", {"aud": "hall-370500"}, "invalid_audience"),
        ("logout+jwt", {"iss": "https://evil.example"}, "invalid_issuer"),
        ("logout+jwt", {"exp": 1}, "expired"),
    ],
)
def test_logout_token_rules(
    ring: KeyRing,
    verifier: Verifier,
    virtual_clock: VirtualClock,
    typ: str,
    changes: dict[str, Any],
    code: str | None,
) -> None:
    token = crafted(ring, virtual_clock, typ, **changes)
    sessions = Sessions("sid-1")
    response = post(starlette_app(BackchannelLogoutReceiver(verifier, sessions.end)), form(token))
    if code is None:
        assert response.status_code == 200
        assert sessions.active == set()
        return
    assert response.status_code == 400
    assert sessions.events == []
    fresh = Verifier(
        [TrustedIssuer(ISSUER, LocalKeySource(ring))], audience=AUD, clock=virtual_clock
    )
    with pytest.raises(InvalidToken) as caught:
        verify_logout_token(fresh, token)  # a fresh replay guard: the rule itself is reported
    assert caught.value.code == code


def test_a_tampered_signature_is_refused(
    ring: KeyRing, verifier: Verifier, virtual_clock: VirtualClock
) -> None:
    head, payload, signature = crafted(ring, virtual_clock).split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    sessions = Sessions("sid-1")
    app = starlette_app(BackchannelLogoutReceiver(verifier, sessions.end))
    assert post(app, form(f"{head}.{payload}.{flipped}")).status_code == 400
    assert sessions.events == []


def test_malformed_requests(ring: KeyRing, verifier: Verifier, virtual_clock: VirtualClock) -> None:
    sessions = Sessions("sid-1")
    receiver = BackchannelLogoutReceiver(verifier, sessions.end, max_body=2048)
    app = starlette_app(receiver)
    token = crafted(ring, virtual_clock)
    wrong_method = post(app, "", method="GET")
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert post(app, '{"logout_token": "x"}', content_type="application/json").status_code == 400
    assert post(app, "").status_code == 400
    assert post(app, "logout_token=").status_code == 400
    assert post(app, f"{form(token)}&{form(token)}").status_code == 400
    assert post(app, "logout_token=" + "a" * 3000).status_code == 400
    assert post(app, b"logout_token=\xff").status_code == 400
    assert sessions.events == []
    # A charset parameter is fine.
    ok = post(app, form(token), content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert ok.status_code == 200


def test_callback_failure_is_500_and_unreachable_keys_503(
    ring: KeyRing, verifier: Verifier, virtual_clock: VirtualClock
) -> None:
    def broken(event: LogoutEvent) -> None:
        raise RuntimeError("database down")

    app = starlette_app(BackchannelLogoutReceiver(verifier, broken))
    assert post(app, form(crafted(ring, virtual_clock))).status_code == 500

    class Unreachable:
        def lookup(self, kid: str) -> None:
            return None

        def get_key(self, kid: str) -> None:
            raise JWKSUnavailable("JWKS of the provider unavailable")

        async def aget_key(self, kid: str) -> None:
            raise JWKSUnavailable("JWKS of the provider unavailable")

    remote = Verifier([TrustedIssuer(ISSUER, Unreachable())], audience=AUD, clock=virtual_clock)
    sessions = Sessions("sid-1")
    response = post(starlette_app(BackchannelLogoutReceiver(remote, sessions.end)),
                    form(crafted(ring, virtual_clock)))  # fmt: skip
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert sessions.events == []


def wsgi_call(
    receiver: BackchannelLogoutReceiver, body: bytes, **environ: Any
) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: Iterable[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    env = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded",
           "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), **environ}  # fmt: skip
    payload = b"".join(receiver.wsgi(env, start_response))
    return seen["status"], seen["headers"], payload


def test_wsgi_receiver(issuer: Issuer, person: PersonSubject, verifier: Verifier) -> None:
    token, sid = logout_token(issuer, person)
    sessions = Sessions(sid)
    receiver = BackchannelLogoutReceiver(verifier, sessions.end)
    status, headers, payload = wsgi_call(receiver, form(token).encode())
    assert (status, headers["cache-control"], payload) == ("200 OK", "no-store", b"")
    assert sessions.active == set()
    assert wsgi_call(receiver, form(token).encode())[0] == "400 Bad Request"  # replayed
    assert wsgi_call(receiver, b"", REQUEST_METHOD="GET")[0] == "405 Method Not Allowed"
    assert wsgi_call(receiver, b"x", CONTENT_LENGTH="many")[0] == "400 Bad Request"
    assert wsgi_call(receiver, b"x", CONTENT_TYPE="text/plain")[0] == "400 Bad Request"

    async def end(event: LogoutEvent) -> None:  # WSGI cannot await it: refused, loudly
        pass

    other_token, _ = logout_token(issuer, person)
    assert wsgi_call(BackchannelLogoutReceiver(verifier, end), form(other_token).encode())[0] == (
        "500 Internal Server Error"
    )


def test_python_api(issuer: Issuer, person: PersonSubject, verifier: Verifier) -> None:
    token, sid = logout_token(issuer, person)
    sessions = Sessions(sid)
    receiver = BackchannelLogoutReceiver(verifier, sessions.end)
    assert receiver.receive(token).session_id == sid
    assert sessions.active == set()
    assert "hall-370502" in repr(receiver)
