"""govlink's error tree.

Every error govlink raises for bad input, bad state or a failing platform derives from
:class:`GovlinkError` and carries a stable machine ``code`` (never reworded once released) and a
human message that names the field and the rule broken. Programmer mistakes (calling an API with
the wrong Python type, using a closed object) are ordinary ``TypeError``/``RuntimeError`` and are
deliberately outside the tree.

The foundation defines the trunk; each subsystem grows its own branch next to its code::

    GovlinkError                      code
    ├── ConfigError                   config_error         (exit 2 in the CLI)
    ├── ValidationError               validation_error     (one or more FieldProblem)
    │   ├── IdentifierError           invalid_identifier
    │   ├── ConsistencyError          inconsistent_item
    │   └── TransitionError           illegal_transition
    ├── CalendarDataMissing           calendar_data_missing
    ├── StoreError                    store_error
    │   └── MigrationError            migration_error
    ├── IdentityError                 (govlink.identity)
    └── SyncError                     (govlink.sync)

Personal data never appears in a message: callers pass masked values (see
``govlink.domain.mask_personal``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "CalendarDataMissing",
    "ConfigError",
    "ConsistencyError",
    "FieldProblem",
    "GovlinkError",
    "IdentifierError",
    "MigrationError",
    "StoreError",
    "TransitionError",
    "ValidationError",
]


class GovlinkError(Exception):
    """Base of every error govlink raises on purpose.

    ``code`` is stable and machine-readable; ``str(error)`` is the human message.
    """

    code: ClassVar[str] = "govlink_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: ``{"code": ..., "message": ...}`` plus subclass details."""
        return {"code": self.code, "message": self.message}


class ConfigError(GovlinkError):
    """Settings, a store URL or a command line that cannot be used as given."""

    code = "config_error"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One broken rule on one field.

    ``field`` is a dotted path (``"department.credit_code"``, ``"items[3].name"``); ``rule`` is a
    stable rule name (``"check_character"``, ``"promised_le_legal"``); ``message`` is for people.
    """

    field: str
    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class ValidationError(GovlinkError):
    """Input that breaks one or more rules. ``problems`` lists each (field, rule, message)."""

    code = "validation_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        rule: str | None = None,
        problems: Iterable[FieldProblem] = (),
    ) -> None:
        found = list(problems)
        if field is not None and rule is not None:
            found.insert(0, FieldProblem(field, rule, message or rule))
        if not found and message is None:
            raise TypeError("ValidationError needs a message or at least one problem")
        self.problems: Sequence[FieldProblem] = tuple(found)
        if message is None:
            message = "; ".join(f"{p.field}: {p.message} [{p.rule}]" for p in self.problems)
        elif field is not None and rule is not None:
            message = f"{field}: {message} [{rule}]"
        super().__init__(message)

    @property
    def field(self) -> str | None:
        """The first offending field, when there is one."""
        return self.problems[0].field if self.problems else None

    @property
    def rule(self) -> str | None:
        """The first broken rule, when there is one."""
        return self.problems[0].rule if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [p.to_dict() for p in self.problems]
        return data


class IdentifierError(ValidationError):
    """A resident ID number or unified social credit code that fails its standard."""

    code = "invalid_identifier"


class ConsistencyError(ValidationError):
    """A catalog item whose fields contradict each other (domain reference §4 audit rules)."""

    code = "inconsistent_item"


class TransitionError(ValidationError):
    """A case status change the case's state machine does not allow."""

    code = "illegal_transition"


class CalendarDataMissing(GovlinkError):
    """A working-day question about a date for which no holiday data is loaded."""

    code = "calendar_data_missing"


class StoreError(GovlinkError):
    """The store could not be opened, read or written."""

    code = "store_error"


class MigrationError(StoreError):
    """A store schema migration failed or the store is newer than this govlink."""

    code = "migration_error"
