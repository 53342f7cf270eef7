"""The ``gateway`` province adapter: signed requests and the ``{code, msg, data}`` envelope.

Modelled on the provincial gateways of domain reference §8. The wire contract — signing,
replay guard,
envelope, pinyin field tables, numeric status codes, SM4 field encryption — is
:mod:`govlink.adapters.gateway.wire`, shared with the mock province; this module only drives it:

* every attempt is signed afresh (app id + millisecond timestamp from the injected clock + a
  new nonce + HMAC-SHA256 or HMAC-SM3 signature), so an inner retry is never a replay;
* elements are the canonical JSON translated to pinyin names, statuses as domain reference §5 codes,
  personal-data fields SM4-encrypted when a key is configured;
* a failure envelope is classified by the HTTP status the gateway pairs with its code (401 for
  signature refusals, 429 with Retry-After, 503, ...); a 200 carrying a failure code is
  classified by the same table, and an unknown failure code is poison;
* per-element results (``cljg``) use the adapter kit's common vocabulary and its decode loop
  (:func:`govlink.sync.adapter.decode_elements`).

There is no token: :meth:`GatewayAdapter.refresh_credentials` does nothing, and the core's
resend after a 401 is simply signed again (a fresh timestamp and nonce cure a skewed or replayed
request; a wrong secret stays refused and becomes
:class:`~govlink.sync.adapter.PlatformAuthError`, which ends the run with what to fix).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import SettingsConfigDict

from ... import Clock, ConfigError, ValidationError, system_clock
from ..._http import httpx
from ...domain import CaseStatus, StatusCodeTable
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

__all__ = ["GatewayAdapter", "GatewaySettings"]

_JSON: Final = {"content-type": "application/json"}
_MAX_DETAIL: Final = 300
_CREDENTIALS: Final = "GOVLINK_GATEWAY_APP_ID and GOVLINK_GATEWAY_APP_SECRET"
#: What an operator should do when the gateway keeps refusing the signing headers, by code.
_FIXES: Final[dict[str, str]] = {
    wire.GatewayCode.UNKNOWN_APP: f"check {_CREDENTIALS} against the app the platform issued",
    wire.GatewayCode.BAD_SIGNATURE: (
        f"check {_CREDENTIALS} and GOVLINK_GATEWAY_SIGN_METHOD against the app the platform issued"
    ),
    wire.GatewayCode.TIMESTAMP_SKEW: (
        "this machine's clock is too far from the platform's: synchronise it (NTP)"
    ),
    wire.GatewayCode.MISSING_AUTH: f"check {_CREDENTIALS} (a signing header was refused)",
    wire.GatewayCode.NONCE_REPLAYED: "the platform refused fresh nonces: ask its operator",
}
_DEFAULT_FIX: Final = f"check {_CREDENTIALS} and GOVLINK_GATEWAY_SIGN_METHOD"


class GatewaySettings(AdapterSettings):
    """The gateway adapter's settings: ``GOVLINK_GATEWAY_<FIELD>`` environment variables,
    else the ``[adapters.gateway]`` table of ``govlink.toml``.

    Used for every option the code constructing the adapter does not pass; without them the
    adapter uses the mock province's development app. ``app_secret`` and ``sm4_key`` are
    :class:`pydantic.SecretStr`: never printed, logged or shown in a ``repr``.
    """

    model_config = SettingsConfigDict(env_prefix="GOVLINK_GATEWAY_", extra="ignore", frozen=True)
    adapter_table = "gateway"

    app_id: str = wire.DEMO_APP_ID
    app_secret: SecretStr = SecretStr(wire.DEMO_APP_SECRET)
    sign_method: str = wire.SignMethod.HMAC_SHA256.value
    success_code: str = wire.DEFAULT_SUCCESS_CODE
    sm4_key: SecretStr | None = None
    sm4_mode: Literal["GCM", "CBC"] = "GCM"
    timeout: float = 30.0
    requests_per_second: float | None = None


def _new_nonce() -> str:
    return secrets.token_hex(16)


def _object(payload_json: str) -> dict[str, Any]:
    try:
        data = json.loads(payload_json)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValidationError(
            "canonical payload is not a JSON object", field="payload", rule="json_object"
        )
    return data


class GatewayAdapter:
    """A provincial gateway (see :mod:`govlink.adapters.gateway.wire`).

    Options (keyword only): ``base_url``; ``clock`` (signing timestamps come from it);
    ``transport``; ``app_id`` and ``app_secret`` (:class:`pydantic.SecretStr` or text, never
    logged); ``sign_method`` (``"HMAC-SHA256"`` or ``"HMAC-SM3"``); ``success_code`` (envelope
    code meaning success, default ``"000000"``); ``sm4_key`` (32 hex characters; personal-data
    fields are then SM4-encrypted) and ``sm4_mode`` (``"GCM"`` or ``"CBC"``);
    ``encrypted_event_fields``; ``status_codes`` (the platform's numbering of case statuses,
    ``{status value: code}`` overrides of domain reference §5); ``timeout``;
    ``requests_per_second``;
    ``page_size``; ``nonce_factory`` (a callable returning nonces; tests use it to replay one).
    Options not given come from :class:`GatewaySettings` (``GOVLINK_GATEWAY_*``).

    Raises:
        ConfigError: a ``base_url`` that is not an http(s) URL, an unknown sign method or
            status, an SM4 key that is not 32 hex characters, two statuses sharing a code, or a
            ``GOVLINK_GATEWAY_*`` variable that does not parse.
    """

    name = "gateway"
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
        app_id: str | None = None,
        app_secret: str | SecretStr | None = None,
        sign_method: str | None = None,
        success_code: str | None = None,
        sm4_key: str | SecretStr | None = None,
        sm4_mode: Literal["GCM", "CBC"] | None = None,
        encrypted_event_fields: Sequence[str] = wire.DEFAULT_ENCRYPTED_EVENT_FIELDS,
        status_codes: Mapping[str, int] | None = None,
        timeout: float | None = None,
        requests_per_second: float | None = None,
        page_size: int = 1000,
        nonce_factory: Callable[[], str] | None = None,
    ) -> None:
        settings = load_adapter_settings(GatewaySettings)
        self.base_url = check_base_url(base_url)
        app_id = app_id if app_id is not None else settings.app_id
        app_secret = app_secret if app_secret is not None else settings.app_secret
        sign_method = sign_method if sign_method is not None else settings.sign_method
        success_code = success_code if success_code is not None else settings.success_code
        sm4_key = sm4_key if sm4_key is not None else settings.sm4_key
        sm4_mode = sm4_mode if sm4_mode is not None else settings.sm4_mode
        timeout = timeout if timeout is not None else settings.timeout
        if requests_per_second is None:
            requests_per_second = settings.requests_per_second
        try:
            method = wire.SignMethod(sign_method)
        except ValueError:
            choices = ", ".join(m.value for m in wire.SignMethod)
            raise ConfigError(
                f"gateway sign_method {sign_method!r}: expected one of {choices}"
            ) from None
        try:
            table = StatusCodeTable(
                {CaseStatus(k): int(v) for k, v in (status_codes or {}).items()}
            )
        except ValueError as exc:
            raise ConfigError(f"gateway status_codes: {exc}") from None
        self.config = wire.GatewayConfig(
            app_id=app_id,
            app_secret=secret_value(app_secret) or "",
            sign_method=method,
            success_code=success_code,
            sm4_key=secret_value(sm4_key),
            sm4_mode=sm4_mode,
            status_codes=table,
            encrypted_event_fields=tuple(encrypted_event_fields),
        )
        self.clock = clock
        self.requests_per_second = requests_per_second
        self.page_size = page_size
        self._nonce = nonce_factory or _new_nonce
        self._client = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout
        )

    def __repr__(self) -> str:
        encrypted = self.config.sm4_key is not None
        return (
            f"GatewayAdapter(base_url={self.base_url!r}, app_id={self.config.app_id!r}, "
            f"sign_method={self.config.sign_method.value!r}, sm4={encrypted})"
        )

    # --- the protocol: pure parts -----------------------------------------------------------

    def endpoint(self, kind: str) -> str:
        """``"catalog"`` for catalog items, ``"cases"`` for case status events."""
        return kind_endpoint(kind)

    def encode(self, kind: str, deliveries: Sequence[Delivery]) -> WireRequest:
        """``sxlb`` (items) or ``bjztlb`` (events) of gateway-encoded elements.

        Events carry the outbox's idempotency key as ``wybs`` (唯一标识).

        Raises:
            ValidationError: rule ``json_object`` for a stored payload that is not a JSON
                object; field ``status`` rule ``unknown_status`` for a status the canonical
                vocabulary lacks.
            ValueError: an unknown kind or an empty batch (programmer mistakes).
        """
        if not deliveries:
            raise ValueError("encode needs at least one delivery")
        if kind == CATALOG_ITEM:
            items = [wire.encode_item(_object(d.payload_json)) for d in deliveries]
            body: dict[str, Any] = {"sxlb": items}
            path = wire.CATALOG_PUSH_PATH
        elif kind == CASE_EVENT:
            events = []
            for delivery in deliveries:
                canonical = _object(delivery.payload_json)
                status = canonical.get("status")
                if status not in CaseStatus._value2member_map_:
                    raise ValidationError(
                        f"{status!r} is not a case status",
                        field="status",
                        rule="unknown_status",
                    )
                canonical["idempotency_key"] = delivery.idempotency_key
                events.append(wire.encode_event(canonical, self.config))
            body = {"bjztlb": events}
            path = wire.CASE_STATUS_PUSH_PATH
        else:
            raise unknown_kind(kind)
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return WireRequest("POST", path, self.endpoint(kind), content=content, headers=_JSON)

    def _open(self, response: WireResponse) -> Any:
        """The ``data`` of a success envelope, or the classified failure raised."""
        envelope: wire.Envelope | None
        try:
            envelope = wire.Envelope.model_validate_json(response.content)
        except PydanticValidationError:
            envelope = None
        now = self.clock.time()
        fix = _FIXES.get(envelope.code, _DEFAULT_FIX) if envelope is not None else _DEFAULT_FIX
        if not 200 <= response.status <= 299:
            detail = ""
            if envelope is not None:
                detail = f"{envelope.code}: {mask_text(envelope.msg)}"[:_MAX_DETAIL]
            failure = classify_status(
                response.status, response.headers, now=now, detail=detail, credentials_fix=fix
            )
            assert failure is not None  # non-2xx always classifies as a failure
            raise failure
        if envelope is None:
            raise unreadable("not a {code, msg, data} envelope")
        if envelope.code == self.config.success_code:
            return envelope.data
        detail = f"{envelope.code}: {mask_text(envelope.msg)}"[:_MAX_DETAIL]
        try:
            status = wire.http_status_for(wire.GatewayCode(envelope.code))
        except ValueError:
            raise PlatformError(
                f"gateway failure code {detail}",
                status=response.status,
                retryable=False,
                reason=f"gateway_{envelope.code}",
            ) from None
        failure = classify_status(
            status, response.headers, now=now, detail=detail, credentials_fix=fix
        )
        assert failure is not None
        raise failure

    def decode(
        self, kind: str, deliveries: Sequence[Delivery], response: WireResponse
    ) -> Sequence[ItemResult]:
        """One :class:`ItemResult` per delivery, in delivery order.

        Raises:
            PlatformError: a failure envelope or a non-2xx status.
            PlatformUnreachable: a 2xx answer that is not a batch result.
        """
        if kind not in (CATALOG_ITEM, CASE_EVENT):
            raise unknown_kind(kind)
        data = self._open(response)
        try:
            parsed = wire.BatchResultData.model_validate(data)
        except PydanticValidationError:
            raise unreadable("data is not a batch result") from None
        return decode_elements(deliveries, ((answer.xh, _answer(answer)) for answer in parsed.jg))

    def encode_digest_request(self, page_token: str | None = None) -> WireRequest:
        """The digest request (``ym`` 页码 = page token, ``mytss`` 每页条数 = page size)."""
        body = json.dumps({"ym": page_token, "mytss": self.page_size}).encode("utf-8")
        return WireRequest(
            "POST", wire.CATALOG_DIGEST_PATH, CATALOG_ENDPOINT, content=body, headers=_JSON
        )

    def decode_digest_page(self, response: WireResponse) -> CatalogDigestPage:
        """One page of the platform's catalog digest.

        Raises:
            PlatformError: a failure envelope or a non-2xx status.
            PlatformUnreachable: a 2xx answer that is not a digest page.
        """
        data = self._open(response)
        try:
            page = wire.DigestData.model_validate(data)
        except PydanticValidationError:
            raise unreadable("data is not a digest page") from None
        return CatalogDigestPage(
            tuple(CatalogDigestEntry(r.ssbm, digest_version(r.bbh), r.nrhx) for r in page.sxlb),
            page.xyym,
        )

    # --- the protocol: I/O ------------------------------------------------------------------

    def signed_headers(self, request: WireRequest) -> dict[str, str]:
        """The signing headers for one attempt of ``request`` (fresh timestamp and nonce)."""
        path = request.path.split("?", 1)[0]
        return wire.signed_headers(
            self.config,
            request.method,
            path,
            request.content,
            timestamp_ms=int(self.clock.time() * 1000),
            nonce=self._nonce(),
        )

    async def send(self, request: WireRequest) -> WireResponse:
        """Sign and send once.

        Raises:
            PlatformUnreachable: connection refused or reset, timeout, broken answer.
            PlatformRefused: the platform URL is not usable.
        """
        headers = {**request.headers, **self.signed_headers(request)}
        with transport_errors(request.endpoint):
            answer = await self._client.request(
                request.method, request.path, content=request.content, headers=headers
            )
        return to_wire_response(answer)

    async def refresh_credentials(self) -> None:
        """Nothing to refresh: every attempt is signed afresh."""

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _answer(answer: wire.GatewayResult) -> ElementAnswer:
    if answer.cljg.acknowledged and not answer.wtlb:
        return ElementAnswer.plain(answer.cljg)  # most answers: nothing more to read
    return ElementAnswer(
        answer.cljg,
        [(p.zd, p.gz, p.sm) for p in answer.wtlb],
        answer.qwxh,
        answer.dqzt,
        answer.ddms,
    )
