"""Fixtures shared by the sync tests: a virtual clock, a SQLite store and an outbox on them.

A module may override one (``test_outbox.py`` runs its outbox on every backend); helpers that are
not fixtures live in ``sync_core_support.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govlink import VirtualClock
from govlink.store import SQLiteStore
from govlink.sync import Outbox


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "govlink.db")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def outbox(sqlite_store: SQLiteStore, clock: VirtualClock) -> Outbox:
    return Outbox(sqlite_store, clock=clock)
