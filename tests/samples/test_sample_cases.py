"""The sample case generator: realistic, reproducible, streaming; the bundled sample."""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import pytest

from govlink import CHINA_TZ, ValidationError
from govlink.domain import (
    CaseLifecycle,
    CaseStatus,
    Item,
    LegalPerson,
    NaturalPerson,
    WorkingCalendar,
    compute_deadlines,
    supervise,
)
from govlink.samples import (
    SAMPLE_CASES_PERIOD,
    CaseProfile,
    SampleCase,
    generate_cases,
    iter_events,
    load_sample_cases,
    load_sample_catalog,
    read_case_records,
    sample_case_records,
    write_sample_cases,
    year_of_cases,
)


@pytest.fixture(scope="module")
def items() -> tuple[Item, ...]:
    return load_sample_catalog().items


def test_bundled_sample_is_reproducible(tmp_path: Path, items: tuple[Item, ...]) -> None:
    target = tmp_path / "cases.ndjson"
    lines = write_sample_cases(target, items)
    bundled = resources.files("govlink.samples").joinpath("data/cases.ndjson").read_bytes()
    assert target.read_bytes() == bundled, (
        "the bundled sample drifted from the generator: regenerate it (docs/samples.md)"
    )
    assert lines == bundled.count(b"\n")


def test_bundled_sample_validates_and_is_realistic(items: tuple[Item, ...]) -> None:
    cases, events = load_sample_cases()
    assert len(cases) == 1000
    assert 4000 < len(events) < 6000
    assert {c.hall for c in cases} == {"370500", "370502", "370503", "370505", "370522", "370523"}
    start, end = SAMPLE_CASES_PERIOD
    assert all(start <= c.received_at.astimezone(CHINA_TZ).date() <= end for c in cases)
    assert {type(c.applicant) for c in cases} == {NaturalPerson, LegalPerson}
    known = {item.implementation_code for item in items}
    assert all(c.implementation_code in known for c in cases)

    lifecycle = CaseLifecycle()
    assert lifecycle.apply_all(events) == len(events)
    assert len(lifecycle) == len(cases)
    final = Counter(lifecycle.status(c.case_number) for c in cases)
    statuses = {e.status for e in events}
    # Every status of the vocabulary occurs somewhere in the sample.
    assert statuses == set(CaseStatus)
    assert final[CaseStatus.APPROVED] > 300
    assert final[CaseStatus.PROCESSING] > 0  # still open at the end of the period

    # Some cases are overdue at the end of the period (yellow or red cards).
    by_case: dict[str, list] = {}
    for e in events:
        by_case.setdefault(e.case_number, []).append(e)
    limits = {i.implementation_code: i for i in items}
    at = datetime(end.year, end.month, end.day, 18, tzinfo=CHINA_TZ)
    calendar = WorkingCalendar()
    levels = Counter()
    for case in cases:
        item = limits[case.implementation_code]
        deadlines = compute_deadlines(
            by_case[case.case_number],
            legal=item.legal_limit,
            promised=item.promised_limit,
            calendar=calendar,
            at=at,
        )
        result = supervise(deadlines, calendar)
        levels[result.level.value if result.level else None] += 1
    assert levels["on_time"] > 500
    assert levels["yellow"] + levels["red"] > 0
    assert levels["warning"] > 0


def test_case_numbers_follow_the_observed_form() -> None:
    cases, _ = load_sample_cases()
    for case in cases[:200]:
        assert re.fullmatch(
            re.escape(case.implementation_code) + r"2026\d{4}\d{4}", case.case_number
        )
    assert len({c.case_number for c in cases}) == len(cases)


def test_same_seed_same_cases_other_seed_other_cases(items: tuple[Item, ...]) -> None:
    first = list(generate_cases(items, cases=50, seed=7))
    again = list(generate_cases(items, cases=50, seed=7))
    other = list(generate_cases(items, cases=50, seed=8))
    assert first == again
    assert first != other


def test_generated_models_validate(items: tuple[Item, ...]) -> None:
    lifecycle = CaseLifecycle()
    for sample in generate_cases(items, cases=300, seed=3):
        case, events = sample.models()
        assert events[0].status is CaseStatus.RECEIVED
        assert events[0].time == case.received_at
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert all(a.time <= b.time for a, b in itertools.pairwise(events))
        lifecycle.apply_all(events)


def test_generator_streams(items: tuple[Item, ...]) -> None:
    stream = generate_cases(items, cases=20_000, seed=11)
    assert isinstance(stream, Iterator)
    assert iter(stream) is stream
    first = next(stream)
    assert isinstance(first, SampleCase)
    tracemalloc.start()
    try:
        count = 0
        for sample in stream:
            count += len(sample.events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 80_000
    # Holding 20,000 cases with ~95,000 event dicts takes well over 100 MB; streaming needs
    # the current case, day counters and the calendar's year tables.
    assert peak < 10 * 1024 * 1024, peak


def test_year_scale_bounded(items: tuple[Item, ...]) -> None:
    # The year generator with a fifth of the volume (the full year runs in the soak suite).
    total_cases = total_events = 0
    months = Counter()
    for sample in year_of_cases(items, cases=26_000):
        total_cases += 1
        total_events += len(sample.events)
        months[sample.case["received_at"][5:7]] += 1
    assert total_cases == 26_000
    assert 4.5 < total_events / total_cases < 5.5
    assert len(months) == 12


@pytest.mark.soak
def test_full_year(items: tuple[Item, ...]) -> None:
    events = sum(len(s.events) for s in year_of_cases(items))
    assert 600_000 <= events <= 700_000


def test_time_order_merges_without_losing_events(items: tuple[Item, ...]) -> None:
    by_case = list(iter_events(generate_cases(items, cases=400, seed=5)))
    by_time = list(iter_events(generate_cases(items, cases=400, seed=5), order="time"))
    assert sorted(map(repr, by_case)) == sorted(map(repr, by_time))
    assert all(a["time"] <= b["time"] for a, b in itertools.pairwise(by_time))
    last: dict[str, int] = {}
    for e in by_time:
        assert e["sequence"] == last.get(e["case_number"], 0) + 1
        last[e["case_number"]] = e["sequence"]
    with pytest.raises(ValueError, match="order"):
        list(iter_events([], order="random"))


def test_profile_shapes_the_histories(items: tuple[Item, ...]) -> None:
    quiet = CaseProfile(
        withdrawn_before_acceptance=0,
        not_accepted=0,
        refused=0,
        supplement=0,
        special_procedure=0,
        joint_processing=0,
        denied=0,
        tolerated_gaps=0,
        withdrawn=0,
        revoked=0,
        late=0,
    )
    statuses = Counter(
        e["status"]
        for s in generate_cases(items, cases=300, profile=quiet, end=date(2026, 4, 30))
        for e in s.events
    )
    assert set(statuses) == {"received", "accepted", "processing", "approved"}


def test_records_and_reader(items: tuple[Item, ...]) -> None:
    records = list(sample_case_records(generate_cases(items, cases=3)))
    assert records[0]["kind"] == "case"
    assert {r["kind"] for r in records} == {"case", "event"}
    decoded = list(read_case_records(["", '{"kind": "case"}', "  "]))
    assert decoded == [{"kind": "case", "_line": 2}]
    with pytest.raises(ValidationError, match="line 1") as not_object:
        list(read_case_records(["[1]"]))
    assert (not_object.value.field, not_object.value.rule) == ("line 1", "type")
    with pytest.raises(ValidationError, match="line 2"):
        list(read_case_records(["{}", "{nope"]))
    for bad, rule in (("[" * 100_000, "depth"), ("1" * 5000, "json"), ("\ud800", "json")):
        with pytest.raises(ValidationError) as caught:
            list(read_case_records([bad]))
        assert (caught.value.field, caught.value.rule) == ("line 1", rule)


def test_bad_arguments(items: tuple[Item, ...]) -> None:
    with pytest.raises(ValueError, match="negative"):
        list(generate_cases(items, cases=-1))
    with pytest.raises(ValueError, match="no items"):
        list(generate_cases([], cases=1))
    with pytest.raises(ValueError, match="no working day"):
        list(generate_cases(items, cases=1, start=date(2026, 10, 1), end=date(2026, 10, 7)))
