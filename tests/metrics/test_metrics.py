"""govlink.metrics: recorders report what was recorded, the outbox collector reads a real store,
the exposition endpoint serves the text format, spans follow the HTTP conventions."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from govlink import ConfigError, StoreError, VirtualClock, metrics
from govlink.metrics._recorders import request_outcome
from govlink.store import Store
from govlink.sync import CASE_EVENT, CircuitBreaker, NewEntry, Outbox, PlatformError, RetryBudget
from govlink.sync._outbox import LaneFailure


def value(recorder: Any, name: str, **labels: str) -> float | None:
    result: float | None = recorder.registry.get_sample_value(name, labels)
    return result


# --- the sync recorder -----------------------------------------------------------------


def test_sync_counters_report_what_was_recorded() -> None:
    m = metrics.SyncMetrics()
    m.enqueued(7, hall="370500")
    m.enqueued(2, hall="370502", kind="catalog_item")
    m.sent("cases", 9)
    m.acknowledged("cases", applied=6, duplicates=1)
    m.retried("cases", 1)
    m.parked("cases", 1)
    assert value(m, "govlink_sync_events_enqueued_total", hall="370500", kind="case_event") == 7
    assert value(m, "govlink_sync_events_enqueued_total", hall="370502", kind="catalog_item") == 2
    assert value(m, "govlink_sync_events_sent_total", endpoint="cases") == 9
    assert (
        value(m, "govlink_sync_events_acknowledged_total", endpoint="cases", result="applied") == 6
    )
    assert (
        value(m, "govlink_sync_events_acknowledged_total", endpoint="cases", result="duplicate")
        == 1
    )
    assert value(m, "govlink_sync_events_retried_total", endpoint="cases") == 1
    assert value(m, "govlink_sync_events_parked_total", endpoint="cases") == 1


def test_request_latency_and_outcomes() -> None:
    m = metrics.SyncMetrics()
    with m.request("cases", "POST", "http://127.0.0.1:1/cases", batch_size=3) as obs:
        obs.set_status(200)
    with pytest.raises(PlatformError), m.request("cases") as obs:
        raise PlatformError("busy", status=503, retryable=True)
    with pytest.raises(PlatformError), m.request("cases"):
        raise PlatformError("slow", retryable=True, reason="timeout")
    with pytest.raises(PlatformError), m.request("catalog"):
        raise PlatformError("slow down", status=429, retryable=True)
    with pytest.raises(ValueError, match="bug"), m.request("catalog"):
        raise ValueError("bug")
    count = "govlink_sync_request_duration_seconds_count"
    assert value(m, count, endpoint="cases") == 3
    assert value(m, count, endpoint="catalog") == 2
    for endpoint, outcome in [
        ("cases", "ok"),
        ("cases", "http_5xx"),
        ("cases", "timeout"),
        ("catalog", "http_429"),
        ("catalog", "error"),
    ]:
        assert value(m, "govlink_sync_requests_total", endpoint=endpoint, outcome=outcome) == 1


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (200, None, "ok"),
        (204, None, "ok"),
        (401, None, "http_401"),
        (400, None, "http_4xx"),
        (502, None, "http_5xx"),
        (None, "transport", "transport"),
        (None, "something new", "error"),
    ],
)
def test_request_outcome_labels_are_bounded(
    status: int | None, reason: str | None, outcome: str
) -> None:
    assert request_outcome(status, reason) == outcome


def test_breaker_and_budget_are_read_from_the_real_objects() -> None:
    clock = VirtualClock()
    m = metrics.SyncMetrics()
    breaker = CircuitBreaker(clock, failure_threshold=2, base_cooldown=10)
    budget = RetryBudget(clock, ratio=0.0, floor_per_second=0.0, capacity=1)
    m.endpoint_health("cases", breaker, budget)
    assert value(m, "govlink_sync_breaker_state", endpoint="cases") == 0
    assert value(m, "govlink_sync_retry_budget_tokens", endpoint="cases") == 1
    breaker.record_failure()
    breaker.record_failure()
    assert budget.try_retry()
    assert not budget.try_retry()
    m.endpoint_health("cases", breaker, budget)
    m.endpoint_health("cases", breaker, budget)  # reading twice counts nothing twice
    assert value(m, "govlink_sync_breaker_state", endpoint="cases") == 2
    assert value(m, "govlink_sync_breaker_opened_total", endpoint="cases") == 1
    assert value(m, "govlink_sync_retry_budget_tokens", endpoint="cases") == 0
    assert value(m, "govlink_sync_retry_budget_refused_total", endpoint="cases") == 1
    clock.advance(13)
    assert breaker.admit() is not None  # cooldown over: one probe, half-open
    m.endpoint_health("cases", breaker, budget)
    assert value(m, "govlink_sync_breaker_state", endpoint="cases") == 1
    breaker.record_failure()  # the probe failed: open again
    m.endpoint_health("cases", breaker, budget)
    assert value(m, "govlink_sync_breaker_opened_total", endpoint="cases") == 2


def test_the_default_recorders_do_nothing_and_need_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    recorder = metrics.SyncRecorder()
    recorder.enqueued(1, hall="370500")
    with recorder.request("cases") as obs:
        obs.set_status(200)
    assert obs.outcome == "ok"
    metrics.IdentityRecorder().token_request("client_credentials")
    with pytest.raises(metrics.MetricsUnavailable, match=r"govlink\[metrics\]") as info:
        metrics.SyncMetrics()
    assert info.value.code == "metrics_unavailable"


# --- the outbox collector on a real store ----------------------------------------------


def entry(case: str, seq: int, hall: str) -> NewEntry:
    payload = {"case_number": case, "sequence": seq, "hall": hall}
    return NewEntry(hall, CASE_EVENT, case, seq, json.dumps(payload))


def test_outbox_collector_reads_the_store(any_store: Store) -> None:
    clock = VirtualClock()
    outbox = Outbox(any_store, clock=clock, lease_seconds=30)
    m = metrics.SyncMetrics(outbox=outbox)
    assert value(m, "govlink_outbox_up") == 1
    assert value(m, "govlink_outbox_lag_seconds") == 0
    outbox.enqueue([entry("A1", 1, "370500"), entry("A1", 2, "370500"), entry("B1", 1, "370502")])
    clock.advance(90)
    outbox.enqueue([entry("C1", 1, "370503")])
    clock.advance(30)
    assert value(m, "govlink_outbox_pending", hall="370500") == 2
    assert value(m, "govlink_outbox_pending", hall="370502") == 1
    assert value(m, "govlink_outbox_pending", hall="370503") == 1
    assert value(m, "govlink_outbox_lag_seconds") == pytest.approx(120)
    assert value(m, "govlink_outbox_lanes", state="ready") == 3
    # Deliver A1's first event, park B1: depth, lag and parked follow on the next scrape.
    claim = outbox.claim(CASE_EVENT, 10)
    by_case = {d.key: d for d in claim.deliveries}
    assert value(m, "govlink_outbox_lanes", state="leased") == 3
    outbox.settle([by_case["A1"], by_case["C1"]], [LaneFailure(by_case["B1"], "refused", None)])
    assert value(m, "govlink_outbox_pending", hall="370500") == 1
    assert value(m, "govlink_outbox_parked_cases") == 1
    assert value(m, "govlink_outbox_acknowledged_retained") == 2
    assert value(m, "govlink_outbox_lag_seconds") == pytest.approx(120)  # B1's, still pending


def test_outbox_collector_survives_a_failing_store() -> None:
    class Broken:
        def status(self) -> None:
            raise StoreError("database is locked")

    registry = CollectorRegistry()
    registry.register(metrics.OutboxCollector(Broken()))  # type: ignore[arg-type]
    assert registry.get_sample_value("govlink_outbox_up") == 0
    assert registry.get_sample_value("govlink_outbox_lag_seconds") is None


# --- the identity recorder -------------------------------------------------------------


def test_identity_counters() -> None:
    m = metrics.IdentityMetrics()
    m.token_request("client_credentials", seconds=0.002)
    m.token_request("client_credentials", "invalid_client", seconds=0.001)
    m.token_request("urn:ietf:params:oauth:grant-type:token-exchange")
    m.token_request("<script>", "made_up_error")  # client input never becomes a label
    m.token_request(None, "invalid_request")
    m.jwks_fetch("ok")
    m.jwks_fetch("timeout")
    m.jwks_served()
    name = "govlink_idp_token_requests_total"
    assert value(m, name, grant="client_credentials", outcome="success") == 1
    assert value(m, name, grant="client_credentials", outcome="invalid_client") == 1
    assert value(m, name, grant="token_exchange", outcome="success") == 1
    assert value(m, name, grant="other", outcome="error") == 1
    assert value(m, name, grant="missing", outcome="invalid_request") == 1
    assert (
        value(m, "govlink_idp_token_request_duration_seconds_count", grant="client_credentials")
        == 2
    )
    assert value(m, "govlink_jwks_fetches_total", outcome="ok") == 1
    assert value(m, "govlink_jwks_fetches_total", outcome="error") == 1
    assert value(m, "govlink_idp_jwks_requests_total") == 1


# --- exposition ------------------------------------------------------------------------


@pytest.mark.server
def test_exposition_endpoint_serves_text_format(sqlite_store: Store) -> None:
    outbox = Outbox(sqlite_store, clock=VirtualClock())
    outbox.enqueue([entry("A1", 1, "370500")])
    m = metrics.SyncMetrics(outbox=outbox)
    m.sent("cases", 3)
    with metrics.serve_metrics(m, port=0) as server:
        response = httpx.get(server.url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    (sample,) = families["govlink_sync_events_sent"].samples
    assert sample.labels == {"endpoint": "cases"}
    assert sample.value == 3
    assert families["govlink_outbox_pending"].samples[0].value == 1
    # Closed: the port is free again.
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=1)


def test_serving_on_a_taken_port_is_a_config_error() -> None:
    m = metrics.SyncMetrics()
    with (
        metrics.serve_metrics(m, port=0) as first,
        pytest.raises(ConfigError, match="cannot serve metrics"),
    ):
        metrics.serve_metrics(m, port=first.port)


def test_asgi_app_for_mounting() -> None:
    m = metrics.IdentityMetrics()
    m.token_request("refresh_token")

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=metrics.metrics_app(m))
        async with httpx.AsyncClient(transport=transport, base_url="http://idp") as client:
            return await client.get("/")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert 'govlink_idp_token_requests_total{grant="refresh_token",outcome="success"} 1.0' in (
        response.text
    )


# --- OpenTelemetry ---------------------------------------------------------------------


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from govlink.metrics import _tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The global provider can be set once per process; hand govlink this one instead.
    monkeypatch.setattr(
        _tracing._trace, "get_tracer", lambda name, *a, **k: provider.get_tracer(name)
    )
    yield exporter
    provider.shutdown()


def test_platform_calls_become_http_client_spans(spans: Any) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    recorder = metrics.SyncRecorder()
    with recorder.request(
        "cases", "post", "https://gw.example.gov.cn/api/cases?sig=abc", batch_size=5
    ) as obs:
        obs.set_status(200)
    with pytest.raises(PlatformError), recorder.request("cases", url="http://127.0.0.1:8765/c"):
        raise PlatformError("busy", status=503, retryable=True)
    with pytest.raises(PlatformError), recorder.request("cases"):
        raise PlatformError("slow", retryable=True, reason="timeout")
    ok, busy, slow = spans.get_finished_spans()
    assert ok.name == "POST"
    assert ok.kind is SpanKind.CLIENT
    assert dict(ok.attributes) == {
        "http.request.method": "POST",
        "url.full": "https://gw.example.gov.cn/api/cases",  # the query (a signature) dropped
        "server.address": "gw.example.gov.cn",
        "server.port": 443,
        "govlink.endpoint": "cases",
        "govlink.batch.size": 5,
        "http.response.status_code": 200,
    }
    assert ok.status.status_code is StatusCode.UNSET
    assert busy.attributes["http.response.status_code"] == 503
    assert busy.attributes["error.type"] == "503"
    assert busy.attributes["server.port"] == 8765
    assert busy.status.status_code is StatusCode.ERROR
    assert slow.attributes["error.type"] == "PlatformError"
    assert "http.response.status_code" not in slow.attributes


def test_spans_are_a_no_op_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    from govlink.metrics import _tracing

    monkeypatch.setattr(_tracing, "_trace", None)
    assert not metrics.otel_available()
    with metrics.platform_span("POST", "http://x/", endpoint="cases") as span:
        span.set_status(500)
    assert span.status == 500
