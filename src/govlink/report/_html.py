"""The supervision report as one self-contained HTML file (inline CSS, static inline SVG).

Rendering goes through a Jinja2 template with autoescaping on for every value: case data (item
and department names, applicant names, anything read from a file) can never inject markup or
script. The template marks nothing as safe; charts are shapes whose text is escaped like the
rest (see :mod:`govlink.report._charts`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from .._errors import ConfigError
from ..domain import CaseStatus, ClockEffect, SupervisionLevel, status_info
from ._charts import Chart, Series, column_chart, hbar_chart
from ._supervision import FLAG_LEVELS, LevelCounts, ReportedCase, SupervisionReport
from ._template import TEMPLATE

__all__ = ["render_supervision_html", "write_supervision_html"]

#: Departments listed one by one in the department chart; the rest are summed in one row.
TOP_DEPARTMENTS = 12

_LEVEL_SERIES = {
    SupervisionLevel.WARNING: Series("预警 warning", "warning"),
    SupervisionLevel.YELLOW: Series("黄牌 yellow card", "yellow"),
    SupervisionLevel.RED: Series("红牌 red card", "red"),
}
_STATUS_SERIES = (
    Series("not yet accepted 未受理", "s-new"),
    Series("running 办理中", "s-running"),
    Series("paused 暂停计时", "s-paused"),
    Series("concluded 办结", "s-concluded"),
    Series("ended without decision 未办结终止", "s-ended"),
)
_ENGLISH_STATUS = {
    CaseStatus.RECEIVED: "received",
    CaseStatus.WITHDRAWN_BEFORE_ACCEPTANCE: "withdrawn before acceptance",
    CaseStatus.ACCEPTED: "accepted",
    CaseStatus.NOT_ACCEPTED: "not accepted",
    CaseStatus.REFUSED: "refused",
    CaseStatus.SUPPLEMENT_START: "supplement requested",
    CaseStatus.SUPPLEMENT_END: "supplement received",
    CaseStatus.PROCESSING: "processing",
    CaseStatus.SPECIAL_PROCEDURE_START: "special procedure",
    CaseStatus.SPECIAL_PROCEDURE_END: "special procedure ended",
    CaseStatus.APPROVED: "approved",
    CaseStatus.APPROVED_WITH_TOLERATED_GAPS: "approved, gaps tolerated",
    CaseStatus.DENIED: "denied",
    CaseStatus.WITHDRAWN: "withdrawn",
    CaseStatus.REVOKED: "revoked",
}


def _status_group(status: CaseStatus | None) -> int:
    """Index into ``_STATUS_SERIES`` (the bar colour of a status)."""
    if status is None:
        return 0
    info = status_info(status)
    if info.terminal:
        return (
            3
            if status
            in (
                CaseStatus.APPROVED,
                CaseStatus.APPROVED_WITH_TOLERATED_GAPS,
                CaseStatus.DENIED,
            )
            else 4
        )
    if info.clock is ClockEffect.PAUSE:
        return 2
    if info.clock is ClockEffect.NONE:
        return 0
    return 1


def status_label(status: CaseStatus | None) -> str:
    if status is None:
        return "no event yet 无记录"
    return f"{status_info(status).label} {_ENGLISH_STATUS[status]}"


def _status_chart(report: SupervisionReport) -> Chart:
    rows = []
    for status, count in report.status_counts():
        values = [0.0] * len(_STATUS_SERIES)
        values[_status_group(status)] = count
        rows.append((status_label(status), values))
    return hbar_chart("Cases by status 办件状态", rows, _STATUS_SERIES, label_width=262)


def _level_chart(
    description: str,
    groups: list[LevelCounts],
    limit: int | None = None,
    *,
    width: int = 560,
    label_width: int = 190,
    row_height: int = 24,
) -> Chart:
    shown = groups if limit is None else groups[:limit]
    series = [_LEVEL_SERIES[level] for level in reversed(FLAG_LEVELS)]
    rows = [
        (g.name, [float(g.levels.get(level, 0)) for level in reversed(FLAG_LEVELS)]) for g in shown
    ]
    notes = [f"{g.flagged} / {g.supervised}" for g in shown]
    return hbar_chart(
        description,
        rows,
        series,
        notes=notes,
        width=width,
        label_width=label_width,
        row_height=row_height,
    )


def _rest(groups: list[LevelCounts], limit: int) -> str:
    rest = groups[limit:]
    if not rest:
        return ""
    flagged = sum(g.flagged for g in rest)
    supervised = sum(g.supervised for g in rest)
    return f"; {len(rest)} more departments: {flagged} flagged of {supervised} 其他部门"


def _limits_chart(report: SupervisionReport) -> Chart:
    rows = report.limits_by_item_type()
    return hbar_chart(
        "Legal vs promised time limits by item type 法定时限与承诺时限",
        [
            (
                f"{r.item_type.label} {r.item_type.value.replace('_', ' ')}",
                [r.mean_legal_days, r.mean_promised_days],
            )
            for r in rows
        ],
        (Series("法定 legal", "legal"), Series("承诺 promised", "promised")),
        stacked=False,
        row_height=34,
        label_width=210,
        notes=[f"−{r.reduction:.0%} ({r.items})" for r in rows],
    )


def _conclusion_chart(report: SupervisionReport) -> Chart:
    return column_chart(
        "Working days from acceptance to conclusion 办结用时",
        [(label, float(n)) for label, n in report.conclusion_histogram()],
        Series("concluded cases 办结件", "days"),
        x_title="working days 工作日",
    )


def _timing(case: ReportedCase) -> str:
    result = case.result
    if result is None:
        return "—"
    if result.overdue_working_days is not None:
        return f"超期 {result.overdue_working_days} overdue"
    return f"剩余 {result.remaining_working_days} left"


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "—"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _context(report: SupervisionReport) -> dict[str, Any]:
    eff = report.efficiency
    levels = report.level_counts()
    limits = report.thresholds
    flagged = [
        {
            "level": case.level.value if case.level else "",
            "level_label": _LEVEL_SERIES[case.level].label if case.level else "",
            "case_number": case.case_number,
            "hall": report.hall_label(case.hall),
            "department": case.department or "—",
            "item": case.item_name or case.implementation_code,
            "applicant": case.applicant,
            "status": status_label(case.status),
            "promised": _iso(report.deadline(case, "promised")),
            "legal": _iso(report.deadline(case, "legal")),
            "timing": _timing(case),
            "paused": bool(case.result and case.result.deadlines.timeline.is_paused),
        }
        for case in report.flagged()
    ]
    kpis = [
        ("cases 办件", str(len(report.cases)), ""),
        ("正常 on time", str(levels["on_time"]), "on_time"),
        ("预警 warning", str(levels["warning"]), "warning"),
        ("黄牌 yellow card", str(levels["yellow"]), "yellow"),
        ("红牌 red card", str(levels["red"]), "red"),
        ("within promised 承诺内办结", _pct(eff.within_promised_share), ""),
        ("promised limits shorter 承诺时限压缩", _pct(eff.mean_limit_reduction), ""),
        ("working days to conclusion 平均办结用时", _days(eff.mean_working_days_to_conclusion), ""),
    ]
    departments = report.levels_by_department()
    charts = [
        ("Cases by status", "办件状态", "last status of every case", _status_chart(report)),
        (
            "Warnings and cards by hall",
            "各大厅预警、黄牌、红牌",
            "flagged / supervised cases per receiving hall",
            _level_chart("Warnings and cards by hall 各大厅预警黄牌红牌", report.levels_by_hall()),
        ),
        (
            "Warnings and cards by department",
            "各部门预警、黄牌、红牌",
            f"the {TOP_DEPARTMENTS} departments with the most flagged cases, flagged / supervised"
            + _rest(departments, TOP_DEPARTMENTS),
            _level_chart(
                "Warnings and cards by department 各部门预警黄牌红牌",
                departments,
                TOP_DEPARTMENTS,
                width=1120,
                label_width=280,
                row_height=22,
            ),
        ),
        (
            "Legal vs promised limits by item type",
            "法定时限与承诺时限（按事项类型）",
            f"mean working days over {eff.items_compared} items; promised limits are "
            f"{_pct(eff.mean_limit_reduction)} shorter overall",
            _limits_chart(report),
        ),
        (
            "Time to conclusion",
            "办结用时分布",
            f"{eff.concluded} concluded cases; mean {_days(eff.mean_working_days_to_conclusion)} "
            f"working days ({_days(eff.mean_working_days_to_conclusion_net)} net of pauses)",
            _conclusion_chart(report),
        ),
    ]
    return {
        "title": report.title,
        "at": report.at.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "basis": "承诺 promised" if limits.basis == "promised" else "法定 legal",
        "limits": limits,
        "kpis": kpis,
        "charts": charts,
        "flagged": flagged,
        "no_deadline": levels["none"],
    }


_ENV = jinja2.Environment(
    loader=jinja2.DictLoader({"supervision.html": TEMPLATE}),
    autoescape=True,  # every value, in text and in attributes
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_supervision_html(report: SupervisionReport) -> str:
    """The report as one HTML document (UTF-8 text; no external resource, no script)."""
    return _ENV.get_template("supervision.html").render(_context(report))


def write_supervision_html(report: SupervisionReport, path: str | os.PathLike[str]) -> Path:
    """Write the report to ``path`` (parent directories created) and return the path.

    Raises:
        ConfigError: the file cannot be written (the message names the path and the reason).
    """
    target = Path(path)
    text = render_supervision_html(report)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the HTML report {target}: {exc.strerror}") from None
    return target
