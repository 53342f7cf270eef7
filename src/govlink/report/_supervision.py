"""What a supervision report (电子监察报告) shows, computed from supervised cases.

Pure: the caller passes the cases with their :class:`~govlink.domain.CaseSupervision` results
(as ``govlink supervise`` computes them), the items that give the time limits and the calendar;
nothing here reads files or the clock. Rendering is :mod:`govlink.report._html`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from ..domain import (
    Case,
    CaseStatus,
    CaseStatusEvent,
    CaseSupervision,
    EfficiencyReport,
    Item,
    ItemType,
    LegalPerson,
    RegionRegistry,
    SupervisionLevel,
    SupervisionThresholds,
    TimeUnit,
    WorkingCalendar,
    case_timeline,
    compute_deadlines,
    efficiency,
    mask_personal,
    supervise,
)

__all__ = [
    "CONCLUSION_BINS",
    "FLAG_LEVELS",
    "ItemTypeLimits",
    "LevelCounts",
    "ReportedCase",
    "SupervisionReport",
    "build_supervision_report",
    "supervise_cases",
]

#: The levels a report flags, worst first (正常 is not flagged).
FLAG_LEVELS: tuple[SupervisionLevel, ...] = (
    SupervisionLevel.RED,
    SupervisionLevel.YELLOW,
    SupervisionLevel.WARNING,
)

#: Bins of the time-to-conclusion histogram, in working days: (label, lowest, highest).
CONCLUSION_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4–5", 4, 5),
    ("6–10", 6, 10),
    ("11–20", 11, 20),
    ("21–40", 21, 40),
    (">40", 41, None),
)


@dataclass(frozen=True, slots=True)
class ReportedCase:
    """One case as the report shows it; ``applicant`` is already masked (个人信息脱敏).

    ``result`` is ``None`` when no time limit is known for the case's item.
    ``working_days_to_conclusion`` is set for concluded cases (办结) only.
    """

    case_number: str
    hall: str
    implementation_code: str
    item_name: str | None
    department: str | None
    applicant: str
    result: CaseSupervision | None
    working_days_to_conclusion: int | None

    @property
    def level(self) -> SupervisionLevel | None:
        return self.result.level if self.result is not None else None

    @property
    def status(self) -> CaseStatus | None:
        return self.result.deadlines.timeline.last_status if self.result is not None else None


@dataclass(frozen=True, slots=True)
class LevelCounts:
    """Supervised cases of one hall or department, by level."""

    name: str
    supervised: int
    levels: Mapping[SupervisionLevel, int]

    @property
    def flagged(self) -> int:
        return sum(self.levels.get(level, 0) for level in FLAG_LEVELS)


@dataclass(frozen=True, slots=True)
class ItemTypeLimits:
    """Mean legal and promised limits (working days) of one item type's comparable items."""

    item_type: ItemType
    items: int
    mean_legal_days: float
    mean_promised_days: float

    @property
    def reduction(self) -> float:
        """1 − promised/legal over the means (0.5 = promised limits half the legal ones)."""
        if self.mean_legal_days <= 0:
            return 0.0
        return 1.0 - self.mean_promised_days / self.mean_legal_days


def _masked_applicant(case: Case) -> str:
    applicant = case.applicant
    if isinstance(applicant, LegalPerson):
        # An organisation's name is public (it is on its licence); the agent is not shown.
        return applicant.name
    return mask_personal(applicant.name, keep_start=1, keep_end=0)


@dataclass(frozen=True)
class SupervisionReport:
    """Everything the HTML report draws, computed once.

    Build it with :func:`build_supervision_report` (from results already computed) or
    :func:`supervise_cases` (from cases and events).
    """

    at: datetime
    thresholds: SupervisionThresholds
    cases: tuple[ReportedCase, ...]
    efficiency: EfficiencyReport
    items: Mapping[str, Item]
    hall_names: Mapping[str, str] = field(default_factory=dict)
    title: str = "Supervision report 电子监察报告"

    # --- the figures ----------------------------------------------------------------------

    def level_counts(self) -> dict[str, int]:
        """Cases by level value, plus ``none`` for cases without a deadline."""
        counts = Counter(c.level.value if c.level else "none" for c in self.cases)
        return {
            **{level.value: counts.get(level.value, 0) for level in SupervisionLevel},
            "none": counts.get("none", 0),
        }

    def status_counts(self) -> list[tuple[CaseStatus | None, int]]:
        """Cases by last status, in the state machine's order; ``None``: no event yet."""
        counts = Counter(c.status for c in self.cases)
        order = list(CaseStatus)
        return sorted(
            counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] is not None else -1
        )

    def hall_label(self, code: str) -> str:
        name = self.hall_names.get(code)
        return f"{name} {code}" if name else code

    def _levels_by(self, key: str) -> list[LevelCounts]:
        groups: dict[str, Counter[SupervisionLevel]] = defaultdict(Counter)
        supervised: Counter[str] = Counter()
        for case in self.cases:
            if key == "hall":
                name = self.hall_label(case.hall)
            else:
                name = case.department or "unknown item 未知事项"
            if case.level is None:
                groups.setdefault(name, Counter())
                continue
            supervised[name] += 1
            groups[name][case.level] += 1
        rows = [LevelCounts(name, supervised[name], dict(c)) for name, c in groups.items()]
        return sorted(rows, key=lambda r: (-r.flagged, -r.supervised, r.name))

    def levels_by_hall(self) -> list[LevelCounts]:
        """预警 / 黄牌 / 红牌 per hall (受理大厅), most flagged first."""
        return self._levels_by("hall")

    def levels_by_department(self) -> list[LevelCounts]:
        """预警 / 黄牌 / 红牌 per implementing department (实施部门), most flagged first."""
        return self._levels_by("department")

    def limits_by_item_type(self) -> list[ItemTypeLimits]:
        """Mean legal vs promised limits per item type, over the report's items.

        Only items whose two limits are both in working days are compared (a mean over mixed
        units would mean nothing); the overall reduction is ``efficiency.mean_limit_reduction``.
        """
        legal: dict[ItemType, list[int]] = defaultdict(list)
        promised: dict[ItemType, list[int]] = defaultdict(list)
        for item in self.items.values():
            if item.legal_limit is None or item.legal_limit.unit is not TimeUnit.WORKING_DAYS:
                continue
            limit = item.promised_limit
            if limit.unit is TimeUnit.WORKING_DAYS:
                days = limit.amount
            elif limit.is_on_the_spot:
                days = 0
            else:
                continue
            legal[item.item_type].append(item.legal_limit.amount)
            promised[item.item_type].append(days)
        order = list(ItemType)
        return [
            ItemTypeLimits(
                t,
                len(legal[t]),
                sum(legal[t]) / len(legal[t]),
                sum(promised[t]) / len(promised[t]),
            )
            for t in sorted(legal, key=order.index)
        ]

    def conclusion_histogram(self) -> list[tuple[str, int]]:
        """Concluded cases by working days from acceptance to conclusion, in
        :data:`CONCLUSION_BINS`."""
        days = [c.working_days_to_conclusion for c in self.cases]
        counts = []
        for label, low, high in CONCLUSION_BINS:
            counts.append(
                (
                    label,
                    sum(
                        1
                        for d in days
                        if d is not None and d >= low and (high is None or d <= high)
                    ),
                )
            )
        return counts

    def flagged(self) -> list[ReportedCase]:
        """Cases at 预警 or worse: red first, then yellow, then warning; most overdue first."""
        rank = {level: i for i, level in enumerate(FLAG_LEVELS)}

        def key(case: ReportedCase) -> tuple[int, int, int, str]:
            result = case.result
            assert result is not None
            assert result.level is not None
            return (
                rank[result.level],
                -(result.overdue_working_days or 0),
                result.remaining_working_days or 0,
                case.case_number,
            )

        return sorted((c for c in self.cases if c.level in rank), key=key)

    def deadline(self, case: ReportedCase, basis: str) -> date | None:
        """The case's ``promised`` or ``legal`` deadline (``None`` when it has none)."""
        return case.result.deadlines.deadline(basis) if case.result is not None else None


def build_supervision_report(
    results: Iterable[tuple[Case, CaseSupervision | None]],
    items: Mapping[str, Item],
    calendar: WorkingCalendar,
    *,
    at: datetime,
    thresholds: SupervisionThresholds | None = None,
    regions: RegionRegistry | None = None,
    title: str | None = None,
) -> SupervisionReport:
    """A report from cases already supervised (``govlink supervise`` computes ``results``).

    ``items``: the catalog items by implementation code (only those of the cases are used).
    ``regions`` names the halls (default: the bundled registry).

    Raises:
        CalendarDataMissing: a year on the way has no holiday data.
    """
    from ..domain import default_regions

    registry = regions if regions is not None else default_regions()
    pairs = list(results)
    used = {case.implementation_code for case, _ in pairs}
    report_items = {code: items[code] for code in sorted(used) if code in items}
    supervised = [r for _, r in pairs if r is not None]
    reported: list[ReportedCase] = []
    halls: dict[str, str] = {}
    for case, result in pairs:
        if case.hall in registry:
            halls[case.hall] = registry.get(case.hall).name
        item = items.get(case.implementation_code)
        days = None
        if result is not None:
            timeline = result.deadlines.timeline
            if timeline.is_concluded and timeline.accepted_at and timeline.closed_at:
                days = calendar.working_days_between(timeline.accepted_at, timeline.closed_at)
        reported.append(
            ReportedCase(
                case_number=case.case_number,
                hall=case.hall,
                implementation_code=case.implementation_code,
                item_name=item.name if item else None,
                department=item.department.name if item else None,
                applicant=_masked_applicant(case),
                result=result,
                working_days_to_conclusion=days,
            )
        )
    return SupervisionReport(
        at=at,
        thresholds=thresholds or SupervisionThresholds(),
        cases=tuple(reported),
        efficiency=efficiency(report_items.values(), supervised, calendar),
        items=report_items,
        hall_names=halls,
        **({"title": title} if title else {}),
    )


def supervise_cases(
    cases: Iterable[Case],
    events: Iterable[CaseStatusEvent],
    items: Mapping[str, Item],
    calendar: WorkingCalendar,
    *,
    at: datetime,
    thresholds: SupervisionThresholds | None = None,
    regions: RegionRegistry | None = None,
    title: str | None = None,
) -> SupervisionReport:
    """Supervise ``cases`` from their ``events`` at ``at`` (aware) and build the report.

    Cases whose item is not in ``items`` have no deadline (shown as such).

    Raises:
        CaseTransitionError: a case's events break the state machine.
        ValidationError: events out of time order (see :func:`govlink.domain.case_timeline`).
        CalendarDataMissing: a year on the way has no holiday data.
        ValueError: ``at`` is naive.
    """
    limits = thresholds or SupervisionThresholds()
    by_case: dict[str, list[CaseStatusEvent]] = defaultdict(list)
    for event in events:
        by_case[event.case_number].append(event)
    results: list[tuple[Case, CaseSupervision | None]] = []
    for case in cases:
        item = items.get(case.implementation_code)
        if item is None:
            results.append((case, None))
            continue
        ordered: Sequence[CaseStatusEvent] = sorted(
            by_case.get(case.case_number, []), key=lambda e: e.sequence
        )
        deadlines = compute_deadlines(
            case_timeline(ordered, at=at),
            legal=item.legal_limit,
            promised=item.promised_limit,
            calendar=calendar,
            at=at,
        )
        results.append((case, supervise(deadlines, calendar, limits)))
    return build_supervision_report(
        results, items, calendar, at=at, thresholds=limits, regions=regions, title=title
    )
