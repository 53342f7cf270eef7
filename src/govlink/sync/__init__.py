"""Provincial sync: durable outbox, two-level retries, ordered case status, adapters by name.

See ``docs/sync.md``. The core is province-neutral: adapters are found by name
(:func:`load_adapter`) and speak the :class:`ProvinceAdapter` protocol. Everything an adapter
author needs (the protocol's types, the element-result vocabulary, classification, HTTP error
mapping, settings, masking) is in the adapter kit, :mod:`govlink.sync.adapter`.

Errors (see :mod:`govlink.sync._errors` for the tree)::

    GovlinkError
    └── SyncError                     sync_error
        ├── PlatformError             platform_error
        │   ├── PlatformUnreachable   platform_unreachable
        │   └── PlatformRefused       platform_refused    (ends a run: exit 2)
        │       └── PlatformAuthError platform_auth
        ├── NotParked                 not_parked
        └── JournalTampered           journal_tampered
"""

from __future__ import annotations

from ._adapter import CASE_EVENT, CATALOG_ITEM, ProvinceAdapter
from ._caller import PlatformCaller, SyncCounters
from ._catalog import (
    CATALOG_SCHEMA,
    CatalogChangeRecord,
    CatalogItemProgress,
    CatalogPushReport,
    CatalogSync,
    ReconcileReport,
    fetch_catalog_digest,
)
from ._discovery import ENTRY_POINT_GROUP, adapter_names, load_adapter
from ._dispatcher import Dispatcher
from ._errors import (
    JournalTampered,
    NotParked,
    PlatformAuthError,
    PlatformError,
    PlatformRefused,
    PlatformUnreachable,
    SyncError,
)
from ._journal import JournalRecord, JournalReport, verify_journal
from ._outbox import (
    SYNC_SCHEMA,
    EnqueueResult,
    NewEntry,
    Outbox,
    OutboxStatus,
    ParkedCase,
    RetentionReport,
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
    "ENTRY_POINT_GROUP",
    "SYNC_SCHEMA",
    "BreakerState",
    "CatalogChangeRecord",
    "CatalogItemProgress",
    "CatalogPushReport",
    "CatalogSync",
    "CircuitBreaker",
    "Dispatcher",
    "EnqueueResult",
    "FairShare",
    "JournalRecord",
    "JournalReport",
    "JournalTampered",
    "NewEntry",
    "NotParked",
    "Outbox",
    "OutboxStatus",
    "ParkedCase",
    "PlatformAuthError",
    "PlatformCaller",
    "PlatformError",
    "PlatformRefused",
    "PlatformUnreachable",
    "ProvinceAdapter",
    "RateLimiter",
    "ReconcileReport",
    "RetentionReport",
    "RetryBudget",
    "RetryPolicy",
    "SyncCounters",
    "SyncError",
    "adapter_names",
    "fetch_catalog_digest",
    "load_adapter",
    "read_archive",
    "verify_journal",
]
