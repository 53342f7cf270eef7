"""The ``face`` fixture: every contract test runs in-process and served over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The helpers module sits next to this file; make it importable however pytest was started.
from province_helpers import Face, make_face  # importable thanks to the line above


@pytest.fixture(params=["in-process", pytest.param("served", marks=pytest.mark.server)])
def face(request: pytest.FixtureRequest) -> Iterator[Face]:
    """The same contract test on the in-process face and on the served (uvicorn) face."""
    yield from make_face(request.param)
