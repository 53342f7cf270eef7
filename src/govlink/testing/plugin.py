"""govlink's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
- ``virtual_clock``: a fresh :class:`govlink.VirtualClock` at 2026-03-02 09:00 China time.
"""

from __future__ import annotations

import pytest

from .._clock import VirtualClock


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock for one test; ``advance()`` it, or let code ``sleep`` on it."""
    return VirtualClock()
