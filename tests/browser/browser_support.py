"""What every browser test shares: where Chromium is, how it is started, the skip/fail rule, and
where screenshots go (``$GOVLINK_ARTIFACTS_DIR/screenshots/<name>/``, default ``.artifacts``).

Headless Debian Chromium (``/usr/bin/chromium``, or ``$GOVLINK_CHROMIUM``) driven by Playwright for
Python. Without them a test skips saying how to enable it; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GOVLINK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    """Skip (fail with ``CI=true``) unless Playwright and Chromium are there, saying what is
    missing and how to get it."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        missing.append(
            f"Chromium at {CHROMIUM} (apt-get install chromium, or set GOVLINK_CHROMIUM)"
        )
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed afterwards."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshots_dir(name: str = "") -> Path:
    """``$GOVLINK_ARTIFACTS_DIR/screenshots/<name>`` (created), kept as a CI artifact."""
    base = Path(os.environ.get("GOVLINK_ARTIFACTS_DIR") or REPO / ".artifacts")
    path = base / "screenshots" / name if name else base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
