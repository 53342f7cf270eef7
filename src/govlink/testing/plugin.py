"""govlink's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
- ``virtual_clock``: a fresh :class:`govlink.VirtualClock` at 2026-03-02 09:00 China time.
- ``mock_province``: a :class:`govlink.testing.MockProvince` on ``virtual_clock`` (no faults,
  development credentials); use ``mock_province.client()`` / ``.async_client()``, set faults
  with ``mock_province.set_faults("...")``, assert with ``mock_province.journal``.
- ``mock_province_router``: a respx router (active for the test) that sends every request under
  ``mock_province.base_url`` (``http://province.test``) to ``mock_province``, so any httpx client
  in the code under test reaches it.
- ``served_province``: ``mock_province`` served by uvicorn on a free loopback port
  (``served_province.base_url``); needs ``govlink[server]``. Mark such tests ``server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .._clock import VirtualClock

if TYPE_CHECKING:
    import respx

    from ._province import MockProvince, ServedProvince


__all__ = ["mock_province", "mock_province_router", "served_province", "virtual_clock"]


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock for one test; ``advance()`` it, or let code ``sleep`` on it."""
    return VirtualClock()


@pytest.fixture
def mock_province(virtual_clock: VirtualClock) -> MockProvince:
    """A fresh mock provincial platform on the test's virtual clock."""
    from ._province import MockProvince

    return MockProvince(clock=virtual_clock)


@pytest.fixture
def mock_province_router(mock_province: MockProvince) -> Iterator[respx.MockRouter]:
    """A respx router routing ``mock_province.base_url`` to the mock (active for the test)."""
    with mock_province.mock() as router:
        yield router


@pytest.fixture
def served_province(mock_province: MockProvince) -> Iterator[ServedProvince]:
    """``mock_province`` served on a free loopback port for the test."""
    from ._province import served_mock

    with served_mock(mock_province) as served:
        yield served
