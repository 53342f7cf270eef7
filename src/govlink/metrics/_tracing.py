"""OpenTelemetry client spans around provincial platform calls (HTTP semantic conventions).

Opt-in through the ``otel`` extra (``opentelemetry-api``): without it every span is a no-op
that costs one attribute check. With the API but no SDK configured, OpenTelemetry's own no-op
tracer is used; an operator turns spans on by configuring an SDK (``opentelemetry-instrument``
or their own ``TracerProvider``), as with any instrumented library.

Attributes follow the stable HTTP client conventions: span name = the method, kind CLIENT,
``http.request.method``, ``url.full``, ``server.address``, ``server.port``,
``http.response.status_code`` and ``error.type`` (the status code as text for 4xx/5xx, or the
exception's class name), plus ``govlink.endpoint`` and ``govlink.batch.size``. URLs carry no
personal data (batches travel in the body), and the query string is dropped anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

__all__ = ["TRACER_NAME", "PlatformSpan", "otel_available", "platform_span"]

#: The instrumentation scope name of govlink's spans.
TRACER_NAME = "govlink.sync"

try:  # pragma: no branch - which branch runs depends on the installed extras
    from opentelemetry import trace as _trace
except ImportError:  # the otel extra is not installed: spans are no-ops
    _trace = None  # type: ignore[assignment]


def otel_available() -> bool:
    """Whether ``opentelemetry-api`` is installed (spans are recorded when an SDK is set up)."""
    return _trace is not None


class PlatformSpan:
    """The caller's handle on one platform call: report the HTTP status when it is known."""

    __slots__ = ("_span", "status")

    def __init__(self, span: Any) -> None:
        self._span = span
        self.status: int | None = None

    def set_status(self, status: int) -> None:
        """The HTTP status of the response (sets ``http.response.status_code``)."""
        self.status = status
        if self._span is not None:
            self._span.set_attribute("http.response.status_code", status)
            if status >= 400:
                # Client spans: every 4xx and 5xx is an error (semantic conventions).
                self._span.set_attribute("error.type", str(status))
                self._span.set_status(_trace.Status(_trace.StatusCode.ERROR))


def _url_attributes(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    attributes: dict[str, Any] = {"url.full": parts._replace(query="", fragment="").geturl()}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
        default = 443 if parts.scheme == "https" else 80
        attributes["server.port"] = parts.port or default
    return attributes


@contextmanager
def platform_span(
    method: str, url: str | None = None, *, endpoint: str, batch_size: int | None = None
) -> Iterator[PlatformSpan]:
    """A CLIENT span named ``method`` around one platform request (no-op without OTel).

    An exception raised inside ends the span with ``error.type`` = its class name and is
    re-raised unchanged.
    """
    if _trace is None:
        yield PlatformSpan(None)
        return
    attributes: dict[str, Any] = {
        "http.request.method": method.upper(),
        "govlink.endpoint": endpoint,
    }
    if url:
        attributes.update(_url_attributes(url))
    if batch_size is not None:
        attributes["govlink.batch.size"] = batch_size
    tracer = _trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        method.upper(),
        kind=_trace.SpanKind.CLIENT,
        attributes=attributes,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        handle = PlatformSpan(span)
        try:
            yield handle
        except BaseException as exc:
            status = getattr(exc, "status", None)
            if isinstance(status, int) and handle.status is None:
                span.set_attribute("http.response.status_code", status)
            span.set_attribute(
                "error.type", str(status) if isinstance(status, int) else type(exc).__qualname__
            )
            raise
