"""The mock province's admin endpoints: state, journal, catalog, reset and the fault plan.

Not part of any provincial API: not authenticated, never faulted, never counted as platform
requests (so fault windows by request number are not shifted by a test looking around).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from .._errors import ValidationError
from ._faults import FaultPlan
from ._journal import Journal
from ._messages import (
    SMALL_BODY_BYTES,
    CoreResponse,
    ProvinceRequest,
    error_response,
    json_response,
)

__all__ = ["ProvinceControls", "answer_admin"]


class ProvinceControls(Protocol):
    """What the admin endpoints read and change (the province implements it)."""

    journal: Journal
    faults: FaultPlan

    def state(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...

    def set_faults(self, plan: FaultPlan) -> None: ...

    def catalog(self) -> list[dict[str, Any]]: ...


def _malformed(message: str, **extra: Any) -> CoreResponse:
    return error_response(400, "malformed_request", message, **extra)


def answer_admin(core: ProvinceControls, request: ProvinceRequest) -> CoreResponse:
    """Answer one ``/admin/...`` request (called under the province's lock)."""
    method, path, query = request.method, request.path, request.query
    if path == "/admin/state" and method == "GET":
        return json_response(200, core.state())
    if path == "/admin/journal" and method == "GET":
        try:
            since = int(query.get("since", "0"))
            limit = int(query["limit"]) if "limit" in query else None
        except ValueError:
            return _malformed("since/limit: integers")
        entries = core.journal.to_list(since, limit)
        return json_response(200, {"entries": entries, "total": len(core.journal)})
    if path == "/admin/reset" and method == "POST":
        core.reset()
        return json_response(200, {"reset": True})
    if path == "/admin/faults" and method == "GET":
        return json_response(200, core.faults.to_json())
    if path == "/admin/faults" and method == "POST":
        return _set_faults(core, request.body)
    if path == "/admin/catalog" and method == "GET":
        return json_response(200, {"items": core.catalog()})
    return error_response(404, "not_found", f"no admin endpoint {method} {path}")


def _set_faults(core: ProvinceControls, body: bytes) -> CoreResponse:
    if len(body) > SMALL_BODY_BYTES:
        return _malformed(f"a fault plan is at most {SMALL_BODY_BYTES} bytes")
    try:
        data = json.loads(body or b"{}")
    except RecursionError:
        return _malformed("not JSON: nested too deeply")
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an over-long integer
        return _malformed(f"not JSON: {exc}")
    try:
        plan = FaultPlan.from_json(data)
    except ValidationError as exc:
        return _malformed(exc.message, problems=list(exc.problems))
    core.set_faults(plan)
    return json_response(200, plan.to_json())
