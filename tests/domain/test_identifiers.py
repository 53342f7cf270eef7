"""Resident ID numbers (GB 11643) and credit codes (GB 32100) against the standards' examples
and against check characters computed here by independent methods."""

from __future__ import annotations

import pickle
import string
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

import govlink
from govlink.domain import (
    CREDIT_CODE_ALPHABET,
    CreditCode,
    ResidentId,
    credit_code_check_character,
    mask_personal,
    organisation_code_check_character,
    parse_model,
    resident_id_check_character,
)

TODAY = date(2026, 3, 2)

# --- independent reference implementations (written differently on purpose) ----------------


def iso7064_mod11_2(digits: str) -> str:
    """ISO 7064 MOD 11-2 in its recursive form (the method GB 11643 cites)."""
    p = 0
    for ch in digits:
        p = ((p + int(ch)) * 2) % 11
    c = (12 - p) % 11
    return "X" if c == 10 else str(c)


# The GB 32100 alphabet built by elimination, not copied from the library.
ALPHABET = "".join(c for c in string.digits + string.ascii_uppercase if c not in "IOZSV")


def gb32100_check(first17: str) -> str:
    """Weights 3^i mod 31 computed on the fly, remainder handled with an explicit branch."""
    total = 0
    for i, ch in enumerate(first17):
        total += ALPHABET.index(ch) * pow(3, i, 31)
    remainder = total % 31
    return "0" if remainder == 0 else ALPHABET[31 - remainder]


def gb11714_check(body: str) -> str:
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(
        (int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10) * w
        for ch, w in zip(body, weights, strict=True)
    )
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


# --- standards' examples --------------------------------------------------------------------


def test_gb11643_example_is_valid() -> None:
    rid = ResidentId("11010519491231002X", today=TODAY)
    assert str(rid) == "11010519491231002X"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.region_code == "110105"
    assert rid.is_male is False  # position 17 is 2
    assert iso7064_mod11_2("11010519491231002") == "X"


def test_gb32100_example_is_valid() -> None:
    cc = CreditCode("91350100M000100Y43")
    assert cc.registration_authority == "9"
    assert cc.organisation_category == "91"
    assert cc.region_code == "350100"
    assert cc.organisation_code == "M000100Y4"
    assert gb32100_check("91350100M000100Y4") == "3"
    assert gb11714_check("M000100Y") == "4"


@pytest.mark.parametrize("value", ["91350100M000100Y43", "91110000600037341L"])
def test_published_credit_codes_are_valid(value: str) -> None:
    # The GB 32100 example and a widely published real-format enterprise code.
    assert CreditCode(value) == value
    assert gb32100_check(value[:17]) == value[17]
    assert gb11714_check(value[8:16]) == value[16]


def test_alphabet_matches_standard() -> None:
    assert ALPHABET == CREDIT_CODE_ALPHABET
    assert len(ALPHABET) == 31


def test_lower_case_x_and_whitespace_normalised() -> None:
    assert str(ResidentId(" 11010519491231002x\n", today=TODAY)) == "11010519491231002X"
    assert str(CreditCode("91350100m000100y43")) == "91350100M000100Y43"


# --- agreement with the independent methods over many values -------------------------------

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@st.composite
def id_bodies(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110105", "370502", "370521", "440305", "650102", "820000"]))
    born = draw(birth_dates)
    seq = draw(st.integers(0, 999))
    return f"{region}{born:%Y%m%d}{seq:03d}"


@settings(max_examples=400)
@given(body=id_bodies(), last=st.sampled_from("0123456789X"))
def test_resident_id_check_agrees_with_iso7064(body: str, last: str) -> None:
    expected = iso7064_mod11_2(body)
    assert resident_id_check_character(body) == expected
    if last == expected:
        assert ResidentId(body + last, today=TODAY) == body + last
    else:
        with pytest.raises(govlink.IdentifierError) as info:
            ResidentId(body + last, today=TODAY)
        assert info.value.rule == "check_character"


AUTHORITY_CATEGORIES = ["11", "12", "13", "19", "51", "52", "53", "91", "92", "93", "Y1"]


@st.composite
def credit_bodies(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(AUTHORITY_CATEGORIES))
    region = draw(st.sampled_from(["370500", "370502", "350100", "110000"]))
    org_body = draw(st.text(alphabet=ALPHABET, min_size=8, max_size=8))
    return head + region + org_body + gb11714_check(org_body)


@settings(max_examples=400)
@given(body=credit_bodies(), last=st.sampled_from(ALPHABET))
def test_credit_code_check_agrees_with_independent_loop(body: str, last: str) -> None:
    expected = gb32100_check(body)
    assert credit_code_check_character(body) == expected
    assert organisation_code_check_character(body[8:16]) == body[16]
    if last == expected:
        assert CreditCode(body + last) == body + last
    else:
        with pytest.raises(govlink.IdentifierError) as info:
            CreditCode(body + last)
        assert info.value.rule == "check_character"


def test_credit_code_remainder_zero_gives_check_zero() -> None:
    # Search deterministically for a body whose weighted sum is divisible by 31.
    for n in range(100_000):
        org_body = f"{n:08d}"
        body = "11370500" + org_body + gb11714_check(org_body)
        if sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body)) % 31 == 0:
            break
    else:  # pragma: no cover - the search space holds many such bodies
        pytest.fail("no remainder-0 body found")
    assert credit_code_check_character(body) == "0"
    assert CreditCode(body + "0") == body + "0"
    # The well-known off-by-one: 31 - 0 = 31 is outside the 31-character alphabet.
    with pytest.raises(IndexError):
        _ = CREDIT_CODE_ALPHABET[31 - 0]


def test_organisation_code_check_x_and_zero() -> None:
    # Find bodies whose GB 11714 check is 10 (X) and 11 (0).
    found: dict[str, str] = {}
    for n in range(1000):
        body = f"{n:08d}"
        found.setdefault(gb11714_check(body), body)
    assert organisation_code_check_character(found["X"]) == "X"
    assert organisation_code_check_character(found["0"]) == "0"


# --- every error rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (11010519491231002, "type"),
        (None, "type"),
        ("1101051949123100", "length"),
        ("11010519491231002XX", "length"),
        ("1101051949123100AX", "charset"),
        ("11010519491231002Y", "charset"),
        ("１１010519491231002X", "charset"),  # full-width digits
        ("99010519491231002X", "region"),
        ("110105194902300021", "birth_date"),  # 30 February
        ("110105184912310021", "birth_date"),  # before 1850
        ("110105203001010021", "birth_date"),  # future
        ("110105194912310021", "check_character"),
    ],
)
def test_resident_id_rules(value: object, rule: str) -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        ResidentId(value, today=TODAY, field="applicant.id_number")
    assert info.value.rule == rule
    assert info.value.field == "applicant.id_number"
    assert info.value.code == "invalid_identifier"


def test_birth_date_bound_by_injected_today() -> None:
    value = "11010519491231002X"
    with pytest.raises(govlink.IdentifierError) as info:
        ResidentId(value, today=date(1949, 12, 30))
    assert info.value.rule == "birth_date"
    assert ResidentId(value, today=date(1949, 12, 31)) == value


def test_resident_id_born_today_is_valid_tomorrow_is_not() -> None:
    born = TODAY
    body = f"370502{born:%Y%m%d}123"
    assert ResidentId(body + iso7064_mod11_2(body), today=TODAY)
    later = TODAY + timedelta(days=1)
    body = f"370502{later:%Y%m%d}123"
    assert not ResidentId.is_valid(body + iso7064_mod11_2(body), today=TODAY)


def _credit(head: str, region: str = "370500", org_body: str = "12345678") -> str:
    first17 = head + region + org_body + gb11714_check(org_body)
    return first17 + gb32100_check(first17)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (9135, "type"),
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("91350100M000100I43", "charset"),
        ("91350100M000100Y4!", "charset"),
        (_credit("B1"), "registration_authority"),
        (_credit("94"), "organisation_category"),
        (_credit("18"), "organisation_category"),
        (_credit("91", region="3701AB"), "region"),
        ("91350100M000100Y53", "organisation_code"),
        ("91350100M000100Y44", "check_character"),
    ],
)
def test_credit_code_rules(value: object, rule: str) -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        CreditCode(value, field="department.credit_code")
    assert info.value.rule == rule
    assert info.value.field == "department.credit_code"


def test_default_field_names() -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        ResidentId("x")
    assert info.value.field == "id_number"
    with pytest.raises(govlink.IdentifierError) as info:
        CreditCode.parse("x")
    assert info.value.field == "credit_code"


# --- masking --------------------------------------------------------------------------------


def test_mask_personal() -> None:
    assert mask_personal("37050219900101123X") == "3705**********123X"
    assert mask_personal("13812345678", keep_start=3) == "138****5678"
    assert mask_personal("张三丰", keep_start=1, keep_end=0) == "张**"
    assert mask_personal("1234567") == "*******"
    with pytest.raises(ValueError, match="negative"):
        mask_personal("abc", keep_start=-1)


def test_repr_and_masked_hide_the_value() -> None:
    rid = ResidentId("11010519491231002X", today=TODAY)
    assert repr(rid) == "ResidentId('1101**********002X')"
    assert rid.masked == "1101**********002X"
    assert "11010519491231002X" not in repr(rid)
    cc = CreditCode("91350100M000100Y43")
    assert "91350100M000100Y43" not in repr(cc)
    # The value itself is the real one: it has to go on the wire.
    assert f"{rid}" == "11010519491231002X"


@pytest.mark.parametrize(
    "value",
    ["110105194912310021", "110105203001010021", "99010519491231002X", "1101051949123100AX"],
)
def test_errors_never_show_the_full_value(value: str) -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        ResidentId(value, today=TODAY)
    for text in (str(info.value), repr(info.value), str(info.value.to_dict())):
        assert value not in text


def test_short_values_not_echoed() -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        ResidentId("370502199001")
    assert "3705" not in str(info.value)


def test_pickle_round_trip_keeps_type() -> None:
    rid = ResidentId("11010519491231002X", today=TODAY)
    back = pickle.loads(pickle.dumps(rid))  # noqa: S301 - our own freshly pickled value
    assert type(back) is ResidentId
    assert back == rid


# --- as pydantic fields ---------------------------------------------------------------------


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: ResidentId
    employer: CreditCode | None = None


def test_pydantic_field_parses_and_serialises() -> None:
    a = parse_model(Applicant, {"id_number": "11010519491231002x"})
    assert type(a.id_number) is ResidentId
    assert a.model_dump_json() == '{"id_number":"11010519491231002X","employer":null}'
    assert "11010519491231002X" not in repr(a)
    schema = Applicant.model_json_schema()
    assert schema["properties"]["id_number"]["pattern"] == r"^[0-9]{17}[0-9Xx]$"


def test_pydantic_field_errors_become_identifier_errors() -> None:
    with pytest.raises(govlink.IdentifierError) as info:
        parse_model(
            Applicant,
            {"id_number": "110105194912310021", "employer": "91350100M000100Y44"},
            root="applicant",
        )
    problems = {(p.field, p.rule) for p in info.value.problems}
    assert problems == {
        ("applicant.id_number", "check_character"),
        ("applicant.employer", "check_character"),
    }
    assert "110105194912310021" not in str(info.value)


def test_mixed_errors_are_plain_validation_errors() -> None:
    with pytest.raises(govlink.ValidationError) as info:
        parse_model(Applicant, {"id_number": "110105194912310021", "extra": 1})
    assert not isinstance(info.value, govlink.IdentifierError)
    assert {p.rule for p in info.value.problems} == {"check_character", "unknown_field"}


# --- random input only ever raises the library's error ---------------------------------------


@settings(max_examples=300)
@given(
    value=st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789Xx ", min_size=15, max_size=20),
        st.text(alphabet=ALPHABET + ALPHABET.lower() + "IOSVZ", min_size=16, max_size=19),
        st.integers(),
        st.none(),
        st.binary(max_size=20),
        st.lists(st.integers(), max_size=3),
    )
)
def test_random_input_only_raises_identifier_error(value: object) -> None:
    for kind in (ResidentId, CreditCode):
        error: govlink.IdentifierError | None = None
        try:
            result = kind(value, today=TODAY)
        except govlink.IdentifierError as exc:
            error = exc
        if error is None:
            assert isinstance(value, str)
            assert len(result) == 18
            assert kind.is_valid(str(result), today=TODAY)
            continue
        assert error.problems
        assert isinstance(value, str) or error.rule == "type"
        if isinstance(value, str) and len(value.strip()) == 18:
            assert value.strip().upper() not in str(error)


def test_today_from_validation_context() -> None:
    body = "370502202603031230"[:17]
    value = body + iso7064_mod11_2(body)  # born 2026-03-03
    with pytest.raises(govlink.IdentifierError) as info:
        parse_model(Applicant, {"id_number": value}, context={"today": TODAY})
    assert info.value.rule == "birth_date"
    with pytest.raises(govlink.IdentifierError):
        parse_model(Applicant, {"id_number": value}, context={"clock": govlink.VirtualClock()})
    later = govlink.VirtualClock()
    later.advance(timedelta(days=2))
    assert parse_model(Applicant, {"id_number": value}, context={"clock": later}).id_number == value
    assert (
        parse_model(Applicant, {"id_number": value}, context={"today": date(2026, 3, 3)}).id_number
        == value
    )
