"""Catalog items: structure, every consistency rule (pass and fail), content hash, changes."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import govlink
from govlink.domain import (
    CaseKind,
    CatalogChange,
    ExerciseLevel,
    Item,
    ItemState,
    ItemType,
    OnlineDepth,
    Severity,
    TimeLimit,
    TimeUnit,
    check_item,
    classify_change,
    credit_code_check_character,
    default_regions,
    organisation_code_check_character,
    parse_item,
)


def credit_code(head: str = "11", region: str = "370500", body: str = "MA3C4D5E") -> str:
    first = head + region + body + organisation_code_check_character(body)
    return first + credit_code_check_character(first)


DEPT = credit_code()  # 11370500MA3C4D5E7Q


def base() -> dict[str, Any]:
    """A consistent item with no findings at all."""
    return {
        "catalog_code": "370500001000",
        "implementation_code": DEPT + "4370500001000",
        "handling_item_code": DEPT + "4370500001000" + "01",
        "name": "食品经营许可",
        "item_type": "licensing",
        "department": {"credit_code": DEPT, "name": "东营市市场监督管理局"},
        "region_code": "370500",
        "exercise_levels": ["city", "county"],
        "legal_limit": {"amount": 20, "unit": "working_days"},
        "promised_limit": {"amount": 5, "unit": "working_days"},
        "case_kind": "promised",
        "on_site_visits": 0,
        "handling_forms": ["online", "window"],
        "online_depth": 4,
        "unified_login": True,
        "fee": {"charged": False},
        "special_procedures": [{"kind": "expert_review"}],
        "accept_conditions": "申请人具有与经营食品品种、数量相适应的经营场所",
        "materials": [
            {"name": "食品经营许可申请书", "form": "electronic"},
            {"name": "营业执照", "required": True, "copies": 1, "source": "申请人自备"},
        ],
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "state": "in_force",
        "version": 3,
        "effective_date": "2025-01-01",
    }


def with_(**changes: Any) -> dict[str, Any]:
    data = base()
    data.update(changes)
    return data


def rules(item: Item) -> set[str]:
    return {f.rule for f in item.findings()}


def test_base_item_is_clean() -> None:
    item = parse_item(base())
    assert item.findings() == []
    assert item.item_type is ItemType.LICENSING
    assert item.exercise_levels == (ExerciseLevel.CITY, ExerciseLevel.COUNTY)
    assert item.online_depth is OnlineDepth.FULLY_ONLINE
    assert item.effective_date == date(2025, 1, 1)
    assert item.key == DEPT + "4370500001000"
    assert item.limit_reduction == pytest.approx(0.75)
    assert item.findings(regions=default_regions()) == []


# --- each consistency rule: one passing and one failing example ------------------------------

ERRORS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "on_the_spot_is_immediate_kind": (
        {"promised_limit": {"unit": "on_the_spot"}, "case_kind": "immediate"},
        {"promised_limit": {"unit": "on_the_spot"}, "case_kind": "promised"},
    ),
    "promised_le_legal": (
        {"promised_limit": {"amount": 20, "unit": "working_days"}},
        {"promised_limit": {"amount": 21, "unit": "working_days"}},
    ),
    "depth4_no_visits": (
        {"online_depth": 3, "on_site_visits": 1, "visits_reason": "核验原件"},
        {"online_depth": 4, "on_site_visits": 1, "visits_reason": "核验原件"},
    ),
    "cancel_after_effective": (
        {"state": "cancelled", "cancel_date": "2025-01-01"},
        {"state": "cancelled", "cancel_date": "2024-12-31"},
    ),
}

WARNINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "visits_need_reason": (
        {"online_depth": 3, "on_site_visits": 1, "visits_reason": "核验原件"},
        {"online_depth": 3, "on_site_visits": 1},
    ),
    "fee_needs_basis": (
        {"fee": {"charged": True, "basis": "鲁价费发〔2019〕1号"}},
        {"fee": {"charged": True}},
    ),
    "depth4_online_form": (
        {"handling_forms": ["online"]},
        {"handling_forms": ["window", "post"]},
    ),
    "implementation_code_prefix": (
        {"implementation_code": DEPT + "X", "handling_item_code": None},
        {"implementation_code": credit_code(body="12345678") + "4370500001000",
         "handling_item_code": None},
    ),
    "catalog_code_length": (
        {"catalog_code": "XK00012001AB"},
        {"catalog_code": "XK00012001"},
    ),
    "handling_item_code_prefix": (
        {"handling_item_code": None},
        {"handling_item_code": "370500001000"},
    ),
    "legal_basis_missing": (
        {"item_type": "public_service", "legal_basis": None},
        {"item_type": "licensing", "legal_basis": None},
    ),
    "cancelled_needs_date": (
        {"state": "cancelled", "cancel_date": "2026-01-01"},
        {"state": "cancelled"},
    ),
    "cancel_date_in_force": (
        {"state": "delegated_down"},
        {"state": "delegated_down", "cancel_date": "2026-01-01"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(ERRORS))
def test_error_rule(rule: str) -> None:
    passing, failing = ERRORS[rule]
    assert rule not in rules(parse_item(with_(**passing)))
    with pytest.raises(govlink.ConsistencyError) as info:
        parse_item(with_(**failing))
    assert rule in {p.rule for p in info.value.problems}
    assert info.value.code == "inconsistent_item"
    item = parse_item(with_(**failing), check=False)
    finding = next(f for f in item.findings() if f.rule == rule)
    assert finding.severity is Severity.ERROR
    assert finding.field


@pytest.mark.parametrize("rule", sorted(WARNINGS))
def test_warning_rule(rule: str) -> None:
    passing, failing = WARNINGS[rule]
    assert rule not in rules(parse_item(with_(**passing)))
    item = parse_item(with_(**failing))  # warnings never block by default
    finding = next(f for f in item.findings() if f.rule == rule)
    assert finding.severity is Severity.WARNING
    with pytest.raises(govlink.ConsistencyError) as info:
        parse_item(with_(**failing), warnings_as_errors=True, root="items[7]")
    assert (f"items[7].{finding.field}", rule) in {(p.field, p.rule) for p in info.value.problems}


def test_region_unknown_only_with_a_registry() -> None:
    item = parse_item(with_(region_code="440305"))
    assert "region_unknown" not in rules(item)
    found = item.findings(regions=default_regions())
    assert [f.rule for f in found] == ["region_unknown"]
    assert parse_item(with_(region_code="370521")).findings(regions=default_regions()) == []


def test_immediate_kind_needs_on_the_spot() -> None:
    # The rule is an equivalence: 即办件 with a promised limit in days fails too.
    with pytest.raises(govlink.ConsistencyError) as info:
        parse_item(with_(case_kind="immediate"))
    assert info.value.rule == "on_the_spot_is_immediate_kind"


def test_promised_le_legal_edge_cases() -> None:
    # Different units are not compared.
    ok = parse_item(with_(promised_limit={"amount": 25, "unit": "natural_days"}))
    assert "promised_le_legal" not in rules(ok)
    assert ok.limit_reduction is None
    # A legal limit "on the spot" allows only on the spot.
    with pytest.raises(govlink.ConsistencyError):
        parse_item(with_(legal_limit={"unit": "on_the_spot"}))
    spot = parse_item(
        with_(
            legal_limit={"unit": "on_the_spot"},
            promised_limit={"unit": "on_the_spot"},
            case_kind="immediate",
        )
    )
    assert spot.findings() == []
    assert spot.limit_reduction is None
    # No legal limit at all: nothing to compare.
    assert parse_item(with_(legal_limit=None)).limit_reduction is None
    assert (
        parse_item(
            with_(promised_limit={"unit": "on_the_spot"}, case_kind="immediate")
        ).limit_reduction
        == 1.0
    )


def test_findings_order_errors_first() -> None:
    item = parse_item(
        with_(on_site_visits=1, fee={"charged": True}, case_kind="immediate"), check=False
    )
    severities = [f.severity for f in item.findings()]
    assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)
    assert check_item(parse_item(with_(fee={"charged": True})))[0].rule == "fee_needs_basis"


# --- structure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"name": ""}, "name", "length"),
        ({"name": 5}, "name", "type"),
        ({"item_type": "permit"}, "item_type", "choice"),
        ({"catalog_code": "37 05"}, "catalog_code", "pattern"),
        ({"implementation_code": "A" * 37}, "implementation_code", "length"),
        ({"exercise_levels": []}, "exercise_levels", "length"),
        ({"exercise_levels": ["city", "city"]}, "exercise_levels", "duplicate"),
        ({"handling_forms": ["fax"]}, "handling_forms[0]", "choice"),
        ({"on_site_visits": -1}, "on_site_visits", "range"),
        ({"on_site_visits": True}, "on_site_visits", "type"),
        ({"on_site_visits": "1"}, "on_site_visits", "type"),
        ({"version": 0}, "version", "range"),
        ({"online_depth": 5}, "online_depth", "choice"),
        ({"online_depth": True}, "online_depth", "type"),
        ({"online_depth": "4"}, "online_depth", "type"),
        ({"online_depth": 4.0}, "online_depth", "type"),
        ({"promised_limit": {"amount": 3, "unit": "on_the_spot"}}, "promised_limit.amount",
         "on_the_spot_amount"),
        ({"promised_limit": {"amount": 0, "unit": "working_days"}}, "promised_limit.amount",
         "zero_days"),
        ({"legal_limit": {"amount": 1.5, "unit": "working_days"}}, "legal_limit.amount", "type"),
        ({"effective_date": "2025-02-30"}, "effective_date", "date"),
        ({"effective_date": "20250101"}, "effective_date", "date"),
        ({"effective_date": 0}, "effective_date", "date"),
        ({"region_code": "37050"}, "region_code", "format"),
        ({"department": {"credit_code": DEPT[:-1] + "0", "name": "x"}},
         "department.credit_code", "check_character"),
        ({"materials": [{"name": "申请书", "copies": -1}]}, "materials[0].copies", "range"),
        ({"materials": [{"title": "申请书"}]}, "materials[0].name", "required"),
        ({"fee": {"charged": "yes"}}, "fee.charged", "type"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)  # fmt: skip
def test_structural_errors(changes: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(govlink.ValidationError) as info:
        parse_item(with_(**changes))
    assert not isinstance(info.value, govlink.ConsistencyError)
    assert (field, rule) in {(p.field, p.rule) for p in info.value.problems}


def test_missing_field_and_root_prefix() -> None:
    data = base()
    del data["name"]
    with pytest.raises(govlink.ValidationError) as info:
        parse_item(data, root="items[2]")
    assert (info.value.field, info.value.rule) == ("items[2].name", "required")


def test_only_credit_code_problems_are_identifier_errors() -> None:
    bad = with_(department={"credit_code": DEPT[:-1] + "0", "name": "东营市民政局"})
    with pytest.raises(govlink.IdentifierError) as info:
        parse_item(bad)
    assert DEPT[:-1] + "0" not in str(info.value)


def test_items_are_frozen_and_normalised() -> None:
    item = parse_item(with_(name="  食品经营许可  ", exercise_levels=["county", "city"]))
    assert item.name == "食品经营许可"
    assert item.exercise_levels == (ExerciseLevel.CITY, ExerciseLevel.COUNTY)
    with pytest.raises(Exception, match="frozen"):
        item.name = "x"


def test_code_tables() -> None:
    assert [t.code for t in ItemType] == [f"{n:02d}" for n in range(1, 11)] + ["20"]
    assert ItemType.LICENSING.label == "行政许可"
    assert ItemType.LICENSING.abbreviation == "XK"
    assert ItemType.PUNISHMENT.abbreviation == "CF"
    assert ItemType.from_code("20") is ItemType.PUBLIC_SERVICE
    assert len({t.abbreviation for t in ItemType}) == 11
    assert CaseKind.IMMEDIATE.code == "1"
    assert CaseKind.PROMISED.label == "承诺件"
    assert [level.code for level in ExerciseLevel] == ["1", "2", "3", "4", "5", "6"]
    assert OnlineDepth.FULLY_ONLINE.roman == "Ⅳ"
    assert ItemState.CANCELLED.label == "取消"
    assert ItemState.ACCEPTED_FROM_PROVINCE.is_active
    assert not ItemState.SUSPENDED.is_active
    assert str(TimeLimit.working_days(1)) == "1 working day"
    assert str(TimeLimit.natural_days(30)) == "30 natural days"
    assert TimeLimit.on_the_spot().unit is TimeUnit.ON_THE_SPOT
    assert "即办" in str(TimeLimit.on_the_spot())


# --- content hash --------------------------------------------------------------------------

# Computed once from base(); a change here means every deployed catalog would be re-sent.
BASE_HASH = "a64433413aa5b7771bb1b096fdf063905f4f76ec45769134f90e7bd8043d9e76"


BASE_CANONICAL = (
    '{"accept_conditions":"申请人具有与经营食品品种、数量相适应的经营场所","case_kind":"promised",'
    '"catalog_code":"370500001000","department":{"credit_code":"11370500MA3C4D5E7Q",'
    '"name":"东营市市场监督管理局"},"effective_date":"2025-01-01","exercise_levels":["city",'
    '"county"],"fee":{"charged":false},"handling_forms":["online",'
    '"window"],"handling_item_code":"11370500MA3C4D5E7Q437050000100001",'
    '"implementation_code":"11370500MA3C4D5E7Q4370500001000","item_type":"licensing",'
    '"legal_basis":"《中华人民共和国食品安全法》第三十五条","legal_limit":{"amount":20,'
    '"unit":"working_days"},"materials":[{"copies":1,"form":"electronic",'
    '"name":"食品经营许可申请书","required":true},{"copies":1,"form":"paper_or_electronic",'
    '"name":"营业执照","required":true,"source":"申请人自备"}],"name":"食品经营许可",'
    '"on_site_visits":0,"online_depth":4,"promised_limit":{"amount":5,'
    '"unit":"working_days"},"region_code":"370500","special_procedures":[{"kind":"expert_review"}],'
    '"state":"in_force","unified_login":true,"version":3}'
)


def test_content_hash_literal() -> None:
    item = parse_item(base())
    assert item.canonical_json().decode("utf-8") == BASE_CANONICAL
    assert hashlib.sha256(BASE_CANONICAL.encode("utf-8")).hexdigest() == BASE_HASH
    assert item.content_hash() == BASE_HASH


def test_content_hash_same_in_another_process() -> None:
    code = (
        "import json,sys; from govlink.domain import parse_item; "
        "print(parse_item(json.loads(sys.stdin.read())).content_hash())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(base()),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == BASE_HASH


def test_content_hash_ignores_key_order_whitespace_and_set_order() -> None:
    data = base()
    shuffled = dict(reversed(list(data.items())))
    shuffled["exercise_levels"] = ["county", "city"]
    shuffled["handling_forms"] = ["window", "online"]
    shuffled["name"] = " 食品经营许可\t"
    reparsed = json.loads(json.dumps(shuffled, indent=4))
    assert parse_item(reparsed).content_hash() == BASE_HASH
    # Explicit nulls equal absent optional fields.
    assert parse_item(with_(cancel_date=None, entrusted_department=None)).content_hash() == (
        BASE_HASH
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "食品经营许可（变更）"},
        {"version": 4},
        {"promised_limit": {"amount": 4, "unit": "working_days"}},
        {"materials": list(reversed(base()["materials"]))},
        {"fee": {"charged": False, "standard": "不收费"}},
        {"state": "suspended"},
        {"effective_date": "2025-01-02"},
        {"unified_login": False},
    ],
)
def test_content_hash_changes_with_wire_fields(changes: dict[str, Any]) -> None:
    assert parse_item(with_(**changes)).content_hash() != BASE_HASH


def test_canonical_json_is_compact_sorted_utf8() -> None:
    raw = parse_item(base()).canonical_json()
    text = raw.decode("utf-8")
    assert "食品经营许可" in text
    assert ": " not in text
    assert ", " not in text
    keys = list(json.loads(text))
    assert keys == sorted(keys)


# --- classifying catalog changes ------------------------------------------------------------


def test_classify_change() -> None:
    item = parse_item(base())
    assert classify_change(None, item) is CatalogChange.ADDED
    assert classify_change(item, parse_item(base())) is None
    adjusted = parse_item(with_(version=4, name="食品经营许可证核发"))
    assert classify_change(item, adjusted) is CatalogChange.ADJUSTED
    cancelled = parse_item(with_(state="cancelled", cancel_date="2026-06-01"))
    assert classify_change(item, cancelled) is CatalogChange.CANCELLED
    down = parse_item(with_(state="delegated_down"))
    assert classify_change(item, down) is CatalogChange.DELEGATED_DOWN
    accepted = parse_item(with_(state="accepted_from_province"))
    assert classify_change(None, accepted) is CatalogChange.ACCEPTED_FROM_PROVINCE
    suspended = parse_item(with_(state="suspended"))
    assert classify_change(item, suspended) is CatalogChange.SUSPENDED
    assert classify_change(suspended, item) is CatalogChange.RESTORED


# --- random input only ever raises govlink's own ValidationError ----------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = list(Item.model_fields)


@st.composite
def mutated_items(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(base())
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from([*FIELDS, "unknown"]))
        if draw(st.booleans()) and key in data:
            del data[key]
        else:
            data[key] = draw(json_values)
    return data


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(json_values, mutated_items()))
def test_random_input_only_raises_govlink_validation_error(data: Any) -> None:
    error: govlink.ValidationError | None = None
    try:
        item = parse_item(data)
    except govlink.ValidationError as exc:
        error = exc
    if error is not None:
        assert error.problems
        for problem in error.problems:
            assert problem.field
            assert problem.rule
        return
    assert isinstance(item, Item)
    assert len(item.content_hash()) == 64


def test_dates_only_as_dates_or_iso_strings() -> None:
    assert parse_item(with_(effective_date=date(2025, 1, 1))).content_hash() == BASE_HASH
    with pytest.raises(govlink.ValidationError) as info:
        parse_item(with_(effective_date=datetime(2025, 1, 1, 9, 0, tzinfo=UTC)))
    assert (info.value.field, info.value.rule) == ("effective_date", "date")


def test_runaway_nesting_is_a_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: object, **kwargs: object) -> Item:
        raise RecursionError

    monkeypatch.setattr(Item, "model_validate", explode)
    with pytest.raises(govlink.ValidationError) as info:
        parse_item(base(), root="items[0]")
    assert (info.value.field, info.value.rule) == ("items[0]", "depth")
