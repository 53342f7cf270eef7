"""The ``reference`` province adapter: JSON REST with OAuth2 client credentials.

The wire format (paths, limits, models) is :mod:`govlink.adapters.reference.wire`, shared with
the mock province; this module only drives it. Authentication goes through Authlib's httpx
client (:class:`AsyncOAuth2Client`, client credentials, HTTP Basic client authentication): the
token is fetched on first use, attached to every request, and fetched afresh when the core calls
:meth:`ReferenceAdapter.refresh_credentials` after a 401.

Per-element results map onto the sync core's :class:`~govlink.sync.adapter.Outcome`:

=======================  ==========================================================
wire status              outcome
=======================  ==========================================================
``applied``              ``APPLIED``
``duplicate``            ``DUPLICATE`` (applied earlier: a resend after a lost answer)
``rejected``             ``REJECTED`` (``code`` = the first problem's rule, ``field`` its field)
``illegal_transition``   ``REJECTED`` (``code`` ``illegal_transition``)
``out_of_order``         ``REJECTED`` with ``expected_sequence`` — except when an earlier
                         entry of the same lane in the same batch was not acknowledged, in
                         which case the refusal is a consequence, not a fault: ``RETRY``
``unavailable``          ``RETRY`` (with the element's ``retry_after``)
=======================  ==========================================================

The mapping and the per-element loop are the adapter kit's (:func:`govlink.sync.adapter.
decode_elements`): the reference API speaks the kit's common vocabulary word for word.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

from authlib.common.errors import AuthlibBaseError
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import SettingsConfigDict

from ... import Clock, ValidationError, system_clock
from ..._http import AsyncOAuth2Client, httpx
from ...sync.adapter import (
    CASE_EVENT,
    CATALOG_ENDPOINT,
    CATALOG_ITEM,
    AdapterSettings,
    CatalogDigestEntry,
    CatalogDigestPage,
    Delivery,
    ElementAnswer,
    ItemResult,
    PlatformAuthError,
    PlatformError,
    WireRequest,
    WireResponse,
    check_base_url,
    classify_status,
    decode_elements,
    digest_version,
    kind_endpoint,
    load_adapter_settings,
    mask_text,
    secret_value,
    to_wire_response,
    transport_errors,
    unknown_kind,
    unreadable,
)
from . import wire

__all__ = ["ReferenceAdapter", "ReferenceSettings"]

_JSON: Final = {"content-type": "application/json"}
_MAX_DETAIL: Final = 300
#: What an operator should check when the platform refuses this client's credentials.
_CREDENTIALS_FIX: Final = (
    "check GOVLINK_REFERENCE_CLIENT_ID and GOVLINK_REFERENCE_CLIENT_SECRET (or "
    "[adapters.reference] in govlink.toml) against the client registered at the platform"
)


def _splice_key(payload_json: str, idempotency_key: str) -> str:
    # The canonical JSON already is the wire element; the outbox's idempotency key is added as
    # the first member without re-serialising the event (the hot path of a year of events).
    body = payload_json.strip()
    if not body.startswith("{"):
        raise ValidationError(
            "canonical payload is not a JSON object", field="payload", rule="json_object"
        )
    rest = body[1:].lstrip()
    separator = "" if rest.startswith("}") else ","
    return '{"idempotency_key":' + json.dumps(idempotency_key) + separator + rest


class ReferenceSettings(AdapterSettings):
    """The reference adapter's settings: ``GOVLINK_REFERENCE_<FIELD>`` environment variables,
    else the ``[adapters.reference]`` table of ``govlink.toml``.

    Used for every option the code constructing the adapter does not pass; without them the
    adapter uses the mock province's development credentials. The secret is a
    :class:`pydantic.SecretStr`: never printed, logged or shown in a ``repr``.
    """

    model_config = SettingsConfigDict(env_prefix="GOVLINK_REFERENCE_", extra="ignore", frozen=True)
    adapter_table = "reference"

    client_id: str = wire.DEMO_CLIENT_ID
    client_secret: SecretStr = SecretStr(wire.DEMO_CLIENT_SECRET)
    scope: str | None = None
    timeout: float = 30.0
    requests_per_second: float | None = None


class ReferenceAdapter:
    """The ``reference`` provincial API (see :mod:`govlink.adapters.reference.wire`).

    Options (keyword only): ``base_url`` of the platform; ``clock``; ``transport`` (an
    ``httpx.AsyncBaseTransport``, e.g. the mock province in-process); ``client_id`` and
    ``client_secret`` (a :class:`pydantic.SecretStr` or text; never logged or shown in
    ``repr``); ``scope``; ``timeout`` in seconds; ``requests_per_second`` (the platform's quota
    for this client, honoured by the dispatcher); ``page_size`` of digest pages. Options not
    given come from :class:`ReferenceSettings` (``GOVLINK_REFERENCE_*``).

    Raises:
        ConfigError: a ``base_url`` that is not an http(s) URL, or a ``GOVLINK_REFERENCE_*``
            variable that does not parse. Credentials are checked by the platform on first use
            (:class:`~govlink.sync.adapter.PlatformAuthError`).
    """

    name = "reference"
    max_batch: int = wire.MAX_EVENT_BATCH
    #: Per-kind limits (read through :func:`govlink.sync.adapter.batch_limit`).
    max_batch_by_kind: Mapping[str, int] = {
        CATALOG_ITEM: wire.MAX_CATALOG_BATCH,
        CASE_EVENT: wire.MAX_EVENT_BATCH,
    }

    def __init__(
        self,
        *,
        base_url: str,
        clock: Clock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        scope: str | None = None,
        timeout: float | None = None,
        requests_per_second: float | None = None,
        page_size: int = wire.DEFAULT_PAGE_SIZE,
    ) -> None:
        settings = load_adapter_settings(ReferenceSettings)
        self.base_url = check_base_url(base_url)
        client_id = client_id if client_id is not None else settings.client_id
        client_secret = client_secret if client_secret is not None else settings.client_secret
        scope = scope if scope is not None else settings.scope
        timeout = timeout if timeout is not None else settings.timeout
        if requests_per_second is None:
            requests_per_second = settings.requests_per_second
        self.clock = clock
        self.requests_per_second = requests_per_second
        self.page_size = page_size
        self._client_id = client_id
        self._token_url = self.base_url + wire.TOKEN_PATH
        self._client = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=secret_value(client_secret),
            scope=scope,
            token_endpoint=self._token_url,
            grant_type="client_credentials",
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
        )
        self._client.register_compliance_hook("access_token_response", self._check_token_answer)
        #: Tokens fetched so far (for tests and counters; the token itself is never exposed).
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"ReferenceAdapter(base_url={self.base_url!r}, client_id={self._client_id!r})"

    # --- the protocol: pure parts -----------------------------------------------------------

    def endpoint(self, kind: str) -> str:
        """``"catalog"`` for catalog items, ``"cases"`` for case status events."""
        return kind_endpoint(kind)

    def encode(self, kind: str, deliveries: Sequence[Delivery]) -> WireRequest:
        """``items:batch`` or ``events:batch`` carrying the deliveries' canonical JSON.

        Events carry the outbox's idempotency key as ``idempotency_key``.

        Raises:
            ValidationError: rule ``json_object`` when a stored payload is not a JSON object.
            ValueError: an unknown kind or an empty batch (programmer mistakes).
        """
        if not deliveries:
            raise ValueError("encode needs at least one delivery")
        if kind == CATALOG_ITEM:
            for delivery in deliveries:
                if not delivery.payload_json.lstrip().startswith("{"):
                    raise ValidationError(
                        "canonical payload is not a JSON object",
                        field="payload",
                        rule="json_object",
                    )
            body = '{"items":[' + ",".join(d.payload_json for d in deliveries) + "]}"
            path = wire.CATALOG_ITEMS_BATCH_PATH
        elif kind == CASE_EVENT:
            elements = ",".join(_splice_key(d.payload_json, d.idempotency_key) for d in deliveries)
            body = '{"events":[' + elements + "]}"
            path = wire.CASE_EVENTS_BATCH_PATH
        else:
            raise unknown_kind(kind)
        return WireRequest(
            "POST", path, self.endpoint(kind), content=body.encode("utf-8"), headers=_JSON
        )

    def _request_failure(self, response: WireResponse) -> PlatformError | None:
        if 200 <= response.status <= 299:
            return None
        detail = ""
        try:
            error = wire.ErrorResponse.model_validate_json(response.content).error
            detail = f"{error.code.value}: {mask_text(error.message)}"[:_MAX_DETAIL]
        except PydanticValidationError:
            detail = ""
        return classify_status(
            response.status,
            response.headers,
            now=self.clock.time(),
            detail=detail,
            credentials_fix=_CREDENTIALS_FIX,
        )

    def decode(
        self, kind: str, deliveries: Sequence[Delivery], response: WireResponse
    ) -> Sequence[ItemResult]:
        """One :class:`ItemResult` per delivery, in delivery order.

        Raises:
            PlatformError: a non-2xx answer (classified by
                :func:`govlink.sync.adapter.classify_status`).
            PlatformUnreachable: a 2xx answer that is not the batch response.
        """
        failure = self._request_failure(response)
        if failure is not None:
            raise failure
        model: type[wire.CatalogBatchResponse | wire.CaseEventsBatchResponse]
        if kind == CATALOG_ITEM:
            model = wire.CatalogBatchResponse
        elif kind == CASE_EVENT:
            model = wire.CaseEventsBatchResponse
        else:
            raise unknown_kind(kind)
        try:
            parsed = model.model_validate_json(response.content)
        except PydanticValidationError:
            raise unreadable("not a batch response") from None
        return decode_elements(
            deliveries, ((element.index, _answer(element)) for element in parsed.results)
        )

    def encode_digest_request(self, page_token: str | None = None) -> WireRequest:
        """``GET /v1/catalog/digest`` for one page."""
        query = f"?page_size={self.page_size}"
        if page_token is not None:
            query += f"&page_token={page_token}"
        return WireRequest("GET", wire.CATALOG_DIGEST_PATH + query, CATALOG_ENDPOINT)

    def decode_digest_page(self, response: WireResponse) -> CatalogDigestPage:
        """One page of the platform's catalog digest.

        Raises:
            PlatformError: a non-2xx answer.
            PlatformUnreachable: a 2xx answer that is not a digest page.
        """
        failure = self._request_failure(response)
        if failure is not None:
            raise failure
        try:
            page = wire.CatalogDigestPage.model_validate_json(response.content)
        except PydanticValidationError:
            raise unreadable("not a catalog digest page") from None
        return CatalogDigestPage(
            tuple(
                CatalogDigestEntry(e.implementation_code, digest_version(e.version), e.content_hash)
                for e in page.items
            ),
            page.next_page_token,
        )

    # --- the protocol: I/O ------------------------------------------------------------------

    def _check_token_answer(self, response: httpx.Response) -> httpx.Response:
        # Authlib reads every token answer as a token; a 503 page or a 429 must instead become
        # the core's retryable PlatformError, and refused credentials a PlatformAuthError.
        if 200 <= response.status_code <= 299:
            try:
                answer = json.loads(response.content)
            except ValueError:
                raise unreadable("token endpoint answer is not JSON") from None
            if isinstance(answer, dict) and isinstance(answer.get("access_token"), str):
                return response
            if isinstance(answer, dict) and "error" in answer:
                raise PlatformAuthError(
                    f"token endpoint refused the client credentials ({answer['error']!s:.40})",
                    fix=_CREDENTIALS_FIX,
                )
            raise unreadable("token endpoint answer carries no access_token")
        if response.status_code in (400, 401):
            try:
                refusal = wire.OAuthError.model_validate_json(response.content).error
            except PydanticValidationError:
                refusal = "invalid_client"
            raise PlatformAuthError(
                f"token endpoint refused the client credentials ({refusal}, "
                f"HTTP {response.status_code})",
                fix=_CREDENTIALS_FIX,
            )
        failure = classify_status(
            response.status_code,
            to_wire_response(response).headers,
            now=self.clock.time(),
            detail="token endpoint",
        )
        assert failure is not None  # a non-2xx status always classifies as a failure
        raise failure

    async def _fetch_token(self) -> None:
        await self._client.fetch_token(self._token_url, grant_type="client_credentials")
        self.tokens_fetched += 1

    async def send(self, request: WireRequest) -> WireResponse:
        """Send once with a bearer token (fetched first when there is none).

        Raises:
            PlatformUnreachable: connection refused or reset, timeout, broken answer.
            PlatformRefused: the platform URL is not usable.
            PlatformAuthError: the token endpoint refused the client credentials.
            PlatformError: the token endpoint failed (429, 5xx; retryable).
        """
        try:
            with transport_errors(request.endpoint):
                if not self._client.token:
                    await self._fetch_token()
                answer = await self._client.request(
                    request.method,
                    request.path,
                    content=request.content,
                    headers=dict(request.headers),
                )
        except ValueError as exc:
            # Authlib's JSON parse of a 2xx token answer that is not JSON.
            raise unreadable(f"token endpoint ({type(exc).__name__})") from None
        except AuthlibBaseError as exc:
            raise _token_refused(exc) from None
        return to_wire_response(answer)

    async def refresh_credentials(self) -> None:
        """Forget the token; a new one is fetched now (and on the next send if this fails).

        Raises:
            PlatformUnreachable, PlatformAuthError, PlatformError: as :meth:`send`.
        """
        self._client.token = None
        try:
            with transport_errors("token endpoint"):
                await self._fetch_token()
        except ValueError as exc:
            raise unreadable(f"token endpoint ({type(exc).__name__})") from None
        except AuthlibBaseError as exc:
            raise _token_refused(exc) from None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _answer(element: wire.ItemResult | wire.EventResult) -> ElementAnswer:
    if element.status.acknowledged and not element.problems:
        return ElementAnswer.plain(element.status)  # most answers: nothing more to read
    return ElementAnswer(
        element.status,
        [(p.field, p.rule, p.message) for p in element.problems],
        getattr(element, "expected_sequence", None),
        getattr(element, "current_status", None),
        element.retry_after,
    )


def _token_refused(exc: Exception) -> PlatformAuthError:
    # A 2xx token answer that still carries an OAuth error, or no usable token: the endpoint
    # refuses this client (retryable for the outbox, like a 401), never a case's fault.
    error = getattr(exc, "error", None) or type(exc).__name__
    return PlatformAuthError(f"token endpoint gave no usable token ({error})", fix=_CREDENTIALS_FIX)
