"""The ``ProvinceAdapter`` protocol and the pure types it speaks.

The sync core is province-neutral (docs/architecture.md, principle 10): it never imports a specific
adapter. An adapter knows one provincial platform's wire format: its endpoints, how to
authenticate and sign a request, how to map canonical payloads to wire payloads and how to read
the per-item acknowledgements back. Everything else — leases, ordering, retries, the retry
budget, the circuit breaker, rate limiting, the evidence journal — belongs to the core.

The division of labour for one batch::

    core: claim deliveries ──> adapter.encode(kind, deliveries) -> WireRequest   (pure)
    core: PlatformCaller (rate limit, breaker, budget, tenacity) ──> adapter.send(request)
                 -> WireResponse (I/O)
    core: ──> adapter.decode(kind, deliveries, response) -> ItemResult per delivery (pure)
                 raises PlatformError for a failure of the whole request
                 (use govlink.sync.adapter.classify_status for the HTTP status part)
    core: 401 ──> adapter.refresh_credentials() once, then the request is sent again

Adapter authors import everything they need from :mod:`govlink.sync.adapter` (the adapter kit).

Adapters are found by name through the ``govlink.adapters`` entry-point group (see
:func:`govlink.sync.load_adapter`) and constructed with keyword arguments only::

    AdapterClass(base_url=..., clock=..., transport=None, **adapter_specific_options)

``transport`` lets tests mount the mock province in-process (an ``httpx.AsyncBaseTransport``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CASES_ENDPOINT",
    "CASE_EVENT",
    "CATALOG_ENDPOINT",
    "CATALOG_ITEM",
    "CatalogDigestEntry",
    "CatalogDigestPage",
    "CatalogDigestSource",
    "Delivery",
    "ItemResult",
    "Outcome",
    "ProvinceAdapter",
    "WireRequest",
    "WireResponse",
    "batch_limit",
    "digest_version",
    "kind_endpoint",
    "unknown_kind",
]

#: Entry kind of a case status event (办件状态). Lanes of this kind are keyed by case number.
CASE_EVENT = "case_event"
#: Entry kind of a catalog item change (事项目录). Lanes are keyed by implementation code.
CATALOG_ITEM = "catalog_item"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox entry on its way to the platform.

    ``payload_json`` is the canonical JSON text stored at enqueue time (for a case event, the
    ``CaseStatusEvent`` in its JSON form); adapters whose wire payload equals the canonical one
    can splice it into the request body without parsing it. ``attempt`` counts earlier
    dispatches of this entry (0 on the first).
    """

    hall: str
    kind: str
    key: str
    sequence: int
    idempotency_key: str
    payload_json: str
    attempt: int = 0
    #: The outbox's own number for the entry (opaque to adapters; ``0`` outside an outbox).
    entry_id: int = 0

    @property
    def payload(self) -> dict[str, Any]:
        """The canonical payload as a dict (parsed on each access; cache it if used twice)."""
        data: dict[str, Any] = json.loads(self.payload_json)
        return data


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A request ready to send, minus anything that must be fresh per attempt.

    ``path`` is relative to the adapter's base URL. ``endpoint`` names the platform endpoint
    for the retry budget, circuit breaker and counters (``"cases"``, ``"catalog"``): one breaker
    per endpoint. Per-attempt headers (a token, a timestamp + nonce + signature) are added by
    :meth:`ProvinceAdapter.send`, so an inner retry is signed afresh.
    """

    method: str
    path: str
    endpoint: str
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WireResponse:
    """What came back: status, headers (names lower-case) and the raw body."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.content)


class Outcome(enum.Enum):
    """What the platform did with one delivered entry."""

    #: Applied now. Progress advances.
    APPLIED = "applied"
    #: Already applied earlier under the same idempotency key (a lost response, a resend after
    #: a crash). Progress advances exactly as for APPLIED: this is how at-least-once sending
    #: becomes exactly-once effect.
    DUPLICATE = "duplicate"
    #: Refused as invalid: a bad field, an illegal status transition, a sequence the platform
    #: cannot accept. Poison: the entry's lane (its case) is parked until an operator acts.
    REJECTED = "rejected"
    #: Not applied for a transient reason (a partial batch failure, a busy shard). The lane is
    #: retried by the outer loop; the rest of the batch is unaffected.
    RETRY = "retry"

    @property
    def acknowledged(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.DUPLICATE)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The platform's answer for one entry of a batch.

    ``code`` is the platform's reason word (``"illegal_transition"``, ``"sequence_gap"``),
    ``message`` its text with personal data masked, ``field`` the refused field where the
    platform names one, ``expected_sequence`` the sequence it expected where it says,
    ``retry_after`` the seconds the platform asked this entry to wait (``RETRY`` only).
    """

    idempotency_key: str
    outcome: Outcome
    code: str | None = None
    message: str = ""
    field: str | None = None
    expected_sequence: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class CatalogDigestEntry:
    """One item in the platform's catalog digest (for full reconciliation)."""

    implementation_code: str
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class CatalogDigestPage:
    """One page of the platform's catalog digest; ``next_page_token`` is ``None`` on the last."""

    entries: tuple[CatalogDigestEntry, ...]
    next_page_token: str | None = None


@runtime_checkable
class ProvinceAdapter(Protocol):
    """One provincial platform's wire format, authentication and acknowledgements.

    ``name`` is the entry-point name (``"reference"``, ``"gateway"``); ``max_batch`` the most
    entries the platform takes in one request; ``requests_per_second`` the platform's quota for
    this client (``None``: no quota), which the dispatcher's client-side rate limit honours.
    An adapter whose platform takes batches of different sizes per kind may also carry an
    optional ``max_batch_by_kind: Mapping[str, int]``; read limits through
    :func:`batch_limit`, never ``max_batch`` directly.

    ``encode`` and ``decode`` are pure (no I/O, no clock reads beyond what the adapter was given)
    so that the retry driver, the dispatcher's poison isolation and the tests share them.
    ``send`` is the only I/O; it raises :class:`govlink.sync.PlatformUnreachable` for a
    transport failure or timeout and returns every HTTP answer, whatever its status, as a
    :class:`WireResponse`.
    """

    name: str
    max_batch: int
    requests_per_second: float | None

    def endpoint(self, kind: str) -> str:
        """The endpoint name that carries entries of ``kind`` (breaker/budget key)."""
        ...

    def encode(self, kind: str, deliveries: Sequence[Delivery]) -> WireRequest:
        """Build the request carrying ``deliveries`` (at most ``max_batch``, one per lane).

        Raises :class:`govlink.ValidationError` when a canonical payload cannot be mapped (the
        core parks that entry's lane).
        """
        ...

    def decode(
        self, kind: str, deliveries: Sequence[Delivery], response: WireResponse
    ) -> Sequence[ItemResult]:
        """Read the per-item results of ``response``, one per delivery (any order).

        Raises :class:`govlink.sync.PlatformError` when the whole request failed (use
        :func:`govlink.sync.adapter.classify_status` for HTTP statuses, plus the platform's envelope
        codes), or :class:`govlink.sync.PlatformUnreachable` for an unreadable body.
        """
        ...

    async def send(self, request: WireRequest) -> WireResponse:
        """Send ``request`` once, adding fresh per-attempt authentication and signature headers.

        Raises :class:`govlink.sync.PlatformUnreachable` (connection refused/reset, timeout,
        broken response). Never retries by itself: retries are the core's decision.
        """
        ...

    async def refresh_credentials(self) -> None:
        """Drop the cached token and obtain a new one (called once after a 401)."""
        ...

    async def aclose(self) -> None:
        """Close the adapter's HTTP client."""
        ...


@runtime_checkable
class CatalogDigestSource(Protocol):
    """An adapter whose platform serves a catalog digest (for full reconciliation).

    A separate protocol so that adapters written before it stay ``ProvinceAdapter``s; both
    bundled adapters implement it. Pure like ``encode``/``decode``: the caller sends the
    request with :meth:`ProvinceAdapter.send` (and its own retry and 401 handling).
    """

    def encode_digest_request(self, page_token: str | None = None) -> WireRequest:
        """The request for one digest page (``None``: the first page)."""
        ...

    def decode_digest_page(self, response: WireResponse) -> CatalogDigestPage:
        """Read one digest page.

        Raises :class:`govlink.sync.PlatformError` for a failed request, or
        :class:`govlink.sync.PlatformUnreachable` for an unreadable body.
        """
        ...


def batch_limit(adapter: ProvinceAdapter, kind: str) -> int:
    """The most entries of ``kind`` one request to ``adapter`` may carry.

    Platforms take batches of different sizes per kind (the reference API: 100 catalog items,
    500 case events). An adapter may say so in an optional ``max_batch_by_kind`` mapping;
    without one (or for a kind it does not name) ``max_batch`` applies.
    """
    by_kind = getattr(adapter, "max_batch_by_kind", None)
    if isinstance(by_kind, Mapping) and kind in by_kind:
        return int(by_kind[kind])
    return adapter.max_batch


#: Endpoint names for the two kinds, as the bundled adapters name them (breaker/budget keys).
CATALOG_ENDPOINT = "catalog"
CASES_ENDPOINT = "cases"


def kind_endpoint(kind: str) -> str:
    """``"catalog"`` for catalog items, ``"cases"`` for case status events: the endpoint names
    for an adapter whose platform has one endpoint per kind.

    Raises:
        ValueError: any other kind (a programmer mistake, see :func:`unknown_kind`).
    """
    if kind == CATALOG_ITEM:
        return CATALOG_ENDPOINT
    if kind == CASE_EVENT:
        return CASES_ENDPOINT
    raise unknown_kind(kind)


def digest_version(value: object) -> int:
    """An item's version as a platform's digest echoes it (an integer, or digits as text);
    anything else is 0 (the digest compares content hashes, the version is informational)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return 0


def unknown_kind(kind: str) -> ValueError:
    """The error for an entry kind an adapter does not carry (a programmer mistake, outside the
    error tree)."""
    return ValueError(f"this adapter carries {CATALOG_ITEM!r} and {CASE_EVENT!r}, not {kind!r}")
