"""Fixtures for the supervision report: the bundled sample cases, supervised once."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from govlink import report
from govlink._clock import CHINA_TZ
from govlink.domain import WorkingCalendar
from govlink.samples import load_sample_cases, load_sample_catalog

#: The end of the bundled sample period, as the demo and the examples supervise it.
SAMPLE_AT = datetime(2026, 3, 20, 18, 0, tzinfo=CHINA_TZ)


@pytest.fixture(scope="session")
def sample_report() -> report.SupervisionReport:
    cases, events = load_sample_cases()
    items = {i.implementation_code: i for i in load_sample_catalog().items}
    return report.supervise_cases(cases, events, items, WorkingCalendar(), at=SAMPLE_AT)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory with no GOVLINK_* environment (the command's defaults)."""
    for name in list(os.environ):
        if name.startswith("GOVLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"
