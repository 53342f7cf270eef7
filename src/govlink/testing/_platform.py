"""The provincial platform's state and rules, in the mock's own vocabulary.

:class:`Platform` holds what the platform knows (catalog items, cases and their state machine,
applied idempotency keys) and applies batches of canonical elements, one
:class:`ElementOutcome` / :class:`ItemOutcome` per element. It knows no wire format: each
front end (``_reference_face``, ``_gateway_face``) decodes its API's request into canonical
elements, calls the platform and encodes the outcomes in its API's vocabulary.

Validation and the case state machine are govlink's own domain code (``parse_item``,
``CaseStatusEvent``, ``CaseLifecycle``), never a copy. Not thread-safe on its own: the
province calls it under its lock.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from sys import intern
from typing import Any, Final, NamedTuple

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .._errors import FieldProblem, ValidationError
from ..domain import (
    CaseLifecycle,
    CaseStatusEvent,
    CaseTransitionError,
    StatusCodeTable,
    parse_case_event,
    parse_item,
)

__all__ = [
    "CaseView",
    "DigestRecord",
    "ElementOutcome",
    "ElementStatus",
    "ItemOutcome",
    "PartialFailure",
    "Platform",
    "decode_cursor",
    "encode_cursor",
]

_EVENT_LIST: Final = TypeAdapter(list[CaseStatusEvent])
_STATUS_TABLE: Final = StatusCodeTable()
#: Longest explicit idempotency key the platform remembers.
MAX_KEY_LENGTH: Final = 200


class ElementStatus(StrEnum):
    """What happened to one element of a batch (the platform's own words)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    OUT_OF_ORDER = "out_of_order"
    ILLEGAL_TRANSITION = "illegal_transition"
    UNAVAILABLE = "unavailable"

    @property
    def acknowledged(self) -> bool:
        """True when the element's effect is in place (``applied`` or ``duplicate``)."""
        return self is ElementStatus.APPLIED or self is ElementStatus.DUPLICATE


# Members bound once: attribute access on an Enum class is slow on the hot path.
_APPLIED: Final = ElementStatus.APPLIED
_DUPLICATE: Final = ElementStatus.DUPLICATE
_REJECTED: Final = ElementStatus.REJECTED
_UNAVAILABLE: Final = ElementStatus.UNAVAILABLE


class ElementOutcome(NamedTuple):
    """The outcome of one case status event (a named tuple: cheap on the ingest hot path).

    ``key`` is the idempotency key (``None`` when the element was refused before one could be
    made); ``expected_sequence`` is set for ``out_of_order``, ``current_status`` (a status
    code, domain reference §5) for ``illegal_transition``, ``retry_after`` for ``unavailable``.
    """

    status: ElementStatus
    key: str | None = None
    case_number: str | None = None
    sequence: int | None = None
    expected_sequence: int | None = None
    current_status: int | None = None
    problems: list[FieldProblem] | None = None
    retry_after: int | None = None


class ItemOutcome(NamedTuple):
    """The outcome of one catalog item: the stored ``revision`` and ``content_hash`` when known."""

    status: ElementStatus
    code: str | None = None
    revision: int | None = None
    content_hash: str | None = None
    problems: list[FieldProblem] | None = None
    retry_after: int | None = None


# The hot path builds outcomes from a plain tuple in C, skipping the named tuple's Python-level
# __new__ (about 5% of the ingest time otherwise).
_outcome: Final = partial(tuple.__new__, ElementOutcome)


@dataclass(frozen=True, slots=True)
class PartialFailure:
    """A ``partial`` fault: each element fails with ``unavailable`` with probability ``rate``.

    ``draw`` is the fault plan's seeded random source: one draw per element, always, so the
    same plan and seed fail the same elements.
    """

    rate: float
    retry_after: int
    draw: Callable[[], float]


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """One catalog digest line: implementation code → content hash, version, revision."""

    code: str
    content_hash: str
    version: int
    revision: int


@dataclass(frozen=True, slots=True)
class CaseView:
    """What the platform holds for one case (``status``: a status code, or ``None``)."""

    case_number: str
    status: int | None
    last_sequence: int
    events_applied: int


@dataclass(slots=True)
class _StoredItem:
    data: dict[str, Any]
    content_hash: str
    version: int
    revision: int


def encode_cursor(last_code: str) -> str:
    """An opaque page token continuing after ``last_code`` (unpadded base64url)."""
    return base64.urlsafe_b64encode(last_code.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> str:
    """The code a page token continues after.

    Raises:
        ValueError: the token was not made by :func:`encode_cursor`.
    """
    padded = token + "=" * (-len(token) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeError):
        raise ValueError("not a page token of this platform") from None


def _key_problem() -> list[FieldProblem]:
    return [
        FieldProblem(
            "idempotency_key", "type", f"idempotency_key is a string of 1-{MAX_KEY_LENGTH} chars"
        )
    ]


class Platform:
    """The provincial platform's state and rules (see the module docstring).

    ``check_items`` applies the catalog consistency rules (domain reference §4) to pushed items.
    """

    def __init__(self, *, check_items: bool = True) -> None:
        self.check_items = check_items
        self.reset()

    def reset(self) -> None:
        """Forget items, cases and applied keys."""
        self._items: dict[str, _StoredItem] = {}
        self._sorted_codes: list[str] | None = None
        self._lifecycle = CaseLifecycle()
        # idempotency key -> (case_number, sequence); the applied log keeps apply order
        self._keys: dict[str, tuple[str, int]] = {}
        self._applied_log: list[str] = []
        self._case_counts: dict[str, int] = {}

    # --- what the platform holds ----------------------------------------------------------------

    @property
    def item_count(self) -> int:
        """Catalog items stored."""
        return len(self._items)

    @property
    def case_count(self) -> int:
        """Cases seen."""
        return len(self._lifecycle)

    @property
    def events_applied(self) -> int:
        """Events applied (duplicates not counted)."""
        return len(self._applied_log)

    def applied_event_log(self) -> list[str]:
        """Idempotency keys of applied events, in the order they were applied."""
        return list(self._applied_log)

    def applied_event_slots(self) -> list[tuple[str, int]]:
        """(case number, sequence) of each applied event, in apply order."""
        return [self._keys[k] for k in self._applied_log]

    def catalog_hashes(self) -> dict[str, str]:
        """Implementation code → content hash of every stored item."""
        return {code: item.content_hash for code, item in self._items.items()}

    def catalog(self, codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The stored items' canonical JSON, ordered by implementation code (or ``codes``)."""
        return [self._items[c].data for c in (self._codes() if codes is None else codes)]

    def digest(self, codes: Sequence[str]) -> list[DigestRecord]:
        """The digest lines of ``codes`` (stored codes, e.g. one :meth:`page`)."""
        records = []
        for code in codes:
            item = self._items[code]
            records.append(DigestRecord(code, item.content_hash, item.version, item.revision))
        return records

    def page(self, size: int, token: str | None) -> tuple[list[str], str | None]:
        """One page of stored codes in code order, and the token of the next (``None``: last).

        Raises:
            ValueError: ``token`` is not a page token of this platform.
        """
        after = decode_cursor(token) if token is not None else None
        codes = self._codes()
        start = bisect_right(codes, after) if after is not None else 0
        page = codes[start : start + size]
        more = start + size < len(codes)
        return page, (encode_cursor(page[-1]) if more and page else None)

    def case(self, case_number: str) -> CaseView | None:
        """What the platform holds for one case (``None``: never seen)."""
        if case_number not in self._lifecycle:
            return None
        status, sequence = self.case_status(case_number)
        return CaseView(case_number, status, sequence, self._case_counts.get(case_number, 0))

    def case_status(self, case_number: str) -> tuple[int | None, int]:
        """(status code or ``None``, last sequence) of a case."""
        status = self._lifecycle.status(case_number)
        code = _STATUS_TABLE.code(status) if status is not None else None
        return code, self._lifecycle.sequence(case_number)

    def _codes(self) -> list[str]:
        if self._sorted_codes is None:
            self._sorted_codes = sorted(self._items)
        return self._sorted_codes

    # --- case status events ---------------------------------------------------------------------

    def apply_events(
        self,
        raw: Sequence[Any],
        partial: PartialFailure | None = None,
        pre_problems: Mapping[int, list[FieldProblem]] | None = None,
    ) -> list[ElementOutcome]:
        """Validate and apply a batch of canonical event dicts in order; one outcome each.

        An element may carry ``idempotency_key``; ``pre_problems`` refuses elements a front end
        could not decode.
        """
        explicit: list[str | None] = [None] * len(raw)
        problems: dict[int, list[FieldProblem]] = dict(pre_problems or {})
        elements = list(raw)
        for index, element in enumerate(elements):
            if index in problems:
                continue
            if not isinstance(element, dict):
                problems[index] = [FieldProblem("(root)", "type", "an event is a JSON object")]
                continue
            if "idempotency_key" in element:
                element = dict(element)
                elements[index] = element
                key = element.pop("idempotency_key")
                if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
                    problems[index] = _key_problem()
                    continue
                explicit[index] = key
        events: list[CaseStatusEvent | None]
        try:
            if problems:
                raise ValueError("slow path")
            events = list(_EVENT_LIST.validate_python(elements))
        except (PydanticValidationError, ValueError):
            # Only a batch with a bad element takes the per-element path, which gives each
            # element govlink's own field/rule problems.
            events = []
            for index, element in enumerate(elements):
                if index in problems:
                    events.append(None)
                    continue
                try:
                    events.append(parse_case_event(element))
                except ValidationError as exc:
                    problems[index] = list(exc.problems)
                    events.append(None)
        return self.apply_validated(events, explicit, problems, partial)

    def apply_validated(
        self,
        events: Sequence[CaseStatusEvent | None],
        explicit: Sequence[str | None],
        problems: Mapping[int, list[FieldProblem]],
        partial: PartialFailure | None = None,
    ) -> list[ElementOutcome]:
        """Apply validated events in order (``None``: refused with ``problems[index]``).

        ``explicit`` holds each event's idempotency key as sent (``None``: the default key
        ``{hall}:case:{case_number}:{sequence}``).
        """
        rate = partial.rate if partial is not None else 0.0
        draw = partial.draw if partial is not None and rate else None
        keys = self._keys
        advance = self._lifecycle.advance
        log = self._applied_log
        counts = self._case_counts
        outcomes: list[ElementOutcome] = []
        for index, event in enumerate(events):
            roll = draw() if draw is not None else 1.0
            if event is None:
                outcomes.append(
                    ElementOutcome(_REJECTED, explicit[index], problems=problems[index])
                )
                continue
            case_number = intern(event.case_number)  # one string per case, not per event
            sequence = event.sequence
            key = explicit[index] or f"{event.hall}:case:{case_number}:{sequence}"
            seen = keys.get(key)
            if seen is not None:
                if seen == (case_number, sequence):
                    outcomes.append(
                        _outcome((_DUPLICATE, key, case_number, sequence, None, None, None, None))
                    )
                else:
                    reused = FieldProblem(
                        "idempotency_key",
                        "idempotency_key_reused",
                        f"key already used for {seen[0]} sequence {seen[1]}",
                    )
                    outcomes.append(
                        ElementOutcome(_REJECTED, key, case_number, sequence, problems=[reused])
                    )
                continue
            if roll < rate:
                outcomes.append(
                    ElementOutcome(
                        _UNAVAILABLE,
                        key,
                        case_number,
                        sequence,
                        retry_after=partial.retry_after if partial is not None else None,
                    )
                )
                continue
            try:
                advance(case_number, sequence, event.status)
            except CaseTransitionError as exc:
                outcomes.append(self._refused_transition(exc, key, case_number, sequence))
                continue
            keys[key] = (case_number, sequence)
            log.append(key)
            counts[case_number] = counts.get(case_number, 0) + 1
            outcomes.append(
                _outcome((_APPLIED, key, case_number, sequence, None, None, None, None))
            )
        return outcomes

    @staticmethod
    def _refused_transition(
        exc: CaseTransitionError, key: str, case_number: str, sequence: int
    ) -> ElementOutcome:
        problems = list(exc.problems)
        if problems[0].rule in ("sequence_gap", "sequence_repeat"):
            return ElementOutcome(
                ElementStatus.OUT_OF_ORDER,
                key,
                case_number,
                sequence,
                expected_sequence=exc.expected_sequence,
                problems=problems,
            )
        current = _STATUS_TABLE.code(exc.from_status) if exc.from_status is not None else None
        return ElementOutcome(
            ElementStatus.ILLEGAL_TRANSITION,
            key,
            case_number,
            sequence,
            current_status=current,
            problems=problems,
        )

    # --- catalog items --------------------------------------------------------------------------

    def apply_items(
        self,
        raw: Sequence[Any],
        partial: PartialFailure | None = None,
        pre_problems: Mapping[int, list[FieldProblem]] | None = None,
    ) -> list[ItemOutcome]:
        """Validate and upsert a batch of canonical item dicts; one outcome each.

        An item with the stored content hash is a duplicate; one with a lower ``version`` than
        the stored one is refused (``stale_version``).
        """
        rate = partial.rate if partial is not None else 0.0
        draw = partial.draw if partial is not None else None
        outcomes: list[ItemOutcome] = []
        for index, element in enumerate(raw):
            roll = draw() if draw is not None and rate else 1.0
            code = element.get("implementation_code") if isinstance(element, dict) else None
            code = code if isinstance(code, str) else None
            if pre_problems and index in pre_problems:
                outcomes.append(ItemOutcome(_REJECTED, code, problems=list(pre_problems[index])))
                continue
            try:
                item = parse_item(element, check=self.check_items)
            except ValidationError as exc:
                outcomes.append(ItemOutcome(_REJECTED, code, problems=list(exc.problems)))
                continue
            code = item.implementation_code
            content_hash = item.content_hash()
            stored = self._items.get(code)
            if stored is not None and stored.content_hash == content_hash:
                outcomes.append(ItemOutcome(_DUPLICATE, code, stored.revision, content_hash))
                continue
            if stored is not None and item.version < stored.version:
                problem = FieldProblem(
                    "version",
                    "stale_version",
                    f"version {item.version} is older than the stored version {stored.version}",
                )
                outcomes.append(
                    ItemOutcome(_REJECTED, code, stored.revision, stored.content_hash, [problem])
                )
                continue
            if roll < rate:
                wait = partial.retry_after if partial is not None else None
                outcomes.append(ItemOutcome(_UNAVAILABLE, code, retry_after=wait))
                continue
            revision = stored.revision + 1 if stored is not None else 1
            if stored is None:
                self._sorted_codes = None
            self._items[code] = _StoredItem(item.wire_dict(), content_hash, item.version, revision)
            outcomes.append(ItemOutcome(_APPLIED, code, revision, content_hash))
        return outcomes
