"""Revocations by token (``jti``), session (``sid``) and subject (``sub``), in the store.

Verifiers consult a :class:`RevocationRegistry` on every verification: the lookup is an
in-memory set/dict check, and the registry re-reads the store only when the store's revocation
epoch moved (polled at most every ``poll_interval`` seconds), so revocations made by another
process reach every hall within that interval. ``epoch`` changes on every revocation, which is
what invalidates the verifiers' verified-token caches.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final, Literal

from .._clock import Clock, system_clock
from ..store import Connection, Store
from ._schema import ensure_schema

__all__ = ["RevocationRegistry"]

RevocationKind = Literal["jti", "sid", "sub"]
_EPOCH: Final = "revocation_epoch"


_INCREMENT = (
    "UPDATE identity_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE name = ?"
)


def _bump_epoch(conn: Connection) -> int:
    # One atomic UPDATE (a row lock on PostgreSQL): concurrent revocations in several
    # processes never collapse into one epoch step that a poller could miss.
    if conn.execute(_INCREMENT, (_EPOCH,)).rowcount == 0:
        conn.execute(
            "INSERT INTO identity_meta (name, value) VALUES (?, '0') ON CONFLICT (name) DO NOTHING",
            (_EPOCH,),
        )
        conn.execute(_INCREMENT, (_EPOCH,))
    return int(conn.scalar("SELECT value FROM identity_meta WHERE name = ?", (_EPOCH,)))


class RevocationRegistry:
    """What has been revoked, as seen by one process. Implements ``RevocationCheck``."""

    def __init__(
        self, store: Store, *, clock: Clock = system_clock, poll_interval: float = 2.0
    ) -> None:
        self.store = store
        self.clock = clock
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._jti: dict[str, float] = {}
        self._sid: dict[str, float] = {}
        self._sub: dict[str, float] = {}
        self._epoch = -1
        self._polled = float("-inf")
        ensure_schema(store)
        self._reload()

    @property
    def epoch(self) -> int:
        """Changes whenever anything is revoked (here or, after a poll, elsewhere)."""
        if self.clock.monotonic() - self._polled >= self.poll_interval:
            self._reload()
        return self._epoch

    def _reload(self) -> None:
        with self.store.transaction(write=False) as conn:
            stored = int(
                conn.scalar("SELECT value FROM identity_meta WHERE name = ?", (_EPOCH,)) or 0
            )
            self._polled = self.clock.monotonic()
            if stored == self._epoch:
                return
            now = self.clock.time()
            rows = conn.fetchall(
                "SELECT kind, value, not_before FROM identity_revocations WHERE expires_at > ?",
                (now,),
            )
        tables: dict[str, dict[str, float]] = {"jti": {}, "sid": {}, "sub": {}}
        for kind, value, not_before in rows:
            tables[kind][value] = float(not_before)
        with self._lock:
            self._jti, self._sid, self._sub = tables["jti"], tables["sid"], tables["sub"]
            self._epoch = stored

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """Whether the token's ``jti``, its session ``sid`` or its subject was revoked
        (a subject revocation covers tokens issued at or before it)."""
        if self._jti and claims.get("jti") in self._jti:
            return True
        if self._sid and claims.get("sid") in self._sid:
            return True
        if self._sub:
            before = self._sub.get(claims.get("sub"))  # type: ignore[arg-type]
            if before is not None and claims.get("iat", 0) <= before:
                return True
        return False

    def revoke(
        self,
        kind: RevocationKind,
        value: str,
        *,
        expires_at: float,
        conn: Connection | None = None,
    ) -> None:
        """Record a revocation, kept until ``expires_at`` (when nothing it covers can be valid
        any more). Pass ``conn`` to make it part of a larger transaction."""
        now = self.clock.time()
        if conn is None:
            with self.store.transaction() as own:
                epoch = self._write(own, kind, value, now, expires_at)
        else:
            epoch = self._write(conn, kind, value, now, expires_at)
        with self._lock:
            {"jti": self._jti, "sid": self._sid, "sub": self._sub}[kind][value] = now
            self._epoch = epoch

    def _write(self, conn: Connection, kind: str, value: str, now: float, expires_at: float) -> int:
        conn.execute(
            "INSERT INTO identity_revocations (kind, value, not_before, expires_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (kind, value) DO UPDATE SET "
            "not_before = excluded.not_before, expires_at = excluded.expires_at",
            (kind, value, now, expires_at),
        )
        conn.execute("DELETE FROM identity_revocations WHERE expires_at < ?", (now,))
        return _bump_epoch(conn)

    def __repr__(self) -> str:
        return (
            f"RevocationRegistry(epoch={self._epoch}, jti={len(self._jti)}, "
            f"sid={len(self._sid)}, sub={len(self._sub)})"
        )
