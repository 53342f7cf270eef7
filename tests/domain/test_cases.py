"""Cases, status events and the per-case state machine."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govlink import IdentifierError, TransitionError, ValidationError
from govlink.domain import (
    DEFAULT_STATUS_CODES,
    TRANSITIONS,
    Case,
    CaseLifecycle,
    CaseStatus,
    CaseStatusEvent,
    CaseTransitionError,
    ClockEffect,
    LegalPerson,
    NaturalPerson,
    RegionRegistry,
    StatusCodeTable,
    case_event_key,
    check_transition,
    make_case_number,
    parse_case,
    parse_case_event,
    status_info,
    transition_rule,
)

S = CaseStatus
# The example of GB 11643-1999 itself.
STANDARD_ID = "11010519491231002X"


def _credit_code(body: str) -> str:
    """A credit code from 16 characters, check characters computed here (independently)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org = body[8:16]
    org_total = sum(int(c, 36) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    org_check = {10: "X", 11: "0"}.get(11 - org_total % 11, str(11 - org_total % 11))
    first17 = body + org_check
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + alphabet[(31 - total % 31) % 31]


CREDIT = _credit_code("91370500MA3C0000")

AT = "2026-03-02T09:00:00+08:00"


def event(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_number": "C2026030200001",
        "sequence": 1,
        "status": "received",
        "time": AT,
        "hall": "370500",
    }
    data.update(over)
    return data


# --- the independent expectation of the transition table ---------------------------------
# Written from the rules in domain reference §5 and the module docstring, not from TRANSITIONS.

TERMINALS = {
    S.WITHDRAWN_BEFORE_ACCEPTANCE,
    S.NOT_ACCEPTED,
    S.REFUSED,
    S.APPROVED,
    S.APPROVED_WITH_TOLERATED_GAPS,
    S.DENIED,
    S.WITHDRAWN,
    S.REVOKED,
}
RUNNING_NEXT = {
    S.PROCESSING,
    S.SUPPLEMENT_START,
    S.SPECIAL_PROCEDURE_START,
    S.APPROVED,
    S.APPROVED_WITH_TOLERATED_GAPS,
    S.DENIED,
    S.WITHDRAWN,
    S.REVOKED,
}
EXPECTED_ALLOWED: dict[CaseStatus | None, set[CaseStatus]] = {
    None: {S.RECEIVED},
    S.RECEIVED: {S.ACCEPTED, S.NOT_ACCEPTED, S.REFUSED, S.WITHDRAWN_BEFORE_ACCEPTANCE},
    S.ACCEPTED: RUNNING_NEXT,
    S.PROCESSING: RUNNING_NEXT,
    S.SUPPLEMENT_END: RUNNING_NEXT,
    S.SPECIAL_PROCEDURE_END: RUNNING_NEXT,
    S.SUPPLEMENT_START: {S.SUPPLEMENT_END, S.WITHDRAWN, S.REVOKED},
    S.SPECIAL_PROCEDURE_START: {S.SPECIAL_PROCEDURE_END, S.WITHDRAWN, S.REVOKED},
    **{t: set() for t in TERMINALS},
}


def expected_rule(previous: CaseStatus | None, to: CaseStatus) -> str | None:
    if to in EXPECTED_ALLOWED[previous]:
        return None
    if previous is None:
        return "before_receipt"
    if previous in TERMINALS:
        return "after_terminal"
    if to is S.RECEIVED:
        return "duplicate_receipt"
    if previous is S.RECEIVED:
        return "processing_before_acceptance" if to is S.PROCESSING else "before_acceptance"
    if to in {S.ACCEPTED, S.NOT_ACCEPTED, S.REFUSED, S.WITHDRAWN_BEFORE_ACCEPTANCE}:
        return "already_accepted"
    if to in {S.SUPPLEMENT_END, S.SPECIAL_PROCEDURE_END}:
        return "pause_end_without_start"
    if to in {S.SUPPLEMENT_START, S.SPECIAL_PROCEDURE_START}:
        return "nested_pause"
    return "while_paused"


# A path of events that reaches each status as the last one, so every pair is exercised on a
# real lifecycle as well as on the table.
PATH_TO: dict[CaseStatus | None, list[CaseStatus]] = {
    None: [],
    S.RECEIVED: [S.RECEIVED],
    **{
        s: [S.RECEIVED, s]
        for s in (S.WITHDRAWN_BEFORE_ACCEPTANCE, S.ACCEPTED, S.NOT_ACCEPTED, S.REFUSED)
    },
    **{
        s: [S.RECEIVED, S.ACCEPTED, s]
        for s in (
            S.PROCESSING,
            S.SUPPLEMENT_START,
            S.SPECIAL_PROCEDURE_START,
            S.APPROVED,
            S.APPROVED_WITH_TOLERATED_GAPS,
            S.DENIED,
            S.WITHDRAWN,
            S.REVOKED,
        )
    },
    S.SUPPLEMENT_END: [S.RECEIVED, S.ACCEPTED, S.SUPPLEMENT_START, S.SUPPLEMENT_END],
    S.SPECIAL_PROCEDURE_END: [
        S.RECEIVED,
        S.ACCEPTED,
        S.SPECIAL_PROCEDURE_START,
        S.SPECIAL_PROCEDURE_END,
    ],
}

PAIRS = [(p, t) for p in [None, *CaseStatus] for t in CaseStatus]


def test_table_covers_every_status_and_start() -> None:
    assert set(TRANSITIONS) == {None, *CaseStatus}
    assert set(PATH_TO) == set(TRANSITIONS)
    assert len(PAIRS) == 16 * 15


@pytest.mark.parametrize(("previous", "to"), PAIRS, ids=lambda s: str(s))
def test_every_transition_against_independent_expectation(
    previous: CaseStatus | None, to: CaseStatus
) -> None:
    expected = expected_rule(previous, to)
    assert transition_rule(previous, to) == expected
    assert (to in TRANSITIONS[previous]) == (expected is None)

    lifecycle = CaseLifecycle()
    for sequence, status in enumerate(PATH_TO[previous], start=1):
        lifecycle.advance("C1", sequence, status)
    assert lifecycle.status("C1") == previous
    next_sequence = len(PATH_TO[previous]) + 1
    if expected is None:
        lifecycle.advance("C1", next_sequence, to)
        assert lifecycle.status("C1") == to
        assert lifecycle.sequence("C1") == next_sequence
    else:
        with pytest.raises(CaseTransitionError) as caught:
            lifecycle.advance("C1", next_sequence, to)
        error = caught.value
        assert isinstance(error, TransitionError)
        assert error.code == "illegal_case_transition"
        assert error.rule == expected
        assert error.field == "status"
        assert (error.case_number, error.from_status, error.to_status) == ("C1", previous, to)
        assert "C1" in error.message
        assert to.value in error.message
        # A refused event leaves the case where it was.
        assert lifecycle.status("C1") == previous
        assert lifecycle.sequence("C1") == next_sequence - 1


def test_rules_named_in_the_issue_are_reachable() -> None:
    rules = {expected_rule(p, t) for p, t in PAIRS} - {None}
    assert {
        "before_receipt",
        "processing_before_acceptance",
        "after_terminal",
        "pause_end_without_start",
        "nested_pause",
    } <= rules


def test_sequence_gap_and_repeat() -> None:
    lifecycle = CaseLifecycle()
    lifecycle.advance("C1", 1, S.RECEIVED)
    with pytest.raises(CaseTransitionError) as gap:
        lifecycle.advance("C1", 3, S.ACCEPTED)
    assert gap.value.rule == "sequence_gap"
    assert gap.value.field == "sequence"
    assert (gap.value.sequence, gap.value.expected_sequence) == (3, 2)
    with pytest.raises(CaseTransitionError) as repeat:
        lifecycle.advance("C1", 1, S.ACCEPTED)
    assert repeat.value.rule == "sequence_repeat"
    lifecycle.advance("C1", 2, S.ACCEPTED)
    assert lifecycle.sequence("C1") == 2


def test_first_event_must_have_sequence_one() -> None:
    with pytest.raises(CaseTransitionError) as caught:
        CaseLifecycle().advance("C9", 2, S.RECEIVED)
    assert caught.value.rule == "sequence_gap"
    with pytest.raises(CaseTransitionError):
        check_transition("C9", None, 0, S.RECEIVED, 0)


def test_sequence_is_checked_before_status() -> None:
    lifecycle = CaseLifecycle()
    for i, s in enumerate([S.RECEIVED, S.ACCEPTED, S.APPROVED], start=1):
        lifecycle.advance("C1", i, s)
    with pytest.raises(CaseTransitionError) as caught:
        lifecycle.advance("C1", 3, S.APPROVED)  # a redelivered duplicate
    assert caught.value.rule == "sequence_repeat"


def test_lifecycle_accepts_raw_status_strings() -> None:
    lifecycle = CaseLifecycle()
    lifecycle.advance("A", 1, "received")  # type: ignore[arg-type]  # raw data, on purpose
    assert lifecycle.status("A") is S.RECEIVED
    with pytest.raises(CaseTransitionError) as caught:
        lifecycle.advance("A", 2, "processing")  # type: ignore[arg-type]  # raw data
    assert caught.value.to_status is S.PROCESSING
    with pytest.raises(ValidationError) as unknown:
        lifecycle.advance("A", 2, "finished")  # type: ignore[arg-type]  # raw data
    assert (unknown.value.field, unknown.value.rule) == ("status", "choice")


def test_lifecycle_keeps_cases_apart_and_forgets() -> None:
    lifecycle = CaseLifecycle()
    lifecycle.advance("A", 1, S.RECEIVED)
    lifecycle.advance("B", 1, S.RECEIVED)
    lifecycle.advance("A", 2, S.NOT_ACCEPTED)
    assert lifecycle.is_closed("A")
    assert not lifecycle.is_closed("B")
    assert len(lifecycle) == 2
    assert "A" in lifecycle
    lifecycle.forget("A")
    assert "A" not in lifecycle
    assert lifecycle.status("A") is None
    assert lifecycle.sequence("A") == 0


def test_apply_parsed_events_and_to_dict() -> None:
    lifecycle = CaseLifecycle()
    events = [
        parse_case_event(event(sequence=1, status="received")),
        parse_case_event(event(sequence=2, status="processing")),
    ]
    with pytest.raises(CaseTransitionError) as caught:
        lifecycle.apply_all(events)
    data = caught.value.to_dict()
    assert data["code"] == "illegal_case_transition"
    assert data["from_status"] == "received"
    assert data["to_status"] == "processing"
    assert data["problems"][0]["rule"] == "processing_before_acceptance"
    assert lifecycle.sequence("C2026030200001") == 1


# --- vocabulary ---------------------------------------------------------------------------


def test_status_codes_cover_1_to_15() -> None:
    assert sorted(DEFAULT_STATUS_CODES.values()) == list(range(1, 16))
    assert status_info(S.ACCEPTED).clock is ClockEffect.START
    assert status_info("supplement_start").clock is ClockEffect.PAUSE
    assert status_info(S.SPECIAL_PROCEDURE_END).clock is ClockEffect.RESUME
    assert status_info(S.REFUSED).label == "不予受理"
    assert status_info(S.NOT_ACCEPTED).code == 4
    assert {s for s in S if status_info(s).terminal} == TERMINALS


def test_status_code_table_remaps() -> None:
    table = StatusCodeTable({S.APPROVED: 90, S.DENIED: 91})
    assert table.code(S.APPROVED) == 90
    assert table.status(91) is S.DENIED
    assert table.status(3) is S.ACCEPTED
    with pytest.raises(ValidationError) as caught:
        table.status(11)
    assert caught.value.rule == "unknown_status_code"
    with pytest.raises(ValueError, match="code 3"):
        StatusCodeTable({S.APPROVED: 3})
    assert StatusCodeTable().as_dict()["revoked"] == 15


# --- events -------------------------------------------------------------------------------


def test_event_parses_and_normalises_hall() -> None:
    parsed = parse_case_event(event(hall="370521000000", sequence=2, handler="张三"))
    assert parsed.hall == "370505"  # alias and 12-digit form resolved
    assert parsed.sequence == 2
    assert parsed.time.utcoffset() == timedelta(hours=8)
    assert parsed.idempotency_key == "370505:case:C2026030200001:2"
    assert parsed.idempotency_key == case_event_key("370505", "C2026030200001", 2)
    assert "张三" not in repr(parsed)


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"time": "2026-03-02T09:00:00"}, "time", "timezone_aware"),
        ({"hall": "370501"}, "hall", "not_a_hall"),
        ({"hall": "370599"}, "hall", "unknown_region"),
        ({"hall": "37050"}, "hall", "pattern"),
        ({"sequence": 0}, "sequence", "range"),
        # Wire data is read strictly: no coercion of another type into the documented one.
        ({"sequence": True}, "sequence", "type"),
        ({"sequence": "1"}, "sequence", "type"),
        ({"sequence": 1.0}, "sequence", "type"),
        ({"time": 2}, "time", "datetime"),
        ({"time": 1772413200.0}, "time", "datetime"),
        ({"time": "1772413200"}, "time", "datetime"),
        ({"time": "2026-03-02"}, "time", "datetime"),
        ({"time": "20260302T090000+08:00"}, "time", "datetime"),
        ({"time": "２０２６-03-02T09:00:00+08:00"}, "time", "datetime"),
        ({"time": "2026-13-45T09:00:00+08:00"}, "time", "datetime"),
        ({"time": "2026-03-02T09:00:00+25:00"}, "time", "datetime"),
        ({"status": "finished"}, "status", "choice"),
        ({"case_number": "办件1"}, "case_number", "pattern"),
        ({"case_number": "X" * 65}, "case_number", "pattern"),
        ({"special_procedure": "hearing"}, "special_procedure", "special_procedure_not_allowed"),
        ({"status": "special_procedure_start"}, "special_procedure", "special_procedure_required"),
        ({"colour": "red"}, "colour", "unknown_field"),
        ({"organisation_credit_code": CREDIT[:-1] + "0"}, "organisation_credit_code", None),
    ],
)
def test_event_errors_name_field_and_rule(
    change: dict[str, Any], field: str, rule: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_case_event(event(**change))
    assert caught.value.field == field
    if rule is not None:
        assert caught.value.rule == rule
    else:
        assert isinstance(caught.value, IdentifierError)
        assert caught.value.rule == "check_character"


def test_special_procedure_start_with_kind() -> None:
    parsed = parse_case_event(
        event(status="special_procedure_start", special_procedure="expert_review", sequence=4)
    )
    assert parsed.special_procedure is not None
    assert parsed.special_procedure.value == "expert_review"


def test_event_is_frozen() -> None:
    parsed = parse_case_event(event())
    with pytest.raises(Exception, match="frozen"):
        parsed.sequence = 2  # type: ignore[misc]  # the point of the test


def test_hall_against_another_registry() -> None:
    other = RegionRegistry.from_data(
        {
            "format": "govlink-regions/1",
            "regions": [
                {"code": "370000", "name": "山东省", "level": "province", "parent": None},
                {"code": "370100", "name": "济南市", "level": "city", "parent": "370000"},
            ],
        }
    )
    assert parse_case_event(event(hall="370100"), regions=other).hall == "370100"
    with pytest.raises(ValidationError) as caught:
        parse_case_event(event(hall="370500"), regions=other)
    assert caught.value.rule == "unknown_region"


# --- cases and applicants -----------------------------------------------------------------


def case_data(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_number": make_case_number("11370500004310022A3370500001000", date(2026, 3, 2), 1),
        "implementation_code": "11370500004310022A3370500001000",
        "hall": "370523",
        "applicant": {"kind": "natural_person", "name": "王小明", "id_number": STANDARD_ID},
        "channel": "online",
        "received_at": AT,
    }
    data.update(over)
    return data


def test_case_number_helper() -> None:
    number = make_case_number("1137050000431002", date(2026, 3, 2), 17)
    assert number == "1137050000431002" + "20260302" + "0017"
    with pytest.raises(ValidationError, match="4 digits"):
        make_case_number("ABC", date(2026, 3, 2), 10000)
    with pytest.raises(ValidationError, match="implementation_code"):
        make_case_number("abc", date(2026, 3, 2), 1)


def test_case_with_natural_person() -> None:
    case = parse_case(case_data(applicant={**case_data()["applicant"], "phone": "13800135678"}))
    assert isinstance(case, Case)
    assert isinstance(case.applicant, NaturalPerson)
    text = repr(case)
    assert STANDARD_ID not in text
    assert "王小明" not in text
    assert "13800135678" not in text
    assert "1101**********002X" in text


def test_case_with_legal_person_and_agent() -> None:
    case = parse_case(
        case_data(
            applicant={
                "kind": "legal_person",
                "name": "东营某某化工有限公司",
                "credit_code": CREDIT.lower(),
                "agent": {"name": "李四", "id_number": STANDARD_ID},
            }
        )
    )
    assert isinstance(case.applicant, LegalPerson)
    assert case.applicant.credit_code == CREDIT
    assert CREDIT not in repr(case)
    assert "李四" not in repr(case)


def test_case_errors() -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_case(
            case_data(
                applicant={
                    "kind": "natural_person",
                    "name": "王",
                    "id_number": STANDARD_ID[:-1] + "1",
                }
            )
        )
    assert caught.value.field == "applicant.id_number"
    assert caught.value.rule == "check_character"
    assert STANDARD_ID not in caught.value.message
    with pytest.raises(ValidationError) as missing_agent:
        parse_case(
            case_data(applicant={"kind": "legal_person", "name": "某公司", "credit_code": CREDIT})
        )
    assert missing_agent.value.field == "applicant.agent"
    assert missing_agent.value.rule == "required"
    with pytest.raises(ValidationError) as channel:
        parse_case(case_data(channel="fax"))
    assert channel.value.field == "channel"
    with pytest.raises(ValidationError) as code:
        parse_case(case_data(implementation_code="11-37"))
    assert code.value.field == "implementation_code"
    with pytest.raises(ValidationError) as naive:
        parse_case(case_data(received_at="2026-03-02T09:00:00"))
    assert naive.value.rule == "timezone_aware"


def test_case_round_trips_through_json() -> None:
    case = parse_case(case_data())
    again = parse_case(case.model_dump(mode="json"))
    assert again == case
    ev = parse_case_event(event(organisation_credit_code=CREDIT, handler="张三"))
    assert parse_case_event(ev.model_dump(mode="json", exclude_none=True)) == ev


# --- hypothesis: random input only ever raises govlink's errors ---------------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**7),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "received",
            "special_procedure_start",
            "hearing",
            "370500",
            "370521",
            "370501",
            AT,
            "2026-03-02T09:00:00",
            STANDARD_ID,
            CREDIT,
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
_event_keys = st.sampled_from(
    [
        "case_number",
        "sequence",
        "status",
        "time",
        "hall",
        "handler",
        "office",
        "opinion",
        "special_procedure",
        "organisation_name",
        "organisation_credit_code",
        "extra",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.booleans(),
    changes=st.dictionaries(_event_keys, _values, max_size=6),
    drop=st.lists(_event_keys, max_size=3),
)
def test_random_event_dicts_raise_only_govlink_errors(
    base: bool, changes: dict[str, Any], drop: list[str]
) -> None:
    data = {**(event() if base else {}), **changes}
    for key in drop:
        data.pop(key, None)
    problems: tuple[Any, ...] = ()
    try:
        parsed: object = parse_case_event(data)
    except ValidationError as exc:
        parsed, problems = None, tuple(exc.problems)
    if parsed is None:
        assert problems
        assert all(p.field and p.rule for p in problems)
    else:
        assert isinstance(parsed, CaseStatusEvent)


_case_keys = st.sampled_from(
    ["case_number", "implementation_code", "hall", "applicant", "channel", "received_at", "x"]
)
_applicants = st.one_of(
    _values,
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["natural_person", "legal_person", "robot"])},
        optional={
            "name": _values,
            "id_number": _values,
            "credit_code": _values,
            "agent": st.one_of(_values, st.fixed_dictionaries({"name": _values})),
            "phone": _values,
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(_case_keys, _values, max_size=4),
    applicant=st.one_of(st.none(), _applicants),
    drop=st.lists(_case_keys, max_size=2),
)
def test_random_case_dicts_raise_only_govlink_errors(
    changes: dict[str, Any], applicant: Any, drop: list[str]
) -> None:
    data = {**case_data(), **changes}
    if applicant is not None:
        data["applicant"] = applicant
    for key in drop:
        data.pop(key, None)
    problems: tuple[Any, ...] = ()
    try:
        parsed: object = parse_case(data)
    except ValidationError as exc:
        parsed, problems = None, tuple(exc.problems)
    if parsed is None:
        assert problems
        assert all(p.field and p.rule for p in problems)
        assert STANDARD_ID not in " ".join(p.message for p in problems)
    else:
        assert isinstance(parsed, Case)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(list(CaseStatus)), st.integers(min_value=-1, max_value=8)),
        max_size=12,
    )
)
def test_random_event_streams_raise_only_transition_errors(
    steps: list[tuple[CaseStatus, int]],
) -> None:
    lifecycle = CaseLifecycle()
    accepted: list[CaseStatus | None] = [None]
    rules = []
    for status, sequence in steps:
        try:
            lifecycle.advance("C", sequence, status)
        except TransitionError as exc:
            rules.append(exc.rule)
        else:
            accepted.append(status)
    assert all(rules)
    # Whatever was accepted is a legal path from the start, numbered 1, 2, 3...
    assert lifecycle.sequence("C") == len(accepted) - 1
    assert all(b in TRANSITIONS[a] for a, b in itertools.pairwise(accepted) if b is not None)
