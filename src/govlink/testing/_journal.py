"""The mock province's journal: every request, and assertions over what was applied.

Entries are compact (slotted records; per-element outcomes as one character each) so a run of
hundreds of thousands of events stays small. Request bodies are kept only when asked
(``capture_bodies``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ._platform import ElementStatus

__all__ = ["AppliedRecord", "Journal", "JournalAssertionError", "JournalEntry"]

#: One character per element outcome in :attr:`JournalEntry.outcomes`.
OUTCOME_CHARS: Final[dict[ElementStatus, str]] = {
    ElementStatus.APPLIED: "A",
    ElementStatus.DUPLICATE: "D",
    ElementStatus.REJECTED: "R",
    ElementStatus.OUT_OF_ORDER: "O",
    ElementStatus.ILLEGAL_TRANSITION: "I",
    ElementStatus.UNAVAILABLE: "U",
}
_CHAR_OUTCOMES: Final = {v: k for k, v in OUTCOME_CHARS.items()}


class AppliedRecord(Protocol):
    """What the platform applied, read under its lock (the province implements it)."""

    def applied_event_log(self) -> list[str]: ...

    def applied_event_slots(self) -> list[tuple[str, int]]: ...

    def catalog_hashes(self) -> dict[str, str]: ...


class JournalAssertionError(AssertionError):
    """A journal assertion failed; the message lists what differs (personal data masked)."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One platform request as the mock saw it.

    ``time`` is POSIX seconds on the mock's clock; ``fault`` names the faults that fired
    (``""``: none); ``outcomes`` holds one character per batch element (``A`` applied,
    ``D`` duplicate, ``R`` rejected, ``O`` out of order, ``I`` illegal transition,
    ``U`` unavailable); ``body`` is the raw request body when bodies are captured.
    """

    index: int
    time: float
    method: str
    path: str
    status: int
    fault: str
    client: str
    outcomes: str = ""
    body: bytes | None = None

    def outcome_list(self) -> list[ElementStatus]:
        """:attr:`outcomes` as element statuses."""
        return [_CHAR_OUTCOMES[c] for c in self.outcomes]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "fault": self.fault,
            "client": self.client,
            "outcomes": self.outcomes,
        }
        if self.body is not None:
            data["body"] = self.body.decode("utf-8", "replace")
        return data

    def key(self) -> tuple[Any, ...]:
        """Everything but the body: what determinism tests compare."""
        return (self.index, self.time, self.method, self.path, self.status, self.fault,
                self.client, self.outcomes)  # fmt: skip


def _event_identity(event: Any) -> tuple[str, str, int]:
    """(idempotency key, case number, sequence) of a CaseStatusEvent or its JSON form."""
    if isinstance(event, Mapping):
        case_number = str(event["case_number"])
        sequence = int(event["sequence"])
        key = event.get("idempotency_key") or f"{event['hall']}:case:{case_number}:{sequence}"
        return str(key), case_number, sequence
    return event.idempotency_key, event.case_number, int(event.sequence)


class Journal:
    """Requests in arrival order plus the assertion helpers over the mock's applied log.

    Obtain it from :attr:`MockProvince.journal`; read ``entries`` or iterate.
    """

    def __init__(self, applied: AppliedRecord, *, capture_bodies: bool = False) -> None:
        self._applied = applied
        self.capture_bodies = capture_bodies
        self.entries: list[JournalEntry] = []

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(list(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def to_list(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries with ``index >= since`` as JSON-ready dicts (at most ``limit``)."""
        picked = [e for e in self.entries if e.index >= since]
        if limit is not None:
            picked = picked[:limit]
        return [e.to_dict() for e in picked]

    def keys(self) -> list[tuple[Any, ...]]:
        """Every entry's :meth:`JournalEntry.key` (compare two runs for determinism)."""
        return [e.key() for e in self.entries]

    def faults(self) -> Counter[str]:
        """How often each fault label fired."""
        return Counter(e.fault for e in self.entries if e.fault)

    def outcome_counts(self) -> Counter[ElementStatus]:
        """Element outcomes over the whole journal."""
        counts: Counter[str] = Counter()
        for entry in self.entries:
            counts.update(entry.outcomes)
        return Counter({_CHAR_OUTCOMES[c]: n for c, n in counts.items()})

    # --- assertions -----------------------------------------------------------------------------

    def assert_each_event_applied_once_in_order(
        self, expected_events: Iterable[Any], *, exact: bool = True
    ) -> None:
        """Every expected event was applied exactly once, and each case's in sequence order.

        ``expected_events``: ``CaseStatusEvent`` objects or their JSON dicts. With ``exact``
        (default), events applied but not expected fail too.

        Raises:
            JournalAssertionError: listing missing, doubly applied, out-of-order and
                unexpected events (at most 10 of each).
        """
        applied_log = self._applied.applied_event_log()
        position: dict[str, int] = {}
        doubled: list[str] = []
        for index, key in enumerate(applied_log):
            if key in position:
                doubled.append(key)
            else:
                position[key] = index
        missing: list[str] = []
        disorder: list[str] = []
        expected_keys: set[str] = set()
        by_case: dict[str, list[tuple[int, str]]] = {}
        for event in expected_events:
            key, case_number, sequence = _event_identity(event)
            expected_keys.add(key)
            if key not in position:
                missing.append(key)
            else:
                by_case.setdefault(case_number, []).append((sequence, key))
        for case_number, seq_keys in by_case.items():
            seq_keys.sort()
            places = [position[k] for _, k in seq_keys]
            if places != sorted(places):
                disorder.append(f"{case_number} (sequences {[s for s, _ in seq_keys]})")
        unexpected = [k for k in position if k not in expected_keys] if exact else []
        _raise_problems(
            f"of {len(expected_keys)} expected events",
            (
                ("event(s) never applied", missing),
                ("event(s) applied more than once", doubled),
                ("event(s) applied out of per-case order", disorder),
                ("event(s) applied but not expected", unexpected),
            ),
        )

    def assert_no_duplicate_applied(self) -> None:
        """No idempotency key, and no (case, sequence), was applied twice.

        Raises:
            JournalAssertionError: naming the doubled keys (at most 10).
        """
        log = self._applied.applied_event_log()
        doubled = [k for k, n in Counter(log).items() if n > 1]
        slots = Counter(self._applied.applied_event_slots())
        doubled += [f"{c}#{s}" for (c, s), n in slots.items() if n > 1]
        if doubled:
            raise JournalAssertionError(
                f"{len(doubled)} event(s) applied more than once: " + ", ".join(doubled[:10])
            )

    def assert_catalog_equals(self, items: Iterable[Any]) -> None:
        """The platform's catalog holds exactly these items (same content hash per code).

        ``items``: ``Item`` objects or their JSON dicts.

        Raises:
            JournalAssertionError: listing missing, extra and different items.
        """
        from ..domain import Item, parse_item

        expected: dict[str, str] = {}
        for item in items:
            parsed = item if isinstance(item, Item) else parse_item(item, check=False)
            expected[parsed.implementation_code] = parsed.content_hash()
        actual = self._applied.catalog_hashes()
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        different = sorted(c for c in set(expected) & set(actual) if expected[c] != actual[c])
        _raise_problems(
            f"catalog differs from the {len(expected)} expected items",
            (("missing", missing), ("extra", extra), ("different", different)),
        )


def _raise_problems(summary: str, checks: Iterable[tuple[str, Sequence[str]]]) -> None:
    """Raise one error listing every failed check (count, label, at most 10 of what was found).

    Raises:
        JournalAssertionError: ``summary: <n> <label>: a, b, ...; ...`` when any check found
            something.
    """
    problems = []
    for label, found in checks:
        if found:
            shown = ", ".join(found[:10]) + (" ..." if len(found) > 10 else "")
            problems.append(f"{len(found)} {label}: {shown}")
    if problems:
        raise JournalAssertionError(f"{summary}: " + "; ".join(problems))
