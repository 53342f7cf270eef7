"""The HTML report in a real browser: headless Debian Chromium driven by Playwright.

Skipped with a how-to when Playwright or Chromium is missing; in CI (``CI=true``) a missing
browser fails instead (tests/browser/browser_support.py). Screenshots go to
``$GOVLINK_ARTIFACTS_DIR/screenshots/`` (default ``.artifacts/screenshots/``, git-ignored):
``supervision-report.png`` (screen) and ``supervision-report-print.png`` (print media).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, screenshots_dir

from govlink import report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


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
    page.screenshot(path=str(screenshots_dir() / "supervision-report.png"), full_page=True)
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
    page.screenshot(path=str(screenshots_dir() / "supervision-report-print.png"), full_page=True)
    assert problems == []
    page.close()
