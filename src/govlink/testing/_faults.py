"""Fault plans for the mock province: seeded, reproducible, scheduled on the clock or by count.

A plan is a list of :class:`FaultRule` plus a seed. It is written as a spec string (the
``--faults`` option) or as JSON (``POST /admin/faults``)::

    outage:at=10s,for=4h,retry_after=60;error500:rate=0.05;latency:ms=50

Grammar: rules separated by ``;``; a rule is ``kind`` or ``kind:param=value,param=value``.
Durations are a number with an optional unit ``ms``, ``s`` (default), ``m``, ``h``, ``d``.

=================  ==========================================================================
kind               effect (parameters besides the common ones below)
=================  ==========================================================================
``outage``         the platform is down: ``mode=503`` (default; ``retry_after=N`` adds a
                   Retry-After header, without it none is sent), ``mode=refused`` (the
                   connection is refused), ``mode=reset`` (the connection is reset). Nothing is
                   applied. Give a window (``at``/``for`` or ``after``/``count``), else it is
                   down for good.
``error500``       HTTP 500 before anything is applied
``latency``        the response is delayed by ``ms=N`` milliseconds (on the mock's clock)
``dribble``        the response body is sent slowly, ``bytes_per_s=N`` (default 1024)
``malformed_json`` the request is applied, then the body is cut in half (invalid JSON, 200)
``lost_response``  the request is applied, then the connection is dropped: no response
``reset``          the connection is reset before anything is applied; ``every=N`` resets
                   every N-th request (else ``rate``)
``partial``        each element of a batch independently fails with the retryable element
                   status ``unavailable`` (``retry_after=N``, default 1) and is not applied
=================  ==========================================================================

Common parameters: ``rate=P`` (probability per request, per element for ``partial``; default
1), ``at=D`` / ``for=D`` (a window on the mock's clock, measured from when the plan was set),
``after=N`` / ``count=N`` (a window by request number: requests N+1 … N+count, counting
platform requests only, not admin calls), ``path=PREFIX`` (only requests whose path starts with
it).

Determinism: every rule draws from one ``random.Random(seed)`` in a fixed order for every
platform request (whether or not an earlier rule fired), so the same plan, seed and client give
the same faults at the same requests.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from .._errors import FieldProblem, ValidationError

__all__ = ["Decision", "FaultKind", "FaultPlan", "FaultRule", "OutageMode", "parse_duration"]


class FaultKind(StrEnum):
    """The kinds of fault a plan can inject (see the module docstring)."""

    OUTAGE = "outage"
    ERROR500 = "error500"
    LATENCY = "latency"
    DRIBBLE = "dribble"
    MALFORMED_JSON = "malformed_json"
    LOST_RESPONSE = "lost_response"
    RESET = "reset"
    PARTIAL = "partial"


class OutageMode(StrEnum):
    """How an outage shows itself to the client."""

    UNAVAILABLE = "503"
    REFUSED = "refused"
    RESET = "reset"


_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float, *, field: str = "duration") -> float:
    """Seconds from ``"500ms"``, ``"10s"``, ``"5m"``, ``"4h"``, ``"1d"`` or a plain number.

    Raises:
        ValidationError: rule ``duration``.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValidationError("must not be negative", field=field, rule="duration")
        return float(text)
    match = _DURATION_RE.match(str(text))
    if match is None:
        raise ValidationError(
            f"{text!r} is not a duration (e.g. 500ms, 10s, 5m, 4h, 1d)",
            field=field,
            rule="duration",
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


class FaultRule(BaseModel):
    """One rule of a plan (the JSON form; the spec string maps onto the same fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    at: float | None = Field(default=None, ge=0.0, description="window start, seconds")
    for_: float | None = Field(default=None, alias="for", gt=0.0, description="window length")
    after: int | None = Field(default=None, ge=0, description="window start, request count")
    count: int | None = Field(default=None, gt=0, description="window length, requests")
    every: int | None = Field(default=None, gt=0, description="reset: every N-th request")
    ms: float = Field(default=0.0, ge=0.0, description="latency: delay in milliseconds")
    bytes_per_s: int = Field(default=1024, gt=0, description="dribble: body speed")
    retry_after: int | None = Field(default=None, ge=0, description="outage/partial")
    mode: OutageMode = OutageMode.UNAVAILABLE
    path: str | None = Field(default=None, description="only paths starting with this")

    @model_validator(mode="after")
    def _windows_are_whole(self) -> FaultRule:
        if self.for_ is not None and self.at is None:
            object.__setattr__(self, "at", 0.0)
        if self.count is not None and self.after is None:
            object.__setattr__(self, "after", 0)
        return self

    def in_window(self, request_number: int, elapsed: float) -> bool:
        """Whether request ``request_number`` (1-based) at ``elapsed`` seconds is covered."""
        if self.at is not None:
            if elapsed < self.at:
                return False
            if self.for_ is not None and elapsed >= self.at + self.for_:
                return False
        if self.after is not None:
            if request_number <= self.after:
                return False
            if self.count is not None and request_number > self.after + self.count:
                return False
        return True

    def to_spec(self) -> str:
        """This rule in the spec-string form."""
        params: list[str] = []
        data = self.model_dump(by_alias=True, exclude_defaults=True, exclude={"kind"})
        if self.at == 0.0 and self.for_ is not None:
            data.pop("at", None)
        if self.after == 0 and self.count is not None:
            data.pop("after", None)
        for name, value in data.items():
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            params.append(f"{name}={value.value if isinstance(value, StrEnum) else value}")
        return f"{self.kind.value}:{','.join(params)}" if params else self.kind.value


_DURATION_PARAMS: Final = {"at", "for"}
_SPEC_PARAMS: Final = {
    "rate", "at", "for", "after", "count", "every", "ms", "bytes_per_s", "retry_after",
    "mode", "path",
}  # fmt: skip


@dataclass(slots=True)
class Decision:
    """What the faults do to one platform request (the faces carry it out)."""

    #: ``None`` or one of ``"503"``, ``"refused"``, ``"reset"``, ``"error500"``: answered
    #: (or dropped) before anything is applied.
    abort: str | None = None
    retry_after: int | None = None
    #: Seconds to wait before answering.
    latency: float = 0.0
    #: ``None`` or ``"lost_response"`` / ``"malformed_json"``: applied, then broken.
    after_apply: str | None = None
    dribble_bytes_per_s: int | None = None
    #: Probability that each batch element fails with ``unavailable``.
    partial_rate: float = 0.0
    partial_retry_after: int = 1
    #: The fault kinds that fired, for the journal (``""`` when none).
    labels: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "+".join(self.labels)


class FaultPlan:
    """An ordered list of rules and a seed; :meth:`decide` is called once per request.

    Not thread-safe on its own: the mock province calls it under its lock.

    Raises:
        ValidationError: (``parse``/``from_json``) a rule that cannot be read, naming the rule's
            position and parameter (``faults[1].rate``) and the broken rule.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int = 0) -> None:
        self.rules: tuple[FaultRule, ...] = tuple(rules)
        self.seed = seed
        self.random = random.Random(seed)  # noqa: S311 - reproducible test faults, not secrets

    def __repr__(self) -> str:
        return f"FaultPlan({self.to_spec()!r}, seed={self.seed})"

    def __bool__(self) -> bool:
        return bool(self.rules)

    def reseed(self) -> None:
        """Start the random sequence again (what ``POST /admin/reset`` does)."""
        self.random = random.Random(self.seed)  # noqa: S311 - reproducible test faults

    # --- reading --------------------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str | None, *, seed: int = 0) -> FaultPlan:
        """Read a spec string (``""``/``None``/``"none"``: no faults)."""
        if spec is None or not spec.strip() or spec.strip().lower() == "none":
            return cls((), seed=seed)
        rules: list[dict[str, Any]] = []
        problems: list[FieldProblem] = []
        for position, chunk in enumerate(part for part in spec.split(";") if part.strip()):
            kind, _, params = chunk.strip().partition(":")
            rule: dict[str, Any] = {"kind": kind.strip()}
            for pair in (p for p in params.split(",") if p.strip()):
                name, sep, value = pair.partition("=")
                name = name.strip()
                where = f"faults[{position}].{name}"
                if not sep or name not in _SPEC_PARAMS:
                    problems.append(
                        FieldProblem(
                            where,
                            "unknown_parameter",
                            f"{pair.strip()!r} is not one of {', '.join(sorted(_SPEC_PARAMS))}",
                        )
                    )
                    continue
                if name in _DURATION_PARAMS:
                    try:
                        rule[name] = parse_duration(value, field=where)
                    except ValidationError as exc:
                        problems.extend(exc.problems)
                else:
                    rule[name] = value.strip()
            rules.append(rule)
        if problems:
            raise ValidationError(problems=problems)
        return cls.from_json({"rules": rules, "seed": seed})

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | Sequence[Any]) -> FaultPlan:
        """Read the JSON form ``{"seed": 7, "rules": [{"kind": "outage", ...}]}``.

        ``{"spec": "...", "seed": 7}`` and a bare list of rules are accepted too.
        """
        if isinstance(data, Sequence) and not isinstance(data, str):
            data = {"rules": list(data)}
        if not isinstance(data, Mapping):
            raise ValidationError("a fault plan is a JSON object", field="faults", rule="type")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValidationError("seed must be an integer", field="seed", rule="type")
        if "spec" in data:
            spec = data["spec"]
            if not isinstance(spec, str):
                raise ValidationError("spec must be a string", field="spec", rule="type")
            return cls.parse(spec, seed=seed)
        raw_rules = data.get("rules", data.get("faults", []))
        if not isinstance(raw_rules, list):
            raise ValidationError("rules must be a list", field="rules", rule="type")
        rules: list[FaultRule] = []
        problems: list[FieldProblem] = []
        for position, raw in enumerate(raw_rules):
            try:
                rules.append(FaultRule.model_validate(raw))
            except PydanticValidationError as exc:
                for error in exc.errors():
                    where = ".".join(str(p) for p in error["loc"])
                    problems.append(
                        FieldProblem(
                            f"faults[{position}]" + (f".{where}" if where else ""),
                            error["type"],
                            error["msg"],
                        )
                    )
        if problems:
            raise ValidationError(problems=problems)
        return cls(rules, seed=seed)

    def to_spec(self) -> str:
        """The plan as a spec string (``"none"`` when empty)."""
        return ";".join(rule.to_spec() for rule in self.rules) or "none"

    def to_json(self) -> dict[str, Any]:
        """The plan's JSON form."""
        return {
            "seed": self.seed,
            "spec": self.to_spec(),
            "rules": [
                r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in self.rules
            ],
        }

    # --- deciding -------------------------------------------------------------------------------

    def refusing(self, request_number: int, elapsed: float) -> bool:
        """Whether an ``outage:mode=refused`` window covers this moment (no draw)."""
        return any(
            rule.kind is FaultKind.OUTAGE
            and rule.mode is OutageMode.REFUSED
            and rule.rate >= 1.0
            and rule.in_window(request_number, elapsed)
            for rule in self.rules
        )

    def decide(self, request_number: int, elapsed: float, path: str) -> Decision:
        """The faults for request ``request_number`` (1-based) at ``elapsed`` seconds."""
        decision = Decision()
        draw = self.random.random
        for rule in self.rules:
            # One draw per rule per request, always, so later decisions do not depend on
            # whether earlier rules fired.
            roll = draw()
            if rule.kind is FaultKind.PARTIAL:
                if (rule.path is None or path.startswith(rule.path)) and rule.in_window(
                    request_number, elapsed
                ):
                    decision.partial_rate = max(decision.partial_rate, rule.rate)
                    decision.partial_retry_after = (
                        rule.retry_after if rule.retry_after is not None else 1
                    )
                continue
            if rule.path is not None and not path.startswith(rule.path):
                continue
            if not rule.in_window(request_number, elapsed):
                continue
            if rule.kind is FaultKind.RESET and rule.every is not None:
                fired = request_number % rule.every == 0
            else:
                fired = roll < rule.rate
            if not fired:
                continue
            self._apply(rule, decision)
        return decision

    @staticmethod
    def _apply(rule: FaultRule, decision: Decision) -> None:
        kind = rule.kind
        if kind is FaultKind.LATENCY:
            decision.latency += rule.ms / 1000.0
            decision.labels.append("latency")
        elif kind is FaultKind.DRIBBLE:
            decision.dribble_bytes_per_s = rule.bytes_per_s
            decision.labels.append("dribble")
        elif decision.abort is not None:
            return  # the request is already lost; nothing else can happen to it
        elif kind is FaultKind.OUTAGE:
            decision.abort = rule.mode.value
            decision.retry_after = rule.retry_after
            decision.labels.append(f"outage:{rule.mode.value}")
        elif kind is FaultKind.ERROR500:
            decision.abort = "error500"
            decision.labels.append("error500")
        elif kind is FaultKind.RESET:
            decision.abort = "reset"
            decision.labels.append("reset")
        elif decision.after_apply is None:
            # lost_response / malformed_json: the first one that fires wins
            decision.after_apply = kind.value
            decision.labels.append(kind.value)


def retry_after_seconds(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))
