"""Demo step "cases": the bundled sample cases through the state machine, deadlines, supervision.

Supervision is computed at the end of the sample period (Friday 2026-03-20, 18:00 China time),
when some cases are concluded, some still running and a few overdue: the virtual clock of the
demo starts at the beginning of that period, where nothing would be due yet.

Leaves the cases and events (models) in ``demo.state.cases`` / ``demo.state.events``
for later steps (case sync).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from .._clock import CHINA_TZ
from .._errors import GovlinkError, TransitionError
from ..domain import (
    CaseLifecycle,
    CaseStatusEvent,
    CaseSupervision,
    SupervisionLevel,
    WorkingCalendar,
    compute_deadlines,
    efficiency,
    status_info,
    supervise,
)
from ..samples import SAMPLE_CASES_PERIOD, load_sample_cases, load_sample_catalog
from ._demo import Demo

__all__ = ["step"]


def supervision_time() -> datetime:
    end = SAMPLE_CASES_PERIOD[1]
    return datetime(end.year, end.month, end.day, 18, 0, tzinfo=CHINA_TZ)


def step(demo: Demo) -> None:
    """Load, validate and supervise the sample cases; print a short summary."""
    demo.section("Cases (办件): status histories, deadlines, supervision (电子监察)")
    try:
        cases, events = load_sample_cases()
    except GovlinkError as exc:
        demo.fail("load", f"bundled sample cases do not load: {exc.message}")
        return
    lifecycle = CaseLifecycle()
    try:
        lifecycle.apply_all(events)
    except TransitionError as exc:
        demo.fail("state_machine", f"sample cases break the state machine: {exc.message}")
        return
    demo.ok(
        "state_machine",
        f"{len(cases)} cases with {len(events)} status events passed the state machine "
        f"({len(events) / max(1, len(cases)):.1f} events per case)",
    )
    final = Counter(lifecycle.status(c.case_number) for c in cases)
    common = [(s, n) for s, n in final.most_common() if s is not None]
    shown = ", ".join(f"{status_info(s).label} {n}" for s, n in common[:6])
    if len(common) > 6:
        shown += f", {len(common) - 6} more statuses"
    demo.info(f"last status: {shown}")

    catalog = demo.state.catalog or load_sample_catalog()
    items = {item.implementation_code: item for item in catalog.items}
    by_case: dict[str, list[CaseStatusEvent]] = defaultdict(list)
    for event in events:
        by_case[event.case_number].append(event)
    calendar = WorkingCalendar()
    at = supervision_time()
    results: list[CaseSupervision] = []
    try:
        for case in cases:
            item = items.get(case.implementation_code)
            if item is None:
                demo.fail(
                    "deadlines",
                    f"case {case.case_number}: item {case.implementation_code} not in catalog",
                )
                continue
            deadlines = compute_deadlines(
                by_case[case.case_number],
                legal=item.legal_limit,
                promised=item.promised_limit,
                calendar=calendar,
                at=at,
            )
            results.append(supervise(deadlines, calendar))
    except GovlinkError as exc:
        demo.fail("deadlines", f"deadlines could not be computed: {exc.message}")
        return
    levels = Counter(r.level for r in results)
    running = sum(1 for r in results if not r.deadlines.timeline.is_closed)
    paused = sum(1 for r in results if r.deadlines.timeline.is_paused)
    report = efficiency(
        [items[c] for c in sorted({c.implementation_code for c in cases})], results, calendar
    )
    L = SupervisionLevel
    demo.info(
        f"at {at:%Y-%m-%d %H:%M} (end of the sample period): {running} running "
        f"({paused} paused for 补正/特别程序); on time {levels[L.ON_TIME]}, "
        f"预警 {levels[L.WARNING]}, 黄牌 {levels[L.YELLOW]}, 红牌 {levels[L.RED]}"
    )
    share = report.within_promised_share
    average = report.mean_working_days_to_conclusion
    demo.info(
        f"efficiency: {report.concluded} concluded, "
        f"{share:.0%} within the promised limit, "
        f"{average:.1f} working days to conclusion on average; promised limits "
        f"{report.mean_limit_reduction or 0:.0%} shorter than legal ({report.items_compared} items)"
        if share is not None and average is not None
        else "efficiency: no concluded case yet"
    )
    demo.ok("deadlines", "deadlines and supervision levels computed for every accepted case")
    demo.state.cases = list(cases)
    demo.state.events = list(events)
    demo.summary["cases"] = {
        "cases": len(cases),
        "events": len(events),
        "at": at.isoformat(),
        "last_status": {s.value: n for s, n in sorted(final.items()) if s is not None},
        "levels": {level.value: levels.get(level, 0) for level in SupervisionLevel},
        "running": running,
        "paused": paused,
        "efficiency": report.to_dict(),
    }
