"""A face from a handler that already answers requests on its own, mounted under a prefix.

Some faces are written as a standalone pure handler with its own state, faults and journal
(the provincial identity platform: ``handle(method, path, query, headers, body)`` answering
with status, body, headers and a latency). :func:`mounted` turns such a handler into a face of
the province, so it is counted, faulted by the province's plan and journaled like the others,
and reachable through every transport, by adding one entry to ``BUILTIN_FACES``::

    "identity": mounted("identity", "/identity", lambda ctx: IdentityPlatform(clock=ctx.clock)),
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ._face import FAILURE_STATUS, FaceAnswer, FaceContext, FaceFactory, Failure
from ._messages import CoreResponse, ProvinceRequest, error_response
from ._platform import PartialFailure

__all__ = ["HandlerAnswer", "PureHandler", "mounted"]


class HandlerAnswer(Protocol):
    """What a mounted handler answers (``latency``: seconds to wait before answering)."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    latency: float


class PureHandler(Protocol):
    """A handler that answers one request without I/O; ``path`` is relative to its prefix."""

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> HandlerAnswer: ...


def mounted(
    name: str,
    prefix: str,
    build: Callable[[FaceContext], PureHandler],
    *,
    openapi: Callable[[], str] | None = None,
) -> FaceFactory:
    """A face factory serving ``build(context)`` under ``prefix`` (e.g. ``"/identity"``).

    Refusals the province decides (outage, injected 500, body over the limit) come in the
    mock's ``{"error": {...}}`` envelope; ``openapi`` renders the face's document, if any.
    """
    prefix = "/" + prefix.strip("/")

    class MountedFace:
        def __init__(self, context: FaceContext) -> None:
            self.name = name
            self.handler = build(context)

        def owns(self, path: str) -> bool:
            return path == prefix or path.startswith(prefix + "/")

        def handle(self, request: ProvinceRequest, partial: PartialFailure | None) -> FaceAnswer:
            inner = request.path[len(prefix) :] or "/"
            answer = self.handler.handle(
                request.method, inner, request.query, request.headers, request.body
            )
            response = CoreResponse(
                answer.status, answer.body, list(answer.headers), latency=answer.latency
            )
            return FaceAnswer(response)

        def failure(
            self, failure: Failure, message: str, *, retry_after: int | None = None
        ) -> CoreResponse:
            response = error_response(FAILURE_STATUS[failure], failure.value, message)
            if retry_after is not None:
                response.headers.append(("retry-after", str(retry_after)))
            return response

        def openapi(self) -> str | None:
            return openapi() if openapi is not None else None

    MountedFace.__name__ = MountedFace.__qualname__ = f"MountedFace[{name}]"
    return MountedFace
