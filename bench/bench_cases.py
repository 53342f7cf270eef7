"""The domain's hot paths for case sync, each against a baseline measured in the same run.

* ``lifecycle``  CaseLifecycle.advance over a year of generated events, against validating the
                 same events into models (what the state machine must not cost);
* ``parse``      parse_case_event on the raw dicts (what enqueueing a year costs);
* ``generate``   year_of_cases as raw dicts, against the same cases validated into models;
* ``calendar``   add_working_days (precomputed year tables) against stepping day by day with
                 chinese_calendar.is_workday.

    .venv/bin/python bench/bench_cases.py [--cases 130000]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import chinese_calendar

from govlink.domain import CaseLifecycle, CaseStatus, WorkingCalendar, parse_case_event
from govlink.samples import iter_events, load_sample_catalog, year_of_cases


def timed(label: str, count: int, seconds: float) -> float:
    rate = count / seconds
    print(f"  {label:<44} {count:>9,} in {seconds:6.2f} s = {rate:>12,.0f}/s")
    return rate


def naive_add_working_days(start: date, days: int) -> date:
    day = start
    while days:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            days -= 1
    return day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=130_000)
    args = parser.parse_args()
    items = load_sample_catalog().items

    print(f"generate ({args.cases:,} cases over 2026)")
    start = time.perf_counter()
    events = list(iter_events(year_of_cases(items, cases=args.cases)))
    raw = timed("raw event dicts", len(events), time.perf_counter() - start)
    sample = max(1, args.cases // 10)
    start = time.perf_counter()
    modelled = 0
    for case in year_of_cases(items, cases=sample):
        modelled += len(case.models()[1])
    models = timed("validated models (1/10 of the cases)", modelled, time.perf_counter() - start)
    print(f"  raw is {raw / models:.1f}x faster than models")

    print("parse")
    # Streaming, as the sync engine enqueues: each model is dropped once its fields are taken.
    triples = []
    start = time.perf_counter()
    for raw_event in events:
        event = parse_case_event(raw_event)
        triples.append((event.case_number, event.sequence, event.status))
    parse_rate = timed("parse_case_event", len(triples), time.perf_counter() - start)

    print("lifecycle")
    lifecycle = CaseLifecycle()
    advance = lifecycle.advance
    start = time.perf_counter()
    for number, sequence, status in triples:
        advance(number, sequence, status)
    transitions = timed("CaseLifecycle.advance", len(triples), time.perf_counter() - start)
    print(f"  state machine is {transitions / parse_rate:.0f}x faster than parsing the event")
    closed = sum(1 for n, _, s in triples if s is CaseStatus.RECEIVED and lifecycle.is_closed(n))
    print(f"  ({closed:,} of the cases closed by the end of the year)")

    print("calendar (20 working days from each of the first 300 days of 2026)")
    calendar = WorkingCalendar()
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(300)]
    start = time.perf_counter()
    for _ in range(50):
        fast = [calendar.add_working_days(d, 20) for d in days]
    fast_rate = timed(
        "WorkingCalendar.add_working_days", 50 * len(days), time.perf_counter() - start
    )
    start = time.perf_counter()
    slow = [naive_add_working_days(d, 20) for d in days]
    slow_rate = timed(
        "day-by-day chinese_calendar.is_workday", len(days), time.perf_counter() - start
    )
    assert fast == slow, "the two methods disagree"
    print(f"  precomputed tables are {fast_rate / slow_rate:.0f}x faster (same answers)")


if __name__ == "__main__":
    main()
