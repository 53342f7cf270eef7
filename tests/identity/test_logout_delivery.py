"""Back-channel logout delivered (issue 10, point 5): from the store, retried with backoff until
a 2xx or until the logout token expires, surviving a restart; the status shows what is pending
or failed; logs name the hall, never the token."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx as real_httpx
import pytest

from govlink import VirtualClock
from govlink.cli import main
from govlink.identity import Issuer, LogoutOutbox, PersonSubject
from govlink.store import SQLiteStore

pytestmark = pytest.mark.anyio
HALL_A, HALL_B = "hall-370502", "hall-370503"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Hall:
    """A hall's back-channel endpoint that answers ``statuses`` in turn (then the last)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[str, bytes]] = []

    def __call__(self, request: real_httpx.Request) -> real_httpx.Response:
        self.received.append((str(request.url), request.content))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return real_httpx.Response(status)


def logged_out(issuer: Issuer, person: PersonSubject) -> int:
    signed = issuer.sign_in(person, client=HALL_A, acr=3)
    issuer.tokens_for(signed.session.sid, HALL_B)
    notices = issuer.logout(signed.session.sid)
    return LogoutOutbox(issuer.store, clock=issuer.clock).enqueue(notices)


async def test_retried_with_backoff_until_delivered(
    issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock
) -> None:
    assert logged_out(issuer, person) == 2
    hall = Hall(503, 503, 503, 200)
    outbox = LogoutOutbox(
        issuer.store, clock=virtual_clock, transport=real_httpx.MockTransport(hall)
    )
    assert await outbox.deliver_due() == 0  # both refused once
    pending = outbox.status()
    assert {(r.state, r.attempts) for r in pending} == {("pending", 1)}
    assert await outbox.deliver_due() == 0  # not due yet: backoff
    virtual_clock.advance(1.0)
    assert await outbox.deliver_due() == 1  # one 503 more, one 200
    virtual_clock.advance(2.0)
    assert await outbox.deliver_due() == 1
    assert outbox.status() == []
    assert [r.state for r in outbox.status(include_delivered=True)] == ["delivered"] * 2
    urls = {url for url, _ in hall.received}
    assert urls == {
        "https://370502.hall.example/backchannel-logout",
        "https://370503.hall.example/backchannel-logout",
    }
    assert all(body.startswith(b"logout_token=") for _, body in hall.received)


async def test_a_restart_does_not_drop_a_notice(
    issuer: Issuer, person: PersonSubject, virtual_clock: VirtualClock, sqlite_store: SQLiteStore
) -> None:
    logged_out(issuer, person)
    restarted = SQLiteStore(sqlite_store.path)  # a new process on the same store
    try:
        hall = Hall(200)
        outbox = LogoutOutbox(
            restarted, clock=virtual_clock, transport=real_httpx.MockTransport(hall)
        )
        assert await outbox.deliver_due() == 2
    finally:
        restarted.close()


async def test_given_up_when_the_token_expires_and_logged_without_it(
    issuer: Issuer,
    person: PersonSubject,
    virtual_clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged_out(issuer, person)
    outbox = LogoutOutbox(
        issuer.store, clock=virtual_clock, transport=real_httpx.MockTransport(Hall(500))
    )
    caplog.set_level(logging.INFO, logger="govlink.identity.logout")
    for _ in range(12):
        await outbox.deliver_due()
        virtual_clock.advance(30.0)
    failed = outbox.status()
    assert [r.state for r in failed] == ["failed", "failed"]
    assert all(r.last_error == "HTTP 500" for r in failed)
    assert "giving up" in caplog.text
    assert HALL_A in caplog.text
    assert "eyJ" not in caplog.text  # no token (a JWS header starts eyJ) in any log line


def test_logout_status_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store_path = tmp_path / "govlink.db"
    monkeypatch.setenv("GOVLINK_STORE", f"sqlite:///{store_path}")
    monkeypatch.setenv("GOVLINK_HOME", str(tmp_path))
    assert main(["idp", "logout-status"]) == 0
    assert "no back-channel logout pending" in capsys.readouterr().out
    store = SQLiteStore(store_path)
    try:
        outbox = LogoutOutbox(store)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO identity_logout_deliveries (delivery_id, client_id, uri, "
                "logout_token, expires_at, next_at, attempts, state, last_error) "
                "VALUES ('d1', ?, 'https://x.example/bcl', 'secret-token', 1e10, 0, 3, "
                "'pending', 'HTTP 503')",
                (HALL_A,),
            )
        assert len(outbox.status()) == 1
    finally:
        store.close()
    assert main(["idp", "logout-status"]) == 0
    out = capsys.readouterr().out
    assert HALL_A in out
    assert "HTTP 503" in out
    assert "secret-token" not in out
    assert main(["idp", "logout-status", "--json"]) == 0
    assert '"state": "pending"' in capsys.readouterr().out
