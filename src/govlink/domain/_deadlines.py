"""Legal and promised deadlines (法定时限 / 承诺时限) of a case, from its status events.

Counting rules (domain reference §6; Administrative Licensing Law §42, §45, §82):

* The clock starts at acceptance (受理); **the acceptance day is not counted**.
* A limit of N **working days** ends on the N-th working day after the acceptance day
  (:meth:`WorkingCalendar.add_working_days`): weekends and statutory holidays are skipped,
  make-up working days (调休) count.
* A limit of N **natural days** ends N calendar days after the acceptance day; when that day is
  a rest day the deadline moves to the next working day (Civil Code §203: a period whose last
  day is a statutory rest day ends on the day after the rest).
* **On the spot** (即办): the deadline is the acceptance day itself.
* Time spent paused does not count: 补正 (supplement of materials, status 6→7) and 特别程序
  (special procedures, status 9→10, Licensing Law §45). A pause from day S to day E lasts the
  working days after S up to and including E (:meth:`WorkingCalendar.working_days_between`,
  the same "first day not counted" convention as acceptance: a same-day pause lasts 0 days).
  The deadline moves later by the paused working days (natural days for a natural-day limit).
  A pause still open at the evaluation time counts up to that time: the deadline keeps moving
  while the clock is stopped.
* Legal and promised deadlines are computed and kept separately.

Deadlines are dates: a case is on time when it concludes on or before the deadline day (China
time). Everything here is pure: the caller passes the events, the limits, the calendar and
"now".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from .._errors import CalendarDataMissing, ValidationError
from ._calendar import CALENDAR_YEARS, WorkingCalendar, china_date
from ._cases import (
    CONCLUDING_STATUSES,
    TERMINAL_STATUSES,
    CaseLifecycle,
    CaseStatus,
    CaseStatusEvent,
    ClockEffect,
    status_info,
)
from ._items import TimeLimit, TimeUnit

__all__ = [
    "CaseDeadlines",
    "CaseTimeline",
    "Pause",
    "case_timeline",
    "compute_deadlines",
    "deadline_for",
]

_PAUSE_KIND: Final = {
    CaseStatus.SUPPLEMENT_START: "supplement",  # 补正
    CaseStatus.SPECIAL_PROCEDURE_START: "special_procedure",  # 特别程序
}


@dataclass(frozen=True, slots=True)
class Pause:
    """One stretch of stopped clock: ``kind`` is ``supplement`` or ``special_procedure``.

    ``end`` is ``None`` while the pause is still open at the evaluation time.
    """

    kind: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    """What a case's events say about its clock at a given time."""

    case_number: str
    received_at: datetime | None
    accepted_at: datetime | None  # 受理时间: the clock starts
    closed_at: datetime | None  # time of the terminal status, if any
    last_status: CaseStatus | None
    pauses: tuple[Pause, ...]

    @property
    def is_paused(self) -> bool:
        """Whether the clock is stopped (a pause without its end)."""
        return bool(self.pauses) and self.pauses[-1].end is None

    @property
    def is_closed(self) -> bool:
        """Whether the case reached a terminal status."""
        return self.last_status in TERMINAL_STATUSES

    @property
    def is_concluded(self) -> bool:
        """Whether the case ended with a decision (办结: approved, tolerated, denied)."""
        return self.last_status in CONCLUDING_STATUSES


def case_timeline(events: Iterable[CaseStatusEvent], *, at: datetime | None = None) -> CaseTimeline:
    """Replay one case's events (in sequence order) through the state machine.

    Events later than ``at`` (aware) are ignored, so the timeline is the case as known then.

    Raises:
        CaseTransitionError: the events break the state machine (e.g. a sequence gap).
        ValidationError: events of several cases mixed (rule ``mixed_cases``), or a time
            earlier than the previous event's (rule ``time_before_previous``).
    """
    lifecycle = CaseLifecycle()
    case_number: str | None = None
    previous_time: datetime | None = None
    received_at = accepted_at = closed_at = None
    last: CaseStatus | None = None
    pauses: list[Pause] = []
    for event in events:
        if at is not None and event.time > at:
            break
        if case_number is None:
            case_number = event.case_number
        elif event.case_number != case_number:
            raise ValidationError(
                f"events of case {event.case_number} mixed into case {case_number}",
                field="case_number",
                rule="mixed_cases",
            )
        lifecycle.advance(event.case_number, event.sequence, event.status)
        if previous_time is not None and event.time < previous_time:
            raise ValidationError(
                f"case {case_number}: event {event.sequence} is earlier than event "
                f"{event.sequence - 1}",
                field="time",
                rule="time_before_previous",
            )
        previous_time = event.time
        status = event.status
        effect = status_info(status).clock
        if status is CaseStatus.RECEIVED:
            received_at = event.time
        elif effect is ClockEffect.START:
            accepted_at = event.time
        elif effect is ClockEffect.PAUSE:
            pauses.append(Pause(_PAUSE_KIND[status], event.time, None))
        elif effect is ClockEffect.RESUME:
            pauses[-1] = Pause(pauses[-1].kind, pauses[-1].start, event.time)
        elif effect is ClockEffect.STOP:
            closed_at = event.time
            if pauses and pauses[-1].end is None:
                # Withdrawn or revoked while paused: the pause ends with the case.
                pauses[-1] = Pause(pauses[-1].kind, pauses[-1].start, event.time)
        last = status
    return CaseTimeline(
        case_number=case_number or "",
        received_at=received_at,
        accepted_at=accepted_at,
        closed_at=closed_at,
        last_status=last,
        pauses=tuple(pauses),
    )


def deadline_for(
    accepted: date | datetime,
    limit: TimeLimit,
    calendar: WorkingCalendar,
    *,
    paused_working_days: int = 0,
    paused_natural_days: int = 0,
) -> date:
    """The deadline day of ``limit`` counted from ``accepted`` (see the module rules).

    Raises:
        CalendarDataMissing: a year on the way has no holiday data (or lies outside
            :data:`govlink.domain.CALENDAR_YEARS`).
        ValidationError: ``accepted`` is naive (rule ``timezone_aware``), or a pause count is
            negative (rule ``non_negative``).
    """
    day = china_date(accepted, field="accepted")
    for name, value in (
        ("paused_working_days", paused_working_days),
        ("paused_natural_days", paused_natural_days),
    ):
        if value < 0:
            raise ValidationError("must not be negative", field=name, rule="non_negative")
    if limit.unit is TimeUnit.WORKING_DAYS:
        return calendar.add_working_days(day, limit.amount + paused_working_days)
    if limit.unit is TimeUnit.NATURAL_DAYS:
        try:
            end = day + timedelta(days=limit.amount + paused_natural_days)
        except OverflowError:
            # Past year 9999: far outside any calendar, so the same answer as any such year.
            raise CalendarDataMissing(
                f"the deadline falls after year {CALENDAR_YEARS.stop - 1}, outside the "
                "years govlink's calendar covers"
            ) from None
        return calendar.next_working_day(end)
    # On the spot: the acceptance day, pushed on by any pause.
    return calendar.add_working_days(day, paused_working_days)


@dataclass(frozen=True, slots=True)
class CaseDeadlines:
    """A case's legal and promised deadlines at a given time.

    ``legal``/``promised`` are ``None`` before acceptance, for cases never accepted, and when
    the item has no such limit. ``paused_working_days``/``paused_natural_days`` add up every
    pause up to ``at``.
    """

    timeline: CaseTimeline
    at: datetime
    legal_limit: TimeLimit | None
    promised_limit: TimeLimit | None
    legal: date | None  # 法定办结期限
    promised: date | None  # 承诺办结期限
    paused_working_days: int
    paused_natural_days: int

    @property
    def case_number(self) -> str:
        return self.timeline.case_number

    def deadline(self, basis: str = "promised") -> date | None:
        """The ``"promised"`` (default) or ``"legal"`` deadline.

        Raises:
            ValidationError: ``basis`` is neither (field ``basis``, rule ``choice``).
        """
        if basis == "promised":
            return self.promised
        if basis == "legal":
            return self.legal
        raise ValidationError("basis must be 'promised' or 'legal'", field="basis", rule="choice")

    def limit(self, basis: str = "promised") -> TimeLimit | None:
        """The time limit the ``basis`` deadline comes from."""
        return self.promised_limit if basis == "promised" else self.legal_limit

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (dates as ISO strings)."""
        t = self.timeline
        return {
            "case_number": t.case_number,
            "status": t.last_status.value if t.last_status else None,
            "accepted_at": t.accepted_at.isoformat() if t.accepted_at else None,
            "closed_at": t.closed_at.isoformat() if t.closed_at else None,
            "paused": t.is_paused,
            "paused_working_days": self.paused_working_days,
            "legal_limit": str(self.legal_limit) if self.legal_limit else None,
            "promised_limit": str(self.promised_limit) if self.promised_limit else None,
            "legal_deadline": self.legal.isoformat() if self.legal else None,
            "promised_deadline": self.promised.isoformat() if self.promised else None,
        }


def compute_deadlines(
    events: Iterable[CaseStatusEvent] | CaseTimeline,
    *,
    legal: TimeLimit | None,
    promised: TimeLimit | None,
    calendar: WorkingCalendar,
    at: datetime,
) -> CaseDeadlines:
    """Legal and promised deadlines of one case as known at ``at`` (aware).

    ``events`` are the case's status events in sequence order (or a timeline already built
    with :func:`case_timeline` for the same ``at``).

    Raises:
        ValidationError: ``at`` is naive (field ``at``, rule ``timezone_aware``), or see
            :func:`case_timeline`.
        CaseTransitionError: see :func:`case_timeline`.
        CalendarDataMissing: a year on the way has no holiday data.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationError(
            "compute_deadlines needs a timezone-aware 'at'", field="at", rule="timezone_aware"
        )
    timeline = events if isinstance(events, CaseTimeline) else case_timeline(events, at=at)
    paused_working = paused_natural = 0
    for pause in timeline.pauses:
        end = pause.end if pause.end is not None else at
        paused_working += calendar.working_days_between(pause.start, end)
        paused_natural += max(0, (china_date(end) - china_date(pause.start)).days)
    legal_day = promised_day = None
    if timeline.accepted_at is not None:
        if legal is not None:
            legal_day = deadline_for(
                timeline.accepted_at,
                legal,
                calendar,
                paused_working_days=paused_working,
                paused_natural_days=paused_natural,
            )
        if promised is not None:
            promised_day = deadline_for(
                timeline.accepted_at,
                promised,
                calendar,
                paused_working_days=paused_working,
                paused_natural_days=paused_natural,
            )
    return CaseDeadlines(
        timeline=timeline,
        at=at,
        legal_limit=legal,
        promised_limit=promised,
        legal=legal_day,
        promised=promised_day,
        paused_working_days=paused_working,
        paused_natural_days=paused_natural,
    )
