"""The supervision report: its figures, the HTML (escaping, masking, self-contained), the CLI."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from govlink import ConfigError, report
from govlink._clock import CHINA_TZ
from govlink.cli import main
from govlink.domain import (
    Case,
    CaseStatusEvent,
    Item,
    SupervisionLevel,
    SupervisionThresholds,
    TimeLimit,
    WorkingCalendar,
    parse_case,
    parse_case_event,
    parse_item,
)
from govlink.report._charts import Series as ChartSeries
from govlink.report._charts import column_chart, hbar_chart, nice_ticks
from govlink.report._supervision import FLAG_LEVELS
from govlink.samples import load_sample_catalog

SAMPLE = str(resources.files("govlink.samples").joinpath("data/cases.ndjson"))
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


# --- the figures -----------------------------------------------------------------------


def test_figures_add_up(sample_report: report.SupervisionReport) -> None:
    r = sample_report
    assert len(r.cases) == 1000
    levels = r.level_counts()
    assert sum(levels.values()) == 1000
    assert sum(n for _, n in r.status_counts()) == 1000
    for groups in (r.levels_by_hall(), r.levels_by_department()):
        for level in SupervisionLevel:
            assert sum(g.levels.get(level, 0) for g in groups) == levels[level.value]
        assert sum(g.supervised for g in groups) == 1000 - levels["none"]
        flagged = [g.flagged for g in groups]
        assert flagged == sorted(flagged, reverse=True)  # most flagged first
    # The histogram counts exactly the concluded cases the efficiency figures count.
    assert sum(n for _, n in r.conclusion_histogram()) == r.efficiency.concluded > 0
    # The sample city promises about half the legal limits (docs/domain-reference.md: ~50%).
    by_type = r.limits_by_item_type()
    assert by_type
    assert all(t.mean_promised_days < t.mean_legal_days for t in by_type)
    assert sum(t.items for t in by_type) <= r.efficiency.items_compared


def test_flagged_are_worst_first(sample_report: report.SupervisionReport) -> None:
    flagged = sample_report.flagged()
    levels = sample_report.level_counts()
    assert len(flagged) == levels["warning"] + levels["yellow"] + levels["red"]
    order = [FLAG_LEVELS.index(c.level) for c in flagged if c.level]
    assert order == sorted(order)
    reds = [c.result.overdue_working_days for c in flagged if c.level is SupervisionLevel.RED]
    assert reds == sorted(reds, reverse=True)  # type: ignore[type-var]


def _item(legal: TimeLimit | None, promised: TimeLimit, **changes: Any) -> Item:
    base = next(i for i in load_sample_catalog().items if i.legal_limit is not None)
    data = base.model_dump(mode="json", exclude_none=True)
    department = changes.pop("department_name", None)
    data.update(changes)
    if department is not None:
        data["department"] = {**data["department"], "name": department}
    data["legal_limit"] = legal.model_dump(mode="json") if legal else None
    data["promised_limit"] = promised.model_dump(mode="json")
    return parse_item(data, check=False)


def test_limits_by_item_type_compares_working_days_only() -> None:
    items = {
        "A": _item(
            TimeLimit.working_days(20),
            TimeLimit.working_days(5),
            implementation_code="A",
            item_type="licensing",
        ),
        "B": _item(
            TimeLimit.working_days(10),
            TimeLimit.on_the_spot(),
            implementation_code="B",
            item_type="licensing",
        ),
        # Natural days against working days: not comparable, left out.
        "C": _item(
            TimeLimit.working_days(10),
            TimeLimit.natural_days(5),
            implementation_code="C",
            item_type="licensing",
        ),
        "D": _item(
            None, TimeLimit.working_days(3), implementation_code="D", item_type="public_service"
        ),
    }
    rep = report.SupervisionReport(
        at=datetime(2026, 3, 20, tzinfo=CHINA_TZ),
        thresholds=SupervisionThresholds(),
        cases=(),
        efficiency=report._supervision.efficiency([], [], WorkingCalendar()),
        items=items,
    )
    (row,) = rep.limits_by_item_type()
    assert row.item_type.value == "licensing"
    assert row.items == 2
    assert row.mean_legal_days == 15.0
    assert row.mean_promised_days == 2.5
    assert row.reduction == pytest.approx(1 - 2.5 / 15)


# --- a small hostile file --------------------------------------------------------------


def _case(number: str, item: Item, applicant: dict[str, Any]) -> Case:
    return parse_case(
        {
            "case_number": number,
            "implementation_code": item.implementation_code,
            "hall": "370502",
            "applicant": applicant,
            "channel": "window",
            "received_at": "2026-03-02T09:00:00+08:00",
        }
    )


def _events(
    number: str, accepted: datetime, *, conclude: datetime | None = None
) -> list[CaseStatusEvent]:
    steps = [("received", accepted - timedelta(hours=1)), ("accepted", accepted)]
    if conclude is not None:
        steps.append(("approved", conclude))
    return [
        parse_case_event(
            {
                "case_number": number,
                "sequence": i,
                "status": status,
                "time": at.isoformat(),
                "hall": "370502",
            }
        )
        for i, (status, at) in enumerate(steps, start=1)
    ]


@pytest.fixture
def hostile_report() -> report.SupervisionReport:
    item = _item(
        TimeLimit.working_days(10),
        TimeLimit.working_days(2),
        implementation_code="HOSTILE1",
        name=f"事项{HOSTILE}",
        department_name=f"部门{HOSTILE}",
    )
    monday = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)
    cases = [
        _case(
            "CRED",
            item,
            {
                "kind": "natural_person",
                "name": "王小明",
                "id_number": "11010519491231002X",
                "phone": "13812345678",
            },
        ),
        _case(
            "CORG",
            item,
            {
                "kind": "legal_person",
                "name": f"公司{HOSTILE}",
                "credit_code": "91350100M000100Y43",
                "agent": {
                    "kind": "natural_person",
                    "name": "李四",
                    "id_number": "11010519491231002X",
                },
            },
        ),
        _case(
            "CDONE",
            item,
            {"kind": "natural_person", "name": "赵六", "id_number": "11010519491231002X"},
        ),
    ]
    events = [
        *_events("CRED", monday),
        *_events("CORG", monday + timedelta(days=7)),
        *_events("CDONE", monday, conclude=monday + timedelta(days=1)),
    ]
    return report.supervise_cases(
        cases,
        events,
        {item.implementation_code: item},
        WorkingCalendar(),
        at=datetime(2026, 3, 10, 18, 0, tzinfo=CHINA_TZ),
    )


def test_hostile_case_data_is_escaped(hostile_report: report.SupervisionReport) -> None:
    html = report.render_supervision_html(hostile_report)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    # The names are shown, as text.
    assert "部门&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "公司&lt;script&gt;" in html
    # In SVG tooltips and labels too (the department chart carries the department name).
    assert re.search(r"<title>部门&lt;script&gt;", html)


def test_personal_data_is_masked(hostile_report: report.SupervisionReport) -> None:
    html = report.render_supervision_html(hostile_report)
    flagged = {c.case_number: c for c in hostile_report.flagged()}
    assert flagged["CRED"].level is SupervisionLevel.RED
    assert flagged["CRED"].applicant == "王**"
    for secret in ("王小明", "11010519491231002X", "13812345678", "李四", "赵六"):
        assert secret not in html
    assert "王**" in html
    # The organisation's name is public and shown (escaped); its agent is not.
    assert flagged["CORG"].applicant.startswith("公司")


def test_html_is_self_contained(sample_report: report.SupervisionReport) -> None:
    html = report.render_supervision_html(sample_report)
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    for needle in ("<script", "<link", "<iframe", "@import", " src=", " href=", "url("):
        assert needle not in lowered, needle
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert html.count('<svg class="chart"') == 5
    assert "@media print" in html
    assert "@page" in html


def test_empty_report_renders() -> None:
    empty = report.supervise_cases(
        [], [], {}, WorkingCalendar(), at=datetime(2026, 3, 10, tzinfo=CHINA_TZ)
    )
    html = report.render_supervision_html(empty)
    assert "No case is flagged" in html
    assert html.count('<svg class="chart"') == 5


def test_write_reports_unwritable_path(
    hostile_report: report.SupervisionReport, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the HTML report"):
        report.write_supervision_html(hostile_report, blocker / "report.html")
    written = report.write_supervision_html(hostile_report, tmp_path / "a" / "b" / "r.html")
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --- charts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, [0.0, 1.0]), (7, [0, 2, 4, 6, 8]), (12, [0, 5, 10, 15]), (634, [0, 200, 400, 600, 800])],
)
def test_nice_ticks(peak: float, ticks: list[float]) -> None:
    assert nice_ticks(peak) == ticks


def test_chart_geometry_is_proportional() -> None:
    s = (ChartSeries("a", "a"), ChartSeries("b", "b"))
    chart = hbar_chart("t", [("x", [2, 2]), ("y", [4, 0])], s)
    bars = [shape for shape in chart.shapes if shape.kind == "rect"]
    widths = [b.width for b in bars]  # type: ignore[union-attr]
    assert widths[0] == widths[1] == pytest.approx(widths[2] / 2)
    assert chart.bars == 3  # the zero segment is not a bar
    columns = column_chart("t", [("0", 1), ("1", 3)], s[0])
    heights = [c.height for c in columns.shapes if c.kind == "rect"]  # type: ignore[union-attr]
    assert heights[1] == pytest.approx(3 * heights[0])


# --- the command -----------------------------------------------------------------------


def test_cli_writes_html(home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    args = ["supervise", SAMPLE, "--at", "2026-03-20T18:00", "--html", str(target)]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["html"] == str(target)
    html = target.read_text(encoding="utf-8")
    assert html.count('<svg class="chart"') == 5
    assert f'{summary["levels"]["red"]}</span><span class="name">红牌' in html
    assert main(args) == 0
    assert f"HTML report 监察报告: {target}" in capsys.readouterr().out


def test_cli_unwritable_html_is_a_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["supervise", SAMPLE, "--at", "2026-03-20", "--html", str(blocker / "r.html")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot write the HTML report" in err
    assert "Traceback" not in err
