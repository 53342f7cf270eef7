"""Revocations by token (``jti``), session (``sid``) and subject (``sub``), in the store.

Verifiers consult a :class:`RevocationRegistry` on every verification: the lookup is an
in-memory set/dict check, and the registry re-reads the store only when the store's revocation
epoch moved. ``epoch`` changes on every revocation, which is what invalidates the verifiers'
verified-token caches.

How soon another process sees a revocation (the documented bound, 1 s):

* **SQLite** (one machine): the epoch row is polled at most every ``poll_interval`` (1 s) seconds,
  on the next verification — one indexed read.
* **PostgreSQL**, after :meth:`RevocationRegistry.start_listening` (the identity provider does):
  every revocation also sends ``NOTIFY govlink_identity_revocations`` in its transaction, and a
  dedicated listening connection marks the registry stale the moment it arrives, so the next
  verification reloads. Polling then only backs the listener up (every ``listen_backstop``
  seconds); while the listening connection is down, the 1 s poll applies again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Final, Literal

from .._clock import Clock, system_clock
from ..store import Connection, Store
from ._schema import ensure_schema

__all__ = ["RevocationRegistry"]

RevocationKind = Literal["jti", "sid", "sub"]
_EPOCH: Final = "revocation_epoch"
#: The PostgreSQL notification channel of revocations (payload: the new epoch).
CHANNEL: Final = "govlink_identity_revocations"
_log = logging.getLogger("govlink.identity.revocation")


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
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        poll_interval: float = 1.0,
        listen_backstop: float = 30.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.poll_interval = poll_interval
        self.listen_backstop = listen_backstop
        self._stale = False
        self._listening = False
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        #: Set on every notification received (tests wait on it instead of sleeping).
        self.notified = threading.Event()
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
        interval = self.listen_backstop if self._listening else self.poll_interval
        if self._stale or self.clock.monotonic() - self._polled >= interval:
            self._stale = False
            self._reload()
        return self._epoch

    @property
    def listening(self) -> bool:
        """Whether a PostgreSQL listening connection is up (revocations arrive at once)."""
        return self._listening

    def start_listening(self) -> bool:
        """On PostgreSQL, listen for revocations on a dedicated connection (a daemon thread);
        returns whether it started (False on SQLite, where the 1 s poll is the bound)."""
        if self.store.dialect != "postgresql" or self._listener is not None:
            return self._listener is not None
        self._stop.clear()
        self._listener = threading.Thread(
            target=self._listen, name="govlink-revocation-listener", daemon=True
        )
        self._listener.start()
        return True

    def stop_listening(self) -> None:
        """Stop the listening thread (within about a second) and close its connection."""
        thread, self._listener = self._listener, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5.0)
        self._listening = False

    def _listen(self) -> None:
        import psycopg  # only reached on PostgreSQL, where the store already imported it

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.store.url, autocommit=True, connect_timeout=5) as raw:
                    raw.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    self._stale = True  # whatever happened while nobody listened
                    while not self._stop.is_set():
                        # Wake at least every second to notice stop_listening().
                        for _ in raw.notifies(timeout=1.0):
                            self._stale = True
                            self.notified.set()
            except psycopg.Error as exc:
                _log.warning("revocation listener lost its connection (%s); polling", exc)
            finally:
                self._listening = False
            self._stop.wait(1.0)

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
        epoch = _bump_epoch(conn)
        if conn.dialect == "postgresql":
            # Delivered at commit, to every listening provider process.
            conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, str(epoch)))
        return epoch

    def __repr__(self) -> str:
        return (
            f"RevocationRegistry(epoch={self._epoch}, jti={len(self._jti)}, "
            f"sid={len(self._sid)}, sub={len(self._sub)})"
        )
