"""Turning input into domain models, with govlink's errors only.

Every domain model is a pydantic v2 model, but callers never see pydantic's exceptions:
:func:`parse_model` converts each pydantic error into one :class:`govlink.FieldProblem` with a
dotted field path (``materials[2].name``) and a stable rule name derived from the error type
(table :data:`RULES_BY_PYDANTIC_TYPE`; govlink's own field types report their rule directly,
e.g. ``check_character``). Findings (:class:`Finding`) are the softer result of a consistency
check: a severity, a rule, a field and a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

import pydantic
from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from .._errors import FieldProblem, IdentifierError, ValidationError

__all__ = [
    "MODEL_RULE_FIELDS",
    "RULES_BY_PYDANTIC_TYPE",
    "Finding",
    "IsoDate",
    "IsoDateTime",
    "Severity",
    "parse_model",
    "problems_from_pydantic",
]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

#: Rule names for pydantic's error types. Anything not listed keeps pydantic's type name, which
#: pydantic documents as stable (https://docs.pydantic.dev/latest/errors/validation_errors/).
RULES_BY_PYDANTIC_TYPE: Final[Mapping[str, str]] = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_type": "type",
    "int_type": "type",
    "bool_type": "type",
    "dict_type": "type",
    "list_type": "type",
    "tuple_type": "type",
    "model_type": "type",
    "model_attributes_type": "type",
    "date_type": "type",
    "is_instance_of": "type",
    "int_parsing": "type",
    "int_from_float": "type",
    "bool_parsing": "type",
    "enum": "choice",
    "literal_error": "choice",
    "string_too_short": "length",
    "string_too_long": "length",
    "too_short": "length",
    "too_long": "length",
    "greater_than": "range",
    "greater_than_equal": "range",
    "less_than": "range",
    "less_than_equal": "range",
    "string_pattern_mismatch": "pattern",
    "date_parsing": "date",
    "date_from_datetime_parsing": "date",
    "date_from_datetime_inexact": "date",
    "datetime_type": "datetime",
    "datetime_parsing": "datetime",
    "datetime_from_date_parsing": "datetime",
    "datetime_object_invalid": "datetime",
    "float_type": "type",
    "float_parsing": "type",
    "finite_number": "range",
    "frozen_instance": "frozen",
    "value_error": "value",
    "assertion_error": "value",
}

#: Rules a model-level validator raises, and the field each is about. pydantic reports such an
#: error at the model's own location (the root, or ``promised_limit``), which would name no
#: field: the problem is moved onto the field (``promised_limit.amount``).
MODEL_RULE_FIELDS: Final[Mapping[str, str]] = {
    "zero_days": "amount",
    "on_the_spot_amount": "amount",
    "special_procedure_required": "special_procedure",
    "special_procedure_not_allowed": "special_procedure",
    "red_before_yellow": "red_overdue_working_days",
}

#: Rules reported by the identifier field types; a parse whose every problem is one of these
#: raises :class:`govlink.IdentifierError` instead of the plain ValidationError.
_IDENTIFIER_CONTEXT: Final = "identifier"


class Severity(StrEnum):
    """How bad a finding is: errors are contradictions, warnings are dirty-but-usable data."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One consistency finding: ``rule`` is stable, ``field`` a dotted path, ``message`` human."""

    severity: Severity
    rule: str
    field: str
    message: str

    def to_problem(self) -> FieldProblem:
        """The finding as a :class:`govlink.FieldProblem` (for raising)."""
        return FieldProblem(self.field, self.rule, self.message)

    def to_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
        }


def _dotted(loc: tuple[int | str, ...], root: str) -> str:
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path or "(root)"


def problems_from_pydantic(exc: pydantic.ValidationError, *, root: str = "") -> list[FieldProblem]:
    """One :class:`govlink.FieldProblem` per pydantic error (inputs never included)."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        kind = err["type"]
        loc = tuple(err["loc"])
        field = MODEL_RULE_FIELDS.get(kind)
        if field is not None and loc[-1:] != (field,):
            loc += (field,)
        problems.append(
            FieldProblem(_dotted(loc, root), RULES_BY_PYDANTIC_TYPE.get(kind, kind), err["msg"])
        )
    return problems


def parse_model(
    model: type[ModelT],
    data: object,
    *,
    root: str = "",
    context: Mapping[str, Any] | None = None,
) -> ModelT:
    """Validate ``data`` (a mapping, e.g. parsed JSON) into ``model`` with govlink errors only.

    ``root`` prefixes every field path (``parse_model(Item, d, root="items[3]")``).
    ``context`` is pydantic's validation context; govlink's field types read ``"today"`` (a
    ``date``) or ``"clock"`` (a :class:`govlink.Clock`) from it to bound birth dates.

    Raises:
        IdentifierError: every problem came from an identifier field (ID number, credit code).
        ValidationError: otherwise; one problem per broken rule, with the field's dotted path.
    """
    try:
        return model.model_validate(data, context=dict(context) if context else None)
    except pydantic.ValidationError as exc:
        problems = problems_from_pydantic(exc, root=root)
        identifier = all(
            (err.get("ctx") or {}).get("kind") == _IDENTIFIER_CONTEXT for err in exc.errors()
        )
        raise (IdentifierError if identifier else ValidationError)(problems=problems) from None
    except RecursionError:
        # Deeply nested garbage input must still end in a govlink error, never a crash.
        raise ValidationError(
            "input is nested too deeply", field=root or "(root)", rule="depth"
        ) from None


def identifier_error(rule: str, message: str) -> PydanticCustomError:
    """The pydantic error an identifier field raises (tagged so parse_model can tell)."""
    # Braces would be read as format fields by pydantic; messages never need them.
    safe = message.replace("{", "(").replace("}", ")")
    return PydanticCustomError(rule, safe, {"kind": _IDENTIFIER_CONTEXT})


def _iso_date(value: Any) -> Any:
    # Only real dates and ISO "YYYY-MM-DD" strings: pydantic's lax mode would also turn the
    # integer 0 into 1970-01-01, which hides wire-format mistakes.
    if isinstance(value, datetime):
        raise PydanticCustomError("date", "Input should be a date, not a date and time")
    if isinstance(value, date):
        return value
    if (
        isinstance(value, str)
        and len(value) == 10
        and value[4] == value[7] == "-"
        and (digits := value[:4] + value[5:7] + value[8:]).isascii()
        and digits.isdigit()
    ):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date", "Input should be a real date") from None
    raise PydanticCustomError("date", "Input should be an ISO date string YYYY-MM-DD")


#: A date field that accepts ``date`` objects and ``YYYY-MM-DD`` strings only.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


# Date, "T" (or a space, as RFC 3339 allows), time with optional seconds and fraction, and an
# optional offset: a missing offset is left to AwareDatetime, which names it (timezone_aware).
_ISO_DATETIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)


def _iso_datetime(value: Any) -> Any:
    # Wire times are ISO 8601 text with an offset. pydantic's lax mode would also read the
    # number 2 (or the text "1772413200") as seconds since 1970, turning a wrong field into a
    # plausible but false time.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        return value
    raise PydanticCustomError(
        "datetime",
        "Input should be an ISO 8601 date and time with an offset (2026-03-02T09:00:00+08:00)",
    )


#: An aware date-time field that accepts ``datetime`` objects and ISO 8601 text only (an offset
#: is required: rule ``timezone_aware`` without one; rule ``datetime`` for anything else).
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


def _strict_int_enum(value: Any) -> Any:
    """A before-validator for an ``IntEnum`` field: only a real ``int`` (not ``True``,
    ``"1"`` or ``1.0``, which pydantic's lax mode would take) or a member."""
    if type(value) is int or (isinstance(value, int) and type(value) is not bool):
        return value
    raise PydanticCustomError("type", "Input should be an integer code")
