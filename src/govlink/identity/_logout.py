"""Back-channel logout delivered (OIDC Back-Channel Logout 1.0 §2.7), from the store.

Single logout ends the session at once (its tokens are refused everywhere); telling each hall
so that it ends its own local session is this module's job. Each notice is a row in
``identity_logout_deliveries``, written in the same request that ended the session, so a
restart does not drop it. Any provider process delivers due rows: it claims a row (moving its
``next_at`` forward, so two processes do not post the same notice at once), POSTs
``logout_token`` to the hall's ``backchannel_logout_uri``, and on a 2xx marks it delivered;
otherwise it retries with exponential backoff (1 s, 2 s, 4 s ... at most 30 s) until the logout
token expires, and then marks it ``failed``. ``govlink idp logout-status`` shows what is pending
or failed. Logs name the hall and the HTTP status, never the token.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from .._clock import Clock, system_clock
from .._http import httpx
from ..store import Store
from ._issuer import LogoutNotice
from ._jose import b64url_decode, loads_strict
from ._schema import ensure_schema

__all__ = ["LogoutDeliveryStatus", "LogoutOutbox"]

_log = logging.getLogger("govlink.identity.logout")
_CLAIM_LEASE: Final = 30.0  # a claimed row is retried by others only if its claimer died
_MAX_BACKOFF: Final = 30.0


@dataclass(frozen=True)
class LogoutDeliveryStatus:
    """One back-channel logout notice and where it stands (no token: for status output)."""

    delivery_id: str
    client_id: str
    state: str  # pending, delivered, failed
    attempts: int
    next_at: float
    expires_at: float
    last_error: str | None


class LogoutOutbox:
    """Back-channel logout notices in the store, delivered with retries by any process."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.transport = transport
        self.timeout = timeout
        ensure_schema(store)

    def enqueue(self, notices: Iterable[LogoutNotice]) -> int:
        """Record the notices of halls that have a back-channel logout URI; returns how many."""
        now = self.clock.time()
        rows = []
        for notice in notices:
            uri = notice.client.backchannel_logout_uri
            if not uri:
                continue
            claims = loads_strict(b64url_decode(notice.logout_token.split(".")[1]))
            expires = float(claims.get("exp", now + 120)) if isinstance(claims, dict) else now
            rows.append(
                (
                    uuid.uuid4().hex,
                    notice.client.client_id,
                    uri,
                    notice.logout_token,
                    expires,
                    now,
                )
            )
        if rows:
            with self.store.transaction() as conn:
                conn.executemany(
                    "INSERT INTO identity_logout_deliveries (delivery_id, client_id, uri, "
                    "logout_token, expires_at, next_at, attempts, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, 0, 'pending')",
                    rows,
                )
        return len(rows)

    def _claim(self, limit: int) -> list[tuple[str, str, str, str, int, float]]:
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM identity_logout_deliveries WHERE state = 'delivered' "
                "AND expires_at < ?",
                (now - 86400.0,),
            )
            # Expired notices are failed, not sent: the hall would refuse an expired token.
            expired = conn.fetchall(
                "SELECT client_id, attempts FROM identity_logout_deliveries "
                "WHERE state = 'pending' AND expires_at <= ?",
                (now,),
            )
            conn.execute(
                "UPDATE identity_logout_deliveries SET state = 'failed', "
                "last_error = COALESCE(last_error, 'expired before delivery') "
                "WHERE state = 'pending' AND expires_at <= ?",
                (now,),
            )
            rows = conn.fetchall(
                "SELECT delivery_id, client_id, uri, logout_token, attempts, expires_at "
                "FROM identity_logout_deliveries WHERE state = 'pending' AND next_at <= ? "
                "ORDER BY next_at LIMIT ?",
                (now, limit),
            )
            claimed = []
            for row in rows:
                taken = conn.execute(
                    "UPDATE identity_logout_deliveries SET next_at = ? "
                    "WHERE delivery_id = ? AND state = 'pending' AND next_at <= ?",
                    (now + _CLAIM_LEASE, row[0], now),
                ).rowcount
                if taken == 1:
                    claimed.append((row[0], row[1], row[2], row[3], int(row[4]), float(row[5])))
        for client_id, attempts in expired:
            _log.warning(
                "back-channel logout to %s failed after %d attempts; giving up: the logout "
                "token expired",
                client_id,
                attempts,
            )
        return claimed

    async def deliver_due(self, *, limit: int = 100) -> int:
        """POST every due notice once (claimed first); returns how many were delivered."""
        from starlette.concurrency import run_in_threadpool

        claimed = await run_in_threadpool(self._claim, limit)
        if not claimed:
            return 0
        delivered = 0
        options: dict[str, Any] = {"timeout": self.timeout}
        if self.transport is not None:
            options["transport"] = self.transport
        async with httpx.AsyncClient(**options) as client:
            for delivery_id, client_id, uri, token, attempts, expires_at in claimed:
                error: str | None = None
                try:
                    response = await client.post(uri, data={"logout_token": token})
                    if not 200 <= response.status_code < 300:
                        error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                await run_in_threadpool(
                    self._record, delivery_id, client_id, attempts + 1, expires_at, error
                )
                delivered += error is None
        return delivered

    def _record(
        self, delivery_id: str, client_id: str, attempts: int, expires_at: float, error: str | None
    ) -> None:
        now = self.clock.time()
        with self.store.transaction() as conn:
            if error is None:
                conn.execute(
                    "UPDATE identity_logout_deliveries SET state = 'delivered', attempts = ?, "
                    "delivered_at = ?, logout_token = '' WHERE delivery_id = ?",
                    (attempts, now, delivery_id),
                )
                _log.info("back-channel logout delivered to %s", client_id)
                return
            retry_at = now + min(_MAX_BACKOFF, 2.0 ** (attempts - 1))
            state = "pending" if retry_at < expires_at else "failed"
            conn.execute(
                "UPDATE identity_logout_deliveries SET state = ?, attempts = ?, next_at = ?, "
                "last_error = ? WHERE delivery_id = ?",
                (state, attempts, retry_at, error, delivery_id),
            )
        log = _log.warning if state == "failed" else _log.info
        log(
            "back-channel logout to %s failed (%s, attempt %d)%s",
            client_id,
            error,
            attempts,
            "; giving up: the logout token expires" if state == "failed" else "; will retry",
        )

    def status(self, *, include_delivered: bool = False) -> list[LogoutDeliveryStatus]:
        """The notices not yet delivered (pending, failed), newest first."""
        with self.store.transaction(write=False) as conn:
            rows = conn.fetchall(
                "SELECT delivery_id, client_id, state, attempts, next_at, expires_at, last_error "
                "FROM identity_logout_deliveries WHERE state <> ? ORDER BY expires_at DESC",
                ("-" if include_delivered else "delivered",),
            )
        return [
            LogoutDeliveryStatus(r[0], r[1], r[2], int(r[3]), float(r[4]), float(r[5]), r[6])
            for r in rows
        ]

    def __repr__(self) -> str:
        return f"LogoutOutbox({self.store!r})"
