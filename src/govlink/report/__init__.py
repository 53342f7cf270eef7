"""Presentation of supervision data (电子监察): a self-contained HTML report with charts.

``govlink supervise FILE --html REPORT`` writes it; from Python::

    from govlink import report
    built = report.supervise_cases(cases, events, items, calendar, at=at)
    report.write_supervision_html(built, "report.html")

The file has inline CSS and static inline SVG charts, no script and no external resource, so it
opens anywhere without a network and prints on A4. Applicants are masked; every value from the
case data is HTML-escaped.
"""

from __future__ import annotations

from ._html import render_supervision_html, write_supervision_html
from ._supervision import (
    ItemTypeLimits,
    LevelCounts,
    ReportedCase,
    SupervisionReport,
    build_supervision_report,
    supervise_cases,
)

__all__ = [
    "ItemTypeLimits",
    "LevelCounts",
    "ReportedCase",
    "SupervisionReport",
    "build_supervision_report",
    "render_supervision_html",
    "supervise_cases",
    "write_supervision_html",
]
