"""Electronic supervision (电子监察): per-case alert levels and efficiency figures.

Levels of one case at a time T, against its promised deadline (承诺时限; the legal one when the
item has no promised limit, or with ``basis="legal"``):

==============  ==========================================================================
level           when (default thresholds; every one configurable: [U] in domain reference §6)
==============  ==========================================================================
``on_time``     more than 1 working day and more than 20% of the limit left (or concluded in
                time)
``warning``     预警: at most ``warning_working_days`` (1) working day or at most
                ``warning_fraction`` (20%) of the limit left, or past the deadline by less than
                ``yellow_overdue_working_days``
``yellow``      黄牌: ``yellow_overdue_working_days`` (1) working day overdue
``red``         红牌: ``red_overdue_working_days`` (2) or more working days overdue
==============  ==========================================================================

"Left" counts the working days after today up to and including the deadline day (deadline
today → 0 left); "overdue" counts the working days after the deadline up to and including
today (:meth:`WorkingCalendar.working_days_between`). The fraction is ``left / limit amount``
(in the limit's unit, working days for a working-day limit). A concluded case keeps the level it
had when it concluded; while the clock is paused the deadline moves with the pause, so a
paused case does not slide towards a card. Cases not (yet) accepted, and cases withdrawn
(撤回) or revoked (撤销), have no level.

Efficiency figures (:func:`efficiency`): the promised-vs-legal reduction over items (the city
reports ~50%), the share of concluded cases concluded within the promised limit, and the
average working days from acceptance to conclusion (gross, and net of pauses).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from ._calendar import WorkingCalendar, china_date
from ._deadlines import CaseDeadlines
from ._items import Item, TimeUnit

__all__ = [
    "CaseSupervision",
    "EfficiencyReport",
    "SupervisionLevel",
    "SupervisionThresholds",
    "efficiency",
    "supervise",
]


class SupervisionLevel(StrEnum):
    """Alert level of a case (电子监察)."""

    ON_TIME = "on_time"  # 正常
    WARNING = "warning"  # 预警
    YELLOW = "yellow"  # 黄牌
    RED = "red"  # 红牌

    @property
    def label(self) -> str:
        """The Chinese term."""
        return {"on_time": "正常", "warning": "预警", "yellow": "黄牌", "red": "红牌"}[self.value]


class SupervisionThresholds(BaseModel):
    """Configurable thresholds (defaults from domain reference §6, all marked [U] there).

    Raises (on construction):
        pydantic.ValidationError: rule ``red_before_yellow`` when red does not come after
            yellow (use :func:`govlink.domain.parse_model` to get a govlink error).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    # Strict: thresholds come from an operator's file, where "1" or true is a mistake to name.
    warning_working_days: StrictInt = Field(default=1, ge=0, le=3650)
    """Warn when at most this many working days are left."""
    warning_fraction: float = Field(default=0.2, ge=0.0, le=1.0, strict=True)
    """Warn when at most this share of the time limit is left."""
    yellow_overdue_working_days: StrictInt = Field(default=1, ge=1, le=3650)
    """Yellow card at this many working days overdue."""
    red_overdue_working_days: StrictInt = Field(default=2, ge=1, le=3650)
    """Red card at this many working days overdue (or more)."""
    basis: Literal["promised", "legal"] = "promised"
    """Which deadline the levels are measured against (the other is the fallback)."""

    @model_validator(mode="after")
    def _red_after_yellow(self) -> SupervisionThresholds:
        if self.red_overdue_working_days <= self.yellow_overdue_working_days:
            raise PydanticCustomError(
                "red_before_yellow", "red_overdue_working_days must exceed the yellow threshold"
            )
        return self


@dataclass(frozen=True, slots=True)
class CaseSupervision:
    """The supervision result of one case at ``at``.

    ``level`` is ``None`` when the case has no deadline (not accepted, or no limit known).
    ``remaining_working_days`` is set while the deadline has not passed, ``overdue_working_days``
    once it has (both measured at ``at``, or at the conclusion for a closed case).
    """

    deadlines: CaseDeadlines
    level: SupervisionLevel | None
    basis: str | None
    remaining_working_days: int | None
    overdue_working_days: int | None

    @property
    def case_number(self) -> str:
        return self.deadlines.case_number

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the deadlines plus the level."""
        return {
            **self.deadlines.to_dict(),
            "level": self.level.value if self.level else None,
            "basis": self.basis,
            "remaining_working_days": self.remaining_working_days,
            "overdue_working_days": self.overdue_working_days,
        }


def supervise(
    deadlines: CaseDeadlines,
    calendar: WorkingCalendar,
    thresholds: SupervisionThresholds | None = None,
) -> CaseSupervision:
    """The alert level of one case at ``deadlines.at`` (closed cases: at their closing).

    Raises:
        CalendarDataMissing: a year on the way has no holiday data.
    """
    limits = thresholds or SupervisionThresholds()
    other = "legal" if limits.basis == "promised" else "promised"
    basis: str | None = limits.basis
    deadline = deadlines.deadline(limits.basis)
    if deadline is None:
        basis = other
        deadline = deadlines.deadline(other)
    timeline = deadlines.timeline
    if deadline is None or (timeline.is_closed and not timeline.is_concluded):
        # No deadline, or withdrawn/revoked/not accepted: nothing to supervise.
        return CaseSupervision(deadlines, None, None, None, None)
    now = timeline.closed_at if timeline.closed_at is not None else deadlines.at
    today = china_date(now)
    if today <= deadline:
        left = calendar.working_days_between(today, deadline)
        limit = deadlines.limit(basis or limits.basis)
        fraction = None
        if limit is not None and limit.unit is not TimeUnit.ON_THE_SPOT and limit.amount:
            left_in_unit = left if limit.unit is TimeUnit.WORKING_DAYS else (deadline - today).days
            fraction = left_in_unit / limit.amount
        warn = left <= limits.warning_working_days or (
            fraction is not None and fraction <= limits.warning_fraction
        )
        if timeline.closed_at is not None:
            warn = False  # concluded in time: nothing left to warn about
        level = SupervisionLevel.WARNING if warn else SupervisionLevel.ON_TIME
        return CaseSupervision(deadlines, level, basis, left, None)
    overdue = calendar.working_days_between(deadline, today)
    if overdue >= limits.red_overdue_working_days:
        level = SupervisionLevel.RED
    elif overdue >= limits.yellow_overdue_working_days:
        level = SupervisionLevel.YELLOW
    else:
        level = SupervisionLevel.WARNING  # past the deadline day, no working day lost yet
    return CaseSupervision(deadlines, level, basis, None, overdue)


@dataclass(frozen=True, slots=True)
class EfficiencyReport:
    """Efficiency figures (效能) over items and cases. Shares are 0–1; ``None`` when undefined.

    * ``mean_limit_reduction``: mean over comparable items of 1 − promised/legal (same unit;
      on the spot against days counts 1.0), the figure the city reports as ~50%;
    * ``within_promised_share``: concluded cases (办结) concluded on or before the promised
      deadline, over concluded cases that have one;
    * ``mean_working_days_to_conclusion``: working days from acceptance to conclusion (the
      acceptance day not counted); ``..._net`` subtracts paused working days.
    """

    items_compared: int
    mean_limit_reduction: float | None
    cases: int
    concluded: int
    concluded_within_promised: int
    within_promised_share: float | None
    mean_working_days_to_conclusion: float | None
    mean_working_days_to_conclusion_net: float | None
    levels: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "items_compared": self.items_compared,
            "mean_limit_reduction": self.mean_limit_reduction,
            "cases": self.cases,
            "concluded": self.concluded,
            "concluded_within_promised": self.concluded_within_promised,
            "within_promised_share": self.within_promised_share,
            "mean_working_days_to_conclusion": self.mean_working_days_to_conclusion,
            "mean_working_days_to_conclusion_net": self.mean_working_days_to_conclusion_net,
            "levels": dict(self.levels),
        }


def efficiency(
    items: Iterable[Item],
    cases: Iterable[CaseSupervision],
    calendar: WorkingCalendar,
) -> EfficiencyReport:
    """Efficiency figures over ``items`` (limit reduction) and supervised ``cases``.

    Raises:
        CalendarDataMissing: a year on the way has no holiday data.
    """
    reductions = [r for r in (item.limit_reduction for item in items) if r is not None]
    levels: Counter[str] = Counter()
    total = concluded = with_promised = within = 0
    gross: list[int] = []
    net: list[int] = []
    for result in cases:
        total += 1
        levels[result.level.value if result.level else "none"] += 1
        timeline = result.deadlines.timeline
        if timeline.accepted_at is None or timeline.closed_at is None:
            continue
        if not timeline.is_concluded:
            continue
        concluded += 1
        promised = result.deadlines.promised
        if promised is not None:
            with_promised += 1
            if china_date(timeline.closed_at) <= promised:
                within += 1
        days = calendar.working_days_between(timeline.accepted_at, timeline.closed_at)
        gross.append(days)
        net.append(max(0, days - result.deadlines.paused_working_days))
    return EfficiencyReport(
        items_compared=len(reductions),
        mean_limit_reduction=sum(reductions) / len(reductions) if reductions else None,
        cases=total,
        concluded=concluded,
        concluded_within_promised=within,
        within_promised_share=within / with_promised if with_promised else None,
        mean_working_days_to_conclusion=sum(gross) / len(gross) if gross else None,
        mean_working_days_to_conclusion_net=sum(net) / len(net) if net else None,
        levels=dict(sorted(levels.items())),
    )
