"""The HTML report in a real browser: headless Debian Chromium driven by Playwright.

Skipped with a how-to when Playwright or Chromium is missing; in CI (``CI=true``) a missing
browser fails instead. Screenshots go to ``$GOVLINK_ARTIFACTS_DIR`` (default
``.artifacts/screenshots/`` under the working directory, git-ignored):
``supervision-report.png`` (screen) and ``supervision-report-print.png`` (print media).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from govlink import report

pytestmark = pytest.mark.browser

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
HOW_TO = (
    "needs Playwright for Python and Debian's Chromium: `pip install -e '.[dev]'` and "
    "`apt-get install chromium` (or set GOVLINK_CHROMIUM to a Chromium binary)"
)
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _artifacts() -> Path:
    base = Path(os.environ.get("GOVLINK_ARTIFACTS_DIR", ".artifacts/screenshots"))
    base.mkdir(parents=True, exist_ok=True)
    return base


@pytest.fixture(scope="module")
def browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if CI:
            pytest.fail(f"CI=true but Playwright is not installed: {HOW_TO}")
        pytest.skip(HOW_TO)
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if CI:
            pytest.fail(f"CI=true but there is no Chromium at {CHROMIUM}: {HOW_TO}")
        pytest.skip(f"no Chromium at {CHROMIUM}; {HOW_TO}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, path: Path, *, media: str = "screen") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Any request beyond the file itself would mean the report is not self-contained.
    page.on(
        "request",
        lambda r: problems.append(f"request {r.url}") if not r.url.startswith("file:") else None,
    )
    page.emulate_media(media=media)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, problems


def test_report_renders_in_chromium(
    browser: Any, sample_report: report.SupervisionReport, tmp_path: Path
) -> None:
    path = report.write_supervision_html(sample_report, tmp_path / "report.html")
    page, problems = _open(browser, path)
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for index in range(charts.count()):
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box is not None, index
        assert box["width"] > 200, index
        assert box["height"] > 100, index
        # Every chart draws bars with a real size on screen, not just an empty frame.
        bars = chart.locator("rect.bar")
        assert bars.count() > 0, index
        sizes = bars.evaluate_all("els => els.map(e => e.getBBox().width * e.getBBox().height)")
        assert max(sizes) > 20, (index, sizes)
        assert chart.locator("text").count() > 3, index
    rows = page.locator("section.flagged tbody tr")
    assert rows.count() == len(sample_report.flagged())
    assert page.locator(".badge.red").count() == sample_report.level_counts()["red"]
    page.screenshot(path=str(_artifacts() / "supervision-report.png"), full_page=True)
    assert problems == []
    page.close()


def test_report_prints(
    browser: Any, sample_report: report.SupervisionReport, tmp_path: Path
) -> None:
    path = report.write_supervision_html(sample_report, tmp_path / "report.html")
    page, problems = _open(browser, path, media="print")
    # Print media keeps the charts (two columns on A4) and the flagged table on a new page.
    assert page.locator("svg.chart").count() == 5
    assert (
        page.evaluate("getComputedStyle(document.querySelector('section.flagged')).breakBefore")
        == "page"
    )
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 10_000
    page.screenshot(path=str(_artifacts() / "supervision-report-print.png"), full_page=True)
    assert problems == []
    page.close()
