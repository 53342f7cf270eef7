"""Response classification: pure functions shared by every adapter and the retry driver.

Rules (docs/sync.md, "Retries"):

* 2xx: not a failure of the whole request (per-item results decide);
* 408, 425, 429 and 5xx: retryable; Retry-After (delta-seconds or HTTP-date) honoured, capped,
  and applied to the whole endpoint by the circuit breaker;
* 401: the token is refreshed once, then the request is sent again (the retry driver does it);
  refused again, it is a :class:`PlatformAuthError` that ends the run;
* 403, 404, 405, 410: the endpoint is not there for this client (a wrong URL or permission):
  :class:`PlatformRefused`, which ends the run — parking every case one by one would not help;
* any other 4xx: poison for the entries in the request (the dispatcher isolates the culprit);
* no answer at all (connection refused/reset, timeout, unreadable body): retryable.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping

from ._errors import PlatformError, PlatformRefused

__all__ = [
    "DEFAULT_RETRY_AFTER_CAP",
    "REFUSED_STATUSES",
    "RETRYABLE_STATUSES",
    "classify_status",
    "is_retryable_status",
    "parse_retry_after",
]

#: Statuses that mean "the same request may succeed later".
RETRYABLE_STATUSES = frozenset({408, 425, 429})
#: Statuses that mean "this endpoint is not there for this client": no resend can succeed.
REFUSED_STATUSES = frozenset({403, 404, 405, 410})
#: A platform asking for more than this many seconds is believed only up to this cap: an
#: outage is then probed by the circuit breaker rather than trusted blindly for a day.
DEFAULT_RETRY_AFTER_CAP = 300.0


def is_retryable_status(status: int) -> bool:
    """Whether a whole-request failure with this HTTP status may be retried."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def parse_retry_after(
    value: str | None, *, now: float, cap: float = DEFAULT_RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a Retry-After header, or ``None`` when absent or unreadable.

    Accepts delta-seconds (``"120"``) and an HTTP-date (``"Wed, 21 Oct 2026 07:28:00 GMT"``),
    relative to ``now`` (POSIX seconds, from the injected clock). Negative or past values give
    0; anything above ``cap`` gives ``cap``. Malformed values (``"²"``, a date in year 99999,
    a thousand-digit number) are ignored (``None``) or capped, never raised: a platform's sloppy
    header must not stop delivery.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float
    if _DELTA_SECONDS.fullmatch(text):
        # More digits than a cap could ever need would only make int() slow or refuse.
        seconds = float(int(text)) if len(text) <= 12 else cap
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
            if when is None or when.tzinfo is None:  # a date without a zone is no HTTP-date
                return None
            seconds = when.timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError, OSError):
            return None
    if seconds != seconds:  # NaN from a degenerate clock value: ignore the header
        return None
    return min(max(seconds, 0.0), cap)


#: RFC 9110 delta-seconds: ASCII digits only (``str.isdigit`` also accepts "²" and "٣").
_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)


def classify_status(
    status: int,
    headers: Mapping[str, str],
    *,
    now: float,
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
    detail: str = "",
    credentials_fix: str | None = None,
) -> PlatformError | None:
    """The whole-request failure an HTTP status means, or ``None`` for a 2xx.

    ``headers`` must use lower-case names (as :class:`WireResponse` does). 401 gives a
    retryable ``PlatformError`` with reason ``"unauthorized"`` (the dispatcher refreshes the
    token once on it; ``credentials_fix`` says what to check if the refresh does not help).
    403, 404, 405 and 410 give a :class:`PlatformRefused` whose fix points at the platform URL.
    ``detail`` is appended to the message (mask personal data first).
    """
    if 200 <= status <= 299:
        return None
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return PlatformError(
            f"platform refused the credentials (HTTP 401){suffix}",
            status=401,
            retryable=True,
            reason="unauthorized",
            fix=credentials_fix,
        )
    if status in REFUSED_STATUSES:
        return PlatformRefused(
            f"platform has no such endpoint for this client (HTTP {status}){suffix}",
            status=status,
            reason=f"http_{status}",
            fix="check the platform URL (--province / GOVLINK_PROVINCE_URL), the adapter "
            "(--adapter / GOVLINK_ADAPTER) and this client's permissions at the platform",
        )
    if is_retryable_status(status):
        retry_after = parse_retry_after(headers.get("retry-after"), now=now, cap=retry_after_cap)
        return PlatformError(
            f"platform answered HTTP {status}{suffix}",
            status=status,
            retryable=True,
            retry_after=retry_after,
        )
    return PlatformError(
        f"platform refused the request (HTTP {status}){suffix}", status=status, retryable=False
    )
