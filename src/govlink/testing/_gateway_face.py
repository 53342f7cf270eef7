"""The provincial gateway API as a face of the mock province (domain reference §8).

Signed requests (HMAC-SHA256 or HMAC-SM3 over method, path, timestamp, nonce, app id and the
body's digest), pinyin field names, SM4-encrypted personal data, and every answer in the
``{"code", "msg", "data"}`` envelope (contract: :mod:`govlink.adapters.gateway.wire`,
``schemas/openapi-gateway.json``). Parses each request, calls the platform, and encodes the
outcomes as ``{"jg": [...], "sbs": n}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from pydantic import ValidationError as PydanticValidationError

from .._errors import FieldProblem, ValidationError
from ..adapters.gateway import wire as gw
from ._batches import BatchTooLarge, MalformedBody, read_batch
from ._face import FaceAnswer, FaceContext, Failure, Reply
from ._gateway_openapi import render_gateway_openapi
from ._messages import SMALL_BODY_BYTES, CoreResponse, ProvinceRequest, json_response
from ._platform import ElementOutcome, ElementStatus, ItemOutcome, PartialFailure
from ._problems import pydantic_problems

__all__ = ["GatewayFace"]

_PATHS: Final = frozenset({gw.CASE_STATUS_PUSH_PATH, gw.CATALOG_PUSH_PATH, gw.CATALOG_DIGEST_PATH})
_SIGNING_HEADERS: Final = (
    gw.HEADER_APP_ID,
    gw.HEADER_TIMESTAMP,
    gw.HEADER_NONCE,
    gw.HEADER_SIGNATURE,
    gw.HEADER_SIGN_METHOD,
)
_CODES: Final = {
    Failure.NOT_FOUND: gw.GatewayCode.MALFORMED_REQUEST,
    Failure.METHOD_NOT_ALLOWED: gw.GatewayCode.MALFORMED_REQUEST,
    Failure.BODY_TOO_LARGE: gw.GatewayCode.BATCH_TOO_LARGE,
    Failure.RATE_LIMITED: gw.GatewayCode.RATE_LIMITED,
    Failure.INTERNAL_ERROR: gw.GatewayCode.INTERNAL_ERROR,
    Failure.UNAVAILABLE: gw.GatewayCode.UNAVAILABLE,
}
#: The platform's page size limit, as the reference API's (one platform behind both).
_MAX_PAGE_SIZE: Final = 5000
#: One result of a batch: an event's or an item's (each kind names its own wire members).
_Outcome = TypeVar("_Outcome", ElementOutcome, ItemOutcome)


def _error(code: gw.GatewayCode, message: str, data: Any = None) -> CoreResponse:
    return json_response(gw.http_status_for(code), gw.envelope(data, code=code.value, msg=message))


def _wtlb(problems: Sequence[FieldProblem]) -> list[dict[str, str]]:
    return [{"zd": p.field, "gz": p.rule, "sm": p.message} for p in problems]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value is not None else headers.get(name.lower())


class GatewayFace:
    """The gateway API (``/gw/...``); see the module docstring."""

    name = "gateway"

    def __init__(self, context: FaceContext) -> None:
        self.platform = context.platform
        self.quota = context.quota
        self.config = context.config
        self.clock = context.clock
        apps = context.config.gateway_apps
        self.apps = apps
        self._nonces = gw.NonceCache(max((a.skew_seconds for a in apps.values()), default=300))

    def owns(self, path: str) -> bool:
        """Whether ``path`` belongs to the gateway API."""
        return path.startswith("/gw/")

    def openapi(self) -> str:
        """The gateway API's OpenAPI document."""
        return render_gateway_openapi()

    def failure(
        self, failure: Failure, message: str, *, retry_after: int | None = None
    ) -> CoreResponse:
        """The refusal in this API\'s envelope (``Retry-After`` when a wait is known)."""
        response = _error(_CODES[failure], message)
        if retry_after is not None:
            response.headers.append(("retry-after", str(retry_after)))
        return response

    def handle(self, request: ProvinceRequest, partial: PartialFailure | None) -> FaceAnswer:
        """Route, check access and the quota, then answer (raises :class:`Reply` to refuse)."""
        path = request.path
        if path not in _PATHS:
            raise Reply(self.failure(Failure.NOT_FOUND, f"no endpoint {path}"))
        if request.method != "POST":
            raise Reply(self.failure(Failure.METHOD_NOT_ALLOWED, "use POST"))
        app = self._verify(request)
        wait = self.quota.take(app.app_id)
        if wait is not None:
            raise Reply(self.failure(Failure.RATE_LIMITED, self.quota.describe(), retry_after=wait))
        if path == gw.CATALOG_DIGEST_PATH:
            return FaceAnswer(self._digest(app, request.body), app.app_id)
        if path == gw.CASE_STATUS_PUSH_PATH:
            response, outcomes = self._push_events(app, request.body, partial)
        else:
            response, outcomes = self._push_items(app, request.body, partial)
        return FaceAnswer(response, app.app_id, outcomes)

    def _verify(self, request: ProvinceRequest) -> gw.GatewayConfig:
        for name in _SIGNING_HEADERS:
            value = _header(request.headers, name)
            # Signing headers are ASCII by definition; anything else (a "²" timestamp, a
            # non-ASCII signature) is malformed, whatever the signature library makes of it.
            if value is not None and not value.isascii():
                raise Reply(_error(gw.GatewayCode.MISSING_AUTH, f"header {name} must be ASCII"))
        try:
            return gw.verify_signature(
                self.apps,
                request.method,
                request.path,
                request.headers,
                request.body,
                now=self.clock.time(),
                nonces=self._nonces,
            )
        except gw.SignatureRejected as exc:
            raise Reply(_error(exc.gateway_code, exc.message)) from None

    @staticmethod
    def _ok(app: gw.GatewayConfig, data: Any) -> CoreResponse:
        return json_response(200, gw.envelope(data, code=app.success_code))

    @staticmethod
    def _malformed(problems: Sequence[FieldProblem]) -> Reply:
        return Reply(
            _error(
                gw.GatewayCode.MALFORMED_REQUEST,
                "the body is not the expected JSON envelope",
                {"wtlb": _wtlb(problems)},
            )
        )

    def _batch(self, model: type[Any], body: bytes, member: str, limit: int) -> Any:
        try:
            envelope = read_batch(body, member, limit)
        except BatchTooLarge as exc:
            message = f"more than {exc.limit} elements: at most {exc.limit} per request"
            raise Reply(
                _error(gw.GatewayCode.BATCH_TOO_LARGE, message, {"limit": exc.limit})
            ) from None
        except MalformedBody as exc:
            raise self._malformed(exc.problems) from None
        try:
            return model.model_validate(envelope)
        except PydanticValidationError as exc:
            raise self._malformed(pydantic_problems(exc)) from None

    def _digest(self, app: gw.GatewayConfig, body: bytes) -> CoreResponse:
        if len(body) > SMALL_BODY_BYTES:
            message = f"a digest request is at most {SMALL_BODY_BYTES} bytes"
            raise Reply(_error(gw.GatewayCode.MALFORMED_REQUEST, message))
        try:
            request = gw.DigestRequest.model_validate_json(body)
        except PydanticValidationError as exc:
            raise self._malformed(pydantic_problems(exc)) from None
        try:
            codes, next_token = self.platform.page(
                min(request.mytss, _MAX_PAGE_SIZE), request.ym or None
            )
        except ValueError as exc:
            raise Reply(_error(gw.GatewayCode.MALFORMED_REQUEST, str(exc))) from None
        records = [
            {"ssbm": r.code, "nrhx": r.content_hash, "bbh": r.version, "xdh": r.revision}
            for r in self.platform.digest(codes)
        ]
        data = {"sxlb": records, "xyym": next_token, "zs": self.platform.item_count}
        return self._ok(app, data)

    def _push_events(
        self, app: gw.GatewayConfig, body: bytes, partial: PartialFailure | None
    ) -> tuple[CoreResponse, list[ElementStatus]]:
        request = self._batch(gw.CaseStatusPushRequest, body, "bjztlb", self.config.max_event_batch)
        canonical: list[Any] = []
        pre: dict[int, list[FieldProblem]] = {}
        for index, element in enumerate(request.bjztlb):
            try:
                canonical.append(gw.decode_event(element, app))
            except ValidationError as exc:
                pre[index] = list(exc.problems)
                canonical.append(None)
        outcomes = self.platform.apply_events(canonical, partial, pre)
        return self._batch_answer(
            app,
            outcomes,
            lambda o: {
                "wybs": o.key,
                "qwxh": o.expected_sequence,
                "dqzt": o.current_status,
                "ddms": o.retry_after,
            },
        )

    def _push_items(
        self, app: gw.GatewayConfig, body: bytes, partial: PartialFailure | None
    ) -> tuple[CoreResponse, list[ElementStatus]]:
        request = self._batch(gw.CatalogPushRequest, body, "sxlb", self.config.max_catalog_batch)
        items = [gw.decode_item(element) for element in request.sxlb]
        outcomes = self.platform.apply_items(items, partial)
        return self._batch_answer(
            app,
            outcomes,
            lambda o: {
                "ssbm": o.code,
                "xdh": o.revision,
                "nrhx": o.content_hash,
                "ddms": o.retry_after,
            },
        )

    def _batch_answer(
        self,
        app: gw.GatewayConfig,
        outcomes: Sequence[_Outcome],
        members: Callable[[_Outcome], dict[str, Any]],
    ) -> tuple[CoreResponse, list[ElementStatus]]:
        """``jg`` 结果 (one result per element, with its kind's ``members``) and ``sbs`` 失败数."""
        results = [
            self._result(index, o.status, o.problems, **members(o))
            for index, o in enumerate(outcomes)
        ]
        failed = sum(1 for o in outcomes if not o.status.acknowledged)
        return self._ok(app, {"jg": results, "sbs": failed}), [o.status for o in outcomes]

    @staticmethod
    def _result(
        index: int, status: ElementStatus, problems: list[FieldProblem] | None, **members: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"xh": index, "cljg": status.value}
        result.update({k: v for k, v in members.items() if v is not None})
        if problems:
            result["wtlb"] = _wtlb(problems)
        return result
