"""What the mock province's pure code passes around: one request in, one response out.

The transports (Starlette app, httpx transport, respx route) turn HTTP into a
:class:`ProvinceRequest` and carry out a :class:`CoreResponse`, including the parts that are
not bytes: a latency to wait, a body to dribble, a connection to break.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .._errors import FieldProblem

__all__ = [
    "JSON_CONTENT_TYPE",
    "SMALL_BODY_BYTES",
    "CoreResponse",
    "ProvinceRequest",
    "dumps",
    "error_response",
    "json_response",
    "problems_json",
]

JSON_CONTENT_TYPE: Final = "application/json"
#: The largest body of a request that carries no batch (a token form, a digest request, a fault
#: plan): parsing even a few megabytes of tiny JSON values costs hundreds of megabytes.
SMALL_BODY_BYTES: Final = 64 * 1024


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON, Chinese text as itself (what every face sends)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class ProvinceRequest:
    """One HTTP request as the pure code sees it.

    ``method`` is upper case; ``headers`` is case-insensitive (httpx/Starlette headers) or
    lower-case; ``body`` may be cut short by the transport at one byte over the size limit,
    which is all the province needs to refuse it.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class CoreResponse:
    """The answer to one request; ``drop`` tells the transport to break the connection instead.

    ``drop``: ``None``, ``"refused"`` (connection refused), ``"reset"`` (reset before
    anything was applied) or ``"lost_response"`` (applied, then the connection closes without
    a response). ``latency`` and ``dribble_bytes_per_s`` ask the transport to slow down.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: str | None = None
    latency: float = 0.0
    dribble_bytes_per_s: int | None = None

    @property
    def content_type(self) -> str:
        """The ``content-type`` header (JSON unless the face said otherwise)."""
        for name, value in self.headers:
            if name == "content-type":
                return value
        return JSON_CONTENT_TYPE


def json_response(status: int, data: Any, *headers: tuple[str, str]) -> CoreResponse:
    """A JSON response with extra ``headers`` (lower-case names)."""
    return CoreResponse(status, dumps(data), [("content-type", JSON_CONTENT_TYPE), *headers])


def problems_json(problems: Sequence[FieldProblem]) -> list[dict[str, str]]:
    """``[{"field", "rule", "message"}, ...]``: problems as the mock's envelopes carry them."""
    return [{"field": p.field, "rule": p.rule, "message": p.message} for p in problems]


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    problems: Sequence[FieldProblem] | None = None,
    **extra: Any,
) -> CoreResponse:
    """``{"error": {"code", "message", "problems"?, ...}}`` with ``status`` (``None`` extras
    are left out). The mock's own error envelope, which the reference API shares."""
    error: dict[str, Any] = {"code": code, "message": message}
    if problems:
        error["problems"] = problems_json(problems)
    error.update({k: v for k, v in extra.items() if v is not None})
    return json_response(status, {"error": error})
