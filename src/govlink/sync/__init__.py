"""Provincial sync: durable outbox, two-level retries, ordered case status, adapters by name.

See ``docs/sync.md``. The core is province-neutral: adapters are found by name
(:func:`load_adapter`) and speak the :class:`ProvinceAdapter` protocol.
"""

from __future__ import annotations

from ._adapter import (
    CASE_EVENT,
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
)
from ._catalog import (
    CATALOG_SCHEMA,
    CatalogChangeRecord,
    CatalogItemProgress,
    CatalogPushReport,
    CatalogSync,
    ReconcileReport,
    fetch_catalog_digest,
)
from ._classify import (
    DEFAULT_RETRY_AFTER_CAP,
    RETRYABLE_STATUSES,
    classify_status,
    is_retryable_status,
    parse_retry_after,
)
from ._discovery import ENTRY_POINT_GROUP, adapter_names, load_adapter
from ._errors import (
    CircuitOpen,
    JournalTampered,
    NotParked,
    PlatformAuthError,
    PlatformError,
    PlatformUnreachable,
    PoisonEvent,
    RetryBudgetExhausted,
    SyncError,
)

__all__ = [
    "CASE_EVENT",
    "CATALOG_ITEM",
    "CATALOG_SCHEMA",
    "DEFAULT_RETRY_AFTER_CAP",
    "ENTRY_POINT_GROUP",
    "RETRYABLE_STATUSES",
    "CatalogChangeRecord",
    "CatalogDigestEntry",
    "CatalogDigestPage",
    "CatalogDigestSource",
    "CatalogItemProgress",
    "CatalogPushReport",
    "CatalogSync",
    "CircuitOpen",
    "Delivery",
    "ItemResult",
    "JournalTampered",
    "NotParked",
    "Outcome",
    "PlatformAuthError",
    "PlatformError",
    "PlatformUnreachable",
    "PoisonEvent",
    "ProvinceAdapter",
    "ReconcileReport",
    "RetryBudgetExhausted",
    "SyncError",
    "WireRequest",
    "WireResponse",
    "adapter_names",
    "batch_limit",
    "classify_status",
    "fetch_catalog_digest",
    "is_retryable_status",
    "load_adapter",
    "parse_retry_after",
]
