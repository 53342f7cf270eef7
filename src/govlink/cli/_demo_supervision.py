"""Demo step ``supervision``: the story ends with what a supervisor (电子监察) looks at.

The sample cases (from step ``cases``, or loaded here) supervised at the end of the sample
period: the summary (预警 / 黄牌 / 红牌, the most flagged halls, efficiency), agreeing with what
step ``cases`` computed when it ran, and the self-contained HTML report
(:func:`govlink.report.write_supervision_html`) written into the demo's state directory, whose
path is printed (a temporary state directory is then kept).
"""

from __future__ import annotations

from .._errors import GovlinkError
from ..domain import WorkingCalendar
from ..report import supervise_cases, write_supervision_html
from ..samples import load_sample_cases, load_sample_catalog
from ._demo import Demo
from ._demo_cases import supervision_time

__all__ = ["REPORT_NAME", "step"]

#: The report's file name in the demo's state directory.
REPORT_NAME = "supervision.html"


def step(demo: Demo) -> None:
    """Supervise the sample cases, print the summary and write the HTML report."""
    demo.section("Supervision (电子监察): the summary and the report")
    try:
        if demo.state.cases is None or demo.state.events is None:
            demo.state.cases, demo.state.events = load_sample_cases()
        catalog = demo.state.catalog or load_sample_catalog()
        items = {item.implementation_code: item for item in catalog.items}
        report = supervise_cases(
            demo.state.cases,
            demo.state.events,
            items,
            WorkingCalendar(),
            at=supervision_time(),
            title="Dongying demo city · supervision report 电子监察报告",
        )
    except GovlinkError as exc:
        demo.fail("summary", f"the sample cases cannot be supervised: {exc.message}")
        return
    levels = report.level_counts()
    halls = [row for row in report.levels_by_hall() if row.flagged][:3]
    flagged = report.flagged()
    share = report.efficiency.within_promised_share
    demo.info(
        "most flagged halls: " + (", ".join(f"{row.name} {row.flagged}" for row in halls) or "none")
    )
    if flagged:
        worst = flagged[0]
        demo.info(
            f"first on the list: {worst.case_number} ({worst.level.value if worst.level else '?'}"
            f", {worst.hall}, applicant {worst.applicant})"
        )
    # When step "cases" ran, its figures (computed its own way) and the report's must agree.
    computed = demo.summary.get("cases", {}).get("levels")
    agree = computed is None or all(computed.get(k) == n for k, n in levels.items() if k != "none")
    demo.check(
        "summary",
        agree,
        f"supervised {len(report.cases)} cases at {report.at:%Y-%m-%d %H:%M}: on time "
        f"{levels['on_time']}, 预警 {levels['warning']}, 黄牌 {levels['yellow']}, 红牌 "
        f"{levels['red']}; {share:.0%} concluded within the promised limit"
        if agree and share is not None
        else f"the report's levels {levels} differ from step cases' {computed}"
        if not agree
        else f"supervised {len(report.cases)} cases; nothing concluded yet",
    )
    path = demo.home / REPORT_NAME
    try:
        written = write_supervision_html(report, path)
    except OSError as exc:
        demo.fail("report", f"the HTML report cannot be written to {path}: {exc.strerror}")
        return
    size = written.stat().st_size
    text = written.read_text(encoding="utf-8")
    demo.keep_home = True  # a report to open: a temporary state directory is kept
    demo.check(
        "report",
        "<svg" in text and (not flagged or flagged[0].case_number in text),
        f"HTML supervision report ({size // 1024} KiB, charts inline, opens offline): {written}",
    )
    demo.summary["supervision"] = {
        "cases": len(report.cases),
        "levels": levels,
        "flagged": len(flagged),
        "most_flagged_halls": {row.name: row.flagged for row in halls},
        "within_promised_share": share,
        "report": str(written),
    }
