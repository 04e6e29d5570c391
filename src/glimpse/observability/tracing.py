"""OpenTelemetry tracing, switched on by ``otel_enabled`` (needs the ``glimpse[otel]`` extra).

Spans come from the upstream instrumentations: ASGI (one span per request),
SQLAlchemy (one per statement, on this node's engine) and httpx (Keystone and
web-download calls). Where they go follows the standard variable
``OTEL_TRACES_EXPORTER``: ``otlp`` (the default; needs
``opentelemetry-exporter-otlp``, configured by the ``OTEL_EXPORTER_OTLP_*``
variables), ``console`` (JSON on standard output, for trying it out) or
``none``. Service name: ``OTEL_SERVICE_NAME``, default ``glimpse``.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.types import ASGIApp


class TracingUnavailable(RuntimeError):
    """``otel_enabled`` is set but the OpenTelemetry packages are not installed."""


def instrument(app: ASGIApp, engine: Any) -> ASGIApp:
    """``app`` wrapped in OpenTelemetry's ASGI middleware, with ``engine`` and httpx instrumented too.

    Raises :class:`TracingUnavailable` when the ``otel`` extra is missing.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import get_meter
    except ImportError as exc:
        raise TracingUnavailable(f"otel_enabled needs the OpenTelemetry packages: pip install 'glimpse[otel]' "
                                 f"({exc})") from None
    _install_provider(trace)
    # The instrumentation's engine tracer on this node's engine only: its instrument() would also patch
    # SQLAlchemy's asyncio module (needing greenlet), and it declares SQLAlchemy < 2.1 although the engine
    # events it listens to are unchanged in 2.1.
    name = "opentelemetry.instrumentation.sqlalchemy"
    usage = get_meter(name).create_up_down_counter("db.client.connections.usage", unit="connections")
    engine_tracer: Any = EngineTracer  # untyped where the extra is installed, missing where it is not
    engine_tracer(trace.get_tracer(name), engine, usage)
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    wrapped: ASGIApp = OpenTelemetryMiddleware(app, excluded_urls="healthcheck,metrics")
    return wrapped


def _install_provider(trace: Any) -> None:
    """A tracer provider exporting as ``OTEL_TRACES_EXPORTER`` says (once per process)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                       "glimpse")}))
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TracingUnavailable("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http "
                                     f"({exc}); or set it to console or none") from None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
