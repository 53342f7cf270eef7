"""A remote issuer's JWKS, fetched with httpx (sync and async), cached with care.

Behaviour (decided in shared code; the sync and async drivers only do the I/O):

* **cache lifetime** — keys fetched less than ``lifetime`` ago are used without any request;
* **cooldown** — at most one fetch per ``cooldown`` seconds, whatever triggers it, so a flood of
  tokens with random unknown ``kid`` values cannot turn the verifier into a request amplifier;
* **negative cache** — a ``kid`` still unknown after a fetch is remembered as unknown;
* **single flight** — one fetch in flight; concurrent callers wait for it and share its result;
* **last-known-good** — every good JWKS is persisted in the store; while the issuer is
  unreachable the last good keys keep verifying for ``stale_bound`` seconds after they were
  fetched, then :class:`~govlink.identity.JWKSUnavailable` says so clearly;
* **timeouts** on every request, and a size limit on the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._clock import Clock, system_clock
from ..metrics import IdentityRecorder
from ..store import Store
from ._errors import IdentityError, JWKSUnavailable, KeyRingError
from ._jose import VerificationKey, loads_strict
from ._schema import ensure_schema

if TYPE_CHECKING:
    from .._http import httpx

__all__ = ["JWKSCachePolicy", "RemoteJWKS"]

log = logging.getLogger("govlink.identity.jwks")


@dataclass(frozen=True, slots=True)
class JWKSCachePolicy:
    """Seconds (and bytes) that govern a :class:`RemoteJWKS`."""

    lifetime: float = 300.0
    cooldown: float = 30.0
    negative_ttl: float = 300.0
    stale_bound: float = 24 * 3600.0
    timeout: float = 5.0
    max_bytes: int = 256 * 1024


class _FetchFailed(Exception):
    pass


class RemoteJWKS:
    """The key source of a remote trusted issuer (implements ``KeySource``).

    ``store`` (optional) keeps the last-known-good JWKS across restarts. ``client`` /
    ``async_client`` are httpx clients to use (tests pass ones with a mock transport);
    by default each driver makes its own with the policy's timeout. ``metrics``: told about
    each fetch (``ok`` or ``error``), e.g. a :class:`govlink.metrics.IdentityMetrics`.
    """

    def __init__(
        self,
        url: str,
        *,
        store: Store | None = None,
        clock: Clock = system_clock,
        policy: JWKSCachePolicy | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        metrics: IdentityRecorder | None = None,
    ) -> None:
        self.url = url
        self.metrics = metrics if metrics is not None else IdentityRecorder()
        self.store = store
        self.clock = clock
        self.policy = policy or JWKSCachePolicy()
        self._client = client
        self._async_client = async_client
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt = float("-inf")
        self._negative: dict[str, float] = {}
        self._last_error: str | None = None
        self._cond = threading.Condition()
        self._inflight = False
        self._afetch: asyncio.Future[None] | None = None
        #: Number of HTTP requests made (for operators' metrics and tests).
        self.fetch_count = 0
        if store is not None:
            ensure_schema(store)
            self._load_persisted()

    # -- persistence -------------------------------------------------------------------------

    def _load_persisted(self) -> None:
        assert self.store is not None
        with self.store.transaction(write=False) as conn:
            row = conn.fetchone(
                "SELECT jwks, fetched_at FROM identity_jwks_cache WHERE url = ?", (self.url,)
            )
        if row is not None:
            try:
                self._keys = self._parse_keys(json.loads(row[0]))
                self._fetched_at = float(row[1])
            except _FetchFailed:
                log.warning("persisted JWKS of %s is unusable; ignoring it", self.url)

    def _persist(self, data: Mapping[str, Any], fetched_at: float) -> None:
        if self.store is None:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO identity_jwks_cache (url, jwks, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET jwks = excluded.jwks, "
                "fetched_at = excluded.fetched_at",
                (self.url, json.dumps(data), fetched_at),
            )

    # -- decisions (no I/O) ------------------------------------------------------------------

    def _fresh(self) -> bool:
        return (
            self._fetched_at is not None
            and self.clock.time() - self._fetched_at < self.policy.lifetime
        )

    def _may_fetch(self) -> bool:
        return self.clock.monotonic() - self._last_attempt >= self.policy.cooldown

    def lookup(self, kid: str) -> VerificationKey | None:
        """The key if the cached JWKS is fresh and has it; never any I/O."""
        return self._keys.get(kid) if self._fresh() else None

    def _wants_fetch(self, kid: str) -> bool:
        """Whether the cached keys cannot answer for ``kid`` (the refresh decides, under its
        lock, whether a fetch may actually happen or one is already in flight)."""
        if self._fresh():
            if kid in self._keys:
                return False
            until = self._negative.get(kid)
            if until is not None and until > self.clock.time():
                return False
        return True

    def _after(self, kid: str) -> VerificationKey | None:
        """The answer once any fetch is done: fresh keys, last-known-good, or an error."""
        now = self.clock.time()
        if self._fresh():
            key = self._keys.get(kid)
            if key is None:
                if len(self._negative) > 10_000:
                    self._negative = {k: v for k, v in self._negative.items() if v > now}
                self._negative[kid] = now + self.policy.negative_ttl
            return key
        if self._fetched_at is not None and now - self._fetched_at <= self.policy.stale_bound:
            return self._keys.get(kid)
        since = (
            "never fetched"
            if self._fetched_at is None
            else f"last good copy {now - self._fetched_at:.0f}s old, bound "
            f"{self.policy.stale_bound:.0f}s"
        )
        raise JWKSUnavailable(
            f"JWKS of {self.url} unavailable ({self._last_error or 'not fetched yet'}; {since})"
        )

    def _parse_keys(self, data: Any) -> dict[str, VerificationKey]:
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise _FetchFailed("not a JWKS (no keys list)")
        keys: dict[str, VerificationKey] = {}
        for entry in data["keys"]:
            if not isinstance(entry, dict):
                continue
            try:
                key = VerificationKey.from_jwk(entry)
            except KeyRingError as exc:
                log.warning("JWKS of %s: key skipped: %s", self.url, exc.message)
                continue
            keys[key.kid] = key
        if not keys:
            raise _FetchFailed("JWKS has no usable signing key")
        return keys

    def _accept(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise _FetchFailed(f"HTTP {response.status_code}")
        if len(response.content) > self.policy.max_bytes:
            raise _FetchFailed(f"JWKS larger than {self.policy.max_bytes} bytes")
        try:
            data = loads_strict(response.content, "JWKS")
        except IdentityError as exc:
            raise _FetchFailed(exc.message) from None
        keys = self._parse_keys(data)
        now = self.clock.time()
        self._keys = keys
        self._fetched_at = now
        self._negative.clear()
        self._last_error = None
        self._persist(data, now)
        self.metrics.jwks_fetch("ok")

    def _failed(self, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, _FetchFailed) else type(exc).__name__
        self._last_error = f"fetch failed: {reason}"
        log.warning("JWKS of %s: %s", self.url, self._last_error)
        self.metrics.jwks_fetch("error")

    # -- sync driver -------------------------------------------------------------------------

    def get_key(self, kid: str) -> VerificationKey | None:
        """The key with ``kid``, fetching when the decisions above allow.

        Raises:
            JWKSUnavailable: no fresh keys and the last good copy is too old (or absent).
        """
        if self._wants_fetch(kid):
            self.refresh()
        return self._after(kid)

    def refresh(self) -> None:
        """Fetch now (subject to the cooldown and single flight)."""
        with self._cond:
            if self._inflight:
                while self._inflight:
                    self._cond.wait(self.policy.timeout * 2)
                return
            if not self._may_fetch():
                return
            self._inflight = True
            self._last_attempt = self.clock.monotonic()
        # Imported here so that verifying with a local key ring never loads the HTTP stack.
        from .._http import httpx

        try:
            self.fetch_count += 1
            client = self._client
            if client is None:
                with httpx.Client(timeout=self.policy.timeout) as own:
                    response = own.get(self.url)
            else:
                response = client.get(self.url, timeout=self.policy.timeout)
            self._accept(response)
        except (httpx.HTTPError, _FetchFailed) as exc:
            self._failed(exc)
        finally:
            with self._cond:
                self._inflight = False
                self._cond.notify_all()

    # -- async driver ------------------------------------------------------------------------

    async def aget_key(self, kid: str) -> VerificationKey | None:
        """Async :meth:`get_key`."""
        if self._wants_fetch(kid):
            await self.arefresh()
        return self._after(kid)

    async def arefresh(self) -> None:
        """Async :meth:`refresh`: concurrent callers share one request."""
        if self._afetch is not None:
            await asyncio.shield(self._afetch)
            return
        if not self._may_fetch():
            return
        self._last_attempt = self.clock.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._afetch = future
        from .._http import httpx

        try:
            self.fetch_count += 1
            client = self._async_client
            if client is None:
                async with httpx.AsyncClient(timeout=self.policy.timeout) as own:
                    response = await own.get(self.url)
            else:
                response = await client.get(self.url, timeout=self.policy.timeout)
            self._accept(response)
        except (httpx.HTTPError, _FetchFailed) as exc:
            self._failed(exc)
        finally:
            self._afetch = None
            future.set_result(None)

    def __repr__(self) -> str:
        return f"RemoteJWKS({self.url!r}, keys={len(self._keys)})"
