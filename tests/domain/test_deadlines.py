"""Legal and promised deadlines across holidays, make-up days and pauses.

Every expected date below was counted by hand on the 2026 State Council schedule (checked
against chinese-calendar in test_calendar.py): Spring Festival off 15–23 Feb with make-up
Saturdays 14 and 28 Feb; National Day off 1–7 Oct with make-up days Sun 20 Sep and Sat 10 Oct
(Mid-Autumn 25–27 Sep).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from govlink import CHINA_TZ, TransitionError, ValidationError
from govlink.domain import (
    CaseStatusEvent,
    TimeLimit,
    WorkingCalendar,
    case_timeline,
    compute_deadlines,
    deadline_for,
    parse_case_event,
)

D = date
CAL = WorkingCalendar()
W = TimeLimit.working_days
N = TimeLimit.natural_days


def t(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHINA_TZ)


def history(*steps: tuple[str, datetime] | tuple[str, datetime, str]) -> list[CaseStatusEvent]:
    events = []
    for sequence, step in enumerate(steps, start=1):
        data: dict[str, Any] = {
            "case_number": "C1",
            "sequence": sequence,
            "status": step[0],
            "time": step[1].isoformat(),
            "hall": "370500",
        }
        if len(step) == 3:
            data["special_procedure"] = step[2]
        events.append(parse_case_event(data))
    return events


def deadlines(
    events: list[CaseStatusEvent], at: datetime, legal: Any = None, promised: Any = None
) -> Any:
    return compute_deadlines(events, legal=legal, promised=promised, calendar=CAL, at=at)


def test_spring_festival_without_pause() -> None:
    events = history(("received", t(2, 12, 9)), ("accepted", t(2, 12)))
    result = deadlines(events, t(2, 13), legal=W(20), promised=W(5))
    # Acceptance day (Thu 12) not counted: 13, 14 (make-up), 24, 25, 26.
    assert result.promised == D(2026, 2, 26)
    # ...27, 28 (make-up), Mar 2-6, 9-13, 16-18 → 20th working day is 18 Mar.
    assert result.legal == D(2026, 3, 18)
    assert result.paused_working_days == 0


def test_spring_festival_with_supplement_pause() -> None:
    events = history(
        ("received", t(2, 12, 9)),
        ("accepted", t(2, 12)),
        ("supplement_start", t(2, 13)),
        ("supplement_end", t(2, 24)),
        ("processing", t(2, 24, 11)),
    )
    result = deadlines(events, t(2, 25), legal=W(20), promised=W(5))
    # Paused working days after 13 Feb up to 24 Feb: 14 (make-up) and 24.
    assert result.paused_working_days == 2
    assert result.paused_natural_days == 11
    # 5 + 2 = 7 working days after 12 Feb: 13, 14, 24, 25, 26, 27, 28.
    assert result.promised == D(2026, 2, 28)
    assert result.legal == D(2026, 3, 20)
    assert not result.timeline.is_paused


def test_national_day_with_and_without_special_procedure() -> None:
    plain = history(("received", t(9, 29, 9)), ("accepted", t(9, 29)))
    result = deadlines(plain, t(9, 30), legal=W(10), promised=W(3))
    assert result.promised == D(2026, 10, 9)  # 30 Sep, 8 Oct, 9 Oct
    assert result.legal == D(2026, 10, 19)  # ..., 10 (make-up Sat), 12-16, 19

    paused = history(
        ("received", t(9, 29, 9)),
        ("accepted", t(9, 29)),
        ("special_procedure_start", t(9, 30), "expert_review"),
        ("special_procedure_end", t(10, 9)),
    )
    result = deadlines(paused, t(10, 9, 12), legal=W(10), promised=W(3))
    assert result.paused_working_days == 2  # 8 and 9 Oct
    assert result.promised == D(2026, 10, 12)  # 30 Sep, 8, 9, 10 (make-up), 12 Oct


def test_make_up_sunday_counts() -> None:
    events = history(("received", t(9, 18, 9)), ("accepted", t(9, 18)))  # Friday
    result = deadlines(events, t(9, 18, 12), promised=W(1))
    assert result.promised == D(2026, 9, 20)  # Sunday make-up day is the first working day


def test_natural_days() -> None:
    events = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))
    assert deadlines(events, t(3, 3), legal=N(10)).legal == D(2026, 3, 12)
    # Accepted Thu 24 Sep + 7 natural days = 1 Oct, a holiday: moves to 8 Oct (Civil Code §203).
    assert deadline_for(D(2026, 9, 24), N(7), CAL) == D(2026, 10, 8)
    # Natural-day limits are extended by the natural days paused.
    assert deadline_for(D(2026, 3, 2), N(10), CAL, paused_natural_days=3) == D(2026, 3, 16)


def test_on_the_spot() -> None:
    events = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))
    result = deadlines(events, t(3, 2, 11), promised=TimeLimit.on_the_spot())
    assert result.promised == D(2026, 3, 2)
    assert deadline_for(D(2026, 3, 2), TimeLimit.on_the_spot(), CAL, paused_working_days=1) == D(
        2026, 3, 3
    )


def test_open_pause_moves_the_deadline_with_time() -> None:
    events = history(
        ("received", t(3, 2, 9)),
        ("accepted", t(3, 2)),
        ("supplement_start", t(3, 3)),
    )
    early = deadlines(events, t(3, 3, 16), promised=W(5))
    assert early.timeline.is_paused
    assert early.paused_working_days == 0
    assert early.promised == D(2026, 3, 9)
    later = deadlines(events, t(3, 6, 16), promised=W(5))
    assert later.paused_working_days == 3  # 4, 5, 6 Mar
    assert later.promised == D(2026, 3, 12)


def test_events_after_at_are_ignored() -> None:
    events = history(
        ("received", t(3, 2, 9)),
        ("accepted", t(3, 3)),
        ("approved", t(3, 5)),
    )
    before = deadlines(events, t(3, 2, 12), promised=W(3))
    assert before.promised is None
    assert before.timeline.last_status is not None
    assert before.timeline.last_status.value == "received"
    after = deadlines(events, t(3, 9), promised=W(3))
    assert after.promised == D(2026, 3, 6)
    assert after.timeline.is_concluded
    assert after.timeline.closed_at == t(3, 5)


def test_not_accepted_and_missing_limits() -> None:
    refused = history(("received", t(3, 2, 9)), ("refused", t(3, 2)))
    result = deadlines(refused, t(3, 3), legal=W(20), promised=W(5))
    assert (result.legal, result.promised) == (None, None)
    assert result.timeline.is_closed
    assert not result.timeline.is_concluded
    accepted = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))
    no_legal = deadlines(accepted, t(3, 3), promised=W(5))
    assert no_legal.legal is None
    assert no_legal.deadline("legal") is None
    assert no_legal.deadline() == D(2026, 3, 9)
    with pytest.raises(ValidationError, match="basis"):
        no_legal.deadline("soon")


def test_withdrawn_while_paused_closes_the_pause() -> None:
    events = history(
        ("received", t(3, 2, 9)),
        ("accepted", t(3, 2)),
        ("supplement_start", t(3, 3)),
        ("withdrawn", t(3, 5)),
    )
    timeline = case_timeline(events)
    assert not timeline.is_paused
    assert timeline.pauses[0].end == t(3, 5)
    result = deadlines(events, t(3, 20), promised=W(5))
    assert result.paused_working_days == 2


def test_bad_histories() -> None:
    backwards = history(("received", t(3, 2)), ("accepted", t(3, 1)))
    with pytest.raises(ValidationError) as caught:
        case_timeline(backwards)
    assert caught.value.rule == "time_before_previous"
    with pytest.raises(TransitionError) as illegal:
        case_timeline(history(("received", t(3, 2)), ("processing", t(3, 3))))
    assert illegal.value.rule == "processing_before_acceptance"
    one = history(("received", t(3, 2)))
    other = parse_case_event(
        {
            "case_number": "C2",
            "sequence": 1,
            "status": "received",
            "time": t(3, 2).isoformat(),
            "hall": "370500",
        }
    )
    with pytest.raises(ValidationError) as mixed:
        case_timeline([*one, other])
    assert mixed.value.rule == "mixed_cases"
    with pytest.raises(ValidationError, match="timezone-aware"):
        compute_deadlines(one, legal=None, promised=None, calendar=CAL, at=datetime(2026, 3, 2))  # noqa: DTZ001 - the point of the test


def test_to_dict_is_json_ready() -> None:
    events = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))
    data = deadlines(events, t(3, 3), legal=W(20), promised=W(5)).to_dict()
    assert data["promised_deadline"] == "2026-03-09"
    assert data["legal_limit"] == "20 working days"
    assert data["status"] == "accepted"


def test_timeline_of_a_prebuilt_timeline() -> None:
    events = history(("received", t(3, 2, 9)), ("accepted", t(3, 2)))
    timeline = case_timeline(events, at=t(3, 3))
    result = compute_deadlines(timeline, legal=None, promised=W(1), calendar=CAL, at=t(3, 3))
    assert result.promised == D(2026, 3, 3)
    assert result.timeline is timeline
    assert t(3, 3) - t(3, 2) == timedelta(days=1)
