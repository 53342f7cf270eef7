"""Retry decisions as pure objects: backoff, retry budget, circuit breaker, rate limit, fairness.

Nothing here does I/O or reads the wall clock: every object takes the injected
:class:`govlink.Clock` (or explicit times) and, where randomness is involved, an injectable
``random.Random``. The async dispatcher and the tests drive the same objects.

* :class:`RetryPolicy` — the two loops' numbers: inner attempts and waits (tenacity), outer
  capped exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
  Architecture Blog), Retry-After honoured up to a cap.
* :class:`RetryBudget` — a token bucket per endpoint: each first attempt deposits ``ratio``
  tokens, time deposits ``floor_per_second``; each retry withdraws one. Retries therefore stay
  within ``ratio`` of requests plus a small floor (Finagle's RetryBudget, gRPC retry throttling).
* :class:`CircuitBreaker` — closed / open / half-open per endpoint; while open nothing is sent;
  after a cooldown (growing with each failed probe, capped at 30 s, jittered) one small probe
  goes out. A platform-wide ``Retry-After`` holds the endpoint for that long, whatever the
  state.
* :class:`RateLimiter` — a client-side token bucket matching the platform's request quota.
* :class:`FairShare` — splits a batch between halls by weight (weighted round robin with the
  remainder rotating), so one hall's backlog never starves another's.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._clock import Clock

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "FairShare",
    "RateLimiter",
    "RetryBudget",
    "RetryPolicy",
]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The numbers of both retry loops.

    Inner loop (one dispatch, in memory, tenacity): up to ``inner_attempts`` sends, waiting a
    full-jitter delay between ``0`` and ``min(inner_max_delay, inner_base_delay * 2**n)``; a
    Retry-After longer than ``inner_max_delay`` ends the inner loop (the outer loop waits).

    Outer loop (persisted per lane): the ``n``-th failed dispatch waits a uniform delay in
    ``[0, min(outer_max_delay, outer_base_delay * 2**(n-1))]``, but never less than the
    platform's Retry-After (itself capped at ``retry_after_cap``). Case events are never
    discarded: there is no attempt limit on the outer loop.
    """

    inner_attempts: int = 3
    inner_base_delay: float = 0.05
    inner_max_delay: float = 1.0
    outer_base_delay: float = 1.0
    outer_max_delay: float = 300.0
    retry_after_cap: float = 300.0

    def __post_init__(self) -> None:
        if self.inner_attempts < 1:
            raise ValueError("inner_attempts must be at least 1")
        if min(self.inner_base_delay, self.outer_base_delay) <= 0:
            raise ValueError("base delays must be positive")

    def inner_delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Wait before inner attempt ``attempt + 1`` (``attempt`` >= 1 sends made so far)."""
        ceiling = min(self.inner_max_delay, self.inner_base_delay * 2 ** (attempt - 1))
        delay = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return delay

    def inner_may_wait(self, retry_after: float | None) -> bool:
        """Whether the inner loop may honour this Retry-After (else the outer loop does)."""
        return retry_after is None or retry_after <= self.inner_max_delay

    def outer_delay(
        self,
        failures: int,
        retry_after: float | None,
        rng: random.Random,
        *,
        ceiling: float | None = None,
    ) -> float:
        """Seconds until the next dispatch after the ``failures``-th failed one (>= 1).

        ``ceiling`` lowers the cap for this delay: a lane held back by a failure of the whole
        endpoint waits no longer than the breaker's cooldown, so that it is due again as soon
        as the breaker's probe finds the platform back.
        """
        exponent = min(max(failures - 1, 0), 62)  # 2**62 is already far above any cap
        cap = self.outer_max_delay if ceiling is None else min(self.outer_max_delay, ceiling)
        ceiling = min(cap, self.outer_base_delay * math.ldexp(1.0, exponent))
        delay = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return delay


class RetryBudget:
    """A token bucket that bounds retries to a share of requests plus a floor.

    ``ratio`` tokens are deposited per first attempt, ``floor_per_second`` per second of time
    (so a quiet client can still retry now and then), up to ``capacity``. A retry may go only
    if a whole token can be withdrawn.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ratio: float = 0.1,
        floor_per_second: float = 0.1,
        capacity: float = 20.0,
    ) -> None:
        if ratio < 0 or floor_per_second < 0 or capacity < 1:
            raise ValueError("ratio and floor must be >= 0 and capacity >= 1")
        self._clock = clock
        self.ratio = ratio
        self.floor_per_second = floor_per_second
        self.capacity = capacity
        self._tokens = capacity
        self._at = clock.monotonic()
        self.requests = 0
        self.retries = 0
        self.refused = 0

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._at)
        self._at = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.floor_per_second)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def record_request(self) -> None:
        """A first attempt went out: deposit ``ratio``."""
        self._refill()
        self.requests += 1
        self._tokens = min(self.capacity, self._tokens + self.ratio)

    def try_retry(self) -> bool:
        """Withdraw a token for one retry; ``False`` (and counted) when the budget is spent."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.retries += 1
            return True
        self.refused += 1
        return False


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed / open / half-open for one platform endpoint.

    Closed: requests flow; ``failure_threshold`` consecutive retryable failures open it.
    Open: nothing is sent until ``retry_at``; the cooldown starts at ``base_cooldown`` and
    doubles after each failed probe up to ``max_cooldown`` (jittered by up to +20%, so that
    many workers do not probe in step). Half-open: exactly one probe request at a time, of at
    most ``probe_batch`` entries; its success closes the breaker, its failure reopens it.

    Held (:meth:`hold`): the platform refused a whole request with a ``Retry-After``; nothing
    is admitted until that time has passed, in any state.

    Recovery is bounded: once the platform is back, the next probe leaves within
    ``max_cooldown`` × 1.2 (36 s by default) or at the end of the platform's own Retry-After
    (itself capped by the retry policy), whichever is later; a failed probe never pushes the
    next one further than that, however long the outage was.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        base_cooldown: float = 2.0,
        max_cooldown: float = 30.0,
        probe_batch: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        if failure_threshold < 1 or probe_batch < 1:
            raise ValueError("failure_threshold and probe_batch must be >= 1")
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.base_cooldown = base_cooldown
        self.max_cooldown = max_cooldown
        self.probe_batch = probe_batch
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._opens = 0
        self.retry_at = 0.0
        self._probing = False
        self._held_until = 0.0
        self.times_opened = 0
        self.probes = 0

    def _open(self) -> None:
        # The exponent is capped: a days-long outage opens the breaker thousands of times, and
        # 2.0 ** 1024 overflows a float long after the cooldown has reached its maximum.
        cooldown = min(self.max_cooldown, self.base_cooldown * 2.0 ** min(self._opens, 64))
        cooldown *= 1.0 + 0.2 * self._rng.random()
        self._opens += 1
        self.state = BreakerState.OPEN
        self.retry_at = self._clock.monotonic() + cooldown
        self._probing = False
        self.times_opened += 1

    def admit(self) -> int | None:
        """How many entries the next request may carry: ``None`` = full batch, ``0`` = none now.

        Moves an open breaker whose cooldown has passed to half-open and admits one probe.
        """
        if self.held_for() > 0:
            return 0
        if self.state is BreakerState.CLOSED:
            return None
        if self.state is BreakerState.OPEN:
            if self._clock.monotonic() < self.retry_at:
                return 0
            self.state = BreakerState.HALF_OPEN
        if self._probing:
            return 0
        self._probing = True
        self.probes += 1
        return self.probe_batch

    def wait_time(self) -> float:
        """Seconds until :meth:`admit` may admit something (0 when closed and not held)."""
        held = self.held_for()
        if self.state is BreakerState.OPEN:
            return max(held, self.retry_at - self._clock.monotonic(), 0.0)
        if self.state is BreakerState.HALF_OPEN and self._probing:
            return max(held, 0.05)
        return held

    def hold(self, seconds: float) -> None:
        """The platform asked the whole endpoint to wait ``seconds`` (a Retry-After on a
        response that refused the whole request): admit nothing before then."""
        if seconds > 0:
            self._held_until = max(self._held_until, self._clock.monotonic() + seconds)

    def held_for(self) -> float:
        """Seconds left of a :meth:`hold` (0 when not held)."""
        return max(0.0, self._held_until - self._clock.monotonic())

    def record_success(self) -> None:
        """A request reached the platform and was answered (any per-item outcome)."""
        self._failures = 0
        self._opens = 0
        self._probing = False
        self.state = BreakerState.CLOSED

    def record_failure(self) -> None:
        """A request failed retryably (transport, timeout, 408/425/429/5xx)."""
        if self.state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self.state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._open()

    def release_probe(self) -> None:
        """A probe slot was granted but nothing was sent (nothing to claim)."""
        self._probing = False


class RateLimiter:
    """A token bucket of ``rate`` requests per second with ``burst`` capacity (client side).

    :meth:`reserve` returns how long the caller must wait before its request may go; the
    caller sleeps on its clock. ``rate=None`` means no limit.
    """

    def __init__(self, clock: Clock, rate: float | None, *, burst: float | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        self._clock = clock
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, (rate or 1.0) / 5)
        self._tokens = self.burst
        self._at = clock.monotonic()

    def reserve(self) -> float:
        """Take one token (possibly on credit); seconds to wait before using it."""
        if self.rate is None:
            return 0.0
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate


class FairShare:
    """Split a batch of ``n`` between halls by weight; the remainder rotates between calls.

    ``weights`` maps hall → positive weight (missing halls weigh 1). :meth:`split` gives each
    hall with work ``floor(n * w / W)`` plus one of the leftover slots, handed out round robin
    from a moving start so that small batches are fair over time.
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(weights or {})
        self._turn = 0

    def split(self, halls: Sequence[str], n: int) -> dict[str, int]:
        if not halls or n <= 0:
            return {}
        order = sorted(halls)
        weights = [max(self.weights.get(h, 1.0), 0.0) or 1e-9 for h in order]
        total = sum(weights)
        quotas = {h: int(n * w / total) for h, w in zip(order, weights, strict=True)}
        leftover = n - sum(quotas.values())
        start = self._turn % len(order)
        self._turn += 1
        for i in range(leftover):
            quotas[order[(start + i) % len(order)]] += 1
        return {h: q for h, q in quotas.items() if q > 0}
