"""govlink's Prometheus metrics (``prometheus-client``, the ``metrics`` extra).

Every metric is named ``govlink_…`` and lives in the registry the recorder was given (a fresh
one by default, so two recorders in one process — or two tests — never collide). The outbox
figures are not pushed: :class:`OutboxCollector` reads :meth:`Outbox.status` on every scrape,
so they are right even when no worker runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from .._errors import ConfigError, GovlinkError
from ._recorders import (
    IdentityRecorder,
    RequestObservation,
    SyncRecorder,
    grant_label,
    oauth_outcome,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    from ..sync import Outbox

__all__ = [
    "BREAKER_STATES",
    "IdentityMetrics",
    "MetricsServer",
    "MetricsUnavailable",
    "OutboxCollector",
    "SyncMetrics",
    "metrics_app",
    "serve_metrics",
]

log = logging.getLogger("govlink.metrics")

#: ``govlink_sync_breaker_state`` values (alert on ``== 2`` lasting minutes).
BREAKER_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}
#: Request latency buckets (seconds): loopback batches take milliseconds, a slow provincial
#: gateway seconds; the client's own timeout ends the scale.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MetricsUnavailable(ConfigError):
    """Metrics were asked for but ``prometheus-client`` is not installed (exit 2 in the CLI):
    ``pip install 'govlink[metrics]'``."""

    code = "metrics_unavailable"


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise MetricsUnavailable(
            "metrics need prometheus-client: pip install 'govlink[metrics]'"
        ) from None
    return prometheus_client


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    client = _prometheus()
    return registry if registry is not None else client.CollectorRegistry(auto_describe=True)


class OutboxCollector:
    """Reads the outbox on scrape: depth per hall, lag, lanes by state, parked cases.

    A store that cannot be read makes ``govlink_outbox_up`` 0 (the scrape itself succeeds, so
    the alert says "outbox unreadable", not "target down").
    """

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def describe(self) -> list[Any]:
        return []  # described by collecting (cheap enough, and always right)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("govlink_outbox_up", "1 when the outbox could be read")
        try:
            status = self.outbox.status()
        except GovlinkError as exc:
            log.warning("outbox status failed during a scrape", extra={"govlink": exc.to_dict()})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        pending = GaugeMetricFamily(
            "govlink_outbox_pending", "entries not yet acknowledged, per hall", labels=["hall"]
        )
        for hall, count in sorted(status.by_hall.items()):
            pending.add_metric([hall], count)
        yield pending
        yield GaugeMetricFamily(
            "govlink_outbox_lag_seconds",
            "age of the oldest pending entry (0 when nothing is pending)",
            value=status.oldest_pending_age or 0.0,
        )
        lanes = GaugeMetricFamily("govlink_outbox_lanes", "case lanes by state", labels=["state"])
        for state, count in (
            ("ready", status.ready),
            ("leased", status.leased),
            ("retrying", status.retrying),
        ):
            lanes.add_metric([state], count)
        yield lanes
        yield GaugeMetricFamily(
            "govlink_outbox_parked_cases",
            "cases parked on a refused event, waiting for an operator (outbox parked)",
            value=status.parked,
        )
        yield GaugeMetricFamily(
            "govlink_outbox_acknowledged_retained",
            "acknowledged entries kept for audit (outbox purge removes old ones)",
            value=status.acknowledged_retained,
        )


class SyncMetrics(SyncRecorder):
    """Prometheus metrics of the sync worker; pass it to the dispatcher as its recorder.

    ``outbox``: also collect the outbox's depth and lag on every scrape.

    Raises:
        MetricsUnavailable: ``prometheus-client`` is not installed.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, outbox: Outbox | None = None
    ) -> None:
        client = _prometheus()
        self.registry = _registry(registry)
        r = self.registry
        self._enqueued = client.Counter(
            "govlink_sync_events_enqueued",
            "entries committed to the outbox",
            ["hall", "kind"],
            registry=r,
        )
        self._sent = client.Counter(
            "govlink_sync_events_sent", "entries sent to the platform", ["endpoint"], registry=r
        )
        self._acknowledged = client.Counter(
            "govlink_sync_events_acknowledged",
            "entries the platform acknowledged (applied now, or a duplicate it already had)",
            ["endpoint", "result"],
            registry=r,
        )
        self._retried = client.Counter(
            "govlink_sync_events_retried",
            "entries rescheduled with a persisted backoff",
            ["endpoint"],
            registry=r,
        )
        self._parked = client.Counter(
            "govlink_sync_events_parked",
            "cases parked on a refused event",
            ["endpoint"],
            registry=r,
        )
        self._latency = client.Histogram(
            "govlink_sync_request_duration_seconds",
            "platform request latency (one HTTP attempt)",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._requests = client.Counter(
            "govlink_sync_requests",
            "platform requests by outcome (ok, http_429, http_5xx, timeout, …)",
            ["endpoint", "outcome"],
            registry=r,
        )
        self._breaker = client.Gauge(
            "govlink_sync_breaker_state",
            "circuit breaker: 0 closed, 1 half-open, 2 open",
            ["endpoint"],
            registry=r,
        )
        self._opened = client.Counter(
            "govlink_sync_breaker_opened", "times the breaker opened", ["endpoint"], registry=r
        )
        self._budget = client.Gauge(
            "govlink_sync_retry_budget_tokens",
            "retries the budget still allows now",
            ["endpoint"],
            registry=r,
        )
        self._refused = client.Counter(
            "govlink_sync_retry_budget_refused",
            "retries refused because the budget was spent",
            ["endpoint"],
            registry=r,
        )
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.outbox_collector: Collector | None = None
        if outbox is not None:
            self.outbox_collector = OutboxCollector(outbox)
            r.register(self.outbox_collector)

    def enqueued(self, count: int, *, hall: str, kind: str = "case_event") -> None:
        self._enqueued.labels(hall, kind).inc(count)

    def sent(self, endpoint: str, count: int) -> None:
        self._sent.labels(endpoint).inc(count)

    def acknowledged(self, endpoint: str, *, applied: int = 0, duplicates: int = 0) -> None:
        self._acknowledged.labels(endpoint, "applied").inc(applied)
        self._acknowledged.labels(endpoint, "duplicate").inc(duplicates)

    def retried(self, endpoint: str, count: int) -> None:
        self._retried.labels(endpoint).inc(count)

    def parked(self, endpoint: str, count: int) -> None:
        self._parked.labels(endpoint).inc(count)

    def _advance(self, counter: Any, endpoint: str, name: str, total: int) -> None:
        # The breaker and budget keep running totals; a counter only goes up by the difference.
        with self._lock:
            before = self._seen.get((endpoint, name), 0)
            self._seen[(endpoint, name)] = total
        # Touch the child even at zero: increase() alerts need the series before the first event.
        child = counter.labels(endpoint)
        if total > before:
            child.inc(total - before)

    def endpoint_health(self, endpoint: str, breaker: Any, budget: Any) -> None:
        state = getattr(breaker.state, "value", breaker.state)
        self._breaker.labels(endpoint).set(BREAKER_STATES.get(str(state), 2))
        self._advance(self._opened, endpoint, "opened", int(breaker.times_opened))
        self._budget.labels(endpoint).set(float(budget.tokens))
        self._advance(self._refused, endpoint, "refused", int(budget.refused))

    def _observe(self, observation: RequestObservation) -> None:
        self._latency.labels(observation.endpoint).observe(observation.seconds)
        self._requests.labels(observation.endpoint, observation.outcome or "error").inc()


class IdentityMetrics(IdentityRecorder):
    """Prometheus metrics of the identity provider and of remote JWKS fetches.

    Raises:
        MetricsUnavailable: ``prometheus-client`` is not installed.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        client = _prometheus()
        self.registry = _registry(registry)
        r = self.registry
        self._tokens = client.Counter(
            "govlink_idp_token_requests",
            "token endpoint requests by grant type and outcome (success or the OAuth error)",
            ["grant", "outcome"],
            registry=r,
        )
        self._token_latency = client.Histogram(
            "govlink_idp_token_request_duration_seconds",
            "token endpoint latency",
            ["grant"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._fetches = client.Counter(
            "govlink_jwks_fetches", "remote JWKS fetches by verifiers", ["outcome"], registry=r
        )
        self._served = client.Counter(
            "govlink_idp_jwks_requests", "JWKS requests the provider answered", registry=r
        )

    def token_request(
        self, grant: str | None, error: str | None = None, seconds: float | None = None
    ) -> None:
        label = grant_label(grant)
        self._tokens.labels(label, oauth_outcome(error)).inc()
        if seconds is not None:
            self._token_latency.labels(label).observe(seconds)

    def jwks_fetch(self, outcome: str) -> None:
        self._fetches.labels("ok" if outcome == "ok" else "error").inc()

    def jwks_served(self) -> None:
        self._served.inc()


def _registry_of(source: Any) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = getattr(source, "registry", source)
    if not isinstance(registry, CollectorRegistry):
        raise TypeError("expected a SyncMetrics, an IdentityMetrics or a CollectorRegistry")
    return registry


class MetricsServer:
    """A running exposition endpoint (``GET /metrics``, text format); close it when done."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host: str = server.server_address[0]
        self.port: int = server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_metrics(source: Any, port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``source``'s metrics (a recorder or a registry) on ``host:port`` in a thread.

    Opt-in: nothing listens unless this is called (``port=0`` picks a free port). Binds to
    loopback unless told otherwise: metrics name halls and endpoints, not people, but they are
    still operational detail.

    Raises:
        MetricsUnavailable: ``prometheus-client`` is not installed.
        ConfigError: the port cannot be bound (the message names it).
    """
    client = _prometheus()
    registry = _registry_of(source)
    try:
        server, thread = client.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    return MetricsServer(server, thread)


def metrics_app(source: Any) -> Any:
    """An ASGI app serving ``source``'s metrics, to mount in a Starlette app (``/metrics``).

    Raises:
        MetricsUnavailable: ``prometheus-client`` is not installed.
    """
    client = _prometheus()
    return client.make_asgi_app(registry=_registry_of(source))
