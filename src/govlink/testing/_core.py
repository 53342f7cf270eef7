"""The mock province's semantics in pure code: one implementation behind every face.

:class:`ProvinceCore` holds the platform's state (tokens, items, cases, applied idempotency
keys) and its rules, and answers one request at a time with a :class:`CoreResponse`. It does
no I/O and never sleeps: latency, slow bodies and dropped connections are described in the
response and carried out by the face (Starlette app, httpx transport, respx route).

Validation and the case state machine are govlink's own domain code (``parse_item``,
``CaseStatusEvent``, ``CaseLifecycle``), never a copy.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any, Final
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .._clock import Clock, system_clock
from .._errors import FieldProblem, ValidationError
from ..adapters.gateway import wire as gw
from ..adapters.reference import wire as ref
from ..domain import (
    CaseLifecycle,
    CaseStatusEvent,
    CaseTransitionError,
    StatusCodeTable,
    parse_case_event,
    parse_item,
)
from ._faults import Decision, FaultPlan, retry_after_seconds
from ._journal import OUTCOME_CHARS, Journal, JournalEntry

__all__ = ["CoreResponse", "ProvinceConfig", "ProvinceCore"]

_JSON: Final = "application/json"
_EVENT_LIST: Final = TypeAdapter(list[CaseStatusEvent])


class _KeyedEvent(CaseStatusEvent):
    """The domain event plus the wire's optional ``idempotency_key`` member (hot path only)."""

    wire_key: str | None = Field(
        default=None, alias="idempotency_key", min_length=1, max_length=200
    )


class _EventsEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[_KeyedEvent]


# The hot path: one pass from JSON bytes to validated events. Any bad element, an explicit
# idempotency key or a malformed envelope falls back to the element-by-element path.
_EVENTS_FAST: Final = _EventsEnvelope.model_validate_json
_STATUS_TABLE: Final = StatusCodeTable()
_RS = ref.ResultStatus
# Enum members bound once: attribute access on an Enum class is slow on the hot path.
_APPLIED: Final = _RS.APPLIED
_DUPLICATE: Final = _RS.DUPLICATE
_STATUS_TEXT: Final = {s: s.value for s in _RS}


@dataclass
class ProvinceConfig:
    """How the mock province behaves (everything has a development default).

    ``rate_limit`` is requests per second per client (token bucket of ``burst``, on the
    mock's clock); ``None`` turns the quota off.
    """

    clients: Mapping[str, str] = field(
        default_factory=lambda: {ref.DEMO_CLIENT_ID: ref.DEMO_CLIENT_SECRET}
    )
    gateway_apps: Mapping[str, gw.GatewayConfig] = field(
        default_factory=lambda: {gw.DEMO_APP_ID: gw.GatewayConfig()}
    )
    token_lifetime: int = ref.DEFAULT_TOKEN_LIFETIME
    max_event_batch: int = ref.MAX_EVENT_BATCH
    max_catalog_batch: int = ref.MAX_CATALOG_BATCH
    rate_limit: float | None = 200.0
    burst: int = 400
    #: Keep raw request bodies in the journal (off by default: big runs stay small).
    capture_bodies: bool = False
    #: Apply the catalog consistency rules (DOMAIN.md §4) to pushed items.
    check_items: bool = True
    #: The APIs served: ``"reference"`` (``/oauth/token``, ``/v1/...``) and ``"gateway"``
    #: (``/gw/...``); a request to an API not served is 404.
    apis: tuple[str, ...] = ("reference", "gateway")

    def __repr__(self) -> str:  # secrets stay out of reprs
        return (
            f"ProvinceConfig(clients={sorted(self.clients)}, "
            f"gateway_apps={sorted(self.gateway_apps)}, rate_limit={self.rate_limit}, "
            f"max_event_batch={self.max_event_batch})"
        )


@dataclass(slots=True)
class CoreResponse:
    """The answer to one request; ``drop`` tells the face to break the connection instead.

    ``drop``: ``None``, ``"refused"`` (connection refused), ``"reset"`` (reset before
    anything was applied) or ``"lost_response"`` (applied, then the connection closes without
    a response). ``latency`` and ``dribble_bytes_per_s`` ask the face to slow down.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: str | None = None
    latency: float = 0.0
    dribble_bytes_per_s: int | None = None

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name == "content-type":
                return value
        return _JSON


@dataclass(slots=True)
class _StoredItem:
    data: dict[str, Any]
    content_hash: str
    version: int
    revision: int


# One element's outcome (kept as a tuple for speed):
# (status, key, case_number, sequence, expected_sequence, current_status, problems, retry_after)
_Outcome = tuple[
    ref.ResultStatus,
    str | None,
    str | None,
    int | None,
    int | None,
    int | None,
    list[FieldProblem] | None,
    int | None,
]


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _problems_json(problems: list[FieldProblem]) -> list[dict[str, str]]:
    return [{"field": p.field, "rule": p.rule, "message": p.message} for p in problems]


def _pydantic_problems(exc: PydanticValidationError) -> list[FieldProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        problems.append(FieldProblem(where, error["type"], error["msg"]))
    return problems


class _Reply(Exception):
    """Internal: stop handling and answer with this response."""

    def __init__(self, response: CoreResponse) -> None:
        super().__init__(response.status)
        self.response = response


class ProvinceCore:
    """The provincial platform's state and rules (thread-safe; one lock around each request).

    ``clock`` drives token lifetimes, the request quota, fault windows and journal times.
    """

    def __init__(
        self,
        config: ProvinceConfig | None = None,
        *,
        clock: Clock = system_clock,
        faults: FaultPlan | None = None,
        openapi: Callable[[], str] | None = None,
    ) -> None:
        self.config = config or ProvinceConfig()
        self.clock = clock
        self._lock = threading.RLock()
        self._openapi = openapi
        self.journal = Journal(self, capture_bodies=self.config.capture_bodies)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._nonces = gw.NonceCache(
            max((a.skew_seconds for a in self.config.gateway_apps.values()), default=300)
        )
        self.set_faults(faults or FaultPlan())
        self._reset_state()

    # --- state ----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._items: dict[str, _StoredItem] = {}
        self._sorted_codes: list[str] | None = None
        self._lifecycle = CaseLifecycle()
        # idempotency key -> (case_number, sequence); the applied log keeps apply order
        self._keys: dict[str, tuple[str, int]] = {}
        self._applied_log: list[str] = []
        self._case_counts: dict[str, int] = {}
        self._requests = 0
        self.journal.clear()

    def reset(self) -> None:
        """Forget items, cases, applied keys and the journal; restart the fault plan.

        Issued tokens stay valid (clients keep working across a reset).
        """
        with self._lock:
            self._reset_state()
            self.faults.reseed()
            self._plan_origin = (0, self.clock.time())

    def set_faults(self, plan: FaultPlan) -> None:
        """Install a fault plan; its windows count from now (time and request number)."""
        with self._lock:
            self.faults = plan
            requests = getattr(self, "_requests", 0)
            self._plan_origin = (requests, self.clock.time())

    def applied_event_log(self) -> list[str]:
        """Idempotency keys of applied events, in the order they were applied."""
        with self._lock:
            return list(self._applied_log)

    def applied_event_slots(self) -> list[tuple[str, int]]:
        """(case number, sequence) of each applied event, in apply order."""
        with self._lock:
            return [self._keys[k] for k in self._applied_log]

    def catalog_hashes(self) -> dict[str, str]:
        """Implementation code → content hash of every stored item."""
        with self._lock:
            return {code: item.content_hash for code, item in self._items.items()}

    def catalog(self) -> list[dict[str, Any]]:
        """The stored items' canonical JSON, ordered by implementation code."""
        with self._lock:
            return [self._items[c].data for c in self._codes()]

    def case_status(self, case_number: str) -> tuple[int | None, int]:
        """(status code or ``None``, last sequence) of a case."""
        with self._lock:
            status = self._lifecycle.status(case_number)
            code = _STATUS_TABLE.code(status) if status is not None else None
            return code, self._lifecycle.sequence(case_number)

    def state(self) -> dict[str, Any]:
        """A summary of what the platform holds (``GET /admin/state``)."""
        with self._lock:
            return {
                "items": len(self._items),
                "cases": len(self._lifecycle),
                "events_applied": len(self._applied_log),
                "requests": self._requests,
                "journal_entries": len(self.journal),
                "outcomes": {s.value: n for s, n in self.journal.outcome_counts().items()},
                "faults_fired": dict(self.journal.faults()),
                "faults": self.faults.to_json(),
                "clock": self.clock.now().isoformat(),
                "limits": {
                    "max_event_batch": self.config.max_event_batch,
                    "max_catalog_batch": self.config.max_catalog_batch,
                    "rate_limit": self.config.rate_limit,
                    "burst": self.config.burst,
                    "token_lifetime": self.config.token_lifetime,
                },
            }

    def issue_token(self, client_id: str) -> str:
        """A bearer token for ``client_id`` without a request (not journaled).

        Raises:
            KeyError: ``client_id`` is not a configured client.
        """
        if client_id not in self.config.clients:
            raise KeyError(client_id)
        with self._lock:
            token = secrets.token_urlsafe(24)
            self._tokens[token] = (client_id, self.clock.time() + self.config.token_lifetime)
            return token

    def refusing(self) -> bool:
        """Whether an ``outage:mode=refused`` window refuses a new connection now.

        A refused connection counts as a request attempt (it takes the next request number,
        without a journal entry), so a refusal window given by request count (``after``/``count``)
        closes after ``count`` refused attempts, as it does on the in-process faces.
        """
        with self._lock:
            origin_requests, origin_time = self._plan_origin
            refused = self.faults.refusing(
                self._requests - origin_requests + 1, self.clock.time() - origin_time
            )
            if refused:
                self._requests += 1
            return refused

    # --- entry point ----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> CoreResponse:
        """Answer one HTTP request (``headers`` must be case-insensitive or lower-case)."""
        method = method.upper()
        if path == "/openapi.json":
            if method != "GET":
                return self._error(405, ref.ErrorCode.MALFORMED_REQUEST, "use GET")
            document = self._openapi() if self._openapi is not None else "{}"
            return CoreResponse(200, document.encode("utf-8"), [("content-type", _JSON)])
        if path.startswith("/admin/"):
            with self._lock:
                return self._admin(method, path, query, body)
        with self._lock:
            return self._platform(method, path, query, headers, body)

    # --- platform requests ----------------------------------------------------------------------

    def _platform(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> CoreResponse:
        self._requests += 1
        index = self._requests
        now = self.clock.time()
        origin_requests, origin_time = self._plan_origin
        decision = (
            self.faults.decide(index - origin_requests, now - origin_time, path)
            if self.faults
            else Decision()
        )
        client = "-"
        outcomes = ""
        if decision.abort is not None:
            response = self._aborted(decision, path)
        else:
            try:
                response, client, outcomes = self._route(
                    method, path, query, headers, body, decision
                )
            except _Reply as reply:
                response = reply.response
            if "U" in outcomes:
                decision.labels.append("partial")
            if decision.after_apply == "lost_response":
                response = CoreResponse(0, drop="lost_response")
            elif decision.after_apply == "malformed_json" and response.body:
                response.body = response.body[: max(1, len(response.body) // 2)]
        response.latency = decision.latency
        response.dribble_bytes_per_s = decision.dribble_bytes_per_s
        self.journal.entries.append(
            JournalEntry(
                index,
                now,
                method,
                path,
                response.status,
                decision.label,
                client,
                outcomes,
                body if self.journal.capture_bodies else None,
            )
        )
        return response

    def _aborted(self, decision: Decision, path: str) -> CoreResponse:
        kind = decision.abort
        if kind in ("refused", "reset"):
            return CoreResponse(0, drop=kind)
        gateway = path.startswith("/gw/")
        if kind == "error500":
            return self._fail(gateway, 500, "internal error (injected)")
        response = self._fail(gateway, 503, "the platform is unavailable (outage)")
        if decision.retry_after is not None:
            response.headers.append(("retry-after", str(decision.retry_after)))
        return response

    def _fail(self, gateway: bool, status: int, message: str) -> CoreResponse:
        if gateway:
            code = {500: gw.GatewayCode.INTERNAL_ERROR, 503: gw.GatewayCode.UNAVAILABLE}[status]
            return self._gw_error(code, message)
        error = {500: ref.ErrorCode.INTERNAL_ERROR, 503: ref.ErrorCode.UNAVAILABLE}[status]
        return self._error(status, error, message)

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        decision: Decision,
    ) -> tuple[CoreResponse, str, str]:
        api = "gateway" if path.startswith("/gw/") else "reference"
        if api not in self.config.apis:
            raise _Reply(self._error(404, ref.ErrorCode.NOT_FOUND, f"the {api} API is not served"))
        if path == ref.TOKEN_PATH:
            self._need(method, "POST")
            return self._token(headers, body)
        if path.startswith("/gw/"):
            return self._gateway(method, path, headers, body, decision)
        if not path.startswith("/v1/"):
            raise _Reply(self._error(404, ref.ErrorCode.NOT_FOUND, f"no endpoint {path}"))
        client = self._authenticate(headers)
        self._throttle(client, gateway=False)
        if path == ref.CASE_EVENTS_BATCH_PATH:
            self._need(method, "POST")
            response, outcomes = self._events_reference(body, decision)
            return response, client, outcomes
        if path == ref.CATALOG_ITEMS_BATCH_PATH:
            self._need(method, "POST")
            response, outcomes = self._items_reference(body, decision)
            return response, client, outcomes
        if path == ref.CATALOG_DIGEST_PATH:
            self._need(method, "GET")
            return self._digest_reference(query), client, ""
        if path == ref.CATALOG_ITEMS_PATH:
            self._need(method, "GET")
            return self._listing_reference(query), client, ""
        if path.startswith("/v1/cases/") and path.count("/") == 3:
            self._need(method, "GET")
            return self._case_reference(path.rsplit("/", 1)[1]), client, ""
        raise _Reply(self._error(404, ref.ErrorCode.NOT_FOUND, f"no endpoint {path}"))

    def _need(self, method: str, allowed: str) -> None:
        if method != allowed:
            response = self._error(405, ref.ErrorCode.MALFORMED_REQUEST, f"use {allowed}")
            response.headers.append(("allow", allowed))
            raise _Reply(response)

    # --- errors ---------------------------------------------------------------------------------

    @staticmethod
    def _error(
        status: int,
        code: ref.ErrorCode,
        message: str,
        *,
        problems: list[FieldProblem] | None = None,
        **extra: Any,
    ) -> CoreResponse:
        error: dict[str, Any] = {"code": code.value, "message": message}
        if problems:
            error["problems"] = _problems_json(problems)
        error.update({k: v for k, v in extra.items() if v is not None})
        return CoreResponse(status, _dumps({"error": error}), [("content-type", _JSON)])

    def _gw_error(self, code: gw.GatewayCode, message: str, data: Any = None) -> CoreResponse:
        body = gw.envelope(data, code=code.value, msg=message)
        return CoreResponse(gw.http_status_for(code), _dumps(body), [("content-type", _JSON)])

    # --- auth, quota ----------------------------------------------------------------------------

    def _token(self, headers: Mapping[str, str], body: bytes) -> tuple[CoreResponse, str, str]:
        def oauth_error(status: int, error: str, description: str) -> CoreResponse:
            response = CoreResponse(
                status,
                _dumps({"error": error, "error_description": description}),
                [("content-type", _JSON), ("cache-control", "no-store")],
            )
            if status == 401:
                response.headers.append(("www-authenticate", 'Basic realm="govlink-mock"'))
            return response

        try:
            form = {
                k: v[0] for k, v in parse_qs(body.decode("utf-8"), strict_parsing=False).items()
            }
        except (UnicodeDecodeError, ValueError):
            raise _Reply(oauth_error(400, "invalid_request", "body must be a form")) from None
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        authorization = headers.get("authorization") or ""
        if authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _Reply(oauth_error(401, "invalid_client", "bad Basic credentials")) from None
            from urllib.parse import unquote

            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote(raw_id), unquote(raw_secret)
        who = client_id or "-"
        if form.get("grant_type") != "client_credentials":
            raise _Reply(
                oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
            )
        known = self.config.clients.get(client_id or "")
        if known is None or secret is None or not secrets.compare_digest(known, secret):
            raise _Reply(oauth_error(401, "invalid_client", "unknown client or wrong secret"))
        now = self.clock.time()
        if len(self._tokens) > 10_000:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (who, now + self.config.token_lifetime)
        payload: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.config.token_lifetime,
        }
        if form.get("scope"):
            payload["scope"] = form["scope"]
        return (
            CoreResponse(
                200, _dumps(payload), [("content-type", _JSON), ("cache-control", "no-store")]
            ),
            who,
            "",
        )

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        authorization = headers.get("authorization") or ""
        scheme, _, token = authorization.partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            reason = "missing bearer token" if not authorization else "unknown bearer token"
        elif found[1] <= self.clock.time():
            reason = "the access token has expired"
        else:
            return found[0]
        response = self._error(401, ref.ErrorCode.INVALID_TOKEN, reason)
        response.headers.append(
            ("www-authenticate", f'Bearer error="invalid_token", error_description="{reason}"')
        )
        raise _Reply(response)

    def _throttle(self, client: str, *, gateway: bool) -> None:
        rate = self.config.rate_limit
        if rate is None:
            return
        now = self.clock.time()
        burst = float(self.config.burst)
        tokens, last = self._buckets.get(client, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return
        self._buckets[client] = (tokens, now)
        wait = retry_after_seconds((1.0 - tokens) / rate)
        message = f"over the quota of {rate:g} requests/s"
        if gateway:
            response = self._gw_error(gw.GatewayCode.RATE_LIMITED, message)
        else:
            response = self._error(429, ref.ErrorCode.RATE_LIMITED, message, retry_after=wait)
        response.headers.append(("retry-after", str(wait)))
        raise _Reply(response)

    # --- reference API --------------------------------------------------------------------------

    def _parse_envelope(self, model: type[Any], body: bytes) -> Any:
        try:
            return model.model_validate_json(body)
        except PydanticValidationError as exc:
            raise _Reply(
                self._error(
                    400,
                    ref.ErrorCode.MALFORMED_REQUEST,
                    "the body is not the expected JSON envelope",
                    problems=_pydantic_problems(exc),
                )
            ) from None

    def _too_large(self, count: int, limit: int, gateway: bool) -> None:
        if count <= limit:
            return
        message = f"{count} elements, at most {limit} per request"
        if gateway:
            raise _Reply(self._gw_error(gw.GatewayCode.BATCH_TOO_LARGE, message, {"limit": limit}))
        raise _Reply(self._error(413, ref.ErrorCode.BATCH_TOO_LARGE, message, limit=limit))

    def _events_reference(self, body: bytes, decision: Decision) -> tuple[CoreResponse, str]:
        try:
            fast = _EVENTS_FAST(body).events
        except PydanticValidationError:
            fast = []
        if fast:
            self._too_large(len(fast), self.config.max_event_batch, gateway=False)
            keys = [e.wire_key for e in fast]
            outcomes = self._apply_validated(list(fast), keys, {}, decision)
        else:
            request = self._parse_envelope(ref.CaseEventsBatchRequest, body)
            self._too_large(len(request.events), self.config.max_event_batch, gateway=False)
            outcomes = self._apply_events(list(request.events), decision)
        results = []
        failed = 0
        for index, (status, key, case, seq, expected, current, problems, wait) in enumerate(
            outcomes
        ):
            result: dict[str, Any] = {"index": index, "status": _STATUS_TEXT[status]}
            if key is not None:
                result["idempotency_key"] = key
            if case is not None:
                result["case_number"] = case
                result["sequence"] = seq
            if status is not _APPLIED and status is not _DUPLICATE:
                failed += 1
                if expected is not None:
                    result["expected_sequence"] = expected
                if current is not None:
                    result["current_status"] = current
                if problems:
                    result["problems"] = _problems_json(problems)
                if wait is not None:
                    result["retry_after"] = wait
            results.append(result)
        return (
            CoreResponse(
                200, _dumps({"results": results, "failed": failed}), [("content-type", _JSON)]
            ),
            "".join(OUTCOME_CHARS[o[0]] for o in outcomes),
        )

    def _items_reference(self, body: bytes, decision: Decision) -> tuple[CoreResponse, str]:
        request = self._parse_envelope(ref.CatalogBatchRequest, body)
        self._too_large(len(request.items), self.config.max_catalog_batch, gateway=False)
        outcomes = self._apply_items(list(request.items), decision)
        results = []
        failed = 0
        for index, (status, code, revision, content_hash, problems, wait) in enumerate(outcomes):
            result: dict[str, Any] = {"index": index, "status": status.value}
            if code is not None:
                result["implementation_code"] = code
            if revision is not None:
                result["revision"] = revision
                result["content_hash"] = content_hash
            if problems:
                result["problems"] = _problems_json(problems)
            if wait is not None:
                result["retry_after"] = wait
            if not status.acknowledged:
                failed += 1
            results.append(result)
        return (
            CoreResponse(
                200, _dumps({"results": results, "failed": failed}), [("content-type", _JSON)]
            ),
            "".join(OUTCOME_CHARS[o[0]] for o in outcomes),
        )

    def _page(
        self, query: Mapping[str, str], gateway: bool = False
    ) -> tuple[list[str], str | None]:
        size_text = query.get("page_size", str(ref.DEFAULT_PAGE_SIZE))
        token = query.get("page_token") or None
        problems = []
        try:
            size = int(size_text)
            if size < 1:
                raise ValueError
        except ValueError:
            problems.append(FieldProblem("page_size", "range", "page_size must be an integer >= 1"))
            size = 0
        after = None
        if token is not None:
            try:
                after = ref.decode_page_token(token)
            except ValueError as exc:
                problems.append(FieldProblem("page_token", "page_token", str(exc)))
        if problems:
            if gateway:
                raise _Reply(self._gw_error(gw.GatewayCode.MALFORMED_REQUEST, problems[0].message))
            raise _Reply(
                self._error(
                    400, ref.ErrorCode.MALFORMED_REQUEST, "bad paging parameters", problems=problems
                )
            )
        size = min(size, ref.MAX_PAGE_SIZE)
        codes = self._codes()
        start = bisect_right(codes, after) if after is not None else 0
        page = codes[start : start + size]
        more = start + size < len(codes)
        return page, (ref.encode_page_token(page[-1]) if more and page else None)

    def _codes(self) -> list[str]:
        if self._sorted_codes is None:
            self._sorted_codes = sorted(self._items)
        return self._sorted_codes

    def _digest_reference(self, query: Mapping[str, str]) -> CoreResponse:
        page, next_token = self._page(query)
        entries = []
        for code in page:
            item = self._items[code]
            entries.append(
                {
                    "implementation_code": code,
                    "content_hash": item.content_hash,
                    "version": item.version,
                    "revision": item.revision,
                }
            )
        body = {"items": entries, "next_page_token": next_token, "total": len(self._items)}
        return CoreResponse(200, _dumps(body), [("content-type", _JSON)])

    def _listing_reference(self, query: Mapping[str, str]) -> CoreResponse:
        page, next_token = self._page(query)
        body = {
            "items": [self._items[c].data for c in page],
            "next_page_token": next_token,
            "total": len(self._items),
        }
        return CoreResponse(200, _dumps(body), [("content-type", _JSON)])

    def _case_reference(self, case_number: str) -> CoreResponse:
        from urllib.parse import unquote

        case_number = unquote(case_number)
        if case_number not in self._lifecycle:
            raise _Reply(self._error(404, ref.ErrorCode.NOT_FOUND, "no such case"))
        code, sequence = self.case_status(case_number)
        body = {
            "case_number": case_number,
            "status": code,
            "last_sequence": sequence,
            "events_applied": self._case_counts.get(case_number, 0),
        }
        return CoreResponse(200, _dumps(body), [("content-type", _JSON)])

    # --- applying -------------------------------------------------------------------------------

    def _apply_events(
        self,
        raw: list[Any],
        decision: Decision,
        pre_problems: Mapping[int, list[FieldProblem]] | None = None,
    ) -> list[_Outcome]:
        """Validate and apply a batch of canonical event dicts; one outcome per element."""
        explicit: list[str | None] = [None] * len(raw)
        problems: dict[int, list[FieldProblem]] = dict(pre_problems or {})
        for index, element in enumerate(raw):
            if index in problems:
                continue
            if not isinstance(element, dict):
                problems[index] = [FieldProblem("(root)", "type", "an event is a JSON object")]
                continue
            if "idempotency_key" in element:
                key = element.pop("idempotency_key")
                if not isinstance(key, str) or not 1 <= len(key) <= 200:
                    problems[index] = [
                        FieldProblem(
                            "idempotency_key", "type", "idempotency_key is a string of 1-200 chars"
                        )
                    ]
                    continue
                explicit[index] = key
        events: list[CaseStatusEvent | None]
        try:
            if problems:
                raise ValueError("slow path")
            events = list(_EVENT_LIST.validate_python(raw))
        except (PydanticValidationError, ValueError):
            # Only a batch with a bad element takes the per-element path, which gives each
            # element govlink's own field/rule problems.
            events = []
            for index, element in enumerate(raw):
                if index in problems:
                    events.append(None)
                    continue
                try:
                    events.append(parse_case_event(element))
                except ValidationError as exc:
                    problems[index] = list(exc.problems)
                    events.append(None)
        return self._apply_validated(events, explicit, problems, decision)

    def _apply_validated(
        self,
        events: list[CaseStatusEvent | None],
        explicit: list[str | None],
        problems: Mapping[int, list[FieldProblem]],
        decision: Decision,
    ) -> list[_Outcome]:
        """Apply validated events (``None``: refused with ``problems[index]``) in order."""
        partial = decision.partial_rate
        draw = self.faults.random.random
        keys = self._keys
        advance = self._lifecycle.advance
        log = self._applied_log
        counts = self._case_counts
        outcomes: list[_Outcome] = []
        for index, event in enumerate(events):
            roll = draw() if partial else 1.0
            if event is None:
                outcomes.append(
                    (_RS.REJECTED, explicit[index], None, None, None, None, problems[index], None)
                )
                continue
            case_number = intern(event.case_number)  # one string per case, not per event
            sequence = event.sequence
            key = explicit[index] or f"{event.hall}:case:{case_number}:{sequence}"
            seen = keys.get(key)
            if seen is not None:
                if seen == (case_number, sequence):
                    outcomes.append(
                        (_DUPLICATE, key, case_number, sequence, None, None, None, None)
                    )
                else:
                    outcomes.append(
                        (
                            _RS.REJECTED,
                            key,
                            case_number,
                            sequence,
                            None,
                            None,
                            [
                                FieldProblem(
                                    "idempotency_key",
                                    "idempotency_key_reused",
                                    f"key already used for {seen[0]} sequence {seen[1]}",
                                )
                            ],
                            None,
                        )
                    )
                continue
            if roll < partial:
                outcomes.append(
                    (
                        _RS.UNAVAILABLE,
                        key,
                        case_number,
                        sequence,
                        None,
                        None,
                        None,
                        decision.partial_retry_after,
                    )
                )
                continue
            try:
                advance(case_number, sequence, event.status)
            except CaseTransitionError as exc:
                rule = exc.problems[0].rule
                if rule in ("sequence_gap", "sequence_repeat"):
                    outcomes.append(
                        (
                            _RS.OUT_OF_ORDER,
                            key,
                            case_number,
                            sequence,
                            exc.expected_sequence,
                            None,
                            list(exc.problems),
                            None,
                        )
                    )
                else:
                    current = (
                        _STATUS_TABLE.code(exc.from_status) if exc.from_status is not None else None
                    )
                    outcomes.append(
                        (
                            _RS.ILLEGAL_TRANSITION,
                            key,
                            case_number,
                            sequence,
                            None,
                            current,
                            list(exc.problems),
                            None,
                        )
                    )
                continue
            keys[key] = (case_number, sequence)
            log.append(key)
            counts[case_number] = counts.get(case_number, 0) + 1
            outcomes.append((_APPLIED, key, case_number, sequence, None, None, None, None))
        return outcomes

    def _apply_items(
        self,
        raw: list[Any],
        decision: Decision,
        pre_problems: Mapping[int, list[FieldProblem]] | None = None,
    ) -> list[
        tuple[
            ref.ResultStatus,
            str | None,
            int | None,
            str | None,
            list[FieldProblem] | None,
            int | None,
        ]
    ]:
        partial = decision.partial_rate
        draw = self.faults.random.random
        outcomes: list[
            tuple[
                ref.ResultStatus,
                str | None,
                int | None,
                str | None,
                list[FieldProblem] | None,
                int | None,
            ]
        ] = []
        for index, element in enumerate(raw):
            roll = draw() if partial else 1.0
            code = element.get("implementation_code") if isinstance(element, dict) else None
            code = code if isinstance(code, str) else None
            if pre_problems and index in pre_problems:
                outcomes.append((_RS.REJECTED, code, None, None, list(pre_problems[index]), None))
                continue
            try:
                item = parse_item(element, check=self.config.check_items)
            except ValidationError as exc:
                outcomes.append((_RS.REJECTED, code, None, None, list(exc.problems), None))
                continue
            code = item.implementation_code
            content_hash = item.content_hash()
            stored = self._items.get(code)
            if stored is not None and stored.content_hash == content_hash:
                outcomes.append((_RS.DUPLICATE, code, stored.revision, content_hash, None, None))
                continue
            if stored is not None and item.version < stored.version:
                problem = FieldProblem(
                    "version",
                    "stale_version",
                    f"version {item.version} is older than the stored version {stored.version}",
                )
                outcomes.append(
                    (_RS.REJECTED, code, stored.revision, stored.content_hash, [problem], None)
                )
                continue
            if roll < partial:
                outcomes.append(
                    (_RS.UNAVAILABLE, code, None, None, None, decision.partial_retry_after)
                )
                continue
            revision = stored.revision + 1 if stored is not None else 1
            if stored is None:
                self._sorted_codes = None
            self._items[code] = _StoredItem(item.wire_dict(), content_hash, item.version, revision)
            outcomes.append((_RS.APPLIED, code, revision, content_hash, None, None))
        return outcomes

    # --- gateway --------------------------------------------------------------------------------

    def _gateway(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        decision: Decision,
    ) -> tuple[CoreResponse, str, str]:
        if path not in (gw.CASE_STATUS_PUSH_PATH, gw.CATALOG_PUSH_PATH, gw.CATALOG_DIGEST_PATH):
            raise _Reply(self._gw_error(gw.GatewayCode.MALFORMED_REQUEST, f"no endpoint {path}"))
        if method != "POST":
            raise _Reply(self._gw_error(gw.GatewayCode.MALFORMED_REQUEST, "use POST"))
        try:
            app = gw.verify_signature(
                self.config.gateway_apps,
                method,
                path,
                headers,
                body,
                now=self.clock.time(),
                nonces=self._nonces,
            )
        except gw.SignatureRejected as exc:
            raise _Reply(self._gw_error(exc.gateway_code, exc.message)) from None
        self._throttle(app.app_id, gateway=True)
        if path == gw.CATALOG_DIGEST_PATH:
            request = self._gw_envelope(gw.DigestRequest, body)
            query = {"page_size": str(request.mytss)}
            if request.ym:
                query["page_token"] = request.ym
            page, next_token = self._page(query, gateway=True)
            records = [
                {
                    "ssbm": c,
                    "nrhx": self._items[c].content_hash,
                    "bbh": self._items[c].version,
                    "xdh": self._items[c].revision,
                }
                for c in page
            ]
            data = {"sxlb": records, "xyym": next_token, "zs": len(self._items)}
            return self._gw_ok(app, data), app.app_id, ""
        if path == gw.CASE_STATUS_PUSH_PATH:
            request = self._gw_envelope(gw.CaseStatusPushRequest, body)
            self._too_large(len(request.bjztlb), self.config.max_event_batch, gateway=True)
            canonical: list[Any] = []
            pre: dict[int, list[FieldProblem]] = {}
            for index, element in enumerate(request.bjztlb):
                try:
                    canonical.append(gw.decode_event(element, app))
                except ValidationError as exc:
                    pre[index] = list(exc.problems)
                    canonical.append(None)
            outcomes = self._apply_events(canonical, decision, pre)
            results = []
            for index, (status, key, _case, _seq, expected, current, problems, wait) in enumerate(
                outcomes
            ):
                results.append(
                    self._gw_result(
                        index, status, problems, wybs=key, qwxh=expected, dqzt=current, ddms=wait
                    )
                )
            chars = "".join(OUTCOME_CHARS[o[0]] for o in outcomes)
            failed = sum(1 for o in outcomes if not o[0].acknowledged)
            return self._gw_ok(app, {"jg": results, "sbs": failed}), app.app_id, chars
        request = self._gw_envelope(gw.CatalogPushRequest, body)
        self._too_large(len(request.sxlb), self.config.max_catalog_batch, gateway=True)
        items = [gw.decode_item(element) for element in request.sxlb]
        item_outcomes = self._apply_items(items, decision)
        results = [
            self._gw_result(
                i, status, problems, ssbm=code, xdh=revision, nrhx=content_hash, ddms=wait
            )
            for i, (status, code, revision, content_hash, problems, wait) in enumerate(
                item_outcomes
            )
        ]
        chars = "".join(OUTCOME_CHARS[o[0]] for o in item_outcomes)
        failed = sum(1 for o in item_outcomes if not o[0].acknowledged)
        return self._gw_ok(app, {"jg": results, "sbs": failed}), app.app_id, chars

    def _gw_envelope(self, model: type[Any], body: bytes) -> Any:
        try:
            return model.model_validate_json(body)
        except PydanticValidationError as exc:
            problems = _pydantic_problems(exc)
            raise _Reply(
                self._gw_error(
                    gw.GatewayCode.MALFORMED_REQUEST,
                    "the body is not the expected JSON envelope",
                    {"wtlb": [{"zd": p.field, "gz": p.rule, "sm": p.message} for p in problems]},
                )
            ) from None

    @staticmethod
    def _gw_result(
        index: int,
        status: ref.ResultStatus,
        problems: list[FieldProblem] | None,
        **members: Any,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"xh": index, "cljg": status.value}
        result.update({k: v for k, v in members.items() if v is not None})
        if problems:
            result["wtlb"] = [{"zd": p.field, "gz": p.rule, "sm": p.message} for p in problems]
        return result

    @staticmethod
    def _gw_ok(app: gw.GatewayConfig, data: Any) -> CoreResponse:
        body = gw.envelope(data, code=app.success_code)
        return CoreResponse(200, _dumps(body), [("content-type", _JSON)])

    # --- admin ----------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> CoreResponse:
        def ok(data: Any) -> CoreResponse:
            return CoreResponse(200, _dumps(data), [("content-type", _JSON)])

        if path == "/admin/state" and method == "GET":
            return ok(self.state())
        if path == "/admin/journal" and method == "GET":
            try:
                since = int(query.get("since", "0"))
                limit = int(query["limit"]) if "limit" in query else None
            except ValueError:
                return self._error(400, ref.ErrorCode.MALFORMED_REQUEST, "since/limit: integers")
            return ok({"entries": self.journal.to_list(since, limit), "total": len(self.journal)})
        if path == "/admin/reset" and method == "POST":
            self.reset()
            return ok({"reset": True})
        if path == "/admin/faults" and method == "GET":
            return ok(self.faults.to_json())
        if path == "/admin/faults" and method == "POST":
            try:
                data = json.loads(body or b"{}")
                plan = FaultPlan.from_json(data)
            except json.JSONDecodeError as exc:
                return self._error(400, ref.ErrorCode.MALFORMED_REQUEST, f"not JSON: {exc}")
            except ValidationError as exc:
                return self._error(
                    400, ref.ErrorCode.MALFORMED_REQUEST, exc.message, problems=list(exc.problems)
                )
            self.set_faults(plan)
            return ok(plan.to_json())
        if path == "/admin/catalog" and method == "GET":
            return ok({"items": self.catalog()})
        return self._error(404, ref.ErrorCode.NOT_FOUND, f"no admin endpoint {method} {path}")
