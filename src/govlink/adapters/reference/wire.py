"""The reference provincial API: the wire contract shared by the client adapter and the mock.

JSON over HTTPS, OAuth2 client credentials, batches with one result per element (in the manner
of AWS Kinesis ``PutRecords`` and SQS ``SendMessageBatch``: a batch succeeds as a request even
when some of its elements fail, and each element says why). The OpenAPI document is
``schemas/openapi-reference.json`` (served by the mock at ``/openapi.json``).

Endpoints
=========
======================================  =======================================================
``POST /oauth/token``                   client credentials (RFC 6749 §4.4); form
                                        ``grant_type=client_credentials`` (``scope`` optional);
                                        client id and secret by HTTP Basic (preferred) or as form
                                        fields ``client_id``/``client_secret``. Returns
                                        :class:`TokenResponse`; errors are :class:`OAuthError`
                                        (400 ``invalid_request``/``unsupported_grant_type``,
                                        401 ``invalid_client``).
``POST /v1/catalog/items:batch``        upsert up to :data:`MAX_CATALOG_BATCH` items
                                        (:class:`CatalogBatchRequest` →
                                        :class:`CatalogBatchResponse`).
``GET /v1/catalog/digest``              implementation code → content hash, version, revision,
                                        ordered by code, keyset-paginated
                                        (``page_size``, ``page_token``) →
                                        :class:`CatalogDigestPage`.
``GET /v1/catalog/items``               the stored items themselves, same pagination →
                                        :class:`CatalogItemsPage`.
``POST /v1/cases/events:batch``         up to :data:`MAX_EVENT_BATCH` case status events
                                        (:class:`CaseEventsBatchRequest` →
                                        :class:`CaseEventsBatchResponse`).
``GET /v1/cases/{case_number}``         what the platform holds for one case →
                                        :class:`CaseState` (404 when unknown).
======================================  =======================================================

Every ``/v1`` request carries ``Authorization: Bearer <access_token>``.

Elements and results
====================
Items and events travel as the canonical JSON of govlink's domain models
(``Item.model_dump(mode="json")``, ``CaseStatusEvent.model_dump(mode="json")``). The request
envelope is strict; each element is validated on its own, so one bad element is refused with the
field and the rule (:class:`Problem`) while the rest of the batch is applied.

``results`` has exactly one entry per element, in request order, each with its ``index``.
:class:`ResultStatus` says what happened:

=====================  ========================================================================
``applied``            stored now (acknowledged)
``duplicate``          already applied earlier: same idempotency key (events) or the same
                       content hash (items). Acknowledged: the effect happened exactly once.
``rejected``           invalid; ``problems`` names each field and rule. Poison: do not resend
                       unchanged.
``out_of_order``       events only: ``sequence`` is not the next for its case;
                       ``expected_sequence`` is the one the platform waits for. A sequence
                       below it with an unknown idempotency key is a conflicting event.
``illegal_transition`` events only: the case's state machine refuses the status change;
                       ``current_status`` is the case's status code, ``problems`` explains.
``unavailable``        transient failure of this element only; retry it (``retry_after``
                       seconds, when given). Nothing was stored.
=====================  ========================================================================

An event element may carry one extra member, ``idempotency_key`` (a string of 1–200
characters); without it the platform uses the event's own key
``{hall}:case:{case_number}:{sequence}`` (``CaseStatusEvent.idempotency_key``). The platform
remembers every applied key; a key seen again answers ``duplicate`` (the same key with a different
case number or sequence is ``rejected``, rule ``idempotency_key_reused``). Events of one case
inside one batch are applied in request order, so a batch may carry several consecutive events of
a case. A resent batch answers ``duplicate`` for what was already applied, so no batch-level
``Idempotency-Key`` header is needed (one is accepted and ignored).

Request-level errors
====================
:class:`ErrorResponse` ``{"error": {"code", "message", ...}}`` with these HTTP statuses:

======  ====================  =============================================================
400     ``malformed_request`` the body is not JSON or not the envelope (``problems`` say where)
401     ``invalid_token``     missing, unknown or expired bearer token (``WWW-Authenticate``);
                              fetch a new token and retry once
413     ``batch_too_large``   more elements than the limit (``limit`` gives it); split
429     ``rate_limited``      over the request quota; ``Retry-After`` (seconds) and
                              ``retry_after`` say when to come back
500     ``internal_error``    retry with backoff
503     ``unavailable``       platform outage; ``Retry-After`` when the platform knows
======  ====================  =============================================================
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...sync.adapter import ElementStatus

__all__ = [
    "CASE_EVENTS_BATCH_PATH",
    "CASE_PATH",
    "CATALOG_DIGEST_PATH",
    "CATALOG_ITEMS_BATCH_PATH",
    "CATALOG_ITEMS_PATH",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TOKEN_LIFETIME",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "MAX_CATALOG_BATCH",
    "MAX_EVENT_BATCH",
    "MAX_PAGE_SIZE",
    "TOKEN_PATH",
    "CaseEventsBatchRequest",
    "CaseEventsBatchResponse",
    "CaseState",
    "CatalogBatchRequest",
    "CatalogBatchResponse",
    "CatalogDigestPage",
    "CatalogItemsPage",
    "DigestEntry",
    "ErrorBody",
    "ErrorCode",
    "ErrorResponse",
    "EventResult",
    "ItemResult",
    "OAuthError",
    "Problem",
    "ResultStatus",
    "TokenResponse",
    "case_path",
    "decode_page_token",
    "encode_page_token",
]

# --- paths --------------------------------------------------------------------------------------

TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a URL path, not a password
CATALOG_ITEMS_BATCH_PATH: Final = "/v1/catalog/items:batch"
CATALOG_DIGEST_PATH: Final = "/v1/catalog/digest"
CATALOG_ITEMS_PATH: Final = "/v1/catalog/items"
CASE_EVENTS_BATCH_PATH: Final = "/v1/cases/events:batch"
#: Route template; build a concrete path with :func:`case_path`.
CASE_PATH: Final = "/v1/cases/{case_number}"

# --- limits -------------------------------------------------------------------------------------

#: Most items one ``items:batch`` request may carry (more → 413 ``batch_too_large``).
MAX_CATALOG_BATCH: Final = 100
#: Most events one ``events:batch`` request may carry (more → 413 ``batch_too_large``).
MAX_EVENT_BATCH: Final = 500
#: Page size of the digest and listing when the client names none.
DEFAULT_PAGE_SIZE: Final = 1000
#: Largest page the digest and listing serve (larger requests are clamped, not refused).
MAX_PAGE_SIZE: Final = 5000
#: Lifetime in seconds of an access token from ``/oauth/token`` (``expires_in``).
DEFAULT_TOKEN_LIFETIME: Final = 3600

#: Client credentials the govlink mock province accepts out of the box (development only).
DEMO_CLIENT_ID: Final = "govlink-demo"
DEMO_CLIENT_SECRET: Final = "govlink-demo-secret"  # noqa: S105 - documented development credential


def case_path(case_number: str) -> str:
    """The path of one case's state (percent-encoding is left to the HTTP client)."""
    return CASE_PATH.format(case_number=case_number)


# --- models -------------------------------------------------------------------------------------


class _Request(BaseModel):
    # Requests are strict: an unknown envelope member is a client bug worth a 400.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    # Responses tolerate new members so that a newer platform does not break older clients.
    model_config = ConfigDict(extra="ignore", frozen=True)


#: What happened to one element of a batch (see the module docstring): the reference API speaks
#: exactly the adapter kit's common vocabulary, so its statuses *are* that enum.
ResultStatus = ElementStatus


class ErrorCode(StrEnum):
    """Request-level error codes in :class:`ErrorBody` (stable)."""

    MALFORMED_REQUEST = "malformed_request"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a password
    NOT_FOUND = "not_found"
    BATCH_TOO_LARGE = "batch_too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"


class Problem(_Response):
    """One broken rule on one field of one element (mirrors :class:`govlink.FieldProblem`)."""

    field: str
    rule: str
    message: str


class TokenResponse(_Response):
    """``POST /oauth/token`` success (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - RFC 6749 token type
    expires_in: int
    scope: str | None = None


class OAuthError(_Response):
    """``POST /oauth/token`` failure (RFC 6749 §5.2)."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]
    error_description: str | None = None


class ErrorBody(_Response):
    """The ``error`` member of a request-level failure."""

    code: ErrorCode
    message: str
    problems: list[Problem] = Field(default_factory=list)
    #: ``batch_too_large``: the most elements one request may carry.
    limit: int | None = None
    #: ``rate_limited``/``unavailable``: seconds to wait (same as the ``Retry-After`` header).
    retry_after: int | None = None


class ErrorResponse(_Response):
    """Body of every non-2xx response of the ``/v1`` endpoints."""

    error: ErrorBody


class CatalogBatchRequest(_Request):
    """``POST /v1/catalog/items:batch``: items as the canonical JSON of ``govlink.domain.Item``."""

    items: list[dict[str, Any]] = Field(min_length=1)


class ItemResult(_Response):
    """The outcome for one item of a catalog batch."""

    index: int
    status: ResultStatus
    implementation_code: str | None = None  # 实施编码, when the element had one
    #: The platform's revision of the item after this request (bumped on every applied change).
    revision: int | None = None
    content_hash: str | None = None
    problems: list[Problem] = Field(default_factory=list)
    retry_after: int | None = None


class CatalogBatchResponse(_Response):
    """Response to ``POST /v1/catalog/items:batch`` (HTTP 200 even when elements failed)."""

    results: list[ItemResult]
    #: Elements not acknowledged (rejected or unavailable).
    failed: int = 0


class EventResult(_Response):
    """The outcome for one case status event of a batch."""

    index: int
    status: ResultStatus
    idempotency_key: str | None = None
    case_number: str | None = None
    sequence: int | None = None
    #: ``out_of_order``: the sequence number the platform waits for in this case.
    expected_sequence: int | None = None
    #: ``illegal_transition``: the case's current status code (domain reference §5), if any.
    current_status: int | None = None
    problems: list[Problem] = Field(default_factory=list)
    retry_after: int | None = None


class CaseEventsBatchResponse(_Response):
    """Response to ``POST /v1/cases/events:batch`` (HTTP 200 even when elements failed)."""

    results: list[EventResult]
    #: Elements not acknowledged (anything but applied/duplicate).
    failed: int = 0


class CaseEventsBatchRequest(_Request):
    """``POST /v1/cases/events:batch``: events as canonical ``CaseStatusEvent`` JSON."""

    events: list[dict[str, Any]] = Field(min_length=1)


class DigestEntry(_Response):
    """One item of the catalog digest."""

    implementation_code: str  # 实施编码
    content_hash: str
    #: The item's own ``version`` field as pushed (the catalog's version, 版本号).
    version: int | str | None = None
    #: The platform's revision counter for this item (1 on first store).
    revision: int


class CatalogDigestPage(_Response):
    """``GET /v1/catalog/digest``: one page, ordered by implementation code."""

    items: list[DigestEntry]
    #: Pass as ``page_token`` for the next page; ``None`` on the last page.
    next_page_token: str | None = None
    total: int


class CatalogItemsPage(_Response):
    """``GET /v1/catalog/items``: one page of stored items, ordered by implementation code."""

    items: list[dict[str, Any]]
    next_page_token: str | None = None
    total: int


class CaseState(_Response):
    """``GET /v1/cases/{case_number}``: what the platform holds for one case."""

    case_number: str
    #: Numeric status code (domain reference §5) of the last applied event.
    status: int | None
    last_sequence: int
    events_applied: int


# --- pagination tokens --------------------------------------------------------------------------


def encode_page_token(last_key: str) -> str:
    """An opaque page token for keyset pagination after ``last_key``."""
    return base64.urlsafe_b64encode(last_key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_page_token(token: str) -> str:
    """The key a page token continues after.

    Raises:
        ValueError: the token was not made by :func:`encode_page_token`.
    """
    padded = token + "=" * (-len(token) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError("page_token is not a token this API issued") from exc
