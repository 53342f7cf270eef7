from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from govlink import CHINA_TZ, Clock, SystemClock, VirtualClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(VirtualClock(), Clock)


def test_virtual_clock_default_start_is_a_monday_morning_in_china() -> None:
    now = VirtualClock().now()
    assert now.tzinfo is UTC
    local = now.astimezone(CHINA_TZ)
    assert (local.year, local.month, local.day, local.hour) == (2026, 3, 2, 9)
    assert local.weekday() == 0


def test_virtual_clock_moves_only_forward_and_sleep_advances() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    t0, m0 = clock.time(), clock.monotonic()
    clock.sleep(4 * 3600)
    clock.advance(timedelta(days=30))
    assert clock.time() - t0 == 4 * 3600 + 30 * 86400
    assert clock.monotonic() - m0 == clock.time() - t0
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="forward"):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)


def test_virtual_clock_asleep_advances_without_waiting() -> None:
    clock = VirtualClock()
    start = clock.time()

    async def main() -> None:
        await clock.asleep(3600)

    asyncio.run(main())
    assert clock.time() - start == 3600


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
