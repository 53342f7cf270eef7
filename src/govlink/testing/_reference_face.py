"""The reference provincial API as a face of the mock province.

JSON REST with OAuth2 client credentials (contract: :mod:`govlink.adapters.reference.wire`,
``schemas/openapi-reference.json``). Parses each request, calls the platform, and encodes the
outcomes as ``{"results": [...], "failed": n}``; every refusal is ``{"error": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, FailFast, Field
from pydantic import ValidationError as PydanticValidationError

from .._errors import FieldProblem
from ..adapters.reference import wire as ref
from ..domain import CaseStatusEvent
from ._access import AccessDenied
from ._batches import BatchTooLarge, MalformedBody, read_batch
from ._face import FAILURE_STATUS, FaceAnswer, FaceContext, Failure, Reply
from ._messages import (
    CoreResponse,
    ProvinceRequest,
    error_response,
    json_response,
    problems_json,
)
from ._openapi import render_reference_openapi
from ._platform import ElementOutcome, ElementStatus, ItemOutcome, PartialFailure
from ._problems import pydantic_problems

__all__ = ["ReferenceFace"]


class _KeyedEvent(CaseStatusEvent):
    """The domain event plus the wire's optional ``idempotency_key`` member (hot path only)."""

    wire_key: str | None = Field(
        default=None, alias="idempotency_key", min_length=1, max_length=200
    )


class _EventsEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # FailFast: a bad element ends the one-pass attempt at once (the per-element path reports).
    events: Annotated[list[_KeyedEvent], FailFast()]


# The hot path: one pass from JSON bytes to validated events. Any bad element, an explicit
# idempotency key or a malformed envelope falls back to the element-by-element path.
_EVENTS_FAST: Final = _EventsEnvelope.model_validate_json
# The one-pass path parses the whole body before counting, so it is taken only when that is
# cheap whatever the body holds: a body under 1 MiB (parsing it costs a few tens of MB at
# worst, and FailFast stops validation at the first bad element), or one whose byte counts
# prove the batch small (at most one "{" per event plus the envelope's, a bounded number of
# commas). Anything else is read element by element up to the limit.
_ONE_PASS_BYTES: Final = 1024 * 1024
_COMMAS_PER_EVENT: Final = 16
_APPLIED: Final = ElementStatus.APPLIED
_DUPLICATE: Final = ElementStatus.DUPLICATE
# A dict lookup, not Enum.value (a descriptor call), on the hot path.
_STATUS_TEXT: Final = {s: s.value for s in ElementStatus}
_ERROR_CODES: Final = {
    Failure.NOT_FOUND: ref.ErrorCode.NOT_FOUND,
    Failure.METHOD_NOT_ALLOWED: ref.ErrorCode.MALFORMED_REQUEST,
    Failure.BODY_TOO_LARGE: ref.ErrorCode.BATCH_TOO_LARGE,
    Failure.RATE_LIMITED: ref.ErrorCode.RATE_LIMITED,
    Failure.INTERNAL_ERROR: ref.ErrorCode.INTERNAL_ERROR,
    Failure.UNAVAILABLE: ref.ErrorCode.UNAVAILABLE,
}


def _error(
    status: int,
    code: ref.ErrorCode,
    message: str,
    *,
    problems: list[FieldProblem] | None = None,
    **extra: Any,
) -> CoreResponse:
    return error_response(status, code.value, message, problems=problems, **extra)


class ReferenceFace:
    """The reference API (``/oauth/token``, ``/v1/...``); see the module docstring."""

    name = "reference"

    def __init__(self, context: FaceContext) -> None:
        self.platform = context.platform
        self.access = context.access
        self.quota = context.quota
        self.config = context.config

    def owns(self, path: str) -> bool:
        """Whether ``path`` belongs to the reference API."""
        return path == ref.TOKEN_PATH or path.startswith("/v1/")

    def openapi(self) -> str:
        """The reference API's OpenAPI document."""
        return render_reference_openapi()

    def failure(
        self, failure: Failure, message: str, *, retry_after: int | None = None
    ) -> CoreResponse:
        """The refusal in this API\'s envelope (``Retry-After`` when a wait is known)."""
        response = _error(
            FAILURE_STATUS[failure], _ERROR_CODES[failure], message, retry_after=retry_after
        )
        if retry_after is not None:
            response.headers.append(("retry-after", str(retry_after)))
        return response

    # --- routing --------------------------------------------------------------------------------

    def handle(self, request: ProvinceRequest, partial: PartialFailure | None) -> FaceAnswer:
        """Route, check access and the quota, then answer (raises :class:`Reply` to refuse)."""
        path, method = request.path, request.method
        if path == ref.TOKEN_PATH:
            self._need(method, "POST")
            grant = self.access.token_endpoint(request.headers, request.body)
            return FaceAnswer(grant.response, grant.client)
        client = self._authenticate(request.headers)
        wait = self.quota.take(client)
        if wait is not None:
            raise Reply(self.failure(Failure.RATE_LIMITED, self.quota.describe(), retry_after=wait))
        if path == ref.CASE_EVENTS_BATCH_PATH:
            self._need(method, "POST")
            response, outcomes = self._events(request.body, partial)
            return FaceAnswer(response, client, outcomes)
        if path == ref.CATALOG_ITEMS_BATCH_PATH:
            self._need(method, "POST")
            response, outcomes = self._items(request.body, partial)
            return FaceAnswer(response, client, outcomes)
        if path == ref.CATALOG_DIGEST_PATH:
            self._need(method, "GET")
            return FaceAnswer(self._digest(request.query), client)
        if path == ref.CATALOG_ITEMS_PATH:
            self._need(method, "GET")
            return FaceAnswer(self._listing(request.query), client)
        if path.startswith("/v1/cases/") and path.count("/") == 3:
            self._need(method, "GET")
            return FaceAnswer(self._case(path.rsplit("/", 1)[1]), client)
        raise Reply(self.failure(Failure.NOT_FOUND, f"no endpoint {path}"))

    def _need(self, method: str, allowed: str) -> None:
        if method != allowed:
            response = self.failure(Failure.METHOD_NOT_ALLOWED, f"use {allowed}")
            response.headers.append(("allow", allowed))
            raise Reply(response)

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        try:
            return self.access.authenticate(headers)
        except AccessDenied as exc:
            response = _error(401, ref.ErrorCode.INVALID_TOKEN, exc.reason)
            response.headers.append(
                (
                    "www-authenticate",
                    f'Bearer error="invalid_token", error_description="{exc.reason}"',
                )
            )
            raise Reply(response) from None

    # --- batches --------------------------------------------------------------------------------

    def _envelope(self, model: type[Any], body: bytes, member: str, limit: int) -> Any:
        """Read the batch (refusing it at ``limit`` elements), then validate its envelope."""
        try:
            envelope = read_batch(body, member, limit)
        except BatchTooLarge as exc:
            raise Reply(self._too_large(exc.limit)) from None
        except MalformedBody as exc:
            raise Reply(self._malformed(exc.problems)) from None
        try:
            return model.model_validate(envelope)
        except PydanticValidationError as exc:
            raise Reply(self._malformed(pydantic_problems(exc))) from None

    @staticmethod
    def _malformed(problems: list[FieldProblem]) -> CoreResponse:
        return _error(
            400,
            ref.ErrorCode.MALFORMED_REQUEST,
            "the body is not the expected JSON envelope",
            problems=problems,
        )

    @staticmethod
    def _too_large(limit: int) -> CoreResponse:
        return _error(
            413,
            ref.ErrorCode.BATCH_TOO_LARGE,
            f"more than {limit} elements: at most {limit} per request",
            limit=limit,
        )

    def _events(
        self, body: bytes, partial: PartialFailure | None
    ) -> tuple[CoreResponse, list[ElementStatus]]:
        limit = self.config.max_event_batch
        fast: list[_KeyedEvent] = []
        if len(body) <= _ONE_PASS_BYTES or (
            body.count(b"{") <= limit + 1 and body.count(b",") <= _COMMAS_PER_EVENT * (limit + 1)
        ):
            try:
                fast = _EVENTS_FAST(body).events
            except PydanticValidationError:
                fast = []
        outcomes: list[ElementOutcome]
        if fast and len(fast) <= limit:
            keys = [e.wire_key for e in fast]
            outcomes = self.platform.apply_validated(fast, keys, {}, partial)
        else:
            request = self._envelope(ref.CaseEventsBatchRequest, body, "events", limit)
            outcomes = self.platform.apply_events(request.events, partial)
        results = []
        failed = 0
        for index, (status, key, case, sequence, expected, current, problems, wait) in enumerate(
            outcomes
        ):
            result: dict[str, Any] = {"index": index, "status": _STATUS_TEXT[status]}
            if key is not None:
                result["idempotency_key"] = key
            if case is not None:
                result["case_number"] = case
                result["sequence"] = sequence
            if status is not _APPLIED and status is not _DUPLICATE:
                failed += 1
                if expected is not None:
                    result["expected_sequence"] = expected
                if current is not None:
                    result["current_status"] = current
                if problems:
                    result["problems"] = problems_json(problems)
                if wait is not None:
                    result["retry_after"] = wait
            results.append(result)
        response = json_response(200, {"results": results, "failed": failed})
        return response, [o.status for o in outcomes]

    def _items(
        self, body: bytes, partial: PartialFailure | None
    ) -> tuple[CoreResponse, list[ElementStatus]]:
        limit = self.config.max_catalog_batch
        request = self._envelope(ref.CatalogBatchRequest, body, "items", limit)
        outcomes: list[ItemOutcome] = self.platform.apply_items(request.items, partial)
        results = []
        failed = 0
        for index, outcome in enumerate(outcomes):
            result: dict[str, Any] = {"index": index, "status": outcome.status.value}
            if outcome.code is not None:
                result["implementation_code"] = outcome.code
            if outcome.revision is not None:
                result["revision"] = outcome.revision
                result["content_hash"] = outcome.content_hash
            if outcome.problems:
                result["problems"] = problems_json(outcome.problems)
            if outcome.retry_after is not None:
                result["retry_after"] = outcome.retry_after
            if not outcome.status.acknowledged:
                failed += 1
            results.append(result)
        response = json_response(200, {"results": results, "failed": failed})
        return response, [o.status for o in outcomes]

    # --- reads ----------------------------------------------------------------------------------

    def _page(self, query: Mapping[str, str]) -> tuple[list[str], str | None]:
        size_text = query.get("page_size", str(ref.DEFAULT_PAGE_SIZE))
        token = query.get("page_token") or None
        problems = []
        try:
            size = int(size_text)
        except ValueError:
            size = 0
        if size < 1:
            problems.append(FieldProblem("page_size", "range", "page_size must be an integer >= 1"))
        try:
            page = self.platform.page(min(size, ref.MAX_PAGE_SIZE), token)
        except ValueError as exc:
            problems.append(FieldProblem("page_token", "page_token", str(exc)))
        if problems:
            raise Reply(
                _error(
                    400, ref.ErrorCode.MALFORMED_REQUEST, "bad paging parameters", problems=problems
                )
            )
        return page

    def _digest(self, query: Mapping[str, str]) -> CoreResponse:
        codes, next_token = self._page(query)
        entries = [
            {
                "implementation_code": r.code,
                "content_hash": r.content_hash,
                "version": r.version,
                "revision": r.revision,
            }
            for r in self.platform.digest(codes)
        ]
        total = self.platform.item_count
        return json_response(200, {"items": entries, "next_page_token": next_token, "total": total})

    def _listing(self, query: Mapping[str, str]) -> CoreResponse:
        codes, next_token = self._page(query)
        body = {
            "items": self.platform.catalog(codes),
            "next_page_token": next_token,
            "total": self.platform.item_count,
        }
        return json_response(200, body)

    def _case(self, raw_case_number: str) -> CoreResponse:
        view = self.platform.case(unquote(raw_case_number))
        if view is None:
            raise Reply(self.failure(Failure.NOT_FOUND, "no such case"))
        body = {
            "case_number": view.case_number,
            "status": view.status,
            "last_sequence": view.last_sequence,
            "events_applied": view.events_applied,
        }
        return json_response(200, body)
