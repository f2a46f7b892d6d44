"""OpenTelemetry traces across API -> Celery -> PostgreSQL, exported over OTLP when configured.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then
nothing is imported, no middleware is added and no signal is connected, so tracing costs nothing.
When on, every span carries the tenant (`lms.tenant_id`, `lms.tenant`) taken from the log context
the tenant middleware and the task wrappers bind; the exporter reads the standard `OTEL_*`
variables (headers, timeout, sampler).
"""

from __future__ import annotations

import os
from typing import Any

import structlog

from lms.config import Settings

log = structlog.get_logger("lms.tracing")

_configured_pid: int | None = None


def tracing_enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def tenant_span_processor() -> Any:
    """A span processor that stamps the current tenant on each span and on its still-open parent
    (the request's server span starts before the tenant is known)."""
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span, SpanProcessor

    class TenantSpanProcessor(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            context = structlog.contextvars.get_contextvars()
            tenant_id = context.get("tenant_id")
            if not tenant_id:
                return
            attributes = {"lms.tenant_id": str(tenant_id)}
            if context.get("tenant"):
                attributes["lms.tenant"] = str(context["tenant"])
            span.set_attributes(attributes)
            parent = trace.get_current_span(parent_context)
            if parent.is_recording():
                parent.set_attributes(attributes)

    return TenantSpanProcessor()


def configure_tracing(settings: Settings, service: str, exporter: Any = None) -> bool:
    """Set up the tracer provider of this process (once per process: a forked pool process sets up
    its own) with the OTLP/HTTP exporter, and instrument asyncpg and Celery. Returns whether tracing
    is on. `exporter` replaces the OTLP exporter (tests pass an in-memory one)."""
    global _configured_pid
    if exporter is None and not tracing_enabled():
        return False
    if _configured_pid == os.getpid():
        return True
    from opentelemetry import trace
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(tenant_span_processor())
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _configured_pid = os.getpid()
    log.info("tracing on", service=service)
    return True


def tracing_plugins(settings: Settings) -> list[Any]:
    """Litestar's OpenTelemetry plugin (the request's server span) when tracing is on; else none."""
    if not configure_tracing(settings, service="lms-api"):
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    # Probes and scrapes every few seconds are not worth a trace each.
    return [OpenTelemetryPlugin(OpenTelemetryConfig(exclude=["^/health$", "^/ready$"]))]
