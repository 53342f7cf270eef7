"""What the sync dispatcher and the identity provider report: the recorder interface.

:class:`SyncRecorder` and :class:`IdentityRecorder` are the no-op defaults (no dependency): the
dispatcher and the provider always hold one and call it unconditionally, so metrics cost nothing
when they are off. :class:`govlink.metrics.SyncMetrics` / :class:`IdentityMetrics` override the
same methods with Prometheus metrics. Platform calls get an OpenTelemetry span either way when
the ``otel`` extra is installed (:func:`platform_span`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from ._tracing import PlatformSpan, platform_span

__all__ = [
    "GRANTS",
    "IdentityRecorder",
    "RequestObservation",
    "SyncRecorder",
    "grant_label",
    "oauth_outcome",
    "request_outcome",
]

#: Grant types the token endpoint knows; anything else is counted as ``other`` (labels must
#: not take arbitrary client input).
GRANTS: Final = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)
_OAUTH_ERRORS: Final = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
    }
)
_NAMED_STATUSES: Final = frozenset({401, 403, 404, 408, 413, 425, 429})
_TRANSPORT_REASONS: Final = frozenset({"timeout", "transport"})


def request_outcome(status: int | None = None, reason: str | None = None) -> str:
    """A bounded label for how a platform request ended.

    ``ok`` for 2xx/3xx; ``http_401``, ``http_429`` … for the statuses retries treat apart;
    ``http_4xx`` / ``http_5xx`` for the rest; ``timeout`` / ``transport`` when nothing came
    back; ``error`` otherwise.
    """
    if status is not None:
        if status < 400:
            return "ok"
        if status in _NAMED_STATUSES:
            return f"http_{status}"
        return "http_5xx" if status >= 500 else "http_4xx"
    if reason in _TRANSPORT_REASONS:
        return str(reason)
    return "error"


def grant_label(grant: str | None) -> str:
    """``grant_type`` as a metric label: the known grants by a short name, else ``other``."""
    if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
        return "token_exchange"
    if grant in GRANTS:
        return str(grant)
    return "missing" if not grant else "other"


def oauth_outcome(error: str | None) -> str:
    """``success``, an RFC 6749/8693 error code, or ``error`` for anything else."""
    if error is None:
        return "success"
    return error if error in _OAUTH_ERRORS else "error"


class RequestObservation:
    """One platform request being timed: set :attr:`status` (or call :meth:`set_status`)."""

    __slots__ = ("_span", "endpoint", "outcome", "seconds", "status")

    def __init__(self, endpoint: str, span: PlatformSpan) -> None:
        self.endpoint = endpoint
        self._span = span
        self.status: int | None = None
        self.outcome: str | None = None
        self.seconds = 0.0

    def set_status(self, status: int) -> None:
        """The HTTP status of the response."""
        self.status = status
        self._span.set_status(status)


class SyncRecorder:
    """The dispatcher's recorder: every method is a no-op here (see :class:`SyncMetrics`).

    Call sites (the dispatcher):

    * ``enqueued(count, hall=..., kind=...)`` after an enqueue commits;
    * ``sent(endpoint, n)`` when a batch goes out; ``acknowledged(endpoint, applied=,
      duplicates=)``, ``retried(endpoint, n)``, ``parked(endpoint, n)`` when it settles;
    * ``with recorder.request(endpoint, method, url, batch_size=n) as obs:`` around each HTTP
      attempt, ``obs.set_status(response.status)`` inside; an exception is classified from its
      ``status`` / ``reason`` attributes (a :class:`govlink.sync.PlatformError`);
    * ``endpoint_health(endpoint, breaker, budget)`` after each attempt and breaker decision.
    """

    def enqueued(self, count: int, *, hall: str, kind: str = "case_event") -> None:
        """``count`` new entries of ``kind`` for ``hall`` were committed to the outbox."""

    def sent(self, endpoint: str, count: int) -> None:
        """A batch of ``count`` entries went to ``endpoint``."""

    def acknowledged(self, endpoint: str, *, applied: int = 0, duplicates: int = 0) -> None:
        """The platform acknowledged entries (applied now, or already had them)."""

    def retried(self, endpoint: str, count: int) -> None:
        """``count`` entries were rescheduled (persisted backoff)."""

    def parked(self, endpoint: str, count: int) -> None:
        """``count`` cases were parked (a refused event waits for an operator)."""

    def endpoint_health(self, endpoint: str, breaker: Any, budget: Any) -> None:
        """The circuit breaker and retry budget of ``endpoint`` (read from their attributes:
        ``breaker.state``, ``breaker.times_opened``, ``budget.tokens``, ``budget.refused``)."""

    def _observe(self, observation: RequestObservation) -> None:
        """Record one finished request (latency and outcome); no-op here."""

    @contextmanager
    def request(
        self,
        endpoint: str,
        method: str = "POST",
        url: str | None = None,
        *,
        batch_size: int | None = None,
    ) -> Iterator[RequestObservation]:
        """Time one platform request, with an OpenTelemetry span around it when enabled."""
        started = time.perf_counter()
        with platform_span(method, url, endpoint=endpoint, batch_size=batch_size) as span:
            observation = RequestObservation(endpoint, span)
            try:
                yield observation
            except BaseException as exc:
                status = getattr(exc, "status", None)
                observation.outcome = request_outcome(
                    status if isinstance(status, int) else None, getattr(exc, "reason", None)
                )
                raise
            else:
                observation.outcome = request_outcome(observation.status or 200)
            finally:
                if observation.outcome is None:  # pragma: no cover - set on every path above
                    observation.outcome = "error"
                observation.seconds = time.perf_counter() - started
                self._observe(observation)


class IdentityRecorder:
    """The identity provider's (and verifier's) recorder: no-ops here (see
    :class:`IdentityMetrics`).

    Call sites: ``token_request(grant_type, error_code_or_None, seconds)`` once per
    ``/token`` request; ``jwks_fetch(outcome)`` once per remote JWKS fetch by a verifier
    (``ok``, ``error``); ``jwks_served()`` once per ``/jwks`` request the provider answers.
    """

    def token_request(
        self, grant: str | None, error: str | None = None, seconds: float | None = None
    ) -> None:
        """One token endpoint request: ``error`` is the OAuth error code, ``None`` on success."""

    def jwks_fetch(self, outcome: str) -> None:
        """A verifier fetched a remote JWKS (``ok`` or ``error``)."""

    def jwks_served(self) -> None:
        """The provider answered a JWKS request."""
