"""The sync branch of govlink's error tree.

::

    GovlinkError
    └── SyncError                     sync_error
        ├── PlatformError             platform_error       (status, retryable, retry_after)
        │   ├── PlatformUnreachable   platform_unreachable (transport error or timeout; retried)
        │   └── PlatformAuthError     platform_auth        (401 after one token refresh)
        ├── NotParked                 not_parked           (retry/skip of a case that is not parked)
        └── JournalTampered           journal_tampered     (record number of the first bad record)

Messages never carry personal data: the platform's own refusal text is masked before it is
stored or raised (see :func:`govlink.sync.mask_text`).
"""

from __future__ import annotations

from typing import Any

from .._errors import GovlinkError

__all__ = [
    "JournalTampered",
    "NotParked",
    "PlatformAuthError",
    "PlatformError",
    "PlatformUnreachable",
    "SyncError",
]


class SyncError(GovlinkError):
    """Base of every error the sync engine raises."""

    code = "sync_error"


class PlatformError(SyncError):
    """The provincial platform answered a whole request with a failure (or did not answer).

    ``status`` is the HTTP status (``None`` for a transport failure), ``retryable`` says whether
    the same request may succeed later (transport errors, timeouts, 408, 425, 429, 5xx) and
    ``retry_after`` is the platform's Retry-After in seconds, already parsed and capped.
    ``reason`` is a short stable word for logs and the journal (``"http_503"``, ``"timeout"``).
    """

    code = "platform_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.reason = reason or (f"http_{status}" if status is not None else "transport")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            status=self.status,
            retryable=self.retryable,
            retry_after=self.retry_after,
            reason=self.reason,
        )
        return data


class PlatformUnreachable(PlatformError):
    """No HTTP answer: connection refused or reset, a timeout, a malformed response."""

    code = "platform_unreachable"

    def __init__(self, message: str, *, reason: str = "transport") -> None:
        super().__init__(message, status=None, retryable=True, reason=reason)


class PlatformAuthError(PlatformError):
    """401: the credentials were refused (the engine refreshes the token once before this)."""

    code = "platform_auth"

    def __init__(self, message: str) -> None:
        # Retryable for the *outbox*: a refused token is the endpoint's problem, never the
        # event's, so cases are rescheduled, not parked.
        super().__init__(message, status=401, retryable=True, reason="unauthorized")


class NotParked(SyncError):
    """An operator asked to retry or skip a case that has no parked entry."""

    code = "not_parked"


class JournalTampered(SyncError):
    """The evidence journal's hash chain is broken at ``record`` (1-based record number)."""

    code = "journal_tampered"

    def __init__(self, message: str, *, record: int) -> None:
        super().__init__(message)
        self.record = record

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["record"] = self.record
        return data
