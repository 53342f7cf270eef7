"""Per-element results: the vocabulary platforms answer in, and the decode loop every adapter
shares.

A batch request succeeds as a request even when some of its elements fail; each element says
what happened to it in a small vocabulary (:class:`ElementStatus`: applied, duplicate, rejected,
out of order, illegal transition, unavailable). :func:`decode_elements` turns the platform's
per-element answers into the core's :class:`~govlink.sync.adapter.ItemResult`, one per delivery
in delivery order, with the rules every adapter needs:

* an element the platform did not answer is ``RETRY`` (``no_result``): not acknowledged, so it is
  sent again and deduplicated by its idempotency key;
* once an entry of a lane (a case) is not acknowledged, an ``out_of_order`` answer for a later
  entry of the same lane in the same batch is a consequence, not poison: ``RETRY``;
* messages are masked (personal data never leaves the adapter).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ._adapter import Delivery, ItemResult, Outcome
from ._errors import PlatformUnreachable
from ._masking import mask_text

__all__ = ["ElementAnswer", "ElementStatus", "decode_elements", "element_result", "unreadable"]

_MAX_DETAIL: Final = 300


class ElementStatus(StrEnum):
    """What a platform did with one element of a batch (the words on the wire).

    ``applied`` stored now; ``duplicate`` already applied under the same key (acknowledged:
    the effect happened exactly once); ``rejected`` invalid (poison); ``out_of_order`` the
    sequence is not the next for its case; ``illegal_transition`` the case's state machine
    refuses the status change; ``unavailable`` a transient failure of this element only.
    """

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    OUT_OF_ORDER = "out_of_order"
    ILLEGAL_TRANSITION = "illegal_transition"
    UNAVAILABLE = "unavailable"

    @property
    def acknowledged(self) -> bool:
        """True when the element's effect is in place (``applied`` or ``duplicate``)."""
        return self in (ElementStatus.APPLIED, ElementStatus.DUPLICATE)

    @property
    def retryable(self) -> bool:
        """True when resending the same element later may succeed (``unavailable``)."""
        return self is ElementStatus.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class ElementAnswer:
    """The platform's answer for one element, read off the wire by an adapter.

    ``problems`` are ``(field, rule, message)`` triples; ``expected_sequence`` the sequence the
    platform waits for (``out_of_order``); ``current_status`` the case's status code
    (``illegal_transition``); ``retry_after`` seconds to wait (``unavailable``).
    """

    status: ElementStatus
    problems: Sequence[tuple[str, str, str]] = ()
    expected_sequence: int | None = None
    current_status: int | None = None
    retry_after: float | None = None

    @staticmethod
    def plain(status: ElementStatus) -> ElementAnswer:
        """A shared answer that carries nothing but ``status`` (the hot path: ``applied`` and
        ``duplicate`` answers, hundreds per batch, need no new object)."""
        return _PLAIN[status]


_PLAIN: Final = {status: ElementAnswer(status) for status in ElementStatus}


def unreadable(what: str) -> PlatformUnreachable:
    """The error for a 2xx answer whose body cannot be read: retried like a lost answer (the
    resend is deduplicated), reason ``malformed_response``."""
    return PlatformUnreachable(f"platform answer unreadable: {what}", reason="malformed_response")


def _problem_text(problems: Iterable[tuple[str, str, str]]) -> str:
    return mask_text("; ".join(f"{f}: {m} [{r}]" for f, r, m in problems))[:_MAX_DETAIL]


def element_result(
    delivery: Delivery, answer: ElementAnswer, *, lane_blocked: bool = False
) -> ItemResult:
    """The core's :class:`ItemResult` for one element's answer.

    ``lane_blocked`` says that an earlier entry of the same lane in the same batch was not
    acknowledged (an ``out_of_order`` answer is then a consequence to retry, not poison).

    =======================  ==========================================================
    element status           outcome
    =======================  ==========================================================
    ``applied``              ``APPLIED``
    ``duplicate``            ``DUPLICATE``
    ``rejected``             ``REJECTED`` (``code`` = the first problem's rule, ``field`` its field)
    ``illegal_transition``   ``REJECTED`` (``code`` ``illegal_transition``)
    ``out_of_order``         ``REJECTED`` with ``expected_sequence`` (``RETRY`` when blocked)
    ``unavailable``          ``RETRY`` (with the element's ``retry_after``)
    =======================  ==========================================================
    """
    key = delivery.idempotency_key
    status = answer.status
    if status is ElementStatus.APPLIED:
        return ItemResult(key, Outcome.APPLIED)
    if status is ElementStatus.DUPLICATE:
        return ItemResult(key, Outcome.DUPLICATE, code="duplicate")
    problems = answer.problems
    first = problems[0] if problems else None
    text = _problem_text(problems)
    if status is ElementStatus.UNAVAILABLE:
        return ItemResult(
            key,
            Outcome.RETRY,
            code="unavailable",
            message=text or "platform could not store this element now",
            retry_after=answer.retry_after,
        )
    if status is ElementStatus.OUT_OF_ORDER:
        expected = answer.expected_sequence
        message = (
            f"sequence {delivery.sequence} refused; platform expects {expected}"
            if expected is not None
            else f"sequence {delivery.sequence} refused as out of order"
        )
        return ItemResult(
            key,
            Outcome.RETRY if lane_blocked else Outcome.REJECTED,
            code="out_of_order",
            message=message,
            field="sequence",
            expected_sequence=expected,
        )
    if status is ElementStatus.ILLEGAL_TRANSITION:
        current = answer.current_status
        suffix = f" (current status code {current})" if current is not None else ""
        return ItemResult(
            key,
            Outcome.REJECTED,
            code="illegal_transition",
            message=(text or "status change refused") + suffix,
            field=first[0] if first else "status",
        )
    return ItemResult(
        key,
        Outcome.REJECTED,
        code=first[1] if first else status.value,
        message=text or "refused as invalid",
        field=first[0] if first else None,
    )


_NO_RESULT: Final = "platform returned no result for this element"


def decode_elements(
    deliveries: Sequence[Delivery], answers: Iterable[tuple[int, ElementAnswer]]
) -> list[ItemResult]:
    """One :class:`ItemResult` per delivery, in delivery order, from ``(index, answer)`` pairs.

    ``index`` is the element's position in the request. A delivery without an answer is
    ``RETRY`` (code ``no_result``); an answer whose index matches no delivery is ignored; when
    the platform answers one index twice, the last answer counts.
    """
    by_index = dict(answers)
    results: list[ItemResult] = []
    blocked: set[str] = set()
    for index, delivery in enumerate(deliveries):
        answer = by_index.get(index)
        if answer is None:
            result = ItemResult(
                delivery.idempotency_key, Outcome.RETRY, code="no_result", message=_NO_RESULT
            )
        else:
            result = element_result(delivery, answer, lane_blocked=delivery.key in blocked)
        if not result.outcome.acknowledged:
            blocked.add(delivery.key)
        results.append(result)
    return results
