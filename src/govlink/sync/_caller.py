"""The short-retry driver: every call to the platform goes through one :class:`PlatformCaller`.

One object per adapter owns everything that stands between a request and the platform::

    rate limit ──> breaker / Retry-After hold ──> adapter.send ──> decode
        ^                                                           │
        └── tenacity (injected clock, budgeted, full jitter) <── retryable PlatformError
                                  401 ──> adapter.refresh_credentials() once, then resend

The dispatcher (case events and catalog pushes) and the catalog digest reads
(:func:`govlink.sync.fetch_catalog_digest`) use it, so every request to the platform is rate
limited, counted against the endpoint's retry budget and circuit breaker, and honours a
platform-wide ``Retry-After``. Every decision is made by the pure objects of
:mod:`govlink.sync._policy`; this module only drives them. There is one driver, async, because
every adapter's ``send`` is async (httpx's ``AsyncClient``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from .._clock import Clock, system_clock
from .._errors import ConfigError
from ..metrics import SyncRecorder
from ._adapter import ProvinceAdapter, WireRequest, WireResponse
from ._errors import PlatformAuthError, PlatformError, PlatformRefused
from ._policy import BreakerState, CircuitBreaker, RateLimiter, RetryBudget, RetryPolicy

__all__ = ["CallAnswer", "EndpointGuard", "PlatformCaller", "SyncCounters"]

_T = TypeVar("_T")


@dataclass
class SyncCounters:
    """What the dispatcher and its caller did (``govlink sync run`` prints these)."""

    requests: int = 0
    sent: int = 0
    acknowledged: int = 0
    applied: int = 0
    duplicates: int = 0
    retried: int = 0
    parked: int = 0
    failed_requests: int = 0
    inner_retries: int = 0
    budget_refused: int = 0
    token_refreshes: int = 0
    breaker_opened: int = 0
    probes: int = 0
    purged: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "retried": self.retried,
            "parked": self.parked,
            "failed_requests": self.failed_requests,
            "inner_retries": self.inner_retries,
            "budget_refused": self.budget_refused,
            "token_refreshes": self.token_refreshes,
            "breaker_opened": self.breaker_opened,
            "probes": self.probes,
            "purged": self.purged,
        }


@dataclass(slots=True)
class EndpointGuard:
    """The circuit breaker and retry budget of one platform endpoint."""

    breaker: CircuitBreaker
    budget: RetryBudget


@dataclass(frozen=True, slots=True)
class CallAnswer(Generic[_T]):
    """A successful call: the decoded ``value`` and the ``response`` it was read from."""

    value: _T
    response: WireResponse


class PlatformCaller:
    """Sends requests through one adapter with the in-process retry and every protection.

    ``policy`` gives the inner loop's numbers (:class:`RetryPolicy`); ``rate_limit`` is in
    requests per second (default: the adapter's ``requests_per_second``); ``breaker`` and
    ``budget`` are factories per endpoint (for tuning and tests); ``counters`` is shared with
    the dispatcher when it owns this caller. ``metrics``: the recorder told about each HTTP
    attempt (latency and outcome, with an OpenTelemetry client span when the ``otel`` extra is
    installed) and about the endpoint's breaker and budget after it (default: the no-op
    :class:`~govlink.metrics.SyncRecorder`).

    Raises:
        ConfigError: a rate limit (given, or the adapter's) that is not a positive number.
    """

    def __init__(
        self,
        adapter: ProvinceAdapter,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        rate_limit: float | None = None,
        breaker: Callable[[Clock], CircuitBreaker] | None = None,
        budget: Callable[[Clock], RetryBudget] | None = None,
        rng: random.Random | None = None,
        counters: SyncCounters | None = None,
        metrics: SyncRecorder | None = None,
    ) -> None:
        self.adapter = adapter
        self.metrics = metrics if metrics is not None else SyncRecorder()
        # The span's url.full: the adapter's base URL when it has one (both bundled ones do).
        base = getattr(adapter, "base_url", None)
        self._base_url = base.rstrip("/") if isinstance(base, str) else None
        self.clock = clock or system_clock
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        rate = rate_limit if rate_limit is not None else adapter.requests_per_second
        if rate is not None and (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ConfigError(
                f"rate limit {rate!r}: must be a positive number of requests per second "
                "(--rate-limit, or the adapter's requests_per_second setting)"
            )
        self.limiter = RateLimiter(self.clock, rate)
        self.counters = counters if counters is not None else SyncCounters()
        self._make_breaker = breaker or (lambda c: CircuitBreaker(c, rng=self.rng))
        self._make_budget = budget or (lambda c: RetryBudget(c))
        self._guards: dict[str, EndpointGuard] = {}

    def guard(self, endpoint: str) -> EndpointGuard:
        """The breaker and budget of ``endpoint`` (created on first use)."""
        guard = self._guards.get(endpoint)
        if guard is None:
            guard = EndpointGuard(self._make_breaker(self.clock), self._make_budget(self.clock))
            self._guards[endpoint] = guard
        return guard

    @property
    def guards(self) -> dict[str, EndpointGuard]:
        """Every endpoint's guard created so far, by endpoint name."""
        return dict(self._guards)

    async def call(
        self, request: WireRequest, decode: Callable[[WireResponse], _T]
    ) -> CallAnswer[_T]:
        """Send ``request`` and decode the answer, retrying in process where that may help.

        The inner loop stops at the policy's attempt limit, at a Retry-After longer than the
        inner loop may wait, when the endpoint's breaker is not closed or its budget is spent.
        A 401 refreshes the adapter's credentials once and resends at once (not a retry). A
        whole-request ``Retry-After`` holds the endpoint: no request to it leaves this caller
        before the time is up.

        Raises:
            PlatformRefused: (also :class:`PlatformAuthError`) retrying cannot help; the
                caller should stop and say what to fix.
            PlatformError: the last failure when the retries end (``retryable`` says whether
                the request may succeed later; ``retry_after`` when the platform asked).
        """
        guard = self.guard(request.endpoint)
        breaker = guard.breaker
        policy = self.policy
        counters = self.counters
        refreshed = False

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, PlatformError) or not exc.retryable:
                return False
            if exc.reason in ("unauthorized", "held"):
                return False
            if not policy.inner_may_wait(exc.retry_after):
                return False  # a long Retry-After is the outer loop's job
            if breaker.state is not BreakerState.CLOSED:
                return False  # an open breaker (or a failed probe) ends the inner loop
            if not guard.budget.try_retry():
                counters.budget_refused += 1
                return False
            counters.inner_retries += 1
            return True

        def wait(retry_state: RetryCallState) -> float:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            retry_after = exc.retry_after if isinstance(exc, PlatformError) else None
            return policy.inner_delay(retry_state.attempt_number, retry_after, self.rng)

        async def attempt() -> CallAnswer[_T]:
            nonlocal refreshed
            held = breaker.held_for()
            if held > 0:
                # Another request to this endpoint was told to wait (Retry-After): this one
                # waits too, without reaching the platform.
                raise PlatformError(
                    f"{request.endpoint}: held for {held:.1f} s at the platform's request",
                    retryable=True,
                    retry_after=held,
                    reason="held",
                )
            delay = self.limiter.reserve()
            if delay > 0:
                await self.clock.asleep(delay)
            counters.requests += 1
            url = self._base_url + request.path if self._base_url is not None else None
            try:
                try:
                    with self.metrics.request(request.endpoint, request.method, url) as observed:
                        response = await self.adapter.send(request)
                        observed.set_status(response.status)
                    value = decode(response)
                except PlatformError as exc:
                    failure = exc
                    if failure.reason == "unauthorized" and not refreshed:
                        counters.token_refreshes += 1
                        try:
                            await self.adapter.refresh_credentials()
                        except PlatformError as refresh_failure:
                            failure = refresh_failure
                        else:
                            refreshed = True
                            return await attempt()  # the resend after a refresh is not a retry
                    raise self._record_failure(guard, failure) from None
                breaker.record_success()
            finally:
                # After the breaker saw the outcome: the gauge shows the state it is in now.
                self.metrics.endpoint_health(request.endpoint, breaker, guard.budget)
            return CallAnswer(value, response)

        guard.budget.record_request()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.inner_attempts),
            wait=wait,
            retry=retry_if_exception(should_retry),
            sleep=self.clock.asleep,
            reraise=True,
        )
        try:
            async for try_ in retrying:
                with try_:
                    return await attempt()
        finally:
            # Once more when the retries end: a retry the budget refused is counted after the
            # attempt that asked for it.
            self.metrics.endpoint_health(request.endpoint, breaker, guard.budget)
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def _record_failure(self, guard: EndpointGuard, failure: PlatformError) -> PlatformError:
        """Update the breaker for a failed send; the error to raise."""
        self.counters.failed_requests += 1
        breaker = guard.breaker
        if failure.reason == "unauthorized" and not isinstance(failure, PlatformRefused):
            # Refused again after the one refresh: no resend can succeed.
            failure = PlatformAuthError(failure.message, fix=failure.fix)
        if isinstance(failure, PlatformRefused):
            breaker.record_success()  # the platform answered (or there is no platform to ask)
            return failure
        if failure.retryable:
            breaker.record_failure()
            if failure.retry_after:
                breaker.hold(failure.retry_after)
            self.counters.breaker_opened = sum(
                g.breaker.times_opened for g in self._guards.values()
            )
        else:
            breaker.record_success()  # the platform answered: it is up
        return failure
