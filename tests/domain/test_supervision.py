"""Supervision levels at their boundaries, configurable thresholds, efficiency figures.

Dates: March 2026 has no holidays; Mon 2 Mar acceptance, working days Mar 3-6, 9-13, 16-20,
23-27, 30-31 (hand-counted).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from govlink import CHINA_TZ, ValidationError
from govlink.domain import (
    CaseStatusEvent,
    Item,
    SupervisionLevel,
    SupervisionThresholds,
    TimeLimit,
    WorkingCalendar,
    compute_deadlines,
    credit_code_check_character,
    efficiency,
    organisation_code_check_character,
    parse_case_event,
    parse_model,
    supervise,
)

CAL = WorkingCalendar()
W = TimeLimit.working_days
L = SupervisionLevel


def t(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHINA_TZ)


def history(*steps: tuple[str, datetime], case: str = "C1") -> list[CaseStatusEvent]:
    return [
        parse_case_event(
            {
                "case_number": case,
                "sequence": i,
                "status": status,
                "time": when.isoformat(),
                "hall": "370500",
            }
        )
        for i, (status, when) in enumerate(steps, start=1)
    ]


ACCEPTED_MAR_2 = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))


def level_at(
    at: datetime,
    promised: TimeLimit,
    events: list[CaseStatusEvent] = ACCEPTED_MAR_2,
    thresholds: SupervisionThresholds | None = None,
    legal: TimeLimit | None = None,
) -> Any:
    deadlines = compute_deadlines(events, legal=legal, promised=promised, calendar=CAL, at=at)
    return supervise(deadlines, CAL, thresholds)


@pytest.mark.parametrize(
    ("at", "level", "left", "overdue"),
    [
        (t(3, 2, 11), L.ON_TIME, 5, None),
        (t(3, 5), L.ON_TIME, 2, None),  # 2 left, 40%
        (t(3, 6), L.WARNING, 1, None),  # 1 working day left
        (t(3, 7), L.WARNING, 1, None),  # Saturday: still 1 working day left
        (t(3, 9, 23), L.WARNING, 0, None),  # deadline day itself
        (t(3, 10), L.YELLOW, None, 1),  # 1 working day overdue
        (t(3, 11), L.RED, None, 2),  # 2 working days overdue
        (t(3, 20), L.RED, None, 9),
    ],
)
def test_levels_at_the_boundaries(
    at: datetime, level: SupervisionLevel, left: int | None, overdue: int | None
) -> None:
    result = level_at(at, W(5))  # deadline Mon 9 Mar
    assert result.deadlines.promised == date(2026, 3, 9)
    assert (result.level, result.remaining_working_days, result.overdue_working_days) == (
        level,
        left,
        overdue,
    )
    assert result.basis == "promised"


@pytest.mark.parametrize(
    ("at", "level"),
    [
        (t(3, 23), L.ON_TIME),  # 5 of 20 left = 25%
        (t(3, 24), L.WARNING),  # 4 of 20 left = 20%: the boundary warns
        (t(3, 25), L.WARNING),  # 3 of 20 = 15%
    ],
)
def test_fraction_threshold(at: datetime, level: SupervisionLevel) -> None:
    result = level_at(at, W(20))
    assert result.deadlines.promised == date(2026, 3, 30)
    assert result.level is level


def test_past_the_deadline_day_but_no_working_day_lost_is_a_warning() -> None:
    result = level_at(t(3, 7), W(4))  # deadline Fri 6 Mar, Saturday now
    assert (result.level, result.overdue_working_days) == (L.WARNING, 0)


def test_thresholds_are_configurable() -> None:
    quiet = SupervisionThresholds(warning_working_days=0, warning_fraction=0.0)
    assert level_at(t(3, 6), W(5), thresholds=quiet).level is L.ON_TIME
    assert level_at(t(3, 9), W(5), thresholds=quiet).level is L.WARNING  # 0 left
    late_red = SupervisionThresholds(red_overdue_working_days=3)
    assert level_at(t(3, 11), W(5), thresholds=late_red).level is L.YELLOW
    assert level_at(t(3, 12), W(5), thresholds=late_red).level is L.RED
    with pytest.raises(PydanticValidationError):
        SupervisionThresholds(yellow_overdue_working_days=2, red_overdue_working_days=2)
    with pytest.raises(ValidationError) as caught:
        parse_model(SupervisionThresholds, {"yellow_overdue_working_days": 3})
    assert caught.value.rule == "red_before_yellow"
    assert caught.value.field == "red_overdue_working_days"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"warning_fraction": "0.1"}, "warning_fraction"),
        ({"warning_fraction": True}, "warning_fraction"),
        ({"warning_working_days": "1"}, "warning_working_days"),
        ({"red_overdue_working_days": 3.0}, "red_overdue_working_days"),
    ],
)
def test_thresholds_are_read_strictly(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_model(SupervisionThresholds, change)
    assert (caught.value.field, caught.value.rule) == (field, "type")


def test_legal_basis_and_fallback() -> None:
    legal_basis = SupervisionThresholds(basis="legal")
    result = level_at(t(3, 10), W(5), thresholds=legal_basis, legal=W(20))
    assert (result.level, result.basis) == (L.ON_TIME, "legal")
    # No promised limit: the legal one is used.
    fallback = compute_deadlines(
        ACCEPTED_MAR_2, legal=W(5), promised=None, calendar=CAL, at=t(3, 10)
    )
    result = supervise(fallback, CAL)
    assert (result.level, result.basis) == (L.YELLOW, "legal")


def test_closed_cases() -> None:
    late = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("approved", t(3, 11)))
    result = level_at(t(3, 31), W(5), events=late)
    assert (result.level, result.overdue_working_days) == (L.RED, 2)  # as at conclusion
    in_time = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("denied", t(3, 9)))
    assert level_at(t(3, 31), W(5), events=in_time).level is L.ON_TIME
    withdrawn = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("withdrawn", t(3, 20)))
    assert level_at(t(3, 31), W(5), events=withdrawn).level is None
    received = history(("received", t(3, 2, 9)))
    result = level_at(t(3, 31), W(5), events=received)
    assert result.level is None
    assert result.to_dict()["level"] is None


def test_paused_case_does_not_slide_towards_a_card() -> None:
    paused = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("supplement_start", t(3, 3)))
    result = level_at(t(3, 20), W(5), events=paused)
    assert result.deadlines.timeline.is_paused
    assert result.level is L.ON_TIME
    assert result.to_dict()["paused"] is True


def _department_code() -> str:
    # 11 (机关) + 370500 + organisation code 00431002 + its GB 11714 check, then the GB 32100
    # check (identifiers are tested independently in test_identifiers.py).
    body = "11370500" + "00431002"
    body += organisation_code_check_character("00431002")
    return body + credit_code_check_character(body)


DEPARTMENT_CODE = _department_code()


def item(code: str, legal: TimeLimit | None, promised: TimeLimit) -> Item:
    # Structure only (Item.model_validate): efficiency needs the two limits.
    return Item.model_validate(
        {
            "catalog_code": "370500000001",
            "implementation_code": code,
            "name": "测试事项",
            "item_type": "licensing",
            "department": {"credit_code": DEPARTMENT_CODE, "name": "东营市测试局"},
            "region_code": "370500",
            "exercise_levels": ["city"],
            "legal_limit": legal.model_dump() if legal else None,
            "promised_limit": promised.model_dump(),
            "case_kind": "immediate" if promised.is_on_the_spot else "promised",
            "handling_forms": ["window"],
            "online_depth": 3,
        }
    )


def test_efficiency_on_a_hand_computed_dataset() -> None:
    items = [
        item("A1", W(20), W(10)),  # 50%
        item("A2", W(10), W(2)),  # 80%
        item("A3", W(20), TimeLimit.on_the_spot()),  # 100%
        item("A4", None, W(5)),  # no legal limit: not compared
        item("A5", TimeLimit.natural_days(30), W(5)),  # different units: not compared
    ]
    at = t(3, 31)
    cases = [
        # concluded in 3 working days, within promised W(5) (deadline 9 Mar)
        history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("approved", t(3, 5)), case="K1"),
        # concluded in 7 working days (11 Mar), 2 of them paused: deadline 11 Mar → within
        history(
            ("received", t(3, 2, 9)),
            ("accepted", t(3, 2)),
            ("supplement_start", t(3, 3)),
            ("supplement_end", t(3, 5)),
            ("approved", t(3, 11)),
            case="K2",
        ),
        # concluded in 8 working days (12 Mar), late: deadline 9 Mar
        history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("denied", t(3, 12)), case="K3"),
        # withdrawn: not concluded
        history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), ("withdrawn", t(3, 4)), case="K4"),
        # still open and overdue on 31 Mar
        history(("received", t(3, 2, 9)), ("accepted", t(3, 2)), case="K5"),
    ]
    results = [
        supervise(compute_deadlines(c, legal=W(20), promised=W(5), calendar=CAL, at=at), CAL)
        for c in cases
    ]
    report = efficiency(items, results, CAL)
    assert report.items_compared == 3
    assert report.mean_limit_reduction == pytest.approx((0.5 + 0.8 + 1.0) / 3)
    assert (report.cases, report.concluded, report.concluded_within_promised) == (5, 3, 2)
    assert report.within_promised_share == pytest.approx(2 / 3)
    assert report.mean_working_days_to_conclusion == pytest.approx((3 + 7 + 8) / 3)
    assert report.mean_working_days_to_conclusion_net == pytest.approx((3 + 5 + 8) / 3)
    assert report.levels == {"none": 1, "on_time": 2, "red": 2}
    assert report.to_dict()["concluded"] == 3


def test_efficiency_of_nothing() -> None:
    report = efficiency([], [], CAL)
    assert report.mean_limit_reduction is None
    assert report.within_promised_share is None
    assert report.mean_working_days_to_conclusion is None


def test_level_labels() -> None:
    assert [level.label for level in L] == ["正常", "预警", "黄牌", "红牌"]
