"""The one clock every govlink component takes.

Nothing in govlink reads the time directly: components take a :class:`Clock`, so tests and the
mock province run on a :class:`VirtualClock` where a four-hour outage or a 30-day key rollover
passes in microseconds. ``sleep``/``asleep`` on a virtual clock advance it instead of waiting.
"""

from __future__ import annotations

import asyncio
import threading
import time as _time
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["CHINA_TZ", "Clock", "SystemClock", "VirtualClock", "system_clock"]

#: China Standard Time (UTC+8, no daylight saving): the zone in which working days, deadlines
#: and case times are reckoned.
CHINA_TZ = timezone(timedelta(hours=8), "CST")


@runtime_checkable
class Clock(Protocol):
    """What govlink needs to know about time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...

    def time(self) -> float:
        """The current instant as POSIX seconds (what JWT ``exp``/``iat`` use)."""
        ...

    def monotonic(self) -> float:
        """A clock for measuring intervals; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a virtual clock advances instead)."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Await ``seconds`` (a virtual clock advances instead and yields once)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


system_clock = SystemClock()


class VirtualClock:
    """A clock that moves only when told to (or when something sleeps on it).

    Thread-safe. ``start`` defaults to 2026-03-02 09:00 China time, a Monday working day.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._posix = start.timestamp()
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._posix, UTC)

    def time(self) -> float:
        return self._posix

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: float | timedelta) -> None:
        """Move time forward by ``delta`` seconds (or a timedelta). Never backwards."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ValueError("a virtual clock only moves forward")
        with self._lock:
            self._posix += seconds
            self._mono += seconds

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware; not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("VirtualClock.set needs a timezone-aware datetime")
        self.advance(when.timestamp() - self._posix)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"VirtualClock({self.now().isoformat()})"
