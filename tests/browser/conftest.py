"""The ``page`` both browser tests drive (helpers in ``browser_support.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from browser_support import chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 700}, locale="zh-CN")
        context.set_default_timeout(15_000)
        yield context.new_page()
