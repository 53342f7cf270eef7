"""Operational metrics (Prometheus) and traces (OpenTelemetry) for the sync worker and the
identity provider.

Off unless asked for. The dispatcher and the provider hold a recorder whose default,
:class:`SyncRecorder` / :class:`IdentityRecorder`, does nothing; give them a
:class:`SyncMetrics` / :class:`IdentityMetrics` (``pip install 'govlink[metrics]'``) and serve
it with :func:`serve_metrics` on an opt-in port, or mount :func:`metrics_app` in an ASGI app::

    from govlink import metrics
    recorder = metrics.SyncMetrics(outbox=outbox)      # outbox depth and lag read on scrape
    with metrics.serve_metrics(recorder, port=9464):   # GET http://127.0.0.1:9464/metrics
        ...

Platform calls also open an OpenTelemetry CLIENT span (HTTP semantic conventions) when the
``otel`` extra is installed and an SDK is configured; without it they cost nothing. Metric
names, labels and the sample alert rules are in ``docs/operations.md`` and ``deploy/``.

Errors::

    GovlinkError
    └── ConfigError                   config_error
        └── MetricsUnavailable        metrics_unavailable  (the ``metrics`` extra is missing)
"""

from __future__ import annotations

from ._prometheus import (
    IdentityMetrics,
    MetricsServer,
    MetricsUnavailable,
    OutboxCollector,
    SyncMetrics,
    metrics_app,
    serve_metrics,
)
from ._recorders import (
    IdentityRecorder,
    RequestObservation,
    SyncRecorder,
)
from ._tracing import otel_available, platform_span

__all__ = [
    "IdentityMetrics",
    "IdentityRecorder",
    "MetricsServer",
    "MetricsUnavailable",
    "OutboxCollector",
    "RequestObservation",
    "SyncMetrics",
    "SyncRecorder",
    "metrics_app",
    "otel_available",
    "platform_span",
    "serve_metrics",
]
