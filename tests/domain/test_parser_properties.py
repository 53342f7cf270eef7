"""Property-based tests: every public parser of the domain, fed anything, raises only govlink's
own errors, and every problem it reports names a field.

Inputs are random JSON-like values and valid records with one value (at any depth) replaced by
a random one, the shape most wire mistakes have. The class of bug these tests look for is "a
non-govlink exception escapes" (ValueError, TypeError, OverflowError, RecursionError, pydantic's
ValidationError...), and "a FieldProblem without a field".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from govlink import GovlinkError, ValidationError
from govlink.domain import (
    CaseLifecycle,
    CaseStatus,
    CreditCode,
    ResidentId,
    StatusCodeTable,
    SupervisionThresholds,
    TimeLimit,
    WorkingCalendar,
    default_regions,
    load_holiday_file,
    make_case_number,
    normalise_region_code,
    parse_case,
    parse_case_event,
    parse_item,
    parse_model,
    status_info,
)
from govlink.domain._calendar import parse_holiday_data
from govlink.samples import load_sample_catalog, read_case_records

_SAMPLES = Path(__file__).parents[2] / "src" / "govlink" / "samples" / "data" / "cases.ndjson"
_RECORDS = [json.loads(line) for line in _SAMPLES.read_text("utf-8").splitlines()[:40]]
CASE = next({k: v for k, v in r.items() if k != "kind"} for r in _RECORDS if r["kind"] == "case")
EVENTS = [{k: v for k, v in r.items() if k != "kind"} for r in _RECORDS if r["kind"] == "event"]
ITEM = load_sample_catalog().items[0].wire_dict()
HOLIDAYS: dict[str, Any] = {
    "format": "govlink-holidays/1",
    "source": "国办发明电",
    "years": [
        {
            "year": 2027,
            "holidays": ["2027-01-01", "2027-02-06..2027-02-12"],
            "makeup_workdays": ["2027-02-14"],
        }
    ],
}

# Scalars with the values lax parsers like to coerce, and text with odd characters.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "1",
            "1.0",
            "true",
            "1772413200",
            "2026-03-02",
            "2026-03-02T09:00:00",
            "2026-03-02T09:00:00+08:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "20270101",
            "2027-W01-1",
            "370500",
            "370521000000",
            "11010519491231002X",
            "  ",
            "\x00",
            "２０２６",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with the value at one path (any depth, the root included) replaced, or with
    a key added or removed there."""
    data = copy.deepcopy(base)
    path = draw(st.sampled_from(_paths(data)))
    if not path:
        return draw(json_values)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "drop":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=10))] = draw(json_values)
    else:
        parent[path[-1]] = draw(json_values)
    return data


def only_govlink_errors(parse: Callable[[Any], object], data: Any) -> GovlinkError | None:
    """Run ``parse``; fail on any exception outside the tree or any problem without a field."""
    error: GovlinkError | None = None
    try:
        parse(data)
    except GovlinkError as exc:
        error = exc
    if isinstance(error, ValidationError):
        assert error.problems, "a ValidationError must list its problems"
        for problem in error.problems:
            assert problem.field, f"problem without a field: {problem}"
            assert problem.rule, f"problem without a rule: {problem}"
    return error


PARSERS: dict[str, tuple[Callable[[Any], object], Any]] = {
    "event": (parse_case_event, EVENTS[1]),
    "case": (parse_case, CASE),
    "item": (lambda d: parse_item(d, check=True), ITEM),
    "holidays": (parse_holiday_data, HOLIDAYS),
    "thresholds": (lambda d: parse_model(SupervisionThresholds, d), {"warning_fraction": 0.2}),
    "time_limit": (lambda d: parse_model(TimeLimit, d), {"amount": 5, "unit": "working_days"}),
    "regions": (
        lambda d: default_regions().from_data(d),
        {
            "format": "govlink-regions/1",
            "regions": [
                {"code": "370000", "name": "山东省", "level": "province"},
                {"code": "370500", "name": "东营市", "level": "city", "parent": "370000"},
            ],
            "aliases": [{"code": "370521", "target": "370500"}],
        },
    ),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_valid_base_records_parse(name: str) -> None:
    parse, base = PARSERS[name]
    parse(copy.deepcopy(base))


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parsers_raise_only_govlink_errors_naming_a_field(name: str, data: st.DataObject) -> None:
    parse, base = PARSERS[name]
    value = data.draw(st.one_of(json_values, mutated(base)), label="input")
    only_govlink_errors(parse, value)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(scalars, st.text(alphabet="0123456789Xx ", min_size=15, max_size=20)))
def test_identifier_and_region_parsers(value: Any) -> None:
    only_govlink_errors(ResidentId.parse, value)
    only_govlink_errors(CreditCode.parse, value)
    only_govlink_errors(normalise_region_code, value)
    only_govlink_errors(default_regions().get, value)
    only_govlink_errors(status_info, value)
    only_govlink_errors(StatusCodeTable().status, value)


@settings(max_examples=100, deadline=None)
@given(code=scalars, sequence=scalars)
def test_make_case_number(code: Any, sequence: Any) -> None:
    only_govlink_errors(lambda _: make_case_number(code, date(2026, 3, 2), sequence), None)


@settings(max_examples=100, deadline=None)
@given(amount=st.one_of(scalars, st.integers(min_value=-5, max_value=4000)))
def test_time_limit_constructors(amount: Any) -> None:
    assert only_govlink_errors(TimeLimit.working_days, amount) is not None or (
        type(amount) is int and 1 <= amount <= 3650
    )
    only_govlink_errors(TimeLimit.natural_days, amount)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["C1", "C2"]), scalars),
            st.one_of(st.integers(min_value=-3, max_value=8), st.integers(), scalars),
            st.one_of(st.sampled_from(list(CaseStatus)), scalars),
        ),
        max_size=12,
    )
)
def test_case_lifecycle_inputs(steps: list[tuple[Any, Any, Any]]) -> None:
    lifecycle = CaseLifecycle()
    for step in steps:
        only_govlink_errors(lambda s: lifecycle.advance(*s), step)


_calendar = WorkingCalendar(allow_weekend_fallback=True)
_days = st.dates()
_times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), None]))


@settings(max_examples=200, deadline=None)
@given(
    start=st.one_of(_days, _times),
    end=st.one_of(_days, _times),
    days=st.one_of(st.integers(min_value=-3, max_value=400), st.integers()),
)
def test_calendar_queries_on_any_date(start: date, end: date, days: int) -> None:
    only_govlink_errors(_calendar.is_working_day, start)
    only_govlink_errors(_calendar.next_working_day, start)
    only_govlink_errors(lambda _: _calendar.add_working_days(start, days), None)
    only_govlink_errors(lambda _: _calendar.working_days_between(start, end), None)


@settings(max_examples=100, deadline=None)
@given(
    accepted=st.one_of(_days, _times),
    limit=st.sampled_from(
        [TimeLimit.working_days(5), TimeLimit.natural_days(3650), TimeLimit.on_the_spot()]
    ),
    paused=st.integers(min_value=-2, max_value=10**6),
)
def test_deadline_for_any_acceptance(accepted: date, limit: TimeLimit, paused: int) -> None:
    from govlink.domain import deadline_for

    only_govlink_errors(
        lambda _: deadline_for(
            accepted, limit, _calendar, paused_working_days=paused, paused_natural_days=paused
        ),
        None,
    )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        mutated(HOLIDAYS).map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
        mutated(HOLIDAYS).map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-16")),
    ),
    suffix=st.sampled_from([".json", ".toml", ".TOML", ""]),
)
def test_holiday_loader_on_any_bytes(tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"holidays{suffix}"
    path.write_bytes(content)
    error = only_govlink_errors(load_holiday_file, path)
    if error is not None:
        assert isinstance(error, ValidationError)
        assert any(str(path) in p.message for p in error.problems), "the file is named"


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.text(max_size=40), max_size=5))
def test_case_record_reader(lines: list[str]) -> None:
    only_govlink_errors(lambda d: list(read_case_records(d)), lines)


@pytest.mark.parametrize(
    ("parse", "base", "path", "value"),
    [
        (parse_case_event, EVENTS[1], ("sequence",), True),
        (parse_case_event, EVENTS[1], ("sequence",), "1"),
        (parse_case_event, EVENTS[1], ("sequence",), 1.0),
        (parse_case_event, EVENTS[1], ("time",), 2),
        (parse_case_event, EVENTS[1], ("time",), "1772413200"),
        (parse_case_event, EVENTS[1], ("handler",), b"x"),
        (parse_case, CASE, ("received_at",), 1772413200),
        (parse_case, CASE, ("applicant", "name"), b"x"),
        (parse_item, ITEM, ("online_depth",), True),
        (parse_item, ITEM, ("online_depth",), "1"),
        (parse_item, ITEM, ("online_depth",), 1.0),
        (parse_item, ITEM, ("name",), b"x"),
        (parse_holiday_data, HOLIDAYS, ("years", 0, "holidays", 0), "20270101"),
        (parse_holiday_data, HOLIDAYS, ("years", 0, "holidays", 0), "2027-W01-1"),
    ],
)
def test_lax_coercions_are_refused(
    parse: Callable[[Any], object], base: Any, path: tuple[Any, ...], value: Any
) -> None:
    data = copy.deepcopy(base)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    error = only_govlink_errors(parse, data)
    assert isinstance(error, ValidationError), f"{value!r} at {path} was accepted"
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    assert error.field == shown


def test_model_rule_problems_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        TimeLimit.working_days(0)
    assert (caught.value.field, caught.value.rule) == ("amount", "zero_days")
    with pytest.raises(ValidationError) as nested:
        parse_item({**ITEM, "promised_limit": {"amount": 2, "unit": "on_the_spot"}})
    assert nested.value.field == "promised_limit.amount"
    assert nested.value.rule == "on_the_spot_amount"
    with pytest.raises(ValidationError) as thresholds:
        parse_model(SupervisionThresholds, {"yellow_overdue_working_days": 4})
    assert thresholds.value.field == "red_overdue_working_days"
    with pytest.raises(ValidationError) as root:
        parse_holiday_data([])
    assert root.value.field == "(root)"


def test_an_aware_time_that_cannot_be_a_day_in_china_is_a_typed_error() -> None:
    far = datetime(9999, 12, 31, 23, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        _calendar.is_working_day(far)
    assert caught.value.rule == "range"


_any_aware = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - bounds for an aware strategy
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001 - same
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12))]),
)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[CaseStatus, datetime]]:
    """Mostly legal histories (each status drawn from what may follow the last one), at any
    times, so that the deadline code runs rather than the state machine refusing early."""
    from govlink.domain import TRANSITIONS

    near = st.datetimes(
        min_value=datetime(2025, 12, 1),  # noqa: DTZ001 - bounds for an aware strategy
        max_value=datetime(2026, 12, 31),  # noqa: DTZ001 - same
        timezones=st.just(UTC),
    )
    anywhen = draw(st.integers(min_value=0, max_value=4)) == 0  # now and then, any year
    times = draw(st.lists(_any_aware if anywhen else near, min_size=1, max_size=7))
    if draw(st.integers(min_value=0, max_value=3)) > 0:
        times.sort()  # in order, as real events are; otherwise time_before_previous
    steps: list[tuple[CaseStatus, datetime]] = []
    last: CaseStatus | None = None
    for when in times:
        allowed = sorted(TRANSITIONS[last])
        if not allowed:
            break  # closed: nothing may follow
        legal = draw(st.integers(min_value=0, max_value=9)) > 0  # mostly a legal next status
        if last is CaseStatus.RECEIVED and draw(st.booleans()):
            allowed = [CaseStatus.ACCEPTED]  # most cases are accepted: let the clock run
        status = draw(st.sampled_from(allowed if legal else list(CaseStatus)))
        steps.append((status, when))
        last = status
    return steps


@settings(max_examples=200, deadline=None)
@given(
    steps=histories(),
    fallback=st.booleans(),
    at=st.one_of(
        st.just(datetime(2026, 12, 31, tzinfo=UTC)),
        st.datetimes(
            min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - bounds for an aware strategy
            max_value=datetime(2027, 1, 1),  # noqa: DTZ001 - same
            timezones=st.just(UTC),
        ),
        _any_aware,
    ),
    legal=st.sampled_from([None, TimeLimit.working_days(20), TimeLimit.natural_days(3650)]),
    promised=st.sampled_from([None, TimeLimit.working_days(1), TimeLimit.on_the_spot()]),
)
def test_deadlines_and_supervision_of_any_event_history(
    steps: list[tuple[CaseStatus, datetime]],
    fallback: bool,
    at: datetime,
    legal: TimeLimit | None,
    promised: TimeLimit | None,
) -> None:
    """Histories at any time (year 1 to 9999, with or without the weekend fallback) end in
    deadlines and a level, or in one of govlink's errors."""
    from govlink.domain import compute_deadlines, supervise

    events = []
    for sequence, (status, when) in enumerate(steps, start=1):
        record = {**EVENTS[0], "sequence": sequence, "status": status.value}
        record["time"] = when.isoformat()
        if status is CaseStatus.SPECIAL_PROCEDURE_START:
            record["special_procedure"] = "hearing"
        events.append(parse_case_event(record))
    calendar = _calendar if fallback else WorkingCalendar()

    def run(_: object) -> None:
        deadlines = compute_deadlines(
            events, legal=legal, promised=promised, calendar=calendar, at=at
        )
        supervise(deadlines, calendar)
        event(f"promised deadline computed: {deadlines.promised is not None}")

    error = only_govlink_errors(run, None)
    event(f"refused: {error.code if error else None}")


_CATALOG = json.loads(load_sample_catalog().to_json())
_SMALL_CATALOG = {**_CATALOG, "departments": _CATALOG["departments"][:2], "items": []}


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.sampled_from(["[" * 50_000, '{"a":' * 50_000, "9" * 5000]),
        mutated(_SMALL_CATALOG).map(json.dumps),
        mutated({**_SMALL_CATALOG, "items": [ITEM]}).map(json.dumps),
    )
)
def test_sample_catalog_reader(text: str) -> None:
    from govlink.samples import SampleCatalog

    only_govlink_errors(SampleCatalog.from_json, text)
