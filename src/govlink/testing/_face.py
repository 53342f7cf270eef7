"""What a face of the mock province is: one provincial API, mounted by adding one entry.

A face (front end) owns a set of paths. For each request the province has counted, checked
against the fault plan and found to be the face's, the face parses the request, calls the
:class:`~govlink.testing._platform.Platform` (or its own state), and encodes the answer in its
API's vocabulary. It also says how its API shows a failure the province decides on (an
outage, an injected 500, a body over the size limit, an unknown path), so every refusal comes
in the API's own envelope. See docs/mock-province.md, "Adding a face".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._messages import CoreResponse, ProvinceRequest

if TYPE_CHECKING:
    from .._clock import Clock
    from ._access import Access, Quota
    from ._config import ProvinceConfig
    from ._platform import ElementStatus, PartialFailure, Platform

__all__ = [
    "FAILURE_STATUS",
    "FaceAnswer",
    "FaceContext",
    "FaceFactory",
    "Failure",
    "ProvinceFace",
    "Reply",
]


class Failure(StrEnum):
    """A request-level refusal decided outside the face; the face renders it."""

    NOT_FOUND = "not_found"  # 404: no endpoint at this path
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    BODY_TOO_LARGE = "body_too_large"  # 413: over the byte limit, refused unread
    RATE_LIMITED = "rate_limited"  # 429 (with retry_after)
    INTERNAL_ERROR = "internal_error"  # 500 (injected)
    UNAVAILABLE = "unavailable"  # 503 (outage; retry_after when known)


#: The HTTP status of each failure.
FAILURE_STATUS: dict[Failure, int] = {
    Failure.NOT_FOUND: 404,
    Failure.METHOD_NOT_ALLOWED: 405,
    Failure.BODY_TOO_LARGE: 413,
    Failure.RATE_LIMITED: 429,
    Failure.INTERNAL_ERROR: 500,
    Failure.UNAVAILABLE: 503,
}


@dataclass(slots=True)
class FaceAnswer:
    """A face's answer: the response, the client it names for the journal (``"-"``: none)
    and one status per batch element (empty when the request carried no batch)."""

    response: CoreResponse
    client: str = "-"
    outcomes: Sequence[ElementStatus] = field(default_factory=tuple)


class Reply(Exception):
    """Stop handling and answer with this response (raised inside a face)."""

    def __init__(self, response: CoreResponse, client: str = "-") -> None:
        super().__init__(response.status)
        self.response = response
        self.client = client


@dataclass(frozen=True)
class FaceContext:
    """What the province hands a face when it mounts it."""

    platform: Platform
    access: Access
    quota: Quota
    config: ProvinceConfig
    clock: Clock


@runtime_checkable
class ProvinceFace(Protocol):
    """One provincial API of the mock province (see the module docstring)."""

    #: Short name (``reference``, ``gateway``): ``ProvinceConfig.apis`` and
    #: ``--adapter`` select faces by it; ``/openapi/{name}.json`` serves its document.
    name: str

    def owns(self, path: str) -> bool:
        """Whether requests to ``path`` are this face's (even when no endpoint matches)."""
        ...

    def handle(self, request: ProvinceRequest, partial: PartialFailure | None) -> FaceAnswer:
        """Answer one request (``partial``: the plan's per-element failures, if any).

        May raise :class:`Reply` to answer early.
        """
        ...

    def failure(
        self, failure: Failure, message: str, *, retry_after: int | None = None
    ) -> CoreResponse:
        """The API's own response for a refusal the province decided on."""
        ...

    def openapi(self) -> str | None:
        """The API's OpenAPI document as served and committed (``None``: it has none)."""
        ...


#: Builds a face for one province (e.g. the face's class: ``ReferenceFace``).
FaceFactory = Callable[[FaceContext], ProvinceFace]
