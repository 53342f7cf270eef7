"""Pure retry decisions: classification, Retry-After, backoff, budget, breaker, rate limit."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from govlink import VirtualClock
from govlink.sync import (
    BreakerState,
    CircuitBreaker,
    FairShare,
    PlatformError,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
)
from govlink.sync.adapter import (
    classify_status,
    is_retryable_status,
    mask_text,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (425, True), (429, True), (500, True), (503, True), (599, True),
     (400, False), (403, False), (404, False), (409, False), (413, False), (422, False)],
)  # fmt: skip
def test_classification(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable
    error = classify_status(status, {}, now=0.0)
    assert isinstance(error, PlatformError)
    assert error.retryable is retryable
    assert error.status == status


def test_2xx_is_not_a_failure_and_401_asks_for_a_refresh() -> None:
    assert classify_status(200, {}, now=0.0) is None
    assert classify_status(207, {}, now=0.0) is None
    auth = classify_status(401, {}, now=0.0)
    assert auth is not None
    assert auth.reason == "unauthorized"


def test_retry_after_seconds_and_http_date_are_honoured_and_capped() -> None:
    clock = VirtualClock()
    now = clock.time()
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after("100000", now=now, cap=300) == 300.0
    later = now + 90
    date = format_datetime(datetime.fromtimestamp(later, UTC), usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(90, abs=1)
    past = format_datetime(datetime.fromtimestamp(now - 500, UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    for junk in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026 00:00:00 GMT"):
        assert parse_retry_after(junk, now=now) is None
    error = classify_status(503, {"retry-after": "7"}, now=now)
    assert error is not None
    assert error.retry_after == 7.0


def test_outer_backoff_is_full_jitter_capped_and_never_below_retry_after() -> None:
    policy = RetryPolicy(outer_base_delay=1.0, outer_max_delay=60.0, retry_after_cap=120.0)
    rng = random.Random(1)
    for failures in range(1, 30):
        ceiling = min(60.0, 2.0 ** (failures - 1))
        samples = [policy.outer_delay(failures, None, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Full jitter spreads over the whole range, not around the ceiling.
        assert min(samples) < ceiling * 0.2
    assert all(policy.outer_delay(1, 30.0, rng) >= 30.0 for _ in range(50))
    assert policy.outer_delay(1, 10_000.0, rng) == 120.0


def test_inner_loop_leaves_long_retry_after_to_the_outer_loop() -> None:
    policy = RetryPolicy(inner_max_delay=1.0)
    assert policy.inner_may_wait(None)
    assert policy.inner_may_wait(0.5)
    assert not policy.inner_may_wait(60)
    rng = random.Random(2)
    assert all(0 <= policy.inner_delay(n, None, rng) <= 1.0 for n in range(1, 10))
    with pytest.raises(ValueError, match="inner_attempts"):
        RetryPolicy(inner_attempts=0)


def test_retry_budget_allows_a_share_of_requests_plus_a_floor() -> None:
    clock = VirtualClock()
    budget = RetryBudget(clock, ratio=0.1, floor_per_second=0.0, capacity=5)
    assert sum(budget.try_retry() for _ in range(20)) == 5  # the initial capacity
    for _ in range(100):
        budget.record_request()
    assert sum(budget.try_retry() for _ in range(100)) == 5  # capped at capacity
    for _ in range(30):
        budget.record_request()
    assert sum(budget.try_retry() for _ in range(100)) == 3  # 10% of 30
    assert budget.refused > 0
    floor = RetryBudget(clock, ratio=0.0, floor_per_second=0.5, capacity=1)
    assert floor.try_retry()
    assert not floor.try_retry()
    clock.advance(2)
    assert floor.try_retry()


def test_breaker_opens_probes_slowly_and_closes() -> None:
    clock = VirtualClock()
    breaker = CircuitBreaker(
        clock, failure_threshold=3, base_cooldown=2, max_cooldown=16, probe_batch=5,
        rng=random.Random(0),
    )  # fmt: skip
    for _ in range(2):
        breaker.record_failure()
    assert breaker.admit() is None
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.admit() == 0
    cooldowns = []
    for _ in range(6):
        wait = breaker.wait_time()
        cooldowns.append(wait)
        clock.advance(wait)
        assert breaker.admit() == 5  # one probe, of at most probe_batch entries
        assert breaker.state is BreakerState.HALF_OPEN
        assert breaker.admit() == 0  # only one probe at a time
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN
    assert cooldowns[0] < cooldowns[1] < cooldowns[2]
    assert max(cooldowns) <= 16 * 1.2
    clock.advance(breaker.wait_time())
    assert breaker.admit() == 5
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit() is None
    assert breaker.probes == 7


def test_breaker_survives_a_days_long_outage() -> None:
    # Thousands of openings (a probe failing every cooldown for days) must not overflow the
    # exponential cooldown; it stays at its cap.
    clock = VirtualClock()
    breaker = CircuitBreaker(clock, failure_threshold=1, base_cooldown=2, max_cooldown=120)
    for _ in range(3000):
        breaker.record_failure()
        clock.advance(breaker.wait_time())
        assert breaker.admit() is not None
    assert breaker.times_opened == 3000
    breaker.record_failure()  # the probe admitted last fails too
    assert 120 <= breaker.wait_time() <= 120 * 1.2


def test_rate_limiter_spaces_requests_to_the_quota() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(clock, 10.0, burst=2)
    waits = []
    for _ in range(12):
        wait = limiter.reserve()
        waits.append(wait)
        clock.advance(wait)
    assert waits[:2] == [0.0, 0.0]
    assert sum(waits) == pytest.approx(1.0)
    assert RateLimiter(clock, None).reserve() == 0.0


def test_fair_share_splits_by_weight_and_rotates_the_remainder() -> None:
    fair = FairShare({"B": 2})
    assert fair.split(["A", "B"], 9) in ({"A": 3, "B": 6},)
    counts = {"A": 0, "B": 0, "C": 0}
    plain = FairShare()
    for _ in range(30):
        for hall, n in plain.split(["A", "B", "C"], 1).items():
            counts[hall] += n
    assert counts == {"A": 10, "B": 10, "C": 10}
    assert plain.split([], 10) == {}


def test_mask_text_hides_id_numbers_and_phones() -> None:
    text = mask_text("applicant 370502199001011234 phone 13912345678 case 2026030200017")
    assert "370502199001011234" not in text
    assert "13912345678" not in text
    assert "2026030200017" in text
