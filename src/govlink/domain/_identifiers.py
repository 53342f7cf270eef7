"""Resident ID numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015).

Both are value types: ``str`` subclasses that can only be built from a valid value, so a
``ResidentId`` in hand is known to be well formed. They normalise (strip surrounding
whitespace, upper-case a trailing ``x``), validate, and fail with
:class:`govlink.IdentifierError` whose single :class:`govlink.FieldProblem` names the field and
a stable rule:

=========================== ==================================================================
rule                        meaning
=========================== ==================================================================
``type``                    not a string
``length``                  not 18 characters after normalising
``charset``                 a character outside the standard's alphabet
``region``                  ID: unknown province prefix; credit code: chars 3–8 not digits
``birth_date``              ID: positions 7–14 are not a real date, or lie in the future
``registration_authority``  credit code: character 1 is no registration authority (1, 5, 9, Y…)
``organisation_category``   credit code: character 2 is no category of that authority
``organisation_code``       credit code: the GB 11714 check digit of chars 9–17 is wrong
``check_character``         the final check character does not match
=========================== ==================================================================

**Masking.** Both are personal or registration data. ``repr()``, :attr:`masked` and every error
message show only the first four and the last four characters (``3705**********123X``). The
string value itself (``str(x)``, JSON output) is the real value, because it has to go on the
wire: code that logs an identifier must log ``x.masked`` or ``repr(x)``, never ``str(x)``.

**As pydantic fields.** Annotate a field ``ResidentId`` or ``CreditCode``; validation inside a
model reports the same rule names (as pydantic error types), and
:func:`govlink.domain.parse_model` turns them back into ``IdentifierError`` problems, e.g.
``FieldProblem("applicant.id_number", "check_character", ...)``. JSON Schema output is a string
with the 18-character pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any, ClassVar, Final, Self

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from .._clock import CHINA_TZ
from .._errors import FieldProblem, IdentifierError
from ._validation import identifier_error

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CreditCode",
    "ResidentId",
    "credit_code_check_character",
    "mask_personal",
    "organisation_code_check_character",
    "resident_id_check_character",
]

# --- GB 11643-1999 -------------------------------------------------------------------------

#: Weights of positions 1–17 (2^(18-i) mod 11).
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"

#: Province-level prefixes of GB/T 2260 (plus 81/82/83 used by the residence permits of Hong
#: Kong, Macao and Taiwan residents). Only the province is checked: county codes on ID numbers
#: stay valid for life even after the county is renamed or merged, so a full county table would
#: reject real people.
_PROVINCE_DIGITS: Final = "1112131415212223313233343536374142434445465051525354616263646571818283"
_ID_PROVINCES: Final = frozenset(_PROVINCE_DIGITS[i : i + 2] for i in range(0, 70, 2))
#: No one alive holds an ID number with an earlier birth year; older dates are typos.
_EARLIEST_BIRTH_YEAR: Final = 1850

# --- GB 32100-2015 -------------------------------------------------------------------------

#: The 31 characters of a credit code; a character's value is its index (no I, O, Z, S, V).
CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_VALUE: Final = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
#: Weights of characters 1–17 (3^(i-1) mod 31).
_CC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: Registration authority (character 1) → organisation categories it issues (character 2).
_CC_CATEGORIES: Final[dict[str, str]] = {
    "1": "1239",  # 机构编制: 1 机关, 2 事业单位, 3 群众团体, 9 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会
    "4": "19",  # 文化
    "5": "1239",  # 民政: 1 社会团体, 2 民办非企业单位, 3 基金会, 9 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商: 1 企业, 2 个体工商户, 3 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业: 农村集体经济组织
    "Y": "1",  # 其他
}

# --- GB 11714-1997 (organisation code, characters 9–17 of a credit code) -------------------
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE: Final = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def mask_personal(value: str, *, keep_start: int = 4, keep_end: int = 4) -> str:
    """Mask personal data for logs, reprs and error messages: ``3705**********123X``.

    Keeps ``keep_start`` leading and ``keep_end`` trailing characters and replaces the rest with
    ``*`` (same length). Values too short to keep anything private are masked completely.
    Works for any string: ID numbers, credit codes, phone numbers (``138****5678`` with
    ``keep_start=3``), names (``mask_personal("张三丰", keep_start=1, keep_end=0)``).
    """
    if keep_start < 0 or keep_end < 0:
        raise ValueError("keep_start and keep_end must not be negative")
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    tail = value[len(value) - keep_end :] if keep_end else ""
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + tail


def resident_id_check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number.

    Raises:
        ValueError: ``first17`` is not 17 ASCII digits (a programmer error, not input
            validation: use :meth:`ResidentId.parse` for input).
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("resident_id_check_character needs exactly 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code.

    ``check = alphabet[(31 - sum mod 31) mod 31]``; the outer ``mod 31`` maps a remainder of 0 to
    ``'0'`` (not to the out-of-range index 31 a well-known open-source version produces).

    Raises:
        ValueError: ``first17`` is not 17 characters of :data:`CREDIT_CODE_ALPHABET`.
    """
    if len(first17) != 17 or any(c not in _CC_VALUE for c in first17):
        raise ValueError("credit_code_check_character needs 17 credit-code characters")
    total = sum(_CC_VALUE[c] * w for c, w in zip(first17, _CC_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def organisation_code_check_character(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body.

    ``c = 11 - (sum mod 11)``: 10 is written ``X``, 11 is written ``0``.

    Raises:
        ValueError: ``body8`` is not 8 digits / upper-case letters.
    """
    if len(body8) != 8 or any(c not in _ORG_VALUE for c in body8):
        raise ValueError("organisation_code_check_character needs 8 digits or capitals")
    total = sum(_ORG_VALUE[c] * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


class _Identifier(str):
    """Shared machinery of the two identifier types (normalising, masking, pydantic glue)."""

    __slots__ = ()
    #: Field name used in errors when the caller names none.
    default_field: ClassVar[str]
    #: Human name used in error messages.
    label: ClassVar[str]
    json_pattern: ClassVar[str]

    def __new__(cls, value: object, *, field: str | None = None, today: date | None = None) -> Self:
        """Validate ``value`` and build the identifier.

        Raises:
            IdentifierError: one problem naming ``field`` and the broken rule.
        """
        name = field or cls.default_field
        if not isinstance(value, str):
            raise _error(name, "type", f"{cls.label} must be a string, not {type(value).__name__}")
        normalised = value.strip().upper()
        problem = cls._problem(normalised, today)
        if problem is not None:
            rule, message = problem
            # Only a full-length value is masked into the message: four leading and four
            # trailing characters of a short value would reveal most of it.
            shown = f" {mask_personal(normalised)}" if len(normalised) == 18 else ""
            raise _error(name, rule, f"{cls.label}{shown}: {message}")
        return super().__new__(cls, normalised)

    @classmethod
    def parse(cls, value: object, *, field: str | None = None, today: date | None = None) -> Self:
        """Same as the constructor; reads better at call sites (``ResidentId.parse(raw)``)."""
        return cls(value, field=field, today=today)

    @classmethod
    def is_valid(cls, value: object, *, today: date | None = None) -> bool:
        """Whether ``value`` would parse (never raises)."""
        try:
            cls(value, today=today)
        except IdentifierError:
            return False
        return True

    @classmethod
    def _problem(cls, value: str, today: date | None) -> tuple[str, str] | None:
        raise NotImplementedError

    @property
    def masked(self) -> str:
        """The value with all but the first and last four characters hidden (for logs)."""
        return mask_personal(str.__str__(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked!r})"

    # A str subclass pickles/copies through __reduce__; rebuilding re-validates, which is cheap
    # and keeps the "only valid values exist" promise. ``today`` is not needed: a value valid
    # once has a birth date in the past for ever.
    def __reduce__(self) -> tuple[Callable[..., Self], tuple[str]]:
        return (type(self), (str.__str__(self),))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: str, info: core_schema.ValidationInfo) -> _Identifier:
            try:
                return cls(value, today=_today_from(info.context))
            except IdentifierError as exc:
                problem = exc.problems[0]
                # The error type carries the stable rule name; parse_model maps it back.
                raise identifier_error(problem.rule, problem.message) from None

        return core_schema.with_info_after_validator_function(
            validate,
            core_schema.str_schema(strict=True),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str.__str__, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "minLength": 18,
            "maxLength": 18,
            "pattern": cls.json_pattern,
            "description": (cls.__doc__ or "").strip().splitlines()[0],
        }


class ResidentId(_Identifier):
    """A resident identity card number (居民身份证号码), GB 11643-1999, 18 characters.

    Positions 1–6 region, 7–14 birth date, 15–17 sequence (17th odd = male), 18 check
    character (``0``–``9`` or ``X``). A lower-case ``x`` is normalised; ``today`` (default: the
    current date in China) bounds the birth date. ``repr``/:attr:`masked` hide the middle.

    Raises:
        IdentifierError: rules ``type``, ``length``, ``charset``, ``region``, ``birth_date``,
            ``check_character``.
    """

    __slots__ = ()
    default_field = "id_number"
    label = "resident ID number"
    json_pattern = r"^[0-9]{17}[0-9Xx]$"

    @classmethod
    def _problem(cls, value: str, today: date | None) -> tuple[str, str] | None:
        if len(value) != 18:
            return "length", f"must be 18 characters, got {len(value)}"
        if not (value[:17].isascii() and value[:17].isdigit()) or value[17] not in "0123456789X":
            return "charset", "must be 17 digits followed by a digit or X"
        if value[:2] not in _ID_PROVINCES:
            return "region", "positions 1-2 are not a province code of GB/T 2260"
        try:
            born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            return "birth_date", "positions 7-14 are not a real date"
        if today is None:
            today = datetime.now(CHINA_TZ).date()
        if born > today:
            return "birth_date", "birth date lies in the future"
        if born.year < _EARLIEST_BIRTH_YEAR:
            return "birth_date", f"birth year before {_EARLIEST_BIRTH_YEAR}"
        if resident_id_check_character(value[:17]) != value[17]:
            return "check_character", "check character does not match (GB 11643)"
        return None

    @property
    def region_code(self) -> str:
        """The 6-digit region code of the place of first registration (positions 1–6)."""
        return self[:6]

    @property
    def birth_date(self) -> date:
        """The holder's birth date (positions 7–14)."""
        return date(int(self[6:10]), int(self[10:12]), int(self[12:14]))

    @property
    def is_male(self) -> bool:
        """Position 17 is odd for men and even for women."""
        return int(self[16]) % 2 == 1


class CreditCode(_Identifier):
    """A unified social credit code (统一社会信用代码), GB 32100-2015, 18 characters.

    Character 1 registration authority (1 机构编制, 5 民政, 9 工商, Y other …), 2 organisation
    category (11 机关, 12 事业单位, 91 企业, 92 个体工商户 …), 3–8 region, 9–17 organisation code
    (GB 11714, with its own check digit), 18 check character. Lower case is normalised.

    Raises:
        IdentifierError: rules ``type``, ``length``, ``charset``, ``registration_authority``,
            ``organisation_category``, ``region``, ``organisation_code``, ``check_character``.
    """

    __slots__ = ()
    default_field = "credit_code"
    label = "credit code"
    json_pattern = r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$"

    @classmethod
    def _problem(cls, value: str, today: date | None) -> tuple[str, str] | None:
        return _credit_code_problem(value)

    @property
    def registration_authority(self) -> str:
        """Character 1 (``1`` 机构编制, ``5`` 民政, ``9`` 工商, ``Y`` other …)."""
        return self[0]

    @property
    def organisation_category(self) -> str:
        """Characters 1–2 together (``11`` 机关, ``12`` 事业单位, ``91`` 企业 …)."""
        return self[:2]

    @property
    def region_code(self) -> str:
        """Characters 3–8: the registering body's region code."""
        return self[2:8]

    @property
    def organisation_code(self) -> str:
        """Characters 9–17: the GB 11714 organisation code."""
        return self[8:17]


def _today_from(context: Any) -> date | None:
    # Inside a model, "today" comes from the validation context (parse_model(..., context=
    # {"today": d} or {"clock": clock})); without one, the system clock decides.
    if not isinstance(context, dict):
        return None
    today = context.get("today")
    if isinstance(today, date) and not isinstance(today, datetime):
        return today
    clock = context.get("clock")
    if clock is not None and hasattr(clock, "now"):
        now = clock.now()
        if isinstance(now, datetime):
            return now.astimezone(CHINA_TZ).date()
    return None


def _error(field: str, rule: str, message: str) -> IdentifierError:
    return IdentifierError(problems=[FieldProblem(field, rule, message)])


# Credit codes repeat endlessly (a catalog has tens of thousands of items from a few dozen
# departments), and the verdict depends on the value alone: remember recent verdicts.
@lru_cache(maxsize=8192)
def _credit_code_problem(value: str) -> tuple[str, str] | None:
    if len(value) != 18:
        return "length", f"must be 18 characters, got {len(value)}"
    if any(c not in _CC_VALUE for c in value):
        return "charset", "only digits and capitals other than I, O, S, V, Z are allowed"
    categories = _CC_CATEGORIES.get(value[0])
    if categories is None:
        return "registration_authority", "character 1 is no registration authority"
    if value[1] not in categories:
        return (
            "organisation_category",
            f"character 2 is no organisation category of authority {value[0]}",
        )
    if not value[2:8].isdigit():
        return "region", "characters 3-8 must be a 6-digit region code"
    if organisation_code_check_character(value[8:16]) != value[16]:
        return "organisation_code", "organisation code check digit (GB 11714) does not match"
    if credit_code_check_character(value[:17]) != value[17]:
        return "check_character", "check character does not match (GB 32100)"
    return None
