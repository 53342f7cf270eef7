"""Cases (办件) and their status events (办件状态), with the per-case state machine.

Vocabulary. :class:`CaseStatus` is govlink's canonical status list, covering the 15 codes of the
housing ministry's construction-approval data standard v3.0 that Shandong deployments use
(domain reference §5). The numeric codes are data, not identity: :data:`DEFAULT_STATUS_CODES` is the
default table and a province adapter that numbers differently builds its own
:class:`StatusCodeTable`.

State machine. :class:`CaseLifecycle` accepts a case's events one by one and refuses, with
:class:`CaseTransitionError` (a :class:`govlink.TransitionError`), anything the rules forbid:

* the first event must be ``received`` (rule ``before_receipt``), with sequence 1;
* sequences go up by exactly one per case (rules ``sequence_gap`` and ``sequence_repeat``);
* nothing but acceptance, non-acceptance or withdrawal before acceptance
  (``processing_before_acceptance``, ``before_acceptance``);
* no acceptance-stage status after acceptance (``already_accepted``, ``duplicate_receipt``);
* a pause (补正 supplement, 特别程序 special procedure) ends only after its own start
  (``pause_end_without_start``); pauses do not nest or overlap (``nested_pause``); while paused
  only the pause's end, withdrawal (撤回) or revocation (撤销) may follow (``while_paused``);
* nothing after a terminal status (``after_terminal``).

Decisions recorded here (docs/domain-reference.md leaves them open):

* 补正 is modelled only after acceptance, where it stops the clock. Requests for missing
  material before acceptance (一次性告知) are not a §5 status: the case stays ``received`` until
  it is accepted or not.
* ``processing`` may repeat (joint handling: each department reports 部门开始办理), and a case
  may be concluded straight from ``accepted`` (simple items skip the processing report).
* 撤回 (withdrawn by the applicant) and 撤销 (revoked by the authority) are possible from every
  post-acceptance state, paused or not; a conclusion (办结) needs a running clock.

The full table is data: :data:`TRANSITIONS` (allowed successors per last status, ``None`` =
no event yet) and :func:`transition_rule` (the rule that refuses a pair).

Idempotency. Every event has a deterministic :attr:`CaseStatusEvent.idempotency_key`,
``"{hall}:case:{case_number}:{sequence}"`` (:func:`case_event_key`): the same event enqueued or
delivered twice has the same key, so the sync engine and the receiver can deduplicate.

One cohesive concept, hence one module despite its length: the case (办件), its statuses and its
state machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from .._errors import FieldProblem, IdentifierError, TransitionError, ValidationError
from ._identifiers import CreditCode, ResidentId, mask_personal
from ._items import SpecialProcedureKind
from ._regions import RegionRegistry, default_regions, normalise_region_code
from ._validation import IsoDateTime, problems_from_pydantic

__all__ = [
    "CASE_NUMBER_PATTERN",
    "CONCLUDING_STATUSES",
    "DEFAULT_STATUS_CODES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Applicant",
    "Case",
    "CaseLifecycle",
    "CaseStatus",
    "CaseStatusEvent",
    "CaseTransitionError",
    "Channel",
    "ClockEffect",
    "LegalPerson",
    "NaturalPerson",
    "StatusCodeTable",
    "StatusInfo",
    "case_event_key",
    "check_transition",
    "make_case_number",
    "parse_case",
    "parse_case_event",
    "status_info",
    "transition_rule",
]


# --- vocabulary ---------------------------------------------------------------------------


class CaseStatus(StrEnum):
    """The canonical case statuses (domain reference §5; default numeric codes in comments)."""

    RECEIVED = "received"  # 1 已接件
    WITHDRAWN_BEFORE_ACCEPTANCE = "withdrawn_before_acceptance"  # 2 已撤件
    ACCEPTED = "accepted"  # 3 已受理 (the clock starts)
    NOT_ACCEPTED = "not_accepted"  # 4 不受理
    REFUSED = "refused"  # 5 不予受理
    SUPPLEMENT_START = "supplement_start"  # 6 补正开始 (clock paused)
    SUPPLEMENT_END = "supplement_end"  # 7 补正结束 (clock resumes)
    PROCESSING = "processing"  # 8 部门开始办理
    SPECIAL_PROCEDURE_START = "special_procedure_start"  # 9 特别程序开始 (clock paused)
    SPECIAL_PROCEDURE_END = "special_procedure_end"  # 10 特别程序结束 (clock resumes)
    APPROVED = "approved"  # 11 办结（通过）
    APPROVED_WITH_TOLERATED_GAPS = "approved_with_tolerated_gaps"  # 12 办结（容缺通过）
    DENIED = "denied"  # 13 办结（不通过）
    WITHDRAWN = "withdrawn"  # 14 撤回
    REVOKED = "revoked"  # 15 撤销


class ClockEffect(StrEnum):
    """What a status does to the time-limit clock."""

    NONE = "none"  # before acceptance: no clock yet
    START = "start"  # acceptance: counting starts (the acceptance day itself is not counted)
    RUNNING = "running"  # the clock keeps running
    PAUSE = "pause"  # 补正 / 特别程序 start: the clock stops
    RESUME = "resume"  # 补正 / 特别程序 end: the clock runs again
    STOP = "stop"  # terminal: the case is over


class Channel(StrEnum):
    """How the application reached the hall."""

    WINDOW = "window"  # 窗口
    ONLINE = "online"  # 网上 (online service hall)
    MOBILE = "mobile"  # 移动端 (mobile app / mini program)


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Facts about one status: default code, Chinese label, terminal, clock effect."""

    status: CaseStatus
    code: int
    label: str
    terminal: bool
    clock: ClockEffect


_S = CaseStatus
_STATUS_INFO: Final[Mapping[CaseStatus, StatusInfo]] = {
    info.status: info
    for info in (
        StatusInfo(_S.RECEIVED, 1, "已接件", False, ClockEffect.NONE),
        StatusInfo(_S.WITHDRAWN_BEFORE_ACCEPTANCE, 2, "已撤件", True, ClockEffect.STOP),
        StatusInfo(_S.ACCEPTED, 3, "已受理", False, ClockEffect.START),
        StatusInfo(_S.NOT_ACCEPTED, 4, "不受理", True, ClockEffect.STOP),
        StatusInfo(_S.REFUSED, 5, "不予受理", True, ClockEffect.STOP),
        StatusInfo(_S.SUPPLEMENT_START, 6, "补正开始", False, ClockEffect.PAUSE),
        StatusInfo(_S.SUPPLEMENT_END, 7, "补正结束", False, ClockEffect.RESUME),
        StatusInfo(_S.PROCESSING, 8, "部门开始办理", False, ClockEffect.RUNNING),
        StatusInfo(_S.SPECIAL_PROCEDURE_START, 9, "特别程序开始", False, ClockEffect.PAUSE),
        StatusInfo(_S.SPECIAL_PROCEDURE_END, 10, "特别程序结束", False, ClockEffect.RESUME),
        StatusInfo(_S.APPROVED, 11, "办结（通过）", True, ClockEffect.STOP),
        StatusInfo(_S.APPROVED_WITH_TOLERATED_GAPS, 12, "办结（容缺通过）", True, ClockEffect.STOP),
        StatusInfo(_S.DENIED, 13, "办结（不通过）", True, ClockEffect.STOP),
        StatusInfo(_S.WITHDRAWN, 14, "撤回", True, ClockEffect.STOP),
        StatusInfo(_S.REVOKED, 15, "撤销", True, ClockEffect.STOP),
    )
}

#: The default numeric codes (housing ministry standard v3.0). Adapters remap with
#: :class:`StatusCodeTable`.
DEFAULT_STATUS_CODES: Final[Mapping[CaseStatus, int]] = {
    s: info.code for s, info in _STATUS_INFO.items()
}

#: Statuses that conclude a case with a decision (办结): the ones efficiency figures count.
CONCLUDING_STATUSES: Final = frozenset({_S.APPROVED, _S.APPROVED_WITH_TOLERATED_GAPS, _S.DENIED})
#: Terminal statuses: nothing may follow.
TERMINAL_STATUSES: Final = frozenset(s for s, i in _STATUS_INFO.items() if i.terminal)


def status_info(status: CaseStatus | str) -> StatusInfo:
    """The facts about ``status`` (code, label, terminal, clock effect).

    Raises:
        ValidationError: ``status`` is not a :class:`CaseStatus` value (rule ``choice``).
    """
    return _STATUS_INFO[status if status.__class__ is CaseStatus else _as_status(status)]


class StatusCodeTable:
    """A two-way map between :class:`CaseStatus` and a platform's numeric codes.

    ``StatusCodeTable()`` is the default table; ``StatusCodeTable({CaseStatus.APPROVED: 90,
    ...})`` overrides some codes (the rest keep their defaults).

    Raises:
        ValueError: two statuses would share a code.
    """

    def __init__(self, overrides: Mapping[CaseStatus, int] | None = None) -> None:
        codes = {**DEFAULT_STATUS_CODES, **(overrides or {})}
        by_code: dict[int, CaseStatus] = {}
        for status, code in codes.items():
            if code in by_code:
                raise ValueError(f"code {code} used for both {by_code[code]} and {status}")
            by_code[code] = status
        self._codes: dict[CaseStatus, int] = dict(codes)
        self._statuses = by_code

    def code(self, status: CaseStatus) -> int:
        """The platform code for ``status``."""
        return self._codes[status]

    def status(self, code: int, *, field: str = "status") -> CaseStatus:
        """The status a platform code means.

        Raises:
            ValidationError: rule ``unknown_status_code``.
        """
        try:
            return self._statuses[code]
        except (KeyError, TypeError):
            raise ValidationError(
                f"{code!r} is not a status code of this platform",
                field=field,
                rule="unknown_status_code",
            ) from None

    def as_dict(self) -> dict[str, int]:
        """``{status value: code}``, e.g. for documentation or a JSON export."""
        return {s.value: c for s, c in self._codes.items()}


# --- transition table ---------------------------------------------------------------------

_RESUMED_OR_RUNNING: Final = frozenset(
    {
        _S.PROCESSING,
        _S.SUPPLEMENT_START,
        _S.SPECIAL_PROCEDURE_START,
        _S.APPROVED,
        _S.APPROVED_WITH_TOLERATED_GAPS,
        _S.DENIED,
        _S.WITHDRAWN,
        _S.REVOKED,
    }
)

#: Allowed successors of each last status (``None``: the case has no event yet).
TRANSITIONS: Final[Mapping[CaseStatus | None, frozenset[CaseStatus]]] = {
    None: frozenset({_S.RECEIVED}),
    _S.RECEIVED: frozenset(
        {_S.ACCEPTED, _S.NOT_ACCEPTED, _S.REFUSED, _S.WITHDRAWN_BEFORE_ACCEPTANCE}
    ),
    _S.ACCEPTED: _RESUMED_OR_RUNNING,
    _S.PROCESSING: _RESUMED_OR_RUNNING,
    _S.SUPPLEMENT_END: _RESUMED_OR_RUNNING,
    _S.SPECIAL_PROCEDURE_END: _RESUMED_OR_RUNNING,
    _S.SUPPLEMENT_START: frozenset({_S.SUPPLEMENT_END, _S.WITHDRAWN, _S.REVOKED}),
    _S.SPECIAL_PROCEDURE_START: frozenset({_S.SPECIAL_PROCEDURE_END, _S.WITHDRAWN, _S.REVOKED}),
    **{s: frozenset() for s in TERMINAL_STATUSES},
}

_ACCEPTANCE_STAGE: Final = frozenset(
    {_S.ACCEPTED, _S.NOT_ACCEPTED, _S.REFUSED, _S.WITHDRAWN_BEFORE_ACCEPTANCE}
)
_PAUSE_STARTS: Final = frozenset({_S.SUPPLEMENT_START, _S.SPECIAL_PROCEDURE_START})
_PAUSE_ENDS: Final = frozenset({_S.SUPPLEMENT_END, _S.SPECIAL_PROCEDURE_END})


def transition_rule(previous: CaseStatus | None, status: CaseStatus) -> str | None:
    """The rule that refuses ``previous → status``, or ``None`` when the move is allowed.

    ``previous`` is the case's last status (``None`` before its first event).
    """
    if status in TRANSITIONS[previous]:
        return None
    if previous is None:
        return "before_receipt"
    if previous in TERMINAL_STATUSES:
        return "after_terminal"
    if status is _S.RECEIVED:
        return "duplicate_receipt"
    if previous is _S.RECEIVED:
        return "processing_before_acceptance" if status is _S.PROCESSING else "before_acceptance"
    if status in _ACCEPTANCE_STAGE:
        return "already_accepted"
    if status in _PAUSE_ENDS:
        return "pause_end_without_start"
    if previous in _PAUSE_STARTS:
        return "nested_pause" if status in _PAUSE_STARTS else "while_paused"
    raise AssertionError(f"transition table has no rule for {previous} -> {status}")


# Precomputed: (previous, status) -> rule or None, so the hot path is one dict lookup.
_RULES: Final[dict[tuple[CaseStatus | None, CaseStatus], str | None]] = {
    (p, s): transition_rule(p, s) for p in TRANSITIONS for s in CaseStatus
}

_RULE_TEXT: Final[Mapping[str, str]] = {
    "before_receipt": "a case must start with received (已接件)",
    "after_terminal": "the case is already closed",
    "duplicate_receipt": "the case was already received",
    "processing_before_acceptance": "processing cannot start before acceptance (受理)",
    "before_acceptance": "the case has not been accepted (受理) yet",
    "already_accepted": "the case was already accepted",
    "pause_end_without_start": "a pause can only end after its own start",
    "nested_pause": "pauses do not nest: end the running pause first",
    "while_paused": "the clock is paused: end the pause (or withdraw/revoke) first",
    "sequence_gap": "events are missing before this one",
    "sequence_repeat": "this sequence number was already used",
}


class CaseTransitionError(TransitionError):
    """A status event the case's state machine refuses (code ``illegal_case_transition``).

    A :class:`govlink.TransitionError` (catch that for any refused transition); attributes
    name the refused move: ``case_number``, ``from_status`` (``None`` before the first event),
    ``to_status``, ``sequence``, ``expected_sequence`` and the ``rule``.
    """

    code = "illegal_case_transition"

    def __init__(
        self,
        *,
        case_number: str,
        from_status: CaseStatus | None,
        to_status: CaseStatus,
        rule: str,
        sequence: int,
        expected_sequence: int,
    ) -> None:
        self.case_number = case_number
        self.from_status = from_status
        self.to_status = to_status
        self.sequence = sequence
        self.expected_sequence = expected_sequence
        field = "sequence" if rule.startswith("sequence_") else "status"
        detail = _RULE_TEXT.get(rule, rule)
        if field == "sequence":
            detail += f" (got {sequence}, expected {expected_sequence})"
        message = (
            f"case {case_number}: {from_status.value if from_status else '(none)'} -> "
            f"{to_status.value} refused: {detail}"
        )
        super().__init__(problems=[FieldProblem(field, rule, message)])

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            case_number=self.case_number,
            from_status=self.from_status.value if self.from_status else None,
            to_status=self.to_status.value,
            sequence=self.sequence,
            expected_sequence=self.expected_sequence,
        )
        return data


def check_transition(
    case_number: str,
    previous: CaseStatus | None,
    previous_sequence: int,
    status: CaseStatus,
    sequence: int,
) -> None:
    """Raise unless ``status`` with ``sequence`` may follow ``previous``/``previous_sequence``.

    ``previous_sequence`` is 0 before the first event. Sequence rules are checked first: a
    repeated or missing event says more than the status it carries.

    Raises:
        CaseTransitionError: rules ``sequence_repeat``, ``sequence_gap`` or a status rule of
            :func:`transition_rule`.
        ValidationError: ``sequence`` is not an ``int`` or ``case_number`` not a string
            (rule ``type``).
    """
    _check_types(case_number, sequence)
    rule: str | None
    if sequence != previous_sequence + 1:
        rule = "sequence_repeat" if sequence <= previous_sequence else "sequence_gap"
    else:
        rule = _RULES[previous, status]
    if rule is not None:
        raise CaseTransitionError(
            case_number=case_number,
            from_status=previous,
            to_status=status,
            rule=rule,
            sequence=sequence,
            expected_sequence=previous_sequence + 1,
        )


def _check_types(case_number: object, sequence: object) -> None:
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise ValidationError("must be an integer", field="sequence", rule="type")
    if not isinstance(case_number, str):
        raise ValidationError("must be a string", field="case_number", rule="type")


def _as_status(value: object) -> CaseStatus:
    # Callers with raw data may pass "approved" instead of CaseStatus.APPROVED.
    try:
        return CaseStatus(str(value))
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a case status", field="status", rule="choice"
        ) from None


class CaseLifecycle:
    """The state machine over many cases: last status and sequence per case number.

    Pure and cheap (a dict lookup and a tuple per event; no model validation), so the mock
    province and the sync engine run it over a year of events. A refused event leaves the
    state unchanged. Not thread-safe: give each thread its own or lock around it.
    """

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state: dict[str, tuple[CaseStatus, int]] = {}

    def advance(self, case_number: str, sequence: int, status: CaseStatus) -> None:
        """Record the next event of ``case_number``.

        Raises:
            CaseTransitionError: the event breaks a rule (see :func:`check_transition`).
            ValidationError: ``status`` is not a :class:`CaseStatus` value (rule ``choice``),
                ``sequence`` not an ``int`` or ``case_number`` not a string (rule ``type``).
        """
        if status.__class__ is not CaseStatus:
            status = _as_status(status)
        # Exact class checks: cheap on the hot path, and True is not sequence 1.
        if sequence.__class__ is not int or case_number.__class__ is not str:
            _check_types(case_number, sequence)
        previous = self._state.get(case_number)
        if previous is None:
            if sequence == 1 and status is _S.RECEIVED:
                self._state[case_number] = (status, 1)
                return
            check_transition(case_number, None, 0, status, sequence)
        else:
            last, last_sequence = previous
            if sequence == last_sequence + 1 and _RULES[last, status] is None:
                self._state[case_number] = (status, sequence)
                return
            check_transition(case_number, last, last_sequence, status, sequence)
        raise AssertionError("check_transition accepted a refused event")  # pragma: no cover

    def apply(self, event: CaseStatusEvent) -> None:
        """:meth:`advance` with a parsed event.

        Raises:
            CaseTransitionError: see :meth:`advance`.
        """
        self.advance(event.case_number, event.sequence, event.status)

    def apply_all(self, events: Iterable[CaseStatusEvent]) -> int:
        """Apply events in order; returns how many were applied.

        Raises:
            CaseTransitionError: at the first refused event (earlier ones stay applied).
        """
        count = 0
        advance = self.advance
        for event in events:
            advance(event.case_number, event.sequence, event.status)
            count += 1
        return count

    def status(self, case_number: str) -> CaseStatus | None:
        """The case's last accepted status (``None`` when unseen)."""
        state = self._state.get(case_number)
        return state[0] if state else None

    def sequence(self, case_number: str) -> int:
        """The case's last accepted sequence (0 when unseen)."""
        state = self._state.get(case_number)
        return state[1] if state else 0

    def is_closed(self, case_number: str) -> bool:
        """Whether the case has reached a terminal status."""
        state = self._state.get(case_number)
        return state is not None and state[0] in TERMINAL_STATUSES

    def forget(self, case_number: str) -> None:
        """Drop a case's state (e.g. once closed and archived) to bound memory."""
        self._state.pop(case_number, None)

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, case_number: object) -> bool:
        return case_number in self._state

    def __repr__(self) -> str:
        return f"CaseLifecycle({len(self._state)} cases)"


# --- case numbers -------------------------------------------------------------------------

#: Case numbers have no national format; this is the charset/length every govlink part accepts.
CASE_NUMBER_PATTERN: Final = r"^[0-9A-Za-z][0-9A-Za-z_\-]{0,63}$"
_CASE_NUMBER_RE: Final = re.compile(CASE_NUMBER_PATTERN)
_IMPLEMENTATION_CODE_RE: Final = re.compile(r"[0-9A-Z]{1,36}", re.ASCII)


def make_case_number(implementation_code: str, day: date, sequence: int) -> str:
    """The observed case-number form: implementation code + ``yyyyMMdd`` + 4-digit sequence.

    ``make_case_number("11370500MB2850215X3370500011000", date(2026, 3, 2), 17)`` →
    ``"11370500MB2850215X33705000110002026030200017"``... with the sequence zero-padded to 4.

    Raises:
        ValidationError: the code is not 1–36 digits/capitals (field ``implementation_code``,
            rule ``pattern``), or ``sequence`` is not 1–9999 (field ``sequence``, rule
            ``range``).
    """
    if not isinstance(implementation_code, str) or not _IMPLEMENTATION_CODE_RE.fullmatch(
        implementation_code
    ):
        raise ValidationError(
            "must be 1-36 digits or capital letters", field="implementation_code", rule="pattern"
        )
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 1 <= sequence <= 9999:
        raise ValidationError(
            "the daily case sequence is 4 digits (1-9999)", field="sequence", rule="range"
        )
    return f"{implementation_code}{day:%Y%m%d}{sequence:04d}"


def case_event_key(hall: str, case_number: str, sequence: int) -> str:
    """The deterministic idempotency key of a case status event.

    ``"{hall}:case:{case_number}:{sequence}"``: unique per event (the sequence is per case and
    case numbers are unique within a hall), identical on every retry or re-enqueue.
    """
    return f"{hall}:case:{case_number}:{sequence}"


# --- field validators ---------------------------------------------------------------------


@cache
def _hall_codes(registry: RegionRegistry) -> Mapping[str, str]:
    """code (6/12 digits, aliases too) → canonical hall code, for the fast path."""
    halls: dict[str, str] = {}
    for region in registry:
        if region.hall:
            halls[region.code] = region.code
            halls[region.code12] = region.code
    for alias, target in registry.aliases.items():
        if target in halls:
            halls[alias] = target
            halls[alias + "000000"] = target
    return halls


def _check_hall(value: str, info: ValidationInfo) -> str:
    context = info.context
    registry: RegionRegistry | None = (
        context.get("regions") if isinstance(context, Mapping) else None
    )
    if registry is None:
        registry = default_regions()
    found = _hall_codes(registry).get(value)
    if found is not None:
        return found
    # Slow path only for bad input: say exactly what is wrong with it.
    try:
        code = normalise_region_code(value, field="hall")
        region = registry.get(code, field="hall")
    except ValidationError as exc:
        raise PydanticCustomError(exc.problems[0].rule, exc.problems[0].message) from None
    raise PydanticCustomError("not_a_hall", f"region {region.code} hosts no hall")


# A plain pattern (checked in pydantic-core, no Python call): case numbers are on the hot path
# of enqueueing a year of events.
CaseNumber = Annotated[
    str,
    Field(strict=True, pattern=CASE_NUMBER_PATTERN, description="Case number (办件编号)"),
]
# Pattern first (pydantic-core, and it shows in the JSON Schema), then the registry check.
HallCode = Annotated[
    str,
    Field(
        strict=True,
        pattern=r"^[0-9]{6}(000000)?$",
        description="GB/T 2260 code of the hall (6 or 12 digits; aliases resolved)",
    ),
    AfterValidator(_check_hall),
]
ImplementationCode = Annotated[
    str,
    Field(strict=True, pattern=r"^[0-9A-Z]{1,36}$", description="Implementation code (实施编码)"),
]
_Text = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
_Phone = Annotated[str, Field(strict=True, pattern=r"^\+?[0-9][0-9\- ]{4,19}$")]

_MODEL_CONFIG: Final = ConfigDict(
    frozen=True,
    extra="forbid",
    str_strip_whitespace=True,
    use_enum_values=False,
    use_attribute_docstrings=True,  # field docstrings become JSON Schema descriptions
)


# --- applicants ---------------------------------------------------------------------------


class NaturalPerson(BaseModel):
    """An applicant who is a natural person (个人): name, resident ID number, optional phone.

    ``repr`` masks the name, ID number and phone (personal data).
    """

    model_config = _MODEL_CONFIG

    kind: Literal["natural_person"] = "natural_person"
    name: _Text
    """Name (姓名)."""
    id_number: ResidentId
    """Resident ID number (居民身份证号码)."""
    phone: _Phone | None = None
    """Phone number (联系电话)."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        yield "kind", self.kind
        yield "name", mask_personal(self.name, keep_start=1, keep_end=0)
        yield "id_number", self.id_number.masked
        yield "phone", mask_personal(self.phone, keep_start=3) if self.phone else None


class LegalPerson(BaseModel):
    """An applicant that is a legal person (法人): name, credit code, and the agent (经办人).

    The organisation name is public; the credit code and the agent are masked in ``repr``.
    """

    model_config = _MODEL_CONFIG

    kind: Literal["legal_person"] = "legal_person"
    name: _Text
    """Organisation name (单位名称)."""
    credit_code: CreditCode
    """Unified social credit code (统一社会信用代码)."""
    agent: NaturalPerson
    """The natural person acting for the organisation (经办人)."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        yield "kind", self.kind
        yield "name", self.name
        yield "credit_code", self.credit_code.masked
        yield "agent", self.agent


#: An applicant: a natural or a legal person, told apart by ``kind``.
Applicant = Annotated[NaturalPerson | LegalPerson, Field(discriminator="kind")]


# --- case and event -----------------------------------------------------------------------


class Case(BaseModel):
    """A case (办件): one application for one catalog item at one hall.

    ``hall`` must be a hall of the region registry (the default registry, or
    ``context={"regions": registry}`` when validating); aliases (370521) and the 12-digit form
    are stored as the canonical 6-digit code.
    """

    model_config = _MODEL_CONFIG

    case_number: CaseNumber
    """Case number (办件编号); no national format, see make_case_number."""
    implementation_code: ImplementationCode
    """Implementation code (实施编码) of the catalog item."""
    hall: HallCode
    """The receiving hall (受理大厅) as a GB/T 2260 region code."""
    applicant: Applicant
    """The applicant (申请人): a natural or a legal person."""
    channel: Channel
    """How the application arrived (申请渠道)."""
    received_at: IsoDateTime
    """Time of receipt (接件时间), timezone-aware."""


class CaseStatusEvent(BaseModel):
    """One status record of a case (办件状态信息), in per-case ``sequence`` order.

    ``special_procedure`` is required for ``special_procedure_start`` and refused for every other
    status. ``time`` must be timezone-aware. ``handler`` (a staff member's name) is masked in
    ``repr``. :attr:`idempotency_key` identifies the event across retries.
    """

    model_config = _MODEL_CONFIG

    case_number: CaseNumber
    """Case number (办件编号)."""
    sequence: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    """Per-case sequence number: 1, 2, 3 ... without gaps."""
    status: CaseStatus
    """Status (办理状态)."""
    time: IsoDateTime
    """Time of the status change (办理时间), timezone-aware."""
    hall: HallCode
    """The hall (行政区划代码) the case belongs to."""
    handler: _Text | None = None
    """Handler (办理人), a staff member's name."""
    office: _Text | None = None
    """Handling office (办理处室)."""
    opinion: Annotated[str, Field(strict=True, max_length=2000)] | None = None
    """Opinion (办理意见)."""
    special_procedure: SpecialProcedureKind | None = None
    """Special procedure kind (特别程序种类, Licensing Law §45), with special_procedure_start."""
    organisation_name: _Text | None = None
    """Name of the handling organisation (办理机构名称)."""
    organisation_credit_code: CreditCode | None = None
    """Credit code of the handling organisation (统一社会信用代码)."""

    @model_validator(mode="after")
    def _special_procedure_only_where_relevant(self) -> CaseStatusEvent:
        starting = self.status is CaseStatus.SPECIAL_PROCEDURE_START
        if starting and self.special_procedure is None:
            raise PydanticCustomError(
                "special_procedure_required",
                "special_procedure_start needs the procedure's kind (special_procedure)",
            )
        if not starting and self.special_procedure is not None:
            raise PydanticCustomError(
                "special_procedure_not_allowed",
                "special_procedure is only given with special_procedure_start",
            )
        return self

    @property
    def idempotency_key(self) -> str:
        """``"{hall}:case:{case_number}:{sequence}"`` (see :func:`case_event_key`)."""
        return case_event_key(self.hall, self.case_number, self.sequence)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "handler" and isinstance(value, str):
                value = mask_personal(value, keep_start=1, keep_end=0)
            elif name == "organisation_credit_code" and isinstance(value, CreditCode):
                value = value.masked
            yield name, value


# --- parsing ------------------------------------------------------------------------------

# The tags pydantic inserts into the path of a discriminated union (applicant.legal_person.x).
_UNION_TAGS: Final = (".natural_person", ".legal_person")

_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], data: object, context: Mapping[str, Any] | None) -> _M:
    # govlink.domain.parse_model's conversion (same rule names everywhere), plus a validation
    # context so a hall can be checked against a registry other than the bundled one.
    try:
        return model.model_validate(data, context=context)
    except PydanticValidationError as exc:
        problems = []
        for problem in problems_from_pydantic(exc):
            field = problem.field
            for tag in _UNION_TAGS:
                field = field.replace(tag, "")
            problems.append(FieldProblem(field, problem.rule, problem.message))
        identifier = all((err.get("ctx") or {}).get("kind") == "identifier" for err in exc.errors())
        raise (IdentifierError if identifier else ValidationError)(problems=problems) from None
    except RecursionError:
        raise ValidationError("input is nested too deeply", field="(root)", rule="depth") from None


def parse_case_event(data: object, *, regions: RegionRegistry | None = None) -> CaseStatusEvent:
    """Validate a status event from decoded JSON (a dict) into a :class:`CaseStatusEvent`.

    Raises:
        ValidationError: one :class:`govlink.FieldProblem` per broken rule, naming the field
            (``time``, ``special_procedure``...) and the rule (``timezone_aware``,
            ``special_procedure_required``...; names as :func:`govlink.domain.parse_model`).
            :class:`govlink.IdentifierError` when only identifiers are wrong.
    """
    return _parse(CaseStatusEvent, data, {"regions": regions} if regions else None)


def parse_case(data: object, *, regions: RegionRegistry | None = None) -> Case:
    """Validate a case from decoded JSON (a dict) into a :class:`Case`.

    Raises:
        ValidationError: as :func:`parse_case_event` (fields such as ``applicant.id_number``).
    """
    return _parse(Case, data, {"regions": regions} if regions else None)
