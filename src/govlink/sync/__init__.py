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
from ._dispatcher import Dispatcher, SyncCounters
from ._errors import (
    JournalTampered,
    NotParked,
    PlatformAuthError,
    PlatformError,
    PlatformUnreachable,
    SyncError,
)
from ._journal import JournalRecord, JournalReport, verify_journal
from ._masking import mask_text
from ._outbox import (
    SYNC_SCHEMA,
    Claim,
    EnqueueResult,
    LaneFailure,
    NewEntry,
    Outbox,
    OutboxStatus,
    ParkedCase,
    RetentionReport,
    lane_name,
    read_archive,
)
from ._policy import (
    BreakerState,
    CircuitBreaker,
    FairShare,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
)

__all__ = [
    "CASE_EVENT",
    "CATALOG_ITEM",
    "CATALOG_SCHEMA",
    "DEFAULT_RETRY_AFTER_CAP",
    "ENTRY_POINT_GROUP",
    "RETRYABLE_STATUSES",
    "SYNC_SCHEMA",
    "BreakerState",
    "CatalogChangeRecord",
    "CatalogDigestEntry",
    "CatalogDigestPage",
    "CatalogDigestSource",
    "CatalogItemProgress",
    "CatalogPushReport",
    "CatalogSync",
    "CircuitBreaker",
    "Claim",
    "Delivery",
    "Dispatcher",
    "EnqueueResult",
    "FairShare",
    "ItemResult",
    "JournalRecord",
    "JournalReport",
    "JournalTampered",
    "LaneFailure",
    "NewEntry",
    "NotParked",
    "Outbox",
    "OutboxStatus",
    "Outcome",
    "ParkedCase",
    "PlatformAuthError",
    "PlatformError",
    "PlatformUnreachable",
    "ProvinceAdapter",
    "RateLimiter",
    "ReconcileReport",
    "RetentionReport",
    "RetryBudget",
    "RetryPolicy",
    "SyncCounters",
    "SyncError",
    "WireRequest",
    "WireResponse",
    "adapter_names",
    "batch_limit",
    "classify_status",
    "fetch_catalog_digest",
    "is_retryable_status",
    "lane_name",
    "load_adapter",
    "mask_text",
    "parse_retry_after",
    "read_archive",
    "verify_journal",
]
