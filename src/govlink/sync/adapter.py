"""The adapter kit: everything a province adapter is written against.

A province adapter (DESIGN: province-neutral core) knows one provincial platform's wire
format; the core does the rest. Adapters shipped with govlink (``govlink.adapters.reference``,
``govlink.adapters.gateway``) import from this module only, exactly as a third-party adapter
would (see ``docs/adapters.md`` for a complete example)::

    from govlink.sync.adapter import (
        CASE_EVENT, Delivery, ElementAnswer, ElementStatus, WireRequest, WireResponse,
        classify_status, decode_elements, transport_errors, to_wire_response, unreadable,
    )

What is here, by concern:

* **the protocol and its types** — :class:`ProvinceAdapter`, :class:`CatalogDigestSource`,
  :class:`Delivery`, :class:`WireRequest`, :class:`WireResponse`, :class:`ItemResult`,
  :class:`Outcome`, :class:`CatalogDigestEntry`, :class:`CatalogDigestPage`, the kinds
  :data:`CASE_EVENT` and :data:`CATALOG_ITEM`, :func:`batch_limit`, :func:`unknown_kind`,
  :func:`kind_endpoint` (one endpoint per kind: :data:`CATALOG_ENDPOINT`, :data:`CASES_ENDPOINT`),
  :func:`digest_version`;
* **per-element results** — the common vocabulary :class:`ElementStatus`, one element's
  :class:`ElementAnswer`, :func:`element_result` and the shared decode loop
  :func:`decode_elements`; :func:`unreadable` for a 2xx body that cannot be read;
* **whole-request failures** — :func:`classify_status`, :func:`parse_retry_after` and the
  errors :class:`PlatformError`, :class:`PlatformUnreachable`, :class:`PlatformRefused`,
  :class:`PlatformAuthError`;
* **HTTP** — :func:`check_base_url`, :func:`transport_errors` (httpx failures → the errors
  above), :func:`to_wire_response`;
* **settings** — :class:`AdapterSettings`, :func:`load_adapter_settings`, :func:`secret_value`;
* **masking** — :func:`mask_text` for any platform text that may carry personal data.

Retries, the one token refresh after a 401, the retry budget, the circuit breaker and the rate
limit are the core's (:class:`govlink.sync.PlatformCaller`): an adapter never retries.
"""

from __future__ import annotations

from .._settings import AdapterSettings
from ._adapter import (
    CASE_EVENT,
    CASES_ENDPOINT,
    CATALOG_ENDPOINT,
    CATALOG_ITEM,
    CatalogDigestEntry,
    CatalogDigestPage,
    CatalogDigestSource,
    Delivery,
    ItemResult,
    Outcome,
    ProvinceAdapter,
    WireRequest,
    WireResponse,
    batch_limit,
    digest_version,
    kind_endpoint,
    unknown_kind,
)
from ._adapter_settings import load_adapter_settings, secret_value
from ._classify import (
    DEFAULT_RETRY_AFTER_CAP,
    REFUSED_STATUSES,
    RETRYABLE_STATUSES,
    classify_status,
    is_retryable_status,
    parse_retry_after,
)
from ._elements import ElementAnswer, ElementStatus, decode_elements, element_result, unreadable
from ._errors import PlatformAuthError, PlatformError, PlatformRefused, PlatformUnreachable
from ._masking import mask_text
from ._platform_http import check_base_url, to_wire_response, transport_errors

__all__ = [
    "CASES_ENDPOINT",
    "CASE_EVENT",
    "CATALOG_ENDPOINT",
    "CATALOG_ITEM",
    "DEFAULT_RETRY_AFTER_CAP",
    "REFUSED_STATUSES",
    "RETRYABLE_STATUSES",
    "AdapterSettings",
    "CatalogDigestEntry",
    "CatalogDigestPage",
    "CatalogDigestSource",
    "Delivery",
    "ElementAnswer",
    "ElementStatus",
    "ItemResult",
    "Outcome",
    "PlatformAuthError",
    "PlatformError",
    "PlatformRefused",
    "PlatformUnreachable",
    "ProvinceAdapter",
    "WireRequest",
    "WireResponse",
    "batch_limit",
    "check_base_url",
    "classify_status",
    "decode_elements",
    "digest_version",
    "element_result",
    "is_retryable_status",
    "kind_endpoint",
    "load_adapter_settings",
    "mask_text",
    "parse_retry_after",
    "secret_value",
    "to_wire_response",
    "transport_errors",
    "unknown_kind",
    "unreadable",
]
