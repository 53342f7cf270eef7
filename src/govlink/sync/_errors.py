"""The sync branch of govlink's error tree.

::

    GovlinkError
    └── SyncError                     sync_error
        ├── PlatformError             platform_error       (status, retryable, retry_after, fix)
        │   ├── PlatformUnreachable   platform_unreachable (transport error or timeout; retried)
        │   └── PlatformRefused       platform_refused     (retrying cannot fix it: ends a run,
        │       │                                           exit 2 in govlink sync run)
        │       └── PlatformAuthError platform_auth        (credentials refused after one refresh)
        ├── NotParked                 not_parked           (retry/skip of a case that is not parked)
        └── JournalTampered           journal_tampered     (record number of the first bad record)

Messages never carry personal data: the platform's own refusal text is masked before it is
stored or raised (see :func:`govlink.sync.adapter.mask_text`).
"""

from __future__ import annotations

from typing import Any

from .._errors import GovlinkError

__all__ = [
    "JournalTampered",
    "NotParked",
    "PlatformAuthError",
    "PlatformError",
    "PlatformRefused",
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
    ``fix`` is what an operator should do when retrying cannot help (``None`` otherwise).
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
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.reason = reason or (f"http_{status}" if status is not None else "transport")
        self.fix = fix

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            status=self.status,
            retryable=self.retryable,
            retry_after=self.retry_after,
            reason=self.reason,
            fix=self.fix,
        )
        return data


class PlatformUnreachable(PlatformError):
    """No HTTP answer: connection refused or reset, a timeout, a malformed response."""

    code = "platform_unreachable"

    def __init__(self, message: str, *, reason: str = "transport") -> None:
        super().__init__(message, status=None, retryable=True, reason=reason)


class PlatformRefused(PlatformError):
    """The platform refuses every request for a reason retrying cannot fix.

    Credentials refused after the one refresh, a refused signature, a clock too far from the
    platform's, an endpoint the platform does not have (403, 404, 405, 410), a platform URL that
    is not a URL. A run ends with this error (``govlink sync run`` exits 2 and prints the
    message, which ends with what to fix); the entries stay pending, nothing is parked or
    reordered. The cure is in the settings, so the command treats it like a
    :class:`govlink.ConfigError` (exit 2).
    """

    code = "platform_refused"

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        status: int | None = None,
        reason: str = "refused",
    ) -> None:
        super().__init__(
            f"{message}; fix: {fix}", status=status, retryable=False, reason=reason, fix=fix
        )


class PlatformAuthError(PlatformRefused):
    """The credentials were refused (401 after one token refresh, or by the token endpoint)."""

    code = "platform_auth"

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(
            message,
            fix=fix or "check the adapter's credentials (GOVLINK_<ADAPTER>_* settings)",
            status=401,
            reason="unauthorized",
        )


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
